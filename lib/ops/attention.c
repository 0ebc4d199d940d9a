/*
 * attention.c - the transformer blocks that lib/runtime/fuse_transformer.c makes out of exported
 * subgraphs (internal, com.microsoft domain):
 *
 *   FusedAttention(Q, K, V[, mask]), attribute scale (default 1):
 *     Q [Bq, S, Hq, dk], K [Bk, T, Hk, dk], V [Bv, T, Hv, dv] (the head-split tensors before the
 *     Transposes an exporter writes), mask broadcasting to [B, H, S, T];
 *     Y[b, s, h, :] = softmax_t(scale * Q[b, s, h, :] . K[b, t, h, :] + mask[b, h, s, t]) V[b, t,
 * h, :] with B and H broadcast between Q, K and V as MatMul broadcasts them: [B, S, H, dv], which
 *     is what Transpose(MatMul(Softmax(...), Transpose(V)), [0, 2, 1, 3]) gives.
 *   BiasGelu(X, bias): Gelu(X + bias), bias 1-D over X's last axis (as ONNX Runtime's).
 *
 * FusedAttention works on tiles of (batch, head, block of query rows): the scores of one tile
 * (rows x T floats, sized to stay in L2) are the only intermediate, in the worker's own scratch;
 * scale, mask and softmax are applied to them in place before the product with V, which is
 * written straight into the output's [B, S, H, dv] layout. The tiles are split over the session's
 * pool. f32 only: the pass fuses only graphs whose values are f32 or undeclared.
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu.h"
#include "dense_util.h"

/* ---- FusedAttention ---- */

typedef struct {
    int64_t b, s, h, t, dk, dv;     /* output batch, query rows, heads, keys, head sizes */
    int64_t bq, hq, bk, hk, bv, hv; /* the inputs' own B and H (1 or the output's) */
    int64_t ms[4];                  /* mask strides over [B, H, S, T] (0: broadcast), */
    bool has_mask;
} ais__att_geo;

static bool ais__att_bcast(int64_t a, int64_t b, int64_t *out) {
    if (a != b && a != 1 && b != 1) return false;
    *out = a == 1 ? b : a;
    return true;
}

