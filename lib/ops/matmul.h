/*
 * matmul.h - what MatMul and Gemm (matmul.c) share with their fused forms (fused.c): the state
 * `prepare` builds (a constant B packed once into our GEMM's panel layout, and the fused
 * activation) and the kernels; and the batch plan of a matrix product (also qlinear.c).
 */
#ifndef AIS_MATMUL_H
#define AIS_MATMUL_H

#include "cpu/cpu.h"
#include "op.h"

#define AIS__MM_STATE_MAGIC 0x4d4d5354u /* "MMST" */

typedef struct ais__mm_state {
    uint32_t magic; /* AIS__MM_STATE_MAGIC: a state of another operator is never taken for one */
    /* The fused activation (FusedGemm, FusedMatMul; NONE for the plain operators), applied in
     * the GEMM's store for f32 results; only act, act_alpha and act_beta are read. */
    ais__gemm_epilogue act;
    /* B packed once at load when it is a constant f32 tensor (NULL otherwise): `mats` matrices
     * op(B) of k x n (MatMul's batch axes of B), each mat_floats floats, in the layout of table
     * t's gemm_prepack_b. Used only while compute's B is b_src with data b_data. */
    const ais_tensor *b_src;
    const void *b_data;
    const ais__cpu_kernels *t;
    int64_t k, n;
    size_t mats, mat_floats;
    float *bp;
    /* Gemm and FusedGemm: the attributes, read once here (looking them up by name on every run
     * was about 4 % of a digits-MLP run); gemm_attrs is false for the MatMul forms. */
    bool gemm_attrs, ta, tb;
    float alpha, beta;
} ais__mm_state;

/* MatMul's NumPy semantics (1-D promotion, broadcast batch axes), shared with the integer
 * products of qlinear.c. */
typedef struct ais__mm_plan {
    int64_t m, n, k;
    size_t nbatch;               /* product of the output batch extents */
    size_t nb;                   /* batch rank of the output */
    int64_t bdims[AIS_MAX_DIMS]; /* output batch extents */
    int64_t astr[AIS_MAX_DIMS];  /* per batch axis: matrices to step in A (0: broadcast) */
    int64_t bstr[AIS_MAX_DIMS];
    size_t a_mats, b_mats; /* matrices in A and in B */
    int64_t odims[AIS_MAX_DIMS];
    size_t ond;
} ais__mm_plan;
/* The plan of A @ B, or AIS_E_SHAPE naming both shapes. */
ais_status ais__mm_plan_make(const ais_tensor *a, const ais_tensor *b, ais__mm_plan *p);
/* The matrices of A and B (counted in whole matrices) that output batch bi reads. */
void ais__mm_offsets(const ais__mm_plan *p, size_t bi, int64_t *ao, int64_t *bo);

/* Builds the state of MatMul, Gemm, FusedMatMul and FusedGemm (the activation is left NONE:
 * fused.c sets it). */
ais_status ais__mm_prepare(const ais__op_ctx *ctx, void **state);
void ais__mm_release(void *state);
/* The f32 product y = A @ B (MatMul's semantics, a state of ais__mm_prepare in ctx: B pre-packed
 * when it is that constant) with ep in the GEMM's store. An ep with a residual needs one B for
 * every batch (B of rank <= 2), so that C's rows are one matrix the residual's rows follow. */
ais_status ais__mm_f32_ep(ais__op_ctx *ctx, const ais_tensor *a, const ais_tensor *b, ais_tensor *y,
                          const ais__gemm_epilogue *ep);

#endif /* AIS_MATMUL_H */
