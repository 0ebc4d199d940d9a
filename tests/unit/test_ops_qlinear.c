/* test_ops_qlinear.c - MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv and the
 * com.microsoft quantized operators: formulas written out here, zero point shapes, saturation,
 * and the errors on inputs the specifications refuse. */
#include <math.h>
#include <string.h>

#include "ops/op.h"
#include "tensor/tensor.h"
#include "test_util.h"

static double at(const ais_tensor *t, size_t i) { return ais__load_f64(t->data, t->dtype, i); }

static ais_tensor *mk(ais_dtype dt, const int64_t *shape, size_t ndim, const double *v) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais__tensor_new(dt, shape, ndim, &t));
    for (size_t i = 0; i < t->numel; i++)
        ais__store_f64(t->data, dt, i, v[i]);
    return t;
}

/* Random 8-bit values over the whole range of the type. */
static ais_tensor *rand8(ais_dtype dt, const int64_t *shape, size_t ndim) {
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(ais__tensor_new(dt, shape, ndim, &t));
    for (size_t i = 0; i < t->numel; i++)
        ais__store_f64(
            t->data, dt, i,
            (double)(dt == AIS_DTYPE_U8 ? ais_test_randint(0, 255) : ais_test_randint(-128, 127)));
    return t;
}

/* [2, 3, 4] x [4, 5] with a per-row a_zero_point and a per-column b_zero_point, u8 x s8. */
static void test_matmul_integer(void **state) {
    (void)state;
    ais_tensor *a = rand8(AIS_DTYPE_U8, AIS_SHAPE(2, 3, 4));
    ais_tensor *b = rand8(AIS_DTYPE_I8, AIS_SHAPE(4, 5));
    ais_tensor *az = mk(AIS_DTYPE_U8, AIS_SHAPE(3), (double[]){3, 200, 128});
    ais_tensor *bz = mk(AIS_DTYPE_I8, AIS_SHAPE(5), (double[]){-128, 0, 5, 127, -1});
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(
        ais_op_run("MatMulInteger", NULL, (const ais_tensor *[]){a, b, az, bz}, 4, &y, 1));
    assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_I32);
    assert_int_equal(ais_tensor_size(y), 2 * 3 * 5);
    for (size_t t = 0; t < 2; t++)
        for (size_t i = 0; i < 3; i++)
            for (size_t j = 0; j < 5; j++) {
                double s = 0;
                for (size_t k = 0; k < 4; k++)
                    s += (at(a, (t * 3 + i) * 4 + k) - at(az, i)) * (at(b, k * 5 + j) - at(bz, j));
                assert_true(at(y, (t * 3 + i) * 5 + j) == s);
            }
    /* a zero point with neither one nor M values */
    ais_tensor *bad = mk(AIS_DTYPE_U8, AIS_SHAPE(2), (double[]){1, 2});
    ais_tensor *y2 = NULL;
    AIS_ASSERT_STATUS(
        ais_op_run("MatMulInteger", NULL, (const ais_tensor *[]){a, b, bad, bz}, 4, &y2, 1),
        AIS_E_SHAPE);
    ais_test_assert_error_contains("a_zero_point must be a scalar or have 3 values");
    /* a zero point of another type than its matrix */
    AIS_ASSERT_STATUS(
        ais_op_run("MatMulInteger", NULL, (const ais_tensor *[]){a, b, az, az}, 4, &y2, 1),
        AIS_E_DTYPE);
    assert_null(y2);
    ais_tensor *f = ais_test_rand_f32(AIS_SHAPE(4, 5), -1, 1);
    AIS_ASSERT_STATUS(ais_op_run("MatMulInteger", NULL, (const ais_tensor *[]){a, f}, 2, &y2, 1),
                      AIS_E_DTYPE);
    ais_tensor *const all[] = {a, b, az, bz, y, bad, f};
    for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
        ais_tensor_destroy(all[i]);
}

