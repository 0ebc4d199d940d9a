/*
 * shape_ops.c - operators that compute shapes or move no bytes: Reshape, Flatten, Squeeze,
 * Unsqueeze (views of their input), Shape, Size, Expand, ConstantOfShape, Range, EyeLike.
 */
#include <math.h>
#include <string.h>

#include "layout_util.h"

/* Views: the executor may hand out[0] the input's bytes; copy only when it did not. */
static ais_status ais__view_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    if (out[0]->data != in[0]->data && in[0]->nbytes)
        memmove(out[0]->data, in[0]->data, in[0]->nbytes);
    return AIS_OK;
}

static ais_status ais__numel_error(const ais_tensor *x, const int64_t *dims, size_t nd,
                                   const char *what) {
    char a[AIS__SHAPE_STR_MAX], b[AIS__SHAPE_STR_MAX];
    return ais__error(AIS_E_SHAPE, "cannot reshape input of shape %s (%zu elements) to %s %s",
                      ais__shape_str(x->dims, x->ndim, a, sizeof a), x->numel, what,
                      ais__shape_str(dims, nd, b, sizeof b));
}

/* ---- Reshape ---- */

static ais_status ais__reshape_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais__tensor_desc *out, size_t n_out) {
    (void)n_out;
    const ais_tensor *x = in[0];
    int64_t shape[AIS__LAYOUT_MAX_LIST];
    size_t n;
    bool present;
    AIS__CHECK(ais__layout_int_arg(ctx, in, n_in, 1, "shape", 5, shape, AIS__LAYOUT_MAX_LIST, &n,
                                   &present, false));
    if (!present) return ais__error(AIS_E_INVALID_ARGUMENT, "the target shape is missing");
    if (n > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "target shape has rank %zu, at most %d is supported", n,
                          AIS_MAX_DIMS);
    bool allowzero = ctx->opset >= 14 && ais__attr_int(ctx->attrs, "allowzero", 0) != 0;
    int64_t dims[AIS_MAX_DIMS];
    int neg = -1;
    bool has_zero = false;
    size_t known = 1;
    for (size_t i = 0; i < n; i++) {
        int64_t d = shape[i];
        if (d == -1) {
            if (neg >= 0)
                return ais__numel_error(x, shape, n, "target shape with more than one -1:");
            neg = (int)i;
            dims[i] = 1;
            continue;
        }
        if (d < -1) return ais__numel_error(x, shape, n, "target shape with a negative extent:");
        if (d == 0 && !allowzero) {
            if (i >= x->ndim)
                return ais__numel_error(x, shape, n, "target shape whose 0 copies a missing axis:");
            d = x->dims[i];
        }
        if (d == 0) has_zero = true;
        dims[i] = d;
        if (!ais__mul_size(known, (size_t)d, &known))
            return ais__numel_error(x, shape, n, "an overflowing target shape");
    }
    if (neg >= 0) {
        if (has_zero && allowzero)
            return ais__numel_error(x, shape, n, "target shape with both 0 (allowzero) and -1:");
        if (known == 0 || x->numel % known != 0)
            return ais__numel_error(x, shape, n, "target shape");
        dims[neg] = (int64_t)(x->numel / known);
        known = x->numel;
    }
    if (known != x->numel) return ais__numel_error(x, shape, n, "target shape");
    ais__desc_set(out, x->dtype, dims, n);
    return AIS_OK;
}

/* ---- Flatten ---- */

static ais_status ais__flatten_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const ais_tensor *x = in[0];
    int64_t axis = ais__attr_int(ctx->attrs, "axis", 1);
    int64_t r = (int64_t)x->ndim;
    if (axis < 0 && ctx->opset >= 11) axis += r;
    if (axis < 0 || axis > r)
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %lld",
                          (long long)ais__attr_int(ctx->attrs, "axis", 1), (long long)r);
    int64_t d[2] = {1, 1};
    for (int64_t i = 0; i < r; i++)
        d[i < axis ? 0 : 1] *= x->dims[i];
    ais__desc_set(out, x->dtype, d, 2);
    return AIS_OK;
}

/* ---- Squeeze / Unsqueeze ---- */

