/* test_fuse_block.c - the inverted-residual pass (runtime/fuse_block.c) and its operator
 * FusedInvertedResidual (ops/conv_block.c): random blocks (widths, planes, strides, pads,
 * residual or not, Relu or Clip) give the unfused graph's outputs within fp32 rounding at 1 and
 * 2 threads, with E small enough for one band and large enough for several; the chains that must
 * not fuse do not; bad inputs to the operator fail cleanly; allocation failures in the pass and
 * in the run. At a level without conv_pw_small (AIS_CPU_ISA=scalar) nothing fuses and the
 * graphs must still agree. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu/cpu.h"
#include "runtime/model.h"
#include "test_util.h"

typedef struct blk_spec {
    int64_t c, ce, m, h, w, k, s, pads[4];
    bool resid, clip;   /* residual Add of x; Clip(0, 6) (else Relu) */
    bool e_two_readers; /* E also a graph output: must not fuse */
    bool project_act;   /* a Relu after the projection: must not fuse */
    const ais_tensor *x, *we, *be, *wd, *bd, *wp, *bp;
} blk_spec;

static ais_status conv_node(ais__graph *g, const char *name, const char *x, const char *w,
                            const char *b, const int64_t *pads, int64_t group, int64_t s,
                            const char *y) {
    ais_attrs *a = NULL;
    ais_status st = ais_attrs_create(&a);
    if (st == AIS_OK && pads) st = ais_attrs_set_ints(a, "pads", pads, 4);
    if (st == AIS_OK && group != 1) st = ais_attrs_set_int(a, "group", group);
    if (st == AIS_OK && s != 1) st = ais_attrs_set_ints(a, "strides", (const int64_t[]){s, s}, 2);
    if (st != AIS_OK) {
        ais_attrs_destroy(a);
        return st;
    }
    const char *in[3] = {x, w, b}, *out[1] = {y};
    return ais__graph_add_node(g, name, "Conv", "", a, in, 3, out, 1, NULL);
}

static ais_status act_node(ais__graph *g, const blk_spec *s, const char *name, const char *x,
                           const char *y) {
    const char *in[3] = {x, "zero", "six"}, *out[1] = {y};
    return ais__graph_add_node(g, name, s->clip ? "Clip" : "Relu", "", NULL, in, s->clip ? 3 : 1,
                               out, 1, NULL);
}

static ais_status add_out(ais__graph *g, const char *name) {
    int32_t v;
    AIS__CHECK(ais__graph_value(g, name, &v));
    return ais__graph_add_output(g, v);
}

/* x -> 1x1 -> act -> depthwise -> act -> 1x1 [-> Add x] -> y; no assertions (the OOM sweep). */
static ais_status build(const blk_spec *s, ais__graph **out) {
    ais__graph *g = NULL;
    *out = NULL;
    AIS__CHECK(ais__graph_create(&g));
    ais_status st;
    int32_t v;
    if ((st = ais__graph_set_opset(g, "", 13)) || (st = ais__graph_value(g, "x", &v)) ||
        (st = ais__graph_declare(g, v, AIS_DTYPE_F32, 4, s->x->dims, NULL)) ||
        (st = ais__graph_add_input(g, v)) || (st = ais_test_graph_copy_const(g, "we", s->we)) ||
        (st = ais_test_graph_copy_const(g, "be", s->be)) ||
        (st = ais_test_graph_copy_const(g, "wd", s->wd)) ||
        (st = ais_test_graph_copy_const(g, "bd", s->bd)) ||
        (st = ais_test_graph_copy_const(g, "wp", s->wp)) ||
        (st = ais_test_graph_copy_const(g, "bp", s->bp)) ||
        (s->clip && ((st = ais_test_graph_scalar_const(g, "zero", 0.0f)) ||
                     (st = ais_test_graph_scalar_const(g, "six", 6.0f)))))
        goto fail;
    const char *last = s->resid || s->project_act ? "p" : "y";
    if ((st = conv_node(g, "expand", "x", "we", "be", NULL, 1, 1, "e0")) ||
        (st = act_node(g, s, "expand_act", "e0", "e")) ||
        (st = conv_node(g, "dw", "e", "wd", "bd", s->pads, s->ce, s->s, "d0")) ||
        (st = act_node(g, s, "dw_act", "d0", "d")) ||
        (st = conv_node(g, "project", "d", "wp", "bp", NULL, 1, 1, last)))
        goto fail;
    if (s->resid) {
        const char *in[2] = {"p", "x"}, *o[1] = {"y"};
        if ((st = ais__graph_add_node(g, "add", "Add", "", NULL, in, 2, o, 1, NULL))) goto fail;
    } else if (s->project_act) {
        const char *in[1] = {"p"}, *o[1] = {"y"};
        if ((st = ais__graph_add_node(g, "relu", "Relu", "", NULL, in, 1, o, 1, NULL))) goto fail;
    }
    if ((st = add_out(g, "y")) || (s->e_two_readers && (st = add_out(g, "e")))) goto fail;
    *out = g;
    return AIS_OK;
fail:
    ais__graph_destroy(g);
    return st;
}

