/* test_ops_softmax.c - Softmax, LogSoftmax, Hardmax: opset 11 (2-D coercion) vs 13 (one axis),
 * dtypes, stability on large inputs, errors. */
#include "dense_test_ref.h"

/* Reference over (outer, n, inner) lines. kind 0 soft, 1 log, 2 hard. */
static void ref_sm(const double *x, double *y, size_t outer, size_t n, size_t inner, int kind) {
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            const double *xl = x + o * n * inner + i;
            double *yl = y + o * n * inner + i;
            double mx = xl[0];
            size_t arg = 0;
            for (size_t k = 1; k < n; k++)
                if (xl[k * inner] > mx) mx = xl[k * inner], arg = k;
            double s = 0;
            for (size_t k = 0; k < n; k++)
                s += exp(xl[k * inner] - mx);
            for (size_t k = 0; k < n; k++)
                yl[k * inner] = kind == 0   ? exp(xl[k * inner] - mx) / s
                                : kind == 1 ? xl[k * inner] - mx - log(s)
                                            : (k == arg ? 1.0 : 0.0);
        }
}

static void check_sm(const char *op, int kind, ais_dtype dt, int64_t opset, bool set_axis,
                     int64_t axis, double scale) {
    const int64_t shape[4] = {2, 3, 4, 5};
    size_t nx = 120;
    double *x = dt_rand(dt, nx, -scale, scale), *want = calloc(nx, sizeof(double));
    int64_t ax = set_axis ? (axis < 0 ? axis + 4 : axis) : (opset < 13 ? 1 : 3);
    size_t outer = 1, n = 1, inner = 1;
    for (int64_t i = 0; i < 4; i++) {
        if (i < ax)
            outer *= (size_t)shape[i];
        else if (opset < 13 || i == ax)
            n *= (size_t)shape[i];
        else
            inner *= (size_t)shape[i];
    }
    ref_sm(x, want, outer, n, inner, kind);
    ais_tensor *t = dt_tensor(dt, shape, 4, x);
    ais_attrs *a = dt_attrs();
    if (set_axis) AIS_ASSERT_OK(ais_attrs_set_int(a, "axis", axis));
    const ais_tensor *in[] = {t};
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_op_run_opset("", op, opset, a, in, 1, &y, 1));
    assert_int_equal(ais_tensor_dtype(y), dt);
    double tol = dt == AIS_DTYPE_F32 ? 1e-5 : dt == AIS_DTYPE_F64 ? 1e-12 : 1e-2;
    if (kind == 2) tol = 0;
    ais_test_assert_close_values(y, want, nx, tol, tol);
    ais_tensor_destroy(y);
    ais_tensor_destroy(t);
    ais_attrs_destroy(a);
    free(x);
    free(want);
}

static void test_softmax_opsets(void **state) {
    (void)state;
    const char *ops[3] = {"Softmax", "LogSoftmax", "Hardmax"};
    for (int k = 0; k < 3; k++) {
        for (int64_t ax = -4; ax < 4; ax++) {
            check_sm(ops[k], k, AIS_DTYPE_F32, 11, true, ax, 3);
            check_sm(ops[k], k, AIS_DTYPE_F32, 13, true, ax, 3);
        }
        check_sm(ops[k], k, AIS_DTYPE_F32, 11, false, 0, 3); /* default axis 1, 2-D coercion */
        check_sm(ops[k], k, AIS_DTYPE_F32, 1, false, 0, 3);
        check_sm(ops[k], k, AIS_DTYPE_F32, 13, false, 0, 3); /* default axis -1 */
        check_sm(ops[k], k, AIS_DTYPE_F64, 13, true, 1, 3);
        check_sm(ops[k], k, AIS_DTYPE_F16, 13, true, 2, 3);
        check_sm(ops[k], k, AIS_DTYPE_BF16, 11, true, 2, 3);
    }
    /* large magnitudes: max subtraction keeps it finite */
    check_sm("Softmax", 0, AIS_DTYPE_F32, 13, false, 0, 500);
    check_sm("LogSoftmax", 1, AIS_DTYPE_F32, 13, true, 1, 500);
}

