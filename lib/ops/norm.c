/*
 * norm.c - BatchNormalization (inference), LayerNormalization, InstanceNormalization, LRN and
 * MeanVarianceNormalization. f32 and f64 have their own loops; f16 and bf16 are widened into an
 * f32 copy in scratch memory, computed there, and narrowed into the output.
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu.h"
#include "dense_util.h"

static ais_status ais__norm_float_x(const ais_tensor *x) {
    return ais__expect_dtype(x, "input X", AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_F16,
                             AIS_DTYPE_BF16, AIS_DTYPE_UNDEFINED);
}

/* Scratch: `params` doubles first, then an f32 copy of x when x is f16 or bf16 (its result is
 * computed in place). *xf is NULL for f32 and f64. */
static ais_status ais__norm_scratch(ais__op_ctx *ctx, const ais_tensor *x, size_t params,
                                    double **pd, float **xf) {
    size_t bytes, xb = 0;
    if (!ais__mul_size(params, sizeof(double), &bytes))
        return ais__error(AIS_E_LIMIT, "parameter buffer size overflows");
    if (ais__dense_is_half(x->dtype) &&
        (!ais__mul_size(x->numel, sizeof(float), &xb) || !ais__add_size(bytes, xb, &bytes)))
        return ais__error(AIS_E_LIMIT, "work buffer size overflows");
    void *s = ais__op_scratch(ctx, bytes ? bytes : 1);
    if (!s) return ais__oom(bytes, "normalization work buffer");
    *pd = s;
    *xf = NULL;
    if (xb) {
        *xf = (float *)(void *)((char *)s + params * sizeof(double));
        ais__dense_to_f32(x->data, x->dtype, *xf, x->numel);
    }
    return AIS_OK;
}

/* ---- BatchNormalization: y = x * a[c] + b[c], a = scale / sqrt(var + eps), b = B - mean a ---- */

typedef struct {
    const void *x;
    void *y;
    bool f64;
    const double *a, *b;
    int64_t p, inner;
} ais__bn_job;

static void ais__bn_range(void *vj, size_t begin, size_t end) {
    const ais__bn_job *j = vj;
    for (size_t r = begin; r < end; r++) {
        int64_t pi = (int64_t)r % j->p;
        size_t off = r * (size_t)j->inner;
        if (j->f64) {
            const double *x = (const double *)j->x + off;
            double *y = (double *)j->y + off, a = j->a[pi], b = j->b[pi];
            for (int64_t i = 0; i < j->inner; i++)
                y[i] = x[i] * a + b;
        } else {
            const float *x = (const float *)j->x + off;
            float *y = (float *)j->y + off, a = (float)j->a[pi], b = (float)j->b[pi];
            for (int64_t i = 0; i < j->inner; i++)
                y[i] = x[i] * a + b;
        }
    }
}

static bool ais__bn_training(const ais__op_ctx *ctx) {
    return ctx->opset >= 14 && ais__attr_int(ctx->attrs, "training_mode", 0) != 0;
}

/* Per-feature count P and elements per feature block: spatial mode has P = C. */
static ais_status ais__bn_geometry(const ais__op_ctx *ctx, const ais_tensor *const *in,
                                   size_t n_out, int64_t *p, int64_t *inner) {
    const ais_tensor *x = in[0];
    AIS__CHECK(ais__norm_float_x(x));
    AIS__CHECK(ais__expect_rank(x, "input X", 2, AIS_MAX_DIMS));
    /* training_mode=1 (opset 14+) normalizes with the batch's own statistics and may output
     * the updated running mean and variance; it is deterministic, so it is supported. */
    bool training = ais__bn_training(ctx);
    if (n_out > (training ? 3u : 1u))
        return ais__error(AIS_E_UNSUPPORTED, "%zu outputs were requested; %s", n_out,
                          training ? "training mode has at most 3 (Y, running_mean, "
                                     "running_var)"
                                   : "the running and saved statistics are outputs of "
                                     "training_mode=1 only");
    bool spatial = ctx->opset >= 9 || ais__attr_int(ctx->attrs, "spatial", 1) != 0;
    int64_t c = x->dims[1], plane = 1;
    for (size_t i = 2; i < x->ndim; i++)
        plane *= x->dims[i];
    *p = spatial ? c : c * plane;
    *inner = spatial ? plane : 1;
    static const char *const names[] = {"X", "scale", "B", "input_mean", "input_var"};
    for (int i = 1; i < 5; i++) {
        const ais_tensor *t = in[i];
        char s[AIS__SHAPE_STR_MAX];
        if (!ais__dtype_is_float(t->dtype))
            return ais__error(AIS_E_DTYPE, "%s has dtype %s, expected a float type", names[i],
                              ais_dtype_name(t->dtype));
        bool ok = spatial ? (t->ndim == 1 && t->dims[0] == c) : (int64_t)t->numel == *p;
        if (!ok)
            return ais__error(AIS_E_SHAPE, "%s must have %lld elements ([C] for X %s), got %s",
                              names[i], (long long)*p,
                              ais__shape_str(x->dims, x->ndim, s, sizeof s),
                              ais__shape_str(t->dims, t->ndim, s, sizeof s));
    }
    return AIS_OK;
}

