/* test_pipeline_fields.c - field names and cell contents that must not change predictions
 * silently (issues 13.3 and 12.4): a field that names no input is a problem by default, with the
 * nearest input named, and skipped only on request; a required field that is absent names the
 * near miss given instead; a NUL byte inside a cell and infinities where missing values are
 * refused are problems of their row and field. For records, JSON lines, CSV, columns and
 * sessions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/model.h"
#include "test_util.h"

static const char *const spec =
    "{\"version\":1,\"inputs\":[{\"name\":\"age\",\"type\":\"numeric\"},"
    "{\"name\":\"income\",\"type\":\"numeric\",\"missing\":\"allow\"},"
    "{\"name\":\"city\",\"type\":\"categorical\"}],\"features\":["
    "{\"input\":\"age\",\"steps\":[{\"op\":\"log1p\"}]},"
    "{\"input\":\"income\",\"steps\":[{\"op\":\"impute\",\"strategy\":\"constant\",\"value\":5}]},"
    "{\"input\":\"city\",\"steps\":[{\"op\":\"onehot\",\"categories\":[\"Paris\",\"Rome\"],"
    "\"unknown\":\"ignore\"}]}]}";

static ais_pipeline *make(ais_extra_fields policy) {
    ais_pipeline *p = NULL, *q = NULL;
    AIS_ASSERT_OK(ais_pipeline_create_from_json(spec, strlen(spec), &p));
    assert_int_equal(ais_pipeline_extra_fields(p), AIS_EXTRA_FIELDS_ERROR);
    if (policy == AIS_EXTRA_FIELDS_ERROR) return p;
    AIS_ASSERT_OK(ais_pipeline_with_extra_fields(p, policy, &q));
    ais_pipeline_destroy(p);
    assert_int_equal(ais_pipeline_extra_fields(q), policy);
    return q;
}

/* The index of the problem for (row, field), or -1. */
static int find_problem(const ais_pipeline_errors *e, size_t row, const char *field) {
    for (size_t i = 0; i < ais_pipeline_errors_count(e); i++)
        if (ais_pipeline_errors_row(e, i) == row && !strcmp(ais_pipeline_errors_field(e, i), field))
            return (int)i;
    return -1;
}

static void assert_problem(const ais_pipeline_errors *e, size_t row, const char *field,
                           const char *text) {
    int i = find_problem(e, row, field);
    if (i < 0) fail_msg("no problem for row %zu, field \"%s\"", row, field);
    const char *m = ais_pipeline_errors_message(e, (size_t)i);
    if (!strstr(m, text)) fail_msg("problem \"%s\" lacks \"%s\"", m, text);
}

