/*
 * quantize.c - QuantizeLinear, DequantizeLinear (opsets 10, 13, 19, 21) and
 * DynamicQuantizeLinear (11), following onnx/reference/ops/op_quantize_linear.py and friends.
 * A scale (and zero point) is per tensor (one value), per axis (a vector along `axis`, 13+) or
 * blocked (21: the input's shape with dimension `axis` divided by block_size, rounded up).
 */
#include <math.h>

#include "cpu/cpu.h"
#include "op.h"
#include "qdq_rows.h"

typedef struct {
    size_t inner, n, nscale_axis; /* the axis' extent in x and in the scale */
    int64_t block;                /* 0: per axis (or per tensor when per_tensor) */
    bool per_tensor;
} ais__q_layout;

static bool ais__q_is_quant(ais_dtype d) {
    return d == AIS_DTYPE_U8 || d == AIS_DTYPE_I8 || d == AIS_DTYPE_U16 || d == AIS_DTYPE_I16 ||
           d == AIS_DTYPE_U4 || d == AIS_DTYPE_I4 || ais__dtype_is_f8(d);
}

/* How scale (and zero point, which must have scale's shape) index into x. */
static ais_status ais__q_layout_of(const ais__op_ctx *ctx, const ais_tensor *x,
                                   const ais_tensor *scale, const ais_tensor *zp,
                                   ais__q_layout *l) {
    char sx[AIS__SHAPE_STR_MAX], ss[AIS__SHAPE_STR_MAX];
    l->per_tensor = scale->numel == 1 && scale->ndim <= 1;
    l->block = ctx->opset >= 21 ? ais__attr_int(ctx->attrs, "block_size", 0) : 0;
    l->inner = 1;
    l->n = 1;
    l->nscale_axis = 1;
    bool zp_ok =
        !zp || (l->per_tensor ? zp->numel == 1 && zp->ndim <= 1
                              : zp->ndim == scale->ndim && ais__tensor_same_shape(zp, scale));
    if (!zp_ok)
        return ais__error(AIS_E_SHAPE, "zero point %s does not have the scale's shape %s",
                          ais__shape_str(zp->dims, zp->ndim, sx, sizeof sx),
                          ais__shape_str(scale->dims, scale->ndim, ss, sizeof ss));
    if (l->per_tensor) return AIS_OK;
    if (ctx->opset < 13)
        return ais__error(AIS_E_SHAPE, "scale must be a scalar before opset 13, got %s",
                          ais__shape_str(scale->dims, scale->ndim, ss, sizeof ss));
    if (l->block < 0)
        return ais__error(AIS_E_INVALID_ARGUMENT, "block_size is %lld, must be >= 0",
                          (long long)l->block);
    int64_t axis = ais__attr_int(ctx->attrs, "axis", 1), ax = 0;
    if (!ais__norm_axis(axis, (int64_t)x->ndim, &ax))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %u",
                          (long long)axis, x->ndim);
    for (size_t i = (size_t)ax + 1; i < x->ndim; i++)
        l->inner *= (size_t)x->dims[i];
    l->n = (size_t)x->dims[ax];
    l->per_tensor = false;
    if (l->block == 0) {
        if (scale->ndim != 1 || scale->dims[0] != x->dims[ax])
            return ais__error(AIS_E_SHAPE,
                              "per-axis scale must have shape [%lld] (axis %lld of "
                              "x %s), got %s",
                              (long long)x->dims[ax], (long long)ax,
                              ais__shape_str(x->dims, x->ndim, sx, sizeof sx),
                              ais__shape_str(scale->dims, scale->ndim, ss, sizeof ss));
        l->nscale_axis = l->n;
        return AIS_OK;
    }
    bool ok = scale->ndim == x->ndim;
    for (size_t i = 0; ok && i < x->ndim; i++)
        ok = (int64_t)i == ax ? scale->dims[i] == (x->dims[i] + l->block - 1) / l->block
                              : scale->dims[i] == x->dims[i];
    if (!ok)
        return ais__error(AIS_E_SHAPE,
                          "blocked scale %s does not fit x %s with block_size %lld "
                          "on axis %lld",
                          ais__shape_str(scale->dims, scale->ndim, ss, sizeof ss),
                          ais__shape_str(x->dims, x->ndim, sx, sizeof sx), (long long)l->block,
                          (long long)ax);
    l->nscale_axis = (size_t)scale->dims[ax];
    return AIS_OK;
}

static inline size_t ais__q_sidx(const ais__q_layout *l, size_t i) {
    if (l->per_tensor) return 0;
    size_t in = i % l->inner, a = (i / l->inner) % l->n, o = i / (l->inner * l->n);
    if (l->block == 0) return a;
    return (o * l->nscale_axis + a / (size_t)l->block) * l->inner + in;
}

