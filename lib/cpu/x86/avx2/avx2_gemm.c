/*
 * avx2_gemm.c - the AVX2 + FMA GEMM micro-kernel: a 6 x 16 tile of C (12 ymm accumulators, two
 * B vectors and a broadcast: 15 of the 16 registers), 12 FMAs per 8 loads, so the two FMA ports
 * bound it. The kernel is ../gemm_kernel.h; the driver is ../../cpu_gemm.c.
 */
#include <immintrin.h>

#include "../../../common/common.h"
#include "../../cpu.h"
#include "avx2_vec.h"

#define AIS__W 8
#define AIS__SX(name) ais__avx2g_##name
#define AIS__GK_MR 6
#define AIS__GK_NV 2

/* x < 0 ? alpha x : x (NaN compares false: kept) */
static inline V vleaky(V x, float alpha) {
    return _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(alpha)),
                            _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
}

#include "../gemm_kernel.h"

AIS__GEMM_ENTRIES(ais__avx2g, AIS_CPU_ISA_AVX2)

void ais__avx2_fill_gemm(ais__cpu_kernels *k) {
    ais__avx2g_fill_gemm_slots(k);
    /* A panel 6 x 256 floats = 6 KiB in L1, the kc x nc block of B in half the L2; A block
     * 144 x 256 = 144 KiB */
    k->gemm_kc = 256;
    k->gemm_mc = 144;
    k->gemm_nc = ais__gemm_nc_for_l2(256, 16, 512);
    AIS__GEMM_SET(k, ais__avx2g);
}
