/* test_ops_gemm.c - MatMul, Gemm, FusedGemm and FusedMatMul of f32 on our packed GEMM
 * (lib/ops/matmul.c, lib/ops/fused.c): against a double-precision product, eager (B packed per
 * call) and prepared with a constant B (packed once, as a model load does), serial and on two
 * threads; odd sizes (m, n, k in 1..37 and k = 0), transposes, alpha and beta, every broadcast
 * form of Gemm's C, batched MatMul with broadcasting; a prepared state handed another B (op.h's
 * contract: it must not be used); the fused activations against the unfused pair; a session's
 * zero-allocation steady state and allocation failures of the packing at load. Registered again
 * at the scalar and AVX2 levels (AIS_CPU_ISA, tests/CMakeLists.txt).
 *
 * Error bound per element: (k + 8) * FLT_EPSILON * (|alpha| sum |a b| + |beta c|), the a-priori
 * bound of a float dot product (about 1e-5 relative for these k).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "ops/matmul.h"
#include "runtime/model.h"
#include "test_util.h"

/* ---- one operator call ---- */

/* Runs def on `in` (consts: prepare sees in[i] as constant where consts[i]) and returns y.
 * prepared: the state is built from the constants first, as at model load; *packed tells
 * whether it packed B. other_b: compute gets this B instead (the same shape), with the state
 * built from in[1]. */
static ais_tensor *run_op(const char *domain, const char *op, ais_attrs *attrs,
                          const ais_tensor *const *in, size_t n_in, bool prepared, bool *packed,
                          const ais_tensor *other_b, ais__pool *pool) {
    const ais__op_def *def = ais__op_find(domain, op, 20);
    assert_non_null(def);
    assert_non_null(def->prepare);
    ais__op_ctx ctx = {.op_type = op, .node_name = "", .opset = 20, .attrs = attrs, .pool = pool};
    void *st = NULL;
    if (prepared) {
        const ais_tensor *consts[3] = {NULL, in[1], n_in > 2 ? in[2] : NULL};
        ctx.consts = consts;
        ctx.n_consts = n_in;
        AIS_ASSERT_OK(def->prepare(&ctx, &st));
        ctx.consts = NULL;
        ctx.n_consts = 0;
        ctx.state = st;
        if (packed) *packed = ((const ais__mm_state *)st)->bp != NULL;
    }
    const ais_tensor *use[3] = {in[0], other_b ? other_b : in[1], n_in > 2 ? in[2] : NULL};
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais__op_invoke(def, &ctx, use, n_in, &y, 1));
    ais__op_ctx_release(&ctx);
    if (st) def->release(st);
    return y;
}

/* ---- Gemm ---- */

typedef struct gemm_case {
    int64_t m, n, k;
    bool ta, tb;
    float alpha, beta;
    int c_kind; /* 0 none, 1 scalar [], 2 [n], 3 [1, n], 4 [m, 1], 5 [m, n], 6 [1, 1] */
} gemm_case;

static ais_tensor *make_c(const gemm_case *g) {
    switch (g->c_kind) {
    case 1: return ais_test_rand_f32(NULL, 0, -1, 1);
    case 2: return ais_test_rand_f32(AIS_SHAPE(g->n), -1, 1);
    case 3: return ais_test_rand_f32(AIS_SHAPE(1, g->n), -1, 1);
    case 4: return ais_test_rand_f32(AIS_SHAPE(g->m, 1), -1, 1);
    case 5: return ais_test_rand_f32(AIS_SHAPE(g->m, g->n), -1, 1);
    case 6: return ais_test_rand_f32(AIS_SHAPE(1, 1), -1, 1);
    default: return NULL;
    }
}

/* |y - ref| within the bound, element by element; ref and scale from gemm_ref. */
static void check_close(const ais_tensor *y, const double *ref, const double *scale, int64_t k,
                        const char *what) {
    const float *v = ais_tensor_data((ais_tensor *)y);
    for (size_t i = 0; i < y->numel; i++) {
        double tol = (double)(k + 8) * FLT_EPSILON * scale[i] + 1e-30;
        if (!(fabs(v[i] - ref[i]) <= tol))
            fail_msg("%s: y[%zu] = %.9g, want %.9g (tol %.3g)", what, i, v[i], ref[i], tol);
    }
}

