/*
 * conv_gemm.h - convolution as our packed GEMM on NCHW (conv_gemm.c), shared by conv.c.
 */
#ifndef AIS_CONV_GEMM_H
#define AIS_CONV_GEMM_H

#include "cpu/cpu.h"
#include "dense_util.h"

/* The shapes of one Conv call (conv.c fills it from the inputs and attributes). */
typedef struct ais__conv_plan {
    ais__dense_geom g;
    int64_t n, c, m, group, cg, mg, kvol, isz, osz;
    /* a channel shuffle folded into the output (runtime/fold_shuffle.c): 0 none, else the
     * groups G, and output channel g * mg + i of image n is stored as channel i * G + g */
    int64_t shuffle;
} ais__conv_plan;

/* The first row of group g's output channels in an image's output, and the rows between two of
 * them: with a folded shuffle, row g and every G-th after it. */
static inline int64_t ais__conv_group_row(const ais__conv_plan *p, int64_t g) {
    return p->shuffle ? g : g * p->mg;
}
static inline int64_t ais__conv_row_step(const ais__conv_plan *p) {
    return p->shuffle ? p->group : 1;
}

/* The weights [M, C/group, taps...] as the micro-kernel's A panels, per group: kc-deep slices,
 * each ceil(mg / mr) panels of mr rows (zero past mg), so a group is mpad * K floats with
 * K = C/group * taps. Built once by prepare from a constant W (for table t), or per call. */
typedef struct ais__conv_wpack {
    const ais__cpu_kernels *t;
    const void *w; /* the W tensor's data it was packed from (compute checks it) */
    int64_t m, group, k, mpad;
    float *a;
} ais__conv_wpack;

/* Whether table t's level has the micro-kernel this path is built on (AVX2 and up: the scalar
 * level's reference tile is far slower than BLAS). */
bool ais__conv_gemm_usable(const ais__cpu_kernels *t);
/* Floats of the packed weights of m output channels in `group` groups of depth k. */
size_t ais__conv_wpack_floats(const ais__cpu_kernels *t, int64_t m, int64_t group, int64_t k);
/* Packs w (row-major [m, k]) into dst (ais__conv_wpack_floats floats) and fills p. */
void ais__conv_wpack_fill(ais__conv_wpack *p, const ais__cpu_kernels *t, const float *w, int64_t m,
                          int64_t group, int64_t k, float *dst);

/* y = act(W * X + bias + z) for plan p through table t; wp: W packed (NULL: packed here into
 * scratch from w); z: a residual of y's shape (NULL: none), copied into each output tile before
 * its first k slice so that the sum is still stored once. Scratch from ctx. */
ais_status ais__conv_gemm_run(ais__op_ctx *ctx, const ais__conv_plan *p, const ais__cpu_kernels *t,
                              const ais__conv_wpack *wp, const float *w, const float *x,
                              const float *bias, const float *z, float *y,
                              const ais__conv_act *act);

#endif /* AIS_CONV_GEMM_H */