static ais_status ais__bn_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, size_t n_out) {
    int64_t p = 0, inner = 0;
    AIS__CHECK(ais__bn_geometry(ctx, in, n_out, &p, &inner));
    ais__desc_from(&out[0], in[0]);
    for (size_t k = 1; k < n_out && k < 3; k++)
        ais__desc_from(&out[k], in[2 + k]);
    return AIS_OK;
}

/* Training mode: the batch mean and population variance per channel (in double) replace the
 * given statistics; running_mean/var = input * momentum + batch * (1 - momentum). */
static void ais__bn_batch_stats(const ais__op_ctx *ctx, const ais_tensor *const *in,
                                ais_tensor *const *out, size_t n_out, int64_t p, int64_t inner,
                                double *mean, double *var) {
    const ais_tensor *x = in[0];
    int64_t n = x->dims[0];
    double cnt = (double)n * (double)inner,
           momentum = ais__attr_float(ctx->attrs, "momentum", 0.9f);
    for (int64_t c = 0; c < p; c++) {
        double s = 0, q = 0;
        for (int64_t b = 0; b < n; b++)
            for (int64_t i = 0; i < inner; i++)
                s += ais__load_f64(x->data, x->dtype, (size_t)((b * p + c) * inner + i));
        double m = cnt > 0 ? s / cnt : 0;
        for (int64_t b = 0; b < n; b++)
            for (int64_t i = 0; i < inner; i++) {
                double d = ais__load_f64(x->data, x->dtype, (size_t)((b * p + c) * inner + i)) - m;
                q += d * d;
            }
        mean[c] = m;
        var[c] = cnt > 0 ? q / cnt : 0;
        for (size_t k = 1; k < n_out && k < 3; k++) {
            if (!out[k]) continue;
            double given = ais__load_f64(in[2 + k]->data, in[2 + k]->dtype, (size_t)c);
            double batch = k == 1 ? mean[c] : var[c];
            ais__store_f64(out[k]->data, out[k]->dtype, (size_t)c,
                           given * momentum + batch * (1 - momentum));
        }
    }
}

static ais_status ais__bn_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais_tensor *const *out, size_t n_out) {
    const ais_tensor *x = in[0];
    int64_t p = 0, inner = 0;
    AIS__CHECK(ais__bn_geometry(ctx, in, n_out, &p, &inner));
    double eps = ais__attr_float(ctx->attrs, "epsilon", 1e-5f);
    double *ab;
    float *xf;
    bool training = ais__bn_training(ctx);
    AIS__CHECK(ais__norm_scratch(ctx, x, (training ? 4 : 2) * (size_t)p, &ab, &xf));
    /* ab holds [a | b] and, in training mode, [batch mean | batch var] after them */
    if (training) ais__bn_batch_stats(ctx, in, out, n_out, p, inner, ab + 2 * p, ab + 3 * p);
    for (int64_t i = 0; i < p; i++) {
        double sc = ais__load_f64(in[1]->data, in[1]->dtype, (size_t)i);
        double b = ais__load_f64(in[2]->data, in[2]->dtype, (size_t)i);
        double mean =
            training ? ab[2 * p + i] : ais__load_f64(in[3]->data, in[3]->dtype, (size_t)i);
        double var = training ? ab[3 * p + i] : ais__load_f64(in[4]->data, in[4]->dtype, (size_t)i);
        ab[i] = sc / sqrt(var + eps);
        ab[p + i] = b - mean * ab[i];
    }
    ais__bn_job j = {xf ? (const void *)xf : x->data,
                     xf ? (void *)xf : out[0]->data,
                     x->dtype == AIS_DTYPE_F64,
                     ab,
                     ab + p,
                     p,
                     inner};
    size_t rows = inner ? x->numel / (size_t)inner : 0;
    ais__parallel_for(ctx->pool, rows, inner >= 8192 ? 1 : (size_t)(8192 / (inner + 1)) + 1,
                      ais__bn_range, &j);
    if (xf) ais__dense_from_f32(xf, x->dtype, out[0]->data, x->numel);
    return AIS_OK;
}