static void gemm_ref(const gemm_case *g, const ais_tensor *a, const ais_tensor *b,
                     const ais_tensor *c, double *ref, double *scale) {
    const float *av = ais_tensor_data((ais_tensor *)a), *bv = ais_tensor_data((ais_tensor *)b);
    const float *cv = c ? ais_tensor_data((ais_tensor *)c) : NULL;
    int64_t lda = a->dims[1], ldb = b->dims[1];
    int64_t cm = c && c->ndim == 2 ? c->dims[0] : 1, cn = c && c->ndim ? c->dims[c->ndim - 1] : 1;
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) {
            double s = 0, sa = 0;
            for (int64_t p = 0; p < g->k; p++) {
                double x = g->ta ? av[p * lda + i] : av[i * lda + p];
                double w = g->tb ? bv[j * ldb + p] : bv[p * ldb + j];
                s += x * w;
                sa += fabs(x * w);
            }
            double r = g->alpha * s, sc = fabs(g->alpha) * sa;
            if (c && g->beta != 0) {
                double cc = (double)g->beta * cv[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
                r += cc;
                sc += fabs(cc);
            }
            ref[i * g->n + j] = r;
            scale[i * g->n + j] = sc + 1e-6;
        }
}

static ais_attrs *gemm_attrs(const gemm_case *g) {
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "transA", g->ta));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "transB", g->tb));
    AIS_ASSERT_OK(ais_attrs_set_float(at, "alpha", g->alpha));
    AIS_ASSERT_OK(ais_attrs_set_float(at, "beta", g->beta));
    return at;
}

static void run_gemm_case(const gemm_case *g, ais__pool *pool) {
    ais_tensor *a = g->ta ? ais_test_rand_f32(AIS_SHAPE(g->k, g->m), -1, 1)
                          : ais_test_rand_f32(AIS_SHAPE(g->m, g->k), -1, 1);
    ais_tensor *b = g->tb ? ais_test_rand_f32(AIS_SHAPE(g->n, g->k), -1, 1)
                          : ais_test_rand_f32(AIS_SHAPE(g->k, g->n), -1, 1);
    ais_tensor *b2 = g->tb ? ais_test_rand_f32(AIS_SHAPE(g->n, g->k), -1, 1)
                           : ais_test_rand_f32(AIS_SHAPE(g->k, g->n), -1, 1);
    ais_tensor *c = make_c(g);
    const ais_tensor *in[3] = {a, b, c};
    size_t n_in = c ? 3 : 2, cnt = (size_t)(g->m * g->n) + 1;
    double *ref = malloc(cnt * sizeof *ref), *scale = malloc(cnt * sizeof *scale);
    double *ref2 = malloc(cnt * sizeof *ref2);
    assert_true(ref && scale && ref2);
    gemm_ref(g, a, b, c, ref, scale);
    ais_attrs *at = gemm_attrs(g);
    char what[160];
    snprintf(what, sizeof what, "Gemm m=%lld n=%lld k=%lld ta=%d tb=%d alpha=%g beta=%g C=%d%s",
             (long long)g->m, (long long)g->n, (long long)g->k, g->ta, g->tb, g->alpha, g->beta,
             g->c_kind, pool ? " 2 threads" : "");
    ais_tensor *y = run_op("", "Gemm", at, in, n_in, false, NULL, NULL, pool);
    check_close(y, ref, scale, g->k, what);
    ais_tensor_destroy(y);
    bool packed = false;
    y = run_op("", "Gemm", at, in, n_in, true, &packed, NULL, pool);
    assert_true(packed == (g->k > 0 && g->n > 0));
    check_close(y, ref, scale, g->k, what);
    ais_tensor_destroy(y);
    /* the state packed b; compute gets b2: b2 must be used */
    gemm_ref(g, a, b2, c, ref2, scale);
    y = run_op("", "Gemm", at, in, n_in, true, NULL, b2, pool);
    check_close(y, ref2, scale, g->k, what);
    ais_tensor_destroy(y);
    ais_attrs_destroy(at);
    free(ref);
    free(ref2);
    free(scale);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(b2);
    ais_tensor_destroy(c);
}

