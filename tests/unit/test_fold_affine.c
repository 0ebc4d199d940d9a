/* test_fold_affine.c - the optimization level 2 pass that folds a Mul or Add by a per-channel
 * constant into the Conv or BatchNormalization before it (runtime/fold_affine.c): levels 1 and
 * 2 agree; the Mul and Add go, and then the Relu after a convolution (the fusion pass sees
 * Conv -> Relu); constants that do not broadcast per channel, and outputs read twice, stay;
 * allocation failures fail the load cleanly. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/model.h"
#include "test_util.h"

enum {
    CASE_CONV,        /* Conv(bias) -> Mul [6,1,1] -> Add [6,1,1] -> Relu: one FusedConv */
    CASE_CONV_SCALAR, /* Conv(no bias) -> Mul [1] -> Add [1,6,1,1] -> Relu: one FusedConv */
    CASE_BN,          /* BatchNormalization -> Mul -> Add -> Relu: BatchNormalization, Relu */
    CASE_PER_WIDTH,   /* Conv -> Mul [6] (along the width, 6 wide): nothing folds */
    CASE_TWO_READERS, /* Conv's output also read by a Neg: nothing folds */
    N_CASE
};

typedef struct {
    ais_tensor *x, *w, *b, *s, *t, *bn[4];
} inputs;

static inputs make_inputs(int c) {
    inputs in;
    in.x = ais_test_rand_f32(AIS_SHAPE(2, 4, 9, 7), -2, 2);
    in.w = ais_test_rand_f32(AIS_SHAPE(6, 4, 3, 3), -1, 1);
    in.b = ais_test_rand_f32(AIS_SHAPE(6), -1, 1);
    int64_t ch = c == CASE_BN ? 4 : 6;
    if (c == CASE_CONV_SCALAR) {
        in.s = ais_test_rand_f32(AIS_SHAPE(1), 0.5f, 2);
        in.t = ais_test_rand_f32(AIS_SHAPE(1, 6, 1, 1), -1, 1);
    } else if (c == CASE_PER_WIDTH) {
        in.s = ais_test_rand_f32(AIS_SHAPE(6), 0.5f, 2); /* as many as channels */
        in.t = ais_test_rand_f32(AIS_SHAPE(6), -1, 1);
    } else {
        in.s = ais_test_rand_f32(AIS_SHAPE(ch, 1, 1), -2, 2);
        in.t = ais_test_rand_f32(AIS_SHAPE(ch, 1, 1), -1, 1);
    }
    in.bn[0] = ais_test_rand_f32(AIS_SHAPE(4), 0.5f, 2);     /* scale */
    in.bn[1] = ais_test_rand_f32(AIS_SHAPE(4), -1, 1);       /* B */
    in.bn[2] = ais_test_rand_f32(AIS_SHAPE(4), -0.5f, 0.5f); /* mean */
    in.bn[3] = ais_test_rand_f32(AIS_SHAPE(4), 0.1f, 3);     /* var */
    return in;
}

static void free_inputs(inputs *in) {
    ais_tensor *all[] = {in->x,     in->w,     in->b,     in->s,    in->t,
                         in->bn[0], in->bn[1], in->bn[2], in->bn[3]};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ais_tensor_destroy(all[i]);
}

/* x -> Conv or BatchNormalization -> h -> Mul(h, s) -> m -> Add(t, m) -> a -> Relu -> y (the
 * Add's constant first: either order folds); CASE_TWO_READERS: h also -> Neg -> z. */
