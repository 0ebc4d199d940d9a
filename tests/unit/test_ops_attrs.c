/* test_ops_attrs.c - attributes of the wrong type are errors (named node, attribute, expected and
 * actual type) for every operator, through eager calls and model loads; attribute values that
 * look like sentinels are not mistaken for missing attributes. */
#include <stdint.h>
#include <string.h>

#include "graph/model.h"
#include "test_util.h"

static ais_attrs *attrs_new(void) {
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    return a;
}

/* Runs op on `x` (and `y` when given) with attrs and expects a type error naming the attribute
 * and both types. */
static void expect_type_error(const char *op, ais_attrs *a, const ais_tensor *x,
                              const ais_tensor *y, const char *needle) {
    const ais_tensor *in[2] = {x, y};
    ais_tensor *out = NULL;
    AIS_ASSERT_STATUS(ais_test_run_op(op, a, in, y ? 2 : 1, &out, 1), AIS_E_INVALID_ARGUMENT);
    assert_null(out);
    ais_test_assert_error_contains(op);
    ais_test_assert_error_contains(needle);
}

static void test_wrong_type_eager(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    ais_attrs *a = attrs_new();
    /* Transpose with perm as FLOATS used to run with the default (reversed) permutation. */
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "perm", (const float[]){1, 0}, 2));
    expect_type_error("Transpose", a, x, NULL, "attribute 'perm' is FLOATS, expected INTS");
    ais_attrs_destroy(a);

    a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_string(a, "axis", "0"));
    expect_type_error("Softmax", a, x, NULL, "attribute 'axis' is STRING, expected INT");
    ais_attrs_destroy(a);

    a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "alpha", (const int64_t[]){2}, 1));
    expect_type_error("LeakyRelu", a, x, NULL, "attribute 'alpha' is INTS, expected FLOAT");
    ais_attrs_destroy(a);

    a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_float(a, "to", 1.0f));
    expect_type_error("Cast", a, x, NULL, "attribute 'to' is FLOAT, expected INT");
    ais_attrs_destroy(a);

    a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_float(a, "axis", 0.0f));
    expect_type_error("Concat", a, x, x, "attribute 'axis' is FLOAT, expected INT");
    ais_attrs_destroy(a);

    ais_tensor *w = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_string(a, "transB", "yes"));
    expect_type_error("Gemm", a, x, w, "attribute 'transB' is STRING, expected INT");
    ais_attrs_destroy(a);
    ais_tensor_destroy(w);

    /* Unchanged: an INT where a FLOAT is expected is converted, the right types run. */
    a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_int(a, "alpha", 2));
    ais_tensor *out = NULL;
    const ais_tensor *in[1] = {x};
    AIS_ASSERT_OK(ais_test_run_op("LeakyRelu", a, in, 1, &out, 1));
    ais_tensor_destroy(out);
    ais_attrs_destroy(a);
    a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "perm", (const int64_t[]){1, 0}, 2));
    out = NULL;
    AIS_ASSERT_OK(ais_test_run_op("Transpose", a, in, 1, &out, 1));
    ais_tensor_destroy(out);
    ais_attrs_destroy(a);
    ais_tensor_destroy(x);
}

/* The same check runs where a model is loaded and planned: the message names the node. */
static void test_wrong_type_in_model(void **state) {
    (void)state;
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 17));
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(2, 3), NULL);
    ais_attrs *a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "perm", (const float[]){1, 0}, 2));
    const char *ins[1] = {"x"}, *outs[1] = {"y"};
    AIS_ASSERT_OK(ais__graph_add_node(g, "flip", "Transpose", "", a, ins, 1, outs, 1, NULL));
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    ais_status st = ais__model_from_graph(g, NULL, &m);
    ais_session *s = NULL;
    if (st == AIS_OK) {
        st = ais_session_create(m, NULL, &s);
        if (st == AIS_OK) {
            ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1), *y = NULL;
            const ais_tensor *in[1] = {x};
            st = ais_session_run(s, NULL, in, 1, NULL, &y, 1);
            ais_tensor_destroy(x);
            ais_tensor_destroy(y);
        }
    }
    assert_int_equal(st, AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("flip");
    ais_test_assert_error_contains("attribute 'perm' is FLOATS, expected INTS");
    ais_session_destroy(s);
    ais_model_destroy(m);
}

