/* test_pipeline.c - feature pipelines: spec checking, every transform against scikit-learn or a
 * naive reference, rows vs columns vs JSON lines, the schema error report, OOM, threads. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline.h"
#include "pipeline_fixture.h"
#include "test_util.h"

static ais_pipeline *make(const char *json) {
    ais_pipeline *p = NULL;
    ais_status st = ais_pipeline_create_from_json(json, strlen(json), &p);
    if (st != AIS_OK) fail_msg("spec failed: %s: %s", ais_last_error(), json);
    return p;
}

static void assert_row_values(const ais_tensor *t, size_t width, size_t row, const double *want,
                              double atol) {
    const float *d = ais_tensor_data(t);
    for (size_t j = 0; j < width; j++) {
        double g = d[row * width + j];
        if (isnan(want[j]) ? !isnan(g) : !(fabs(g - want[j]) <= atol * (1 + fabs(want[j]))))
            fail_msg("row %zu col %zu: got %.9g want %.9g", row, j, g, want[j]);
    }
}

/* ---- scikit-learn fixtures ---- */

static void test_scalers_match_sklearn(void **state) {
    (void)state;
    char json[1024];
    snprintf(json, sizeof json,
             "{\"version\":1,\"inputs\":[{\"name\":\"x\",\"type\":\"numeric\"}],\"features\":["
             "{\"input\":\"x\",\"steps\":[{\"op\":\"scale\",\"kind\":\"standard\",\"mean\":%.17g,"
             "\"scale\":%.17g}]},"
             "{\"input\":\"x\",\"steps\":[{\"op\":\"scale\",\"kind\":\"minmax\",\"min\":%.17g,"
             "\"scale\":%.17g}]},"
             "{\"input\":\"x\",\"steps\":[{\"op\":\"scale\",\"kind\":\"robust\",\"center\":%.17g,"
             "\"scale\":%.17g}]},{\"input\":\"x\",\"steps\":[]}]}",
             fx_std_params[0], fx_std_params[1], fx_minmax_params[0], fx_minmax_params[1],
             fx_robust_params[0], fx_robust_params[1]);
    ais_pipeline *p = make(json);
    assert_int_equal(ais_pipeline_output_width(p), 4);
    size_t n = AIS__ARRAY_LEN(fx_x);
    ais_tensor *col = ais_test_tensor(AIS_DTYPE_F64, (const int64_t[]){(int64_t)n}, 1, fx_x);
    const char *names[] = {"x"};
    ais_tensor *out = NULL;
    AIS_ASSERT_OK(
        ais_pipeline_run_columns(p, names, (const ais_tensor *const *)&col, 1, &out, NULL));
    for (size_t r = 0; r < n; r++)
        assert_row_values(out, 4, r, (double[]){fx_std[r], fx_minmax[r], fx_robust[r], fx_x[r]},
                          1e-6);
    ais_tensor_destroy(out);
    ais_tensor_destroy(col);
    ais_pipeline_destroy(p);
}

static void test_hash_matches_sklearn(void **state) {
    (void)state;
    ais_pipeline *p = make(
        "{\"version\":1,\"inputs\":[{\"name\":\"w\",\"type\":\"categorical\"}],\"features\":["
        "{\"input\":\"w\",\"steps\":[{\"op\":\"hash\",\"n_features\":7}]},"
        "{\"input\":\"w\",\"steps\":[{\"op\":\"hash\",\"n_features\":16,\"alternate_sign\":false,"
        "\"seed\":0}]}]}");
    assert_int_equal(ais_pipeline_output_width(p), 23);
    size_t n = AIS__ARRAY_LEN(fx_words);
    ais_tensor *col = NULL;
    AIS_ASSERT_OK(ais_tensor_create_strings((const int64_t[]){(int64_t)n}, 1, fx_words, &col));
    const char *names[] = {"w"};
    ais_tensor *out = NULL;
    AIS_ASSERT_OK(
        ais_pipeline_run_columns(p, names, (const ais_tensor *const *)&col, 1, &out, NULL));
    for (size_t r = 0; r < n; r++) {
        double want[23];
        memcpy(want, fx_hash_7 + 7 * r, 7 * sizeof(double));
        memcpy(want + 7, fx_hash_16 + 16 * r, 16 * sizeof(double));
        assert_row_values(out, 23, r, want, 0);
    }
    ais_tensor_destroy(out);
    ais_tensor_destroy(col);
    ais_pipeline_destroy(p);
}

static void test_murmur_known_values(void **state) {
    (void)state;
    /* Published MurmurHash3_x86_32 test vectors. */
    assert_int_equal(ais__murmur3_32("", 0, 0), 0);
    assert_int_equal(ais__murmur3_32("", 0, 1), 0x514E28B7u);
    assert_int_equal(ais__murmur3_32("\xff\xff\xff\xff", 4, 0), 0x76293B50u);
    assert_int_equal(ais__murmur3_32("Hello, world!", 13, 1234), 0xFAF6CDB3u);
}

/* ---- a random pipeline over every transform vs a naive reference, and the three sources ---- */

#define SPEC_ALL                                                                                   \
    "{\"version\":1,\"inputs\":["                                                                  \
    "{\"name\":\"age\",\"type\":\"numeric\",\"missing\":\"allow\"},"                               \
    "{\"name\":\"income\",\"type\":\"numeric\"},"                                                  \
    "{\"name\":\"city\",\"type\":\"categorical\",\"missing\":\"allow\"},"                          \
    "{\"name\":\"color\",\"type\":\"categorical\"}],"                                              \
    "\"features\":["                                                                               \
    "{\"input\":\"age\",\"steps\":[{\"op\":\"impute\",\"strategy\":\"median\",\"value\":40},"      \
    "{\"op\":\"clip\",\"lo\":0,\"hi\":90},{\"op\":\"scale\",\"kind\":\"standard\",\"mean\":41.5,"  \
    "\"scale\":12.25}]},"                                                                          \
    "{\"input\":\"income\",\"steps\":[{\"op\":\"clip\",\"lo\":0},{\"op\":\"log1p\"}]},"            \
    "{\"input\":\"income\",\"steps\":[{\"op\":\"bucketize\",\"edges\":[10,100,1000]}]},"           \
    "{\"input\":\"age\",\"steps\":[{\"op\":\"passthrough\"}]},"                                    \
    "{\"input\":\"city\",\"steps\":[{\"op\":\"impute\",\"strategy\":\"constant\","                 \
    "\"value\":\"paris\"},{\"op\":\"onehot\",\"categories\":[\"rome\",\"paris\",\"oslo\"],"        \
    "\"unknown\":\"ignore\"}]},"                                                                   \
    "{\"input\":\"color\",\"steps\":[{\"op\":\"ordinal\",\"categories\":[\"r\",\"g\",\"b\"],"      \
    "\"unknown\":\"use_value\",\"unknown_value\":-1}]},"                                           \
    "{\"input\":\"city\",\"steps\":[{\"op\":\"ordinal\",\"categories\":[\"rome\",\"oslo\"],"       \
    "\"unknown\":\"use_value\",\"unknown_value\":9}]}]}"

#define NR 37
typedef struct {
    double age[NR], income[NR];
    const char *city[NR], *color[NR];
} rows_data;

static const char *const CITIES[] = {"rome", "paris", "oslo", "lima", NULL};
static const char *const COLORS[] = {"r", "g", "b", "zz"};

