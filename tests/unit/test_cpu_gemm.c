/*
 * test_cpu_gemm.c - our packed GEMM (lib/cpu/cpu_gemm.c and each level's micro-kernel) at every
 * instruction-set level this machine has, against a double-precision product: every m, n, k in
 * 0..40 (edge tiles, k = 0, single rows and columns) with the four transpose combinations, alpha,
 * beta 0 / 1 / other and padded strides; large and odd shapes that cross the kc, mc and nc blocks;
 * the pre-packed B path; the bias + Relu epilogue and its residual; the table's sgemm (BLAS or ours
 * by shape) and its choice.
 *
 * Error bound asserted, per element: |c - ref| <= (k + 4) * FLT_EPSILON * s, where
 * s = |alpha| sum_p |a_ip b_pj| + |beta c0_ij| + |bias_ij| (the a-priori bound of a float dot
 * product of length k, with room for the beta and bias additions).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "cpu/cpu.h"
#include "test_util.h"

typedef struct gemm_case {
    bool ta, tb;
    int64_t m, n, k;
    float alpha, beta;
    int bias_kind; /* 0 none, 1 scalar, 2 row [n], 3 column [m, 1], 4 full [m, n] */
    bool relu;
} gemm_case;

/* Buffers of one case: A, B with padded strides, C's start, the reference and its scale. */
typedef struct gemm_bufs {
    float *a, *b, *c0, *c, *bias;
    double *ref, *scale;
    int64_t lda, ldb, ldc;
    ais__gemm_epilogue ep;
} gemm_bufs;

static float *alloc_f(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    return p;
}

static void setup_case(const gemm_case *g, gemm_bufs *u) {
    int64_t ar = g->ta ? g->k : g->m, ac = g->ta ? g->m : g->k;
    int64_t br = g->tb ? g->n : g->k, bc = g->tb ? g->k : g->n;
    u->lda = ac + 3;
    u->ldb = bc + 1;
    u->ldc = g->n + 2;
    u->a = alloc_f((size_t)(ar * u->lda));
    u->b = alloc_f((size_t)(br * u->ldb));
    u->c0 = alloc_f((size_t)(g->m * u->ldc));
    u->c = alloc_f((size_t)(g->m * u->ldc));
    u->bias = alloc_f((size_t)(g->m * g->n + 1));
    u->ref = malloc((size_t)(g->m * g->n + 1) * sizeof *u->ref);
    u->scale = malloc((size_t)(g->m * g->n + 1) * sizeof *u->scale);
    assert_true(u->ref && u->scale);
    ais_test_fill_uniform(u->a, (size_t)(ar * u->lda), -1, 1);
    ais_test_fill_uniform(u->b, (size_t)(br * u->ldb), -1, 1);
    ais_test_fill_uniform(u->c0, (size_t)(g->m * u->ldc), -1, 1);
    ais_test_fill_uniform(u->bias, (size_t)(g->m * g->n + 1), -1, 1);
    /* beta == 0 must not read C: NaN there would show through */
    if (g->beta == 0)
        for (int64_t i = 0; i < g->m * u->ldc; i++)
            u->c0[i] = NAN;
    static const int64_t rs[] = {0, 0, 0, 1, 0}, cs[] = {0, 0, 1, 0, 1};
    memset(&u->ep, 0, sizeof u->ep);
    u->ep.bias = g->bias_kind ? u->bias : NULL;
    u->ep.bias_rs = g->bias_kind == 4 ? g->n : rs[g->bias_kind];
    u->ep.bias_cs = cs[g->bias_kind];
    u->ep.act = g->relu ? AIS__GEMM_ACT_RELU : AIS__GEMM_ACT_NONE;
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) {
            double s = 0, sa = 0;
            for (int64_t p = 0; p < g->k; p++) {
                double x = g->ta ? u->a[p * u->lda + i] : u->a[i * u->lda + p];
                double y = g->tb ? u->b[j * u->ldb + p] : u->b[p * u->ldb + j];
                s += x * y;
                sa += fabs(x * y);
            }
            double v = g->alpha * s, sc = fabs(g->alpha) * sa;
            if (g->beta != 0) {
                v += (double)g->beta * u->c0[i * u->ldc + j];
                sc += fabs((double)g->beta * u->c0[i * u->ldc + j]);
            }
            if (u->ep.bias) {
                double bb = u->ep.bias[i * u->ep.bias_rs + j * u->ep.bias_cs];
                v += bb;
                sc += fabs(bb);
            }
            if (g->relu && v < 0) v = 0;
            u->ref[i * g->n + j] = v;
            u->scale[i * g->n + j] = sc;
        }
}

