/* test_ops_conv_nchwc.c - the blocked (NCHWc) direct convolution: the table's conv_nchwc_row at
 * every instruction-set level this machine has against the portable row (ref/ref_nchwc.c) on
 * random geometries (row widths across the tile sizes, strides 1 and 2, dilations, 1x1 to 7x7
 * and 1x3 kernels, short stem blocks, one or two output blocks, bias or none, every activation),
 * conv_nchwc_unblock against the portable copy,
 * and Conv/FusedConv through conv.c's blocked path (prepared from constant weights, as at load)
 * against a double-precision direct sum: channel counts off the block, stems, pads, strides,
 * dilations, batches, 1 and 2 threads. Rerun per level (AIS_CPU_ISA) by tests/CMakeLists.txt. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "cpu/cpu.h"
#include "ops/conv_nchwc.h"
#include "ops/op.h"
#include "test_util.h"

static const char *const isa_names[] = {"scalar", "avx2", "avx512", "avx512_vnni"};

static float *rand_buf(size_t n) {
    float *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    ais_test_fill_uniform(v, n, -1, 1);
    return v;
}

static const ais__conv_act acts[] = {{AIS__CONV_ACT_NONE, 0, 0, 0},
                                     {AIS__CONV_ACT_CLAMP, 0.0f, INFINITY, 0},
                                     {AIS__CONV_ACT_CLAMP, -0.5f, 0.75f, 0},
                                     {AIS__CONV_ACT_LEAKY, 0, 0, 0.1f}};

/* A run [q0, q1) of a plane ow wide (rows as many as the run needs). */
static void check_row(const ais__cpu_kernels *t, int isa, int64_t q0, int64_t q1, int64_t ow,
                      int64_t cb, int64_t n_icb, int64_t kh, int64_t kw, int64_t s, int64_t d,
                      int nblk, bool bias, int act) {
    assert_true(act >= 0 && act < (int)(sizeof acts / sizeof acts[0])); /* a case, not UB */
    const int64_t bl = t->conv_nchwc_block, oh = (q1 - 1) / ow + 1, n = q1 - q0;
    const int64_t wp = (ow - 1) * s + (kw - 1) * d + 1, hp = (oh - 1) * s + (kh - 1) * d + 1;
    const int64_t x_row = wp * cb + 3, x_icb = hp * x_row + 5; /* odd strides on purpose */
    const int64_t w_ocb = n_icb * kh * kw * cb * bl, nbm = t->conv_nchwc_nblk;
    float *x = rand_buf((size_t)(n_icb * x_icb)), *w = rand_buf((size_t)(nbm * w_ocb));
    float *b = rand_buf((size_t)(nbm * bl));
    float *want = malloc((size_t)(nbm * n * bl) * sizeof(float));
    float *got = malloc((size_t)(nbm * n * bl) * sizeof(float));
    assert_true(want && got);
    ais__nchwc_row a = {.x = x,
                        .w = w,
                        .bias = bias ? b : NULL,
                        .y = want,
                        .q0 = q0,
                        .q1 = q1,
                        .ow = ow,
                        .n_icb = n_icb,
                        .cb = cb,
                        .kh = kh,
                        .kw = kw,
                        .sh = s,
                        .sw = s,
                        .dh = d,
                        .dw = d,
                        .x_icb = x_icb,
                        .x_row = x_row,
                        .w_ocb = w_ocb,
                        .y_blk = n * bl,
                        .nblk = nblk,
                        .block = (int)bl,
                        .act = acts[act]};
    memset(want, 0xff, (size_t)(nbm * n * bl) * sizeof(float));
    memcpy(got, want, (size_t)(nbm * n * bl) * sizeof(float));
    ais__cpu_ref_conv_nchwc_row(&a);
    a.y = got;
    t->conv_nchwc_row(&a);
    /* the sums have up to n_icb * kh * kw * cb terms in [-1, 1): a tolerance for their order */
    double tol = 1e-6 * (double)(n_icb * kh * kw * cb + 1);
    for (int64_t i = 0; i < nblk * n * bl; i++)
        if (!(fabs((double)got[i] - (double)want[i]) <= tol * (1.0 + fabs((double)want[i]))))
            fail_msg("%s conv_nchwc_row: q %lld..%lld ow %lld cb %lld icb %lld k %lldx%lld s %lld "
                     "d %lld "
                     "nblk %d bias %d act %d: [%lld] = %g, want %g",
                     isa_names[isa], (long long)q0, (long long)q1, (long long)ow, (long long)cb,
                     (long long)n_icb, (long long)kh, (long long)kw, (long long)s, (long long)d,
                     nblk, bias, act, (long long)i, got[i], want[i]);
    /* past nblk blocks the row is left alone */
    for (int64_t i = nblk * n * bl; i < nbm * n * bl; i++)
        assert_memory_equal(&got[i], &want[i], sizeof(float));
    free(x);
    free(w);
    free(b);
    free(want);
    free(got);
}

