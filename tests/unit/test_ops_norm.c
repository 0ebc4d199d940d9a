/* test_ops_norm.c - BatchNormalization, LayerNormalization, InstanceNormalization, LRN and
 * MeanVarianceNormalization against plain loops; dtypes, opsets, errors, allocation failures. */
#include "dense_test_ref.h"

static void check_bn(ais_dtype dt, int64_t opset, int spatial) {
    const int64_t xs[4] = {2, 3, 4, 5};
    size_t nx = 120, np = spatial ? 3 : 60;
    double *x = dt_rand(dt, nx, -2, 2), *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = dt_rand(dt, np, i == 3 ? 0.1 : -1, 1);
    double *want = calloc(nx, sizeof(double));
    for (size_t i = 0; i < nx; i++) {
        size_t c = spatial ? (i / 20) % 3 : i % 60;
        want[i] = (x[i] - p[2][c]) / sqrt(p[3][c] + (double)1e-3f) * p[0][c] + p[1][c];
    }
    ais_tensor *t[5];
    t[0] = dt_tensor(dt, xs, 4, x);
    for (int i = 0; i < 4; i++)
        t[i + 1] = spatial ? dt_tensor(dt, AIS_SHAPE(3), p[i]) : dt_tensor(dt, xs + 1, 3, p[i]);
    ais_attrs *a = dt_attrs();
    AIS_ASSERT_OK(ais_attrs_set_float(a, "epsilon", 1e-3f));
    if (!spatial) AIS_ASSERT_OK(ais_attrs_set_int(a, "spatial", 0));
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_op_run_opset("", "BatchNormalization", opset, a, (const ais_tensor *const *)t,
                                   5, &y, 1));
    double tol = dt_rtol(dt) * 4;
    ais_test_assert_close_values(y, want, nx, tol, tol);
    ais_tensor_destroy(y);
    for (int i = 0; i < 5; i++)
        ais_tensor_destroy(t[i]);
    for (int i = 0; i < 4; i++)
        free(p[i]);
    ais_attrs_destroy(a);
    free(x);
    free(want);
}

