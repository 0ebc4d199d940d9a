/* cuda_ops.c - which nodes the CUDA backend runs, and running them: the kernels of kernels/ for
 * elementwise, normalization, reduction and layout operators; cuda_blas.c and cuda_dnn.c for the
 * library-backed ones. */
#include <math.h>
#include <string.h>

#include "../../ops/dense_util.h"
#include "cuda_internal.h"

typedef struct unary_def {
    const char *name;
    int code;
} unary_def;

static const unary_def unary_ops[] = {
    {"Relu", AISK_RELU},
    {"LeakyRelu", AISK_LEAKY_RELU},
    {"Sigmoid", AISK_SIGMOID},
    {"Tanh", AISK_TANH},
    {"Gelu", AISK_GELU},
    {"Erf", AISK_ERF},
    {"Exp", AISK_EXP},
    {"Log", AISK_LOG},
    {"Sqrt", AISK_SQRT},
    {"Abs", AISK_ABS},
    {"Neg", AISK_NEG},
    {"Clip", AISK_CLIP},
    {"Reciprocal", AISK_RECIPROCAL},
    {"Floor", AISK_FLOOR},
    {"Ceil", AISK_CEIL},
    {"Elu", AISK_ELU},
    {"Softplus", AISK_SOFTPLUS},
    {"HardSigmoid", AISK_HARD_SIGMOID},
    {"Sin", AISK_SIN},
    {"Cos", AISK_COS},
    {"HardSwish", AISK_HARD_SWISH},
};

static const unary_def binary_ops[] = {
    {"Add", AISK_ADD},
    {"Sub", AISK_SUB},
    {"Mul", AISK_MUL},
    {"Div", AISK_DIV},
    {"Pow", AISK_POW},
    {"Max", AISK_MAX},
    {"Min", AISK_MIN},
    {"Equal", AISK_EQUAL},
    {"Less", AISK_LESS},
    {"LessOrEqual", AISK_LESS_EQUAL},
    {"Greater", AISK_GREATER},
    {"GreaterOrEqual", AISK_GREATER_EQUAL},
    {"And", AISK_AND},
    {"Or", AISK_OR},
    {"Xor", AISK_XOR},
};

static const char *const view_ops[] = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
                                       "Dropout"};

static int find_code(const unary_def *defs, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(defs[i].name, name) == 0) return defs[i].code;
    return -1;
}

static bool is_view(const char *op) {
    for (size_t i = 0; i < AIS__ARRAY_LEN(view_ops); i++)
        if (strcmp(view_ops[i], op) == 0) return true;
    return false;
}

static bool float_dtype(ais_dtype d) {
    return d == AIS_DTYPE_F32 || d == AIS_DTYPE_F16 || d == AIS_DTYPE_BF16;
}

static bool cast_dtype(ais_dtype d) {
    return float_dtype(d) || d == AIS_DTYPE_F64 || d == AIS_DTYPE_I8 || d == AIS_DTYPE_U8 ||
           d == AIS_DTYPE_I32 || d == AIS_DTYPE_I64 || d == AIS_DTYPE_BOOL;
}

static int64_t prod(const int64_t *d, size_t lo, size_t hi) {
    int64_t p = 1;
    for (size_t i = lo; i < hi; i++) p *= d[i];
    return p;
}

int ais__cuda_activation(const ais_attrs *attrs, float *alpha) {
    const char *a = ais__attr_string(attrs, "activation", NULL);
    const float *params = NULL;
    size_t np = 0;
    *alpha = ais__attr_float(attrs, "activation_alpha", 0.01f);
    if (ais__attr_floats(attrs, "activation_params", &params, &np) && np > 0) *alpha = params[0];
    if (!a || !a[0]) return AISK_ACT_NONE;
    if (strcmp(a, "Relu") == 0) return AISK_RELU;
    if (strcmp(a, "Gelu") == 0) return AISK_GELU;
    if (strcmp(a, "GeluTanh") == 0) return AISK_GELU_TANH;
    if (strcmp(a, "Sigmoid") == 0) return AISK_SIGMOID;
    if (strcmp(a, "Tanh") == 0) return AISK_TANH;
    if (strcmp(a, "LeakyRelu") == 0) return AISK_LEAKY_RELU;
    return -1;
}

/* Output shape and per-input strides, with axes merged where every input stays contiguous
 * across them: same-shape inputs become one flat axis. */
static void make_bcast(const ais_tensor *out, const ais_tensor *const *ins, int k, aisk_bcast *bc) {
    int64_t s[3][AIS_MAX_DIMS];
    for (int j = 0; j < k; j++)
        ais__broadcast_strides(ins[j]->dims, ins[j]->ndim, out->dims, out->ndim, s[j]);
    memset(bc, 0, sizeof *bc);
    int nd = 0;
    for (uint32_t d = 0; d < out->ndim; d++) {
        if (out->dims[d] == 1) continue;
        bool merge = nd > 0;
        for (int j = 0; j < k && merge; j++)
            merge = bc->strides[j][nd - 1] == s[j][d] * out->dims[d];
        if (merge) {
            bc->dims[nd - 1] *= out->dims[d];
            for (int j = 0; j < k; j++) bc->strides[j][nd - 1] = s[j][d];
        } else {
            bc->dims[nd] = out->dims[d];
            for (int j = 0; j < k; j++) bc->strides[j][nd] = s[j][d];
            nd++;
        }
    }
    if (nd == 0) {
        nd = 1;
        bc->dims[0] = 1;
    }
    bc->ndim = nd;
}

