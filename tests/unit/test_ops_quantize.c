/* test_ops_quantize.c - QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear. */
#include <math.h>
#include <string.h>

#include "ops/op.h"
#include "tensor/tensor.h"
#include "test_util.h"

static double at(const ais_tensor *t, size_t i) { return ais__load_f64(t->data, t->dtype, i); }

/* ais_test_tensor without the dtype limits: 4-bit and float8 elements included. */
static ais_tensor *mk(ais_dtype dt, const int64_t *shape, size_t ndim, const double *v) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais__tensor_new(dt, shape, ndim, &t));
    for (size_t i = 0; i < t->numel; i++)
        ais__store_f64(t->data, dt, i, v[i]);
    return t;
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Per-axis quantization to every integer type, then back, against the formula. */
static void test_quantize_per_axis(void **state) {
    (void)state;
    static const struct {
        ais_dtype dt;
        double lo, hi;
    } types[] = {{AIS_DTYPE_U8, 0, 255},    {AIS_DTYPE_I8, -128, 127},
                 {AIS_DTYPE_U16, 0, 65535}, {AIS_DTYPE_I16, -32768, 32767},
                 {AIS_DTYPE_U4, 0, 15},     {AIS_DTYPE_I4, -8, 7}};
    for (size_t k = 0; k < AIS__ARRAY_LEN(types); k++) {
        int64_t a = ais_test_randint(1, 4), b = ais_test_randint(1, 5), c = ais_test_randint(1, 3);
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(a, b, c), -300, 300);
        double sv[5], zv[5];
        for (int64_t i = 0; i < b; i++) {
            sv[i] = ais_test_uniform(0.5, 4);
            zv[i] = (double)ais_test_randint((int64_t)types[k].lo, (int64_t)types[k].hi);
        }
        ais_tensor *s = mk(AIS_DTYPE_F32, AIS_SHAPE(b), sv);
        ais_tensor *z = mk(types[k].dt, AIS_SHAPE(b), zv);
        const ais_tensor *in[] = {x, s, z};
        ais_tensor *q = NULL, *dq = NULL;
        AIS_ASSERT_OK(ais_op_run("QuantizeLinear", NULL, in, 3, &q, 1));
        assert_int_equal(ais_tensor_dtype(q), types[k].dt);
        const ais_tensor *in2[] = {q, s, z};
        AIS_ASSERT_OK(ais_op_run("DequantizeLinear", NULL, in2, 3, &dq, 1));
        assert_int_equal(ais_tensor_dtype(dq), AIS_DTYPE_F32);
        for (size_t i = 0; i < ais_tensor_size(x); i++) {
            size_t ax = (i / (size_t)c) % (size_t)b;
            float sf = (float)sv[ax];
            double want =
                clampd(rint((double)((float)at(x, i) / sf)) + zv[ax], types[k].lo, types[k].hi);
            if (at(q, i) != want)
                fail_msg("%s element %zu: got %g want %g", ais_dtype_name(types[k].dt), i, at(q, i),
                         want);
            double back = (double)((float)(want - zv[ax]) * sf);
            assert_true(fabs(at(dq, i) - back) <= 1e-6 * fabs(back));
        }
        ais_tensor_destroy(q);
        ais_tensor_destroy(dq);
        ais_tensor_destroy(x);
        ais_tensor_destroy(s);
        ais_tensor_destroy(z);
    }
}