/* Odd sizes around the register tiles (AVX-512 14 x 32, AVX2 6 x 16, scalar 4 x 4), k = 0,
 * transposes, alpha and beta, each C form; serial and on 2 threads. */
static void test_gemm(void **state) {
    (void)state;
    static const int64_t ms[] = {1, 2, 5, 13, 14, 15, 29, 37};
    static const int64_t ns[] = {1, 3, 16, 17, 31, 33, 37};
    static const int64_t ks[] = {0, 1, 4, 7, 16, 37};
    static const float alphas[] = {1.0f, 0.5f, -1.25f}, betas[] = {1.0f, 0.0f, 2.0f};
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(2, &pool));
    int idx = 0;
    for (size_t mi = 0; mi < AIS__ARRAY_LEN(ms); mi++)
        for (size_t ni = 0; ni < AIS__ARRAY_LEN(ns); ni++)
            for (size_t ki = 0; ki < AIS__ARRAY_LEN(ks); ki++, idx++) {
                gemm_case g = {ms[mi],
                               ns[ni],
                               ks[ki],
                               idx & 1,
                               (idx >> 1) & 1,
                               alphas[idx % 3],
                               betas[idx % 7 % 3],
                               idx % 7};
                run_gemm_case(&g, idx % 5 == 0 ? pool : NULL);
            }
    /* past the blocking (kc 256, mc 336) and large enough for the threads to split */
    static const gemm_case big[] = {{300, 70, 300, false, true, 1.0f, 1.0f, 3},
                                    {1, 700, 300, false, true, 1.0f, 1.0f, 2},
                                    {65, 129, 513, true, false, 0.75f, 0.5f, 5},
                                    {257, 33, 90, true, true, 1.0f, 1.0f, 4},
                                    /* few rows with m*n*k >= 1e6: on two threads our GEMM's
                                     * column split instead of BLAS's GEMV */
                                    {1, 1000, 1100, false, true, 1.0f, 1.0f, 3},
                                    {2, 600, 900, false, false, 0.5f, 1.0f, 2}};
    for (size_t i = 0; i < AIS__ARRAY_LEN(big); i++) {
        run_gemm_case(&big[i], NULL);
        run_gemm_case(&big[i], pool);
    }
    ais__pool_destroy(pool);
}

/* ---- MatMul ---- */

static void matmul_ref(const ais_tensor *a, const ais_tensor *b, const ais_tensor *y, double *ref,
                       double *scale) {
    /* y's batch index -> A's and B's by broadcasting (right-aligned batch axes) */
    size_t ra = a->ndim, rb = b->ndim, ry = y->ndim;
    int64_t m = ra == 1 ? 1 : a->dims[ra - 2], k = a->dims[ra - 1];
    int64_t n = rb == 1 ? 1 : b->dims[rb - 1];
    size_t nb = ry - (ra > 1) - (rb > 1), nba = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0;
    size_t batches = 1;
    for (size_t i = 0; i < nb; i++)
        batches *= (size_t)y->dims[i];
    const float *av = ais_tensor_data((ais_tensor *)a), *bv = ais_tensor_data((ais_tensor *)b);
    for (size_t bi = 0; bi < batches; bi++) {
        size_t rem = bi, ao = 0, bo = 0, sa = 1, sb = 1;
        for (size_t ax = nb; ax-- > 0;) {
            size_t idx = rem % (size_t)y->dims[ax];
            rem /= (size_t)y->dims[ax];
            size_t la = nb - nba, lb = nb - nbb;
            if (ax >= la) {
                int64_t d = a->dims[ax - la];
                ao += (d == 1 ? 0 : idx) * sa;
                sa *= (size_t)d;
            }
            if (ax >= lb) {
                int64_t d = b->dims[ax - lb];
                bo += (d == 1 ? 0 : idx) * sb;
                sb *= (size_t)d;
            }
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0, sc = 0;
                for (int64_t p = 0; p < k; p++) {
                    double x = av[ao * (size_t)(m * k) + (size_t)(i * k + p)];
                    double w = bv[bo * (size_t)(k * n) + (size_t)(p * n + j)];
                    s += x * w;
                    sc += fabs(x * w);
                }
                ref[bi * (size_t)(m * n) + (size_t)(i * n + j)] = s;
                scale[bi * (size_t)(m * n) + (size_t)(i * n + j)] = sc + 1e-6;
            }
    }
}

