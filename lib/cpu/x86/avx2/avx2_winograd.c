/* avx2_winograd.c - the AVX2 (+ FMA) Winograd F(4x4, 3x3) tile transforms (8 channels a vector);
 * the code is ../winograd_kernel.h. */
#include <immintrin.h>

#include "../../cpu.h"
#include "avx2_vec.h"
#include "../simd_transpose.h"

#define AIS__W 8
#define AIS__WX(name) ais__avx2w_##name

/* 8 x 8 in place: r[k] lane c becomes r[c] lane k. */
static inline void vtranspose(V *r) { ais__x86_tr8(r); }

#include "../winograd_kernel.h"

void ais__avx2_fill_winograd(ais__cpu_kernels *k) {
    k->wino_in = ais__avx2w_in;
    k->wino_out = ais__avx2w_out;
    k->wino_chlast = ais__avx2w_chlast;
}