static void free_case(gemm_bufs *u) {
    free(u->a);
    free(u->b);
    free(u->c0);
    free(u->c);
    free(u->bias);
    free(u->ref);
    free(u->scale);
}

static void check_c(const gemm_case *g, const gemm_bufs *u, const char *isa, const char *path) {
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) {
            double got = u->c[i * u->ldc + j], want = u->ref[i * g->n + j];
            double tol = (double)(g->k + 4) * FLT_EPSILON * u->scale[i * g->n + j] + 1e-30;
            if (!(fabs(got - want) <= tol)) {
                fail_msg(
                    "%s %s: m=%lld n=%lld k=%lld ta=%d tb=%d alpha=%g beta=%g bias=%d relu=%d: "
                    "c[%lld,%lld] = %.9g, want %.9g (tol %.3g)",
                    isa, path, (long long)g->m, (long long)g->n, (long long)g->k, g->ta, g->tb,
                    g->alpha, g->beta, g->bias_kind, g->relu, (long long)i, (long long)j, got, want,
                    tol);
            }
        }
    /* the padding between rows of C is left alone */
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = g->n; j < u->ldc; j++) {
            float x = u->c[i * u->ldc + j], y = u->c0[i * u->ldc + j];
            assert_true(memcmp(&x, &y, sizeof x) == 0);
        }
}

static const char *const isa_names[] = {"scalar", "avx2", "avx512", "avx512_vnni"};

/* Runs one case through sgemm_ex at every level, per call and (when packed) pre-packed B. */
static void run_case(const gemm_case *g, bool packed) {
    gemm_bufs u;
    setup_case(g, &u);
    const ais__gemm_epilogue *ep = g->bias_kind || g->relu ? &u.ep : NULL;
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
        if (!t) continue;
        memcpy(u.c, u.c0, (size_t)(g->m * u.ldc) * sizeof *u.c);
        t->sgemm_ex(g->ta, g->tb, g->m, g->n, g->k, g->alpha, u.a, u.lda, u.b, u.ldb, NULL, g->beta,
                    u.c, u.ldc, ep, NULL);
        check_c(g, &u, isa_names[isa], "per-call B");
        /* the same with the caller's scratch, of exactly the size the table asks */
        size_t ss = t->gemm_scratch_size(g->m, g->n, g->k, false);
        float *scr = ss ? aligned_alloc(64, (ss * sizeof(float) + 63) / 64 * 64) : NULL;
        assert_true(!ss || scr);
        memcpy(u.c, u.c0, (size_t)(g->m * u.ldc) * sizeof *u.c);
        t->sgemm_ex(g->ta, g->tb, g->m, g->n, g->k, g->alpha, u.a, u.lda, u.b, u.ldb, NULL, g->beta,
                    u.c, u.ldc, ep, scr);
        check_c(g, &u, isa_names[isa], "caller scratch");
        free(scr);
        if (!packed) continue;
        size_t sz = t->gemm_packed_b_size(g->k, g->n);
        float *bp = alloc_f(sz);
        t->gemm_prepack_b(g->tb, u.b, u.ldb, g->k, g->n, bp);
        memcpy(u.c, u.c0, (size_t)(g->m * u.ldc) * sizeof *u.c);
        /* b is NULL: the packed panel alone must carry B */
        t->sgemm_ex(g->ta, g->tb, g->m, g->n, g->k, g->alpha, u.a, u.lda, NULL, 0, bp, g->beta, u.c,
                    u.ldc, ep, NULL);
        check_c(g, &u, isa_names[isa], "pre-packed B");
        free(bp);
    }
    free_case(&u);
}

/* Every m, n, k in 0..40; transposes, alpha and beta cycle with the shape. */
static void test_all_small_shapes(void **state) {
    (void)state;
    static const float alphas[] = {1.0f, -0.75f, 1.0f}, betas[] = {0.0f, 1.0f, 0.5f};
    int idx = 0;
    for (int64_t m = 0; m <= 40; m++)
        for (int64_t n = 0; n <= 40; n++)
            for (int64_t k = 0; k <= 40; k++, idx++) {
                gemm_case g = {idx & 1,         (idx >> 1) & 1,       m, n,    k,
                               alphas[idx % 3], betas[(idx / 3) % 3], 0, false};
                run_case(&g, idx % 7 == 0);
            }
}

/* Shapes past the blocking: k over kc (256), m over mc (336 for AVX-512), n over nc (half the L2),
 * and the model shapes of bench_ops. */
