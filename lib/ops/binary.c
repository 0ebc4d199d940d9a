/*
 * binary.c - broadcasting operators of two or more inputs: arithmetic, comparisons, logic,
 * bit shifts, PRelu, Where and the variadic Sum, Mean, Max, Min.
 *
 * Integer arithmetic wraps (computed in the unsigned type). Integer Div and Mod never trap: a
 * zero divisor gives 0, and INT_MIN / -1 gives INT_MIN (the wrapped quotient) with remainder 0.
 */
#include <tgmath.h>

#include "elementwise_core.h"

/* ---- kernels ---- */

#define AIS__EW_NUM(X, NAME, EXPR_F, EXPR_I)                                                       \
    AIS__EW_FLOATS(X, NAME, EXPR_F) AIS__EW_SINTS(X, NAME, EXPR_I) AIS__EW_UINTS(X, NAME, EXPR_I)
#define AIS__EW_NUM_TABLE(NAME)                                                                    \
    static const ais__ew_fn NAME##_fns[AIS__EW_NDTYPES] = {                                        \
        AIS__EW_FLOATS(AIS__EW_ENTRY, NAME, _) AIS__EW_SINTS(AIS__EW_ENTRY, NAME, _)               \
            AIS__EW_UINTS(AIS__EW_ENTRY, NAME, _)}

#define AIS__EW_WRAP(op) ((ais__T)((ais__U)a op(ais__U) b))
AIS__EW_NUM(AIS__EW_BIN, add, a + b, AIS__EW_WRAP(+))
AIS__EW_NUM(AIS__EW_BIN, sub, a - b, AIS__EW_WRAP(-))
AIS__EW_NUM(AIS__EW_BIN, mul, a *b, AIS__EW_WRAP(*))
AIS__EW_NUM_TABLE(add);
AIS__EW_NUM_TABLE(sub);
AIS__EW_NUM_TABLE(mul);

AIS__EW_FLOATS(AIS__EW_BIN, div, a / b)
AIS__EW_SINTS(AIS__EW_BIN, div, b == 0 ? 0 : b == -1 ? (ais__T)((ais__U)0 - (ais__U)a) : a / b)
AIS__EW_UINTS(AIS__EW_BIN, div, b == 0 ? 0 : a / b)
AIS__EW_NUM_TABLE(div);