/* QLinearMatMul rounds half to even and saturates; per-column b scale and zero point. */
static void test_qlinear_matmul_round_saturate(void **state) {
    (void)state;
    /* a = [[1, 3]] (zero point 0, scale 1), b columns: sums 1*1 + 3*1 = 4 etc. */
    ais_tensor *a = mk(AIS_DTYPE_I8, AIS_SHAPE(1, 2), (double[]){1, 3});
    ais_tensor *b = mk(AIS_DTYPE_I8, AIS_SHAPE(2, 4), (double[]){1, 127, 2, -3, 1, 127, 0, 0});
    ais_tensor *one = mk(AIS_DTYPE_F32, AIS_SHAPE(), (double[]){1});
    ais_tensor *z8 = mk(AIS_DTYPE_I8, AIS_SHAPE(), (double[]){0});
    /* column scales: 4 * 0.625 = 2.5 -> 2 (even), 508 * 1 -> 127, 2 * 1.75 = 3.5 -> 4,
     * -3 * 1 + zero point -126 -> -128 saturated from -129 */
    ais_tensor *bs = mk(AIS_DTYPE_F32, AIS_SHAPE(4), (double[]){0.625, 1, 1.75, 1});
    ais_tensor *bz = mk(AIS_DTYPE_I8, AIS_SHAPE(4), (double[]){0, 0, 0, 0});
    ais_tensor *yz = mk(AIS_DTYPE_I8, AIS_SHAPE(), (double[]){0});
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_op_run("QLinearMatMul", NULL,
                             (const ais_tensor *[]){a, one, z8, b, bs, bz, one, yz}, 8, &y, 1));
    assert_int_equal(ais_tensor_dtype(y), AIS_DTYPE_I8);
    assert_true(at(y, 0) == 2 && at(y, 1) == 127 && at(y, 2) == 4 && at(y, 3) == -3);
    ais_tensor_destroy(y);
    y = NULL;
    ais_tensor *yz2 = mk(AIS_DTYPE_I8, AIS_SHAPE(), (double[]){-126});
    AIS_ASSERT_OK(ais_op_run("QLinearMatMul", NULL,
                             (const ais_tensor *[]){a, one, z8, b, bs, bz, one, yz2}, 8, &y, 1));
    assert_true(at(y, 0) == -124 && at(y, 1) == 127 && at(y, 3) == -128);
    /* y_scale must be per tensor */
    ais_tensor *y2 = NULL;
    AIS_ASSERT_STATUS(ais_op_run("QLinearMatMul", NULL,
                                 (const ais_tensor *[]){a, one, z8, b, bs, bz, bs, yz}, 8, &y2, 1),
                      AIS_E_SHAPE);
    ais_test_assert_error_contains("y_scale must be a scalar");
    ais_tensor *const all[] = {a, b, one, z8, bs, bz, yz, yz2, y};
    for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
        ais_tensor_destroy(all[i]);
}

/* A 3-D ConvInteger over one plane of depth whose one depth tap falls in the padding (pad 1
 * before, stride 2): every sum is 0. The "same"-width shortcut of the column gathering once
 * took that tap as inside (it checked the plane, not the pad) and summed the plane. */
static void test_conv_integer_depth_pad(void **state) {
    (void)state;
    ais_tensor *x = rand8(AIS_DTYPE_U8, AIS_SHAPE(1, 2, 1, 3, 3));
    ais_tensor *wt = rand8(AIS_DTYPE_I8, AIS_SHAPE(3, 2, 1, 1, 1));
    ais_tensor *xz = mk(AIS_DTYPE_U8, AIS_SHAPE(), (double[]){7});
    ais_attrs *at_ = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at_));
    AIS_ASSERT_OK(ais_attrs_set_ints(at_, "pads", (const int64_t[]){1, 0, 0, 0, 0, 0}, 6));
    AIS_ASSERT_OK(ais_attrs_set_ints(at_, "strides", (const int64_t[]){2, 1, 1}, 3));
    ais_tensor *acc = NULL;
    AIS_ASSERT_OK(
        ais_op_run("ConvInteger", at_, (const ais_tensor *[]){x, wt, xz, NULL}, 4, &acc, 1));
    assert_int_equal(ais_tensor_size(acc), 3 * 1 * 3 * 3);
    for (size_t i = 0; i < 27; i++)
        assert_int_equal((int)at(acc, i), 0);
    ais_attrs_destroy(at_);
    ais_tensor *const all[] = {x, wt, xz, acc};
    for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
        ais_tensor_destroy(all[i]);
}