/* ---- row normalization shared by LayerNormalization and InstanceNormalization ---- */

typedef struct {
    const void *x;
    void *y;
    bool f64;
    int64_t n; /* elements per row */
    double eps;
    const double *scale; /* per element of the row (LayerNorm) or per row class (InstanceNorm) */
    const double *bias;  /* may be NULL */
    int64_t classes;     /* InstanceNorm: C (row r uses index r % C); 0: per element */
    float *mean, *inv;   /* optional outputs, one per row */
} ais__rn_job;

#define AIS__ROWNORM(NAME, T)                                                                      \
    static void NAME(const ais__rn_job *j, size_t r) {                                             \
        const T *x = (const T *)j->x + r * (size_t)j->n;                                           \
        T *y = (T *)j->y + r * (size_t)j->n;                                                       \
        double s = 0, q = 0;                                                                       \
        for (int64_t i = 0; i < j->n; i++)                                                         \
            s += x[i];                                                                             \
        double mean = j->n ? s / (double)j->n : 0;                                                 \
        for (int64_t i = 0; i < j->n; i++) {                                                       \
            double d = x[i] - mean;                                                                \
            q += d * d;                                                                            \
        }                                                                                          \
        double inv = 1.0 / sqrt((j->n ? q / (double)j->n : 0) + j->eps);                           \
        if (j->mean) j->mean[r] = (float)mean;                                                     \
        if (j->inv) j->inv[r] = (float)inv;                                                        \
        if (j->classes) {                                                                          \
            size_t c = r % (size_t)j->classes;                                                     \
            T a = (T)(inv * j->scale[c]),                                                          \
              b = (T)((j->bias ? j->bias[c] : 0) - mean * inv * j->scale[c]);                      \
            for (int64_t i = 0; i < j->n; i++)                                                     \
                y[i] = x[i] * a + b;                                                               \
        } else {                                                                                   \
            T m = (T)mean, v = (T)inv;                                                             \
            for (int64_t i = 0; i < j->n; i++) {                                                   \
                T z = (x[i] - m) * v * (T)j->scale[i];                                             \
                y[i] = j->bias ? z + (T)j->bias[i] : z;                                            \
            }                                                                                      \
        }                                                                                          \
    }
AIS__ROWNORM(ais__rownorm_f32, float)
AIS__ROWNORM(ais__rownorm_f64, double)

static void ais__rn_range(void *vj, size_t begin, size_t end) {
    const ais__rn_job *j = vj;
    for (size_t r = begin; r < end; r++) {
        if (j->f64)
            ais__rownorm_f64(j, r);
        else
            ais__rownorm_f32(j, r);
    }
}

static void ais__rn_run(ais__op_ctx *ctx, ais__rn_job *j, size_t rows) {
    size_t grain = j->n >= 4096 ? 1 : (size_t)(4096 / (j->n + 1)) + 1;
    ais__parallel_for(ctx->pool, rows, grain, ais__rn_range, j);
}

/* Whether parameter t broadcasts unidirectionally to dims[0..n). */
static bool ais__bcast_to(const ais_tensor *t, const int64_t *dims, size_t n) {
    if (t->ndim > n) return false;
    for (size_t i = 0; i < t->ndim; i++) {
        int64_t d = t->dims[t->ndim - 1 - i], o = dims[n - 1 - i];
        if (d != 1 && d != o) return false;
    }
    return true;
}

static ais_status ais__ln_geometry(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   int64_t *axis) {
    const ais_tensor *x = in[0];
    AIS__CHECK(ais__norm_float_x(x));
    int64_t a = ais__attr_int(ctx->attrs, "axis", -1);
    if (x->ndim == 0 || !ais__norm_axis(a, (int64_t)x->ndim, axis))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %u",
                          (long long)a, x->ndim);
    if (ais__attr_int(ctx->attrs, "stash_type", 1) != 1)
        return ais__error(AIS_E_UNSUPPORTED, "stash_type %lld: only 1 (float) is supported",
                          (long long)ais__attr_int(ctx->attrs, "stash_type", 1));
    for (size_t i = 1; i < n_in && i < 3; i++) {
        const ais_tensor *t = in[i];
        if (!t) continue;
        char sx[AIS__SHAPE_STR_MAX], st[AIS__SHAPE_STR_MAX];
        AIS__CHECK(ais__expect_same_dtype(x, "X", t, i == 1 ? "Scale" : "B"));
        if (!ais__bcast_to(t, x->dims + *axis, x->ndim - (size_t)*axis))
            return ais__error(
                AIS_E_SHAPE, "%s %s does not broadcast to the normalized axes of X %s",
                i == 1 ? "Scale" : "B", ais__shape_str(t->dims, t->ndim, st, sizeof st),
                ais__shape_str(x->dims, x->ndim, sx, sizeof sx));
    }
    return AIS_OK;
}

