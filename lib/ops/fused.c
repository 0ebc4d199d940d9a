/*
 * fused.c - FusedGemm and FusedMatMul (domain com.microsoft; FusedConv is in conv.c, whose
 * kernels apply the activation in their stores): Conv, Gemm or MatMul
 * followed by an activation on the same output, what the graph's fusion pass (runtime/fuse.c)
 * makes of such pairs. The attribute contract is ONNX Runtime's and the CUDA backend's:
 *   activation         "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu", "GeluTanh" or "Clip"
 *   activation_params  floats: LeakyRelu [alpha], Clip [min, max]
 *   activation_alpha / activation_beta: ORT's FusedGemm spelling of the same (read when
 *                      activation_params is absent).
 * The product runs through the plain operator's kernels. FusedGemm and FusedMatMul of f32 apply
 * the activation in our GEMM's store (matmul.c, the state of ais__fused_mm_prepare), with the
 * unary operators' formulas and vector functions, so the output is written once and agrees with
 * the unfused pair within the product's rounding; the other dtypes run the unary operator's own
 * kernel in place on the output.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "matmul.h"
#include "op.h"

/* The base operator is looked up at the newest opset: its semantics only widened since the
 * opsets a fused node can come from. The activations at opset 6 (Clip's bounds as attributes). */
#define AIS__FUSED_ACT_OPSET 6

typedef struct ais__fused_act {
    const ais__op_def *def;
    ais__attr items[2];
    ais_attrs attrs;
} ais__fused_act;

static const char *ais__fused_base(const char *op_type) {
    if (strcmp(op_type, "FusedConv") == 0) return "Conv";
    if (strcmp(op_type, "FusedGemm") == 0) return "Gemm";
    return "MatMul";
}

/* The base operator's kernel, looked up once per process: ais__op_find scans the registry with
 * strcmp, and doing that on every run was half of a FusedGemm's time on the digits MLP at batch
 * 1. Racing first calls store the same pointer. */
static const ais__op_def *ais__fused_base_def(const char *b) {
    static _Atomic(const ais__op_def *) cache[3];
    size_t k = b[0] == 'C' ? 0 : b[0] == 'G' ? 1 : 2;
    const ais__op_def *d = atomic_load_explicit(&cache[k], memory_order_acquire);
    if (!d) {
        d = ais__op_find("", b, AIS__MAX_OPSET);
        atomic_store_explicit(&cache[k], d, memory_order_release);
    }
    return d;
}

static float ais__act_param(const ais_attrs *attrs, size_t k, const char *alt, float dflt) {
    const float *p;
    size_t n;
    if (ais__attr_floats(attrs, "activation_params", &p, &n)) return k < n ? p[k] : dflt;
    return ais__attr_float(attrs, alt, dflt);
}

/* The activation's operator and the attributes it reads, without allocating (the attribute
 * names point at literals and are never freed). */
static ais_status ais__fused_act_get(const ais_attrs *attrs, ais__fused_act *a) {
    memset(a, 0, sizeof *a);
    a->attrs.items = a->items;
    a->attrs.cap = AIS__ARRAY_LEN(a->items);
    const char *name = ais__attr_string(attrs, "activation", NULL);
    if (!name)
        return ais__error(AIS_E_INVALID_ARGUMENT, "the string attribute activation is missing");
    const char *op = name;
    if (strcmp(name, "LeakyRelu") == 0) {
        a->items[0] = (ais__attr){.name = (char *)"alpha",
                                  .type = AIS__ATTR_FLOAT,
                                  .f = ais__act_param(attrs, 0, "activation_alpha", 0.01f)};
        a->attrs.count = 1;
    } else if (strcmp(name, "Clip") == 0) {
        a->items[0] = (ais__attr){.name = (char *)"min",
                                  .type = AIS__ATTR_FLOAT,
                                  .f = ais__act_param(attrs, 0, "activation_alpha", -INFINITY)};
        a->items[1] = (ais__attr){.name = (char *)"max",
                                  .type = AIS__ATTR_FLOAT,
                                  .f = ais__act_param(attrs, 1, "activation_beta", INFINITY)};
        a->attrs.count = 2;
    } else if (strcmp(name, "GeluTanh") == 0) {
        op = "Gelu";
        a->items[0] = (ais__attr){
            .name = (char *)"approximate", .type = AIS__ATTR_STRING, .s = (char *)"tanh"};
        a->attrs.count = 1;
    } else if (strcmp(name, "Relu") != 0 && strcmp(name, "Sigmoid") != 0 &&
               strcmp(name, "Tanh") != 0 && strcmp(name, "Gelu") != 0) {
        return ais__error(AIS_E_UNSUPPORTED,
                          "activation \"%s\" is not one of Relu, LeakyRelu, Sigmoid, Tanh, Gelu, "
                          "GeluTanh, Clip",
                          name);
    }
    a->def = ais__op_find("", op, AIS__FUSED_ACT_OPSET);
    if (!a->def) return ais__error(AIS_E_UNSUPPORTED, "no kernel for activation %s", op);
    return AIS_OK;
}

