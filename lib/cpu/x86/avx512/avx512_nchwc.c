/* avx512_nchwc.c - the AVX-512 row of the blocked direct convolution (channel block 16); the
 * code is ../nchwc_kernel.h. */
#include <immintrin.h>

#include "../../cpu.h"
#include "avx512_vec.h"

#define AIS__B 16
#define AIS__PMAX 12
#define AIS__NBMAX 3
#define AIS__PMAX_1 12
#define AIS__PMAX_2 12
#define AIS__PMAX_3 8
#define AIS__NX(name) ais__avx512n_##name

#include "../nchwc_kernel.h"

void ais__avx512_fill_nchwc(ais__cpu_kernels *k) {
    k->conv_nchwc_row = ais__avx512n_row;
    k->conv_nchwc_block = AIS__B;
    k->conv_nchwc_nblk = AIS__NBMAX;
}
