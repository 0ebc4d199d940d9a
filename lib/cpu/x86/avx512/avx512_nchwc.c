/* avx512_nchwc.c - the AVX-512 row of the blocked direct convolution (channel block 16); the
 * code is ../nchwc_kernel.h. */
#include <immintrin.h>

#include "../../cpu.h"

typedef __m512 V;
#define AIS__B 16
#define AIS__PMAX 12
#define AIS__NBMAX 3
#define AIS__PMAX_1 12
#define AIS__PMAX_2 12
#define AIS__PMAX_3 8
#define AIS__NX(name) ais__avx512n_##name

static inline V vzero(void) { return _mm512_setzero_ps(); }
static inline V vset(float a) { return _mm512_set1_ps(a); }
static inline V vload(const float *p) { return _mm512_loadu_ps(p); }
static inline void vstore(float *p, V a) { _mm512_storeu_ps(p, a); }
static inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
static inline V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
static inline V vmax(V a, V b) { return _mm512_max_ps(a, b); }
static inline V vmin(V a, V b) { return _mm512_min_ps(a, b); }
static inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }

#include "../nchwc_kernel.h"

void ais__avx512_fill_nchwc(ais__cpu_kernels *k) {
    k->conv_nchwc_row = ais__avx512n_row;
    k->conv_nchwc_block = AIS__B;
    k->conv_nchwc_nblk = AIS__NBMAX;
}
