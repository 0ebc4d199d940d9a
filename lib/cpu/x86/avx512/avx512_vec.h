/*
 * avx512_vec.h - the vector type V (__m512, 16 floats) and the element-wise helpers over which the
 * AVX-512 kernel files instantiate the shared templates conv_kernel.h, dwconv_kernel.h,
 * nchwc_kernel.h, winograd_kernel.h and gemm_kernel.h. Each file adds what only it needs
 * (masks, strided loads, transposes).
 */
#ifndef AIS_CPU_X86_AVX512_VEC_H
#define AIS_CPU_X86_AVX512_VEC_H

#include <immintrin.h>

typedef __m512 V;
static inline V vzero(void) { return _mm512_setzero_ps(); }
static inline V vset(float a) { return _mm512_set1_ps(a); }
static inline V vload(const float *p) { return _mm512_loadu_ps(p); }
static inline void vstore(float *p, V a) { _mm512_storeu_ps(p, a); }
static inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
static inline V vsub(V a, V b) { return _mm512_sub_ps(a, b); }
static inline V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
static inline V vmax(V a, V b) { return _mm512_max_ps(a, b); }
static inline V vmin(V a, V b) { return _mm512_min_ps(a, b); }
static inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }

#endif /* AIS_CPU_X86_AVX512_VEC_H */