/* QLinearConv with padding, stride, groups, per-channel weights and bias against the formula;
 * ConvInteger on the same data gives the int32 sums. */
static void test_qlinear_conv(void **state) {
    (void)state;
    const int64_t n = 2, c = 4, h = 5, w = 6, m = 6, g = 2, k = 3;
    ais_tensor *x = rand8(AIS_DTYPE_U8, AIS_SHAPE(n, c, h, w));
    ais_tensor *wt = rand8(AIS_DTYPE_I8, AIS_SHAPE(m, c / g, k, k));
    ais_tensor *xs = mk(AIS_DTYPE_F32, AIS_SHAPE(), (double[]){0.02});
    ais_tensor *xz = mk(AIS_DTYPE_U8, AIS_SHAPE(), (double[]){131});
    double wsv[6], wzv[6], bv[6];
    for (int i = 0; i < 6; i++) {
        wsv[i] = ais_test_uniform(0.001, 0.01);
        wzv[i] = 0; /* QLinearConv's weight zero points are 0 in practice; ConvInteger below */
        bv[i] = (double)ais_test_randint(-2000, 2000);
    }
    ais_tensor *ws = mk(AIS_DTYPE_F32, AIS_SHAPE(6), wsv);
    ais_tensor *wz = mk(AIS_DTYPE_I8, AIS_SHAPE(6), wzv);
    ais_tensor *ys = mk(AIS_DTYPE_F32, AIS_SHAPE(), (double[]){0.05});
    ais_tensor *yz = mk(AIS_DTYPE_U8, AIS_SHAPE(), (double[]){100});
    ais_tensor *bias = mk(AIS_DTYPE_I32, AIS_SHAPE(6), bv);
    ais_attrs *at_ = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at_));
    AIS_ASSERT_OK(ais_attrs_set_int(at_, "group", g));
    AIS_ASSERT_OK(ais_attrs_set_ints(at_, "pads", (const int64_t[]){1, 0, 1, 2}, 4));
    AIS_ASSERT_OK(ais_attrs_set_ints(at_, "strides", (const int64_t[]){2, 1}, 2));
    ais_tensor *y = NULL, *acc = NULL;
    AIS_ASSERT_OK(ais_op_run(
        "QLinearConv", at_, (const ais_tensor *[]){x, xs, xz, wt, ws, wz, ys, yz, bias}, 9, &y, 1));
    AIS_ASSERT_OK(
        ais_op_run("ConvInteger", at_, (const ais_tensor *[]){x, wt, xz, NULL}, 4, &acc, 1));
    /* out: h (5 + 1 + 1 - 3) / 2 + 1 = 3, w 6 + 0 + 2 - 3 + 1 = 6 */
    const int64_t oh = 3, ow = 6;
    assert_int_equal(ais_tensor_size(y), n * m * oh * ow);
    assert_int_equal(ais_tensor_dtype(acc), AIS_DTYPE_I32);
    for (int64_t b = 0; b < n; b++)
        for (int64_t o = 0; o < m; o++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    double s = 0;
                    int64_t gi = o / (m / g);
                    for (int64_t cc = 0; cc < c / g; cc++)
                        for (int64_t ki = 0; ki < k; ki++)
                            for (int64_t kj = 0; kj < k; kj++) {
                                int64_t ii = i * 2 - 1 + ki, jj = j - 0 + kj;
                                if (ii < 0 || ii >= h || jj < 0 || jj >= w) continue;
                                s += (at(x, (size_t)(((b * c + gi * (c / g) + cc) * h + ii) * w +
                                                     jj)) -
                                      131) *
                                     at(wt, (size_t)(((o * (c / g) + cc) * k + ki) * k + kj));
                            }
                    size_t yi = (size_t)(((b * m + o) * oh + i) * ow + j);
                    assert_true(at(acc, yi) == s);
                    double mul = (double)(float)((float)(0.02f * (float)wsv[o]) / 0.05f);
                    double q = rint((s + bv[o]) * mul) + 100;
                    q = q < 0 ? 0 : q > 255 ? 255 : q;
                    if (at(y, yi) != q) fail_msg("element %zu: got %g want %g", yi, at(y, yi), q);
                }
    /* a weight zero point per output channel must have M values */
    ais_tensor *wz3 = mk(AIS_DTYPE_I8, AIS_SHAPE(3), (double[]){0, 0, 0});
    ais_tensor *y2 = NULL;
    AIS_ASSERT_STATUS(ais_op_run("QLinearConv", at_,
                                 (const ais_tensor *[]){x, xs, xz, wt, ws, wz3, ys, yz}, 8, &y2, 1),
                      AIS_E_SHAPE);
    ais_test_assert_error_contains("w_zero_point must be a scalar or have 6 values");
    /* group that does not divide the channels */
    AIS_ASSERT_OK(ais_attrs_set_int(at_, "group", 3));
    AIS_ASSERT_STATUS(ais_op_run("ConvInteger", at_, (const ais_tensor *[]){x, wt}, 2, &y2, 1),
                      AIS_E_SHAPE);
    ais_test_assert_error_contains("group 3 does not fit");
    assert_null(y2);
    ais_attrs_destroy(at_);
    ais_tensor *const all[] = {x, wt, xs, xz, ws, wz, ys, yz, bias, y, acc, wz3};
    for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
        ais_tensor_destroy(all[i]);
}

