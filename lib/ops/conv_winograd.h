/*
 * conv_winograd.h - a 3x3 stride-1 convolution as Winograd F(4x4, 3x3) (conv_winograd.c),
 * shared by conv.c: the weights are transformed once at load (U = G g G^T, 36 matrices of
 * C x M, each packed as our GEMM's pre-packed B), each call transforms 6x6 input tiles,
 * multiplies the 36 tile-wise matrices and transforms the products back, with the bias,
 * FusedConv's Z and activation in that last step.
 */
#ifndef AIS_CONV_WINOGRAD_H
#define AIS_CONV_WINOGRAD_H

#include "conv_gemm.h"

typedef struct ais__conv_wino_pack {
    const ais__cpu_kernels *t;
    const void *w; /* the W tensor's data it was packed from (compute checks it) */
    int64_t m, c;
    size_t xi_floats; /* floats of one packed U matrix (t's gemm_packed_b_size(c, m)) */
    float *u;         /* 36 of them; NULL: not packed */
} ais__conv_wino_pack;

/* Whether table t can run this path and a Conv with these attributes and a W of [m, c, kh, kw]
 * in `group` groups is one it is for: group 1, 3x3, strides and dilations 1, 2-D, enough
 * channels on both sides, and transformed weights (4x W's size) under a budget. Whether a call
 * takes it is decided per call by ais__conv_wino_wins. */
bool ais__conv_wino_suits(const ais__cpu_kernels *t, const ais_attrs *attrs, int64_t group,
                          int64_t m, int64_t c, int64_t kh, int64_t kw);
/* Transforms and packs w (data of a [m, c, 3, 3] tensor) for table t; freed by
 * ais__conv_wino_pack_free. */
ais_status ais__conv_wino_pack_make(ais__conv_wino_pack *p, const ais__cpu_kernels *t,
                                    const float *w, int64_t m, int64_t c);
void ais__conv_wino_pack_free(ais__conv_wino_pack *p);
/* Whether plan q (a call's shapes) is the convolution p was packed for. */
bool ais__conv_wino_fits(const ais__conv_wino_pack *p, const ais__conv_plan *q);
/* The cost rule: whether this call is estimated faster here than on the blocked direct kernel
 * with `threads` threads (conv_winograd.c says how the estimate was measured). */
bool ais__conv_wino_wins(const ais__conv_wino_pack *p, const ais__conv_plan *q, int32_t threads);
/* y (NCHW) = act(conv(x, W) + bias + z) (z: y's shape, or NULL); scratch and threads from ctx. */
ais_status ais__conv_wino_run(ais__op_ctx *ctx, const ais__conv_plan *q,
                              const ais__conv_wino_pack *p, const float *x, const float *bias,
                              const float *z, float *y, const ais__conv_act *act);

/* Whether a Conv/FusedConv state (conv.c's prepare) packed W for this path (for the tests). */
bool ais__conv_state_winograd(const void *state);

#endif /* AIS_CONV_WINOGRAD_H */
