/* test_ops_qdq_fast.c - the 8-bit paths that a QDQ model runs once fuse_qdq.c has fused it:
 * each against a slower path the library already had (or a formula written out here), on random
 * data, over the shapes and parameters where a fast path could go wrong. */
#include <math.h>
#include <string.h>

#include "tensor/tensor.h"
#include "test_util.h"

static double at(const ais_tensor *t, size_t i) { return ais__load_f64(t->data, t->dtype, i); }

static ais_tensor *rand8(ais_dtype dt, const int64_t *shape, size_t ndim) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais__tensor_new(dt, shape, ndim, &t));
    for (size_t i = 0; i < t->numel; i++)
        ais__store_f64(
            t->data, dt, i,
            (double)(dt == AIS_DTYPE_U8 ? ais_test_randint(0, 255) : ais_test_randint(-128, 127)));
    return t;
}

static ais_tensor *to_f32(const ais_tensor *t) {
    ais_tensor *f = NULL;
    AIS_ASSERT_OK(ais__tensor_new(AIS_DTYPE_F32, t->dims, t->ndim, &f));
    for (size_t i = 0; i < t->numel; i++)
        ((float *)f->data)[i] = (float)at(t, i);
    return f;
}

/* 8-bit MaxPool (the byte path) against f32 MaxPool of the same values (the vector kernel or the
 * generic loop): random 1-, 2- and 3-D geometries with strides, dilations, asymmetric pads and
 * ceil_mode, u8 and s8 with the extremes present, 1 and 2 threads. */
static void test_maxpool8_vs_f32(void **state) {
    (void)state;
    for (int threads = 1; threads <= 2; threads++) {
        AIS_ASSERT_OK(ais_set_num_threads(threads));
        for (int iter = 0; iter < 120; iter++) {
            size_t nsp = (size_t)ais_test_randint(1, 3);
            int64_t shape[5] = {ais_test_randint(1, 2), ais_test_randint(1, 5)};
            int64_t k[3], s[3], d[3], pads[6];
            for (size_t a = 0; a < nsp; a++) {
                k[a] = ais_test_randint(1, 3);
                s[a] = ais_test_randint(1, 3);
                d[a] = ais_test_randint(1, 2);
                int64_t span = (k[a] - 1) * d[a] + 1;
                shape[2 + a] = span + ais_test_randint(0, nsp == 3 ? 5 : 20);
                /* pads below the kernel's extent: every window keeps a tap inside */
                pads[a] = ais_test_randint(0, k[a] - 1);
                pads[nsp + a] = ais_test_randint(0, k[a] - 1);
            }
            ais_dtype dt = iter % 2 ? AIS_DTYPE_I8 : AIS_DTYPE_U8;
            ais_tensor *x = rand8(dt, shape, 2 + nsp);
            ais__store_f64(x->data, dt, 0, dt == AIS_DTYPE_U8 ? 0 : -128);
            ais__store_f64(x->data, dt, x->numel - 1, dt == AIS_DTYPE_U8 ? 255 : 127);
            ais_tensor *xf = to_f32(x);
            ais_attrs *a = NULL;
            AIS_ASSERT_OK(ais_attrs_create(&a));
            AIS_ASSERT_OK(ais_attrs_set_ints(a, "kernel_shape", k, nsp));
            AIS_ASSERT_OK(ais_attrs_set_ints(a, "strides", s, nsp));
            AIS_ASSERT_OK(ais_attrs_set_ints(a, "dilations", d, nsp));
            AIS_ASSERT_OK(ais_attrs_set_ints(a, "pads", pads, 2 * nsp));
            AIS_ASSERT_OK(ais_attrs_set_int(a, "ceil_mode", iter % 3 == 0));
            ais_tensor *y = NULL, *yf = NULL;
            AIS_ASSERT_OK(ais_op_run("MaxPool", a, (const ais_tensor *[]){x}, 1, &y, 1));
            AIS_ASSERT_OK(ais_op_run("MaxPool", a, (const ais_tensor *[]){xf}, 1, &yf, 1));
            assert_int_equal(ais_tensor_dtype(y), dt);
            assert_int_equal(ais_tensor_size(y), ais_tensor_size(yf));
            for (size_t i = 0; i < ais_tensor_size(y); i++)
                if (at(y, i) != at(yf, i))
                    fail_msg("iter %d (%zu-D, %s) element %zu: %g, f32 path %g", iter, nsp,
                             ais_dtype_name(dt), i, at(y, i), at(yf, i));
            ais_attrs_destroy(a);
            ais_tensor *const all[] = {x, xf, y, yf};
            for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
                ais_tensor_destroy(all[i]);
        }
    }
    AIS_ASSERT_OK(ais_set_num_threads(1));
}

