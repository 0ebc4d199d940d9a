/*
 * qlinear_gemm.h - the integer operators' way onto lib/cpu's int8 GEMM (cpu.h, "int8 GEMM"):
 * weights packed once at load (prepare), matrix products with their zero-point terms, and the
 * convolutions as GEMMs over 8-bit columns. Used by qlinear.c, qlinear_ms.c and
 * qlinear_attention.c.
 */
#ifndef AIS_QLINEAR_GEMM_H
#define AIS_QLINEAR_GEMM_H

#include "cpu/cpu.h"
#include "op.h"

/* A constant weight in the GEMM's layout, built at load: as B (a matrix product's [K, N], or
 * [N, K] transposed) or as A (a convolution's [M, K] per group, panels of the table's mr). src
 * is the data it was packed from: a state is used only while the input is that tensor. */
typedef struct ais__qpack {
    const void *src;
    const ais__cpu_kernels *t; /* the table whose mr an A pack has */
    ais__qgemm_b b;
    ais__qgemm_a *a; /* A packs: one per group, a[g] */
    int64_t groups;
    void *mem;
} ais__qpack;

/* B = w (2-D, u8/s8; [K, N], or [N, K] when trans) packed; NULL when w is not such a matrix or
 * memory is short (the product then packs per call). */
ais__qpack *ais__qpack_b_new(const ais_tensor *w, bool trans);
/* A convolution's weights [M, C/group, k...] as `group` A packs of [M/group, K]. */
ais__qpack *ais__qpack_conv_new(const ais_tensor *w, int64_t group);
void ais__qpack_free(ais__qpack *p);

/* One product C = (A - za)(B - zb) + col_bias, through ep (whose out, scales, zp, clamp and y the
 * caller sets; the zero-point terms are filled here). A [m, k] at a with strides (ars, acs); B
 * packed (pb) or, when pb is NULL, b [k, n] with strides (brs, bcs), packed into the scratch;
 * zb: NULL (0), one value or n values of B's type; col_bias: NULL or n int32. */
typedef struct ais__qmm {
    const void *a;
    bool a_signed;
    int64_t ars, acs, m, k, n;
    int32_t za;
    const ais__qgemm_b *pb;
    const void *b;
    bool b_signed;
    int64_t brs, bcs;
    const ais_tensor *zb;
    const int32_t *col_bias;
} ais__qmm;
/* Scratch bytes of ais__qmm_run (64-byte aligned; pack_b: B is packed per call). */
size_t ais__qmm_scratch(const ais__cpu_kernels *t, int64_t m, int64_t n, int64_t k, bool pack_b);
void ais__qmm_run(ais__pool *pool, const ais__cpu_kernels *t, const ais__qmm *q, ais__qgemm_ep *ep,
                  void *scratch);

/* Zero point or scale element i of a tensor holding one value or a vector (NULL: 0). */
int32_t ais__qgemm_zp_at(const ais_tensor *z, size_t i);

#endif /* AIS_QLINEAR_GEMM_H */