static void make_data(rows_data *d) {
    for (size_t r = 0; r < NR; r++) {
        d->age[r] = ais_test_randint(0, 5) == 0 ? NAN : ais_test_uniform(-10, 100);
        d->income[r] = ais_test_uniform(-50, 3000);
        d->city[r] = CITIES[ais_test_randint(0, 4)];
        d->color[r] = COLORS[ais_test_randint(0, 3)];
    }
}

static size_t index_of(const char *const *list, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0) return i;
    return SIZE_MAX;
}

static void reference_row(const rows_data *d, size_t r, double *o) {
    double age = isnan(d->age[r]) ? 40 : d->age[r];
    age = age < 0 ? 0 : age > 90 ? 90 : age;
    o[0] = (age - 41.5) / 12.25;
    double inc = d->income[r] < 0 ? 0 : d->income[r];
    o[1] = log1p(inc);
    o[2] = d->income[r] >= 1000 ? 3 : d->income[r] >= 100 ? 2 : d->income[r] >= 10 ? 1 : 0;
    o[3] = d->age[r];
    const char *city = d->city[r] ? d->city[r] : "paris";
    static const char *const oh[] = {"rome", "paris", "oslo"};
    size_t k = index_of(oh, 3, city);
    for (size_t j = 0; j < 3; j++)
        o[4 + j] = j == k ? 1 : 0;
    static const char *const col[] = {"r", "g", "b"};
    k = index_of(col, 3, d->color[r]);
    o[7] = k == SIZE_MAX ? -1 : (double)k;
    static const char *const ord[] = {"rome", "oslo"};
    /* This block has no imputation: a missing city stays missing (NaN). */
    k = d->city[r] ? index_of(ord, 2, d->city[r]) : 0;
    o[8] = !d->city[r] ? NAN : k == SIZE_MAX ? 9 : (double)k;
}

static void to_records(const rows_data *d, ais_field (*f)[4], const ais_field **rows, size_t *nf) {
    for (size_t r = 0; r < NR; r++) {
        size_t n = 0;
        /* Order varies, absent-vs-null varies, and an unrelated field is ignored. */
        f[r][n++] = (ais_field){"color", AIS_VALUE_STRING, 0, d->color[r]};
        if (!isnan(d->age[r]) || r % 2)
            f[r][n++] = (ais_field){"age", AIS_VALUE_NUMBER, d->age[r], NULL};
        if (d->city[r])
            f[r][n++] = (ais_field){"city", AIS_VALUE_STRING, 0, d->city[r]};
        else if (r % 3 == 0)
            f[r][n++] = (ais_field){"city", AIS_VALUE_MISSING, 0, NULL};
        f[r][n++] = (ais_field){"income", AIS_VALUE_NUMBER, d->income[r], NULL};
        rows[r] = f[r];
        nf[r] = n;
    }
}

/* JSON lines of the rows; with_other adds a field "other" that names no input. */
static char *to_jsonl(const rows_data *d, bool with_other) {
    size_t cap = NR * 200, off = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    off += (size_t)snprintf(s + off, cap - off, "\n  \n");
    for (size_t r = 0; r < NR; r++) {
        off += (size_t)snprintf(s + off, cap - off, "{\"income\": %.17g, \"color\": \"%s\"",
                                d->income[r], d->color[r]);
        if (isnan(d->age[r]))
            off += (size_t)snprintf(s + off, cap - off, ", \"age\": null");
        else
            off += (size_t)snprintf(s + off, cap - off, ", \"age\": %.17g", d->age[r]);
        if (d->city[r])
            off += (size_t)snprintf(s + off, cap - off, ", \"city\":\"%s\"", d->city[r]);
        off += (size_t)snprintf(s + off, cap - off, "%s}\r\n",
                                with_other ? ", \"other\": [1, {\"x\": true}]" : "");
    }
    return s;
}

static void test_all_transforms_rows_columns_json(void **state) {
    (void)state;
    ais_pipeline *p = make(SPEC_ALL);
    assert_int_equal(ais_pipeline_output_width(p), 9);
    assert_int_equal(ais_pipeline_input_count(p), 4);
    const char *name;
    ais_feature_kind kind;
    AIS_ASSERT_OK(ais_pipeline_input_info(p, 2, &name, &kind));
    assert_string_equal(name, "city");
    assert_int_equal(kind, AIS_FEATURE_CATEGORICAL);
    AIS_ASSERT_STATUS(ais_pipeline_input_info(p, 4, &name, &kind), AIS_E_INVALID_ARGUMENT);

    rows_data d;
    make_data(&d);
    /* records */
    ais_field f[NR][4];
    const ais_field *rows[NR];
    size_t nf[NR];
    to_records(&d, f, rows, nf);
    ais_tensor *a = NULL, *b = NULL, *c = NULL;
    ais_pipeline_errors *errs = (ais_pipeline_errors *)1;
    AIS_ASSERT_OK(ais_pipeline_run_records(p, rows, nf, NR, &a, &errs));
    assert_null(errs);
    assert_int_equal(ais_tensor_shape(a)[0], NR);
    assert_int_equal(ais_tensor_shape(a)[1], 9);
    for (size_t r = 0; r < NR; r++) {
        double want[9];
        reference_row(&d, r, want);
        assert_row_values(a, 9, r, want, 1e-6);
    }
    /* columns: f32 age (NaN missing), i64-free f64 income, strings; "city" is absent-capable
     * but strings have no missing marker, so test columns on rows whose city is set. */
    for (size_t r = 0; r < NR; r++)
        if (!d.city[r]) d.city[r] = "paris";
    to_records(&d, f, rows, nf);
    ais_tensor_destroy(a);
    AIS_ASSERT_OK(ais_pipeline_run_records(p, rows, nf, NR, &a, NULL));
    double agev[NR];
    for (size_t r = 0; r < NR; r++)
        agev[r] = d.age[r];
    ais_tensor *cols[4];
    cols[0] = ais_test_tensor(AIS_DTYPE_F64, (const int64_t[]){NR, 1}, 2, agev);
    cols[1] = ais_test_tensor(AIS_DTYPE_F64, (const int64_t[]){NR}, 1, d.income);
    AIS_ASSERT_OK(ais_tensor_create_strings((const int64_t[]){NR}, 1, d.city, &cols[2]));
    AIS_ASSERT_OK(ais_tensor_create_strings((const int64_t[]){NR}, 1, d.color, &cols[3]));
    const char *names[] = {"age", "income", "city", "color"};
    AIS_ASSERT_OK(ais_pipeline_run_columns(p, names, (const ais_tensor *const *)cols, 4, &b, NULL));
    char *jl = to_jsonl(&d, true);
    /* "other" names no input: a problem in every row, unless the pipeline ignores extras */
    ais_pipeline_errors *e = NULL;
    AIS_ASSERT_STATUS(ais_pipeline_run_json_rows(p, jl, strlen(jl), &c, &e), AIS_E_SCHEMA);
    assert_int_equal(ais_pipeline_errors_count(e), NR);
    assert_string_equal(ais_pipeline_errors_field(e, NR - 1), "other");
    ais_pipeline_errors_destroy(e);
    ais_pipeline *pi = NULL;
    AIS_ASSERT_OK(ais_pipeline_with_extra_fields(p, AIS_EXTRA_FIELDS_IGNORE, &pi));
    AIS_ASSERT_OK(ais_pipeline_run_json_rows(pi, jl, strlen(jl), &c, NULL));
    ais_pipeline_destroy(pi);
    assert_int_equal(ais_tensor_nbytes(a), ais_tensor_nbytes(b));
    assert_int_equal(ais_tensor_nbytes(a), ais_tensor_nbytes(c));
    /* Bitwise equal, NaN included: the same code runs every source. */
    assert_memory_equal(ais_tensor_data(a), ais_tensor_data(b), ais_tensor_nbytes(a));
    assert_memory_equal(ais_tensor_data(a), ais_tensor_data(c), ais_tensor_nbytes(a));
    free(jl);
    for (int i = 0; i < 4; i++)
        ais_tensor_destroy(cols[i]);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(c);
    ais_pipeline_destroy(p);
}

