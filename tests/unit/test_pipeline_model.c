/* test_pipeline_model.c - models that carry their feature pipeline: save with a pipeline, load,
 * run records / JSON lines / CSV / columns in one call against pipeline run + session run; the checks of
 * ais_model_save_with_pipeline; buffer reuse; OOM. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/format.h"
#include "runtime/model.h"
#include "pipeline/pipeline.h"
#include "test_util.h"

/* Width 4: x scaled, c one-hot over 3 categories. */
static const char *const spec =
    "{\"version\":1,\"inputs\":[{\"name\":\"x\",\"type\":\"numeric\",\"missing\":\"allow\"},"
    "{\"name\":\"c\",\"type\":\"categorical\"}],\"features\":["
    "{\"input\":\"x\",\"steps\":[{\"op\":\"impute\",\"strategy\":\"constant\",\"value\":-1},"
    "{\"op\":\"scale\",\"kind\":\"standard\",\"mean\":2,\"scale\":4}]},"
    "{\"input\":\"c\",\"steps\":[{\"op\":\"onehot\",\"categories\":[\"r\",\"g\",\"b\"],"
    "\"unknown\":\"ignore\"}]}]}";

static ais_pipeline *make_pipeline(void) {
    ais_pipeline *p = NULL;
    AIS_ASSERT_OK(ais_pipeline_create_from_json(spec, strlen(spec), &p));
    return p;
}

/* Random values in [-1, 1) as a `dtype` tensor (integers for an integer dtype). */
static ais_tensor *rand_tensor(ais_dtype dtype, int64_t rows, int64_t cols) {
    double v[64];
    assert_true(rows * cols <= 64);
    for (int64_t i = 0; i < rows * cols; i++)
        v[i] = dtype == AIS_DTYPE_I64 ? (double)ais_test_randint(-3, 3) : ais_test_uniform(-1, 1);
    return cols ? ais_test_tensor(dtype, (const int64_t[]){rows, cols}, 2, v)
                : ais_test_tensor(dtype, (const int64_t[]){rows}, 1, v);
}

/* y = X @ W + b with X `dtype` [n, width] (width -1: dynamic), W and b of the same dtype, and a
 * second output z = relu(y). */
static ais_model *make_model(int64_t width, ais_dtype dtype, bool second_input) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    ais_test_graph_input(g, "X", dtype, (const int64_t[]){-1, width}, 2, NULL);
    if (second_input) ais_test_graph_input(g, "extra", AIS_DTYPE_F32, AIS_SHAPE(1), NULL);
    ais_tensor *w = rand_tensor(dtype, width > 0 ? width : 4, 3);
    ais_tensor *b = rand_tensor(dtype, 3, 0);
    ais_test_graph_const(g, "W", w);
    ais_test_graph_const(g, "B", b);
    ais_test_graph_node(g, "mm", "MatMul", "X", "W", "h");
    ais_test_graph_node(g, "add", "Add", "h", "B", "y");
    ais_test_graph_node(g, "relu", "Relu", "y", NULL, "z");
    ais_test_graph_output(g, "y");
    ais_test_graph_output(g, "z");
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(g, NULL, &m));
    return m;
}

static const char *const csv = "c,x,other\n"
                               "r,1.5,a\n"
                               "b,,b\n"
                               "\"g\",-3,\"c,d\"\n"
                               "purple,1e3,\n"
                               "g,0.25,x\r\n";
static const char *const jsonl = "{\"c\":\"r\",\"x\":1.5}\n"
                                 "{\"c\":\"b\",\"x\":null}\n"
                                 "{\"c\":\"g\",\"x\":-3}\n"
                                 "{\"c\":\"purple\",\"x\":1000}\n"
                                 "{\"c\":\"g\",\"x\":0.25,\"other\":1}\n";

/* A session that skips fields naming no pipeline input ("other" in the texts above). */
static ais_status session_ignoring(ais_model *m, ais_session **s) {
    ais_options *o = NULL;
    AIS__CHECK(ais_options_create(&o));
    ais_status st = ais_options_set_int(o, AIS_OPT_EXTRA_FIELDS, AIS_EXTRA_FIELDS_IGNORE);
    if (st == AIS_OK) st = ais_session_create(m, o, s);
    ais_options_destroy(o);
    return st;
}

