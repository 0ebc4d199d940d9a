/* avx512_winograd.c - the AVX-512 Winograd F(4x4, 3x3) tile transforms (16 channels a vector);
 * the code is ../winograd_kernel.h. */
#include <immintrin.h>

#include "../../cpu.h"
#include "avx512_vec.h"
#include "../simd_transpose.h"

#define AIS__W 16
#define AIS__WX(name) ais__avx512w_##name

/* 16 x 16 in place: r[k] lane c becomes r[c] lane k. */
static inline void vtranspose(V *r) { ais__x86_tr16(r); }

#include "../winograd_kernel.h"

void ais__avx512_fill_winograd(ais__cpu_kernels *k) {
    k->wino_in = ais__avx512w_in;
    k->wino_out = ais__avx512w_out;
    k->wino_chlast = ais__avx512w_chlast;
}
