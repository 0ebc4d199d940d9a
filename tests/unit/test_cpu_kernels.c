/*
 * test_cpu_kernels.c - the CPU kernel layer (lib/cpu): every instruction-set level this machine
 * has against the portable reference (ref/) and libm, on special values, a sweep of float bit
 * patterns, random inputs and every length from 0 to 67 plus large ones (tails); the limits
 * AIS_CPU_ISA and ais_set_cpu_isa() put on the level (checked in child processes, since the
 * environment is read once); and operators giving the same results at every level.
 *
 * Accuracy bounds asserted here, in ulp against glibc's expf/erff/tanhf and the two-branch
 * sigmoid in double: exp 2, erf 4, tanh 4, sigmoid 4.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/common.h"
#include "cpu/cpu.h"
#include "test_util.h"

static const char *const isa_names[] = {"scalar", "avx2", "avx512", "avx512_vnni"};

/* Distance in units in the last place between two floats (0 when both are NaN). */
static double ulp_diff(float a, float b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b) ? 0 : INFINITY;
    if (a == b) return 0;
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    /* map to a monotonic integer line */
    int64_t la = ia < 0 ? (int64_t)INT32_MIN - ia : ia, lb = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return fabs((double)(la - lb));
}

static float sig_ref(float x) {
    double d = x;
    return (float)(d >= 0 ? 1 / (1 + exp(-d)) : exp(d) / (1 + exp(d)));
}

typedef void (*vfn)(const float *, float *, size_t);
typedef struct {
    const char *name;
    float (*want)(float);
    double bound; /* ulp */
} mathcase;

static float want_exp(float x) { return expf(x); }
static float want_erf(float x) { return erff(x); }
static float want_tanh(float x) { return tanhf(x); }

static const mathcase cases[4] = {
    {"exp", want_exp, 2}, {"erf", want_erf, 4}, {"tanh", want_tanh, 4}, {"sigmoid", sig_ref, 4}};

static vfn pick(const ais__cpu_kernels *k, int c) {
    return c == 0 ? k->vexp : c == 1 ? k->verf : c == 2 ? k->vtanh : k->vsigmoid;
}

/* The inputs: special values, thresholds of the algorithms, and every 251st bit pattern of the
 * finite floats with magnitude below 200 (where the functions are not yet constant). */
static float *math_inputs(size_t *n) {
    static const float special[] = {
        0.0f,     -0.0f,   INFINITY, -INFINITY, NAN,    -NAN,    FLT_MAX, -FLT_MAX, FLT_MIN,
        -FLT_MIN, 1e-45f,  -1e-45f,  88.7f,     88.72f, 88.73f,  89.0f,   -87.3f,   -88.0f,
        -103.9f,  -104.0f, -105.0f,  -150.0f,   0.875f, -0.875f, 3.9375f, -3.9375f, 3.92f,
        0.625f,   -0.625f, 9.0f,     -9.0f,     1e-8f,  -1e-8f,  1e30f,   -1e30f,   0.5f};
    size_t cap = AIS__ARRAY_LEN(special) + (1u << 31) / 251 + 16, m = 0;
    float *v = malloc(cap * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < AIS__ARRAY_LEN(special); i++)
        v[m++] = special[i];
    for (uint64_t b = 0; b < 0x80000000u; b += 251) {
        uint32_t u = (uint32_t)b;
        float f;
        memcpy(&f, &u, 4);
        if (!(f < 200.0f)) continue;
        v[m++] = f;
        v[m++] = -f;
        if (m + 2 > cap) break;
    }
    *n = m;
    return v;
}

