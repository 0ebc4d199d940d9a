/*
 * avx2_qgemm.c - the AVX2 int8 micro-kernel and epilogue store (layouts and the vpmaddubsw rule:
 * ../../cpu_qgemm.c): a 4 x 16 tile, 8 ymm accumulators, vpmaddubsw pairs widened by vpmaddwd
 * against ones, or the exact split of A into its low 7 bits and its top bit when the B panels
 * could saturate int16.
 * The tile loops carry `#pragma GCC unroll`: without full unrolling GCC -O2 kept acc[][] in
 * memory (loads and stores to the stack inside the k loop) instead of in registers.
 */
#include <immintrin.h>
#include <string.h>

#include "../../cpu.h"

#define AIS__QMR 4

static inline __attribute__((always_inline)) void
ais__q256(int64_t k4, const uint8_t *ap, const int8_t *bp, int32_t *c, const bool EXACT) {
    __m256i acc[AIS__QMR][2];
    const __m256i ones = _mm256_set1_epi16(1), lo7 = _mm256_set1_epi8(0x7f);
    const __m256i hi1 = _mm256_set1_epi8((char)0x80);
#pragma GCC unroll 8
    for (int r = 0; r < AIS__QMR; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (int64_t kk = 0; kk < k4; kk++) {
        __m256i b[2] = {_mm256_loadu_si256((const __m256i *)(bp + kk * 64)),
                        _mm256_loadu_si256((const __m256i *)(bp + kk * 64 + 32))};
#pragma GCC unroll 8
        for (int r = 0; r < AIS__QMR; r++) {
            int32_t w;
            memcpy(&w, ap + (kk * AIS__QMR + r) * 4, 4);
            __m256i a = _mm256_set1_epi32(w);
#pragma GCC unroll 8
            for (int q = 0; q < 2; q++) {
                if (EXACT) {
                    __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(a, lo7), b[q]);
                    __m256i p1 = _mm256_maddubs_epi16(_mm256_and_si256(a, hi1), b[q]);
                    acc[r][q] = _mm256_add_epi32(acc[r][q], _mm256_madd_epi16(p0, ones));
                    acc[r][q] = _mm256_add_epi32(acc[r][q], _mm256_madd_epi16(p1, ones));
                } else {
                    __m256i p = _mm256_maddubs_epi16(a, b[q]);
                    acc[r][q] = _mm256_add_epi32(acc[r][q], _mm256_madd_epi16(p, ones));
                }
            }
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < AIS__QMR; r++)
#pragma GCC unroll 8
        for (int q = 0; q < 2; q++)
            _mm256_storeu_si256((__m256i *)(c + r * AIS__QGEMM_LDC + q * 8), acc[r][q]);
}

static void ais__q256_ukernel(int64_t k4, const uint8_t *ap, const int8_t *bp, int64_t bstride,
                              int np, bool exact, int32_t *c) {
    (void)bstride;
    (void)np; /* qgemm_np 1 */
    if (exact)
        ais__q256(k4, ap, bp, c, true);
    else
        ais__q256(k4, ap, bp, c, false);
}

/* The int16 pair path (cpu.h): 4 rows x 16 columns, one vpmaddwd per row and 8 columns for two
 * k. Exact: |values| <= 255, so no pair sum leaves int32. */
static void ais__q256_q16_ukernel(int64_t k2, const int16_t *ap, const int16_t *bp, int32_t *c) {
    __m256i acc[AIS__QMR][2];
#pragma GCC unroll 8
    for (int r = 0; r < AIS__QMR; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int64_t kk = 0; kk < k2; kk++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(bp + kk * 32));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(bp + kk * 32 + 16));
#pragma GCC unroll 8
        for (int r = 0; r < AIS__QMR; r++) {
            int32_t w;
            memcpy(&w, ap + (kk * AIS__QMR + r) * 2, 4);
            __m256i a = _mm256_set1_epi32(w);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(b0, a));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(b1, a));
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < AIS__QMR; r++) {
        _mm256_storeu_si256((__m256i *)(c + r * AIS__QGEMM_LDC), acc[r][0]);
        _mm256_storeu_si256((__m256i *)(c + r * AIS__QGEMM_LDC + 8), acc[r][1]);
    }
}