/* A twin of p with output `dtype` that skips fields naming no input. */
static ais_pipeline *twin_ignoring(const ais_pipeline *p, ais_dtype dtype) {
    ais_pipeline *t = NULL, *u = NULL;
    AIS_ASSERT_OK(ais_pipeline_with_output_dtype(p, dtype, &t));
    AIS_ASSERT_OK(ais_pipeline_with_extra_fields(t, AIS_EXTRA_FIELDS_IGNORE, &u));
    ais_pipeline_destroy(t);
    return u;
}

/* The reference: pipeline run (its output in `dtype`), then session run on its output. */
static void reference_as(ais_session *s, const ais_pipeline *p, ais_dtype dtype,
                         ais_tensor *out[2]) {
    ais_pipeline *twin = twin_ignoring(p, dtype);
    ais_tensor *feats = NULL;
    AIS_ASSERT_OK(ais_pipeline_run_csv(twin, csv, strlen(csv), &feats, NULL));
    ais_pipeline_destroy(twin);
    assert_int_equal(ais_tensor_dtype(feats), dtype);
    const char *name = "X";
    AIS_ASSERT_OK(ais_session_run(s, &name, (const ais_tensor *const *)&feats, 1, NULL, out, 2));
    ais_tensor_destroy(feats);
}

static void reference(ais_session *s, const ais_pipeline *p, ais_tensor *out[2]) {
    reference_as(s, p, AIS_DTYPE_F32, out);
}

static void assert_same(ais_tensor *const *got, ais_tensor *const *want, size_t n) {
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ais_tensor_nbytes(got[i]), ais_tensor_nbytes(want[i]));
        assert_memory_equal(ais_tensor_data(got[i]), ais_tensor_data(want[i]),
                            ais_tensor_nbytes(want[i]));
    }
}

static void destroy_all(ais_tensor **t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        ais_tensor_destroy(t[i]);
        t[i] = NULL;
    }
}

static void test_roundtrip_and_runs(void **state) {
    (void)state;
    ais_pipeline *p = make_pipeline();
    const int64_t widths[] = {4, -1};
    for (int wi = 0; wi < 2; wi++) {
        ais_model *m = make_model(widths[wi], AIS_DTYPE_F32, false);
        assert_null(ais_model_pipeline(m));
        for (int level = 0; level <= 3; level += 3) {
            ais_options *o = NULL;
            AIS_ASSERT_OK(ais_options_create(&o));
            AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_SAVE_COMPRESSION, level));
            const char *path = ais_test_tmp_path("m.ais");
            AIS_ASSERT_OK(ais_model_save_with_pipeline(m, p, path, o));
            ais_model *l = NULL;
            AIS_ASSERT_OK(ais_model_load(path, NULL, &l));
            const ais_pipeline *lp = ais_model_pipeline(l);
            assert_non_null(lp);
            assert_int_equal(ais_pipeline_output_width(lp), 4);
            const char *text;
            size_t len;
            AIS_ASSERT_OK(ais_pipeline_spec_json(lp, &text, &len));
            assert_int_equal(len, strlen(spec));
            assert_memory_equal(text, spec, len);
            /* ais_model_save keeps the pipeline. */
            const char *again = ais_test_tmp_path("again.ais");
            AIS_ASSERT_OK(ais_model_save(l, again, o));
            ais_model *l2 = NULL;
            AIS_ASSERT_OK(ais_model_load(again, NULL, &l2));
            assert_non_null(ais_model_pipeline(l2));

            ais_session *s = NULL;
            ais_tensor *want[2] = {NULL, NULL}, *got[2] = {NULL, NULL};
            /* a default session refuses "other", which names no input */
            AIS_ASSERT_OK(ais_session_create(l, NULL, &s));
            AIS_ASSERT_STATUS(ais_session_run_csv(s, csv, strlen(csv), NULL, got, 2, NULL),
                              AIS_E_SCHEMA);
            ais_test_assert_error_contains("field \"other\": unknown field");
            ais_session_destroy(s);
            AIS_ASSERT_OK(session_ignoring(l, &s));
            reference(s, p, want);
            AIS_ASSERT_OK(ais_session_run_csv(s, csv, strlen(csv), NULL, got, 2, NULL));
            assert_same(got, want, 2);
            destroy_all(got, 2);
            AIS_ASSERT_OK(ais_session_run_json_rows(s, jsonl, strlen(jsonl), NULL, got, 2, NULL));
            assert_same(got, want, 2);
            destroy_all(got, 2);
            ais_field f[5][2] = {
                {{"c", AIS_VALUE_STRING, 0, "r"}, {"x", AIS_VALUE_NUMBER, 1.5, NULL}},
                {{"c", AIS_VALUE_STRING, 0, "b"}, {"x", AIS_VALUE_MISSING, 0, NULL}},
                {{"c", AIS_VALUE_STRING, 0, "g"}, {"x", AIS_VALUE_NUMBER, -3, NULL}},
                {{"c", AIS_VALUE_STRING, 0, "purple"}, {"x", AIS_VALUE_NUMBER, 1000, NULL}},
                {{"x", AIS_VALUE_NUMBER, 0.25, NULL}, {"c", AIS_VALUE_STRING, 0, "g"}}};
            const ais_field *rows[5] = {f[0], f[1], f[2], f[3], f[4]};
            const size_t counts[5] = {2, 2, 2, 2, 2};
            /* Only the second output, by name, into a caller's tensor. */
            const char *zname = "z";
            AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(5, 3), &got[0]));
            ais_tensor *mine = got[0];
            AIS_ASSERT_OK(ais_session_run_records(s, rows, counts, 5, &zname, got, 1, NULL));
            assert_ptr_equal(got[0], mine);
            assert_same(got, want + 1, 1);
            destroy_all(got, 2);
            destroy_all(want, 2);
            ais_session_destroy(s);
            ais_model_destroy(l2);
            ais_model_destroy(l);
            ais_options_destroy(o);
        }
        ais_model_destroy(m);
    }
    ais_pipeline_destroy(p);
}

