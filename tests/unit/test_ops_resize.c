/* test_ops_resize.c - Resize and Upsample against naive per-element references. */
#include <math.h>
#include <string.h>

#include "ops/op.h"
#include "tensor/tensor.h"
#include "test_util.h"

static double at(const ais_tensor *t, size_t i) { return ais__load_f64(t->data, t->dtype, i); }

static ais_attrs *attrs_mode(const char *mode, const char *coord) {
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_string(a, "mode", mode));
    if (coord) AIS_ASSERT_OK(ais_attrs_set_string(a, "coordinate_transformation_mode", coord));
    return a;
}

static int64_t clampi(int64_t v, int64_t n) { return v < 0 ? 0 : v >= n ? n - 1 : v; }

static double keys(double x, double a) {
    x = fabs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

/* Bilinear with half_pixel coordinates on the last two axes of [N, C, H, W]. */
static void test_resize_linear_random(void **state) {
    (void)state;
    for (int rep = 0; rep < 6; rep++) {
        int64_t n = ais_test_randint(1, 2), c = ais_test_randint(1, 3);
        int64_t h = ais_test_randint(1, 9), w = ais_test_randint(1, 11);
        float sh = (float)ais_test_uniform(0.4, 3.1), sw = (float)ais_test_uniform(0.4, 3.1);
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(n, c, h, w), -2, 2);
        double sv[4] = {1, 1, sh, sw};
        ais_tensor *s = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(4), sv);
        ais_attrs *a = attrs_mode("linear", NULL);
        const ais_tensor *in[] = {x, NULL, s};
        ais_tensor *y = NULL;
        AIS_ASSERT_OK(ais_op_run("Resize", a, in, 3, &y, 1));
        int64_t oh = (int64_t)((double)sh * (double)h), ow = (int64_t)((double)sw * (double)w);
        const int64_t *d = ais_tensor_shape(y);
        assert_int_equal(d[2], oh);
        assert_int_equal(d[3], ow);
        size_t k = 0;
        for (int64_t p = 0; p < n * c; p++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++, k++) {
                    double yi = (i + 0.5) / (double)sh - 0.5, xj = (j + 0.5) / (double)sw - 0.5;
                    double fy = floor(yi), fx = floor(xj), ty = yi - fy, tx = xj - fx;
                    int64_t y0 = clampi((int64_t)fy, h), y1 = clampi((int64_t)fy + 1, h);
                    int64_t x0 = clampi((int64_t)fx, w), x1 = clampi((int64_t)fx + 1, w);
                    size_t base = (size_t)(p * h * w);
                    double want = (1 - ty) * ((1 - tx) * at(x, base + (size_t)(y0 * w + x0)) +
                                              tx * at(x, base + (size_t)(y0 * w + x1))) +
                                  ty * ((1 - tx) * at(x, base + (size_t)(y1 * w + x0)) +
                                        tx * at(x, base + (size_t)(y1 * w + x1)));
                    if (fabs(at(y, k) - want) > 1e-5)
                        fail_msg("linear %lld,%lld: got %g want %g", (long long)i, (long long)j,
                                 at(y, k), want);
                }
        ais_tensor_destroy(y);
        ais_tensor_destroy(s);
        ais_tensor_destroy(x);
        ais_attrs_destroy(a);
    }
}

/* Nearest (round_prefer_floor, half_pixel) from sizes, in f64 and with the axes attribute. */
static void test_resize_nearest_sizes(void **state) {
    (void)state;
    for (int rep = 0; rep < 6; rep++) {
        int64_t h = ais_test_randint(1, 7), w = ais_test_randint(1, 8);
        int64_t oh = ais_test_randint(1, 13), ow = ais_test_randint(1, 13);
        double xv[56];
        for (int i = 0; i < 56; i++)
            xv[i] = ais_test_uniform(-5, 5);
        ais_tensor *x = ais_test_tensor(AIS_DTYPE_F64, AIS_SHAPE(h, w), xv);
        double zv[2] = {(double)oh, (double)ow};
        ais_tensor *sz = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(2), zv);
        ais_attrs *a = attrs_mode("nearest", NULL);
        if (rep & 1) AIS_ASSERT_OK(ais_attrs_set_ints(a, "axes", (int64_t[]){0, 1}, 2));
        const ais_tensor *in[] = {x, NULL, NULL, sz};
        ais_tensor *y = NULL;
        AIS_ASSERT_OK(ais_op_run("Resize", a, in, 4, &y, 1));
        assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_F64);
        size_t k = 0;
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++, k++) {
                double yi = (i + 0.5) / ((double)oh / (double)h) - 0.5;
                double xj = (j + 0.5) / ((double)ow / (double)w) - 0.5;
                int64_t si = clampi((int64_t)ceil(yi - 0.5), h),
                        sj = clampi((int64_t)ceil(xj - 0.5), w);
                assert_true(at(y, k) == xv[si * w + sj]);
            }
        ais_tensor_destroy(y);
        ais_tensor_destroy(sz);
        ais_tensor_destroy(x);
        ais_attrs_destroy(a);
    }
}