static void test_numeric_column_types_and_empty(void **state) {
    (void)state;
    ais_pipeline *p = make("{\"version\":1,\"inputs\":[{\"name\":\"n\",\"type\":\"numeric\"}],"
                           "\"features\":[{\"input\":\"n\",\"steps\":[{\"op\":\"bucketize\","
                           "\"edges\":[-1,0,2.5]}]}]}");
    const double v[] = {-3, -1, -0.5, 0, 2.4999, 2.5, 7};
    const double want[] = {0, 1, 1, 2, 2, 3, 3};
    const ais_dtype dts[] = {AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_I32, AIS_DTYPE_I64};
    const char *names[] = {"n", "ignored"};
    /* a column that names no input is skipped (its dtype and length unexamined) only when the
     * pipeline ignores extra fields; by default it is a problem */
    ais_pipeline *pi = NULL;
    AIS_ASSERT_OK(ais_pipeline_with_extra_fields(p, AIS_EXTRA_FIELDS_IGNORE, &pi));
    for (size_t k = 0; k < 4; k++) {
        ais_tensor *cols[2] = {
            ais_test_tensor(dts[k], (const int64_t[]){7}, 1, v),
            ais_test_tensor(AIS_DTYPE_BOOL, (const int64_t[]){3}, 1, (const double[]){0, 1, 0})};
        ais_tensor *out = NULL;
        AIS_ASSERT_STATUS(
            ais_pipeline_run_columns(p, names, (const ais_tensor *const *)cols, 2, &out, NULL),
            AIS_E_SCHEMA);
        ais_test_assert_error_contains("field \"ignored\": unknown field");
        AIS_ASSERT_OK(
            ais_pipeline_run_columns(pi, names, (const ais_tensor *const *)cols, 2, &out, NULL));
        const float *o = ais_tensor_data(out);
        for (size_t i = 0; i < 7; i++) {
            double x = dts[k] >= AIS_DTYPE_I32 && dts[k] <= AIS_DTYPE_I64 ? trunc(v[i]) : v[i];
            double w = x >= 2.5 ? 3 : x >= 0 ? 2 : x >= -1 ? 1 : 0;
            if (dts[k] == AIS_DTYPE_F64) assert_true(w == want[i]);
            assert_true(o[i] == w);
        }
        ais_tensor_destroy(out);
        ais_tensor_destroy(cols[0]);
        ais_tensor_destroy(cols[1]);
    }
    /* Zero rows from every source. */
    ais_tensor *out = NULL;
    AIS_ASSERT_OK(ais_pipeline_run_records(p, NULL, NULL, 0, &out, NULL));
    assert_int_equal(ais_tensor_shape(out)[0], 0);
    assert_int_equal(ais_tensor_shape(out)[1], 1);
    ais_tensor_destroy(out);
    AIS_ASSERT_OK(ais_pipeline_run_json_rows(p, " \n\n", 3, &out, NULL));
    assert_int_equal(ais_tensor_shape(out)[0], 0);
    ais_tensor_destroy(out);
    ais_pipeline_destroy(pi);
    ais_pipeline_destroy(p);
}

/* ---- spec errors ---- */

typedef struct {
    const char *json;
    ais_status status;
    const char *needle;
} bad_spec;

#define IN1                                                                                        \
    "\"inputs\":[{\"name\":\"a\",\"type\":\"numeric\"},{\"name\":\"c\",\"type\":\"categorical\"}]"
#define F(steps) "{\"version\":1," IN1 ",\"features\":[{\"input\":\"a\",\"steps\":[" steps "]}]}"
#define FC(steps) "{\"version\":1," IN1 ",\"features\":[{\"input\":\"c\",\"steps\":[" steps "]}]}"

