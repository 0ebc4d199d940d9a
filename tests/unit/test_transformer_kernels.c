/*
 * test_transformer_kernels.c - the kernels behind the transformer fusions (issue 11 item 3), at
 * every instruction-set level this machine has: the table's layernorm_row against a two-pass
 * double reference, the LayerNormalization, FusedAttention and BiasGelu operators against plain
 * double loops (serial and on a pool), and their shape checks; SkipLayerNormalization (ORT's
 * contract) and the pass that makes it of Add -> LayerNormalization (fuse_epilogue.c).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "cpu/cpu.h"
#include "ops/op.h"
#include "runtime/model.h"
#include "test_util.h"
#include <aistack/aistack.h>

static const char *const isa_names[] = {"scalar", "avx2", "avx512", "avx512_vnni"};

static void ln_want(const float *x, double *w, size_t n, float eps, const float *g,
                    const float *b) {
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    double mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        q += (x[i] - mean) * (x[i] - mean);
    double inv = 1 / sqrt(q / (double)n + eps);
    for (size_t i = 0; i < n; i++)
        w[i] = (x[i] - mean) * inv * (g ? g[i] : 1) + (b ? b[i] : 0);
}

/* Every length 1..67 and some large ones, with and without scale and bias, around 0 and around
 * a common offset of 100 (where a one-pass variance without the shift would cancel), in place,
 * nothing written past n, NaN in gives NaN out. */
static void test_layernorm_rows(void **state) {
    (void)state;
    enum { MAXN = 4099 };
    float *x = malloc(MAXN * sizeof *x), *y = malloc((MAXN + 1) * sizeof *y);
    float *g = malloc(MAXN * sizeof *g), *b = malloc(MAXN * sizeof *b);
    double *w = malloc(MAXN * sizeof *w);
    assert_true(x && y && g && b && w);
    ais_test_fill_uniform(g, MAXN, 0.5f, 1.5f);
    ais_test_fill_uniform(b, MAXN, -1, 1);
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *k = ais__cpu_for((ais_cpu_isa)isa);
        if (!k) continue;
        assert_non_null(k->layernorm_row);
        double worst = 0;
        for (size_t len = 1; len <= MAXN; len = len < 67 ? len + 1 : len * 2 + 1) {
            for (int v = 0; v < 4; v++) {
                float off = v & 1 ? 100.0f : 0.0f;
                const float *gp = v & 2 ? g : NULL, *bp = v & 2 ? b : NULL;
                ais_test_fill_uniform(x, len, off - 3, off + 5);
                ln_want(x, w, len, 1e-5f, gp, bp);
                y[len] = -7.0f;
                k->layernorm_row(x, y, len, 1e-5f, gp, bp);
                assert_true(y[len] == -7.0f);
                /* x - mean is rounded to float (half an ulp of |x|, times 1/sd and the scale):
                 * with two close values of a row the deviation is small and that dominates */
                double s = 0, q = 0, xmax = 0;
                for (size_t i = 0; i < len; i++)
                    s += x[i], xmax = fmax(xmax, fabs(x[i]));
                for (size_t i = 0; i < len; i++)
                    q += (x[i] - s / (double)len) * (x[i] - s / (double)len);
                double inv = 1 / sqrt(q / (double)len + 1e-5), r = 5e-6;
                for (size_t i = 0; i < len; i++) {
                    double gi = gp ? gp[i] : 1;
                    double e = fabs(y[i] - w[i]) /
                               (1 + fabs(w[i]) + 4 * FLT_EPSILON * xmax * inv * gi / r);
                    worst = e > worst ? e : worst;
                    if (e > r)
                        fail_msg("%s layernorm n=%zu i=%zu off=%g: %.9g vs %.9g", isa_names[isa],
                                 len, i, (double)off, (double)y[i], w[i]);
                }
                /* in place gives the same */
                memcpy(y, x, len * sizeof *y);
                k->layernorm_row(y, y, len, 1e-5f, gp, bp);
                for (size_t i = 0; i < len; i++)
                    assert_true(fabs(y[i] - w[i]) <= r * (1 + fabs(w[i])) + 4 * FLT_EPSILON * xmax *
                                                                                inv *
                                                                                (gp ? gp[i] : 1));
            }
        }
        print_message("%-12s layernorm_row max error %.2g (relative to 1 + |y|)\n", isa_names[isa],
                      worst);
        float bad[5] = {1, 2, NAN, 3, 4}, inf[5] = {1, INFINITY, 2, 3, 4}, o[5];
        k->layernorm_row(bad, o, 5, 1e-5f, NULL, NULL);
        for (int i = 0; i < 5; i++)
            assert_true(isnan(o[i]));
        k->layernorm_row(inf, o, 5, 1e-5f, NULL, NULL);
        for (int i = 0; i < 5; i++)
            assert_true(isnan(o[i]));
        /* a constant row: variance 0, output bias (0 here) */
        float c[9] = {3, 3, 3, 3, 3, 3, 3, 3, 3};
        k->layernorm_row(c, o, 5, 1e-5f, NULL, NULL);
        for (int i = 0; i < 5; i++)
            assert_true(o[i] == 0);
    }
    free(x);
    free(y);
    free(g);
    free(b);
    free(w);
}

