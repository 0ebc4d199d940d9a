/* test_pipeline_f64.c - float64 pipeline output (ais_pipeline_with_output_dtype): every source
 * gives the doubles a naive reference computes, bit for bit; the float32 output is those rounded
 * once, unchanged; the argument checks; OOM. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/pipeline.h"
#include "test_util.h"

/* Numeric transforms whose results float32 cannot hold, a missing-value indicator, and the
 * encoders (whose outputs are small integers either way). */
static const char *const SPEC =
    "{\"version\":1,\"inputs\":["
    "{\"name\":\"a\",\"type\":\"numeric\",\"missing\":\"allow\"},"
    "{\"name\":\"b\",\"type\":\"numeric\"},"
    "{\"name\":\"c\",\"type\":\"categorical\"}],\"features\":["
    "{\"input\":\"a\",\"steps\":[{\"op\":\"impute\",\"strategy\":\"mean\",\"value\":0.3},"
    "{\"op\":\"scale\",\"kind\":\"standard\",\"mean\":1.0625,\"scale\":3.3}]},"
    "{\"input\":\"a\",\"steps\":[{\"op\":\"indicator\"}]},"
    "{\"input\":\"b\",\"steps\":[{\"op\":\"clip\",\"lo\":-5,\"hi\":50},"
    "{\"op\":\"scale\",\"kind\":\"minmax\",\"min\":0.1,\"scale\":0.07}]},"
    "{\"input\":\"b\",\"steps\":[{\"op\":\"clip\",\"lo\":0},{\"op\":\"log1p\"},"
    "{\"op\":\"scale\",\"kind\":\"robust\",\"center\":0.7,\"scale\":1.9}]},"
    "{\"input\":\"b\",\"steps\":[{\"op\":\"bucketize\",\"edges\":[-1,0.5,20]}]},"
    "{\"input\":\"b\",\"steps\":[]},"
    "{\"input\":\"c\",\"steps\":[{\"op\":\"onehot\",\"categories\":[\"x\",\"y\",\"z\"],"
    "\"unknown\":\"ignore\"}]},"
    "{\"input\":\"c\",\"steps\":[{\"op\":\"ordinal\",\"categories\":[\"y\",\"x\"],"
    "\"unknown\":\"use_value\",\"unknown_value\":-1}]},"
    "{\"input\":\"c\",\"steps\":[{\"op\":\"hash\",\"n_features\":3}]}]}";
#define W 13
#define NR 41

static const char *const CATS[] = {"x", "y", "z", "w"};

typedef struct {
    double a[NR], b[NR];
    const char *c[NR];
} data;

static void make_data(data *d) {
    for (size_t r = 0; r < NR; r++) {
        d->a[r] = ais_test_randint(0, 4) == 0 ? NAN : ais_test_uniform(-100, 100);
        d->b[r] = ais_test_uniform(-10, 60);
        d->c[r] = CATS[ais_test_randint(0, 3)];
    }
}

/* The row in double, with the operations in the order the spec gives them. The hash block is
 * checked against the float32 output (it is tested against scikit-learn in test_pipeline.c). */
static void reference_row(const data *d, size_t r, double *o) {
    double a = isnan(d->a[r]) ? 0.3 : d->a[r];
    o[0] = (a - 1.0625) / 3.3;
    o[1] = isnan(d->a[r]) ? 1 : 0;
    double b = d->b[r] < -5 ? -5 : d->b[r] > 50 ? 50 : d->b[r];
    o[2] = b * 0.07 + 0.1;
    b = d->b[r] < 0 ? 0 : d->b[r];
    o[3] = (log1p(b) - 0.7) / 1.9;
    o[4] = d->b[r] >= 20 ? 3 : d->b[r] >= 0.5 ? 2 : d->b[r] >= -1 ? 1 : 0;
    o[5] = d->b[r];
    for (int j = 0; j < 3; j++)
        o[6 + j] = strcmp(d->c[r], CATS[j]) == 0;
    o[9] = strcmp(d->c[r], "y") == 0 ? 0 : strcmp(d->c[r], "x") == 0 ? 1 : -1;
}

