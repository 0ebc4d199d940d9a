/* test_fold_bn.c - the optimization level 2 pass that folds BatchNormalization into the Conv
 * before it (runtime/fold_bn.c): levels 1 and 2 agree, the normalization and then the Relu after
 * it go (the fusion pass sees Conv -> Relu), what must not fold does not, and a saved folded
 * model loads and runs the same. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/model.h"
#include "test_util.h"

enum { CASE_FOLD, CASE_NO_BIAS, CASE_TWO_READERS, CASE_TRAINING, N_CASE };

typedef struct {
    ais_tensor *x, *w, *b, *bn[4];
} inputs;

static inputs make_inputs(int64_t groups) {
    inputs in;
    in.x = ais_test_rand_f32(AIS_SHAPE(2, 4, 9, 7), -2, 2);
    in.w = ais_test_rand_f32(AIS_SHAPE(6, 4 / groups, 3, 3), -1, 1);
    in.b = ais_test_rand_f32(AIS_SHAPE(6), -1, 1);
    in.bn[0] = ais_test_rand_f32(AIS_SHAPE(6), 0.5f, 2);     /* scale */
    in.bn[1] = ais_test_rand_f32(AIS_SHAPE(6), -1, 1);       /* B */
    in.bn[2] = ais_test_rand_f32(AIS_SHAPE(6), -0.5f, 0.5f); /* mean */
    in.bn[3] = ais_test_rand_f32(AIS_SHAPE(6), 0.1f, 3);     /* var */
    return in;
}

static void free_inputs(inputs *in) {
    ais_tensor_destroy(in->x);
    ais_tensor_destroy(in->w);
    ais_tensor_destroy(in->b);
    for (int i = 0; i < 4; i++)
        ais_tensor_destroy(in->bn[i]);
}

/* x -> Conv -> h -> BatchNormalization -> n -> Relu -> y (CASE_TWO_READERS: h is also read by
 * a Neg into output z; CASE_TRAINING: training_mode 1, which has more outputs in real models
 * and must stay). */
static ais_status build(const inputs *in, int c, int64_t groups, ais_model **m, int64_t level) {
    ais__graph *g = NULL;
    *m = NULL;
    AIS__CHECK(ais__graph_create(&g));
    ais_status st;
    int32_t v;
    ais_attrs *ba = NULL;
    static const char *const bn_names[4] = {"scale", "B", "mean", "var"};
    if ((st = ais__graph_set_opset(g, "", 15)) || (st = ais__graph_value(g, "x", &v)) ||
        (st = ais__graph_declare(g, v, AIS_DTYPE_F32, 4, in->x->dims, NULL)) ||
        (st = ais__graph_add_input(g, v)) || (st = ais_test_graph_copy_const(g, "w", in->w)) ||
        (st = ais_test_graph_copy_const(g, "b", in->b)))
        goto fail;
    for (int k = 0; k < 4; k++)
        if ((st = ais_test_graph_copy_const(g, bn_names[k], in->bn[k]))) goto fail;
    if ((st = ais_test_graph_conv(g, "conv", "x", "w", c == CASE_NO_BIAS ? NULL : "b",
                                  (const int64_t[]){1, 0, 1, 1}, groups, "h")) ||
        (st = ais_attrs_create(&ba)) || (st = ais_attrs_set_float(ba, "epsilon", 1e-3f)))
        goto fail;
    if (c == CASE_TRAINING && (st = ais_attrs_set_int(ba, "training_mode", 1))) goto fail;
    const char *bin[5] = {"h", "scale", "B", "mean", "var"}, *nout[1] = {"n"};
    st = ais__graph_add_node(g, "bn", "BatchNormalization", "", ba, bin, 5, nout, 1, NULL);
    ba = NULL;
    if (st) goto fail;
    const char *rin[1] = {"n"}, *yout[1] = {"y"};
    if ((st = ais__graph_add_node(g, "relu", "Relu", "", NULL, rin, 1, yout, 1, NULL)) ||
        (st = ais__graph_value(g, "y", &v)) || (st = ais__graph_add_output(g, v)))
        goto fail;
    if (c == CASE_TWO_READERS) {
        const char *zin[1] = {"h"}, *zout[1] = {"z"};
        if ((st = ais__graph_add_node(g, "neg", "Neg", "", NULL, zin, 1, zout, 1, NULL)) ||
            (st = ais__graph_value(g, "z", &v)) || (st = ais__graph_add_output(g, v)))
            goto fail;
    }
    return ais_test_model_try_level(g, level, m);
fail:
    ais_attrs_destroy(ba);
    ais__graph_destroy(g);
    return st;
}

static void check_case(int c, int64_t groups) {
    inputs in = make_inputs(groups);
    ais_model *m1, *m2;
    AIS_ASSERT_OK(build(&in, c, groups, &m1, 1));
    AIS_ASSERT_OK(build(&in, c, groups, &m2, 2));
    size_t base = c == CASE_TWO_READERS ? 4 : 3;
    assert_int_equal(ais_model_node_count(m1), base);
    /* folded: Conv + Relu fused into one FusedConv; otherwise the normalization stays */
    bool fold = c == CASE_FOLD || c == CASE_NO_BIAS;
    assert_int_equal(ais_model_node_count(m2), fold ? 1 : base);
    if (fold) {
        const char *op, *dom;
        AIS_ASSERT_OK(ais_model_node_info(m2, 0, NULL, &op, &dom));
        assert_string_equal(op, "FusedConv");
    }
    if (c != CASE_TRAINING) {
        ais_tensor *y1 = ais_test_run_xy(m1, in.x), *y2 = ais_test_run_xy(m2, in.x);
        ais_test_assert_close(y2, y1, 1e-5, 1e-5);
        if (fold) {
            char path[128];
            snprintf(path, sizeof path, "/tmp/ais_test_fold_bn_%d.ais", (int)getpid());
            AIS_ASSERT_OK(ais_model_save(m2, path, NULL));
            ais_model *m3;
            AIS_ASSERT_OK(ais_model_load(path, NULL, &m3));
            assert_int_equal(ais_model_node_count(m3), 1);
            ais_tensor *y3 = ais_test_run_xy(m3, in.x);
            ais_test_assert_close(y3, y2, 0, 0);
            ais_tensor_destroy(y3);
            ais_model_destroy(m3);
            remove(path);
        }
        ais_tensor_destroy(y1);
        ais_tensor_destroy(y2);
    }
    ais_model_destroy(m1);
    ais_model_destroy(m2);
    free_inputs(&in);
}

static void test_fold_cases(void **state) {
    (void)state;
    for (int c = 0; c < N_CASE; c++) {
        check_case(c, 1);
        check_case(c, 2);
    }
}

/* Allocation failures while folding fail the load cleanly (or it succeeds). */
static inputs sweep_in;
static ais_model *sweep_model;
static ais_status sweep_run(void *p) {
    (void)p;
    return build(&sweep_in, CASE_FOLD, 1, &sweep_model, 2);
}
static void test_oom(void **state) {
    (void)state;
    sweep_in = make_inputs(1);
    assert_true(AIS_TEST_OOM_SWEEP("fold_bn", sweep_run, NULL, 3000, AIS_OWN_MODEL(&sweep_model)) >=
                2);
    free_inputs(&sweep_in);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_cases),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