/* Distance in units in the last place between two floats on the monotonic integer line of
 * their bit patterns (0 when both are NaN; -0 and +0 are one apart, which no bound below needs). */
static double ulp_diff(float a, float b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b) ? 0 : INFINITY;
    if (a == b) return 0;
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    int64_t la = ia < 0 ? (int64_t)INT32_MIN - ia : ia, lb = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return fabs((double)(la - lb));
}

/* The vector exp, erf and tanh of every level against glibc's expf, erff and tanhf over the
 * whole float range: every 97th bit pattern of all 2^32 (44 million inputs per function: both
 * signs, subnormals, the huge values where the functions saturate, infinities and NaNs), plus
 * the 2^24 patterns around the thresholds the algorithms switch at. The bounds asserted are
 * per function and level, as measured (docs/design-decisions.md, "Accuracy"). */
static void test_math_ulps_full_range(void **state) {
    (void)state;
    enum { CHUNK = 1 << 16 };
    typedef float (*scalar_fn)(float);
    static const scalar_fn want[3] = {expf, erff, tanhf};
    static const char *const names[3] = {"exp", "erf", "tanh"};
    /* [level][function]: scalar is libm itself */
    static const double bound[4][3] = {{0, 0, 0}, {1, 3, 2}, {1, 3, 2}, {1, 3, 2}};
    float *x = malloc(CHUNK * sizeof *x), *w = malloc(CHUNK * sizeof *w),
          *y = malloc(CHUNK * sizeof *y);
    assert_true(x && w && y);
    for (int f = 0; f < 3; f++) {
        double worst[4] = {0};
        float at[4] = {0};
        size_t count = 0;
        uint64_t b = 0;
        /* the sweep, then a dense block of patterns around 0.625, 0.875 and 3.9375 */
        static const float dense[3] = {0.625f, 0.875f, 3.9375f};
        for (int phase = 0; phase < 4; phase++) {
            uint32_t lo = 0, step = 97;
            uint64_t end = 1ull << 32;
            if (phase > 0) {
                memcpy(&lo, &dense[phase - 1], 4);
                lo -= 1u << 20;
                end = (uint64_t)lo + (2u << 20);
                step = 1;
            }
            for (b = lo; b < end;) {
                size_t m = 0;
                for (; m < CHUNK && b < end; b += step, m++) {
                    uint32_t u = (uint32_t)b;
                    memcpy(&x[m], &u, 4);
                    w[m] = want[f](x[m]);
                }
                count += m;
                for (int isa = 0; isa <= 3; isa++) {
                    const ais__cpu_kernels *k = ais__cpu_for((ais_cpu_isa)isa);
                    if (!k) continue;
                    (f == 0 ? k->vexp : f == 1 ? k->verf : k->vtanh)(x, y, m);
                    for (size_t i = 0; i < m; i++) {
                        double d = ulp_diff(y[i], w[i]);
                        if (d > worst[isa]) worst[isa] = d, at[isa] = x[i];
                    }
                }
            }
        }
        for (int isa = 0; isa <= 3; isa++) {
            if (!ais__cpu_for((ais_cpu_isa)isa)) continue;
            print_message("%-12s %-5s max %.0f ulp over %zu inputs (at x = %.9g)\n", isa_names[isa],
                          names[f], worst[isa], count, (double)at[isa]);
            if (worst[isa] > bound[isa][f])
                fail_msg("%s %s: %.0f ulp at x = %.9g, bound %.0f", isa_names[isa], names[f],
                         worst[isa], (double)at[isa], bound[isa][f]);
        }
    }
    free(x);
    free(w);
    free(y);
}

/* Runs com.microsoft op `name` on `pool` (NULL: serially). */
static ais_status run_ms(const char *name, const ais_attrs *attrs, ais__pool *pool,
                         const ais_tensor *const *in, size_t n_in, ais_tensor **out) {
    const ais__op_def *def = ais__op_find("com.microsoft", name, 1);
    assert_non_null(def);
    ais__op_ctx ctx = {.op_type = name, .node_name = "", .opset = 1, .attrs = attrs, .pool = pool};
    ais_status st = ais__op_invoke(def, &ctx, in, n_in, out, 1);
    ais__op_ctx_release(&ctx);
    return st;
}

