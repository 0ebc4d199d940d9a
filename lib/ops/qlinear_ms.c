/*
 * qlinear_ms.c - the com.microsoft quantized operators that ONNX Runtime's quantizer emits
 * (onnxruntime/core/graph/contrib_ops/quantization_defs.cc): QLinearAdd, QLinearMul,
 * QLinearSigmoid, QLinearGlobalAveragePool, QLinearConcat, DynamicQuantizeMatMul,
 * MatMulIntegerToFloat and QGemm, u8 and s8.
 *
 * DynamicQuantizeMatMul, MatMulIntegerToFloat and QGemm run on lib/cpu's int8 GEMM
 * (qlinear_gemm.h; B packed at load when constant), with the same float arithmetic in its store;
 * the others are plain loops.
 * The arithmetic follows ONNX Runtime's MLAS reference paths so
 * that results agree bit for bit where ORT's own scalar code runs: float32 products of the
 * dequantized operands with the scale ratios, round half to even (nearbyintf), plus the output
 * zero point, saturated. Vector kernels of ORT may differ from these by one step in rare ties.
 */
#include <math.h>
#include <string.h>

#include "op.h"
#include "qdq_rows.h"
#include "qlinear_gemm.h"

/* the flat loops of fused QDQ models */

static inline int32_t ais__qm_at(const void *p, ais_dtype d, size_t i) {
    return d == AIS_DTYPE_U8 ? (int32_t)((const uint8_t *)p)[i] : (int32_t)((const int8_t *)p)[i];
}

static ais_status ais__qm_expect8(const ais_tensor *t, const char *what) {
    return ais__expect_dtype(t, what, AIS_DTYPE_U8, AIS_DTYPE_I8, AIS_DTYPE_UNDEFINED);
}

/* A per-tensor scale (float32, one element) or zero point (the quantized type, one element,
 * optional: NULL reads as 0). */
