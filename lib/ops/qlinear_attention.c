/*
 * qlinear_attention.c - com.microsoft QAttention, what ONNX Runtime's quantize_dynamic makes of
 * an Attention node (a transformer after ORT's fusion tool):
 *
 *   QAttention(input, weight, bias, input_scale, weight_scale[, mask_index, input_zero_point,
 *              weight_zero_point, past]), attributes num_heads, unidirectional, scale,
 *              mask_filter_value:
 *     QKV [B*S, 3H] = (input - izp)(weight - wzp) * (input_scale * weight_scale[j]) + bias[j],
 *     input [B, S, Hin] and weight [Hin, 3H] 8-bit, weight_scale and weight_zero_point per tensor
 *     or per column; then per batch b and head h (head size d = H / num_heads)
 *     Y[b, s, h*d : (h+1)*d] = softmax_t(scale Q[s] . K[t] + mask[b, s, t]) V[t], scale
 *     default 1/sqrt(d); output [B, S, H] float.
 *
 * The projection runs on lib/cpu's int8 GEMM (weight packed at load, scale and bias in the
 * store, as DynamicQuantizeMatMul); the scores of one (batch, head) are one S x S block through
 * the table's sgemm and softmax_row, (batch, head) pairs split over the pool.
 * Masks as ORT's CPU Attention builds them (attention_helper's PrepareMask): a [B] key length
 * (keys at or past it masked), [2B] ends then starts (keys before the start masked too), a
 * [B, T] or [B, S, T] 0/1 mask (0 masked; [1, 1] and [B, 1] are placeholders, no mask);
 * a masked score is mask_filter_value (default -10000) plus the scaled product, so a row with
 * every key masked stays a softmax of its scores, as in ORT; unidirectional masks the keys after
 * the query the same way. Not supported (an error naming the input or attribute): past/present,
 * qkv_hidden_sizes, rotary embeddings, 4-D masks.
 */
#include <math.h>
#include <string.h>

#include "op.h"
#include "qlinear_gemm.h"

static inline size_t ais__qa_al(size_t n) { return (n + 63) & ~(size_t)63; }

typedef struct {
    int64_t b, s, hin, h, heads, d;
    int mask_kind; /* 0 none, 1 [B] ends, 2 [2B] ends and starts, 3 [B, T], 4 [B, S, T] */
    bool causal;
    float scale, filter;
} ais__qa_geo;

static ais_status ais__qa_vec(const ais_tensor *t, const char *what, int64_t n, ais_dtype d1,
                              const ais_tensor *like) {
    char s[AIS__SHAPE_STR_MAX];
    if (!t) return AIS_OK;
    if (like)
        AIS__CHECK(ais__expect_same_dtype(t, what, like, "its tensor"));
    else
        AIS__CHECK(ais__expect_dtype(t, what, d1, AIS_DTYPE_UNDEFINED));
    if (t->numel == 1 && t->ndim <= 1) return AIS_OK;
    if (n > 0 && t->ndim == 1 && t->dims[0] == n) return AIS_OK;
    return ais__error(AIS_E_SHAPE, "%s must be a scalar%s, got %s", what,
                      n > 0 ? " or one value per column of weight (3 * hidden)" : "",
                      ais__shape_str(t->dims, t->ndim, s, sizeof s));
}

