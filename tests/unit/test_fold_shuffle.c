/* test_fold_shuffle.c - the optimization level 2 pass that folds a channel shuffle (Reshape ->
 * Transpose -> Reshape, ShuffleNet's) into the grouped convolution before it
 * (runtime/fold_shuffle.c, the shuffled stores in conv.c, conv_gemm.c and conv_depthwise.c's
 * pointwise path): levels 1 (unfolded) and 2 agree bit for bit at 1 and 2 threads, on 1x1 and
 * 3x3 convolutions, with and without bias, batch 1 and 2; the shuffle's three nodes go; what
 * must not fold does not; a saved folded model runs the same; an attribute that does not fit
 * the convolution fails with a message. Rerun per level (AIS_CPU_ISA: the scalar level's BLAS
 * path; AVX2's conv_gemm and pointwise kernel) by tests/CMakeLists.txt. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runtime/model.h"
#include "test_util.h"

enum {
    CASE_FOLD,         /* 1x1, bias, Relu: one FusedConv is left */
    CASE_FOLD_3X3,     /* 3x3 padded (columns packed from the image, not X itself) */
    CASE_NO_BIAS,      /* Conv without bias or activation; the last Reshape [N, -1, H, W] */
    CASE_OTHER_GROUPS, /* the shuffle's G is not the convolution's groups: stays */
    CASE_TWO_READERS,  /* the Transpose's output is read twice: stays */
    CASE_DEPTHWISE,    /* a depthwise producer (one channel a group): stays */
    N_CASE
};

typedef struct {
    int64_t n, c, h, w, groups, per; /* per: output channels a group */
} shape;

/* An int64 constant of n values (a status: the OOM sweep builds this graph too). */
static ais_status add_i64(ais__graph *g, const char *name, const int64_t *v, int64_t n) {
    ais_tensor *t = NULL;
    AIS__CHECK(ais_tensor_create(AIS_DTYPE_I64, &n, 1, &t));
    memcpy(ais_tensor_data(t), v, (size_t)n * sizeof *v);
    ais_status st = ais_test_graph_copy_const(g, name, t);
    ais_tensor_destroy(t);
    return st;
}

/* x -> Conv (groups, W, bias) [-> Relu] -> h -> Reshape [N, G', Cg', H, W] -> Transpose
 * [0, 2, 1, 3, 4] -> Reshape [N, C', H, W] -> y (CASE_TWO_READERS: the Transpose's output also
 * goes to output z). */
