/*
 * avx512_gemm.c - the AVX-512 GEMM micro-kernel: a 14 x 32 tile of C (28 zmm accumulators, two
 * B vectors and a broadcast: 31 of the 32 registers), 28 FMAs per 16 loads, so the two FMA ports
 * bound it. The kernel is ../gemm_kernel.h; the driver is ../../cpu_gemm.c.
 */
#include <immintrin.h>

#include "../../../common/common.h"
#include "../../cpu.h"
#include "avx512_vec.h"

#define AIS__W 16
#define AIS__SX(name) ais__avx512g_##name
#define AIS__GK_MR 14
#define AIS__GK_NV 2

/* x < 0 ? alpha x : x (NaN compares false: kept) */
static inline V vleaky(V x, float alpha) {
    return _mm512_mask_mul_ps(x, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ), x,
                              _mm512_set1_ps(alpha));
}

#include "../gemm_kernel.h"

AIS__GEMM_ENTRIES(ais__avx512g, AIS_CPU_ISA_AVX512)

void ais__avx512_fill_gemm(ais__cpu_kernels *k) {
    ais__avx512g_fill_gemm_slots(k);
    /* A panel 14 x 256 floats = 14 KiB stays in the 48 KiB L1 while the tile loop runs across a
     * kc x nc block of B in L2 (nc = 1024 for a 2 MiB L2: 1 MiB); A block 336 x 256 = 336 KiB */
    k->gemm_kc = 256;
    k->gemm_mc = 336;
    k->gemm_nc = ais__gemm_nc_for_l2(256, 32, 1024);
    AIS__GEMM_SET(k, ais__avx512g);
}