static ais_status ais__q_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                               ais__tensor_desc *out, size_t n_out) {
    const ais_tensor *x = in[0], *scale = in[1], *zp = n_in > 2 ? in[2] : NULL;
    AIS__CHECK(ais__expect_dtype(x, "x", AIS_DTYPE_F32, AIS_DTYPE_F16, AIS_DTYPE_BF16,
                                 AIS_DTYPE_F64, AIS_DTYPE_I32, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_dtype(scale, "y_scale", AIS_DTYPE_F32, AIS_DTYPE_F16, AIS_DTYPE_BF16,
                                 AIS_DTYPE_F64, AIS_DTYPE_UNDEFINED));
    ais_dtype to = AIS_DTYPE_U8;
    int64_t od = ctx->opset >= 21 ? ais__attr_int(ctx->attrs, "output_dtype", 0) : 0;
    if (od != 0) {
        if (od < 0 || od > 64 || !ais__q_is_quant((ais_dtype)od))
            return ais__error(AIS_E_DTYPE, "output_dtype %lld is not a quantized type",
                              (long long)od);
        to = (ais_dtype)od;
    }
    if (zp) {
        if (od != 0 && zp->dtype != to)
            return ais__error(AIS_E_DTYPE, "y_zero_point is %s but output_dtype is %s",
                              ais_dtype_name(zp->dtype), ais_dtype_name(to));
        to = zp->dtype;
    }
    if (!ais__q_is_quant(to))
        return ais__error(AIS_E_DTYPE,
                          "y_zero_point has dtype %s, expected a quantized type "
                          "(u8, i8, u16, i16, u4, i4, float8)",
                          ais_dtype_name(to));
    if ((ais__dtype_is_f8(to) && ctx->opset < 19) ||
        ((to == AIS_DTYPE_U16 || to == AIS_DTYPE_I16 || ais__dtype_is_int4(to)) && ctx->opset < 21))
        return ais__error(AIS_E_DTYPE, "output type %s needs a newer opset than %lld",
                          ais_dtype_name(to), (long long)ctx->opset);
    ais__q_layout l;
    AIS__CHECK(ais__q_layout_of(ctx, x, scale, zp, &l));
    ais__desc_set(&out[0], to, x->dims, x->ndim);
    return AIS_OK;
}

static ais_status ais__q_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais_tensor *const *out, size_t n_out) {
    const ais_tensor *x = in[0], *scale = in[1], *zp = n_in > 2 ? in[2] : NULL;
    ais_tensor *y = out[0];
    ais__q_layout l;
    AIS__CHECK(ais__q_layout_of(ctx, x, scale, zp, &l));
    bool saturate = ctx->opset < 19 || ais__attr_int(ctx->attrs, "saturate", 1) != 0;
    ais_dtype to = y->dtype;
    double lo = 0, hi = 0;
    switch (to) {
    case AIS_DTYPE_U8: hi = 255; break;
    case AIS_DTYPE_I8: lo = -128, hi = 127; break;
    case AIS_DTYPE_U16: hi = 65535; break;
    case AIS_DTYPE_I16: lo = -32768, hi = 32767; break;
    default: break;
    }
    if (l.per_tensor && x->dtype == AIS_DTYPE_F32 && scale->dtype == AIS_DTYPE_F32 &&
        (to == AIS_DTYPE_U8 || to == AIS_DTYPE_I8)) {
        /* a fused QDQ model's input Q: the vectorized pass, same arithmetic */
        ais__qdq_quantize_row(x->data, ((const float *)scale->data)[0],
                              zp ? (int32_t)ais__load_i64(zp->data, zp->dtype, 0) : 0, y->data,
                              x->numel, to == AIS_DTYPE_I8);
        return AIS_OK;
    }
    bool f64 = x->dtype == AIS_DTYPE_F64;
    for (size_t i = 0; i < x->numel; i++) {
        size_t si = ais__q_sidx(&l, i);
        double s = ais__load_f64(scale->data, scale->dtype, si);
        double q = f64 ? ais__load_f64(x->data, x->dtype, i) / s
                       : (double)((float)ais__load_f64(x->data, x->dtype, i) / (float)s);
        if (ais__dtype_is_f8(to)) {
            ((uint8_t *)y->data)[i] = ais__f32_to_f8((float)q, to, saturate);
            continue;
        }
        double r = rint(q);
        /* astype(int32) in the reference: keep within int32 before adding the zero point */
        if (!(r >= -2147483648.0)) r = isnan(r) ? 0 : -2147483648.0;
        if (r > 2147483647.0) r = 2147483647.0;
        if (zp) r += (double)ais__load_i64(zp->data, zp->dtype, si);
        if (ais__dtype_is_int4(to)) {
            ((uint8_t *)y->data)[i] = ais__f32_to_int4((float)r, to);
            continue;
        }
        ais__store_f64(y->data, to, i, fmin(fmax(r, lo), hi));
    }
    return AIS_OK;
}