/* Cubic (Keys kernel, a = -0.5 and -0.75) along one axis with asymmetric coordinates. */
static void test_resize_cubic_1d(void **state) {
    (void)state;
    for (int rep = 0; rep < 4; rep++) {
        int64_t w = ais_test_randint(1, 12);
        float sc = (float)ais_test_uniform(0.5, 3.0);
        double ca = rep & 1 ? -0.5 : -0.75;
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(w), -1, 1);
        ais_tensor *s = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(1), (double[]){sc});
        ais_attrs *a = attrs_mode("cubic", "asymmetric");
        AIS_ASSERT_OK(ais_attrs_set_float(a, "cubic_coeff_a", (float)ca));
        const ais_tensor *in[] = {x, NULL, s};
        ais_tensor *y = NULL;
        AIS_ASSERT_OK(ais_op_run("Resize", a, in, 3, &y, 1));
        int64_t ow = (int64_t)((double)sc * (double)w);
        assert_int_equal(ais_tensor_shape(y)[0], ow);
        for (int64_t j = 0; j < ow; j++) {
            double xo = j / (double)sc, f = floor(xo), want = 0;
            for (int64_t t = -1; t <= 2; t++)
                want += keys(xo - (f + (double)t), ca) * at(x, (size_t)clampi((int64_t)f + t, w));
            if (fabs(at(y, (size_t)j) - want) > 1e-5)
                fail_msg("cubic %lld: got %g want %g", (long long)j, at(y, (size_t)j), want);
        }
        ais_tensor_destroy(y);
        ais_tensor_destroy(s);
        ais_tensor_destroy(x);
        ais_attrs_destroy(a);
    }
}

/* Upsample-9 nearest with integer scales repeats elements. */
static void test_upsample_nearest(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3, 5), -1, 1);
    ais_tensor *s = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(3), (double[]){1, 2, 3});
    ais_attrs *a = attrs_mode("nearest", NULL);
    const ais_tensor *in[] = {x, s};
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_op_run_opset("", "Upsample", 9, a, in, 2, &y, 1));
    const int64_t *d = ais_tensor_shape(y);
    assert_true(d[0] == 2 && d[1] == 6 && d[2] == 15);
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 6; j++)
            for (size_t k = 0; k < 15; k++)
                assert_true(at(y, (i * 6 + j) * 15 + k) == at(x, (i * 3 + j / 2) * 5 + k / 3));
    ais_tensor_destroy(y);
    ais_tensor_destroy(s);
    ais_tensor_destroy(x);
    ais_attrs_destroy(a);
}

static void expect_fail(const ais_attrs *a, const ais_tensor *const *in, size_t n, ais_status st,
                        const char *msg) {
    ais_tensor *y = NULL;
    AIS_ASSERT_STATUS(ais_op_run("Resize", a, in, n, &y, 1), st);
    assert_null(y);
    ais_test_assert_error_contains(msg);
}

static void test_resize_errors_and_empty(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    ais_tensor *s2 = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2), (double[]){2, 2});
    ais_tensor *s3 = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(3), (double[]){2, 2, 2});
    ais_tensor *sz = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(2), (double[]){4, 4});
    ais_tensor *neg = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2), (double[]){1, -2});
    ais_tensor *xb = ais_test_tensor(AIS_DTYPE_BOOL, AIS_SHAPE(2), (double[]){1, 0});
    ais_attrs *a = attrs_mode("linear", NULL);
    ais_attrs *bad = attrs_mode("bilinear", NULL);
    expect_fail(a, (const ais_tensor *[]){x, NULL, s2, sz}, 4, AIS_E_INVALID_ARGUMENT,
                "scales and sizes");
    expect_fail(a, (const ais_tensor *[]){x, NULL, s3}, 3, AIS_E_SHAPE, "scales has 3 values");
    expect_fail(a, (const ais_tensor *[]){x, NULL, neg}, 3, AIS_E_INVALID_ARGUMENT, "must be > 0");
    expect_fail(a, (const ais_tensor *[]){x}, 1, AIS_E_INVALID_ARGUMENT, "neither scales");
    expect_fail(a, (const ais_tensor *[]){xb, NULL, s2}, 3, AIS_E_DTYPE, "X has dtype bool");
    expect_fail(bad, (const ais_tensor *[]){x, NULL, s2}, 3, AIS_E_INVALID_ARGUMENT, "bilinear");
    /* an empty batch resizes to an empty output of the scaled shape */
    ais_tensor *e = ais_test_rand_f32(AIS_SHAPE(0, 3), -1, 1);
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_op_run("Resize", a, (const ais_tensor *[]){e, NULL, s2}, 3, &y, 1));
    assert_int_equal(ais_tensor_shape(y)[1], 6);
    assert_int_equal(ais_tensor_size(y), 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(e);
    ais_tensor_destroy(x);
    ais_tensor_destroy(s2);
    ais_tensor_destroy(s3);
    ais_tensor_destroy(sz);
    ais_tensor_destroy(neg);
    ais_tensor_destroy(xb);
    ais_attrs_destroy(a);
    ais_attrs_destroy(bad);
}

typedef struct {
    ais_tensor *x, *s, *y;
    ais_attrs *a;
} sweep_ctx;

static ais_status sweep_run(void *p) {
    sweep_ctx *c = p;
    const ais_tensor *in[] = {c->x, NULL, c->s};
    return ais_op_run("Resize", c->a, in, 3, &c->y, 1);
}
static void test_resize_oom(void **state) {
    (void)state;
    sweep_ctx c = {0};
    c.x = ais_test_rand_f32(AIS_SHAPE(1, 2, 5, 7), -1, 1);
    c.s = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(4), (double[]){1, 1, 0.5, 0.6});
    c.a = attrs_mode("cubic", NULL);
    AIS_ASSERT_OK(ais_attrs_set_int(c.a, "antialias", 1));
    assert_true(AIS_TEST_OOM_SWEEP("Resize", sweep_run, &c, 20, AIS_OWN_TENSOR(&c.y)) >= 1);
    ais_tensor_destroy(c.x);
    ais_tensor_destroy(c.s);
    ais_attrs_destroy(c.a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resize_linear_random),    cmocka_unit_test(test_resize_nearest_sizes),
        cmocka_unit_test(test_resize_cubic_1d),         cmocka_unit_test(test_upsample_nearest),
        cmocka_unit_test(test_resize_errors_and_empty), cmocka_unit_test(test_resize_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