static void test_spec_errors(void **state) {
    (void)state;
    static const bad_spec cases[] = {
        {"", AIS_E_FORMAT, "not valid JSON"},
        {"{", AIS_E_FORMAT, "not valid JSON"},
        {"[]", AIS_E_FORMAT, "$: expected an object"},
        {"{} x", AIS_E_FORMAT, "trailing data"},
        {"{\"version\":1," IN1 "}", AIS_E_FORMAT, "$: missing key \"features\""},
        {"{\"version\":2," IN1 ",\"features\":[]}", AIS_E_UNSUPPORTED, "$.version: expected 1"},
        {"{\"version\":1.0000001," IN1 ",\"features\":[]}", AIS_E_UNSUPPORTED,
         "$.version: expected 1, got 1.0000001"},
        {F("{\"op\":\"clip\",\"lo\":1.0000001,\"hi\":1}"), AIS_E_FORMAT,
         "steps[0]: lo 1.0000001 is above hi 1"},
        {"{\"version\":\"1\"," IN1 ",\"features\":[]}", AIS_E_FORMAT,
         "$.version: expected a finite"},
        {"{\"version\":1," IN1 ",\"features\":[],\"extra\":0}", AIS_E_FORMAT,
         "$: unknown key \"extra\""},
        {"{\"version\":1,\"version\":1," IN1 ",\"features\":[]}", AIS_E_FORMAT,
         "$: duplicate key \"version\""},
        {"{\"version\":1," IN1 ",\"features\":[]}", AIS_E_FORMAT, "$.features: expected at least"},
        {"{\"version\":1,\"inputs\":{},\"features\":[]}", AIS_E_FORMAT,
         "$.inputs: expected an array"},
        {"{\"version\":1,\"inputs\":[{\"name\":\"a\",\"type\":\"audio\"}],\"features\":[]}",
         AIS_E_FORMAT, "$.inputs[0].type: expected one of \"numeric\", \"categorical\""},
        {"{\"version\":1,\"inputs\":[{\"name\":\"\",\"type\":\"numeric\"}],\"features\":[]}",
         AIS_E_FORMAT, "$.inputs[0].name: expected a string of 1 to"},
        {"{\"version\":1,\"inputs\":[{\"name\":\"a\",\"type\":\"numeric\",\"missing\":1}],"
         "\"features\":[]}",
         AIS_E_FORMAT, "$.inputs[0].missing: expected one of"},
        {"{\"version\":1,\"inputs\":[{\"name\":\"a\",\"type\":\"numeric\"},{\"name\":\"a\","
         "\"type\":\"numeric\"}],\"features\":[]}",
         AIS_E_FORMAT, "$.inputs: duplicate input name \"a\""},
        {"{\"version\":1," IN1 ",\"features\":[{\"input\":\"zz\",\"steps\":[]}]}", AIS_E_FORMAT,
         "$.features[0].input: no input is called \"zz\""},
        {"{\"version\":1," IN1 ",\"features\":[{\"input\":\"a\"}]}", AIS_E_FORMAT,
         "$.features[0]: missing key \"steps\""},
        {F("{\"op\":\"frobnicate\"}"), AIS_E_FORMAT,
         "$.features[0].steps[0].op: expected one of \"impute\", \"scale\", \"clip\", "
         "\"log1p\", \"bucketize\", \"onehot\", \"ordinal\", \"hash\", \"passthrough\", "
         "\"indicator\""},
        {F("3"), AIS_E_FORMAT, "$.features[0].steps[0]: expected an object"},
        {F("{\"op\":\"log1p\",\"x\":1}"), AIS_E_FORMAT, "steps[0]: unknown key \"x\""},
        {F("{\"op\":\"impute\",\"strategy\":\"mean\"}"), AIS_E_FORMAT, "missing key \"value\""},
        {F("{\"op\":\"impute\",\"strategy\":\"mode\",\"value\":1}"), AIS_E_FORMAT,
         "steps[0].strategy: expected one of"},
        {F("{\"op\":\"impute\",\"strategy\":\"mean\",\"value\":\"x\"}"), AIS_E_FORMAT,
         "steps[0].value: expected a finite number"},
        {F("{\"op\":\"impute\",\"strategy\":\"mean\",\"value\":1e999}"), AIS_E_FORMAT,
         "steps[0].value: expected a finite number"},
        {FC("{\"op\":\"impute\",\"strategy\":\"mean\",\"value\":\"x\"}"), AIS_E_FORMAT,
         "strategy: \"mean\" needs a numeric value"},
        {FC("{\"op\":\"impute\",\"strategy\":\"constant\",\"value\":3}"), AIS_E_FORMAT,
         "steps[0].value: expected a string"},
        {F("{\"op\":\"scale\",\"kind\":\"standard\",\"mean\":0,\"scale\":0}"), AIS_E_FORMAT,
         "steps[0].scale: must not be 0"},
        {F("{\"op\":\"scale\",\"kind\":\"standard\",\"min\":0,\"scale\":1}"), AIS_E_FORMAT,
         "key \"min\" does not belong to kind \"standard\""},
        {F("{\"op\":\"scale\",\"kind\":\"robust\",\"scale\":1}"), AIS_E_FORMAT,
         "steps[0].center: expected a finite number"},
        {F("{\"op\":\"scale\",\"kind\":\"zscore\",\"scale\":1}"), AIS_E_FORMAT,
         "steps[0].kind: expected one of"},
        {F("{\"op\":\"clip\"}"), AIS_E_FORMAT, "steps[0]: needs \"lo\", \"hi\" or both"},
        {F("{\"op\":\"clip\",\"lo\":2,\"hi\":1}"), AIS_E_FORMAT, "lo 2 is above hi 1"},
        {F("{\"op\":\"bucketize\",\"edges\":{}}"), AIS_E_FORMAT,
         "steps[0].edges: expected an array"},
        {F("{\"op\":\"bucketize\",\"edges\":[1,1]}"), AIS_E_FORMAT,
         "steps[0].edges[1]: edges must increase strictly"},
        {F("{\"op\":\"bucketize\",\"edges\":[1,\"2\"]}"), AIS_E_FORMAT,
         "steps[0].edges[1]: expected a finite number"},
        {F("{\"op\":\"log1p\"},{\"op\":\"clip\",\"lo\":0},{\"op\":\"onehot\",\"categories\":[\"x\"]"
           "}"),
         AIS_E_FORMAT, "steps[2].categories[0]: expected a finite number (the value is numeric)"},
        {FC("{\"op\":\"log1p\"}"), AIS_E_FORMAT, "steps[0]: \"log1p\" takes a numeric value"},
        {FC(""), AIS_E_FORMAT, "a categorical value must end in an encoder"},
        {FC("{\"op\":\"hash\",\"n_features\":4},{\"op\":\"passthrough\"}"), AIS_E_FORMAT,
         "steps[1]: \"passthrough\" follows an encoder"},
        {FC("{\"op\":\"onehot\",\"categories\":[\"x\",\"y\",\"x\"]}"), AIS_E_FORMAT,
         "steps[0].categories: duplicate category \"x\""},
        {FC("{\"op\":\"onehot\",\"categories\":[\"x\",1]}"), AIS_E_FORMAT,
         "steps[0].categories[1]: expected a string"},
        {FC("{\"op\":\"onehot\",\"categories\":[\"x\"],\"unknown\":\"use_value\"}"), AIS_E_FORMAT,
         "steps[0].unknown: expected one of \"error\", \"ignore\""},
        {FC("{\"op\":\"ordinal\",\"categories\":[\"x\"],\"unknown\":\"use_value\"}"), AIS_E_FORMAT,
         "steps[0].unknown_value: expected a finite number"},
        {FC("{\"op\":\"ordinal\",\"categories\":[\"x\"],\"unknown_value\":1}"), AIS_E_FORMAT,
         "unknown_value: needs \"unknown\": \"use_value\""},
        {F("{\"op\":\"onehot\",\"categories\":[1,2,1.0]}"), AIS_E_FORMAT,
         "steps[0].categories: duplicate category 1"},
        {F("{\"op\":\"onehot\",\"categories\":[1],\"infrequent\":[2,1]}"), AIS_E_FORMAT,
         "steps[0].categories/infrequent: duplicate category 1"},
        {F("{\"op\":\"onehot\",\"categories\":[1],\"infrequent\":[\"x\"]}"), AIS_E_FORMAT,
         "steps[0].infrequent[0]: expected a finite number"},
        {F("{\"op\":\"onehot\",\"categories\":[1],\"infrequent\":[]}"), AIS_E_FORMAT,
         "steps[0].infrequent: expected at least 1"},
        {F("{\"op\":\"onehot\",\"categories\":[]}"), AIS_E_FORMAT,
         "steps[0].categories: expected at least 1"},
        {F("{\"op\":\"onehot\",\"categories\":[1,2],\"unknown\":\"infrequent\"}"),
         AIS_E_FORMAT, "steps[0].unknown: \"infrequent\" needs an \"infrequent\" list"},
        {F("{\"op\":\"onehot\",\"categories\":[1,2],\"drop\":2}"), AIS_E_FORMAT,
         "steps[0].drop: expected an integer in [0, 2)"},
        {F("{\"op\":\"onehot\",\"categories\":[1,2],\"drop\":0.5}"), AIS_E_FORMAT,
         "steps[0].drop: expected an integer"},
        {F("{\"op\":\"ordinal\",\"categories\":[1],\"drop\":0}"), AIS_E_FORMAT,
         "steps[0]: unknown key \"drop\""},
        {F("{\"op\":\"ordinal\",\"categories\":[1],\"missing_value\":\"x\"}"), AIS_E_FORMAT,
         "steps[0].missing_value: expected a finite number or null"},
        {F("{\"op\":\"indicator\",\"x\":1}"), AIS_E_FORMAT, "steps[0]: unknown key \"x\""},
        {FC("{\"op\":\"indicator\"},{\"op\":\"onehot\",\"categories\":[\"x\"]}"),
         AIS_E_FORMAT, "steps[1].categories[0]: expected a finite number (the value is numeric)"},
        {FC("{\"op\":\"hash\",\"n_features\":0}"), AIS_E_FORMAT, "n_features: expected an integer"},
        {FC("{\"op\":\"hash\",\"n_features\":2.5}"), AIS_E_FORMAT,
         "n_features: expected an integer"},
        {FC("{\"op\":\"hash\",\"n_features\":1e9}"), AIS_E_FORMAT,
         "n_features: expected an integer"},
        {FC("{\"op\":\"hash\",\"n_features\":4,\"seed\":-1}"), AIS_E_FORMAT,
         "steps[0].seed: expected an integer"},
        {FC("{\"op\":\"hash\",\"n_features\":4,\"alternate_sign\":1}"), AIS_E_FORMAT,
         "alternate_sign: expected true or false"},
        {F("{\"op\":\"log1p\"},{\"op\":\"log1p\"},{\"op\":\"log1p\"},{\"op\":\"log1p\"},"
           "{\"op\":\"log1p\"},{\"op\":\"log1p\"},{\"op\":\"log1p\"},{\"op\":\"log1p\"},"
           "{\"op\":\"log1p\"},{\"op\":\"log1p\"},{\"op\":\"log1p\"},{\"op\":\"log1p\"},"
           "{\"op\":\"log1p\"},{\"op\":\"log1p\"},{\"op\":\"log1p\"},{\"op\":\"log1p\"},"
           "{\"op\":\"log1p\"}"),
         AIS_E_LIMIT, "steps: more than 16 elements"},
    };
    for (size_t i = 0; i < AIS__ARRAY_LEN(cases); i++) {
        ais_pipeline *p = (ais_pipeline *)1;
        ais_status st = ais_pipeline_create_from_json(cases[i].json, strlen(cases[i].json), &p);
        if (st != cases[i].status)
            fail_msg("case %zu: got %s (%s), want %s: %s", i, ais_status_name(st), ais_last_error(),
                     ais_status_name(cases[i].status), cases[i].json);
        assert_null(p);
        ais_test_assert_error_contains(cases[i].needle);
    }
    /* Output width over the limit: 17 hash blocks of 2^20. */
    char *big = malloc(4096);
    assert_non_null(big);
    size_t off = (size_t)snprintf(big, 4096, "{\"version\":1," IN1 ",\"features\":[");
    for (int i = 0; i < 17; i++)
        off += (size_t)snprintf(big + off, 4096 - off,
                                "%s{\"input\":\"c\",\"steps\":[{\"op\":\"hash\",\"n_features\":"
                                "1048576}]}",
                                i ? "," : "");
    snprintf(big + off, 4096 - off, "]}");
    ais_pipeline *p = NULL;
    AIS_ASSERT_STATUS(ais_pipeline_create_from_json(big, strlen(big), &p), AIS_E_LIMIT);
    ais_test_assert_error_contains("$.features[16]: output width exceeds");
    free(big);
    /* The length is honoured: a valid spec cut short is invalid. */
    const char *ok = F("{\"op\":\"log1p\"}");
    AIS_ASSERT_STATUS(ais_pipeline_create_from_json(ok, strlen(ok) - 1, &p), AIS_E_FORMAT);
    AIS_ASSERT_OK(ais_pipeline_create_from_json(ok, strlen(ok), &p));
    ais_pipeline_destroy(p);
    AIS_ASSERT_STATUS(ais_pipeline_create_from_json(NULL, 3, &p), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_pipeline_create_from_json(ok, strlen(ok), NULL), AIS_E_INVALID_ARGUMENT);
    ais_pipeline_destroy(NULL);
}