static void test_batchnorm(void **state) {
    (void)state;
    check_bn(AIS_DTYPE_F32, 15, 1);
    check_bn(AIS_DTYPE_F64, 15, 1);
    check_bn(AIS_DTYPE_F16, 15, 1);
    check_bn(AIS_DTYPE_BF16, 14, 1);
    check_bn(AIS_DTYPE_F32, 7, 0); /* per-element statistics of opset 7 */
    check_bn(AIS_DTYPE_F32, 9, 1);
    AIS_ASSERT_OK(ais_set_num_threads(3));
    check_bn(AIS_DTYPE_F32, 15, 1);
    AIS_ASSERT_OK(ais_set_num_threads(1));

    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3, 4), -1, 1);
    ais_tensor *p = ais_test_rand_f32(AIS_SHAPE(3), 0.5, 1),
               *q = ais_test_rand_f32(AIS_SHAPE(4), 0, 1);
    const ais_tensor *in[] = {x, p, p, p, p};
    ais_attrs *a = dt_attrs();
    AIS_ASSERT_OK(ais_attrs_set_int(a, "training_mode", 1));
    {
        /* training mode: batch statistics (population variance) and running outputs, against
         * naive loops over N=2, C=3, 4 elements per channel block */
        AIS_ASSERT_OK(ais_attrs_set_float(a, "momentum", 0.75f));
        AIS_ASSERT_OK(ais_attrs_set_float(a, "epsilon", 1e-3f));
        ais_tensor *sc = ais_test_rand_f32(AIS_SHAPE(3), -2, 2),
                   *bb = ais_test_rand_f32(AIS_SHAPE(3), -1, 1),
                   *rm = ais_test_rand_f32(AIS_SHAPE(3), -1, 1),
                   *rv = ais_test_rand_f32(AIS_SHAPE(3), 0.1, 2);
        const ais_tensor *tin[] = {x, sc, bb, rm, rv};
        ais_tensor *to[3] = {NULL, NULL, NULL};
        AIS_ASSERT_OK(ais_op_run("BatchNormalization", a, tin, 5, to, 3));
        const float *xp = ais_tensor_data(x), *scp = ais_tensor_data(sc),
                    *bp = ais_tensor_data(bb), *rmp = ais_tensor_data(rm),
                    *rvp = ais_tensor_data(rv);
        double wy[24], wm[3], wv[3];
        for (int c = 0; c < 3; c++) {
            double m = 0, vq = 0;
            for (int n = 0; n < 2; n++)
                for (int i = 0; i < 4; i++) m += xp[(n * 3 + c) * 4 + i] / 8.0;
            for (int n = 0; n < 2; n++)
                for (int i = 0; i < 4; i++) {
                    double d = xp[(n * 3 + c) * 4 + i] - m;
                    vq += d * d / 8.0;
                }
            for (int n = 0; n < 2; n++)
                for (int i = 0; i < 4; i++)
                    wy[(n * 3 + c) * 4 + i] =
                        (xp[(n * 3 + c) * 4 + i] - m) / sqrt(vq + 1e-3f) * scp[c] + bp[c];
            wm[c] = rmp[c] * 0.75 + m * 0.25;
            wv[c] = rvp[c] * 0.75 + vq * 0.25;
        }
        ais_test_assert_close_values(to[0], wy, 24, 1e-5, 1e-5);
        ais_test_assert_close_values(to[1], wm, 3, 1e-6, 1e-6);
        ais_test_assert_close_values(to[2], wv, 3, 1e-6, 1e-6);
        for (int k = 0; k < 3; k++) ais_tensor_destroy(to[k]);
        ais_tensor *to4[4] = {NULL, NULL, NULL, NULL};
        AIS_ASSERT_STATUS(ais_op_run("BatchNormalization", a, tin, 5, to4, 4), AIS_E_UNSUPPORTED);
        ais_test_assert_error_contains("at most 3");
        ais_tensor_destroy(sc);
        ais_tensor_destroy(bb);
        ais_tensor_destroy(rm);
        ais_tensor_destroy(rv);
    }
    const ais_tensor *in2[] = {x, p, q, p, p};
    dt_fails("BatchNormalization", NULL, in2, 5, AIS_E_SHAPE, "B must have 3 elements");
    double v[3] = {0};
    ais_tensor *pi = dt_tensor(AIS_DTYPE_I32, AIS_SHAPE(3), v);
    const ais_tensor *in3[] = {x, p, p, pi, p};
    dt_fails("BatchNormalization", NULL, in3, 5, AIS_E_DTYPE, "i32");
    ais_tensor *outs[3] = {NULL, NULL, NULL};
    AIS_ASSERT_STATUS(ais_op_run("BatchNormalization", NULL, in, 5, outs, 3), AIS_E_UNSUPPORTED);
    assert_null(outs[0]);
    ais_attrs_destroy(a);
    ais_tensor_destroy(x);
    ais_tensor_destroy(p);
    ais_tensor_destroy(q);
    ais_tensor_destroy(pi);
}

