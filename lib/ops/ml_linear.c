/*
 * ml_linear.c - ai.onnx.ml LinearClassifier and LinearRegressor: scores = X * W^T + b, then a
 * post transform. Scores accumulate in double and are stored as float (the operators' output
 * type), so float and double inputs give the same results as ONNX Runtime within rounding.
 */
#include "ml_util.h"

typedef struct ais__linear {
    size_t rows, cols, targets; /* targets: rows of the coefficient matrix */
    const float *coef, *icpt;   /* icpt NULL: zero */
    ais__post_transform post;
} ais__linear;

static ais_status ais__linear_parse(const ais__op_ctx *ctx, const ais_tensor *x, ais__linear *l) {
    memset(l, 0, sizeof *l);
    AIS__CHECK(ais__ml_matrix(x, &l->rows, &l->cols));
    AIS__CHECK(ais__ml_post_parse(ctx->attrs, &l->post));
    size_t nc = 0, ni = 0;
    if (!ais__attr_floats(ctx->attrs, "coefficients", &l->coef, &nc) || nc == 0)
        return ais__error(AIS_E_INVALID_ARGUMENT, "attribute coefficients (floats) is required");
    if (l->cols == 0 || nc % l->cols != 0)
        return ais__error(AIS_E_SHAPE,
                          "%zu coefficients are not a multiple of the %zu features "
                          "of X",
                          nc, l->cols);
    l->targets = nc / l->cols;
    if (ais__attr_floats(ctx->attrs, "intercepts", &l->icpt, &ni) && ni != l->targets)
        return ais__error(AIS_E_SHAPE, "%zu intercepts for %zu rows of coefficients", ni,
                          l->targets);
    if (ni == 0) l->icpt = NULL;
    return AIS_OK;
}

/* Row r's raw scores into s[0..targets). */
static void ais__linear_scores(const ais__linear *l, const ais_tensor *x, size_t r, float *s) {
    for (size_t t = 0; t < l->targets; t++) {
        double acc = l->icpt ? l->icpt[t] : 0.0;
        const float *w = l->coef + t * l->cols;
        for (size_t c = 0; c < l->cols; c++)
            acc += (double)w[c] * ais__load_f64(x->data, x->dtype, r * l->cols + c);
        s[t] = (float)acc;
    }
}

/* ---- LinearRegressor ---- */

static ais_status ais__linreg_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    ais__linear l;
    AIS__CHECK(ais__linear_parse(ctx, in[0], &l));
    int64_t tg = ais__attr_int(ctx->attrs, "targets", 1);
    if (tg != (int64_t)l.targets)
        return ais__error(AIS_E_SHAPE, "targets is %lld but the coefficients hold %zu rows",
                          (long long)tg, l.targets);
    int64_t dims[2] = {(int64_t)l.rows, (int64_t)l.targets};
    ais__desc_set(&out[0], AIS_DTYPE_F32, dims, 2);
    return AIS_OK;
}

static ais_status ais__linreg_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    ais__linear l;
    AIS__CHECK(ais__linear_parse(ctx, in[0], &l));
    float *y = out[0]->data;
    for (size_t r = 0; r < l.rows; r++) {
        ais__linear_scores(&l, in[0], r, y + r * l.targets);
        ais__ml_post_apply(l.post, y + r * l.targets, l.targets);
    }
    return AIS_OK;
}

/* ---- LinearClassifier ---- */

/* Scores per row: one column per coefficient row, or two (-s, s) for a binary problem
 * described by one row, as onnx.reference and ONNX Runtime do. */
static size_t ais__lincls_width(const ais__linear *l, const ais__ml_labels *lb) {
    return l->targets == 1 && lb->n == 2 ? 2 : l->targets;
}

static ais_status ais__lincls_parse(const ais__op_ctx *ctx, const ais_tensor *x, ais__linear *l,
                                    ais__ml_labels *lb) {
    AIS__CHECK(ais__linear_parse(ctx, x, l));
    AIS__CHECK(ais__ml_labels_parse(ctx->attrs, "classlabels_ints", lb));
    size_t w = ais__lincls_width(l, lb);
    if (w > 1 && w > lb->n)
        return ais__error(AIS_E_SHAPE, "%zu class scores but only %zu class labels", w, lb->n);
    return AIS_OK;
}

static ais_status ais__lincls_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, size_t n_out) {
    (void)n_in;
    ais__linear l;
    ais__ml_labels lb;
    AIS__CHECK(ais__lincls_parse(ctx, in[0], &l, &lb));
    int64_t dims[2] = {(int64_t)l.rows, (int64_t)ais__lincls_width(&l, &lb)};
    ais__desc_set(&out[0], lb.strings ? AIS_DTYPE_STRING : AIS_DTYPE_I64, dims, 1);
    if (n_out > 1) ais__desc_set(&out[1], AIS_DTYPE_F32, dims, 2);
    return AIS_OK;
}

static ais_status ais__lincls_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    (void)n_in;
    ais__linear l;
    ais__ml_labels lb;
    AIS__CHECK(ais__lincls_parse(ctx, in[0], &l, &lb));
    size_t w = ais__lincls_width(&l, &lb);
    float *z = n_out > 1 ? out[1]->data : NULL;
    if (!z) {
        size_t count;
        if (!ais__shape_numel((const int64_t[]){(int64_t)l.rows, (int64_t)w}, 2, sizeof(float),
                              &count))
            return ais__error(AIS_E_LIMIT, "scores of %zu x %zu are too large", l.rows, w);
        z = ais__op_scratch(ctx, count * sizeof(float) + sizeof(float));
        if (!z) return ais__oom(count * sizeof(float), "LinearClassifier scores");
    }
    if (lb.strings) ais__strs_clear(out[0]);
    for (size_t r = 0; r < l.rows; r++) {
        float *s = z + r * w;
        if (w == 2 && l.targets == 1) {
            ais__linear_scores(&l, in[0], r, s + 1);
            s[0] = -s[1];
        } else {
            ais__linear_scores(&l, in[0], r, s);
        }
        ais__ml_post_apply(l.post, s, w);
        size_t k = 0;
        if (w > 1) {
            for (size_t j = 1; j < w; j++)
                if (s[j] > s[k]) k = j;
        } else if (w == 1) {
            float thr = l.post == AIS__POST_NONE ? 0.0f : 0.5f;
            k = s[0] >= thr ? 0 : SIZE_MAX;
        }
        AIS__CHECK(ais__ml_label_write(&lb, out[0], r, k));
    }
    return AIS_OK;
}

const ais__op_def ais__ops_ml_linear[] = {
    {.domain = AIS__ML_DOMAIN,
     .name = "LinearClassifier",
     .since_version = 1,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 1,
     .max_outputs = 2,
     .infer = ais__lincls_infer,
     .compute = ais__lincls_compute,
     .flags = AIS__OP_STRINGS},
    {.domain = AIS__ML_DOMAIN,
     .name = "LinearRegressor",
     .since_version = 1,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__linreg_infer,
     .compute = ais__linreg_compute},
    {.name = NULL},
};
