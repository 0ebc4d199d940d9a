/* test_graph.c - loading a graph into a model: operator resolution, checks, sorting, constant
 * folding, dead nodes, metadata, introspection, options, allocation failures. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/model.h"
#include "test_util.h"

/* ---- building graphs ---- */

static ais__graph *new_graph(int64_t opset) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", opset));
    return g;
}

static ais_status make_model(ais__graph *g, int64_t opt_level, ais_model **m) {
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_OPT_LEVEL, opt_level));
    ais_status st = ais__model_from_graph(g, o, m);
    ais_options_destroy(o);
    return st;
}

/* ---- checks at load ---- */

static void test_unknown_operator(void **state) {
    (void)state;
    ais__graph *g = new_graph(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(4), NULL);
    ais_test_graph_node(g, "mystery_node", "FrobnicateTensor", "x", NULL, "y");
    ais_test_graph_output(g, "y");
    ais_model *m = (ais_model *)0x1;
    AIS_ASSERT_STATUS(make_model(g, 2, &m), AIS_E_UNSUPPORTED);
    assert_null(m);
    ais_test_assert_error_contains("FrobnicateTensor");
    ais_test_assert_error_contains("mystery_node");
    ais_test_assert_error_contains("opset 13");
    ais_test_assert_error_contains("ai.onnx");
}

static void test_domain_not_imported(void **state) {
    (void)state;
    ais__graph *g = new_graph(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(4), NULL);
    const char *ins[1] = {"x"}, *outs[1] = {"y"};
    AIS_ASSERT_OK(
        ais__graph_add_node(g, "n0", "Scaler", "ai.onnx.ml", NULL, ins, 1, outs, 1, NULL));
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    AIS_ASSERT_STATUS(make_model(g, 2, &m), AIS_E_FORMAT);
    ais_test_assert_error_contains("ai.onnx.ml");
    ais_test_assert_error_contains("n0");

    /* imported, but nothing implements it in that domain */
    g = new_graph(13);
    AIS_ASSERT_OK(ais__graph_set_opset(g, "com.example", 1));
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(4), NULL);
    AIS_ASSERT_OK(ais__graph_add_node(g, "n1", "Relu", "com.example", NULL, ins, 1, outs, 1, NULL));
    ais_test_graph_output(g, "y");
    AIS_ASSERT_STATUS(make_model(g, 2, &m), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("com.example");
    ais_test_assert_error_contains("opset 1");
}

static void test_dangling_input(void **state) {
    (void)state;
    ais__graph *g = new_graph(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(4), NULL);
    ais_test_graph_node(g, "adder", "Add", "x", "ghost", "y");
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    AIS_ASSERT_STATUS(make_model(g, 2, &m), AIS_E_FORMAT);
    ais_test_assert_error_contains("'ghost'");
    ais_test_assert_error_contains("adder");

    g = new_graph(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(4), NULL);
    ais_test_graph_output(g, "nowhere");
    AIS_ASSERT_STATUS(make_model(g, 2, &m), AIS_E_FORMAT);
    ais_test_assert_error_contains("nowhere");
}

static void test_cycle(void **state) {
    (void)state;
    ais__graph *g = new_graph(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(4), NULL);
    ais_test_graph_node(g, "a", "Add", "x", "b_out", "a_out");
    ais_test_graph_node(g, "b", "Relu", "a_out", NULL, "b_out");
    ais_test_graph_output(g, "b_out");
    ais_model *m = NULL;
    AIS_ASSERT_STATUS(make_model(g, 2, &m), AIS_E_FORMAT);
    ais_test_assert_error_contains("cycle");
}

static void test_wrong_arity(void **state) {
    (void)state;
    ais__graph *g = new_graph(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(4), NULL);
    ais_test_graph_node(g, "lonely_add", "Add", "x", NULL, "y");
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    AIS_ASSERT_STATUS(make_model(g, 2, &m), AIS_E_FORMAT);
    ais_test_assert_error_contains("lonely_add");
    ais_test_assert_error_contains("1 inputs");
}

/* ---- sorting, folding, dead nodes ---- */

