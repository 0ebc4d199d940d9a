/*
 * avx512_math.c - the AVX-512 vector math, softmax rows and row reductions (the algorithms are
 * in ../simd_math.h, shared with AVX2). Compiled with the AVX-512 F/BW/VL/DQ flags (CMake sets
 * them for this file only); called only when cpu_features.c found them and the OS saves the ZMM
 * state.
 */
#include <immintrin.h>
#include <math.h>

#include "cpu/cpu.h"

typedef __m512 V;
typedef __mmask16 M;
#define AIS__W 16
#define AIS__SX(name) ais__avx512_##name

static inline V vset(float a) { return _mm512_set1_ps(a); }
static inline V vload(const float *p) { return _mm512_loadu_ps(p); }
static inline void vstore(float *p, V a) { _mm512_storeu_ps(p, a); }
static inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
static inline V vsub(V a, V b) { return _mm512_sub_ps(a, b); }
static inline V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
static inline V vdiv(V a, V b) { return _mm512_div_ps(a, b); }
static inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
static inline V vmin(V a, V b) { return _mm512_min_ps(a, b); }
static inline V vmax(V a, V b) { return _mm512_max_ps(a, b); }
static inline V vabs(V a) { return _mm512_abs_ps(a); }
static inline V vround(V a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline M vlt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
static inline M vge(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
static inline M visnan(V a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
static inline V vsel(M m, V t, V f) { return _mm512_mask_blend_ps(m, f, t); }
static inline void vpow2_split(V n, V *s1, V *s2) {
    __m512i ni = _mm512_cvtps_epi32(n), n1 = _mm512_srai_epi32(ni, 1);
    __m512i n2 = _mm512_sub_epi32(ni, n1), bias = _mm512_set1_epi32(127);
    *s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
    *s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
}
static inline float vhsum(V a) { return _mm512_reduce_add_ps(a); }
static inline float vhmax(V a) { return _mm512_reduce_max_ps(a); }

#include "cpu/x86/simd_math.h"

void ais__cpu_fill_avx512(ais__cpu_kernels *k) {
    ais__avx512_fill_math(k);
    ais__avx512_fill_tree(k);
    ais__avx512_fill_gemm(k);
    ais__avx512_fill_conv(k);
    ais__avx512_fill_nchwc(k);
    ais__avx512_fill_winograd(k);
    ais__avx512_fill_qdq(k);
}