typedef struct {
    int64_t q[4], k[4], v[4], m[4];
    size_t mrank; /* 0: no mask */
} att_case;

/* softmax(scale Q K^T + mask) V per (b, h) with MatMul's broadcasting of B and H, in double. */
static void att_want(const att_case *c, const ais_tensor *q, const ais_tensor *k,
                     const ais_tensor *v, const ais_tensor *m, float scale, double *w) {
    int64_t B = AIS__MAX(AIS__MAX(c->q[0], c->k[0]), c->v[0]);
    int64_t H = AIS__MAX(AIS__MAX(c->q[2], c->k[2]), c->v[2]);
    int64_t S = c->q[1], T = c->k[1], dk = c->q[3], dv = c->v[3];
    const float *Q = q->data, *K = k->data, *V = v->data, *M = m ? m->data : NULL;
    double *p = malloc((size_t)T * sizeof *p);
    assert_non_null(p);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t s = 0; s < S; s++) {
                const float *qr = Q + (((b % c->q[0]) * S + s) * c->q[2] + h % c->q[2]) * dk;
                double mx = -INFINITY, sum = 0;
                for (int64_t t = 0; t < T; t++) {
                    const float *kr = K + (((b % c->k[0]) * T + t) * c->k[2] + h % c->k[2]) * dk;
                    double d = 0;
                    for (int64_t i = 0; i < dk; i++)
                        d += (double)qr[i] * kr[i];
                    d *= scale;
                    if (M) { /* the mask right-aligned on [B, H, S, T] */
                        int64_t idx[4] = {b, h, s, t}, off = 0, st = 1;
                        for (size_t a = 0; a < c->mrank; a++) {
                            size_t ax = 3 - a, mi = c->mrank - 1 - a;
                            off += (c->m[mi] == 1 ? 0 : idx[ax]) * st;
                            st *= c->m[mi];
                        }
                        d += M[off];
                    }
                    p[t] = d;
                    mx = d > mx ? d : mx;
                }
                for (int64_t t = 0; t < T; t++)
                    sum += p[t] = exp(p[t] - mx);
                for (int64_t j = 0; j < dv; j++) {
                    double acc = 0;
                    for (int64_t t = 0; t < T; t++)
                        acc += p[t] / sum *
                               V[(((b % c->v[0]) * T + t) * c->v[2] + h % c->v[2]) * dv + j];
                    w[((b * S + s) * H + h) * dv + j] = acc;
                }
            }
    free(p);
}

/* FusedAttention at every level, serially and on a pool of 3, with masks of several ranks,
 * broadcast batch and head axes, and shapes whose tiles split the query rows. */
static void test_fused_attention(void **state) {
    (void)state;
    static const att_case cases[] = {
        {{2, 5, 3, 4}, {2, 7, 3, 4}, {2, 7, 3, 6}, {2, 1, 1, 7}, 4},
        {{2, 5, 3, 4}, {1, 7, 3, 4}, {2, 7, 1, 6}, {5, 7}, 2},
        {{1, 33, 2, 16}, {1, 33, 2, 16}, {1, 33, 2, 16}, {0}, 0},
        {{3, 9, 4, 8}, {3, 11, 4, 8}, {3, 11, 4, 8}, {3, 4, 9, 11}, 4},
        {{1, 600, 1, 8}, {1, 300, 1, 8}, {1, 300, 1, 5}, {1}, 1}, /* 218 rows per tile */
        {{1, 3, 2, 0}, {1, 4, 2, 0}, {1, 4, 2, 5}, {0}, 0}, /* no head size: uniform weights */
        /* BERT's heads (seq 128, 64-wide heads): past the GEMM's tiles, both products ours */
        {{1, 128, 3, 64}, {1, 128, 3, 64}, {1, 128, 3, 64}, {1, 1, 1, 128}, 4},
    };
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(3, &pool));
    for (size_t ci = 0; ci < AIS__ARRAY_LEN(cases); ci++) {
        const att_case *c = &cases[ci];
        ais_tensor *q = ais_test_rand_f32(c->q, 4, -1, 1), *k = ais_test_rand_f32(c->k, 4, -1, 1);
        ais_tensor *v = ais_test_rand_f32(c->v, 4, -1, 1);
        ais_tensor *m = c->mrank ? ais_test_rand_f32(c->m, c->mrank, -3, 0) : NULL;
        assert_true(q && k && v && (m || !c->mrank));
        ais_attrs *at = NULL;
        AIS_ASSERT_OK(ais_attrs_create(&at));
        AIS_ASSERT_OK(ais_attrs_set_float(at, "scale", 0.35f));
        int64_t B = AIS__MAX(AIS__MAX(c->q[0], c->k[0]), c->v[0]);
        int64_t H = AIS__MAX(AIS__MAX(c->q[2], c->k[2]), c->v[2]);
        size_t n = (size_t)(B * c->q[1] * H * c->v[3]);
        double *w = malloc(n * sizeof *w);
        assert_non_null(w);
        att_want(c, q, k, v, m, 0.35f, w);
        const ais_tensor *in[4] = {q, k, v, m};
        for (int isa = 0; isa <= 3; isa++) {
            if (!ais__cpu_for((ais_cpu_isa)isa)) continue;
            AIS_ASSERT_OK(ais_set_cpu_isa((ais_cpu_isa)isa));
            for (int p = 0; p < 2; p++) {
                ais_tensor *y = NULL;
                AIS_ASSERT_OK(run_ms("FusedAttention", at, p ? pool : NULL, in, m ? 4 : 3, &y));
                assert_int_equal(y->ndim, 4);
                assert_int_equal(y->dims[0], B);
                assert_int_equal(y->dims[1], c->q[1]);
                assert_int_equal(y->dims[2], H);
                assert_int_equal(y->dims[3], c->v[3]);
                ais_test_assert_close_values(y, w, n, 1e-5, 1e-6);
                ais_tensor_destroy(y);
            }
        }
        free(w);
        ais_attrs_destroy(at);
        ais_tensor_destroy(q);
        ais_tensor_destroy(k);
        ais_tensor_destroy(v);
        ais_tensor_destroy(m);
    }
    AIS_ASSERT_OK(ais_set_cpu_isa(AIS_CPU_ISA_BEST));
    ais__pool_destroy(pool);
}