/* The B panel of the int16 pair path: rows 2 kk and 2 kk + 1 interleaved byte by byte (the
 * pairs of columns 0-7 in the low half, 8-15 in the high one), widened, minus zp; the column
 * sums from the same vectors through vpmaddwd against ones. */
static void ais__q256_q16_pack_b(const uint8_t *src, int64_t ld, int64_t k, bool is_signed,
                                 int32_t zp, int16_t *dst, int32_t *sums) {
    const __m256i z = _mm256_set1_epi16((short)zp), ones = _mm256_set1_epi16(1);
    const __m256i lo16 = _mm256_set1_epi32(0xffff);
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    for (int64_t kk = 0; kk < (k + 1) / 2; kk++) {
        bool odd = 2 * kk + 1 >= k; /* the last row alone: its pair partner is 0 */
        __m128i r0 = _mm_loadu_si128((const __m128i *)(src + 2 * kk * ld));
        __m128i r1 = odd ? r0 : _mm_loadu_si128((const __m128i *)(src + (2 * kk + 1) * ld));
        __m128i l = _mm_unpacklo_epi8(r0, r1), h = _mm_unpackhi_epi8(r0, r1);
        __m256i v0 = is_signed ? _mm256_cvtepi8_epi16(l) : _mm256_cvtepu8_epi16(l);
        __m256i v1 = is_signed ? _mm256_cvtepi8_epi16(h) : _mm256_cvtepu8_epi16(h);
        v0 = _mm256_sub_epi16(v0, z);
        v1 = _mm256_sub_epi16(v1, z);
        if (odd) {
            v0 = _mm256_and_si256(v0, lo16);
            v1 = _mm256_and_si256(v1, lo16);
        }
        _mm256_storeu_si256((__m256i *)(dst + kk * 32), v0);
        _mm256_storeu_si256((__m256i *)(dst + kk * 32 + 16), v1);
        if (sums) {
            s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(v0, ones));
            s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(v1, ones));
        }
    }
    if (sums) {
        _mm256_storeu_si256((__m256i *)sums, s0);
        _mm256_storeu_si256((__m256i *)(sums + 8), s1);
    }
}

/* The paired u8 path (cpu.h): 4 rows x 16 columns; the u8 activations are vpmaddubsw's vector
 * operand and the s8 weights of a row its broadcast one, so whether a pair saturates depends on
 * the weights alone, which the packing made safe. vpmaddwd against ones adds two pairs exactly. */
static void ais__q256_q8p_ukernel(int64_t k4, const int8_t *ap, const uint8_t *bp, int32_t *c) {
    __m256i acc[AIS__QMR][2];
    const __m256i ones = _mm256_set1_epi16(1);
#pragma GCC unroll 8
    for (int r = 0; r < AIS__QMR; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int64_t kk = 0; kk < k4; kk++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(bp + kk * 64));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(bp + kk * 64 + 32));
#pragma GCC unroll 8
        for (int r = 0; r < AIS__QMR; r++) {
            int32_t w;
            memcpy(&w, ap + (kk * AIS__QMR + r) * 4, 4);
            __m256i a = _mm256_set1_epi32(w);
            acc[r][0] =
                _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(b0, a), ones));
            acc[r][1] =
                _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(b1, a), ones));
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < AIS__QMR; r++) {
        _mm256_storeu_si256((__m256i *)(c + r * AIS__QGEMM_LDC), acc[r][0]);
        _mm256_storeu_si256((__m256i *)(c + r * AIS__QGEMM_LDC + 8), acc[r][1]);
    }
}

/* The B panel of the paired path: four rows of 16 bytes become 16 columns of 4 by two
 * interleaves (as cpu_qgemm.c's SSE2 panel). */