/* A model whose input is f64 (one that computes in double): save with a pipeline, load, and the
 * record runs feed it the pipeline's doubles, not float32-rounded features. */
static void test_f64_model(void **state) {
    (void)state;
    ais_pipeline *p = make_pipeline();
    ais_model *m = make_model(4, AIS_DTYPE_F64, false);
    const char *path = ais_test_tmp_path("f64.ais");
    AIS_ASSERT_OK(ais_model_save_with_pipeline(m, p, path, NULL));
    ais_model *l = NULL;
    AIS_ASSERT_OK(ais_model_load(path, NULL, &l));
    const ais_pipeline *lp = ais_model_pipeline(l);
    assert_non_null(lp);
    /* The model's pipeline object itself still gives f32 from the public run functions. */
    assert_int_equal(ais_pipeline_output_dtype(lp), AIS_DTYPE_F32);
    ais_session *s = NULL;
    AIS_ASSERT_OK(session_ignoring(l, &s));
    ais_tensor *want[2] = {NULL, NULL}, *got[2] = {NULL, NULL}, *want32[2] = {NULL, NULL};
    reference_as(s, p, AIS_DTYPE_F64, want);
    assert_int_equal(ais_tensor_dtype(want[0]), AIS_DTYPE_F64);
    for (int k = 0; k < 2; k++) { /* twice: the second call reuses the feature tensor */
        AIS_ASSERT_OK(ais_session_run_csv(s, csv, strlen(csv), NULL, got, 2, NULL));
        assert_same(got, want, 2);
        destroy_all(got, 2);
    }
    AIS_ASSERT_OK(ais_session_run_json_rows(s, jsonl, strlen(jsonl), NULL, got, 2, NULL));
    assert_same(got, want, 2);
    destroy_all(got, 2);
    /* x = 0.1 scales to (0.1 - 2) / 4, which float32 cannot hold: the model's output on the
     * float32-rounded features differs from its output on the session's (double) features. */
    const char *row = "x,c\n0.1,r\n";
    AIS_ASSERT_OK(ais_session_run_csv(s, row, strlen(row), NULL, got, 1, NULL));
    ais_tensor *f32feats = NULL;
    AIS_ASSERT_OK(ais_pipeline_run_csv(p, row, strlen(row), &f32feats, NULL));
    ais_tensor *f64feats = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F64, AIS_SHAPE(1, 4), &f64feats));
    for (int j = 0; j < 4; j++)
        ((double *)ais_tensor_data(f64feats))[j] = ((const float *)ais_tensor_data(f32feats))[j];
    const char *name = "X";
    AIS_ASSERT_OK(ais_session_run(s, &name, (const ais_tensor *const *)&f64feats, 1, NULL,
                                  want32, 1));
    assert_true(((const double *)ais_tensor_data(got[0]))[0] !=
                ((const double *)ais_tensor_data(want32[0]))[0]);
    ais_tensor_destroy(f32feats);
    ais_tensor_destroy(f64feats);
    destroy_all(want32, 2);
    destroy_all(got, 2);
    destroy_all(want, 2);
    ais_session_destroy(s);
    ais_model_destroy(l);
    ais_model_destroy(m);
    ais_pipeline_destroy(p);
}

