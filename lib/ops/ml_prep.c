/*
 * ml_prep.c - ai.onnx.ml preprocessing operators: Scaler, Normalizer, Binarizer, Imputer,
 * ArrayFeatureExtractor, OneHotEncoder, LabelEncoder and ZipMap.
 *
 * ZipMap's ONNX output is a sequence of maps, a type the library does not have. It is run as
 * its documented equivalent: the probabilities pass through as the dense [N, C] float tensor,
 * column j being the class classlabels_*[j] (docs/onnx_ml.md).
 */
#include <stdio.h>

#include "ml_util.h"

/* Values for the last axis of X: a list of 1 (broadcast) or `cols` floats. */
static ais_status ais__ml_per_col(const ais_attrs *a, const char *name, size_t cols,
                                  const float **v, size_t *n) {
    if (!ais__attr_floats(a, name, v, n)) {
        *v = NULL;
        *n = 0;
        return AIS_OK;
    }
    if (*n != 1 && *n != cols)
        return ais__error(AIS_E_SHAPE,
                          "attribute %s has %zu values; expected 1 or %zu (the "
                          "last extent of X)",
                          name, *n, cols);
    return AIS_OK;
}

static size_t ais__ml_last(const ais_tensor *x) {
    return x->ndim ? (size_t)x->dims[x->ndim - 1] : 1;
}

static ais_status ais__ml_numeric(const ais_tensor *x) {
    return ais__expect_dtype(x, "X", AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_I64, AIS_DTYPE_I32,
                             AIS_DTYPE_UNDEFINED);
}

/* ---- Scaler: Y = (X - offset) * scale ---- */

static ais_status ais__scaler_parse(const ais__op_ctx *ctx, const ais_tensor *x, const float **off,
                                    size_t *no, const float **sc, size_t *ns) {
    AIS__CHECK(ais__ml_numeric(x));
    size_t c = ais__ml_last(x);
    AIS__CHECK(ais__ml_per_col(ctx->attrs, "offset", c, off, no));
    return ais__ml_per_col(ctx->attrs, "scale", c, sc, ns);
}

static ais_status ais__scaler_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const float *o, *s;
    size_t no, ns;
    AIS__CHECK(ais__scaler_parse(ctx, in[0], &o, &no, &s, &ns));
    ais__desc_set(&out[0], AIS_DTYPE_F32, in[0]->dims, in[0]->ndim);
    return AIS_OK;
}

static ais_status ais__scaler_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const float *o, *s;
    size_t no, ns;
    AIS__CHECK(ais__scaler_parse(ctx, in[0], &o, &no, &s, &ns));
    size_t c = ais__ml_last(in[0]);
    float *y = out[0]->data;
    for (size_t i = 0; i < in[0]->numel; i++) {
        size_t j = i % c;
        float v = (float)ais__load_f64(in[0]->data, in[0]->dtype, i);
        float off = no ? o[no == 1 ? 0 : j] : 0.0f, sc = ns ? s[ns == 1 ? 0 : j] : 1.0f;
        y[i] = (v - off) * sc;
    }
    return AIS_OK;
}

/* ---- Normalizer: rows of [N, C] divided by their MAX, L1 or L2 norm ---- */

static ais_status ais__normalizer_parse(const ais__op_ctx *ctx, const ais_tensor *x, int *norm) {
    AIS__CHECK(ais__ml_numeric(x));
    AIS__CHECK(ais__expect_rank(x, "X", 1, 2));
    const char *s = ais__attr_string(ctx->attrs, "norm", "MAX");
    *norm = strcmp(s, "MAX") == 0 ? 0 : strcmp(s, "L1") == 0 ? 1 : strcmp(s, "L2") == 0 ? 2 : -1;
    if (*norm < 0)
        return ais__error(AIS_E_INVALID_ARGUMENT, "norm must be MAX, L1 or L2, got '%s'", s);
    return AIS_OK;
}

static ais_status ais__normalizer_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                        ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    int norm;
    AIS__CHECK(ais__normalizer_parse(ctx, in[0], &norm));
    ais__desc_set(&out[0], AIS_DTYPE_F32, in[0]->dims, in[0]->ndim);
    return AIS_OK;
}