static ais_status ais__att_geometry(const ais__op_ctx *ctx, const ais_tensor *const *in,
                                    size_t n_in, ais__att_geo *g) {
    (void)ctx;
    static const char *const names[3] = {"Q", "K", "V"};
    char s0[AIS__SHAPE_STR_MAX], s1[AIS__SHAPE_STR_MAX];
    for (int i = 0; i < 3; i++) {
        AIS__CHECK(ais__expect_dtype(in[i], names[i], AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
        if (in[i]->ndim != 4)
            return ais__error(AIS_E_SHAPE, "%s must be [batch, sequence, heads, head size], got %s",
                              names[i], ais__shape_str(in[i]->dims, in[i]->ndim, s0, sizeof s0));
    }
    const int64_t *q = in[0]->dims, *k = in[1]->dims, *v = in[2]->dims;
    int64_t bqk, hqk;
    if (q[3] != k[3] || k[1] != v[1] || !ais__att_bcast(q[0], k[0], &bqk) ||
        !ais__att_bcast(q[2], k[2], &hqk) || !ais__att_bcast(bqk, v[0], &g->b) ||
        !ais__att_bcast(hqk, v[2], &g->h))
        return ais__error(AIS_E_SHAPE, "Q %s, K %s and V %s do not fit together",
                          ais__shape_str(q, 4, s0, sizeof s0), ais__shape_str(k, 4, s1, sizeof s1),
                          ais__shape_str(v, 4, (char[AIS__SHAPE_STR_MAX]){0}, AIS__SHAPE_STR_MAX));
    g->s = q[1];
    g->t = k[1];
    g->dk = q[3];
    g->dv = v[3];
    g->bq = q[0], g->hq = q[2], g->bk = k[0], g->hk = k[2], g->bv = v[0], g->hv = v[2];
    g->has_mask = n_in > 3 && in[3];
    memset(g->ms, 0, sizeof g->ms);
    if (g->has_mask) {
        const ais_tensor *m = in[3];
        AIS__CHECK(ais__expect_dtype(m, "mask", AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
        const int64_t sc[4] = {g->b, g->h, g->s, g->t};
        /* the mask must broadcast to the scores: a larger mask would have made the unfused Add
         * broadcast the scores instead */
        bool ok = m->ndim <= 4;
        int64_t stride = 1;
        for (size_t i = 0; ok && i < m->ndim; i++) {
            size_t ax = 3 - i;
            int64_t d = m->dims[m->ndim - 1 - i];
            if (d != 1 && d != sc[ax]) ok = false;
            g->ms[ax] = d == 1 ? 0 : stride;
            stride *= d;
        }
        if (!ok)
            return ais__error(AIS_E_SHAPE, "mask %s does not broadcast to the scores %s",
                              ais__shape_str(m->dims, m->ndim, s0, sizeof s0),
                              ais__shape_str(sc, 4, s1, sizeof s1));
    }
    return AIS_OK;
}

static ais_status ais__att_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    (void)n_out;
    ais__att_geo g;
    AIS__CHECK(ais__att_geometry(ctx, in, n_in, &g));
    const int64_t d[4] = {g.b, g.s, g.h, g.dv};
    ais__desc_set(&out[0], AIS_DTYPE_F32, d, 4);
    return AIS_OK;
}

typedef struct {
    ais__att_geo g;
    const float *q, *k, *v, *mask;
    float *y, *scratch; /* scratch: per_worker floats a worker: rows * t scores, then the
                         * GEMM's packing when `ours` */
    float scale;
    int64_t rows, blocks; /* query rows per tile, tiles per (batch, head) */
    size_t tiles, workers, per_worker;
    const ais__cpu_kernels *cpu;
    bool ours;
} ais__att_job;

/* C = alpha A op(B) for one tile's product: our GEMM on the worker's own packing scratch where
 * this level has it, else the table's sgemm. The table's sgemm gives BLAS these sizes (a
 * 128x128x64 product is under ais__gemm_ours_wins), and OpenBLAS's per-call thread count is
 * process-wide: cpu_blas.c sets it under one lock per call, so two workers' products ran one
 * after the other (BERT 4x256's attention: 0.40 ms a layer on one thread, 0.50 on two). */
static void ais__att_gemm(const ais__att_job *j, bool tb, int64_t m, int64_t n, int64_t k,
                          float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                          float *c, int64_t ldc, float *scr) {
    if (j->ours)
        ais__gemm_drive(j->cpu, false, tb, m, n, k, alpha, a, lda, b, ldb, NULL, 0.0f, c, ldc, NULL,
                        scr);
    else
        j->cpu->sgemm(false, tb, m, n, k, alpha, a, lda, b, ldb, 0.0f, c, ldc);
}

static void ais__att_tile(const ais__att_job *j, size_t tile, float *sc, float *scr) {
    const ais__att_geo *g = &j->g;
    int64_t blk = (int64_t)(tile % (size_t)j->blocks), bh = (int64_t)(tile / (size_t)j->blocks);
    int64_t b = bh / g->h, h = bh % g->h, s0 = blk * j->rows;
    int64_t rows = AIS__MIN(j->rows, g->s - s0);
    int64_t bq = g->bq == 1 ? 0 : b, hq = g->hq == 1 ? 0 : h, bk = g->bk == 1 ? 0 : b,
            hk = g->hk == 1 ? 0 : h, bv = g->bv == 1 ? 0 : b, hv = g->hv == 1 ? 0 : h;
    const float *q = j->q + ((bq * g->s + s0) * g->hq + hq) * g->dk;
    const float *k = j->k + (bk * g->t * g->hk + hk) * g->dk;
    const float *v = j->v + (bv * g->t * g->hv + hv) * g->dv;
    float *y = j->y + ((b * g->s + s0) * g->h + h) * g->dv;
    /* scores = scale * Q K^T for this tile's rows */
    ais__att_gemm(j, true, rows, g->t, g->dk, j->scale, q, g->hq * g->dk, k, g->hk * g->dk, sc,
                  g->t, scr);
    for (int64_t r = 0; r < rows; r++) {
        float *row = sc + r * g->t;
        if (j->mask) {
            const float *m = j->mask + b * g->ms[0] + h * g->ms[1] + (s0 + r) * g->ms[2];
            if (g->ms[3])
                for (int64_t t = 0; t < g->t; t++)
                    row[t] += m[t];
            else
                for (int64_t t = 0; t < g->t; t++)
                    row[t] += m[0];
        }
        j->cpu->softmax_row(row, row, (size_t)g->t);
    }
    ais__att_gemm(j, false, rows, g->dv, g->t, 1.0f, sc, g->t, v, g->hv * g->dv, y, g->h * g->dv,
                  scr);
}

/* Worker w takes an equal share of the tiles and its own slice of scratch. */
static void ais__att_range(void *vj, size_t begin, size_t end) {
    const ais__att_job *j = vj;
    for (size_t w = begin; w < end; w++) {
        float *sc = j->scratch + w * j->per_worker;
        size_t t0 = j->tiles * w / j->workers, t1 = j->tiles * (w + 1) / j->workers;
        for (size_t t = t0; t < t1; t++)
            ais__att_tile(j, t, sc, sc + (size_t)(j->rows * j->g.t + 15) / 16 * 16);
    }
}

static ais_status ais__att_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    (void)n_out;
    ais__att_job j = {.cpu = ais__cpu()};
    AIS__CHECK(ais__att_geometry(ctx, in, n_in, &j.g));
    if (out[0]->numel == 0) return AIS_OK;
    if (j.g.t == 0) { /* softmax over no keys: the empty sum of V rows */
        memset(out[0]->data, 0, out[0]->nbytes);
        return AIS_OK;
    }
    /* a tile's scores: at most 64 Ki floats (256 KiB, an L2's worth), at least one row */
    j.rows = AIS__MAX((int64_t)1, AIS__MIN(j.g.s, (int64_t)65536 / j.g.t));
    j.blocks = (j.g.s + j.rows - 1) / j.rows;
    j.tiles = (size_t)(j.g.b * j.g.h * j.blocks);
    int32_t nt = ctx->pool ? ais__pool_threads(ctx->pool) : 1;
    j.workers = AIS__MIN((size_t)(nt > 0 ? nt : 1), j.tiles);
    /* ours from the AVX2 level up, where the table's GEMM kernels are (test_transformer_kernels
     * runs FusedAttention at every level) */
    j.ours = j.cpu->isa >= AIS_CPU_ISA_AVX2 && j.cpu->gemm_ukernel_ep;
    j.per_worker = (size_t)(j.rows * j.g.t + 15) / 16 * 16;
    if (j.ours)
        j.per_worker += AIS__MAX(ais__gemm_scratch_floats(j.cpu, j.rows, j.g.t, j.g.dk, false),
                                 ais__gemm_scratch_floats(j.cpu, j.rows, j.g.dv, j.g.t, false));
    size_t floats, bytes;
    if (!ais__mul_size(j.workers, j.per_worker, &floats) ||
        !ais__mul_size(floats, sizeof(float), &bytes))
        return ais__error(AIS_E_LIMIT, "attention scratch size overflows");
    j.scratch = ais__op_scratch(ctx, bytes);
    if (!j.scratch) return ais__oom(bytes, "attention scores");
    j.q = in[0]->data;
    j.k = in[1]->data;
    j.v = in[2]->data;
    j.mask = j.g.has_mask ? in[3]->data : NULL;
    j.y = out[0]->data;
    j.scale = ais__attr_float(ctx->attrs, "scale", 1.0f);
    ais__parallel_for(ctx->pool, j.workers, 1, ais__att_range, &j);
    return AIS_OK;
}

/* ---- BiasGelu ---- */

static ais_status ais__bg_check(const ais_tensor *const *in) {
    AIS__CHECK(ais__expect_dtype(in[0], "X", AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_same_dtype(in[0], "X", in[1], "bias"));
    char s0[AIS__SHAPE_STR_MAX], s1[AIS__SHAPE_STR_MAX];
    if (in[0]->ndim == 0 || in[1]->ndim != 1 || in[1]->dims[0] != in[0]->dims[in[0]->ndim - 1])
        return ais__error(AIS_E_SHAPE, "bias %s must be 1-D over the last axis of X %s",
                          ais__shape_str(in[1]->dims, in[1]->ndim, s1, sizeof s1),
                          ais__shape_str(in[0]->dims, in[0]->ndim, s0, sizeof s0));
    return AIS_OK;
}

static ais_status ais__bg_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    AIS__CHECK(ais__bg_check(in));
    ais__desc_from(&out[0], in[0]);
    return AIS_OK;
}

typedef struct {
    const float *x, *bias;
    float *y;
    size_t n; /* row length */
    const ais__cpu_kernels *cpu;
} ais__bg_job;

/* Per row, in blocks: u = x + bias, then 0.5 u (1 + erf(u / sqrt 2)) with the table's erf. */
static void ais__bg_range(void *vj, size_t begin, size_t end) {
    const ais__bg_job *j = vj;
    float u[256], e[256];
    for (size_t r = begin; r < end; r++) {
        const float *x = j->x + r * j->n;
        float *y = j->y + r * j->n;
        for (size_t i0 = 0; i0 < j->n; i0 += AIS__ARRAY_LEN(u)) {
            size_t m = AIS__MIN(AIS__ARRAY_LEN(u), j->n - i0);
            for (size_t i = 0; i < m; i++) {
                u[i] = x[i0 + i] + j->bias[i0 + i];
                e[i] = u[i] * 0.7071067811865476f;
            }
            j->cpu->verf(e, e, m);
            for (size_t i = 0; i < m; i++)
                y[i0 + i] = 0.5f * u[i] * (1.0f + e[i]);
        }
    }
}

static ais_status ais__bg_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    AIS__CHECK(ais__bg_check(in));
    ais__bg_job j = {.x = in[0]->data,
                     .bias = in[1]->data,
                     .y = out[0]->data,
                     .n = (size_t)in[1]->dims[0],
                     .cpu = ais__cpu()};
    if (j.n == 0 || in[0]->numel == 0) return AIS_OK;
    size_t rows = in[0]->numel / j.n;
    ais__parallel_for(ctx->pool, rows, j.n >= 4096 ? 1 : 4096 / j.n + 1, ais__bg_range, &j);
    return AIS_OK;
}

const ais__op_def ais__ops_attention[] = {
    {.domain = "com.microsoft",
     .name = "FusedAttention",
     .since_version = 1,
     .min_inputs = 3,
     .max_inputs = 4,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__att_infer,
     .compute = ais__att_compute},
    {.domain = "com.microsoft",
     .name = "BiasGelu",
     .since_version = 1,
     .min_inputs = 2,
     .max_inputs = 2,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__bg_infer,
     .compute = ais__bg_compute},
    {.name = NULL},
};