/* Columns for the test pipeline: x of `xdt` (seeded random, one NaN when float), c strings
 * (known and unknown categories), and a column the pipeline does not name. */
typedef struct {
    ais_tensor *t[3];
    const char *names[3];
} columns;

static void make_columns(columns *c, ais_dtype xdt, int64_t rows) {
    static const char *const cats[] = {"r", "g", "b", "purple", ""};
    const char *strs[16];
    double x[16], other[16];
    assert_true(rows <= 16);
    for (int64_t i = 0; i < rows; i++) {
        bool is_int = xdt == AIS_DTYPE_I32 || xdt == AIS_DTYPE_I64;
        x[i] = is_int ? (double)ais_test_randint(-50, 50) : ais_test_uniform(-10, 10);
        if (!is_int && i == 1) x[i] = NAN;
        strs[i] = cats[ais_test_randint(0, 4)];
        other[i] = (double)i;
    }
    c->t[0] = ais_test_tensor(xdt, (const int64_t[]){rows}, 1, x);
    AIS_ASSERT_OK(ais_tensor_create_strings((const int64_t[]){rows, 1}, 2, strs, &c->t[1]));
    c->t[2] = ais_test_tensor(AIS_DTYPE_I32, (const int64_t[]){rows}, 1, other);
    c->names[0] = "x";
    c->names[1] = "c";
    c->names[2] = "other";
}

static void free_columns(columns *c) {
    for (int i = 0; i < 3; i++)
        ais_tensor_destroy(c->t[i]);
}

/* The reference for columns: the pipeline's run_columns (output in `dtype`), then the session. */
static void columns_reference(ais_session *s, const ais_pipeline *p, ais_dtype dtype,
                              const columns *c, ais_tensor *out[2]) {
    ais_pipeline *twin = twin_ignoring(p, dtype);
    ais_tensor *feats = NULL;
    AIS_ASSERT_OK(ais_pipeline_run_columns(twin, c->names, (const ais_tensor *const *)c->t, 3,
                                           &feats, NULL));
    ais_pipeline_destroy(twin);
    const char *name = "X";
    AIS_ASSERT_OK(ais_session_run(s, &name, (const ais_tensor *const *)&feats, 1, NULL, out, 2));
    ais_tensor_destroy(feats);
}

