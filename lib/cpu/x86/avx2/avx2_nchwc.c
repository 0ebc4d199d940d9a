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

#include "../nchwc_kernel.h"

void ais__avx2_fill_nchwc(ais__cpu_kernels *k) {
    k->conv_nchwc_row = ais__avx2n_row;
    k->conv_nchwc_block = AIS__B;
    k->conv_nchwc_nblk = AIS__NBMAX;
}