/* Blocked (opset 21) with an uneven last block, no zero point: u8 by default. */
static void test_quantize_blocked(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3, 7), -50, 50);
    double sv[9];
    for (int i = 0; i < 9; i++)
        sv[i] = ais_test_uniform(0.5, 2);
    ais_tensor *s = mk(AIS_DTYPE_F32, AIS_SHAPE(3, 3), sv);
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "axis", 1));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "block_size", 3));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "output_dtype", AIS_DTYPE_I8));
    const ais_tensor *in[] = {x, s};
    ais_tensor *q = NULL;
    AIS_ASSERT_OK(ais_op_run("QuantizeLinear", a, in, 2, &q, 1));
    assert_int_equal(ais_tensor_dtype(q), AIS_DTYPE_I8);
    for (size_t r = 0; r < 3; r++)
        for (size_t j = 0; j < 7; j++) {
            float sf = (float)sv[r * 3 + j / 3];
            double want = clampd(rint((double)((float)at(x, r * 7 + j) / sf)), -128, 127);
            assert_true(at(q, r * 7 + j) == want);
        }
    /* a scale that does not fit the blocks is refused */
    ais_tensor *sbad = mk(AIS_DTYPE_F32, AIS_SHAPE(3, 2), sv);
    const ais_tensor *in2[] = {x, sbad};
    ais_tensor *y = NULL;
    AIS_ASSERT_STATUS(ais_op_run("QuantizeLinear", a, in2, 2, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("blocked scale [3, 2]");
    ais_tensor_destroy(sbad);
    ais_tensor_destroy(q);
    ais_tensor_destroy(x);
    ais_tensor_destroy(s);
    ais_attrs_destroy(a);
}

/* float8 targets round through the float8 conversion (saturating by default). */
static void test_quantize_float8(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(33), -1000, 1000);
    ais_tensor *s = mk(AIS_DTYPE_F32, NULL, 0, (double[]){0.5});
    double zv[1] = {0};
    ais_tensor *z = mk(AIS_DTYPE_F8E4M3FN, AIS_SHAPE(1), zv);
    const ais_tensor *in[] = {x, s, z};
    ais_tensor *q = NULL, *dq = NULL;
    AIS_ASSERT_OK(ais_op_run("QuantizeLinear", NULL, in, 3, &q, 1));
    assert_int_equal(ais_tensor_dtype(q), AIS_DTYPE_F8E4M3FN);
    const ais_tensor *in2[] = {q, s, z};
    AIS_ASSERT_OK(ais_op_run("DequantizeLinear", NULL, in2, 3, &dq, 1));
    for (size_t i = 0; i < 33; i++) {
        uint8_t want = ais__f32_to_f8((float)at(x, i) / 0.5f, AIS_DTYPE_F8E4M3FN, true);
        assert_int_equal(((const uint8_t *)ais_tensor_data(q))[i], want);
        assert_true(at(dq, i) == (double)(ais__f8_to_f32(want, AIS_DTYPE_F8E4M3FN) * 0.5f));
        assert_true(fabs(at(dq, i)) <= 448 * 0.5);
    }
    ais_tensor_destroy(q);
    ais_tensor_destroy(dq);
    ais_tensor_destroy(x);
    ais_tensor_destroy(s);
    ais_tensor_destroy(z);
}

static void test_dynamic_quantize(void **state) {
    (void)state;
    /* lengths past the vector loops' 8 and 16 and their tails; a NaN (rep 3, 4: skipped by the
     * range, quantized to 0), ranges all positive (rep 1) and all negative (rep 5) */
    for (int rep = 0; rep < 8; rep++) {
        int64_t n = rep < 3 ? ais_test_randint(1, 40) : ais_test_randint(1, 2000);
        ais_tensor *x = rep == 5 ? ais_test_rand_f32(AIS_SHAPE(n), -9, -0.5f)
                                 : ais_test_rand_f32(AIS_SHAPE(n), rep == 1 ? 0.5f : -3, 7);
        if (rep == 3 || rep == 4) ((float *)x->data)[ais_test_randint(0, n - 1)] = NAN;
        ais_tensor *out[3] = {NULL, NULL, NULL};
        AIS_ASSERT_OK(
            ais_op_run("DynamicQuantizeLinear", NULL, (const ais_tensor *[]){x}, 1, out, 3));
        float mx = 0, mn = 0;
        for (size_t i = 0; i < (size_t)n; i++) {
            mx = fmaxf(mx, (float)at(x, i));
            mn = fminf(mn, (float)at(x, i));
        }
        float sc = (mx - mn) / 255.0f;
        float zp = rintf(fminf(fmaxf(-mn / sc, 0), 255));
        assert_true(at(out[1], 0) == (double)sc);
        assert_true(at(out[2], 0) == (double)zp);
        for (size_t i = 0; i < (size_t)n; i++) {
            float v = (float)at(x, i);
            double want = isnan(v) ? 0 : clampd(rintf(v / sc) + zp, 0, 255);
            if (at(out[0], i) != want)
                fail_msg("n %lld element %zu (%g): got %g want %g", (long long)n, i, (double)v,
                         at(out[0], i), want);
        }
        for (int k = 0; k < 3; k++)
            ais_tensor_destroy(out[k]);
        ais_tensor_destroy(x);
    }
}