static void test_run_columns(void **state) {
    (void)state;
    ais_pipeline *p = make_pipeline();
    const ais_dtype model_dt[] = {AIS_DTYPE_F32, AIS_DTYPE_F64};
    const ais_dtype col_dt[] = {AIS_DTYPE_F64, AIS_DTYPE_F32, AIS_DTYPE_I32, AIS_DTYPE_I64};
    for (int mi = 0; mi < 2; mi++) {
        ais_model *m = make_model(4, model_dt[mi], false);
        const char *path = ais_test_tmp_path("cols.ais");
        AIS_ASSERT_OK(ais_model_save_with_pipeline(m, p, path, NULL));
        ais_model *l = NULL;
        AIS_ASSERT_OK(ais_model_load(path, NULL, &l));
        ais_session *s = NULL;
        AIS_ASSERT_OK(session_ignoring(l, &s));
        const int64_t sizes[] = {7, 7, 1, 13, 0}; /* repeats reuse the feature tensor */
        for (int ci = 0; ci < 4; ci++) {
            for (size_t si = 0; si < AIS__ARRAY_LEN(sizes); si++) {
                columns c;
                make_columns(&c, col_dt[ci], sizes[si]);
                ais_tensor *want[2] = {NULL, NULL}, *got[2] = {NULL, NULL};
                columns_reference(s, p, model_dt[mi], &c, want);
                assert_int_equal(ais_tensor_dtype(want[0]), model_dt[mi]);
                AIS_ASSERT_OK(ais_session_run_columns(s, c.names, (const ais_tensor *const *)c.t,
                                                      3, NULL, got, 2, NULL));
                assert_int_equal(ais_tensor_shape(got[0])[0], sizes[si]);
                assert_same(got, want, 2);
                destroy_all(got, 2);
                destroy_all(want, 2);
                free_columns(&c);
            }
        }
        /* The same values as the CSV rows give the CSV run's outputs (x missing: NaN). */
        ais_tensor *x = ais_test_tensor(AIS_DTYPE_F64, AIS_SHAPE(5),
                                        (const double[]){1.5, NAN, -3, 1000, 0.25});
        ais_tensor *cc = NULL;
        AIS_ASSERT_OK(ais_tensor_create_strings(
            AIS_SHAPE(5), (const char *const[]){"r", "b", "g", "purple", "g"}, &cc));
        const char *names[] = {"c", "x"};
        const ais_tensor *cols[] = {cc, x};
        ais_tensor *want[2] = {NULL, NULL}, *got[2] = {NULL, NULL};
        AIS_ASSERT_OK(ais_session_run_csv(s, csv, strlen(csv), NULL, want, 2, NULL));
        const char *zname = "z";
        AIS_ASSERT_OK(ais_session_run_columns(s, names, cols, 2, &zname, got, 1, NULL));
        assert_same(got, want + 1, 1);
        destroy_all(got, 2);
        destroy_all(want, 2);
        ais_tensor_destroy(x);
        ais_tensor_destroy(cc);
        ais_session_destroy(s);
        ais_model_destroy(l);
        ais_model_destroy(m);
    }
    ais_pipeline_destroy(p);
}

static void test_run_columns_errors(void **state) {
    (void)state;
    ais_pipeline *p = make_pipeline();
    ais_model *m = make_model(4, AIS_DTYPE_F32, false);
    ais_session *s = NULL;
    AIS_ASSERT_OK(session_ignoring(m, &s));
    columns c;
    make_columns(&c, AIS_DTYPE_F64, 3);
    const ais_tensor *const *cols = (const ais_tensor *const *)c.t;
    ais_tensor *out[2] = {NULL, NULL};
    ais_pipeline_errors *e = (ais_pipeline_errors *)1;
    AIS_ASSERT_STATUS(ais_session_run_columns(s, c.names, cols, 3, NULL, out, 2, &e),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("ais_session_run_columns: the model has no feature pipeline");
    assert_null(e);
    assert_null(out[0]);
    ais_session_destroy(s);
    const char *path = ais_test_tmp_path("ce.ais");
    AIS_ASSERT_OK(ais_model_save_with_pipeline(m, p, path, NULL));
    ais_model *l = NULL;
    AIS_ASSERT_OK(ais_model_load(path, NULL, &l));
    AIS_ASSERT_OK(session_ignoring(l, &s));
    /* Without "c" every row misses a required field: a schema report, one entry per row. */
    e = NULL;
    AIS_ASSERT_STATUS(ais_session_run_columns(s, c.names, cols, 1, NULL, out, 2, &e),
                      AIS_E_SCHEMA);
    assert_null(out[0]);
    assert_int_equal(ais_pipeline_errors_count(e), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ais_pipeline_errors_row(e, i), i);
        assert_string_equal(ais_pipeline_errors_field(e, i), "c");
    }
    ais_pipeline_errors_destroy(e);
    /* ... and without a report pointer, the status alone. */
    AIS_ASSERT_STATUS(ais_session_run_columns(s, c.names, cols, 1, NULL, out, 2, NULL),
                      AIS_E_SCHEMA);
    /* Argument, dtype and shape problems. */
    e = (ais_pipeline_errors *)1;
    AIS_ASSERT_STATUS(ais_session_run_columns(s, NULL, cols, 3, NULL, out, 2, &e),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("ais_session_run_columns: 3 columns but names or columns");
    assert_null(e);
    const char *holey[] = {"x", NULL, "other"};
    AIS_ASSERT_STATUS(ais_session_run_columns(s, holey, cols, 3, NULL, out, 2, NULL),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("ais_session_run_columns: column 1 has no name");
    const char *swapped[] = {"c", "x"};
    AIS_ASSERT_STATUS(ais_session_run_columns(s, swapped, cols, 2, NULL, out, 2, NULL),
                      AIS_E_DTYPE);
    ais_test_assert_error_contains("column \"c\" is f64, expected string");
    ais_tensor *short_x = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2), (const double[]){1, 2});
    const ais_tensor *uneven[] = {short_x, c.t[1]};
    AIS_ASSERT_STATUS(ais_session_run_columns(s, c.names, uneven, 2, NULL, out, 2, NULL),
                      AIS_E_SHAPE);
    ais_test_assert_error_contains("column \"c\" has 3 rows, others have 2");
    AIS_ASSERT_STATUS(ais_session_run_columns(NULL, c.names, cols, 3, NULL, out, 2, NULL),
                      AIS_E_INVALID_ARGUMENT);
    /* Bad output names fail after the pipeline, naming the call. */
    const char *nope = "nope";
    AIS_ASSERT_STATUS(ais_session_run_columns(s, c.names, cols, 3, &nope, out, 1, NULL),
                      AIS_E_NOT_FOUND);
    ais_test_assert_error_contains("ais_session_run_columns");
    assert_null(out[0]);
    /* No columns at all: zero rows, but the required input is not there either: zero rows
     * have nothing to violate, so the run succeeds with an empty batch. */
    AIS_ASSERT_OK(ais_session_run_columns(s, NULL, NULL, 0, NULL, out, 2, NULL));
    assert_int_equal(ais_tensor_shape(out[0])[0], 0);
    destroy_all(out, 2);
    ais_tensor_destroy(short_x);
    free_columns(&c);
    ais_session_destroy(s);
    ais_model_destroy(l);
    ais_model_destroy(m);
    ais_pipeline_destroy(p);
}