/* ORT's FusedMatMul scales and transposes; only the plain product is implemented. */
static ais_status ais__fused_check_matmul(const ais_attrs *attrs) {
    static const char *const ints[] = {"transA", "transB", "transBatchA", "transBatchB"};
    for (size_t i = 0; i < AIS__ARRAY_LEN(ints); i++)
        if (ais__attr_int(attrs, ints[i], 0) != 0)
            return ais__error(AIS_E_UNSUPPORTED, "attribute %s other than 0 is not supported",
                              ints[i]);
    if (ais__attr_float(attrs, "alpha", 1.f) != 1.f)
        return ais__error(AIS_E_UNSUPPORTED, "attribute alpha other than 1 is not supported");
    return AIS_OK;
}

static ais_status ais__fused_prepare(const ais__op_ctx *ctx, const ais__op_def **base,
                                     ais__fused_act *act) {
    const char *b = ais__fused_base(ctx->op_type);
    if (b[0] == 'M') AIS__CHECK(ais__fused_check_matmul(ctx->attrs));
    *base = ais__fused_base_def(b);
    if (!*base) return ais__error(AIS_E_UNSUPPORTED, "no kernel for %s", b);
    return ais__fused_act_get(ctx->attrs, act);
}

static ais__op_ctx ais__fused_sub_ctx(ais__op_ctx *ctx, int64_t opset, const ais_attrs *attrs) {
    ais__op_ctx c = *ctx;
    c.opset = opset;
    c.attrs = attrs;
    return c;
}

/* Hands scratch grown by a sub-call back to the caller's context, which frees it. */
static void ais__fused_sub_done(ais__op_ctx *ctx, const ais__op_ctx *c) {
    ctx->scratch = c->scratch;
    ctx->scratch_size = c->scratch_size;
}

static ais_status ais__fused_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__tensor_desc *out, size_t n_out) {
    const ais__op_def *base;
    ais__fused_act act;
    AIS__CHECK(ais__fused_prepare(ctx, &base, &act));
    ais__op_ctx c = ais__fused_sub_ctx(ctx, AIS__MAX_OPSET, ctx->attrs);
    ais_status st = base->infer(&c, in, n_in, out, n_out);
    ais__fused_sub_done(ctx, &c);
    AIS__CHECK(st);
    /* The activation must take the product's dtype (Sigmoid has no integer kernel). */
    ais_tensor y;
    memset(&y, 0, sizeof y);
    y.dtype = out[0].dtype;
    y.ndim = out[0].ndim;
    memcpy(y.dims, out[0].dims, sizeof y.dims);
    const ais_tensor *yp = &y;
    ais__tensor_desc d;
    c = ais__fused_sub_ctx(ctx, AIS__FUSED_ACT_OPSET, &act.attrs);
    st = act.def->infer(&c, &yp, 1, &d, 1);
    ais__fused_sub_done(ctx, &c);
    if (st != AIS_OK) ais__error_prefix("activation %s", act.def->name);
    return st;
}

/* The activation as our GEMM's epilogue (lib/cpu/cpu.h), from the same attributes. */
static ais_status ais__fused_gemm_act(const ais_attrs *attrs, ais__gemm_epilogue *ep) {
    static const struct {
        const char *name;
        ais__gemm_act act;
    } acts[] = {{"Relu", AIS__GEMM_ACT_RELU},         {"LeakyRelu", AIS__GEMM_ACT_LEAKY_RELU},
                {"Clip", AIS__GEMM_ACT_CLIP},         {"Sigmoid", AIS__GEMM_ACT_SIGMOID},
                {"Tanh", AIS__GEMM_ACT_TANH},         {"Gelu", AIS__GEMM_ACT_GELU},
                {"GeluTanh", AIS__GEMM_ACT_GELU_TANH}};
    ais__fused_act chk;
    AIS__CHECK(ais__fused_act_get(attrs, &chk)); /* the same errors as infer */
    const char *name = ais__attr_string(attrs, "activation", "");
    for (size_t i = 0; i < AIS__ARRAY_LEN(acts); i++)
        if (strcmp(name, acts[i].name) == 0) ep->act = acts[i].act;
    if (ep->act == AIS__GEMM_ACT_LEAKY_RELU)
        ep->act_alpha = ais__act_param(attrs, 0, "activation_alpha", 0.01f);
    if (ep->act == AIS__GEMM_ACT_CLIP) {
        ep->act_alpha = ais__act_param(attrs, 0, "activation_alpha", -INFINITY);
        ep->act_beta = ais__act_param(attrs, 1, "activation_beta", INFINITY);
    }
    return AIS_OK;
}

