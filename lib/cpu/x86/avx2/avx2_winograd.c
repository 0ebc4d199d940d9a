/* avx2_winograd.c - the AVX2 (+ FMA) Winograd F(4x4, 3x3) tile transforms (8 channels a vector);
 * the code is ../winograd_kernel.h. */
#include <immintrin.h>

#include "../../cpu.h"
#include "../simd_transpose.h"

typedef __m256 V;
#define AIS__W 8
#define AIS__WX(name) ais__avx2w_##name

static inline V vzero(void) { return _mm256_setzero_ps(); }
static inline V vset(float a) { return _mm256_set1_ps(a); }
static inline V vload(const float *p) { return _mm256_loadu_ps(p); }
static inline void vstore(float *p, V a) { _mm256_storeu_ps(p, a); }
static inline V vadd(V a, V b) { return _mm256_add_ps(a, b); }
static inline V vsub(V a, V b) { return _mm256_sub_ps(a, b); }
static inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }

/* 8 x 8 in place: r[k] lane c becomes r[c] lane k. */
static inline void vtranspose(V *r) { ais__x86_tr8(r); }

#include "../winograd_kernel.h"

void ais__avx2_fill_winograd(ais__cpu_kernels *k) {
    k->wino_in = ais__avx2w_in;
    k->wino_out = ais__avx2w_out;
    k->wino_chlast = ais__avx2w_chlast;
}
