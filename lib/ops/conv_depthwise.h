/*
 * conv_depthwise.h - the depthwise 3x3 / 5x5 convolution on NCHW through the table's
 * dwconv_planes kernel, and the pointwise one of few input channels through conv_pw_small
 * (conv_depthwise.c), shared by conv.c.
 */
#ifndef AIS_CONV_DEPTHWISE_H
#define AIS_CONV_DEPTHWISE_H

#include "conv_gemm.h"

/* Whether plan p is a 2-D depthwise convolution (one input channel per group) of a shape that
 * table t's SIMD dwconv_planes is built for (ais__dwconv_suits); the scalar level keeps conv.c's
 * paths. */
bool ais__conv_depthwise_suits(const ais__cpu_kernels *t, const ais__conv_plan *p);
/* y = act(depthwise conv(x, w) + bias) for plan p, planes split over ctx's pool. */
void ais__conv_depthwise_run(ais__op_ctx *ctx, const ais__conv_plan *p, const ais__cpu_kernels *t,
                             const float *x, const float *w, const float *bias, float *y,
                             const ais__conv_act *act);

/* Whether plan p is a pointwise (1x1, stride 1, unpadded) convolution of few input channels a
 * group that table t has conv_pw_small for. */
bool ais__conv_pw_small_suits(const ais__cpu_kernels *t, const ais__conv_plan *p);
/* y = act(W x + bias) for such a plan, runs of positions split over ctx's pool. */
void ais__conv_pw_small_run(ais__op_ctx *ctx, const ais__conv_plan *p, const ais__cpu_kernels *t,
                            const float *x, const float *w, const float *bias, float *y,
                            const ais__conv_act *act);

#endif /* AIS_CONV_DEPTHWISE_H */