/* ---- schema errors: every bad row is reported ---- */

#define SPEC_STRICT                                                                                \
    "{\"version\":1,\"inputs\":[{\"name\":\"n\",\"type\":\"numeric\"},"                            \
    "{\"name\":\"c\",\"type\":\"categorical\"},"                                                   \
    "{\"name\":\"m\",\"type\":\"numeric\",\"missing\":\"allow\"}],\"features\":["                  \
    "{\"input\":\"n\",\"steps\":[]},{\"input\":\"c\",\"steps\":[{\"op\":\"onehot\","               \
    "\"categories\":[\"a\",\"b\"]}]},{\"input\":\"m\",\"steps\":[]}]}"

static void check_report(const ais_pipeline_errors *e, size_t i, size_t row, const char *field,
                         const char *needle) {
    if (ais_pipeline_errors_row(e, i) != row || strcmp(ais_pipeline_errors_field(e, i), field) ||
        !strstr(ais_pipeline_errors_message(e, i), needle))
        fail_msg("problem %zu: row %zu field '%s' '%s'; want row %zu field '%s' '%s'", i,
                 ais_pipeline_errors_row(e, i), ais_pipeline_errors_field(e, i),
                 ais_pipeline_errors_message(e, i), row, field, needle);
}

static void test_schema_errors_records(void **state) {
    (void)state;
    ais_pipeline *p = make(SPEC_STRICT);
    ais_field r0[] = {{"n", AIS_VALUE_NUMBER, 1, NULL}, {"c", AIS_VALUE_STRING, 0, "a"}};
    ais_field r1[] = {{"c", AIS_VALUE_STRING, 0, "b"}}; /* n absent */
    ais_field r2[] = {{"n", AIS_VALUE_NUMBER, NAN, NULL}, {"c", AIS_VALUE_STRING, 0, "zz"}};
    ais_field r3[] = {{"n", AIS_VALUE_STRING, 0, "5"},
                      {"c", AIS_VALUE_NUMBER, 2, NULL},
                      {"m", AIS_VALUE_STRING, 0, "x"}};
    ais_field r4[] = {{"n", AIS_VALUE_NUMBER, 2, NULL},
                      {"c", AIS_VALUE_STRING, 0, "b"},
                      {"m", AIS_VALUE_NUMBER, NAN, NULL}};
    ais_field r5[] = {{"n", AIS_VALUE_MISSING, 0, NULL},
                      {"c", AIS_VALUE_STRING, 0, "a"},
                      {"n", AIS_VALUE_NUMBER, 1, NULL}};
    ais_field r6[] = {{"n", AIS_VALUE_NUMBER, 3, NULL}, {"c", AIS_VALUE_STRING, 0, "q"}};
    ais_field r7[] = {{"n", (ais_value_kind)7, 3, NULL}, {"c", AIS_VALUE_MISSING, 0, NULL}};
    const ais_field *rows[] = {r0, r1, r2, r3, r4, r5, r6, r7};
    size_t nf[] = {2, 1, 2, 3, 3, 3, 2, 2};
    ais_tensor *out = (ais_tensor *)1;
    ais_pipeline_errors *e = NULL;
    AIS_ASSERT_STATUS(ais_pipeline_run_records(p, rows, nf, 8, &out, &e), AIS_E_SCHEMA);
    assert_null(out);
    ais_test_assert_error_contains("row 1, field \"n\": missing required field");
    ais_test_assert_error_contains("9 problems in 6 rows");
    assert_int_equal(ais_pipeline_errors_count(e), 9);
    check_report(e, 0, 1, "n", "missing required field");
    check_report(e, 1, 2, "n", "NaN where the input allows no missing value");
    check_report(e, 2, 3, "n", "expected a number (numeric input), got a string");
    check_report(e, 3, 3, "c", "expected a string (categorical input), got a number");
    check_report(e, 4, 3, "m", "expected a number");
    check_report(e, 5, 5, "n", "field given twice");
    check_report(e, 6, 6, "c", "unknown category \"q\" (policy \"error\")");
    check_report(e, 7, 7, "n", "value kind 7");
    check_report(e, 8, 7, "c", "missing value where the input allows none");
    assert_int_equal(ais_pipeline_errors_row(e, 9), SIZE_MAX);
    assert_null(ais_pipeline_errors_field(e, 9));
    assert_null(ais_pipeline_errors_message(e, 9));
    ais_pipeline_errors_destroy(e);
    /* Row 2's unknown "zz" is not reported: its NaN already made the row bad. Without the
     * report the status is the same. */
    AIS_ASSERT_STATUS(ais_pipeline_run_records(p, rows, nf, 8, &out, NULL), AIS_E_SCHEMA);
    /* Only the good rows run fine, and m's NaN is allowed. */
    const ais_field *good[] = {r0, r4};
    size_t gnf[] = {2, 3};
    AIS_ASSERT_OK(ais_pipeline_run_records(p, good, gnf, 2, &out, &e));
    assert_null(e);
    assert_row_values(out, 4, 0, (double[]){1, 1, 0, NAN}, 0);
    assert_row_values(out, 4, 1, (double[]){2, 0, 1, NAN}, 0);
    ais_tensor_destroy(out);
    AIS_ASSERT_STATUS(ais_pipeline_run_records(p, NULL, nf, 2, &out, NULL), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_pipeline_run_records(NULL, rows, nf, 2, &out, NULL),
                      AIS_E_INVALID_ARGUMENT);
    ais_pipeline_destroy(p);
    assert_int_equal(ais_pipeline_errors_count(NULL), 0);
    ais_pipeline_errors_destroy(NULL);
}