/* Each level's vector math within its bound of libm, NaN for NaN, limits for infinities. */
static void test_math_accuracy(void **state) {
    (void)state;
    size_t n;
    float *x = math_inputs(&n);
    float *y = malloc(n * sizeof *y);
    assert_non_null(y);
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *k = ais__cpu_for((ais_cpu_isa)isa);
        if (!k) continue;
        assert_int_equal(k->isa, isa);
        for (int c = 0; c < 4; c++) {
            pick(k, c)(x, y, n);
            double worst = 0;
            float at = 0, got = 0;
            for (size_t i = 0; i < n; i++) {
                double d = ulp_diff(y[i], cases[c].want(x[i]));
                if (d > worst) worst = d, at = x[i], got = y[i];
            }
            if (worst > cases[c].bound)
                fail_msg("%s %s: %.0f ulp at x = %.9g (got %.9g, want %.9g)", isa_names[isa],
                         cases[c].name, worst, (double)at, (double)got, (double)cases[c].want(at));
            print_message("%-12s %-8s max %.0f ulp over %zu inputs\n", isa_names[isa],
                          cases[c].name, worst, n);
        }
        /* the limits, exactly */
        float s[4] = {INFINITY, -INFINITY, NAN, 1e30f}, o[4];
        k->vexp(s, o, 4);
        assert_true(o[0] == INFINITY && o[1] == 0 && isnan(o[2]) && o[3] == INFINITY);
        k->verf(s, o, 4);
        assert_true(o[0] == 1 && o[1] == -1 && isnan(o[2]) && o[3] == 1);
        k->vtanh(s, o, 4);
        assert_true(o[0] == 1 && o[1] == -1 && isnan(o[2]) && o[3] == 1);
        k->vsigmoid(s, o, 4);
        assert_true(o[0] == 1 && o[1] == 0 && isnan(o[2]) && o[3] == 1);
    }
    free(x);
    free(y);
}

/* Lengths 0..67 and two large ones: whole vectors and tails give what one element alone gives,
 * nothing past n is written, and y == x works. */
static void test_math_lengths(void **state) {
    (void)state;
    enum { MAXN = 4103 };
    float *x = malloc((MAXN + 8) * sizeof *x), *y = malloc((MAXN + 8) * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    ais_test_fill_uniform(x, MAXN, -12, 12);
    size_t lens[70];
    for (size_t i = 0; i < 68; i++)
        lens[i] = i;
    lens[68] = 1000;
    lens[69] = MAXN;
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *k = ais__cpu_for((ais_cpu_isa)isa);
        if (!k) continue;
        for (int c = 0; c < 4; c++) {
            vfn f = pick(k, c);
            for (size_t li = 0; li < 70; li++) {
                size_t len = lens[li];
                for (size_t i = 0; i < len + 8; i++)
                    y[i] = -7.0f;
                f(x, y, len);
                for (size_t i = len; i < len + 8; i++)
                    assert_true(y[i] == -7.0f);
                for (size_t i = 0; i < len; i += (len > 100 ? 37 : 1)) {
                    float one;
                    f(x + i, &one, 1);
                    assert_true(one == y[i]);
                }
                float *z = malloc((len + 1) * sizeof *z);
                assert_non_null(z);
                memcpy(z, x, len * sizeof *z);
                f(z, z, len);
                assert_memory_equal(z, y, len * sizeof *z);
                free(z);
            }
        }
    }
    free(x);
    free(y);
}