/* LayerNorm over axes [axis, rank) of [2, 3, 4, 5]; scale/bias shapes may broadcast. */
static void check_ln(ais_dtype dt, int64_t axis, const int64_t *ss, size_t sn, bool bias,
                     bool stats) {
    const int64_t xs[4] = {2, 3, 4, 5};
    int64_t ax = axis < 0 ? axis + 4 : axis;
    size_t nx = 120, inner = 1;
    for (int64_t i = ax; i < 4; i++)
        inner *= (size_t)xs[i];
    size_t rows = nx / inner, ns = dt_numel(ss, sn);
    double *x = dt_rand(dt, nx, -2, 2), *s = dt_rand(dt, ns, -1, 1), *b = dt_rand(dt, ns, -1, 1);
    double *want = calloc(nx, sizeof(double)), *wm = calloc(rows, sizeof(double)),
           *wi = calloc(rows, sizeof(double));
    for (size_t r = 0; r < rows; r++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < inner; i++)
            m += x[r * inner + i] / (double)inner;
        for (size_t i = 0; i < inner; i++)
            v += pow(x[r * inner + i] - m, 2) / (double)inner;
        wm[r] = m;
        wi[r] = 1 / sqrt(v + 1e-5);
        for (size_t i = 0; i < inner; i++) {
            /* broadcast index of the parameter: right-aligned over the normalized axes */
            size_t rem = i, si = 0, mul = 1;
            for (int64_t a2 = 3; a2 >= ax; a2--) {
                size_t idx = rem % (size_t)xs[a2];
                rem /= (size_t)xs[a2];
                int64_t pa = (int64_t)sn - 1 - (3 - a2);
                if (pa >= 0) {
                    si += (ss[pa] == 1 ? 0 : idx) * mul;
                    mul *= (size_t)ss[pa];
                }
            }
            want[r * inner + i] = (x[r * inner + i] - m) * wi[r] * s[si] + (bias ? b[si] : 0);
        }
    }
    ais_tensor *tx = dt_tensor(dt, xs, 4, x), *ts = dt_tensor(dt, ss, sn, s);
    ais_tensor *tb = bias ? dt_tensor(dt, ss, sn, b) : NULL;
    ais_attrs *a = dt_attrs();
    AIS_ASSERT_OK(ais_attrs_set_int(a, "axis", axis));
    const ais_tensor *in[] = {tx, ts, tb};
    ais_tensor *outs[3] = {NULL, NULL, NULL};
    AIS_ASSERT_OK(ais_op_run("LayerNormalization", a, in, bias ? 3 : 2, outs, stats ? 3 : 1));
    double tol = dt == AIS_DTYPE_F32 ? 1e-5 : dt_rtol(dt) * 8;
    ais_test_assert_close_values(outs[0], want, nx, tol, tol);
    if (stats) {
        assert_int_equal(ais_tensor_dtype(outs[1]), AIS_DTYPE_F32);
        assert_int_equal(ais_tensor_ndim(outs[1]), 4);
        for (int64_t i = 0; i < 4; i++)
            assert_int_equal(ais_tensor_shape(outs[1])[i], i < ax ? xs[i] : 1);
        ais_test_assert_close_values(outs[1], wm, rows, 1e-5, 1e-5);
        ais_test_assert_close_values(outs[2], wi, rows, 1e-5, 1e-5);
    }
    for (int i = 0; i < 3; i++)
        ais_tensor_destroy(outs[i]);
    ais_tensor_destroy(tx);
    ais_tensor_destroy(ts);
    ais_tensor_destroy(tb);
    ais_attrs_destroy(a);
    free(x);
    free(s);
    free(b);
    free(want);
    free(wm);
    free(wi);
}

static void test_layernorm(void **state) {
    (void)state;
    check_ln(AIS_DTYPE_F32, -1, AIS_SHAPE(5), true, true);
    check_ln(AIS_DTYPE_F32, 2, AIS_SHAPE(4, 5), true, true);
    check_ln(AIS_DTYPE_F32, 1, AIS_SHAPE(3, 1, 5), false, false);
    check_ln(AIS_DTYPE_F32, 1, AIS_SHAPE(1), true, true);
    check_ln(AIS_DTYPE_F32, 0, AIS_SHAPE(2, 3, 4, 5), true, false);
    check_ln(AIS_DTYPE_F64, -2, AIS_SHAPE(4, 5), true, true);
    check_ln(AIS_DTYPE_F16, -1, AIS_SHAPE(5), true, false);
    check_ln(AIS_DTYPE_BF16, -1, AIS_SHAPE(5), true, false);
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1),
               *s = ais_test_rand_f32(AIS_SHAPE(2), -1, 1);
    const ais_tensor *in[] = {x, s};
    dt_fails("LayerNormalization", NULL, in, 2, AIS_E_SHAPE, "Scale [2]");
    ais_tensor *y = NULL;
    AIS_ASSERT_STATUS(ais_op_run_opset("", "LayerNormalization", 16, NULL, in, 2, &y, 1),
                      AIS_E_UNSUPPORTED);
    ais_tensor_destroy(x);
    ais_tensor_destroy(s);
}

