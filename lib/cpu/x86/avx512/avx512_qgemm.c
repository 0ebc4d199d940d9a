/*
 * avx512_qgemm.c - the AVX-512 int8 micro-kernels and epilogue store (layouts and the
 * vpmaddubsw rule: ../../cpu_qgemm.c).
 *
 * VNNI (vpdpbusd, Ice Lake, Zen 4/5): a 6 x 64 tile, 24 zmm accumulators, 4 B vectors and one
 * broadcast of 4 bytes of A; each vpdpbusd does 64 multiply-adds, 10 loads per 24 of them.
 * Without VNNI (Skylake-X): vpmaddubsw + vpmaddwd, a 6 x 32 tile (12 accumulators), with the
 * exact split when the B panels could saturate. VNNI is compiled through a function attribute, so
 * the file's flags stay those of AVX-512 F/BW/VL/DQ and nothing reaches a CPU without it.
 * The tile loops carry `#pragma GCC unroll`: without full unrolling GCC -O2 kept acc[][] in
 * memory (21 stack loads/stores in the k loops) instead of in zmm registers.
 */
#include <immintrin.h>
#include <string.h>

#include "../../cpu.h"

#define AIS__QMR 6

static inline int32_t ais__q_ld4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

#define AIS__Q_STORE_ACC(NP)                                                                       \
    _Pragma("GCC unroll 8") for (int r = 0; r < AIS__QMR; r++)                                     \
        _Pragma("GCC unroll 8") for (int q = 0; q < NP; q++)                                       \
            _mm512_storeu_si512((void *)(c + r * AIS__QGEMM_LDC + q * 16), acc[r][q]);

/* ---- AVX-512BW ---- */

static inline __attribute__((always_inline)) void ais__q512_bw(int64_t k4, const uint8_t *ap,
                                                               const int8_t *bp, int64_t bstride,
                                                               int32_t *c, const int NP,
                                                               const bool EXACT) {
    __m512i acc[AIS__QMR][2];
    const __m512i ones = _mm512_set1_epi16(1), lo7 = _mm512_set1_epi8(0x7f);
    const __m512i hi1 = _mm512_set1_epi8((char)0x80);
#pragma GCC unroll 8
    for (int r = 0; r < AIS__QMR; r++)
#pragma GCC unroll 8
        for (int q = 0; q < NP; q++)
            acc[r][q] = _mm512_setzero_si512();
    for (int64_t kk = 0; kk < k4; kk++) {
        __m512i b[2];
#pragma GCC unroll 8
        for (int q = 0; q < NP; q++)
            b[q] = _mm512_loadu_si512((const void *)(bp + q * bstride + kk * 64));
#pragma GCC unroll 8
        for (int r = 0; r < AIS__QMR; r++) {
            __m512i a = _mm512_set1_epi32(ais__q_ld4(ap + (kk * AIS__QMR + r) * 4));
#pragma GCC unroll 8
            for (int q = 0; q < NP; q++) {
                if (EXACT) {
                    __m512i p0 = _mm512_maddubs_epi16(_mm512_and_si512(a, lo7), b[q]);
                    __m512i p1 = _mm512_maddubs_epi16(_mm512_and_si512(a, hi1), b[q]);
                    acc[r][q] = _mm512_add_epi32(acc[r][q], _mm512_madd_epi16(p0, ones));
                    acc[r][q] = _mm512_add_epi32(acc[r][q], _mm512_madd_epi16(p1, ones));
                } else {
                    __m512i p = _mm512_maddubs_epi16(a, b[q]);
                    acc[r][q] = _mm512_add_epi32(acc[r][q], _mm512_madd_epi16(p, ones));
                }
            }
        }
    }
    AIS__Q_STORE_ACC(NP)
}

static void ais__q512_bw_ukernel(int64_t k4, const uint8_t *ap, const int8_t *bp, int64_t bstride,
                                 int np, bool exact, int32_t *c) {
    if (exact) {
        if (np == 2)
            ais__q512_bw(k4, ap, bp, bstride, c, 2, true);
        else
            ais__q512_bw(k4, ap, bp, bstride, c, 1, true);
    } else {
        if (np == 2)
            ais__q512_bw(k4, ap, bp, bstride, c, 2, false);
        else
            ais__q512_bw(k4, ap, bp, bstride, c, 1, false);
    }
}

