/* test_cpu_conv.c - lib/cpu's convolution kernels (conv_dw, pool_max2d, conv_act) at every
 * instruction-set level this machine has, against the portable reference (ref/ref_conv.c): odd
 * plane sizes, 1x1 to 5x5 and 3x1 kernels, strides 1 to 3, dilations, asymmetric padding, every
 * activation, NaN. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "cpu/cpu.h"
#include "test_util.h"

static const char *const isa_names[] = {"scalar", "avx2", "avx512", "avx512_vnni"};

static float *rand_buf(size_t n) {
    float *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)ais_test_uniform(-1, 1);
    return v;
}

static float *scratch_for(const ais__conv_dw_geom *g) {
    size_t n = ais__conv_dw_scratch_floats(g);
    float *s = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    assert_non_null(s);
    return s;
}

/* The output extents of a plane with leading pads ph, pw and trailing pads eh, ew. */
static ais__conv_dw_geom geom(int64_t ih, int64_t iw, int64_t kh, int64_t kw, int64_t s, int64_t d,
                              int64_t ph, int64_t pw, int64_t eh, int64_t ew) {
    ais__conv_dw_geom g = {.ih = ih,
                           .iw = iw,
                           .kh = kh,
                           .kw = kw,
                           .sh = s,
                           .sw = s,
                           .dh = d,
                           .dw = d,
                           .ph = ph,
                           .pw = pw};
    g.oh = (ih + ph + eh - (kh - 1) * d - 1) / s + 1;
    g.ow = (iw + pw + ew - (kw - 1) * d - 1) / s + 1;
    return g;
}

static bool same_or_close(float a, float b, float tol) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (a == b) return true;
    return fabsf(a - b) <= tol * (1.0f + fabsf(b));
}

/* Every level's conv_dw (and, with pool, pool_max2d) against ref on one geometry. */
static void check_plane(const ais__conv_dw_geom *g, const ais__conv_act *act, bool pool) {
    if (g->oh <= 0 || g->ow <= 0) return;
    size_t ni = (size_t)(g->ih * g->iw), no = (size_t)(g->oh * g->ow);
    float *x = rand_buf(ni), *w = rand_buf((size_t)(g->kh * g->kw));
    float *want = malloc(no * sizeof(float)), *got = malloc(no * sizeof(float));
    float *scr = scratch_for(g);
    assert_true(want && got);
    const ais__cpu_kernels *ref = ais__cpu_for(AIS_CPU_ISA_SCALAR);
    if (pool)
        ref->pool_max2d(x, want, g, scr);
    else
        ref->conv_dw(x, w, 0.25f, want, g, act, scr);
    for (int isa = 1; isa <= 3; isa++) {
        const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
        if (!t) continue;
        memset(got, 0xff, no * sizeof(float));
        if (pool)
            t->pool_max2d(x, got, g, scr);
        else
            t->conv_dw(x, w, 0.25f, got, g, act, scr);
        for (size_t i = 0; i < no; i++)
            if (!same_or_close(got[i], want[i], pool ? 0.0f : 1e-5f))
                fail_msg("%s %s: in %lldx%lld k %lldx%lld s %lld d %lld pads %lld,%lld out "
                         "%lldx%lld act %d: [%zu] = %g, want %g",
                         isa_names[isa], pool ? "pool_max2d" : "conv_dw", (long long)g->ih,
                         (long long)g->iw, (long long)g->kh, (long long)g->kw, (long long)g->sh,
                         (long long)g->dh, (long long)g->ph, (long long)g->pw, (long long)g->oh,
                         (long long)g->ow, (int)act->kind, i, (double)got[i], (double)want[i]);
    }
    free(x);
    free(w);
    free(want);
    free(got);
    free(scr);
}

static const ais__conv_act acts[] = {
    {AIS__CONV_ACT_NONE, 0, 0, 0},
    {AIS__CONV_ACT_CLAMP, 0.0f, INFINITY, 0},
    {AIS__CONV_ACT_CLAMP, -0.2f, 0.3f, 0},
    {AIS__CONV_ACT_LEAKY, 0, 0, 0.1f},
};