/* com.microsoft: QLinearAdd with broadcasting, QLinearConcat requantizing, bad input counts. */
static void test_com_microsoft(void **state) {
    (void)state;
    ais_tensor *a = mk(AIS_DTYPE_U8, AIS_SHAPE(2, 2), (double[]){10, 20, 30, 255});
    ais_tensor *b = mk(AIS_DTYPE_U8, AIS_SHAPE(2), (double[]){5, 0});
    ais_tensor *sa = mk(AIS_DTYPE_F32, AIS_SHAPE(), (double[]){0.5});
    ais_tensor *sb = mk(AIS_DTYPE_F32, AIS_SHAPE(), (double[]){0.25});
    ais_tensor *sc = mk(AIS_DTYPE_F32, AIS_SHAPE(), (double[]){1});
    ais_tensor *z = mk(AIS_DTYPE_U8, AIS_SHAPE(), (double[]){0});
    ais_tensor *z10 = mk(AIS_DTYPE_U8, AIS_SHAPE(), (double[]){10});
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_op_run_opset("com.microsoft", "QLinearAdd", 1, NULL,
                                   (const ais_tensor *[]){a, sa, z, b, sb, z, sc, z10}, 8, &y, 1));
    /* (10-0)*.5 + 5*.25 = 6.25 -> 6 + 10; 20*.5 + 0 = 10 -> 20; 15 + 1.25 -> 16 + 10 = 26;
     * 127.5 -> 128 (even) + 10 = 138 */
    assert_true(at(y, 0) == 16 && at(y, 1) == 20 && at(y, 2) == 26 && at(y, 3) == 138);
    ais_tensor_destroy(y);
    y = NULL;
    /* concat along axis 1: a requantized from scale .5 to 1 (zero point 10), b kept (same) */
    ais_attrs *at_ = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at_));
    AIS_ASSERT_OK(ais_attrs_set_int(at_, "axis", 1));
    ais_tensor *b2 = mk(AIS_DTYPE_U8, AIS_SHAPE(2, 1), (double[]){7, 9});
    AIS_ASSERT_OK(ais_op_run_opset("com.microsoft", "QLinearConcat", 1, at_,
                                   (const ais_tensor *[]){sc, z10, a, sa, z, b2, sc, z10}, 8, &y,
                                   1));
    assert_int_equal(ais_tensor_size(y), 6);
    /* row 0: 10*.5 = 5 -> 15, 20*.5 = 10 -> 20, then 7; row 1: 15 -> 25, 127.5 -> 138, 9 */
    double want[] = {15, 20, 7, 25, 138, 9};
    for (size_t i = 0; i < 6; i++)
        assert_true(at(y, i) == want[i]);
    ais_tensor *y2 = NULL;
    AIS_ASSERT_STATUS(ais_op_run_opset("com.microsoft", "QLinearConcat", 1, at_,
                                       (const ais_tensor *[]){sc, z10, a, sa, z, b2}, 6, &y2, 1),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("triplets");
    ais_tensor *b3 = mk(AIS_DTYPE_U8, AIS_SHAPE(3, 1), (double[]){1, 2, 3});
    AIS_ASSERT_STATUS(ais_op_run_opset("com.microsoft", "QLinearConcat", 1, at_,
                                       (const ais_tensor *[]){sc, z10, a, sa, z, b3, sc, z10}, 8,
                                       &y2, 1),
                      AIS_E_SHAPE);
    assert_null(y2);
    ais_attrs_destroy(at_);
    ais_tensor *const all[] = {a, b, sa, sb, sc, z, z10, y, b2, b3};
    for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
        ais_tensor_destroy(all[i]);
}

