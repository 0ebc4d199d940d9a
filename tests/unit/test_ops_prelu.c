/* test_ops_prelu.c - PRelu's two broadcasting rules: per channel before opset 7 (as PyTorch's
 * exporter emits it), unidirectional NumPy broadcasting from 7 on. */
#include "test_util.h"

static void check_prelu(int64_t opset, const int64_t *xs, size_t xn, const int64_t *ss, size_t sn,
                        int channel_rule) {
    ais_tensor *x = ais_test_rand_f32(xs, xn, -2, 2), *slope = ais_test_rand_f32(ss, sn, -1, 1);
    const ais_tensor *in[] = {x, slope};
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_op_run_opset("", "PRelu", opset, NULL, in, 2, &y, 1));
    const float *px = ais_tensor_data(x), *ps = ais_tensor_data(slope), *py = ais_tensor_data(y);
    size_t n = ais_tensor_size(x), c = (size_t)xs[1], inner = n / (size_t)xs[0] / c;
    size_t last = (size_t)xs[xn - 1];
    for (size_t i = 0; i < n; i++) {
        size_t k = channel_rule ? (i / inner) % c : (ais_tensor_size(slope) == 1 ? 0 : i % last);
        float want = px[i] < 0 ? ps[k] * px[i] : px[i];
        assert_float_equal(py[i], want, 1e-6);
    }
    ais_tensor_destroy(x);
    ais_tensor_destroy(slope);
    ais_tensor_destroy(y);
}

static void test_prelu_channel_slope_before_opset7(void **state) {
    (void)state;
    check_prelu(6, AIS_SHAPE(2, 3, 4, 5), AIS_SHAPE(3), 1);
    check_prelu(6, AIS_SHAPE(2, 3, 4), AIS_SHAPE(3), 1);
    check_prelu(6, AIS_SHAPE(2, 3), AIS_SHAPE(3), 1);
    check_prelu(6, AIS_SHAPE(2, 3, 4), AIS_SHAPE(1), 0);
}

static void test_prelu_numpy_broadcast_from_opset7(void **state) {
    (void)state;
    check_prelu(7, AIS_SHAPE(2, 3, 5), AIS_SHAPE(5), 0);
    check_prelu(16, AIS_SHAPE(2, 3, 5), AIS_SHAPE(1), 0);
    /* a per-channel slope of 3 does not broadcast to [2, 3, 4] under NumPy rules */
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3, 4), -1, 1), *s = ais_test_rand_f32(AIS_SHAPE(3), -1, 1);
    const ais_tensor *in[] = {x, s};
    ais_tensor *y = NULL;
    AIS_ASSERT_STATUS(ais_op_run_opset("", "PRelu", 9, NULL, in, 2, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("PRelu");
    assert_null(y);
    ais_tensor_destroy(x);
    ais_tensor_destroy(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prelu_channel_slope_before_opset7),
        cmocka_unit_test(test_prelu_numpy_broadcast_from_opset7),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
