/*
 * unary.c - elementwise operators of one input: math functions, activations, Clip, tests
 * (IsNaN, IsInf) and Not. f32 and f64 have their own kernels; f16 and bf16 run the f32 kernel
 * through conversion; integer kernels exist where the ONNX schema allows integers.
 */
#include <float.h>
#include <tgmath.h>

#include "cpu/cpu.h"
#include "elementwise_core.h"

/* The literal v in the kernel's element type, so f32 kernels stay in single precision. */
#define C(v) ((ais__T)(v))

#define AIS__EW_FLOAT_OP(NAME, EXPR)                                                               \
    AIS__EW_FLOATS(AIS__EW_UN_F, NAME, EXPR)                                                       \
    static const ais__ew_fn NAME##_fns[AIS__EW_NDTYPES] = {AIS__EW_FLOATS(AIS__EW_ENTRY, NAME, _)};

/* f32 through the CPU kernel table's vector function KERNEL (lib/cpu), f64 through libm. */
#define AIS__EW_CPU_OP(NAME, EXPR, KERNEL)                                                         \
    AIS__EW_UN_F(NAME, f64, double, double, EXPR)                                                  \
    static void NAME##_f32(void *o, const void *const *in, const size_t *st, size_t n,             \
                           const void *p) {                                                        \
        (void)st, (void)p;                                                                         \
        ais__cpu()->KERNEL((const float *)in[0], (float *)o, n);                                   \
    }                                                                                              \
    static const ais__ew_fn NAME##_fns[AIS__EW_NDTYPES] = {AIS__EW_FLOATS(AIS__EW_ENTRY, NAME, _)};

AIS__EW_FLOAT_OP(reciprocal, C(1) / x)
AIS__EW_FLOAT_OP(floor, floor(x))
AIS__EW_FLOAT_OP(ceil, ceil(x))
/* rint rounds half to even in the default rounding mode, as ONNX Round requires. */
AIS__EW_FLOAT_OP(round, rint(x))
AIS__EW_CPU_OP(exp, exp(x), vexp)
AIS__EW_FLOAT_OP(log, log(x))
AIS__EW_FLOAT_OP(sqrt, sqrt(x))
AIS__EW_CPU_OP(erf, erf(x), verf)
AIS__EW_FLOAT_OP(sin, sin(x))
AIS__EW_FLOAT_OP(cos, cos(x))
AIS__EW_FLOAT_OP(tan, tan(x))
AIS__EW_FLOAT_OP(asin, asin(x))
AIS__EW_FLOAT_OP(acos, acos(x))
AIS__EW_FLOAT_OP(atan, atan(x))
AIS__EW_FLOAT_OP(sinh, sinh(x))
AIS__EW_FLOAT_OP(cosh, cosh(x))
AIS__EW_FLOAT_OP(asinh, asinh(x))
AIS__EW_FLOAT_OP(acosh, acosh(x))
AIS__EW_FLOAT_OP(atanh, atanh(x))
AIS__EW_CPU_OP(tanh, tanh(x), vtanh)
AIS__EW_FLOAT_OP(leakyrelu, x < 0 ? alpha * x : x)
AIS__EW_FLOAT_OP(elu, x < 0 ? alpha * expm1(x) : x)
AIS__EW_FLOAT_OP(selu, x <= 0 ? gamma * (alpha * exp(x) - alpha) : gamma * x)
AIS__EW_FLOAT_OP(celu, x > 0 ? x : alpha * expm1(x / alpha))
/* Both branches stay finite: exp of a non-positive number never overflows. */
AIS__EW_CPU_OP(sigmoid, x >= 0 ? C(1) / (C(1) + exp(-x)) : exp(x) / (C(1) + exp(x)), vsigmoid)
#define AIS__EW_HARDSIG(v) ((v) < 0 ? C(0) : (v) > 1 ? C(1) : (v))
AIS__EW_FLOAT_OP(hardsigmoid, AIS__EW_HARDSIG(alpha *x + beta))
AIS__EW_FLOAT_OP(hardswish, x *AIS__EW_HARDSIG(x / C(6) + C(0.5)))
#define AIS__EW_SOFTPLUS(v) ((v) > 0 ? (v) + log1p(exp(-(v))) : log1p(exp(v)))
AIS__EW_FLOAT_OP(softplus, AIS__EW_SOFTPLUS(x))
AIS__EW_FLOAT_OP(softsign, x / (C(1) + fabs(x)))
AIS__EW_FLOAT_OP(mish, x *tanh(AIS__EW_SOFTPLUS(x)))
AIS__EW_FLOAT_OP(thresholdedrelu, x > alpha ? x : C(0))
AIS__EW_FLOAT_OP(shrink, x<-alpha ? x + beta : x> alpha ? x - beta : C(0))
AIS__EW_UN_F(gelu, f64, double, double,
             mode ? C(0.5) * x *(C(1) + tanh(C(0.7978845608028654) * (x + C(0.044715) * x * x * x)))
                  : C(0.5) * x * (C(1) + erf(x * C(0.7071067811865476))))
