/*
 * avx2_math.c - the AVX2 + FMA vector math, softmax rows and row reductions (the algorithms are
 * in ../simd_math.h, shared with AVX-512). Compiled with -mavx2 -mfma (CMake sets them for this
 * file only); called only when cpu_features.c found AVX2 and FMA.
 */
#include <immintrin.h>
#include <math.h>

#include "cpu/cpu.h"

typedef __m256 V;
typedef __m256 M;
#define AIS__W 8
#define AIS__SX(name) ais__avx2_##name

static inline V vset(float a) { return _mm256_set1_ps(a); }
static inline V vload(const float *p) { return _mm256_loadu_ps(p); }
static inline void vstore(float *p, V a) { _mm256_storeu_ps(p, a); }
static inline V vadd(V a, V b) { return _mm256_add_ps(a, b); }
static inline V vsub(V a, V b) { return _mm256_sub_ps(a, b); }
static inline V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
static inline V vdiv(V a, V b) { return _mm256_div_ps(a, b); }
static inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
static inline V vmin(V a, V b) { return _mm256_min_ps(a, b); }
static inline V vmax(V a, V b) { return _mm256_max_ps(a, b); }
static inline V vabs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
static inline V vround(V a) {
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline M vlt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
static inline M vge(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
static inline M visnan(V a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
static inline V vsel(M m, V t, V f) { return _mm256_blendv_ps(f, t, m); }
static inline void vpow2_split(V n, V *s1, V *s2) {
    __m256i ni = _mm256_cvtps_epi32(n), n1 = _mm256_srai_epi32(ni, 1);
    __m256i n2 = _mm256_sub_epi32(ni, n1), bias = _mm256_set1_epi32(127);
    *s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    *s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
}
static inline float vhsum(V a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float vhmax(V a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#include "cpu/x86/simd_math.h"

/* ---- LRN ---- */

/* ln x for positive normal x (the caller checks): x = m 2^e with m in [sqrt(1/2), sqrt(2)),
 * ln x = ln m + e ln 2, ln m from Cephes' degree-9 polynomial in f = m - 1 and ln 2 in two parts
 * (the same reduction as exp_v's) so that e ln 2 adds no rounding of its own; within 1 ulp. */
static inline __m256 ais__avx2_log_pos(__m256 x) {
    __m256i xi = _mm256_castps_si256(x);
    __m256 e =
        _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(xi, 23), _mm256_set1_epi32(127)));
    __m256 m = _mm256_castsi256_ps(_mm256_or_si256(
        _mm256_and_si256(xi, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f800000)));
    __m256 big = _mm256_cmp_ps(m, vset(1.41421356f), _CMP_GT_OQ); /* m in [1, 2) so far */
    m = vsel(big, vmul(m, vset(0.5f)), m);
    e = vadd(e, _mm256_and_ps(big, vset(1.0f)));
    __m256 f = vsub(m, vset(1.0f));
    __m256 z = vmul(f, f);
    __m256 p = vset(7.0376836292e-2f);
    p = vfma(p, f, vset(-1.1514610310e-1f));
    p = vfma(p, f, vset(1.1676998740e-1f));
    p = vfma(p, f, vset(-1.2420140846e-1f));
    p = vfma(p, f, vset(1.4249322787e-1f));
    p = vfma(p, f, vset(-1.6668057665e-1f));
    p = vfma(p, f, vset(2.0000714765e-1f));
    p = vfma(p, f, vset(-2.4999993993e-1f));
    p = vfma(p, f, vset(3.3333331174e-1f));
    __m256 y = vmul(vmul(p, f), z);
    y = vfma(e, vset(-2.12194440e-4f), y);
    y = vfma(z, vset(-0.5f), y);
    return vfma(e, vset(0.693359375f), vadd(f, y));
}

/* Eight positions at a time: the window's squares summed with FMA, then the base t and
 * xc * t^-beta. A block with a base that is not a positive normal float goes to the reference
 * (which gives what powf gives for zero, NaN and infinities), and so does the tail. */
static void ais__avx2_lrn_row(const float *xw, int64_t plane, int64_t nk, const float *xc, float *y,
                              size_t n, float alpha_n, float beta, float bias) {
    const bool three_quarters = beta == 0.75f;
    const __m256 va = vset(alpha_n), vb = vset(bias), vnb = vset(-beta);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 s = _mm256_setzero_ps();
        for (int64_t k = 0; k < nk; k++) {
            __m256 v = vload(xw + k * plane + (int64_t)i);
            s = vfma(v, v, s);
        }
        __m256 t = vfma(va, s, vb);
        __m256 ok = _mm256_and_ps(_mm256_cmp_ps(t, vset(1.17549435e-38f), _CMP_GE_OQ),
                                  _mm256_cmp_ps(t, vset(3.40282347e+38f), _CMP_LE_OQ));
        if (_mm256_movemask_ps(ok) != 0xff) {
            ais__cpu_ref_lrn_row(xw + i, plane, nk, xc + i, y + i, 8, alpha_n, beta, bias);
            continue;
        }
        __m256 r;
        if (three_quarters) { /* t^(3/4) = sqrt(t) sqrt(sqrt(t)): each step correctly rounded */
            __m256 h = _mm256_sqrt_ps(t);
            r = vdiv(vload(xc + i), vmul(h, _mm256_sqrt_ps(h)));
        } else {
            r = vmul(vload(xc + i), ais__avx2_exp_v(vmul(vnb, ais__avx2_log_pos(t))));
        }
        vstore(y + i, r);
    }
    if (i < n) ais__cpu_ref_lrn_row(xw + i, plane, nk, xc + i, y + i, n - i, alpha_n, beta, bias);
}

void ais__cpu_fill_avx2(ais__cpu_kernels *k) {
    ais__avx2_fill_math(k);
    k->lrn_row = ais__avx2_lrn_row;
    ais__avx2_fill_tree(k);
    ais__avx2_fill_gemm(k);
    ais__avx2_fill_image(k);
    ais__avx2_fill_conv(k);
    ais__avx2_fill_nchwc(k);
    ais__avx2_fill_winograd(k);
    ais__avx2_fill_qdq(k);
    ais__avx2_fill_pool(k); /* after fill_conv: replaces one shape of its pool_max2d */
}
