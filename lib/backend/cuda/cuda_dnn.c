/* cuda_dnn.c - Conv, ConvTranspose, MaxPool and AveragePool through cuDNN's (v9) legacy
 * convolution and pooling API. Algorithms come from cuDNN's heuristics, limited to the
 * workspace cap; f32 convolutions use FMA math only (no TF32) so that they match the CPU.
 * Descriptors and the chosen algorithm are cached in the context per shape (a "plan"), so that
 * only a shape's first run pays for creating them and for the heuristics query; later runs
 * enqueue the cuDNN call (and the bias/activation kernel) and nothing else.
 * What cuDNN cannot express (asymmetric pads, ceil_mode, dilated pools) is reported
 * unsupported, so the node runs on the CPU. */
#include <string.h>

#include "cuda_internal.h"

typedef struct conv_geom {
    int nsp;                   /* spatial dims (1..3) */
    int pads[3], strides[3], dil[3], kernel[3];
    int64_t group;
} conv_geom;

static bool ints_attr(const ais_attrs *attrs, const char *name, int n, int dflt, int *v) {
    const int64_t *p;
    size_t c = 0;
    for (int i = 0; i < n; i++) v[i] = dflt;
    if (!ais__attr_ints(attrs, name, &p, &c)) return true;
    if ((int)c != n) return false;
    for (int i = 0; i < n; i++) {
        if (p[i] < 0 || p[i] > 65535) return false;
        v[i] = (int)p[i];
    }
    return true;
}

/* Geometry from the attributes and the input/filter shapes; false when cuDNN cannot do it. For
 * convolutions `kdims` are the filter's spatial extents; for pools kernel_shape. transposed:
 * ConvTranspose, whose SAME/explicit output shapes are handled from `out_sp` when given. */
static bool geometry(const ais__tensor_desc *x, const int64_t *kdims, const int64_t *out_sp,
                     const ais_attrs *attrs, bool transposed, conv_geom *g) {
    if (x->ndim < 3 || x->ndim > 5) return false;
    int nsp = (int)x->ndim - 2;
    g->nsp = nsp;
    g->group = ais__attr_int(attrs, "group", 1);
    int pads[6];
    if (!ints_attr(attrs, "strides", nsp, 1, g->strides) ||
        !ints_attr(attrs, "dilations", nsp, 1, g->dil) || !ints_attr(attrs, "pads", 2 * nsp, 0, pads))
        return false;
    for (int i = 0; i < nsp; i++) {
        if (kdims[i] < 1 || kdims[i] > 65535 || g->strides[i] < 1 || g->dil[i] < 1) return false;
        g->kernel[i] = (int)kdims[i];
    }
    const char *ap = ais__attr_string(attrs, "auto_pad", "NOTSET");
    if (strcmp(ap, "VALID") == 0) {
        memset(pads, 0, sizeof pads);
    } else if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0 ||
               (transposed && out_sp)) {
        for (int i = 0; i < nsp; i++) {
            int64_t in = x->dims[2 + i], ext = (int64_t)(g->kernel[i] - 1) * g->dil[i] + 1, total;
            if (transposed) {
                if (!out_sp) return false;
                total = (int64_t)g->strides[i] * (in - 1) + ext - out_sp[i];
                const int64_t *op;
                size_t n;
                if (ais__attr_ints(attrs, "output_padding", &op, &n) && (int)n == nsp) total += op[i];
            } else {
                int64_t out = (in + g->strides[i] - 1) / g->strides[i];
                total = (out - 1) * g->strides[i] + ext - in;
            }
            if (total < 0) total = 0;
            if (total % 2) return false; /* asymmetric */
            pads[i] = pads[nsp + i] = (int)(total / 2);
        }
    } else if (strcmp(ap, "NOTSET") != 0) {
        return false;
    }
    for (int i = 0; i < nsp; i++) {
        if (pads[i] != pads[nsp + i]) return false;
        g->pads[i] = pads[i];
    }
    return g->group >= 1;
}

