/* dense_util.c - geometry and conversions shared by the dense operators. */
#include "dense_util.h"

#include <string.h>

ais_status ais__dense_ints(const ais__op_ctx *ctx, const char *name, size_t n, int64_t dflt,
                           int64_t lo, int64_t hi, int64_t *v) {
    const int64_t *vals;
    size_t cnt;
    if (!ais__attr_ints(ctx->attrs, name, &vals, &cnt)) {
        if (ais__attr_find(ctx->attrs, name))
            return ais__error(AIS_E_INVALID_ARGUMENT, "attribute '%s' must be a list of ints",
                              name);
        for (size_t i = 0; i < n; i++)
            v[i] = dflt;
        return AIS_OK;
    }
    if (cnt != n)
        return ais__error(AIS_E_INVALID_ARGUMENT, "attribute '%s' has %zu values, expected %zu",
                          name, cnt, n);
    for (size_t i = 0; i < n; i++) {
        if (vals[i] < lo || vals[i] > hi)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "attribute '%s'[%zu] is %lld, expected a value in [%lld, %lld]", name,
                              i, (long long)vals[i], (long long)lo, (long long)hi);
        v[i] = vals[i];
    }
    return AIS_OK;
}

ais_status ais__dense_auto_pad(const ais__op_ctx *ctx, int *mode) {
    const char *s = ais__attr_string(ctx->attrs, "auto_pad", "NOTSET");
    if (strcmp(s, "NOTSET") == 0 || s[0] == 0)
        *mode = 0;
    else if (strcmp(s, "SAME_UPPER") == 0)
        *mode = 1;
    else if (strcmp(s, "SAME_LOWER") == 0)
        *mode = 2;
    else if (strcmp(s, "VALID") == 0)
        *mode = 3;
    else
        return ais__error(AIS_E_UNSUPPORTED,
                          "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", s);
    return AIS_OK;
}

/* Attribute values are capped so that products of two of them (and of an extent) fit int64. */
#define AIS__DENSE_ATTR_MAX ((int64_t)INT32_MAX)

ais_status ais__dense_geom_init(const ais__op_ctx *ctx, const ais_tensor *x, const int64_t *kernel,
                                bool ceil_mode, ais__dense_geom *g) {
    char s[AIS__SHAPE_STR_MAX];
    if (x->ndim < 3 || x->ndim > 2 + AIS__DENSE_MAX_SP)
        return ais__error(x->ndim < 3 ? AIS_E_SHAPE : AIS_E_UNSUPPORTED,
                          "input X must be [N, C, D1...] with 1 to %d spatial axes, got shape %s",
                          AIS__DENSE_MAX_SP, ais__shape_str(x->dims, x->ndim, s, sizeof s));
    size_t nsp = x->ndim - 2;
    int64_t k[3], st[3], dl[3], pads[6];
    if (kernel) {
        for (size_t i = 0; i < nsp; i++)
            k[i] = kernel[i];
        if (ais__attr_find(ctx->attrs, "kernel_shape")) {
            int64_t ka[3];
            AIS__CHECK(ais__dense_ints(ctx, "kernel_shape", nsp, 1, 1, AIS__DENSE_ATTR_MAX, ka));
            for (size_t i = 0; i < nsp; i++)
                if (ka[i] != k[i])
                    return ais__error(AIS_E_SHAPE,
                                      "kernel_shape[%zu] is %lld but the weights have %lld", i,
                                      (long long)ka[i], (long long)k[i]);
        }
    } else {
        if (!ais__attr_find(ctx->attrs, "kernel_shape"))
            return ais__error(AIS_E_INVALID_ARGUMENT, "attribute 'kernel_shape' is required");
        AIS__CHECK(ais__dense_ints(ctx, "kernel_shape", nsp, 1, 1, AIS__DENSE_ATTR_MAX, k));
    }
    for (size_t i = 0; i < nsp; i++)
        if (k[i] < 1 || k[i] > AIS__DENSE_ATTR_MAX)
            return ais__error(AIS_E_SHAPE, "kernel extent %zu is %lld, expected at least 1", i,
                              (long long)k[i]);
    AIS__CHECK(ais__dense_ints(ctx, "strides", nsp, 1, 1, AIS__DENSE_ATTR_MAX, st));
    AIS__CHECK(ais__dense_ints(ctx, "dilations", nsp, 1, 1, AIS__DENSE_ATTR_MAX, dl));
    AIS__CHECK(ais__dense_ints(ctx, "pads", 2 * nsp, 0, 0, AIS__DENSE_ATTR_MAX, pads));
    int mode;
    AIS__CHECK(ais__dense_auto_pad(ctx, &mode));

    g->nsp = nsp;
    size_t off = 3 - nsp;
    for (size_t i = 0; i < 3; i++) {
        g->in[i] = g->k[i] = g->stride[i] = g->dil[i] = g->out[i] = 1;
        g->pb[i] = g->pe[i] = 0;
    }
    for (size_t i = 0; i < nsp; i++) {
        size_t j = off + i;
        int64_t in = x->dims[2 + i];
        int64_t dk = (k[i] - 1) * dl[i] + 1;
        int64_t out, pb = 0, pe = 0;
        if (mode == 1 || mode == 2) {
            out = (in + st[i] - 1) / st[i];
            int64_t total = out > 0 ? (out - 1) * st[i] + dk - in : 0;
            if (total < 0) total = 0;
            pb = mode == 1 ? total / 2 : total - total / 2;
            pe = total - pb;
        } else {
            if (mode == 0) {
                pb = pads[i];
                pe = pads[nsp + i];
            }
            int64_t span = in + pb + pe - dk;
            if (span < 0)
                return ais__error(AIS_E_SHAPE,
                                  "spatial axis %zu: the dilated kernel (%lld) is larger than the "
                                  "padded input (%lld)",
                                  i, (long long)dk, (long long)(in + pb + pe));
            out = span / st[i] + 1;
            if (ceil_mode && span % st[i] != 0) {
                out++;
                /* The last window must start inside the input or its leading pad. */
                if ((out - 1) * st[i] >= in + pb) out--;
            }
        }
        g->in[j] = in;
        g->k[j] = k[i];
        g->stride[j] = st[i];
        g->dil[j] = dl[i];
        g->pb[j] = pb;
        g->pe[j] = pe;
        g->out[j] = out;
    }
    return AIS_OK;
}