static void test_sort_and_fold(void **state) {
    (void)state;
    const int64_t n = 7;
    ais_tensor *c1 = ais_test_rand_f32(AIS_SHAPE(7), -1, 1);
    ais_tensor *c2 = ais_test_rand_f32(AIS_SHAPE(7), -1, 1);
    ais_tensor *c3 = ais_test_rand_f32(AIS_SHAPE(1), -2, 2);
    float ref_c[7];
    const float *p1 = ais_tensor_data(c1), *p2 = ais_tensor_data(c2), *p3 = ais_tensor_data(c3);
    for (int i = 0; i < n; i++)
        ref_c[i] = (p1[i] + p2[i]) * p3[0];

    for (int level = 0; level <= 2; level++) {
        ais__graph *g = new_graph(13);
        ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(n), NULL);
        ais_tensor *k1, *k2, *k3;
        AIS_ASSERT_OK(ais_tensor_copy(c1, &k1));
        AIS_ASSERT_OK(ais_tensor_copy(c2, &k2));
        AIS_ASSERT_OK(ais_tensor_copy(c3, &k3));
        ais_test_graph_const(g, "c1", k1);
        ais_test_graph_const(g, "c2", k2);
        ais_test_graph_const(g, "c3", k3);
        /* added consumers first: the model must sort them */
        ais_test_graph_node(g, "final", "Add", "x", "t2", "y");
        ais_test_graph_node(g, "scale", "Mul", "t1", "c3", "t2");
        ais_test_graph_node(g, "sum", "Add", "c1", "c2", "t1");
        ais_test_graph_node(g, "unused", "Relu", "x", NULL, "dead");
        ais_test_graph_output(g, "y");
        ais_model *m = NULL;
        AIS_ASSERT_OK(make_model(g, level, &m));
        /* level 0 keeps everything; 1 and 2 fold two nodes and drop the unused one */
        assert_int_equal(ais_model_node_count(m), level == 0 ? 4 : 1);
        const char *name = NULL, *op = NULL;
        if (level > 0) {
            AIS_ASSERT_OK(ais_model_node_info(m, 0, &name, &op, NULL));
            assert_string_equal(name, "final");
            /* only the folded constant (7 floats) is left, not c1/c2/c3 */
            assert_int_equal(ais_model_weight_bytes(m), 7 * sizeof(float));
        } else {
            /* execution order: sum before scale before final */
            size_t pos_sum = 9, pos_scale = 9, pos_final = 9;
            for (size_t i = 0; i < 4; i++) {
                AIS_ASSERT_OK(ais_model_node_info(m, i, &name, &op, NULL));
                if (!strcmp(name, "sum")) pos_sum = i;
                if (!strcmp(name, "scale")) pos_scale = i;
                if (!strcmp(name, "final")) pos_final = i;
            }
            assert_true(pos_sum < pos_scale && pos_scale < pos_final && pos_final < 4);
        }
        ais_session *s = NULL;
        AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(n), -3, 3);
        ais_tensor *y = NULL;
        const ais_tensor *ins[1] = {x};
        AIS_ASSERT_OK(ais_session_run(s, NULL, ins, 1, NULL, &y, 1));
        double want[7];
        const float *px = ais_tensor_data(x);
        for (int i = 0; i < n; i++)
            want[i] = (double)(px[i] + ref_c[i]);
        ais_test_assert_close_values(y, want, (size_t)n, 1e-6, 1e-6);
        ais_tensor_destroy(x);
        ais_tensor_destroy(y);
        ais_session_destroy(s);
        ais_model_destroy(m);
    }
    ais_tensor_destroy(c1);
    ais_tensor_destroy(c2);
    ais_tensor_destroy(c3);
}

