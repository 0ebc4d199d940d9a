/* test_pipeline_csv.c - ais_pipeline_run_csv: random tables written as CSV (random quoting,
 * line ends, column order, extra columns) give what the same rows give as records; the edge
 * cases of the format; the error report; OOM. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline.h"
#include "test_util.h"

/* Categories with the characters CSV must quote. */
static const char *const cats[] = {"oslo", "a,b", "say \"hi\"", "two\nlines", "crlf\r\nx", " sp "};
#define N_CATS (sizeof cats / sizeof *cats)

static const char *const spec =
    "{\"version\":1,\"inputs\":[{\"name\":\"x\",\"type\":\"numeric\",\"missing\":\"allow\"},"
    "{\"name\":\"c\",\"type\":\"categorical\",\"missing\":\"allow\"},"
    "{\"name\":\"y\",\"type\":\"numeric\"}],\"features\":["
    "{\"input\":\"x\",\"steps\":[{\"op\":\"impute\",\"strategy\":\"mean\",\"value\":0.5},"
    "{\"op\":\"scale\",\"kind\":\"standard\",\"mean\":1.5,\"scale\":2}]},"
    "{\"input\":\"c\",\"steps\":[{\"op\":\"onehot\",\"categories\":[\"oslo\",\"a,b\","
    "\"say \\\"hi\\\"\",\"two\\nlines\",\"crlf\\r\\nx\",\" sp \"],\"unknown\":\"ignore\"}]},"
    "{\"input\":\"y\",\"steps\":[]}]}";

static ais_pipeline *make(void) {
    ais_pipeline *p = NULL;
    AIS_ASSERT_OK(ais_pipeline_create_from_json(spec, strlen(spec), &p));
    return p;
}

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

/* A cell, quoted when it must be (or at random when it may be). */
static void put_cell(sbuf *b, const char *s) {
    bool must = strpbrk(s, ",\"\r\n") != NULL || !s[0];
    if (!must && ais_test_randint(0, 3) != 0) {
        puts_(b, s);
        return;
    }
    puts_(b, "\"");
    for (; *s; s++) {
        if (*s == '"') puts_(b, "\"");
        put(b, s, 1);
    }
    puts_(b, "\"");
}

/* make() that skips fields naming no input. */
static ais_pipeline *make_ignoring(void) {
    ais_pipeline *p = make(), *q = NULL;
    AIS_ASSERT_OK(ais_pipeline_with_extra_fields(p, AIS_EXTRA_FIELDS_IGNORE, &q));
    ais_pipeline_destroy(p);
    return q;
}

