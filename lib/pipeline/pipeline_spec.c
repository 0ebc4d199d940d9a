/*
 * pipeline_spec.c - compiles a JSON pipeline spec (docs/pipeline-spec.md) with cJSON, strictly:
 * every error names the JSON path where it was found.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "pipeline.h"
#include "tensor/tensor.h"

#define PATH_MAX_LEN 256

/* v for a message: the shortest digits that read back as v, since %g would say "expected 1, got
 * 1" for 1.0000001; whole numbers without NumPy's ".0". */
static const char *num_str(double v, char buf[AIS__NUM_STR_MAX]) {
    size_t n = ais__num_format(v, AIS_DTYPE_F64, buf, AIS__NUM_STR_MAX);
    if (n >= 2 && n < AIS__NUM_STR_MAX && strcmp(buf + n - 2, ".0") == 0) buf[n - 2] = '\0';
    return buf;
}

/* Rejects keys outside `allowed` (NULL-terminated) and any key given twice; `required` keys
 * must be present. Keys are few, so the quadratic scan is cheap. */
static ais_status check_keys(const cJSON *obj, const char *path, const char *const *allowed,
                             const char *const *required) {
    if (!cJSON_IsObject(obj))
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s: expected an object", path);
    for (const cJSON *c = obj->child; c; c = c->next) {
        bool known = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(c->string, allowed[i]) == 0) known = true;
        if (!known)
            return ais__error(AIS_E_FORMAT, "pipeline spec: %s: unknown key \"%.64s\"", path,
                              c->string);
        for (const cJSON *d = obj->child; d != c; d = d->next)
            if (strcmp(c->string, d->string) == 0)
                return ais__error(AIS_E_FORMAT, "pipeline spec: %s: duplicate key \"%.64s\"", path,
                                  c->string);
    }
    for (size_t i = 0; required && required[i]; i++)
        if (!cJSON_GetObjectItemCaseSensitive(obj, required[i]))
            return ais__error(AIS_E_FORMAT, "pipeline spec: %s: missing key \"%s\"", path,
                              required[i]);
    return AIS_OK;
}

static const cJSON *get(const cJSON *obj, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static ais_status get_number(const cJSON *obj, const char *key, const char *path, double *out) {
    const cJSON *v = get(obj, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s.%s: expected a finite number", path,
                          key);
    *out = v->valuedouble;
    return AIS_OK;
}

/* A string of 1..max bytes without NUL. */
static ais_status check_string(const cJSON *v, const char *path, const char *key, size_t max,
                               bool allow_empty) {
    if (!cJSON_IsString(v) || !v->valuestring)
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s%s: expected a string", path, key);
    size_t n = strlen(v->valuestring);
    if ((!allow_empty && n == 0) || n > max)
        return ais__error(n > max ? AIS_E_LIMIT : AIS_E_FORMAT,
                          "pipeline spec: %s%s: expected a string of %s1 to %zu bytes, got %zu",
                          path, key, allow_empty ? "0 or " : "", max, n);
    return AIS_OK;
}

static ais_status get_enum(const cJSON *obj, const char *key, const char *path,
                           const char *const *names, int *out) {
    const cJSON *v = get(obj, key);
    if (cJSON_IsString(v) && v->valuestring)
        for (int i = 0; names[i]; i++)
            if (strcmp(v->valuestring, names[i]) == 0) {
                *out = i;
                return AIS_OK;
            }
    char want[160] = "";
    size_t off = 0;
    for (int i = 0; names[i] && off < sizeof want; i++)
        off += (size_t)snprintf(want + off, sizeof want - off, "%s\"%s\"", i ? ", " : "", names[i]);
    return ais__error(AIS_E_FORMAT, "pipeline spec: %s.%s: expected one of %s", path, key, want);
}

static ais_status array_len(const cJSON *v, const char *path, const char *key, size_t min,
                            size_t max, size_t *n) {
    if (!cJSON_IsArray(v))
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s.%s: expected an array", path, key);
    size_t count = 0;
    for (const cJSON *c = v->child; c; c = c->next)
        if (++count > max)
            return ais__error(AIS_E_LIMIT, "pipeline spec: %s.%s: more than %zu elements", path,
                              key, max);
    if (count < min)
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s.%s: expected at least %zu elements",
                          path, key, min);
    *n = count;
    return AIS_OK;
}

/* qsort has no context argument: sort pairs of (string, index) instead. */
typedef struct {
    const char *s;
    uint32_t i;
} str_idx;
static int cmp_str_idx(const void *a, const void *b) {
    return strcmp(((const str_idx *)a)->s, ((const str_idx *)b)->s);
}