static void test_records_unknown_field(void **state) {
    (void)state;
    ais_pipeline *p = make(AIS_EXTRA_FIELDS_ERROR);
    /* "Age" for "age": an unknown field naming the input it was meant to be, and the required
     * input it left missing, naming the field given instead */
    ais_field r0[] = {{"Age", AIS_VALUE_NUMBER, 31, NULL}, {"city", AIS_VALUE_STRING, 0, "Rome"}};
    ais_field r1[] = {{"age", AIS_VALUE_NUMBER, 2, NULL},
                      {"city", AIS_VALUE_STRING, 0, "Paris"},
                      {"zzz_unrelated", AIS_VALUE_NUMBER, 1, NULL}};
    const ais_field *rows[] = {r0, r1};
    size_t n[] = {2, 3};
    ais_tensor *t = NULL;
    ais_pipeline_errors *e = NULL;
    AIS_ASSERT_STATUS(ais_pipeline_run_records(p, rows, n, 2, &t, &e), AIS_E_SCHEMA);
    assert_null(t);
    ais_test_assert_error_contains("row 0, field \"Age\": unknown field");
    ais_test_assert_error_contains("did you mean \"age\"?");
    ais_test_assert_error_contains("(3 problems in 2 rows)");
    assert_problem(e, 0, "Age", "did you mean \"age\"?");
    assert_problem(e, 0, "age", "missing required field (\"Age\" was given");
    /* nothing near: the list of inputs */
    assert_problem(e, 1, "zzz_unrelated", "the inputs: \"age\", \"income\", \"city\"");
    assert_int_equal(ais_pipeline_errors_count(e), 3);
    ais_pipeline_errors_destroy(e);
    /* one problem: singular */
    const ais_field *one[] = {r1};
    AIS_ASSERT_STATUS(ais_pipeline_run_records(p, one, &n[1], 1, &t, NULL), AIS_E_SCHEMA);
    ais_test_assert_error_contains("(1 problem in 1 row)");
    ais_pipeline_destroy(p);

    /* ignored on request: the extra field changes nothing, the misspelled one still fails */
    p = make(AIS_EXTRA_FIELDS_IGNORE);
    AIS_ASSERT_OK(ais_pipeline_run_records(p, one, &n[1], 1, &t, &e));
    assert_null(e);
    const float *d = ais_tensor_data(t);
    assert_float_equal(d[0], log1p(2.0), 1e-6);
    assert_float_equal(d[1], 5, 0);
    assert_float_equal(d[2], 1, 0);
    ais_tensor_destroy(t);
    AIS_ASSERT_STATUS(ais_pipeline_run_records(p, rows, n, 1, &t, &e), AIS_E_SCHEMA);
    assert_int_equal(ais_pipeline_errors_count(e), 1);
    assert_problem(e, 0, "age", "missing required field (\"Age\" was given");
    ais_pipeline_errors_destroy(e);
    AIS_ASSERT_STATUS(ais_pipeline_with_extra_fields(p, (ais_extra_fields)7, &(ais_pipeline *){0}),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(
        ais_pipeline_with_extra_fields(NULL, AIS_EXTRA_FIELDS_IGNORE, &(ais_pipeline *){0}),
        AIS_E_INVALID_ARGUMENT);
    assert_int_equal(ais_pipeline_extra_fields(NULL), AIS_EXTRA_FIELDS_ERROR);
    /* the twin keeps the output dtype, and an f64 twin keeps the policy */
    ais_pipeline *p64 = NULL;
    AIS_ASSERT_OK(ais_pipeline_with_output_dtype(p, AIS_DTYPE_F64, &p64));
    assert_int_equal(ais_pipeline_extra_fields(p64), AIS_EXTRA_FIELDS_IGNORE);
    ais_pipeline *back = NULL;
    AIS_ASSERT_OK(ais_pipeline_with_extra_fields(p64, AIS_EXTRA_FIELDS_ERROR, &back));
    assert_int_equal(ais_pipeline_output_dtype(back), AIS_DTYPE_F64);
    ais_pipeline_destroy(back);
    ais_pipeline_destroy(p64);
    ais_pipeline_destroy(p);
}

static void test_csv_header(void **state) {
    (void)state;
    ais_pipeline *p = make(AIS_EXTRA_FIELDS_ERROR);
    ais_tensor *t = NULL;
    ais_pipeline_errors *e = NULL;
    /* a header with " income" (leading blank) and "City": both named, no row runs */
    const char *csv = "age, income,City\n3,4,Rome\n";
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, csv, strlen(csv), &t, &e), AIS_E_SCHEMA);
    ais_test_assert_error_contains("the field names, field \" income\": unknown field");
    ais_test_assert_error_contains("(2 problems in the field names)");
    assert_int_equal(ais_pipeline_errors_count(e), 2);
    assert_problem(e, SIZE_MAX, " income", "did you mean \"income\"?");
    assert_problem(e, SIZE_MAX, "City", "did you mean \"city\"?");
    ais_pipeline_errors_destroy(e);
    ais_pipeline_destroy(p);

    p = make(AIS_EXTRA_FIELDS_IGNORE);
    /* ignored: income (allowed missing) is imputed; city (required) names "City" per row */
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, csv, strlen(csv), &t, &e), AIS_E_SCHEMA);
    assert_int_equal(ais_pipeline_errors_count(e), 1);
    assert_problem(e, 0, "city", "missing required field (\"City\" was given");
    ais_pipeline_errors_destroy(e);
    const char *ok = "age, income,city,note\n3,4,Rome,hello\n";
    AIS_ASSERT_OK(ais_pipeline_run_csv(p, ok, strlen(ok), &t, NULL));
    const float *d = ais_tensor_data(t);
    assert_float_equal(d[0], log1p(3.0), 1e-6);
    assert_float_equal(d[1], 5, 0); /* " income" is not income: imputed */
    assert_float_equal(d[3], 1, 0);
    ais_tensor_destroy(t);
    ais_pipeline_destroy(p);
}