static void test_schema_errors_json_rows(void **state) {
    (void)state;
    ais_pipeline *p = make(SPEC_STRICT);
    const char *jl = "{\"n\":1,\"c\":\"a\"}\n"
                     "[1,2]\n"
                     "\n"
                     "{\"n\":true,\"c\":\"a\"}\n"
                     "{\"n\":1,\"c\":\"a\"} junk\n"
                     "{\"n\":null,\"c\":\"b\",\"m\":{}}\n"
                     "{\"n\":1,\"c\":\"a\",\"m\":null}";
    ais_tensor *out = NULL;
    ais_pipeline_errors *e = NULL;
    AIS_ASSERT_STATUS(ais_pipeline_run_json_rows(p, jl, strlen(jl), &out, &e), AIS_E_SCHEMA);
    ais_test_assert_error_contains("row 1, field \"\": not a JSON object");
    assert_int_equal(ais_pipeline_errors_count(e), 5);
    check_report(e, 0, 1, "", "not a JSON object");
    check_report(e, 1, 2, "n", "expected a number, a string or null");
    check_report(e, 2, 3, "", "not a JSON object");
    check_report(e, 3, 4, "n", "missing value where the input allows none");
    check_report(e, 4, 4, "m", "expected a number, a string or null");
    ais_pipeline_errors_destroy(e);
    ais_pipeline_destroy(p);
}

static void test_column_errors(void **state) {
    (void)state;
    ais_pipeline *p = make(SPEC_STRICT);
    ais_tensor *n3 = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(3), (const double[]){1, NAN, 2});
    ais_tensor *n2 = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2), (const double[]){1, 2});
    ais_tensor *u8 = ais_test_tensor(AIS_DTYPE_U8, AIS_SHAPE(3), (const double[]){1, 2, 3});
    ais_tensor *m2d =
        ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(3, 2), (const double[]){0, 0, 0, 0, 0, 0});
    ais_tensor *c3 = NULL;
    AIS_ASSERT_OK(
        ais_tensor_create_strings(AIS_SHAPE(3), (const char *const[]){"a", "b", "x"}, &c3));
    ais_tensor *out = NULL;
    ais_pipeline_errors *e = NULL;
    {
        const char *names[] = {"n", "c"};
        const ais_tensor *cols[] = {n3, c3};
        AIS_ASSERT_STATUS(ais_pipeline_run_columns(p, names, cols, 2, &out, &e), AIS_E_SCHEMA);
        assert_int_equal(ais_pipeline_errors_count(e), 2);
        check_report(e, 0, 1, "n", "NaN where");
        check_report(e, 1, 2, "c", "unknown category \"x\"");
        ais_pipeline_errors_destroy(e);
    }
    {
        const char *names[] = {"c"}; /* n absent in every row */
        const ais_tensor *cols[] = {c3};
        AIS_ASSERT_STATUS(ais_pipeline_run_columns(p, names, cols, 1, &out, &e), AIS_E_SCHEMA);
        assert_int_equal(ais_pipeline_errors_count(e), 3);
        ais_test_assert_error_contains("row 0, field \"n\": missing required field");
        ais_pipeline_errors_destroy(e);
    }
    const struct {
        const char *names[2];
        const ais_tensor *cols[2];
        ais_status st;
        const char *needle;
    } bad[] = {
        {{"n", "c"}, {n2, c3}, AIS_E_SHAPE, "column \"c\" has 3 rows, others have 2"},
        {{"n", "c"}, {u8, c3}, AIS_E_DTYPE, "column \"n\" is u8, expected f32, f64"},
        {{"c", "n"}, {c3, c3}, AIS_E_DTYPE, "column \"n\" is string, expected"},
        {{"n", "c"}, {n3, n3}, AIS_E_DTYPE, "column \"c\" is f32, expected string"},
        {{"n", "n"}, {n3, n3}, AIS_E_INVALID_ARGUMENT, "column \"n\" given twice"},
        {{"m", "c"}, {m2d, c3}, AIS_E_SHAPE, "column \"m\" has 2 dimensions"},
        {{"n", NULL}, {n3, c3}, AIS_E_INVALID_ARGUMENT, "column 1 has no name"},
    };
    for (size_t i = 0; i < AIS__ARRAY_LEN(bad); i++) {
        e = (ais_pipeline_errors *)1;
        AIS_ASSERT_STATUS(ais_pipeline_run_columns(p, bad[i].names, bad[i].cols, 2, &out, &e),
                          bad[i].st);
        assert_null(e);
        assert_null(out);
        ais_test_assert_error_contains(bad[i].needle);
    }
    ais_tensor_destroy(n3);
    ais_tensor_destroy(n2);
    ais_tensor_destroy(u8);
    ais_tensor_destroy(m2d);
    ais_tensor_destroy(c3);
    ais_pipeline_destroy(p);
}

/* ---- ignored_fields: known fields that no input uses ---- */

#define SPEC_IGN(ign)                                                                              \
    "{\"version\":1,\"inputs\":[{\"name\":\"n\",\"type\":\"numeric\"},"                            \
    "{\"name\":\"c\",\"type\":\"categorical\"}],\"ignored_fields\":" ign ",\"features\":["         \
    "{\"input\":\"n\",\"steps\":[]},{\"input\":\"c\",\"steps\":[{\"op\":\"onehot\","               \
    "\"categories\":[\"a\",\"b\"]}]}]}"