static void test_session_errors(void **state) {
    (void)state;
    ais_pipeline *p = make_pipeline();
    ais_model *m = make_model(4, AIS_DTYPE_F32, false);
    ais_session *s = NULL;
    AIS_ASSERT_OK(session_ignoring(m, &s));
    ais_tensor *out[2] = {NULL, NULL};
    ais_pipeline_errors *e = (ais_pipeline_errors *)1;
    AIS_ASSERT_STATUS(ais_session_run_csv(s, csv, strlen(csv), NULL, out, 2, &e),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("the model has no feature pipeline");
    assert_null(e);
    ais_session_destroy(s);
    const char *path = ais_test_tmp_path("e.ais");
    AIS_ASSERT_OK(ais_model_save_with_pipeline(m, p, path, NULL));
    ais_model *l = NULL;
    AIS_ASSERT_OK(ais_model_load(path, NULL, &l));
    AIS_ASSERT_OK(session_ignoring(l, &s));
    const char *bad = "x,c\n1,r\nzz,\n2,\n";
    AIS_ASSERT_STATUS(ais_session_run_csv(s, bad, strlen(bad), NULL, out, 2, &e), AIS_E_SCHEMA);
    assert_null(out[0]);
    assert_int_equal(ais_pipeline_errors_count(e), 3);
    assert_int_equal(ais_pipeline_errors_row(e, 0), 1);
    assert_string_equal(ais_pipeline_errors_field(e, 0), "x");
    assert_int_equal(ais_pipeline_errors_row(e, 2), 2);
    assert_string_equal(ais_pipeline_errors_field(e, 2), "c");
    ais_pipeline_errors_destroy(e);
    AIS_ASSERT_STATUS(ais_session_run_json_rows(s, "[1]\n", 4, NULL, out, 2, NULL), AIS_E_SCHEMA);
    AIS_ASSERT_STATUS(ais_session_run_records(s, NULL, NULL, 3, NULL, out, 2, &e),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_session_run_csv(NULL, "x", 1, NULL, out, 2, &e), AIS_E_INVALID_ARGUMENT);
    /* Bad output names fail after the pipeline, naming the call. */
    const char *nope = "nope";
    AIS_ASSERT_STATUS(ais_session_run_csv(s, csv, strlen(csv), &nope, out, 1, NULL),
                      AIS_E_NOT_FOUND);
    ais_test_assert_error_contains("ais_session_run_csv");
    assert_null(out[0]);
    /* Zero rows. */
    AIS_ASSERT_OK(ais_session_run_csv(s, "x,c\n", 4, NULL, out, 2, NULL));
    assert_int_equal(ais_tensor_shape(out[0])[0], 0);
    destroy_all(out, 2);
    ais_session_destroy(s);
    ais_model_destroy(l);
    ais_model_destroy(m);
    ais_pipeline_destroy(p);
}

static void test_save_checks(void **state) {
    (void)state;
    ais_pipeline *p = make_pipeline();
    const char *path = ais_test_tmp_path("bad.ais");
    ais_model *m = make_model(5, AIS_DTYPE_F32, false);
    AIS_ASSERT_STATUS(ais_model_save_with_pipeline(m, p, path, NULL), AIS_E_SHAPE);
    ais_test_assert_error_contains("takes 5 features per row, the feature pipeline gives 4");
    ais_model_destroy(m);
    m = make_model(4, AIS_DTYPE_I64, false);
    AIS_ASSERT_STATUS(ais_model_save_with_pipeline(m, p, path, NULL), AIS_E_DTYPE);
    ais_test_assert_error_contains("\"X\" is i64, the feature pipeline gives f32 or f64");
    ais_model_destroy(m);
    m = make_model(4, AIS_DTYPE_F32, true);
    AIS_ASSERT_STATUS(ais_model_save_with_pipeline(m, p, path, NULL), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("has 2: \"X\", \"extra\"");
    AIS_ASSERT_STATUS(ais_model_save_with_pipeline(NULL, p, path, NULL), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_model_save_with_pipeline(m, NULL, path, NULL), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_model_save_with_pipeline(m, p, NULL, NULL), AIS_E_INVALID_ARGUMENT);
    assert_int_equal(access(path, F_OK), -1);
    assert_null(ais_model_pipeline(NULL));
    ais_model_destroy(m);
    ais_pipeline_destroy(p);
}

/* A steady stream of same-sized batches reuses the session's feature tensor and plan: count
 * the allocations of one call once warm. */
static void test_steady_state_allocations(void **state) {
    (void)state;
    ais_pipeline *p = make_pipeline();
    ais_model *m = make_model(4, AIS_DTYPE_F32, false);
    const char *path = ais_test_tmp_path("steady.ais");
    AIS_ASSERT_OK(ais_model_save_with_pipeline(m, p, path, NULL));
    ais_model *l = NULL;
    AIS_ASSERT_OK(ais_model_load(path, NULL, &l));
    ais_session *s = NULL;
    AIS_ASSERT_OK(session_ignoring(l, &s));
    ais_tensor *out[2] = {NULL, NULL};
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(5, 3), &out[0]));
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(5, 3), &out[1]));
    AIS_ASSERT_OK(ais_session_run_csv(s, csv, strlen(csv), NULL, out, 2, NULL)); /* warm up */
    long counts[2];
    for (int i = 0; i < 2; i++) {
        ais_test_alloc_install(-1, false);
        AIS_ASSERT_OK(ais_session_run_csv(s, csv, strlen(csv), NULL, out, 2, NULL));
        counts[i] = ais_test_alloc_count();
        long live = ais_test_alloc_live();
        ais_test_alloc_remove();
        assert_int_equal(live, 0);
    }
    assert_int_equal(counts[0], counts[1]);
    /* What remains is the pipeline's own per-call work (its row buffers, the CSV cell index and
     * header map), the same for 200 rows as for 5: nothing per row or per cell. */
    destroy_all(out, 2);
    const char *body = strchr(csv, '\n') + 1;
    size_t hl = (size_t)(body - csv), bl = strlen(body);
    char *big = malloc(hl + 40 * bl + 1);
    assert_non_null(big);
    memcpy(big, csv, hl);
    for (int i = 0; i < 40; i++)
        memcpy(big + hl + (size_t)i * bl, body, bl);
    big[hl + 40 * bl] = 0;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(200, 3), &out[0]));
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(200, 3), &out[1]));
    AIS_ASSERT_OK(ais_session_run_csv(s, big, strlen(big), NULL, out, 2, NULL)); /* warm up */
    ais_test_alloc_install(-1, false);
    AIS_ASSERT_OK(ais_session_run_csv(s, big, strlen(big), NULL, out, 2, NULL));
    long big_count = ais_test_alloc_count();
    ais_test_alloc_remove();
    free(big);
    print_message("allocations per warm CSV call: %ld (5 rows), %ld (200 rows)\n", counts[0],
                  big_count);
    assert_int_equal(big_count, counts[0]);
    destroy_all(out, 2);
    ais_session_destroy(s);
    ais_model_destroy(l);
    ais_model_destroy(m);
    ais_pipeline_destroy(p);
}