static char *to_jsonl(const data *d) {
    size_t cap = NR * 120, off = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    for (size_t r = 0; r < NR; r++) {
        if (isnan(d->a[r]))
            off += (size_t)snprintf(s + off, cap - off, "{\"a\":null");
        else
            off += (size_t)snprintf(s + off, cap - off, "{\"a\":%.17g", d->a[r]);
        off += (size_t)snprintf(s + off, cap - off, ",\"b\":%.17g,\"c\":\"%s\"}\n", d->b[r],
                                d->c[r]);
    }
    return s;
}

static char *to_csv(const data *d) {
    size_t cap = NR * 120, off = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    off += (size_t)snprintf(s + off, cap - off, "c,b,a\n");
    for (size_t r = 0; r < NR; r++) {
        off += (size_t)snprintf(s + off, cap - off, "%s,%.17g,", d->c[r], d->b[r]);
        if (!isnan(d->a[r])) off += (size_t)snprintf(s + off, cap - off, "%.17g", d->a[r]);
        off += (size_t)snprintf(s + off, cap - off, "\n");
    }
    return s;
}

/* Runs p over d from every source; out[0..3]: records, columns, JSON lines, CSV. */
static void run_all(const ais_pipeline *p, const data *d, ais_tensor *out[4]) {
    ais_field f[NR][3];
    const ais_field *rows[NR];
    size_t nf[NR];
    for (size_t r = 0; r < NR; r++) {
        f[r][0] = (ais_field){"c", AIS_VALUE_STRING, 0, d->c[r]};
        f[r][1] = (ais_field){"b", AIS_VALUE_NUMBER, d->b[r], NULL};
        f[r][2] = (ais_field){"a", AIS_VALUE_NUMBER, d->a[r], NULL};
        rows[r] = f[r];
        nf[r] = isnan(d->a[r]) && r % 2 ? 2 : 3; /* absent or NaN */
    }
    AIS_ASSERT_OK(ais_pipeline_run_records(p, rows, nf, NR, &out[0], NULL));
    ais_tensor *cols[3];
    cols[0] = ais_test_tensor(AIS_DTYPE_F64, (const int64_t[]){NR}, 1, d->a);
    cols[1] = ais_test_tensor(AIS_DTYPE_F64, (const int64_t[]){NR, 1}, 2, d->b);
    AIS_ASSERT_OK(ais_tensor_create_strings((const int64_t[]){NR}, 1, d->c, &cols[2]));
    const char *names[] = {"a", "b", "c"};
    AIS_ASSERT_OK(
        ais_pipeline_run_columns(p, names, (const ais_tensor *const *)cols, 3, &out[1], NULL));
    for (int i = 0; i < 3; i++)
        ais_tensor_destroy(cols[i]);
    char *jl = to_jsonl(d), *csv = to_csv(d);
    AIS_ASSERT_OK(ais_pipeline_run_json_rows(p, jl, strlen(jl), &out[2], NULL));
    AIS_ASSERT_OK(ais_pipeline_run_csv(p, csv, strlen(csv), &out[3], NULL));
    free(jl);
    free(csv);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ais_tensor_ndim(out[i]), 2);
        assert_int_equal(ais_tensor_shape(out[i])[0], NR);
        assert_int_equal(ais_tensor_shape(out[i])[1], W);
    }
}

/* Bitwise, NaN included. */
static bool same_double(double x, double y) { return memcmp(&x, &y, sizeof x) == 0; }