/* The same input and axis give different results under opset 11 and 13. */
static void test_softmax_opset_difference(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3, 4), -2, 2);
    const ais_tensor *in[] = {x};
    ais_tensor *y11 = NULL, *y13 = NULL;
    AIS_ASSERT_OK(ais_op_run_opset("", "Softmax", 11, NULL, in, 1, &y11, 1));
    AIS_ASSERT_OK(ais_op_run_opset("", "Softmax", 13, NULL, in, 1, &y13, 1));
    const float *a = ais_tensor_data(y11), *b = ais_tensor_data(y13);
    double s11 = 0, s13 = 0;
    for (int i = 0; i < 12; i++)
        s11 += a[i]; /* opset 11: batch 0 is one row of 12 */
    for (int i = 0; i < 4; i++)
        s13 += b[i]; /* opset 13: rows of 4 */
    assert_true(fabs(s11 - 1) < 1e-5);
    assert_true(fabs(s13 - 1) < 1e-5);
    assert_true(fabs(a[0] - b[0]) > 1e-6);
    ais_tensor_destroy(y11);
    ais_tensor_destroy(y13);
    ais_tensor_destroy(x);
}

static void test_softmax_errors(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    ais_attrs *a = dt_attrs();
    AIS_ASSERT_OK(ais_attrs_set_int(a, "axis", 2));
    const ais_tensor *in[] = {x};
    dt_fails("Softmax", a, in, 1, AIS_E_INVALID_ARGUMENT, "axis 2");
    double v[6] = {0};
    ais_tensor *xi = dt_tensor(AIS_DTYPE_I64, AIS_SHAPE(2, 3), v);
    const ais_tensor *in2[] = {xi};
    dt_fails("LogSoftmax", NULL, in2, 1, AIS_E_DTYPE, "i64");
    ais_tensor *e = ais_test_rand_f32(AIS_SHAPE(0, 3), -1, 1);
    const ais_tensor *in3[] = {e};
    ais_tensor *y = dt_run("Softmax", NULL, in3, 1);
    assert_int_equal(ais_tensor_size(y), 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(e);
    ais_tensor_destroy(xi);
    ais_tensor_destroy(x);
    ais_attrs_destroy(a);
}

/* A graph node reads its axis once, when it is prepared at load: two runs of one session give
 * the eager result both times (either opset's semantics), and an axis of the wrong type fails
 * the load, naming the attribute and the node. */
static void test_softmax_prepared_attrs(void **state) {
    (void)state;
    const char *ops[3] = {"Softmax", "LogSoftmax", "Hardmax"};
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 5, 3), -3, 3);
    const ais_tensor *in[] = {x};
    for (int k = 0; k < 3; k++) {
        for (int64_t opset = 11; opset <= 13; opset += 2) {
            ais_attrs *a = dt_attrs();
            AIS_ASSERT_OK(ais_attrs_set_int(a, "axis", 1));
            ais_tensor *want = NULL;
            AIS_ASSERT_OK(ais_op_run_opset("", ops[k], opset, a, in, 1, &want, 1));
            ais_model *m = NULL;
            AIS_ASSERT_OK(
                ais_test_op_model(ops[k], opset, a, AIS_DTYPE_F32, AIS_SHAPE(2, 5, 3), &m));
            ais_tensor *y = ais_test_run_xy_twice(m, x);
            ais_test_assert_close(y, want, 0, 0);
            ais_tensor_destroy(y);
            ais_tensor_destroy(want);
            ais_model_destroy(m);
        }
        ais_attrs *bad = dt_attrs();
        AIS_ASSERT_OK(ais_attrs_set_float(bad, "axis", 1.0f));
        ais_model *m = NULL;
        AIS_ASSERT_STATUS(ais_test_op_model(ops[k], 13, bad, AIS_DTYPE_F32, AIS_SHAPE(2, 5, 3), &m),
                          AIS_E_INVALID_ARGUMENT);
        assert_null(m);
        ais_test_assert_error_contains("attribute 'axis' is FLOAT, expected INT");
        ais_test_assert_error_contains(ops[k]);
    }
    ais_tensor_destroy(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_opsets),
        cmocka_unit_test(test_softmax_opset_difference),
        cmocka_unit_test(test_softmax_errors),
        cmocka_unit_test(test_softmax_prepared_attrs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