static void test_large_shapes(void **state) {
    (void)state;
    static const int64_t shapes[][3] = {{257, 129, 300},
                                        {64, 64, 64},
                                        {1, 784, 512},
                                        {700, 45, 20},
                                        {3, 4100, 5},
                                        {131, 67, 777},
                                        {29, 33, 513},
                                        {350, 250, 1},
                                        {1, 1, 1000},
                                        /* one row block over several column blocks, A packed
                                         * once for all of them (ais__gemm_a_once) */
                                        {100, 1100, 300},
                                        {20, 1300, 600}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int tr = 0; tr < 4; tr++) {
            gemm_case g = {tr & 1,
                           (tr >> 1) & 1,
                           shapes[s][0],
                           shapes[s][1],
                           shapes[s][2],
                           tr == 3 ? 0.5f : 1.0f,
                           tr == 1 ? 1.0f : (tr == 2 ? -2.0f : 0.0f),
                           0,
                           false};
            run_case(&g, true);
        }
}

/* The epilogue: each bias form, with and without Relu, full and edge tiles, beta accumulate,
 * per-call and pre-packed B. */
static void test_epilogue(void **state) {
    (void)state;
    static const int64_t shapes[][3] = {{28, 64, 40}, {37, 45, 300}, {5, 3, 7}, {17, 40, 0}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int bias = 0; bias <= 4; bias++)
            for (int relu = 0; relu < 2; relu++) {
                gemm_case g = {bias == 3,
                               relu == 1,
                               shapes[s][0],
                               shapes[s][1],
                               shapes[s][2],
                               1.0f,
                               bias == 2 ? 1.0f : 0.0f,
                               bias,
                               relu == 1};
                run_case(&g, true);
            }
    /* Relu keeps NaN (a NaN input row makes its outputs NaN) */
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
        if (!t) continue;
        enum { M = 20, N = 40, K = 8 };
        float a[M * K], b[K * N], c[M * N];
        ais_test_fill_uniform(a, M * K, -1, 1);
        ais_test_fill_uniform(b, K * N, -1, 1);
        a[3 * K + 2] = NAN;
        ais__gemm_epilogue ep = {NULL, 0, 0, AIS__GEMM_ACT_RELU, 0, 0, NULL, 0};
        t->sgemm_ex(false, false, M, N, K, 1.0f, a, K, b, N, NULL, 0.0f, c, N, &ep, NULL);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                assert_true(i == 3 ? isnan(c[i * N + j]) : c[i * N + j] >= 0);
    }
}

/* The table's sgemm (BLAS or ours, by shape) agrees on shapes either side of the choice. */
static void test_table_sgemm(void **state) {
    (void)state;
    static const int64_t shapes[][3] = {{1, 300, 200}, {200, 1, 30}, {8, 8, 8}, {96, 200, 150}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        gemm_case g = {false, s == 3, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f,
                       1.0f,  0,      false};
        gemm_bufs u;
        setup_case(&g, &u);
        for (int isa = 0; isa <= 3; isa++) {
            const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
            if (!t) continue;
            memcpy(u.c, u.c0, (size_t)(g.m * u.ldc) * sizeof *u.c);
            t->sgemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, u.a, u.lda, u.b, u.ldb, g.beta, u.c,
                     u.ldc);
            check_c(&g, &u, isa_names[isa], "sgemm");
        }
        free_case(&u);
    }
}

/* Which provider the table's sgemm takes: ours on the shapes it measured faster, only where BLAS
 * would run on one thread, never at the scalar level, and at the AVX2 level only on a CPU
 * without AVX-512 (whose kernels OpenBLAS would use instead). */
static void test_table_choice(void **state) {
    (void)state;
    assert_false(ais__gemm_ours_wins(1, 512, 784));  /* a single row: BLAS's GEMV */
    assert_false(ais__gemm_ours_wins(64, 64, 64));   /* small */
    assert_false(ais__gemm_ours_wins(1000, 64, 64)); /* narrow */
    assert_true(ais__gemm_ours_wins(256, 256, 256));
    assert_true(ais__gemm_ours_wins(64, 3136, 576)); /* im2col */
    ais__pool *one = NULL, *two = NULL;
    AIS_ASSERT_OK(ais__pool_create(1, &one));
    AIS_ASSERT_OK(ais__pool_create(2, &two));
    ais__pool_binding saved, saved2;
    ais__pool_bind(one, &saved);
    ais_cpu_isa top = ais__cpu_isa_detected();
    assert_false(ais__gemm_table_takes_ours(AIS_CPU_ISA_SCALAR, 256, 256, 256));
    assert_false(ais__gemm_table_takes_ours(top, 1, 512, 784));
    if (top >= AIS_CPU_ISA_AVX2) assert_true(ais__gemm_table_takes_ours(top, 256, 256, 256));
    if (top >= AIS_CPU_ISA_AVX512)
        assert_false(ais__gemm_table_takes_ours(AIS_CPU_ISA_AVX2, 256, 256, 256));
    /* two threads: BLAS threads a large product itself */
    ais__pool_bind(two, &saved2);
    assert_false(ais__gemm_table_takes_ours(top, 512, 512, 512));
    ais__pool_unbind(&saved2);
    ais__pool_unbind(&saved);
    ais__pool_destroy(one);
    ais__pool_destroy(two);
}