/* What the unfused graph would have broadcast differently, or not at all, is an error. */
static void test_fused_attention_shapes(void **state) {
    (void)state;
    ais_tensor *q = ais_test_rand_f32(AIS_SHAPE(2, 5, 3, 4), -1, 1);
    ais_tensor *k = ais_test_rand_f32(AIS_SHAPE(2, 7, 3, 4), -1, 1);
    ais_tensor *v = ais_test_rand_f32(AIS_SHAPE(2, 7, 3, 4), -1, 1);
    ais_tensor *k3 = ais_test_rand_f32(AIS_SHAPE(2, 7, 3, 5), -1, 1);
    ais_tensor *big = ais_test_rand_f32(AIS_SHAPE(4, 3, 5, 7), -1, 1);
    ais_tensor *r3 = ais_test_rand_f32(AIS_SHAPE(2, 5, 12), -1, 1);
    ais_tensor *y = NULL;
    const ais_tensor *bad_dk[3] = {q, k3, v}, *bad_mask[4] = {q, k, v, big},
                     *bad_rank[3] = {r3, k, v};
    AIS_ASSERT_STATUS(run_ms("FusedAttention", NULL, NULL, bad_dk, 3, &y), AIS_E_SHAPE);
    ais_test_assert_error_contains("do not fit together");
    AIS_ASSERT_STATUS(run_ms("FusedAttention", NULL, NULL, bad_mask, 4, &y), AIS_E_SHAPE);
    ais_test_assert_error_contains("does not broadcast to the scores");
    AIS_ASSERT_STATUS(run_ms("FusedAttention", NULL, NULL, bad_rank, 3, &y), AIS_E_SHAPE);
    ais_test_assert_error_contains("head size");
    assert_null(y);
    ais_tensor_destroy(q);
    ais_tensor_destroy(k);
    ais_tensor_destroy(v);
    ais_tensor_destroy(k3);
    ais_tensor_destroy(big);
    ais_tensor_destroy(r3);
}