static void test_quantize_errors(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    ais_tensor *s2 = mk(AIS_DTYPE_F32, AIS_SHAPE(2), (double[]){1, 2});
    ais_tensor *s1 = mk(AIS_DTYPE_F32, NULL, 0, (double[]){1});
    ais_tensor *zf = mk(AIS_DTYPE_F32, NULL, 0, (double[]){0});
    ais_tensor *zi = mk(AIS_DTYPE_I8, AIS_SHAPE(2), (double[]){0, 0});
    ais_tensor *xi = mk(AIS_DTYPE_I64, AIS_SHAPE(2), (double[]){0, 0});
    ais_tensor *y = NULL;
    AIS_ASSERT_STATUS(ais_op_run("QuantizeLinear", NULL, (const ais_tensor *[]){x, s2}, 2, &y, 1),
                      AIS_E_SHAPE);
    ais_test_assert_error_contains("per-axis scale must have shape [3]");
    AIS_ASSERT_STATUS(
        ais_op_run("QuantizeLinear", NULL, (const ais_tensor *[]){x, s1, zf}, 3, &y, 1),
        AIS_E_DTYPE);
    ais_test_assert_error_contains("y_zero_point has dtype f32");
    AIS_ASSERT_STATUS(
        ais_op_run("QuantizeLinear", NULL, (const ais_tensor *[]){x, s1, zi}, 3, &y, 1),
        AIS_E_SHAPE);
    ais_test_assert_error_contains("zero point [2]");
    AIS_ASSERT_STATUS(
        ais_op_run("DequantizeLinear", NULL, (const ais_tensor *[]){xi, s1}, 2, &y, 1),
        AIS_E_DTYPE);
    ais_test_assert_error_contains("x has dtype i64");
    /* before opset 13 the scale is per tensor only */
    ais_tensor *s3 = mk(AIS_DTYPE_F32, AIS_SHAPE(3), (double[]){1, 2, 3});
    AIS_ASSERT_STATUS(
        ais_op_run_opset("", "QuantizeLinear", 10, NULL, (const ais_tensor *[]){x, s3}, 2, &y, 1),
        AIS_E_SHAPE);
    ais_test_assert_error_contains("before opset 13");
    assert_null(y);
    /* empty input quantizes to an empty output */
    ais_tensor *e = ais_test_rand_f32(AIS_SHAPE(0, 3), -1, 1);
    AIS_ASSERT_OK(ais_op_run("QuantizeLinear", NULL, (const ais_tensor *[]){e, s1}, 2, &y, 1));
    assert_int_equal(ais_tensor_size(y), 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(e);
    ais_tensor_destroy(s3);
    ais_tensor_destroy(x);
    ais_tensor_destroy(s2);
    ais_tensor_destroy(s1);
    ais_tensor_destroy(zf);
    ais_tensor_destroy(zi);
    ais_tensor_destroy(xi);
}

typedef struct {
    ais_tensor *x, *y[3];
} sweep_ctx;

static ais_status sweep_run(void *p) {
    sweep_ctx *c = p;
    return ais_op_run("DynamicQuantizeLinear", NULL, (const ais_tensor *[]){c->x}, 1, c->y, 3);
}
static void test_quantize_oom(void **state) {
    (void)state;
    sweep_ctx c = {0};
    c.x = ais_test_rand_f32(AIS_SHAPE(5, 3), -1, 1);
    assert_true(
        AIS_TEST_OOM_SWEEP("DynamicQuantizeLinear", sweep_run, &c, 20, AIS_OWN_TENSORS(c.y)) >= 3);
    ais_tensor_destroy(c.x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_per_axis), cmocka_unit_test(test_quantize_blocked),
        cmocka_unit_test(test_quantize_float8),   cmocka_unit_test(test_dynamic_quantize),
        cmocka_unit_test(test_quantize_errors),   cmocka_unit_test(test_quantize_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