/* A prepare hook (SVMs, tree ensembles) reads attributes too: its mismatches fail the load. */
static void test_wrong_type_in_prepare(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 2), -1, 1);
    ais_attrs *a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_float(a, "coefficients", 1.0f));
    const ais_tensor *in[1] = {x};
    ais_tensor *out[2] = {NULL, NULL};
    AIS_ASSERT_STATUS(ais_op_run_opset("ai.onnx.ml", "SVMRegressor", 1, a, in, 1, out, 1),
                      AIS_E_INVALID_ARGUMENT);
    assert_null(out[0]);
    ais_test_assert_error_contains("attribute 'coefficients' is FLOAT, expected FLOATS");
    ais_attrs_destroy(a);
    ais_tensor_destroy(x);
}

/* axis = INT64_MIN is a value out of range, not a missing attribute. */
static void test_concat_axis_int64_min(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    const ais_tensor *in[2] = {x, x};
    ais_tensor *out = NULL;
    ais_attrs *a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_int(a, "axis", INT64_MIN));
    AIS_ASSERT_STATUS(ais_test_run_op("Concat", a, in, 2, &out, 1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("axis -9223372036854775808 is out of range for rank 2");
    ais_attrs_destroy(a);
    /* Absent, it is still reported as missing. */
    AIS_ASSERT_STATUS(ais_test_run_op("Concat", NULL, in, 2, &out, 1), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("attribute 'axis' is missing");
    ais_tensor_destroy(x);
}

static int released;
static void count_release(void *ud, void *data) {
    (void)ud, (void)data;
    released++;
}

/* ais_attrs_set_tensor shares wrapped data by reference, as its comment says: no copy, and the
 * caller's release runs when the attributes let go, not when the tensor is destroyed. */
static void test_set_tensor_shares_wrapped_data(void **state) {
    (void)state;
    static float mem[3] = {1, 2, 3};
    ais_tensor *t = NULL;
    released = 0;
    AIS_ASSERT_OK(
        ais_tensor_wrap(AIS_DTYPE_F32, AIS_SHAPE(3), mem, sizeof mem, count_release, NULL, &t));
    ais_attrs *a = attrs_new();
    AIS_ASSERT_OK(ais_attrs_set_tensor(a, "value", t));
    ais_tensor_destroy(t);
    assert_int_equal(released, 0);
    ais_tensor *y = NULL;
    mem[1] = 42; /* shared, so the attribute sees it */
    AIS_ASSERT_OK(ais_test_run_op("Constant", a, NULL, 0, &y, 1));
    ais_test_assert_close_values(y, (const double[]){1, 42, 3}, 3, 0, 0);
    ais_tensor_destroy(y);
    ais_attrs_destroy(a);
    assert_int_equal(released, 1);
}

static void test_op_exists_is_zero_or_one(void **state) {
    (void)state;
    assert_int_equal(ais_op_exists("", "Relu"), 1);
    assert_int_equal(ais_op_exists("ai.onnx.ml", "TreeEnsembleRegressor"), 1);
    assert_int_equal(ais_op_exists("", "NoSuchOp"), 0);
    assert_int_equal(ais_op_exists(NULL, NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_type_eager),
        cmocka_unit_test(test_wrong_type_in_model),
        cmocka_unit_test(test_wrong_type_in_prepare),
        cmocka_unit_test(test_concat_axis_int64_min),
        cmocka_unit_test(test_set_tensor_shares_wrapped_data),
        cmocka_unit_test(test_op_exists_is_zero_or_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