static void test_rows(void **state) {
    (void)state;
    int levels = 0;
    for (int isa = 1; isa <= 3; isa++) {
        const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
        if (!t || t->conv_nchwc_block <= 0) continue;
        levels++;
        const int64_t bl = t->conv_nchwc_block;
        static const int64_t ks[][2] = {{1, 1}, {3, 3}, {5, 5}, {7, 7}, {1, 3}, {3, 1}};
        for (int64_t ow = 1; ow <= 30; ow++)
            check_row(t, isa, 0, ow, ow, bl, 2, 3, 3, 1 + ow % 2, 1,
                      (int)(1 + ow % t->conv_nchwc_nblk), ow % 3 != 0, (int)(ow % 4));
        for (int64_t q0 = 0; q0 < 9; q0 += 4) /* runs across rows, starting mid-row */
            for (int64_t len = 1; len <= 40; len += 3)
                check_row(t, isa, q0, q0 + len, 7, bl, 1, 3, 3, 1 + len % 2, 1, t->conv_nchwc_nblk,
                          true, 1);
        for (size_t k = 0; k < sizeof ks / sizeof ks[0]; k++)
            for (int s = 1; s <= 2; s++)
                for (int nblk = 1; nblk <= t->conv_nchwc_nblk; nblk++) {
                    check_row(t, isa, 0, 7 + (int64_t)k, 7 + (int64_t)k, bl, 1 + (int64_t)k % 3,
                              ks[k][0], ks[k][1], s, 1, nblk, true, (nblk + s - 1) % 4);
                    check_row(t, isa, 56, 112, 56, 3, 1, ks[k][0], ks[k][1], s, 1, nblk, true, 1);
                    check_row(t, isa, 5, 31, 13, 5, 2, ks[k][0], ks[k][1], s, 2, nblk, false, 3);
                }
    }
    /* the machines this runs on have AVX2 at least; AIS_CPU_ISA=scalar leaves none */
    const ais__cpu_kernels *cur = ais__cpu();
    if (cur->isa >= AIS_CPU_ISA_AVX2) assert_true(levels > 0);
}

/* conv_nchwc_unblock at every level against the portable copy: blocks of 8 and 16 (the AVX2
 * kernel takes any multiple of 8), runs across and off the 8-pixel transposes, partial blocks. */
