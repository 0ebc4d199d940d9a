/* test_node_names.c - how errors name nodes: "node 'x' (Op)" for named ones, "graph.node[N]
 * (Op)" (N: the position as loaded) for the unnamed ones most ONNX exporters write, at run time,
 * while folding constants at load, while planning, and in sequence operators. */
#include <string.h>

#include "runtime/model.h"
#include "test_util.h"

static ais_status load(ais__graph *g, ais_model **m) {
    *m = NULL;
    return ais__model_from_graph(g, NULL, m);
}

/* Runs x through the model; expects failure `want` whose message contains `needle`. */
static void run_fails(ais_model *m, const ais_tensor *x, ais_status want, const char *needle) {
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    ais_tensor *y = NULL;
    AIS_ASSERT_STATUS(ais_session_run(s, NULL, &x, 1, NULL, &y, 1), want);
    ais_test_assert_error_contains(needle);
    print_message("%s\n", ais_last_error());
    assert_null(y);
    ais_session_destroy(s);
}

/* An unnamed Add whose operands do not broadcast: found when the plan infers shapes. */
static void test_run_time_unnamed(void **state) {
    (void)state;
    ais__graph *g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(-1, -1), NULL);
    ais_test_graph_const(g, "b", ais_test_rand_f32(AIS_SHAPE(3), 0, 1));
    ais_test_graph_node(g, "", "Relu", "x", NULL, "r");
    ais_test_graph_node(g, "", "Add", "r", "b", "y");
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    AIS_ASSERT_OK(load(g, &m));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 5), -1, 1);
    run_fails(m, x, AIS_E_SHAPE, "graph.node[1] (Add)");
    assert_null(strstr(ais_last_error(), "node ''"));
    ais_tensor_destroy(x);
    ais_model_destroy(m);
}

/* Named nodes keep their names. */
static void test_run_time_named(void **state) {
    (void)state;
    ais__graph *g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(-1, -1), NULL);
    ais_test_graph_const(g, "b", ais_test_rand_f32(AIS_SHAPE(3), 0, 1));
    ais_test_graph_node(g, "the_add", "Add", "x", "b", "y");
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    AIS_ASSERT_OK(load(g, &m));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 5), -1, 1);
    run_fails(m, x, AIS_E_SHAPE, "node 'the_add' (Add)");
    ais_tensor_destroy(x);
    ais_model_destroy(m);
}

/* Folding at load: the third node (all inputs constant) fails; the model is refused, naming it
 * by its position in the file even though the graph is sorted first. */
static void test_load_time_fold(void **state) {
    (void)state;
    ais__graph *g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(2, 3), NULL);
    ais_test_graph_const(g, "a", ais_test_rand_f32(AIS_SHAPE(2), 0, 1));
    ais_test_graph_const(g, "b", ais_test_rand_f32(AIS_SHAPE(3), 0, 1));
    /* out of order in the file: node 0 reads what node 2 computes */
    ais_test_graph_node(g, "", "Add", "x", "c", "y");
    ais_test_graph_node(g, "", "Relu", "x", NULL, "unused");
    ais_test_graph_node(g, "", "Mul", "a", "b", "c");
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    AIS_ASSERT_STATUS(load(g, &m), AIS_E_SHAPE);
    ais_test_assert_error_contains("graph.node[2] (Mul)");
    print_message("%s\n", ais_last_error());
    assert_null(m);
}

/* Load-time checks name unnamed nodes too. */
static void test_load_checks(void **state) {
    (void)state;
    ais__graph *g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(2, 3), NULL);
    ais_test_graph_node(g, "", "Relu", "x", NULL, "r");
    ais_test_graph_node(g, "", "NoSuchOp", "r", NULL, "y");
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    AIS_ASSERT_STATUS(load(g, &m), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("graph.node[1]: unsupported operator NoSuchOp");

    g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(2, 3), NULL);
    ais_test_graph_node(g, "", "Relu", "x", NULL, "r");
    ais_test_graph_node(g, "", "Relu", "nowhere", NULL, "y");
    ais_test_graph_output(g, "y");
    AIS_ASSERT_STATUS(load(g, &m), AIS_E_FORMAT);
    ais_test_assert_error_contains("graph.node[1] (Relu): input 'nowhere'");

    g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(2, 3), NULL);
    ais_test_graph_node(g, "", "Add", "x", "q", "p");
    ais_test_graph_node(g, "", "Relu", "p", NULL, "q");
    ais_test_graph_output(g, "p");
    AIS_ASSERT_STATUS(load(g, &m), AIS_E_FORMAT);
    ais_test_assert_error_contains("cycle through graph.node[0] (Add)");
}

/* A sequence operator failing at run time (an index known only then) names its node. */
static void test_sequence_op(void **state) {
    (void)state;
    ais__graph *g = ais_test_graph_new(13);
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(2, 3), NULL);
    ais_test_graph_input(g, "i", AIS_DTYPE_I64, NULL, 0, NULL);
    ais_test_graph_node(g, "", "SequenceConstruct", "x", "x", "seq");
    ais_test_graph_node(g, "", "SequenceAt", "seq", "i", "y");
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    AIS_ASSERT_OK(load(g, &m));
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1), *i = NULL, *y = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I64, NULL, 0, &i));
    *(int64_t *)ais_tensor_data(i) = 7;
    const ais_tensor *in[2] = {x, i};
    ais_status st = ais_session_run(s, NULL, in, 2, NULL, &y, 1);
    assert_int_not_equal(st, AIS_OK);
    ais_test_assert_error_contains("graph.node[1] (SequenceAt)");
    print_message("%s\n", ais_last_error());
    *(int64_t *)ais_tensor_data(i) = 1;
    AIS_ASSERT_OK(ais_session_run(s, NULL, in, 2, NULL, &y, 1));
    assert_memory_equal(ais_tensor_data(y), ais_tensor_data(x), ais_tensor_nbytes(x));
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);
    ais_tensor_destroy(i);
    ais_session_destroy(s);
    ais_model_destroy(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_time_unnamed), cmocka_unit_test(test_run_time_named),
        cmocka_unit_test(test_load_time_fold),   cmocka_unit_test(test_load_checks),
        cmocka_unit_test(test_sequence_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
