/*
 * ml_map.c - ai.onnx.ml CategoryMapper (strings <-> int64 through two parallel lists) and
 * FeatureVectorizer (the columns of several inputs side by side, as floats).
 *
 * CategoryMapper's prepare sorts both lists once per node, so a lookup is a binary search; like
 * ONNX Runtime and onnx.reference (which fill a dictionary in list order), the last of equal
 * keys wins. The sorted indices refer to the node's attributes, which the kernels read again.
 */
#include <stdlib.h>

#include "ml_util.h"

/* ---- CategoryMapper ---- */

typedef struct ais__catmap {
    size_t n_str, n_int; /* distinct keys */
    uint32_t *by_str;    /* indices into the lists, by string */
    uint32_t *by_int;    /* by integer */
} ais__catmap;

typedef struct ais__catkey {
    const char *s;
    int64_t v;
    uint32_t idx;
} ais__catkey;

static int ais__catkey_str_cmp(const void *a, const void *b) {
    const ais__catkey *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int ais__catkey_int_cmp(const void *a, const void *b) {
    const ais__catkey *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static ais_status ais__catmap_lists(const ais_attrs *a, const ais__attr **strs,
                                    const int64_t **ints, size_t *n) {
    size_t ni = 0;
    *strs = ais__attr_find(a, "cats_strings");
    if (!*strs || (*strs)->type != AIS__ATTR_STRINGS)
        return ais__error(AIS_E_INVALID_ARGUMENT, "attribute cats_strings (strings) is required");
    if (!ais__attr_ints(a, "cats_int64s", ints, &ni))
        return ais__error(AIS_E_INVALID_ARGUMENT, "attribute cats_int64s (ints) is required");
    if (ni != (*strs)->count)
        return ais__error(AIS_E_SHAPE, "cats_strings has %zu entries but cats_int64s has %zu",
                          (*strs)->count, ni);
    if (ni >= UINT32_MAX) return ais__error(AIS_E_LIMIT, "%zu categories are too many", ni);
    *n = ni;
    return AIS_OK;
}

static void ais__catmap_free(void *state) {
    ais__catmap *m = state;
    if (!m) return;
    ais__free(m->by_str);
    ais__free(m->by_int);
    ais__free(m);
}

/* Sorts keys and keeps the last index of each run of equal keys in out; returns the count. */
static size_t ais__catmap_unique(ais__catkey *k, size_t n, bool str, uint32_t *out) {
    qsort(k, n, sizeof *k, str ? ais__catkey_str_cmp : ais__catkey_int_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        bool last = i + 1 == n || (str ? strcmp(k[i].s, k[i + 1].s) != 0 : k[i].v != k[i + 1].v);
        if (last) out[u++] = k[i].idx;
    }
    return u;
}

static ais_status ais__catmap_prepare(const ais__op_ctx *ctx, void **state) {
    *state = NULL;
    const ais__attr *strs;
    const int64_t *ints;
    size_t n;
    AIS__CHECK(ais__catmap_lists(ctx->attrs, &strs, &ints, &n));
    ais__catmap *m = ais__calloc(1, sizeof *m);
    size_t cnt = n ? n : 1;
    ais__catkey *k = ais__malloc(cnt * sizeof *k);
    if (m) {
        m->by_str = ais__malloc(cnt * sizeof *m->by_str);
        m->by_int = ais__malloc(cnt * sizeof *m->by_int);
    }
    if (!m || !k || !m->by_str || !m->by_int) {
        ais__free(k);
        ais__catmap_free(m);
        return ais__oom(cnt * (sizeof *k + 2 * sizeof(uint32_t)), "CategoryMapper index");
    }
    for (size_t i = 0; i < n; i++)
        k[i] = (ais__catkey){strs->strings[i] ? strs->strings[i] : "", ints[i], (uint32_t)i};
    m->n_str = ais__catmap_unique(k, n, true, m->by_str);
    m->n_int = ais__catmap_unique(k, n, false, m->by_int);
    ais__free(k);
    *state = m;
    return AIS_OK;
}

static ais_status ais__catmap_check(const ais__op_ctx *ctx, const ais_tensor *x) {
    AIS__CHECK(ais__expect_dtype(x, "X", AIS_DTYPE_STRING, AIS_DTYPE_I64, AIS_DTYPE_UNDEFINED));
    const ais__attr *strs;
    const int64_t *ints;
    size_t n;
    return ais__catmap_lists(ctx->attrs, &strs, &ints, &n);
}

static ais_status ais__catmap_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    AIS__CHECK(ais__catmap_check(ctx, in[0]));
    ais_dtype yt = in[0]->dtype == AIS_DTYPE_STRING ? AIS_DTYPE_I64 : AIS_DTYPE_STRING;
    ais__desc_set(&out[0], yt, in[0]->dims, in[0]->ndim);
    return AIS_OK;
}

static ais_status ais__catmap_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    AIS__CHECK(ais__catmap_check(ctx, in[0]));
    const ais__catmap *m;
    AIS__CHECK(ais__op_state(ctx, (const void **)&m));
    const ais__attr *strs = ais__attr_find(ctx->attrs, "cats_strings");
    const int64_t *ints;
    size_t ni;
    ais__attr_ints(ctx->attrs, "cats_int64s", &ints, &ni);
    const ais_tensor *x = in[0];
    ais_tensor *y = out[0];
    ais_status st = AIS_OK;
    if (x->dtype == AIS_DTYPE_STRING) {
        int64_t dflt = ais__attr_int(ctx->attrs, "default_int64", -1);
        for (size_t i = 0; i < x->numel; i++) {
            const char *s = ais__str_at(x, i);
            size_t lo = 0, hi = m->n_str;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const char *k = strs->strings[m->by_str[mid]];
                int c = strcmp(k ? k : "", s);
                if (c == 0) {
                    lo = mid;
                    break;
                }
                if (c < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            bool hit = lo < hi;
            ((int64_t *)y->data)[i] = hit ? ints[m->by_str[lo]] : dflt;
        }
    } else {
        const char *dflt = ais__attr_string(ctx->attrs, "default_string", "_Unused");
        ais__strs_clear(y);
        for (size_t i = 0; i < x->numel && st == AIS_OK; i++) {
            int64_t v = ((const int64_t *)x->data)[i];
            size_t lo = 0, hi = m->n_int;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int64_t k = ints[m->by_int[mid]];
                if (k == v) {
                    lo = mid;
                    break;
                }
                if (k < v)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            const char *s = dflt;
            if (lo < hi && strs->strings[m->by_int[lo]])
                s = strs->strings[m->by_int[lo]];
            else if (lo < hi)
                s = "";
            st = ais__str_set(y, i, s, strlen(s));
        }
    }
    return st;
}

/* ---- FeatureVectorizer ---- */

/* Input i as [rows, cols]: rank 1 is one row; higher ranks keep the first axis. */
static ais_status ais__fvec_shape(const ais_tensor *x, size_t i, size_t *rows, size_t *cols) {
    ais_status st = ais__expect_dtype(x, "X", AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_I64,
                                      AIS_DTYPE_I32, AIS_DTYPE_UNDEFINED);
    if (st != AIS_OK)
        return ais__error(st, "input %zu is %s, expected float, double, int32 or int64", i,
                          ais_dtype_name(x->dtype));
    if (x->ndim == 0)
        return ais__error(AIS_E_SHAPE, "input %zu is a scalar, expected 1-D or 2-D", i);
    *rows = x->ndim == 1 ? 1 : (size_t)x->dims[0];
    *cols = x->ndim == 1 ? (size_t)x->dims[0] : (*rows ? x->numel / *rows : 0);
    return AIS_OK;
}

static ais_status ais__fvec_parse(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  const int64_t **dims, size_t *rows, size_t *total) {
    size_t nd = 0;
    if (!ais__attr_ints(ctx->attrs, "inputdimensions", dims, &nd))
        return ais__error(AIS_E_INVALID_ARGUMENT, "attribute inputdimensions (ints) is required");
    if (nd != n_in)
        return ais__error(AIS_E_SHAPE, "inputdimensions has %zu entries for %zu inputs", nd, n_in);
    *total = 0;
    for (size_t i = 0; i < n_in; i++) {
        size_t r, c;
        AIS__CHECK(ais__fvec_shape(in[i], i, &r, &c));
        if (i == 0) *rows = r;
        if (r != *rows)
            return ais__error(AIS_E_SHAPE, "input %zu has %zu rows, input 0 has %zu", i, r, *rows);
        if ((*dims)[i] < 0 || (uint64_t)(*dims)[i] > (uint64_t)INT32_MAX ||
            !ais__add_size(*total, (size_t)(*dims)[i], total))
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "inputdimensions[%zu] is %lld, expected a width >= 0", i,
                              (long long)(*dims)[i]);
    }
    return AIS_OK;
}