/* ais__gemm_parallel over a pool of 3 threads: row and column splits, pre-packed B (rows only),
 * the epilogue's bias offsets in each block, beta, transposes; and the serial fallbacks. */
static void test_parallel(void **state) {
    (void)state;
    ais__pool *pool = NULL;
    assert_int_equal(ais__pool_create(3, &pool), AIS_OK);
    /* 128 rows: a transformer at sequence 128, whose few row tiles the split balances by
     * choosing the block size (ais__gemm_split_of) */
    static const int64_t shapes[][3] = {{257, 129, 300},
                                        {40, 700, 50},
                                        {700, 40, 50},
                                        {15, 33, 9000},
                                        {3, 3, 3},
                                        {100, 1, 100},
                                        {128, 384, 384},
                                        {128, 96, 256},
                                        /* a row split with B packed once for all the threads
                                         * (3 kc slices, the last short; k = 1), and few row
                                         * tiles that split by columns instead */
                                        {200, 70, 600},
                                        {300, 50, 1},
                                        {98, 1000, 70}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int v = 0; v < 4; v++) {
            gemm_case g = {v & 1,
                           (v >> 1) & 1,
                           shapes[s][0],
                           shapes[s][1],
                           shapes[s][2],
                           v == 2 ? 0.5f : 1.0f,
                           v == 1 ? 1.0f : 0.0f,
                           v == 3 ? 4 : (v == 2 ? 3 : 2),
                           v != 1};
            gemm_bufs u;
            setup_case(&g, &u);
            for (int isa = 0; isa <= 3; isa++) {
                const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
                if (!t) continue;
                for (int packed = 0; packed < 2; packed++) {
                    float *bp = NULL;
                    if (packed) {
                        bp = alloc_f(t->gemm_packed_b_size(g.k, g.n));
                        t->gemm_prepack_b(g.tb, u.b, u.ldb, g.k, g.n, bp);
                    }
                    memcpy(u.c, u.c0, (size_t)(g.m * u.ldc) * sizeof *u.c);
                    ais__gemm_parallel(pool, t, g.ta, g.tb, g.m, g.n, g.k, g.alpha, u.a, u.lda,
                                       packed ? NULL : u.b, u.ldb, bp, g.beta, u.c, u.ldc, &u.ep);
                    check_c(&g, &u, isa_names[isa], packed ? "parallel packed B" : "parallel");
                    /* the caller's scratch, of exactly the size asked (the slots' and the
                     * shared B's) */
                    size_t ss = ais__gemm_parallel_scratch(pool, t, g.m, g.n, g.k, packed);
                    float *scr = ss ? aligned_alloc(64, (ss * sizeof(float) + 63) / 64 * 64) : NULL;
                    assert_true(!ss || scr);
                    memcpy(u.c, u.c0, (size_t)(g.m * u.ldc) * sizeof *u.c);
                    ais__gemm_parallel_ex(pool, t, g.ta, g.tb, g.m, g.n, g.k, g.alpha, u.a, u.lda,
                                          packed ? NULL : u.b, u.ldb, bp, g.beta, u.c, u.ldc, &u.ep,
                                          scr);
                    check_c(&g, &u, isa_names[isa],
                            packed ? "parallel packed B, caller scratch"
                                   : "parallel, caller scratch");
                    free(scr);
                    free(bp);
                }
            }
            free_case(&u);
        }
    ais__pool_destroy(pool);
}

/* The residual of the epilogue (ep->resid, a fused skip Add): act(A B + resid + bias) against
 * a double product, through the serial driver (per-call and pre-packed B), the parallel split
 * (rows and columns), beta 1 on top of it, and the epilogue alone (the BLAS paths'), with Relu
 * and Gelu; k = 0 and edge tiles included. */
