/* test_fusion.c - the optimization level 2 pass (runtime/fuse.c) and the fused operators
 * (ops/fused.c): level 1 and level 2 agree, nodes go, what must not fuse does not, a saved
 * fused model loads again, allocation failures. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/model.h"
#include "test_util.h"

enum { P_CONV, P_GEMM, P_MATMUL, N_PROD };
enum { A_RELU, A_LEAKY, A_SIGMOID, A_TANH, A_CLIP, A_CLIP6, A_GELU, A_GELU_TANH, N_ACT };
enum { SHAPE_FUSE, SHAPE_H_OUTPUT, SHAPE_TWO_READERS };

static const char *const fused_names[N_PROD] = {"FusedConv", "FusedGemm", "FusedMatMul"};

typedef struct spec {
    int prod, act, shape;
    const ais_tensor *x, *w, *b; /* b NULL for MatMul */
} spec;

static ais_status add_out(ais__graph *g, const char *name) {
    int32_t v;
    AIS__CHECK(ais__graph_value(g, name, &v));
    return ais__graph_add_output(g, v);
}

/* x -> producer -> h -> activation -> y; no assertions, so the OOM sweep can call it. */
static ais_status build(const spec *s, ais__graph **out) {
    ais__graph *g = NULL;
    ais_attrs *pa = NULL, *aa = NULL;
    *out = NULL;
    AIS__CHECK(ais__graph_create(&g));
    ais_status st;
    int32_t v;
    int64_t opset = s->act == A_CLIP6 ? 6 : 20;
    if ((st = ais__graph_set_opset(g, "", opset)) || (st = ais__graph_value(g, "x", &v)) ||
        (st = ais__graph_declare(g, v, AIS_DTYPE_F32, (int32_t)s->x->ndim, s->x->dims, NULL)) ||
        (st = ais__graph_add_input(g, v)) || (st = ais_test_graph_copy_const(g, "w", s->w)) ||
        (s->b && (st = ais_test_graph_copy_const(g, "b", s->b))))
        goto fail;
    static const char *const prods[N_PROD] = {"Conv", "Gemm", "MatMul"};
    if (s->prod == P_CONV) {
        if ((st = ais_attrs_create(&pa)) ||
            (st = ais_attrs_set_ints(pa, "pads", (const int64_t[]){1, 0, 1, 0}, 4)))
            goto fail;
    } else if (s->prod == P_GEMM) {
        if ((st = ais_attrs_create(&pa)) || (st = ais_attrs_set_float(pa, "alpha", 0.75f)))
            goto fail;
    }
    const char *pin[3] = {"x", "w", "b"}, *hout[1] = {"h"};
    st = ais__graph_add_node(g, "prod", prods[s->prod], "", pa, pin, s->b ? 3 : 2, hout, 1, NULL);
    pa = NULL;
    if (st) goto fail;
    static const char *const acts[N_ACT] = {"Relu", "LeakyRelu", "Sigmoid", "Tanh",
                                            "Clip", "Clip",      "Gelu",    "Gelu"};
    const char *ain[3] = {"h", "lo", "hi"}, *yout[1] = {"y"};
    size_t n_ain = 1;
    if ((st = ais_attrs_create(&aa))) goto fail;
    if (s->act == A_LEAKY) st = ais_attrs_set_float(aa, "alpha", 0.3f);
    if (s->act == A_CLIP6 && !(st = ais_attrs_set_float(aa, "min", -0.5f)))
        st = ais_attrs_set_float(aa, "max", 0.7f);
    if (s->act == A_CLIP) {
        n_ain = 3;
        ain[1] = "";
        st = ais_test_graph_scalar_const(g, "hi", 0.4f);
    }
    if (s->act == A_GELU_TANH) st = ais_attrs_set_string(aa, "approximate", "tanh");
    if (st) goto fail;
    st = ais__graph_add_node(g, "act", acts[s->act], "", aa, ain, n_ain, yout, 1, NULL);
    aa = NULL;
    if (st || (st = add_out(g, "y"))) goto fail;
    if (s->shape == SHAPE_H_OUTPUT && (st = add_out(g, "h"))) goto fail;
    if (s->shape == SHAPE_TWO_READERS) {
        const char *zin[1] = {"h"}, *zout[1] = {"z"};
        if ((st = ais__graph_add_node(g, "neg", "Neg", "", NULL, zin, 1, zout, 1, NULL)) ||
            (st = add_out(g, "z")))
            goto fail;
    }
    *out = g;
    return AIS_OK;
fail:
    ais_attrs_destroy(pa);
    ais_attrs_destroy(aa);
    ais__graph_destroy(g);
    return st;
}

