/* test_fold_limits.c - bounded memory for constants a model asks for (issue 12, item 8): load-time
 * and plan-time folding skip nodes whose outputs exceed AIS_OPT_MAX_FOLD_BYTES, and a tensor
 * above AIS_OPT_MAX_TENSOR_BYTES fails the run with AIS_E_LIMIT naming node and size, before
 * anything of that size is allocated (checked with an allocator that records the largest
 * request). */
#include <stdlib.h>
#include <string.h>

#include "runtime/model.h"
#include "test_util.h"

/* ---- an allocator that records the largest single request ---- */
static size_t largest;

static void *big_alloc(void *ud, size_t size, size_t alignment) {
    (void)ud;
    if (size > largest) largest = size;
    if (size > ((size_t)1 << 31)) return NULL; /* never actually try a huge block */
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    void *p = NULL;
    return posix_memalign(&p, alignment, size ? size : 1) == 0 ? p : NULL;
}

static void big_free(void *ud, void *p) {
    (void)ud;
    free(p);
}

static ais_tensor *i64_vector(int64_t v) {
    const double d = (double)v;
    return ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(1), &d);
}

/* y = ConstantOfShape(shape) (f32 zeros), shape a constant [elements]; plus z = x + 1 so that
 * the model has an input. */
static ais__graph *constant_of_shape(int64_t elements, bool shape_is_input) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    if (shape_is_input)
        ais_test_graph_input(g, "shape", AIS_DTYPE_I64, AIS_SHAPE(1), NULL);
    else
        ais_test_graph_const(g, "shape", i64_vector(elements));
    ais_test_graph_node(g, "", "ConstantOfShape", "shape", NULL, "y");
    ais_test_graph_output(g, "y");
    return g;
}

static ais_options *opts(int64_t max_tensor, int64_t max_fold) {
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    if (max_tensor) AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_MAX_TENSOR_BYTES, max_tensor));
    if (max_fold >= 0) AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_MAX_FOLD_BYTES, max_fold));
    return o;
}

static ais_status run(ais_model *m, const ais_options *o, const ais_tensor *in, ais_tensor **y) {
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, o, &s));
    *y = NULL;
    ais_status st = ais_session_run(s, NULL, in ? &in : NULL, in ? 1 : 0, NULL, y, 1);
    ais_session_destroy(s);
    return st;
}

/* A terabyte of zeros asked for by a few bytes of model: it loads (nothing folded), and the run
 * fails cleanly, naming the node and the size; no allocation comes near that size. */
static void test_terabyte_constant(void **state) {
    (void)state;
    const int64_t elements = (int64_t)1 << 38; /* f32: 2^40 bytes */
    largest = 0;
    AIS_ASSERT_OK(ais_set_allocator(big_alloc, big_free, NULL));
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(constant_of_shape(elements, false), NULL, &m));
    assert_int_equal(ais_model_node_count(m), 1); /* left to run time */
    ais_tensor *y = NULL;
    AIS_ASSERT_STATUS(run(m, NULL, NULL, &y), AIS_E_LIMIT);
    assert_null(y);
    ais_test_assert_error_contains("graph.node[0] (ConstantOfShape)");
    ais_test_assert_error_contains("1099511627776 bytes");
    ais_test_assert_error_contains("AIS_OPT_MAX_TENSOR_BYTES");
    print_message("%s\n", ais_last_error());
    ais_model_destroy(m);

    /* the same size computed at run time (the shape is an input): refused as well */
    AIS_ASSERT_OK(ais__model_from_graph(constant_of_shape(0, true), NULL, &m));
    ais_tensor *shape = i64_vector(elements);
    AIS_ASSERT_STATUS(run(m, NULL, shape, &y), AIS_E_LIMIT);
    ais_test_assert_error_contains("graph.node[0] (ConstantOfShape)");
    ais_test_assert_error_contains("1099511627776 bytes");
    ais_tensor_destroy(shape);
    ais_model_destroy(m);
    AIS_ASSERT_OK(ais_set_allocator(NULL, NULL, NULL));
    if (largest > ((size_t)1 << 20))
        fail_msg("an allocation of %zu bytes was made for a refused tensor", largest);
}

/* 16 MiB of zeros: folded at load by default, left to run time under a smaller fold limit (with
 * the same result), refused under a smaller tensor limit, and allowed when it is raised. */
