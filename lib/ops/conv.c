/*
 * conv.c - Conv (1-D to 3-D, groups, dilations, strides, pads, auto_pad, optional bias) and
 * FusedConv (com.microsoft: Conv then an activation, what runtime/fuse.c makes of the pair;
 * with ONNX Runtime's optional fourth input Z, act(Conv + Z), what runtime/fuse_epilogue.c
 * makes of a Conv whose output a residual Add reads: the GEMM path puts Z in each output tile
 * before its first k slice, the other paths add it through the Add kernel before the activation).
 *
 * Paths, per node:
 *  - depthwise 3x3 / 5x5, strides 1 or 2, at the AVX2 and AVX-512 levels: conv_depthwise.c
 *    (the input read in place, bias and activation in the store);
 *  - pointwise (1x1, stride 1) of at most 32 input channels a group at the AVX2 level: the
 *    table's conv_pw_small through conv_depthwise.c (X read in place, weights broadcast);
 *  - other depthwise (one input channel per group, 1-D/2-D): the table's conv_dw kernel, one output
 *    plane at a time, bias and activation in its store;
 *  - everything else at the AVX2 and AVX-512 levels: our packed GEMM's micro-kernel driven here
 *    (conv_gemm.c), out[co, pos] = W[co, ci*taps] x cols[ci*taps, pos] on NCHW with the weights
 *    as A (packed once at load by prepare) and the columns as B, packed per cache-sized block
 *    straight from the image (no column matrix; a 1x1 stride-1 convolution reads X itself),
 *    bias and activation applied as each tile of the output is stored;
 *  - a group-1 convolution with more than one tap and a constant W, at the AVX2 and AVX-512
 *    levels: the blocked direct kernel (conv_nchwc.c; weights packed once at load), which reads
 *    each tap from one zero-padded blocked copy of the input instead of packing columns per tap;
 *  - of those, a 3x3 stride-1 one with enough channels, when the cost rule takes the call's
 *    plane (ais__conv_wino_wins: the 56x56 and 28x28 stages of ResNet-18, not the 7x7 one):
 *    Winograd F(4x4, 3x3) (conv_winograd.c; weights transformed at load beside the blocked
 *    packing), bias, Z and the activation in its output step;
 *  - at the scalar level (and for 3-D depthwise): the portable paths below, im2col + BLAS sgemm
 *    and a direct loop, the reference the others are tested against.
 * The activation of FusedConv is Relu, LeakyRelu or Clip in the kernels' stores; Sigmoid, Tanh
 * and Gelu run through their own operators in place afterwards, as fused.c does for Gemm.
 */
#include <math.h>
#include <string.h>

#include "conv_depthwise.h"
#include "conv_gemm.h"
#include "conv_nchwc.h"
#include "conv_winograd.h"
#include "cpu/cpu.h"
#include "dense_util.h"

/* A channel shuffle folded into this grouped convolution (runtime/fold_shuffle.c): attribute
 * ais_shuffled_output, the shuffle's first Reshape [N, G, Cg, H, W]. The convolution then
 * stores its output as the Reshape -> Transpose [0, 2, 1, 3, 4] -> Reshape [N, G * Cg, H, W]
 * after it would have left it: output channel g * Cg + i of each image as channel i * G + g.
 * That needs G to be the convolution's groups, Cg its output channels a group and H * W its
 * output plane (the Reshape moves whole planes then). p->shuffle = G, or 0 without it. */
static ais_status ais__conv_shuffle_check(const ais__op_ctx *ctx, ais__conv_plan *p,
                                          const int64_t **dims) {
    size_t nd;
    p->shuffle = 0;
    if (!ais__attr_ints(ctx->attrs, "ais_shuffled_output", dims, &nd)) return AIS_OK;
    const int64_t *d = *dims;
    if (nd != 5 || p->g.nsp != 2 || d[0] != p->n || d[1] != p->group || d[1] < 2 ||
        d[2] != p->mg || p->cg < 2 || d[3] < 1 || d[4] < 1 || d[3] * d[4] != p->osz)
        return ais__error(AIS_E_SHAPE,
                          "the channel shuffle folded into this convolution does not fit its "
                          "output [%lld, %lld, %lld, %lld] in %lld groups",
                          (long long)p->n, (long long)p->m, (long long)p->g.out[1],
                          (long long)p->g.out[2], (long long)p->group);
    p->shuffle = d[1];
    return AIS_OK;
}

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
    const int64_t *sd;
    return ais__conv_shuffle_check(ctx, p, &sd);
}