static ais_status build(int c, const shape *s, const ais_tensor *w, const ais_tensor *b,
                        int64_t level, ais_model **m) {
    ais__graph *g = NULL;
    *m = NULL;
    AIS__CHECK(ais__graph_create(&g));
    ais_status st;
    int32_t v;
    int64_t xd[4] = {s->n, s->c, s->h, s->w}, mo = s->groups * s->per;
    int64_t g2 = c == CASE_OTHER_GROUPS ? 2 : s->groups, per2 = mo / g2;
    int64_t d1[5] = {s->n, g2, per2, s->h, s->w};
    int64_t d2[4] = {s->n, c == CASE_NO_BIAS ? -1 : mo, s->h, s->w};
    bool k3 = c == CASE_FOLD_3X3;
    if ((st = ais__graph_set_opset(g, "", 13)) || (st = ais__graph_value(g, "x", &v)) ||
        (st = ais__graph_declare(g, v, AIS_DTYPE_F32, 4, xd, NULL)) ||
        (st = ais__graph_add_input(g, v)) || (st = ais_test_graph_copy_const(g, "w", w)) ||
        (b && (st = ais_test_graph_copy_const(g, "b", b))) || (st = add_i64(g, "d1", d1, 5)) ||
        (st = add_i64(g, "d2", d2, 4)))
        goto fail;
    bool relu = c != CASE_NO_BIAS;
    if ((st = ais_test_graph_conv(g, "conv", "x", "w", b ? "b" : NULL,
                                  k3 ? (const int64_t[]){1, 1, 1, 1} : NULL,
                                  c == CASE_DEPTHWISE ? s->c : s->groups, relu ? "h0" : "h")))
        goto fail;
    if (relu) {
        const char *ri[1] = {"h0"}, *ro[1] = {"h"};
        if ((st = ais__graph_add_node(g, "relu", "Relu", "", NULL, ri, 1, ro, 1, NULL))) goto fail;
    }
    const char *r1i[2] = {"h", "d1"}, *r1o[1] = {"r"}, *ti[1] = {"r"}, *to[1] = {"t"},
               *r2i[2] = {"t", "d2"}, *r2o[1] = {"y"};
    if ((st = ais__graph_add_node(g, "r1", "Reshape", "", NULL, r1i, 2, r1o, 1, NULL)))
        goto fail;
    ais_attrs *ta = NULL; /* the graph takes it, also when adding the node fails */
    if ((st = ais_attrs_create(&ta)) ||
        (st = ais_attrs_set_ints(ta, "perm", (const int64_t[]){0, 2, 1, 3, 4}, 5))) {
        ais_attrs_destroy(ta);
        goto fail;
    }
    if ((st = ais__graph_add_node(g, "tr", "Transpose", "", ta, ti, 1, to, 1, NULL)) ||
        (st = ais__graph_add_node(g, "r2", "Reshape", "", NULL, r2i, 2, r2o, 1, NULL)) ||
        (st = ais__graph_value(g, "y", &v)) || (st = ais__graph_add_output(g, v)))
        goto fail;
    if (c == CASE_TWO_READERS) {
        const char *zi[1] = {"t"}, *zo[1] = {"z"};
        if ((st = ais__graph_add_node(g, "neg", "Neg", "", NULL, zi, 1, zo, 1, NULL)) ||
            (st = ais__graph_value(g, "z", &v)) || (st = ais__graph_add_output(g, v)))
            goto fail;
    }
    return ais_test_model_try_level(g, level, m);
fail:
    ais__graph_destroy(g);
    return st;
}

/* y of one run of m with `threads` threads. */
static ais_tensor *run(ais_model *m, const ais_tensor *x, int64_t threads) {
    ais_options *o = NULL;
    ais_session *ses = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_THREADS, threads));
    AIS_ASSERT_OK(ais_session_create(m, o, &ses));
    const char *in_names[1] = {"x"}, *out_names[1] = {"y"};
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_session_run(ses, in_names, &x, 1, out_names, &y, 1));
    ais_session_destroy(ses);
    ais_options_destroy(o);
    return y;
}

static void check_case(int c, const shape *shp) {
    shape sc = *shp, *s = &sc;
    int64_t mo = s->groups * s->per, k = c == CASE_FOLD_3X3 ? 3 : 1;
    if (c == CASE_DEPTHWISE) sc.c = mo; /* one input channel per output channel */
    int64_t cg = c == CASE_DEPTHWISE ? 1 : s->c / s->groups;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(s->n, s->c, s->h, s->w), -2, 2);
    ais_tensor *w = ais_test_rand_f32(AIS_SHAPE(mo, cg, k, k), -1, 1);
    ais_tensor *b = c == CASE_NO_BIAS ? NULL : ais_test_rand_f32(AIS_SHAPE(mo), -1, 1);
    ais_model *m1, *m2;
    AIS_ASSERT_OK(build(c, s, w, b, 1, &m1));
    AIS_ASSERT_OK(build(c, s, w, b, 2, &m2));
    bool fold = c == CASE_FOLD || c == CASE_FOLD_3X3 || c == CASE_NO_BIAS;
    size_t base = (c == CASE_NO_BIAS ? 4 : 5) + (c == CASE_TWO_READERS);
    assert_int_equal(ais_model_node_count(m1), base);
    /* folded: the convolution (fused with its Relu) alone; else the fusion only */
    assert_int_equal(ais_model_node_count(m2), fold ? 1 : base - (c != CASE_NO_BIAS));
    for (int64_t threads = 1; threads <= 2; threads++) {
        ais_tensor *y1 = run(m1, x, threads), *y2 = run(m2, x, threads);
        ais_test_assert_close(y2, y1, 0, 0);
        ais_tensor_destroy(y1);
        ais_tensor_destroy(y2);
    }
    if (fold && c == CASE_FOLD) {
        char path[128];
        snprintf(path, sizeof path, "/tmp/ais_test_fold_shuffle_%d.ais", (int)getpid());
        AIS_ASSERT_OK(ais_model_save(m2, path, NULL));
        ais_model *m3;
        AIS_ASSERT_OK(ais_model_load(path, NULL, &m3));
        assert_int_equal(ais_model_node_count(m3), 1);
        ais_tensor *y3 = run(m3, x, 1), *y1 = run(m1, x, 1);
        ais_test_assert_close(y3, y1, 0, 0);
        ais_tensor_destroy(y3);
        ais_tensor_destroy(y1);
        ais_model_destroy(m3);
        remove(path);
    }
    ais_model_destroy(m1);
    ais_model_destroy(m2);
    ais_tensor_destroy(x);
    ais_tensor_destroy(w);
    ais_tensor_destroy(b);
}