/* ---- AVX-512 VNNI ---- */

#define AIS__VNNI __attribute__((target("avx512vnni")))

static inline __attribute__((always_inline)) AIS__VNNI void
ais__q512_vnni(int64_t k4, const uint8_t *ap, const int8_t *bp, int64_t bstride, int32_t *c,
               const int NP) {
    __m512i acc[AIS__QMR][4];
#pragma GCC unroll 8
    for (int r = 0; r < AIS__QMR; r++)
#pragma GCC unroll 8
        for (int q = 0; q < NP; q++)
            acc[r][q] = _mm512_setzero_si512();
    for (int64_t kk = 0; kk < k4; kk++) {
        __m512i b[4];
#pragma GCC unroll 8
        for (int q = 0; q < NP; q++)
            b[q] = _mm512_loadu_si512((const void *)(bp + q * bstride + kk * 64));
#pragma GCC unroll 8
        for (int r = 0; r < AIS__QMR; r++) {
            __m512i a = _mm512_set1_epi32(ais__q_ld4(ap + (kk * AIS__QMR + r) * 4));
#pragma GCC unroll 8
            for (int q = 0; q < NP; q++)
                acc[r][q] = _mm512_dpbusd_epi32(acc[r][q], a, b[q]);
        }
    }
    AIS__Q_STORE_ACC(NP)
}

static AIS__VNNI void ais__q512_vnni_ukernel(int64_t k4, const uint8_t *ap, const int8_t *bp,
                                             int64_t bstride, int np, bool exact, int32_t *c) {
    (void)exact; /* vpdpbusd adds the four products in int32: nothing saturates */
    switch (np) {
    case 4: ais__q512_vnni(k4, ap, bp, bstride, c, 4); break;
    case 3: ais__q512_vnni(k4, ap, bp, bstride, c, 3); break;
    case 2: ais__q512_vnni(k4, ap, bp, bstride, c, 2); break;
    default: ais__q512_vnni(k4, ap, bp, bstride, c, 1); break;
    }
}

/* ---- the store ---- */

static inline __m512 ais__q_fs(const ais__qgemm_ep *ep, int64_t i, int64_t j, __mmask16 m) {
    const float *s = ep->fscale + i * ep->scale_rs;
    return ep->scale_cs ? _mm512_maskz_loadu_ps(m, s + j) : _mm512_set1_ps(s[0]);
}

static inline __m512d ais__q_ds(const ais__qgemm_ep *ep, int64_t i, int64_t j, __mmask8 m) {
    const double *s = ep->dscale + i * ep->scale_rs;
    return ep->scale_cs ? _mm512_maskz_loadu_pd(m, s + j) : _mm512_set1_pd(s[0]);
}

/* a macro, not a const int: clang at -O0 wants an integer constant expression there */
#define AIS__Q_RND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* The requantizing store with float scales (ONNX Runtime's arithmetic, QLinearConv's): the
 * epilogue's fields in locals first (the byte stores may alias them, so the general store below
 * reloads each one per vector), then per 16 values: the int32 terms, float(v) * scale, min with
 * qmax - zp (before rounding: the bound is whole, so the same as after; min's second operand on
 * NaN, so a NaN goes on), the rounding conversion (out of range or NaN: INT_MIN), max with
 * qmin - zp in int32, + zp, the truncating narrow: 7 operations where the general store spends
 * 8 (float) or 14 (double). */