static ais_status load(const blk_spec *s, int64_t level, ais_model **m) {
    ais__graph *g = NULL;
    *m = NULL;
    AIS__CHECK(build(s, &g));
    ais_options *o = NULL;
    ais_status st = ais_options_create(&o);
    if (st == AIS_OK) st = ais_options_set_int(o, AIS_OPT_OPT_LEVEL, level);
    if (st == AIS_OK) o->fuse_clip = true; /* also in builds with the CUDA plugin */
    if (st != AIS_OK) {
        ais_options_destroy(o);
        ais__graph_destroy(g);
        return st;
    }
    st = ais__model_from_graph(g, o, m);
    ais_options_destroy(o);
    return st;
}

static ais_status run(ais_model *m, const ais_tensor *x, int threads, ais_tensor **y) {
    ais_options *o = NULL;
    ais_session *ses = NULL;
    *y = NULL;
    ais_status st = ais_options_create(&o);
    if (st == AIS_OK) st = ais_options_set_int(o, AIS_OPT_THREADS, threads);
    if (st == AIS_OK) st = ais_session_create(m, o, &ses);
    const char *in_names[1] = {"x"}, *out_names[1] = {"y"};
    if (st == AIS_OK) st = ais_session_run(ses, in_names, &x, 1, out_names, y, 1);
    ais_session_destroy(ses);
    ais_options_destroy(o);
    return st;
}

static void make(blk_spec *s) {
    s->x = ais_test_rand_f32(AIS_SHAPE(1, s->c, s->h, s->w), -2, 2);
    s->we = ais_test_rand_f32(AIS_SHAPE(s->ce, s->c, 1, 1), -0.5, 0.5);
    s->be = ais_test_rand_f32(AIS_SHAPE(s->ce), -1, 1);
    s->wd = ais_test_rand_f32(AIS_SHAPE(s->ce, 1, s->k, s->k), -0.5, 0.5);
    s->bd = ais_test_rand_f32(AIS_SHAPE(s->ce), -1, 1);
    s->wp = ais_test_rand_f32(AIS_SHAPE(s->m, s->ce, 1, 1), -0.3, 0.3);
    s->bp = ais_test_rand_f32(AIS_SHAPE(s->m), -1, 1);
}

static void unmake(blk_spec *s) {
    const ais_tensor *t[7] = {s->x, s->we, s->be, s->wd, s->bd, s->wp, s->bp};
    for (int i = 0; i < 7; i++)
        ais_tensor_destroy((ais_tensor *)t[i]);
}

static bool level_fuses(void) { return ais__cpu()->conv_pw_small && ais__cpu()->dwconv_planes; }

/* The operator called directly on s's tensors (whatever this level fuses: at the scalar level
 * its portable path), or NULL for the chains it does not stand for. */
static ais_tensor *run_op(const blk_spec *s) {
    if (s->project_act || s->e_two_readers) return NULL;
    const ais_tensor *in[8] = {s->x, s->we, s->be, s->wd, s->bd, s->wp, s->bp, s->x};
    const float clip[2] = {0.0f, s->clip ? 6.0f : INFINITY};
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "strides", (const int64_t[]){s->s, s->s}, 2));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "pads", s->pads, 4));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "expand_clip", clip, 2));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "depthwise_clip", clip, 2));
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_op_run_opset("com.microsoft", "FusedInvertedResidual", 1, a, in,
                                   s->resid ? 8 : 7, &y, 1));
    ais_attrs_destroy(a);
    return y;
}