static ais_status ais__dq_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, size_t n_out) {
    const ais_tensor *x = in[0], *scale = in[1], *zp = n_in > 2 ? in[2] : NULL;
    if (!ais__q_is_quant(x->dtype) && x->dtype != AIS_DTYPE_I32)
        return ais__error(AIS_E_DTYPE,
                          "x has dtype %s, expected a quantized type (u8, i8, u16, "
                          "i16, i32, u4, i4, float8)",
                          ais_dtype_name(x->dtype));
    AIS__CHECK(ais__expect_dtype(scale, "x_scale", AIS_DTYPE_F32, AIS_DTYPE_F16, AIS_DTYPE_BF16,
                                 AIS_DTYPE_UNDEFINED));
    if (zp) AIS__CHECK(ais__expect_same_dtype(zp, "x_zero_point", x, "x"));
    ais__q_layout l;
    AIS__CHECK(ais__q_layout_of(ctx, x, scale, zp, &l));
    ais__desc_set(&out[0], scale->dtype, x->dims, x->ndim);
    return AIS_OK;
}

static ais_status ais__dq_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais_tensor *const *out, size_t n_out) {
    const ais_tensor *x = in[0], *scale = in[1], *zp = n_in > 2 ? in[2] : NULL;
    ais_tensor *y = out[0];
    ais__q_layout l;
    AIS__CHECK(ais__q_layout_of(ctx, x, scale, zp, &l));
    bool f8 = ais__dtype_is_f8(x->dtype), wide = x->dtype == AIS_DTYPE_I32;
    if (l.per_tensor && (x->dtype == AIS_DTYPE_U8 || x->dtype == AIS_DTYPE_I8) &&
        y->dtype == AIS_DTYPE_F32 && scale->dtype == AIS_DTYPE_F32) {
        /* 8-bit -> f32 with one scale (the unfused QDQ graph's many DQs, the fused one's last) */
        ais__qdq_dequantize_row(x->data, ((const float *)scale->data)[0],
                                zp ? (int32_t)ais__load_i64(zp->data, zp->dtype, 0) : 0, y->data,
                                x->numel, x->dtype == AIS_DTYPE_I8);
        return AIS_OK;
    }
    for (size_t i = 0; i < x->numel; i++) {
        size_t si = ais__q_sidx(&l, i);
        double v = ais__load_f64(x->data, x->dtype, i), r;
        if (zp && !f8) v -= ais__load_f64(zp->data, zp->dtype, si);
        double s = ais__load_f64(scale->data, scale->dtype, si);
        /* float32 arithmetic as in the reference, except that int32 - int32 goes to float64 */
        r = wide ? v * s : (double)((float)v * (float)s);
        ais__store_f64(y->data, y->dtype, i, r);
    }
    return AIS_OK;
}

static ais_status ais__dql_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    AIS__CHECK(ais__expect_dtype(in[0], "x", AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
    ais__desc_set(&out[0], AIS_DTYPE_U8, in[0]->dims, in[0]->ndim);
    ais__desc_set(&out[1], AIS_DTYPE_F32, NULL, 0);
    ais__desc_set(&out[2], AIS_DTYPE_U8, NULL, 0);
    return AIS_OK;
}

void ais__qdq_dynamic(const float *x, size_t n, uint8_t *y, float *scale, uint8_t *zp) {
    const ais__cpu_kernels *t = ais__cpu();
    /* NaN skipped by the range; a NaN element then quantizes to 0. The two passes are
     * vectorized (qdq_rows.c, or the table's AVX2 / AVX-512 ones): they were a third of the
     * dynamic BERT's time as fminf/fmaxf calls per element. */
    float mx = 0, mn = 0;
    (t->dynq_minmax ? t->dynq_minmax : ais__qdq_minmax_row)(x, n, &mn, &mx);
    float s = (mx == mn ? 1.0f : mx - mn) / 255.0f;
    float zp0 = 0.0f - mn / s;
    float z = rintf(fminf(fmaxf(zp0, 0.0f), 255.0f));
    (t->dynq_row ? t->dynq_row : ais__qdq_dynamic_row)(x, s, z, y, n);
    *scale = s;
    *zp = (uint8_t)z;
}

static ais_status ais__dql_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    ais__qdq_dynamic(in[0]->data, in[0]->numel, out[0]->data, out[1]->data, out[2]->data);
    return AIS_OK;
}

const ais__op_def ais__ops_quantize[] = {
    {.domain = "",
     .name = "QuantizeLinear",
     .since_version = 10,
     .min_inputs = 2,
     .max_inputs = 3,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__q_infer,
     .compute = ais__q_compute},
    {.domain = "",
     .name = "DequantizeLinear",
     .since_version = 10,
     .min_inputs = 2,
     .max_inputs = 3,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__dq_infer,
     .compute = ais__dq_compute},
    {.domain = "",
     .name = "DynamicQuantizeLinear",
     .since_version = 11,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 3,
     .max_outputs = 3,
     .infer = ais__dql_infer,
     .compute = ais__dql_compute},
    {.name = NULL},
};