/* Fills sorted[] with indices of strs[] in strcmp order; a duplicate is an error naming it. */
static ais_status sort_unique(char *const *strs, size_t n, uint32_t *sorted, const char *path,
                              const char *what) {
    str_idx *tmp = ais__malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp) return ais__oom(n * sizeof *tmp, "pipeline sort");
    for (size_t i = 0; i < n; i++)
        tmp[i] = (str_idx){strs[i], (uint32_t)i};
    qsort(tmp, n, sizeof *tmp, cmp_str_idx);
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(tmp[i].s, tmp[i - 1].s) == 0) {
            ais_status st = ais__error(AIS_E_FORMAT, "pipeline spec: %s: duplicate %s \"%.64s\"",
                                       path, what, tmp[i].s);
            ais__free(tmp);
            return st;
        }
        sorted[i] = tmp[i].i;
    }
    ais__free(tmp);
    return AIS_OK;
}

typedef struct {
    double x;
    uint32_t i;
} num_idx;
static int cmp_num_idx(const void *a, const void *b) {
    double x = ((const num_idx *)a)->x, y = ((const num_idx *)b)->x;
    return x < y ? -1 : x > y;
}

/* Fills sorted[] with indices of nums[] in ascending order; a duplicate is an error naming it. */
static ais_status sort_unique_numbers(const double *nums, size_t n, uint32_t *sorted,
                                      const char *path) {
    num_idx *tmp = ais__malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp) return ais__oom(n * sizeof *tmp, "pipeline sort");
    for (size_t i = 0; i < n; i++)
        tmp[i] = (num_idx){nums[i], (uint32_t)i};
    qsort(tmp, n, sizeof *tmp, cmp_num_idx);
    for (size_t i = 0; i < n; i++) {
        if (i && tmp[i].x == tmp[i - 1].x) {
            ais_status st = ais__error(AIS_E_FORMAT, "pipeline spec: %s: duplicate category %.17g",
                                       path, tmp[i].x);
            ais__free(tmp);
            return st;
        }
        sorted[i] = tmp[i].i;
    }
    ais__free(tmp);
    return AIS_OK;
}

/* Reads "categories" and the optional "infrequent" list into s: strings when the value flowing
 * in is categorical, numbers when it is numeric. */
static ais_status parse_categories(const cJSON *obj, const char *path, ais_feature_kind kind,
                                   ais__pl_step *s) {
    size_t n_freq, n_inf = 0;
    const cJSON *arr = get(obj, "categories"), *inf = get(obj, "infrequent");
    if (inf) AIS__CHECK(array_len(inf, path, "infrequent", 1, AIS__PL_MAX_CATEGORIES, &n_inf));
    AIS__CHECK(array_len(arr, path, "categories", inf ? 0 : 1, AIS__PL_MAX_CATEGORIES, &n_freq));
    size_t n = n_freq + n_inf;
    if (n > AIS__PL_MAX_CATEGORIES)
        return ais__error(AIS_E_LIMIT, "pipeline spec: %s: more than %d categories", path,
                          AIS__PL_MAX_CATEGORIES);
    bool numeric = kind == AIS_FEATURE_NUMERIC;
    if (numeric)
        s->num_cats = ais__malloc(n * sizeof *s->num_cats);
    else
        s->cats = ais__calloc(n, sizeof *s->cats);
    s->sorted = ais__malloc(n * sizeof *s->sorted);
    if ((numeric ? !s->num_cats : !s->cats) || !s->sorted)
        return ais__oom(n * sizeof *s->cats, "pipeline categories");
    s->n_frequent = n_freq;
    for (int list = 0; list < 2; list++) {
        size_t i = 0;
        for (const cJSON *c = list ? (inf ? inf->child : NULL) : arr->child; c; c = c->next, i++) {
            char p[PATH_MAX_LEN];
            snprintf(p, sizeof p, "%.200s.%s[%zu]", path, list ? "infrequent" : "categories", i);
            size_t at = list ? n_freq + i : i;
            if (numeric) {
                if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble))
                    return ais__error(AIS_E_FORMAT,
                                      "pipeline spec: %s: expected a finite number (the value "
                                      "is numeric)",
                                      p);
                s->num_cats[at] = c->valuedouble;
                s->n_cats = at + 1;
                continue;
            }
            AIS__CHECK(check_string(c, p, "", AIS__PL_MAX_CATEGORY_BYTES, true));
            if (!(s->cats[at] = ais__strdup(c->valuestring)))
                return ais__oom(strlen(c->valuestring) + 1, "pipeline category");
            s->n_cats = at + 1;
        }
    }
    char p[PATH_MAX_LEN];
    snprintf(p, sizeof p, "%.200s.%s", path, inf ? "categories/infrequent" : "categories");
    return numeric ? sort_unique_numbers(s->num_cats, n, s->sorted, p)
                   : sort_unique(s->cats, n, s->sorted, p, "category");
}

