/* test_ops_conv_winograd.c - Winograd F(4x4, 3x3) (lib/ops/conv_winograd.c): the table's tile
 * transforms at every instruction-set level this machine has against the portable ones, the
 * path itself against a double-precision direct sum and against the blocked direct kernel
 * (conv_nchwc.c) on the same inputs, on uniform and on ResNet-like data, with its error bound;
 * and Conv/FusedConv (with Z) through conv.c's dispatch, prepared from constant weights as at
 * load. Rerun per level (AIS_CPU_ISA) by tests/CMakeLists.txt. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "cpu/cpu.h"
#include "ops/conv_nchwc.h"
#include "ops/conv_winograd.h"
#include "ops/op.h"
#include "test_util.h"

static const char *const isa_names[] = {"scalar", "avx2", "avx512", "avx512_vnni"};

static float *rand_buf(size_t n, float lo, float hi) {
    float *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    ais_test_fill_uniform(v, n, lo, hi);
    return v;
}

/* ---- the transforms, level by level ---- */

static void check_transforms(const ais__cpu_kernels *t, int isa, int64_t n) {
    const int64_t ld_pix = n + 3, ld_row = 7 * ld_pix + 5, ld_v = n + 9; /* odd strides */
    float *x = rand_buf((size_t)(6 * ld_row), -1, 1), *b = rand_buf((size_t)n, -1, 1);
    float *want = malloc((size_t)(36 * ld_v) * sizeof(float));
    float *got = malloc((size_t)(36 * ld_v) * sizeof(float));
    assert_true(want && got);
    memset(want, 0xff, (size_t)(36 * ld_v) * sizeof(float));
    memcpy(got, want, (size_t)(36 * ld_v) * sizeof(float));
    ais__cpu_ref_wino_in(x, ld_row, ld_pix, n, want, ld_v);
    t->wino_in(x, ld_row, ld_pix, n, got, ld_v);
    /* |V| <= 100 for inputs in [-1, 1] (row sums of |B^T| are at most 10): the order of a
     * handful of fused or unfused operations moves the last bits of that */
    for (int64_t i = 0; i < 36 * ld_v; i++) {
        bool used = i % ld_v < n;
        if (used ? !(fabs((double)got[i] - (double)want[i]) <= 2e-5)
                 : memcmp(&got[i], &want[i], sizeof(float)) != 0)
            fail_msg("%s wino_in n %lld: [%lld] = %g, want %g", isa_names[isa], (long long)n,
                     (long long)i, got[i], want[i]);
    }
    /* the output transform from the same buffer taken as products (|M| <= 100) */
    float *yw = malloc((size_t)(16 * ld_pix) * sizeof(float)); /* 16 n used */
    float *yg = malloc((size_t)(16 * ld_pix) * sizeof(float));
    assert_true(yw && yg);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        memset(yw, 0xff, (size_t)(16 * ld_pix) * sizeof(float));
        memcpy(yg, yw, (size_t)(16 * ld_pix) * sizeof(float));
        ais__cpu_ref_wino_out(want, ld_v, n, with_bias ? b : NULL, yw, 16);
        t->wino_out(want, ld_v, n, with_bias ? b : NULL, yg, 16);
        /* |Y| <= 100 * 18^2 (row sums of |A^T| are at most 18): 2^-24 of that, a few times */
        for (int64_t i = 0; i < 16 * ld_pix; i++) {
            bool used = i / 16 < n; /* channel-major, ld 16 */
            if (used ? !(fabs((double)yg[i] - (double)yw[i]) <= 4e-3)
                     : memcmp(&yg[i], &yw[i], sizeof(float)) != 0)
                fail_msg("%s wino_out n %lld bias %d: [%lld] = %g, want %g", isa_names[isa],
                         (long long)n, with_bias, (long long)i, yg[i], yw[i]);
        }
    }
    /* the channels-last copy: exact, for row widths across the vector widths */
    for (int64_t w = 1; w <= 37; w += 3) {
        const int64_t ld_ch = w + 2, ld_d = n + 5;
        float *d0 = malloc((size_t)(w * ld_d) * sizeof(float));
        float *d1 = malloc((size_t)(w * ld_d) * sizeof(float));
        float *src = rand_buf((size_t)(n * ld_ch), -1, 1);
        assert_true(d0 && d1);
        memset(d0, 0xff, (size_t)(w * ld_d) * sizeof(float));
        memcpy(d1, d0, (size_t)(w * ld_d) * sizeof(float));
        ais__cpu_ref_wino_chlast(src, ld_ch, n, w, d0, ld_d);
        t->wino_chlast(src, ld_ch, n, w, d1, ld_d);
        assert_memory_equal(d0, d1, (size_t)(w * ld_d) * sizeof(float));
        for (int64_t ch = 0; ch < n; ch++)
            for (int64_t col = 0; col < w; col++)
                assert_true(d0[col * ld_d + ch] == src[ch * ld_ch + col]);
        free(d0);
        free(d1);
        free(src);
    }
    free(x);
    free(b);
    free(want);
    free(got);
    free(yw);
    free(yg);
}