static ais_status ais__qm_scalar(const ais_tensor *t, const char *what, bool is_scale,
                                 const ais_tensor *like) {
    char s[AIS__SHAPE_STR_MAX];
    if (!t) return AIS_OK;
    if (is_scale)
        AIS__CHECK(ais__expect_dtype(t, what, AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
    else if (like)
        AIS__CHECK(ais__expect_same_dtype(t, what, like, "its tensor"));
    else
        AIS__CHECK(ais__qm_expect8(t, what));
    if (t->numel != 1)
        return ais__error(AIS_E_SHAPE, "%s must be a scalar (per-tensor), got %s", what,
                          ais__shape_str(t->dims, t->ndim, s, sizeof s));
    return AIS_OK;
}

static inline float ais__qm_s(const ais_tensor *t) { return ((const float *)t->data)[0]; }
static inline int32_t ais__qm_z(const ais_tensor *t) {
    return t ? ais__qm_at(t->data, t->dtype, 0) : 0;
}

/* Rounds half to even, adds the zero point and saturates to the type. */
static inline void ais__qm_store(void *y, ais_dtype d, size_t i, float v, int32_t zp) {
    float r = nearbyintf(v) + (float)zp;
    if (d == AIS_DTYPE_U8)
        ((uint8_t *)y)[i] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
    else
        ((int8_t *)y)[i] = (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
}

/* ---- QLinearAdd, QLinearMul: A, A_scale, A_zp?, B, B_scale, B_zp?, C_scale, C_zp? ---- */

static ais_status ais__qbin_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    const ais_tensor *a = in[0], *b = in[3], *cz = n_in > 7 ? in[7] : NULL;
    AIS__CHECK(ais__qm_expect8(a, "A"));
    AIS__CHECK(ais__expect_same_dtype(b, "B", a, "A"));
    AIS__CHECK(ais__qm_scalar(in[1], "A_scale", true, NULL));
    AIS__CHECK(ais__qm_scalar(in[2], "A_zero_point", false, a));
    AIS__CHECK(ais__qm_scalar(in[4], "B_scale", true, NULL));
    AIS__CHECK(ais__qm_scalar(in[5], "B_zero_point", false, b));
    AIS__CHECK(ais__qm_scalar(in[6], "C_scale", true, NULL));
    AIS__CHECK(ais__qm_scalar(cz, "C_zero_point", false, a));
    int64_t d[AIS_MAX_DIMS];
    size_t nd = 0;
    AIS__CHECK(ais__broadcast_shape(ctx->op_type, a->dims, a->ndim, b->dims, b->ndim, d, &nd));
    ais__desc_set(&out[0], a->dtype, d, nd);
    return AIS_OK;
}

static ais_status ais__qbin_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    const ais_tensor *a = in[0], *b = in[3];
    ais_tensor *y = out[0];
    bool mul = strcmp(ctx->op_type, "QLinearMul") == 0;
    float sa = ais__qm_s(in[1]), sb = ais__qm_s(in[4]), sc = ais__qm_s(in[6]);
    int32_t za = ais__qm_z(in[2]), zb = ais__qm_z(in[5]), zc = ais__qm_z(n_in > 7 ? in[7] : NULL);
    /* MLAS: A_scale / C_scale and B_scale / C_scale for Add, A_scale * B_scale / C_scale for Mul */
    float ra = sa / sc, rb = sb / sc, rm = sa * sb / sc;
    /* the same shape, or one side a single value (the residual Adds of a CNN): the table's
     * kernel; A and B swap freely, both operations being symmetric in them */
    bool same = a->ndim == b->ndim && a->numel == y->numel && b->numel == y->numel;
    for (size_t d = 0; same && d < a->ndim; d++)
        same = a->dims[d] == b->dims[d];
    if (same || (a->numel == y->numel && b->numel == 1) ||
        (b->numel == y->numel && a->numel == 1)) {
        bool swap = !same && a->numel == 1;
        ais__qbin_args p = {.is_signed = a->dtype == AIS_DTYPE_I8,
                            .mul = mul,
                            .za = swap ? zb : za,
                            .zb = swap ? za : zb,
                            .zc = zc,
                            .ra = swap ? rb : ra,
                            .rb = swap ? ra : rb,
                            .rm = rm};
        const uint8_t *pa = swap ? b->data : a->data, *pb = swap ? a->data : b->data;
        ais__cpu()->qbin(pa, pb, same ? 1 : 0, (int64_t)y->numel, &p, y->data);
        return AIS_OK;
    }
    size_t nd = y->ndim;
    int64_t st_a[AIS_MAX_DIMS], st_b[AIS_MAX_DIMS], idx[AIS_MAX_DIMS] = {0};
    ais__broadcast_strides(a->dims, a->ndim, y->dims, nd, st_a);
    ais__broadcast_strides(b->dims, b->ndim, y->dims, nd, st_b);
    int64_t ia = 0, ib = 0;
    for (size_t i = 0; i < y->numel; i++) {
        float va = (float)(ais__qm_at(a->data, a->dtype, (size_t)ia) - za);
        float vb = (float)(ais__qm_at(b->data, b->dtype, (size_t)ib) - zb);
        ais__qm_store(y->data, y->dtype, i, mul ? va * vb * rm : va * ra + vb * rb, zc);
        for (size_t d = nd; d-- > 0;) { /* odometer over the output's index */
            ia += st_a[d];
            ib += st_b[d];
            if (++idx[d] < y->dims[d]) break;
            ia -= st_a[d] * y->dims[d];
            ib -= st_b[d] * y->dims[d];
            idx[d] = 0;
        }
    }
    return AIS_OK;
}

/* ---- QLinearSigmoid: X, X_scale, X_zp?, Y_scale, Y_zp? ---- */

static ais_status ais__qsig_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    AIS__CHECK(ais__qm_expect8(in[0], "X"));
    AIS__CHECK(ais__qm_scalar(in[1], "X_scale", true, NULL));
    AIS__CHECK(ais__qm_scalar(in[2], "X_zero_point", false, in[0]));
    AIS__CHECK(ais__qm_scalar(in[3], "Y_scale", true, NULL));
    AIS__CHECK(ais__qm_scalar(n_in > 4 ? in[4] : NULL, "Y_zero_point", false, in[0]));
    ais__desc_from(&out[0], in[0]);
    return AIS_OK;
}

static ais_status ais__qsig_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    const ais_tensor *x = in[0];
    float sx = ais__qm_s(in[1]), sy = ais__qm_s(in[3]);
    int32_t zx = ais__qm_z(in[2]), zy = ais__qm_z(n_in > 4 ? in[4] : NULL);
    /* ORT builds a 256-entry table: dequantize, sigmoid in float, QuantizeLinear */
    uint8_t table[256];
    for (int v = 0; v < 256; v++) {
        int32_t q = x->dtype == AIS_DTYPE_U8 ? v : v - 128;
        float f = (float)(q - zx) * sx;
        float s = 1.0f / (1.0f + expf(-f));
        uint8_t o[1];
        ais__qm_store(o, x->dtype, 0, s / sy, zy);
        table[x->dtype == AIS_DTYPE_U8 ? v : (uint8_t)(int8_t)q] = o[0];
    }
    const uint8_t *xs = x->data;
    uint8_t *ys = out[0]->data;
    for (size_t i = 0; i < x->numel; i++)
        ys[i] = table[xs[i]];
    return AIS_OK;
}

/* ---- QLinearGlobalAveragePool: X, x_scale, x_zp?, y_scale, y_zp?; channels_last ---- */

