/*
 * cpu_qgemm.c - the int8 GEMM driver: packing of u8/s8 operands into the micro-kernels' layouts
 * (cpu.h, "int8 GEMM"), their row and column sums, and the tile loop over the pool's threads.
 *
 * Why u8 x s8: that is what vpdpbusd (AVX-512 VNNI) and vpmaddubsw (AVX2, AVX-512BW) multiply.
 * Other signednesses are moved there by an offset: an s8 A becomes u8 by +128 and a u8 B becomes
 * s8 by -128; the zero points move by the same amount, and sum (a - za)(b - zb) is unchanged.
 * The zero-point terms come out of the sums, in wrapping int32 arithmetic like the reference:
 *   sum (a - za)(b - zb) = sum ab - za colsum(b) - zb (rowsum(a) - k za)
 * so the kernels only ever see raw products. The ops (lib/ops/qlinear*.c) fill the epilogue.
 *
 * The vpmaddubsw rule: it adds the two u8 x s8 products of a pair into int16 with saturation,
 * which a pair like 255 * 127 + 255 * 127 overflows. ONNX Runtime accepts that on CPUs without
 * VNNI (its quantizer's reduce_range keeps weights in 7 bits, where it cannot happen; the
 * session option session.x64quantprecision moves such weights to a u8 x u8 path). We stay exact
 * instead: packing B checks every pair; when one could overflow (|b0 + b1| parts over 128 in
 * the worst case a = 255), the kernels split each a into a & 0x7f and a & 0x80, whose products
 * with any s8 pair fit int16 (127 * 128 * 2 and 128 * 128 * 2), at twice the instructions.
 * Weights quantized to 7 bits (or symmetric with small values) keep the single path. Since the
 * pairs are ours to choose, constant s8 weights are packed in an order of k whose pairs are safe
 * wherever that costs at most a quarter more k (ais__q8p_pair_rows: the convolutions' paired u8
 * path, cpu.h, and a constant B of the matrix products, ais__qgemm_pack_b_rows).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "cpu.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static inline int64_t ais__q_k4(int64_t k) { return (k + 3) / 4; }

size_t ais__qgemm_a_bytes(int mr, int64_t m, int64_t k) {
    int64_t panels = (m + mr - 1) / mr;
    return (size_t)(panels * mr * ais__q_k4(k) * 4);
}

size_t ais__qgemm_b_bytes(int64_t k, int64_t n) {
    int64_t panels = (n + AIS__QGEMM_NR - 1) / AIS__QGEMM_NR;
    return (size_t)(panels * AIS__QGEMM_NR * ais__q_k4(k) * 4);
}

void ais__qgemm_pack_a(int mr, const void *a, bool is_signed, int64_t rs, int64_t cs, int64_t m,
                       int64_t k, uint8_t *dst, int32_t *sums) {
    ais__qgemm_pack_a_rows(mr, a, is_signed, rs, cs, m, NULL, k, dst, sums);
}

size_t ais__q16_a_bytes(int mr, int64_t m, int64_t k) {
    int64_t panels = (m + mr - 1) / mr;
    return (size_t)(panels * mr * ((k + 1) / 2) * 2) * sizeof(int16_t);
}

void ais__q16_pack_a(int mr, const uint8_t *a, bool is_signed, int64_t m, int64_t k, int16_t *dst) {
    int64_t k2 = (k + 1) / 2, panels = (m + mr - 1) / mr;
    for (int64_t p = 0; p < panels; p++) {
        int16_t *d = dst + p * k2 * mr * 2;
        for (int r = 0; r < mr; r++) {
            int64_t i = p * mr + r;
            for (int64_t kk = 0; kk < k2; kk++)
                for (int t = 0; t < 2; t++) {
                    int64_t kx = 2 * kk + t;
                    uint8_t v = i < m && kx < k ? a[i * k + kx] : 0;
                    d[(kk * mr + r) * 2 + t] = is_signed ? (int16_t)(int8_t)v : (int16_t)v;
                }
        }
    }
}

/* ---- the paired u8 path (cpu.h) ---- */

typedef struct {
    int32_t big; /* the largest |w| of the column */
    int32_t col;
} ais__q8p_col;

static int ais__q8p_by_big(const void *a, const void *b) {
    const ais__q8p_col *x = a, *y = b;
    if (x->big != y->big) return x->big > y->big ? -1 : 1;
    return x->col < y->col ? -1 : x->col > y->col;
}

