/* test_cpu_dwconv.c - lib/cpu's dwconv_planes (the depthwise 3x3 / 5x5 plane read in place,
 * x86/dwconv_kernel.h) at every instruction-set level this machine has, against the portable
 * plane (ref/ref_conv.c): odd widths around the vector widths, every pad from none to more than
 * the kernel (asymmetric, so whole vectors and rows of outputs lie in the padding), strides 1
 * and 2, every activation, NaN, no write outside the plane, and the shapes it is not built for;
 * and conv_pw_small (the pointwise convolution of few input channels) against its portable
 * result the same way. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "cpu/cpu.h"
#include "test_util.h"

static const char *const isa_names[] = {"scalar", "avx2", "avx512", "avx512_vnni"};

/* Exactly n floats (an overread past the plane is a sanitizer error), uniform in [-1, 1]. */
static float *rand_buf(size_t n) {
    float *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)ais_test_uniform(-1, 1);
    return v;
}

static ais__conv_dw_geom geom(int64_t ih, int64_t iw, int64_t k, int64_t s, int64_t ph, int64_t pw,
                              int64_t eh, int64_t ew) {
    ais__conv_dw_geom g = {.ih = ih,
                           .iw = iw,
                           .kh = k,
                           .kw = k,
                           .sh = s,
                           .sw = s,
                           .dh = 1,
                           .dw = 1,
                           .ph = ph,
                           .pw = pw};
    g.oh = (ih + ph + eh - k) / s + 1;
    g.ow = (iw + pw + ew - k) / s + 1;
    return g;
}

static bool same_or_close(float a, float b, float tol) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (a == b) return true;
    return fabsf(a - b) <= tol * (1.0f + fabsf(b));
}

#define GUARD 40 /* floats after the plane that no level may write */

/* Every level's dwconv_planes on NC channels in one call against the reference plane by plane;
 * nan_at >= 0 puts a NaN in the first channel's input there. Returns the outputs checked (0: the
 * geometry has none). */
#define NC 3
static size_t check(const ais__conv_dw_geom *g, const ais__conv_act *act, int64_t nan_at) {
    if (g->oh <= 0 || g->ow <= 0) return 0;
    size_t ni = (size_t)(g->ih * g->iw), no = (size_t)(g->oh * g->ow), kk = (size_t)(g->kh * g->kw);
    float *x = rand_buf(NC * ni), *w = rand_buf(NC * kk);
    if (nan_at >= 0 && (size_t)nan_at < ni) x[nan_at] = NAN;
    const float bias[NC] = {-0.125f, 0.5f, 0.0f};
    float *want = malloc(NC * no * sizeof(float)), *got = malloc((NC * no + GUARD) * sizeof(float));
    assert_true(want && got);
    for (size_t c = 0; c < NC; c++)
        ais__cpu_ref_conv_dw(x + c * ni, w + c * kk, bias[c], want + c * no, g, act, NULL);
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
        if (!t) continue;
        assert_non_null(t->dwconv_planes);
        /* NaN: an unwritten output fails */
        memset(got, 0xff, (NC * no + GUARD) * sizeof(float));
        t->dwconv_planes(x, w, bias, got, NC, g, act);
        for (size_t i = 0; i < NC * no; i++)
            if (!same_or_close(got[i], want[i], 1e-5f))
                fail_msg("%s: in %lldx%lld k %lld s %lld pads %lld,%lld out %lldx%lld act %d: "
                         "channel %zu [%zu] (row %zu col %zu) = %g, want %g",
                         isa_names[isa], (long long)g->ih, (long long)g->iw, (long long)g->kh,
                         (long long)g->sh, (long long)g->ph, (long long)g->pw, (long long)g->oh,
                         (long long)g->ow, (int)act->kind, i / no, i % no, i % no / (size_t)g->ow,
                         i % no % (size_t)g->ow, (double)got[i], (double)want[i]);
        uint32_t bits;
        for (size_t i = NC * no; i < NC * no + GUARD; i++) {
            memcpy(&bits, &got[i], sizeof bits);
            if (bits != 0xffffffffu)
                fail_msg("%s: in %lldx%lld k %lld s %lld: wrote %zu floats past the planes",
                         isa_names[isa], (long long)g->ih, (long long)g->iw, (long long)g->kh,
                         (long long)g->sh, i - NC * no + 1);
        }
        /* bias NULL: 0 */
        t->dwconv_planes(x, w, NULL, got, 1, g, act);
        for (size_t i = 0; i < no; i++) {
            float v = want[i];
            if (act->kind == AIS__CONV_ACT_NONE && !same_or_close(got[i] - 0.125f, v, 1e-5f))
                fail_msg("%s: without bias [%zu] = %g, want %g", isa_names[isa], i, (double)got[i],
                         (double)v + 0.125);
        }
    }
    free(x);
    free(w);
    free(want);
    free(got);
    return no;
}