/* f32 Gelu: the erf or tanh argument of a block into a buffer, the table's vector function on it,
 * then the product (o may be x itself, so x is read again only after the buffer is done). */
static void gelu_f32(void *o_, const void *const *in, const size_t *st, size_t n, const void *p_) {
    (void)st;
    const ais__ew_uparams *P = p_;
    const bool tanh_mode = P && P->mode;
    const ais__cpu_kernels *k = ais__cpu();
    const float *x = in[0];
    float *o = o_;
    float b[256];
    if (!tanh_mode && k->vgelu) { /* the same operations in one vector pass */
        k->vgelu(x, o, n);
        return;
    }
    for (size_t i0 = 0; i0 < n; i0 += AIS__ARRAY_LEN(b)) {
        size_t m = AIS__MIN(AIS__ARRAY_LEN(b), n - i0);
        if (tanh_mode) {
            for (size_t i = 0; i < m; i++) {
                float v = x[i0 + i];
                b[i] = 0.7978845608028654f * (v + 0.044715f * v * v * v);
            }
            k->vtanh(b, b, m);
        } else {
            for (size_t i = 0; i < m; i++)
                b[i] = x[i0 + i] * 0.7071067811865476f;
            k->verf(b, b, m);
        }
        for (size_t i = 0; i < m; i++)
            o[i0 + i] = 0.5f * x[i0 + i] * (1.0f + b[i]);
    }
}
static const ais__ew_fn gelu_fns[AIS__EW_NDTYPES] = {AIS__EW_FLOATS(AIS__EW_ENTRY, gelu, _)};

/* Operators that also take integers. */
AIS__EW_FLOATS(AIS__EW_UN_F, abs, fabs(x))
AIS__EW_SINTS(AIS__EW_UN_I, abs, x < 0 ? (ais__T)((ais__U)0 - (ais__U)x) : x)
AIS__EW_UINTS(AIS__EW_UN_I, abs, x)
static const ais__ew_fn abs_fns[AIS__EW_NDTYPES] = {AIS__EW_FLOATS(AIS__EW_ENTRY, abs, _)
                                                        AIS__EW_SINTS(AIS__EW_ENTRY, abs, _)
                                                            AIS__EW_UINTS(AIS__EW_ENTRY, abs, _)};
AIS__EW_FLOATS(AIS__EW_UN_F, neg, -x)
AIS__EW_SINTS(AIS__EW_UN_I, neg, (ais__T)((ais__U)0 - (ais__U)x))
static const ais__ew_fn neg_fns[AIS__EW_NDTYPES] = {AIS__EW_FLOATS(AIS__EW_ENTRY, neg, _)
                                                        AIS__EW_SINTS(AIS__EW_ENTRY, neg, _)};
/* NaN and signed zeros pass through (x is returned when it is neither above nor below 0). */
AIS__EW_FLOATS(AIS__EW_UN_F, sign, x > 0 ? C(1) : x < 0 ? C(-1) : x)
AIS__EW_SINTS(AIS__EW_UN_I, sign, x > 0 ? 1 : x < 0 ? -1 : 0)
AIS__EW_UINTS(AIS__EW_UN_I, sign, x > 0)
static const ais__ew_fn sign_fns[AIS__EW_NDTYPES] = {AIS__EW_FLOATS(AIS__EW_ENTRY, sign, _)
                                                         AIS__EW_SINTS(AIS__EW_ENTRY, sign, _)
                                                             AIS__EW_UINTS(AIS__EW_ENTRY, sign, _)};