/* Whether columns i and j of wt (k rows of m: the transposed weights) pair safely in every row;
 * in chunks of 64 rows so that the compiler vectorizes the test and a conflict ends it early. */
static bool ais__q8p_cols_safe(const int8_t *wi, const int8_t *wj, int64_t m) {
    for (int64_t r0 = 0; r0 < m; r0 += 64) {
        int64_t r1 = m - r0 < 64 ? m : r0 + 64;
        int bad = 0;
        for (int64_t r = r0; r < r1; r++) {
            int32_t a = wi[r], b = wj[r];
            int32_t pos = (a > 0 ? a : 0) + (b > 0 ? b : 0),
                    neg = (a < 0 ? a : 0) + (b < 0 ? b : 0);
            bad |= (pos > 128) | (neg < -128);
        }
        if (bad) return false;
    }
    return true;
}

/* Greedy: the columns by their largest |w|, largest first; each takes the first of the smallest
 * free ones (at most AIS__Q8P_TRIES looked at) that pairs safely with it in every row, or a zero
 * column. Large weights are rare and small ones common, so most find a partner at once. */
#define AIS__Q8P_TRIES 96

int64_t ais__q8p_pair_rows(const int8_t *w, int64_t m, int64_t k, int64_t max_kp, int32_t *krows) {
    if (m <= 0 || k <= 0 || k > INT32_MAX / 2) return -1;
    int8_t *wt = ais__malloc((size_t)(m * k));
    ais__q8p_col *order = ais__malloc((size_t)k * sizeof *order);
    bool *used = ais__calloc((size_t)k, sizeof *used);
    int32_t *pairs = ais__malloc((size_t)k * 2 * sizeof *pairs);
    int64_t kp = -1;
    if (!wt || !order || !used || !pairs) goto done;
    for (int64_t j = 0; j < k; j++) {
        int32_t big = 0;
        for (int64_t r = 0; r < m; r++) {
            int32_t v = w[r * k + j];
            wt[j * m + r] = (int8_t)v;
            big = v > big ? v : -v > big ? -v : big;
        }
        order[j] = (ais__q8p_col){.big = big, .col = (int32_t)j};
    }
    qsort(order, (size_t)k, sizeof *order, ais__q8p_by_big);
    int64_t np = 0, tail = k - 1;
    for (int64_t a = 0; a < k; a++) {
        int32_t i = order[a].col;
        if (used[i]) continue;
        used[i] = true;
        while (tail > a && used[order[tail].col])
            tail--;
        int32_t partner = -1;
        int tries = 0;
        for (int64_t b = tail; b > a && tries < AIS__Q8P_TRIES; b--) {
            int32_t j = order[b].col;
            if (used[j]) continue;
            tries++;
            if (ais__q8p_cols_safe(wt + (int64_t)i * m, wt + (int64_t)j * m, m)) {
                partner = j;
                break;
            }
        }
        if (partner >= 0) used[partner] = true;
        pairs[2 * np] = i;
        pairs[2 * np + 1] = partner;
        np++;
    }
    kp = (2 * np + 3) / 4 * 4;
    if (kp > max_kp) {
        kp = -1;
        goto done;
    }
    for (int64_t q = 0; q < kp; q++)
        krows[q] = q < 2 * np ? pairs[q] : -1;
done:
    ais__free(wt);
    ais__free(order);
    ais__free(used);
    ais__free(pairs);
    return kp;
}

size_t ais__q8p_a_bytes(int mr, int64_t m, int64_t kp) {
    int64_t panels = (m + mr - 1) / mr;
    return (size_t)(panels * mr * kp);
}

void ais__q8p_pack_a(int mr, const int8_t *w, int64_t m, int64_t k, const int32_t *krows,
                     int64_t kp, int8_t *dst) {
    int64_t k4 = kp / 4, panels = (m + mr - 1) / mr;
    for (int64_t p = 0; p < panels; p++)
        for (int r = 0; r < mr; r++) {
            int64_t i = p * mr + r;
            for (int64_t kk = 0; kk < k4; kk++)
                for (int t = 0; t < 4; t++) {
                    int32_t c = krows[kk * 4 + t];
                    dst[((p * k4 + kk) * mr + r) * 4 + t] = i < m && c >= 0 ? w[i * k + c] : 0;
                }
        }
}

