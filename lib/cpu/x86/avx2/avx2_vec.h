/*
 * avx2_vec.h - the vector type V (__m256, 8 floats) and the element-wise helpers over which the
 * AVX2 kernel files instantiate the shared templates conv_kernel.h, dwconv_kernel.h,
 * nchwc_kernel.h, winograd_kernel.h and gemm_kernel.h. Each file adds what only it needs
 * (masks, strided loads, transposes).
 */
#ifndef AIS_CPU_X86_AVX2_VEC_H
#define AIS_CPU_X86_AVX2_VEC_H

#include <immintrin.h>

typedef __m256 V;
static inline V vzero(void) { return _mm256_setzero_ps(); }
static inline V vset(float a) { return _mm256_set1_ps(a); }
static inline V vload(const float *p) { return _mm256_loadu_ps(p); }
static inline void vstore(float *p, V a) { _mm256_storeu_ps(p, a); }
static inline V vadd(V a, V b) { return _mm256_add_ps(a, b); }
static inline V vsub(V a, V b) { return _mm256_sub_ps(a, b); }
static inline V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
static inline V vmax(V a, V b) { return _mm256_max_ps(a, b); }
static inline V vmin(V a, V b) { return _mm256_min_ps(a, b); }
static inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }

#endif /* AIS_CPU_X86_AVX2_VEC_H */