static ais_status ais__normalizer_compute(ais__op_ctx *ctx, const ais_tensor *const *in,
                                          size_t n_in, ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    int norm;
    AIS__CHECK(ais__normalizer_parse(ctx, in[0], &norm));
    const ais_tensor *x = in[0];
    size_t c = ais__ml_last(x), rows = c ? x->numel / c : 0;
    float *y = out[0]->data;
    for (size_t r = 0; r < rows; r++) {
        double d = 0;
        for (size_t j = 0; j < c; j++) {
            double v = ais__load_f64(x->data, x->dtype, r * c + j);
            if (norm == 0)
                d = fabs(v) > d ? fabs(v) : d;
            else if (norm == 1)
                d += fabs(v);
            else
                d += v * v;
        }
        if (norm == 2) d = sqrt(d);
        if (d < 1e-30) d = 1e-30; /* a zero row stays zero */
        for (size_t j = 0; j < c; j++)
            y[r * c + j] = (float)(ais__load_f64(x->data, x->dtype, r * c + j) / d);
    }
    return AIS_OK;
}

/* ---- Binarizer: Y = X > threshold ---- */

static ais_status ais__same_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    AIS__CHECK(ais__ml_numeric(in[0]));
    ais__desc_from(&out[0], in[0]);
    return AIS_OK;
}

static ais_status ais__binarizer_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                         ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    double th = ais__attr_float(ctx->attrs, "threshold", 0.0f);
    const ais_tensor *x = in[0];
    for (size_t i = 0; i < x->numel; i++) {
        double v = ais__load_f64(x->data, x->dtype, i);
        /* NaN stays NaN (ONNX Runtime and onnx.reference agree) */
        ais__store_f64(out[0]->data, x->dtype, i, isnan(v) ? v : v > th ? 1.0 : 0.0);
    }
    return AIS_OK;
}

/* ---- Imputer: replaced_value (NaN by default for floats) becomes imputed_value[j] ---- */

static ais_status ais__imputer_parse(const ais__op_ctx *ctx, const ais_tensor *x, const float **vf,
                                     const int64_t **vi, size_t *n) {
    AIS__CHECK(ais__ml_numeric(x));
    size_t c = ais__ml_last(x);
    bool is_f = x->dtype == AIS_DTYPE_F32 || x->dtype == AIS_DTYPE_F64;
    *vf = NULL;
    *vi = NULL;
    *n = 0;
    if (is_f) {
        if (!ais__attr_floats(ctx->attrs, "imputed_value_floats", vf, n) || *n == 0)
            return ais__error(AIS_E_INVALID_ARGUMENT, "a %s X needs imputed_value_floats",
                              ais_dtype_name(x->dtype));
    } else if (!ais__attr_ints(ctx->attrs, "imputed_value_int64s", vi, n) || *n == 0) {
        return ais__error(AIS_E_INVALID_ARGUMENT, "a %s X needs imputed_value_int64s",
                          ais_dtype_name(x->dtype));
    }
    if (*n != 1 && *n != c)
        return ais__error(AIS_E_SHAPE,
                          "%zu imputed values; expected 1 or %zu (the last extent "
                          "of X)",
                          *n, c);
    return AIS_OK;
}

static ais_status ais__imputer_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                     ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const float *vf;
    const int64_t *vi;
    size_t n;
    AIS__CHECK(ais__imputer_parse(ctx, in[0], &vf, &vi, &n));
    ais__desc_from(&out[0], in[0]);
    return AIS_OK;
}

static ais_status ais__imputer_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                       ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const float *vf;
    const int64_t *vi;
    size_t n;
    AIS__CHECK(ais__imputer_parse(ctx, in[0], &vf, &vi, &n));
    const ais_tensor *x = in[0];
    size_t c = ais__ml_last(x);
    if (vi) { /* integers stay exact beyond 2^53 */
        int64_t rep = ais__attr_int(ctx->attrs, "replaced_value_int64", 0);
        for (size_t i = 0; i < x->numel; i++) {
            int64_t v = ais__load_i64(x->data, x->dtype, i);
            int64_t r = v == rep ? vi[n == 1 ? 0 : i % c] : v;
            if (x->dtype == AIS_DTYPE_I64)
                ((int64_t *)out[0]->data)[i] = r;
            else
                ((int32_t *)out[0]->data)[i] = (int32_t)r;
        }
        return AIS_OK;
    }
    double rep = ais__attr_float(ctx->attrs, "replaced_value_float", 0.0f);
    for (size_t i = 0; i < x->numel; i++) {
        double v = ais__load_f64(x->data, x->dtype, i);
        size_t j = n == 1 ? 0 : i % c;
        bool hit = isnan(rep) ? isnan(v) : v == rep;
        ais__store_f64(out[0]->data, x->dtype, i, hit ? vf[j] : v);
    }
    return AIS_OK;
}

