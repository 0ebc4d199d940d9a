/*
 * pipeline_run.c - runs a compiled pipeline over records, JSON lines or columns. Every source is
 * first turned into one value per input and row by the same checks, and then through the same
 * transform code, so rows and columns give identical output.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipeline.h"
#include "tensor/tensor.h"

/* ---- the error report ---- */

typedef struct {
    size_t row;
    char *field;
    char *message;
} pl_error;

struct ais_pipeline_errors {
    pl_error *items;
    size_t n, cap;
    size_t bad_rows;
};

size_t ais_pipeline_errors_count(const ais_pipeline_errors *e) { return e ? e->n : 0; }
size_t ais_pipeline_errors_row(const ais_pipeline_errors *e, size_t i) {
    return e && i < e->n ? e->items[i].row : SIZE_MAX;
}
const char *ais_pipeline_errors_field(const ais_pipeline_errors *e, size_t i) {
    return e && i < e->n ? e->items[i].field : NULL;
}
const char *ais_pipeline_errors_message(const ais_pipeline_errors *e, size_t i) {
    return e && i < e->n ? e->items[i].message : NULL;
}
void ais_pipeline_errors_destroy(ais_pipeline_errors *e) {
    if (!e) return;
    for (size_t i = 0; i < e->n; i++) {
        ais__free(e->items[i].field);
        ais__free(e->items[i].message);
    }
    ais__free(e->items);
    ais__free(e);
}

static ais_status add_error(ais_pipeline_errors *e, size_t row, const char *field, const char *fmt,
                            ...) AIS__PRINTF(4, 5);
static ais_status add_error(ais_pipeline_errors *e, size_t row, const char *field, const char *fmt,
                            ...) {
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        pl_error *items = ais__realloc(e->items, e->cap * sizeof *items, cap * sizeof *items);
        if (!items) return ais__oom(cap * sizeof *items, "pipeline error report");
        e->items = items;
        e->cap = cap;
    }
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *f = ais__strdup(field ? field : "");
    char *m = ais__strdup(msg);
    if (!f || !m) {
        ais__free(f);
        ais__free(m);
        return ais__oom(strlen(msg) + 1, "pipeline error report");
    }
    if (e->n == 0 || e->items[e->n - 1].row != row) e->bad_rows++;
    e->items[e->n++] = (pl_error){row, f, m};
    return AIS_OK;
}

/* ---- reports for the whole run ---- */

ais_pipeline_errors *ais__pipeline_errors_new(void) {
    ais_pipeline_errors *e = ais__calloc(1, sizeof *e);
    if (!e) (void)ais__oom(sizeof *e, "pipeline error report");
    return e;
}

ais_status ais__pipeline_errors_fail(ais_pipeline_errors *e, ais_pipeline_errors **errors) {
    const pl_error *f = &e->items[0];
    char where[64];
    if (f->row == SIZE_MAX)
        snprintf(where, sizeof where, "the field names");
    else
        snprintf(where, sizeof where, "row %zu", f->row);
    /* Problems of the field names come alone: no row runs after them. */
    char count[96];
    if (f->row == SIZE_MAX)
        snprintf(count, sizeof count, "%zu problem%s in the field names", e->n,
                 e->n == 1 ? "" : "s");
    else
        snprintf(count, sizeof count, "%zu problem%s in %zu row%s", e->n, e->n == 1 ? "" : "s",
                 e->bad_rows, e->bad_rows == 1 ? "" : "s");
    ais_status st = ais__error(AIS_E_SCHEMA, "pipeline: %s, field \"%s\": %s (%s)", where, f->field,
                               f->message, count);
    if (errors)
        *errors = e;
    else
        ais_pipeline_errors_destroy(e);
    return st;
}

/* ---- near misses: which input a wrong field name was meant to be ---- */

#define PL_NEAR_MAX 64 /* longer names (after trimming) are compared for equality only */

static bool pl_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* s without surrounding blanks, lowered (ASCII), into buf; its length, or SIZE_MAX when longer
 * than PL_NEAR_MAX. */
static size_t pl_fold(const char *s, char *buf) {
    while (pl_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n && pl_blank(s[n - 1]))
        n--;
    if (n > PL_NEAR_MAX) return SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        buf[i] = s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i];
    return n;
}