/* The node count after level 2 and whether it agrees with level 1 at 1 and 2 threads; the
 * operator called directly too. */
static void check_spec(const blk_spec *s, bool want_fused) {
    ais_model *m1, *m2;
    AIS_ASSERT_OK(load(s, 1, &m1));
    AIS_ASSERT_OK(load(s, 2, &m2));
    bool fused = false;
    for (size_t i = 0; i < ais_model_node_count(m2); i++) {
        const char *op, *dom;
        AIS_ASSERT_OK(ais_model_node_info(m2, i, NULL, &op, &dom));
        if (strcmp(op, "FusedInvertedResidual") == 0) fused = true;
    }
    if (fused != (want_fused && level_fuses()))
        fail_msg("c %lld ce %lld m %lld %lldx%lld k %lld s %lld resid %d: fused %d, expected %d",
                 (long long)s->c, (long long)s->ce, (long long)s->m, (long long)s->h,
                 (long long)s->w, (long long)s->k, (long long)s->s, s->resid, fused,
                 want_fused && level_fuses());
    if (fused) assert_int_equal(ais_model_node_count(m2), 1);
    ais_tensor *y1;
    AIS_ASSERT_OK(run(m1, s->x, 1, &y1));
    for (int threads = 1; threads <= 2; threads++) {
        ais_tensor *y2;
        AIS_ASSERT_OK(run(m2, s->x, threads, &y2));
        /* sums of up to 256 products in another order than the unfused kernels' */
        ais_test_assert_close(y2, y1, 1e-5, 1e-5);
        ais_tensor_destroy(y2);
    }
    ais_tensor *y3 = run_op(s);
    if (y3) ais_test_assert_close(y3, y1, 1e-5, 1e-5);
    ais_tensor_destroy(y3);
    ais_tensor_destroy(y1);
    ais_model_destroy(m1);
    ais_model_destroy(m2);
}

static void random_spec(blk_spec *s, bool big) {
    memset(s, 0, sizeof *s);
    s->c = ais_test_randint(1, 32);
    s->ce = big ? 64 + 8 * ais_test_randint(0, 4) : ais_test_randint(2, 48);
    s->k = ais_test_randint(0, 1) ? 3 : 5;
    s->s = ais_test_randint(1, 2);
    s->h = big ? ais_test_randint(64, 80) : ais_test_randint(s->k, 20);
    s->w = big ? ais_test_randint(60, 72) : ais_test_randint(s->k, 20);
    s->resid = s->s == 1 && ais_test_randint(0, 1);
    int64_t p = s->resid ? s->k / 2 : ais_test_randint(0, s->k / 2);
    for (int i = 0; i < 4; i++)
        s->pads[i] = s->resid ? p : ais_test_randint(0, s->k / 2);
    s->m = s->resid ? s->c : ais_test_randint(1, 40);
    s->clip = ais_test_randint(0, 1);
}

/* E of one band (small planes) and of several (E of 1 MB and more: 64 x 64 x 64 floats). */
static void test_block_matches_unfused(void **state) {
    (void)state;
    for (int big = 0; big <= 1; big++)
        for (int i = 0; i < (big ? 4 : 24); i++) {
            blk_spec s;
            random_spec(&s, big);
            make(&s);
            check_spec(&s, true);
            unmake(&s);
        }
}

/* MobileNetV2's two shapes of block at their sizes: 16 -> 96 at 112x112, stride 2, and
 * 24 -> 144 -> 24 at 56x56 with its residual. */
static void test_block_mobilenet_shapes(void **state) {
    (void)state;
    blk_spec a = {.c = 16,
                  .ce = 96,
                  .m = 24,
                  .h = 112,
                  .w = 112,
                  .k = 3,
                  .s = 2,
                  .pads = {1, 1, 1, 1},
                  .clip = true};
    blk_spec b = {.c = 24,
                  .ce = 144,
                  .m = 24,
                  .h = 56,
                  .w = 56,
                  .k = 3,
                  .s = 1,
                  .pads = {1, 1, 1, 1},
                  .resid = true,
                  .clip = true};
    blk_spec *all[2] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        make(all[i]);
        check_spec(all[i], true);
        unmake(all[i]);
    }
}