/* The integer in [0, max) at obj.key. */
static ais_status get_index(const cJSON *obj, const char *key, const char *path, size_t max,
                            size_t *out) {
    double v;
    AIS__CHECK(get_number(obj, key, path, &v));
    if (v != floor(v) || v < 0 || v >= (double)max)
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s.%s: expected an integer in [0, %zu)",
                          path, key, max);
    *out = (size_t)v;
    return AIS_OK;
}

/* A finite number, or null for NaN (scikit-learn's np.nan unknown / missing values). */
static ais_status get_number_or_null(const cJSON *obj, const char *key, const char *path,
                                     double *out) {
    if (cJSON_IsNull(get(obj, key))) {
        *out = NAN;
        return AIS_OK;
    }
    if (!cJSON_IsNumber(get(obj, key)) || !isfinite(get(obj, key)->valuedouble))
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s.%s: expected a finite number or null",
                          path, key);
    *out = get(obj, key)->valuedouble;
    return AIS_OK;
}

/* Parses one step; *kind is the value kind flowing in and is updated to what flows out
 * (0 when the step ends the chain with a vector). */
/* Each step parser reads one JSON step of its operator into s: kind is the value kind it gets
 * (0 after an encoder) and the one it leaves, width the output columns of an encoder. */
typedef ais_status (*step_parser)(const cJSON *obj, const char *path, ais_feature_kind *kind,
                                  ais__pl_step *s, size_t *width);

static ais_status parse_impute(const cJSON *obj, const char *path, ais_feature_kind *kind,
                               ais__pl_step *s, size_t *width) {
    (void)width;
    static const char *const keys[] = {"op", "strategy", "value", NULL};
    static const char *const strategies[] = {"mean", "median", "most_frequent", "constant", NULL};
    AIS__CHECK(check_keys(obj, path, keys, keys));
    int strategy;
    AIS__CHECK(get_enum(obj, "strategy", path, strategies, &strategy));
    if (*kind == AIS_FEATURE_NUMERIC) {
        s->op = AIS__PL_IMPUTE_NUM;
        return get_number(obj, "value", path, &s->a);
    }
    if (strategy < 2)
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s.strategy: \"%s\" needs a numeric value",
                          path, strategies[strategy]);
    s->op = AIS__PL_IMPUTE_CAT;
    AIS__CHECK(check_string(get(obj, "value"), path, ".value", AIS__PL_MAX_CATEGORY_BYTES, true));
    if (!(s->str = ais__strdup(get(obj, "value")->valuestring)))
        return ais__oom(strlen(get(obj, "value")->valuestring), "pipeline impute value");
    return AIS_OK;
}

static ais_status parse_scale(const cJSON *obj, const char *path, ais_feature_kind *kind,
                              ais__pl_step *s, size_t *width) {
    (void)kind, (void)width;
    static const char *const keys[] = {"op", "kind", "mean", "min", "center", "scale", NULL};
    static const char *const kinds[] = {"standard", "minmax", "robust", NULL};
    static const char *const offset_key[] = {"mean", "min", "center"};
    static const ais__pl_op ops[] = {AIS__PL_SCALE_STANDARD, AIS__PL_SCALE_MINMAX,
                                     AIS__PL_SCALE_ROBUST};
    AIS__CHECK(check_keys(obj, path, keys, NULL));
    int k;
    AIS__CHECK(get_enum(obj, "kind", path, kinds, &k));
    for (int other = 0; other < 3; other++)
        if (other != k && get(obj, offset_key[other]))
            return ais__error(AIS_E_FORMAT,
                              "pipeline spec: %s: key \"%s\" does not belong to kind \"%s\"", path,
                              offset_key[other], kinds[k]);
    AIS__CHECK(get_number(obj, offset_key[k], path, &s->a));
    AIS__CHECK(get_number(obj, "scale", path, &s->b));
    if (ops[k] != AIS__PL_SCALE_MINMAX && s->b == 0)
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s.scale: must not be 0", path);
    s->op = ops[k];
    return AIS_OK;
}