static void ais__q512_store_q8f(const ais__qgemm_ep *ep, const int32_t *c, int64_t i0, int64_t j0,
                                int rows, int cols) {
    const int32_t *row_add = ep->row_add, *col_add = ep->col_add, *row_mul = ep->row_mul;
    const int32_t *col_mul = ep->col_mul;
    const float *fscale = ep->fscale;
    const int64_t scale_rs = ep->scale_rs, scale_cs = ep->scale_cs, ldy = ep->ldy;
    int8_t *y = ep->y;
    const __m512 hi = _mm512_set1_ps((float)(ep->qmax - ep->zp));
    const __m512i lo = _mm512_set1_epi32(ep->qmin - ep->zp), zp = _mm512_set1_epi32(ep->zp);
    for (int r = 0; r < rows; r++) {
        int64_t i = i0 + r;
        const __m512i radd = _mm512_set1_epi32(row_add ? row_add[i] : 0);
        const __m512i rmul = _mm512_set1_epi32(row_mul ? row_mul[i] : 0);
        const float *fs = fscale + i * scale_rs;
        const __m512 srow = _mm512_set1_ps(fs[0]);
        const int32_t *cr = c + r * AIS__QGEMM_LDC;
        int8_t *yr = y + i * ldy;
        for (int jj = 0; jj < cols; jj += 16) {
            int64_t j = j0 + jj;
            __mmask16 m =
                cols - jj >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - jj)) - 1);
            __m512i v = _mm512_add_epi32(_mm512_loadu_si512((const void *)(cr + jj)), radd);
            if (col_add) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(m, col_add + j));
            if (row_mul)
                v = _mm512_add_epi32(
                    v, _mm512_mullo_epi32(rmul, _mm512_maskz_loadu_epi32(m, col_mul + j)));
            __m512 s = scale_cs ? _mm512_maskz_loadu_ps(m, fs + j) : srow;
            __m512 f = _mm512_min_ps(hi, _mm512_mul_ps(_mm512_cvtepi32_ps(v), s));
            __m512i q =
                _mm512_add_epi32(_mm512_max_epi32(_mm512_cvt_roundps_epi32(f, AIS__Q_RND), lo), zp);
            __m128i q8 = _mm512_cvtepi32_epi8(q);
            if (m == 0xffff)
                _mm_storeu_si128((__m128i *)(yr + j), q8);
            else
                _mm_mask_storeu_epi8(yr + j, m, q8);
        }
    }
}