static ais_status ais__squeeze_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais__tensor_desc *out, size_t n_out) {
    (void)n_out;
    const ais_tensor *x = in[0];
    int64_t axes[AIS__LAYOUT_MAX_LIST];
    size_t n;
    bool present;
    AIS__CHECK(ais__layout_int_arg(ctx, in, n_in, 1, "axes", 13, axes, AIS__LAYOUT_MAX_LIST, &n,
                                   &present, false));
    bool mask[AIS_MAX_DIMS];
    AIS__CHECK(ais__layout_axes(axes, n, x->ndim, "axes", mask, NULL));
    int64_t dims[AIS_MAX_DIMS];
    size_t nd = 0;
    for (size_t i = 0; i < x->ndim; i++) {
        if (n == 0 ? x->dims[i] == 1 : mask[i]) {
            if (x->dims[i] != 1) {
                char s[AIS__SHAPE_STR_MAX];
                return ais__error(
                    AIS_E_SHAPE, "cannot squeeze axis %zu of shape %s: extent is %lld, not 1", i,
                    ais__shape_str(x->dims, x->ndim, s, sizeof s), (long long)x->dims[i]);
            }
            continue;
        }
        dims[nd++] = x->dims[i];
    }
    ais__desc_set(out, x->dtype, dims, nd);
    return AIS_OK;
}

static ais_status ais__unsqueeze_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                       ais__tensor_desc *out, size_t n_out) {
    (void)n_out;
    const ais_tensor *x = in[0];
    int64_t axes[AIS__LAYOUT_MAX_LIST];
    size_t n;
    bool present;
    AIS__CHECK(ais__layout_int_arg(ctx, in, n_in, 1, "axes", 13, axes, AIS__LAYOUT_MAX_LIST, &n,
                                   &present, false));
    if (!present || n == 0) return ais__error(AIS_E_INVALID_ARGUMENT, "axes are missing or empty");
    size_t r = x->ndim + n;
    if (r > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "result rank %zu exceeds the limit of %d", r, AIS_MAX_DIMS);
    bool mask[AIS_MAX_DIMS];
    AIS__CHECK(ais__layout_axes(axes, n, r, "axes", mask, NULL));
    int64_t dims[AIS_MAX_DIMS];
    size_t k = 0;
    for (size_t i = 0; i < r; i++)
        dims[i] = mask[i] ? 1 : x->dims[k++];
    ais__desc_set(out, x->dtype, dims, r);
    return AIS_OK;
}

/* ---- Shape, Size ---- */

static void ais__shape_range(const ais__op_ctx *ctx, int64_t r, int64_t *b, int64_t *e) {
    *b = 0;
    *e = r;
    if (ctx->opset < 15) return;
    int64_t s = ais__attr_int(ctx->attrs, "start", 0);
    const ais__attr *ea = ais__attr_get(ctx->attrs, "end", AIS__ATTR_INT);
    int64_t en = ea ? ea->i : r;
    if (s < 0) s += r;
    if (en < 0) en += r;
    *b = AIS__MIN(AIS__MAX(s, 0), r);
    *e = AIS__MIN(AIS__MAX(en, 0), r);
    if (*e < *b) *e = *b;
}

static ais_status ais__shape_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    int64_t b, e;
    ais__shape_range(ctx, (int64_t)in[0]->ndim, &b, &e);
    int64_t d = e - b;
    ais__desc_set(out, AIS_DTYPE_I64, &d, 1);
    return AIS_OK;
}

static ais_status ais__shape_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    int64_t b, e;
    ais__shape_range(ctx, (int64_t)in[0]->ndim, &b, &e);
    int64_t *o = out[0]->data;
    for (int64_t i = b; i < e; i++)
        o[i - b] = in[0]->dims[i];
    return AIS_OK;
}

static ais_status ais__size_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)in, (void)n_in, (void)n_out;
    ais__desc_set(out, AIS_DTYPE_I64, NULL, 0);
    return AIS_OK;
}

static ais_status ais__size_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    *(int64_t *)out[0]->data = (int64_t)in[0]->numel;
    return AIS_OK;
}

/* ---- Expand ---- */

static ais_status ais__expand_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    int64_t shape[AIS__LAYOUT_MAX_LIST], dims[AIS_MAX_DIMS];
    size_t n, nd;
    AIS__CHECK(ais__read_int_list(in[1], "input 'shape'", shape, AIS__LAYOUT_MAX_LIST, &n));
    if (n > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "shape has %zu values, at most %d are supported", n,
                          AIS_MAX_DIMS);
    for (size_t i = 0; i < n; i++)
        if (shape[i] < 0)
            return ais__error(AIS_E_SHAPE, "shape value %lld at %zu is negative",
                              (long long)shape[i], i);
    AIS__CHECK(ais__broadcast_shape("Expand", in[0]->dims, in[0]->ndim, shape, n, dims, &nd));
    ais__desc_set(out, in[0]->dtype, dims, nd);
    return AIS_OK;
}

static ais_status ais__expand_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    const ais_tensor *x = in[0];
    ais_tensor *y = out[0];
    int64_t xs[AIS_MAX_DIMS], st[AIS_MAX_DIMS];
    ais__layout_strides(x->dims, x->ndim, xs);
    ais__broadcast_strides(x->dims, x->ndim, y->dims, y->ndim, st);
    if (y->numel)
        ais__layout_copy_strided(y->data, x->data, ais_dtype_size(x->dtype), y->ndim, y->dims, st);
    return AIS_OK;
}