ais_status ais__cuda_expand(ais__cuda_ctx *ctx, const ais_tensor *src, ais_tensor *dst) {
    aisk_bcast bc;
    make_bcast(dst, &src, 1, &bc);
    AIS__KERNEL(aisk_strided_copy(ctx->stream, ais_dtype_size(dst->dtype), src->data, dst->data,
                                  &bc, dst->numel),
                "expand kernel");
    return AIS_OK;
}

static ais_status copy_d2d(ais__cuda_ctx *ctx, void *dst, const void *src, size_t bytes) {
    if (dst == src || bytes == 0) return AIS_OK;
    AIS__CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx->stream));
    return AIS_OK;
}

/* ---- supports ---- */

static bool reduce_op(const char *op, int *code) {
    if (strcmp(op, "ReduceSum") == 0) *code = AISK_RSUM;
    else if (strcmp(op, "ReduceMean") == 0) *code = AISK_RMEAN;
    else if (strcmp(op, "ReduceMax") == 0) *code = AISK_RMAX;
    else if (strcmp(op, "ReduceMin") == 0) *code = AISK_RMIN;
    else return false;
    return true;
}

bool ais__cuda_supports(const char *op, int64_t opset, const ais__tensor_desc *const *in,
                        size_t n_in, const ais_attrs *attrs) {
    if (!op || n_in == 0 || !in || !in[0]) return false;
    ais_dtype dt = in[0]->dtype;
    int code;
    if (find_code(unary_ops, AIS__ARRAY_LEN(unary_ops), op) >= 0) {
        if (strcmp(op, "Gelu") == 0) {
            const char *ap = ais__attr_string(attrs, "approximate", "none");
            if (strcmp(ap, "none") != 0 && strcmp(ap, "tanh") != 0) return false;
        }
        for (size_t i = 1; i < n_in; i++) /* Clip's min/max: scalars of the same type */
            if (in[i] && in[i]->dtype != dt) return false;
        return float_dtype(dt);
    }
    if ((code = find_code(binary_ops, AIS__ARRAY_LEN(binary_ops), op)) >= 0) {
        if (n_in != 2 || !in[1] || in[1]->dtype != dt) return false;
        if (code >= AISK_AND) return dt == AIS_DTYPE_BOOL;
        if (code >= AISK_EQUAL)
            return float_dtype(dt) || dt == AIS_DTYPE_I32 || dt == AIS_DTYPE_I64 ||
                   (code == AISK_EQUAL && dt == AIS_DTYPE_BOOL);
        if (code == AISK_POW) return float_dtype(dt);
        return float_dtype(dt) || dt == AIS_DTYPE_I32 || dt == AIS_DTYPE_I64;
    }
    if (is_view(op)) return true;
    if (strcmp(op, "Where") == 0)
        return n_in == 3 && dt == AIS_DTYPE_BOOL && in[1] && in[2] && in[1]->dtype == in[2]->dtype &&
               ais_dtype_size(in[1]->dtype) > 0 && ais_dtype_size(in[1]->dtype) <= 8;
    if (strcmp(op, "Cast") == 0)
        return cast_dtype(dt) && cast_dtype((ais_dtype)ais__attr_int(attrs, "to", 0));
    if (strcmp(op, "Softmax") == 0 || strcmp(op, "LogSoftmax") == 0) return float_dtype(dt);
    if (strcmp(op, "LayerNormalization") == 0)
        return float_dtype(dt) && n_in >= 2 && in[1] && in[1]->dtype == dt &&
               (n_in < 3 || !in[2] || in[2]->dtype == dt);
    if (strcmp(op, "BatchNormalization") == 0) {
        if (n_in != 5 || !float_dtype(dt) || in[0]->ndim < 2) return false;
        for (int i = 1; i < 5; i++)
            if (!in[i] || in[i]->dtype != dt) return false;
        return ais__attr_int(attrs, "training_mode", 0) == 0;
    }
    if (reduce_op(op, &code)) return float_dtype(dt);
    if (strcmp(op, "GlobalAveragePool") == 0 || strcmp(op, "GlobalMaxPool") == 0)
        return n_in == 1 && float_dtype(dt) && in[0]->ndim >= 3;
    if (strcmp(op, "Transpose") == 0 || strcmp(op, "Concat") == 0 || strcmp(op, "Slice") == 0 ||
        strcmp(op, "Expand") == 0)
        return ais_dtype_size(dt) > 0 && ais_dtype_size(dt) <= 8;
    if (strcmp(op, "Gather") == 0)
        return n_in == 2 && in[1] &&
               (in[1]->dtype == AIS_DTYPE_I32 || in[1]->dtype == AIS_DTYPE_I64) &&
               ais_dtype_size(dt) > 0 && ais_dtype_size(dt) <= 8;
    float alpha;
    if (strcmp(op, "MatMul") == 0 || strcmp(op, "FusedMatMul") == 0 || strcmp(op, "Gemm") == 0 ||
        strcmp(op, "FusedGemm") == 0) {
        if (n_in < 2 || !in[1] || in[1]->dtype != dt || !float_dtype(dt)) return false;
        if (ais__cuda_activation(attrs, &alpha) < 0) return false;
        /* ORT's FusedMatMul scales and transposes; the CPU kernel says what it lacks */
        if (strcmp(op, "FusedMatMul") == 0 &&
            (ais__attr_int(attrs, "transA", 0) || ais__attr_int(attrs, "transB", 0) ||
             ais__attr_int(attrs, "transBatchA", 0) || ais__attr_int(attrs, "transBatchB", 0) ||
             ais__attr_float(attrs, "alpha", 1.f) != 1.f))
            return false;
        if (op[0] == 'G' || op[5] == 'G') return in[0]->ndim == 2 && in[1]->ndim == 2;
        return in[0]->ndim >= 1 && in[1]->ndim >= 1;
    }
    (void)opset;
    if (ais__cuda_dnn_supports(op, in, n_in, attrs)) return true;
    /* What cuDNN's pooling cannot express (ceil_mode, asymmetric pads, dilations): pool.cu. */
    if (strcmp(op, "MaxPool") == 0 || strcmp(op, "AveragePool") == 0)
        return float_dtype(dt) && in[0]->ndim >= 3 && in[0]->ndim <= 5;
    return false;
}