/* BiasGelu and the internal LayerNormalization at every level against double loops. */
static void test_bias_gelu_layernorm(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3, 7, 37), -4, 4);
    ais_tensor *b = ais_test_rand_f32(AIS_SHAPE(37), -1, 1);
    ais_tensor *g = ais_test_rand_f32(AIS_SHAPE(37), 0.5, 1.5);
    assert_true(x && b && g);
    size_t n = x->numel;
    double *wg = malloc(n * sizeof *wg), *wl = malloc(n * sizeof *wl);
    assert_true(wg && wl);
    const float *xf = x->data, *bf = b->data, *gf = g->data;
    for (size_t i = 0; i < n; i++) {
        double u = (double)xf[i] + bf[i % 37];
        wg[i] = 0.5 * u * (1 + erf(u / sqrt(2.0)));
    }
    for (size_t r = 0; r < n / 37; r++)
        ln_want(xf + r * 37, wl + r * 37, 37, 1e-5f, gf, bf);
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_int(at, "axis", -1));
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(2, &pool));
    for (int isa = 0; isa <= 3; isa++) {
        if (!ais__cpu_for((ais_cpu_isa)isa)) continue;
        AIS_ASSERT_OK(ais_set_cpu_isa((ais_cpu_isa)isa));
        ais_tensor *y = NULL;
        const ais_tensor *bin[2] = {x, b}, *lin[3] = {x, g, b};
        AIS_ASSERT_OK(run_ms("BiasGelu", NULL, pool, bin, 2, &y));
        ais_test_assert_close_values(y, wg, n, 1e-6, 1e-6);
        ais_tensor_destroy(y);
        y = NULL;
        AIS_ASSERT_OK(run_ms("LayerNormalization", at, pool, lin, 3, &y));
        ais_test_assert_close_values(y, wl, n, 2e-6, 2e-6);
        ais_tensor_destroy(y);
        y = NULL;
        /* the bias must run along the last axis */
        const ais_tensor *bad[2] = {x, g};
        ais_tensor *g7 = ais_test_rand_f32(AIS_SHAPE(7), 0, 1);
        bad[1] = g7;
        AIS_ASSERT_STATUS(run_ms("BiasGelu", NULL, NULL, bad, 2, &y), AIS_E_SHAPE);
        ais_tensor_destroy(g7);
    }
    AIS_ASSERT_OK(ais_set_cpu_isa(AIS_CPU_ISA_BEST));
    ais__pool_destroy(pool);
    ais_attrs_destroy(at);
    free(wg);
    free(wl);
    ais_tensor_destroy(x);
    ais_tensor_destroy(b);
    ais_tensor_destroy(g);
}

/* ---- the fixture model (tests/fixtures/make_transformer_fixture.py) ---- */

#define BLOCK_ONNX AIS_SOURCE_DIR "/tests/fixtures/onnx/transformer_block.onnx"

static ais_status load_level(int level, ais_model **m) {
    ais_options *o = NULL;
    AIS__CHECK(ais_options_create(&o));
    ais_status st = ais_options_set_int(o, AIS_OPT_OPT_LEVEL, level);
    if (st == AIS_OK) st = ais_model_load(BLOCK_ONNX, o, m);
    ais_options_destroy(o);
    return st;
}

static size_t count_op(const ais_model *m, const char *op) {
    size_t c = 0;
    for (size_t i = 0; i < ais_model_node_count(m); i++) {
        const char *name, *type, *domain;
        AIS_ASSERT_OK(ais_model_node_info(m, i, &name, &type, &domain));
        c += strcmp(type, op) == 0;
    }
    return c;
}

typedef struct {
    ais_model *model;
    ais_session *session;
    ais_tensor *out[1];
    const ais_tensor *in[2];
} block_run;

static ais_status block_build_run(void *ctx) {
    block_run *b = ctx;
    AIS__CHECK(load_level(2, &b->model));
    AIS__CHECK(ais_session_create(b->model, NULL, &b->session));
    return ais_session_run(b->session, NULL, b->in, 2, NULL, b->out, 1);
}

/* The block fuses into one node of each kind (and nothing of the chains is left), gives the
 * unfused graph's outputs, and every allocation failure on the way (load, the pass, planning,
 * the fused kernels' scratch) is a clean AIS_E_OUT_OF_MEMORY. */
static void test_fixture_block(void **state) {
    (void)state;
    ais_model *fused = NULL, *plain = NULL;
    AIS_ASSERT_OK(load_level(2, &fused));
    AIS_ASSERT_OK(load_level(1, &plain));
    assert_int_equal(count_op(fused, "FusedAttention"), 1);
    /* the residual Add (x + attention) before the LayerNorm goes into it (fuse_epilogue.c) */
    assert_int_equal(count_op(fused, "LayerNormalization"), 0);
    assert_int_equal(count_op(fused, "SkipLayerNormalization"), 1);
    /* the bias + Gelu after a MatMul with a constant weight ends in its store (fuse_epilogue.c) */
    assert_int_equal(count_op(fused, "BiasGelu"), 0);
    assert_int_equal(count_op(fused, "FusedMatMulBias"), 1);
    assert_int_equal(count_op(fused, "Gelu"), 1);
    static const char *const gone[] = {"Softmax", "Transpose", "ReduceMean", "Erf", "Tanh", "Pow"};
    for (size_t i = 0; i < AIS__ARRAY_LEN(gone); i++) {
        assert_int_equal(count_op(fused, gone[i]), 0);
        assert_true(count_op(plain, gone[i]) > 0);
    }
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 4, 8), -2, 2);
    ais_tensor *mask = ais_test_rand_f32(AIS_SHAPE(2, 1, 1, 4), -3, 0);
    assert_true(x && mask);
    ((float *)mask->data)[3] = -10000.0f;
    const ais_tensor *in[2] = {x, mask};
    ais_tensor *y[2] = {NULL, NULL};
    ais_model *ms[2] = {fused, plain};
    for (int k = 0; k < 2; k++) {
        ais_session *s = NULL;
        AIS_ASSERT_OK(ais_session_create(ms[k], NULL, &s));
        AIS_ASSERT_OK(ais_session_run(s, NULL, in, 2, NULL, &y[k], 1));
        ais_session_destroy(s);
    }
    ais_test_assert_close(y[0], y[1], 1e-5, 1e-5);
    block_run b = {.in = {x, mask}};
    long n =
        AIS_TEST_OOM_SWEEP("transformer block", block_build_run, &b, 20000, AIS_OWN_TENSORS(b.out),
                           AIS_OWN_SESSION(&b.session), AIS_OWN_MODEL(&b.model));
    assert_true(n > 20);
    ais_tensor_destroy(y[0]);
    ais_tensor_destroy(y[1]);
    ais_tensor_destroy(x);
    ais_tensor_destroy(mask);
    ais_model_destroy(fused);
    ais_model_destroy(plain);
}