static const ais__conv_act acts[] = {
    {AIS__CONV_ACT_NONE, 0, 0, 0},         {AIS__CONV_ACT_CLAMP, 0.0f, INFINITY, 0}, /* Relu */
    {AIS__CONV_ACT_CLAMP, 0.0f, 6.0f, 0}, /* Relu6 (MobileNets' Clip) */
    {AIS__CONV_ACT_CLAMP, -0.2f, 0.3f, 0}, {AIS__CONV_ACT_LEAKY, 0, 0, 0.1f},
};

/* Widths around both vector widths (8, 16) and their doubles at stride 2, heights that leave
 * 0 to 3 rows past the last block of 4 (2 at stride 2), pads 0 to k + 1 on each side. */
static void test_shapes(void **state) {
    (void)state;
    static const int64_t widths[] = {1, 2, 3, 5, 7, 8, 9, 14, 15, 16, 17, 28, 31, 33, 40, 56, 57};
    static const int64_t heights[] = {1, 2, 3, 5, 6, 7, 14};
    size_t checked = 0, cases = 0;
    for (int64_t k = 3; k <= 5; k += 2)
        for (int64_t s = 1; s <= 2; s++)
            for (size_t wi = 0; wi < AIS__ARRAY_LEN(widths); wi++)
                for (size_t hi = 0; hi < AIS__ARRAY_LEN(heights); hi++) {
                    int64_t p = (int64_t)((wi + hi) % (size_t)(k + 2)), e = (p + 1 + s) % (k + 2);
                    ais__conv_dw_geom g = geom(heights[hi], widths[wi], k, s, p, e, e, p);
                    size_t n = check(&g, &acts[(wi + hi + (size_t)k) % AIS__ARRAY_LEN(acts)], -1);
                    checked += n;
                    cases += n > 0;
                }
    /* the loops reach real planes, not only empty outputs */
    assert_true(cases > 300);
    assert_true(checked > 50000);
}

/* MobileNets' layers: 3x3 pad 1 at strides 1 and 2, 5x5 pad 2, with every activation. */
static void test_mobilenet_planes(void **state) {
    (void)state;
    static const int64_t sizes[] = {112, 56, 28, 14, 7};
    for (size_t a = 0; a < AIS__ARRAY_LEN(acts); a++)
        for (size_t si = 0; si < AIS__ARRAY_LEN(sizes); si++)
            for (int64_t s = 1; s <= 2; s++) {
                int64_t n = sizes[si];
                ais__conv_dw_geom g3 = geom(n, n, 3, s, 1, 1, 1, 1);
                ais__conv_dw_geom g5 = geom(n, n, 5, s, 2, 2, 2, 2);
                assert_true(check(&g3, &acts[a], -1) > 0);
                assert_true(check(&g5, &acts[a], -1) > 0);
            }
}

/* A NaN in the input reaches every output whose window holds it, through every activation. */
static void test_nan(void **state) {
    (void)state;
    for (size_t a = 0; a < AIS__ARRAY_LEN(acts); a++)
        for (int64_t s = 1; s <= 2; s++) {
            ais__conv_dw_geom g = geom(20, 37, 3, s, 1, 1, 1, 1);
            check(&g, &acts[a], 5 * 37 + 17);
            check(&g, &acts[a], 0);
            check(&g, &acts[a], 20 * 37 - 1);
        }
}