/* Written so that NaN passes through, as in max(x, 0) of the reference. */
AIS__EW_FLOATS(AIS__EW_UN_F, relu, x < 0 ? C(0) : x)
AIS__EW_SINTS(AIS__EW_UN_I, relu, x < 0 ? 0 : x)
static const ais__ew_fn relu_fns[AIS__EW_NDTYPES] = {AIS__EW_FLOATS(AIS__EW_ENTRY, relu, _)
                                                         AIS__EW_SINTS(AIS__EW_ENTRY, relu, _)};
/* min(max(x, lo), hi): when lo > hi every value becomes hi, as in the reference. */
#define AIS__EW_CLIP(lo, hi) ((x < (lo) ? (lo) : x) > (hi) ? (hi) : (x < (lo) ? (lo) : x))
AIS__EW_FLOATS(AIS__EW_UN_F, clip, AIS__EW_CLIP(alpha, beta))
AIS__EW_SINTS(AIS__EW_UN_I, clip, AIS__EW_CLIP((ais__T)P->ilo, (ais__T)P->ihi))
AIS__EW_UINTS(AIS__EW_UN_I, clip, AIS__EW_CLIP((ais__T)P->ulo, (ais__T)P->uhi))
static const ais__ew_fn clip_fns[AIS__EW_NDTYPES] = {AIS__EW_FLOATS(AIS__EW_ENTRY, clip, _)
                                                         AIS__EW_SINTS(AIS__EW_ENTRY, clip, _)
                                                             AIS__EW_UINTS(AIS__EW_ENTRY, clip, _)};

AIS__EW_FLOATS(AIS__EW_UN_FB, isnan, x != x)
AIS__EW_FLOATS(AIS__EW_UN_FB, isinf,
               ((mode & 1) && x == -(ais__T)INFINITY) || ((mode & 2) && x == (ais__T)INFINITY))
static const ais__ew_fn isnan_fns[AIS__EW_NDTYPES] = {AIS__EW_FLOATS(AIS__EW_ENTRY, isnan, _)};
static const ais__ew_fn isinf_fns[AIS__EW_NDTYPES] = {AIS__EW_FLOATS(AIS__EW_ENTRY, isinf, _)};

AIS__EW_BOOLS(AIS__EW_UN_I, not, x == 0)
static const ais__ew_fn not_fns[AIS__EW_NDTYPES] = {AIS__EW_BOOLS(AIS__EW_ENTRY, not, _)};

/* ---- parameters from attributes (and Clip's optional inputs) ---- */

typedef ais_status (*ais__ew_param_fn)(const ais__op_ctx *ctx, const ais_tensor *const *in,
                                       size_t n_in, ais__ew_uparams *p);

static ais_status ais__p_alpha(const ais__op_ctx *ctx, ais__ew_uparams *p, double dflt) {
    p->alpha = ais__attr_float(ctx->attrs, "alpha", (float)dflt);
    return AIS_OK;
}
static ais_status ais__p_leakyrelu(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__ew_uparams *p) {
    return ais__p_alpha(ctx, p, 0.01);
}
static ais_status ais__p_one(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                             ais__ew_uparams *p) {
    return ais__p_alpha(ctx, p, 1.0);
}
static ais_status ais__p_celu(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                              ais__ew_uparams *p) {
    p->alpha = ais__attr_float(ctx->attrs, "alpha", 1.0f);
    if (p->alpha == 0) return ais__error(AIS_E_INVALID_ARGUMENT, "attribute alpha must not be 0");
    return AIS_OK;
}
static ais_status ais__p_selu(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                              ais__ew_uparams *p) {
    p->alpha = ais__attr_float(ctx->attrs, "alpha", 1.67326319217681884765625f);
    p->gamma = ais__attr_float(ctx->attrs, "gamma", 1.05070102214813232421875f);
    return AIS_OK;
}
static ais_status ais__p_hardsigmoid(const ais__op_ctx *ctx, const ais_tensor *const *in,
                                     size_t n_in, ais__ew_uparams *p) {
    p->alpha = ais__attr_float(ctx->attrs, "alpha", 0.2f);
    p->beta = ais__attr_float(ctx->attrs, "beta", 0.5f);
    return AIS_OK;
}
static ais_status ais__p_shrink(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__ew_uparams *p) {
    p->alpha = ais__attr_float(ctx->attrs, "lambd", 0.5f);
    p->beta = ais__attr_float(ctx->attrs, "bias", 0.0f);
    return AIS_OK;
}
static ais_status ais__p_gelu(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                              ais__ew_uparams *p) {
    const char *a = ais__attr_string(ctx->attrs, "approximate", "none");
    if (strcmp(a, "none") == 0)
        p->mode = 0;
    else if (strcmp(a, "tanh") == 0)
        p->mode = 1;
    else
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "attribute approximate must be \"none\" or \"tanh\", got \"%s\"", a);
    return AIS_OK;
}
static ais_status ais__p_isinf(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                               ais__ew_uparams *p) {
    p->mode = (ais__attr_int(ctx->attrs, "detect_negative", 1) ? 1 : 0) |
              (ais__attr_int(ctx->attrs, "detect_positive", 1) ? 2 : 0);
    return AIS_OK;
}