static bool dnn_takes(const char *op, const ais_attrs *attrs, const ais_tensor *const *in,
                      size_t n_in) {
    ais__tensor_desc descs[16];
    const ais__tensor_desc *dp[16];
    for (size_t i = 0; i < n_in && i < 16; i++) {
        dp[i] = NULL;
        if (in[i]) {
            ais__desc_from(&descs[i], in[i]);
            dp[i] = &descs[i];
        }
    }
    return n_in <= 16 && ais__cuda_dnn_supports(op, dp, n_in, attrs);
}

/* MaxPool/AveragePool through pool.cu, with the CPU operator's geometry (lib/ops/pool.c). */
static ais_status run_pool_direct(ais__cuda_ctx *ctx, const char *op, int64_t opset,
                                  const ais_attrs *attrs, const ais_tensor *x,
                                  ais_tensor *const *out, size_t n_out) {
    if (n_out > 1 && out[1]) return ais__error(AIS_E_UNSUPPORTED, "MaxPool's Indices output");
    ais__op_ctx oc;
    memset(&oc, 0, sizeof oc);
    oc.op_type = op;
    oc.node_name = "";
    oc.opset = opset;
    oc.attrs = attrs;
    ais__dense_geom g;
    AIS__CHECK(ais__dense_geom_init(&oc, x, NULL, ais__attr_int(attrs, "ceil_mode", 0) != 0, &g));
    ais_tensor *y = out[0];
    bool same = y->ndim == x->ndim && y->dims[0] == x->dims[0] && y->dims[1] == x->dims[1];
    for (size_t i = 0; same && i < g.nsp; i++) same = y->dims[2 + i] == g.out[3 - g.nsp + i];
    if (!same) return ais__error(AIS_E_SHAPE, "the output's shape does not match the pooling geometry");
    aisk_pool_desc d;
    memset(&d, 0, sizeof d);
    for (int i = 0; i < 3; i++) {
        d.in[i] = g.in[i];
        d.out[i] = g.out[i];
        d.k[i] = g.k[i];
        d.stride[i] = g.stride[i];
        d.dil[i] = g.dil[i];
        d.pb[i] = g.pb[i];
    }
    d.kind = op[0] == 'M' ? 0 : 1;
    d.include_pad = ais__attr_int(attrs, "count_include_pad", 0) != 0;
    if (y->numel == 0) return AIS_OK;
    AIS__KERNEL(aisk_pool(ctx->stream, (int)x->dtype, x->data, y->data, &d,
                          (size_t)(x->dims[0] * x->dims[1])),
                "pool kernel");
    return AIS_OK;
}

/* ---- run ---- */