/* ---- ArrayFeatureExtractor: Y = X[..., indices], [1, k] for a 1-D X ---- */

static ais_status ais__afe_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    const ais_tensor *x = in[0], *idx = in[1];
    AIS__CHECK(ais__expect_dtype(x, "X", AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_I64, AIS_DTYPE_I32,
                                 AIS_DTYPE_STRING, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_dtype(idx, "Y", AIS_DTYPE_I64, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_rank(x, "X", 1, AIS_MAX_DIMS));
    int64_t dims[AIS_MAX_DIMS];
    size_t nd = x->ndim;
    if (nd == 1) {
        dims[0] = 1;
        nd = 2;
    } else {
        memcpy(dims, x->dims, (nd - 1) * sizeof *dims);
    }
    dims[nd - 1] = (int64_t)idx->numel;
    ais__desc_set(&out[0], x->dtype, dims, nd);
    return AIS_OK;
}

static ais_status ais__afe_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    (void)ctx, (void)n_in, (void)n_out;
    const ais_tensor *x = in[0], *idx = in[1];
    size_t c = ais__ml_last(x), k = idx->numel, rows = c ? x->numel / c : 0;
    const int64_t *ix = idx->data;
    for (size_t j = 0; j < k; j++)
        if (ix[j] < 0 || (uint64_t)ix[j] >= c)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "index %lld is out of range for the %zu "
                              "features of X",
                              (long long)ix[j], c);
    if (x->dtype == AIS_DTYPE_STRING) ais__strs_clear(out[0]);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < k; j++)
            AIS__CHECK(ais__elems_copy(out[0], r * k + j, x, r * c + (size_t)ix[j], 1));
    return AIS_OK;
}

/* ---- OneHotEncoder: [..., ncats] floats ---- */

static ais_status ais__ohe_parse(const ais__op_ctx *ctx, const ais_tensor *x, const int64_t **ci,
                                 const ais__attr **cs, size_t *n) {
    AIS__CHECK(ais__expect_dtype(x, "X", AIS_DTYPE_STRING, AIS_DTYPE_I64, AIS_DTYPE_I32,
                                 AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_UNDEFINED));
    *cs = NULL;
    *ci = NULL;
    *n = 0;
    if (x->dtype == AIS_DTYPE_STRING) {
        *cs = ais__attr_find(ctx->attrs, "cats_strings");
        if (!*cs || (*cs)->type != AIS__ATTR_STRINGS || (*cs)->count == 0)
            return ais__error(AIS_E_INVALID_ARGUMENT, "a string X needs cats_strings");
        *n = (*cs)->count;
    } else if (!ais__attr_ints(ctx->attrs, "cats_int64s", ci, n) || *n == 0) {
        return ais__error(AIS_E_INVALID_ARGUMENT, "a numeric X needs cats_int64s");
    }
    if (x->ndim + 1 > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "X of rank %u leaves no room for the category axis",
                          x->ndim);
    return AIS_OK;
}

static ais_status ais__ohe_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const int64_t *ci;
    const ais__attr *cs;
    size_t n;
    AIS__CHECK(ais__ohe_parse(ctx, in[0], &ci, &cs, &n));
    int64_t dims[AIS_MAX_DIMS];
    memcpy(dims, in[0]->dims, in[0]->ndim * sizeof *dims);
    dims[in[0]->ndim] = (int64_t)n;
    ais__desc_set(&out[0], AIS_DTYPE_F32, dims, in[0]->ndim + 1);
    return AIS_OK;
}

static ais_status ais__ohe_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    const int64_t *ci;
    const ais__attr *cs;
    size_t n;
    AIS__CHECK(ais__ohe_parse(ctx, in[0], &ci, &cs, &n));
    bool zeros = ais__attr_int(ctx->attrs, "zeros", 1) != 0;
    const ais_tensor *x = in[0];
    float *y = out[0]->data;
    for (size_t i = 0; i < x->numel; i++) {
        float *row = y + i * n;
        memset(row, 0, n * sizeof *row);
        size_t k = n;
        if (cs) {
            const char *s = ais__str_at(x, i);
            for (k = 0; k < n && strcmp(cs->strings[k], s) != 0; k++) {
            }
        } else {
            double v = ais__load_f64(x->data, x->dtype, i);
            for (k = 0; k < n && (double)ci[k] != v; k++) {
            }
        }
        if (k < n)
            row[k] = 1.0f;
        else if (!zeros)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "element %zu is no known category and "
                              "zeros is 0",
                              i);
    }
    return AIS_OK;
}