static void softmax_want(const float *x, double *w, size_t n, bool log_) {
    double mx = -INFINITY, s = 0;
    for (size_t i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    for (size_t i = 0; i < n; i++)
        s += exp(x[i] - mx);
    for (size_t i = 0; i < n; i++)
        w[i] = log_ ? (x[i] - mx) - log(s) : exp(x[i] - mx) / s;
}

/* vgelu at each level that has it: the bits of lib/ops/unary.c's two-pass Gelu with the same
 * level's verf, every length 0..67 and long, in place too, with NaN, infinities and large
 * values. */
static void test_vgelu(void **state) {
    (void)state;
    enum { MAXN = 1100 };
    float *x = malloc(MAXN * sizeof *x), *y = malloc(MAXN * sizeof *y);
    float *b = malloc(MAXN * sizeof *b);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(b);
    int levels = 0;
    for (int isa = 1; isa <= 3; isa++) {
        const ais__cpu_kernels *k = ais__cpu_for((ais_cpu_isa)isa);
        if (!k) continue;
        assert_non_null(k->vgelu);
        levels++;
        for (size_t n = 0; n <= MAXN; n = n < 67 ? n + 1 : n + 344) {
            ais_test_fill_uniform(x, n, -6, 6);
            if (n > 8) x[1] = NAN, x[3] = INFINITY, x[5] = -INFINITY, x[7] = 1e30f;
            for (size_t i = 0; i < n; i++)
                b[i] = x[i] * 0.7071067811865476f;
            k->verf(b, b, n);
            k->vgelu(x, y, n);
            for (size_t i = 0; i < n; i++) {
                float want = 0.5f * x[i] * (1.0f + b[i]);
                if (memcmp(&want, &y[i], sizeof want) != 0 && !(isnan(want) && isnan(y[i])))
                    fail_msg("%s vgelu n=%zu i=%zu x=%g: %.9g vs %.9g", isa_names[isa], n, i,
                             (double)x[i], (double)y[i], (double)want);
            }
            k->vgelu(x, x, n); /* in place */
            for (size_t i = 0; i < n; i++)
                assert_true(memcmp(&x[i], &y[i], sizeof *x) == 0 || (isnan(x[i]) && isnan(y[i])));
        }
    }
    assert_true(levels > 0 || ais__cpu_isa_detected() == AIS_CPU_ISA_SCALAR);
    free(x);
    free(y);
    free(b);
}

/* Softmax rows of every level against double precision, on random rows of lengths 1..67 and
 * large, with very negative entries (exp underflows to 0) and the NaN rows. */
static void test_softmax_rows(void **state) {
    (void)state;
    enum { MAXN = 5000 };
    float *x = malloc(MAXN * sizeof *x), *y = malloc((MAXN + 1) * sizeof *y);
    double *w = malloc(MAXN * sizeof *w);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(w);
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *k = ais__cpu_for((ais_cpu_isa)isa);
        if (!k) continue;
        for (size_t len = 1; len <= MAXN; len = len < 67 ? len + 1 : len * 3) {
            ais_test_fill_uniform(x, len, -20, 20);
            if (len > 3) x[len / 2] = -1e30f, x[1] = -INFINITY;
            for (int lg = 0; lg < 2; lg++) {
                y[len] = -7.0f;
                (lg ? k->log_softmax_row : k->softmax_row)(x, y, len);
                assert_true(y[len] == -7.0f);
                softmax_want(x, w, len, lg);
                for (size_t i = 0; i < len; i++) {
                    /* the portable row's exp loses digits for x - max below -30 (its range
                     * reduction has no FMA); the SIMD rows' exp is within 2 ulp */
                    double r = isa == 0 ? 1e-5 : 1e-6;
                    /* and x - max is rounded to float: e^(x - max) inherits its error */
                    r += 1.2e-7 * fabs(lg ? w[i] : log(w[i] > 0 ? w[i] : 1));
                    double tol = lg ? r * (fabs(w[i]) + 1) : r * w[i] + 1e-37;
                    if (isinf(w[i])) {
                        assert_true(y[i] == w[i]);
                        continue;
                    }
                    if (fabs(y[i] - w[i]) > tol)
                        fail_msg("%s %s n=%zu i=%zu: %.9g vs %.9g", isa_names[isa],
                                 lg ? "log_softmax" : "softmax", len, i, (double)y[i], w[i]);
                }
            }
        }
        /* entries 86 or more below the maximum (a masked key's score - 10000, and the band
         * where e^d is subnormal) give exactly 0 at the SIMD levels, never a subnormal (whose
         * products would take microcode assists: simd_math.h, exp_row_v) */
        if (isa > 0) {
            float mx = -INFINITY;
            for (size_t i = 0; i < 100; i++) {
                x[i] = i % 4 == 3 ? (float)ais_test_uniform(-5, 5) - 10000.0f
                                  : (float)ais_test_uniform(-100, 5);
                mx = x[i] > mx ? x[i] : mx;
            }
            k->softmax_row(x, y, 100);
            for (size_t i = 0; i < 100; i++) {
                if (x[i] - mx < -86.0f) assert_true(y[i] == 0.0f);
                assert_true(y[i] == 0.0f || y[i] >= FLT_MIN);
            }
        }
        /* NaN anywhere, or an infinite maximum: NaN throughout, as the exact formula gives */
        float bad[3][5] = {{1, 2, NAN, 3, 4},
                           {1, INFINITY, 2, 3, 4},
                           {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY}};
        for (int b = 0; b < 3; b++)
            for (int lg = 0; lg < 2; lg++) {
                (lg ? k->log_softmax_row : k->softmax_row)(bad[b], y, 5);
                for (int i = 0; i < 5; i++)
                    assert_true(isnan(y[i]));
            }
    }
    free(x);
    free(y);
    free(w);
}