static ais_status ais__ln_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, size_t n_out) {
    int64_t axis;
    AIS__CHECK(ais__ln_geometry(ctx, in, n_in, &axis));
    ais__desc_from(&out[0], in[0]);
    int64_t d[AIS_MAX_DIMS];
    for (size_t i = 0; i < in[0]->ndim; i++)
        d[i] = (int64_t)i < axis ? in[0]->dims[i] : 1;
    for (size_t o = 1; o < n_out; o++)
        ais__desc_set(&out[o], AIS_DTYPE_F32, d, in[0]->ndim);
    return AIS_OK;
}

/* Expands a parameter broadcast over the normalized axes dims[0..nd) into n doubles. */
static void ais__expand_param(const ais_tensor *t, const int64_t *dims, size_t nd, double *dst,
                              int64_t n) {
    int64_t str[AIS_MAX_DIMS];
    ais__broadcast_strides(t->dims, t->ndim, dims, nd, str);
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, src = 0;
        for (size_t ax = nd; ax-- > 0;) {
            src += (rem % dims[ax]) * str[ax];
            rem /= dims[ax];
        }
        dst[i] = ais__load_f64(t->data, t->dtype, (size_t)src);
    }
}

typedef struct {
    const float *x;
    float *y;
    size_t n;
    float eps;
    const float *scale, *bias;
    void (*row)(const float *x, float *y, size_t n, float eps, const float *scale,
                const float *bias);
} ais__ln_job;

static void ais__ln_range(void *vj, size_t begin, size_t end) {
    const ais__ln_job *j = vj;
    for (size_t r = begin; r < end; r++)
        j->row(j->x + r * j->n, j->y + r * j->n, j->n, j->eps, j->scale, j->bias);
}

static ais_status ais__ln_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais_tensor *const *out, size_t n_out) {
    const ais_tensor *x = in[0], *b = n_in > 2 ? in[2] : NULL;
    int64_t axis;
    AIS__CHECK(ais__ln_geometry(ctx, in, n_in, &axis));
    int64_t n = 1;
    for (size_t i = (size_t)axis; i < x->ndim; i++)
        n *= x->dims[i];
    size_t rows = n ? x->numel / (size_t)n : 0;
    if (rows == 0) return AIS_OK;
    bool stats = (n_out > 1 && out[1]) || (n_out > 2 && out[2]);
    /* f32 parameters with one value per normalized element (shape [n] or the normalized axes':
     * what exporters write) are in the row's layout already: read where they are. Others are
     * expanded per run (a division per element and axis: 2 x 512 took 3-4 us, as long as the
     * normalization of a few such rows). */
    bool direct = x->dtype == AIS_DTYPE_F32 && !stats && in[1]->numel == (size_t)n &&
                  (!b || b->numel == (size_t)n);
    double *par = NULL;
    float *xf = NULL;
    const int64_t *nd = x->dims + axis;
    size_t nnd = x->ndim - (size_t)axis;
    if (!direct) {
        AIS__CHECK(ais__norm_scratch(ctx, x, 2 * (size_t)n, &par, &xf));
        ais__expand_param(in[1], nd, nnd, par, n);
        if (b) ais__expand_param(b, nd, nnd, par + n, n);
    }
    if (x->dtype == AIS_DTYPE_F32 && !stats) {
        /* The kernel table's row (vectorized, one pass for mean and variance) with float
         * parameters: X's own (direct), or the expanded ones narrowed in place (float i
         * overwrites bytes of doubles already read). */
        const float *scale = direct ? in[1]->data : NULL, *bias = direct && b ? b->data : NULL;
        if (!direct) {
            float *pf = (float *)(void *)par;
            for (int64_t i = 0; i < (b ? 2 * n : n); i++)
                pf[i] = (float)par[i];
            scale = pf;
            bias = b ? pf + n : NULL;
        }
        ais__ln_job lj = {.x = x->data,
                          .y = out[0]->data,
                          .n = (size_t)n,
                          .eps = ais__attr_float(ctx->attrs, "epsilon", 1e-5f),
                          .scale = scale,
                          .bias = bias,
                          .row = ais__cpu()->layernorm_row};
        size_t grain = n >= 4096 ? 1 : (size_t)(4096 / (n + 1)) + 1;
        ais__parallel_for(ctx->pool, rows, grain, ais__ln_range, &lj);
        return AIS_OK;
    }
    ais__rn_job j = {.x = xf ? (const void *)xf : x->data,
                     .y = xf ? (void *)xf : out[0]->data,
                     .f64 = x->dtype == AIS_DTYPE_F64,
                     .n = n,
                     .eps = ais__attr_float(ctx->attrs, "epsilon", 1e-5f),
                     .scale = par,
                     .bias = b ? par + n : NULL,
                     .mean = n_out > 1 && out[1] ? out[1]->data : NULL,
                     .inv = n_out > 2 && out[2] ? out[2]->data : NULL};
    ais__rn_run(ctx, &j, rows);
    if (xf) ais__dense_from_f32(xf, x->dtype, out[0]->data, x->numel);
    return AIS_OK;
}