static void ais__q256_q8p_pack_b(const uint8_t *src, int64_t ld, const int32_t *krows, int64_t k4,
                                 uint8_t flip, uint8_t *dst) {
    const __m128i f = _mm_set1_epi8((char)flip);
    for (int64_t kk = 0; kk < k4; kk++) {
        __m128i r[4];
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++) {
            int32_t row = krows[kk * 4 + t];
            r[t] = row < 0 ? _mm_setzero_si128()
                           : _mm_xor_si128(_mm_loadu_si128((const __m128i *)(src + row * ld)), f);
        }
        __m128i a01l = _mm_unpacklo_epi8(r[0], r[1]), a01h = _mm_unpackhi_epi8(r[0], r[1]);
        __m128i a23l = _mm_unpacklo_epi8(r[2], r[3]), a23h = _mm_unpackhi_epi8(r[2], r[3]);
        _mm_storeu_si128((__m128i *)(dst + kk * 64), _mm_unpacklo_epi16(a01l, a23l));
        _mm_storeu_si128((__m128i *)(dst + kk * 64 + 16), _mm_unpackhi_epi16(a01l, a23l));
        _mm_storeu_si128((__m128i *)(dst + kk * 64 + 32), _mm_unpacklo_epi16(a01h, a23h));
        _mm_storeu_si128((__m128i *)(dst + kk * 64 + 48), _mm_unpackhi_epi16(a01h, a23h));
    }
}

/* Eight requantized int32 (already in [qmin, qmax]) to bytes. */
static inline void ais__q256_bytes(__m128i lo, __m128i hi, bool is_u8, void *dst) {
    __m128i w = _mm_packs_epi32(lo, hi);
    _mm_storel_epi64((__m128i *)dst, is_u8 ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w));
}

/* a macro, not a const int: clang at -O0 wants an integer constant expression there */
#define AIS__Q_RND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* The requantizing store with float scales (ONNX Runtime's arithmetic, QLinearConv's), as
 * avx512_qgemm.c's: the epilogue in locals (the byte stores may alias it), 16 values a step,
 * float(v) * scale, min with qmax - zp, rounded, converted, max with qmin - zp in int32, + zp,
 * and one saturating pack of the two halves (exact: the values are in range already). */
static void ais__q256_store_q8f(const ais__qgemm_ep *ep, const int32_t *c, int64_t i0, int64_t j0,
                                int rows, int cols) {
    const int32_t *row_add = ep->row_add, *col_add = ep->col_add, *row_mul = ep->row_mul;
    const int32_t *col_mul = ep->col_mul;
    const float *fscale = ep->fscale;
    const int64_t scale_rs = ep->scale_rs, scale_cs = ep->scale_cs, ldy = ep->ldy;
    const bool is_u8 = ep->out == AIS__QGEMM_OUT_U8;
    int8_t *y = ep->y;
    const __m256 hi = _mm256_set1_ps((float)(ep->qmax - ep->zp));
    const __m256i lo = _mm256_set1_epi32(ep->qmin - ep->zp), zp = _mm256_set1_epi32(ep->zp);
    int full = cols & ~15;
    for (int r = 0; r < rows; r++) {
        int64_t i = i0 + r;
        const __m256i radd = _mm256_set1_epi32(row_add ? row_add[i] : 0);
        const __m256i rmul = _mm256_set1_epi32(row_mul ? row_mul[i] : 0);
        const float *fs = fscale + i * scale_rs;
        const __m256 srow = _mm256_set1_ps(fs[0]);
        const int32_t *cr = c + r * AIS__QGEMM_LDC;
        int8_t *yr = y + i * ldy;
        for (int jj = 0; jj < full; jj += 16) {
            __m256i q[2];
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                int64_t j = j0 + jj + 8 * h;
                __m256i v =
                    _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(cr + jj + 8 * h)), radd);
                if (col_add)
                    v = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)(col_add + j)));
                if (row_mul)
                    v = _mm256_add_epi32(
                        v, _mm256_mullo_epi32(rmul,
                                              _mm256_loadu_si256((const __m256i *)(col_mul + j))));
                __m256 s = scale_cs ? _mm256_loadu_ps(fs + j) : srow;
                __m256 f = _mm256_min_ps(hi, _mm256_mul_ps(_mm256_cvtepi32_ps(v), s));
                f = _mm256_round_ps(f, AIS__Q_RND);
                q[h] = _mm256_add_epi32(_mm256_max_epi32(_mm256_cvttps_epi32(f), lo), zp);
            }
            /* packs works within 128-bit lanes: 0-3 8-11 4-7 12-15 as words, then bytes of
             * both halves; one permute of the 32-bit groups puts them in order */
            __m256i w = _mm256_packs_epi32(q[0], q[1]);
            __m256i b = is_u8 ? _mm256_packus_epi16(w, w) : _mm256_packs_epi16(w, w);
            b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 0, 0, 0, 0));
            _mm_storeu_si128((__m128i *)(yr + j0 + jj), _mm256_castsi256_si128(b));
        }
    }
    if (full < cols) ais__cpu_ref_qgemm_store(ep, c + full, i0, j0 + full, rows, cols - full);
}