/* Levenshtein distance of a[0, na) and b[0, nb), both at most PL_NEAR_MAX. */
static size_t pl_distance(const char *a, size_t na, const char *b, size_t nb) {
    size_t row[PL_NEAR_MAX + 1];
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

/* The distance between two names up to which they count as a near miss: a typo or two, fewer
 * for short names (for "x", "y" is no near miss). */
static size_t pl_near_limit(size_t na, size_t nb) {
    size_t n = na > nb ? na : nb;
    return n <= 2 ? 0 : n <= 5 ? 1 : n <= 10 ? 2 : 3;
}

size_t ais__pipeline_nearest(const char *name, const char *const *names, size_t n) {
    char a[PL_NEAR_MAX], b[PL_NEAR_MAX];
    size_t na = pl_fold(name, a), best = SIZE_MAX, best_d = SIZE_MAX;
    if (na == SIZE_MAX) return SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (!names[i]) continue;
        size_t nb = pl_fold(names[i], b);
        if (nb == SIZE_MAX) continue;
        /* the same but for case and blanks ("Age", " income") beats any typo */
        size_t d = na == nb && memcmp(a, b, na) == 0 ? 0 : pl_distance(a, na, b, nb) + 1;
        if (d > pl_near_limit(na, nb) + 1 || d >= best_d) continue;
        best = i;
        best_d = d;
    }
    return best;
}

size_t ais__pipeline_nearest_input(const ais_pipeline *p, const char *name) {
    const char *stack[64] = {NULL};
    const char **names = p->n_inputs <= 64 ? stack : ais__malloc(p->n_inputs * sizeof *names);
    if (!names) return SIZE_MAX; /* no hint, no harm */
    for (size_t i = 0; i < p->n_inputs; i++)
        names[i] = p->inputs[i].name;
    size_t r = ais__pipeline_nearest(name, names, p->n_inputs);
    if (names != stack) ais__free((void *)names);
    return r;
}

ais_status ais__pipeline_add_unknown(ais_pipeline_errors *e, const ais_pipeline *p, size_t row,
                                     const char *name) {
    size_t near = ais__pipeline_nearest_input(p, name);
    if (near != SIZE_MAX)
        return add_error(e, row, name,
                         "unknown field: no input is called that; did you mean \"%s\"?",
                         p->inputs[near].name);
    char list[160];
    size_t at = 0;
    list[0] = 0;
    for (size_t i = 0; i < p->n_inputs && at < sizeof list; i++) {
        int w = snprintf(list + at, sizeof list - at, "%s\"%s\"", i ? ", " : "", p->inputs[i].name);
        if (w < 0 || (size_t)w >= sizeof list - at) {
            snprintf(list + (at < sizeof list - 6 ? at : sizeof list - 6), 6, ", ...");
            break;
        }
        at += (size_t)w;
    }
    return add_error(e, row, name, "unknown field: no input is called that (the inputs: %s)", list);
}

/* ---- values and their checks ---- */

#define PL_VALUE_JSON_OTHER AIS__PL_VALUE_JSON_OTHER
typedef ais__pl_value pl_value;

/* Turns the raw value of input `in` (present false: the field is absent, and raw.str, when not
 * NULL, is a near-miss field name given instead) into a checked value; a violation is added to
 * the report and leaves *bad set. */
static ais_status check_value(const ais__pl_input *in, size_t row, bool present, pl_value raw,
                              pl_value *v, ais_pipeline_errors *e, bool *bad) {
    const char *problem = NULL;
    *v = (pl_value){AIS_VALUE_MISSING, NAN, NULL};
    if (!present) {
        if (!in->allow_missing && raw.str) {
            *bad = true;
            return add_error(e, row, in->name,
                             "missing required field (\"%.64s\" was given, which is no input: a "
                             "misspelling?)",
                             raw.str);
        }
        if (!in->allow_missing) problem = "missing required field";
    } else if (raw.kind == AIS_VALUE_MISSING || (raw.kind == AIS_VALUE_NUMBER && isnan(raw.num) &&
                                                 in->kind == AIS_FEATURE_NUMERIC)) {
        if (!in->allow_missing)
            problem = raw.kind == AIS_VALUE_NUMBER ? "NaN where the input allows no missing value"
                                                   : "missing value where the input allows none";
    } else if (raw.kind == AIS_VALUE_NUMBER && in->kind == AIS_FEATURE_NUMERIC && isinf(raw.num) &&
               !in->allow_missing) {
        /* An infinity (a text "inf", or 1e309 overflowing) is no missing value to impute, and
         * through the transforms it turns into NaN or infinite features that the model takes
         * without a word: where missing values are refused, so is it. */
        problem = raw.num > 0 ? "infinite value (inf) where the input allows no missing value"
                              : "infinite value (-inf) where the input allows no missing value";
    } else if (raw.kind == AIS_VALUE_NUMBER && in->kind == AIS_FEATURE_NUMERIC) {
        *v = raw;
    } else if (raw.kind == AIS_VALUE_STRING && in->kind == AIS_FEATURE_CATEGORICAL) {
        if (!raw.str)
            problem = "string value is NULL";
        else
            *v = raw;
    } else if (raw.kind == AIS_VALUE_NUMBER) {
        problem = "expected a string (categorical input), got a number";
    } else if (raw.kind == AIS_VALUE_STRING) {
        problem = "expected a number (numeric input), got a string";
    } else if (raw.kind == PL_VALUE_JSON_OTHER) {
        problem = "expected a number, a string or null";
    } else if (raw.kind == AIS__PL_VALUE_NOT_NUMBER) {
        *bad = true;
        return add_error(e, row, in->name, "not a number: \"%.64s\"", raw.str ? raw.str : "");
    } else {
        return add_error(e, row, in->name, "value kind %d is not an ais_value_kind", raw.kind) ==
                       AIS_OK
                   ? (*bad = true, AIS_OK)
                   : AIS_E_OUT_OF_MEMORY;
    }
    if (!problem) return AIS_OK;
    *bad = true;
    return add_error(e, row, in->name, "%s", problem);
}