static void test_columns_unknown(void **state) {
    (void)state;
    ais_pipeline *p = make(AIS_EXTRA_FIELDS_ERROR);
    ais_tensor *age = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2), (const double[]){1, 2});
    ais_tensor *city = NULL;
    AIS_ASSERT_OK(
        ais_tensor_create_strings((const int64_t[]){2}, 1, (const char *[]){"Rome", "x"}, &city));
    const char *names[] = {"age", "citty", "Income"};
    const ais_tensor *cols[] = {age, city, age};
    ais_tensor *t = NULL;
    ais_pipeline_errors *e = NULL;
    AIS_ASSERT_STATUS(ais_pipeline_run_columns(p, names, cols, 3, &t, &e), AIS_E_SCHEMA);
    assert_int_equal(ais_pipeline_errors_count(e), 2);
    assert_problem(e, SIZE_MAX, "citty", "did you mean \"city\"?");
    assert_problem(e, SIZE_MAX, "Income", "did you mean \"income\"?");
    ais_pipeline_errors_destroy(e);
    ais_pipeline_destroy(p);
    p = make(AIS_EXTRA_FIELDS_IGNORE);
    AIS_ASSERT_STATUS(ais_pipeline_run_columns(p, names, cols, 3, &t, &e), AIS_E_SCHEMA);
    assert_int_equal(ais_pipeline_errors_count(e), 2); /* city missing in both rows */
    assert_problem(e, 1, "city", "missing required field (\"citty\" was given");
    ais_pipeline_errors_destroy(e);
    names[1] = "city";
    AIS_ASSERT_OK(ais_pipeline_run_columns(p, names, cols, 3, &t, NULL));
    ais_tensor_destroy(t);
    ais_tensor_destroy(age);
    ais_tensor_destroy(city);
    ais_pipeline_destroy(p);
}

static void test_nul_and_infinity(void **state) {
    (void)state;
    ais_pipeline *p = make(AIS_EXTRA_FIELDS_ERROR);
    ais_tensor *t = NULL;
    ais_pipeline_errors *e = NULL;
    /* "3\0 0" would read as 3 and "Ro\0me" as "Ro" */
    static const char csv[] = "age,city\n3\0 0,Rome\n4,Ro\0me\n5,Paris\ninf,Rome\n1e309,Rome\n"
                              "-inf,Rome\n";
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, csv, sizeof csv - 1, &t, &e), AIS_E_SCHEMA);
    assert_null(t);
    assert_problem(e, 0, "age", "NUL byte");
    assert_problem(e, 1, "city", "NUL byte");
    assert_int_equal(find_problem(e, 2, "age"), -1);
    assert_problem(e, 3, "age", "infinite value (inf)");
    assert_problem(e, 4, "age", "infinite value (inf)");
    assert_problem(e, 5, "age", "infinite value (-inf)");
    assert_int_equal(ais_pipeline_errors_count(e), 5);
    ais_pipeline_errors_destroy(e);
    /* a NUL in the header is malformed text */
    static const char hdr[] = "ag\0e,city\n3,Rome\n";
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, hdr, sizeof hdr - 1, &t, NULL), AIS_E_FORMAT);
    ais_test_assert_error_contains("NUL byte");
    /* JSON: 1e309 overflows to inf; \u0000 would cut a string short */
    const char *jl = "{\"age\":1e309,\"city\":\"Rome\"}\n{\"age\":1,\"city\":\"Ro\\u0000me\"}\n";
    AIS_ASSERT_STATUS(ais_pipeline_run_json_rows(p, jl, strlen(jl), &t, &e), AIS_E_SCHEMA);
    assert_problem(e, 0, "age", "infinite value");
    assert_problem(e, 1, "", "\\u0000");
    ais_pipeline_errors_destroy(e);
    /* records and columns: the same rule */
    ais_field r0[] = {{"age", AIS_VALUE_NUMBER, -INFINITY, NULL},
                      {"city", AIS_VALUE_STRING, 0, "Rome"}};
    const ais_field *rows[] = {r0};
    size_t n = 2;
    AIS_ASSERT_STATUS(ais_pipeline_run_records(p, rows, &n, 1, &t, &e), AIS_E_SCHEMA);
    assert_problem(e, 0, "age", "infinite value (-inf)");
    ais_pipeline_errors_destroy(e);
    /* where missing values are allowed, an infinity is a value (income passes through impute) */
    ais_field r1[] = {{"age", AIS_VALUE_NUMBER, 1, NULL},
                      {"income", AIS_VALUE_NUMBER, INFINITY, NULL},
                      {"city", AIS_VALUE_STRING, 0, "Rome"}};
    const ais_field *rows1[] = {r1};
    n = 3;
    AIS_ASSERT_OK(ais_pipeline_run_records(p, rows1, &n, 1, &t, NULL));
    assert_true(isinf(((const float *)ais_tensor_data(t))[1]));
    ais_tensor_destroy(t);
    ais_pipeline_destroy(p);
}

