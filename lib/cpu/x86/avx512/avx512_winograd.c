/* avx512_winograd.c - the AVX-512 Winograd F(4x4, 3x3) tile transforms (16 channels a vector);
 * the code is ../winograd_kernel.h. */
#include <immintrin.h>

#include "../../cpu.h"
#include "../simd_transpose.h"

typedef __m512 V;
#define AIS__W 16
#define AIS__WX(name) ais__avx512w_##name

static inline V vzero(void) { return _mm512_setzero_ps(); }
static inline V vset(float a) { return _mm512_set1_ps(a); }
static inline V vload(const float *p) { return _mm512_loadu_ps(p); }
static inline void vstore(float *p, V a) { _mm512_storeu_ps(p, a); }
static inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
static inline V vsub(V a, V b) { return _mm512_sub_ps(a, b); }
static inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }

/* 16 x 16 in place: r[k] lane c becomes r[c] lane k. */
static inline void vtranspose(V *r) { ais__x86_tr16(r); }

#include "../winograd_kernel.h"

void ais__avx512_fill_winograd(ais__cpu_kernels *k) {
    k->wino_in = ais__avx512w_in;
    k->wino_out = ais__avx512w_out;
    k->wino_chlast = ais__avx512w_chlast;
}