static void test_transforms(void **state) {
    (void)state;
    int levels = 0;
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
        if (!t) continue;
        assert_non_null(t->wino_in);
        assert_non_null(t->wino_out);
        levels++;
        for (int64_t n = 1; n <= 40; n++) /* whole vectors and tails of both widths */
            check_transforms(t, isa, n);
        check_transforms(t, isa, 64);
        check_transforms(t, isa, 131);
    }
    assert_true(levels > 0);
}

/* ---- the path against the direct kernel and a double-precision sum ---- */

/* Standard normal (Box-Muller) from the seeded uniform source. */
static double randn(void) {
    double u = ais_test_uniform(1e-12, 1.0), v = ais_test_uniform(0.0, 1.0);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

typedef enum { DATA_UNIFORM, DATA_RESNET } data_kind;

static double act_d(const ais__conv_act *a, double v) {
    if (a->kind == AIS__CONV_ACT_CLAMP) return v < a->lo ? a->lo : v > a->hi ? a->hi : v;
    if (a->kind == AIS__CONV_ACT_LEAKY) return v < 0 ? a->alpha * v : v;
    return v;
}

typedef struct errs {
    double wino, direct;   /* max |path - exact| / scale (scale: sum of |terms| at that output) */
    double abs_wd, rel_wd; /* max |wino - direct|, and over max(|direct|, 1e-3 max |direct|) */
} errs;

/* The error bound asserted, as a fraction of each output's sum of |terms| (sum over taps and
 * channels of |x w|, + |bias| + |z|): a direct sum of K terms rounds within about K 2^-24 of
 * that in the worst case and sqrt(K) 2^-24 typically; Winograd adds the transforms' rounding,
 * magnified by their constants (|B^T| rows sum to 10, |A^T| rows to 18, G has 1/24 .. 1): about
 * 10x the direct path's error, measured (the figures are printed: at most 3e-6). 2^-14 is 20x
 * above the worst measured here, small enough to catch a wrong coefficient (an error of one
 * unit in a transform's constant gives a relative error of order 1). */
#define WINO_BOUND (1.0 / 16384)

static errs run_paths(int64_t c, int64_t m, int64_t h, int64_t w, int64_t pt, int64_t pl,
                      int64_t pb, int64_t pr, data_kind kind, bool bias, bool with_z,
                      const ais__conv_act *act, ais__pool *pool) {
    const ais__cpu_kernels *t = ais__cpu();
    const int64_t oh = h + pt + pb - 2, ow = w + pl + pr - 2, osz = oh * ow;
    size_t nx = (size_t)(c * h * w), nw = (size_t)(m * c * 9), ny = (size_t)(m * osz);
    float *x = malloc(nx * sizeof(float)), *wt = malloc(nw * sizeof(float));
    float *b = bias ? rand_buf((size_t)m, -0.5f, 0.5f) : NULL;
    float *z = with_z ? rand_buf(ny, -1, 1) : NULL;
    float *yw = malloc(ny * sizeof(float)), *yd = malloc(ny * sizeof(float));
    double *exact = malloc(ny * sizeof(double)), *scale = malloc(ny * sizeof(double));
    assert_true(x && wt && yw && yd && exact && scale);
    if (kind == DATA_UNIFORM) {
        ais_test_fill_uniform(x, nx, -1, 1);
        ais_test_fill_uniform(wt, nw, -1, 1);
    } else {
        /* what a trained ResNet layer sees: He-initialised weights (std sqrt(2 / fan_in)) and
         * inputs after BatchNorm and Relu (half-normal, about half zeros) */
        double sd = sqrt(2.0 / (double)(9 * c));
        for (size_t i = 0; i < nw; i++)
            wt[i] = (float)(sd * randn());
        for (size_t i = 0; i < nx; i++) {
            double v = randn();
            x[i] = v > 0 ? (float)v : 0.0f;
        }
    }
    for (int64_t o = 0; o < m; o++)
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++) {
                double s = b ? b[o] : 0, a = b ? fabs(b[o]) : 0;
                for (int64_t ci = 0; ci < c; ci++)
                    for (int64_t u = 0; u < 3; u++)
                        for (int64_t v = 0; v < 3; v++) {
                            int64_t ih = i - pt + u, iw = j - pl + v;
                            if (ih < 0 || iw < 0 || ih >= h || iw >= w) continue;
                            double p = (double)x[(ci * h + ih) * w + iw] *
                                       (double)wt[((o * c + ci) * 3 + u) * 3 + v];
                            s += p;
                            a += fabs(p);
                        }
                size_t k = (size_t)(o * osz + i * ow + j);
                if (z) {
                    s += z[k];
                    a += fabs(z[k]);
                }
                exact[k] = act_d(act, s);
                scale[k] = a > 0 ? a : 1e-30;
            }
    ais__conv_plan q = {.n = 1, .c = c, .m = m, .group = 1, .cg = c, .mg = m, .kvol = 9};
    q.g = (ais__dense_geom){.nsp = 2,
                            .in = {1, h, w},
                            .k = {1, 3, 3},
                            .stride = {1, 1, 1},
                            .dil = {1, 1, 1},
                            .pb = {0, pt, pl},
                            .pe = {0, pb, pr},
                            .out = {1, oh, ow}};
    q.isz = h * w;
    q.osz = osz;
    ais__op_ctx ctx = {.op_type = "Conv", .node_name = "", .opset = 13, .pool = pool};
    ais__conv_wino_pack wp;
    AIS_ASSERT_OK(ais__conv_wino_pack_make(&wp, t, wt, m, c));
    assert_true(ais__conv_wino_fits(&wp, &q));
    AIS_ASSERT_OK(ais__conv_wino_run(&ctx, &q, &wp, x, b, z, yw, act));
    ais__conv_nchwc_pack np;
    AIS_ASSERT_OK(ais__conv_nchwc_pack_make(&np, t, wt, m, c, 3, 3));
    /* the direct kernel adds Z, then the activation, on each run of rows it writes back */
    AIS_ASSERT_OK(ais__conv_nchwc_run(&ctx, &q, &np, x, b, z, yd, act));
    errs e = {0, 0, 0, 0};
    double dmax = 0;
    for (size_t k = 0; k < ny; k++)
        dmax = fmax(dmax, fabs((double)yd[k]));
    for (size_t k = 0; k < ny; k++) {
        double ew = fabs((double)yw[k] - exact[k]) / scale[k];
        double ed = fabs((double)yd[k] - exact[k]) / scale[k];
        if (!(ew <= WINO_BOUND))
            fail_msg("Winograd c %lld m %lld %lldx%lld: [%zu] = %g, exact %.9g (sum of |terms| "
                     "%g): error %g of it, bound %g",
                     (long long)c, (long long)m, (long long)h, (long long)w, k, yw[k], exact[k],
                     scale[k], ew, WINO_BOUND);
        double d = fabs((double)yw[k] - (double)yd[k]);
        e.wino = fmax(e.wino, ew);
        e.direct = fmax(e.direct, ed);
        e.abs_wd = fmax(e.abs_wd, d);
        e.rel_wd = fmax(e.rel_wd, d / fmax(fabs((double)yd[k]), 1e-3 * dmax));
    }
    ais__op_ctx_release(&ctx);
    ais__conv_wino_pack_free(&wp);
    ais__conv_nchwc_pack_free(&np);
    free(x);
    free(wt);
    free(b);
    free(z);
    free(yw);
    free(yd);
    free(exact);
    free(scale);
    return e;
}