static void ais__q512_store(const ais__qgemm_ep *ep, const int32_t *c, int64_t i0, int64_t j0,
                            int rows, int cols) {
    if ((ep->out == AIS__QGEMM_OUT_U8 || ep->out == AIS__QGEMM_OUT_S8) && !ep->dscale) {
        ais__q512_store_q8f(ep, c, i0, j0, rows, cols);
        return;
    }
    for (int r = 0; r < rows; r++) {
        int64_t i = i0 + r;
        __m512i radd = _mm512_set1_epi32(ep->row_add ? ep->row_add[i] : 0);
        __m512i rmul = _mm512_set1_epi32(ep->row_mul ? ep->row_mul[i] : 0);
        for (int jj = 0; jj < cols; jj += 16) {
            int64_t j = j0 + jj, o = i * ep->ldy + j;
            __mmask16 m =
                cols - jj >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - jj)) - 1);
            __m512i v = _mm512_add_epi32(
                _mm512_loadu_si512((const void *)(c + r * AIS__QGEMM_LDC + jj)), radd);
            if (ep->col_add) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(m, ep->col_add + j));
            if (ep->row_mul)
                v = _mm512_add_epi32(
                    v, _mm512_mullo_epi32(rmul, _mm512_maskz_loadu_epi32(m, ep->col_mul + j)));
            if (ep->out == AIS__QGEMM_OUT_I32) {
                _mm512_mask_storeu_epi32((int32_t *)ep->y + o, m, v);
                continue;
            }
            if (ep->out == AIS__QGEMM_OUT_F32) {
                __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), ais__q_fs(ep, i, j, m));
                if (ep->fbias) f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(m, ep->fbias + j));
                _mm512_mask_storeu_ps((float *)ep->y + o, m, f);
                continue;
            }
            __m512i q;
            if (ep->dscale) {
                /* clamped to [qmin - zp, qmax - zp] before rounding (whole-number bounds: the
                 * same as after), rounded half to even by the conversion itself, the zero
                 * point added in int32: five double operations per 8 lanes instead of seven
                 * (this store was a quarter of MobileNetV2's int8 time). max first: a NaN
                 * product takes the lower bound, as the contract says. */
                const __m512d lo = _mm512_set1_pd((double)ep->qmin - ep->zp);
                const __m512d hi = _mm512_set1_pd((double)ep->qmax - ep->zp);
                __m512d d0 = _mm512_cvtepi32_pd(_mm512_castsi512_si256(v));
                __m512d d1 = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(v, 1));
                d0 = _mm512_mul_pd(d0, ais__q_ds(ep, i, j, (__mmask8)m));
                d1 = _mm512_mul_pd(d1, ais__q_ds(ep, i, j + 8, (__mmask8)(m >> 8)));
                d0 = _mm512_min_pd(_mm512_max_pd(d0, lo), hi);
                d1 = _mm512_min_pd(_mm512_max_pd(d1, lo), hi);
                q = _mm512_inserti64x4(
                    _mm512_castsi256_si512(_mm512_cvt_roundpd_epi32(d0, AIS__Q_RND)),
                    _mm512_cvt_roundpd_epi32(d1, AIS__Q_RND), 1);
                q = _mm512_add_epi32(q, _mm512_set1_epi32(ep->zp));
            } else {
                __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), ais__q_fs(ep, i, j, m));
                f = _mm512_add_ps(_mm512_roundscale_ps(f, AIS__Q_RND),
                                  _mm512_set1_ps((float)ep->zp));
                f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps((float)ep->qmin)),
                                  _mm512_set1_ps((float)ep->qmax));
                q = _mm512_cvttps_epi32(f);
            }
            /* in [qmin, qmax] already: the truncating narrow is exact for u8 and s8. Narrowed
             * in a register, then stored: the masked memory form of vpmovdb cost about a fifth
             * of an int8 depthwise layer's time (perf), the register form and a plain 16-byte
             * store next to nothing. */
            __m128i q8 = _mm512_cvtepi32_epi8(q);
            if (m == 0xffff)
                _mm_storeu_si128((__m128i *)((int8_t *)ep->y + o), q8);
            else
                _mm_mask_storeu_epi8((int8_t *)ep->y + o, m, q8);
        }
    }
}

static void ais__q512_q8_to_f32(const uint8_t *x, bool is_signed, int32_t zp, float *y, int64_t n) {
    const __m512i z = _mm512_set1_epi32(zp);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)(x + i));
        __m512i v = is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
        _mm512_storeu_ps(y + i, _mm512_cvtepi32_ps(_mm512_sub_epi32(v, z)));
    }
    ais__cpu_ref_q8_to_f32(x + i, is_signed, zp, y + i, n - i);
}

static void ais__q512_f32_to_i32(const float *y, int32_t *c, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_si512((void *)(c + i), _mm512_cvttps_epi32(_mm512_loadu_ps(y + i)));
    ais__cpu_ref_f32_to_i32(y + i, c + i, n - i);
}

/* 16 bytes at p (u8, or s8 when is_signed) widened to int32 */
static inline __m512i ais__q512_ld16(const uint8_t *p, bool is_signed) {
    __m128i b = _mm_loadu_si128((const __m128i *)p);
    return is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
}

/* The same float operations as ais__cpu_ref_qbin, in the same order (no FMA). */
static void ais__q512_qbin(const uint8_t *a, const uint8_t *b, int64_t b_step, int64_t n,
                           const ais__qbin_args *p, uint8_t *y) {
    const __m512i za = _mm512_set1_epi32(p->za), zb = _mm512_set1_epi32(p->zb);
    const __m512 ra = _mm512_set1_ps(p->ra), rb = _mm512_set1_ps(p->rb), rm = _mm512_set1_ps(p->rm);
    const __m512 zc = _mm512_set1_ps((float)p->zc);
    const __m512 lo = _mm512_set1_ps(p->is_signed ? -128.0f : 0.0f);
    const __m512 hi = _mm512_set1_ps(p->is_signed ? 127.0f : 255.0f);
    __m512 vbs = _mm512_setzero_ps();
    if (b_step == 0) {
        int32_t bi = p->is_signed ? (int32_t)(int8_t)b[0] : (int32_t)b[0];
        vbs = _mm512_set1_ps((float)(bi - p->zb));
    }
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 va = _mm512_cvtepi32_ps(_mm512_sub_epi32(ais__q512_ld16(a + i, p->is_signed), za));
        __m512 vb =
            b_step ? _mm512_cvtepi32_ps(_mm512_sub_epi32(ais__q512_ld16(b + i, p->is_signed), zb))
                   : vbs;
        __m512 v = p->mul ? _mm512_mul_ps(_mm512_mul_ps(va, vb), rm)
                          : _mm512_add_ps(_mm512_mul_ps(va, ra), _mm512_mul_ps(vb, rb));
        v = _mm512_add_ps(_mm512_roundscale_ps(v, AIS__Q_RND), zc);
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        _mm_storeu_si128((__m128i *)(y + i), _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(v)));
    }
    ais__cpu_ref_qbin(a + i, b + i * b_step, b_step, n - i, p, y + i);
}