static void ais__q256_store(const ais__qgemm_ep *ep, const int32_t *c, int64_t i0, int64_t j0,
                            int rows, int cols) {
    if ((ep->out == AIS__QGEMM_OUT_U8 || ep->out == AIS__QGEMM_OUT_S8) && !ep->dscale) {
        ais__q256_store_q8f(ep, c, i0, j0, rows, cols);
        return;
    }
    int full = cols & ~7;
    for (int r = 0; r < rows; r++) {
        int64_t i = i0 + r;
        __m256i radd = _mm256_set1_epi32(ep->row_add ? ep->row_add[i] : 0);
        __m256i rmul = _mm256_set1_epi32(ep->row_mul ? ep->row_mul[i] : 0);
        for (int jj = 0; jj < full; jj += 8) {
            int64_t j = j0 + jj, o = i * ep->ldy + j;
            __m256i v = _mm256_add_epi32(
                _mm256_loadu_si256((const __m256i *)(c + r * AIS__QGEMM_LDC + jj)), radd);
            if (ep->col_add)
                v = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)(ep->col_add + j)));
            if (ep->row_mul)
                v = _mm256_add_epi32(
                    v, _mm256_mullo_epi32(rmul,
                                          _mm256_loadu_si256((const __m256i *)(ep->col_mul + j))));
            if (ep->out == AIS__QGEMM_OUT_I32) {
                _mm256_storeu_si256((__m256i *)((int32_t *)ep->y + o), v);
                continue;
            }
            const float *fs = ep->fscale ? ep->fscale + i * ep->scale_rs : NULL;
            if (ep->out == AIS__QGEMM_OUT_F32) {
                __m256 sc = ep->scale_cs ? _mm256_loadu_ps(fs + j) : _mm256_set1_ps(fs[0]);
                __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), sc);
                if (ep->fbias) f = _mm256_add_ps(f, _mm256_loadu_ps(ep->fbias + j));
                _mm256_storeu_ps((float *)ep->y + o, f);
                continue;
            }
            __m128i q0, q1;
            if (ep->dscale) {
                const double *ds = ep->dscale + i * ep->scale_rs;
                const __m256d zp = _mm256_set1_pd(ep->zp), lo = _mm256_set1_pd(ep->qmin);
                const __m256d hi = _mm256_set1_pd(ep->qmax);
                __m256d s0 = ep->scale_cs ? _mm256_loadu_pd(ds + j) : _mm256_set1_pd(ds[0]);
                __m256d s1 = ep->scale_cs ? _mm256_loadu_pd(ds + j + 4) : s0;
                __m256d d0 = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(v)), s0);
                __m256d d1 = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(v, 1)), s1);
                d0 = _mm256_min_pd(
                    _mm256_max_pd(_mm256_add_pd(_mm256_round_pd(d0, AIS__Q_RND), zp), lo), hi);
                d1 = _mm256_min_pd(
                    _mm256_max_pd(_mm256_add_pd(_mm256_round_pd(d1, AIS__Q_RND), zp), lo), hi);
                q0 = _mm256_cvttpd_epi32(d0);
                q1 = _mm256_cvttpd_epi32(d1);
            } else {
                __m256 sc = ep->scale_cs ? _mm256_loadu_ps(fs + j) : _mm256_set1_ps(fs[0]);
                __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), sc);
                f = _mm256_add_ps(_mm256_round_ps(f, AIS__Q_RND), _mm256_set1_ps((float)ep->zp));
                f = _mm256_min_ps(_mm256_max_ps(f, _mm256_set1_ps((float)ep->qmin)),
                                  _mm256_set1_ps((float)ep->qmax));
                __m256i qi = _mm256_cvttps_epi32(f);
                q0 = _mm256_castsi256_si128(qi);
                q1 = _mm256_extracti128_si256(qi, 1);
            }
            ais__q256_bytes(q0, q1, ep->out == AIS__QGEMM_OUT_U8, (int8_t *)ep->y + o);
        }
    }
    if (full < cols) ais__cpu_ref_qgemm_store(ep, c + full, i0, j0 + full, rows, cols - full);
}