static ais_status parse_clip(const cJSON *obj, const char *path, ais_feature_kind *kind,
                             ais__pl_step *s, size_t *width) {
    (void)kind, (void)width;
    static const char *const keys[] = {"op", "lo", "hi", NULL};
    AIS__CHECK(check_keys(obj, path, keys, NULL));
    if (!get(obj, "lo") && !get(obj, "hi"))
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s: needs \"lo\", \"hi\" or both", path);
    s->op = AIS__PL_CLIP;
    s->a = -INFINITY;
    s->b = INFINITY;
    if (get(obj, "lo")) AIS__CHECK(get_number(obj, "lo", path, &s->a));
    if (get(obj, "hi")) AIS__CHECK(get_number(obj, "hi", path, &s->b));
    if (s->a > s->b) {
        char lo[AIS__NUM_STR_MAX], hi[AIS__NUM_STR_MAX];
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s: lo %s is above hi %s", path,
                          num_str(s->a, lo), num_str(s->b, hi));
    }
    return AIS_OK;
}

/* Steps without parameters: log1p, passthrough, indicator (s->op is set by the caller). */
static ais_status parse_plain(const cJSON *obj, const char *path, ais_feature_kind *kind,
                              ais__pl_step *s, size_t *width) {
    (void)width;
    static const char *const keys[] = {"op", NULL};
    AIS__CHECK(check_keys(obj, path, keys, keys));
    if (s->op == AIS__PL_INDICATOR) *kind = AIS_FEATURE_NUMERIC;
    return AIS_OK;
}

static ais_status parse_bucketize(const cJSON *obj, const char *path, ais_feature_kind *kind,
                                  ais__pl_step *s, size_t *width) {
    (void)kind, (void)width;
    static const char *const keys[] = {"op", "edges", NULL};
    AIS__CHECK(check_keys(obj, path, keys, keys));
    size_t n;
    const cJSON *arr = get(obj, "edges");
    AIS__CHECK(array_len(arr, path, "edges", 0, AIS__PL_MAX_EDGES, &n));
    if (!(s->edges = ais__malloc((n ? n : 1) * sizeof *s->edges)))
        return ais__oom(n * sizeof *s->edges, "pipeline edges");
    s->n_edges = n;
    size_t i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble))
            return ais__error(AIS_E_FORMAT,
                              "pipeline spec: %s.edges[%zu]: expected a finite number", path, i);
        s->edges[i] = c->valuedouble;
        if (i && !(s->edges[i] > s->edges[i - 1]))
            return ais__error(AIS_E_FORMAT,
                              "pipeline spec: %s.edges[%zu]: edges must increase strictly", path,
                              i);
    }
    return AIS_OK;
}

/* onehot and ordinal: categories, infrequent ones and what an unknown value becomes. */
static ais_status parse_encoder(const cJSON *obj, const char *path, ais_feature_kind *kind,
                                ais__pl_step *s, size_t *width) {
    static const char *const oh_keys[] = {"op",      "categories", "infrequent",
                                          "unknown", "drop",       NULL};
    static const char *const ord_keys[] = {
        "op", "categories", "infrequent", "unknown", "unknown_value", "missing_value", NULL};
    static const char *const oh_unk[] = {"error", "ignore", "infrequent", NULL};
    static const char *const ord_unk[] = {"error", "use_value", "infrequent", NULL};
    static const char *const req[] = {"op", "categories", NULL};
    bool onehot = s->op == AIS__PL_ONEHOT;
    AIS__CHECK(check_keys(obj, path, onehot ? oh_keys : ord_keys, req));
    AIS__CHECK(parse_categories(obj, path, *kind, s));
    bool has_inf = s->n_cats > s->n_frequent;
    int unk = 0;
    if (get(obj, "unknown"))
        AIS__CHECK(get_enum(obj, "unknown", path, onehot ? oh_unk : ord_unk, &unk));
    if (unk == 2 && !has_inf)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: %s.unknown: \"infrequent\" needs an \"infrequent\" "
                          "list",
                          path);
    if (onehot) {
        s->unknown = unk == 0   ? AIS__PL_UNKNOWN_ERROR
                     : unk == 1 ? AIS__PL_UNKNOWN_IGNORE
                                : AIS__PL_UNKNOWN_INFREQUENT;
        s->n_out = s->n_frequent + has_inf;
        s->drop = SIZE_MAX;
        if (get(obj, "drop")) {
            AIS__CHECK(get_index(obj, "drop", path, s->n_out, &s->drop));
            s->n_out--;
        }
        *width = s->n_out;
        *kind = 0;
        return AIS_OK;
    }
    s->unknown = unk == 0   ? AIS__PL_UNKNOWN_ERROR
                 : unk == 1 ? AIS__PL_UNKNOWN_VALUE
                            : AIS__PL_UNKNOWN_INFREQUENT;
    if (unk == 1) {
        AIS__CHECK(get_number_or_null(obj, "unknown_value", path, &s->a));
    } else if (get(obj, "unknown_value")) {
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: %s.unknown_value: needs \"unknown\": \"use_value\"",
                          path);
    }
    s->b = NAN;
    if (get(obj, "missing_value")) {
        AIS__CHECK(get_number_or_null(obj, "missing_value", path, &s->b));
        s->has_missing = true;
    }
    *kind = AIS_FEATURE_NUMERIC;
    return AIS_OK;
}