/* ---- SkipLayerNormalization ---- */

/* LayerNorm(x + skip + bias) per row of n in double; x and skip broadcast by index masks
 * (rows of x and skip taken modulo their row counts). Also the sum, mean and 1/sd. */
static void sln_want(const float *x, size_t xrows, const float *skip, size_t srows, const float *g,
                     const float *b, const float *bias, size_t rows, size_t n, float eps, double *y,
                     double *sum, double *mean, double *inv) {
    for (size_t r = 0; r < rows; r++) {
        double m = 0, q = 0;
        for (size_t i = 0; i < n; i++) {
            double v = (double)x[(r % xrows) * n + i] + skip[(r % srows) * n + i];
            sum[r * n + i] = v + (bias ? bias[i] : 0);
            m += sum[r * n + i];
        }
        m /= (double)n;
        for (size_t i = 0; i < n; i++)
            q += (sum[r * n + i] - m) * (sum[r * n + i] - m);
        mean[r] = m;
        inv[r] = 1 / sqrt(q / (double)n + eps);
        for (size_t i = 0; i < n; i++)
            y[r * n + i] = (sum[r * n + i] - m) * inv[r] * g[i] + (b ? b[i] : 0);
    }
}

/* The operator at every level, serial and on a pool: equal shapes (the one-pass rows) with 1
 * and 4 outputs, with and without beta and bias; skip broadcasting either way (the Add kernel
 * first); and the checks. */