bool ais__cuda_dnn_supports(const char *op, const ais__tensor_desc *const *in, size_t n_in,
                            const ais_attrs *attrs) {
#ifndef AIS_HAVE_CUDNN
    (void)op, (void)in, (void)n_in, (void)attrs;
    return false;
#else
    const ais__tensor_desc *x = in[0];
    if (x->dtype != AIS_DTYPE_F32 && x->dtype != AIS_DTYPE_F16 && x->dtype != AIS_DTYPE_BF16)
        return false;
    conv_geom g;
    bool conv = strcmp(op, "Conv") == 0 || strcmp(op, "FusedConv") == 0;
    if (conv || strcmp(op, "ConvTranspose") == 0) {
        if (n_in < 2 || !in[1] || in[1]->dtype != x->dtype || in[1]->ndim != x->ndim) return false;
        if (n_in > 3 && in[3]) return false; /* FusedConv's residual Z: the CPU kernels' */
        if (n_in > 2 && in[2] && in[2]->dtype != x->dtype) return false;
        float alpha;
        if (ais__cuda_activation(attrs, &alpha) < 0) return false;
        if (!conv && ais__attr_find(attrs, "output_shape")) return false; /* needs the value */
        int64_t zero[3] = {0, 0, 0};
        const char *ap = ais__attr_string(attrs, "auto_pad", "NOTSET");
        if (!conv && strcmp(ap, "NOTSET") != 0 && strcmp(ap, "VALID") != 0) return false;
        (void)zero;
        return geometry(x, in[1]->dims + 2, NULL, attrs, !conv, &g);
    }
    bool maxp = strcmp(op, "MaxPool") == 0;
    if (maxp || strcmp(op, "AveragePool") == 0) {
        const int64_t *k;
        size_t nk;
        if (!ais__attr_ints(attrs, "kernel_shape", &k, &nk) || (int)nk != (int)x->ndim - 2) return false;
        if (ais__attr_int(attrs, "ceil_mode", 0) != 0) return false;
        if (!geometry(x, k, NULL, attrs, false, &g)) return false;
        for (int i = 0; i < g.nsp; i++)
            if (g.dil[i] != 1 || g.pads[i] >= g.kernel[i]) return false;
        return true;
    }
    return false;
#endif
}

#ifdef AIS_HAVE_CUDNN