static void run_matmul(const int64_t *as, size_t an, const int64_t *bs, size_t bn,
                       ais__pool *pool) {
    ais_tensor *a = ais_test_rand_f32(as, an, -1, 1), *b = ais_test_rand_f32(bs, bn, -1, 1);
    ais_tensor *b2 = ais_test_rand_f32(bs, bn, -1, 1);
    const ais_tensor *in[2] = {a, b};
    ais_tensor *y = run_op("", "MatMul", NULL, in, 2, false, NULL, NULL, pool);
    double *ref = malloc((y->numel + 1) * sizeof *ref), *sc = malloc((y->numel + 1) * sizeof *sc);
    assert_true(ref && sc);
    int64_t k = a->dims[an - 1];
    char what[96];
    snprintf(what, sizeof what, "MatMul rank %zu x %zu k=%lld%s", an, bn, (long long)k,
             pool ? " 2 threads" : "");
    matmul_ref(a, b, y, ref, sc);
    check_close(y, ref, sc, k, what);
    ais_tensor_destroy(y);
    bool packed = false;
    y = run_op("", "MatMul", NULL, in, 2, true, &packed, NULL, pool);
    assert_true(packed || k == 0 || bs[bn - 1] == 0);
    check_close(y, ref, sc, k, what);
    ais_tensor_destroy(y);
    y = run_op("", "MatMul", NULL, in, 2, true, NULL, b2, pool);
    matmul_ref(a, b2, y, ref, sc);
    check_close(y, ref, sc, k, what);
    ais_tensor_destroy(y);
    free(ref);
    free(sc);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(b2);
}

/* 2-D, 1-D promotion, a batch of A against one B (one tall product), batched B with
 * broadcasting on either side (B packed per matrix), k = 0; serial and on 2 threads. */
static void test_matmul(void **state) {
    (void)state;
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(2, &pool));
    for (int t = 0; t < 2; t++) {
        ais__pool *p = t ? pool : NULL;
        run_matmul(AIS_SHAPE(13, 37), AIS_SHAPE(37, 17), p);
        run_matmul(AIS_SHAPE(37), AIS_SHAPE(37, 33), p);
        run_matmul(AIS_SHAPE(5, 29), AIS_SHAPE(29), p);
        run_matmul(AIS_SHAPE(3, 7, 20), AIS_SHAPE(20, 35), p);
        run_matmul(AIS_SHAPE(2, 3, 15, 9), AIS_SHAPE(9, 31), p);
        run_matmul(AIS_SHAPE(4, 15, 9), AIS_SHAPE(4, 9, 31), p);
        run_matmul(AIS_SHAPE(15, 9), AIS_SHAPE(3, 9, 31), p);
        run_matmul(AIS_SHAPE(2, 1, 6, 11), AIS_SHAPE(1, 3, 11, 5), p);
        run_matmul(AIS_SHAPE(3, 1, 6, 11), AIS_SHAPE(3, 11, 5), p);
        run_matmul(AIS_SHAPE(4, 6, 0), AIS_SHAPE(0, 5), p);
        run_matmul(AIS_SHAPE(2, 200, 300), AIS_SHAPE(2, 300, 70), p);
        run_matmul(AIS_SHAPE(1, 300), AIS_SHAPE(300, 700), p);
        run_matmul(AIS_SHAPE(1, 1100), AIS_SHAPE(1100, 1000), p);
        run_matmul(AIS_SHAPE(128, 200), AIS_SHAPE(200, 600), p); /* wide: split by columns */
        run_matmul(AIS_SHAPE(300, 256), AIS_SHAPE(256, 96), p);
    }
    ais__pool_destroy(pool);
}

/* ---- fused activations ---- */

typedef struct act_case {
    const char *fused; /* FusedGemm's activation name */
    const char *unary; /* the unfused operator */
    float p0, p1;      /* activation_params */
    size_t n_params;
} act_case;