/* Integer range of dtype d: what an absent Clip bound means for integer inputs (INT64_MIN
 * cast to int8 would wrap to 0, so the defaults must be the element type's own extremes). */
static void ais__int_range(ais_dtype d, int64_t *lo, int64_t *hi, uint64_t *uhi) {
    *lo = 0;
    *hi = INT64_MAX;
    *uhi = UINT64_MAX;
    switch (d) {
    case AIS_DTYPE_I8: *lo = INT8_MIN, *hi = INT8_MAX; break;
    case AIS_DTYPE_I16: *lo = INT16_MIN, *hi = INT16_MAX; break;
    case AIS_DTYPE_I32: *lo = INT32_MIN, *hi = INT32_MAX; break;
    case AIS_DTYPE_I64: *lo = INT64_MIN; break;
    case AIS_DTYPE_U8: *uhi = UINT8_MAX; break;
    case AIS_DTYPE_U16: *uhi = UINT16_MAX; break;
    case AIS_DTYPE_U32: *uhi = UINT32_MAX; break;
    default: break;
    }
}

/* Clip's bound k (1: min, 2: max): an attribute before opset 11, an optional scalar input of
 * the input's dtype since. An absent bound does not clip: infinities for floats, the type's
 * lowest or highest value for integers. With read_values false only dtypes and shapes are
 * checked: at plan time the bounds may be graph inputs whose data does not exist yet. */
static ais_status ais__clip_bounds(const ais__op_ctx *ctx, const ais_tensor *const *in,
                                   size_t n_in, bool read_values, ais__ew_uparams *p) {
    p->alpha = -INFINITY;
    p->beta = INFINITY;
    ais__int_range(in[0]->dtype, &p->ilo, &p->ihi, &p->uhi);
    p->ulo = 0;
    if (ctx->opset < 11) {
        p->alpha = ais__attr_float(ctx->attrs, "min", -INFINITY);
        p->beta = ais__attr_float(ctx->attrs, "max", INFINITY);
        return AIS_OK;
    }
    static const char *const names[3] = {"input", "min", "max"};
    for (size_t k = 1; k < 3 && k < n_in; k++) {
        const ais_tensor *b = in[k];
        if (!b) continue;
        AIS__CHECK(ais__expect_same_dtype(in[0], names[0], b, names[k]));
        if (b->numel != 1 || b->ndim > 1) {
            char s[AIS__SHAPE_STR_MAX];
            return ais__error(AIS_E_SHAPE, "%s must be a scalar, got shape %s", names[k],
                              ais__shape_str(b->dims, b->ndim, s, sizeof s));
        }
        if (!read_values) continue;
        if (ais__dtype_is_float(b->dtype)) {
            double v = ais__load_f64(b->data, b->dtype, 0);
            *(k == 1 ? &p->alpha : &p->beta) = v;
        } else if (ais__dtype_is_signed(b->dtype)) {
            *(k == 1 ? &p->ilo : &p->ihi) = ais__load_i64(b->data, b->dtype, 0);
        } else {
            *(k == 1 ? &p->ulo : &p->uhi) = (uint64_t)ais__load_i64(b->data, b->dtype, 0);
        }
    }
    return AIS_OK;
}
static ais_status ais__p_clip_check(const ais__op_ctx *ctx, const ais_tensor *const *in,
                                    size_t n_in, ais__ew_uparams *p) {
    return ais__clip_bounds(ctx, in, n_in, false, p);
}
static ais_status ais__p_clip(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                              ais__ew_uparams *p) {
    return ais__clip_bounds(ctx, in, n_in, true, p);
}

static ais_status ais__p_hardswish(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__ew_uparams *p) {
    return AIS_OK;
}

/* ---- infer and compute ---- */