/* FusedGemm and FusedMatMul: the plain operator's state (a constant B packed once) with the
 * activation for the GEMM's store. */
static ais_status ais__fused_mm_prepare(const ais__op_ctx *ctx, void **state) {
    const char *b = ais__fused_base(ctx->op_type);
    if (b[0] == 'M') AIS__CHECK(ais__fused_check_matmul(ctx->attrs));
    ais__gemm_epilogue ep;
    memset(&ep, 0, sizeof ep);
    AIS__CHECK(ais__fused_gemm_act(ctx->attrs, &ep));
    AIS__CHECK(ais__mm_prepare(ctx, state));
    ((ais__mm_state *)*state)->act = ep;
    return AIS_OK;
}

/* Whether the base kernel applied the activation itself (matmul.c, f32 results). */
static bool ais__fused_in_gemm(const ais__op_ctx *ctx, const char *base, const ais_tensor *y) {
    const ais__mm_state *st = ctx->state;
    return y->dtype == AIS_DTYPE_F32 && st && st->magic == AIS__MM_STATE_MAGIC &&
           st->act.act != AIS__GEMM_ACT_NONE && strcmp(base, "Conv") != 0;
}

static ais_status ais__fused_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais_tensor *const *out, size_t n_out) {
    /* infer checked the attributes; the activation's kernel is looked up only when the GEMM's
     * store did not apply it */
    const char *b = ais__fused_base(ctx->op_type);
    const ais__op_def *base = ais__fused_base_def(b);
    if (!base) return ais__error(AIS_E_UNSUPPORTED, "no kernel for %s", b);
    ais__op_ctx c = ais__fused_sub_ctx(ctx, AIS__MAX_OPSET, ctx->attrs);
    ais_status st = base->compute(&c, in, n_in, out, n_out);
    ais__fused_sub_done(ctx, &c);
    AIS__CHECK(st);
    if (out[0]->numel == 0 || ais__fused_in_gemm(ctx, b, out[0])) return AIS_OK;
    ais__fused_act act;
    AIS__CHECK(ais__fused_act_get(ctx->attrs, &act));
    /* In place: the unary kernels read element i before writing element i, nothing else. */
    const ais_tensor *y = out[0];
    c = ais__fused_sub_ctx(ctx, AIS__FUSED_ACT_OPSET, &act.attrs);
    st = act.def->compute(&c, &y, 1, out, 1);
    ais__fused_sub_done(ctx, &c);
    return st;
}

/* ---- FusedMatMulBias: Y = act(A @ B + bias + Z) ----
 * libaistack's own (ONNX Runtime has no such operator; runtime/fuse_epilogue.c makes it of a
 * MatMul with a constant B followed by the Add of a constant bias and an Add of a residual or an
 * activation), so that a transformer's projection writes its output once. Inputs: A (f32), B
 * (f32, rank 2), bias (optional, f32 [N]), Z (optional, f32, broadcasting to Y's shape without
 * growing it); attributes: activation (optional, as FusedMatMul's) and activation_params. */

static ais_status ais__mmb_act(const ais_attrs *attrs, ais__gemm_epilogue *ep) {
    memset(ep, 0, sizeof *ep);
    if (!ais__attr_string(attrs, "activation", NULL)) return AIS_OK;
    return ais__fused_gemm_act(attrs, ep);
}

static ais_status ais__mmb_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    const ais_tensor *a = in[0], *b = in[1], *bias = n_in > 2 ? in[2] : NULL,
                     *z = n_in > 3 ? in[3] : NULL;
    ais__gemm_epilogue ep;
    AIS__CHECK(ais__mmb_act(ctx->attrs, &ep));
    AIS__CHECK(ais__expect_dtype(a, "A", AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_same_dtype(a, "A", b, "B"));
    char sb[AIS__SHAPE_STR_MAX], sy[AIS__SHAPE_STR_MAX];
    if (b->ndim != 2)
        return ais__error(AIS_E_UNSUPPORTED, "B must have rank 2, got %s",
                          ais__shape_str(b->dims, b->ndim, sb, sizeof sb));
    ais__mm_plan p;
    AIS__CHECK(ais__mm_plan_make(a, b, &p));
    if (bias) {
        AIS__CHECK(ais__expect_same_dtype(a, "A", bias, "bias"));
        if (bias->ndim != 1 || bias->dims[0] != p.n)
            return ais__error(AIS_E_SHAPE, "bias must be [%lld], got %s", (long long)p.n,
                              ais__shape_str(bias->dims, bias->ndim, sb, sizeof sb));
    }
    if (z) {
        AIS__CHECK(ais__expect_same_dtype(a, "A", z, "Z"));
        int64_t bd[AIS_MAX_DIMS];
        size_t bn;
        ais_status s =
            ais__broadcast_shape("FusedMatMulBias", p.odims, p.ond, z->dims, z->ndim, bd, &bn);
        if (s != AIS_OK) {
            ais__error_prefix("Z %s and the product %s",
                              ais__shape_str(z->dims, z->ndim, sb, sizeof sb),
                              ais__shape_str(p.odims, p.ond, sy, sizeof sy));
            return s;
        }
        /* Y is the unfused Add's result, which may be larger than the product */
        p.ond = bn;
        memcpy(p.odims, bd, bn * sizeof *bd);
    }
    (void)n_out;
    out[0].dtype = AIS_DTYPE_F32;
    out[0].ndim = (uint32_t)p.ond;
    memcpy(out[0].dims, p.odims, p.ond * sizeof *p.odims);
    return AIS_OK;
}

