/*
 * loss.c - NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12+). Input is
 * [N, C, d1..dk] and target [N, d1..dk]; both are read as (N, C, D) and (N, D). Arithmetic is
 * double whatever the dtype: a mean over many elements must not drift in f16 or f32.
 */
#include <math.h>
#include <string.h>

#include "op.h"

enum { AIS__RED_NONE, AIS__RED_SUM, AIS__RED_MEAN };

typedef struct {
    int reduction;
    bool has_ignore;
    int64_t ignore;
    int64_t n, c, d;
} ais__loss_geom;

static ais_status ais__loss_check(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__loss_geom *g) {
    const ais_tensor *x = in[0], *t = in[1], *w = n_in > 2 ? in[2] : NULL;
    AIS__CHECK(ais__expect_dtype(x, "input", AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_F16,
                                 AIS_DTYPE_BF16, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_dtype(t, "target", AIS_DTYPE_I32, AIS_DTYPE_I64, AIS_DTYPE_UNDEFINED));
    const char *red = ais__attr_string(ctx->attrs, "reduction", "mean");
    if (strcmp(red, "none") == 0)
        g->reduction = AIS__RED_NONE;
    else if (strcmp(red, "sum") == 0)
        g->reduction = AIS__RED_SUM;
    else if (strcmp(red, "mean") == 0)
        g->reduction = AIS__RED_MEAN;
    else
        return ais__error(AIS_E_INVALID_ARGUMENT, "reduction '%s' is not one of none, sum, mean",
                          red);
    const ais__attr *ii = ais__attr_get(ctx->attrs, "ignore_index", AIS__ATTR_INT);
    g->has_ignore = ii != NULL;
    g->ignore = ii ? ii->i : 0;
    if (x->ndim < 2) return ais__expect_rank(x, "input", 2, AIS_MAX_DIMS);
    char sx[AIS__SHAPE_STR_MAX], st[AIS__SHAPE_STR_MAX];
    bool ok = t->ndim + 1 == x->ndim && t->dims[0] == x->dims[0];
    for (size_t i = 2; ok && i < x->ndim; i++)
        ok = t->dims[i - 1] == x->dims[i];
    if (!ok)
        return ais__error(AIS_E_SHAPE,
                          "target %s does not match input %s (expected input's "
                          "shape without dimension 1)",
                          ais__shape_str(t->dims, t->ndim, st, sizeof st),
                          ais__shape_str(x->dims, x->ndim, sx, sizeof sx));
    g->n = x->dims[0];
    g->c = x->dims[1];
    g->d = 1;
    for (size_t i = 2; i < x->ndim; i++)
        g->d *= x->dims[i];
    if (w) {
        AIS__CHECK(ais__expect_same_dtype(w, "weight", x, "input"));
        if (w->ndim != 1 || w->dims[0] != g->c)
            return ais__error(AIS_E_SHAPE, "weight must have shape [%lld] (C), got %s",
                              (long long)g->c, ais__shape_str(w->dims, w->ndim, st, sizeof st));
    }
    return AIS_OK;
}

static ais_status ais__loss_infer_common(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                         ais__tensor_desc *out, size_t n_out) {
    ais__loss_geom g;
    AIS__CHECK(ais__loss_check(ctx, in, n_in, &g));
    if (g.reduction == AIS__RED_NONE)
        ais__desc_set(&out[0], in[0]->dtype, in[1]->dims, in[1]->ndim);
    else
        ais__desc_set(&out[0], in[0]->dtype, NULL, 0);
    if (n_out > 1) ais__desc_from(&out[1], in[0]);
    return AIS_OK;
}

static ais_status ais__loss_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    return ais__loss_infer_common(ctx, in, n_in, out, n_out);
}