static void test_ignored_fields(void **state) {
    (void)state;
    static const bad_spec cases[] = {
        {SPEC_IGN("\"id\""), AIS_E_FORMAT, "$.ignored_fields: expected an array"},
        {SPEC_IGN("[3]"), AIS_E_FORMAT, "$.ignored_fields[0]: expected a string"},
        {SPEC_IGN("[\"id\",\"\"]"), AIS_E_FORMAT, "$.ignored_fields[1]: expected a string of"},
        {SPEC_IGN("[\"id\",\"name\",\"id\"]"), AIS_E_FORMAT,
         "$.ignored_fields: duplicate ignored field \"id\""},
        {SPEC_IGN("[\"id\",\"c\"]"), AIS_E_FORMAT,
         "$.ignored_fields[1]: \"c\" is an input, so it cannot be ignored"},
    };
    for (size_t i = 0; i < AIS__ARRAY_LEN(cases); i++) {
        ais_pipeline *p = (ais_pipeline *)1;
        AIS_ASSERT_STATUS(ais_pipeline_create_from_json(cases[i].json, strlen(cases[i].json), &p),
                          cases[i].status);
        assert_null(p);
        ais_test_assert_error_contains(cases[i].needle);
    }
    ais_pipeline_destroy(make(SPEC_IGN("[]")));
    const char *spec = SPEC_IGN("[\"id\",\"name\"]");
    ais_pipeline *p = make(spec);
    /* the spec text is kept byte for byte (it is what a .ais file stores) */
    const char *json = NULL;
    size_t len = 0;
    AIS_ASSERT_OK(ais_pipeline_spec_json(p, &json, &len));
    assert_int_equal(len, strlen(spec));
    assert_memory_equal(json, spec, len);
    assert_int_equal(ais_pipeline_input_count(p), 2);
    ais_tensor *out = NULL;
    ais_pipeline_errors *e = NULL;
    /* records: ignored fields pass, an unknown one is still a problem */
    ais_field r0[] = {{"id", AIS_VALUE_NUMBER, 7, NULL},
                      {"n", AIS_VALUE_NUMBER, 1, NULL},
                      {"name", AIS_VALUE_STRING, 0, "x"},
                      {"c", AIS_VALUE_STRING, 0, "b"}};
    ais_field r1[] = {{"n", AIS_VALUE_NUMBER, 2, NULL},
                      {"c", AIS_VALUE_STRING, 0, "a"},
                      {"nme", AIS_VALUE_STRING, 0, "y"}};
    const ais_field *rows[] = {r0, r1};
    size_t nf[] = {4, 3};
    AIS_ASSERT_OK(ais_pipeline_run_records(p, rows, nf, 1, &out, &e));
    assert_null(e);
    assert_row_values(out, 3, 0, (double[]){1, 0, 1}, 0);
    ais_tensor_destroy(out);
    out = NULL;
    AIS_ASSERT_STATUS(ais_pipeline_run_records(p, rows, nf, 2, &out, &e), AIS_E_SCHEMA);
    assert_int_equal(ais_pipeline_errors_count(e), 1);
    check_report(e, 0, 1, "nme", "unknown field");
    ais_pipeline_errors_destroy(e);
    e = NULL;
    /* an ignored field is no near miss for a missing input: "c" absent names no "c" stand-in */
    ais_field r2[] = {{"n", AIS_VALUE_NUMBER, 2, NULL}, {"id", AIS_VALUE_STRING, 0, "c"}};
    const ais_field *rows2[] = {r2};
    size_t nf2[] = {2};
    AIS_ASSERT_STATUS(ais_pipeline_run_records(p, rows2, nf2, 1, &out, &e), AIS_E_SCHEMA);
    assert_int_equal(ais_pipeline_errors_count(e), 1);
    check_report(e, 0, 0, "c", "missing required field");
    assert_null(strstr(ais_pipeline_errors_message(e, 0), "\"id\""));
    ais_pipeline_errors_destroy(e);
    e = NULL;
    /* JSON rows and CSV */
    const char *jl = "{\"id\":1,\"n\":3,\"c\":\"a\",\"name\":null}\n";
    AIS_ASSERT_OK(ais_pipeline_run_json_rows(p, jl, strlen(jl), &out, &e));
    assert_row_values(out, 3, 0, (double[]){3, 1, 0}, 0);
    ais_tensor_destroy(out);
    out = NULL;
    const char *csv = "name,n,id,c\nx,4,9,b\n";
    AIS_ASSERT_OK(ais_pipeline_run_csv(p, csv, strlen(csv), &out, &e));
    assert_row_values(out, 3, 0, (double[]){4, 0, 1}, 0);
    ais_tensor_destroy(out);
    out = NULL;
    const char *csv_bad = "name,n,idd,c\nx,4,9,b\n";
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, csv_bad, strlen(csv_bad), &out, &e), AIS_E_SCHEMA);
    assert_int_equal(ais_pipeline_errors_count(e), 1);
    check_report(e, 0, SIZE_MAX, "idd", "unknown field");
    ais_pipeline_errors_destroy(e);
    e = NULL;
    /* columns */
    ais_tensor *n1 = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(1), (const double[]){5});
    ais_tensor *c1 = NULL, *s1 = NULL;
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(1), (const char *const[]){"a"}, &c1));
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(1), (const char *const[]){"zz"}, &s1));
    const char *names[] = {"name", "n", "c"};
    const ais_tensor *cols[] = {s1, n1, c1};
    AIS_ASSERT_OK(ais_pipeline_run_columns(p, names, cols, 3, &out, &e));
    assert_row_values(out, 3, 0, (double[]){5, 1, 0}, 0);
    ais_tensor_destroy(out);
    out = NULL;
    const char *names_bad[] = {"nam", "n", "c"};
    AIS_ASSERT_STATUS(ais_pipeline_run_columns(p, names_bad, cols, 3, &out, &e), AIS_E_SCHEMA);
    check_report(e, 0, SIZE_MAX, "nam", "unknown field");
    ais_pipeline_errors_destroy(e);
    ais_tensor_destroy(n1);
    ais_tensor_destroy(c1);
    ais_tensor_destroy(s1);
    ais_pipeline_destroy(p);
}

/* ---- scikit-learn encoder options: numeric categories, drop, infrequent, indicator ---- */

#define SPEC_SK                                                                                    \
    "{\"version\":1,\"inputs\":[{\"name\":\"n\",\"type\":\"numeric\",\"missing\":\"allow\"},"     \
    "{\"name\":\"c\",\"type\":\"categorical\",\"missing\":\"allow\"}],\"features\":["              \
    "{\"input\":\"n\",\"steps\":[{\"op\":\"onehot\",\"categories\":[3,1,2.5],"                    \
    "\"unknown\":\"ignore\",\"drop\":1}]},"                                                        \
    "{\"input\":\"n\",\"steps\":[{\"op\":\"onehot\",\"categories\":[1,2],\"infrequent\":[7,9],"    \
    "\"unknown\":\"infrequent\",\"drop\":0}]},"                                                    \
    "{\"input\":\"n\",\"steps\":[{\"op\":\"ordinal\",\"categories\":[5,1],\"infrequent\":[2],"     \
    "\"unknown\":\"infrequent\",\"missing_value\":-1}]},"                                          \
    "{\"input\":\"n\",\"steps\":[{\"op\":\"indicator\"}]},"                                        \
    "{\"input\":\"c\",\"steps\":[{\"op\":\"indicator\"}]},"                                        \
    "{\"input\":\"c\",\"steps\":[{\"op\":\"ordinal\",\"categories\":[\"a\",\"b\"],"               \
    "\"unknown\":\"use_value\",\"unknown_value\":null,\"missing_value\":9}]},"                     \
    "{\"input\":\"c\",\"steps\":[{\"op\":\"onehot\",\"categories\":[\"a\"],"                      \
    "\"infrequent\":[\"b\",\"z\"],\"unknown\":\"ignore\"}]},"                                      \
    "{\"input\":\"n\",\"steps\":[{\"op\":\"bucketize\",\"edges\":[]}]},"                           \
    "{\"input\":\"n\",\"steps\":[{\"op\":\"bucketize\",\"edges\":[0,10]},"                         \
    "{\"op\":\"onehot\",\"categories\":[0,1,2]}]}]}"