/* One panel of 16 columns j0.. of B, all of k, the slow general way (edges, strides, weights). */
static void ais__q_pack_b_panel(const uint8_t *src, uint8_t flip, int64_t rs, int64_t cs,
                                const int32_t *krows, int64_t k, int64_t n, int64_t j0, int8_t *d,
                                int32_t *sums, bool *exact) {
    int64_t k4 = ais__q_k4(k);
    uint32_t s[AIS__QGEMM_NR] = {0};
    for (int64_t kk = 0; kk < k4; kk++)
        for (int j = 0; j < AIS__QGEMM_NR; j++) {
            int8_t v[4];
            for (int t = 0; t < 4; t++) {
                int64_t kx = kk * 4 + t, row = kx < k && krows ? krows[kx] : kx;
                v[t] = kx < k && row >= 0 && j0 + j < n
                           ? (int8_t)(src[row * rs + (j0 + j) * cs] ^ flip)
                           : 0;
                s[j] += (uint32_t)(int32_t)v[t];
            }
            memcpy(d + (kk * AIS__QGEMM_NR + j) * 4, v, 4);
            if (exact)
                for (int t = 0; t < 4; t += 2) {
                    int32_t pos = (v[t] > 0 ? v[t] : 0) + (v[t + 1] > 0 ? v[t + 1] : 0);
                    int32_t neg = (v[t] < 0 ? v[t] : 0) + (v[t + 1] < 0 ? v[t + 1] : 0);
                    if (255 * pos > 32767 || 255 * neg < -32768) *exact = true;
                }
        }
    if (sums)
        for (int j = 0; j < AIS__QGEMM_NR && j0 + j < n; j++)
            sums[j0 + j] = (int32_t)s[j];
}

#if defined(__SSE2__)
/* A full panel from a row-major B (cs 1): four rows of 16 bytes become 16 columns of 4 bytes by
 * two interleaves; the column sums come from the same vectors (sign-extended pairs through
 * pmaddwd). Every pair is treated as one that may saturate (the caller says exact). */
static void ais__q_pack_b_panel_sse2(const uint8_t *src, uint8_t flip, int64_t rs, int64_t k,
                                     int64_t j0, int8_t *d, int32_t *sums) {
    const __m128i f = _mm_set1_epi8((char)flip), one = _mm_set1_epi16(1);
    __m128i acc[8];
    for (int q = 0; q < 8; q++)
        acc[q] = _mm_setzero_si128();
    int64_t k4 = ais__q_k4(k);
    for (int64_t kk = 0; kk < k4; kk++) {
        __m128i r[4];
        for (int t = 0; t < 4; t++) {
            int64_t kx = kk * 4 + t;
            r[t] = kx < k ? _mm_xor_si128(_mm_loadu_si128((const __m128i *)(src + kx * rs + j0)), f)
                          : _mm_setzero_si128();
        }
        __m128i a01l = _mm_unpacklo_epi8(r[0], r[1]), a01h = _mm_unpackhi_epi8(r[0], r[1]);
        __m128i a23l = _mm_unpacklo_epi8(r[2], r[3]), a23h = _mm_unpackhi_epi8(r[2], r[3]);
        __m128i o[4] = {_mm_unpacklo_epi16(a01l, a23l), _mm_unpackhi_epi16(a01l, a23l),
                        _mm_unpacklo_epi16(a01h, a23h), _mm_unpackhi_epi16(a01h, a23h)};
        for (int q = 0; q < 4; q++) {
            _mm_storeu_si128((__m128i *)(d + kk * 64 + q * 16), o[q]);
            __m128i lo = _mm_srai_epi16(_mm_unpacklo_epi8(o[q], o[q]), 8);
            __m128i hi = _mm_srai_epi16(_mm_unpackhi_epi8(o[q], o[q]), 8);
            acc[2 * q] = _mm_add_epi32(acc[2 * q], _mm_madd_epi16(lo, one));
            acc[2 * q + 1] = _mm_add_epi32(acc[2 * q + 1], _mm_madd_epi16(hi, one));
        }
    }
    if (!sums) return;
    for (int q = 0; q < 8; q++) {
        int32_t v[4];
        _mm_storeu_si128((__m128i *)v, acc[q]);
        /* lanes hold (t0 + t1, t2 + t3) of two columns */
        sums[j0 + q * 2] = (int32_t)((uint32_t)v[0] + (uint32_t)v[1]);
        sums[j0 + q * 2 + 1] = (int32_t)((uint32_t)v[2] + (uint32_t)v[3]);
    }
}
#endif