static void test_residual(void **state) {
    (void)state;
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(3, &pool));
    static const int64_t shapes[][3] = {{28, 64, 40}, {37, 45, 300},   {5, 3, 7},
                                        {17, 40, 0},  {257, 129, 300}, {40, 700, 50}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ldr = n + 5;
        float *a = alloc_f((size_t)(m * k)), *b = alloc_f((size_t)(k * n));
        float *r = alloc_f((size_t)(m * ldr)), *bias = alloc_f((size_t)n);
        float *c = alloc_f((size_t)(m * n)), *c0 = alloc_f((size_t)(m * n));
        double *ref = malloc((size_t)(m * n + 1) * sizeof *ref);
        double *scl = malloc((size_t)(m * n + 1) * sizeof *scl);
        assert_true(ref && scl);
        ais_test_fill_uniform(a, (size_t)(m * k), -1, 1);
        ais_test_fill_uniform(b, (size_t)(k * n), -1, 1);
        ais_test_fill_uniform(r, (size_t)(m * ldr), -2, 2);
        ais_test_fill_uniform(bias, (size_t)n, -1, 1);
        ais_test_fill_uniform(c0, (size_t)(m * n), -1, 1);
        for (int variant = 0; variant < 3; variant++) { /* Relu, Gelu, none with beta 1 */
            ais__gemm_epilogue ep = {bias, 0, 1, AIS__GEMM_ACT_RELU, 0, 0, r, ldr};
            if (variant == 1) ep.act = AIS__GEMM_ACT_GELU;
            if (variant == 2) ep.act = AIS__GEMM_ACT_NONE;
            float beta = variant == 2 ? 1.0f : 0.0f;
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    double acc = 0, sa = 0;
                    for (int64_t p = 0; p < k; p++) {
                        acc += (double)a[i * k + p] * b[p * n + j];
                        sa += fabs((double)a[i * k + p] * b[p * n + j]);
                    }
                    double v = acc + r[i * ldr + j] + bias[j] + beta * c0[i * n + j];
                    if (variant == 0) v = v < 0 ? 0 : v;
                    if (variant == 1) v = 0.5 * v * (1 + erf(v / sqrt(2.0)));
                    ref[i * n + j] = v;
                    scl[i * n + j] = sa + fabs(r[i * ldr + j]) + fabs(bias[j]) +
                                     fabs(beta * c0[i * n + j]) + 1e-3;
                }
            for (int isa = 0; isa <= 3; isa++) {
                const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)isa);
                if (!t || !t->gemm_ukernel_ep) continue;
                float *bp = alloc_f(t->gemm_packed_b_size(k, n) + 1);
                if (k > 0) t->gemm_prepack_b(false, b, n, k, n, bp);
                for (int path = 0; path < 4; path++) {
                    memcpy(c, c0, (size_t)(m * n) * sizeof *c);
                    if (path == 0)
                        ais__gemm_drive(t, false, false, m, n, k, 1.0f, a, k, b, n, NULL, beta, c,
                                        n, &ep, NULL);
                    else if (path == 1 && k > 0)
                        ais__gemm_drive(t, false, false, m, n, k, 1.0f, a, k, NULL, n, bp, beta, c,
                                        n, &ep, NULL);
                    else if (path == 2)
                        ais__gemm_parallel_ex(pool, t, false, false, m, n, k, 1.0f, a, k, b, n,
                                              NULL, beta, c, n, &ep, NULL);
                    else if (path == 3 && k > 0) {
                        ais__sgemm(false, false, m, n, k, 1.0f, a, k, b, n, beta, c, n);
                        ais__gemm_epilogue_apply(t, &ep, c, n, m, n);
                    } else
                        continue;
                    for (int64_t i = 0; i < m * n; i++) {
                        double tol = (double)(k + 8) * FLT_EPSILON * scl[i];
                        if (fabs(c[i] - ref[i]) > tol)
                            fail_msg("%s path %d variant %d %lldx%lldx%lld: c[%lld] = %.9g, ref "
                                     "%.9g",
                                     isa_names[isa], path, variant, (long long)m, (long long)n,
                                     (long long)k, (long long)i, (double)c[i], ref[i]);
                    }
                }
                free(bp);
            }
        }
        free(a);
        free(b);
        free(r);
        free(bias);
        free(c);
        free(c0);
        free(ref);
        free(scl);
    }
    ais__pool_destroy(pool);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_small_shapes), cmocka_unit_test(test_large_shapes),
        cmocka_unit_test(test_epilogue),         cmocka_unit_test(test_table_sgemm),
        cmocka_unit_test(test_parallel),         cmocka_unit_test(test_table_choice),
        cmocka_unit_test(test_residual),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