static void test_skip_layernorm_op(void **state) {
    (void)state;
    enum { N = 37, S = 7, B = 3, ROWS = B * S };
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(B, S, N), 96, 104); /* an offset: one-pass */
    ais_tensor *sk = ais_test_rand_f32(AIS_SHAPE(B, S, N), -2, 2);
    ais_tensor *sk2 = ais_test_rand_f32(AIS_SHAPE(S, N), -2, 2);
    ais_tensor *g = ais_test_rand_f32(AIS_SHAPE(N), 0.5, 1.5);
    ais_tensor *be = ais_test_rand_f32(AIS_SHAPE(N), -1, 1);
    ais_tensor *bi = ais_test_rand_f32(AIS_SHAPE(N), -1, 1);
    assert_true(x && sk && sk2 && g && be && bi);
    double *wy = malloc(ROWS * N * sizeof *wy), *ws = malloc(ROWS * N * sizeof *ws);
    double wm[ROWS], wi[ROWS];
    assert_true(wy && ws);
    ais_attrs *at = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&at));
    AIS_ASSERT_OK(ais_attrs_set_float(at, "epsilon", 1e-3f));
    const ais__op_def *def = ais__op_find("com.microsoft", "SkipLayerNormalization", 1);
    assert_non_null(def);
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(2, &pool));
    for (int isa = 0; isa <= 3; isa++) {
        if (!ais__cpu_for((ais_cpu_isa)isa)) continue;
        AIS_ASSERT_OK(ais_set_cpu_isa((ais_cpu_isa)isa));
        for (int v = 0; v < 16; v++) {
            /* v & 3: 0 equal shapes, 1 skip [S, N], 2 x [S, N] and skip [B, S, N]; v & 4: beta
             * and bias; v & 8: all four outputs and the pool */
            int shape = v & 3;
            if (shape == 3) continue;
            bool full = v & 4, outs4 = v & 8;
            const ais_tensor *xin = shape == 2 ? sk2 : x, *sin = shape == 1 ? sk2 : sk;
            if (shape == 2) sin = x;
            const ais_tensor *in[5] = {xin, sin, g, full ? be : NULL, full ? bi : NULL};
            sln_want(xin->data, xin->numel / N, sin->data, sin->numel / N, g->data,
                     full ? be->data : NULL, full ? bi->data : NULL, ROWS, N, 1e-3f, wy, ws, wm,
                     wi);
            ais_tensor *out[4] = {NULL, NULL, NULL, NULL};
            ais__op_ctx ctx = {.op_type = "SkipLayerNormalization",
                               .node_name = "",
                               .opset = 1,
                               .attrs = at,
                               .pool = outs4 ? pool : NULL};
            AIS_ASSERT_OK(ais__op_invoke(def, &ctx, in, full ? 5 : 3, out, outs4 ? 4 : 1));
            ais__op_ctx_release(&ctx);
            assert_int_equal(out[0]->ndim, 3);
            assert_int_equal(out[0]->dims[0], B);
            /* the sum is exact in float up to one rounding; y within the row kernel's error */
            ais_test_assert_close_values(out[0], wy, ROWS * N, 2e-5, 2e-5);
            if (outs4) {
                assert_int_equal(out[1]->numel, ROWS);
                assert_int_equal(out[1]->dims[2], 1);
                ais_test_assert_close_values(out[1], wm, ROWS, 1e-6, 1e-6);
                ais_test_assert_close_values(out[2], wi, ROWS, 1e-5, 1e-5);
                ais_test_assert_close_values(out[3], ws, ROWS * N, 1e-6, 1e-6);
            }
            for (int k = 0; k < 4; k++)
                ais_tensor_destroy(out[k]);
        }
    }
    AIS_ASSERT_OK(ais_set_cpu_isa(AIS_CPU_ISA_BEST));
    /* gamma not [N], a skip that does not broadcast, f64 */
    ais_tensor *g5 = ais_test_rand_f32(AIS_SHAPE(5), 0, 1),
               *bad = ais_test_rand_f32(AIS_SHAPE(2, S, N), 0, 1);
    ais_tensor *x64 = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F64, (const int64_t[]){S, N}, 2, &x64));
    const ais_tensor *bads[3][3] = {{x, sk, g5}, {x, bad, g}, {x64, x64, g}};
    const ais_status want[3] = {AIS_E_SHAPE, AIS_E_SHAPE, AIS_E_DTYPE};
    for (int k = 0; k < 3; k++) {
        ais_tensor *y = NULL;
        ais__op_ctx ctx = {.op_type = "SkipLayerNormalization", .node_name = "", .opset = 1};
        AIS_ASSERT_STATUS(ais__op_invoke(def, &ctx, bads[k], 3, &y, 1), want[k]);
        ais__op_ctx_release(&ctx);
        assert_null(y);
    }
    ais_tensor_destroy(g5);
    ais_tensor_destroy(bad);
    ais_tensor_destroy(x64);
    ais__pool_destroy(pool);
    ais_attrs_destroy(at);
    free(wy);
    free(ws);
    ais_tensor *ts[] = {x, sk, sk2, g, be, bi};
    for (size_t k = 0; k < AIS__ARRAY_LEN(ts); k++)
        ais_tensor_destroy(ts[k]);
}

/* p, q -> Add -> s -> LayerNormalization(g, b) -> y; keep: also Relu(s) -> r after it (a
 * pre-LayerNorm residual reader); before: that Relu placed before the LayerNorm (must stay). */
enum { SLN_PLAIN, SLN_KEEP, SLN_BEFORE };
static const ais_tensor *sln_g, *sln_b;
static ais_status sln_build(int c, int64_t level, ais_model **m) {
    ais__graph *g = NULL;
    *m = NULL;
    AIS__CHECK(ais__graph_create(&g));
    ais_status st;
    int32_t v;
    ais_attrs *la = NULL;
    const int64_t dims[3] = {2, 5, 37};
    static const char *const names[2] = {"p", "q"};
    if ((st = ais__graph_set_opset(g, "", 17))) goto fail;
    for (int k = 0; k < 2; k++)
        if ((st = ais__graph_value(g, names[k], &v)) ||
            (st = ais__graph_declare(g, v, AIS_DTYPE_F32, 3, dims, NULL)) ||
            (st = ais__graph_add_input(g, v)))
            goto fail;
    const ais_tensor *cs[2] = {sln_g, sln_b};
    static const char *const cn[2] = {"g", "b"};
    for (int k = 0; k < 2; k++) {
        ais_tensor *t = NULL;
        if ((st = ais_tensor_create(AIS_DTYPE_F32, cs[k]->dims, cs[k]->ndim, &t))) goto fail;
        memcpy(t->data, cs[k]->data, cs[k]->nbytes);
        if ((st = ais__graph_value(g, cn[k], &v))) {
            ais_tensor_destroy(t);
            goto fail;
        }
        if ((st = ais__graph_set_constant(g, v, t))) goto fail; /* owns t either way */
    }
    const char *ain[2] = {"p", "q"}, *aout[1] = {"s"}, *lin[3] = {"s", "g", "b"}, *lout[1] = {"y"},
               *rin[1] = {"s"}, *rout[1] = {"r"};
    if ((st = ais__graph_add_node(g, "add", "Add", "", NULL, ain, 2, aout, 1, NULL))) goto fail;
    if (c == SLN_BEFORE &&
        (st = ais__graph_add_node(g, "relu", "Relu", "", NULL, rin, 1, rout, 1, NULL)))
        goto fail;
    if ((st = ais_attrs_create(&la)) || (st = ais_attrs_set_float(la, "epsilon", 1e-3f))) goto fail;
    st = ais__graph_add_node(g, "ln", "LayerNormalization", "", la, lin, 3, lout, 1, NULL);
    la = NULL;
    if (st || (st = ais__graph_value(g, "y", &v)) || (st = ais__graph_add_output(g, v))) goto fail;
    if (c == SLN_KEEP &&
        (st = ais__graph_add_node(g, "relu", "Relu", "", NULL, rin, 1, rout, 1, NULL)))
        goto fail;
    if (c != SLN_PLAIN &&
        ((st = ais__graph_value(g, "r", &v)) || (st = ais__graph_add_output(g, v))))
        goto fail;
    return ais_test_model_try_level(g, level, m);
fail:
    ais_attrs_destroy(la);
    ais__graph_destroy(g);
    return st;
}