/* y = x @ W over the pipeline's 4 features. */
static ais_model *model_with_pipeline(void) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, (const int64_t[]){-1, 4}, 2, NULL);
    ais_test_graph_const(g, "W", ais_test_rand_f32(AIS_SHAPE(4, 1), -1, 1));
    ais_test_graph_node(g, "mm", "MatMul", "x", "W", "y");
    ais_test_graph_output(g, "y");
    ais_model *m = NULL, *withp = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(g, NULL, &m));
    ais_pipeline *p = make(AIS_EXTRA_FIELDS_ERROR);
    char path[] = "/tmp/ais_test_fields_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    AIS_ASSERT_OK(ais_model_save_with_pipeline(m, p, path, NULL));
    AIS_ASSERT_OK(ais_model_load(path, NULL, &withp));
    unlink(path);
    ais_pipeline_destroy(p);
    ais_model_destroy(m);
    return withp;
}

static void test_session_option(void **state) {
    (void)state;
    ais_model *m = model_with_pipeline();
    ais_session *s = NULL, *si = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    int64_t lo, hi, v;
    AIS_ASSERT_OK(ais_option_bounds(AIS_OPT_EXTRA_FIELDS, &lo, &hi));
    assert_int_equal(lo, AIS_EXTRA_FIELDS_ERROR);
    assert_int_equal(hi, AIS_EXTRA_FIELDS_IGNORE);
    AIS_ASSERT_OK(ais_options_get_int(o, AIS_OPT_EXTRA_FIELDS, &v));
    assert_int_equal(v, AIS_EXTRA_FIELDS_ERROR);
    AIS_ASSERT_STATUS(ais_options_set_int(o, AIS_OPT_EXTRA_FIELDS, 2), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_EXTRA_FIELDS, AIS_EXTRA_FIELDS_IGNORE));
    AIS_ASSERT_OK(ais_session_create(m, o, &si));
    const char *csv = "age,city,extra\n3,Rome,1\n";
    const char *jl = "{\"age\":3,\"city\":\"Rome\",\"extra\":1}\n";
    ais_tensor *y = NULL, *y2 = NULL;
    ais_pipeline_errors *e = NULL;
    AIS_ASSERT_STATUS(ais_session_run_csv(s, csv, strlen(csv), NULL, &y, 1, &e), AIS_E_SCHEMA);
    assert_problem(e, SIZE_MAX, "extra", "unknown field");
    ais_pipeline_errors_destroy(e);
    AIS_ASSERT_STATUS(ais_session_run_json_rows(s, jl, strlen(jl), NULL, &y, 1, &e), AIS_E_SCHEMA);
    assert_problem(e, 0, "extra", "unknown field");
    ais_pipeline_errors_destroy(e);
    AIS_ASSERT_OK(ais_session_run_csv(si, csv, strlen(csv), NULL, &y, 1, NULL));
    AIS_ASSERT_OK(ais_session_run_json_rows(si, jl, strlen(jl), NULL, &y2, 1, NULL));
    assert_float_equal(((const float *)ais_tensor_data(y))[0],
                       ((const float *)ais_tensor_data(y2))[0], 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(y2);
    ais_options_destroy(o);
    ais_session_destroy(s);
    ais_session_destroy(si);
    ais_model_destroy(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_unknown_field), cmocka_unit_test(test_csv_header),
        cmocka_unit_test(test_columns_unknown),       cmocka_unit_test(test_nul_and_infinity),
        cmocka_unit_test(test_session_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
