/* avx2_nchwc.c - the AVX2 row of the blocked direct convolution (channel block 8); the code is
 * ../nchwc_kernel.h. */
#include <immintrin.h>

#include "../../cpu.h"

typedef __m256 V;
#define AIS__B 8
#define AIS__PMAX 6
#define AIS__NBMAX 2
#define AIS__PMAX_1 6
#define AIS__PMAX_2 6
#define AIS__NX(name) ais__avx2n_##name

static inline V vzero(void) { return _mm256_setzero_ps(); }
static inline V vset(float a) { return _mm256_set1_ps(a); }
static inline V vload(const float *p) { return _mm256_loadu_ps(p); }
static inline void vstore(float *p, V a) { _mm256_storeu_ps(p, a); }
static inline V vadd(V a, V b) { return _mm256_add_ps(a, b); }
static inline V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
static inline V vmax(V a, V b) { return _mm256_max_ps(a, b); }
static inline V vmin(V a, V b) { return _mm256_min_ps(a, b); }
static inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }

#include "../nchwc_kernel.h"

void ais__avx2_fill_nchwc(ais__cpu_kernels *k) {
    k->conv_nchwc_row = ais__avx2n_row;
    k->conv_nchwc_block = AIS__B;
    k->conv_nchwc_nblk = AIS__NBMAX;
}