/* ---- SkipLayerNormalization: LayerNormalization(input + skip + bias) over the last axis ----
 * ONNX Runtime's com.microsoft contract: inputs input, skip, gamma [H], beta [H] (optional),
 * bias [H] (optional); outputs Y, mean and inv_std_var ([..., 1], optional), and the sum
 * input + skip + bias (optional: what a pre-LayerNorm transformer's next residual reads);
 * attribute epsilon (default 1e-12, ORT's). ORT-optimized models carry it, and
 * lib/runtime/fuse_epilogue.c makes it of Add -> LayerNormalization, so the sum is never written
 * to memory and read back. skip may broadcast to input, either way (the unfused Add's rule; Y
 * has the broadcast shape); an equal shape, the exporters' case, takes one pass per row. */

static ais_status ais__sln_check(const ais_tensor *const *in, size_t n_in, const int64_t *dims,
                                 size_t nd) {
    static const char *const names[] = {"input", "skip", "gamma", "beta", "bias"};
    char s[AIS__SHAPE_STR_MAX];
    if (nd == 0) return ais__error(AIS_E_SHAPE, "input and skip must have rank 1 or more");
    int64_t h = dims[nd - 1];
    for (size_t i = 0; i < n_in && i < 5; i++) {
        if (!in[i]) continue;
        AIS__CHECK(ais__expect_dtype(in[i], names[i], AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
        if (i >= 2 && (in[i]->ndim != 1 || in[i]->dims[0] != h))
            return ais__error(AIS_E_SHAPE, "%s must be [%lld] (the last axis of input), got %s",
                              names[i], (long long)h,
                              ais__shape_str(in[i]->dims, in[i]->ndim, s, sizeof s));
    }
    return AIS_OK;
}

static ais_status ais__sln_shape(const ais_tensor *const *in, int64_t *dims, size_t *nd) {
    ais_status st = ais__broadcast_shape("SkipLayerNormalization", in[0]->dims, in[0]->ndim,
                                         in[1]->dims, in[1]->ndim, dims, nd);
    if (st != AIS_OK) {
        char a[AIS__SHAPE_STR_MAX], b[AIS__SHAPE_STR_MAX];
        ais__error_prefix("input %s and skip %s",
                          ais__shape_str(in[0]->dims, in[0]->ndim, a, sizeof a),
                          ais__shape_str(in[1]->dims, in[1]->ndim, b, sizeof b));
    }
    return st;
}

static ais_status ais__sln_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    (void)ctx;
    int64_t d[AIS_MAX_DIMS];
    size_t nd;
    AIS__CHECK(ais__sln_shape(in, d, &nd));
    AIS__CHECK(ais__sln_check(in, n_in, d, nd));
    ais__desc_set(&out[0], AIS_DTYPE_F32, d, nd);
    if (n_out > 3) ais__desc_set(&out[3], AIS_DTYPE_F32, d, nd);
    d[nd - 1] = 1;
    for (size_t o = 1; o < n_out && o < 3; o++)
        ais__desc_set(&out[o], AIS_DTYPE_F32, d, nd);
    return AIS_OK;
}

typedef struct {
    const float *x, *skip; /* skip NULL: x already holds input + skip */
    const float *bias;     /* may be NULL */
    float *sum;            /* where the row's sum goes: Y's row or the sum output */
    float *y, *mean, *inv;
    size_t n;
    float eps;
    const float *gamma, *beta;
    void (*row)(const float *x, float *y, size_t n, float eps, const float *scale,
                const float *bias);
} ais__sln_job;

static void ais__sln_range(void *vj, size_t begin, size_t end) {
    const ais__sln_job *j = vj;
    for (size_t r = begin; r < end; r++) {
        size_t o = r * j->n;
        float *s = j->sum + o;
        /* The row (a few KiB) stays in L1 between the sum and the normalization. */
        if (j->skip && j->bias)
            for (size_t i = 0; i < j->n; i++)
                s[i] = j->x[o + i] + j->skip[o + i] + j->bias[i];
        else if (j->skip)
            for (size_t i = 0; i < j->n; i++)
                s[i] = j->x[o + i] + j->skip[o + i];
        else if (j->bias)
            for (size_t i = 0; i < j->n; i++)
                s[i] += j->bias[i];
        if (j->mean || j->inv) {
            double m = 0, q = 0;
            for (size_t i = 0; i < j->n; i++)
                m += s[i];
            m /= (double)j->n;
            for (size_t i = 0; i < j->n; i++)
                q += (s[i] - m) * (s[i] - m);
            if (j->mean) j->mean[r] = (float)m;
            if (j->inv) j->inv[r] = (float)(1.0 / sqrt(q / (double)j->n + j->eps));
        }
        j->row(s, j->y + o, j->n, j->eps, j->gamma, j->beta);
    }
}

static ais_status ais__sln_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    ais_tensor *y = out[0], *sum = n_out > 3 ? out[3] : NULL;
    AIS__CHECK(ais__sln_check(in, n_in, y->dims, y->ndim));
    size_t n = (size_t)y->dims[y->ndim - 1], rows = n ? y->numel / n : 0;
    if (rows == 0) return AIS_OK;
    ais__sln_job j = {.x = in[0]->data,
                      .skip = in[1]->data,
                      .bias = n_in > 4 && in[4] ? in[4]->data : NULL,
                      .sum = sum ? sum->data : y->data,
                      .y = y->data,
                      .mean = n_out > 1 && out[1] ? out[1]->data : NULL,
                      .inv = n_out > 2 && out[2] ? out[2]->data : NULL,
                      .n = n,
                      .eps = ais__attr_float(ctx->attrs, "epsilon", 1e-12f),
                      .gamma = in[2]->data,
                      .beta = n_in > 3 && in[3] ? in[3]->data : NULL,
                      .row = ais__cpu()->layernorm_row};
    if (in[0]->numel != y->numel || in[1]->numel != y->numel) {
        /* skip broadcasts: the Add's own kernel writes the sum first */
        ais_tensor st = *y;
        st.data = j.sum;
        AIS__CHECK(ais__op_add(ctx, in[0], in[1], &st));
        j.x = j.sum;
        j.skip = NULL;
    }
    size_t grain = n >= 4096 ? 1 : 4096 / (n + 1) + 1;
    ais__parallel_for(ctx->pool, rows, grain, ais__sln_range, &j);
    return AIS_OK;
}