static ais_status build(const inputs *in, int c, ais_model **m, int64_t level) {
    ais__graph *g = NULL;
    *m = NULL;
    AIS__CHECK(ais__graph_create(&g));
    ais_status st;
    int32_t v;
    static const char *const bn_names[4] = {"scale", "B", "mean", "var"};
    if ((st = ais__graph_set_opset(g, "", 15)) || (st = ais__graph_value(g, "x", &v)) ||
        (st = ais__graph_declare(g, v, AIS_DTYPE_F32, 4, in->x->dims, NULL)) ||
        (st = ais__graph_add_input(g, v)) || (st = ais_test_graph_copy_const(g, "w", in->w)) ||
        (st = ais_test_graph_copy_const(g, "b", in->b)) || (st = ais_test_graph_copy_const(g, "s", in->s)) ||
        (st = ais_test_graph_copy_const(g, "t", in->t)))
        goto fail;
    for (int k = 0; k < 4; k++)
        if ((st = ais_test_graph_copy_const(g, bn_names[k], in->bn[k]))) goto fail;
    const char *hout[1] = {"h"};
    if (c == CASE_BN) {
        const char *bin[5] = {"x", "scale", "B", "mean", "var"};
        st = ais__graph_add_node(g, "bn", "BatchNormalization", "", NULL, bin, 5, hout, 1, NULL);
    } else {
        st = ais_test_graph_conv(g, "conv", "x", "w", c == CASE_CONV_SCALAR ? NULL : "b",
                                 (const int64_t[]){1, 0, 1, 1}, 1, "h");
    }
    if (st) goto fail;
    const char *min[2] = {"h", "s"}, *mout[1] = {"m"}, *ain[2] = {"t", "m"}, *aout[1] = {"a"};
    const char *rin[1] = {"a"}, *yout[1] = {"y"};
    if ((st = ais__graph_add_node(g, "mul", "Mul", "", NULL, min, 2, mout, 1, NULL)) ||
        (st = ais__graph_add_node(g, "add", "Add", "", NULL, ain, 2, aout, 1, NULL)) ||
        (st = ais__graph_add_node(g, "relu", "Relu", "", NULL, rin, 1, yout, 1, NULL)) ||
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
    ais__graph_destroy(g);
    return st;
}

static void test_fold_cases(void **state) {
    (void)state;
    for (int c = 0; c < N_CASE; c++) {
        print_message("case %d\n", c);
        inputs in = make_inputs(c);
        ais_model *m1, *m2;
        AIS_ASSERT_OK(build(&in, c, &m1, 1));
        AIS_ASSERT_OK(build(&in, c, &m2, 2));
        size_t base = c == CASE_TWO_READERS ? 5 : 4;
        assert_int_equal(ais_model_node_count(m1), base);
        size_t want = c == CASE_CONV || c == CASE_CONV_SCALAR ? 1 : c == CASE_BN ? 2 : base;
        assert_int_equal(ais_model_node_count(m2), want);
        const char *op, *dom;
        AIS_ASSERT_OK(ais_model_node_info(m2, 0, NULL, &op, &dom));
        if (want == 1) assert_string_equal(op, "FusedConv");
        if (c == CASE_BN) assert_string_equal(op, "BatchNormalization");
        ais_tensor *y1 = ais_test_run_xy(m1, in.x), *y2 = ais_test_run_xy(m2, in.x);
        ais_test_assert_close(y2, y1, 1e-5, 1e-5);
        ais_tensor_destroy(y1);
        ais_tensor_destroy(y2);
        ais_model_destroy(m1);
        ais_model_destroy(m2);
        free_inputs(&in);
    }
}

/* Allocation failures while folding fail the load cleanly (or it succeeds). */
static inputs sweep_in;
static ais_model *sweep_model;
static int sweep_case;
static ais_status sweep_run(void *p) {
    (void)p;
    return build(&sweep_in, sweep_case, &sweep_model, 2);
}
static void test_oom(void **state) {
    (void)state;
    for (sweep_case = CASE_CONV; sweep_case <= CASE_BN; sweep_case++) {
        sweep_in = make_inputs(sweep_case);
        assert_true(AIS_TEST_OOM_SWEEP("fold_affine", sweep_run, NULL, 3000,
                                       AIS_OWN_MODEL(&sweep_model)) >= 2);
        free_inputs(&sweep_in);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_cases),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