static ais_status run_unary(ais__cuda_ctx *ctx, const char *op, int code, int64_t opset,
                            const ais_attrs *attrs, const ais_tensor *const *in, size_t n_in,
                            ais_tensor *y) {
    float a = 0.f, b = 0.f;
    switch (code) {
    case AISK_LEAKY_RELU: a = ais__attr_float(attrs, "alpha", 0.01f); break;
    case AISK_ELU: a = ais__attr_float(attrs, "alpha", 1.0f); break;
    case AISK_HARD_SIGMOID:
        a = ais__attr_float(attrs, "alpha", 0.2f);
        b = ais__attr_float(attrs, "beta", 0.5f);
        break;
    case AISK_GELU:
        if (strcmp(ais__attr_string(attrs, "approximate", "none"), "tanh") == 0)
            code = AISK_GELU_TANH;
        break;
    case AISK_CLIP:
        a = -INFINITY;
        b = INFINITY;
        if (opset < 11) {
            a = ais__attr_float(attrs, "min", a);
            b = ais__attr_float(attrs, "max", b);
        } else {
            if (n_in > 1 && in[1]) AIS__CHECK(ais__cuda_read_scalar(ctx, in[1], "min", &a));
            if (n_in > 2 && in[2]) AIS__CHECK(ais__cuda_read_scalar(ctx, in[2], "max", &b));
        }
        break;
    default: break;
    }
    (void)op;
    AIS__KERNEL(aisk_unary(ctx->stream, code, (int)y->dtype, in[0]->data, y->data, y->numel, a, b),
                "unary kernel");
    return AIS_OK;
}

static ais_status run_softmax(ais__cuda_ctx *ctx, bool lg, int64_t opset, const ais_attrs *attrs,
                              const ais_tensor *x, ais_tensor *y) {
    int64_t r = (int64_t)x->ndim, axis;
    if (r == 0) return ais__error(AIS_E_SHAPE, "input must have rank >= 1");
    if (!ais__norm_axis(ais__attr_int(attrs, "axis", opset < 13 ? 1 : -1), r, &axis))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis out of range for rank %lld",
                          (long long)r);
    int64_t outer = prod(x->dims, 0, (size_t)axis), n, inner;
    if (opset < 13) {
        n = prod(x->dims, (size_t)axis, x->ndim);
        inner = 1;
    } else {
        n = x->dims[axis];
        inner = prod(x->dims, (size_t)axis + 1, x->ndim);
    }
    if (x->numel == 0) return AIS_OK;
    AIS__KERNEL(aisk_softmax(ctx->stream, (int)x->dtype, x->data, y->data, outer, n, inner, lg),
                "softmax kernel");
    return AIS_OK;
}

static ais_status run_layernorm(ais__cuda_ctx *ctx, const ais_attrs *attrs,
                                const ais_tensor *const *in, size_t n_in,
                                ais_tensor *const *out, size_t n_out) {
    const ais_tensor *x = in[0];
    int64_t axis;
    if (!ais__norm_axis(ais__attr_int(attrs, "axis", -1), (int64_t)x->ndim, &axis))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis out of range for rank %u", x->ndim);
    int64_t rows = prod(x->dims, 0, (size_t)axis), n = prod(x->dims, (size_t)axis, x->ndim);
    const ais_tensor *bias = n_in > 2 ? in[2] : NULL;
    if ((int64_t)in[1]->numel != n || (bias && (int64_t)bias->numel != n))
        return ais__error(AIS_E_UNSUPPORTED, "Scale and B must have the %lld normalized elements",
                          (long long)n);
    float *mean = NULL, *inv = NULL;
    for (size_t i = 1; i < n_out && i < 3; i++) {
        if (!out[i]) continue;
        if (out[i]->dtype != AIS_DTYPE_F32 || (int64_t)out[i]->numel != rows)
            return ais__error(AIS_E_UNSUPPORTED, "Mean/InvStdDev must be f32 with %lld values",
                              (long long)rows);
        if (i == 1) mean = out[i]->data;
        else inv = out[i]->data;
    }
    if (x->numel == 0) return AIS_OK;
    AIS__KERNEL(aisk_layernorm(ctx->stream, (int)x->dtype, x->data, in[1]->data,
                               bias ? bias->data : NULL, out[0]->data, mean, inv, rows, n,
                               ais__attr_float(attrs, "epsilon", 1e-5f)),
                "layernorm kernel");
    return AIS_OK;
}

static ais_status reduce_axes(ais__cuda_ctx *ctx, int code, const ais_tensor *x, ais_tensor *y,
                              const bool *red);

static ais_status run_reduce(ais__cuda_ctx *ctx, int code, int64_t opset, const char *op,
                             const ais_attrs *attrs, const ais_tensor *const *in, size_t n_in,
                             ais_tensor *y) {
    const ais_tensor *x = in[0];
    int64_t axes[AIS_MAX_DIMS];
    size_t na = 0;
    bool axes_input = (strcmp(op, "ReduceSum") == 0 && opset >= 13) || opset >= 18;
    if (axes_input) {
        if (n_in > 1 && in[1]) AIS__CHECK(ais__cuda_read_ints(ctx, in[1], "axes", axes, AIS_MAX_DIMS, &na));
    } else {
        const int64_t *v;
        if (ais__attr_ints(attrs, "axes", &v, &na)) {
            if (na > AIS_MAX_DIMS) return ais__error(AIS_E_INVALID_ARGUMENT, "too many axes");
            memcpy(axes, v, na * sizeof *v);
        }
    }
    bool red[AIS_MAX_DIMS] = {false};
    if (na == 0) {
        if (ais__attr_int(attrs, "noop_with_empty_axes", 0))
            return copy_d2d(ctx, y->data, x->data, x->nbytes);
        for (uint32_t d = 0; d < x->ndim; d++) red[d] = true;
    }
    for (size_t i = 0; i < na; i++) {
        int64_t a;
        if (!ais__norm_axis(axes[i], (int64_t)x->ndim, &a))
            return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld out of range for rank %u",
                              (long long)axes[i], x->ndim);
        red[a] = true;
    }
    return reduce_axes(ctx, code, x, y, red);
}