static void test_constant_node_folded(void **state) {
    (void)state;
    ais__graph *g = new_graph(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(2, 3), NULL);
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    ais_tensor *val = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(3), (const double[]){1, -2, 4});
    AIS_ASSERT_OK(ais_attrs_set_tensor(a, "value", val));
    ais_tensor_destroy(val);
    const char *outs[1] = {"k"};
    AIS_ASSERT_OK(ais__graph_add_node(g, "const", "Constant", "", a, NULL, 0, outs, 1, NULL));
    ais_test_graph_node(g, "mul", "Mul", "x", "k", "y");
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    AIS_ASSERT_OK(make_model(g, 1, &m));
    assert_int_equal(ais_model_node_count(m), 1);
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1), *y = NULL;
    const ais_tensor *ins[1] = {x};
    AIS_ASSERT_OK(ais_session_run(s, NULL, ins, 1, NULL, &y, 1));
    const float *px = ais_tensor_data(x);
    double want[6], k[3] = {1, -2, 4};
    for (int i = 0; i < 6; i++)
        want[i] = px[i] * k[i % 3];
    ais_test_assert_close_values(y, want, 6, 0, 0);
    ais_tensor_destroy(x);
    ais_tensor_destroy(y);
    ais_session_destroy(s);
    ais_model_destroy(m);
}

/* ---- introspection ---- */

static void test_introspection(void **state) {
    (void)state;
    ais__graph *g = new_graph(17);
    AIS_ASSERT_OK(ais__graph_set_opset(g, "ai.onnx.ml", 3));
    AIS_ASSERT_OK(ais__graph_set_meta(g, "name", "tiny"));
    AIS_ASSERT_OK(ais__graph_set_meta(g, "producer", "test_graph"));
    const char *names[2] = {"batch", NULL};
    ais_test_graph_input(g, "features", AIS_DTYPE_F32, AIS_SHAPE(AIS__DIM_DYNAMIC, 5), names);
    ais_test_graph_const(g, "w", ais_test_rand_f32(AIS_SHAPE(5), -1, 1));
    ais_test_graph_node(g, "add0", "Add", "features", "w", "h");
    ais_test_graph_node(g, "relu0", "Relu", "h", NULL, "out");
    ais_test_graph_output(g, "out");
    int32_t ov = ais__graph_find(g, "out");
    AIS_ASSERT_OK(ais__graph_declare(g, ov, AIS_DTYPE_F32, 2, (const int64_t[]){-1, 5}, names));
    ais_model *m = NULL;
    AIS_ASSERT_OK(make_model(g, 2, &m));

    assert_int_equal(ais_model_input_count(m), 1);
    assert_int_equal(ais_model_output_count(m), 1);
    const char *name;
    ais_dtype dt;
    size_t nd;
    const int64_t *dims;
    AIS_ASSERT_OK(ais_model_input_info(m, 0, &name, &dt, &nd, &dims));
    assert_string_equal(name, "features");
    assert_int_equal(dt, AIS_DTYPE_F32);
    assert_int_equal(nd, 2);
    assert_int_equal(dims[0], -1);
    assert_int_equal(dims[1], 5);
    assert_string_equal(ais_model_input_dim_name(m, 0, 0), "batch");
    assert_null(ais_model_input_dim_name(m, 0, 1));
    assert_null(ais_model_input_dim_name(m, 0, 7));
    assert_null(ais_model_input_dim_name(m, 3, 0));
    AIS_ASSERT_OK(ais_model_output_info(m, 0, &name, NULL, NULL, NULL));
    assert_string_equal(name, "out");
    /* Outputs keep their symbolic dimension names too (the Python TensorInfo reads them). */
    assert_string_equal(ais_model_output_dim_name(m, 0, 0), "batch");
    assert_null(ais_model_output_dim_name(m, 0, 1));
    assert_null(ais_model_output_dim_name(m, 0, 2));
    assert_null(ais_model_output_dim_name(m, 1, 0));
    assert_null(ais_model_output_dim_name(NULL, 0, 0));
    AIS_ASSERT_STATUS(ais_model_input_info(m, 1, &name, NULL, NULL, NULL), AIS_E_NOT_FOUND);
    AIS_ASSERT_STATUS(ais_model_output_info(NULL, 0, &name, NULL, NULL, NULL),
                      AIS_E_INVALID_ARGUMENT);

    assert_string_equal(ais_model_metadata(m, "name"), "tiny");
    assert_string_equal(ais_model_metadata(m, "opset"), "17");
    assert_string_equal(ais_model_metadata(m, "opset.ai.onnx.ml"), "3");
    assert_null(ais_model_metadata(m, "no such key"));
    size_t count = ais_model_metadata_count(m);
    bool saw_producer = false;
    for (size_t i = 0; i < count; i++) {
        const char *k, *v;
        AIS_ASSERT_OK(ais_model_metadata_at(m, i, &k, &v));
        if (!strcmp(k, "producer")) saw_producer = !strcmp(v, "test_graph");
    }
    assert_true(saw_producer);
    AIS_ASSERT_STATUS(ais_model_metadata_at(m, count, NULL, NULL), AIS_E_NOT_FOUND);

    assert_int_equal(ais_model_node_count(m), 2);
    const char *op, *dom;
    AIS_ASSERT_OK(ais_model_node_info(m, 1, &name, &op, &dom));
    assert_string_equal(name, "relu0");
    assert_string_equal(op, "Relu");
    assert_string_equal(dom, "");
    AIS_ASSERT_STATUS(ais_model_node_info(m, 2, &name, &op, &dom), AIS_E_NOT_FOUND);
    assert_int_equal(ais_model_weight_bytes(m), 5 * sizeof(float));

    /* references */
    assert_ptr_equal(ais_model_retain(m), m);
    ais_model_destroy(m);
    ais_model_destroy(m);
    ais_model_destroy(NULL);
    assert_int_equal(ais_model_node_count(NULL), 0);
    assert_null(ais_model_metadata(NULL, "name"));
}