/* ---- InstanceNormalization ---- */

static ais_status ais__in_check(const ais_tensor *const *in) {
    const ais_tensor *x = in[0];
    AIS__CHECK(ais__norm_float_x(x));
    AIS__CHECK(ais__expect_rank(x, "input X", 3, AIS_MAX_DIMS));
    for (int i = 1; i < 3; i++) {
        char s[AIS__SHAPE_STR_MAX];
        AIS__CHECK(ais__expect_same_dtype(x, "input", in[i], i == 1 ? "scale" : "B"));
        if (in[i]->ndim != 1 || in[i]->dims[0] != x->dims[1])
            return ais__error(AIS_E_SHAPE, "%s must be [C] = [%lld], got %s",
                              i == 1 ? "scale" : "B", (long long)x->dims[1],
                              ais__shape_str(in[i]->dims, in[i]->ndim, s, sizeof s));
    }
    return AIS_OK;
}

static ais_status ais__in_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, size_t n_out) {
    AIS__CHECK(ais__in_check(in));
    ais__desc_from(&out[0], in[0]);
    return AIS_OK;
}

static ais_status ais__in_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais_tensor *const *out, size_t n_out) {
    const ais_tensor *x = in[0];
    AIS__CHECK(ais__in_check(in));
    int64_t c = x->dims[1];
    size_t rows = (size_t)(x->dims[0] * c);
    if (x->numel == 0) return AIS_OK;
    double *par;
    float *xf;
    AIS__CHECK(ais__norm_scratch(ctx, x, 2 * (size_t)c, &par, &xf));
    for (int64_t i = 0; i < c; i++) {
        par[i] = ais__load_f64(in[1]->data, in[1]->dtype, (size_t)i);
        par[c + i] = ais__load_f64(in[2]->data, in[2]->dtype, (size_t)i);
    }
    ais__rn_job j = {.x = xf ? (const void *)xf : x->data,
                     .y = xf ? (void *)xf : out[0]->data,
                     .f64 = x->dtype == AIS_DTYPE_F64,
                     .n = (int64_t)(x->numel / rows),
                     .eps = ais__attr_float(ctx->attrs, "epsilon", 1e-5f),
                     .scale = par,
                     .bias = par + c,
                     .classes = c};
    ais__rn_run(ctx, &j, rows);
    if (xf) ais__dense_from_f32(xf, x->dtype, out[0]->data, x->numel);
    return AIS_OK;
}