/* Mod with fmod=1 (sign of the dividend) and fmod=0 (sign of the divisor, like Python). */
static inline double ais__ew_fmod_floor(double a, double b) {
    double r = fmod(a, b);
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
static inline float ais__ew_fmod_floorf(float a, float b) {
    float r = fmod(a, b);
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
AIS__EW_FLOATS(AIS__EW_BIN, fmod, fmod(a, b))
AIS__EW_SINTS(AIS__EW_BIN, fmod, (b == 0 || b == -1) ? 0 : a % b)
AIS__EW_UINTS(AIS__EW_BIN, fmod, b == 0 ? 0 : a % b)
AIS__EW_NUM_TABLE(fmod);
AIS__EW_BIN(mod, f32, float, float, ais__ew_fmod_floorf(a, b))
AIS__EW_BIN(mod, f64, double, double, ais__ew_fmod_floor(a, b))
AIS__EW_SINTS(AIS__EW_BIN, mod,
              (b == 0 || b == -1)                        ? 0
              : (a % b != 0 && ((a % b < 0) != (b < 0))) ? a % b + b
                                                         : a % b)
AIS__EW_UINTS(AIS__EW_BIN, mod, b == 0 ? 0 : a % b)
AIS__EW_NUM_TABLE(mod);

/* Integer powers wrap like repeated multiplication; negative exponents give 0 except for bases
 * 1 and -1 (NumPy raises there instead). */
static inline uint64_t ais__ew_ipow(int64_t base, int64_t e) {
    if (e < 0) return base == 1 ? 1 : base == -1 ? ((e & 1) ? UINT64_MAX : 1) : 0;
    uint64_t r = 1, b = (uint64_t)base;
    while (e) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return r;
}
AIS__EW_NUM(AIS__EW_BIN, pow, pow(a, b), ais__ew_ipow((int64_t)a, (int64_t)b))
AIS__EW_NUM_TABLE(pow);

/* Max and Min propagate NaN, like NumPy's maximum and minimum. */
#define AIS__EW_MAXF (a > b || a != a ? a : b)
#define AIS__EW_MINF (a < b || a != a ? a : b)
AIS__EW_NUM(AIS__EW_BIN, max, AIS__EW_MAXF, a > b ? a : b)
AIS__EW_NUM(AIS__EW_BIN, min, AIS__EW_MINF, a < b ? a : b)
AIS__EW_NUM_TABLE(max);
AIS__EW_NUM_TABLE(min);
AIS__EW_NUM(AIS__EW_ACC, acc_max, AIS__EW_MAXF, a > b ? a : b)
AIS__EW_NUM(AIS__EW_ACC, acc_min, AIS__EW_MINF, a < b ? a : b)
AIS__EW_NUM(AIS__EW_ACC, acc_add, a + b, AIS__EW_WRAP(+))
AIS__EW_NUM_TABLE(acc_max);
AIS__EW_NUM_TABLE(acc_min);
AIS__EW_NUM_TABLE(acc_add);

/* Bools compare as truth values: any non-zero byte is true (see AIS_DTYPE_BOOL), so Equal(2, 1)
 * holds as Not, And and Where already read it. */
#define AIS__EW_CMP_ALL(NAME, EXPR, BOOL_EXPR)                                                     \
    AIS__EW_NUM(AIS__EW_CMP, NAME, EXPR, EXPR)                                                     \
    AIS__EW_BOOLS(AIS__EW_CMP, NAME, BOOL_EXPR)                                                    \
    static const ais__ew_fn NAME##_fns[AIS__EW_NDTYPES] = {                                        \
        AIS__EW_FLOATS(AIS__EW_ENTRY, NAME, _) AIS__EW_SINTS(AIS__EW_ENTRY, NAME, _)               \
            AIS__EW_UINTS(AIS__EW_ENTRY, NAME, _) AIS__EW_BOOLS(AIS__EW_ENTRY, NAME, _)};
AIS__EW_CMP_ALL(eq, a == b, (a != 0) == (b != 0))
AIS__EW_CMP_ALL(lt, a < b, (a != 0) < (b != 0))
AIS__EW_CMP_ALL(gt, a > b, (a != 0) > (b != 0))
AIS__EW_CMP_ALL(le, a <= b, (a != 0) <= (b != 0))
AIS__EW_CMP_ALL(ge, a >= b, (a != 0) >= (b != 0))

#define AIS__EW_BOOL_OP(NAME, EXPR)                                                                \
    AIS__EW_BOOLS(AIS__EW_BIN, NAME, EXPR)                                                         \
    static const ais__ew_fn NAME##_fns[AIS__EW_NDTYPES] = {AIS__EW_BOOLS(AIS__EW_ENTRY, NAME, _)};
AIS__EW_BOOL_OP(and, (a != 0) & (b != 0))
AIS__EW_BOOL_OP(or, (a != 0) | (b != 0))
AIS__EW_BOOL_OP(xor, (a != 0) ^ (b != 0))

/* Shifts by the type's width or more give 0 (C leaves them undefined). */
#define AIS__EW_SHIFT_OP(NAME, OP)                                                                 \
    AIS__EW_UINTS(AIS__EW_BIN, NAME, b >= sizeof(ais__T) * 8 ? 0 : (ais__U)a OP b)                 \
    static const ais__ew_fn NAME##_fns[AIS__EW_NDTYPES] = {AIS__EW_UINTS(AIS__EW_ENTRY, NAME, _)};
AIS__EW_SHIFT_OP(shl, <<)
AIS__EW_SHIFT_OP(shr, >>)

AIS__EW_FLOATS(AIS__EW_BIN, prelu, a < 0 ? a * b : a)
AIS__EW_SINTS(AIS__EW_BIN, prelu, a < 0 ? (ais__T)((ais__U)a * (ais__U)b) : a)
static const ais__ew_fn prelu_fns[AIS__EW_NDTYPES] = {AIS__EW_FLOATS(AIS__EW_ENTRY, prelu, _)
                                                          AIS__EW_SINTS(AIS__EW_ENTRY, prelu, _)};

/* Mean divides the sum by the count at the end: o[i] /= n. */
static void ais__ew_scale_f32(void *o_, const void *const *in, const size_t *st, size_t n,
                              const void *p) {
    float *restrict o = o_;
    const float s = (float)*(const double *)p;
    for (size_t i = 0; i < n; i++)
        o[i] = o[i] / s;
}
static void ais__ew_scale_f64(void *o_, const void *const *in, const size_t *st, size_t n,
                              const void *p) {
    double *restrict o = o_;
    const double s = *(const double *)p;
    for (size_t i = 0; i < n; i++)
        o[i] = o[i] / s;
}
static const ais__ew_fn scale_fns[AIS__EW_NDTYPES] = {
    [AIS_DTYPE_F32] = ais__ew_scale_f32, [AIS_DTYPE_F64] = ais__ew_scale_f64};

/* Where selects bits, so one kernel per element size serves every dtype. */
#define AIS__EW_WHERE(SFX, T)                                                                      \
    static void ais__ew_where_##SFX(void *o_, const void *const *in, const size_t *st, size_t n,   \
                                    const void *p) {                                               \
        T *restrict o = o_;                                                                        \
        const uint8_t *restrict c = in[0];                                                         \
        const T *restrict x = in[1];                                                               \
        const T *restrict y = in[2];                                                               \
        size_t sc = st[0], sx = st[1], sy = st[2];                                                 \
        if (sc && sx && sy) {                                                                      \
            for (size_t i = 0; i < n; i++)                                                         \
                o[i] = c[i] ? x[i] : y[i];                                                         \
        } else {                                                                                   \
            for (size_t i = 0; i < n; i++)                                                         \
                o[i] = c[i * sc] ? x[i * sx] : y[i * sy];                                          \
        }                                                                                          \
    }