static const act_case acts[] = {
    {"Relu", "Relu", 0, 0, 0},        {"LeakyRelu", "LeakyRelu", 0.2f, 0, 1},
    {"Clip", "Clip", -0.3f, 0.5f, 2}, {"Sigmoid", "Sigmoid", 0, 0, 0},
    {"Tanh", "Tanh", 0, 0, 0},        {"Gelu", "Gelu", 0, 0, 0},
    {"GeluTanh", "Gelu", 0, 0, 0},
};

/* The unfused activation on y (eager, opset 6 for Clip's attributes as fused.c does). */
static ais_tensor *unary(const act_case *ac, const ais_tensor *y) {
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    if (strcmp(ac->fused, "LeakyRelu") == 0)
        AIS_ASSERT_OK(ais_attrs_set_float(at, "alpha", ac->p0));
    if (strcmp(ac->fused, "Clip") == 0) {
        AIS_ASSERT_OK(ais_attrs_set_float(at, "min", ac->p0));
        AIS_ASSERT_OK(ais_attrs_set_float(at, "max", ac->p1));
    }
    if (strcmp(ac->fused, "GeluTanh") == 0)
        AIS_ASSERT_OK(ais_attrs_set_string(at, "approximate", "tanh"));
    const ais__op_def *def = ais__op_find("", ac->unary, strcmp(ac->unary, "Gelu") == 0 ? 20 : 6);
    assert_non_null(def);
    ais__op_ctx ctx = {.op_type = ac->unary, .node_name = "", .opset = 6, .attrs = at};
    ais_tensor *z = NULL;
    AIS_ASSERT_OK(ais__op_invoke(def, &ctx, &y, 1, &z, 1));
    ais__op_ctx_release(&ctx);
    ais_attrs_destroy(at);
    return z;
}

static void assert_near(const ais_tensor *x, const ais_tensor *y, const char *what) {
    assert_int_equal(x->numel, y->numel);
    const float *a = ais_tensor_data((ais_tensor *)x), *b = ais_tensor_data((ais_tensor *)y);
    for (size_t i = 0; i < x->numel; i++)
        if (!(fabsf(a[i] - b[i]) <= 1e-5f * (1.0f + fabsf(b[i]))))
            fail_msg("%s: [%zu] fused %.9g, unfused %.9g", what, i, a[i], b[i]);
}

/* FusedGemm (with C) and FusedMatMul (batched) with every activation, prepared and eager, serial
 * and on 2 threads, against Gemm/MatMul followed by the unary operator. */