/* ---- transforms ---- */

/* sklearn.utils.murmurhash3_32: MurmurHash3_x86_32, little-endian blocks. */
uint32_t ais__murmur3_32(const void *key, size_t len, uint32_t seed) {
    const uint8_t *data = key;
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    uint32_t h = seed;
    size_t nblocks = len / 4;
    for (size_t i = 0; i < nblocks; i++) {
        const uint8_t *b = data + 4 * i;
        uint32_t k =
            (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        k *= c1;
        k = (k << 15) | (k >> 17);
        k *= c2;
        h ^= k;
        h = (h << 13) | (h >> 19);
        h = h * 5 + 0xe6546b64u;
    }
    const uint8_t *tail = data + 4 * nblocks;
    uint32_t k = 0;
    switch (len & 3) {
    case 3: k ^= (uint32_t)tail[2] << 16; /* fall through */
    case 2: k ^= (uint32_t)tail[1] << 8;  /* fall through */
    case 1:
        k ^= tail[0];
        k *= c1;
        k = (k << 15) | (k >> 17);
        k *= c2;
        h ^= k;
    }
    h ^= (uint32_t)len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* Number of edges <= x (numpy.digitize with right=False). */
static size_t bucket_of(const double *edges, size_t n, double x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (edges[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Runs one block on value v into dst[0, width), in double (the row is stored to the output's
 * dtype afterwards). Unknown categories under the error policy go to the report. */
static ais_status eval_block(const ais_pipeline *p, const ais__pl_block *b, pl_value v, double *dst,
                             size_t row, ais_pipeline_errors *e, bool *bad) {
    bool missing = v.kind == AIS_VALUE_MISSING;
    double x = v.num;
    const char *s = v.str;
    for (size_t i = 0; i < b->n_steps; i++) {
        const ais__pl_step *st = &b->steps[i];
        switch (st->op) {
        case AIS__PL_IMPUTE_NUM:
            if (missing) x = st->a, missing = false;
            break;
        case AIS__PL_IMPUTE_CAT:
            if (missing) s = st->str, missing = false;
            break;
        case AIS__PL_SCALE_STANDARD:
        case AIS__PL_SCALE_ROBUST: x = (x - st->a) / st->b; break;
        case AIS__PL_SCALE_MINMAX: x = x * st->b + st->a; break;
        case AIS__PL_CLIP:
            if (!missing) x = x < st->a ? st->a : x > st->b ? st->b : x;
            break;
        case AIS__PL_LOG1P: x = log1p(x); break;
        case AIS__PL_BUCKETIZE:
            if (!missing) x = (double)bucket_of(st->edges, st->n_edges, x);
            break;
        case AIS__PL_PASSTHROUGH: break;
        case AIS__PL_INDICATOR:
            x = missing ? 1.0 : 0.0;
            missing = false;
            break;
        case AIS__PL_ORDINAL:
        case AIS__PL_ONEHOT: {
            size_t idx = missing        ? SIZE_MAX
                         : st->num_cats ? ais__pipeline_find_number(st, x)
                                        : ais__pipeline_find_category(st, s);
            if (st->op == AIS__PL_ONEHOT) memset(dst, 0, st->n_out * sizeof *dst);
            if (!missing && idx == SIZE_MAX) {
                if (st->unknown == AIS__PL_UNKNOWN_ERROR) {
                    *bad = true;
                    if (st->num_cats)
                        return add_error(e, row, p->inputs[b->input].name,
                                         "unknown category %.17g (policy \"error\")", x);
                    return add_error(e, row, p->inputs[b->input].name,
                                     "unknown category \"%.64s\" (policy \"error\")", s);
                }
                if (st->unknown == AIS__PL_UNKNOWN_INFREQUENT) idx = st->n_frequent;
            }
            /* the infrequent categories share the position after the frequent ones */
            size_t pos = idx != SIZE_MAX && idx > st->n_frequent ? st->n_frequent : idx;
            if (st->op == AIS__PL_ONEHOT) {
                if (pos != SIZE_MAX && pos != st->drop)
                    dst[st->drop != SIZE_MAX && pos > st->drop ? pos - 1 : pos] = 1.0;
                return AIS_OK;
            }
            if (missing) {
                if (st->has_missing) x = st->b, missing = isnan(x);
            } else {
                x = pos != SIZE_MAX ? (double)pos : st->a;
                missing = isnan(x);
            }
            break;
        }
        case AIS__PL_HASH: {
            memset(dst, 0, st->n_hash * sizeof *dst);
            if (missing) return AIS_OK;
            int32_t h = (int32_t)ais__murmur3_32(s, strlen(s), st->seed);
            /* scikit-learn's FeatureHasher: abs(h) % n, and INT32_MIN (whose abs overflows)
             * maps as below; the sign of h gives the sign of the value. */
            uint32_t n = st->n_hash;
            uint32_t idx = h == INT32_MIN ? (uint32_t)(2147483647u - (n - 1)) % n
                                          : (uint32_t)(h < 0 ? -h : h) % n;
            dst[idx] += st->alternate_sign && h < 0 ? -1.0 : 1.0;
            return AIS_OK;
        }
        }
    }
    dst[0] = missing ? NAN : x;
    return AIS_OK;
}

/* ---- the driver shared by every source ---- */

/* Fills vals[0, n_inputs) for `row`, adding violations to the report and setting *bad. */
typedef ais_status (*pl_fill_fn)(void *ctx, const ais_pipeline *p, size_t row, pl_value *vals,
                                 bool *present, ais_pipeline_errors *e, bool *bad);

static _Thread_local const ais__pl_tap *pl_tap;

void ais__pipeline_set_tap(const ais__pl_tap *tap) { pl_tap = tap; }

static ais_status run(const ais_pipeline *p, size_t n_rows, pl_fill_fn fill, void *ctx,
                      ais_dtype dtype, ais_tensor **out, ais_pipeline_errors **errors) {
    if (p->text) return ais__pipeline_text_run(p, n_rows, fill, ctx, out, errors);
    if (p->image) return ais__pipeline_image_run(p, n_rows, fill, ctx, dtype, out, errors);
    ais_tensor *given = *out, *t = NULL;
    *out = NULL;
    if (dtype != AIS_DTYPE_F32 && dtype != AIS_DTYPE_F64)
        return ais__error(AIS_E_DTYPE, "pipeline run: output dtype %s, expected f32 or f64",
                          ais_dtype_name(dtype));
    ais_pipeline_errors *e = ais__pipeline_errors_new();
    pl_value *raw = ais__malloc((p->n_inputs * 2) * sizeof *raw);
    bool *present = ais__malloc(p->n_inputs * sizeof *present);
    double *row = ais__malloc((p->width ? p->width : 1) * sizeof *row);
    ais_status st = AIS_OK;
    if (!e || !raw || !present || !row) {
        st = ais__oom(p->n_inputs * 2 * sizeof *raw + p->width * sizeof *row, "pipeline run");
        goto done;
    }
    if (n_rows > (size_t)INT64_MAX / (p->width ? p->width : 1) / sizeof(double)) {
        st = ais__error(AIS_E_LIMIT, "pipeline run: %zu rows of %zu features is too large", n_rows,
                        p->width);
        goto done;
    }
    if (given && ais_tensor_dtype(given) == dtype && ais_tensor_ndim(given) == 2 &&
        ais_tensor_shape(given)[0] == (int64_t)n_rows &&
        ais_tensor_shape(given)[1] == (int64_t)p->width)
        t = given;
    else
        st = ais_tensor_create(dtype, (const int64_t[]){(int64_t)n_rows, (int64_t)p->width}, 2, &t);
    if (st != AIS_OK) goto done;
    /* One code path for both dtypes: each row is computed in double into `row`, then stored
     * (f32 rounds every feature once, f64 keeps the double). */
    float *out32 = dtype == AIS_DTYPE_F32 ? ais_tensor_data(t) : NULL;
    double *out64 = dtype == AIS_DTYPE_F64 ? ais_tensor_data(t) : NULL;
    pl_value *vals = raw + p->n_inputs;
    const ais__pl_tap *tap = pl_tap;
    if (tap) tap->begin(tap->ctx, n_rows);
    for (size_t r = 0; r < n_rows; r++) {
        bool bad = false;
        for (size_t i = 0; i < p->n_inputs; i++) {
            present[i] = false;
            raw[i] = (pl_value){AIS_VALUE_MISSING, NAN, NULL};
        }
        if ((st = fill(ctx, p, r, raw, present, e, &bad)) != AIS_OK) goto done;
        if (bad) continue; /* a row-level problem: its fields mean nothing */
        for (size_t i = 0; i < p->n_inputs; i++)
            if ((st = check_value(&p->inputs[i], r, present[i], raw[i], &vals[i], e, &bad)) !=
                AIS_OK)
                goto done;
        if (bad) continue;
        if (tap) tap->row(tap->ctx, r, vals, p->n_inputs);
        for (size_t b = 0; b < p->n_blocks; b++) {
            const ais__pl_block *blk = &p->blocks[b];
            st = eval_block(p, blk, vals[blk->input], row + blk->offset, r, e, &bad);
            if (st != AIS_OK) goto done;
        }
        if (out64) {
            memcpy(out64 + r * p->width, row, p->width * sizeof *row);
        } else {
            for (size_t j = 0; j < p->width; j++)
                out32[r * p->width + j] = (float)row[j];
        }
    }
    if (e->n) {
        st = ais__pipeline_errors_fail(e, errors);
        e = NULL;
    }
done:
    ais__free(raw);
    ais__free(present);
    ais__free(row);
    ais_pipeline_errors_destroy(e);
    if (st != AIS_OK) {
        if (t != given) ais_tensor_destroy(t);
        t = NULL;
    }
    *out = t;
    return st;
}

static ais_status check_args(const ais_pipeline *p, ais_tensor **out, ais_pipeline_errors **errors,
                             const char *who) {
    if (errors) *errors = NULL;
    if (out) *out = NULL;
    if (!p || !out) return ais__error(AIS_E_INVALID_ARGUMENT, "%s: pipeline or out is NULL", who);
    if (p->text)
        return ais__error(AIS_E_UNSUPPORTED,
                          "%s: a text pipeline gives token tensors for a model, not one feature "
                          "tensor: run it through a session (ais_session_run_records)",
                          who);
    return AIS_OK;
}

/* ---- records ---- */

typedef struct {
    const ais_field *const *rows;
    const size_t *n_fields;
    ais_extra_fields extra;
} records_ctx;

/* For each required input absent from the row, the field given in its place by mistake (one
 * that is no input and nearly its name), into vals[i].str for check_value to name. */
static void near_misses(const ais_pipeline *p, const ais_field *f, size_t n, pl_value *vals,
                        const bool *present) {
    const char *stack[64] = {NULL};
    const char **unknown = n <= 64 ? stack : ais__malloc(n * sizeof *unknown);
    if (!unknown) return; /* no hint, no harm */
    for (size_t j = 0; j < n; j++)
        unknown[j] = ais__pipeline_find_input(p, f[j].name) == SIZE_MAX &&
                             !ais__pipeline_is_ignored(p, f[j].name)
                         ? f[j].name
                         : NULL;
    for (size_t i = 0; i < p->n_inputs; i++) {
        if (present[i] || p->inputs[i].allow_missing) continue;
        size_t j = ais__pipeline_nearest(p->inputs[i].name, unknown, n);
        if (j != SIZE_MAX) vals[i].str = f[j].name;
    }
    if (unknown != stack) ais__free((void *)unknown);
}

static ais_status fill_fields(const ais_pipeline *p, size_t row, const ais_field *f, size_t n,
                              ais_extra_fields extra, pl_value *vals, bool *present,
                              ais_pipeline_errors *e, bool *bad) {
    if (n && !f) {
        *bad = true;
        return add_error(e, row, "", "the row has %zu fields but no array", n);
    }
    for (size_t j = 0; j < n; j++) {
        if (!f[j].name) {
            *bad = true;
            return add_error(e, row, "", "field %zu has no name", j);
        }
    }
    size_t n_unknown = 0;
    for (size_t j = 0; j < n; j++) {
        size_t i = ais__pipeline_find_input(p, f[j].name);
        if (i == SIZE_MAX) {
            if (ais__pipeline_is_ignored(p, f[j].name)) continue;
            n_unknown++;
            /* not *bad: the row's other fields are still checked, so a misspelled required
             * field is reported on both sides ("Age" unknown, "age" missing) */
            if (extra == AIS_EXTRA_FIELDS_ERROR)
                AIS__CHECK(ais__pipeline_add_unknown(e, p, row, f[j].name));
            continue;
        }
        if (present[i]) {
            *bad = true;
            return add_error(e, row, f[j].name, "field given twice");
        }
        present[i] = true;
        vals[i] = (pl_value){(int)f[j].kind, f[j].number, f[j].string};
    }
    if (n_unknown) near_misses(p, f, n, vals, present);
    return AIS_OK;
}

static ais_status fill_record(void *vctx, const ais_pipeline *p, size_t row, pl_value *vals,
                              bool *present, ais_pipeline_errors *e, bool *bad) {
    const records_ctx *ctx = vctx;
    return fill_fields(p, row, ctx->rows[row], ctx->n_fields[row], ctx->extra, vals, present, e,
                       bad);
}

ais_status ais_pipeline_run_records(const ais_pipeline *p, const ais_field *const *rows,
                                    const size_t *n_fields, size_t n_rows, ais_tensor **out,
                                    ais_pipeline_errors **errors) {
    AIS__CHECK(check_args(p, out, errors, "ais_pipeline_run_records"));
    return ais__pipeline_records_into(p, rows, n_fields, n_rows, p->out_dtype, p->extra, out,
                                      errors);
}

ais_status ais__pipeline_records_into(const ais_pipeline *p, const ais_field *const *rows,
                                      const size_t *n_fields, size_t n_rows, ais_dtype dtype,
                                      ais_extra_fields extra, ais_tensor **out,
                                      ais_pipeline_errors **errors) {
    if (errors) *errors = NULL;
    if (n_rows && (!rows || !n_fields))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_pipeline_run_records: %zu rows but rows or n_fields is NULL",
                          n_rows);
    records_ctx ctx = {rows, n_fields, extra};
    return run(p, n_rows, fill_record, &ctx, dtype, out, errors);
}

/* ---- JSON lines ---- */

typedef struct {
    const char *text;
    size_t len;
    size_t pos;     /* where the next row's search starts; rows are visited in order */
    cJSON *current; /* the row being run: the values point into it until the next row */
    ais_extra_fields extra;
} jsonl_ctx;

static bool is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    return true;
}

/* The next non-blank line from ctx->pos. */
static bool next_line(jsonl_ctx *ctx, const char **line, size_t *n) {
    while (ctx->pos < ctx->len) {
        const char *s = ctx->text + ctx->pos;
        const char *nl = memchr(s, '\n', ctx->len - ctx->pos);
        size_t m = nl ? (size_t)(nl - s) : ctx->len - ctx->pos;
        ctx->pos += m + (nl ? 1 : 0);
        if (!is_blank(s, m)) {
            *line = s;
            *n = m;
            return true;
        }
    }
    return false;
}

static ais_status fill_json(void *vctx, const ais_pipeline *p, size_t row, pl_value *vals,
                            bool *present, ais_pipeline_errors *e, bool *bad) {
    jsonl_ctx *ctx = vctx;
    cJSON_Delete(ctx->current);
    ctx->current = NULL;
    const char *line;
    size_t n;
    if (!next_line(ctx, &line, &n))
        return ais__error(AIS_E_INTERNAL, "pipeline: JSON row %zu vanished", row);
    const char *end = NULL;
    cJSON *obj = cJSON_ParseWithLengthOpts(line, n, &end, false);
    if (obj && end && !is_blank(end, (size_t)(line + n - end))) {
        cJSON_Delete(obj);
        obj = NULL;
    }
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        *bad = true;
        return add_error(e, row, "", "not a JSON object");
    }
    /* cJSON keeps strings NUL-terminated: a \u0000 inside one would cut it short unseen. */
    for (size_t k = 0; k + 6 <= n; k++) {
        if (memcmp(line + k, "\\u0000", 6) == 0 && (k == 0 || line[k - 1] != '\\')) {
            cJSON_Delete(obj);
            *bad = true;
            return add_error(e, row, "", "a string holds \\u0000 (a NUL character)");
        }
    }
    ctx->current = obj;
    size_t count = 0;
    for (const cJSON *c = obj->child; c; c = c->next)
        count++;
    ais_field *fields = ais__malloc((count ? count : 1) * sizeof *fields);
    if (!fields) return ais__oom(count * sizeof *fields, "pipeline JSON row");
    size_t j = 0;
    for (const cJSON *c = obj->child; c; c = c->next, j++) {
        fields[j] = (ais_field){c->string, AIS_VALUE_MISSING, NAN, NULL};
        if (cJSON_IsNumber(c)) {
            fields[j].kind = AIS_VALUE_NUMBER;
            fields[j].number = c->valuedouble;
        } else if (cJSON_IsString(c)) {
            fields[j].kind = AIS_VALUE_STRING;
            fields[j].string = c->valuestring;
        } else if (!cJSON_IsNull(c)) {
            fields[j].kind = (ais_value_kind)PL_VALUE_JSON_OTHER;
        }
    }
    ais_status st = fill_fields(p, row, fields, count, ctx->extra, vals, present, e, bad);
    ais__free(fields);
    return st;
}

ais_status ais_pipeline_run_json_rows(const ais_pipeline *p, const char *jsonl, size_t len,
                                      ais_tensor **out, ais_pipeline_errors **errors) {
    AIS__CHECK(check_args(p, out, errors, "ais_pipeline_run_json_rows"));
    return ais__pipeline_jsonl_into(p, jsonl, len, p->out_dtype, p->extra, out, errors);
}

ais_status ais__pipeline_jsonl_into(const ais_pipeline *p, const char *jsonl, size_t len,
                                    ais_dtype dtype, ais_extra_fields extra, ais_tensor **out,
                                    ais_pipeline_errors **errors) {
    if (errors) *errors = NULL;
    if (!jsonl && len)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_pipeline_run_json_rows: jsonl is NULL");
    jsonl_ctx ctx = {jsonl, len, 0, NULL, extra};
    size_t n_rows = 0;
    const char *line;
    size_t n;
    while (next_line(&ctx, &line, &n))
        n_rows++;
    ctx.pos = 0;
    ais_status st = run(p, n_rows, fill_json, &ctx, dtype, out, errors);
    cJSON_Delete(ctx.current);
    return st;
}

/* ---- columns ---- */

typedef struct {
    const ais_tensor **cols; /* per input, NULL when absent */
    const char **near;       /* per input absent: a near-miss name given instead, or NULL */
} columns_ctx;

static ais_status fill_column(void *vctx, const ais_pipeline *p, size_t row, pl_value *vals,
                              bool *present, ais_pipeline_errors *e, bool *bad) {
    const columns_ctx *ctx = vctx;
    for (size_t i = 0; i < p->n_inputs; i++) {
        const ais_tensor *t = ctx->cols[i];
        if (!t) {
            vals[i].str = ctx->near[i];
            continue;
        }
        present[i] = true;
        const void *d = ais_tensor_data(t);
        pl_value v = {AIS_VALUE_NUMBER, 0, NULL};
        switch (ais_tensor_dtype(t)) {
        case AIS_DTYPE_F32: v.num = ((const float *)d)[row]; break;
        case AIS_DTYPE_F64: v.num = ((const double *)d)[row]; break;
        case AIS_DTYPE_I32: v.num = ((const int32_t *)d)[row]; break;
        case AIS_DTYPE_I64: v.num = (double)((const int64_t *)d)[row]; break;
        default:
            v.kind = AIS_VALUE_STRING;
            v.str = ais_tensor_string_at(t, row);
            break;
        }
        vals[i] = v;
    }
    return AIS_OK;
}

ais_status ais_pipeline_run_columns(const ais_pipeline *p, const char *const *names,
                                    const ais_tensor *const *columns, size_t n_columns,
                                    ais_tensor **out, ais_pipeline_errors **errors) {
    AIS__CHECK(check_args(p, out, errors, "ais_pipeline_run_columns"));
    return ais__pipeline_columns_into(p, "ais_pipeline_run_columns", names, columns, n_columns,
                                      p->out_dtype, p->extra, out, errors);
}

ais_status ais__pipeline_columns_into(const ais_pipeline *p, const char *who,
                                      const char *const *names, const ais_tensor *const *columns,
                                      size_t n_columns, ais_dtype dtype, ais_extra_fields extra,
                                      ais_tensor **out, ais_pipeline_errors **errors) {
    if (errors) *errors = NULL;
    if (n_columns && (!names || !columns))
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: %zu columns but names or columns is NULL",
                          who, n_columns);
    const ais_tensor **cols = ais__calloc(p->n_inputs ? p->n_inputs : 1, sizeof *cols);
    const char **near = ais__calloc(p->n_inputs ? p->n_inputs : 1, sizeof *near);
    const char **unknown = ais__calloc(n_columns ? n_columns : 1, sizeof *unknown);
    if (!cols || !near || !unknown) {
        ais__free(cols);
        ais__free(near);
        ais__free((void *)unknown);
        return ais__oom((p->n_inputs * 2 + n_columns) * sizeof *cols, "pipeline columns");
    }
    ais_status st = AIS_OK;
    size_t n_rows = 0, n_unknown = 0;
    bool have_rows = false;
    for (size_t j = 0; j < n_columns && st == AIS_OK; j++) {
        if (!names[j] || !columns[j]) {
            st = ais__error(AIS_E_INVALID_ARGUMENT, "%s: column %zu has no name or no tensor", who,
                            j);
            break;
        }
        size_t i = ais__pipeline_find_input(p, names[j]);
        if (i == SIZE_MAX) {
            if (ais__pipeline_is_ignored(p, names[j])) continue;
            unknown[j] = names[j];
            n_unknown++;
            continue;
        }
        const ais_tensor *t = columns[j];
        const ais__pl_input *in = &p->inputs[i];
        ais_dtype dt = ais_tensor_dtype(t);
        size_t ndim = ais_tensor_ndim(t);
        const int64_t *shape = ais_tensor_shape(t);
        bool numeric_ok = dt == AIS_DTYPE_F32 || dt == AIS_DTYPE_F64 || dt == AIS_DTYPE_I32 ||
                          dt == AIS_DTYPE_I64;
        if (cols[i]) {
            st =
                ais__error(AIS_E_INVALID_ARGUMENT, "pipeline: column \"%s\" given twice", in->name);
        } else if (in->kind == AIS_FEATURE_NUMERIC ? !numeric_ok : dt != AIS_DTYPE_STRING) {
            st = ais__error(AIS_E_DTYPE, "pipeline: column \"%s\" is %s, expected %s", in->name,
                            ais_dtype_name(dt),
                            in->kind == AIS_FEATURE_NUMERIC ? "f32, f64, i32 or i64 (numeric)"
                                                            : "string (categorical)");
        } else if (!(ndim == 1 || (ndim == 2 && shape[1] == 1))) {
            st = ais__error(AIS_E_SHAPE,
                            "pipeline: column \"%s\" has %zu dimensions, expected "
                            "[rows] or [rows, 1]",
                            in->name, ndim);
        } else if (have_rows && (size_t)shape[0] != n_rows) {
            st = ais__error(AIS_E_SHAPE, "pipeline: column \"%s\" has %lld rows, others have %zu",
                            in->name, (long long)shape[0], n_rows);
        } else {
            cols[i] = t;
            n_rows = (size_t)shape[0];
            have_rows = true;
        }
    }
    if (st == AIS_OK && n_unknown && extra == AIS_EXTRA_FIELDS_ERROR) {
        /* Column names are the header of a batch: wrong ones fail it before any row runs. */
        ais_pipeline_errors *e = ais__pipeline_errors_new();
        st = e ? AIS_OK : AIS_E_OUT_OF_MEMORY;
        for (size_t j = 0; j < n_columns && st == AIS_OK; j++)
            if (unknown[j]) st = ais__pipeline_add_unknown(e, p, SIZE_MAX, unknown[j]);
        if (st == AIS_OK)
            st = ais__pipeline_errors_fail(e, errors);
        else
            ais_pipeline_errors_destroy(e);
    } else if (st == AIS_OK) {
        for (size_t i = 0; n_unknown && i < p->n_inputs; i++) {
            if (cols[i] || p->inputs[i].allow_missing) continue;
            size_t j = ais__pipeline_nearest(p->inputs[i].name, unknown, n_columns);
            if (j != SIZE_MAX) near[i] = unknown[j];
        }
        columns_ctx ctx = {cols, near};
        st = run(p, n_rows, fill_column, &ctx, dtype, out, errors);
    }
    ais__free(cols);
    ais__free(near);
    ais__free((void *)unknown);
    return st;
}

/* ---- for the other sources (pipeline_csv.c) and sessions ---- */

ais_status ais__pipeline_run(const ais_pipeline *p, size_t n_rows, ais__pl_fill_fn fill, void *ctx,
                             ais_dtype dtype, ais_tensor **out, ais_pipeline_errors **errors) {
    if (errors) *errors = NULL;
    return run(p, n_rows, fill, ctx, dtype, out, errors);
}

ais_status ais__pipeline_add_error(ais_pipeline_errors *e, size_t row, const char *field,
                                   const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return add_error(e, row, field, "%s", msg);
}

ais_status ais_pipeline_with_extra_fields(const ais_pipeline *p, ais_extra_fields policy,
                                          ais_pipeline **out) {
    if (out) *out = NULL;
    if (!p || !out)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_pipeline_with_extra_fields: %s is NULL",
                          p ? "out" : "pipeline");
    if (policy != AIS_EXTRA_FIELDS_ERROR && policy != AIS_EXTRA_FIELDS_IGNORE)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_pipeline_with_extra_fields: policy %d, expected "
                          "AIS_EXTRA_FIELDS_ERROR (0) or AIS_EXTRA_FIELDS_IGNORE (1)",
                          (int)policy);
    /* A twin, as ais_pipeline_with_output_dtype makes: p may be running on other threads. */
    ais_pipeline *t = NULL;
    AIS__CHECK(ais_pipeline_with_output_dtype(p, p->out_dtype, &t));
    t->extra = policy;
    *out = t;
    return AIS_OK;
}

ais_extra_fields ais_pipeline_extra_fields(const ais_pipeline *p) {
    return p ? p->extra : AIS_EXTRA_FIELDS_ERROR;
}
