/* test_monitor_drift.c - the drift statistics' contract in C (issue 15 item 4): the default
 * method choice, thresholds and verdicts, NaN and infinities left out, the failure paths (too
 * few values, bad methods and thresholds, NULL pointers) and an allocation-failure sweep. Parity
 * of the values with scipy and Evidently is tests/python/test_drift_stats.py. */
#include <math.h>
#include <string.h>

#include "test_util.h"

typedef struct res {
    ais_drift_method m;
    double v, t;
    int32_t d;
} res;

static res num(const double *a, size_t na, const double *b, size_t nb, ais_drift_method m) {
    res r = {AIS_DRIFT_AUTO, NAN, NAN, -1};
    AIS_ASSERT_OK(ais_drift_numeric(a, na, b, nb, m, 0, &r.m, &r.v, &r.t, &r.d));
    return r;
}

static void fill_normalish(double *v, size_t n, double shift) {
    for (size_t i = 0; i < n; i++)
        v[i] = ais_test_uniform(-1, 1) + ais_test_uniform(-1, 1) + ais_test_uniform(-1, 1) + shift;
}

static void test_default_choice(void **state) {
    (void)state;
    static double a[3000], b[3000];
    fill_normalish(a, 3000, 0);
    fill_normalish(b, 3000, 0);
    res r = num(a, 1000, b, 500, AIS_DRIFT_AUTO);
    assert_int_equal(r.m, AIS_DRIFT_KS);
    assert_true(r.t == 0.05);
    r = num(a, 1001, b, 500, AIS_DRIFT_AUTO);
    assert_int_equal(r.m, AIS_DRIFT_WASSERSTEIN);
    assert_true(r.t == 0.1);
    /* same distribution: 3,000 a side keep the distance near 0.03, far below 0.1 */
    r = num(a, 3000, b, 3000, AIS_DRIFT_AUTO);
    assert_int_equal(r.d, 0);
    fill_normalish(b, 3000, 1.5);
    r = num(a, 1001, b, 500, AIS_DRIFT_AUTO);
    assert_int_equal(r.d, 1);
    assert_true(r.v > 0.5);
    /* few distinct values: chi-square (3-5), Z (2), Jensen-Shannon for large references */
    for (size_t i = 0; i < 3000; i++) {
        a[i] = (double)(i % 4);
        b[i] = (double)(i % 2);
    }
    assert_int_equal(num(a, 800, b, 800, AIS_DRIFT_AUTO).m, AIS_DRIFT_CHISQUARE);
    assert_int_equal(num(b, 800, b + 1, 800, AIS_DRIFT_AUTO).m, AIS_DRIFT_Z);
    assert_int_equal(num(a, 2000, b, 800, AIS_DRIFT_AUTO).m, AIS_DRIFT_JENSENSHANNON);
    /* identical samples: p-values 1 or near, distances 0 */
    assert_true(num(a, 2000, a, 2000, AIS_DRIFT_KS).v == 1.0);
    assert_true(num(a, 2000, a, 2000, AIS_DRIFT_WASSERSTEIN).v == 0.0);
    assert_true(num(a, 2000, a, 2000, AIS_DRIFT_PSI).v == 0.0);
    assert_true(num(a, 2000, a, 2000, AIS_DRIFT_JENSENSHANNON).v == 0.0);
    /* an explicit threshold is used as given */
    res t;
    AIS_ASSERT_OK(ais_drift_numeric(a, 100, b, 100, AIS_DRIFT_PSI, 100.0, &t.m, &t.v, &t.t, &t.d));
    assert_true(t.t == 100.0 && t.d == 0);
    AIS_ASSERT_OK(ais_drift_numeric(a, 100, b, 100, AIS_DRIFT_PSI, 0, NULL, NULL, NULL, NULL));
}