static void test_unblock(void **state) {
    (void)state;
    static const int64_t ns[] = {1, 7, 8, 9, 16, 48, 49, 50};
    static const int64_t blocks[] = {8, 16, 5};
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
        if (!t) continue;
        assert_non_null(t->conv_nchwc_unblock);
        for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++)
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
                for (int64_t ch = 1; ch <= blocks[bi]; ch++) {
                    const int64_t bl = blocks[bi], n = ns[ni], ld = n + 3;
                    float *src = rand_buf((size_t)(n * bl));
                    float *want = malloc((size_t)(bl * ld) * sizeof(float));
                    float *got = malloc((size_t)(bl * ld) * sizeof(float));
                    assert_true(want && got);
                    /* what a kernel must not write keeps its value in both */
                    for (int64_t i = 0; i < bl * ld; i++)
                        want[i] = got[i] = (float)i;
                    ais__cpu_ref_conv_nchwc_unblock(src, n, bl, ch, want, ld);
                    t->conv_nchwc_unblock(src, n, bl, ch, got, ld);
                    if (memcmp(want, got, (size_t)(bl * ld) * sizeof(float)) != 0)
                        fail_msg("%s conv_nchwc_unblock: n %lld block %lld ch %lld", isa_names[isa],
                                 (long long)n, (long long)bl, (long long)ch);
                    free(src);
                    free(want);
                    free(got);
                }
    }
}

/* ---- Conv through conv.c ---- */

typedef struct cc {
    int64_t n, c, m, h, w, kh, kw, s, d, pt, pl, pb, pr;
    const char *act; /* FusedConv's activation, NULL: Conv */
    bool bias;
} cc;

static void run_case(const cc *k, ais__pool *pool) {
    const ais__cpu_kernels *t = ais__cpu();
    const int64_t oh = (k->h + k->pt + k->pb - (k->kh - 1) * k->d - 1) / k->s + 1;
    const int64_t ow = (k->w + k->pl + k->pr - (k->kw - 1) * k->d - 1) / k->s + 1;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(k->n, k->c, k->h, k->w), -1, 1);
    ais_tensor *w = ais_test_rand_f32(AIS_SHAPE(k->m, k->c, k->kh, k->kw), -1, 1);
    ais_tensor *b = k->bias ? ais_test_rand_f32(AIS_SHAPE(k->m), -1, 1) : NULL;
    const float *xd = ais_tensor_data(x), *wd = ais_tensor_data(w);
    const float *bd = b ? ais_tensor_data(b) : NULL;
    size_t ny = (size_t)(k->n * k->m * oh * ow);
    double *want = malloc(ny * sizeof(double));
    assert_non_null(want);
    for (int64_t n = 0; n < k->n; n++)
        for (int64_t m = 0; m < k->m; m++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    double s = bd ? bd[m] : 0;
                    for (int64_t c = 0; c < k->c; c++)
                        for (int64_t u = 0; u < k->kh; u++)
                            for (int64_t v = 0; v < k->kw; v++) {
                                int64_t ih = i * k->s - k->pt + u * k->d;
                                int64_t iw = j * k->s - k->pl + v * k->d;
                                if (ih < 0 || iw < 0 || ih >= k->h || iw >= k->w) continue;
                                s += (double)xd[((n * k->c + c) * k->h + ih) * k->w + iw] *
                                     (double)wd[((m * k->c + c) * k->kh + u) * k->kw + v];
                            }
                    if (k->act && strcmp(k->act, "Relu") == 0) s = s < 0 ? 0 : s;
                    if (k->act && strcmp(k->act, "LeakyRelu") == 0) s = s < 0 ? 0.2 * s : s;
                    if (k->act && strcmp(k->act, "Clip") == 0) s = s < -0.5 ? -0.5 : s > 1 ? 1 : s;
                    want[((n * k->m + m) * oh + i) * ow + j] = s;
                }
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    int64_t pads[4] = {k->pt, k->pl, k->pb, k->pr}, st[2] = {k->s, k->s}, dl[2] = {k->d, k->d};
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "pads", pads, 4));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "strides", st, 2));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "dilations", dl, 2));
    const char *op = k->act ? "FusedConv" : "Conv";
    if (k->act) {
        AIS_ASSERT_OK(ais_attrs_set_string(a, "activation", k->act));
        float params[2] = {-0.5f, 1.0f};
        if (strcmp(k->act, "LeakyRelu") == 0) params[0] = 0.2f;
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "activation_params", params,
                                           strcmp(k->act, "Clip") == 0 ? 2 : 1));
    }
    const ais__op_def *def = ais__op_find(k->act ? "com.microsoft" : "", op, 13);
    assert_non_null(def);
    ais__op_ctx ctx = {.op_type = op, .node_name = "", .opset = 13, .attrs = a, .pool = pool};
    const ais_tensor *in[3] = {x, w, b};
    size_t n_in = b ? 3 : 2;
    ctx.consts = (const ais_tensor *const[3]){NULL, w, b};
    ctx.n_consts = n_in;
    void *state = NULL;
    AIS_ASSERT_OK(def->prepare(&ctx, &state));
    ctx.consts = NULL;
    ctx.n_consts = 0;
    ctx.state = state;
    bool expect = ais__conv_nchwc_suits(t, 1, k->m, k->c, k->kh, k->kw);
    assert_int_equal(ais__conv_state_blocked(state), expect);
    if (t->isa >= AIS_CPU_ISA_AVX2 && k->kh * k->kw > 1 && k->c * 4 >= k->m &&
        (k->c % t->conv_nchwc_block == 0 || k->c < t->conv_nchwc_block) &&
        k->m % t->conv_nchwc_block == 0)
        assert_true(expect); /* the shapes this path is for do take it */
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais__op_invoke(def, &ctx, in, n_in, &y, 1));
    assert_int_equal(ais_tensor_shape(y)[2], oh);
    assert_int_equal(ais_tensor_shape(y)[3], ow);
    ais_test_assert_close_values(y, want, ny, 1e-5, 1e-5 * (double)(k->c * k->kh * k->kw + 1));
    ais__op_ctx_release(&ctx);
    def->release(state);
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);
    ais_tensor_destroy(w);
    ais_tensor_destroy(b);
    ais_attrs_destroy(a);
    free(want);
}