void ais__qgemm_pack_b(const void *b, bool is_signed, int64_t rs, int64_t cs, int64_t k, int64_t n,
                       int8_t *dst, int32_t *sums, bool *exact) {
    const uint8_t *src = b;
    uint8_t flip = is_signed ? 0 : 0x80;
    int64_t k4 = ais__q_k4(k), panels = (n + AIS__QGEMM_NR - 1) / AIS__QGEMM_NR;
    if (exact) *exact = false;
    for (int64_t p = 0; p < panels; p++) {
        int64_t j0 = p * AIS__QGEMM_NR;
        int8_t *d = dst + p * k4 * 64;
#if defined(__SSE2__)
        if (cs == 1 && !exact && j0 + AIS__QGEMM_NR <= n) {
            ais__q_pack_b_panel_sse2(src, flip, rs, k, j0, d, sums);
            continue;
        }
#endif
        ais__q_pack_b_panel(src, flip, rs, cs, NULL, k, n, j0, d, sums, exact);
    }
}

void ais__qgemm_pack_b_rows(const void *b, bool is_signed, int64_t rs, int64_t cs,
                            const int32_t *krows, int64_t k, int64_t n, int8_t *dst,
                            int32_t *sums) {
    int64_t k4 = ais__q_k4(k), panels = (n + AIS__QGEMM_NR - 1) / AIS__QGEMM_NR;
    for (int64_t p = 0; p < panels; p++)
        ais__q_pack_b_panel(b, is_signed ? 0 : 0x80, rs, cs, krows, k, n, p * AIS__QGEMM_NR,
                            dst + p * k4 * 64, sums, NULL);
}

void ais__qgemm_pack_a_rows(int mr, const void *a, bool is_signed, int64_t rs, int64_t cs,
                            int64_t m, const int32_t *krows, int64_t k, uint8_t *dst,
                            int32_t *sums) {
    const uint8_t *src = a;
    uint8_t flip = is_signed ? 0x80 : 0;
    int64_t k4 = ais__q_k4(k), panels = (m + mr - 1) / mr;
    /* the natural order of contiguous rows moves whole groups of 4 (one 32-bit move each) */
    bool by_words = !krows && cs == 1;
    for (int64_t p = 0; p < panels; p++) {
        uint8_t *d = dst + p * k4 * mr * 4;
        for (int r = 0; r < mr; r++) {
            int64_t i = p * mr + r;
            if (i >= m) { /* the last panel's missing rows are zeros */
                for (int64_t kk = 0; kk < k4; kk++)
                    memset(d + (kk * mr + r) * 4, 0, 4);
                continue;
            }
            const uint8_t *row = src + i * rs;
            uint32_t s = 0;
            int64_t kk = 0;
            if (by_words) {
                for (; kk < k / 4; kk++) {
                    uint32_t w;
                    memcpy(&w, row + kk * 4, 4);
                    w ^= flip * 0x01010101u;
                    memcpy(d + (kk * mr + r) * 4, &w, 4);
                }
                if (sums)
                    for (int64_t j = 0; j < k; j++)
                        s += (uint8_t)(row[j] ^ flip);
            }
            for (; kk < k4; kk++)
                for (int t = 0; t < 4; t++) {
                    int64_t kx = kk * 4 + t, c = kx >= k ? -1 : krows ? krows[kx] : kx;
                    uint8_t v = c >= 0 ? (uint8_t)(row[c * cs] ^ flip) : 0;
                    d[(kk * mr + r) * 4 + t] = v;
                    if (!by_words) s += v;
                }
            if (sums) sums[i] = (int32_t)s;
        }
    }
}

void ais__q8_stride2(const uint8_t *src, uint8_t *dst, int64_t n) {
    int64_t o = 0;
#if defined(__SSE2__)
    /* 16 outputs from 32 bytes: the even bytes, kept by a mask and packed; a chunk runs only
     * while it reads before src[2 (n - 1)], the last byte the caller vouches for */
    const __m128i lo8 = _mm_set1_epi16(0x00ff);
    for (; o + 16 < n; o += 16) {
        __m128i a = _mm_and_si128(_mm_loadu_si128((const __m128i *)(src + 2 * o)), lo8);
        __m128i b = _mm_and_si128(_mm_loadu_si128((const __m128i *)(src + 2 * o + 16)), lo8);
        _mm_storeu_si128((__m128i *)(dst + o), _mm_packus_epi16(a, b));
    }
#endif
    for (; o < n; o++)
        dst[o] = src[2 * o];
}