AIS__EW_WHERE(1, uint8_t)
AIS__EW_WHERE(2, uint16_t)
AIS__EW_WHERE(4, uint32_t)
AIS__EW_WHERE(8, uint64_t)

/* Pow with base and exponent of different dtypes: element by element through double (or
 * int64 when both are integers). The result has the base's dtype. */
typedef struct ais__ew_pow_mixed {
    ais_dtype a, b;
} ais__ew_pow_mixed;

static void ais__ew_store_int(void *o, ais_dtype d, size_t i, uint64_t v) {
    switch (d) {
    case AIS_DTYPE_I8: ((int8_t *)o)[i] = (int8_t)v; break;
    case AIS_DTYPE_U8: ((uint8_t *)o)[i] = (uint8_t)v; break;
    case AIS_DTYPE_I16: ((int16_t *)o)[i] = (int16_t)v; break;
    case AIS_DTYPE_U16: ((uint16_t *)o)[i] = (uint16_t)v; break;
    case AIS_DTYPE_I32: ((int32_t *)o)[i] = (int32_t)v; break;
    case AIS_DTYPE_U32: ((uint32_t *)o)[i] = (uint32_t)v; break;
    case AIS_DTYPE_I64: ((int64_t *)o)[i] = (int64_t)v; break;
    case AIS_DTYPE_U64: ((uint64_t *)o)[i] = v; break;
    default: break;
    }
}

static void ais__ew_pow_generic(void *o, const void *const *in, const size_t *st, size_t n,
                                const void *p_) {
    const ais__ew_pow_mixed *p = p_;
    bool ints = ais__dtype_is_int(p->a) && ais__dtype_is_int(p->b);
    for (size_t i = 0; i < n; i++) {
        if (ints) {
            ais__ew_store_int(o, p->a, i,
                              ais__ew_ipow(ais__load_i64(in[0], p->a, i * st[0]),
                                           ais__load_i64(in[1], p->b, i * st[1])));
        } else {
            double r =
                pow(ais__load_f64(in[0], p->a, i * st[0]), ais__load_f64(in[1], p->b, i * st[1]));
            ais__store_f64(o, p->a, i, r);
        }
    }
}

/* ---- shared infer and compute ---- */

static ais_status ais__ew_check(const ais__ew_fn *table, const ais_tensor *t, const char *what) {
    bool via;
    if (ais__ew_pick(table, t->dtype, &via)) return AIS_OK;
    return ais__ew_dtype_error(table, t, what);
}

