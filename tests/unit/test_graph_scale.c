/* test_graph_scale.c - loading stays linear in the node count (issue 12, item 7): a chain of
 * 100,000 unnamed Identity nodes, written last-first so that the sort has all the work, is
 * sorted, checked, saved as .ais and read back, and runs. No time is asserted; a quadratic pass
 * would take minutes here (the sort used to: 394 s for this size) and hit the test timeout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/model.h"
#include "test_util.h"

#define N 100000

static ais__graph *reversed_chain(void) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(-1, 4), NULL);
    char in[32], out[32];
    for (long i = N - 1; i >= 0; i--) {
        if (i == 0)
            snprintf(in, sizeof in, "x");
        else
            snprintf(in, sizeof in, "t%ld", i);
        if (i == N - 1)
            snprintf(out, sizeof out, "y");
        else
            snprintf(out, sizeof out, "t%ld", i + 1);
        ais_test_graph_node(g, "", "Identity", in, NULL, out);
    }
    ais_test_graph_output(g, "y");
    return g;
}

/* Nodes come out in chain order: each reads what the one before wrote. */
static void assert_chain_order(const ais_model *m, int32_t first_index) {
    assert_int_equal(ais_model_node_count(m), N);
    const ais__graph *g = m->graph;
    assert_string_equal(g->values[g->nodes[0].inputs[0]].name, "x");
    for (size_t i = 1; i < g->n_nodes; i++)
        if (g->nodes[i].inputs[0] != g->nodes[i - 1].outputs[0])
            fail_msg("node %zu does not read node %zu's output", i, i - 1);
    assert_string_equal(g->values[g->nodes[N - 1].outputs[0]].name, "y");
    /* messages name these unnamed nodes by their position as loaded */
    assert_int_equal(g->nodes[0].index, first_index);
}

static void run_identity(ais_model *m) {
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3, 4), -1, 1), *y = NULL;
    const ais_tensor *in = x;
    AIS_ASSERT_OK(ais_session_run(s, NULL, &in, 1, NULL, &y, 1));
    assert_int_equal(ais_tensor_nbytes(y), ais_tensor_nbytes(x));
    assert_memory_equal(ais_tensor_data(y), ais_tensor_data(x), ais_tensor_nbytes(x));
    ais_tensor_destroy(x);
    ais_tensor_destroy(y);
    ais_session_destroy(s);
}

static void test_long_chain(void **state) {
    (void)state;
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(reversed_chain(), NULL, &m));
    assert_chain_order(m, N - 1); /* the first to run was written last */
    run_identity(m);

    /* the .ais reader's path: written in execution order, read back and checked again */
    char path[] = "/tmp/ais_chain_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    AIS_ASSERT_OK(ais_model_save(m, path, NULL));
    ais_model_destroy(m);
    AIS_ASSERT_OK(ais_model_load(path, NULL, &m));
    unlink(path);
    assert_chain_order(m, 0);
    run_identity(m);
    ais_model_destroy(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_long_chain)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