/* ---- the tile loop ---- */

typedef struct {
    const ais__cpu_kernels *t;
    const ais__qgemm_a *a;
    const ais__qgemm_b *b;
    const ais__qgemm_ep *ep;
    int64_t mp, k4;
} ais__q_job;

static void ais__q_tiles(void *ctx, size_t begin, size_t end) {
    const ais__q_job *J = ctx;
    const ais__cpu_kernels *t = J->t;
    int mr = t->qgemm_mr, np = t->qgemm_np;
    int64_t npan = (J->b->n + AIS__QGEMM_NR - 1) / AIS__QGEMM_NR;
    int64_t astride = J->k4 * mr * 4, bstride = J->k4 * 64;
    _Alignas(64) int32_t c[AIS__QGEMM_MR_MAX * AIS__QGEMM_LDC];
    for (size_t id = begin; id < end; id++) {
        /* column blocks outer: one block of B (np panels) serves every row panel in turn */
        int64_t jb = (int64_t)id / J->mp, ip = (int64_t)id % J->mp;
        int64_t q0 = jb * np, nq = npan - q0 < np ? npan - q0 : np;
        t->qgemm_ukernel(J->k4, J->a->data + ip * astride, J->b->data + q0 * bstride, bstride,
                         (int)nq, J->b->exact, c);
        int64_t i0 = ip * mr, j0 = q0 * AIS__QGEMM_NR;
        int64_t rows = J->a->m - i0 < mr ? J->a->m - i0 : mr;
        int64_t cols = J->b->n - j0 < nq * 16 ? J->b->n - j0 : nq * 16;
        t->qgemm_store(J->ep, c, i0, j0, (int)rows, (int)cols);
    }
}

void ais__qgemm_run(struct ais__pool *pool, const ais__cpu_kernels *t, const ais__qgemm_a *a,
                    const ais__qgemm_b *b, const ais__qgemm_ep *ep) {
    if (a->m <= 0 || b->n <= 0) return;
    ais__q_job J = {.t = t, .a = a, .b = b, .ep = ep, .k4 = ais__q_k4(a->k)};
    J.mp = (a->m + t->qgemm_mr - 1) / t->qgemm_mr;
    int64_t npan = (b->n + AIS__QGEMM_NR - 1) / AIS__QGEMM_NR;
    int64_t nb = (npan + t->qgemm_np - 1) / t->qgemm_np;
    size_t tasks = (size_t)(J.mp * nb);
    /* below about a million multiply-adds a second thread costs more than it saves */
    double work = (double)a->m * (double)b->n * (double)(a->k + 16);
    if (!pool || work < 1e6 || tasks < 2)
        ais__q_tiles(&J, 0, tasks);
    else
        ais__parallel_for(pool, tasks, 1, ais__q_tiles, &J);
}

/* ---- B packed block by block inside the tile loop (the convolutions' columns) ---- */

typedef struct {
    const ais__cpu_kernels *t;
    const ais__qgemm_a *a;
    const ais__qgemm_cols *src;
    const ais__qgemm_ep *ep;
    char *scratch;
    size_t per_slot;
    int64_t n, k4, mp, nb, slots, bw;
    size_t y_elem;
} ais__q_cols_job;

static size_t ais__q_al(size_t n) { return (n + 63) & ~(size_t)63; }

/* The k an A's blocks of B are packed for: the paired path's kp may exceed k. */
static int64_t ais__q_a_kmax(const ais__qgemm_a *a) {
    return a->krows && a->kp > a->k ? a->kp : a->k;
}

/* Bytes of one packed panel of 16 columns of B: k4 groups of 4 bytes per column, or (the int16
 * pair layout, which needs more) k2 pairs of 2 int16; the larger, so that either fits. */
static size_t ais__q_panel_bytes(int64_t k) {
    size_t narrow = (size_t)ais__q_k4(k) * 4 * AIS__QGEMM_NR;
    size_t wide = (size_t)((k + 1) / 2) * 4 * AIS__QGEMM_NR;
    return narrow > wide ? narrow : wide;
}

