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

void ais__cpu_fill_avx2(ais__cpu_kernels *k) {
    ais__avx2_fill_math(k);
    ais__avx2_fill_tree(k);
    ais__avx2_fill_gemm(k);
    ais__avx2_fill_image(k);
    ais__avx2_fill_conv(k);
    ais__avx2_fill_nchwc(k);
    ais__avx2_fill_winograd(k);
    ais__avx2_fill_qdq(k);
}