static void test_fold_cases(void **state) {
    (void)state;
    /* small (one thread's work), ShuffleNet's first stage in small (Cg 3: not a multiple of the
     * micro-kernel's rows), one large enough for the two-thread split, and one of 34 input
     * channels a group (past the pointwise kernel of few channels: conv_gemm.c's 1x1 path) */
    const shape shapes[] = {{1, 8, 5, 7, 4, 3},
                            {2, 12, 9, 7, 4, 3},
                            {1, 32, 30, 30, 4, 10},
                            {2, 24, 14, 14, 3, 16},
                            {1, 136, 7, 7, 4, 34}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int c = 0; c < N_CASE; c++)
            check_case(c, &shapes[i]);
}

/* A FusedConv carrying the attribute with extents that do not fit its output fails to load or
 * run, saying so. */
static void test_misfit_attribute(void **state) {
    (void)state;
    ais__graph *g = ais_test_graph_new(13);
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(1, 8, 5, 5), NULL);
    ais_test_graph_const(g, "w", ais_test_rand_f32(AIS_SHAPE(8, 2, 1, 1), -1, 1));
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "group", 4));
    /* 5 x 6 is not the 5 x 5 plane */
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "ais_shuffled_output", (const int64_t[]){1, 4, 2, 5, 6}, 5));
    const char *in[2] = {"x", "w"}, *out[1] = {"y"};
    AIS_ASSERT_OK(ais__graph_set_opset(g, "com.microsoft", 1));
    AIS_ASSERT_OK(ais__graph_add_node(g, "c", "FusedConv", "com.microsoft", a, in, 2, out, 1, NULL));
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    ais_status st = ais_test_model_try_level(g, 1, &m);
    if (st == AIS_OK) {
        ais_session *ses = NULL;
        st = ais_session_create(m, NULL, &ses);
        if (st == AIS_OK) {
            ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(1, 8, 5, 5), -1, 1), *y = NULL;
            const char *in_names[1] = {"x"}, *out_names[1] = {"y"};
            st = ais_session_run(ses, in_names, (const ais_tensor *const *)&x, 1, out_names, &y, 1);
            ais_tensor_destroy(x);
            ais_tensor_destroy(y);
            ais_session_destroy(ses);
        }
        ais_model_destroy(m);
    }
    AIS_ASSERT_STATUS(st, AIS_E_SHAPE);
    ais_test_assert_error_contains("channel shuffle");
}

/* Allocation failures while folding fail the load cleanly (or it succeeds). */
static ais_tensor *sweep_w, *sweep_b;
static ais_model *sweep_model;
static const shape sweep_shape = {1, 8, 5, 7, 4, 3};
static ais_status sweep_run(void *p) {
    (void)p;
    return build(CASE_FOLD, &sweep_shape, sweep_w, sweep_b, 2, &sweep_model);
}
static void test_oom(void **state) {
    (void)state;
    sweep_w = ais_test_rand_f32(AIS_SHAPE(12, 2, 1, 1), -1, 1);
    sweep_b = ais_test_rand_f32(AIS_SHAPE(12), -1, 1);
    assert_true(AIS_TEST_OOM_SWEEP("fold_shuffle", sweep_run, NULL, 3000,
                                   AIS_OWN_MODEL(&sweep_model)) >= 2);
    ais_tensor_destroy(sweep_w);
    ais_tensor_destroy(sweep_b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_cases),
        cmocka_unit_test(test_misfit_attribute),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