/* A block's panels stay within this many bytes: a row panel's pass over them then reads L1 and
 * L2, not memory (the 1x1 layers' k of 16-320 take four panels, ResNet's 3x3 ones one). */
#define AIS__Q_BLOCK_BYTES 49152

int64_t ais__qgemm_cols_width(const ais__cpu_kernels *t, int64_t k) {
    if (t->qgemm_np > 1) return (int64_t)t->qgemm_np * AIS__QGEMM_NR;
    int64_t panels = (int64_t)(AIS__Q_BLOCK_BYTES / ais__q_panel_bytes(k));
    panels = panels < 1 ? 1 : panels > AIS__QGEMM_NP_MAX ? AIS__QGEMM_NP_MAX : panels;
    return panels * AIS__QGEMM_NR;
}

static size_t ais__q_block_bytes(int64_t k, int64_t width) {
    return ais__q_al(ais__q_panel_bytes(k) * (size_t)(width / AIS__QGEMM_NR));
}

size_t ais__qgemm_cols_slot_bytes(const ais__cpu_kernels *t, int64_t k, int64_t width,
                                  size_t work_bytes) {
    (void)t;
    return ais__q_block_bytes(k, width) + ais__q_al((size_t)width * 4) + ais__q_al(work_bytes);
}

/* Slot s: when there are at least as many column blocks as slots, blocks [s nb / S, (s + 1) nb /
 * S) with every row panel; otherwise block s % nb and its share of the row panels (the slots
 * that share a block each pack it: a block is at most 64 columns of k, cheaper to pack
 * twice than to wait for). Each slot packs into its own memory, so nothing is shared but A.
 * A block of several panels runs them all on one row panel before the next, into one tile of
 * up to 64 columns that one call of the store writes. */
static void ais__q_cols_slots(void *vj, size_t begin, size_t end) {
    const ais__q_cols_job *J = vj;
    const ais__cpu_kernels *t = J->t;
    int mr = t->qgemm_mr, np = t->qgemm_np;
    int64_t bw = J->bw, bstride = J->k4 * 64, astride = J->k4 * mr * 4;
    _Alignas(64) int32_t c[AIS__QGEMM_MR_MAX * AIS__QGEMM_LDC];
    for (size_t s = begin; s < end; s++) {
        char *p = J->scratch + s * J->per_slot;
        int8_t *bp = (int8_t *)p;
        size_t block_b = ais__q_block_bytes(ais__q_a_kmax(J->a), bw);
        int32_t *sums = (int32_t *)(void *)(p + block_b);
        uint8_t *work = (uint8_t *)(p + block_b + ais__q_al((size_t)bw * 4));
        /* the int16 pair layout: k2 steps of mr rows of 2 int16 (4 bytes) */
        int64_t k2 = (J->a->k + 1) / 2;
        if (J->a->wide) astride = k2 * mr * 4, bstride = k2 * 64;
        if (J->a->krows) astride = J->a->kp * mr, bstride = J->a->kp * 16;
        int64_t S = J->slots, b0, b1, r0 = 0, r1 = J->mp;
        if (J->nb >= S) {
            b0 = (int64_t)s * J->nb / S;
            b1 = ((int64_t)s + 1) * J->nb / S;
        } else {
            int64_t share = (S - 1 - (int64_t)s % J->nb) / J->nb + 1, idx = (int64_t)s / J->nb;
            b0 = (int64_t)s % J->nb;
            b1 = b0 + 1;
            r0 = idx * J->mp / share;
            r1 = (idx + 1) * J->mp / share;
        }
        for (int64_t jb = b0; jb < b1 && r0 < r1; jb++) {
            int64_t j0 = jb * bw, cols = J->n - j0 < bw ? J->n - j0 : bw;
            int nq = (int)((cols + AIS__QGEMM_NR - 1) / AIS__QGEMM_NR);
            J->src->pack(J->src->ctx, j0, cols, bp, sums, work);
            /* the store sees this block as columns [0, cols) of its own C */
            ais__qgemm_ep ep = *J->ep;
            ep.y = (char *)ep.y + (size_t)j0 * J->y_elem;
            ep.col_mul = ep.row_mul ? sums : NULL;
            if (ep.col_add) ep.col_add += j0;
            if (J->src->sums_mul) {
                assert(!ep.row_mul && !ep.col_add);
                uint32_t mul = (uint32_t)J->src->sums_mul;
                for (int64_t j = 0; j < cols; j++)
                    sums[j] = (int32_t)((uint32_t)sums[j] * mul);
                ep.col_add = sums;
            }
            if (ep.fbias) ep.fbias += j0;
            if (ep.scale_cs) {
                if (ep.fscale) ep.fscale += j0 * ep.scale_cs;
                if (ep.dscale) ep.dscale += j0 * ep.scale_cs;
            }
            for (int64_t ip = r0; ip < r1; ip++) {
                const uint8_t *ap = J->a->data + ip * astride;
                for (int q = 0; q < nq; q += np) {
                    const int8_t *bq = bp + q * bstride;
                    int32_t *cq = c + q * AIS__QGEMM_NR;
                    if (J->a->krows)
                        t->q8p_ukernel(J->a->kp / 4, (const int8_t *)(const void *)ap,
                                       (const uint8_t *)(const void *)bq, cq);
                    else if (J->a->wide)
                        t->q16_ukernel(k2, (const int16_t *)(const void *)ap,
                                       (const int16_t *)(const void *)bq, cq);
                    else
                        t->qgemm_ukernel(J->k4, ap, bq, bstride, nq - q < np ? nq - q : np, true,
                                         cq);
                }
                int64_t i0 = ip * mr, rows = J->a->m - i0 < mr ? J->a->m - i0 : mr;
                t->qgemm_store(&ep, c, i0, 0, (int)rows, (int)cols);
            }
        }
    }
}