static ais_status ais__qgap_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    const ais_tensor *x = in[0];
    char s[AIS__SHAPE_STR_MAX];
    AIS__CHECK(ais__qm_expect8(x, "X"));
    AIS__CHECK(ais__qm_scalar(in[1], "x_scale", true, NULL));
    AIS__CHECK(ais__qm_scalar(in[2], "x_zero_point", false, x));
    AIS__CHECK(ais__qm_scalar(in[3], "y_scale", true, NULL));
    AIS__CHECK(ais__qm_scalar(n_in > 4 ? in[4] : NULL, "y_zero_point", false, x));
    if (x->ndim < 3)
        return ais__error(AIS_E_SHAPE, "X must have rank >= 3, got %s",
                          ais__shape_str(x->dims, x->ndim, s, sizeof s));
    bool last = ais__attr_int(ctx->attrs, "channels_last", 0) != 0;
    int64_t d[AIS_MAX_DIMS];
    for (size_t i = 0; i < x->ndim; i++)
        d[i] = 1;
    d[0] = x->dims[0];
    if (last)
        d[x->ndim - 1] = x->dims[x->ndim - 1];
    else
        d[1] = x->dims[1];
    ais__desc_set(&out[0], x->dtype, d, x->ndim);
    return AIS_OK;
}

static ais_status ais__qgap_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    const ais_tensor *x = in[0];
    bool last = ais__attr_int(ctx->attrs, "channels_last", 0) != 0;
    size_t n = (size_t)x->dims[0], c = (size_t)(last ? x->dims[x->ndim - 1] : x->dims[1]);
    size_t img = (n * c) != 0 ? x->numel / (n * c) : 0;
    float sx = ais__qm_s(in[1]), sy = ais__qm_s(in[3]);
    int32_t zx = ais__qm_z(in[2]), zy = ais__qm_z(n_in > 4 ? in[4] : NULL);
    /* MLAS: (sum - zx * image_size) * (x_scale / (y_scale * image_size)), rounded, + zy */
    float scale = sx / (sy * (float)img);
    for (size_t b = 0; b < n; b++)
        for (size_t ch = 0; ch < c; ch++) {
            int64_t sum = 0;
            for (size_t p = 0; p < img; p++)
                sum += ais__qm_at(x->data, x->dtype,
                                  last ? (b * img + p) * c + ch : (b * c + ch) * img + p);
            sum -= (int64_t)zx * (int64_t)img;
            ais__qm_store(out[0]->data, x->dtype, b * c + ch, (float)sum * scale, zy);
        }
    return AIS_OK;
}

/* ---- QLinearConcat: Y_scale, Y_zp, then (X, X_scale, X_zp) per input; axis ---- */

static ais_status ais__qcat_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    char s0[AIS__SHAPE_STR_MAX], si[AIS__SHAPE_STR_MAX];
    if ((n_in - 2) % 3 != 0 || n_in < 5)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "expected Y_scale, Y_zero_point and triplets (X, X_scale, "
                          "X_zero_point), got %zu inputs",
                          n_in);
    const ais_tensor *yz = in[1], *x0 = in[2];
    AIS__CHECK(ais__qm_scalar(in[0], "Y_scale", true, NULL));
    AIS__CHECK(ais__qm_scalar(yz, "Y_zero_point", false, NULL));
    int64_t ax = 0;
    if (!ais__norm_axis(ais__attr_int(ctx->attrs, "axis", 0), (int64_t)x0->ndim, &ax))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %u",
                          (long long)ais__attr_int(ctx->attrs, "axis", 0), x0->ndim);
    int64_t d[AIS_MAX_DIMS];
    memcpy(d, x0->dims, x0->ndim * sizeof *d);
    d[ax] = 0;
    for (size_t i = 2; i < n_in; i += 3) {
        const ais_tensor *x = in[i];
        if (!x || !in[i + 1])
            return ais__error(AIS_E_INVALID_ARGUMENT, "input %zu and its scale are required", i);
        AIS__CHECK(ais__expect_same_dtype(x, "X", yz, "Y_zero_point"));
        AIS__CHECK(ais__qm_scalar(in[i + 1], "X_scale", true, NULL));
        AIS__CHECK(ais__qm_scalar(in[i + 2], "X_zero_point", false, x));
        bool ok = x->ndim == x0->ndim;
        for (size_t k = 0; ok && k < x->ndim; k++)
            ok = (int64_t)k == ax || x->dims[k] == x0->dims[k];
        if (!ok)
            return ais__error(AIS_E_SHAPE, "input %zu %s does not match input 2 %s off axis %lld",
                              i, ais__shape_str(x->dims, x->ndim, si, sizeof si),
                              ais__shape_str(x0->dims, x0->ndim, s0, sizeof s0), (long long)ax);
        d[ax] += x->dims[ax];
    }
    ais__desc_set(&out[0], yz->dtype, d, x0->ndim);
    return AIS_OK;
}