static ais_status ais__conv_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    ais__conv_plan p;
    AIS__CHECK(ais__conv_plan_make(ctx, in, n_in, &p));
    int64_t d[5] = {p.n, p.m};
    for (size_t i = 0; i < p.g.nsp; i++)
        d[2 + i] = p.g.out[3 - p.g.nsp + i];
    /* a folded shuffle's output has the shape its last Reshape gave */
    const int64_t *sd;
    if (p.shuffle && ais__conv_shuffle_check(ctx, &p, &sd) == AIS_OK) {
        d[2] = sd[3];
        d[3] = sd[4];
    }
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
    bool direct;    /* 1x1 stride 1 without pads: X itself is the column matrix */
    const float *b; /* the bias, added per task with a folded shuffle (else after) */
} ais__gemm_job;

static void ais__conv_task(const ais__gemm_job *j, size_t task, float *cols) {
    const ais__conv_plan *p = j->p;
    int64_t n = (int64_t)task / p->group, g = (int64_t)task % p->group;
    const float *x = j->x + (n * p->c + g * p->cg) * p->isz;
    const float *w = j->w + g * p->mg * p->cg * p->kvol;
    float *y = j->y + (n * p->m + ais__conv_group_row(p, g)) * p->osz;
    const int64_t kk = p->cg * p->kvol, ldy = ais__conv_row_step(p) * p->osz;
    if (j->direct) {
        ais__cpu()->sgemm(false, false, p->mg, p->osz, kk, 1.0f, w, kk, x, p->isz, 0.0f, y, ldy);
    } else {
        for (int64_t j0 = 0; j0 < p->osz; j0 += j->tile) {
            int64_t j1 = AIS__MIN(p->osz, j0 + j->tile);
            ais__dense_im2col(x, p->cg, &j->win, j0, j1, cols);
            ais__cpu()->sgemm(false, false, p->mg, j1 - j0, kk, 1.0f, w, kk, cols, j1 - j0, 0.0f,
                              y + j0, ldy);
        }
    }
    /* a folded shuffle's rows are not in channel order: the bias goes on here, not after */
    if (p->shuffle && j->b)
        for (int64_t i = 0; i < p->mg; i++)
            for (int64_t q = 0; q < p->osz; q++)
                y[i * ldy + q] += j->b[g * p->mg + i];
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

/* ---- the activation of FusedConv ---- */

/* The base operator's activations at opset 6 (Clip's bounds as attributes), as fused.c. */
#define AIS__CONV_ACT_OPSET 6

typedef struct ais__conv_post {
    const ais__op_def *def; /* NULL: none after the kernels */
    ais__attr items[1];
    ais_attrs attrs;
} ais__conv_post;

typedef struct ais__conv_state {
    ais__conv_act act; /* in the kernels' stores */
    const char *post;  /* Sigmoid, Tanh, Gelu or GeluTanh after them; NULL: none */
    ais__conv_wpack wp;
    bool packed;
    ais__conv_nchwc_pack nchwc; /* wb NULL: not packed for the blocked kernel */
    ais__conv_wino_pack wino;   /* u NULL: not packed for Winograd */
} ais__conv_state;

bool ais__conv_state_blocked(const void *state) {
    return state && ((const ais__conv_state *)state)->nchwc.wb != NULL;
}

bool ais__conv_state_winograd(const void *state) {
    return state && ((const ais__conv_state *)state)->wino.u != NULL;
}

static float ais__conv_act_param(const ais_attrs *attrs, size_t k, const char *alt, float dflt) {
    const float *v;
    size_t n;
    if (ais__attr_floats(attrs, "activation_params", &v, &n)) return k < n ? v[k] : dflt;
    return ais__attr_float(attrs, alt, dflt);
}

/* FusedConv's activation attribute (ONNX Runtime's contract, see fused.c). */
static ais_status ais__conv_act_parse(const ais__op_ctx *ctx, ais__conv_act *act,
                                      const char **post) {
    *act = (ais__conv_act){AIS__CONV_ACT_NONE, 0, 0, 0};
    *post = NULL;
    if (strcmp(ctx->op_type, "FusedConv") != 0) return AIS_OK;
    /* absent: none (ONNX Runtime's Identity), for Conv + Z alone */
    const char *name = ais__attr_string(ctx->attrs, "activation", NULL);
    if (!name) return AIS_OK;
    if (strcmp(name, "Relu") == 0) {
        *act = (ais__conv_act){AIS__CONV_ACT_CLAMP, 0.0f, INFINITY, 0};
    } else if (strcmp(name, "Clip") == 0) {
        *act = (ais__conv_act){AIS__CONV_ACT_CLAMP,
                               ais__conv_act_param(ctx->attrs, 0, "activation_alpha", -INFINITY),
                               ais__conv_act_param(ctx->attrs, 1, "activation_beta", INFINITY), 0};
    } else if (strcmp(name, "LeakyRelu") == 0) {
        *act = (ais__conv_act){AIS__CONV_ACT_LEAKY, 0, 0,
                               ais__conv_act_param(ctx->attrs, 0, "activation_alpha", 0.01f)};
    } else if (strcmp(name, "Sigmoid") == 0 || strcmp(name, "Tanh") == 0 ||
               strcmp(name, "Gelu") == 0 || strcmp(name, "GeluTanh") == 0) {
        *post = name;
    } else {
        return ais__error(AIS_E_UNSUPPORTED,
                          "activation \"%s\" is not one of Relu, LeakyRelu, Sigmoid, Tanh, Gelu, "
                          "GeluTanh, Clip",
                          name);
    }
    return AIS_OK;
}

static ais_status ais__conv_post_get(const char *name, ais__conv_post *c) {
    memset(c, 0, sizeof *c);
    if (!name) return AIS_OK;
    c->attrs.items = c->items;
    c->attrs.cap = 1;
    const char *op = name;
    if (strcmp(name, "GeluTanh") == 0) {
        op = "Gelu";
        c->items[0] = (ais__attr){
            .name = (char *)"approximate", .type = AIS__ATTR_STRING, .s = (char *)"tanh"};
        c->attrs.count = 1;
    }
    c->def = ais__op_find("", op, AIS__CONV_ACT_OPSET);
    if (!c->def) return ais__error(AIS_E_UNSUPPORTED, "no kernel for activation %s", op);
    return AIS_OK;
}

/* The weights are packed at load when W is a constant and this level has the GEMM path. */
static ais_status ais__conv_prepare(const ais__op_ctx *ctx, void **out) {
    ais__conv_state *st = ais__calloc(1, sizeof *st);
    if (!st) return ais__oom(sizeof *st, "convolution state");
    ais_status s = ais__conv_act_parse(ctx, &st->act, &st->post);
    ais__conv_post post;
    if (s == AIS_OK) s = ais__conv_post_get(st->post, &post);
    if (s != AIS_OK) {
        ais__free(st);
        return s;
    }
    *out = st;
    const ais_tensor *w = ctx->consts && ctx->n_consts > 1 ? ctx->consts[1] : NULL;
    const ais__cpu_kernels *t = ais__cpu();
    if (!w || w->dtype != AIS_DTYPE_F32 || w->ndim < 3 || w->ndim > 5 || !w->data ||
        !ais__conv_gemm_usable(t))
        return AIS_OK;
    int64_t group = ais__attr_int(ctx->attrs, "group", 1), m = w->dims[0];
    if (group < 1 || m % group != 0 || m == 0) return AIS_OK; /* infer reports it */
    int64_t k = (int64_t)w->numel / m;
    if (w->dims[1] == 1 && group > 1) return AIS_OK; /* depthwise: its own kernel reads W */
    /* Winograd as well as the direct kernel: the cost rule picks per call, by the plane's size
     * (without memory for it, the direct kernel) */
    if (w->ndim == 4 &&
        ais__conv_wino_suits(t, ctx->attrs, group, m, w->dims[1], w->dims[2], w->dims[3]))
        (void)ais__conv_wino_pack_make(&st->wino, t, w->data, m, w->dims[1]);
    if (w->ndim == 4 && ais__conv_nchwc_suits(t, group, m, w->dims[1], w->dims[2], w->dims[3]) &&
        ais__conv_nchwc_pack_make(&st->nchwc, t, w->data, m, w->dims[1], w->dims[2], w->dims[3]) ==
            AIS_OK)
        return AIS_OK; /* without memory for it, the GEMM path below */
    size_t floats = ais__conv_wpack_floats(t, m, group, k);
    float *a = ais__malloc_aligned(floats * sizeof(float), 64);
    if (!a) return AIS_OK; /* packed per call instead */
    ais__conv_wpack_fill(&st->wp, t, w->data, m, group, k, a);
    st->packed = true;
    return AIS_OK;
}

static void ais__conv_release(void *vs) {
    ais__conv_state *st = vs;
    if (!st) return;
    if (st->packed) ais__free(st->wp.a);
    ais__conv_nchwc_pack_free(&st->nchwc);
    ais__conv_wino_pack_free(&st->wino);
    ais__free(st);
}

/* ---- depthwise planes through the table's kernel ---- */

typedef struct {
    const ais__conv_plan *p;
    const ais__cpu_kernels *t;
    const float *x, *w, *b;
    float *y, *scratch;
    ais__conv_dw_geom dg;
    ais__conv_act act;
    size_t planes, n_slots, per_slot;
} ais__dwk_job;

/* Slot s: planes [s * planes / n_slots, ...) with its own scratch. */
static void ais__dwk_slots(void *vj, size_t begin, size_t end) {
    const ais__dwk_job *j = vj;
    const ais__conv_plan *p = j->p;
    for (size_t s = begin; s < end; s++)
        for (size_t t = s * j->planes / j->n_slots; t < (s + 1) * j->planes / j->n_slots; t++) {
            int64_t n = (int64_t)t / p->m, m = (int64_t)t % p->m, cin = m / p->mg;
            j->t->conv_dw(j->x + (n * p->c + cin) * p->isz, j->w + m * p->kvol,
                          j->b ? j->b[m] : 0.0f, j->y + (n * p->m + m) * p->osz, &j->dg, &j->act,
                          j->scratch + s * j->per_slot);
        }
}

static ais_status ais__conv_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    const void *vs;
    AIS__CHECK(ais__op_state(ctx, &vs));
    const ais__conv_state *st = vs;
    ais__conv_plan p;
    AIS__CHECK(ais__conv_plan_make(ctx, in, n_in, &p));
    const ais_tensor *b = n_in > 2 ? in[2] : NULL, *z = n_in > 3 ? in[3] : NULL;
    const float *bias = b ? b->data : NULL;
    float *y = out[0]->data;
    if (out[0]->numel == 0) return AIS_OK;
    const ais__cpu_kernels *t = ais__cpu();
    /* FusedConv's Z: in the GEMM path's stores when it has Y's shape; else the kernels leave the
     * activation and Z is added by the Add kernel below */
    const ais__conv_act none = {AIS__CONV_ACT_NONE, 0, 0, 0};
    const ais__conv_act *kact = z ? &none : &st->act;
    bool act_done = st->act.kind == AIS__CONV_ACT_NONE, z_done = !z;
    int64_t kk = p.cg * p.kvol;
    size_t tasks = (size_t)(p.n * p.group);
    /* a folded shuffle (more than one input channel a group, checked by the plan) takes the
     * pointwise kernel of few channels or the GEMM paths below (conv_gemm.c, the portable one),
     * which store rows by group; the pass folds none into a convolution with Z */
    if (p.shuffle && z)
        return ais__error(AIS_E_UNSUPPORTED,
                          "a channel shuffle folded into a convolution with a residual Z");
    const ais__dense_geom *g = &p.g;
    if (ais__conv_pw_small_suits(t, &p)) {
        ais__conv_pw_small_run(ctx, &p, t, in[0]->data, in[1]->data, bias, y, kact);
        act_done = !z;
    } else if (ais__conv_depthwise_suits(t, &p)) {
        ais__conv_depthwise_run(ctx, &p, t, in[0]->data, in[1]->data, bias, y, kact);
        act_done = !z;
    } else if (p.cg == 1 && p.kvol > 1 && p.group > 1 && g->k[0] == 1 && g->in[0] == 1 &&
               g->out[0] == 1) {
        ais__dwk_job j = {&p,
                          t,
                          in[0]->data,
                          in[1]->data,
                          bias,
                          y,
                          NULL,
                          {g->in[1], g->in[2], g->out[1], g->out[2], g->k[1], g->k[2], g->stride[1],
                           g->stride[2], g->dil[1], g->dil[2], g->pb[1], g->pb[2]},
                          *kact,
                          0,
                          0,
                          0};
        int32_t threads = ctx->pool ? ais__pool_threads(ctx->pool) : 1;
        j.planes = (size_t)(p.n * p.m);
        /* one slot per thread once there is enough work to share */
        j.n_slots =
            (double)p.osz * (double)p.kvol * (double)j.planes < 65536.0 ? 1 : (size_t)threads;
        j.n_slots = AIS__MIN(j.n_slots, j.planes);
        if (!ais__conv_dw_plane_ok(&j.dg))
            return ais__error(AIS_E_LIMIT,
                              "the padded plane of a depthwise convolution (%lld x %lld) is too "
                              "large",
                              (long long)ais__conv_dw_padded_rows(&j.dg),
                              (long long)ais__conv_dw_padded_width(&j.dg));
        j.per_slot = (ais__conv_dw_scratch_floats(&j.dg) + 15) / 16 * 16;
        size_t bytes;
        if (!ais__mul_size(j.per_slot * j.n_slots, sizeof(float), &bytes))
            return ais__error(AIS_E_LIMIT, "depthwise scratch size overflows");
        j.scratch = ais__op_scratch(ctx, bytes);
        if (!j.scratch) return ais__oom(bytes, "depthwise padded planes");
        if (j.n_slots > 1)
            ais__parallel_for(ctx->pool, j.n_slots, 1, ais__dwk_slots, &j);
        else
            ais__dwk_slots(&j, 0, 1);
        act_done = !z;
    } else if (st->wino.u && in[1]->data == st->wino.w && ais__conv_wino_fits(&st->wino, &p) &&
               ais__conv_wino_wins(&st->wino, &p, ctx->pool ? ais__pool_threads(ctx->pool) : 1)) {
        /* bias, Z and the activation in the output transform's store */
        AIS__CHECK(ais__conv_wino_run(ctx, &p, &st->wino, in[0]->data, bias,
                                      z && z->numel == out[0]->numel ? z->data : NULL, y,
                                      z && z->numel != out[0]->numel ? &none : &st->act));
        z_done = !z || z->numel == out[0]->numel;
        act_done = z_done;
    } else if (st->nchwc.wb && in[1]->data == st->nchwc.w && ais__conv_nchwc_fits(&st->nchwc, &p)) {
        /* FusedConv's Z (ResNet's residual, fuse_epilogue.c) of Y's shape and the activation
         * after it on each run of output rows as it is written back; a broadcast Z by the Add
         * kernel below */
        bool zin = z && z->numel == out[0]->numel;
        AIS__CHECK(ais__conv_nchwc_run(ctx, &p, &st->nchwc, in[0]->data, bias, zin ? z->data : NULL,
                                       y, zin || !z ? &st->act : &none));
        act_done = zin || !z;
        z_done = act_done;
    } else if (ais__conv_gemm_usable(t) || (st->packed && in[1]->data == st->wp.w)) {
        const ais__conv_wpack *wp = st->packed && in[1]->data == st->wp.w ? &st->wp : NULL;
        bool zin = z && z->numel == out[0]->numel;
        AIS__CHECK(ais__conv_gemm_run(ctx, &p, wp ? wp->t : t, wp, in[1]->data, in[0]->data, bias,
                                      zin ? z->data : NULL, y, zin || !z ? &st->act : &none));
        act_done = zin || !z;
        z_done = zin || !z;
    } else if (p.cg == 1 && p.kvol > 1) {
        ais__dw_job j = {&p, in[0]->data, in[1]->data, bias, y};
        size_t work = (size_t)(p.osz * p.kvol);
        size_t grain = work >= 32768 ? 1 : 32768 / (work + 1) + 1;
        ais__parallel_for(ctx->pool, (size_t)(p.n * p.m), grain, ais__dw_range, &j);
    } else {
        bool direct = true;
        for (int i = 0; i < 3; i++)
            if (g->k[i] != 1 || g->stride[i] != 1 || g->pb[i] != 0 || g->pe[i] != 0) direct = false;
        ais__gemm_job j = {.p = &p,
                           .win = ais__conv_win(g),
                           .x = in[0]->data,
                           .w = in[1]->data,
                           .y = y,
                           .tasks = tasks,
                           .direct = direct,
                           .b = bias};
        /* Small products (below OpenBLAS's own threading threshold of 2^18 multiply-adds) run
         * one per pool thread; larger ones run one after another with BLAS's threads, never
         * nested. */
        j.n_slots = ais__dense_gemm_slots(ctx, (double)p.mg * (double)kk * (double)p.osz, tasks);
        if (!direct)
            AIS__CHECK(ais__dense_col_buffers(ctx, (size_t)kk * sizeof(float), p.osz, j.n_slots,
                                              &j.tile, &j.cols, "im2col buffer"));
        if (j.n_slots > 1)
            ais__parallel_for(ctx->pool, j.n_slots, 1, ais__conv_slots, &j);
        else
            ais__conv_slots(&j, 0, 1);
        if (!p.shuffle) ais__dense_add_bias(ctx->pool, y, bias, p.n, p.m, p.osz);
    }
    if (!z_done) AIS__CHECK(ais__op_add(ctx, out[0], z, out[0]));
    if (!act_done)
        for (int64_t i = 0; i < p.n * p.m; i++)
            t->conv_act(y + i * p.osz, (size_t)p.osz, 0.0f, &st->act);
    if (st->post) {
        ais__conv_post post;
        AIS__CHECK(ais__conv_post_get(st->post, &post));
        /* In place: the unary kernels read element i before writing element i, nothing else. */
        ais__op_ctx c = *ctx;
        c.opset = AIS__CONV_ACT_OPSET;
        c.attrs = &post.attrs;
        const ais_tensor *yt = out[0];
        ais_status s = post.def->compute(&c, &yt, 1, out, 1);
        ctx->scratch = c.scratch;
        ctx->scratch_size = c.scratch_size;
        AIS__CHECK(s);
    }
    return AIS_OK;
}

