/*
 * ml_tree.c - ai.onnx.ml TreeEnsembleClassifier and TreeEnsembleRegressor (versions 1 and 3;
 * 3 adds the *_as_tensor attributes).
 *
 * The trees arrive as parallel attribute arrays addressed by (tree id, node id). The operators'
 * prepare checks and compiles them once per model node (tree_engine.c); the kernels only score
 * rows and apply the post transform and the classifier's label logic.
 */
#include "ml_util.h"
#include "tree_engine.h"

/* Outputs a tree ensemble may have (class count or n_targets). */
#define AIS__TREE_MAX_WIDTH 4096

/* ---- TreeEnsembleRegressor ---- */

static ais_status ais__treg_prepare(const ais__op_ctx *ctx, void **state) {
    *state = NULL;
    int64_t nt = ais__attr_int(ctx->attrs, "n_targets", 1);
    if (nt < 1 || nt > AIS__TREE_MAX_WIDTH)
        return ais__error(AIS_E_INVALID_ARGUMENT, "n_targets must be in [1, %d], got %lld",
                          AIS__TREE_MAX_WIDTH, (long long)nt);
    const char *agg = ais__attr_string(ctx->attrs, "aggregate_function", "SUM");
    ais__tree_agg ag;
    if (strcmp(agg, "SUM") == 0)
        ag = AIS__TAGG_SUM;
    else if (strcmp(agg, "AVERAGE") == 0)
        ag = AIS__TAGG_AVERAGE;
    else if (strcmp(agg, "MIN") == 0)
        ag = AIS__TAGG_MIN;
    else if (strcmp(agg, "MAX") == 0)
        ag = AIS__TAGG_MAX;
    else
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "aggregate_function must be SUM, AVERAGE, MIN or MAX, got '%s'", agg);
    ais__post_transform pt;
    AIS__CHECK(ais__ml_post_parse(ctx->attrs, &pt));
    return ais__tengine_build(ctx->attrs, "target", (size_t)nt, ag, true, (ais__tengine **)state);
}

static ais_status ais__tcls_prepare(const ais__op_ctx *ctx, void **state) {
    *state = NULL;
    ais__ml_labels lb;
    AIS__CHECK(ais__ml_labels_parse(ctx->attrs, "classlabels_int64s", &lb));
    if (lb.n > AIS__TREE_MAX_WIDTH)
        return ais__error(AIS_E_LIMIT, "%zu classes, at most %d", lb.n, AIS__TREE_MAX_WIDTH);
    ais__post_transform pt;
    AIS__CHECK(ais__ml_post_parse(ctx->attrs, &pt));
    return ais__tengine_build(ctx->attrs, "class", lb.n, AIS__TAGG_SUM, true,
                              (ais__tengine **)state);
}

static void ais__tree_release(void *state) { ais__tengine_free(state); }

static ais_status ais__treg_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    size_t rows, cols;
    AIS__CHECK(ais__ml_matrix(in[0], &rows, &cols));
    const ais__tengine *e;
    AIS__CHECK(ais__op_state(ctx, (const void **)&e));
    int64_t dims[2] = {(int64_t)rows, ais__attr_int(ctx->attrs, "n_targets", 1)};
    ais__desc_set(&out[0], AIS_DTYPE_F32, dims, 2);
    return AIS_OK;
}

static ais_status ais__treg_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    size_t rows, cols;
    AIS__CHECK(ais__ml_matrix(in[0], &rows, &cols));
    const ais__tengine *e;
    AIS__CHECK(ais__op_state(ctx, (const void **)&e));
    size_t width = (size_t)ais__attr_int(ctx->attrs, "n_targets", 1);
    ais__post_transform pt;
    float *y = out[0]->data;
    ais_status st = ais__ml_post_parse(ctx->attrs, &pt);
    if (st == AIS_OK) st = ais__tengine_scores(e, in[0], rows, cols, y, ctx->pool);
    if (st == AIS_OK && pt != AIS__POST_NONE)
        for (size_t r = 0; r < rows; r++)
            ais__ml_post_apply(pt, y + r * width, width);
    return st;
}