static ais_status ais__fvec_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    (void)n_out;
    const int64_t *d;
    size_t rows, total;
    AIS__CHECK(ais__fvec_parse(ctx, in, n_in, &d, &rows, &total));
    int64_t dims[2] = {(int64_t)rows, (int64_t)total};
    ais__desc_set(&out[0], AIS_DTYPE_F32, dims, 2);
    return AIS_OK;
}

/* Like ONNX Runtime: an input narrower than its declared width is padded with zeros, a wider
 * one is cut. */
static ais_status ais__fvec_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    (void)n_out;
    const int64_t *d;
    size_t rows, total;
    AIS__CHECK(ais__fvec_parse(ctx, in, n_in, &d, &rows, &total));
    float *y = out[0]->data;
    size_t at = 0;
    for (size_t i = 0; i < n_in; i++) {
        size_t r, c, w = (size_t)d[i];
        AIS__CHECK(ais__fvec_shape(in[i], i, &r, &c));
        size_t copy = c < w ? c : w;
        for (size_t row = 0; row < rows; row++) {
            float *dst = y + row * total + at;
            for (size_t j = 0; j < copy; j++)
                dst[j] = (float)ais__load_f64(in[i]->data, in[i]->dtype, row * c + j);
            for (size_t j = copy; j < w; j++)
                dst[j] = 0;
        }
        at += w;
    }
    return AIS_OK;
}

const ais__op_def ais__ops_ml_map[] = {
    {.domain = AIS__ML_DOMAIN,
     .name = "CategoryMapper",
     .since_version = 1,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__catmap_infer,
     .compute = ais__catmap_compute,
     .flags = AIS__OP_STRINGS,
     .prepare = ais__catmap_prepare,
     .release = ais__catmap_free},
    {.domain = AIS__ML_DOMAIN,
     .name = "FeatureVectorizer",
     .since_version = 1,
     .min_inputs = 1,
     .max_inputs = -1,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__fvec_infer,
     .compute = ais__fvec_compute},
    {.name = NULL},
};