/* y = the reduction `code` of x over the axes marked in red (y has x's rank or fewer). */
static ais_status reduce_axes(ais__cuda_ctx *ctx, int code, const ais_tensor *x, ais_tensor *y,
                              const bool *red) {
    aisk_reduce_desc d;
    memset(&d, 0, sizeof d);
    int64_t stride = 1;
    size_t n_red = 1;
    for (int k = (int)x->ndim - 1; k >= 0; k--) {
        if (red[k]) {
            d.red_dims[d.nred] = x->dims[k];
            d.red_strides[d.nred++] = stride;
            n_red *= (size_t)x->dims[k];
        } else {
            d.keep_dims[d.nkeep] = x->dims[k];
            d.keep_strides[d.nkeep++] = stride;
        }
        stride *= x->dims[k];
    }
    /* Collected innermost first; the kernel decodes outermost first. */
    for (int i = 0; i < d.nred / 2; i++) {
        int64_t t = d.red_dims[i]; d.red_dims[i] = d.red_dims[d.nred - 1 - i]; d.red_dims[d.nred - 1 - i] = t;
        t = d.red_strides[i]; d.red_strides[i] = d.red_strides[d.nred - 1 - i]; d.red_strides[d.nred - 1 - i] = t;
    }
    for (int i = 0; i < d.nkeep / 2; i++) {
        int64_t t = d.keep_dims[i]; d.keep_dims[i] = d.keep_dims[d.nkeep - 1 - i]; d.keep_dims[d.nkeep - 1 - i] = t;
        t = d.keep_strides[i]; d.keep_strides[i] = d.keep_strides[d.nkeep - 1 - i]; d.keep_strides[d.nkeep - 1 - i] = t;
    }
    if (y->numel == 0) return AIS_OK;
    if (n_red == 0)
        return ais__error(AIS_E_UNSUPPORTED, "reduction over an empty axis");
    AIS__KERNEL(aisk_reduce(ctx->stream, code, (int)x->dtype, x->data, y->data, &d, y->numel, n_red),
                "reduce kernel");
    return AIS_OK;
}

static ais_status run_transpose(ais__cuda_ctx *ctx, const ais_attrs *attrs, const ais_tensor *x,
                                ais_tensor *y) {
    size_t r = x->ndim, np = 0;
    int64_t perm[AIS_MAX_DIMS], in_strides[AIS_MAX_DIMS];
    const int64_t *p;
    if (ais__attr_ints(attrs, "perm", &p, &np)) {
        if (np != r) return ais__error(AIS_E_INVALID_ARGUMENT, "perm has %zu entries for rank %zu", np, r);
        memcpy(perm, p, r * sizeof *p);
    } else {
        for (size_t i = 0; i < r; i++) perm[i] = (int64_t)(r - 1 - i);
    }
    int64_t s = 1;
    for (size_t i = r; i-- > 0;) {
        in_strides[i] = s;
        s *= x->dims[i];
    }
    aisk_bcast bc;
    memset(&bc, 0, sizeof bc);
    int nd = 0;
    for (size_t i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= (int64_t)r)
            return ais__error(AIS_E_INVALID_ARGUMENT, "perm[%zu] = %lld out of range", i, (long long)perm[i]);
        int64_t ext = x->dims[perm[i]], st = in_strides[perm[i]];
        if (ext == 1) continue;
        if (nd > 0 && bc.strides[0][nd - 1] == st * ext) {
            bc.dims[nd - 1] *= ext;
            bc.strides[0][nd - 1] = st;
        } else {
            bc.dims[nd] = ext;
            bc.strides[0][nd++] = st;
        }
    }
    if (nd == 0) bc.dims[nd++] = 1;
    bc.ndim = nd;
    if (y->numel == 0) return AIS_OK;
    size_t es = ais_dtype_size(x->dtype);
    if (nd == 1) return copy_d2d(ctx, y->data, x->data, x->nbytes);
    /* [B, R, C] -> [B, C, R]: out axes (.., C, R) with input strides (.., 1, C). */
    if ((nd == 2 || (nd == 3 && bc.strides[0][0] == bc.dims[1] * bc.dims[2])) &&
        bc.strides[0][nd - 2] == 1 && bc.strides[0][nd - 1] == bc.dims[nd - 2]) {
        int64_t batch = nd == 3 ? bc.dims[0] : 1;
        cudaError_t e = aisk_transpose_2d(ctx->stream, es, x->data, y->data, batch,
                                          bc.dims[nd - 1], bc.dims[nd - 2]);
        if (e == cudaSuccess) return AIS_OK;
        if (e != cudaErrorInvalidConfiguration) return ais__cuda_err(e, "transpose kernel");
        (void)cudaGetLastError();
    }
    AIS__KERNEL(aisk_strided_copy(ctx->stream, es, x->data, y->data, &bc, y->numel), "transpose kernel");
    return AIS_OK;
}