static ais_status ais__un_infer(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, const ais__ew_fn *table, bool to_bool,
                                ais__ew_param_fn params) {
    bool via;
    if (!ais__ew_pick(table, in[0]->dtype, &via)) return ais__ew_dtype_error(table, in[0], "X");
    if (params) {
        ais__ew_uparams p;
        memset(&p, 0, sizeof p);
        AIS__CHECK(params(ctx, in, n_in, &p));
    }
    ais__desc_from(out, in[0]);
    if (to_bool) out->dtype = AIS_DTYPE_BOOL;
    return AIS_OK;
}

static ais_status ais__un_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais_tensor *out, const ais__ew_fn *table,
                                  ais__ew_param_fn params) {
    bool via;
    ais__ew_fn fn = ais__ew_pick(table, in[0]->dtype, &via);
    if (!fn) return ais__ew_dtype_error(table, in[0], "X");
    ais__ew_uparams p;
    memset(&p, 0, sizeof p);
    if (params) AIS__CHECK(params(ctx, in, n_in, &p));
    ais__ew_apply(ctx, out, in, 1, fn, &p, via ? AIS__EW_VIA_F32 : 0);
    return AIS_OK;
}

#define AIS__EW_UNARY_OP(NAME, TO_BOOL, PARAMS)                                                    \
    static ais_status ais__##NAME##_infer(ais__op_ctx *ctx, const ais_tensor *const *in,           \
                                          size_t n_in, ais__tensor_desc *out, size_t n_out) {      \
        return ais__un_infer(ctx, in, n_in, out, NAME##_fns, TO_BOOL, PARAMS);                     \
    }                                                                                              \
    static ais_status ais__##NAME##_compute(ais__op_ctx *ctx, const ais_tensor *const *in,         \
                                            size_t n_in, ais_tensor *const *out, size_t n_out) {   \
        return ais__un_compute(ctx, in, n_in, out[0], NAME##_fns, PARAMS);                         \
    }

AIS__EW_UNARY_OP(abs, false, NULL)
AIS__EW_UNARY_OP(neg, false, NULL)
AIS__EW_UNARY_OP(reciprocal, false, NULL)
AIS__EW_UNARY_OP(floor, false, NULL)
AIS__EW_UNARY_OP(ceil, false, NULL)
AIS__EW_UNARY_OP(round, false, NULL)
AIS__EW_UNARY_OP(sign, false, NULL)
AIS__EW_UNARY_OP(exp, false, NULL)
AIS__EW_UNARY_OP(log, false, NULL)
AIS__EW_UNARY_OP(sqrt, false, NULL)
AIS__EW_UNARY_OP(erf, false, NULL)
AIS__EW_UNARY_OP(sin, false, NULL)
AIS__EW_UNARY_OP(cos, false, NULL)
AIS__EW_UNARY_OP(tan, false, NULL)
AIS__EW_UNARY_OP(asin, false, NULL)
AIS__EW_UNARY_OP(acos, false, NULL)
AIS__EW_UNARY_OP(atan, false, NULL)
AIS__EW_UNARY_OP(sinh, false, NULL)
AIS__EW_UNARY_OP(cosh, false, NULL)
AIS__EW_UNARY_OP(asinh, false, NULL)
AIS__EW_UNARY_OP(acosh, false, NULL)
AIS__EW_UNARY_OP(atanh, false, NULL)
AIS__EW_UNARY_OP(not, false, NULL)
AIS__EW_UNARY_OP(isnan, true, NULL)
AIS__EW_UNARY_OP(isinf, true, ais__p_isinf)
AIS__EW_UNARY_OP(relu, false, NULL)
AIS__EW_UNARY_OP(leakyrelu, false, ais__p_leakyrelu)
AIS__EW_UNARY_OP(elu, false, ais__p_one)
AIS__EW_UNARY_OP(selu, false, ais__p_selu)
AIS__EW_UNARY_OP(celu, false, ais__p_celu)
AIS__EW_UNARY_OP(sigmoid, false, NULL)
AIS__EW_UNARY_OP(hardsigmoid, false, ais__p_hardsigmoid)
AIS__EW_UNARY_OP(hardswish, false, ais__p_hardswish)
AIS__EW_UNARY_OP(tanh, false, NULL)
AIS__EW_UNARY_OP(softplus, false, NULL)
AIS__EW_UNARY_OP(softsign, false, NULL)
AIS__EW_UNARY_OP(gelu, false, ais__p_gelu)
AIS__EW_UNARY_OP(thresholdedrelu, false, ais__p_one)
AIS__EW_UNARY_OP(mish, false, NULL)
AIS__EW_UNARY_OP(shrink, false, ais__p_shrink)
/* Clip's infer checks its bounds without reading them (they are not value inputs). */
static ais_status ais__clip_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    return ais__un_infer(ctx, in, n_in, out, clip_fns, false, ais__p_clip_check);
}
static ais_status ais__clip_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    return ais__un_compute(ctx, in, n_in, out[0], clip_fns, ais__p_clip);
}