/* ---- options ---- */

static void test_options(void **state) {
    (void)state;
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    int64_t v, lo, hi;
    AIS_ASSERT_OK(ais_options_get_int(o, AIS_OPT_THREADS, &v));
    assert_int_equal(v, 0); /* the process-wide count */
    AIS_ASSERT_OK(ais_options_get_int(o, AIS_OPT_OPT_LEVEL, &v));
    assert_int_equal(v, 2);
    AIS_ASSERT_OK(ais_options_get_int(NULL, AIS_OPT_MAX_FILE_BYTES, &v));
    assert_int_equal(v, (int64_t)1 << 40);
    AIS_ASSERT_OK(ais_option_bounds(AIS_OPT_SAVE_COMPRESSION, &lo, &hi));
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 22);
    AIS_ASSERT_OK(ais_options_get_int(o, AIS_OPT_VERIFY_CHECKSUMS, &v));
    assert_int_equal(v, 1);
    AIS_ASSERT_OK(ais_option_bounds(AIS_OPT_VERIFY_CHECKSUMS, &lo, &hi));
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 1);
    AIS_ASSERT_STATUS(ais_options_set_int(o, AIS_OPT_VERIFY_CHECKSUMS, 2), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("AIS_OPT_VERIFY_CHECKSUMS");
    AIS_ASSERT_STATUS(ais_option_bounds((ais_option)(AIS_OPT_PROFILE + 1), &lo, &hi),
                      AIS_E_INVALID_ARGUMENT);
    for (int key = AIS_OPT_THREADS; key <= AIS_OPT_PROFILE; key++) {
        AIS_ASSERT_OK(ais_option_bounds((ais_option)key, &lo, &hi));
        AIS_ASSERT_OK(ais_options_set_int(o, (ais_option)key, lo));
        AIS_ASSERT_OK(ais_options_set_int(o, (ais_option)key, hi));
        AIS_ASSERT_OK(ais_options_get_int(o, (ais_option)key, &v));
        assert_int_equal(v, hi);
        if (hi < INT64_MAX) {
            AIS_ASSERT_STATUS(ais_options_set_int(o, (ais_option)key, hi + 1),
                              AIS_E_INVALID_ARGUMENT);
            ais_test_assert_error_contains("out of range");
        }
        AIS_ASSERT_STATUS(ais_options_set_int(o, (ais_option)key, lo - 1), AIS_E_INVALID_ARGUMENT);
    }
    AIS_ASSERT_STATUS(ais_options_set_int(o, AIS_OPT_THREADS, -3), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("AIS_OPT_THREADS");
    AIS_ASSERT_STATUS(ais_options_set_int(o, (ais_option)99, 1), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_option_bounds((ais_option)0, &lo, &hi), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_options_get_int(o, AIS_OPT_THREADS, NULL), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_options_set_int(NULL, AIS_OPT_THREADS, 1), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_options_create(NULL), AIS_E_INVALID_ARGUMENT);
    ais_options_destroy(o);
    ais_options_destroy(NULL);
}

static void test_load_errors(void **state) {
    (void)state;
    ais_model *m = (ais_model *)0x1;
    ais_status st = ais_model_load("/nonexistent/dir/model.onnx", NULL, &m);
    assert_int_not_equal(st, AIS_OK);
    assert_null(m);
    assert_true(strlen(ais_last_error()) > 0);
    AIS_ASSERT_STATUS(ais_model_load(NULL, NULL, &m), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_model_load("x.onnx", NULL, NULL), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_model_load_memory(NULL, 10, NULL, &m), AIS_E_INVALID_ARGUMENT);
    static const unsigned char junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
    st = ais_model_load_memory(junk, sizeof junk, NULL, &m);
    assert_int_not_equal(st, AIS_OK);
    assert_null(m);
    AIS_ASSERT_STATUS(ais_model_save(NULL, "x.ais", NULL), AIS_E_INVALID_ARGUMENT);
}

/* ---- allocation failures ---- */

static ais_model *sweep_model;

static ais_status sweep_build(void *ctx) {
    (void)ctx;
    ais__graph *g = NULL;
    ais_status st;
    int32_t v;
    if ((st = ais__graph_create(&g)) != AIS_OK) return st;
    if ((st = ais__graph_set_opset(g, "", 13)) != AIS_OK) goto fail;
    if ((st = ais__graph_set_meta(g, "name", "sweep")) != AIS_OK) goto fail;
    if ((st = ais__graph_value(g, "x", &v)) != AIS_OK) goto fail;
    if ((st = ais__graph_declare(g, v, AIS_DTYPE_F32, 1, (const int64_t[]){3}, NULL)) != AIS_OK)
        goto fail;
    if ((st = ais__graph_add_input(g, v)) != AIS_OK) goto fail;
    for (int i = 0; i < 2; i++) {
        ais_tensor *t = NULL;
        if ((st = ais_tensor_create(AIS_DTYPE_F32, (const int64_t[]){3}, 1, &t)) != AIS_OK)
            goto fail;
        if ((st = ais__graph_value(g, i ? "c1" : "c0", &v)) != AIS_OK) {
            ais_tensor_destroy(t);
            goto fail;
        }
        ais__graph_set_constant(g, v, t);
    }
    const char *fold_in[2] = {"c0", "c1"}, *fold_out[1] = {"c"};
    const char *add_in[2] = {"x", "c"}, *add_out[1] = {"h"};
    const char *relu_in[1] = {"h"}, *relu_out[1] = {"y"};
    const char *dead_in[1] = {"x"}, *dead_out[1] = {"z"};
    if ((st = ais__graph_add_node(g, "f", "Add", "", NULL, fold_in, 2, fold_out, 1, NULL)) ||
        (st = ais__graph_add_node(g, "r", "Relu", "", NULL, relu_in, 1, relu_out, 1, NULL)) ||
        (st = ais__graph_add_node(g, "a", "Add", "", NULL, add_in, 2, add_out, 1, NULL)) ||
        (st = ais__graph_add_node(g, "d", "Relu", "", NULL, dead_in, 1, dead_out, 1, NULL)))
        goto fail;
    if ((st = ais__graph_value(g, "y", &v)) != AIS_OK) goto fail;
    if ((st = ais__graph_add_output(g, v)) != AIS_OK) goto fail;
    return ais__model_from_graph(g, NULL, &sweep_model);
fail:
    ais__graph_destroy(g);
    return st;
}

static void test_oom_model(void **state) {
    (void)state;
    long n = AIS_TEST_OOM_SWEEP("model from graph", sweep_build, NULL, 2000,
                                AIS_OWN_MODEL(&sweep_model));
    assert_true(n > 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_operator),
        cmocka_unit_test(test_domain_not_imported),
        cmocka_unit_test(test_dangling_input),
        cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_wrong_arity),
        cmocka_unit_test(test_sort_and_fold),
        cmocka_unit_test(test_constant_node_folded),
        cmocka_unit_test(test_introspection),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_oom_model),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