static void test_paths(void **state) {
    (void)state;
    const ais__cpu_kernels *t = ais__cpu();
    if (!ais__conv_gemm_usable(t) || t->conv_nchwc_block <= 0) {
        /* the scalar level keeps im2col + BLAS: nothing prepares this path there */
        assert_false(ais__conv_wino_suits(t, NULL, 1, 64, 64, 3, 3));
        return;
    }
    static const struct {
        int64_t c, m, h, w, pt, pl, pb, pr;
    } shapes[] = {
        {64, 64, 56, 56, 1, 1, 1, 1},   /* ResNet-18's stages */
        {128, 128, 28, 28, 1, 1, 1, 1}, /* */
        {256, 256, 14, 14, 1, 1, 1, 1}, /* */
        {96, 160, 7, 7, 1, 1, 1, 1},    /* a plane smaller than two tiles a side */
        {24, 40, 13, 19, 1, 1, 1, 1},   /* off every block and tile; tails of the vectors */
        {17, 33, 9, 10, 0, 2, 1, 0},    /* asymmetric pads */
        {32, 16, 3, 3, 0, 0, 0, 0},     /* one output pixel */
    };
    const ais__conv_act acts[] = {{AIS__CONV_ACT_NONE, 0, 0, 0},
                                  {AIS__CONV_ACT_CLAMP, 0.0f, INFINITY, 0},
                                  {AIS__CONV_ACT_LEAKY, 0, 0, 0.1f}};
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(2, &pool));
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int kind = 0; kind < 2; kind++) {
            errs e = run_paths(shapes[i].c, shapes[i].m, shapes[i].h, shapes[i].w, shapes[i].pt,
                               shapes[i].pl, shapes[i].pb, shapes[i].pr, (data_kind)kind,
                               i % 2 == 0, i % 3 == 1, &acts[i % 3], i % 2 ? pool : NULL);
            printf("# %s c %lld m %lld %lldx%lld %s: error / sum|terms| Winograd %.2e direct "
                   "%.2e; Winograd vs direct max abs %.2e rel %.2e\n",
                   isa_names[t->isa], (long long)shapes[i].c, (long long)shapes[i].m,
                   (long long)shapes[i].h, (long long)shapes[i].w,
                   kind == DATA_UNIFORM ? "uniform" : "resnet-like", e.wino, e.direct, e.abs_wd,
                   e.rel_wd);
            /* the direct path is the more accurate one: Winograd's error is larger, but bounded */
            assert_true(e.wino <= WINO_BOUND);
        }
    ais__pool_destroy(pool);
}

