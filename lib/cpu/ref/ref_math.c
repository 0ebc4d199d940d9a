/*
 * ref_math.c - the portable vector math: libm per element. These are the reference the SIMD
 * versions are tested against (glibc's expf, erff and tanhf are within 1 ulp), and what the
 * operators computed before the kernel layer existed.
 */
#include <math.h>

#include "cpu/cpu.h"

static void ais__ref_vexp(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = expf(x[i]);
}

static void ais__ref_verf(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = erff(x[i]);
}

static void ais__ref_vtanh(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}

/* Both branches stay finite: exp of a non-positive number never overflows. */
static void ais__ref_vsigmoid(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));
    }
}

/* The micro-kernel slot's reference: plain loops over the packed panels (the register tiles are
 * in x86/avx2/avx2_gemm.c and x86/avx512/avx512_gemm.c). */
#define AIS__REF_MR 4
#define AIS__REF_NR 4

static void ais__ref_pack_a(bool trans_a, const float *a, int64_t lda, int64_t m0, int64_t m,
                            int64_t k, float *ap) {
    for (int64_t p = 0; p < k; p++)
        for (int64_t i = 0; i < AIS__REF_MR; i++) {
            int64_t r = m0 + i;
            ap[p * AIS__REF_MR + i] = r < m ? (trans_a ? a[p * lda + r] : a[r * lda + p]) : 0.0f;
        }
}

static void ais__ref_pack_b(bool trans_b, const float *b, int64_t ldb, int64_t n0, int64_t n,
                            int64_t k, float *bp) {
    for (int64_t p = 0; p < k; p++)
        for (int64_t j = 0; j < AIS__REF_NR; j++) {
            int64_t c = n0 + j;
            bp[p * AIS__REF_NR + j] = c < n ? (trans_b ? b[c * ldb + p] : b[p * ldb + c]) : 0.0f;
        }
}

static void ais__ref_ukernel_ep(int64_t k, const float *ap, const float *bp, float *c, int64_t ldc,
                                int mr_used, int nr_used, bool accumulate,
                                const ais__gemm_epilogue *ep) {
    float acc[AIS__REF_MR][AIS__REF_NR] = {{0}};
    for (int64_t p = 0; p < k; p++)
        for (int i = 0; i < AIS__REF_MR; i++)
            for (int j = 0; j < AIS__REF_NR; j++)
                acc[i][j] += ap[p * AIS__REF_MR + i] * bp[p * AIS__REF_NR + j];
    for (int i = 0; i < mr_used; i++)
        for (int j = 0; j < nr_used; j++)
            c[i * ldc + j] =
                ais__gemm_ep1(ep, accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j], i, j);
}

static void ais__ref_ukernel(int64_t k, const float *ap, const float *bp, float *c, int64_t ldc,
                             int mr_used, int nr_used, bool accumulate) {
    ais__ref_ukernel_ep(k, ap, bp, c, ldc, mr_used, nr_used, accumulate, NULL);
}

/* The packed GEMM over the 4x4 reference tile: what the SIMD levels are tested against, never
 * chosen by this level's sgemm (BLAS is far faster than scalar loops). */
AIS__GEMM_ENTRIES(ais__ref, AIS_CPU_ISA_SCALAR)

void ais__cpu_fill_ref(ais__cpu_kernels *k) {
    k->isa = AIS_CPU_ISA_SCALAR;
    k->sgemm = ais__sgemm;
    k->dgemm = ais__dgemm;
    k->gemm_mr = AIS__REF_MR;
    k->gemm_nr = AIS__REF_NR;
    k->gemm_pack_a = ais__ref_pack_a;
    k->gemm_pack_b = ais__ref_pack_b;
    k->gemm_ukernel = ais__ref_ukernel;
    k->gemm_ukernel_ep = ais__ref_ukernel_ep;
    k->gemm_mc = 64;
    k->gemm_kc = 256;
    k->gemm_nc = 1024;
    AIS__GEMM_SET(k, ais__ref);
    k->sgemm = ais__sgemm;
    k->vexp = ais__ref_vexp;
    k->verf = ais__ref_verf;
    k->vtanh = ais__ref_vtanh;
    k->vsigmoid = ais__ref_vsigmoid;
    ais__cpu_fill_ref_rows(k);
    k->tree_block = ais__cpu_ref_tree_block;
    ais__cpu_fill_ref_image(k);
    ais__cpu_fill_ref_conv(k);
    ais__cpu_fill_ref_winograd(k);
}