/* Whether load() asks the fusion pass to fold Clip too (the internal option fuse_clip). */
static bool fuse_clip = false;

static ais_status load(const spec *s, int64_t level, ais_model **m) {
    ais__graph *g = NULL;
    *m = NULL;
    AIS__CHECK(build(s, &g));
    ais_options *o = NULL;
    ais_status st = ais_options_create(&o);
    if (st == AIS_OK) st = ais_options_set_int(o, AIS_OPT_OPT_LEVEL, level);
    if (st == AIS_OK) o->fuse_clip = fuse_clip;
    if (st != AIS_OK) {
        ais_options_destroy(o);
        ais__graph_destroy(g);
        return st;
    }
    st = ais__model_from_graph(g, o, m);
    ais_options_destroy(o);
    return st;
}

static void make_inputs(int prod, ais_tensor **x, ais_tensor **w, ais_tensor **b) {
    *b = NULL;
    if (prod == P_CONV) {
        *x = ais_test_rand_f32(AIS_SHAPE(2, 3, 7, 6), -2, 2);
        *w = ais_test_rand_f32(AIS_SHAPE(5, 3, 3, 2), -1, 1);
        *b = ais_test_rand_f32(AIS_SHAPE(5), -1, 1);
    } else if (prod == P_GEMM) {
        *x = ais_test_rand_f32(AIS_SHAPE(5, 7), -2, 2);
        *w = ais_test_rand_f32(AIS_SHAPE(7, 3), -1, 1);
        *b = ais_test_rand_f32(AIS_SHAPE(1, 3), -1, 1);
    } else {
        *x = ais_test_rand_f32(AIS_SHAPE(2, 5, 9), -2, 2);
        *w = ais_test_rand_f32(AIS_SHAPE(9, 4), -1, 1);
    }
}

static void assert_bitwise(const ais_tensor *a, const ais_tensor *b) {
    assert_int_equal(a->dtype, b->dtype);
    assert_int_equal(a->nbytes, b->nbytes);
    assert_memory_equal(a->data, b->data, a->nbytes);
}

/* ---- tests ---- */

static void check_levels_agree(void) {
    char path[128];
    snprintf(path, sizeof path, "/tmp/ais_test_fusion_%d.ais", (int)getpid());
    for (int p = 0; p < N_PROD; p++) {
        for (int a = 0; a < N_ACT; a++) {
            ais_tensor *x, *w, *b;
            make_inputs(p, &x, &w, &b);
            spec s = {p, a, SHAPE_FUSE, x, w, b};
            ais_model *m1, *m2;
            AIS_ASSERT_OK(load(&s, 1, &m1));
            AIS_ASSERT_OK(load(&s, 2, &m2));
            assert_int_equal(ais_model_node_count(m1), 2);
            assert_int_equal(ais_model_node_count(m2), 1);
            const char *name, *op, *dom;
            AIS_ASSERT_OK(ais_model_node_info(m2, 0, &name, &op, &dom));
            assert_string_equal(name, "prod");
            assert_string_equal(op, fused_names[p]);
            assert_string_equal(dom, "com.microsoft");
            ais_tensor *y1 = ais_test_run_xy(m1, x), *y2 = ais_test_run_xy(m2, x);
            if (a == A_RELU)
                assert_bitwise(y2, y1);
            else
                ais_test_assert_close(y2, y1, 1e-6, 1e-6);
            /* the saved fused model loads and runs the same */
            AIS_ASSERT_OK(ais_model_save(m2, path, NULL));
            ais_model *m3;
            AIS_ASSERT_OK(ais_model_load(path, NULL, &m3));
            assert_int_equal(ais_model_node_count(m3), 1);
            AIS_ASSERT_OK(ais_model_node_info(m3, 0, NULL, &op, &dom));
            assert_string_equal(op, fused_names[p]);
            ais_tensor *y3 = ais_test_run_xy(m3, x);
            assert_bitwise(y3, y2);
            remove(path);
            ais_tensor_destroy(y1);
            ais_tensor_destroy(y2);
            ais_tensor_destroy(y3);
            ais_model_destroy(m1);
            ais_model_destroy(m2);
            ais_model_destroy(m3);
            ais_tensor_destroy(x);
            ais_tensor_destroy(w);
            ais_tensor_destroy(b);
        }
    }
}

/* Every producer with every activation, Clip folded too. */
static void test_levels_agree(void **state) {
    (void)state;
    fuse_clip = true;
    check_levels_agree();
    fuse_clip = false;
}

/* By default Clip stays a node of its own in builds with the CUDA plugin (the GPU backend cannot
 * run it fused) and is fused in CPU-only builds; the results are those of the unfused graph. */