static void test_sklearn_encoder_options(void **state) {
    (void)state;
    ais_pipeline *p = make(SPEC_SK);
    assert_int_equal(ais_pipeline_output_width(p), 14);
    static const char jl[] = "{\"n\":3,\"c\":\"a\"}\n{\"n\":1,\"c\":\"b\"}\n{\"n\":2.5,\"c\":\"z\"}\n"
                             "{\"n\":null}\n{\"n\":7,\"c\":\"q\"}\n{\"n\":2,\"c\":\"a\"}\n"
                             "{\"n\":5,\"c\":\"b\"}\n{\"n\":12,\"c\":\"a\"}\n";
    /* Written from scikit-learn's rules: drop removes a column and its category encodes as zeros;
     * infrequent categories (and unknown ones under "infrequent") share the last column / the
     * ordinal value after the frequent ones. */
    const double N = NAN;
    static const double want[8][14] = {
        {1, 0, 0, 1, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0},  {0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0},
        {0, 1, 0, 1, 2, 0, 0, -7, 0, 1, 0, 0, 1, 0}, {0, 0, 0, 0, -1, 1, 1, 9, 0, 0, -7, 0, 0, 0},
        {0, 0, 0, 1, 2, 0, 0, -7, 0, 0, 0, 0, 1, 0}, {0, 0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0},
        {0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0},  {0, 0, 0, 1, 2, 0, 0, 0, 1, 0, 0, 0, 0, 1},
    };
    ais_tensor *out = NULL;
    AIS_ASSERT_OK(ais_pipeline_run_json_rows(p, jl, sizeof jl - 1, &out, NULL));
    for (size_t r = 0; r < 8; r++) {
        double w[14];
        for (size_t j = 0; j < 14; j++) /* -7 marks NaN in the table */
            w[j] = want[r][j] == -7 ? N : want[r][j];
        assert_row_values(out, 14, r, w, 0);
    }
    ais_tensor_destroy(out);

    /* A numeric category outside the list under the error policy names the value. */
    ais_pipeline *q = make("{\"version\":1,\"inputs\":[{\"name\":\"n\",\"type\":\"numeric\"}],"
                           "\"features\":[{\"input\":\"n\",\"steps\":[{\"op\":\"ordinal\","
                           "\"categories\":[0.5,-2]}]}]}");
    static const char bad[] = "{\"n\":-2}\n{\"n\":0.25}\n";
    ais_pipeline_errors *e = NULL;
    assert_int_equal(ais_pipeline_run_json_rows(q, bad, sizeof bad - 1, &out, &e), AIS_E_SCHEMA);
    ais_test_assert_error_contains("row 1, field \"n\": unknown category 0.25");
    assert_int_equal(ais_pipeline_errors_count(e), 1);
    ais_pipeline_errors_destroy(e);
    ais_pipeline_destroy(q);
    ais_pipeline_destroy(p);
}

/* ---- allocation failures ---- */

typedef struct {
    ais_pipeline *p;
    ais_tensor *out;
    ais_pipeline_errors *e;
    int mode;
} oom_ctx;

static ais_status oom_create(void *vctx) {
    oom_ctx *c = vctx;
    const char *spec = c->mode == 2 ? SPEC_SK : SPEC_ALL;
    return ais_pipeline_create_from_json(spec, strlen(spec), &c->p);
}
static ais_status oom_run(void *vctx) {
    oom_ctx *c = vctx;
    static const char jl[] = "{\"age\":3,\"income\":5,\"city\":\"oslo\",\"color\":\"g\"}\n"
                             "{\"age\":null,\"income\":7,\"color\":\"r\"}\n";
    static const char bad[] = "{\"income\":5,\"color\":\"g\",\"city\":1}\n[]\n{\"income\":\"x\"}";
    if (c->mode == 0) return ais_pipeline_run_json_rows(c->p, jl, sizeof jl - 1, &c->out, &c->e);
    ais_status st = ais_pipeline_run_json_rows(c->p, bad, sizeof bad - 1, &c->out, &c->e);
    /* The expected outcome of the bad batch is the report; map it to OK for the sweep. */
    if (st == AIS_E_SCHEMA) {
        assert_int_equal(ais_pipeline_errors_count(c->e), 4);
        return AIS_OK;
    }
    return st;
}
static ais_status oom_columns(void *vctx) {
    oom_ctx *c = vctx;
    ais_tensor *cols[2] = {NULL, NULL};
    ais_status st =
        ais_tensor_create_strings(AIS_SHAPE(2), (const char *const[]){"r", "q"}, &cols[0]);
    if (st == AIS_OK) st = ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(2), &cols[1]);
    if (st == AIS_OK) {
        const char *names[] = {"color", "income"};
        st = ais_pipeline_run_columns(c->p, names, (const ais_tensor *const *)cols, 2, &c->out,
                                      &c->e);
    }
    ais_tensor_destroy(cols[0]);
    ais_tensor_destroy(cols[1]);
    return st;
}

static void test_oom(void **state) {
    (void)state;
    oom_ctx c = {0};
    AIS_TEST_OOM_SWEEP("pipeline create", oom_create, &c, 2000, AIS_OWN_PIPELINE(&c.p));
    c.mode = 2;
    AIS_TEST_OOM_SWEEP("pipeline create sklearn options", oom_create, &c, 2000,
                       AIS_OWN_PIPELINE(&c.p));
    c.p = make(SPEC_ALL);
    c.mode = 0;
    AIS_TEST_OOM_SWEEP("pipeline run json", oom_run, &c, 200, AIS_OWN_TENSOR(&c.out),
                       AIS_OWN_PIPELINE_ERRORS(&c.e));
    c.mode = 1;
    AIS_TEST_OOM_SWEEP("pipeline run json errors", oom_run, &c, 200, AIS_OWN_TENSOR(&c.out),
                       AIS_OWN_PIPELINE_ERRORS(&c.e));
    AIS_TEST_OOM_SWEEP("pipeline run columns", oom_columns, &c, 200, AIS_OWN_TENSOR(&c.out),
                       AIS_OWN_PIPELINE_ERRORS(&c.e));
    ais_pipeline_destroy(c.p);
}

/* ---- threads ---- */

typedef struct {
    const ais_pipeline *p;
    const char *jl;
    const ais_tensor *want;
    int failures;
} thread_ctx;

static void *thread_main(void *vctx) {
    thread_ctx *c = vctx;
    for (int i = 0; i < 50; i++) {
        ais_tensor *out = NULL;
        if (ais_pipeline_run_json_rows(c->p, c->jl, strlen(c->jl), &out, NULL) != AIS_OK ||
            memcmp(ais_tensor_data(out), ais_tensor_data(c->want), ais_tensor_nbytes(out)) != 0)
            c->failures++;
        ais_tensor_destroy(out);
    }
    return NULL;
}

static void test_threads_share_pipeline(void **state) {
    (void)state;
    ais_pipeline *p = make(SPEC_ALL);
    rows_data d;
    make_data(&d);
    char *jl = to_jsonl(&d, false);
    ais_tensor *want = NULL;
    AIS_ASSERT_OK(ais_pipeline_run_json_rows(p, jl, strlen(jl), &want, NULL));
    pthread_t th[4];
    thread_ctx ctx[4];
    for (int i = 0; i < 4; i++) {
        ctx[i] = (thread_ctx){p, jl, want, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &ctx[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(ctx[i].failures, 0);
    }
    ais_tensor_destroy(want);
    free(jl);
    ais_pipeline_destroy(p);
}

int main(void) {
    ais_test_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalers_match_sklearn),
        cmocka_unit_test(test_hash_matches_sklearn),
        cmocka_unit_test(test_murmur_known_values),
        cmocka_unit_test(test_all_transforms_rows_columns_json),
        cmocka_unit_test(test_numeric_column_types_and_empty),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_schema_errors_records),
        cmocka_unit_test(test_schema_errors_json_rows),
        cmocka_unit_test(test_column_errors),
        cmocka_unit_test(test_ignored_fields),
        cmocka_unit_test(test_sklearn_encoder_options),
        cmocka_unit_test(test_oom),
        cmocka_unit_test(test_threads_share_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
