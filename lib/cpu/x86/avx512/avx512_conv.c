/* avx512_conv.c - the AVX-512 convolution kernels (16 floats a vector); the code is
 * ../conv_kernel.h. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "../../cpu.h"
#include "avx512_vec.h"

#define AIS__W 16
#define AIS__CX(name) ais__avx512c_##name

static inline V vload_s2(const float *p) {
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), even, _mm512_loadu_ps(p + 16));
}

#include "../conv_kernel.h"

void ais__avx512_fill_conv(ais__cpu_kernels *k) {
    ais__avx512c_fill_conv_slots(k);
    ais__avx512_fill_dwconv(k);
}
