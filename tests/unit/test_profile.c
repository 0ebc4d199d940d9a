/*
 * test_profile.c - AIS_OPT_PROFILE and ais_session_profile* (issue 11 item 6): every node of a
 * profiled session counts one call per run, the nodes' times add up to at most the runs' wall
 * time, counts survive re-planning and go back to zero on reset, failed runs count as runs, and
 * a session without the option says how to get a profile instead of returning zeros.
 */
#include <string.h>

#include "ir/graph.h"
#include "runtime/model.h"
#include "test_util.h"

#define K 96
#define COLS 64

/* z = Relu(x W) + x W, x of shape [rows, K] with rows dynamic. */
static ais_model *make_model(void) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(-1, K), NULL);
    ais_test_graph_const(g, "w", ais_test_rand_f32(AIS_SHAPE(K, COLS), -1, 1));
    ais_test_graph_node(g, "mm", "MatMul", "x", "w", "y");
    ais_test_graph_node(g, "relu", "Relu", "y", NULL, "r");
    ais_test_graph_node(g, "add", "Add", "r", "y", "z");
    ais_test_graph_output(g, "z");
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(g, NULL, &m));
    return m;
}

static ais_session *session(ais_model *m, int64_t profile) {
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_THREADS, 1));
    if (profile >= 0) AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_PROFILE, profile));
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, o, &s));
    ais_options_destroy(o);
    return s;
}

static ais_status run(ais_session *s, int64_t rows, ais_dtype dt) {
    ais_tensor *x = NULL;
    if (dt == AIS_DTYPE_F32) {
        x = ais_test_rand_f32(AIS_SHAPE(rows, K), -1, 1);
    } else {
        AIS_ASSERT_OK(ais_tensor_create(dt, AIS_SHAPE(rows, K), &x));
    }
    const ais_tensor *in[1] = {x};
    ais_tensor *out[1] = {NULL};
    ais_status st = ais_session_run(s, NULL, in, 1, NULL, out, 1);
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(x);
    return st;
}

/* Checks every node ran `want` times; returns the sum of their times. */
static uint64_t check_nodes(ais_session *s, uint64_t want) {
    size_t n = ais_session_node_count(s);
    assert_true(n >= 1);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL, *op = NULL, *name2 = NULL, *op2 = NULL;
        ais_backend be = (ais_backend)-1, be2 = (ais_backend)-1;
        uint64_t calls = 99, ns = 99;
        AIS_ASSERT_OK(ais_session_profile_node(s, i, &name, &op, &be, &calls, &ns));
        AIS_ASSERT_OK(ais_session_node_info(s, i, &name2, &op2, &be2));
        assert_string_equal(name, name2);
        assert_string_equal(op, op2);
        assert_int_equal(be, be2);
        assert_int_equal(be, AIS_BACKEND_CPU);
        assert_int_equal(calls, want);
        if (want)
            assert_true(ns > 0);
        else
            assert_int_equal(ns, 0);
        sum += ns;
    }
    /* NULL out-pointers are allowed */
    AIS_ASSERT_OK(ais_session_profile_node(s, 0, NULL, NULL, NULL, NULL, NULL));
    return sum;
}

static void test_counts_match_runs(void **state) {
    (void)state;
    ais_model *m = make_model();
    ais_session *s = session(m, 1);
    uint64_t runs = 99, total = 99;
    AIS_ASSERT_OK(ais_session_profile(s, &runs, &total));
    assert_int_equal(runs, 0);
    assert_int_equal(total, 0);
    (void)check_nodes(s, 0);

    for (int r = 0; r < 7; r++)
        AIS_ASSERT_OK(run(s, 32, AIS_DTYPE_F32));
    AIS_ASSERT_OK(run(s, 5, AIS_DTYPE_F32)); /* a new shape: a new plan, the same counts */
    AIS_ASSERT_OK(ais_session_profile(s, &runs, &total));
    assert_int_equal(runs, 8);
    uint64_t sum = check_nodes(s, 8);
    assert_true(sum > 0);
    assert_true(sum <= total);

    /* A failed run (wrong dtype) is a run; no node ran in it. */
    assert_int_equal(run(s, 32, AIS_DTYPE_I32), AIS_E_DTYPE);
    AIS_ASSERT_OK(ais_session_profile(s, &runs, NULL));
    assert_int_equal(runs, 9);
    (void)check_nodes(s, 8);

    AIS_ASSERT_OK(ais_session_profile_reset(s));
    AIS_ASSERT_OK(ais_session_profile(s, &runs, &total));
    assert_int_equal(runs, 0);
    assert_int_equal(total, 0);
    (void)check_nodes(s, 0);
    AIS_ASSERT_OK(run(s, 32, AIS_DTYPE_F32));
    AIS_ASSERT_OK(run(s, 32, AIS_DTYPE_F32));
    AIS_ASSERT_OK(ais_session_profile(s, &runs, &total));
    assert_int_equal(runs, 2);
    assert_true(check_nodes(s, 2) <= total);
    AIS_ASSERT_OK(ais_session_profile(s, NULL, NULL));

    assert_int_equal(
        ais_session_profile_node(s, ais_session_node_count(s), NULL, NULL, NULL, NULL, NULL),
        AIS_E_NOT_FOUND);
    assert_non_null(strstr(ais_last_error(), "index"));
    ais_session_destroy(s);
    ais_model_destroy(m);
}

static void test_off_by_default(void **state) {
    (void)state;
    ais_model *m = make_model();
    for (int64_t opt = -1; opt <= 0; opt++) { /* unset, and set to 0 */
        ais_session *s = session(m, opt);
        AIS_ASSERT_OK(run(s, 4, AIS_DTYPE_F32));
        uint64_t runs = 0;
        assert_int_equal(ais_session_profile(s, &runs, NULL), AIS_E_INVALID_ARGUMENT);
        assert_non_null(strstr(ais_last_error(), "AIS_OPT_PROFILE"));
        assert_int_equal(ais_session_profile_node(s, 0, NULL, NULL, NULL, NULL, NULL),
                         AIS_E_INVALID_ARGUMENT);
        assert_int_equal(ais_session_profile_reset(s), AIS_E_INVALID_ARGUMENT);
        ais_session_destroy(s);
    }
    assert_int_equal(ais_session_profile(NULL, NULL, NULL), AIS_E_INVALID_ARGUMENT);
    assert_int_equal(ais_session_profile_reset(NULL), AIS_E_INVALID_ARGUMENT);
    assert_int_equal(ais_session_profile_node(NULL, 0, NULL, NULL, NULL, NULL, NULL),
                     AIS_E_INVALID_ARGUMENT);
    ais_model_destroy(m);
}

static void test_option_bounds(void **state) {
    (void)state;
    int64_t lo = -1, hi = -1, v = -1;
    AIS_ASSERT_OK(ais_option_bounds(AIS_OPT_PROFILE, &lo, &hi));
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 1);
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_get_int(o, AIS_OPT_PROFILE, &v));
    assert_int_equal(v, 0);
    assert_int_equal(ais_options_set_int(o, AIS_OPT_PROFILE, 2), AIS_E_INVALID_ARGUMENT);
    ais_options_destroy(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_match_runs),
        cmocka_unit_test(test_off_by_default),
        cmocka_unit_test(test_option_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