static ais_status ais__ew_bin_infer(const ais_tensor *const *in, ais__tensor_desc *out,
                                    const ais__ew_fn *table, bool to_bool) {
    AIS__CHECK(ais__expect_same_dtype(in[0], "A", in[1], "B"));
    AIS__CHECK(ais__ew_check(table, in[0], "A"));
    AIS__CHECK(ais__ew_broadcast(in, 2, out));
    out->dtype = to_bool ? AIS_DTYPE_BOOL : in[0]->dtype;
    return AIS_OK;
}

static ais_status ais__ew_bin_compute(ais__op_ctx *ctx, const ais_tensor *const *in,
                                      ais_tensor *out, const ais__ew_fn *table) {
    bool via;
    ais__ew_fn fn = ais__ew_pick(table, in[0]->dtype, &via);
    if (!fn) return ais__ew_dtype_error(table, in[0], "A");
    ais__ew_apply(ctx, out, in, 2, fn, NULL, via ? AIS__EW_VIA_F32 : 0);
    return AIS_OK;
}

#define AIS__EW_BINARY_OP(Name, table_expr, to_bool)                                               \
    static ais_status ais__##Name##_infer(ais__op_ctx *ctx, const ais_tensor *const *in,           \
                                          size_t n_in, ais__tensor_desc *out, size_t n_out) {      \
        return ais__ew_bin_infer(in, out, table_expr, to_bool);                                    \
    }                                                                                              \
    static ais_status ais__##Name##_compute(ais__op_ctx *ctx, const ais_tensor *const *in,         \
                                            size_t n_in, ais_tensor *const *out, size_t n_out) {   \
        return ais__ew_bin_compute(ctx, in, out[0], table_expr);                                   \
    }

static const ais__ew_fn *ais__ew_mod_table(const ais__op_ctx *ctx) {
    return ais__attr_int(ctx->attrs, "fmod", 0) ? fmod_fns : mod_fns;
}

static const ais__ew_fn *ais__ew_shift_table(const ais__op_ctx *ctx) {
    const char *dir = ais__attr_string(ctx->attrs, "direction", "");
    if (strcmp(dir, "LEFT") == 0) return shl_fns;
    if (strcmp(dir, "RIGHT") == 0) return shr_fns;
    return NULL;
}

AIS__EW_BINARY_OP(add, add_fns, false)
AIS__EW_BINARY_OP(sub, sub_fns, false)
AIS__EW_BINARY_OP(mul, mul_fns, false)
AIS__EW_BINARY_OP(div, div_fns, false)
AIS__EW_BINARY_OP(mod, ais__ew_mod_table(ctx), false)
AIS__EW_BINARY_OP(eq_num, eq_fns, true)

/* Equal on strings (opset 19): byte-wise equality of the NUL-terminated elements. */
static ais_status ais__eq_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, size_t n_out) {
    if (in[0]->dtype != AIS_DTYPE_STRING && in[1]->dtype != AIS_DTYPE_STRING)
        return ais__eq_num_infer(ctx, in, n_in, out, n_out);
    AIS__CHECK(ais__expect_same_dtype(in[0], "A", in[1], "B"));
    AIS__CHECK(ais__ew_broadcast(in, 2, out));
    out->dtype = AIS_DTYPE_BOOL;
    return AIS_OK;
}

static ais_status ais__eq_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais_tensor *const *out, size_t n_out) {
    if (in[0]->dtype != AIS_DTYPE_STRING)
        return ais__eq_num_compute(ctx, in, n_in, out, n_out);
    ais_tensor *y = out[0];
    size_t nd = y->ndim;
    int64_t sa[AIS_MAX_DIMS], sb[AIS_MAX_DIMS], idx[AIS_MAX_DIMS] = {0};
    ais__broadcast_strides(in[0]->dims, in[0]->ndim, y->dims, nd, sa);
    ais__broadcast_strides(in[1]->dims, in[1]->ndim, y->dims, nd, sb);
    int64_t ia = 0, ib = 0;
    uint8_t *o = y->data;
    for (size_t i = 0; i < y->numel; i++) {
        o[i] = strcmp(ais__str_at(in[0], (size_t)ia), ais__str_at(in[1], (size_t)ib)) == 0;
        for (size_t d = nd; d-- > 0;) { /* odometer over the output's index */
            ia += sa[d];
            ib += sb[d];
            if (++idx[d] < y->dims[d]) break;
            ia -= sa[d] * y->dims[d];
            ib -= sb[d] * y->dims[d];
            idx[d] = 0;
        }
    }
    return AIS_OK;
}
AIS__EW_BINARY_OP(lt, lt_fns, true)
AIS__EW_BINARY_OP(gt, gt_fns, true)
AIS__EW_BINARY_OP(le, le_fns, true)
AIS__EW_BINARY_OP(ge, ge_fns, true)
AIS__EW_BINARY_OP(and, and_fns, false)
AIS__EW_BINARY_OP(or, or_fns, false)
AIS__EW_BINARY_OP(xor, xor_fns, false)