/* What must stay unfused: E read by another (a graph output), an activation after the
 * projection, more than 32 input channels, more than 256 expanded ones. */
static void test_block_not_fused(void **state) {
    (void)state;
    for (int c = 0; c < 4; c++) {
        blk_spec s = {.c = c == 2 ? 33 : 8,
                      .ce = c == 3 ? 264 : 24,
                      .m = 8,
                      .h = 9,
                      .w = 10,
                      .k = 3,
                      .s = 1,
                      .pads = {1, 1, 1, 1},
                      .clip = true,
                      .e_two_readers = c == 0,
                      .project_act = c == 1};
        make(&s);
        check_spec(&s, false);
        unmake(&s);
    }
}

/* The operator's own checks, where a model names it directly: wrong shapes, attributes. */
static void test_block_bad_inputs(void **state) {
    (void)state;
    blk_spec s = {.c = 4, .ce = 8, .m = 4, .h = 6, .w = 6, .k = 3, .s = 1, .pads = {1, 1, 1, 1}};
    make(&s);
    ais_tensor *wd_bad = ais_test_rand_f32(AIS_SHAPE(8, 1, 3, 2), -1, 1);
    ais_tensor *be_bad = ais_test_rand_f32(AIS_SHAPE(7), -1, 1);
    for (int c = 0; c < 5; c++) {
        const ais_tensor *in[7] = {s.x,  s.we, c == 1 ? be_bad : s.be, c == 0 ? wd_bad : s.wd, s.bd,
                                   s.wp, s.bp};
        ais_attrs *a = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&a));
        AIS_ASSERT_OK(ais_attrs_set_ints(a, "strides", (const int64_t[]){c == 2 ? 3 : 1, 1}, 2));
        AIS_ASSERT_OK(ais_attrs_set_ints(a, "pads", (const int64_t[]){1, 1, 1, 1}, 4));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "expand_clip",
                                           (const float[]){0.0f, c == 3 ? -1.0f : 6.0f}, 2));
        if (c != 4)
            AIS_ASSERT_OK(
                ais_attrs_set_floats(a, "depthwise_clip", (const float[]){0.0f, 6.0f}, 2));
        ais_tensor *y = NULL;
        ais_status st =
            ais_op_run_opset("com.microsoft", "FusedInvertedResidual", 1, a, in, 7, &y, 1);
        assert_int_not_equal(st, AIS_OK);
        assert_true(strlen(ais_last_error()) > 10);
        assert_null(y);
        ais_attrs_destroy(a);
    }
    ais_tensor_destroy(wd_bad);
    ais_tensor_destroy(be_bad);
    unmake(&s);
}

static blk_spec sweep_spec;
static ais_model *sweep_model;
static ais_tensor *sweep_y;

static ais_status sweep_load_run(void *ctx) {
    (void)ctx;
    AIS__CHECK(load(&sweep_spec, 2, &sweep_model));
    return run(sweep_model, sweep_spec.x, 2, &sweep_y);
}

static void test_oom_block(void **state) {
    (void)state;
    sweep_spec = (blk_spec){.c = 8,
                            .ce = 64,
                            .m = 8,
                            .h = 64,
                            .w = 64,
                            .k = 3,
                            .s = 1,
                            .pads = {1, 1, 1, 1},
                            .resid = true,
                            .clip = true};
    make(&sweep_spec);
    long n = AIS_TEST_OOM_SWEEP("inverted-residual model", sweep_load_run, NULL, 5000,
                                AIS_OWN_TENSOR(&sweep_y), AIS_OWN_MODEL(&sweep_model));
    assert_true(n > 5);
    unmake(&sweep_spec);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_matches_unfused),
        cmocka_unit_test(test_block_mobilenet_shapes),
        cmocka_unit_test(test_block_not_fused),
        cmocka_unit_test(test_block_bad_inputs),
        cmocka_unit_test(test_oom_block),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
