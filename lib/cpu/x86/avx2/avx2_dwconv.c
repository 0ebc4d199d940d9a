/* avx2_dwconv.c - the AVX2 depthwise 3x3 / 5x5 plane from NCHW (8 floats a vector); the code is
 * ../dwconv_kernel.h. */
#include <immintrin.h>
#include <stdint.h>

#include "../../cpu.h"
#include "avx2_vec.h"

typedef __m256i M; /* a lane is loaded / stored when its sign bit is set */
#define AIS__W 8
#define AIS__DX(name) ais__avx2dw_##name

static inline M vmask(int lo, int hi) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    /* lo <= l < hi: (l - lo) >= 0 and (l - hi) < 0, the sign of (lo - 1 - l) & (l - hi) */
    return _mm256_and_si256(_mm256_sub_epi32(_mm256_set1_epi32(lo - 1), lane),
                            _mm256_sub_epi32(lane, _mm256_set1_epi32(hi)));
}
/* lane l set when bit l of b is */
static inline M vmask_bits(uint32_t b) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    __m256i v = _mm256_and_si256(_mm256_set1_epi32((int)b), bit);
    return _mm256_cmpeq_epi32(v, bit);
}
static inline V vload_m(const float *p, M m) { return _mm256_maskload_ps(p, m); }
static inline void vstore_m(float *p, M m, V a) { _mm256_maskstore_ps(p, m, a); }
/* Stride 2's even / odd elements of a and b in the lane order a0 a2 b0 b2 | a4 a6 b4 b6 (one
 * shuffle within the 128-bit halves, no lane-crossing permute: AIS__DW_S2_PERMUTED); vunperm
 * swaps the middle 64-bit pairs of an accumulator back into column order. */
static inline V veven_p(V a, V b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); }
static inline V vodd_p(V a, V b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)); }
static inline V vunperm(V a) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(a), _MM_SHUFFLE(3, 1, 2, 0)));
}
#define AIS__DW_S2_PERMUTED 1
#define AIS__DW_ROW_OVERRUN 1
#define AIS__DW_S2_ROWS4 1

#include "../dwconv_kernel.h"

void ais__avx2_fill_dwconv(ais__cpu_kernels *k) { k->dwconv_planes = ais__avx2dw_dwconv_planes; }
