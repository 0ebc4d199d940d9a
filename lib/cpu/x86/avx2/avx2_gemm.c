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
    /* B's panel 256 x 16 floats = 16 KiB stays in L1 while the 6 x 256 panels of A stream from
     * the A block in L2 (96 x 256 = 96 KiB); the kc x nc block of B lives in L3, nc large so
     * that A is packed once per k slice (cpu_gemm.c's ais__gemm_b_panel_in_l1). Measured on Zen 3
     * (32 KiB L1, 512 KiB L2) at 256^3-1024^3: mc 72-192 and kc 192-384 within the noise of
     * 256 / 96; nc 256 (half the L2, for the other order) 5-10% slower at 1024^3. */
    k->gemm_kc = 256;
    k->gemm_mc = 96;
    k->gemm_nc = 4096;
    /* one row block (m <= 96: a 64-channel convolution's 64 x 3136 x 576): B's block in L2,
     * measured 42-49% -> 52-63% of the FMA loop at 64 x 3136 x 256/576 and 32 x 4096 x 256 */
    k->gemm_nc_one_block = ais__gemm_nc_for_l2(256, 16, 256);
    AIS__GEMM_SET(k, ais__avx2g);
}
