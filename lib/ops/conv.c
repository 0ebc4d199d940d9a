/*
 * conv.c - Conv (1-D to 3-D, groups, dilations, strides, pads, auto_pad, optional bias).
 * Three paths: a 1x1 stride-1 unpadded convolution is one product per image and group; a
 * convolution with one input channel per group (depthwise) is computed directly; everything else
 * is im2col into scratch memory, tiled over output positions, and sgemm.
 */
#include <string.h>

#include "cpu/cpu.h"
#include "dense_util.h"

typedef struct ais__conv_plan {
    ais__dense_geom g;
    int64_t n, c, m, group, cg, mg, kvol, isz, osz;
} ais__conv_plan;

static ais_status ais__conv_plan_make(const ais__op_ctx *ctx, const ais_tensor *const *in,
                                      size_t n_in, ais__conv_plan *p) {
    const ais_tensor *x = in[0], *w = in[1], *b = n_in > 2 ? in[2] : NULL;
    char sx[AIS__SHAPE_STR_MAX], sw[AIS__SHAPE_STR_MAX];
    AIS__CHECK(ais__dense_check_conv_xw(x, w, "[M, C/group, k1...]"));
    int64_t group = ais__attr_int(ctx->attrs, "group", 1);
    p->n = x->dims[0];
    p->c = x->dims[1];
    p->m = w->dims[0];
    if (group < 1 || group > p->c || p->c % group != 0 || (p->m % group) != 0)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "group %lld must divide the input channels (%lld) and the output "
                          "channels (%lld)",
                          (long long)group, (long long)p->c, (long long)p->m);
    if (w->dims[1] * group != p->c)
        return ais__error(AIS_E_SHAPE,
                          "channel mismatch: X %s has %lld channels, W %s expects %lld x group "
                          "%lld",
                          ais__shape_str(x->dims, x->ndim, sx, sizeof sx), (long long)p->c,
                          ais__shape_str(w->dims, w->ndim, sw, sizeof sw), (long long)w->dims[1],
                          (long long)group);
    if (b) {
        AIS__CHECK(ais__expect_same_dtype(x, "X", b, "B"));
        if (b->ndim != 1 || b->dims[0] != p->m)
            return ais__error(AIS_E_SHAPE, "bias B must be [%lld], got %s", (long long)p->m,
                              ais__shape_str(b->dims, b->ndim, sx, sizeof sx));
    }
    AIS__CHECK(ais__dense_geom_init(ctx, x, w->dims + 2, false, &p->g));
    p->group = group;
    p->cg = p->c / group;
    p->mg = p->m / group;
    size_t numel;
    int64_t od[5] = {p->n, p->m, p->g.out[0], p->g.out[1], p->g.out[2]};
    if (!ais__shape_numel(od, 5, sizeof(float), &numel))
        return ais__error(AIS_E_LIMIT, "the output would be too large");
    /* Bounded by the element counts of W, X and the output checked above. */
    p->kvol = ais__dense_prod3(p->g.k);
    p->isz = ais__dense_prod3(p->g.in);
    p->osz = ais__dense_prod3(p->g.out);
    return AIS_OK;
}

static ais_status ais__conv_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    ais__conv_plan p;
    AIS__CHECK(ais__conv_plan_make(ctx, in, n_in, &p));
    int64_t d[5] = {p.n, p.m};
    for (size_t i = 0; i < p.g.nsp; i++)
        d[2 + i] = p.g.out[3 - p.g.nsp + i];
    ais__desc_set(&out[0], in[0]->dtype, d, 2 + p.g.nsp);
    return AIS_OK;
}

static ais__dense_win ais__conv_win(const ais__dense_geom *g) {
    ais__dense_win w;
    for (int i = 0; i < 3; i++) {
        w.im[i] = g->in[i];
        w.col[i] = g->out[i];
        w.k[i] = g->k[i];
        w.stride[i] = g->stride[i];
        w.dil[i] = g->dil[i];
        w.pb[i] = g->pb[i];
    }
    return w;
}

/* ---- direct path: one input channel per group ---- */

typedef struct {
    const ais__conv_plan *p;
    const float *x, *w, *b;
    float *y;
} ais__dw_job;

static void ais__dw_range(void *vj, size_t begin, size_t end) {
    const ais__dw_job *j = vj;
    const ais__conv_plan *p = j->p;
    const ais__dense_geom *g = &p->g;
    for (size_t t = begin; t < end; t++) {
        int64_t n = (int64_t)t / p->m, m = (int64_t)t % p->m;
        int64_t cin = m / p->mg;
        const float *x = j->x + (n * p->c + cin) * p->isz;
        const float *w = j->w + m * p->kvol;
        float *y = j->y + (n * p->m + m) * p->osz;
        float bias = j->b ? j->b[m] : 0.0f;
        for (int64_t i = 0; i < p->osz; i++)
            y[i] = bias;
        for (int64_t od = 0; od < g->out[0]; od++) {
            for (int64_t oh = 0; oh < g->out[1]; oh++) {
                float *yr = y + (od * g->out[1] + oh) * g->out[2];
                for (int64_t kd = 0; kd < g->k[0]; kd++) {
                    int64_t id = od * g->stride[0] - g->pb[0] + kd * g->dil[0];
                    if (id < 0 || id >= g->in[0]) continue;
                    for (int64_t kh = 0; kh < g->k[1]; kh++) {
                        int64_t ih = oh * g->stride[1] - g->pb[1] + kh * g->dil[1];
                        if (ih < 0 || ih >= g->in[1]) continue;
                        const float *xr = x + (id * g->in[1] + ih) * g->in[2];
                        const float *wr = w + (kd * g->k[1] + kh) * g->k[2];
                        for (int64_t kw = 0; kw < g->k[2]; kw++) {
                            int64_t off = kw * g->dil[2] - g->pb[2], s = g->stride[2];
                            int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
                            int64_t hi = g->in[2] - 1 - off < 0 ? 0 : (g->in[2] - 1 - off) / s + 1;
                            if (hi > g->out[2]) hi = g->out[2];
                            float wv = wr[kw];
                            if (s == 1)
                                for (int64_t o = lo; o < hi; o++)
                                    yr[o] += wv * xr[o + off];
                            else
                                for (int64_t o = lo; o < hi; o++)
                                    yr[o] += wv * xr[o * s + off];
                        }
                    }
                }
            }
        }
    }
}