typedef struct {
    ais_model *model;
    ais_session *session;
    ais_tensor *out[2];
    const ais_tensor *in[2];
} sln_run;

static ais_status sln_build_run(void *ctx) {
    sln_run *r = ctx;
    AIS__CHECK(sln_build(SLN_KEEP, 2, &r->model));
    AIS__CHECK(ais_session_create(r->model, NULL, &r->session));
    return ais_session_run(r->session, NULL, r->in, 2, NULL, r->out, 2);
}

/* The pass fuses Add -> LayerNorm (keeping the sum as output 3 when a later node reads it, not
 * when an earlier one does), fused and unfused agree, and every allocation failure on the way
 * is a clean AIS_E_OUT_OF_MEMORY. */
static void test_skip_layernorm_fusion(void **state) {
    (void)state;
    ais_tensor *g = ais_test_rand_f32(AIS_SHAPE(37), 0.5, 1.5),
               *b = ais_test_rand_f32(AIS_SHAPE(37), -1, 1);
    ais_tensor *p = ais_test_rand_f32(AIS_SHAPE(2, 5, 37), -2, 2),
               *q = ais_test_rand_f32(AIS_SHAPE(2, 5, 37), -2, 2);
    assert_true(g && b && p && q);
    sln_g = g;
    sln_b = b;
    const ais_tensor *in[2] = {p, q};
    for (int c = SLN_PLAIN; c <= SLN_BEFORE; c++) {
        ais_model *m[2] = {NULL, NULL};
        ais_tensor *y[2][2] = {{NULL, NULL}, {NULL, NULL}};
        size_t n_out = c == SLN_PLAIN ? 1 : 2;
        for (int k = 0; k < 2; k++) {
            AIS_ASSERT_OK(sln_build(c, k ? 1 : 2, &m[k]));
            ais_session *s = NULL;
            AIS_ASSERT_OK(ais_session_create(m[k], NULL, &s));
            AIS_ASSERT_OK(ais_session_run(s, NULL, in, 2, NULL, y[k], n_out));
            ais_session_destroy(s);
        }
        bool fused = c != SLN_BEFORE;
        assert_int_equal(count_op(m[0], "SkipLayerNormalization"), fused);
        assert_int_equal(count_op(m[0], "Add"), !fused);
        assert_int_equal(count_op(m[1], "SkipLayerNormalization"), 0);
        for (size_t o = 0; o < n_out; o++) {
            ais_test_assert_close(y[0][o], y[1][o], 2e-5, 2e-5);
            ais_tensor_destroy(y[0][o]);
            ais_tensor_destroy(y[1][o]);
        }
        ais_model_destroy(m[0]);
        ais_model_destroy(m[1]);
    }
    sln_run r = {.in = {p, q}};
    long n = AIS_TEST_OOM_SWEEP("skip layernorm", sln_build_run, &r, 20000, AIS_OWN_TENSORS(r.out),
                                AIS_OWN_SESSION(&r.session), AIS_OWN_MODEL(&r.model));
    assert_true(n > 10);
    ais_tensor_destroy(g);
    ais_tensor_destroy(b);
    ais_tensor_destroy(p);
    ais_tensor_destroy(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layernorm_rows),      cmocka_unit_test(test_math_ulps_full_range),
        cmocka_unit_test(test_fused_attention),     cmocka_unit_test(test_fused_attention_shapes),
        cmocka_unit_test(test_bias_gelu_layernorm), cmocka_unit_test(test_fixture_block),
        cmocka_unit_test(test_skip_layernorm_op),   cmocka_unit_test(test_skip_layernorm_fusion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