/* ---- LRN ---- */

typedef struct {
    const float *x;
    float *y;
    int64_t c, plane, lo, hi;
    float alpha_n, beta, bias;
} ais__lrn_job;

/* One channel plane per task, through the table's row kernel (the window's squares and the power
 * in vectors at the AVX2 level: a powf per element made LRN a tenth of AlexNet's time). */
static void ais__lrn_range(void *vj, size_t begin, size_t end) {
    const ais__lrn_job *j = vj;
    const ais__cpu_kernels *t = ais__cpu();
    for (size_t p = begin; p < end; p++) {
        int64_t n = (int64_t)p / j->c, c = (int64_t)p % j->c;
        int64_t c0 = AIS__MAX(0, c - j->lo), c1 = AIS__MIN(j->c - 1, c + j->hi);
        const float *xn = j->x + n * j->c * j->plane;
        t->lrn_row(xn + c0 * j->plane, j->plane, c1 - c0 + 1, xn + c * j->plane,
                   j->y + p * (size_t)j->plane, (size_t)j->plane, j->alpha_n, j->beta, j->bias);
    }
}

static ais_status ais__lrn_check(const ais__op_ctx *ctx, const ais_tensor *x, int64_t *size) {
    AIS__CHECK(ais__expect_dtype(x, "input X", AIS_DTYPE_F32, AIS_DTYPE_F16, AIS_DTYPE_BF16,
                                 AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_rank(x, "input X", 3, AIS_MAX_DIMS));
    if (!ais__attr_find(ctx->attrs, "size"))
        return ais__error(AIS_E_INVALID_ARGUMENT, "attribute 'size' is required");
    *size = ais__attr_int(ctx->attrs, "size", 1);
    if (*size < 1 || *size > INT32_MAX)
        return ais__error(AIS_E_INVALID_ARGUMENT, "size must be positive, got %lld",
                          (long long)*size);
    return AIS_OK;
}

static ais_status ais__lrn_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    int64_t size = 0;
    AIS__CHECK(ais__lrn_check(ctx, in[0], &size));
    ais__desc_from(&out[0], in[0]);
    return AIS_OK;
}

static ais_status ais__lrn_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    const ais_tensor *x = in[0];
    int64_t size = 0;
    AIS__CHECK(ais__lrn_check(ctx, x, &size));
    if (x->numel == 0) return AIS_OK;
    float *xf = NULL, *yf = NULL;
    if (ais__dense_is_half(x->dtype)) {
        size_t bytes;
        if (!ais__mul_size(x->numel, 2 * sizeof(float), &bytes))
            return ais__error(AIS_E_LIMIT, "work buffer size overflows");
        xf = ais__op_scratch(ctx, bytes);
        if (!xf) return ais__oom(bytes, "f32 work buffer");
        ais__dense_to_f32(x->data, x->dtype, xf, x->numel);
        yf = xf + x->numel;
    }
    int64_t c = x->dims[1];
    size_t planes = (size_t)(x->dims[0] * c);
    ais__lrn_job j = {xf ? xf : x->data,
                      yf ? yf : out[0]->data,
                      c,
                      (int64_t)(x->numel / planes),
                      (size - 1) / 2,
                      size / 2, /* ceil((size - 1) / 2) */
                      ais__attr_float(ctx->attrs, "alpha", 1e-4f) / (float)size,
                      ais__attr_float(ctx->attrs, "beta", 0.75f),
                      ais__attr_float(ctx->attrs, "bias", 1.0f)};
    ais__parallel_for(ctx->pool, planes, 1, ais__lrn_range, &j);
    if (yf) ais__dense_from_f32(yf, x->dtype, out[0]->data, x->numel);
    return AIS_OK;
}

/* ---- MeanVarianceNormalization: (x - mean) / (sqrt(var) + 1e-9) over `axes` ---- */

static ais_status ais__mvn_axes(const ais__op_ctx *ctx, const ais_tensor *x, bool *reduced) {
    AIS__CHECK(ais__expect_dtype(x, "input X", AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_F16,
                                 AIS_DTYPE_BF16, AIS_DTYPE_UNDEFINED));
    static const int64_t dflt[3] = {0, 2, 3};
    const int64_t *axes = dflt;
    size_t n = 3;
    if (!ais__attr_ints(ctx->attrs, "axes", &axes, &n)) {
        axes = dflt;
        n = 3;
    }
    for (size_t i = 0; i < AIS_MAX_DIMS; i++)
        reduced[i] = false;
    for (size_t i = 0; i < n; i++) {
        int64_t a;
        if (!ais__norm_axis(axes[i], (int64_t)x->ndim, &a))
            return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %u",
                              (long long)axes[i], x->ndim);
        reduced[a] = true;
    }
    return AIS_OK;
}