static ais_status ais__qa_geometry(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais__qa_geo *g) {
    char s0[AIS__SHAPE_STR_MAX], s1[AIS__SHAPE_STR_MAX];
    const ais_tensor *x = in[0], *w = in[1], *bias = in[2];
    AIS__CHECK(ais__expect_dtype(x, "input", AIS_DTYPE_U8, AIS_DTYPE_I8, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_dtype(w, "weight", AIS_DTYPE_U8, AIS_DTYPE_I8, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_dtype(bias, "bias", AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
    const int64_t *qkv_sizes;
    size_t nd;
    if (ais__attr_ints(ctx->attrs, "qkv_hidden_sizes", &qkv_sizes, &nd) && nd > 0)
        return ais__error(AIS_E_UNSUPPORTED,
                          "attribute qkv_hidden_sizes (Q, K and V of different widths) is not "
                          "supported");
    if (ais__attr_int(ctx->attrs, "do_rotary", 0) != 0)
        return ais__error(AIS_E_UNSUPPORTED, "attribute do_rotary (rotary embeddings) is not "
                                             "supported");
    if (n_in > 8 && in[8] && in[8]->numel > 0)
        return ais__error(AIS_E_UNSUPPORTED, "input past (a key/value cache) is not supported");
    g->heads = ais__attr_int(ctx->attrs, "num_heads", 0);
    if (x->ndim != 3 || w->ndim != 2 || w->dims[0] != x->dims[2] || w->dims[1] % 3 != 0)
        return ais__error(AIS_E_SHAPE,
                          "input %s must be [batch, sequence, hidden] and weight %s [hidden, 3 * "
                          "hidden']",
                          ais__shape_str(x->dims, x->ndim, s0, sizeof s0),
                          ais__shape_str(w->dims, w->ndim, s1, sizeof s1));
    g->b = x->dims[0];
    g->s = x->dims[1];
    g->hin = x->dims[2];
    g->h = w->dims[1] / 3;
    if (g->heads <= 0 || g->h % g->heads != 0)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "attribute num_heads %lld must be positive and divide the hidden size "
                          "%lld",
                          (long long)g->heads, (long long)g->h);
    g->d = g->h / g->heads;
    if (bias->ndim != 1 || bias->dims[0] != 3 * g->h)
        return ais__error(AIS_E_SHAPE, "bias must be [%lld] (3 * hidden), got %s",
                          (long long)(3 * g->h),
                          ais__shape_str(bias->dims, bias->ndim, s0, sizeof s0));
    AIS__CHECK(ais__qa_vec(in[3], "input_scale", 0, AIS_DTYPE_F32, NULL));
    AIS__CHECK(ais__qa_vec(in[4], "weight_scale", 3 * g->h, AIS_DTYPE_F32, NULL));
    AIS__CHECK(ais__qa_vec(n_in > 6 ? in[6] : NULL, "input_zero_point", 0, AIS_DTYPE_UNDEFINED, x));
    AIS__CHECK(ais__qa_vec(n_in > 7 ? in[7] : NULL, "weight_zero_point", 3 * g->h,
                           AIS_DTYPE_UNDEFINED, w));
    g->mask_kind = 0;
    const ais_tensor *m = n_in > 5 ? in[5] : NULL;
    if (m) {
        AIS__CHECK(ais__expect_dtype(m, "mask_index", AIS_DTYPE_I32, AIS_DTYPE_UNDEFINED));
        const int64_t *md = m->dims;
        if (m->ndim == 1 && md[0] == g->b)
            g->mask_kind = 1;
        else if (m->ndim == 1 && md[0] == 2 * g->b)
            g->mask_kind = 2;
        else if (m->ndim == 2 && (md[0] == 1 || md[0] == g->b) && md[1] == 1)
            g->mask_kind = 0; /* ORT's placeholder: no mask */
        else if (m->ndim == 2 && md[0] == g->b && md[1] == g->s)
            g->mask_kind = 3;
        else if (m->ndim == 3 && md[0] == g->b && md[1] == g->s && md[2] == g->s)
            g->mask_kind = 4;
        else
            return ais__error(AIS_E_SHAPE,
                              "mask_index %s must be [batch], [2 * batch], [batch, sequence] or "
                              "[batch, sequence, sequence] (batch %lld, sequence %lld)",
                              ais__shape_str(md, m->ndim, s0, sizeof s0), (long long)g->b,
                              (long long)g->s);
    }
    g->causal = ais__attr_int(ctx->attrs, "unidirectional", 0) != 0;
    float sc = ais__attr_float(ctx->attrs, "scale", 0.0f);
    g->scale = sc == 0.0f ? 1.0f / sqrtf((float)g->d) : sc;
    g->filter = ais__attr_float(ctx->attrs, "mask_filter_value", -10000.0f);
    return AIS_OK;
}

static ais_status ais__qa_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, size_t n_out) {
    (void)n_out;
    ais__qa_geo g;
    AIS__CHECK(ais__qa_geometry(ctx, in, n_in, &g));
    const int64_t d[3] = {g.b, g.s, g.h};
    ais__desc_set(&out[0], AIS_DTYPE_F32, d, 3);
    return AIS_OK;
}

typedef struct {
    ais__qa_geo g;
    const ais__cpu_kernels *t;
    const float *qkv;
    const int32_t *mask;
    float *y, *scratch; /* scratch: s * s floats per worker */
    size_t pairs, workers;
} ais__qa_job;

/* Row s of batch b's mask before the scaled product is added: 0 or mask_filter_value. */
static void ais__qa_mask_row(const ais__qa_job *j, int64_t b, int64_t s, float *row) {
    const ais__qa_geo *g = &j->g;
    int64_t n = g->s;
    for (int64_t t = 0; t < n; t++)
        row[t] = 0.0f;
    if (g->mask_kind == 1 || g->mask_kind == 2) {
        int64_t end = j->mask[b];
        for (int64_t t = end < 0 ? 0 : end; t < n; t++)
            row[t] = g->filter;
        if (g->mask_kind == 2) {
            int64_t start = j->mask[g->b + b];
            for (int64_t t = 0; t < (start < n ? start : n); t++)
                row[t] = g->filter;
        }
    } else if (g->mask_kind >= 3) {
        const int32_t *m = j->mask + (g->mask_kind == 3 ? b * n : (b * g->s + s) * n);
        for (int64_t t = 0; t < n; t++)
            row[t] = m[t] > 0 ? 0.0f : g->filter;
    }
    if (g->causal)
        for (int64_t t = s + 1; t < n; t++)
            row[t] = g->filter;
}

static void ais__qa_range(void *vj, size_t begin, size_t end) {
    const ais__qa_job *j = vj;
    const ais__qa_geo *g = &j->g;
    int64_t ld = 3 * g->h;
    for (size_t w = begin; w < end; w++) {
        float *sc = j->scratch + w * (size_t)(g->s * g->s);
        for (size_t p = j->pairs * w / j->workers; p < j->pairs * (w + 1) / j->workers; p++) {
            int64_t b = (int64_t)p / g->heads, h = (int64_t)p % g->heads;
            const float *q = j->qkv + b * g->s * ld + h * g->d;
            for (int64_t s = 0; s < g->s; s++)
                ais__qa_mask_row(j, b, s, sc + s * g->s);
            /* scores = mask + scale Q K^T, as ORT's Gemm with beta 1 onto its mask */
            j->t->sgemm(false, true, g->s, g->s, g->d, g->scale, q, ld, q + g->h, ld, 1.0f, sc,
                        g->s);
            for (int64_t s = 0; s < g->s; s++)
                j->t->softmax_row(sc + s * g->s, sc + s * g->s, (size_t)g->s);
            j->t->sgemm(false, false, g->s, g->d, g->s, 1.0f, sc, g->s, q + 2 * g->h, ld, 0.0f,
                        j->y + b * g->s * g->h + h * g->d, g->h);
        }
    }
}

static ais_status ais__qa_prepare(const ais__op_ctx *ctx, void **out) {
    const ais_tensor *w = ctx->consts && ctx->n_consts > 1 ? ctx->consts[1] : NULL;
    /* NULL (no constant weight, or short of memory): packed per call */
    *out = w ? ais__qpack_b_new(w, false) : NULL;
    return AIS_OK;
}

static void ais__qa_release(void *st) { ais__qpack_free(st); }

static ais_status ais__qa_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais_tensor *const *out, size_t n_out) {
    (void)n_out;
    ais__qa_job j = {.t = ais__cpu()};
    AIS__CHECK(ais__qa_geometry(ctx, in, n_in, &j.g));
    const ais__qa_geo *g = &j.g;
    if (out[0]->numel == 0) return AIS_OK;
    const ais_tensor *x = in[0], *w = in[1], *ws = in[4];
    const ais__qpack *pk = ctx->state;
    const ais__qgemm_b *pb = pk && pk->src == w->data ? &pk->b : NULL;
    int64_t rows = g->b * g->s, n = 3 * g->h;
    int32_t nt = ctx->pool ? ais__pool_threads(ctx->pool) : 1;
    j.pairs = (size_t)(g->b * g->heads);
    j.workers = AIS__MIN((size_t)(nt > 0 ? nt : 1), j.pairs);
    size_t qkv_b, sc_b, gb = ais__qa_al(ais__qmm_scratch(j.t, rows, n, g->hin, !pb));
    if (!ais__mul_size((size_t)rows, (size_t)n * sizeof(float), &qkv_b) ||
        !ais__mul_size(j.workers, (size_t)(g->s * g->s) * sizeof(float), &sc_b) ||
        ais__qa_al(qkv_b) > SIZE_MAX / 2 - sc_b - gb)
        return ais__error(AIS_E_LIMIT, "QAttention scratch size overflows");
    size_t fs_b = ais__qa_al((size_t)n * sizeof(float));
    size_t bytes = ais__qa_al(qkv_b) + gb + fs_b + sc_b;
    char *s = ais__op_scratch(ctx, bytes);
    if (!s) return ais__oom(bytes, "the QKV projection and attention scores");
    float *qkv = (float *)(void *)s;
    void *gs = s + ais__qa_al(qkv_b);
    float *fs = (float *)(void *)(s + ais__qa_al(qkv_b) + gb);
    j.scratch = (float *)(void *)(s + ais__qa_al(qkv_b) + gb + fs_b);
    /* input_scale * weight_scale in float32, as ORT's QAttention multiplies them */
    float xs = ((const float *)in[3]->data)[0];
    for (int64_t c = 0; c < n; c++)
        fs[c] = xs * ((const float *)ws->data)[ws->numel == 1 ? 0 : c];
    const ais_tensor *xz = n_in > 6 ? in[6] : NULL, *wz = n_in > 7 ? in[7] : NULL;
    ais__qmm q = {.a = x->data,
                  .a_signed = x->dtype == AIS_DTYPE_I8,
                  .ars = g->hin,
                  .acs = 1,
                  .m = rows,
                  .k = g->hin,
                  .n = n,
                  .za = ais__qgemm_zp_at(xz, 0),
                  .pb = pb,
                  .b = w->data,
                  .b_signed = w->dtype == AIS_DTYPE_I8,
                  .brs = n,
                  .bcs = 1,
                  .zb = wz};
    ais__qgemm_ep ep = {.out = AIS__QGEMM_OUT_F32,
                        .fscale = fs,
                        .fbias = in[2]->data,
                        .scale_cs = 1,
                        .y = qkv,
                        .ldy = n};
    ais__qmm_run(ctx->pool, j.t, &q, &ep, gs);
    j.qkv = qkv;
    j.mask = g->mask_kind ? in[5]->data : NULL;
    j.y = out[0]->data;
    if (j.workers > 1)
        ais__parallel_for(ctx->pool, j.workers, 1, ais__qa_range, &j);
    else
        ais__qa_range(&j, 0, 1);
    return AIS_OK;
}

const ais__op_def ais__ops_qattention[] = {
    {.domain = "com.microsoft",
     .name = "QAttention",
     .since_version = 1,
     .min_inputs = 5,
     .max_inputs = 9,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__qa_infer,
     .compute = ais__qa_compute,
     .prepare = ais__qa_prepare,
     .release = ais__qa_release},
    {.name = NULL},
};