void ais__dense_to_f32(const void *src, ais_dtype dtype, float *dst, size_t n) {
    switch (dtype) {
    case AIS_DTYPE_F16:
        for (size_t i = 0; i < n; i++)
            dst[i] = ais__f16_to_f32(((const uint16_t *)src)[i]);
        break;
    case AIS_DTYPE_BF16:
        for (size_t i = 0; i < n; i++)
            dst[i] = ais__bf16_to_f32(((const uint16_t *)src)[i]);
        break;
    case AIS_DTYPE_F64:
        for (size_t i = 0; i < n; i++)
            dst[i] = (float)((const double *)src)[i];
        break;
    default:
        if (n) memcpy(dst, src, n * sizeof(float));
        break;
    }
}

void ais__dense_from_f32(const float *src, ais_dtype dtype, void *dst, size_t n) {
    switch (dtype) {
    case AIS_DTYPE_F16:
        for (size_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = ais__f32_to_f16(src[i]);
        break;
    case AIS_DTYPE_BF16:
        for (size_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = ais__f32_to_bf16(src[i]);
        break;
    case AIS_DTYPE_F64:
        for (size_t i = 0; i < n; i++)
            ((double *)dst)[i] = src[i];
        break;
    default:
        if (n) memcpy(dst, src, n * sizeof(float));
        break;
    }
}

typedef struct {
    float *y;
    const float *bias;
    int64_t c, plane;
} ais__bias_job;

static void ais__bias_range(void *p, size_t begin, size_t end) {
    const ais__bias_job *j = p;
    for (size_t r = begin; r < end; r++) {
        float b = j->bias[(int64_t)r % j->c];
        float *y = j->y + (int64_t)r * j->plane;
        for (int64_t i = 0; i < j->plane; i++)
            y[i] += b;
    }
}

void ais__dense_add_bias(ais__pool *pool, float *y, const float *bias, int64_t n, int64_t c,
                         int64_t plane) {
    if (!bias || n <= 0 || c <= 0 || plane <= 0) return;
    ais__bias_job j = {y, bias, c, plane};
    size_t grain = plane >= 4096 ? 1 : (size_t)(4096 / plane);
    ais__parallel_for(pool, (size_t)(n * c), grain, ais__bias_range, &j);
}

size_t ais__dense_gemm_slots(const ais__op_ctx *ctx, double flops, size_t tasks) {
    int32_t threads = ctx->pool ? ais__pool_threads(ctx->pool) : 1;
    if (flops <= 262144.0 && tasks > 1 && threads > 1) return AIS__MIN(tasks, (size_t)threads);
    return 1;
}

#define AIS__COL_TILE_BYTES ((size_t)8 << 20)

ais_status ais__dense_col_buffers(ais__op_ctx *ctx, size_t row_bytes, int64_t cols, size_t slots,
                                  int64_t *tile, float **buf, const char *what) {
    int64_t t = (int64_t)(AIS__COL_TILE_BYTES / row_bytes);
    if (t < 64) t = 64;
    *tile = AIS__MIN(t, cols);
    size_t bytes;
    if (!ais__mul_size(row_bytes, (size_t)*tile, &bytes) || !ais__mul_size(bytes, slots, &bytes))
        return ais__error(AIS_E_LIMIT, "%s size overflows", what);
    *buf = ais__op_scratch(ctx, bytes);
    if (!*buf) return ais__oom(bytes, what);
    return AIS_OK;
}

ais_status ais__dense_check_conv_xw(const ais_tensor *x, const ais_tensor *w,
                                    const char *w_layout) {
    AIS__CHECK(ais__expect_dtype(x, "input X", AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_same_dtype(x, "X", w, "W"));
    if (x->ndim >= 3 && x->ndim <= 5 && w->ndim == x->ndim) return AIS_OK;
    char sx[AIS__SHAPE_STR_MAX], sw[AIS__SHAPE_STR_MAX];
    return ais__error(AIS_E_SHAPE,
                      "X must be [N, C, D1...] with 1 to 3 spatial axes and W %s of the same "
                      "rank; got X %s and W %s",
                      w_layout, ais__shape_str(x->dims, x->ndim, sx, sizeof sx),
                      ais__shape_str(w->dims, w->ndim, sw, sizeof sw));
}