static ais_status parse_hash(const cJSON *obj, const char *path, ais_feature_kind *kind,
                             ais__pl_step *s, size_t *width) {
    static const char *const keys[] = {"op", "n_features", "seed", "alternate_sign", NULL};
    static const char *const req[] = {"op", "n_features", NULL};
    AIS__CHECK(check_keys(obj, path, keys, req));
    double n, seed = 0;
    AIS__CHECK(get_number(obj, "n_features", path, &n));
    if (n != floor(n) || n < 1 || n > AIS__PL_MAX_HASH_FEATURES)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: %s.n_features: expected an integer in [1, %u]", path,
                          AIS__PL_MAX_HASH_FEATURES);
    if (get(obj, "seed")) {
        AIS__CHECK(get_number(obj, "seed", path, &seed));
        if (seed != floor(seed) || seed < 0 || seed > 4294967295.0)
            return ais__error(AIS_E_FORMAT,
                              "pipeline spec: %s.seed: expected an integer in [0, 2^32)", path);
    }
    s->alternate_sign = true;
    const cJSON *alt = get(obj, "alternate_sign");
    if (alt) {
        if (!cJSON_IsBool(alt))
            return ais__error(AIS_E_FORMAT,
                              "pipeline spec: %s.alternate_sign: expected true or false", path);
        s->alternate_sign = cJSON_IsTrue(alt);
    }
    s->n_hash = (uint32_t)n;
    s->seed = (uint32_t)seed;
    *width = s->n_hash;
    *kind = 0;
    return AIS_OK;
}

/* The spec's step operators, keyed by the ais__pl_op a step of that name starts as (its parser
 * may pick a sibling: impute -> IMPUTE_CAT, scale -> SCALE_MINMAX/ROBUST); ops that no name
 * starts as have no entry. Enum order is also the order of the names in error messages. */
typedef enum { STEP_IN_ANY, STEP_IN_NUMERIC, STEP_IN_CATEGORICAL } step_input;
static const struct {
    const char *name;
    step_input input; /* the value kind the step takes */
    step_parser parse;
} step_defs[] = {
    [AIS__PL_IMPUTE_NUM] = {"impute", STEP_IN_ANY, parse_impute},
    [AIS__PL_SCALE_STANDARD] = {"scale", STEP_IN_NUMERIC, parse_scale},
    [AIS__PL_CLIP] = {"clip", STEP_IN_NUMERIC, parse_clip},
    [AIS__PL_LOG1P] = {"log1p", STEP_IN_NUMERIC, parse_plain},
    [AIS__PL_BUCKETIZE] = {"bucketize", STEP_IN_NUMERIC, parse_bucketize},
    [AIS__PL_ONEHOT] = {"onehot", STEP_IN_ANY, parse_encoder},
    [AIS__PL_ORDINAL] = {"ordinal", STEP_IN_ANY, parse_encoder},
    [AIS__PL_HASH] = {"hash", STEP_IN_CATEGORICAL, parse_hash},
    [AIS__PL_PASSTHROUGH] = {"passthrough", STEP_IN_NUMERIC, parse_plain},
    [AIS__PL_INDICATOR] = {"indicator", STEP_IN_ANY, parse_plain},
};
#define N_STEP_DEFS (sizeof step_defs / sizeof step_defs[0])

static ais_status parse_step(const cJSON *obj, const char *path, ais_feature_kind *kind,
                             ais__pl_step *s, size_t *width) {
    if (!cJSON_IsObject(obj))
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s: expected an object", path);
    const char *names[N_STEP_DEFS + 1];
    ais__pl_op ops[N_STEP_DEFS];
    size_t n = 0;
    for (size_t i = 0; i < N_STEP_DEFS; i++) {
        if (!step_defs[i].name) continue;
        ops[n] = (ais__pl_op)i;
        names[n++] = step_defs[i].name;
    }
    names[n] = NULL;
    int found;
    AIS__CHECK(get_enum(obj, "op", path, names, &found));
    ais__pl_op op = ops[found];
    const char *name = step_defs[op].name;
    step_input input = step_defs[op].input;
    if (*kind == 0)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: %s: \"%s\" follows an encoder, which ends the chain",
                          path, name);
    if ((input == STEP_IN_NUMERIC && *kind != AIS_FEATURE_NUMERIC) ||
        (input == STEP_IN_CATEGORICAL && *kind != AIS_FEATURE_CATEGORICAL))
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s: \"%s\" takes a %s value, got %s", path,
                          name, input == STEP_IN_NUMERIC ? "numeric" : "categorical",
                          *kind == AIS_FEATURE_NUMERIC ? "numeric" : "categorical");
    s->op = op;
    return step_defs[op].parse(obj, path, kind, s, width);
}