static void ais__q256_q8_to_f32(const uint8_t *x, bool is_signed, int32_t zp, float *y, int64_t n) {
    const __m256i z = _mm256_set1_epi32(zp);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i b = _mm_loadl_epi64((const __m128i *)(x + i));
        __m256i v = is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
        _mm256_storeu_ps(y + i, _mm256_cvtepi32_ps(_mm256_sub_epi32(v, z)));
    }
    ais__cpu_ref_q8_to_f32(x + i, is_signed, zp, y + i, n - i);
}

static void ais__q256_f32_to_i32(const float *y, int32_t *c, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_si256((__m256i *)(c + i), _mm256_cvttps_epi32(_mm256_loadu_ps(y + i)));
    ais__cpu_ref_f32_to_i32(y + i, c + i, n - i);
}

/* 8 bytes at p (u8, or s8 when is_signed) widened to int32 */
static inline __m256i ais__q256_ld8(const uint8_t *p, bool is_signed) {
    __m128i b = _mm_loadl_epi64((const __m128i *)p);
    return is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}

/* The same float operations as ais__cpu_ref_qbin, in the same order (no FMA). */
static void ais__q256_qbin(const uint8_t *a, const uint8_t *b, int64_t b_step, int64_t n,
                           const ais__qbin_args *p, uint8_t *y) {
    const __m256i za = _mm256_set1_epi32(p->za), zb = _mm256_set1_epi32(p->zb);
    const __m256 ra = _mm256_set1_ps(p->ra), rb = _mm256_set1_ps(p->rb), rm = _mm256_set1_ps(p->rm);
    const __m256 zc = _mm256_set1_ps((float)p->zc);
    const __m256 lo = _mm256_set1_ps(p->is_signed ? -128.0f : 0.0f);
    const __m256 hi = _mm256_set1_ps(p->is_signed ? 127.0f : 255.0f);
    __m256 vbs = _mm256_setzero_ps();
    if (b_step == 0) {
        int32_t bi = p->is_signed ? (int32_t)(int8_t)b[0] : (int32_t)b[0];
        vbs = _mm256_set1_ps((float)(bi - p->zb));
    }
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 va = _mm256_cvtepi32_ps(_mm256_sub_epi32(ais__q256_ld8(a + i, p->is_signed), za));
        __m256 vb =
            b_step ? _mm256_cvtepi32_ps(_mm256_sub_epi32(ais__q256_ld8(b + i, p->is_signed), zb))
                   : vbs;
        __m256 v = p->mul ? _mm256_mul_ps(_mm256_mul_ps(va, vb), rm)
                          : _mm256_add_ps(_mm256_mul_ps(va, ra), _mm256_mul_ps(vb, rb));
        v = _mm256_add_ps(_mm256_round_ps(v, AIS__Q_RND), zc);
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
        __m256i q = _mm256_cvttps_epi32(v);
        /* in [lo, hi]: the saturating packs are exact */
        __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        __m128i o = p->is_signed ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
        _mm_storel_epi64((__m128i *)(y + i), o);
    }
    ais__cpu_ref_qbin(a + i, b + i * b_step, b_step, n - i, p, y + i);
}