static ais_status ais__bitshift_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais__tensor_desc *out, size_t n_out) {
    const ais__ew_fn *t = ais__ew_shift_table(ctx);
    if (!t)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "attribute direction must be \"LEFT\" or \"RIGHT\", got \"%s\"",
                          ais__attr_string(ctx->attrs, "direction", "(absent)"));
    return ais__ew_bin_infer(in, out, t, false);
}

static ais_status ais__bitshift_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                        ais_tensor *const *out, size_t n_out) {
    const ais__ew_fn *t = ais__ew_shift_table(ctx);
    if (!t) return ais__error(AIS_E_INVALID_ARGUMENT, "attribute direction is not valid");
    return ais__ew_bin_compute(ctx, in, out[0], t);
}

/* ---- Pow: base and exponent may differ in dtype ---- */

static ais_status ais__pow_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    AIS__CHECK(ais__ew_check(pow_fns, in[0], "X (the base)"));
    AIS__CHECK(ais__ew_check(pow_fns, in[1], "Y (the exponent)"));
    AIS__CHECK(ais__ew_broadcast(in, 2, out));
    out->dtype = in[0]->dtype;
    return AIS_OK;
}

static ais_status ais__pow_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    if (in[0]->dtype == in[1]->dtype) return ais__ew_bin_compute(ctx, in, out[0], pow_fns);
    ais__ew_pow_mixed p = {in[0]->dtype, in[1]->dtype};
    ais__ew_apply(ctx, out[0], in, 2, ais__ew_pow_generic, &p, 0);
    return AIS_OK;
}

/* ---- PRelu: the slope broadcasts to X's shape, never the other way ---- */

/* Before opset 7, PRelu had no broadcasting rule: a slope of X's channel count (axis 1) applied
 * per channel, as in Caffe2, and PyTorch's exporter relies on it. For those opsets a 1-D slope
 * of C values is read as [C, 1, ..., 1] through a borrowed view in `view`. */
static const ais_tensor *ais__prelu_slope(const ais__op_ctx *ctx, const ais_tensor *const *in,
                                          ais_tensor *view) {
    const ais_tensor *x = in[0], *slope = in[1];
    if (ctx->opset >= 7 || x->ndim < 2 || slope->ndim != 1 || slope->numel == 1 ||
        slope->dims[0] != x->dims[1])
        return slope;
    int64_t dims[AIS_MAX_DIMS];
    dims[0] = slope->dims[0];
    for (uint32_t i = 1; i + 1 < x->ndim; i++) dims[i] = 1;
    ais__tensor_init_borrowed(view, slope->dtype, dims, x->ndim - 1, slope->data);
    return view;
}

static ais_status ais__prelu_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__tensor_desc *out, size_t n_out) {
    ais_tensor view;
    const ais_tensor *args[2] = {in[0], ais__prelu_slope(ctx, in, &view)};
    AIS__CHECK(ais__ew_bin_infer(args, out, prelu_fns, false));
    if (out->ndim != in[0]->ndim ||
        memcmp(out->dims, in[0]->dims, in[0]->ndim * sizeof(int64_t)) != 0) {
        char a[AIS__SHAPE_STR_MAX], b[AIS__SHAPE_STR_MAX];
        return ais__error(AIS_E_SHAPE, "slope of shape %s does not broadcast to X of shape %s",
                          ais__shape_str(in[1]->dims, in[1]->ndim, b, sizeof b),
                          ais__shape_str(in[0]->dims, in[0]->ndim, a, sizeof a));
    }
    return AIS_OK;
}