static void test_fused(void **state) {
    (void)state;
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(2, &pool));
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(37, 29), -1, 1);
    ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(33, 29), -1, 1);
    ais_tensor *c = ais_test_rand_f32(AIS_SHAPE(33), -1, 1);
    ais_tensor *a3 = ais_test_rand_f32(AIS_SHAPE(3, 30, 50), -2, 2);
    /* batch 1: 2 rows, through BLAS's GEMV and the epilogue after */
    ais_tensor *a1 = ais_test_rand_f32(AIS_SHAPE(1, 2, 50), -2, 2);
    ais_tensor *b2 = ais_test_rand_f32(AIS_SHAPE(50, 45), -1, 1);
    ais_attrs *ga = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&ga));
    AIS_ASSERT_OK(ais_attrs_set_int(ga, "transB", 1));
    AIS_ASSERT_OK(ais_attrs_set_float(ga, "alpha", 1.5f));
    AIS_ASSERT_OK(ais_attrs_set_float(ga, "beta", 0.5f));
    const ais_tensor *gin[3] = {a, b, c}, *min[2] = {a3, b2}, *min1[2] = {a1, b2};
    ais_tensor *hg = run_op("", "Gemm", ga, gin, 3, false, NULL, NULL, NULL);
    ais_tensor *hm = run_op("", "MatMul", NULL, min, 2, false, NULL, NULL, NULL);
    ais_tensor *hm1 = run_op("", "MatMul", NULL, min1, 2, false, NULL, NULL, NULL);
    for (size_t i = 0; i < AIS__ARRAY_LEN(acts); i++) {
        const act_case *ac = &acts[i];
        ais_tensor *zg = unary(ac, hg), *zm = unary(ac, hm), *zm1 = unary(ac, hm1);
        ais_attrs *fa = NULL, *fm = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&fa));
        AIS_ASSERT_OK(ais_attrs_set_int(fa, "transB", 1));
        AIS_ASSERT_OK(ais_attrs_set_float(fa, "alpha", 1.5f));
        AIS_ASSERT_OK(ais_attrs_set_float(fa, "beta", 0.5f));
        AIS_ASSERT_OK(ais_attrs_create(&fm));
        float params[2] = {ac->p0, ac->p1};
        for (int w = 0; w < 2; w++) {
            ais_attrs *t = w ? fm : fa;
            AIS_ASSERT_OK(ais_attrs_set_string(t, "activation", ac->fused));
            if (ac->n_params)
                AIS_ASSERT_OK(ais_attrs_set_floats(t, "activation_params", params, ac->n_params));
        }
        for (int v = 0; v < 4; v++) {
            bool prepared = v & 1;
            ais__pool *p = v & 2 ? pool : NULL;
            char what[64];
            snprintf(what, sizeof what, "%s %s%s", ac->fused, prepared ? "prepared" : "eager",
                     p ? " 2 threads" : "");
            ais_tensor *y =
                run_op("com.microsoft", "FusedGemm", fa, gin, 3, prepared, NULL, NULL, p);
            assert_near(y, zg, what);
            ais_tensor_destroy(y);
            y = run_op("com.microsoft", "FusedMatMul", fm, min, 2, prepared, NULL, NULL, p);
            assert_near(y, zm, what);
            ais_tensor_destroy(y);
            y = run_op("com.microsoft", "FusedMatMul", fm, min1, 2, prepared, NULL, NULL, p);
            assert_near(y, zm1, what);
            ais_tensor_destroy(y);
        }
        ais_attrs_destroy(fa);
        ais_attrs_destroy(fm);
        ais_tensor_destroy(zg);
        ais_tensor_destroy(zm);
        ais_tensor_destroy(zm1);
    }
    ais_tensor_destroy(hg);
    ais_tensor_destroy(hm);
    ais_tensor_destroy(hm1);
    ais_attrs_destroy(ga);
    ais_tensor *ts[] = {a, b, c, a3, a1, b2};
    for (size_t i = 0; i < AIS__ARRAY_LEN(ts); i++)
        ais_tensor_destroy(ts[i]);
    ais__pool_destroy(pool);
}

/* ---- through a model: B packed at load, no allocation in the steady state, OOM at load ---- */

static ais_tensor *g_w1, *g_b1, *g_w2;

/* x [N, 40] -> Gemm(W1 [24, 40], transB, C [24]) -> Relu -> MatMul(W2 [24, 10]) -> y */
static ais_status load_mlp(ais_model **out) {
    ais__graph *g = NULL;
    AIS__CHECK(ais__graph_create(&g));
    ais_status st;
    ais_attrs *at = NULL;
    ais_tensor *w1 = NULL, *b1 = NULL, *w2 = NULL;
    int32_t v;
    if ((st = ais__graph_set_opset(g, "", 13)) || (st = ais__graph_value(g, "x", &v)) ||
        (st = ais__graph_declare(g, v, AIS_DTYPE_F32, 2, (const int64_t[]){-1, 40}, NULL)) ||
        (st = ais__graph_add_input(g, v)))
        goto fail;
    const ais_tensor *src[3] = {g_w1, g_b1, g_w2};
    ais_tensor **dst[3] = {&w1, &b1, &w2};
    static const char *const names[3] = {"w1", "b1", "w2"};
    for (int i = 0; i < 3; i++) {
        if ((st = ais_tensor_create(AIS_DTYPE_F32, src[i]->dims, src[i]->ndim, dst[i]))) goto fail;
        memcpy((*dst[i])->data, src[i]->data, src[i]->nbytes);
        if ((st = ais__graph_value(g, names[i], &v))) goto fail;
        st = ais__graph_set_constant(g, v, *dst[i]);
        *dst[i] = NULL;
        if (st) goto fail;
    }
    if ((st = ais_attrs_create(&at)) || (st = ais_attrs_set_int(at, "transB", 1))) goto fail;
    const char *gin[3] = {"x", "w1", "b1"}, *gout[1] = {"h"}, *rin[1] = {"h"}, *rout[1] = {"r"};
    const char *min[2] = {"r", "w2"}, *mout[1] = {"y"};
    st = ais__graph_add_node(g, "fc1", "Gemm", "", at, gin, 3, gout, 1, NULL);
    at = NULL;
    if (st || (st = ais__graph_add_node(g, "relu", "Relu", "", NULL, rin, 1, rout, 1, NULL)) ||
        (st = ais__graph_add_node(g, "fc2", "MatMul", "", NULL, min, 2, mout, 1, NULL)) ||
        (st = ais__graph_value(g, "y", &v)) || (st = ais__graph_add_output(g, v)))
        goto fail;
    return ais__model_from_graph(g, NULL, out);
fail:
    ais_attrs_destroy(at);
    ais_tensor_destroy(w1);
    ais_tensor_destroy(b1);
    ais_tensor_destroy(w2);
    ais__graph_destroy(g);
    return st;
}