static ais_status run_concat(ais__cuda_ctx *ctx, const ais_attrs *attrs,
                             const ais_tensor *const *in, size_t n_in, ais_tensor *y) {
    int64_t axis;
    if (!ais__norm_axis(ais__attr_int(attrs, "axis", 0), (int64_t)y->ndim, &axis))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis out of range for rank %u", y->ndim);
    size_t es = ais_dtype_size(y->dtype);
    size_t outer = (size_t)prod(y->dims, 0, (size_t)axis);
    size_t inner = (size_t)prod(y->dims, (size_t)axis + 1, y->ndim);
    size_t dpitch = (size_t)y->dims[axis] * inner * es, off = 0;
    if (y->numel == 0) return AIS_OK;
    for (size_t i = 0; i < n_in; i++) {
        if (!in[i] || in[i]->ndim != y->ndim)
            return ais__error(AIS_E_SHAPE, "input %zu: rank differs from the output's", i);
        size_t w = (size_t)in[i]->dims[axis] * inner * es;
        if (off + w > dpitch || in[i]->numel * es != w * outer)
            return ais__error(AIS_E_SHAPE, "input %zu does not fit the output's shape", i);
        if (w) {
            AIS__CU(cudaMemcpy2DAsync((char *)y->data + off, dpitch, in[i]->data, w, w, outer,
                                      cudaMemcpyDeviceToDevice, ctx->stream));
        }
        off += w;
    }
    if (off != dpitch) return ais__error(AIS_E_SHAPE, "inputs do not fill the output's axis");
    return AIS_OK;
}

static ais_status run_slice(ais__cuda_ctx *ctx, int64_t opset, const ais_attrs *attrs,
                            const ais_tensor *const *in, size_t n_in, ais_tensor *y) {
    const ais_tensor *x = in[0];
    size_t r = x->ndim, ns = 0, ne = 0, na = 0, nst = 0;
    int64_t starts[AIS_MAX_DIMS], ends[AIS_MAX_DIMS], axes[AIS_MAX_DIMS], steps[AIS_MAX_DIMS];
    if (opset < 10) {
        const int64_t *v;
        if (ais__attr_ints(attrs, "starts", &v, &ns) && ns <= AIS_MAX_DIMS) memcpy(starts, v, ns * 8);
        if (ais__attr_ints(attrs, "ends", &v, &ne) && ne <= AIS_MAX_DIMS) memcpy(ends, v, ne * 8);
        if (ais__attr_ints(attrs, "axes", &v, &na) && na <= AIS_MAX_DIMS) memcpy(axes, v, na * 8);
        if (ns > AIS_MAX_DIMS || ne > AIS_MAX_DIMS || na > AIS_MAX_DIMS)
            return ais__error(AIS_E_INVALID_ARGUMENT, "too many slice axes");
    } else {
        if (n_in < 3 || !in[1] || !in[2]) return ais__error(AIS_E_INVALID_ARGUMENT, "starts and ends are required");
        AIS__CHECK(ais__cuda_read_ints(ctx, in[1], "starts", starts, AIS_MAX_DIMS, &ns));
        AIS__CHECK(ais__cuda_read_ints(ctx, in[2], "ends", ends, AIS_MAX_DIMS, &ne));
        if (n_in > 3 && in[3]) AIS__CHECK(ais__cuda_read_ints(ctx, in[3], "axes", axes, AIS_MAX_DIMS, &na));
        if (n_in > 4 && in[4]) AIS__CHECK(ais__cuda_read_ints(ctx, in[4], "steps", steps, AIS_MAX_DIMS, &nst));
    }
    (void)ne;
    if (na == 0) {
        na = ns;
        for (size_t i = 0; i < na; i++) axes[i] = (int64_t)i;
    }
    if (nst == 0)
        for (size_t i = 0; i < ns; i++) steps[i] = 1;
    if (na != ns || nst > ns || (nst && nst != ns))
        return ais__error(AIS_E_INVALID_ARGUMENT, "starts, axes and steps differ in length");
    int64_t st[AIS_MAX_DIMS], step[AIS_MAX_DIMS], in_strides[AIS_MAX_DIMS], s = 1;
    for (size_t i = r; i-- > 0;) {
        in_strides[i] = s;
        s *= x->dims[i];
        st[i] = 0;
        step[i] = 1;
    }
    for (size_t i = 0; i < ns; i++) {
        int64_t a;
        if (!ais__norm_axis(axes[i], (int64_t)r, &a))
            return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld out of range", (long long)axes[i]);
        int64_t d = x->dims[a], b = starts[i];
        if (steps[i] == 0) return ais__error(AIS_E_INVALID_ARGUMENT, "step is 0");
        if (b < 0) b += d;
        if (steps[i] > 0) b = b < 0 ? 0 : (b > d ? d : b);
        else b = b < 0 ? 0 : (b > d - 1 ? d - 1 : b);
        st[a] = b;
        step[a] = steps[i];
    }
    aisk_bcast bc;
    memset(&bc, 0, sizeof bc);
    int64_t base = 0;
    if (y->ndim != r) return ais__error(AIS_E_SHAPE, "output rank %u for input rank %zu", y->ndim, r);
    for (size_t i = 0; i < r; i++) {
        int64_t n = y->dims[i];
        /* Every element read must lie inside the input, whatever the output shape says. */
        if (n > 0) {
            int64_t last = st[i] + (n - 1) * step[i];
            if (st[i] < 0 || st[i] >= x->dims[i] || last < 0 || last >= x->dims[i])
                return ais__error(AIS_E_SHAPE, "output extent %lld on axis %zu reads outside the input", (long long)n, i);
        }
        base += st[i] * in_strides[i];
        bc.dims[i] = n;
        bc.strides[0][i] = in_strides[i] * step[i];
    }
    bc.ndim = r ? (int32_t)r : 1;
    if (r == 0) bc.dims[0] = 1;
    if (y->numel == 0) return AIS_OK;
    size_t es = ais_dtype_size(x->dtype);
    AIS__KERNEL(aisk_strided_copy(ctx->stream, es, (const char *)x->data + (size_t)base * es,
                                  y->data, &bc, y->numel),
                "slice kernel");
    return AIS_OK;
}