static ais_status ais__mmb_prepare(const ais__op_ctx *ctx, void **state) {
    ais__gemm_epilogue ep;
    AIS__CHECK(ais__mmb_act(ctx->attrs, &ep));
    AIS__CHECK(ais__mm_prepare(ctx, state));
    ((ais__mm_state *)*state)->act = ep;
    return AIS_OK;
}

static ais_status ais__mmb_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    const void *vs;
    AIS__CHECK(ais__op_state(ctx, &vs));
    const ais__mm_state *st = vs;
    const ais_tensor *bias = n_in > 2 ? in[2] : NULL, *z = n_in > 3 ? in[3] : NULL;
    ais_tensor *y = out[0];
    (void)n_out;
    ais__gemm_epilogue ep = st->act;
    ep.bias = bias ? bias->data : NULL;
    ep.bias_cs = 1;
    bool z_same = z && z->numel == y->numel;
    if (z_same) {
        ep.resid = z->data;
        ep.resid_ld = in[1]->dims[1];
    }
    ais__mm_plan p;
    AIS__CHECK(ais__mm_plan_make(in[0], in[1], &p));
    bool grows = y->numel != (size_t)p.m * p.nbatch * (size_t)p.n;
    if (!z || (z_same && !grows)) return ais__mm_f32_ep(ctx, in[0], in[1], y, &ep);
    /* Z broadcasts: the product with the bias (into Y, or into a buffer of its own when the Add
     * makes Y larger than the product, rare enough to allocate), then the Add's own kernel
     * (in place on Y, which it reads element by element), then the activation. */
    ais__gemm_epilogue act = {.act = ep.act, .act_alpha = ep.act_alpha, .act_beta = ep.act_beta};
    ep.act = AIS__GEMM_ACT_NONE;
    ep.resid = NULL;
    ais_tensor prod = *y, *pp = y;
    float *tmp = NULL;
    if (grows) {
        size_t bytes;
        if (!ais__mul_size((size_t)p.m * p.nbatch, (size_t)p.n * sizeof(float), &bytes))
            return ais__error(AIS_E_LIMIT, "the product is too large");
        tmp = ais__malloc_aligned(bytes ? bytes : 1, 64);
        if (!tmp) return ais__oom(bytes, "FusedMatMulBias product");
        ais__tensor_init_borrowed(&prod, AIS_DTYPE_F32, p.odims, p.ond, tmp);
        pp = &prod;
    }
    ais_status s = ais__mm_f32_ep(ctx, in[0], in[1], pp, &ep);
    if (s == AIS_OK) s = ais__op_add(ctx, pp, z, out[0]);
    ais__free(tmp);
    AIS__CHECK(s);
    int64_t n = y->ndim ? y->dims[y->ndim - 1] : 1;
    if (act.act != AIS__GEMM_ACT_NONE && n > 0)
        ais__gemm_epilogue_apply(ais__cpu(), &act, y->data, n, (int64_t)y->numel / n, n);
    return AIS_OK;
}

#define AIS__FUSED_MM_DEF(NAME, MAXIN)                                                             \
    {                                                                                              \
        .domain = "com.microsoft", .name = NAME, .since_version = 1, .min_inputs = 2,              \
        .max_inputs = MAXIN, .min_outputs = 1, .max_outputs = 1, .infer = ais__fused_infer,        \
        .compute = ais__fused_compute, .prepare = ais__fused_mm_prepare,                           \
        .release = ais__mm_release                                                                 \
    }

const ais__op_def ais__ops_fused[] = {
    AIS__FUSED_MM_DEF("FusedGemm", 3),
    AIS__FUSED_MM_DEF("FusedMatMul", 2),
    {.domain = "com.microsoft",
     .name = "FusedMatMulBias",
     .since_version = 1,
     .min_inputs = 2,
     .max_inputs = 4,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__mmb_infer,
     .compute = ais__mmb_compute,
     .prepare = ais__mmb_prepare,
     .release = ais__mm_release},
    {.name = NULL},
};
