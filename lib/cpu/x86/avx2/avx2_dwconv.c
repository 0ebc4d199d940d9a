/* avx2_dwconv.c - the AVX2 depthwise 3x3 / 5x5 plane from NCHW (8 floats a vector; the code is
 * ../dwconv_kernel.h) and the pointwise convolution of few input channels (conv_pw_small). */
#include <immintrin.h>
#include <stdint.h>

#include "../../cpu.h"
#include "avx2_vec.h"

typedef __m256i M; /* a lane is loaded / stored when its sign bit is set */
#define AIS__W 8
#define AIS__DX(name) ais__avx2dw_##name

static inline M vmask(int lo, int hi) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    /* lo <= l < hi: (l - lo) >= 0 and (l - hi) < 0, the sign of (lo - 1 - l) & (l - hi) */
    return _mm256_and_si256(_mm256_sub_epi32(_mm256_set1_epi32(lo - 1), lane),
                            _mm256_sub_epi32(lane, _mm256_set1_epi32(hi)));
}
/* lane l set when bit l of b is */
static inline M vmask_bits(uint32_t b) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    __m256i v = _mm256_and_si256(_mm256_set1_epi32((int)b), bit);
    return _mm256_cmpeq_epi32(v, bit);
}
static inline V vload_m(const float *p, M m) { return _mm256_maskload_ps(p, m); }
static inline void vstore_m(float *p, M m, V a) { _mm256_maskstore_ps(p, m, a); }
/* Stride 2's even / odd elements of a and b in the lane order a0 a2 b0 b2 | a4 a6 b4 b6 (one
 * shuffle within the 128-bit halves, no lane-crossing permute: AIS__DW_S2_PERMUTED); vunperm
 * swaps the middle 64-bit pairs of an accumulator back into column order. */
static inline V veven_p(V a, V b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); }
static inline V vodd_p(V a, V b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)); }
static inline V vunperm(V a) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(a), _MM_SHUFFLE(3, 1, 2, 0)));
}
#define AIS__DW_S2_PERMUTED 1
#define AIS__DW_ROW_OVERRUN 1
#define AIS__DW_S2_ROWS4 1

#include "../dwconv_kernel.h"

/* ---- conv_pw_small: a pointwise convolution of few input channels (cpu.h) ----
 * A block of R <= 4 output channels by 3 vectors (24 positions) in 12 accumulators; per input
 * channel 3 loads of its plane and R broadcast weights. The positions go in chunks whose input
 * (k planes' worth) stays in L2 while every block of output channels passes over it. */
static inline __attribute__((always_inline)) void
ais__avx2pw_rows(const float *x, const float *w, const float *bias, float *y, int64_t k, int64_t ld,
                 int64_t q0, int64_t q1, const ais__conv_act *act, const int R) {
    int64_t q = q0;
    for (; q + 24 <= q1; q += 24) {
        V acc[4][3];
        AIS__DW_UNROLL
        for (int r = 0; r < R; r++)
            acc[r][0] = acc[r][1] = acc[r][2] = vset(bias ? bias[r] : 0.0f);
        const float *xp = x + q;
        for (int64_t c = 0; c < k; c++, xp += ld) {
            V x0 = vload(xp), x1 = vload(xp + 8), x2 = vload(xp + 16);
            AIS__DW_UNROLL
            for (int r = 0; r < R; r++) {
                V wv = vset(w[r * k + c]);
                acc[r][0] = vfma(wv, x0, acc[r][0]);
                acc[r][1] = vfma(wv, x1, acc[r][1]);
                acc[r][2] = vfma(wv, x2, acc[r][2]);
            }
        }
        AIS__DW_UNROLL
        for (int r = 0; r < R; r++)
            AIS__DW_UNROLL
        for (int v = 0; v < 3; v++)
            vstore(y + r * ld + q + 8 * v, ais__avx2dw_act_v(acc[r][v], act));
    }
    for (; q + 8 <= q1; q += 8) {
        V acc[4];
        AIS__DW_UNROLL
        for (int r = 0; r < R; r++)
            acc[r] = vset(bias ? bias[r] : 0.0f);
        const float *xp = x + q;
        for (int64_t c = 0; c < k; c++, xp += ld) {
            V x0 = vload(xp);
            AIS__DW_UNROLL
            for (int r = 0; r < R; r++)
                acc[r] = vfma(vset(w[r * k + c]), x0, acc[r]);
        }
        AIS__DW_UNROLL
        for (int r = 0; r < R; r++)
            vstore(y + r * ld + q, ais__avx2dw_act_v(acc[r], act));
    }
    if (q < q1) ais__cpu_ref_conv_pw(x, w, bias, y, k, R, ld, q, q1, act);
}

static void ais__avx2pw_conv_pw_small(const float *x, const float *w, const float *bias, float *y,
                                      int64_t k, int64_t m, int64_t ld, int64_t q0, int64_t q1,
                                      const ais__conv_act *actp) {
    const ais__conv_act al = *actp, *act = &al; /* y's stores could alias *actp */
    /* chunks of 24-position blocks, k planes of one about 64 KiB */
    int64_t chunk = 16384 / (k > 0 ? k : 1) / 24 * 24;
    if (chunk < 24) chunk = 24;
    for (int64_t c0 = q0; c0 < q1; c0 += chunk) {
        int64_t c1 = q1 - c0 < chunk ? q1 : c0 + chunk, co = 0;
        for (; co + 4 <= m; co += 4)
            ais__avx2pw_rows(x, w + co * k, bias ? bias + co : NULL, y + co * ld, k, ld, c0, c1,
                             act, 4);
        const float *wc = w + co * k, *bc = bias ? bias + co : NULL;
        float *yc = y + co * ld;
        switch (m - co) {
        case 3: ais__avx2pw_rows(x, wc, bc, yc, k, ld, c0, c1, act, 3); break;
        case 2: ais__avx2pw_rows(x, wc, bc, yc, k, ld, c0, c1, act, 2); break;
        case 1: ais__avx2pw_rows(x, wc, bc, yc, k, ld, c0, c1, act, 1); break;
        default: break;
        }
    }
}

void ais__avx2_fill_dwconv(ais__cpu_kernels *k) {
    k->dwconv_planes = ais__avx2dw_dwconv_planes;
    k->conv_pw_small = ais__avx2pw_conv_pw_small;
}