static void test_clip_not_fused_by_default(void **state) {
    (void)state;
    for (int a = A_CLIP; a <= A_CLIP6; a++) {
        ais_tensor *x, *w, *b;
        make_inputs(P_CONV, &x, &w, &b);
        spec s = {P_CONV, a, SHAPE_FUSE, x, w, b};
        ais_model *m1, *m2;
        AIS_ASSERT_OK(load(&s, 1, &m1));
        AIS_ASSERT_OK(load(&s, 2, &m2));
#ifdef AIS_HAVE_CUDA_PLUGIN
        assert_int_equal(ais_model_node_count(m2), 2);
#else
        assert_int_equal(ais_model_node_count(m2), 1);
#endif
        ais_tensor *y1 = ais_test_run_xy(m1, x), *y2 = ais_test_run_xy(m2, x);
        assert_bitwise(y2, y1);
        ais_tensor_destroy(y1);
        ais_tensor_destroy(y2);
        ais_model_destroy(m1);
        ais_model_destroy(m2);
        ais_tensor_destroy(x);
        ais_tensor_destroy(w);
        ais_tensor_destroy(b);
    }
}

static void test_no_fusion(void **state) {
    (void)state;
    for (int shape = SHAPE_H_OUTPUT; shape <= SHAPE_TWO_READERS; shape++) {
        ais_tensor *x, *w, *b;
        make_inputs(P_GEMM, &x, &w, &b);
        spec s = {P_GEMM, A_RELU, shape, x, w, b};
        ais_model *m;
        AIS_ASSERT_OK(load(&s, 2, &m));
        assert_int_equal(ais_model_node_count(m), shape == SHAPE_H_OUTPUT ? 2 : 3);
        for (size_t i = 0; i < ais_model_node_count(m); i++) {
            const char *op;
            AIS_ASSERT_OK(ais_model_node_info(m, i, NULL, &op, NULL));
            assert_null(strstr(op, "Fused"));
        }
        ais_model_destroy(m);
        ais_tensor_destroy(x);
        ais_tensor_destroy(w);
        ais_tensor_destroy(b);
    }
}

/* A fused node with an activation it does not know fails with a message naming it. */
static void test_bad_activation(void **state) {
    (void)state;
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(2, 3), -1, 1);
    ais_tensor *bm = ais_test_rand_f32(AIS_SHAPE(3, 4), -1, 1);
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_string(at, "activation", "Swish"));
    const ais__op_def *def = ais__op_find("com.microsoft", "FusedMatMul", 1);
    assert_non_null(def);
    const ais_tensor *in[2] = {a, bm};
    ais_tensor *y[1] = {NULL};
    ais__op_ctx ctx = {.op_type = "FusedMatMul", .node_name = "", .opset = 1, .attrs = at};
    AIS_ASSERT_STATUS(ais__op_invoke(def, &ctx, in, 2, y, 1), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("Swish");
    AIS_ASSERT_OK(ais_attrs_set_string(at, "activation", "Relu"));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "transA", 1));
    AIS_ASSERT_STATUS(ais__op_invoke(def, &ctx, in, 2, y, 1), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("transA");
    ais__op_ctx_release(&ctx);
    ais_attrs_destroy(at);
    ais_tensor_destroy(a);
    ais_tensor_destroy(bm);
}

static ais_model *sweep_model;
static spec sweep_spec;

static ais_status sweep_build(void *ctx) {
    (void)ctx;
    return load(&sweep_spec, 2, &sweep_model);
}

static void test_oom_fusion(void **state) {
    (void)state;
    int cases[2][2] = {{P_CONV, A_LEAKY}, {P_GEMM, A_CLIP}};
    fuse_clip = true; /* the Clip case exercises the bound-constant clean-up */
    for (int c = 0; c < 2; c++) {
        ais_tensor *x, *w, *b;
        make_inputs(cases[c][0], &x, &w, &b);
        sweep_spec = (spec){cases[c][0], cases[c][1], SHAPE_FUSE, x, w, b};
        long n =
            AIS_TEST_OOM_SWEEP("fused model", sweep_build, NULL, 3000, AIS_OWN_MODEL(&sweep_model));
        assert_true(n > 5);
        ais_tensor_destroy(x);
        ais_tensor_destroy(w);
        ais_tensor_destroy(b);
    }
    fuse_clip = false;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels_agree), cmocka_unit_test(test_clip_not_fused_by_default),
        cmocka_unit_test(test_no_fusion),    cmocka_unit_test(test_bad_activation),
        cmocka_unit_test(test_oom_fusion),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