/* ---- the int8 depthwise plane ----
 * Sixteen outputs of a row at a time, one tap after another: the sixteen input bytes the tap
 * reads come in one masked load (stride 1: 16 bytes; stride 2: 32 bytes narrowed to their
 * even ones by vpmovwb) whose lanes in the padding read xz instead, so that x - xz is 0 there
 * and the same loop serves the edges. The product: x - xz sign-extended to 32 bits, times the
 * tap's weight in the low half of each 32-bit lane by vpmaddwd (the high half of the weight is
 * 0), so one 1-uop multiply-add per tap instead of vpmulld's two; exact (|x - xz| <= 255, |w| <=
 * 255). Rows whose input row is in the padding are skipped. Other strides: the portable plane. */
static inline __mmask32 ais__qdw_range(int64_t lo, int64_t hi) {
    /* bits [lo, hi) of 32, lo <= hi <= 32 */
    uint64_t m = ((uint64_t)1 << hi) - ((uint64_t)1 << lo);
    return (__mmask32)m;
}

/* Up to four chunks of 16 outputs of one row (NC of them), one accumulator each: the loads of a
 * tap for the row's chunks are independent, and the loop overhead is shared. */
static inline __attribute__((always_inline)) void
ais__q512_qdw_rows(const uint8_t *x, bool is_signed, const __m512i *wv, const ais__conv_dw_geom *g,
                   int64_t ow0, const __mmask32 *lm, const int64_t *base, int32_t *acc,
                   const int NC, const bool S2, __m256i xzb, __m512i xzd) {
    const int64_t kwn = g->kw;
    for (int64_t oh = 0; oh < g->oh; oh++) {
        __m512i a[4];
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++)
            a[c] = _mm512_setzero_si512();
        for (int64_t kh = 0; kh < g->kh; kh++) {
            int64_t ih = oh * g->sh - g->ph + kh * g->dh;
            if (ih < 0 || ih >= g->ih) continue;
            /* addresses as integers: a masked lane may sit before the row, never read */
            uintptr_t row = (uintptr_t)(x + ih * g->iw);
            const __m512i *wr = wv + kh * kwn;
            for (int64_t kw = 0; kw < kwn; kw++) {
#pragma GCC unroll 4
                for (int c = 0; c < NC; c++) {
                    const void *p = (const void *)(row + (uintptr_t)base[kw * 4 + c]);
                    __mmask32 m = lm[kw * 4 + c];
                    __m128i b =
                        S2 ? _mm256_cvtepi16_epi8(_mm256_mask_loadu_epi8(xzb, m, p))
                           : _mm_mask_loadu_epi8(_mm256_castsi256_si128(xzb), (__mmask16)m, p);
                    __m512i v = is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
                    a[c] =
                        _mm512_add_epi32(a[c], _mm512_madd_epi16(_mm512_sub_epi32(v, xzd), wr[kw]));
                }
            }
        }
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++) {
            int64_t nl = g->ow - ow0 - 16 * c < 16 ? g->ow - ow0 - 16 * c : 16;
            _mm512_mask_storeu_epi32(acc + oh * g->ow + ow0 + 16 * c, (__mmask16)((1u << nl) - 1),
                                     a[c]);
        }
    }
}