static ais_tensor *scalar(ais_dtype dt, double v) {
    return ais_test_tensor(dt, AIS_SHAPE(), (double[]){v});
}

/* com.microsoft QLinearAdd / QLinearMul on same-shape inputs (the flat pass) against the
 * broadcasting loop: b given as one [1, n] row that broadcasts over a's rows, and again tiled to
 * a's shape; every element must agree. Random scales from 1/64 to 64 times each other (so sums
 * saturate at both ends), zero points over the whole type, u8 and s8. */
static void test_qlinear_add_mul_flat(void **state) {
    (void)state;
    for (int iter = 0; iter < 200; iter++) {
        ais_dtype dt = iter % 2 ? AIS_DTYPE_I8 : AIS_DTYPE_U8;
        const char *op = iter % 4 < 2 ? "QLinearAdd" : "QLinearMul";
        int64_t rows = ais_test_randint(2, 4), n = ais_test_randint(1, 300);
        ais_tensor *a = rand8(dt, AIS_SHAPE(rows, n)), *row = rand8(dt, AIS_SHAPE(1, n)), *b = NULL;
        AIS_ASSERT_OK(ais__tensor_new(dt, AIS_SHAPE(rows, n), &b));
        for (int64_t r = 0; r < rows; r++)
            memcpy((char *)b->data + r * n, row->data, (size_t)n);
        double zlo = dt == AIS_DTYPE_U8 ? 0 : -128, zhi = zlo + 255;
        ais_tensor *p[6];
        for (int k = 0; k < 3; k++) {
            p[2 * k] = scalar(AIS_DTYPE_F32, exp2(ais_test_uniform(-9, -3)));
            p[2 * k + 1] = scalar(dt, (double)ais_test_randint((int64_t)zlo, (int64_t)zhi));
        }
        ais_tensor *yb = NULL, *yf = NULL;
        AIS_ASSERT_OK(ais_op_run_opset(
            "com.microsoft", op, 1, NULL,
            (const ais_tensor *[]){a, p[0], p[1], row, p[2], p[3], p[4], p[5]}, 8, &yb, 1));
        AIS_ASSERT_OK(ais_op_run_opset(
            "com.microsoft", op, 1, NULL,
            (const ais_tensor *[]){a, p[0], p[1], b, p[2], p[3], p[4], p[5]}, 8, &yf, 1));
        assert_int_equal(ais_tensor_size(yf), (size_t)(rows * n));
        for (size_t i = 0; i < ais_tensor_size(yf); i++)
            if (at(yf, i) != at(yb, i))
                fail_msg("%s %s iter %d element %zu: flat %g, broadcast %g", op, ais_dtype_name(dt),
                         iter, i, at(yf, i), at(yb, i));
        ais_tensor *const all[] = {a, row, b, yb, yf, p[0], p[1], p[2], p[3], p[4], p[5]};
        for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
            ais_tensor_destroy(all[i]);
    }
    /* ties round half to even on the flat path too */
    ais_tensor *a = ais_test_tensor(AIS_DTYPE_U8, AIS_SHAPE(4), (double[]){1, 3, 5, 0});
    ais_tensor *b = ais_test_tensor(AIS_DTYPE_U8, AIS_SHAPE(4), (double[]){0, 0, 0, 0});
    ais_tensor *half = scalar(AIS_DTYPE_F32, 0.5), *one = scalar(AIS_DTYPE_F32, 1);
    ais_tensor *z0 = scalar(AIS_DTYPE_U8, 0), *z1 = scalar(AIS_DTYPE_U8, 1), *y = NULL;
    AIS_ASSERT_OK(ais_op_run_opset("com.microsoft", "QLinearAdd", 1, NULL,
                                   (const ais_tensor *[]){a, half, z0, b, one, z1, one, z1}, 8, &y,
                                   1));
    /* a * .5 + (0 - 1) * 1: 0.5 - 1 = -0.5 -> 0, 1.5 - 1 = .5 -> 0, 2.5 - 1 = 1.5 -> 2, -1; + 1 */
    ais_test_assert_close_values(y, (double[]){1, 1, 3, 0}, 4, 0, 0);
    ais_tensor *const all[] = {a, b, half, one, z0, z1, y};
    for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
        ais_tensor_destroy(all[i]);
}