/* ---- the int8 depthwise plane (pair rows, as avx512_qgemm.c's) ----
 * Strides 1 and 2, no width dilation, kernels up to 5 wide; the rest: the portable plane. Each
 * input row a block of output rows reads is widened once per chunk of 8 outputs into int32 pairs
 * P[t] = X(c) | X(c + 1) << 16 (X = x - xz, 0 in the padding; c = cs + t at stride 1, cs + 2t at
 * stride 2), the pairs a tap pair needs further along by vperm2i128 + vpalignr of two
 * neighbouring chunks, and one vpmaddwd against the weight pair (w[kw], w[kw + 1] or 0) does
 * two taps. Chunks whose bytes reach outside the row are built one lane at a time. Exact as
 * there (|X|, |w| <= 255). */
#define AIS__QDW2_R 2

/* P[o + l], l < 8, from lo = P[0, 8) and hi = P[8, 16); o a constant after inlining */
static inline __attribute__((always_inline)) __m256i ais__q256_at(__m256i lo, __m256i hi,
                                                                  const int o) {
    __m256i mid = _mm256_permute2x128_si256(lo, hi, 0x21);
    switch (o) {
    case 1: return _mm256_alignr_epi8(mid, lo, 4);
    case 2: return _mm256_alignr_epi8(mid, lo, 8);
    case 4: return mid;
    default: return lo;
    }
}

/* the pairs of 8 outputs from column col0 on */
static inline __m256i ais__q256_pairs(const uint8_t *row, bool is_signed, int32_t xz, int64_t iw,
                                      int64_t col0, const bool S2) {
    const int64_t need = S2 ? 16 : 9;
    uint8_t edge[16];
    const uint8_t *src = row + col0;
    if (col0 < 0 || col0 + need > iw) {
        /* a chunk reaching outside the row (every chunk of a small plane): the bytes it reads
         * copied into a row of the zero point, which the subtraction below makes 0 as the
         * padding must be */
        memset(edge, (uint8_t)xz, sizeof edge);
        int64_t lo = col0 < 0 ? -col0 : 0, hi = iw - col0 < need ? iw - col0 : need;
        if (hi > lo) memcpy(edge + lo, row + col0 + lo, (size_t)(hi - lo));
        src = edge;
    }
    if (S2) {
        __m128i b = _mm_loadu_si128((const __m128i *)src);
        __m256i v = is_signed ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b);
        return _mm256_sub_epi16(v, _mm256_set1_epi16((short)xz));
    }
    __m128i b0 = _mm_loadl_epi64((const __m128i *)src);
    __m128i b1 = _mm_loadl_epi64((const __m128i *)(src + 1));
    __m256i e = is_signed ? _mm256_cvtepi8_epi32(b0) : _mm256_cvtepu8_epi32(b0);
    __m256i o = is_signed ? _mm256_cvtepi8_epi32(b1) : _mm256_cvtepu8_epi32(b1);
    const __m256i z = _mm256_set1_epi32(xz);
    e = _mm256_sub_epi32(e, z);
    o = _mm256_slli_epi32(_mm256_sub_epi32(o, z), 16);
    return _mm256_blend_epi16(e, o, 0xaa);
}