static ais_status ais__mvn_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    bool red[AIS_MAX_DIMS];
    AIS__CHECK(ais__mvn_axes(ctx, in[0], red));
    ais__desc_from(&out[0], in[0]);
    return AIS_OK;
}

static ais_status ais__mvn_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    const ais_tensor *x = in[0];
    bool red[AIS_MAX_DIMS];
    AIS__CHECK(ais__mvn_axes(ctx, x, red));
    if (x->numel == 0) return AIS_OK;
    size_t groups = 1;
    for (size_t i = 0; i < x->ndim; i++)
        if (!red[i]) groups *= (size_t)x->dims[i];
    size_t per = x->numel / groups;
    /* Only the group statistics live in scratch; elements go through load/store (a rare op). */
    size_t bytes;
    if (!ais__mul_size(groups, 2 * sizeof(double), &bytes))
        return ais__error(AIS_E_LIMIT, "work buffer size overflows");
    double *acc = ais__op_scratch(ctx, bytes);
    if (!acc) return ais__oom(bytes, "statistics buffer");
    memset(acc, 0, 2 * groups * sizeof(double));
    for (int pass = 0; pass < 3; pass++) {
        for (size_t e = 0; e < x->numel; e++) {
            size_t rem = e, gi = 0, mul = 1;
            for (size_t ax = x->ndim; ax-- > 0;) {
                size_t i = rem % (size_t)x->dims[ax];
                rem /= (size_t)x->dims[ax];
                if (!red[ax]) {
                    gi += i * mul;
                    mul *= (size_t)x->dims[ax];
                }
            }
            double v = ais__load_f64(x->data, x->dtype, e);
            if (pass == 0) {
                acc[gi] += v;
            } else if (pass == 1) {
                double d = v - acc[gi];
                acc[groups + gi] += d * d;
            } else {
                ais__store_f64(out[0]->data, x->dtype, e,
                               (v - acc[gi]) / (sqrt(acc[groups + gi]) + 1e-9));
            }
        }
        if (pass == 0)
            for (size_t g = 0; g < groups; g++)
                acc[g] /= (double)per;
        if (pass == 1)
            for (size_t g = 0; g < groups; g++)
                acc[groups + g] /= (double)per;
    }
    return AIS_OK;
}

#define AIS__NORM_DEF(NAME, SINCE, MININ, MAXIN, MAXOUT, INFER, FN)                                \
    {                                                                                              \
        .domain = "", .name = NAME, .since_version = SINCE, .min_inputs = MININ,                   \
        .max_inputs = MAXIN, .min_outputs = 1, .max_outputs = MAXOUT, .infer = INFER,              \
        .compute = FN                                                                              \
    }

const ais__op_def ais__ops_norm[] = {
    /* Up to 5 outputs are accepted so that old models' declarations reach the clear refusal. */
    AIS__NORM_DEF("BatchNormalization", 1, 5, 5, 5, ais__bn_infer, ais__bn_compute),
    AIS__NORM_DEF("LayerNormalization", 17, 2, 3, 3, ais__ln_infer, ais__ln_compute),
    /* What lib/runtime/fuse_transformer.c makes of the LayerNorm subgraphs that exporters emit
     * for opsets below 17: the same operator (axis -1, epsilon), in the internal domain. */
    {.domain = "com.microsoft",
     .name = "LayerNormalization",
     .since_version = 1,
     .min_inputs = 2,
     .max_inputs = 3,
     .min_outputs = 1,
     .max_outputs = 3,
     .infer = ais__ln_infer,
     .compute = ais__ln_compute},
    {.domain = "com.microsoft",
     .name = "SkipLayerNormalization",
     .since_version = 1,
     .min_inputs = 3,
     .max_inputs = 5,
     .min_outputs = 1,
     .max_outputs = 4,
     .infer = ais__sln_infer,
     .compute = ais__sln_compute},
    AIS__NORM_DEF("InstanceNormalization", 1, 3, 3, 1, ais__in_infer, ais__in_compute),
    AIS__NORM_DEF("LRN", 1, 1, 1, 1, ais__lrn_infer, ais__lrn_compute),
    AIS__NORM_DEF("MeanVarianceNormalization", 1, 1, 1, 1, ais__mvn_infer, ais__mvn_compute),
    {.name = NULL},
};