/* ---- Conv / FusedConv through conv.c ---- */

typedef struct cc {
    int64_t c, m, h, w, s;
    const char *act; /* FusedConv's activation, NULL: Conv */
    bool z;          /* FusedConv's Z */
    bool packed;     /* whether prepare builds the Winograd weights (at AVX2 and up) */
    int taken;       /* whether the cost rule takes it at one thread (-1: depends on the level) */
    int64_t n;       /* images (0: 1) */
} cc;

static void run_case(const cc *k, ais__pool *pool) {
    const ais__cpu_kernels *t = ais__cpu();
    const bool fast = ais__conv_gemm_usable(t) && t->conv_nchwc_block > 0;
    const int64_t oh = (k->h + 2 - 3) / k->s + 1, ow = (k->w + 2 - 3) / k->s + 1;
    const int64_t nb = k->n > 0 ? k->n : 1;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(nb, k->c, k->h, k->w), -1, 1);
    ais_tensor *w = ais_test_rand_f32(AIS_SHAPE(k->m, k->c, 3, 3), -1, 1);
    ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(k->m), -1, 1);
    ais_tensor *z = k->z ? ais_test_rand_f32(AIS_SHAPE(nb, k->m, oh, ow), -1, 1) : NULL;
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    int64_t pads[4] = {1, 1, 1, 1}, st[2] = {k->s, k->s};
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "pads", pads, 4));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "strides", st, 2));
    bool fused = k->act || k->z;
    if (k->act) AIS_ASSERT_OK(ais_attrs_set_string(a, "activation", k->act));
    const char *op = fused ? "FusedConv" : "Conv";
    const ais__op_def *def = ais__op_find(fused ? "com.microsoft" : "", op, 13);
    assert_non_null(def);
    ais__op_ctx ctx = {.op_type = op, .node_name = "", .opset = 13, .attrs = a, .pool = pool};
    const ais_tensor *in[4] = {x, w, b, z};
    size_t n_in = z ? 4 : 3;
    ctx.consts = (const ais_tensor *const[4]){NULL, w, b, NULL};
    ctx.n_consts = n_in;
    void *state = NULL;
    AIS_ASSERT_OK(def->prepare(&ctx, &state));
    ctx.consts = NULL;
    ctx.n_consts = 0;
    ctx.state = state;
    assert_int_equal(ais__conv_state_winograd(state), fast && k->packed);
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais__op_invoke(def, &ctx, in, n_in, &y, 1));
    /* the expected values in double, for every path */
    const float *xd = ais_tensor_data(x), *wd = ais_tensor_data(w), *bd = ais_tensor_data(b);
    const float *zd = z ? ais_tensor_data(z) : NULL;
    size_t ny = (size_t)(nb * k->m * oh * ow);
    double *want = malloc(ny * sizeof(double));
    assert_non_null(want);
    for (int64_t bn = 0; bn < nb; bn++)
        for (int64_t o = 0; o < k->m; o++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    double s = bd[o];
                    for (int64_t c = 0; c < k->c; c++)
                        for (int64_t u = 0; u < 3; u++)
                            for (int64_t v = 0; v < 3; v++) {
                                int64_t ih = i * k->s - 1 + u, iw = j * k->s - 1 + v;
                                if (ih < 0 || iw < 0 || ih >= k->h || iw >= k->w) continue;
                                s += (double)xd[((bn * k->c + c) * k->h + ih) * k->w + iw] *
                                     (double)wd[((o * k->c + c) * 3 + u) * 3 + v];
                            }
                    size_t q = (size_t)(((bn * k->m + o) * oh + i) * ow + j);
                    if (zd) s += zd[q];
                    if (k->act) s = s < 0 ? 0 : s; /* Relu */
                    want[q] = s;
                }
    /* uniform data in [-1, 1): each sum of |terms| is at most 9 C + 2 */
    ais_test_assert_close_values(y, want, ny, 0, WINO_BOUND * (double)(9 * k->c + 2));
    if (fast && k->packed && pool == NULL) {
        /* which path ran: the same bits as the Winograd path run on its own, or not */
        ais__conv_plan q = {.n = nb,
                            .c = k->c,
                            .m = k->m,
                            .group = 1,
                            .cg = k->c,
                            .mg = k->m,
                            .kvol = 9,
                            .isz = k->h * k->w,
                            .osz = oh * ow};
        q.g = (ais__dense_geom){.nsp = 2,
                                .in = {1, k->h, k->w},
                                .k = {1, 3, 3},
                                .stride = {1, k->s, k->s},
                                .dil = {1, 1, 1},
                                .pb = {0, 1, 1},
                                .pe = {0, 1, 1},
                                .out = {1, oh, ow}};
        ais__conv_wino_pack wp;
        AIS_ASSERT_OK(ais__conv_wino_pack_make(&wp, t, wd, k->m, k->c));
        bool wins = ais__conv_wino_wins(&wp, &q, 1);
        if (k->taken >= 0) assert_int_equal(wins, k->taken);
        float *alone = malloc(ny * sizeof(float));
        assert_non_null(alone);
        ais__conv_act relu = {AIS__CONV_ACT_CLAMP, 0.0f, INFINITY, 0},
                      none = {AIS__CONV_ACT_NONE, 0, 0, 0};
        ais__op_ctx c2 = {.op_type = op, .node_name = ""};
        AIS_ASSERT_OK(ais__conv_wino_run(&c2, &q, &wp, xd, bd, zd, alone, k->act ? &relu : &none));
        bool same = memcmp(alone, ais_tensor_data(y), ny * sizeof(float)) == 0;
        assert_int_equal(same, wins);
        ais__op_ctx_release(&c2);
        ais__conv_wino_pack_free(&wp);
        free(alone);
    }
    ais__op_ctx_release(&ctx);
    def->release(state);
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);
    ais_tensor_destroy(w);
    ais_tensor_destroy(b);
    ais_tensor_destroy(z);
    ais_attrs_destroy(a);
    free(want);
}