static void test_random_tables_match_records(void **state) {
    (void)state;
    ais_pipeline *p = make_ignoring();
    const int sizes[] = {0, 1, 2, 7, 33, 100};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        size_t n = (size_t)sizes[si];
        /* Columns in a random order, with an extra column the pipeline is told to ignore. */
        const char *cols[4] = {"x", "c", "y", "extra"};
        for (int i = 3; i > 0; i--) {
            int j = (int)ais_test_randint(0, i);
            const char *t = cols[i];
            cols[i] = cols[j];
            cols[j] = t;
        }
        const char *eol = ais_test_randint(0, 1) ? "\r\n" : "\n";
        sbuf csv = {0};
        if (ais_test_randint(0, 1)) puts_(&csv, "\xEF\xBB\xBF");
        for (int j = 0; j < 4; j++) {
            if (j) puts_(&csv, ",");
            put_cell(&csv, cols[j]);
        }
        ais_field *fields = calloc(n ? n * 3 : 1, sizeof *fields);
        const ais_field **rows = calloc(n ? n : 1, sizeof *rows);
        size_t *counts = calloc(n ? n : 1, sizeof *counts);
        char(*texts)[64] = calloc(n ? n : 1, sizeof *texts);
        for (size_t r = 0; r < n; r++) {
            puts_(&csv, eol);
            if (ais_test_randint(0, 9) == 0) puts_(&csv, eol); /* empty lines are skipped */
            ais_field *f = &fields[r * 3];
            double x = ais_test_uniform(-1e3, 1e3);
            bool x_missing = ais_test_randint(0, 4) == 0;
            size_t ci = (size_t)ais_test_randint(0, (int64_t)N_CATS); /* N_CATS: unknown */
            bool c_missing = ais_test_randint(0, 5) == 0;
            double y = (double)ais_test_randint(-50, 50) / 4;
            f[0] = (ais_field){"x", x_missing ? AIS_VALUE_MISSING : AIS_VALUE_NUMBER, x, NULL};
            f[1] = (ais_field){"c", c_missing ? AIS_VALUE_MISSING : AIS_VALUE_STRING, 0,
                               ci < N_CATS ? cats[ci] : "unknown"};
            f[2] = (ais_field){"y", AIS_VALUE_NUMBER, y, NULL};
            rows[r] = f;
            counts[r] = 3;
            for (int j = 0; j < 4; j++) {
                if (j) puts_(&csv, ",");
                char num[64];
                if (!strcmp(cols[j], "x")) {
                    if (x_missing)
                        puts_(&csv, ais_test_randint(0, 1) ? "" : "NaN");
                    else {
                        snprintf(num, sizeof num, ais_test_randint(0, 1) ? "%.17g" : " %.17e ", x);
                        put_cell(&csv, num);
                    }
                } else if (!strcmp(cols[j], "c")) {
                    if (!c_missing) put_cell(&csv, f[1].string);
                } else if (!strcmp(cols[j], "y")) {
                    snprintf(num, sizeof num, "%g", y);
                    put_cell(&csv, num);
                } else {
                    snprintf(texts[r], sizeof texts[r], "junk \"%zu\", ok", r);
                    put_cell(&csv, texts[r]);
                }
            }
        }
        if (ais_test_randint(0, 1)) puts_(&csv, eol);
        ais_tensor *want = NULL, *got = NULL;
        AIS_ASSERT_OK(
            ais_pipeline_run_records(p, (const ais_field *const *)rows, counts, n, &want, NULL));
        ais_pipeline_errors *e = NULL;
        ais_status st = ais_pipeline_run_csv(p, csv.p, csv.n, &got, &e);
        if (st != AIS_OK)
            fail_msg("n=%zu: %s (row %zu: %s)\n%s", n, ais_last_error(),
                     ais_pipeline_errors_row(e, 0), ais_pipeline_errors_message(e, 0), csv.p);
        assert_int_equal(ais_tensor_shape(got)[0], (int64_t)n);
        assert_int_equal(ais_tensor_shape(got)[1], 1 + (int64_t)N_CATS + 1);
        assert_memory_equal(ais_tensor_data(got), ais_tensor_data(want), ais_tensor_nbytes(want));
        ais_tensor_destroy(want);
        ais_tensor_destroy(got);
        free(fields);
        free(rows);
        free(counts);
        free(texts);
        free(csv.p);
    }
    ais_pipeline_destroy(p);
}

/* Runs `csv` and returns the output (the test fails unless the run succeeds). */
static ais_tensor *run_ok(const ais_pipeline *p, const char *csv) {
    ais_tensor *t = NULL;
    ais_status st = ais_pipeline_run_csv(p, csv, strlen(csv), &t, NULL);
    if (st != AIS_OK) fail_msg("%s: %s", csv, ais_last_error());
    return t;
}