static ais_status ais__prelu_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais_tensor *const *out, size_t n_out) {
    ais_tensor view;
    const ais_tensor *args[2] = {in[0], ais__prelu_slope(ctx, in, &view)};
    return ais__ew_bin_compute(ctx, args, out[0], prelu_fns);
}

/* ---- Where ---- */

static ais_status ais__where_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__tensor_desc *out, size_t n_out) {
    if (in[0]->dtype != AIS_DTYPE_BOOL)
        return ais__error(AIS_E_DTYPE, "condition has dtype %s, expected bool",
                          ais_dtype_name(in[0]->dtype));
    AIS__CHECK(ais__expect_same_dtype(in[1], "X", in[2], "Y"));
    size_t es = ais_dtype_size(in[1]->dtype);
    if (es != 1 && es != 2 && es != 4 && es != 8)
        return ais__error(AIS_E_DTYPE, "X has unsupported dtype %s", ais_dtype_name(in[1]->dtype));
    AIS__CHECK(ais__ew_broadcast(in, 3, out));
    out->dtype = in[1]->dtype;
    return AIS_OK;
}

static ais_status ais__where_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais_tensor *const *out, size_t n_out) {
    ais__ew_fn fn;
    switch (ais_dtype_size(in[1]->dtype)) {
    case 1: fn = ais__ew_where_1; break;
    case 2: fn = ais__ew_where_2; break;
    case 4: fn = ais__ew_where_4; break;
    case 8: fn = ais__ew_where_8; break;
    default: return ais__error(AIS_E_DTYPE, "X has unsupported dtype");
    }
    ais__ew_apply(ctx, out[0], in, 3, fn, NULL, 0);
    return AIS_OK;
}

/* ---- variadic Sum, Mean, Max, Min ---- */

typedef struct ais__ew_variadic {
    const ais__ew_fn *pair, *acc;
    bool mean;
} ais__ew_variadic;

static ais__ew_variadic ais__ew_variadic_of(const ais__op_ctx *ctx) {
    ais__ew_variadic v = {add_fns, acc_add_fns, false};
    if (strcmp(ctx->op_type, "Max") == 0) {
        v.pair = max_fns;
        v.acc = acc_max_fns;
    } else if (strcmp(ctx->op_type, "Min") == 0) {
        v.pair = min_fns;
        v.acc = acc_min_fns;
    } else if (strcmp(ctx->op_type, "Mean") == 0) {
        v.mean = true;
    }
    return v;
}

static ais_status ais__variadic_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais__tensor_desc *out, size_t n_out) {
    ais__ew_variadic v = ais__ew_variadic_of(ctx);
    for (size_t i = 0; i < n_in; i++) {
        if (!in[i]) return ais__error(AIS_E_INVALID_ARGUMENT, "input %zu is missing", i);
        if (in[i]->dtype != in[0]->dtype)
            return ais__error(AIS_E_DTYPE, "input 0 is %s but input %zu is %s; they must match",
                              ais_dtype_name(in[0]->dtype), i, ais_dtype_name(in[i]->dtype));
    }
    /* Mean divides, so it takes floating types only. */
    const ais__ew_fn *check = v.mean ? scale_fns : v.pair;
    AIS__CHECK(ais__ew_check(check, in[0], "input 0"));
    AIS__CHECK(ais__ew_broadcast(in, n_in, out));
    out->dtype = in[0]->dtype;
    return AIS_OK;
}

/* Copies (broadcasting) a single input: one kernel per element size. */
#define AIS__EW_COPY(SFX, T)                                                                       \
    static void ais__ew_copy_##SFX(void *o_, const void *const *in, const size_t *st, size_t n,    \
                                   const void *p) {                                                \
        T *restrict o = o_;                                                                        \
        const T *restrict x = in[0];                                                               \
        if (st[0])                                                                                 \
            memcpy(o, x, n * sizeof(T));                                                           \
        else                                                                                       \
            for (size_t i = 0; i < n; i++)                                                         \
                o[i] = x[0];                                                                       \
    }
AIS__EW_COPY(1, uint8_t)
AIS__EW_COPY(2, uint16_t)
AIS__EW_COPY(4, uint32_t)
AIS__EW_COPY(8, uint64_t)

