/* avx512_dwconv.c - the AVX-512 depthwise 3x3 / 5x5 plane from NCHW (16 floats a vector); the
 * code is ../dwconv_kernel.h. */
#include <immintrin.h>
#include <stdint.h>

#include "../../cpu.h"
#include "avx512_vec.h"

typedef __mmask16 M;
#define AIS__W 16
#define AIS__DX(name) ais__avx512dw_##name

static inline M vmask(int lo, int hi) {
    return (M)((((uint32_t)1 << hi) - 1) & ~(((uint32_t)1 << lo) - 1));
}
static inline M vmask_bits(uint32_t b) { return (M)b; }
static inline V vload_m(const float *p, M m) { return _mm512_maskz_loadu_ps(m, p); }
static inline void vstore_m(float *p, M m, V a) { _mm512_mask_storeu_ps(p, m, a); }
static inline V veven(V a, V b) {
    const __m512i i = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(a, i, b);
}
static inline V vodd(V a, V b) {
    const __m512i i = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return _mm512_permutex2var_ps(a, i, b);
}

#include "../dwconv_kernel.h"

void ais__avx512_fill_dwconv(ais__cpu_kernels *k) {
    k->dwconv_planes = ais__avx512dw_dwconv_planes;
    /* AVX2's conv_pw_small was measured against the AVX2 GEMM only: here the AVX-512 GEMM */
    k->conv_pw_small = NULL;
}