static void test_dw_and_pool_shapes(void **state) {
    (void)state;
    static const int64_t sizes[][2] = {{1, 1},  {3, 5},  {7, 7},   {14, 14}, {17, 9},
                                       {9, 33}, {2, 40}, {56, 56}, {23, 1}};
    static const int64_t kernels[][2] = {{3, 3}, {5, 5}, {1, 1}, {3, 1}, {2, 2}, {7, 7}};
    for (size_t si = 0; si < AIS__ARRAY_LEN(sizes); si++)
        for (size_t ki = 0; ki < AIS__ARRAY_LEN(kernels); ki++)
            for (int64_t s = 1; s <= 3; s++)
                for (int64_t d = 1; d <= 2; d++)
                    for (int pads = 0; pads < 3; pads++) {
                        int64_t ph = pads, pw = pads == 2 ? 0 : pads, eh = pads == 1 ? 0 : pads,
                                ew = pads;
                        ais__conv_dw_geom g = geom(sizes[si][0], sizes[si][1], kernels[ki][0],
                                                   kernels[ki][1], s, d, ph, pw, eh, ew);
                        check_plane(&g, &acts[(si + ki + (size_t)s) % 4], false);
                        /* max pools: pads smaller than the kernel, as ONNX requires */
                        if (ph < kernels[ki][0] && pw < kernels[ki][1] && eh < kernels[ki][0] &&
                            ew < kernels[ki][1])
                            check_plane(&g, &acts[0], true);
                    }
}

static void test_dw_every_act(void **state) {
    (void)state;
    for (size_t a = 0; a < AIS__ARRAY_LEN(acts); a++)
        for (int64_t s = 1; s <= 2; s++) {
            ais__conv_dw_geom g = geom(28, 28, 3, 3, s, 1, 1, 1, 1, 1);
            check_plane(&g, &acts[a], false);
        }
}

/* conv_act: bias then the activation, NaN kept, at every level. */
static void test_act(void **state) {
    (void)state;
    const ais__cpu_kernels *ref = ais__cpu_for(AIS_CPU_ISA_SCALAR);
    for (size_t a = 0; a < AIS__ARRAY_LEN(acts); a++)
        for (size_t n = 0; n < 70; n += 7) {
            float *x = rand_buf(n + 1), *want = malloc((n + 1) * sizeof(float));
            float *got = malloc((n + 1) * sizeof(float));
            assert_true(want && got);
            if (n > 3) x[3] = NAN;
            memcpy(want, x, (n + 1) * sizeof(float));
            ref->conv_act(want, n, 0.5f, &acts[a]);
            if (n > 3) assert_true(isnan(want[3]));
            for (int isa = 1; isa <= 3; isa++) {
                const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
                if (!t) continue;
                memcpy(got, x, (n + 1) * sizeof(float));
                t->conv_act(got, n, 0.5f, &acts[a]);
                for (size_t i = 0; i <= n; i++)
                    if (!same_or_close(got[i], want[i], 0.0f))
                        fail_msg("%s conv_act kind %d n %zu: [%zu] = %g, want %g", isa_names[isa],
                                 (int)acts[a].kind, n, i, (double)got[i], (double)want[i]);
            }
            free(x);
            free(want);
            free(got);
        }
}

/* A NaN inside a window (not its first element) is skipped by the max pool, at every level. */
static void test_pool_nan(void **state) {
    (void)state;
    ais__conv_dw_geom g = geom(8, 40, 3, 3, 2, 1, 1, 1, 1, 1);
    float *x = rand_buf(8 * 40), *scr = scratch_for(&g);
    x[2 * 40 + 6] = NAN; /* row 2, column 6: inside windows, never their first element */
    size_t no = (size_t)(g.oh * g.ow);
    float *want = malloc(no * sizeof(float)), *got = malloc(no * sizeof(float));
    assert_true(want && got);
    ais__cpu_for(AIS_CPU_ISA_SCALAR)->pool_max2d(x, want, &g, scr);
    for (size_t i = 0; i < no; i++)
        assert_false(isnan(want[i]));
    for (int isa = 1; isa <= 3; isa++) {
        const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
        if (!t) continue;
        t->pool_max2d(x, got, &g, scr);
        assert_memory_equal(got, want, no * sizeof(float));
    }
    /* row 1, column 1: the first element of window (1, 1), which keeps it, and an inner one of
     * its neighbours, which skip it; row 1, column 24: in the windows' top row but no window's
     * first element (AVX2 takes its NaN path for the row and must still skip it) */
    x[1 * 40 + 1] = NAN;
    x[1 * 40 + 24] = NAN;
    ais__cpu_for(AIS_CPU_ISA_SCALAR)->pool_max2d(x, want, &g, scr);
    assert_true(isnan(want[1 * g.ow + 1]) && !isnan(want[0]) && !isnan(want[1]));
    assert_false(isnan(want[1 * g.ow + 12]));
    for (int isa = 1; isa <= 3; isa++) {
        const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
        if (!t) continue;
        t->pool_max2d(x, got, &g, scr);
        assert_memory_equal(got, want, no * sizeof(float));
    }
    free(x);
    free(scr);
    free(want);
    free(got);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dw_and_pool_shapes),
        cmocka_unit_test(test_dw_every_act),
        cmocka_unit_test(test_act),
        cmocka_unit_test(test_pool_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