/* ---- the pair rows (strides 1 and 2, no width dilation, kernels up to 5 wide) ----
 * Each input row that a block of output rows reads is widened once, in registers, into int32
 * "pairs" P[t] = X(c) | X(c + 1) << 16 with X(c) = x[c] - xz inside the row and 0 in the
 * padding, c = cs + t (stride 1: 32 bytes widened to words, then one vpermw puts each word
 * beside its neighbour) or cs + 2t (stride 2: the widened words are the pairs already). Lane l
 * of a chunk of 16 outputs then takes taps kw and kw + 1 from P[l + kw] (stride 1) or
 * P[l + kw / 2] (stride 2), one valignd of two neighbouring pair vectors, with one vpmaddwd
 * against the weight pair (w[kw], w[kw + 1] or 0): a 3x3 kernel row is two multiply-adds per
 * 16 outputs instead of three, and each widened row serves every output row of the block that
 * reads it (AIS__QDW_R rows of up to four chunks: 16 accumulators). Nothing goes through memory
 * between the widening and the multiply-adds (a first version that stored the pairs stalled on
 * store forwarding). Exact: |X| <= 255, |w| <= 255, a pair sums to at most 130050 in int32. */
#define AIS__QDW_R 4

/* P[o + l] for l < 16 from lo = P[0, 16) and hi = P[16, 32); o a constant after inlining */
static inline __attribute__((always_inline)) __m512i ais__q512_at(__m512i lo, __m512i hi,
                                                                  const int o) {
    switch (o) {
    case 1: return _mm512_alignr_epi32(hi, lo, 1);
    case 2: return _mm512_alignr_epi32(hi, lo, 2);
    case 4: return _mm512_alignr_epi32(hi, lo, 4);
    default: return lo;
    }
}

static inline __attribute__((always_inline)) void
ais__q512_qdw_block(const uint8_t *x, bool is_signed, int32_t xz, const int32_t *wp,
                    const ais__conv_dw_geom *g, int32_t *acc, int64_t ow0, int64_t oh0,
                    const __mmask32 *lm, const int NC, const int NPK, const bool S2) {
    const int64_t cs = ow0 * (S2 ? 2 : 1) - g->pw;
    const int64_t rows = g->oh - oh0 < AIS__QDW_R ? g->oh - oh0 : AIS__QDW_R;
    const __m512i xz16 = _mm512_set1_epi16((short)xz);
    /* word l of a pair vector: word l / 2 + l % 2 of the widened row */
    const __m512i nb = _mm512_set_epi16(16, 15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8,
                                        8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0);
    __m512i a[AIS__QDW_R][4];
#pragma GCC unroll 4
    for (int r = 0; r < AIS__QDW_R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++)
            a[r][c] = _mm512_setzero_si512();
    /* the input rows the block's output rows read, each once */
    int64_t ih0 = oh0 * g->sh - g->ph, ih1 = (oh0 + rows - 1) * g->sh - g->ph + (g->kh - 1) * g->dh;
    ih0 = ih0 < 0 ? 0 : ih0;
    ih1 = ih1 >= g->ih ? g->ih - 1 : ih1;
    for (int64_t ih = ih0; ih <= ih1; ih++) {
        /* the kernel row that output row oh0 + r reads from input row ih, or -1 */
        int64_t kr[AIS__QDW_R];
        for (int r = 0; r < AIS__QDW_R; r++) {
            int64_t d = ih - ((oh0 + r) * g->sh - g->ph);
            if (g->dh != 1 && d >= 0) d = d % g->dh ? -1 : d / g->dh;
            kr[r] = r < rows && d >= 0 && d < g->kh ? d : -1;
        }
        /* an address as an integer: a masked lane may sit before the row, never read */
        uintptr_t row = (uintptr_t)(x + ih * g->iw) + (uintptr_t)cs;
        __m512i P[5];
#pragma GCC unroll 5
        for (int c = 0; c <= NC; c++) {
            __m256i b = _mm256_maskz_loadu_epi8(
                lm[c], (const void *)(row + (uintptr_t)(c * (S2 ? 32 : 16))));
            __m512i v = is_signed ? _mm512_cvtepi8_epi16(b) : _mm512_cvtepu8_epi16(b);
            v = _mm512_maskz_sub_epi16(lm[c], v, xz16);
            P[c] = S2 ? v : _mm512_permutexvar_epi16(nb, v);
        }
#pragma GCC unroll 3
        for (int pk = 0; pk < NPK; pk++)
#pragma GCC unroll 4
            for (int c = 0; c < NC; c++) {
                __m512i p = ais__q512_at(P[c], P[c + 1], pk * (S2 ? 1 : 2));
#pragma GCC unroll 4
                for (int r = 0; r < AIS__QDW_R; r++)
                    if (kr[r] >= 0)
                        a[r][c] = _mm512_add_epi32(
                            a[r][c], _mm512_madd_epi16(p, _mm512_set1_epi32(wp[kr[r] * NPK + pk])));
            }
    }
#pragma GCC unroll 4
    for (int r = 0; r < AIS__QDW_R; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++) {
            int64_t nl = g->ow - ow0 - 16 * c < 16 ? g->ow - ow0 - 16 * c : 16;
            if (r < rows)
                _mm512_mask_storeu_epi32(acc + (oh0 + r) * g->ow + ow0 + 16 * c,
                                         (__mmask16)((1u << nl) - 1), a[r][c]);
        }
}