/* Row sums, sums of squares and maxima of every level against double precision (maxima exact),
 * every length 0..67 and large; NaN makes the maximum NaN wherever it sits. */
static void test_row_reductions(void **state) {
    (void)state;
    enum { MAXN = 10007 };
    float *x = malloc(MAXN * sizeof *x);
    assert_non_null(x);
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *k = ais__cpu_for((ais_cpu_isa)isa);
        if (!k) continue;
        for (size_t len = 0; len <= MAXN; len = len < 67 ? len + 1 : len * 3 + 1) {
            ais_test_fill_uniform(x, len, -3, 5);
            double s = 0, q = 0, a = 0;
            float mx = -INFINITY;
            for (size_t i = 0; i < len; i++) {
                s += x[i], q += (double)x[i] * x[i], a += fabs(x[i]);
                mx = x[i] > mx ? x[i] : mx;
            }
            assert_true(fabs(k->row_sum(x, len) - s) <= 1e-6 * a + 1e-7 * (double)len);
            assert_true(fabs(k->row_sumsq(x, len) - q) <= 1e-6 * q + 1e-30);
            assert_true(k->row_max(x, len) == mx);
            for (size_t p = 0; p < len; p += (len > 70 ? 97 : 1)) {
                float keep = x[p];
                x[p] = NAN;
                assert_true(isnan(k->row_max(x, len)));
                x[p] = keep;
            }
        }
    }
    free(x);
}

/* LRN rows of every level against double precision: window depths 1..5, every length 0..67 and a
 * large one (tails), beta 0.75 (the square-root path), 0.6 and 1 (log and exp), within 8 ulp of
 * the exact value; and positions whose base is zero, NaN or infinite (bias 0 with zero inputs, a
 * NaN or infinite input) as the reference has them. */