static void test_conv(void **state) {
    (void)state;
    static const cc cases[] = {
        /* n  c   m   h   w  kh kw s  d  pads        act          bias */
        {1, 3, 64, 23, 29, 7, 7, 2, 1, 3, 3, 3, 3, NULL, true},         /* stem */
        {1, 3, 16, 17, 17, 3, 3, 1, 1, 1, 1, 1, 1, "Relu", true},       /* short stem */
        {2, 16, 32, 9, 14, 3, 3, 1, 1, 1, 1, 1, 1, "Relu", true},       /* batch 2 */
        {1, 32, 48, 15, 15, 3, 3, 2, 1, 1, 1, 0, 0, NULL, false},       /* odd block count */
        {1, 60, 60, 11, 13, 3, 3, 1, 1, 1, 1, 1, 1, "LeakyRelu", true}, /* off the block */
        {1, 64, 64, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, "Clip", true},        /* ResNet's 7x7 */
        {1, 16, 80, 9, 10, 3, 3, 1, 1, 1, 1, 1, 1, "Relu", true},       /* 5 or 10 blocks */
        {1, 16, 112, 6, 9, 3, 3, 2, 1, 1, 1, 1, 1, NULL, true},         /* 7 or 14 blocks */
        {1, 16, 16, 12, 19, 5, 5, 2, 1, 2, 1, 1, 2, NULL, true},        /* asymmetric pads */
        {1, 16, 32, 13, 13, 3, 3, 1, 2, 2, 2, 2, 2, "Relu", true},      /* dilation */
        {1, 8, 24, 30, 5, 1, 3, 1, 1, 0, 1, 0, 1, NULL, true},          /* 1x3 */
        {1, 20, 24, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, NULL, true},          /* GEMM: much padding */
        {1, 32, 32, 8, 8, 1, 1, 1, 1, 0, 0, 0, 0, NULL, true},          /* GEMM: 1x1 */
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
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_unblock),
        cmocka_unit_test(test_conv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