/* ---- ConstantOfShape ---- */

static ais_status ais__cos_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    int64_t shape[AIS__LAYOUT_MAX_LIST];
    size_t n;
    AIS__CHECK(ais__read_int_list(in[0], "input 'shape'", shape, AIS__LAYOUT_MAX_LIST, &n));
    if (n > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "shape has %zu values, at most %d are supported", n,
                          AIS_MAX_DIMS);
    for (size_t i = 0; i < n; i++)
        if (shape[i] < 0)
            return ais__error(AIS_E_SHAPE, "shape value %lld at %zu is negative",
                              (long long)shape[i], i);
    const ais_tensor *v = ais__attr_tensor(ctx->attrs, "value");
    if (v && v->numel != 1)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "attribute 'value' must hold exactly one element, it has %zu", v->numel);
    ais__desc_set(out, v ? v->dtype : AIS_DTYPE_F32, shape, n);
    return AIS_OK;
}

/* Fills n elements of size elem with the one at v. */
static void ais__fill_bytes(void *dst, const void *v, size_t elem, size_t n) {
    char *d = dst;
    if (n == 0) return;
    memcpy(d, v, elem);
    size_t done = 1;
    while (done < n) { /* doubling copies: log2(n) memcpy calls */
        size_t c = AIS__MIN(done, n - done);
        memcpy(d + done * elem, d, c * elem);
        done += c;
    }
}

static ais_status ais__cos_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    (void)in, (void)n_in, (void)n_out;
    const ais_tensor *v = ais__attr_tensor(ctx->attrs, "value");
    if (v)
        ais__fill_bytes(out[0]->data, v->data, ais_dtype_size(v->dtype), out[0]->numel);
    else
        memset(out[0]->data, 0, out[0]->nbytes);
    return AIS_OK;
}

/* ---- Range ---- */

static ais_status ais__range_len(const ais_tensor *const *in, int64_t *len) {
    const char *names[3] = {"start", "limit", "delta"};
    for (int i = 0; i < 3; i++) {
        if (in[i]->numel != 1)
            return ais__error(AIS_E_SHAPE, "input '%s' must be a scalar, it has %zu elements",
                              names[i], in[i]->numel);
        if (i) AIS__CHECK(ais__expect_same_dtype(in[0], "start", in[i], names[i]));
    }
    AIS__CHECK(ais__expect_dtype(in[0], "start", AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_I16,
                                 AIS_DTYPE_I32, AIS_DTYPE_I64, AIS_DTYPE_UNDEFINED));
    double n;
    if (ais__dtype_is_int(in[0]->dtype)) {
        int64_t s = ais__load_i64(in[0]->data, in[0]->dtype, 0);
        int64_t l = ais__load_i64(in[1]->data, in[1]->dtype, 0);
        int64_t d = ais__load_i64(in[2]->data, in[2]->dtype, 0);
        if (d == 0) return ais__error(AIS_E_INVALID_ARGUMENT, "delta is 0");
        /* in long double-free integer math: ceil((l - s) / d) without overflow */
        double span = (double)l - (double)s;
        n = ceil(span / (double)d);
        if (fabs(span) < 9e15) {
            int64_t sp = l - s, q = sp / d, r = sp % d;
            if (r != 0 && ((r > 0) == (d > 0))) q++;
            n = (double)q;
        }
    } else {
        double s = ais__load_f64(in[0]->data, in[0]->dtype, 0);
        double l = ais__load_f64(in[1]->data, in[1]->dtype, 0);
        double d = ais__load_f64(in[2]->data, in[2]->dtype, 0);
        if (d == 0) return ais__error(AIS_E_INVALID_ARGUMENT, "delta is 0");
        n = ceil((l - s) / d);
        if (isnan(n))
            return ais__error(AIS_E_INVALID_ARGUMENT, "start, limit or delta is not finite");
    }
    if (n < 0) n = 0;
    if (n > (double)(INT64_MAX / 16))
        return ais__error(AIS_E_LIMIT, "Range would produce %.0f elements", n);
    *len = (int64_t)n;
    return AIS_OK;
}

static ais_status ais__range_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    int64_t len;
    AIS__CHECK(ais__range_len(in, &len));
    ais__desc_set(out, in[0]->dtype, &len, 1);
    return AIS_OK;
}