#define AIS__QDW_NC(NPK, S2)                                                                       \
    switch (nc) {                                                                                  \
    case 1: ais__q512_qdw_block(x, is_signed, xz, wp, g, acc, ow0, oh0, lm, 1, NPK, S2); break;    \
    case 2: ais__q512_qdw_block(x, is_signed, xz, wp, g, acc, ow0, oh0, lm, 2, NPK, S2); break;    \
    case 3: ais__q512_qdw_block(x, is_signed, xz, wp, g, acc, ow0, oh0, lm, 3, NPK, S2); break;    \
    default: ais__q512_qdw_block(x, is_signed, xz, wp, g, acc, ow0, oh0, lm, 4, NPK, S2); break;   \
    }

static void ais__q512_qdw_pair_plane(const uint8_t *x, bool is_signed, int32_t xz, const int16_t *w,
                                     const ais__conv_dw_geom *g, int32_t *acc) {
    const int npk = (int)(g->kw + 1) / 2;
    const bool s2 = g->sw == 2;
    int32_t wp[256 * 3];
    ais__qdw_tap_pairs(w, g, npk, wp);
    for (int64_t ow0 = 0; ow0 < g->ow; ow0 += 64) {
        int nc = (int)((g->ow - ow0 + 15) / 16 < 4 ? (g->ow - ow0 + 15) / 16 : 4);
        /* per load c (32 bytes from cs + c 16 or c 32): the bytes inside the row */
        __mmask32 lm[5];
        int64_t cs = ow0 * g->sw - g->pw;
        for (int c = 0; c <= 4; c++) {
            int64_t at = cs + c * (s2 ? 32 : 16), lo = -at, hi = g->iw - at;
            lo = lo < 0 ? 0 : lo > 32 ? 32 : lo;
            hi = hi < lo ? lo : hi > 32 ? 32 : hi;
            lm[c] = (__mmask32)((((uint64_t)1 << hi) - 1) & ~(((uint64_t)1 << lo) - 1));
        }
        for (int64_t oh0 = 0; oh0 < g->oh; oh0 += AIS__QDW_R) {
            if (npk == 1) {
                if (s2) {
                    AIS__QDW_NC(1, true)
                } else {
                    AIS__QDW_NC(1, false)
                }
            } else if (npk == 2) {
                if (s2) {
                    AIS__QDW_NC(2, true)
                } else {
                    AIS__QDW_NC(2, false)
                }
            } else {
                if (s2) {
                    AIS__QDW_NC(3, true)
                } else {
                    AIS__QDW_NC(3, false)
                }
            }
        }
    }
}
#undef AIS__QDW_NC

