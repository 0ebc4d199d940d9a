/* test_ops_types.c - shape-like inputs follow ONNX's type constraints (int64; int32 or int64
 * where the schema says Tind), and opset imports beyond the newest known version are refused
 * with the supported range. */
#include <stdint.h>
#include <string.h>

#include "graph/model.h"
#include "test_util.h"

typedef struct {
    const char *op;
    int64_t opset;
    size_t slot; /* the shape-like input under test */
    bool tind;   /* int32 allowed too */
    const char *needle;
} int_input_case;

/* x of shape [2, 4] (fixed values) and the shape-like input `vals` of `dtype` in `slot`; other
 * slots hold the usual values for the operator. */
static ais_status run_case(const int_input_case *c, ais_dtype dtype, ais_tensor **out) {
    static const double xv[8] = {-1, 2, -3, 4, 5, -6, 7, -8};
    ais_tensor *x = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2, 4), xv);
    ais_tensor *in[5] = {x, NULL, NULL, NULL, NULL};
    size_t n_in = 2;
    const char *op = c->op;
    if (strcmp(op, "Reshape") == 0 || strcmp(op, "Expand") == 0) {
        in[1] = ais_test_tensor(dtype, AIS_SHAPE(2), (const double[]){2, 4});
    } else if (strcmp(op, "Tile") == 0) {
        in[1] = ais_test_tensor(dtype, AIS_SHAPE(2), (const double[]){1, 2});
    } else if (strcmp(op, "Slice") == 0) {
        n_in = 5;
        const double v[4][2] = {{0, 1}, {2, 3}, {0, 1}, {1, 1}};
        for (size_t k = 1; k < 5; k++)
            in[k] = ais_test_tensor(k == c->slot ? dtype : AIS_DTYPE_I64, AIS_SHAPE(2), v[k - 1]);
    } else if (strcmp(op, "Pad") == 0) {
        n_in = 4;
        in[1] = ais_test_tensor(c->slot == 1 ? dtype : AIS_DTYPE_I64, AIS_SHAPE(2),
                                (const double[]){1, 1});
        in[3] = ais_test_tensor(c->slot == 3 ? dtype : AIS_DTYPE_I64, AIS_SHAPE(1),
                                (const double[]){1});
    } else if (strcmp(op, "ReduceSum") == 0 || strcmp(op, "Squeeze") == 0) {
        if (strcmp(op, "Squeeze") == 0) {
            ais_tensor_destroy(x);
            in[0] = x = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(1, 4), xv);
        }
        in[1] = ais_test_tensor(dtype, AIS_SHAPE(1), (const double[]){0});
    } else if (strcmp(op, "Unsqueeze") == 0) {
        in[1] = ais_test_tensor(dtype, AIS_SHAPE(1), (const double[]){0});
    } else if (strcmp(op, "ConstantOfShape") == 0) {
        ais_tensor_destroy(x);
        n_in = 1;
        in[0] = x = ais_test_tensor(dtype, AIS_SHAPE(2), (const double[]){2, 3});
    } else if (strcmp(op, "Split") == 0) {
        in[1] = ais_test_tensor(dtype, AIS_SHAPE(2), (const double[]){1, 1});
    } else if (strcmp(op, "TopK") == 0 || strcmp(op, "Trilu") == 0) {
        in[1] = ais_test_tensor(dtype, NULL, 0, (const double[]){1});
    } else {
        fail_msg("no inputs for %s", op);
    }
    size_t n_out = strcmp(op, "Split") == 0 || strcmp(op, "TopK") == 0 ? 2 : 1;
    ais_tensor *outs[2] = {NULL, NULL};
    ais_status st =
        ais_op_run_opset("", op, c->opset, NULL, (const ais_tensor *const *)in, n_in, outs, n_out);
    for (size_t k = 0; k < 5; k++)
        ais_tensor_destroy(in[k]);
    *out = outs[0];
    ais_tensor_destroy(outs[1]);
    return st;
}