static void test_instancenorm_lrn_mvn(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 5, 3, 4), -2, 2);
    ais_tensor *s = ais_test_rand_f32(AIS_SHAPE(5), -1, 1),
               *b = ais_test_rand_f32(AIS_SHAPE(5), -1, 1);
    const float *xv = ais_tensor_data(x), *sv = ais_tensor_data(s), *bv = ais_tensor_data(b);
    double want[120];
    for (int pl = 0; pl < 10; pl++) {
        double m = 0, v = 0;
        for (int i = 0; i < 12; i++)
            m += xv[pl * 12 + i] / 12.0;
        for (int i = 0; i < 12; i++)
            v += pow(xv[pl * 12 + i] - m, 2) / 12.0;
        for (int i = 0; i < 12; i++)
            want[pl * 12 + i] = (xv[pl * 12 + i] - m) / sqrt(v + 1e-5) * sv[pl % 5] + bv[pl % 5];
    }
    const ais_tensor *in[] = {x, s, b};
    ais_tensor *y = dt_run("InstanceNormalization", NULL, in, 3);
    ais_test_assert_close_values(y, want, 120, 1e-5, 1e-5);
    ais_tensor_destroy(y);
    const ais_tensor *bad[] = {x, s, x};
    dt_fails("InstanceNormalization", NULL, bad, 3, AIS_E_SHAPE, "B must be [C]");

    /* LRN, even size: the window is [c - 1, c + 2] for size 4 */
    ais_attrs *a = dt_attrs();
    AIS_ASSERT_OK(ais_attrs_set_int(a, "size", 4));
    AIS_ASSERT_OK(ais_attrs_set_float(a, "alpha", 0.5f));
    AIS_ASSERT_OK(ais_attrs_set_float(a, "beta", 0.6f));
    AIS_ASSERT_OK(ais_attrs_set_float(a, "bias", 2.0f));
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 5; c++)
            for (int i = 0; i < 12; i++) {
                double sq = 0;
                for (int k = c - 1; k <= c + 2; k++)
                    if (k >= 0 && k < 5) sq += pow(xv[(n * 5 + k) * 12 + i], 2);
                want[(n * 5 + c) * 12 + i] =
                    xv[(n * 5 + c) * 12 + i] / pow(2.0 + 0.5 / 4 * sq, 0.6);
            }
    const ais_tensor *in1[] = {x};
    y = dt_run("LRN", a, in1, 1);
    ais_test_assert_close_values(y, want, 120, 1e-5, 1e-6);
    ais_tensor_destroy(y);
    dt_fails("LRN", NULL, in1, 1, AIS_E_INVALID_ARGUMENT, "size");
    ais_attrs_destroy(a);

    /* MVN over the default axes [0, 2, 3]: one group per channel */
    for (int c = 0; c < 5; c++) {
        double m = 0, v = 0;
        for (int n = 0; n < 2; n++)
            for (int i = 0; i < 12; i++)
                m += xv[(n * 5 + c) * 12 + i] / 24.0;
        for (int n = 0; n < 2; n++)
            for (int i = 0; i < 12; i++)
                v += pow(xv[(n * 5 + c) * 12 + i] - m, 2) / 24.0;
        for (int n = 0; n < 2; n++)
            for (int i = 0; i < 12; i++)
                want[(n * 5 + c) * 12 + i] = (xv[(n * 5 + c) * 12 + i] - m) / (sqrt(v) + 1e-9);
    }
    y = dt_run("MeanVarianceNormalization", NULL, in1, 1);
    ais_test_assert_close_values(y, want, 120, 1e-5, 1e-5);
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);
    ais_tensor_destroy(s);
    ais_tensor_destroy(b);
}

typedef struct {
    ais_tensor *in[3], *out;
    const char *op;
} sweep_ctx;

static ais_status sweep_run(void *p) {
    sweep_ctx *s = p;
    return ais_op_run(s->op, NULL, (const ais_tensor *const *)s->in, 3, &s->out, 1);
}
static void test_oom(void **state) {
    (void)state;
    double v[24];
    for (int i = 0; i < 24; i++)
        v[i] = i * 0.1;
    sweep_ctx s = {.op = "LayerNormalization"};
    s.in[0] = dt_tensor(AIS_DTYPE_F16, AIS_SHAPE(2, 3, 4), v);
    s.in[1] = dt_tensor(AIS_DTYPE_F16, AIS_SHAPE(4), v);
    s.in[2] = dt_tensor(AIS_DTYPE_F16, AIS_SHAPE(4), v);
    assert_true(
        AIS_TEST_OOM_SWEEP("LayerNormalization", sweep_run, &s, 20, AIS_OWN_TENSOR(&s.out)) >= 2);
    s.op = "InstanceNormalization";
    ais_tensor_destroy(s.in[1]);
    ais_tensor_destroy(s.in[2]);
    s.in[1] = dt_tensor(AIS_DTYPE_F16, AIS_SHAPE(3), v);
    s.in[2] = dt_tensor(AIS_DTYPE_F16, AIS_SHAPE(3), v);
    assert_true(AIS_TEST_OOM_SWEEP("InstanceNormalization", sweep_run, &s, 20,
                                   AIS_OWN_TENSOR(&s.out)) >= 2);
    for (int i = 0; i < 3; i++)
        ais_tensor_destroy(s.in[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_instancenorm_lrn_mvn),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