static void test_f64_output_bitwise(void **state) {
    (void)state;
    ais_pipeline *p = NULL, *p64 = NULL, *back = NULL;
    AIS_ASSERT_OK(ais_pipeline_create_from_json(SPEC, strlen(SPEC), &p));
    assert_int_equal(ais_pipeline_output_width(p), W);
    assert_int_equal(ais_pipeline_output_dtype(p), AIS_DTYPE_F32);
    AIS_ASSERT_OK(ais_pipeline_with_output_dtype(p, AIS_DTYPE_F64, &p64));
    assert_int_equal(ais_pipeline_output_dtype(p64), AIS_DTYPE_F64);
    assert_int_equal(ais_pipeline_output_dtype(p), AIS_DTYPE_F32); /* the source is unchanged */
    assert_int_equal(ais_pipeline_output_width(p64), W);
    AIS_ASSERT_OK(ais_pipeline_with_output_dtype(p64, AIS_DTYPE_F32, &back));
    assert_int_equal(ais_pipeline_output_dtype(back), AIS_DTYPE_F32);
    assert_int_equal(ais_pipeline_output_dtype(NULL), AIS_DTYPE_F32); /* documented for NULL */
    const char *s1, *s2;
    size_t l1, l2;
    AIS_ASSERT_OK(ais_pipeline_spec_json(p, &s1, &l1));
    AIS_ASSERT_OK(ais_pipeline_spec_json(p64, &s2, &l2));
    assert_int_equal(l1, l2);
    assert_memory_equal(s1, s2, l1);

    for (int trial = 0; trial < 3; trial++) {
        data d;
        make_data(&d);
        ais_tensor *o32[4], *o64[4], *ob[4];
        run_all(p, &d, o32);
        run_all(p64, &d, o64);
        run_all(back, &d, ob);
        size_t exact_in_f32 = 0;
        for (int i = 0; i < 4; i++) {
            assert_int_equal(ais_tensor_dtype(o32[i]), AIS_DTYPE_F32);
            assert_int_equal(ais_tensor_dtype(o64[i]), AIS_DTYPE_F64);
            assert_int_equal(ais_tensor_dtype(ob[i]), AIS_DTYPE_F32);
            assert_memory_equal(ais_tensor_data(ob[i]), ais_tensor_data(o32[i]),
                                ais_tensor_nbytes(o32[i]));
            const float *f = ais_tensor_data(o32[i]);
            const double *g = ais_tensor_data(o64[i]);
            for (size_t r = 0; r < NR; r++) {
                double want[W];
                reference_row(&d, r, want);
                for (size_t j = 0; j < W; j++) {
                    double got = g[r * W + j];
                    if (j < 10 && !same_double(got, want[j]))
                        fail_msg("source %d row %zu col %zu: f64 %.17g, reference %.17g", i, r,
                                 j, got, want[j]);
                    /* float32 is the double rounded once (hash columns included) */
                    float want32 = (float)got;
                    if (memcmp(&f[r * W + j], &want32, sizeof want32) != 0)
                        fail_msg("source %d row %zu col %zu: f32 %.9g, (float)f64 %.9g", i, r,
                                 j, f[r * W + j], want32);
                    exact_in_f32 += (double)(float)got == got;
                }
            }
        }
        /* The doubles are not all float32 values: the f64 output is not a widened f32 one. */
        assert_true(exact_in_f32 < 4 * NR * W);
        for (int i = 0; i < 4; i++) {
            ais_tensor_destroy(o32[i]);
            ais_tensor_destroy(o64[i]);
            ais_tensor_destroy(ob[i]);
        }
    }
    ais_pipeline_destroy(back);
    ais_pipeline_destroy(p64);
    ais_pipeline_destroy(p);
}