static ais_status ais__variadic_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                        ais_tensor *const *out, size_t n_out) {
    ais__ew_variadic v = ais__ew_variadic_of(ctx);
    bool via;
    ais_tensor *o = out[0];
    if (n_in == 1) {
        static const ais__ew_fn copies[9] = {
            [1] = ais__ew_copy_1, [2] = ais__ew_copy_2, [4] = ais__ew_copy_4, [8] = ais__ew_copy_8};
        ais__ew_apply(ctx, o, in, 1, copies[ais_dtype_size(o->dtype)], NULL, 0);
    } else {
        ais__ew_fn fn = ais__ew_pick(v.pair, o->dtype, &via);
        if (!fn) return ais__ew_dtype_error(v.pair, o, "input 0");
        ais__ew_apply(ctx, o, in, 2, fn, NULL, via ? AIS__EW_VIA_F32 : 0);
        fn = ais__ew_pick(v.acc, o->dtype, &via);
        for (size_t i = 2; i < n_in; i++)
            ais__ew_apply(ctx, o, &in[i], 1, fn, NULL,
                          AIS__EW_READS_OUT | (via ? AIS__EW_VIA_F32 : 0));
    }
    if (v.mean && n_in > 1) {
        double count = (double)n_in;
        ais__ew_fn fn = ais__ew_pick(scale_fns, o->dtype, &via);
        if (!fn) return ais__ew_dtype_error(scale_fns, o, "input 0");
        ais__ew_apply(ctx, o, NULL, 0, fn, &count, AIS__EW_READS_OUT | (via ? AIS__EW_VIA_F32 : 0));
    }
    return AIS_OK;
}

#define AIS__EW_DEF(NAME, SINCE, NIN, FN)                                                          \
    {                                                                                              \
        .domain = "", .name = NAME, .since_version = SINCE, .min_inputs = NIN, .max_inputs = NIN,  \
        .min_outputs = 1, .max_outputs = 1, .infer = ais__##FN##_infer,                            \
        .compute = ais__##FN##_compute                                                             \
    }
#define AIS__EW_VARIADIC(NAME, SINCE)                                                              \
    {                                                                                              \
        .domain = "", .name = NAME, .since_version = SINCE, .min_inputs = 1, .max_inputs = -1,     \
        .min_outputs = 1, .max_outputs = 1, .infer = ais__variadic_infer,                          \
        .compute = ais__variadic_compute                                                           \
    }

/* Opsets before 7 had an explicit `broadcast` attribute and axis; multidirectional broadcasting
 * is a superset of what those models could express with broadcast=1 and the default axis. */
const ais__op_def ais__ops_binary[] = {
    AIS__EW_DEF("Add", 1, 2, add),
    AIS__EW_DEF("Sub", 1, 2, sub),
    AIS__EW_DEF("Mul", 1, 2, mul),
    AIS__EW_DEF("Div", 1, 2, div),
    AIS__EW_DEF("Pow", 1, 2, pow),
    AIS__EW_DEF("Mod", 10, 2, mod),
    {.domain = "",
     .name = "Equal",
     .since_version = 1,
     .min_inputs = 2,
     .max_inputs = 2,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__eq_infer,
     .compute = ais__eq_compute,
     .flags = AIS__OP_STRINGS},
    AIS__EW_DEF("Less", 1, 2, lt),
    AIS__EW_DEF("Greater", 1, 2, gt),
    AIS__EW_DEF("LessOrEqual", 12, 2, le),
    AIS__EW_DEF("GreaterOrEqual", 12, 2, ge),
    AIS__EW_DEF("And", 1, 2, and),
    AIS__EW_DEF("Or", 1, 2, or),
    AIS__EW_DEF("Xor", 1, 2, xor),
    AIS__EW_DEF("BitShift", 11, 2, bitshift),
    AIS__EW_DEF("PRelu", 1, 2, prelu),
    AIS__EW_DEF("Where", 9, 3, where),
    AIS__EW_VARIADIC("Sum", 1),
    AIS__EW_VARIADIC("Mean", 1),
    AIS__EW_VARIADIC("Max", 1),
    AIS__EW_VARIADIC("Min", 1),
    {.name = NULL},
};