/* Every allocation of QLinearMatMul (output, int32 scratch) and DynamicQuantizeMatMul (output,
 * quantized A) failing in turn: an error each time, nothing leaked (ASan). */
typedef struct {
    const ais_tensor *in[8];
    ais_tensor *y[1];
    bool dqmm;
} sweep_ctx;

static ais_status sweep_run(void *p) {
    sweep_ctx *c = p;
    if (c->dqmm)
        return ais_op_run_opset("com.microsoft", "DynamicQuantizeMatMul", 1, NULL, c->in, 3, c->y,
                                1);
    return ais_op_run("QLinearMatMul", NULL, c->in, 8, c->y, 1);
}

static void test_qlinear_oom(void **state) {
    (void)state;
    ais_tensor *a = rand8(AIS_DTYPE_U8, AIS_SHAPE(3, 4));
    ais_tensor *b = rand8(AIS_DTYPE_I8, AIS_SHAPE(4, 5));
    ais_tensor *s = mk(AIS_DTYPE_F32, AIS_SHAPE(), (double[]){0.1});
    ais_tensor *zu = mk(AIS_DTYPE_U8, AIS_SHAPE(), (double[]){128});
    ais_tensor *zs = mk(AIS_DTYPE_I8, AIS_SHAPE(), (double[]){0});
    ais_tensor *af = ais_test_rand_f32(AIS_SHAPE(3, 4), -1, 1);
    sweep_ctx c = {.in = {a, s, zu, b, s, zs, s, zu}};
    assert_true(AIS_TEST_OOM_SWEEP("QLinearMatMul", sweep_run, &c, 20, AIS_OWN_TENSORS(c.y)) >= 2);
    sweep_ctx d = {.in = {af, b, s}, .dqmm = true};
    assert_true(
        AIS_TEST_OOM_SWEEP("DynamicQuantizeMatMul", sweep_run, &d, 20, AIS_OWN_TENSORS(d.y)) >= 2);
    ais_tensor *const all[] = {a, b, s, zu, zs, af};
    for (size_t i = 0; i < AIS__ARRAY_LEN(all); i++)
        ais_tensor_destroy(all[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_integer), cmocka_unit_test(test_qlinear_matmul_round_saturate),
        cmocka_unit_test(test_qlinear_conv),   cmocka_unit_test(test_com_microsoft),
        cmocka_unit_test(test_qlinear_oom),    cmocka_unit_test(test_conv_integer_depth_pad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