/* ---- LabelEncoder: maps keys to values (strings, int64s, floats; v4: tensors) ---- */

typedef struct ais__lenc_side {
    ais_dtype dtype; /* STRING, INT64, FLOAT32 (or FLOAT64 / INT16 from tensors) */
    size_t n;
    const int64_t *i;
    const float *f;
    char **s;
    const ais_tensor *t;
} ais__lenc_side;

static ais_status ais__lenc_side_parse(const ais_attrs *a, const char *pre, ais__lenc_side *sd) {
    char nm[48];
    memset(sd, 0, sizeof *sd);
    snprintf(nm, sizeof nm, "%s_strings", pre);
    const ais__attr *at = ais__attr_find(a, nm);
    if (at && at->type == AIS__ATTR_STRINGS) {
        sd->dtype = AIS_DTYPE_STRING;
        sd->s = at->strings;
        sd->n = at->count;
        return AIS_OK;
    }
    snprintf(nm, sizeof nm, "%s_int64s", pre);
    if (ais__attr_ints(a, nm, &sd->i, &sd->n)) {
        sd->dtype = AIS_DTYPE_I64;
        return AIS_OK;
    }
    snprintf(nm, sizeof nm, "%s_floats", pre);
    if (ais__attr_floats(a, nm, &sd->f, &sd->n)) {
        sd->dtype = AIS_DTYPE_F32;
        return AIS_OK;
    }
    snprintf(nm, sizeof nm, "%s_tensor", pre);
    sd->t = ais__attr_tensor(a, nm);
    if (sd->t) {
        sd->dtype = sd->t->dtype;
        sd->n = sd->t->numel;
        if (sd->dtype == AIS_DTYPE_STRING) sd->s = ais__strs(sd->t);
        return AIS_OK;
    }
    return ais__error(AIS_E_INVALID_ARGUMENT,
                      "attribute %s_strings, %s_int64s, %s_floats or "
                      "%s_tensor is required",
                      pre, pre, pre, pre);
}

static double ais__lenc_num(const ais__lenc_side *sd, size_t k) {
    if (sd->i) return (double)sd->i[k];
    if (sd->f) return sd->f[k];
    return ais__load_f64(sd->t->data, sd->t->dtype, k);
}

static ais_status ais__lenc_parse(const ais__op_ctx *ctx, const ais_tensor *x, ais__lenc_side *keys,
                                  ais__lenc_side *vals) {
    AIS__CHECK(ais__lenc_side_parse(ctx->attrs, "keys", keys));
    AIS__CHECK(ais__lenc_side_parse(ctx->attrs, "values", vals));
    if (keys->n != vals->n)
        return ais__error(AIS_E_SHAPE, "%zu keys but %zu values", keys->n, vals->n);
    bool kstr = keys->dtype == AIS_DTYPE_STRING, xstr = x->dtype == AIS_DTYPE_STRING;
    if (kstr != xstr || (!xstr && !ais__dtype_is_float(x->dtype) && !ais__dtype_is_int(x->dtype)))
        return ais__error(AIS_E_DTYPE, "X is %s but the keys are %s", ais_dtype_name(x->dtype),
                          ais_dtype_name(keys->dtype));
    if (vals->dtype != AIS_DTYPE_STRING && !ais__dtype_is_float(vals->dtype) &&
        !ais__dtype_is_int(vals->dtype))
        return ais__error(AIS_E_DTYPE, "values of type %s are not supported",
                          ais_dtype_name(vals->dtype));
    return AIS_OK;
}

static ais_status ais__lenc_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    ais__lenc_side k, v;
    AIS__CHECK(ais__lenc_parse(ctx, in[0], &k, &v));
    ais__desc_set(&out[0], v.dtype, in[0]->dims, in[0]->ndim);
    return AIS_OK;
}

