/* avx2_conv.c - the AVX2 + FMA convolution kernels (8 floats a vector); the code is
 * ../conv_kernel.h. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "../../cpu.h"
#include "avx2_vec.h"

#define AIS__W 8
#define AIS__CX(name) ais__avx2c_##name

/* [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit lanes reordered 0 2 1 3 */
static inline V vload_s2(const float *p) {
    V s = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), 0x88);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8));
}

#include "../conv_kernel.h"

void ais__avx2_fill_conv(ais__cpu_kernels *k) {
    ais__avx2c_fill_conv_slots(k);
    ais__avx2_fill_dwconv(k);
}