static ais_model *sweep_model;
static ais_status sweep_load(void *ctx) {
    (void)ctx;
    return load_mlp(&sweep_model);
}

static void test_model(void **state) {
    (void)state;
    g_w1 = ais_test_rand_f32(AIS_SHAPE(24, 40), -1, 1);
    g_b1 = ais_test_rand_f32(AIS_SHAPE(24), -1, 1);
    g_w2 = ais_test_rand_f32(AIS_SHAPE(24, 10), -1, 1);
    ais_model *m = NULL;
    AIS_ASSERT_OK(load_mlp(&m));
    /* the fused Gemm + Relu and the MatMul both packed their weight at load */
    size_t packed = 0;
    for (size_t i = 0; i < m->graph->n_nodes; i++)
        if (m->states[i] && ((const ais__mm_state *)m->states[i])->magic == AIS__MM_STATE_MAGIC)
            packed += ((const ais__mm_state *)m->states[i])->bp != NULL;
    assert_int_equal(packed, 2);
    for (int threads = 1; threads <= 2; threads++) {
        ais_session *s = NULL;
        ais_options *o = NULL;
        AIS_ASSERT_OK(ais_options_create(&o));
        AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_THREADS, threads));
        AIS_ASSERT_OK(ais_session_create(m, o, &s));
        ais_options_destroy(o);
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(300, 40), -1, 1), *y = NULL;
        AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(300, 10), &y));
        const ais_tensor *ins[1] = {x};
        AIS_ASSERT_OK(ais_session_run(s, NULL, ins, 1, NULL, &y, 1));
        ais_test_fill_uniform(ais_tensor_data(x), 300 * 40, -1, 1);
        ais_test_alloc_install(-1, false);
        ais_status st = ais_session_run(s, NULL, ins, 1, NULL, &y, 1);
        long count = ais_test_alloc_count();
        ais_test_alloc_remove();
        AIS_ASSERT_OK(st);
        assert_int_equal(count, 0);
        /* against the double-precision MLP */
        const float *xv = ais_tensor_data(x), *yv = ais_tensor_data(y);
        const float *w1 = ais_tensor_data(g_w1), *b1 = ais_tensor_data(g_b1);
        const float *w2 = ais_tensor_data(g_w2);
        for (int r = 0; r < 300; r++) {
            double h[24];
            for (int j = 0; j < 24; j++) {
                double acc = b1[j];
                for (int p = 0; p < 40; p++)
                    acc += (double)xv[r * 40 + p] * w1[j * 40 + p];
                h[j] = acc < 0 ? 0 : acc;
            }
            for (int j = 0; j < 10; j++) {
                double acc = 0;
                for (int p = 0; p < 24; p++)
                    acc += h[p] * w2[p * 10 + j];
                assert_true(fabs(yv[r * 10 + j] - acc) <= 1e-4 * (1 + fabs(acc)));
            }
        }
        ais_tensor_destroy(x);
        ais_tensor_destroy(y);
        ais_session_destroy(s);
    }
    ais_model_destroy(m);
    /* every allocation of the load, the packing included, may fail cleanly */
    long n = AIS_TEST_OOM_SWEEP("MLP load", sweep_load, NULL, 5000, AIS_OWN_MODEL(&sweep_model));
    assert_true(n > 5);
    ais_tensor_destroy(g_w1);
    ais_tensor_destroy(g_b1);
    ais_tensor_destroy(g_w2);
}