/* ---- TreeEnsembleClassifier ---- */

static ais_status ais__tcls_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    (void)n_in;
    size_t rows, cols;
    AIS__CHECK(ais__ml_matrix(in[0], &rows, &cols));
    const ais__tengine *e;
    AIS__CHECK(ais__op_state(ctx, (const void **)&e));
    ais__ml_labels lb;
    AIS__CHECK(ais__ml_labels_parse(ctx->attrs, "classlabels_int64s", &lb));
    int64_t dims[2] = {(int64_t)rows, (int64_t)(lb.n == 1 ? 2 : lb.n)};
    ais__desc_set(&out[0], lb.strings ? AIS_DTYPE_STRING : AIS_DTYPE_I64, dims, 1);
    if (n_out > 1) ais__desc_set(&out[1], AIS_DTYPE_F32, dims, 2);
    return AIS_OK;
}

static ais_status ais__tcls_rows(ais__op_ctx *ctx, const ais__tengine *e, const ais_tensor *x,
                                 size_t rows, size_t cols, ais_tensor *const *out, size_t n_out) {
    ais__ml_labels lb;
    ais__post_transform pt;
    AIS__CHECK(ais__ml_labels_parse(ctx->attrs, "classlabels_int64s", &lb));
    AIS__CHECK(ais__ml_post_parse(ctx->attrs, &pt));
    size_t bytes;
    if (!ais__mul_size(rows ? rows : 1, lb.n * sizeof(float), &bytes))
        return ais__error(AIS_E_LIMIT, "%zu rows of %zu scores are too many", rows, lb.n);
    float *scores = ais__op_scratch(ctx, bytes);
    if (!scores) return ais__oom(bytes, "tree ensemble scores");
    AIS__CHECK(ais__tengine_scores(e, x, rows, cols, scores, ctx->pool));
    bool binary = ais__tengine_binary(e);
    size_t width = lb.n == 1 ? 2 : lb.n;
    float row[AIS__TREE_MAX_WIDTH];
    if (lb.strings) ais__strs_clear(out[0]);
    for (size_t r = 0; r < rows; r++) {
        memcpy(row, scores + r * lb.n, lb.n * sizeof *row);
        if (lb.n == 1) row[1] = 0;
        if (binary) {
            row[1] = row[0];
            row[0] = (pt == AIS__POST_NONE || pt == AIS__POST_PROBIT) ? 1 - row[1] : -row[1];
        }
        ais__ml_post_apply(pt, row, width);
        size_t k = 0;
        for (size_t j = 1; j < width; j++)
            if (row[j] > row[k]) k = j;
        if (lb.n == 1) k = k == 1 ? 0 : SIZE_MAX; /* the one label, or "not it" */
        AIS__CHECK(ais__ml_label_write(&lb, out[0], r, k));
        if (n_out > 1) memcpy((float *)out[1]->data + r * width, row, width * sizeof *row);
    }
    return AIS_OK;
}

static ais_status ais__tcls_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    (void)n_in;
    size_t rows, cols;
    AIS__CHECK(ais__ml_matrix(in[0], &rows, &cols));
    const ais__tengine *e;
    AIS__CHECK(ais__op_state(ctx, (const void **)&e));
    return ais__tcls_rows(ctx, e, in[0], rows, cols, out, n_out);
}

const ais__op_def ais__ops_ml_tree[] = {
    {.domain = AIS__ML_DOMAIN,
     .name = "TreeEnsembleClassifier",
     .since_version = 1,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 1,
     .max_outputs = 2,
     .infer = ais__tcls_infer,
     .compute = ais__tcls_compute,
     .flags = AIS__OP_STRINGS,
     .prepare = ais__tcls_prepare,
     .release = ais__tree_release},
    {.domain = AIS__ML_DOMAIN,
     .name = "TreeEnsembleRegressor",
     .since_version = 1,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__treg_infer,
     .compute = ais__treg_compute,
     .prepare = ais__treg_prepare,
     .release = ais__tree_release},
    {.name = NULL},
};