static void test_edge_cases(void **state) {
    (void)state;
    ais_pipeline *p = make();
    size_t w = ais_pipeline_output_width(p);
    /* Header only, with or without a line end, and with a BOM: zero rows. */
    const char *heads[] = {"x,c,y", "x,c,y\n", "\xEF\xBB\xBFx,c,y\r\n", "\n\nx,c,y\n\n"};
    for (size_t i = 0; i < 4; i++) {
        ais_tensor *t = run_ok(p, heads[i]);
        assert_int_equal(ais_tensor_shape(t)[0], 0);
        assert_int_equal(ais_tensor_shape(t)[1], (int64_t)w);
        ais_tensor_destroy(t);
    }
    /* Quotes, "" escapes, line breaks inside quotes, CRLF, a lone CR at the very end. */
    ais_tensor *t = run_ok(p, "y,c,x\r\n1,\"two\nlines\",\"3.5\"\r\n2,\"say \"\"hi\"\"\",nan\r\n"
                              "3,\"crlf\r\nx\",\r");
    const float *d = ais_tensor_data(t);
    assert_int_equal(ais_tensor_shape(t)[0], 3);
    assert_float_equal(d[0], (3.5 - 1.5) / 2, 1e-7);
    assert_float_equal(d[1 + 3], 1, 0);
    assert_float_equal(d[w - 1], 1, 0);
    assert_float_equal(d[w + 0], (0.5 - 1.5) / 2, 1e-7); /* nan: missing, imputed */
    assert_float_equal(d[w + 1 + 2], 1, 0);
    assert_float_equal(d[2 * w + 1 + 4], 1, 0);
    assert_float_equal(d[3 * w - 1], 3, 0);
    ais_tensor_destroy(t);
    /* A duplicate column that is not an input is ignored when extras are; "inf" is a number
     * (x allows missing values: an infinity is a value). By default "z" is a problem, once per
     * header cell. */
    ais_pipeline *pi = NULL;
    AIS_ASSERT_OK(ais_pipeline_with_extra_fields(p, AIS_EXTRA_FIELDS_IGNORE, &pi));
    t = run_ok(pi, "z,y,z,x\n1,2,3,inf\n");
    assert_true(isinf(((const float *)ais_tensor_data(t))[0]));
    ais_tensor_destroy(t);
    ais_pipeline_destroy(pi);
    ais_pipeline_errors *ze = NULL;
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, "z,y,z,x\n1,2,3,inf\n", 17, &t, &ze), AIS_E_SCHEMA);
    assert_int_equal(ais_pipeline_errors_count(ze), 2);
    assert_string_equal(ais_pipeline_errors_field(ze, 1), "z");
    assert_int_equal(ais_pipeline_errors_row(ze, 1), SIZE_MAX);
    ais_pipeline_errors_destroy(ze);
    /* Errors of the whole text. */
    ais_tensor *out = (ais_tensor *)1;
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, "", 0, &out, NULL), AIS_E_FORMAT);
    ais_test_assert_error_contains("no header");
    assert_null(out);
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, "\xEF\xBB\xBF\n", 4, &out, NULL), AIS_E_FORMAT);
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, "x,y,x\n1,2,3\n", 12, &out, NULL), AIS_E_FORMAT);
    ais_test_assert_error_contains("\"x\" appears twice");
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, "x,\"y\n1,2\n", 9, &out, NULL), AIS_E_FORMAT);
    ais_test_assert_error_contains("unterminated");
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, "\"x\"y,c\n", 7, &out, NULL), AIS_E_FORMAT);
    ais_test_assert_error_contains("closing quote");
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(NULL, "x", 1, &out, NULL), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, "x", 1, NULL, NULL), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, NULL, 1, &out, NULL), AIS_E_INVALID_ARGUMENT);
    ais_pipeline_destroy(p);
}