static inline __attribute__((always_inline)) void
ais__q256_qdw_block(const uint8_t *x, bool is_signed, int32_t xz, const int32_t *wp,
                    const ais__conv_dw_geom *g, int32_t *acc, int64_t ow0, int64_t oh0,
                    const int NC, const int NPK, const bool S2) {
    const int64_t cs = ow0 * (S2 ? 2 : 1) - g->pw;
    const int64_t rows = g->oh - oh0 < AIS__QDW2_R ? g->oh - oh0 : AIS__QDW2_R;
    __m256i a[AIS__QDW2_R][4];
#pragma GCC unroll 4
    for (int r = 0; r < AIS__QDW2_R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++)
            a[r][c] = _mm256_setzero_si256();
    int64_t ih0 = oh0 * g->sh - g->ph, ih1 = (oh0 + rows - 1) * g->sh - g->ph + (g->kh - 1) * g->dh;
    ih0 = ih0 < 0 ? 0 : ih0;
    ih1 = ih1 >= g->ih ? g->ih - 1 : ih1;
    for (int64_t ih = ih0; ih <= ih1; ih++) {
        int64_t kr[AIS__QDW2_R];
        for (int r = 0; r < AIS__QDW2_R; r++) {
            int64_t d = ih - ((oh0 + r) * g->sh - g->ph);
            if (g->dh != 1 && d >= 0) d = d % g->dh ? -1 : d / g->dh;
            kr[r] = r < rows && d >= 0 && d < g->kh ? d : -1;
        }
        const uint8_t *row = x + ih * g->iw;
        __m256i P[5];
#pragma GCC unroll 5
        for (int c = 0; c <= NC; c++)
            if (c < NC || NPK > 1) /* the chunk after the last: only for the shifted pairs */
                P[c] = ais__q256_pairs(row, is_signed, xz, g->iw, cs + c * (S2 ? 16 : 8), S2);
#pragma GCC unroll 3
        for (int pk = 0; pk < NPK; pk++)
#pragma GCC unroll 4
            for (int c = 0; c < NC; c++) {
                __m256i p = pk == 0 ? P[c] : ais__q256_at(P[c], P[c + 1], pk * (S2 ? 1 : 2));
#pragma GCC unroll 2
                for (int r = 0; r < AIS__QDW2_R; r++)
                    if (kr[r] >= 0)
                        a[r][c] = _mm256_add_epi32(
                            a[r][c], _mm256_madd_epi16(p, _mm256_set1_epi32(wp[kr[r] * NPK + pk])));
            }
    }
#pragma GCC unroll 2
    for (int r = 0; r < AIS__QDW2_R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++) {
            int64_t nl = g->ow - ow0 - 8 * c < 8 ? g->ow - ow0 - 8 * c : 8;
            if (r >= rows) continue;
            int32_t *dst = acc + (oh0 + r) * g->ow + ow0 + 8 * c;
            if (nl == 8) {
                _mm256_storeu_si256((__m256i *)dst, a[r][c]);
            } else {
                int32_t t[8];
                _mm256_storeu_si256((__m256i *)t, a[r][c]);
                memcpy(dst, t, (size_t)nl * sizeof(int32_t));
            }
        }
}

#define AIS__QDW2_NC(NPK, S2)                                                                      \
    switch (nc) {                                                                                  \
    case 1: ais__q256_qdw_block(x, is_signed, xz, wp, g, acc, ow0, oh0, 1, NPK, S2); break;        \
    case 2: ais__q256_qdw_block(x, is_signed, xz, wp, g, acc, ow0, oh0, 2, NPK, S2); break;        \
    case 3: ais__q256_qdw_block(x, is_signed, xz, wp, g, acc, ow0, oh0, 3, NPK, S2); break;        \
    default: ais__q256_qdw_block(x, is_signed, xz, wp, g, acc, ow0, oh0, 4, NPK, S2); break;       \
    }