static ais_status run_gather(ais__cuda_ctx *ctx, const ais_attrs *attrs, const ais_tensor *x,
                             const ais_tensor *idx, ais_tensor *y) {
    int64_t axis;
    if (!ais__norm_axis(ais__attr_int(attrs, "axis", 0), (int64_t)x->ndim, &axis))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis out of range for rank %u", x->ndim);
    int64_t outer = prod(x->dims, 0, (size_t)axis), g = x->dims[axis];
    int64_t inner = prod(x->dims, (size_t)axis + 1, x->ndim);
    if ((size_t)(outer * inner) * idx->numel != y->numel)
        return ais__error(AIS_E_SHAPE, "output has %zu elements, expected %lld", y->numel,
                          (long long)(outer * inner * (int64_t)idx->numel));
    if (y->numel == 0) return AIS_OK;
    AIS__KERNEL(aisk_gather(ctx->stream, ais_dtype_size(x->dtype), x->data, idx->data,
                            (int)idx->dtype, y->data, outer, g, inner, (int64_t)idx->numel,
                            ctx->err_flag),
                "gather kernel");
    int flag = 0;
    AIS__CHECK(ais__cuda_memcpy_d2h(ctx, &flag, ctx->err_flag, sizeof flag));
    if (flag) {
        AIS__CU(cudaMemsetAsync(ctx->err_flag, 0, sizeof(int), ctx->stream));
        return ais__error(AIS_E_INVALID_ARGUMENT, "an index is out of range [-%lld, %lld)",
                          (long long)g, (long long)g);
    }
    return AIS_OK;
}