static ais_status parse_feature(ais_pipeline *p, const cJSON *obj, const char *path,
                                ais__pl_block *b) {
    static const char *const keys[] = {"input", "steps", NULL};
    AIS__CHECK(check_keys(obj, path, keys, keys));
    const cJSON *in = get(obj, "input");
    AIS__CHECK(check_string(in, path, ".input", AIS__PL_MAX_NAME, false));
    b->input = ais__pipeline_find_input(p, in->valuestring);
    if (b->input == SIZE_MAX)
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s.input: no input is called \"%s\"", path,
                          in->valuestring);
    const cJSON *arr = get(obj, "steps");
    size_t n;
    AIS__CHECK(array_len(arr, path, "steps", 0, AIS__PL_MAX_STEPS, &n));
    if (n && !(b->steps = ais__calloc(n, sizeof *b->steps)))
        return ais__oom(n * sizeof *b->steps, "pipeline steps");
    ais_feature_kind kind = p->inputs[b->input].kind;
    size_t width = 1, i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        char sp[PATH_MAX_LEN];
        snprintf(sp, sizeof sp, "%.200s.steps[%zu]", path, i);
        b->n_steps = i + 1;
        AIS__CHECK(parse_step(c, sp, &kind, &b->steps[i], &width));
    }
    if (kind == AIS_FEATURE_CATEGORICAL)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: %s.steps: a categorical value must end in an encoder "
                          "(onehot, ordinal or hash)",
                          path);
    b->width = width;
    return AIS_OK;
}

static ais_status parse_inputs(ais_pipeline *p, const cJSON *arr) {
    size_t n;
    AIS__CHECK(array_len(arr, "$", "inputs", 1, AIS__PL_MAX_INPUTS, &n));
    if (!(p->inputs = ais__calloc(n, sizeof *p->inputs)) ||
        !(p->input_sorted = ais__malloc(n * sizeof *p->input_sorted)))
        return ais__oom(n * sizeof *p->inputs, "pipeline inputs");
    size_t i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        static const char *const keys[] = {"name", "type", "missing", NULL};
        static const char *const req[] = {"name", "type", NULL};
        static const char *const types[] = {"numeric", "categorical", "text", NULL};
        static const ais_feature_kind kinds[] = {AIS_FEATURE_NUMERIC, AIS_FEATURE_CATEGORICAL,
                                                 AIS_FEATURE_TEXT};
        static const char *const missing[] = {"error", "allow", NULL};
        char path[PATH_MAX_LEN];
        snprintf(path, sizeof path, "$.inputs[%zu]", i);
        AIS__CHECK(check_keys(c, path, keys, req));
        AIS__CHECK(check_string(get(c, "name"), path, ".name", AIS__PL_MAX_NAME, false));
        int type, miss = 0;
        AIS__CHECK(get_enum(c, "type", path, types, &type));
        if (get(c, "missing")) AIS__CHECK(get_enum(c, "missing", path, missing, &miss));
        ais__pl_input *in = &p->inputs[i];
        if (!(in->name = ais__strdup(get(c, "name")->valuestring)))
            return ais__oom(AIS__PL_MAX_NAME, "pipeline input name");
        p->n_inputs = i + 1;
        in->kind = kinds[type];
        in->allow_missing = miss == 1;
    }
    char **names = ais__malloc(n * sizeof *names);
    if (!names) return ais__oom(n * sizeof *names, "pipeline input names");
    for (i = 0; i < n; i++)
        names[i] = p->inputs[i].name;
    ais_status st = sort_unique(names, n, p->input_sorted, "$.inputs", "input name");
    ais__free(names);
    return st;
}

/* ignored_fields: known columns of the training data that no input uses (a scikit-learn
 * ColumnTransformer's dropped columns), so that a caller may pass every training column under
 * the strict default (unknown fields are errors) without switching the check off for all. */