static cudnnDataType_t dnn_type(ais_dtype d) {
    return d == AIS_DTYPE_F16 ? CUDNN_DATA_HALF : d == AIS_DTYPE_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

/* Tensor dims for cuDNN: at least 4 (1-D convolutions get a trailing extent of 1), as int. */
static ais_status dims4(const ais_tensor *t, int *d, int *nd) {
    *nd = t->ndim < 4 ? 4 : (int)t->ndim;
    for (int i = 0; i < *nd; i++) {
        int64_t v = i < (int)t->ndim ? t->dims[i] : 1;
        if (v > INT32_MAX) return ais__error(AIS_E_LIMIT, "extent %lld too large for cuDNN", (long long)v);
        d[i] = (int)v;
    }
    return AIS_OK;
}

enum { DNN_CONV = 1, DNN_CONV_T, DNN_POOL };

/* Everything a plan's descriptors depend on. Filled after a memset (no padding: all int), so
 * that keys compare with memcmp. */
typedef struct dnn_key {
    int kind, dtype, nd, mode, group;
    int xd[5], wd[5], yd[5];
    int pads[3], strides[3], dil[3], win[3];
} dnn_key;

/* Descriptors of one shape, made once; the algorithm is picked on its first non-empty run. */
struct ais__dnn_plan {
    dnn_key key;
    uint64_t hash;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnPoolingDescriptor_t pool;
    bool chosen;
    int algo;  /* cudnnConvolutionFwdAlgo_t or cudnnConvolutionBwdDataAlgo_t */
    size_t ws; /* workspace bytes of algo */
};
typedef struct ais__dnn_plan dnn_plan;

/* Beyond this many shapes (inputs whose shapes keep changing) the cache starts over. */
#define AIS__DNN_MAX_PLANS 4096

static void plan_destroy(dnn_plan *d) {
    if (d->x) cudnnDestroyTensorDescriptor(d->x);
    if (d->y) cudnnDestroyTensorDescriptor(d->y);
    if (d->w) cudnnDestroyFilterDescriptor(d->w);
    if (d->conv) cudnnDestroyConvolutionDescriptor(d->conv);
    if (d->pool) cudnnDestroyPoolingDescriptor(d->pool);
    memset(d, 0, sizeof *d);
}

void ais__cuda_dnn_release(ais__cuda_ctx *ctx) {
    if (!ctx) return;
    for (size_t i = 0; i < ctx->n_dnn_plans; i++) plan_destroy(&ctx->dnn_plans[i]);
    ais__free(ctx->dnn_plans);
    ctx->dnn_plans = NULL;
    ctx->n_dnn_plans = ctx->cap_dnn_plans = 0;
}

static uint64_t key_hash(const dnn_key *k) {
    const unsigned char *p = (const unsigned char *)k;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < sizeof *k; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* The plan of key in *out (*found true), or a zeroed slot past the last plan with the key set
 * (*found false): the caller makes its descriptors and then counts it in with n_dnn_plans++, or
 * destroys it on failure. */
static ais_status plan_lookup(ais__cuda_ctx *ctx, const dnn_key *k, dnn_plan **out, bool *found) {
    uint64_t h = key_hash(k);
    for (size_t i = 0; i < ctx->n_dnn_plans; i++) {
        dnn_plan *p = &ctx->dnn_plans[i];
        if (p->hash == h && memcmp(&p->key, k, sizeof *k) == 0) {
            *out = p;
            *found = true;
            return AIS_OK;
        }
    }
    if (ctx->n_dnn_plans >= AIS__DNN_MAX_PLANS) ais__cuda_dnn_release(ctx);
    if (ctx->n_dnn_plans == ctx->cap_dnn_plans) {
        size_t cap = ctx->cap_dnn_plans ? 2 * ctx->cap_dnn_plans : 16;
        dnn_plan *np = ais__realloc(ctx->dnn_plans, ctx->cap_dnn_plans * sizeof *np, cap * sizeof *np);
        if (!np) return ais__oom(cap * sizeof *np, "cuDNN plan cache");
        ctx->dnn_plans = np;
        ctx->cap_dnn_plans = cap;
    }
    dnn_plan *p = &ctx->dnn_plans[ctx->n_dnn_plans];
    memset(p, 0, sizeof *p);
    p->key = *k;
    p->hash = h;
    *out = p;
    *found = false;
    return AIS_OK;
}

static ais_status key_dims(const ais_tensor *t, int *d, int *nd) {
    if (t->ndim > 5) return ais__error(AIS_E_UNSUPPORTED, "rank %u on cuDNN, at most 5", t->ndim);
    return dims4(t, d, nd);
}

static ais_status geom_key(dnn_key *k, int kind, const conv_geom *g, const ais_tensor *x,
                           const ais_tensor *w, const ais_tensor *y) {
    memset(k, 0, sizeof *k);
    k->kind = kind;
    k->dtype = (int)x->dtype;
    int nd;
    AIS__CHECK(key_dims(x, k->xd, &k->nd));
    if (w) AIS__CHECK(key_dims(w, k->wd, &nd));
    AIS__CHECK(key_dims(y, k->yd, &nd));
    if (g->group > INT32_MAX) return ais__error(AIS_E_LIMIT, "group too large");
    k->group = (int)g->group;
    for (int i = 0; i < g->nsp; i++) {
        k->pads[i] = g->pads[i];
        k->strides[i] = g->strides[i];
        k->dil[i] = g->dil[i];
        k->win[i] = g->kernel[i];
    }
    return AIS_OK;
}

static ais_status tensor_desc(cudnnTensorDescriptor_t *out, const ais_tensor *t) {
    int d[8], nd;
    AIS__CHECK(dims4(t, d, &nd));
    AIS__CUDNN(cudnnCreateTensorDescriptor(out));
    AIS__CUDNN(cudnnSetTensorNdDescriptorEx(*out, CUDNN_TENSOR_NCHW, dnn_type(t->dtype), nd, d));
    return AIS_OK;
}

static ais_status check_out(const int *got, int nd, const ais_tensor *y) {
    int want[8], n;
    AIS__CHECK(dims4(y, want, &n));
    for (int i = 0; i < nd && i < n; i++)
        if (got[i] != want[i])
            return ais__error(AIS_E_SHAPE, "cuDNN computes extent %d on axis %d, the output has %d",
                              got[i], i, want[i]);
    return AIS_OK;
}

static ais_status conv_setup(dnn_plan *d, const conv_geom *g, const ais_tensor *w, ais_dtype dt) {
    int nsp = g->nsp < 2 ? 2 : g->nsp;
    int pads[3] = {0, 0, 0}, strides[3] = {1, 1, 1}, dil[3] = {1, 1, 1};
    for (int i = 0; i < g->nsp; i++) {
        pads[i] = g->pads[i];
        strides[i] = g->strides[i];
        dil[i] = g->dil[i];
    }
    int wd[8], nw;
    AIS__CHECK(dims4(w, wd, &nw));
    AIS__CUDNN(cudnnCreateFilterDescriptor(&d->w));
    AIS__CUDNN(cudnnSetFilterNdDescriptor(d->w, dnn_type(dt), CUDNN_TENSOR_NCHW, nw, wd));
    AIS__CUDNN(cudnnCreateConvolutionDescriptor(&d->conv));
    AIS__CUDNN(cudnnSetConvolutionNdDescriptor(d->conv, nsp, pads, strides, dil,
                                               CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    if (g->group > INT32_MAX) return ais__error(AIS_E_LIMIT, "group too large");
    AIS__CUDNN(cudnnSetConvolutionGroupCount(d->conv, (int)g->group));
    AIS__CUDNN(cudnnSetConvolutionMathType(
        d->conv, dt == AIS_DTYPE_F32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
    return AIS_OK;
}

/* Descriptors of a (transposed) convolution plan, checked against y's (x's) shape. */
static ais_status conv_plan_setup(dnn_plan *p, const conv_geom *g, const ais_tensor *x,
                                  const ais_tensor *w, const ais_tensor *y, bool transposed) {
    AIS__CHECK(tensor_desc(&p->x, x));
    AIS__CHECK(tensor_desc(&p->y, y));
    AIS__CHECK(conv_setup(p, g, w, x->dtype));
    int od[8], nd = x->ndim < 4 ? 4 : (int)x->ndim;
    if (!transposed) {
        AIS__CUDNN(cudnnGetConvolutionNdForwardOutputDim(p->conv, p->x, p->w, nd, od));
        return check_out(od, nd, y);
    }
    /* The forward convolution of Y's shape must give X's shape. */
    int xdims[8], nx;
    AIS__CUDNN(cudnnGetConvolutionNdForwardOutputDim(p->conv, p->y, p->w, nd, od));
    AIS__CHECK(dims4(x, xdims, &nx));
    for (int i = 0; i < nd; i++)
        if (od[i] != xdims[i])
            return ais__error(AIS_E_UNSUPPORTED, "output shape not expressible through cuDNN");
    return AIS_OK;
}

/* The plan of a convolution-like node: found, or made and counted in. */
static ais_status conv_plan(ais__cuda_ctx *ctx, int kind, const conv_geom *g, const ais_tensor *x,
                            const ais_tensor *w, const ais_tensor *y, dnn_plan **out) {
    dnn_key k;
    AIS__CHECK(geom_key(&k, kind, g, x, w, y));
    bool found;
    AIS__CHECK(plan_lookup(ctx, &k, out, &found));
    if (found) return AIS_OK;
    ais_status st = conv_plan_setup(*out, g, x, w, y, kind == DNN_CONV_T);
    if (st != AIS_OK) {
        plan_destroy(*out);
        *out = NULL;
        return st;
    }
    ctx->n_dnn_plans++;
    return AIS_OK;
}

static bool math_ok(ais_dtype dt, cudnnMathType_t m) {
    return dt != AIS_DTYPE_F32 || m == CUDNN_FMA_MATH || m == CUDNN_DEFAULT_MATH;
}

/* An algorithm the heuristics offered that cannot run this shape after all: try the next. */
static bool not_supported(cudnnStatus_t s) {
#ifdef CUDNN_STATUS_CATEGORY
    return CUDNN_STATUS_CATEGORY(s) == CUDNN_STATUS_NOT_SUPPORTED;
#else
    return s == CUDNN_STATUS_NOT_SUPPORTED;
#endif
}

static ais_status bias_act(ais__cuda_ctx *ctx, const ais_attrs *attrs, const ais_tensor *bias,
                           ais_tensor *y) {
    float alpha;
    int act = ais__cuda_activation(attrs, &alpha);
    if (act < 0) return ais__error(AIS_E_UNSUPPORTED, "unknown activation");
    if (!bias && act == AISK_ACT_NONE) return AIS_OK;
    int64_t c = y->dims[1], inner = 1;
    for (uint32_t i = 2; i < y->ndim; i++) inner *= y->dims[i];
    if (bias && (int64_t)bias->numel != c)
        return ais__error(AIS_E_SHAPE, "B has %zu values for %lld output channels", bias->numel, (long long)c);
    if (y->numel == 0) return AIS_OK;
    AIS__KERNEL(aisk_bias_act(ctx->stream, (int)y->dtype, y->data, bias ? bias->data : NULL,
                              y->numel, c, inner, act, alpha, 0.f),
                "bias/activation kernel");
    return AIS_OK;
}

static cudnnStatus_t fwd(ais__cuda_ctx *ctx, dnn_plan *p, int algo, void *ws, size_t ws_bytes,
                         const ais_tensor *x, const ais_tensor *w, ais_tensor *y) {
    float one = 1.f, zero = 0.f;
    return cudnnConvolutionForward(ctx->dnn, &one, p->x, x->data, p->w, w->data, p->conv,
                                   (cudnnConvolutionFwdAlgo_t)algo, ws, ws_bytes, &zero, p->y,
                                   y->data);
}

static ais_status run_conv(ais__cuda_ctx *ctx, const ais_attrs *attrs, const ais_tensor *x,
                           const ais_tensor *w, const ais_tensor *b, ais_tensor *y) {
    ais__tensor_desc xd;
    ais__desc_from(&xd, x);
    conv_geom g;
    if (!geometry(&xd, w->dims + 2, NULL, attrs, false, &g))
        return ais__error(AIS_E_UNSUPPORTED, "attributes cuDNN cannot express");
    dnn_plan *p;
    AIS__CHECK(conv_plan(ctx, DNN_CONV, &g, x, w, y, &p));
    if (y->numel == 0) return AIS_OK;
    void *ws = NULL;
    if (p->chosen) {
        AIS__CHECK(ais__cuda_workspace(ctx, p->ws, &ws));
        AIS__CUDNN(fwd(ctx, p, p->algo, ws, p->ws, x, w, y));
        return bias_act(ctx, attrs, b, y);
    }
    /* First run of this shape: the heuristics' fastest usable algorithm, kept in the plan. */
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int ret = 0;
    AIS__CUDNN(cudnnGetConvolutionForwardAlgorithm_v7(ctx->dnn, p->x, p->w, p->conv, p->y,
                                                      CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &ret, perf));
    for (int i = 0; i < ret; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > AIS__CUDA_WORKSPACE_CAP ||
            !math_ok(x->dtype, perf[i].mathType))
            continue;
        AIS__CHECK(ais__cuda_workspace(ctx, perf[i].memory, &ws));
        AIS__CUDNN(cudnnSetConvolutionMathType(p->conv, perf[i].mathType));
        cudnnStatus_t s = fwd(ctx, p, (int)perf[i].algo, ws, perf[i].memory, x, w, y);
        if (not_supported(s)) continue;
        if (s != CUDNN_STATUS_SUCCESS) return ais__cudnn_err(s, "cudnnConvolutionForward");
        p->chosen = true;
        p->algo = (int)perf[i].algo;
        p->ws = perf[i].memory;
        return bias_act(ctx, attrs, b, y);
    }
    return ais__error(AIS_E_UNSUPPORTED, "no cuDNN algorithm within the %zu-byte workspace cap",
                      AIS__CUDA_WORKSPACE_CAP);
}

static cudnnStatus_t bwd_data(ais__cuda_ctx *ctx, dnn_plan *p, int algo, void *ws,
                              size_t ws_bytes, const ais_tensor *x, const ais_tensor *w,
                              ais_tensor *y) {
    float one = 1.f, zero = 0.f;
    return cudnnConvolutionBackwardData(ctx->dnn, &one, p->w, w->data, p->x, x->data, p->conv,
                                        (cudnnConvolutionBwdDataAlgo_t)algo, ws, ws_bytes, &zero,
                                        p->y, y->data);
}

static ais_status run_conv_transpose(ais__cuda_ctx *ctx, const ais_attrs *attrs,
                                     const ais_tensor *x, const ais_tensor *w,
                                     const ais_tensor *b, ais_tensor *y) {
    ais__tensor_desc xd;
    ais__desc_from(&xd, x);
    conv_geom g;
    if (!geometry(&xd, w->dims + 2, NULL, attrs, true, &g))
        return ais__error(AIS_E_UNSUPPORTED, "attributes cuDNN cannot express");
    dnn_plan *p;
    AIS__CHECK(conv_plan(ctx, DNN_CONV_T, &g, x, w, y, &p));
    if (y->numel == 0) return AIS_OK;
    void *ws = NULL;
    if (p->chosen) {
        AIS__CHECK(ais__cuda_workspace(ctx, p->ws, &ws));
        AIS__CUDNN(bwd_data(ctx, p, p->algo, ws, p->ws, x, w, y));
        return bias_act(ctx, attrs, b, y);
    }
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int ret = 0;
    AIS__CUDNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(
        ctx->dnn, p->w, p->x, p->conv, p->y, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &ret, perf));
    for (int i = 0; i < ret; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > AIS__CUDA_WORKSPACE_CAP ||
            !math_ok(x->dtype, perf[i].mathType))
            continue;
        AIS__CHECK(ais__cuda_workspace(ctx, perf[i].memory, &ws));
        AIS__CUDNN(cudnnSetConvolutionMathType(p->conv, perf[i].mathType));
        cudnnStatus_t s = bwd_data(ctx, p, (int)perf[i].algo, ws, perf[i].memory, x, w, y);
        if (not_supported(s)) continue;
        if (s != CUDNN_STATUS_SUCCESS) return ais__cudnn_err(s, "cudnnConvolutionBackwardData");
        p->chosen = true;
        p->algo = (int)perf[i].algo;
        p->ws = perf[i].memory;
        return bias_act(ctx, attrs, b, y);
    }
    return ais__error(AIS_E_UNSUPPORTED, "no cuDNN algorithm within the %zu-byte workspace cap",
                      AIS__CUDA_WORKSPACE_CAP);
}

static ais_status pool_plan_setup(dnn_plan *p, const conv_geom *g, cudnnPoolingMode_t mode,
                                  const ais_tensor *x, const ais_tensor *y) {
    int nsp = g->nsp < 2 ? 2 : g->nsp, win[3] = {1, 1, 1}, pads[3] = {0, 0, 0}, str[3] = {1, 1, 1};
    for (int i = 0; i < g->nsp; i++) {
        win[i] = g->kernel[i];
        pads[i] = g->pads[i];
        str[i] = g->strides[i];
    }
    AIS__CHECK(tensor_desc(&p->x, x));
    AIS__CHECK(tensor_desc(&p->y, y));
    AIS__CUDNN(cudnnCreatePoolingDescriptor(&p->pool));
    AIS__CUDNN(cudnnSetPoolingNdDescriptor(p->pool, mode, CUDNN_PROPAGATE_NAN, nsp, win, pads, str));
    int od[8], nd = x->ndim < 4 ? 4 : (int)x->ndim;
    AIS__CUDNN(cudnnGetPoolingNdForwardOutputDim(p->pool, p->x, nd, od));
    return check_out(od, nd, y);
}

static ais_status run_pool(ais__cuda_ctx *ctx, bool maxp, const ais_attrs *attrs,
                           const ais_tensor *x, ais_tensor *y) {
    ais__tensor_desc xd;
    ais__desc_from(&xd, x);
    const int64_t *k;
    size_t nk;
    conv_geom g;
    if (!ais__attr_ints(attrs, "kernel_shape", &k, &nk) || (int)nk != (int)x->ndim - 2 ||
        !geometry(&xd, k, NULL, attrs, false, &g))
        return ais__error(AIS_E_UNSUPPORTED, "attributes cuDNN cannot express");
    cudnnPoolingMode_t mode = maxp ? CUDNN_POOLING_MAX
                              : ais__attr_int(attrs, "count_include_pad", 0)
                                  ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                  : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
    dnn_key key;
    AIS__CHECK(geom_key(&key, DNN_POOL, &g, x, NULL, y));
    key.mode = (int)mode;
    dnn_plan *p;
    bool found;
    AIS__CHECK(plan_lookup(ctx, &key, &p, &found));
    if (!found) {
        ais_status st = pool_plan_setup(p, &g, mode, x, y);
        if (st != AIS_OK) {
            plan_destroy(p);
            return st;
        }
        ctx->n_dnn_plans++;
    }
    if (y->numel == 0) return AIS_OK;
    float one = 1.f, zero = 0.f;
    AIS__CUDNN(cudnnPoolingForward(ctx->dnn, p->pool, &one, p->x, x->data, &zero, p->y, y->data));
    return AIS_OK;
}

#else

void ais__cuda_dnn_release(ais__cuda_ctx *ctx) {
    if (!ctx) return;
    ais__free(ctx->dnn_plans);
    ctx->dnn_plans = NULL;
    ctx->n_dnn_plans = ctx->cap_dnn_plans = 0;
}

#endif /* AIS_HAVE_CUDNN */

ais_status ais__cuda_dnn_run(ais__cuda_ctx *ctx, const char *op, const ais_attrs *attrs,
                             const ais_tensor *const *in, size_t n_in, ais_tensor *const *out,
                             size_t n_out) {
#ifndef AIS_HAVE_CUDNN
    (void)ctx, (void)attrs, (void)in, (void)n_in, (void)out, (void)n_out;
    return ais__error(AIS_E_UNSUPPORTED, "%s needs cuDNN, which this build lacks", op);
#else
    const ais_tensor *b = n_in > 2 ? in[2] : NULL;
    if (strcmp(op, "Conv") == 0 || strcmp(op, "FusedConv") == 0)
        return run_conv(ctx, attrs, in[0], in[1], b, out[0]);
    if (strcmp(op, "ConvTranspose") == 0)
        return run_conv_transpose(ctx, attrs, in[0], in[1], b, out[0]);
    if (strcmp(op, "MaxPool") == 0 || strcmp(op, "AveragePool") == 0)
        return n_out > 1 && out[1] ? ais__error(AIS_E_UNSUPPORTED, "MaxPool's Indices output")
                                   : run_pool(ctx, op[0] == 'M', attrs, in[0], out[0]);
    return ais__error(AIS_E_UNSUPPORTED, "no CUDA implementation");
#endif
}