static void test_lrn_rows(void **state) {
    (void)state;
    enum { MAXN = 1031, NK = 5 };
    float *x = malloc(NK * MAXN * sizeof *x), *y = malloc(MAXN * sizeof *y),
          *r = malloc(MAXN * sizeof *r);
    assert_true(x && y && r);
    static const float betas[] = {0.75f, 0.6f, 1.0f};
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *k = ais__cpu_for((ais_cpu_isa)isa);
        if (!k) continue;
        double worst = 0;
        for (size_t len = 0; len <= MAXN; len = len < 67 ? len + 1 : len * 15 + 1)
            for (int64_t nk = 1; nk <= NK; nk++)
                for (int b = 0; b < 3; b++) {
                    ais_test_fill_uniform(x, NK * (size_t)len, -40, 40);
                    float alpha_n = 1e-3f / (float)nk, bias = b == 2 ? 2.0f : 1.0f;
                    int64_t c = nk / 2; /* the channel inside the window */
                    k->lrn_row(x, (int64_t)len, nk, x + c * (int64_t)len, y, len, alpha_n, betas[b],
                               bias);
                    for (size_t i = 0; i < len; i++) {
                        double sq = 0;
                        for (int64_t q = 0; q < nk; q++)
                            sq += (double)x[q * (int64_t)len + i] * x[q * (int64_t)len + i];
                        float want = (float)(x[c * (int64_t)len + i] /
                                             pow(bias + (double)alpha_n * sq, betas[b]));
                        double d = ulp_diff(y[i], want);
                        if (d > 8)
                            fail_msg("%s lrn_row: %.0f ulp at len %zu, nk %lld, beta %g, i %zu "
                                     "(got %.9g, want %.9g)",
                                     isa_names[isa], d, len, (long long)nk, (double)betas[b], i,
                                     (double)y[i], (double)want);
                        worst = d > worst ? d : worst;
                    }
                }
        print_message("%-12s lrn_row max %.0f ulp\n", isa_names[isa], worst);
        /* bases that are not positive normal floats: the reference's answer */
        size_t len = 37;
        for (int b = 0; b < 3; b++) {
            memset(x, 0, NK * len * sizeof *x);
            x[3] = NAN;
            x[len + 12] = INFINITY;
            x[2 * len + 20] = -1.0f;
            k->lrn_row(x, (int64_t)len, 3, x + len, y, len, 0.1f, betas[b], 0.0f);
            ais__cpu_ref_lrn_row(x, (int64_t)len, 3, x + len, r, len, 0.1f, betas[b], 0.0f);
            for (size_t i = 0; i < len; i++)
                if (ulp_diff(y[i], r[i]) > 8)
                    fail_msg("%s lrn_row special: position %zu got %.9g, reference %.9g",
                             isa_names[isa], i, (double)y[i], (double)r[i]);
        }
    }
    free(x);
    free(y);
    free(r);
}

/* A random forest in the fast layout: every level's block walk gives the ref walk's sums bit for
 * bit (the same additions in the same order), for 16 rows (the SIMD case) and for 5, with NaN
 * features going each node's default way. */
static void test_tree_walk(void **state) {
    (void)state;
    enum { TREES = 37, COLS = 11, WIDTH = 3 };
    uint8_t depth[TREES];
    uint16_t target[TREES];
    uint32_t node_off[TREES], leaf_off[TREES];
    size_t nn = 0, nl = 0;
    for (int t = 0; t < TREES; t++) {
        depth[t] = (uint8_t)ais_test_randint(1, 7);
        target[t] = (uint16_t)ais_test_randint(0, WIDTH - 1);
        node_off[t] = (uint32_t)nn;
        leaf_off[t] = (uint32_t)nl;
        nn += ((size_t)1 << depth[t]) - 1;
        nl += (size_t)1 << depth[t];
    }
    /* thr and fd padded by 8 as the layout requires (cpu.h) */
    float *thr = malloc((nn + 8) * sizeof *thr), *leaf32 = malloc(nl * sizeof *leaf32);
    uint32_t *fd = malloc((nn + 8) * sizeof *fd);
    double *leaf = malloc(nl * sizeof *leaf);
    assert_true(thr && leaf32 && fd && leaf);
    for (size_t i = 0; i < nn + 8; i++) {
        thr[i] = (float)ais_test_uniform(-1, 1);
        fd[i] = (uint32_t)ais_test_randint(0, COLS - 1) | ((uint32_t)ais_test_randint(0, 1) << 31);
    }
    for (size_t i = 0; i < nl; i++)
        leaf32[i] = (float)(leaf[i] = ais_test_uniform(-1, 1));
    ais__cpu_forest f = {WIDTH, thr, fd, leaf, leaf32, node_off, leaf_off, depth, target};
    float x[16 * COLS];
    ais_test_fill_uniform(x, 16 * COLS, -1.2f, 1.2f);
    for (int i = 0; i < 16 * COLS; i += 7)
        x[i] = NAN;
    for (int isa = 1; isa <= 3; isa++) {
        const ais__cpu_kernels *k = ais__cpu_for((ais_cpu_isa)isa);
        if (!k) continue;
        for (int f32 = 0; f32 < 2; f32++)
            for (size_t nr = 5; nr <= 16; nr += 11) {
                double dw[16 * WIDTH] = {0}, dg[16 * WIDTH] = {0};
                float fw[16 * WIDTH] = {0}, fg[16 * WIDTH] = {0};
                ais__cpu_tree_acc want = {.d = dw}, got = {.d = dg};
                if (f32) want.f = fw, got.f = fg;
                ais__cpu_ref_tree_block(&f, 0, TREES, x, COLS, nr, want, f32);
                k->tree_block(&f, 0, TREES, x, COLS, nr, got, f32);
                if (f32)
                    assert_memory_equal(fw, fg, sizeof fw);
                else
                    assert_memory_equal(dw, dg, sizeof dw);
                /* and the sums are not all zero, so the comparison means something */
                assert_true(f32 ? fw[0] != 0 || fw[1] != 0 : dw[0] != 0 || dw[1] != 0);
            }
    }
    free(thr);
    free(leaf32);
    free(fd);
    free(leaf);
}

