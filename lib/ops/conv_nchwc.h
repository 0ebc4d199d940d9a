/*
 * conv_nchwc.h - convolution as a direct kernel on the blocked channel layout (conv_nchwc.c),
 * shared by conv.c: the weights are packed once at load into the layout the table's
 * conv_nchwc_row reads, and each call copies the input into a zero-padded blocked buffer, runs
 * the rows and writes the output back as NCHW.
 */
#ifndef AIS_CONV_NCHWC_H
#define AIS_CONV_NCHWC_H

#include "conv_gemm.h"

/* W [M, C, kh, kw] packed as [ceil(M / block)][ceil(C / cb)][kh][kw][cb][block], zero past M
 * and C; cb = block, or C itself when C < block (a stem's 3 channels make one short block). */
typedef struct ais__conv_nchwc_pack {
    const ais__cpu_kernels *t;
    const void *w; /* the W tensor's data it was packed from (compute checks it) */
    int64_t m, c, kh, kw, block, cb, n_icb, n_ocb;
    float *wb;
} ais__conv_nchwc_pack;

/* Whether table t has the blocked kernel and a group-1 convolution of C input and M output
 * channels with a kh x kw kernel suits it: more than one tap (1x1 stays a GEMM reading X in
 * place) and little padding of the channels up to the block. */
bool ais__conv_nchwc_suits(const ais__cpu_kernels *t, int64_t group, int64_t m, int64_t c,
                           int64_t kh, int64_t kw);
/* Packs w (data of a [m, c, kh, kw] tensor) for table t; the buffer is ais__free'd by
 * ais__conv_nchwc_pack_free. */
ais_status ais__conv_nchwc_pack_make(ais__conv_nchwc_pack *p, const ais__cpu_kernels *t,
                                     const float *w, int64_t m, int64_t c, int64_t kh, int64_t kw);
void ais__conv_nchwc_pack_free(ais__conv_nchwc_pack *p);
/* Whether plan q (a call's shapes) is the 2-D (or 1-D) convolution p was packed for. */
bool ais__conv_nchwc_fits(const ais__conv_nchwc_pack *p, const ais__conv_plan *q);
/* y (NCHW) = act(conv(x, W) + bias + z); z: NULL or Y's shape (FusedConv's residual); scratch
 * and threads from ctx. */
ais_status ais__conv_nchwc_run(ais__op_ctx *ctx, const ais__conv_plan *q,
                               const ais__conv_nchwc_pack *p, const float *x, const float *bias,
                               const float *z, float *y, const ais__conv_act *act);

/* Whether a Conv/FusedConv state (conv.c's prepare) packed W for this path (for the tests). */
bool ais__conv_state_blocked(const void *state);

#endif /* AIS_CONV_NCHWC_H */