/* Pads at the attributes' cap (INT32_MAX): every tap reads padding, the output is the bias. */
static void test_huge_pads(void **state) {
    (void)state;
    int64_t big = INT32_MAX;
    for (int64_t s = 1; s <= 2; s++) {
        ais__conv_dw_geom g = geom(3, 4, 3, s, big, big, big, big);
        g.oh = g.ow = 2; /* the first outputs of a plane of about 2^31 a side */
        assert_true(ais__dwconv_suits(&g));
        check(&g, &acts[1], -1);
        float x[12] = {1}, w[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, y[4], bias = 0.5f;
        for (int isa = 0; isa <= 3; isa++) {
            const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
            if (!t) continue;
            t->dwconv_planes(x, w, &bias, y, 1, &g, &acts[0]);
            for (int i = 0; i < 4; i++)
                assert_true(y[i] == 0.5f);
        }
    }
}

/* The shapes outside ais__dwconv_suits (dilation 2, stride 3, 3x5, unequal strides, 7x7) still
 * give the reference's result through the entry. */
static void test_other_shapes(void **state) {
    (void)state;
    ais__conv_dw_geom g = geom(17, 19, 3, 1, 1, 1, 1, 1);
    assert_true(ais__dwconv_suits(&g));
    ais__conv_dw_geom d = g;
    d.dh = d.dw = 2;
    d.oh -= 2;
    d.ow -= 2;
    ais__conv_dw_geom s3 = geom(17, 19, 3, 3, 1, 1, 1, 1);
    ais__conv_dw_geom k35 = g;
    k35.kw = 5;
    k35.ow -= 2;
    ais__conv_dw_geom su = g;
    su.sw = 2;
    su.ow = (19 + 2 - 3) / 2 + 1;
    ais__conv_dw_geom k7 = geom(17, 19, 7, 1, 3, 3, 3, 3);
    const ais__conv_dw_geom *others[] = {&d, &s3, &k35, &su, &k7};
    for (size_t i = 0; i < AIS__ARRAY_LEN(others); i++) {
        assert_false(ais__dwconv_suits(others[i]));
        assert_true(check(others[i], &acts[2], -1) > 0);
    }
}

/* ---- conv_pw_small (the pointwise convolution of few input channels) ---- */

/* Every level that has conv_pw_small against the portable one on positions [q0, q1) of planes
 * ld wide: k input and m output channels (m from 1 to 9: whole blocks of 4 and each short one),
 * with and without bias; positions outside [q0, q1) must keep their contents. A NaN at input
 * position nan_at of channel 0 must reach every output there. Returns the levels checked. */
static int check_pw(int64_t k, int64_t m, int64_t ld, int64_t q0, int64_t q1,
                    const ais__conv_act *act, bool bias, int64_t nan_at) {
    size_t ny = (size_t)(m * ld);
    float *x = rand_buf((size_t)(k * ld)), *w = rand_buf((size_t)(k * m));
    float *b = rand_buf((size_t)m), *want = malloc(ny * sizeof(float)),
          *got = malloc(ny * sizeof(float));
    assert_true(want && got);
    if (nan_at >= 0) x[nan_at] = NAN;
    memset(want, 0xff, ny * sizeof(float));
    ais__cpu_ref_conv_pw(x, w, bias ? b : NULL, want, k, m, ld, q0, q1, act);
    int levels = 0;
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
        if (!t || !t->conv_pw_small) continue;
        levels++;
        memset(got, 0xff, ny * sizeof(float)); /* NaN: an unwritten output fails */
        t->conv_pw_small(x, w, bias ? b : NULL, got, k, m, ld, q0, q1, act);
        for (size_t i = 0; i < ny; i++) {
            int64_t q = (int64_t)i % ld;
            uint32_t gb, wb;
            memcpy(&gb, &got[i], sizeof gb);
            memcpy(&wb, &want[i], sizeof wb);
            bool inside = q >= q0 && q < q1;
            if (!inside && gb != 0xffffffffu)
                fail_msg("%s: k %lld m %lld: wrote position %lld outside [%lld, %lld)",
                         isa_names[isa], (long long)k, (long long)m, (long long)q, (long long)q0,
                         (long long)q1);
            if (inside && !same_or_close(got[i], want[i], 1e-5f * (float)k))
                fail_msg("%s: k %lld m %lld ld %lld [%lld, %lld) act %d bias %d: channel %zu "
                         "position %lld = %g, want %g",
                         isa_names[isa], (long long)k, (long long)m, (long long)ld, (long long)q0,
                         (long long)q1, (int)act->kind, (int)bias, i / (size_t)ld, (long long)q,
                         (double)got[i], (double)want[i]);
        }
    }
    free(x);
    free(w);
    free(b);
    free(want);
    free(got);
    return levels;
}

static void test_pointwise(void **state) {
    (void)state;
    const ais__conv_act pw_acts[] = {{AIS__CONV_ACT_NONE, 0, 0, 0},
                                     {AIS__CONV_ACT_CLAMP, 0.0f, 6.0f, 0},
                                     {AIS__CONV_ACT_CLAMP, -0.25f, 0.25f, 0},
                                     {AIS__CONV_ACT_LEAKY, 0, 0, 0.1f}};
    /* position ranges around the 24- and 8-position blocks, and one of several chunks (the
     * kernel's chunk is 16384 / k positions rounded to 24) */
    const int64_t ranges[][3] = {{30, 0, 30},     {30, 5, 6},      {64, 0, 64}, {64, 3, 59},
                                 {50, 1, 49},     {25, 0, 25},     {8, 0, 8},   {7, 0, 7},
                                 {1200, 0, 1200}, {1200, 13, 1177}};
    int levels = 0;
    for (size_t a = 0; a < sizeof pw_acts / sizeof pw_acts[0]; a++)
        for (int64_t k = 1; k <= 32; k += (k < 4 ? 1 : 13))
            for (int64_t m = 1; m <= 9; m++)
                for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
                    if (ranges[r][0] > 100 && (m % 4 != 1 || a != 1)) continue; /* time */
                    levels += check_pw(k, m, ranges[r][0], ranges[r][1], ranges[r][2], &pw_acts[a],
                                       (m + (int64_t)a) % 2 == 0, -1);
                }
    /* NaN in the input reaches the outputs at its position, through Relu6's max and min */
    check_pw(16, 5, 40, 0, 40, &pw_acts[1], true, 17);
    /* the AVX2 level, where this machine has it, carries the kernel */
    const ais__cpu_kernels *t2 = ais__cpu_for(AIS_CPU_ISA_AVX2);
    if (t2) {
        assert_non_null(t2->conv_pw_small);
        assert_true(levels > 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),       cmocka_unit_test(test_mobilenet_planes),
        cmocka_unit_test(test_nan),          cmocka_unit_test(test_huge_pads),
        cmocka_unit_test(test_other_shapes), cmocka_unit_test(test_pointwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