static ais_status parse_ignored(ais_pipeline *p, const cJSON *arr) {
    if (!arr) return AIS_OK;
    size_t n;
    AIS__CHECK(array_len(arr, "$", "ignored_fields", 0, AIS__PL_MAX_INPUTS, &n));
    if (!n) return AIS_OK;
    if (!(p->ignored = ais__calloc(n, sizeof *p->ignored)) ||
        !(p->ignored_sorted = ais__malloc(n * sizeof *p->ignored_sorted)))
        return ais__oom(n * sizeof *p->ignored, "pipeline ignored_fields");
    size_t i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        char path[PATH_MAX_LEN];
        snprintf(path, sizeof path, "$.ignored_fields[%zu]", i);
        AIS__CHECK(check_string(c, path, "", AIS__PL_MAX_NAME, false));
        if (ais__pipeline_find_input(p, c->valuestring) != SIZE_MAX)
            return ais__error(AIS_E_FORMAT,
                              "pipeline spec: %s: \"%.64s\" is an input, so it cannot be ignored",
                              path, c->valuestring);
        if (!(p->ignored[i] = ais__strdup(c->valuestring)))
            return ais__oom(AIS__PL_MAX_NAME, "pipeline ignored field");
        p->n_ignored = i + 1;
    }
    return sort_unique(p->ignored, n, p->ignored_sorted, "$.ignored_fields", "ignored field");
}

static ais_status compile(ais_pipeline *p, const cJSON *root) {
    static const char *const keys[] = {"version", "inputs", "features", "ignored_fields", NULL};
    static const char *const req[] = {"version", "inputs", "features", NULL};
    AIS__CHECK(check_keys(root, "$", keys, req));
    double version;
    AIS__CHECK(get_number(root, "version", "$", &version));
    if (version != 1) {
        char got[AIS__NUM_STR_MAX];
        return ais__error(AIS_E_UNSUPPORTED, "pipeline spec: $.version: expected 1, got %s",
                          num_str(version, got));
    }
    if (ais__pipeline_image_spec(root)) return ais__pipeline_image_compile(p, root);
    AIS__CHECK(parse_inputs(p, get(root, "inputs")));
    AIS__CHECK(parse_ignored(p, get(root, "ignored_fields")));
    for (size_t i = 0; i < p->n_inputs; i++)
        if (p->inputs[i].kind == AIS_FEATURE_TEXT)
            return ais__pipeline_text_compile(p, get(root, "features"));
    const cJSON *arr = get(root, "features");
    size_t n;
    AIS__CHECK(array_len(arr, "$", "features", 1, AIS__PL_MAX_FEATURES, &n));
    if (!(p->blocks = ais__calloc(n, sizeof *p->blocks)))
        return ais__oom(n * sizeof *p->blocks, "pipeline features");
    size_t i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        char path[PATH_MAX_LEN];
        snprintf(path, sizeof path, "$.features[%zu]", i);
        p->n_blocks = i + 1;
        AIS__CHECK(parse_feature(p, c, path, &p->blocks[i]));
        p->blocks[i].offset = p->width;
        p->width += p->blocks[i].width;
        if (p->width > AIS__PL_MAX_WIDTH)
            return ais__error(AIS_E_LIMIT, "pipeline spec: %s: output width exceeds %zu", path,
                              AIS__PL_MAX_WIDTH);
    }
    return AIS_OK;
}

ais_status ais_pipeline_create_from_json(const char *json, size_t len, ais_pipeline **out) {
    if (!out)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_pipeline_create_from_json: out is NULL");
    *out = NULL;
    if (!json && len)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_pipeline_create_from_json: json is NULL");
    if (len > AIS__PL_MAX_SPEC_BYTES)
        return ais__error(AIS_E_LIMIT, "pipeline spec: %zu bytes, more than the limit %zu", len,
                          AIS__PL_MAX_SPEC_BYTES);
    const char *end = NULL;
    cJSON *root = len ? cJSON_ParseWithLengthOpts(json, len, &end, false) : NULL;
    if (!root) {
        /* Not cJSON_GetErrorPtr: it is one global, racy when pipelines are built on several
         * threads; the parse end is set on failure too. An allocation failure inside cJSON reads
         * the same way. */
        if (!len)
            return ais__error(AIS_E_FORMAT, "pipeline spec: not valid JSON: empty (0 bytes)");
        return ais__json_error("pipeline spec", json, len, end, CJSON_NESTING_LIMIT);
    }
    for (const char *q = end; q && q < json + len; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            cJSON_Delete(root);
            return ais__error(AIS_E_FORMAT, "pipeline spec: trailing data at byte %zu",
                              (size_t)(q - json));
        }
    ais_pipeline *p = ais__calloc(1, sizeof *p);
    if (!p) {
        cJSON_Delete(root);
        return ais__oom(sizeof *p, "pipeline");
    }
    p->out_dtype = AIS_DTYPE_F32;
    ais_status st = compile(p, root);
    cJSON_Delete(root);
    if (st == AIS_OK && !(p->spec = ais__malloc(len + 1))) st = ais__oom(len + 1, "pipeline spec");
    if (st == AIS_OK) {
        memcpy(p->spec, json, len);
        p->spec[len] = 0;
        p->spec_len = len;
    }
    if (st != AIS_OK) {
        ais_pipeline_destroy(p);
        return st;
    }
    *out = p;
    return AIS_OK;
}