/* Gemm takes transA, transB, alpha and beta from the state prepare built (read once per node at
 * load, not by name on every run): computed with the attributes gone from the context, a
 * prepared Gemm still gives alpha op(A) op(B) + beta C; a MatMul state carries none. */
static void test_gemm_prepared_attrs(void **state) {
    (void)state;
    const gemm_case g = {.m = 5, .n = 7, .k = 9, .ta = true, .tb = true, .alpha = 0.5f,
                         .beta = 2.0f, .c_kind = 2};
    ais_tensor *a = ais_test_rand_f32(AIS_SHAPE(g.k, g.m), -1, 1);
    ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(g.n, g.k), -1, 1);
    ais_tensor *c = make_c(&g), *y = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(g.m, g.n), &y));
    double ref[35], scale[35];
    gemm_ref(&g, a, b, c, ref, scale);
    ais_attrs *at = gemm_attrs(&g);
    const ais__op_def *def = ais__op_find("", "Gemm", 20);
    assert_non_null(def);
    const ais_tensor *in[3] = {a, b, c};
    for (int with_b = 0; with_b <= 1; with_b++) { /* B constant (packed) or fed */
        const ais_tensor *consts[3] = {NULL, with_b ? b : NULL, c};
        ais__op_ctx ctx = {.op_type = "Gemm", .node_name = "", .opset = 20, .attrs = at,
                           .consts = consts, .n_consts = 3};
        void *st = NULL;
        AIS_ASSERT_OK(def->prepare(&ctx, &st));
        const ais__mm_state *ms = st;
        assert_true(ms->gemm_attrs && ms->ta && ms->tb);
        assert_true(ms->alpha == 0.5f && ms->beta == 2.0f);
        assert_true((ms->bp != NULL) == (with_b == 1));
        ctx.consts = NULL;
        ctx.n_consts = 0;
        ctx.attrs = NULL;
        ctx.state = st;
        ais_tensor *out[1] = {y};
        memset(ais_tensor_data(y), 0, (size_t)(g.m * g.n) * sizeof(float));
        AIS_ASSERT_OK(def->compute(&ctx, in, 3, out, 1));
        check_close(y, ref, scale, g.k, "Gemm from its prepared attributes");
        ais__op_ctx_release(&ctx);
        def->release(st);
    }
    const ais__op_def *mm = ais__op_find("", "MatMul", 20);
    ais__op_ctx mctx = {.op_type = "MatMul", .node_name = "", .opset = 20};
    void *mst = NULL;
    AIS_ASSERT_OK(mm->prepare(&mctx, &mst));
    assert_false(((const ais__mm_state *)mst)->gemm_attrs);
    mm->release(mst);
    ais_attrs_destroy(at);
    ais_tensor_destroy(a);
    ais_tensor_destroy(b);
    ais_tensor_destroy(c);
    ais_tensor_destroy(y);
}

/* prepare alone: its packing allocation fails cleanly (AIS_E_OUT_OF_MEMORY, nothing left). */
static const ais_tensor *g_prep_in[2];
static ais_status sweep_prepare(void *ctx) {
    (void)ctx;
    const ais__op_def *def = ais__op_find("", "MatMul", 20);
    const ais_tensor *consts[2] = {NULL, g_prep_in[1]};
    ais__op_ctx c = {
        .op_type = "MatMul", .node_name = "", .opset = 20, .consts = consts, .n_consts = 2};
    void *st = NULL;
    AIS__CHECK(def->prepare(&c, &st));
    bool ok = ((const ais__mm_state *)st)->bp != NULL;
    def->release(st);
    return ok ? AIS_OK : AIS_E_INTERNAL;
}

static void test_oom_prepare(void **state) {
    (void)state;
    ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(3, 20, 30), -1, 1);
    g_prep_in[1] = b;
    long n = ais_test_oom_sweep("MatMul prepare", sweep_prepare, NULL, NULL, 100);
    assert_int_equal(n, 2); /* the state and the packed B */
    ais_tensor_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm),        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_fused),       cmocka_unit_test(test_model),
        cmocka_unit_test(test_oom_prepare), cmocka_unit_test(test_gemm_prepared_attrs),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
