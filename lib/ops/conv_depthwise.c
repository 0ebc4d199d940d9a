/*
 * conv_depthwise.c - a depthwise convolution (MobileNets' 3x3 and 5x5 layers, strides 1 and 2)
 * on NCHW through the table's dwconv_planes (lib/cpu/x86/dwconv_kernel.h), a run of channels per
 * call with bias and activation in the kernel's store.
 *
 * The kernel reads the input plane in place and writes the output once: no padded copy, no
 * scratch, so the only memory traffic is the layer's own input and output. Threads take
 * contiguous runs of planes (channels), each plane independent; the pool splits them only when
 * there is enough work to pay for waking a thread.
 */
#include "conv_depthwise.h"

bool ais__conv_depthwise_suits(const ais__cpu_kernels *t, const ais__conv_plan *p) {
    const ais__dense_geom *g = &p->g;
    if (t->isa < AIS_CPU_ISA_AVX2 || !t->dwconv_planes || p->cg != 1 || p->group < 2 ||
        g->k[0] != 1 || g->in[0] != 1 || g->out[0] != 1)
        return false;
    ais__conv_dw_geom dg = {g->in[1],     g->in[2],     g->out[1], g->out[2], g->k[1],  g->k[2],
                            g->stride[1], g->stride[2], g->dil[1], g->dil[2], g->pb[1], g->pb[2]};
    return ais__dwconv_suits(&dg);
}

typedef struct ais__dwc_job {
    const ais__conv_plan *p;
    const ais__cpu_kernels *t;
    const float *x, *w, *b;
    float *y;
    ais__conv_dw_geom dg;
    ais__conv_act act;
} ais__dwc_job;

static void ais__dwc_range(void *vj, size_t begin, size_t end) {
    const ais__dwc_job *j = vj;
    const ais__conv_plan *p = j->p;
    for (size_t t = begin; t < end;) {
        /* output channel m reads input channel m / mg (a channel multiplier mg >= 1); without a
         * multiplier the channels up to the image's last are one run for the kernel */
        int64_t n = (int64_t)t / p->m, m = (int64_t)t % p->m, cin = m / p->mg;
        int64_t run = p->mg == 1 ? AIS__MIN((int64_t)(end - t), p->m - m) : 1;
        j->t->dwconv_planes(j->x + (n * p->c + cin) * p->isz, j->w + m * p->kvol,
                            j->b ? j->b + m : NULL, j->y + (n * p->m + m) * p->osz, run, &j->dg,
                            &j->act);
        t += (size_t)run;
    }
}

void ais__conv_depthwise_run(ais__op_ctx *ctx, const ais__conv_plan *p, const ais__cpu_kernels *t,
                             const float *x, const float *w, const float *bias, float *y,
                             const ais__conv_act *act) {
    const ais__dense_geom *g = &p->g;
    ais__dwc_job j = {p,
                      t,
                      x,
                      w,
                      bias,
                      y,
                      {g->in[1], g->in[2], g->out[1], g->out[2], g->k[1], g->k[2], g->stride[1],
                       g->stride[2], g->dil[1], g->dil[2], g->pb[1], g->pb[2]},
                      *act};
    size_t planes = (size_t)(p->n * p->m);
    /* about 32K multiply-adds a chunk: a 7x7 plane of a MobileNet's last stage is 441, so its
     * 960 planes go in chunks of about 75, a 56x56 plane alone is enough */
    size_t work = (size_t)(p->osz * p->kvol);
    size_t grain = work >= 32768 ? 1 : 32768 / (work + 1) + 1;
    if (ctx->pool && planes > grain)
        ais__parallel_for(ctx->pool, planes, grain, ais__dwc_range, &j);
    else
        ais__dwc_range(&j, 0, planes);
}

/* ---- pointwise convolution of few input channels (the table's conv_pw_small) ---- */

/* Up to this depth the broadcast kernel beats the GEMM path, whose 6 x 16 tiles run only k steps
 * between their fixed costs (C's prefetch, the epilogue, a call, packing B): MobileNetV2's
 * expansion 16 -> 96 at 112x112 took twice ONNX Runtime's time there. */
#define AIS__CONV_PW_SMALL_MAX_DEPTH 32

bool ais__conv_pw_small_suits(const ais__cpu_kernels *t, const ais__conv_plan *p) {
    const ais__dense_geom *g = &p->g;
    if (!t->conv_pw_small || p->kvol != 1 || p->cg > AIS__CONV_PW_SMALL_MAX_DEPTH) return false;
    for (int i = 0; i < 3; i++)
        if (g->stride[i] != 1 || g->pb[i] != 0 || g->pe[i] != 0 || g->in[i] != g->out[i])
            return false;
    return true;
}

typedef struct ais__pws_job {
    const ais__conv_plan *p;
    const ais__cpu_kernels *t;
    const float *x, *w, *b;
    float *y;
    ais__conv_act act;
    int64_t block, blocks; /* positions a task, tasks an image's group */
} ais__pws_job;

/* Task t: one group of one image over a block of positions. A group of a grouped convolution
 * (ShuffleNet's first 1x1: 6 input channels a group, where the GEMM path's tiles ran 6 k steps
 * between their fixed costs) is the kernel's call over its channels. With a folded channel
 * shuffle its output rows lie G rows apart (conv_gemm.h): one call per row, the block's input
 * (cg rows) staying in L1 across them. */
static void ais__pws_range(void *vj, size_t begin, size_t end) {
    const ais__pws_job *j = vj;
    const ais__conv_plan *p = j->p;
    for (size_t t = begin; t < end; t++) {
        int64_t ng = (int64_t)t / j->blocks, q0 = (int64_t)t % j->blocks * j->block;
        int64_t n = ng / p->group, g = ng % p->group, q1 = AIS__MIN(p->osz, q0 + j->block);
        const float *x = j->x + (n * p->c + g * p->cg) * p->isz, *w = j->w + g * p->mg * p->cg;
        const float *b = j->b ? j->b + g * p->mg : NULL;
        float *y = j->y + (n * p->m + ais__conv_group_row(p, g)) * p->osz;
        if (!p->shuffle) {
            j->t->conv_pw_small(x, w, b, y, p->cg, p->mg, p->osz, q0, q1, &j->act);
            continue;
        }
        for (int64_t i = 0; i < p->mg; i++)
            j->t->conv_pw_small(x, w + i * p->cg, b ? b + i : NULL, y + i * p->group * p->osz,
                                p->cg, 1, p->osz, q0, q1, &j->act);
    }
}

void ais__conv_pw_small_run(ais__op_ctx *ctx, const ais__conv_plan *p, const ais__cpu_kernels *t,
                            const float *x, const float *w, const float *bias, float *y,
                            const ais__conv_act *act) {
    /* tasks of whole 24-position blocks, about 64K multiply-adds each */
    int64_t per = p->mg * p->cg > 0 ? p->mg * p->cg : 1;
    int64_t block = AIS__MAX(24, 65536 / per / 24 * 24);
    ais__pws_job j = {p, t, x, w, bias, y, *act, block, (p->osz + block - 1) / block};
    size_t tasks = (size_t)(p->n * p->group * j.blocks);
    if (ctx->pool && tasks > 1)
        ais__parallel_for(ctx->pool, tasks, 1, ais__pws_range, &j);
    else
        ais__pws_range(&j, 0, tasks);
}