static void ais__q256_qdw_plane(const uint8_t *x, bool is_signed, int32_t xz, const int16_t *w,
                                const ais__conv_dw_geom *g, int32_t *acc) {
    if (!(g->sw == 1 || g->sw == 2) || g->dw != 1 || g->kw > 5 || g->kh > 256) {
        ais__cpu_ref_qdw_plane(x, is_signed, xz, w, g, acc);
        return;
    }
    const int npk = (int)(g->kw + 1) / 2;
    const bool s2 = g->sw == 2;
    int32_t wp[256 * 3];
    ais__qdw_tap_pairs(w, g, npk, wp);
    /* A plane that fits is copied once into rows with the zero point around them (pw before,
     * at least pw + 96 after: what the widest chunk reads past the last output), so that every
     * chunk loads straight from a row: small planes (14x14, 7x7) had every chunk at an edge,
     * built byte by byte and then loaded across those stores (a store-forwarding stall). */
    uint8_t padded[16384];
    const int64_t pw_row = g->iw + 2 * g->pw + 96;
    ais__conv_dw_geom gp;
    if (g->pw <= 64 && g->iw <= 4096 && g->ih * pw_row + 16 <= (int64_t)sizeof padded) {
        /* the zero point by 16-byte stores (a memset per short run compiled to rep stos, whose
         * start-up cost was a fifth of this kernel's time), then the row over it */
        const __m128i z16 = _mm_set1_epi8((char)xz);
        for (int64_t ih = 0; ih < g->ih; ih++) {
            uint8_t *row = padded + ih * pw_row;
            const uint8_t *src = x + ih * g->iw;
            for (int64_t o = 0; o < g->pw; o += 16)
                _mm_storeu_si128((__m128i *)(row + o), z16);
            /* the row by 16-byte moves, the last one ending at its last byte (a memcpy of a
             * variable length compiled to rep movsq, whose start-up cost was most of the copy),
             * then the zero point after it */
            if (g->iw >= 16) {
                for (int64_t o = 0; o + 16 < g->iw; o += 16)
                    _mm_storeu_si128((__m128i *)(row + g->pw + o),
                                     _mm_loadu_si128((const __m128i *)(src + o)));
                _mm_storeu_si128((__m128i *)(row + g->pw + g->iw - 16),
                                 _mm_loadu_si128((const __m128i *)(src + g->iw - 16)));
            } else {
                memcpy(row + g->pw, src, (size_t)g->iw);
            }
            for (int64_t o = g->pw + g->iw; o < pw_row; o += 16)
                _mm_storeu_si128((__m128i *)(row + o), z16);
        }
        gp = *g;
        gp.iw = pw_row; /* column c of x is column c + pw here: the padding is inside */
        gp.pw = 0;
        x = padded;
        g = &gp;
    }
    for (int64_t ow0 = 0; ow0 < g->ow; ow0 += 32) {
        int nc = (int)((g->ow - ow0 + 7) / 8 < 4 ? (g->ow - ow0 + 7) / 8 : 4);
        for (int64_t oh0 = 0; oh0 < g->oh; oh0 += AIS__QDW2_R) {
            if (npk == 1) {
                if (s2) {
                    AIS__QDW2_NC(1, true)
                } else {
                    AIS__QDW2_NC(1, false)
                }
            } else if (npk == 2) {
                if (s2) {
                    AIS__QDW2_NC(2, true)
                } else {
                    AIS__QDW2_NC(2, false)
                }
            } else {
                if (s2) {
                    AIS__QDW2_NC(3, true)
                } else {
                    AIS__QDW2_NC(3, false)
                }
            }
        }
    }
}
#undef AIS__QDW2_NC

void ais__avx2_fill_qgemm(ais__cpu_kernels *k) {
    k->qgemm_mr = AIS__QMR;
    k->qgemm_np = 1;
    k->qgemm_ukernel = ais__q256_ukernel;
    k->qgemm_store = ais__q256_store;
    k->q16_ukernel = ais__q256_q16_ukernel;
    k->q16_pack_b = ais__q256_q16_pack_b;
    k->q8p_ukernel = ais__q256_q8p_ukernel;
    k->q8p_pack_b = ais__q256_q8p_pack_b;
    k->q8_to_f32 = ais__q256_q8_to_f32;
    k->f32_to_i32 = ais__q256_f32_to_i32;
    k->qbin = ais__q256_qbin;
    k->qdw_plane = ais__q256_qdw_plane;
}