static void test_schema_report(void **state) {
    (void)state;
    ais_pipeline *p = make();
    const char *csv = "x,c,y\n"
                      "1,oslo,2\n"            /* 0: fine */
                      "abc,oslo,\n"           /* 1: x not a number, y missing */
                      "1,2\n"                 /* 2: ragged */
                      "1,\"a\"b,3\n"          /* 3: text after a closing quote */
                      "1e999x,,1\n"           /* 4: not a number */
                      "1,oslo,NaN\n"          /* 5: NaN where y allows none */
                      "2,\"never closed,3\n"; /* 6: unterminated, to the end */
    ais_tensor *out = NULL;
    ais_pipeline_errors *e = NULL;
    AIS_ASSERT_STATUS(ais_pipeline_run_csv(p, csv, strlen(csv), &out, &e), AIS_E_SCHEMA);
    ais_test_assert_error_contains("row 1, field \"x\": not a number: \"abc\"");
    assert_null(out);
    struct {
        size_t row;
        const char *field, *msg;
    } want[] = {{1, "x", "not a number: \"abc\""},
                {1, "y", "missing value"},
                {2, "", "2 cells, the header has 3"},
                {3, "", "closing quote"},
                {4, "x", "not a number: \"1e999x\""},
                {5, "y", "NaN"},
                {6, "", "unterminated"}};
    size_t n = sizeof want / sizeof *want;
    assert_int_equal(ais_pipeline_errors_count(e), n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ais_pipeline_errors_row(e, i), want[i].row);
        assert_string_equal(ais_pipeline_errors_field(e, i), want[i].field);
        if (!strstr(ais_pipeline_errors_message(e, i), want[i].msg))
            fail_msg("problem %zu: \"%s\" lacks \"%s\"", i, ais_pipeline_errors_message(e, i),
                     want[i].msg);
    }
    ais_pipeline_errors_destroy(e);
    ais_pipeline_destroy(p);
}

static void test_spec_json(void **state) {
    (void)state;
    ais_pipeline *p = make();
    const char *s = NULL;
    size_t len = 0;
    AIS_ASSERT_OK(ais_pipeline_spec_json(p, &s, &len));
    assert_int_equal(len, strlen(spec));
    assert_string_equal(s, spec);
    AIS_ASSERT_OK(ais_pipeline_spec_json(p, &s, NULL));
    AIS_ASSERT_STATUS(ais_pipeline_spec_json(NULL, &s, &len), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_pipeline_spec_json(p, NULL, &len), AIS_E_INVALID_ARGUMENT);
    /* The spec is kept byte for byte (whitespace, trailing blanks), not re-serialized. */
    const char *spaced = " {\"version\":1,\"inputs\":[{\"name\":\"a\",\"type\":\"numeric\"}],"
                         "\"features\":[{\"input\":\"a\",\"steps\":[]}]}\n ";
    ais_pipeline *q = NULL;
    AIS_ASSERT_OK(ais_pipeline_create_from_json(spaced, strlen(spaced), &q));
    AIS_ASSERT_OK(ais_pipeline_spec_json(q, &s, &len));
    assert_int_equal(len, strlen(spaced));
    assert_memory_equal(s, spaced, len);
    ais_pipeline_destroy(q);
    ais_pipeline_destroy(p);
}

typedef struct {
    ais_pipeline *p;
    const char *csv;
    ais_tensor *out;
    ais_pipeline_errors *e;
    bool expect_schema;
} oom_ctx;

static ais_status oom_run(void *vctx) {
    oom_ctx *c = vctx;
    ais_status st = ais_pipeline_run_csv(c->p, c->csv, strlen(c->csv), &c->out, &c->e);
    return c->expect_schema && st == AIS_E_SCHEMA ? AIS_OK : st;
}

static void test_oom(void **state) {
    (void)state;
    oom_ctx c = {make_ignoring(), "x,c,y,extra\n1,\"a,b\",2,zz\n3,oslo,4,\"q\"\"q\"\n", NULL, NULL,
                 false};
    AIS_TEST_OOM_SWEEP("pipeline run csv", oom_run, &c, 200, AIS_OWN_TENSOR(&c.out),
                       AIS_OWN_PIPELINE_ERRORS(&c.e));
    c.csv = "x,c,y\n1,oslo\nabc,x,1\n\"open";
    c.expect_schema = true;
    AIS_TEST_OOM_SWEEP("pipeline run csv errors", oom_run, &c, 200, AIS_OWN_TENSOR(&c.out),
                       AIS_OWN_PIPELINE_ERRORS(&c.e));
    ais_pipeline_destroy(c.p);
}

int main(void) {
    ais_test_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_tables_match_records),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_schema_report),
        cmocka_unit_test(test_spec_json),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