static ais_status run_node(ais__cuda_ctx *ctx, const char *op, int64_t opset,
                           const ais_attrs *attrs, const ais_tensor *const *in, size_t n_in,
                           ais_tensor *const *out, size_t n_out) {
    ais_tensor *y = out[0];
    int code;
    if ((code = find_code(unary_ops, AIS__ARRAY_LEN(unary_ops), op)) >= 0)
        return run_unary(ctx, op, code, opset, attrs, in, n_in, y);
    if ((code = find_code(binary_ops, AIS__ARRAY_LEN(binary_ops), op)) >= 0) {
        if (n_in != 2 || !in[1]) return ais__error(AIS_E_UNSUPPORTED, "exactly two inputs are supported");
        aisk_bcast bc;
        make_bcast(y, in, 2, &bc);
        AIS__KERNEL(aisk_binary(ctx->stream, code, (int)in[0]->dtype, in[0]->data, in[1]->data,
                                y->data, &bc, y->numel),
                    "binary kernel");
        return AIS_OK;
    }
    if (is_view(op)) return copy_d2d(ctx, y->data, in[0]->data, y->nbytes);
    if (strcmp(op, "Where") == 0) {
        aisk_bcast bc;
        make_bcast(y, in, 3, &bc);
        AIS__KERNEL(aisk_where(ctx->stream, ais_dtype_size(y->dtype), in[0]->data, in[1]->data,
                               in[2]->data, y->data, &bc, y->numel),
                    "where kernel");
        return AIS_OK;
    }
    if (strcmp(op, "Cast") == 0) {
        if (in[0]->dtype == y->dtype) return copy_d2d(ctx, y->data, in[0]->data, y->nbytes);
        AIS__KERNEL(aisk_cast(ctx->stream, (int)in[0]->dtype, (int)y->dtype, in[0]->data, y->data,
                              y->numel),
                    "cast kernel");
        return AIS_OK;
    }
    if (strcmp(op, "Softmax") == 0 || strcmp(op, "LogSoftmax") == 0)
        return run_softmax(ctx, op[0] == 'L', opset, attrs, in[0], y);
    if (strcmp(op, "LayerNormalization") == 0) return run_layernorm(ctx, attrs, in, n_in, out, n_out);
    if (strcmp(op, "BatchNormalization") == 0) {
        const ais_tensor *x = in[0];
        int64_t c = x->dims[1], inner = prod(x->dims, 2, x->ndim);
        for (int i = 1; i < 5; i++)
            if ((int64_t)in[i]->numel != c)
                return ais__error(AIS_E_SHAPE, "input %d has %zu values for %lld channels", i,
                                  in[i]->numel, (long long)c);
        AIS__KERNEL(aisk_batchnorm(ctx->stream, (int)x->dtype, x->data, in[1]->data, in[2]->data,
                                   in[3]->data, in[4]->data, y->data, x->numel, c, inner,
                                   ais__attr_float(attrs, "epsilon", 1e-5f)),
                    "batchnorm kernel");
        return AIS_OK;
    }
    if (reduce_op(op, &code)) return run_reduce(ctx, code, opset, op, attrs, in, n_in, y);
    if (strcmp(op, "GlobalAveragePool") == 0 || strcmp(op, "GlobalMaxPool") == 0) {
        /* A mean or max over every spatial axis, keeping N and C. */
        bool red[AIS_MAX_DIMS] = {false};
        for (uint32_t k = 2; k < in[0]->ndim; k++) red[k] = true;
        return reduce_axes(ctx, op[6] == 'A' ? AISK_RMEAN : AISK_RMAX, in[0], y, red);
    }
    if (strcmp(op, "Transpose") == 0) return run_transpose(ctx, attrs, in[0], y);
    if (strcmp(op, "Concat") == 0) return run_concat(ctx, attrs, in, n_in, y);
    if (strcmp(op, "Slice") == 0) return run_slice(ctx, opset, attrs, in, n_in, y);
    if (strcmp(op, "Expand") == 0) return ais__cuda_expand(ctx, in[0], y);
    if (strcmp(op, "Gather") == 0) return run_gather(ctx, attrs, in[0], in[1], y);
    if (strcmp(op, "MatMul") == 0 || strcmp(op, "FusedMatMul") == 0)
        return ais__cuda_matmul(ctx, attrs, in[0], in[1], n_in > 2 ? in[2] : NULL, y);
    if (strcmp(op, "Gemm") == 0 || strcmp(op, "FusedGemm") == 0)
        return ais__cuda_gemm(ctx, attrs, in[0], in[1], n_in > 2 ? in[2] : NULL, y);
    if ((strcmp(op, "MaxPool") == 0 || strcmp(op, "AveragePool") == 0) &&
        !dnn_takes(op, attrs, in, n_in))
        return run_pool_direct(ctx, op, opset, attrs, in[0], out, n_out);
    return ais__cuda_dnn_run(ctx, op, attrs, in, n_in, out, n_out);
}

ais_status ais__cuda_run_node(ais__cuda_ctx *ctx, const char *op_type, int64_t opset,
                              const ais_attrs *attrs, const ais_tensor *const *in, size_t n_in,
                              ais_tensor *const *out, size_t n_out) {
    if (!ctx || !op_type || !in || !out || n_in == 0 || n_out == 0 || !in[0] || !out[0])
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: context, inputs or outputs missing",
                          op_type ? op_type : "(null)");
    ais__tensor_desc descs[16];
    const ais__tensor_desc *dp[16];
    if (n_in > 16) return ais__error(AIS_E_UNSUPPORTED, "%s: %zu inputs on CUDA", op_type, n_in);
    for (size_t i = 0; i < n_in; i++) {
        dp[i] = NULL;
        if (in[i]) {
            ais__desc_from(&descs[i], in[i]);
            dp[i] = &descs[i];
        }
    }
    if (!ais__cuda_supports(op_type, opset, dp, n_in, attrs))
        return ais__error(AIS_E_UNSUPPORTED, "%s (opset %lld) with these inputs does not run on CUDA",
                          op_type, (long long)opset);
    AIS__CU(cudaSetDevice(ctx->device));
    ais_status st = run_node(ctx, op_type, opset, attrs, in, n_in, out, n_out);
    if (st != AIS_OK) ais__error_prefix("%s (CUDA)", op_type);
    return st;
}