static ais_status ais__range_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais_tensor *const *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    ais_tensor *y = out[0];
    ais_dtype dt = in[0]->dtype;
    if (ais__dtype_is_int(dt)) {
        int64_t s = ais__load_i64(in[0]->data, dt, 0), d = ais__load_i64(in[2]->data, dt, 0);
        for (size_t i = 0; i < y->numel; i++) {
            int64_t v = (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d);
            switch (dt) {
            case AIS_DTYPE_I16: ((int16_t *)y->data)[i] = (int16_t)v; break;
            case AIS_DTYPE_I32: ((int32_t *)y->data)[i] = (int32_t)v; break;
            default: ((int64_t *)y->data)[i] = v; break;
            }
        }
    } else if (dt == AIS_DTYPE_F32) {
        /* accumulate like the ONNX reference (start + i * delta in the element type) */
        float s = *(const float *)in[0]->data, d = *(const float *)in[2]->data;
        for (size_t i = 0; i < y->numel; i++)
            ((float *)y->data)[i] = s + (float)i * d;
    } else {
        double s = *(const double *)in[0]->data, d = *(const double *)in[2]->data;
        for (size_t i = 0; i < y->numel; i++)
            ((double *)y->data)[i] = s + (double)i * d;
    }
    return AIS_OK;
}

/* ---- EyeLike ---- */

static ais_status ais__eyelike_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    AIS__CHECK(ais__expect_rank(in[0], "input", 2, 2));
    int64_t dt = ais__attr_int(ctx->attrs, "dtype", (int64_t)in[0]->dtype);
    if (dt < 0 || dt > 64 || !ais__dtype_valid((ais_dtype)dt) || dt == AIS_DTYPE_STRING)
        return ais__error(AIS_E_DTYPE, "attribute 'dtype' %lld is not a supported element type",
                          (long long)dt);
    ais__desc_set(out, (ais_dtype)dt, in[0]->dims, 2);
    return AIS_OK;
}

static ais_status ais__eyelike_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                       ais_tensor *const *out, size_t n_out) {
    (void)in, (void)n_in, (void)n_out;
    ais_tensor *y = out[0];
    int64_t k = ais__attr_int(ctx->attrs, "k", 0);
    memset(y->data, 0, y->nbytes);
    int64_t r = y->dims[0], c = y->dims[1];
    if (k >= c || k <= -r)
        return AIS_OK; /* the diagonal misses the matrix (and k + i can't overflow) */
    for (int64_t i = AIS__MAX(0, -k); i < r && i + k < c; i++)
        ais__store_f64(y->data, y->dtype, (size_t)(i * c + i + k), 1.0);
    return AIS_OK;
}

#define AIS__SHAPE_OP(nm, since, lo, hi, inf, comp, fl, vals)                                      \
    {                                                                                              \
        .domain = "", .name = nm, .since_version = since, .min_inputs = lo, .max_inputs = hi,      \
        .min_outputs = 1, .max_outputs = 1, .infer = inf, .compute = comp, .flags = fl,            \
        .value_inputs = vals                                                                       \
    }

const ais__op_def ais__ops_shape[] = {
    AIS__SHAPE_OP("Reshape", 1, 1, 1, ais__reshape_infer, ais__view_compute, AIS__OP_VIEW, 0),
    AIS__SHAPE_OP("Reshape", 5, 2, 2, ais__reshape_infer, ais__view_compute, AIS__OP_VIEW, 1u << 1),
    AIS__SHAPE_OP("Flatten", 1, 1, 1, ais__flatten_infer, ais__view_compute, AIS__OP_VIEW, 0),
    AIS__SHAPE_OP("Squeeze", 1, 1, 1, ais__squeeze_infer, ais__view_compute, AIS__OP_VIEW, 0),
    AIS__SHAPE_OP("Squeeze", 13, 1, 2, ais__squeeze_infer, ais__view_compute, AIS__OP_VIEW,
                  1u << 1),
    AIS__SHAPE_OP("Unsqueeze", 1, 1, 1, ais__unsqueeze_infer, ais__view_compute, AIS__OP_VIEW, 0),
    AIS__SHAPE_OP("Unsqueeze", 13, 2, 2, ais__unsqueeze_infer, ais__view_compute, AIS__OP_VIEW,
                  1u << 1),
    AIS__SHAPE_OP("Shape", 1, 1, 1, ais__shape_infer, ais__shape_compute, 0, 0),
    AIS__SHAPE_OP("Size", 1, 1, 1, ais__size_infer, ais__size_compute, 0, 0),
    AIS__SHAPE_OP("Expand", 8, 2, 2, ais__expand_infer, ais__expand_compute, 0, 1u << 1),
    AIS__SHAPE_OP("ConstantOfShape", 9, 1, 1, ais__cos_infer, ais__cos_compute, 0, 1u << 0),
    AIS__SHAPE_OP("Range", 11, 3, 3, ais__range_infer, ais__range_compute, 0, 7u),
    AIS__SHAPE_OP("EyeLike", 9, 1, 1, ais__eyelike_infer, ais__eyelike_compute, 0, 0),
    {.name = NULL},
};