static ais_status ais__qcat_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    ais_tensor *y = out[0];
    int64_t ax = 0;
    ais__norm_axis(ais__attr_int(ctx->attrs, "axis", 0), (int64_t)y->ndim, &ax);
    size_t outer = 1, inner = 1;
    for (int64_t k = 0; k < ax; k++)
        outer *= (size_t)y->dims[k];
    for (size_t k = (size_t)ax + 1; k < y->ndim; k++)
        inner *= (size_t)y->dims[k];
    size_t yrow = (size_t)y->dims[ax] * inner, off = 0;
    float sy = ais__qm_s(in[0]);
    int32_t zy = ais__qm_z(in[1]);
    for (size_t i = 2; i < n_in; i += 3) {
        const ais_tensor *x = in[i];
        float sx = ais__qm_s(in[i + 1]);
        int32_t zx = ais__qm_z(in[i + 2]);
        size_t row = (size_t)x->dims[ax] * inner;
        bool same = sx == sy && zx == zy;
        for (size_t o = 0; o < outer; o++)
            for (size_t j = 0; j < row; j++) {
                size_t yi = o * yrow + off + j, xi = o * row + j;
                if (same) {
                    ((uint8_t *)y->data)[yi] = ((const uint8_t *)x->data)[xi];
                    continue;
                }
                /* ORT's lookup table: dequantize, then QuantizeLinear to Y */
                float v = (float)(ais__qm_at(x->data, x->dtype, xi) - zx) * sx;
                ais__qm_store(y->data, y->dtype, yi, v / sy, zy);
            }
        off += row;
    }
    return AIS_OK;
}

/* ---- the products' packed weights ---- */

typedef struct {
    ais__qpack *pack;
} ais__qm_state;

static void ais__qm_release(void *vs) {
    ais__qm_state *st = vs;
    if (!st) return;
    ais__qpack_free(st->pack);
    ais__free(st);
}

static ais_status ais__qm_prepare_b(const ais__op_ctx *ctx, void **out, size_t wi, bool trans) {
    ais__qm_state *st = ais__calloc(1, sizeof *st);
    if (!st) return ais__oom(sizeof *st, "quantized product state");
    const ais_tensor *w = ctx->consts && ctx->n_consts > wi ? ctx->consts[wi] : NULL;
    if (w) st->pack = ais__qpack_b_new(w, trans); /* NULL: packed per call */
    *out = st;
    return AIS_OK;
}

static const ais__qgemm_b *ais__qm_pack(const ais__op_ctx *ctx, const ais_tensor *w) {
    const ais__qm_state *st = ctx->state;
    return st && st->pack && st->pack->src == w->data ? &st->pack->b : NULL;
}

static ais_status ais__dqmm_prepare(const ais__op_ctx *ctx, void **out) {
    return ais__qm_prepare_b(ctx, out, 1, false);
}
static ais_status ais__mmitf_prepare(const ais__op_ctx *ctx, void **out) {
    return ais__qm_prepare_b(ctx, out, 1, false);
}
static ais_status ais__qgemm_prepare(const ais__op_ctx *ctx, void **out) {
    return ais__qm_prepare_b(ctx, out, 3, ais__attr_int(ctx->attrs, "transB", 0) != 0);
}

static inline size_t ais__qm_al(size_t n) { return (n + 63) & ~(size_t)63; }

/* ---- DynamicQuantizeMatMul: A (f32), B (8-bit), b_scale, b_zero_point?, bias?
 * ---- MatMulIntegerToFloat: A (8-bit), B (8-bit), a_scale, b_scale, a_zero_point?,
 *      b_zero_point?, bias? (what fuse_qdq.c makes of a dynamic-quantized MatMul:
 *      MatMulInteger -> Cast -> Mul(a_scale * b_scale) [-> Add(bias)])
 * Both: Y [..., N] = (float)((A - za)(B - zb)) * (a_scale * b_scale[j]) (+ bias[j]): the int32
 * sum exact, the multiplier one float product, as ORT's kernels and the unfused graph have it. */

typedef struct {
    size_t rows, k, n;
} ais__qf32_dims;

/* A [..., K] and B [K, N] (input bi) with b_scale (input si), b_zero_point (zi) and bias
 * (biasi), the optional ones absent past n_in or NULL. */