/* loss[i] = -w[t] * logp[n, t, d]; lp reads log-probabilities (x itself for NLL). */
static ais_status ais__loss_run(const ais__loss_geom *g, const ais_tensor *lp, const ais_tensor *t,
                                const ais_tensor *w, ais_tensor *y) {
    double sum = 0, wsum = 0;
    size_t nd = (size_t)(g->n * g->d);
    for (size_t i = 0; i < nd; i++) {
        int64_t cls = ais__load_i64(t->data, t->dtype, i);
        double v = 0, wt = 0;
        if (!(g->has_ignore && cls == g->ignore)) {
            if (cls < 0 || cls >= g->c)
                return ais__error(AIS_E_INVALID_ARGUMENT,
                                  "target %lld at element %zu is outside [0, %lld)", (long long)cls,
                                  i, (long long)g->c);
            size_t n = i / (size_t)g->d, d = i % (size_t)g->d;
            size_t at = (n * (size_t)g->c + (size_t)cls) * (size_t)g->d + d;
            wt = w ? ais__load_f64(w->data, w->dtype, (size_t)cls) : 1.0;
            v = -ais__load_f64(lp->data, lp->dtype, at) * wt;
        }
        if (g->reduction == AIS__RED_NONE) ais__store_f64(y->data, y->dtype, i, v);
        sum += v;
        wsum += wt;
    }
    if (g->reduction == AIS__RED_SUM) ais__store_f64(y->data, y->dtype, 0, sum);
    if (g->reduction == AIS__RED_MEAN) ais__store_f64(y->data, y->dtype, 0, sum / wsum);
    return AIS_OK;
}

static ais_status ais__nll(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                           ais_tensor *const *out, size_t n_out) {
    ais__loss_geom g;
    AIS__CHECK(ais__loss_check(ctx, in, n_in, &g));
    return ais__loss_run(&g, in[0], in[1], n_in > 2 ? in[2] : NULL, out[0]);
}

static ais_status ais__sce(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                           ais_tensor *const *out, size_t n_out) {
    ais__loss_geom g;
    AIS__CHECK(ais__loss_check(ctx, in, n_in, &g));
    const ais_tensor *x = in[0];
    /* log-probabilities: the log_prob output when asked for, else scratch of x's dtype */
    ais_tensor lp;
    if (n_out > 1 && out[1]) {
        lp = *out[1];
    } else {
        void *buf = ais__op_scratch(ctx, x->nbytes ? x->nbytes : 1);
        if (!buf) return ais__oom(x->nbytes, "log-probabilities");
        ais__tensor_init_borrowed(&lp, x->dtype, x->dims, x->ndim, buf);
    }
    size_t c = (size_t)g.c, d = (size_t)g.d;
    for (size_t n = 0; n < (size_t)g.n; n++) {
        for (size_t j = 0; j < d; j++) {
            size_t base = n * c * d + j;
            double mx = -INFINITY, s = 0;
            for (size_t k = 0; k < c; k++)
                mx = fmax(mx, ais__load_f64(x->data, x->dtype, base + k * d));
            for (size_t k = 0; k < c; k++)
                s += exp(ais__load_f64(x->data, x->dtype, base + k * d) - mx);
            double ls = log(s);
            for (size_t k = 0; k < c; k++)
                ais__store_f64(lp.data, lp.dtype, base + k * d,
                               ais__load_f64(x->data, x->dtype, base + k * d) - mx - ls);
        }
    }
    return ais__loss_run(&g, &lp, in[1], n_in > 2 ? in[2] : NULL, out[0]);
}

const ais__op_def ais__ops_loss[] = {
    {.domain = "",
     .name = "NegativeLogLikelihoodLoss",
     .since_version = 12,
     .min_inputs = 2,
     .max_inputs = 3,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__loss_infer,
     .compute = ais__nll},
    {.domain = "",
     .name = "SoftmaxCrossEntropyLoss",
     .since_version = 12,
     .min_inputs = 2,
     .max_inputs = 3,
     .min_outputs = 1,
     .max_outputs = 2,
     .infer = ais__loss_infer,
     .compute = ais__sce},
    {.name = NULL},
};