/* FusedConv: Conv's shape rule; the activation keeps the shape (and is checked at prepare). */
static ais_status ais__fused_conv_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                        ais__tensor_desc *out, size_t n_out) {
    ais__conv_act act;
    const char *post;
    AIS__CHECK(ais__conv_act_parse(ctx, &act, &post));
    AIS__CHECK(ais__conv_infer(ctx, in, n_in, out, n_out));
    const ais_tensor *z = n_in > 3 ? in[3] : NULL;
    if (!z) return AIS_OK;
    AIS__CHECK(ais__expect_same_dtype(in[0], "X", z, "Z"));
    int64_t bd[AIS_MAX_DIMS];
    size_t bn;
    char sz[AIS__SHAPE_STR_MAX], sy[AIS__SHAPE_STR_MAX];
    ais_status s =
        ais__broadcast_shape("FusedConv", out[0].dims, out[0].ndim, z->dims, z->ndim, bd, &bn);
    if (s == AIS_OK && (bn != out[0].ndim || memcmp(bd, out[0].dims, bn * sizeof *bd) != 0))
        s = ais__error(AIS_E_SHAPE, "Z %s must broadcast to the convolution's output %s",
                       ais__shape_str(z->dims, z->ndim, sz, sizeof sz),
                       ais__shape_str(out[0].dims, out[0].ndim, sy, sizeof sy));
    return s;
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
     .compute = ais__conv_compute,
     .prepare = ais__conv_prepare,
     .release = ais__conv_release},
    {.domain = "com.microsoft",
     .name = "FusedConv",
     .since_version = 1,
     .min_inputs = 2,
     .max_inputs = 4,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__fused_conv_infer,
     .compute = ais__conv_compute,
     .prepare = ais__conv_prepare,
     .release = ais__conv_release},
    {.name = NULL},
};