void ais__qgemm_run_cols(struct ais__pool *pool, const ais__cpu_kernels *t, const ais__qgemm_a *a,
                         int64_t n, const ais__qgemm_cols *src, const ais__qgemm_ep *ep,
                         int32_t slots, void *scratch) {
    if (a->m <= 0 || n <= 0) return;
    ais__q_cols_job J = {
        .t = t, .a = a, .src = src, .ep = ep, .scratch = scratch, .n = n, .k4 = ais__q_k4(a->k)};
    assert(!a->wide || (t->q16_ukernel && t->qgemm_np == 1));
    assert(!a->krows || (t->q8p_ukernel && t->qgemm_np == 1 && a->kp % 4 == 0));
    J.bw = src->width > 0 ? src->width : (int64_t)t->qgemm_np * AIS__QGEMM_NR;
    assert(J.bw % ((int64_t)t->qgemm_np * AIS__QGEMM_NR) == 0 && J.bw <= AIS__QGEMM_LDC);
    J.per_slot = ais__qgemm_cols_slot_bytes(t, ais__q_a_kmax(a), J.bw, src->work_bytes);
    J.mp = (a->m + t->qgemm_mr - 1) / t->qgemm_mr;
    J.nb = (n + J.bw - 1) / J.bw;
    J.y_elem = ep->out == AIS__QGEMM_OUT_U8 || ep->out == AIS__QGEMM_OUT_S8 ? 1 : 4;
    /* below about a million multiply-adds a second thread costs more than it saves */
    double work = (double)a->m * (double)n * (double)(a->k + 16);
    int64_t S = slots < 1 || !pool || work < 1e6 ? 1 : slots;
    if (S > J.nb * J.mp) S = J.nb * J.mp;
    J.slots = S;
    if (S == 1)
        ais__q_cols_slots(&J, 0, 1);
    else
        ais__parallel_for(pool, (size_t)S, 1, ais__q_cols_slots, &J);
}

void ais__cpu_fill_qgemm(ais__cpu_kernels *k, int level) {
    ais__cpu_fill_ref_qgemm(k);
#if defined(AIS_CPU_X86)
    if (level >= AIS_CPU_ISA_AVX2) ais__avx2_fill_qgemm(k);
    /* the int16 pair path is for AVX2's vpmaddubsw; the AVX-512 levels keep their own kernels */
    if (level >= AIS_CPU_ISA_AVX512) {
        k->q16_ukernel = NULL;
        k->q16_pack_b = NULL;
        k->q8p_ukernel = NULL;
        k->q8p_pack_b = NULL;
        ais__avx512_fill_qgemm(k);
    }
    if (level >= AIS_CPU_ISA_AVX512_VNNI) ais__avx512_vnni_fill_qgemm(k);
#else
    (void)level;
#endif
}