#define AIS__EW_DEF_IO(DOMAIN, NAME, SINCE, MAXIN, FN)                                             \
    {                                                                                              \
        .domain = DOMAIN, .name = NAME, .since_version = SINCE, .min_inputs = 1,                   \
        .max_inputs = MAXIN, .min_outputs = 1, .max_outputs = 1, .infer = ais__##FN##_infer,       \
        .compute = ais__##FN##_compute                                                             \
    }
#define AIS__EW_DEF(NAME, SINCE, FN) AIS__EW_DEF_IO("", NAME, SINCE, 1, FN)

/* since_version is the opset that introduced the operator (or its current semantics); versions
 * in between changed only the accepted dtypes. */
const ais__op_def ais__ops_unary[] = {
    AIS__EW_DEF("Abs", 1, abs),
    AIS__EW_DEF("Neg", 1, neg),
    AIS__EW_DEF("Reciprocal", 1, reciprocal),
    AIS__EW_DEF("Floor", 1, floor),
    AIS__EW_DEF("Ceil", 1, ceil),
    AIS__EW_DEF("Round", 11, round),
    AIS__EW_DEF("Sign", 9, sign),
    AIS__EW_DEF("Exp", 1, exp),
    AIS__EW_DEF("Log", 1, log),
    AIS__EW_DEF("Sqrt", 1, sqrt),
    AIS__EW_DEF("Erf", 9, erf),
    AIS__EW_DEF("Sin", 7, sin),
    AIS__EW_DEF("Cos", 7, cos),
    AIS__EW_DEF("Tan", 7, tan),
    AIS__EW_DEF("Asin", 7, asin),
    AIS__EW_DEF("Acos", 7, acos),
    AIS__EW_DEF("Atan", 7, atan),
    AIS__EW_DEF("Sinh", 9, sinh),
    AIS__EW_DEF("Cosh", 9, cosh),
    AIS__EW_DEF("Asinh", 9, asinh),
    AIS__EW_DEF("Acosh", 9, acosh),
    AIS__EW_DEF("Atanh", 9, atanh),
    AIS__EW_DEF("Not", 1, not ),
    AIS__EW_DEF("IsNaN", 9, isnan),
    AIS__EW_DEF("IsInf", 10, isinf),
    AIS__EW_DEF("Relu", 1, relu),
    AIS__EW_DEF("LeakyRelu", 1, leakyrelu),
    AIS__EW_DEF("Elu", 1, elu),
    AIS__EW_DEF("Selu", 1, selu),
    AIS__EW_DEF("Celu", 12, celu),
    AIS__EW_DEF("Sigmoid", 1, sigmoid),
    AIS__EW_DEF("HardSigmoid", 1, hardsigmoid),
    AIS__EW_DEF("HardSwish", 14, hardswish),
    AIS__EW_DEF("Tanh", 1, tanh),
    AIS__EW_DEF("Softplus", 1, softplus),
    AIS__EW_DEF("Softsign", 1, softsign),
    /* Gelu joined ai.onnx in opset 20, but exporters emitted it earlier (and ONNX Runtime has
     * it in com.microsoft), so it is found at any opset. */
    AIS__EW_DEF("Gelu", 1, gelu),
    AIS__EW_DEF_IO("com.microsoft", "Gelu", 1, 1, gelu),
    AIS__EW_DEF("ThresholdedRelu", 10, thresholdedrelu),
    AIS__EW_DEF("Mish", 18, mish),
    AIS__EW_DEF("Shrink", 9, shrink),
    /* Clip: min and max are attributes before opset 11 and optional inputs since. */
    AIS__EW_DEF("Clip", 1, clip),
    AIS__EW_DEF_IO("", "Clip", 11, 3, clip),
    {.name = NULL},
};
