/* avx2_nchwc.c - the AVX2 row of the blocked direct convolution (channel block 8); the code is
 * ../nchwc_kernel.h. */
#include <immintrin.h>

#include "../../cpu.h"
#include "avx2_vec.h"

#define AIS__B 8
#define AIS__PMAX 6
#define AIS__NBMAX 2
#define AIS__PMAX_1 6
#define AIS__PMAX_2 6
#define AIS__NX(name) ais__avx2n_##name
/* kw x cb taps as one loop where undilated (measured on AVX2 only so far) */
#define AIS__NX_FLAT_TAPS 1

#include "../nchwc_kernel.h"
#include "../simd_transpose.h"

/* 8 pixels x 8 channels at a time through one 8 x 8 transpose, so each channel's row gets whole
 * vectors: the scalar copy (one 4-byte store a float into rows that miss the cache) took a fifth
 * of a 3-channel 7x7 stem's time. Any block that is a multiple of 8 (AVX-512's 16 as well). */
static void ais__avx2n_unblock(const float *src, int64_t n, int64_t block, int64_t ch, float *dst,
                               int64_t ld_dst) {
    int64_t c0 = 0;
    if (block % 8 == 0)
        for (; c0 + 8 <= ch; c0 += 8) {
            int64_t i = 0;
            for (; i + 8 <= n; i += 8) {
                __m256 r[8];
                for (int k = 0; k < 8; k++)
                    r[k] = _mm256_loadu_ps(src + (i + k) * block + c0);
                ais__x86_tr8(r); /* r[c]: channel c0 + c of pixels i .. i + 7 */
                for (int c = 0; c < 8; c++)
                    _mm256_storeu_ps(dst + (c0 + c) * ld_dst + i, r[c]);
            }
            if (i < n)
                ais__cpu_ref_conv_nchwc_unblock(src + i * block + c0, n - i, block, 8,
                                                dst + c0 * ld_dst + i, ld_dst);
        }
    if (c0 < ch)
        ais__cpu_ref_conv_nchwc_unblock(src + c0, n, block, ch - c0, dst + c0 * ld_dst, ld_dst);
}

void ais__avx2_fill_nchwc(ais__cpu_kernels *k) {
    k->conv_nchwc_row = ais__avx2n_row;
    k->conv_nchwc_unblock = ais__avx2n_unblock;
    k->conv_nchwc_block = AIS__B;
    k->conv_nchwc_nblk = AIS__NBMAX;
}