/* GEMM through every table (BLAS) and the micro-kernel slot's packing and kernel, against a
 * naive product, with a partial tile. */
static void test_gemm(void **state) {
    (void)state;
    enum { M = 7, N = 5, K = 9 };
    float a[M * K], b[K * N], c[M * N], want[M * N];
    ais_test_fill_uniform(a, M * K, -1, 1);
    ais_test_fill_uniform(b, K * N, -1, 1);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int p = 0; p < K; p++)
                s += (double)a[i * K + p] * b[p * N + j];
            want[i * N + j] = (float)s;
        }
    for (int isa = 0; isa <= 3; isa++) {
        const ais__cpu_kernels *k = ais__cpu_for((ais_cpu_isa)isa);
        if (!k) continue;
        k->sgemm(false, false, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
        for (int i = 0; i < M * N; i++)
            assert_true(fabsf(c[i] - want[i]) < 1e-5f);
        int mr = k->gemm_mr, nr = k->gemm_nr;
        float *ap = calloc((size_t)(mr * K), sizeof *ap),
              *bp = calloc((size_t)(nr * K), sizeof *bp);
        assert_true(ap && bp);
        memset(c, 0, sizeof c);
        for (int m0 = 0; m0 < M; m0 += mr)
            for (int n0 = 0; n0 < N; n0 += nr) {
                k->gemm_pack_a(false, a, K, m0, M, K, ap);
                k->gemm_pack_b(false, b, N, n0, N, K, bp);
                k->gemm_ukernel(K, ap, bp, c + m0 * N + n0, N, AIS__MIN(mr, M - m0),
                                AIS__MIN(nr, N - n0), false);
            }
        for (int i = 0; i < M * N; i++)
            assert_true(fabsf(c[i] - want[i]) < 1e-5f);
        free(ap);
        free(bp);
    }
}