static void test_shape_like_inputs_follow_onnx_types(void **state) {
    (void)state;
    static const int_input_case cases[] = {
        {"Reshape", 21, 1, false, "input 'shape' must be an int64 tensor"},
        {"Expand", 13, 1, false, "input 'shape' must be an int64 tensor"},
        {"Tile", 13, 1, false, "input 'repeats' must be an int64 tensor"},
        {"Slice", 13, 1, true, "input 'starts' must be an int32 or int64 tensor"},
        {"Slice", 13, 2, true, "input 'ends' must be an int32 or int64 tensor"},
        {"Slice", 13, 3, true, "input 'axes' must be an int32 or int64 tensor"},
        {"Slice", 13, 4, true, "input 'steps' must be an int32 or int64 tensor"},
        {"Pad", 18, 1, false, "input 'pads' must be an int64 tensor"},
        {"Pad", 18, 3, true, "input 'axes' must be an int32 or int64 tensor"},
        {"ReduceSum", 13, 1, false, "input 'axes' must be an int64 tensor"},
        {"Squeeze", 13, 1, false, "input 'axes' must be an int64 tensor"},
        {"Unsqueeze", 13, 1, false, "input 'axes' must be an int64 tensor"},
        {"ConstantOfShape", 21, 0, false, "input 'shape' must be an int64 tensor"},
        {"Split", 18, 1, false, "input 'split' must be an int64 tensor"},
        {"TopK", 11, 1, false, "input 'K' must be an int64 tensor"},
        {"Trilu", 14, 1, false, "k must be one int64"},
    };
    static const ais_dtype bad[] = {AIS_DTYPE_U8, AIS_DTYPE_I32, AIS_DTYPE_U64, AIS_DTYPE_I16,
                                    AIS_DTYPE_F32};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int_input_case *c = &cases[i];
        ais_tensor *y = NULL;
        ais_status st = run_case(c, AIS_DTYPE_I64, &y);
        if (st != AIS_OK) fail_msg("%s with int64: %s", c->op, ais_last_error());
        ais_tensor *want = y;
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            y = NULL;
            st = run_case(c, bad[b], &y);
            if (bad[b] == AIS_DTYPE_I32 && c->tind) {
                /* Tind: int32 is allowed and means the same. */
                if (st != AIS_OK)
                    fail_msg("%s input %zu int32: %s", c->op, c->slot, ais_last_error());
                ais_test_assert_close(y, want, 0, 0);
                ais_tensor_destroy(y);
                continue;
            }
            if (st == AIS_OK)
                fail_msg("%s input %zu accepted %s", c->op, c->slot, ais_dtype_name(bad[b]));
            assert_null(y);
            ais_test_assert_error_contains(c->needle);
            ais_test_assert_error_contains(ais_dtype_name(bad[b]));
        }
        ais_tensor_destroy(want);
    }
}

static void test_eager_opset_range(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3), -1, 1), *y = NULL;
    const ais_tensor *in[1] = {x};
    AIS_ASSERT_STATUS(ais_op_run_opset("", "Relu", 1000000000, NULL, in, 1, &y, 1),
                      AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("opset 1000000000 of domain 'ai.onnx' is not supported");
    ais_test_assert_error_contains("versions 1 to 21");
    assert_null(y);
    AIS_ASSERT_STATUS(ais_op_run_opset("", "Relu", ais_op_max_opset() + 1, NULL, in, 1, &y, 1),
                      AIS_E_UNSUPPORTED);
    AIS_ASSERT_STATUS(ais_op_run_opset("ai.onnx.ml", "Normalizer", 6, NULL, in, 1, &y, 1),
                      AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("domain 'ai.onnx.ml'");
    ais_test_assert_error_contains("versions 1 to 5");
    AIS_ASSERT_OK(ais_op_run_opset("", "Relu", ais_op_max_opset(), NULL, in, 1, &y, 1));
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);
}

/* A model importing `domain` at `version` besides ai.onnx 17, with one Relu. */
static ais_status load_with_opset(const char *domain, int64_t version, ais_model **m) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 17));
    AIS_ASSERT_OK(ais__graph_set_opset(g, domain, version));
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(2), NULL);
    ais_test_graph_node(g, "r", "Relu", "x", NULL, "y");
    ais_test_graph_output(g, "y");
    return ais__model_from_graph(g, NULL, m);
}

static void test_model_opset_range(void **state) {
    (void)state;
    ais_model *m = NULL;
    AIS_ASSERT_STATUS(load_with_opset("", 1000000000, &m), AIS_E_UNSUPPORTED);
    assert_null(m);
    ais_test_assert_error_contains("opset 1000000000 of domain 'ai.onnx' is not supported");
    ais_test_assert_error_contains("versions 1 to 21");
    /* An import no node uses is refused too: the file claims semantics we do not know. */
    AIS_ASSERT_STATUS(load_with_opset("ai.onnx.ml", 1000000000, &m), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("domain 'ai.onnx.ml'");
    AIS_ASSERT_STATUS(load_with_opset("ai.onnx.ml", 0, &m), AIS_E_UNSUPPORTED);
    AIS_ASSERT_OK(load_with_opset("ai.onnx.ml", 5, &m));
    ais_model_destroy(m);
    m = NULL;
    /* Domains we have no operators of are not ours to judge. */
    AIS_ASSERT_OK(load_with_opset("com.example", 1000000000, &m));
    ais_model_destroy(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape_like_inputs_follow_onnx_types),
        cmocka_unit_test(test_eager_opset_range),
        cmocka_unit_test(test_model_opset_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