/* ---- im2col + sgemm ---- */

typedef struct {
    const ais__conv_plan *p;
    ais__dense_win win;
    const float *x, *w;
    float *y, *cols;
    int64_t tile; /* output positions per column tile */
    size_t n_slots, tasks;
    bool direct; /* 1x1 stride 1 without pads: X itself is the column matrix */
} ais__gemm_job;

static void ais__conv_task(const ais__gemm_job *j, size_t task, float *cols) {
    const ais__conv_plan *p = j->p;
    int64_t n = (int64_t)task / p->group, g = (int64_t)task % p->group;
    const float *x = j->x + (n * p->c + g * p->cg) * p->isz;
    const float *w = j->w + g * p->mg * p->cg * p->kvol;
    float *y = j->y + (n * p->m + g * p->mg) * p->osz;
    int64_t kk = p->cg * p->kvol;
    if (j->direct) {
        ais__cpu()->sgemm(false, false, p->mg, p->osz, kk, 1.0f, w, kk, x, p->isz, 0.0f, y, p->osz);
        return;
    }
    for (int64_t j0 = 0; j0 < p->osz; j0 += j->tile) {
        int64_t j1 = AIS__MIN(p->osz, j0 + j->tile);
        ais__dense_im2col(x, p->cg, &j->win, j0, j1, cols);
        ais__cpu()->sgemm(false, false, p->mg, j1 - j0, kk, 1.0f, w, kk, cols, j1 - j0, 0.0f,
                          y + j0, p->osz);
    }
}

/* Slot s handles tasks [s * tasks / n_slots, (s + 1) * tasks / n_slots) with its own columns. */
static void ais__conv_slots(void *vj, size_t begin, size_t end) {
    const ais__gemm_job *j = vj;
    size_t per = j->cols ? (size_t)(j->p->cg * j->p->kvol * j->tile) : 0;
    for (size_t s = begin; s < end; s++) {
        size_t t0 = s * j->tasks / j->n_slots, t1 = (s + 1) * j->tasks / j->n_slots;
        for (size_t t = t0; t < t1; t++)
            ais__conv_task(j, t, j->cols ? j->cols + s * per : NULL);
    }
}

static ais_status ais__conv_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    ais__conv_plan p;
    AIS__CHECK(ais__conv_plan_make(ctx, in, n_in, &p));
    const ais_tensor *b = n_in > 2 ? in[2] : NULL;
    const float *bias = b ? b->data : NULL;
    float *y = out[0]->data;
    if (out[0]->numel == 0) return AIS_OK;
    int64_t kk = p.cg * p.kvol;
    size_t tasks = (size_t)(p.n * p.group);
    if (p.cg == 1 && p.kvol > 1) {
        ais__dw_job j = {&p, in[0]->data, in[1]->data, bias, y};
        size_t work = (size_t)(p.osz * p.kvol);
        size_t grain = work >= 32768 ? 1 : 32768 / (work + 1) + 1;
        ais__parallel_for(ctx->pool, (size_t)(p.n * p.m), grain, ais__dw_range, &j);
        return AIS_OK;
    }
    bool direct = true;
    for (int i = 0; i < 3; i++)
        if (p.g.k[i] != 1 || p.g.stride[i] != 1 || p.g.pb[i] != 0 || p.g.pe[i] != 0) direct = false;
    ais__gemm_job j = {.p = &p,
                       .win = ais__conv_win(&p.g),
                       .x = in[0]->data,
                       .w = in[1]->data,
                       .y = y,
                       .tasks = tasks,
                       .direct = direct};
    /* Small products (below OpenBLAS's own threading threshold of 2^18 multiply-adds) run one
     * per pool thread; larger ones run one after another with BLAS's threads, never nested. */
    j.n_slots = ais__dense_gemm_slots(ctx, (double)p.mg * (double)kk * (double)p.osz, tasks);
    if (!direct)
        AIS__CHECK(ais__dense_col_buffers(ctx, (size_t)kk * sizeof(float), p.osz, j.n_slots,
                                          &j.tile, &j.cols, "im2col buffer"));
    if (j.n_slots > 1)
        ais__parallel_for(ctx->pool, j.n_slots, 1, ais__conv_slots, &j);
    else
        ais__conv_slots(&j, 0, 1);
    ais__dense_add_bias(ctx->pool, y, bias, p.n, p.m, p.osz);
    return AIS_OK;
}

const ais__op_def ais__ops_conv[] = {
    {.domain = "",
     .name = "Conv",
     .since_version = 1,
     .min_inputs = 2,
     .max_inputs = 3,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__conv_infer,
     .compute = ais__conv_compute},
    {.name = NULL},
};