static void test_f64_errors_and_empty(void **state) {
    (void)state;
    ais_pipeline *p = NULL, *q = (ais_pipeline *)1;
    AIS_ASSERT_OK(ais_pipeline_create_from_json(SPEC, strlen(SPEC), &p));
    AIS_ASSERT_STATUS(ais_pipeline_with_output_dtype(p, AIS_DTYPE_I64, &q), AIS_E_DTYPE);
    ais_test_assert_error_contains("output dtype i64, expected f32 or f64");
    assert_null(q);
    AIS_ASSERT_STATUS(ais_pipeline_with_output_dtype(p, AIS_DTYPE_F16, &q), AIS_E_DTYPE);
    AIS_ASSERT_STATUS(ais_pipeline_with_output_dtype(NULL, AIS_DTYPE_F64, &q),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("pipeline is NULL");
    AIS_ASSERT_STATUS(ais_pipeline_with_output_dtype(p, AIS_DTYPE_F64, NULL),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("out is NULL");
    assert_int_equal(ais_pipeline_output_dtype(NULL), AIS_DTYPE_F32);
    /* internal entry: an unsupported dtype is refused, not written */
    ais_tensor *t = NULL;
    AIS_ASSERT_STATUS(
        ais__pipeline_csv_into(p, "a,b,c\n", 6, AIS_DTYPE_I32, AIS_EXTRA_FIELDS_ERROR, &t, NULL),
        AIS_E_DTYPE);
    assert_null(t);
    AIS_ASSERT_OK(ais_pipeline_with_output_dtype(p, AIS_DTYPE_F64, &q));
    /* zero rows, and the schema report, as for f32 */
    AIS_ASSERT_OK(ais_pipeline_run_csv(q, "a,b,c\n", 6, &t, NULL));
    assert_int_equal(ais_tensor_dtype(t), AIS_DTYPE_F64);
    assert_int_equal(ais_tensor_shape(t)[0], 0);
    assert_int_equal(ais_tensor_shape(t)[1], W);
    ais_tensor_destroy(t);
    t = NULL;
    ais_pipeline_errors *e = NULL;
    const char *bad = "{\"a\":1,\"c\":\"x\"}\n";
    AIS_ASSERT_STATUS(ais_pipeline_run_json_rows(q, bad, strlen(bad), &t, &e), AIS_E_SCHEMA);
    assert_null(t);
    assert_int_equal(ais_pipeline_errors_count(e), 1);
    assert_string_equal(ais_pipeline_errors_field(e, 0), "b");
    ais_pipeline_errors_destroy(e);
    /* an internal refill: a given f64 tensor of the right shape is reused, an f32 one is not */
    ais_tensor *given = NULL;
    const char *one = "a,b,c\n1,2,x\n";
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F64, AIS_SHAPE(1, W), &given));
    t = given;
    AIS_ASSERT_OK(ais__pipeline_csv_into(p, one, strlen(one), AIS_DTYPE_F64, AIS_EXTRA_FIELDS_ERROR,
                                         &t, NULL));
    assert_ptr_equal(t, given);
    assert_true(same_double(((const double *)ais_tensor_data(t))[0], (1 - 1.0625) / 3.3));
    ais_tensor_destroy(given);
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(1, W), &given));
    t = given;
    AIS_ASSERT_OK(ais__pipeline_csv_into(p, one, strlen(one), AIS_DTYPE_F64, AIS_EXTRA_FIELDS_ERROR,
                                         &t, NULL));
    assert_ptr_not_equal(t, given);
    assert_int_equal(ais_tensor_dtype(t), AIS_DTYPE_F64);
    ais_tensor_destroy(t);
    ais_tensor_destroy(given);
    ais_pipeline_destroy(q);
    ais_pipeline_destroy(p);
}

typedef struct {
    const ais_pipeline *src;
    ais_pipeline *p;
    ais_tensor *out;
} oom_ctx;

static ais_status oom_twin_run(void *vctx) {
    oom_ctx *c = vctx;
    AIS__CHECK(ais_pipeline_with_output_dtype(c->src, AIS_DTYPE_F64, &c->p));
    static const char csv[] = "a,b,c\n1,2,x\n,-3,q\n";
    return ais_pipeline_run_csv(c->p, csv, sizeof csv - 1, &c->out, NULL);
}

static void test_oom(void **state) {
    (void)state;
    ais_pipeline *p = NULL;
    AIS_ASSERT_OK(ais_pipeline_create_from_json(SPEC, strlen(SPEC), &p));
    oom_ctx c = {p, NULL, NULL};
    AIS_TEST_OOM_SWEEP("ais_pipeline_with_output_dtype + run_csv f64", oom_twin_run, &c, 2000,
                       AIS_OWN_TENSOR(&c.out), AIS_OWN_PIPELINE(&c.p));
    ais_pipeline_destroy(p);
}

int main(void) {
    ais_test_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f64_output_bitwise),
        cmocka_unit_test(test_f64_errors_and_empty),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