static ais_status ais__qf32_check(const ais_tensor *const *in, size_t n_in, size_t bi, size_t si,
                                  size_t zi, size_t biasi, ais__qf32_dims *d) {
    char sa[AIS__SHAPE_STR_MAX], sb[AIS__SHAPE_STR_MAX];
    const ais_tensor *a = in[0], *b = in[bi], *bs = in[si];
    AIS__CHECK(ais__qm_expect8(b, "B"));
    AIS__CHECK(ais__expect_dtype(bs, "b_scale", AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
    if (a->ndim < 1 || b->ndim != 2 || a->dims[a->ndim - 1] != b->dims[0])
        return ais__error(AIS_E_SHAPE, "A %s must be [..., K] and B %s [K, N]",
                          ais__shape_str(a->dims, a->ndim, sa, sizeof sa),
                          ais__shape_str(b->dims, b->ndim, sb, sizeof sb));
    d->k = (size_t)b->dims[0];
    d->n = (size_t)b->dims[1];
    d->rows = 1;
    for (size_t i = 0; i + 1 < a->ndim; i++)
        d->rows *= (size_t)a->dims[i];
    const ais_tensor *bz = n_in > zi ? in[zi] : NULL, *bias = n_in > biasi ? in[biasi] : NULL;
    if (bs->numel != 1 && bs->numel != d->n)
        return ais__error(AIS_E_SHAPE, "b_scale must be a scalar or have N = %zu values, got %s",
                          d->n, ais__shape_str(bs->dims, bs->ndim, sa, sizeof sa));
    if (bz) {
        AIS__CHECK(ais__expect_same_dtype(bz, "b_zero_point", b, "B"));
        if (bz->numel != bs->numel)
            return ais__error(AIS_E_SHAPE, "b_zero_point %s must have b_scale's shape %s",
                              ais__shape_str(bz->dims, bz->ndim, sa, sizeof sa),
                              ais__shape_str(bs->dims, bs->ndim, sb, sizeof sb));
    }
    if (bias) {
        AIS__CHECK(ais__expect_dtype(bias, "bias", AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
        if (bias->numel != d->n)
            return ais__error(AIS_E_SHAPE, "bias must have N = %zu values, got %s", d->n,
                              ais__shape_str(bias->dims, bias->ndim, sa, sizeof sa));
    }
    return AIS_OK;
}

static void ais__qf32_out(const ais_tensor *a, const ais__qf32_dims *d, ais__tensor_desc *out) {
    int64_t dims[AIS_MAX_DIMS];
    memcpy(dims, a->dims, a->ndim * sizeof *dims);
    dims[a->ndim - 1] = (int64_t)d->n;
    ais__desc_set(&out[0], AIS_DTYPE_F32, dims, a->ndim);
}

/* The product's operands once A is 8-bit. */
typedef struct {
    ais__qf32_dims d;
    const void *qa;
    bool a_signed;
    int32_t za;
    float sa;
    const ais_tensor *b, *bs, *bz;
    const float *bias;
    float *y;
} ais__qf32;

/* Scratch bytes of ais__qf32_run. */
static size_t ais__qf32_scratch(const ais__op_ctx *ctx, const ais__qf32_dims *d,
                                const ais_tensor *b) {
    if (!d->rows || !d->n || !d->k) return 0;
    bool packed = ais__qm_pack(ctx, b) != NULL;
    return ais__qmm_scratch(ais__cpu(), (int64_t)d->rows, (int64_t)d->n, (int64_t)d->k, !packed) +
           ais__qm_al(d->n * sizeof(float));
}

static void ais__qf32_run(ais__op_ctx *ctx, const ais__qf32 *p, void *scratch) {
    size_t rows = p->d.rows, n = p->d.n, k = p->d.k;
    bool per_col = p->bs->numel != 1;
    if (!rows || !n) return;
    if (!k) { /* an empty sum: the bias alone */
        for (size_t r = 0; r < rows; r++)
            for (size_t j = 0; j < n; j++)
                p->y[r * n + j] = p->bias ? p->bias[j] : 0.0f;
        return;
    }
    const ais__cpu_kernels *t = ais__cpu();
    const ais__qgemm_b *pb = ais__qm_pack(ctx, p->b);
    size_t gb = ais__qmm_scratch(t, (int64_t)rows, (int64_t)n, (int64_t)k, !pb);
    float *fs = (float *)(void *)((char *)scratch + gb);
    for (size_t j = 0; j < n; j++)
        fs[j] = p->sa * ((const float *)p->bs->data)[per_col ? j : 0];
    ais__qmm q = {.a = p->qa,
                  .a_signed = p->a_signed,
                  .ars = (int64_t)k,
                  .acs = 1,
                  .m = (int64_t)rows,
                  .k = (int64_t)k,
                  .n = (int64_t)n,
                  .za = p->za,
                  .pb = pb,
                  .b = p->b->data,
                  .b_signed = p->b->dtype == AIS_DTYPE_I8,
                  .brs = (int64_t)n,
                  .bcs = 1,
                  .zb = p->bz};
    ais__qgemm_ep ep = {.out = AIS__QGEMM_OUT_F32,
                        .fscale = fs,
                        .fbias = p->bias,
                        .scale_cs = 1,
                        .y = p->y,
                        .ldy = (int64_t)n};
    ais__qmm_run(ctx->pool, t, &q, &ep, scratch);
}

static ais_status ais__dqmm_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    ais__qf32_dims d;
    AIS__CHECK(ais__expect_dtype(in[0], "A", AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__qf32_check(in, n_in, 1, 2, 3, 4, &d));
    ais__qf32_out(in[0], &d, out);
    return AIS_OK;
}

static ais_status ais__dqmm_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    ais__qf32 p = {.b = in[1], .bs = in[2], .bz = n_in > 3 ? in[3] : NULL};
    AIS__CHECK(ais__expect_dtype(in[0], "A", AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__qf32_check(in, n_in, 1, 2, 3, 4, &p.d));
    p.bias = n_in > 4 && in[4] ? in[4]->data : NULL;
    p.y = out[0]->data;
    const float *a = in[0]->data;
    size_t na = in[0]->numel;
    size_t pre = ais__qm_al(na ? na : 1), bytes = pre + ais__qf32_scratch(ctx, &p.d, p.b);
    uint8_t *qa = ais__op_scratch(ctx, bytes);
    if (!qa) return ais__oom(bytes, "the quantized A");
    uint8_t za;
    ais__qdq_dynamic(a, na, qa, &p.sa, &za); /* A to u8 as DynamicQuantizeLinear does */
    p.qa = qa;
    p.za = za;
    ais__qf32_run(ctx, &p, qa + pre);
    return AIS_OK;
}

static ais_status ais__mmitf_check(const ais_tensor *const *in, size_t n_in, ais__qf32_dims *d) {
    const ais_tensor *az = n_in > 4 ? in[4] : NULL;
    AIS__CHECK(ais__qm_expect8(in[0], "A"));
    AIS__CHECK(ais__qm_scalar(in[2], "a_scale", true, NULL));
    AIS__CHECK(ais__qm_scalar(az, "a_zero_point", false, in[0]));
    return ais__qf32_check(in, n_in, 1, 3, 5, 6, d);
}

static ais_status ais__mmitf_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__tensor_desc *out, size_t n_out) {
    ais__qf32_dims d;
    AIS__CHECK(ais__mmitf_check(in, n_in, &d));
    ais__qf32_out(in[0], &d, out);
    return AIS_OK;
}

static ais_status ais__mmitf_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais_tensor *const *out, size_t n_out) {
    ais__qf32 p = {.qa = in[0]->data,
                   .a_signed = in[0]->dtype == AIS_DTYPE_I8,
                   .b = in[1],
                   .bs = in[3],
                   .bz = n_in > 5 ? in[5] : NULL,
                   .bias = n_in > 6 && in[6] ? in[6]->data : NULL,
                   .y = out[0]->data};
    AIS__CHECK(ais__mmitf_check(in, n_in, &p.d));
    p.za = ais__qm_z(n_in > 4 ? in[4] : NULL); /* both checked to hold one value */
    p.sa = ais__qm_s(in[2]);
    size_t bytes = ais__qf32_scratch(ctx, &p.d, p.b);
    void *s = bytes ? ais__op_scratch(ctx, bytes) : NULL;
    if (bytes && !s) return ais__oom(bytes, "the product's scratch");
    ais__qf32_run(ctx, &p, s);
    return AIS_OK;
}

/* ---- QGemm: A, a_scale, a_zp, B, b_scale, b_zp, C?, y_scale?, y_zp?; transA, transB, alpha.
 * acc = (A - a_zp)(B - b_zp) + C in int32 (C: scale alpha * a_scale * b_scale, zero point 0,
 * broadcast to [M, N]); Y = acc * alpha * a_scale * b_scale (per column when b_scale is [N]),
 * float without y_scale, else requantized to y_zero_point's type. ---- */

typedef struct {
    size_t m, n, k;
    bool ta, tb;
} ais__qgemm_dims;

static ais_status ais__qgemm_check(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__qgemm_dims *d) {
    char sa[AIS__SHAPE_STR_MAX], sb[AIS__SHAPE_STR_MAX];
    const ais_tensor *a = in[0], *b = in[3], *c = n_in > 6 ? in[6] : NULL;
    const ais_tensor *ys = n_in > 7 ? in[7] : NULL, *yz = n_in > 8 ? in[8] : NULL;
    AIS__CHECK(ais__qm_expect8(a, "A"));
    AIS__CHECK(ais__qm_expect8(b, "B"));
    AIS__CHECK(ais__qm_scalar(in[1], "a_scale", true, NULL));
    AIS__CHECK(ais__qm_scalar(in[2], "a_zero_point", false, a));
    if (a->ndim != 2 || b->ndim != 2)
        return ais__error(AIS_E_SHAPE, "A %s and B %s must be matrices",
                          ais__shape_str(a->dims, a->ndim, sa, sizeof sa),
                          ais__shape_str(b->dims, b->ndim, sb, sizeof sb));
    d->ta = ais__attr_int(ctx->attrs, "transA", 0) != 0;
    d->tb = ais__attr_int(ctx->attrs, "transB", 0) != 0;
    d->m = (size_t)a->dims[d->ta ? 1 : 0];
    d->k = (size_t)a->dims[d->ta ? 0 : 1];
    d->n = (size_t)b->dims[d->tb ? 0 : 1];
    if ((size_t)b->dims[d->tb ? 1 : 0] != d->k)
        return ais__error(AIS_E_SHAPE, "inner dimensions of A %s and B %s do not match",
                          ais__shape_str(a->dims, a->ndim, sa, sizeof sa),
                          ais__shape_str(b->dims, b->ndim, sb, sizeof sb));
    const ais_tensor *bs = in[4], *bz = in[5];
    AIS__CHECK(ais__expect_dtype(bs, "b_scale", AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
    if (bs->numel != 1 && bs->numel != d->n)
        return ais__error(AIS_E_SHAPE, "b_scale must be a scalar or have N = %zu values, got %s",
                          d->n, ais__shape_str(bs->dims, bs->ndim, sa, sizeof sa));
    if (bz) {
        AIS__CHECK(ais__expect_same_dtype(bz, "b_zero_point", b, "B"));
        if (bz->numel != bs->numel)
            return ais__error(AIS_E_SHAPE, "b_zero_point %s must have b_scale's size",
                              ais__shape_str(bz->dims, bz->ndim, sa, sizeof sa));
    }
    if (c) {
        AIS__CHECK(ais__expect_dtype(c, "C", AIS_DTYPE_I32, AIS_DTYPE_UNDEFINED));
        int64_t want[2] = {(int64_t)d->m, (int64_t)d->n}, o[AIS_MAX_DIMS];
        size_t no = 0;
        ais_status st = ais__broadcast_shape(ctx->op_type, c->dims, c->ndim, want, 2, o, &no);
        if (st != AIS_OK || no != 2 || o[0] != want[0] || o[1] != want[1])
            return ais__error(AIS_E_SHAPE, "C %s does not broadcast to [%zu, %zu]",
                              ais__shape_str(c->dims, c->ndim, sa, sizeof sa), d->m, d->n);
    }
    if (ys) AIS__CHECK(ais__qm_scalar(ys, "y_scale", true, NULL));
    if (yz) {
        if (!ys) return ais__error(AIS_E_INVALID_ARGUMENT, "y_zero_point needs y_scale");
        AIS__CHECK(ais__qm_scalar(yz, "y_zero_point", false, NULL));
    }
    return AIS_OK;
}

static ais_status ais__qgemm_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__tensor_desc *out, size_t n_out) {
    ais__qgemm_dims d;
    AIS__CHECK(ais__qgemm_check(ctx, in, n_in, &d));
    const ais_tensor *ys = n_in > 7 ? in[7] : NULL, *yz = n_in > 8 ? in[8] : NULL;
    ais_dtype t = !ys ? AIS_DTYPE_F32 : yz ? yz->dtype : AIS_DTYPE_U8;
    ais__desc_set(&out[0], t, (const int64_t[]){(int64_t)d.m, (int64_t)d.n}, 2);
    return AIS_OK;
}

static ais_status ais__qgemm_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais_tensor *const *out, size_t n_out) {
    ais__qgemm_dims d;
    AIS__CHECK(ais__qgemm_check(ctx, in, n_in, &d));
    const ais_tensor *a = in[0], *b = in[3], *bs = in[4], *bz = in[5];
    const ais_tensor *c = n_in > 6 ? in[6] : NULL, *ys = n_in > 7 ? in[7] : NULL;
    const ais_tensor *yz = n_in > 8 ? in[8] : NULL;
    float alpha = ais__attr_float(ctx->attrs, "alpha", 1.0f), sa = ais__qm_s(in[1]);
    int32_t za = ais__qm_z(in[2]), zy = ais__qm_z(yz);
    int64_t cst[2] = {0, 0};
    if (c)
        ais__broadcast_strides(c->dims, c->ndim, (const int64_t[]){(int64_t)d.m, (int64_t)d.n}, 2,
                               cst);
    bool per_col = bs->numel != 1;
    if (d.m && d.n && (!c || cst[0] == 0)) {
        /* C broadcast along rows (a scalar or [N]): a column bias of the GEMM */
        const ais__cpu_kernels *t = ais__cpu();
        const ais__qgemm_b *pb = ais__qm_pack(ctx, b);
        int64_t m = (int64_t)d.m, n = (int64_t)d.n, k = (int64_t)d.k;
        size_t gb = ais__qmm_scratch(t, m, n, k, !pb), nb = ais__qm_al(d.n * 4);
        char *scr = ais__op_scratch(ctx, gb + 2 * nb);
        if (!scr) return ais__oom(gb + 2 * nb, "the packed int8 operands");
        float *fs = (float *)(void *)(scr + gb);
        int32_t *cb = (int32_t *)(void *)(scr + gb + nb);
        for (size_t j = 0; j < d.n; j++) {
            float scale = alpha * sa * ((const float *)bs->data)[per_col ? j : 0];
            fs[j] = ys ? scale / ais__qm_s(ys) : scale;
            if (c) cb[j] = ((const int32_t *)c->data)[(int64_t)j * cst[1]];
        }
        ais__qmm q = {.a = a->data,
                      .a_signed = a->dtype == AIS_DTYPE_I8,
                      .ars = d.ta ? 1 : k,
                      .acs = d.ta ? m : 1,
                      .m = m,
                      .k = k,
                      .n = n,
                      .za = za,
                      .pb = pb,
                      .b = b->data,
                      .b_signed = b->dtype == AIS_DTYPE_I8,
                      .brs = d.tb ? 1 : n,
                      .bcs = d.tb ? k : 1,
                      .zb = bz,
                      .col_bias = c ? cb : NULL};
        ais_dtype yd = out[0]->dtype;
        ais__qgemm_ep ep = {.out = !ys                  ? AIS__QGEMM_OUT_F32
                                   : yd == AIS_DTYPE_U8 ? AIS__QGEMM_OUT_U8
                                                        : AIS__QGEMM_OUT_S8,
                            .fscale = fs,
                            .scale_cs = 1,
                            .zp = zy,
                            .qmin = yd == AIS_DTYPE_U8 ? 0 : -128,
                            .qmax = yd == AIS_DTYPE_U8 ? 255 : 127,
                            .y = out[0]->data,
                            .ldy = n};
        ais__qmm_run(ctx->pool, t, &q, &ep, scr);
        return AIS_OK;
    }
    for (size_t i = 0; i < d.m; i++)
        for (size_t j = 0; j < d.n; j++) {
            size_t cj = per_col ? j : 0;
            int32_t zb = bz ? ais__qm_at(bz->data, bz->dtype, cj) : 0;
            uint32_t acc =
                c ? (uint32_t)((const int32_t *)c->data)[(int64_t)i * cst[0] + (int64_t)j * cst[1]]
                  : 0;
            for (size_t kk = 0; kk < d.k; kk++) {
                int32_t av = ais__qm_at(a->data, a->dtype, d.ta ? kk * d.m + i : i * d.k + kk);
                int32_t bv = ais__qm_at(b->data, b->dtype, d.tb ? j * d.k + kk : kk * d.n + j);
                acc += (uint32_t)((av - za) * (bv - zb));
            }
            float scale = alpha * sa * ((const float *)bs->data)[cj];
            if (!ys)
                ((float *)out[0]->data)[i * d.n + j] = (float)(int32_t)acc * scale;
            else
                ais__qm_store(out[0]->data, out[0]->dtype, i * d.n + j,
                              (float)(int32_t)acc * (scale / ais__qm_s(ys)), zy);
        }
    return AIS_OK;
}

#define AIS__QMS(NAME, MIN, MAX, INFER, COMPUTE)                                                   \
    {                                                                                              \
        .domain = "com.microsoft", .name = NAME, .since_version = 1, .min_inputs = MIN,            \
        .max_inputs = MAX, .min_outputs = 1, .max_outputs = 1, .infer = INFER, .compute = COMPUTE  \
    }
#define AIS__QMS_PACKED(NAME, MIN, MAX, PRE)                                                       \
    {                                                                                              \
        .domain = "com.microsoft", .name = NAME, .since_version = 1, .min_inputs = MIN,            \
        .max_inputs = MAX, .min_outputs = 1, .max_outputs = 1, .infer = PRE##_infer,               \
        .compute = PRE##_compute, .prepare = PRE##_prepare, .release = ais__qm_release             \
    }

const ais__op_def ais__ops_qlinear_ms[] = {
    AIS__QMS("QLinearAdd", 7, 8, ais__qbin_infer, ais__qbin_compute),
    AIS__QMS("QLinearMul", 7, 8, ais__qbin_infer, ais__qbin_compute),
    AIS__QMS("QLinearSigmoid", 4, 5, ais__qsig_infer, ais__qsig_compute),
    AIS__QMS("QLinearGlobalAveragePool", 4, 5, ais__qgap_infer, ais__qgap_compute),
    AIS__QMS("QLinearConcat", 5, -1, ais__qcat_infer, ais__qcat_compute),
    AIS__QMS_PACKED("DynamicQuantizeMatMul", 3, 5, ais__dqmm),
    AIS__QMS_PACKED("QGemm", 6, 9, ais__qgemm),
    AIS__QMS_PACKED("MatMulIntegerToFloat", 4, 7, ais__mmitf),
    {.name = NULL},
};