void ais_pipeline_destroy(ais_pipeline *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n_blocks; i++) {
        ais__pl_block *b = &p->blocks[i];
        for (size_t j = 0; j < b->n_steps; j++) {
            ais__pl_step *s = &b->steps[j];
            ais__free(s->str);
            ais__free(s->edges);
            for (size_t k = 0; s->cats && k < s->n_cats; k++)
                ais__free(s->cats[k]);
            ais__free(s->cats);
            ais__free(s->num_cats);
            ais__free(s->sorted);
        }
        ais__free(b->steps);
    }
    ais__free(p->blocks);
    for (size_t i = 0; i < p->n_inputs; i++)
        ais__free(p->inputs[i].name);
    ais__free(p->inputs);
    ais__free(p->input_sorted);
    for (size_t i = 0; i < p->n_ignored; i++)
        ais__free(p->ignored[i]);
    ais__free(p->ignored);
    ais__free(p->ignored_sorted);
    ais__pipeline_text_free(p->text);
    ais__free(p->spec);
    ais__pipeline_image_free(p->image);
    ais__free(p);
}

ais_status ais_pipeline_spec_json(const ais_pipeline *p, const char **json, size_t *len) {
    if (!p || !json)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_pipeline_spec_json: %s is NULL",
                          p ? "json" : "pipeline");
    *json = p->spec;
    if (len) *len = p->spec_len;
    return AIS_OK;
}

ais_status ais_pipeline_with_output_dtype(const ais_pipeline *p, ais_dtype dtype,
                                          ais_pipeline **out) {
    if (out) *out = NULL;
    if (!p || !out)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_pipeline_with_output_dtype: %s is NULL",
                          p ? "out" : "pipeline");
    if (dtype != AIS_DTYPE_F32 && dtype != AIS_DTYPE_F64)
        return ais__error(AIS_E_DTYPE,
                          "ais_pipeline_with_output_dtype: output dtype %s, expected f32 or f64",
                          ais_dtype_name(dtype));
    /* A twin rather than a flag on p: p stays immutable, and may be running on other threads. */
    ais_pipeline *t = NULL;
    AIS__CHECK(ais_pipeline_create_from_json(p->spec, p->spec_len, &t));
    t->out_dtype = dtype;
    t->extra = p->extra;
    *out = t;
    return AIS_OK;
}

ais_dtype ais_pipeline_output_dtype(const ais_pipeline *p) {
    return p ? p->out_dtype : AIS_DTYPE_F32;
}

size_t ais_pipeline_input_count(const ais_pipeline *p) { return p ? p->n_inputs : 0; }
size_t ais_pipeline_output_width(const ais_pipeline *p) { return p ? p->width : 0; }

ais_status ais_pipeline_input_info(const ais_pipeline *p, size_t index, const char **name,
                                   ais_feature_kind *kind) {
    if (!p || index >= p->n_inputs)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_pipeline_input_info: index %zu, the pipeline has %zu inputs", index,
                          p ? p->n_inputs : 0);
    if (name) *name = p->inputs[index].name;
    if (kind) *kind = p->inputs[index].kind;
    return AIS_OK;
}

size_t ais__pipeline_find_input(const ais_pipeline *p, const char *name) {
    size_t lo = 0, hi = p->n_inputs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, p->inputs[p->input_sorted[mid]].name);
        if (c == 0) return p->input_sorted[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return SIZE_MAX;
}

size_t ais__pipeline_find_category(const ais__pl_step *s, const char *str) {
    size_t lo = 0, hi = s->n_cats;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(str, s->cats[s->sorted[mid]]);
        if (c == 0) return s->sorted[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return SIZE_MAX;
}

size_t ais__pipeline_find_number(const ais__pl_step *s, double x) {
    size_t lo = 0, hi = s->n_cats;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        double c = s->num_cats[s->sorted[mid]];
        if (x == c) return s->sorted[mid];
        if (x < c)
            hi = mid;
        else
            lo = mid + 1;
    }
    return SIZE_MAX;
}

bool ais__pipeline_is_ignored(const ais_pipeline *p, const char *name) {
    size_t lo = 0, hi = p->n_ignored;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, p->ignored[p->ignored_sorted[mid]]);
        if (c == 0) return true;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

ais_status ais__pipeline_check_keys(const cJSON *obj, const char *path, const char *const *allowed,
                                    const char *const *required) {
    return check_keys(obj, path, allowed, required);
}