static void test_nan_left_out(void **state) {
    (void)state;
    double a[] = {1, 2, NAN, 3, INFINITY, 4, 5, 6, 7, -INFINITY};
    double ac[] = {1, 2, 3, 4, 5, 6, 7};
    double b[] = {NAN, 3, 4, 5, 9, 10, 11};
    double bc[] = {3, 4, 5, 9, 10, 11};
    for (int m = AIS_DRIFT_AUTO; m <= AIS_DRIFT_PSI; m++) {
        res x = num(a, 10, b, 7, (ais_drift_method)m), y = num(ac, 7, bc, 6, (ais_drift_method)m);
        assert_true(isfinite(x.v));
        assert_true(x.v == y.v && x.m == y.m && x.d == y.d);
    }
    const char *names[] = {"auto", "ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi"};
    for (int m = 0; m <= 6; m++)
        assert_string_equal(ais_drift_method_name((ais_drift_method)m), names[m]);
    assert_string_equal(ais_drift_method_name((ais_drift_method)77), "unknown");
}

static void test_failures(void **state) {
    (void)state;
    double a[] = {1, 2, 3}, one[] = {NAN, 1, INFINITY};
    double v = 42;
    AIS_ASSERT_STATUS(ais_drift_numeric(a, 3, one, 3, AIS_DRIFT_KS, 0, NULL, &v, NULL, NULL),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("current sample has 1 finite value");
    assert_true(v == 42); /* nothing written */
    AIS_ASSERT_STATUS(ais_drift_numeric(NULL, 0, a, 3, AIS_DRIFT_KS, 0, NULL, NULL, NULL, NULL),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("reference");
    AIS_ASSERT_STATUS(ais_drift_numeric(NULL, 3, a, 3, AIS_DRIFT_KS, 0, NULL, NULL, NULL, NULL),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_drift_numeric(a, 3, a, 3, (ais_drift_method)9, 0, NULL, NULL, NULL, NULL),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_drift_numeric(a, 3, a, 3, AIS_DRIFT_KS, NAN, NULL, NULL, NULL, NULL),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_drift_numeric(a, 3, a, 3, AIS_DRIFT_KS, -0.5, NULL, NULL, NULL, NULL),
                      AIS_E_INVALID_ARGUMENT);
    uint64_t rc[] = {10, 0, 5}, cc[] = {0, 4, 1}, tiny[] = {1, 0, 0};
    res r;
    AIS_ASSERT_OK(ais_drift_categorical(rc, cc, 3, AIS_DRIFT_AUTO, 0, &r.m, &r.v, &r.t, &r.d));
    assert_int_equal(r.m, AIS_DRIFT_CHISQUARE);
    assert_true(r.v == 0.0 && r.d == 1); /* a category the reference never saw */
    AIS_ASSERT_STATUS(ais_drift_categorical(rc, tiny, 3, AIS_DRIFT_AUTO, 0, NULL, NULL, NULL, NULL),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(
        ais_drift_categorical(rc, cc, 3, AIS_DRIFT_WASSERSTEIN, 0, NULL, NULL, NULL, NULL),
        AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_drift_categorical(NULL, cc, 3, AIS_DRIFT_Z, 0, NULL, NULL, NULL, NULL),
                      AIS_E_INVALID_ARGUMENT);
    /* one category on both sides: nothing can drift */
    uint64_t same[] = {7}, same2[] = {9};
    AIS_ASSERT_OK(
        ais_drift_categorical(same, same2, 1, AIS_DRIFT_CHISQUARE, 0, NULL, &v, NULL, NULL));
    assert_true(v == 1.0);
    AIS_ASSERT_OK(ais_drift_categorical(same, same2, 1, AIS_DRIFT_Z, 0, NULL, &v, NULL, NULL));
    assert_true(v == 1.0);
}

typedef struct sweep_ctx {
    double a[300], b[200];
    int method;
} sweep_ctx;

static ais_status sweep_fn(void *arg) {
    sweep_ctx *c = arg;
    return ais_drift_numeric(c->a, 300, c->b, 200, (ais_drift_method)c->method, 0, NULL, NULL, NULL,
                             NULL);
}

static void sweep_cleanup(void *arg) { (void)arg; }

static void test_oom_sweep(void **state) {
    (void)state;
    static sweep_ctx c;
    fill_normalish(c.a, 300, 0);
    fill_normalish(c.b, 200, 0.2);
    for (c.method = AIS_DRIFT_AUTO; c.method <= AIS_DRIFT_PSI; c.method++)
        ais_test_oom_sweep("drift", sweep_fn, sweep_cleanup, &c, 50);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_choice),
        cmocka_unit_test(test_nan_left_out),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_oom_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