static void test_limits_are_options(void **state) {
    (void)state;
    const int64_t elements = (int64_t)1 << 22;
    ais_model *m = NULL;
    ais_tensor *y = NULL;

    AIS_ASSERT_OK(ais__model_from_graph(constant_of_shape(elements, false), NULL, &m));
    assert_int_equal(ais_model_node_count(m), 0); /* folded: y is a constant */
    AIS_ASSERT_OK(run(m, NULL, NULL, &y));
    assert_int_equal(ais_tensor_size(y), (size_t)elements);
    ais_tensor_destroy(y);
    ais_model_destroy(m);

    ais_options *o = opts(0, (int64_t)1 << 20);
    AIS_ASSERT_OK(ais__model_from_graph(constant_of_shape(elements, false), o, &m));
    assert_int_equal(ais_model_node_count(m), 1);
    AIS_ASSERT_OK(run(m, o, NULL, &y)); /* the session does not fold it either */
    assert_int_equal(ais_tensor_size(y), (size_t)elements);
    const float *py = ais_tensor_data(y);
    for (int64_t i = 0; i < elements; i += 4099)
        assert_true(py[i] == 0.0f);
    ais_tensor_destroy(y);
    ais_options_destroy(o);

    o = opts((int64_t)1 << 20, -1);
    AIS_ASSERT_STATUS(run(m, o, NULL, &y), AIS_E_LIMIT);
    ais_test_assert_error_contains("16777216 bytes, above the limit of 1048576");
    ais_options_destroy(o);
    o = opts((int64_t)1 << 24, -1);
    AIS_ASSERT_OK(run(m, o, NULL, &y)); /* exactly at the limit is allowed */
    ais_tensor_destroy(y);
    ais_options_destroy(o);
    ais_model_destroy(m);

    int64_t lo, hi;
    AIS_ASSERT_OK(ais_option_bounds(AIS_OPT_MAX_TENSOR_BYTES, &lo, &hi));
    assert_true(lo == 1 && hi == INT64_MAX);
    AIS_ASSERT_OK(ais_options_get_int(NULL, AIS_OPT_MAX_TENSOR_BYTES, &lo));
    assert_true(lo == (int64_t)1 << 30);
    AIS_ASSERT_OK(ais_options_get_int(NULL, AIS_OPT_MAX_FOLD_BYTES, &lo));
    assert_true(lo == (int64_t)1 << 26);
    o = opts(0, -1);
    AIS_ASSERT_STATUS(ais_options_set_int(o, AIS_OPT_MAX_TENSOR_BYTES, 0), AIS_E_INVALID_ARGUMENT);
    ais_options_destroy(o);
}

/* Softmax, ArgMax and ReduceMax of a constant [2, n]: outputs of 4, 4 and 2 MiB. Their infer reads
 * the attributes prepare read, so the fold size check must see the prepared state: without it,
 * their infer fails, the check says "not too big", and a limit of 1 MiB would fold them all. */
static ais__graph *attribute_ops_of_constant(int64_t n) {
    ais__graph *g = ais_test_graph_new(13);
    double *v = malloc((size_t)(2 * n) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < 2 * n; i++)
        v[i] = (double)((i * 7919) % 1013) / 97.0;
    ais_test_graph_const(g, "c", ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2, n), v));
    free(v);
    ais_test_graph_node(g, "sm", "Softmax", "c", NULL, "s");
    ais_test_graph_node(g, "am", "ArgMax", "c", NULL, "a");
    ais_attrs *ra = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&ra));
    const int64_t axes[] = {0};
    AIS_ASSERT_OK(ais_attrs_set_ints(ra, "axes", axes, 1));
    const char *ins[] = {"c"}, *outs[] = {"r"};
    AIS_ASSERT_OK(ais__graph_add_node(g, "rm", "ReduceMax", "", ra, ins, 1, outs, 1, NULL));
    ais_test_graph_output(g, "s");
    ais_test_graph_output(g, "a");
    ais_test_graph_output(g, "r");
    return g;
}

static void test_fold_check_sees_prepared_attributes(void **state) {
    (void)state;
    const int64_t n = (int64_t)1 << 19;
    ais_options *o = opts(0, (int64_t)1 << 20);
    ais_model *m = NULL, *folded = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(attribute_ops_of_constant(n), o, &m));
    assert_int_equal(ais_model_node_count(m), 3); /* every output is above the fold limit */
    AIS_ASSERT_OK(ais__model_from_graph(attribute_ops_of_constant(n), NULL, &folded));
    assert_int_equal(ais_model_node_count(folded), 0); /* under the default limit: all folded */

    /* run at run time or folded at load, the same values */
    ais_tensor *y[2][3] = {{NULL}};
    ais_model *ms[2] = {m, folded};
    for (int k = 0; k < 2; k++) {
        ais_session *s = NULL;
        AIS_ASSERT_OK(ais_session_create(ms[k], o, &s));
        AIS_ASSERT_OK(ais_session_run(s, NULL, NULL, 0, NULL, y[k], 3));
        ais_session_destroy(s);
    }
    const int64_t want[3][2] = {{2, n}, {1, n}, {1, n}};
    for (int j = 0; j < 3; j++) {
        const int64_t *d = ais_tensor_shape(y[0][j]);
        assert_int_equal(ais_tensor_ndim(y[0][j]), 2);
        assert_true(d[0] == want[j][0] && d[1] == want[j][1]);
        assert_int_equal(ais_tensor_nbytes(y[0][j]), ais_tensor_nbytes(y[1][j]));
        assert_memory_equal(ais_tensor_data(y[0][j]), ais_tensor_data(y[1][j]),
                            ais_tensor_nbytes(y[0][j]));
    }
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 3; j++)
            ais_tensor_destroy(y[k][j]);
    ais_options_destroy(o);
    ais_model_destroy(m);
    ais_model_destroy(folded);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terabyte_constant),
        cmocka_unit_test(test_limits_are_options),
        cmocka_unit_test(test_fold_check_sees_prepared_attributes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