/* QuantizeLinear f32 -> u8/s8 and DequantizeLinear back with one scale (the typed passes)
 * against the per-axis loop given the same scale and zero point for every channel, on values
 * that include exact ties, NaN, +-inf, huge values and -0; plus the formula written out. */
static void test_quantize_per_tensor(void **state) {
    (void)state;
    for (int iter = 0; iter < 60; iter++) {
        ais_dtype dt = iter % 2 ? AIS_DTYPE_I8 : AIS_DTYPE_U8;
        int64_t c = 3, n = ais_test_randint(1, 200);
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(c, n), -300, 300);
        float *xv = x->data;
        /* a power-of-two scale makes k + 0.5 steps exact ties */
        float s = iter % 3 == 0 ? exp2f((float)ais_test_randint(-6, 2))
                                : (float)ais_test_uniform(0.001, 2);
        for (int64_t i = 0; i < c * n; i += 7)
            xv[i] = ((float)ais_test_randint(-300, 300) + 0.5f) * s;
        const float special[] = {NAN, INFINITY, -INFINITY, 3e38f, -3e38f, -0.0f, 1e-30f};
        for (size_t i = 0; i < AIS__ARRAY_LEN(special) && i < (size_t)(c * n); i++)
            xv[(size_t)ais_test_randint(0, c * n - 1)] = special[i];
        double zlo = dt == AIS_DTYPE_U8 ? 0 : -128;
        double z = (double)ais_test_randint((int64_t)zlo, (int64_t)zlo + 255);
        ais_tensor *s1 = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(), (double[]){s});
        ais_tensor *z1 = ais_test_tensor(dt, AIS_SHAPE(), (double[]){z});
        ais_tensor *sc = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(3), (double[]){s, s, s});
        ais_tensor *zc = ais_test_tensor(dt, AIS_SHAPE(3), (double[]){z, z, z});
        ais_attrs *ax = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&ax));
        AIS_ASSERT_OK(ais_attrs_set_int(ax, "axis", 0));
        ais_tensor *q1 = NULL, *qc = NULL, *d1 = NULL, *dc = NULL;
        AIS_ASSERT_OK(
            ais_op_run("QuantizeLinear", NULL, (const ais_tensor *[]){x, s1, z1}, 3, &q1, 1));
        AIS_ASSERT_OK(
            ais_op_run("QuantizeLinear", ax, (const ais_tensor *[]){x, sc, zc}, 3, &qc, 1));
        assert_int_equal(ais_tensor_dtype(q1), dt);
        for (size_t i = 0; i < (size_t)(c * n); i++) {
            double q = (double)(xv[i] / s), r = isnan(q) ? 0 : rint(q);
            double want =
                fmin(fmax(fmax(fmin(r, 2147483647.0), -2147483648.0) + z, zlo), zlo + 255);
            if (at(q1, i) != at(qc, i) || at(q1, i) != want)
                fail_msg("QuantizeLinear %s iter %d x %.9g / %.9g: one scale %g, per axis %g, "
                         "formula %g",
                         ais_dtype_name(dt), iter, (double)xv[i], (double)s, at(q1, i), at(qc, i),
                         want);
        }
        AIS_ASSERT_OK(
            ais_op_run("DequantizeLinear", NULL, (const ais_tensor *[]){q1, s1, z1}, 3, &d1, 1));
        AIS_ASSERT_OK(
            ais_op_run("DequantizeLinear", ax, (const ais_tensor *[]){q1, sc, zc}, 3, &dc, 1));
        for (size_t i = 0; i < (size_t)(c * n); i++) {
            float want = (float)(at(q1, i) - z) * s;
            if (at(d1, i) != at(dc, i) || at(d1, i) != (double)want)
                fail_msg("DequantizeLinear %s iter %d q %g: one scale %g, per axis %g, want %g",
                         ais_dtype_name(dt), iter, at(q1, i), at(d1, i), at(dc, i), (double)want);
        }
        ais_attrs_destroy(ax);
        ais_tensor *const all[] = {x, s1, z1, sc, zc, q1, qc, d1, dc};
        for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
            ais_tensor_destroy(all[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxpool8_vs_f32),
        cmocka_unit_test(test_qlinear_add_mul_flat),
        cmocka_unit_test(test_quantize_per_tensor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