/* ais_set_cpu_isa lowers the level, never raises it past the CPU, and rejects non-values. */
static void test_set_cpu_isa(void **state) {
    (void)state;
    ais_cpu_isa hw = ais__cpu_isa_detected();
    const char *env = getenv("AIS_CPU_ISA");
    if (env && env[0])
        skip(); /* the environment caps the level: the child-process test checks it */
    assert_int_equal(ais_get_cpu_isa(), hw);
    for (int isa = 0; isa <= 3; isa++) {
        AIS_ASSERT_OK(ais_set_cpu_isa((ais_cpu_isa)isa));
        ais_cpu_isa want = isa < (int)hw ? (ais_cpu_isa)isa : hw;
        assert_int_equal(ais_get_cpu_isa(), want);
        assert_int_equal(ais__cpu()->isa, want);
    }
    AIS_ASSERT_STATUS(ais_set_cpu_isa((ais_cpu_isa)7), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("isa 7");
    AIS_ASSERT_STATUS(ais_set_cpu_isa((ais_cpu_isa)-1), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_OK(ais_set_cpu_isa(AIS_CPU_ISA_BEST));
    assert_int_equal(ais_get_cpu_isa(), hw);
    assert_string_equal(ais_cpu_isa_name(AIS_CPU_ISA_AVX512_VNNI), "avx512_vnni");
    assert_string_equal(ais_cpu_isa_name((ais_cpu_isa)42), "unknown");
}

static char self_path[4096];

/* This program run again with AIS_CPU_ISA=value and --report-isa: its exit code is the level
 * of the table ais__cpu() hands out (98 if ais_get_cpu_isa() disagrees). */
static int child_isa(const char *value) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (value)
            setenv("AIS_CPU_ISA", value, 1);
        else
            unsetenv("AIS_CPU_ISA");
        execl(self_path, self_path, "--report-isa", (char *)NULL);
        _exit(99);
    }
    int st = 0;
    assert_true(waitpid(pid, &st, 0) == pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* AIS_CPU_ISA forces each level the CPU has (and caps the ones it lacks at the best it has);
 * unknown values are ignored. */
static void test_env_forces_isa(void **state) {
    (void)state;
    int hw = (int)ais__cpu_isa_detected();
    assert_int_equal(child_isa(NULL), hw);
    assert_int_equal(child_isa("bogus"), hw);
    assert_int_equal(child_isa("AVX2"), hw < 1 ? hw : 1);
    for (int isa = 0; isa <= 3; isa++)
        assert_int_equal(child_isa(isa_names[isa]), isa < hw ? isa : hw);
}

/* Operators that reach the table (Exp, Erf, Tanh, Sigmoid, Gelu, Softmax, LogSoftmax,
 * ReduceSum, ReduceMax) give the scalar level's results within the kernels' bounds at every
 * level. */
static void test_ops_every_isa(void **state) {
    (void)state;
    static const char *const ops[] = {"Exp",     "Erf",        "Tanh",      "Sigmoid",  "Gelu",
                                      "Softmax", "LogSoftmax", "ReduceSum", "ReduceMax"};
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3, 67), -6, 6);
    assert_non_null(x);
    for (size_t o = 0; o < AIS__ARRAY_LEN(ops); o++) {
        ais_tensor *want = NULL;
        for (int isa = 0; isa <= 3; isa++) {
            if (!ais__cpu_for((ais_cpu_isa)isa)) continue;
            AIS_ASSERT_OK(ais_set_cpu_isa((ais_cpu_isa)isa));
            ais_tensor *y = NULL;
            const ais_tensor *in[1] = {x};
            AIS_ASSERT_OK(ais_test_run_op(ops[o], NULL, in, 1, &y, 1));
            if (!want)
                want = y;
            else {
                /* sums of 67 values up to 6 in another order: a few float roundings of ~400 */
                print_message("%s at %s\n", ops[o], isa_names[isa]);
                ais_test_assert_close(y, want, 2e-6, strcmp(ops[o], "ReduceSum") ? 1e-6 : 1e-4);
                ais_tensor_destroy(y);
            }
        }
        ais_tensor_destroy(want);
    }
    AIS_ASSERT_OK(ais_set_cpu_isa(AIS_CPU_ISA_BEST));
    ais_tensor_destroy(x);
}

int main(int argc, char **argv) {
    /* the level of the table the operators get, which must be the level the API reports */
    if (argc > 1 && strcmp(argv[1], "--report-isa") == 0)
        return ais__cpu()->isa == ais_get_cpu_isa() ? (int)ais__cpu()->isa : 98;
    ssize_t len = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (len <= 0) return 1;
    self_path[len] = 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_math_accuracy),  cmocka_unit_test(test_math_lengths),
        cmocka_unit_test(test_softmax_rows),   cmocka_unit_test(test_vgelu),
        cmocka_unit_test(test_row_reductions), cmocka_unit_test(test_lrn_rows),
        cmocka_unit_test(test_tree_walk),      cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_set_cpu_isa),    cmocka_unit_test(test_env_forces_isa),
        cmocka_unit_test(test_ops_every_isa),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