static ais_status ais__lenc_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    ais__lenc_side k, v;
    AIS__CHECK(ais__lenc_parse(ctx, in[0], &k, &v));
    const ais_tensor *x = in[0], *dt = ais__attr_tensor(ctx->attrs, "default_tensor");
    ais_tensor *y = out[0];
    if (v.dtype == AIS_DTYPE_STRING) ais__strs_clear(y);
    for (size_t i = 0; i < x->numel; i++) {
        size_t m = k.n;
        if (k.s) {
            const char *s = ais__str_at(x, i);
            for (m = 0; m < k.n && strcmp(k.s[m] ? k.s[m] : "", s) != 0; m++) {
            }
        } else {
            double xv = ais__load_f64(x->data, x->dtype, i);
            for (m = 0; m < k.n; m++) {
                double kv = ais__lenc_num(&k, m);
                if (kv == xv || (isnan(kv) && isnan(xv))) break;
            }
        }
        if (v.dtype == AIS_DTYPE_STRING) {
            const char *s = m < k.n ? (v.s[m] ? v.s[m] : "")
                            : dt && dt->dtype == AIS_DTYPE_STRING && dt->numel
                                ? ais__str_at(dt, 0)
                                : ais__attr_string(ctx->attrs, "default_string", "_Unused");
            AIS__CHECK(ais__str_set(y, i, s, strlen(s)));
        } else {
            double d;
            if (m < k.n)
                d = ais__lenc_num(&v, m);
            else if (dt && dt->dtype != AIS_DTYPE_STRING && dt->numel)
                d = ais__load_f64(dt->data, dt->dtype, 0);
            else if (v.dtype == AIS_DTYPE_I64 && !v.t)
                d = (double)ais__attr_int(ctx->attrs, "default_int64", -1);
            else if (v.dtype == AIS_DTYPE_F32 && !v.t)
                d = ais__attr_float(ctx->attrs, "default_float", -0.0f);
            else
                d = ais__dtype_is_float(v.dtype) ? -0.0 : -1.0;
            if (v.i && m < k.n)
                ((int64_t *)y->data)[i] = v.i[m]; /* exact beyond 2^53 */
            else
                ais__store_f64(y->data, v.dtype, i, d);
        }
    }
    return AIS_OK;
}

/* ---- ZipMap (documented equivalent): the dense probabilities pass through ---- */

static ais_status ais__zipmap_parse(const ais__op_ctx *ctx, const ais_tensor *x) {
    AIS__CHECK(ais__expect_dtype(x, "X", AIS_DTYPE_F32, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_rank(x, "X", 1, 2));
    ais__ml_labels lb;
    AIS__CHECK(ais__ml_labels_parse(ctx->attrs, "classlabels_int64s", &lb));
    if ((size_t)x->dims[x->ndim - 1] != lb.n)
        return ais__error(AIS_E_SHAPE, "X has %lld columns but there are %zu class labels",
                          (long long)x->dims[x->ndim - 1], lb.n);
    return AIS_OK;
}

static ais_status ais__zipmap_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    AIS__CHECK(ais__zipmap_parse(ctx, in[0]));
    ais__desc_from(&out[0], in[0]);
    return AIS_OK;
}

static ais_status ais__zipmap_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    AIS__CHECK(ais__zipmap_parse(ctx, in[0]));
    if (out[0]->data != in[0]->data && in[0]->nbytes)
        memcpy(out[0]->data, in[0]->data, in[0]->nbytes);
    return AIS_OK;
}

#define AIS__ML_OP(nm, nin, nout, inf, comp, fl)                                                   \
    {                                                                                              \
        .domain = AIS__ML_DOMAIN, .name = nm, .since_version = 1, .min_inputs = nin,               \
        .max_inputs = nin, .min_outputs = nout, .max_outputs = nout, .infer = inf,                 \
        .compute = comp, .flags = fl                                                               \
    }

const ais__op_def ais__ops_ml_prep[] = {
    AIS__ML_OP("Scaler", 1, 1, ais__scaler_infer, ais__scaler_compute, 0),
    AIS__ML_OP("Normalizer", 1, 1, ais__normalizer_infer, ais__normalizer_compute, 0),
    AIS__ML_OP("Binarizer", 1, 1, ais__same_infer, ais__binarizer_compute, 0),
    AIS__ML_OP("Imputer", 1, 1, ais__imputer_infer, ais__imputer_compute, 0),
    AIS__ML_OP("ArrayFeatureExtractor", 2, 1, ais__afe_infer, ais__afe_compute, AIS__OP_STRINGS),
    AIS__ML_OP("OneHotEncoder", 1, 1, ais__ohe_infer, ais__ohe_compute, AIS__OP_STRINGS),
    AIS__ML_OP("LabelEncoder", 1, 1, ais__lenc_infer, ais__lenc_compute, AIS__OP_STRINGS),
    AIS__ML_OP("ZipMap", 1, 1, ais__zipmap_infer, ais__zipmap_compute, AIS__OP_VIEW),
    {.name = NULL},
};