static void test_conv(void **state) {
    (void)state;
    static const cc cases[] = {
        /* c   m   h   w  s  act     z      packed taken images */
        {64, 64, 56, 56, 1, "Relu", false, true, true, 1}, /* ResNet-18's first stage */
        {64, 64, 56, 56, 1, "Relu", true, true, true, 1},  /* its residual convolution */
        {128, 128, 28, 28, 1, NULL, true, true, true, 1},  /* Z without activation */
        {128, 128, 28, 28, 1, NULL, false, true, true, 1}, /* Conv */
        /* the third stage: at AVX-512 U (9.4 MB) from memory costs more than the multiply-adds
         * saved; at AVX2 (6-row panels, less padding) about even */
        {256, 256, 14, 14, 1, "Relu", true, true, -1, 1},
        {96, 128, 30, 30, 1, "Relu", true, true, true, 1}, /* more tiles, a smaller U */
        /* 4 tiles: one 14-row GEMM panel at AVX-512 (direct), 6 rows at AVX2 (about even) */
        {128, 128, 7, 7, 1, "Relu", false, true, -1, 1},
        {64, 64, 5, 5, 1, "Relu", false, true, false, 1},    /* too few tiles */
        {32, 48, 29, 30, 1, "Relu", true, true, true, 3},    /* 3 images, Z per image */
        {64, 64, 28, 28, 2, "Relu", false, false, false, 1}, /* stride 2 */
        {8, 64, 28, 28, 1, NULL, false, false, false, 1},    /* too few input channels */
        {512, 512, 7, 7, 1, "Relu", true, false, false, 1},  /* weights over the budget */
    };
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(2, &pool));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(&cases[i], NULL);
        run_case(&cases[i], pool);
    }
    ais__pool_destroy(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transforms),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_conv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