static void ais__q512_qdw_plane(const uint8_t *x, bool is_signed, int32_t xz, const int16_t *w,
                                const ais__conv_dw_geom *g, int32_t *acc) {
    /* stride 2 on rows of at most 32 outputs: the tap-by-tap loop below measured as fast or
     * faster (28x28 -> 14x14: 0.24 against 0.28 us), the pair rows' 9 widened input rows per
     * 4 output rows not paying for themselves on one or two chunks */
    if ((g->sw == 1 || (g->sw == 2 && g->ow > 32)) && g->dw == 1 && g->kw <= 5 && g->kh <= 256) {
        ais__q512_qdw_pair_plane(x, is_signed, xz, w, g, acc);
        return;
    }
    if (g->sw > 2 || g->kh * g->kw > 256 || g->kw > 64) {
        ais__cpu_ref_qdw_plane(x, is_signed, xz, w, g, acc);
        return;
    }
    const int64_t sw = g->sw;
    const __m256i xzb = _mm256_set1_epi8((char)xz);
    const __m512i xzd = _mm512_set1_epi32(xz);
    __m512i wv[256];
    for (int64_t t = 0; t < g->kh * g->kw; t++)
        wv[t] = _mm512_set1_epi32((int32_t)(uint16_t)w[t]);
    __mmask32 lm[64 * 4];
    int64_t base[64 * 4];
    for (int64_t ow0 = 0; ow0 < g->ow; ow0 += 64) {
        int nc = (int)((g->ow - ow0 + 15) / 16 < 4 ? (g->ow - ow0 + 15) / 16 : 4);
        /* per kw and chunk: the lanes whose input column is inside the row, as a byte mask of
         * the load */
        for (int64_t kw = 0; kw < g->kw; kw++)
            for (int c = 0; c < 4; c++) {
                int64_t o0 = ow0 + 16 * c, nl = g->ow - o0 < 16 ? g->ow - o0 : 16;
                nl = nl < 0 ? 0 : nl;
                int64_t iw0 = o0 * sw - g->pw + kw * g->dw;
                /* lane l reads column iw0 + l sw: inside for l in [lo, hi) */
                int64_t lo = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw;
                int64_t hi = iw0 >= g->iw ? 0 : (g->iw - 1 - iw0) / sw + 1;
                lo = lo > nl ? nl : lo;
                hi = hi > nl ? nl : hi < lo ? lo : hi;
                lm[kw * 4 + c] = sw == 1 ? ais__qdw_range(lo, hi)
                                         : ais__qdw_range(2 * lo, 2 * hi) & (__mmask32)0x55555555u;
                base[kw * 4 + c] = iw0;
            }
#define AIS__QDW_CASE(NC)                                                                          \
    case NC:                                                                                       \
        if (sw == 2)                                                                               \
            ais__q512_qdw_rows(x, is_signed, wv, g, ow0, lm, base, acc, NC, true, xzb, xzd);       \
        else                                                                                       \
            ais__q512_qdw_rows(x, is_signed, wv, g, ow0, lm, base, acc, NC, false, xzb, xzd);      \
        break;
        switch (nc) {
            AIS__QDW_CASE(1)
            AIS__QDW_CASE(2)
            AIS__QDW_CASE(3)
            AIS__QDW_CASE(4)
        default: break;
        }
#undef AIS__QDW_CASE
    }
}

void ais__avx512_fill_qgemm(ais__cpu_kernels *k) {
    k->qgemm_mr = AIS__QMR;
    k->qgemm_np = 2;
    k->qgemm_ukernel = ais__q512_bw_ukernel;
    k->qgemm_store = ais__q512_store;
    k->q8_to_f32 = ais__q512_q8_to_f32;
    k->f32_to_i32 = ais__q512_f32_to_i32;
    k->qbin = ais__q512_qbin;
    k->qdw_plane = ais__q512_qdw_plane;
}

void ais__avx512_vnni_fill_qgemm(ais__cpu_kernels *k) {
    k->qgemm_mr = AIS__QMR;
    k->qgemm_np = 4;
    k->qgemm_ukernel = ais__q512_vnni_ukernel;
}