typedef struct {
    const void *data;
    size_t size;
    ais_model *m;
    ais_session *s;
    ais_tensor *out[2];
    const ais_pipeline *p;
    const char *path;
    const columns *cols;
} oom_ctx;

static ais_status oom_load_run(void *vctx) {
    oom_ctx *c = vctx;
    AIS__CHECK(ais_model_load_memory(c->data, c->size, NULL, &c->m));
    AIS__CHECK(session_ignoring(c->m, &c->s));
    AIS__CHECK(ais_session_run_csv(c->s, csv, strlen(csv), NULL, c->out, 2, NULL));
    AIS__CHECK(ais_session_run_json_rows(c->s, jsonl, strlen(jsonl), NULL, c->out, 2, NULL));
    /* more rows than the CSV: the feature tensor is made anew */
    destroy_all(c->out, 2);
    return ais_session_run_columns(c->s, c->cols->names, (const ais_tensor *const *)c->cols->t,
                                   3, NULL, c->out, 2, NULL);
}

static ais_status oom_save(void *vctx) {
    oom_ctx *c = vctx;
    return ais_model_save_with_pipeline(c->m, c->p, c->path, NULL);
}

static void test_oom(void **state) {
    (void)state;
    ais_pipeline *p = make_pipeline();
    ais_model *m = make_model(4, AIS_DTYPE_F32, false);
    const char *path = ais_test_tmp_path("oom.ais");
    oom_ctx c = {0};
    c.m = m;
    c.p = p;
    c.path = path;
    ais_test_oom_sweep("ais_model_save_with_pipeline", oom_save, NULL, &c, 2000);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t bytes[1 << 16];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof bytes);
    columns cols;
    make_columns(&cols, AIS_DTYPE_F64, 9);
    c = (oom_ctx){0};
    c.data = bytes;
    c.size = n;
    c.cols = &cols;
    AIS_TEST_OOM_SWEEP("load + session_run_csv/json_rows/columns", oom_load_run, &c, 5000,
                       AIS_OWN_TENSORS(c.out), AIS_OWN_SESSION(&c.s), AIS_OWN_MODEL(&c.m));
    ais_model_destroy(m);
    /* the same with an f64-input model */
    m = make_model(4, AIS_DTYPE_F64, false);
    c = (oom_ctx){0};
    c.m = m;
    c.p = p;
    c.path = path;
    ais_test_oom_sweep("ais_model_save_with_pipeline f64", oom_save, NULL, &c, 2000);
    f = fopen(path, "rb");
    assert_non_null(f);
    n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof bytes);
    c = (oom_ctx){0};
    c.data = bytes;
    c.size = n;
    c.cols = &cols;
    AIS_TEST_OOM_SWEEP("f64 load + session_run_csv/json_rows/columns", oom_load_run, &c, 5000,
                       AIS_OWN_TENSORS(c.out), AIS_OWN_SESSION(&c.s), AIS_OWN_MODEL(&c.m));
    free_columns(&cols);
    ais_model_destroy(m);
    ais_pipeline_destroy(p);
}

int main(void) {
    ais_test_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_runs),
        cmocka_unit_test(test_f64_model),
        cmocka_unit_test(test_run_columns),
        cmocka_unit_test(test_run_columns_errors),
        cmocka_unit_test(test_session_errors),
        cmocka_unit_test(test_save_checks),
        cmocka_unit_test(test_steady_state_allocations),
        cmocka_unit_test(test_oom),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (ais_test_tmpdir_remove() != 0) rc = rc ? rc : 1;
    return rc;
}
