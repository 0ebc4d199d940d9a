/*
 * test_tree_engine.c - the compiled tree ensemble (lib/ops/tree_engine.c) against a plain walk
 * written here from the attribute arrays: random unbalanced trees (single leaves included), all
 * six modes, NaNs both ways, thresholds that are not floats with x exactly at and around them,
 * f32 and f64 inputs, several targets, every aggregate, odd row counts, two threads; the fast and
 * the generic layout must agree bit for bit with each other and with the reference. Then hostile
 * attributes, a model whose prepare fails at load, the session's zero-allocation steady state
 * with a tree node, and allocation-failure sweeps of the build and of the model load.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/tree_engine.h"
#include "runtime/model.h"
#include "test_util.h"

#define MAXN 4096
#define MAXW 4096
#define MAXT 48

typedef struct ens {
    size_t n, nw, n_trees, width;
    int64_t tid[MAXN], nid[MAXN], fid[MAXN], tt[MAXN], ff[MAXN], miss[MAXN];
    double val[MAXN]; /* thresholds: floats unless `dbl` */
    const char *mode[MAXN];
    int64_t wt[MAXW], wn[MAXW], wi[MAXW];
    float ww[MAXW];
    bool dbl;
    size_t cols;
    int64_t root[MAXT];
} ens;

static ens g_e;
/* >= 0: ens_random grows complete trees of this depth (every group of 8 trees equally deep) */
static int g_full = -1;

static const char *const MODES[] = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE",
                                    "BRANCH_GT",  "BRANCH_EQ", "BRANCH_NEQ"};
/* thresholds: some exact floats, some doubles between floats */
static const double THR[] = {-1, -0.5, 0, 0.5, 1, 0.1, -0.3, 1.0 / 3, 2.5, -1e-8};

/* One random (sub)tree rooted at a new node of tree t; returns its node id. */
static int64_t grow(ens *e, size_t t, int depth, int max_depth, bool numeric, size_t target) {
    size_t i = e->n++;
    int64_t id = (int64_t)(i * 7 + 3); /* ids neither dense nor in heap order */
    e->tid[i] = (int64_t)(t * 3 + 1);
    e->nid[i] = id;
    e->miss[i] = ais_test_randint(0, 1);
    e->fid[i] = 0;
    e->val[i] = 0;
    bool leaf = depth >= max_depth || e->n + 2 >= MAXN ||
                (g_full < 0 && ais_test_randint(0, 9) < 2 + depth / 2);
    if (leaf) {
        e->mode[i] = "LEAF";
        e->tt[i] = e->ff[i] = 0;
        /* single-target trees in numeric ensembles (the fast layout), else a weight per
         * output, sometimes none */
        for (size_t k = 0; k < e->width; k++) {
            if (numeric ? k != target : ais_test_randint(0, 4) == 0) continue;
            if (e->nw == MAXW) break; /* multi-target leaves can outgrow the weight arrays */
            size_t w = e->nw++;
            e->wt[w] = e->tid[i];
            e->wn[w] = id;
            e->wi[w] = (int64_t)k;
            e->ww[w] = (float)ais_test_uniform(-1, 1);
        }
        return id;
    }
    e->mode[i] = MODES[ais_test_randint(0, numeric ? 3 : 5)];
    e->fid[i] = ais_test_randint(0, (int64_t)e->cols - 1);
    double v = THR[ais_test_randint(0, AIS__ARRAY_LEN(THR) - 1)];
    e->val[i] = e->dbl ? v : (double)(float)v;
    int64_t a = grow(e, t, depth + 1, max_depth, numeric, target);
    int64_t b = grow(e, t, depth + 1, max_depth, numeric, target);
    e->tt[i] = a;
    e->ff[i] = b;
    return id;
}

static void swap_nodes(ens *e, size_t i, size_t j) {
#define SW(f)                                                                                      \
    do {                                                                                           \
        __typeof__(e->f[0]) tmp_ = e->f[i];                                                        \
        e->f[i] = e->f[j];                                                                         \
        e->f[j] = tmp_;                                                                            \
    } while (0)
    SW(tid);
    SW(nid);
    SW(fid);
    SW(tt);
    SW(ff);
    SW(miss);
    SW(val);
    SW(mode);
#undef SW
}

static void ens_random(ens *e, size_t n_trees, size_t cols, size_t width, bool numeric, bool dbl) {
    memset(e, 0, sizeof *e);
    e->n_trees = n_trees;
    e->width = width;
    e->cols = cols;
    e->dbl = dbl;
    int max_depth = g_full >= 0 ? g_full : (int)ais_test_randint(0, 9);
    for (size_t t = 0; t < n_trees; t++) {
        e->root[t] =
            grow(e, t, 0, max_depth, numeric, (size_t)ais_test_randint(0, (int64_t)width - 1));
    }
    /* A tree's root is its first node in attribute order: roots to the front, then the other
     * nodes shuffled. */
    size_t first = 0;
    for (size_t i = 0; i < e->n; i++)
        for (size_t t = 0; t < n_trees; t++)
            if (e->nid[i] == e->root[t] && e->tid[i] == (int64_t)(t * 3 + 1))
                swap_nodes(e, first++, i);
    for (size_t i = e->n; i-- > first + 1;)
        swap_nodes(e, i, first + (size_t)ais_test_randint(0, (int64_t)(i - first)));
}

static ais_attrs *ens_attrs(const ens *e, const char *base_kind) {
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_treeids", e->tid, e->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_nodeids", e->nid, e->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_featureids", e->fid, e->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_truenodeids", e->tt, e->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_falsenodeids", e->ff, e->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_missing_value_tracks_true", e->miss, e->n));
    AIS_ASSERT_OK(ais_attrs_set_strings(a, "nodes_modes", e->mode, e->n));
    if (e->dbl) {
        ais_tensor *v = ais_test_tensor(AIS_DTYPE_F64, AIS_SHAPE((int64_t)e->n), e->val);
        AIS_ASSERT_OK(ais_attrs_set_tensor(a, "nodes_values_as_tensor", v));
        ais_tensor_destroy(v);
    } else {
        static float vf[MAXN];
        for (size_t i = 0; i < e->n; i++)
            vf[i] = (float)e->val[i];
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "nodes_values", vf, e->n));
    }
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "target_treeids", e->wt, e->nw));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "target_nodeids", e->wn, e->nw));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "target_ids", e->wi, e->nw));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "target_weights", e->ww, e->nw));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "n_targets", (int64_t)e->width));
    if (base_kind) {
        float b[8];
        for (size_t k = 0; k < e->width; k++)
            b[k] = 0.375f * (float)k - 0.6f;
        AIS_ASSERT_OK(
            ais_attrs_set_floats(a, "base_values", b, strcmp(base_kind, "one") ? e->width : 1));
    }
    return a;
}

static size_t node_at(const ens *e, int64_t tid, int64_t nid) {
    for (size_t i = 0; i < e->n; i++)
        if (e->tid[i] == tid && e->nid[i] == nid) return i;
    fail_msg("node %lld of tree %lld missing", (long long)nid, (long long)tid);
    return 0;
}

/* The reference: x as double against the double threshold, NaN to the missing side, sums in
 * double in tree order, then average, base, float. */
static void ref_row(const ens *e, const ais_attrs *a, const double *x, ais__tree_agg agg,
                    float *out) {
    double acc[8] = {0};
    bool seen[8] = {0};
    for (size_t t = 0; t < e->n_trees; t++) {
        size_t i = node_at(e, (int64_t)(t * 3 + 1), e->root[t]);
        while (strcmp(e->mode[i], "LEAF") != 0) {
            double v = x[e->fid[i]], th = e->val[i];
            const char *m = e->mode[i];
            bool go = isnan(v)                   ? e->miss[i] != 0 || !strcmp(m, "BRANCH_NEQ")
                      : !strcmp(m, "BRANCH_LEQ") ? v <= th
                      : !strcmp(m, "BRANCH_LT")  ? v < th
                      : !strcmp(m, "BRANCH_GTE") ? v >= th
                      : !strcmp(m, "BRANCH_GT")  ? v > th
                      : !strcmp(m, "BRANCH_EQ")  ? v == th
                                                 : v != th;
            i = node_at(e, e->tid[i], go ? e->tt[i] : e->ff[i]);
        }
        for (size_t w = 0; w < e->nw; w++) {
            if (e->wt[w] != e->tid[i] || e->wn[w] != e->nid[i]) continue;
            size_t k = (size_t)e->wi[w];
            double ww = e->ww[w];
            if (agg == AIS__TAGG_MIN)
                acc[k] = seen[k] && acc[k] < ww ? acc[k] : ww;
            else if (agg == AIS__TAGG_MAX)
                acc[k] = seen[k] && acc[k] > ww ? acc[k] : ww;
            else
                acc[k] += ww;
            seen[k] = true;
        }
    }
    const float *bf = NULL;
    size_t nb = 0;
    ais__attr_floats(a, "base_values", &bf, &nb);
    for (size_t k = 0; k < e->width; k++) {
        double v = acc[k];
        if (agg == AIS__TAGG_AVERAGE) v /= (double)e->n_trees;
        out[k] = (float)(v + (nb == 0 ? 0.0 : (double)bf[nb == 1 ? 0 : k]));
    }
}

/* The float32 mode's reference, in float arithmetic as XGBoost's predictor: each output starts
 * at its base value (rounded to float) and adds the float weight of each tree's leaf in tree
 * order. */
static void ref_row_f32(const ens *e, const ais_attrs *a, const double *x, float *out) {
    const float *bf = NULL;
    size_t nb = 0;
    ais__attr_floats(a, "base_values", &bf, &nb);
    float acc[8];
    for (size_t k = 0; k < e->width; k++)
        acc[k] = nb == 0 ? 0.0f : bf[nb == 1 ? 0 : k];
    for (size_t t = 0; t < e->n_trees; t++) {
        size_t i = node_at(e, (int64_t)(t * 3 + 1), e->root[t]);
        while (strcmp(e->mode[i], "LEAF") != 0) {
            double v = x[e->fid[i]], th = e->val[i];
            const char *m = e->mode[i];
            bool go = isnan(v)                   ? e->miss[i] != 0 || !strcmp(m, "BRANCH_NEQ")
                      : !strcmp(m, "BRANCH_LEQ") ? v <= th
                      : !strcmp(m, "BRANCH_LT")  ? v < th
                      : !strcmp(m, "BRANCH_GTE") ? v >= th
                      : !strcmp(m, "BRANCH_GT")  ? v > th
                      : !strcmp(m, "BRANCH_EQ")  ? v == th
                                                 : v != th;
            i = node_at(e, e->tid[i], go ? e->tt[i] : e->ff[i]);
        }
        for (size_t w = 0; w < e->nw; w++)
            if (e->wt[w] == e->tid[i] && e->wn[w] == e->nid[i]) acc[e->wi[w]] += e->ww[w];
    }
    memcpy(out, acc, e->width * sizeof *out);
}

/* X values: random, NaN, and each threshold exactly, one float below and one above. */
static double pick_x(const ens *e, bool f64) {
    int r = (int)ais_test_randint(0, 9);
    if (r == 0) return NAN;
    if (r < 4 || e->n == 0) return ais_test_uniform(-3, 3);
    double th = THR[ais_test_randint(0, AIS__ARRAY_LEN(THR) - 1)];
    float f = (float)th;
    switch (ais_test_randint(0, f64 ? 4 : 2)) {
    case 0: return f;
    case 1: return nextafterf(f, INFINITY);
    case 2: return nextafterf(f, -INFINITY);
    case 3: return th; /* the double itself */
    default: return nextafter(th, f > th ? INFINITY : -INFINITY);
    }
}

static void assert_same_floats(const float *got, const float *want, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) {
        bool same = (isnan(got[i]) && isnan(want[i])) || got[i] == want[i];
        if (!same) fail_msg("%s: [%zu] is %.9g, expected %.9g", what, i, got[i], want[i]);
    }
}

static const ais__tree_agg AGGS[] = {AIS__TAGG_SUM, AIS__TAGG_AVERAGE, AIS__TAGG_MIN,
                                     AIS__TAGG_MAX};

static void test_random_ensembles(void **state) {
    (void)state;
    static const size_t ROWS[] = {0, 1, 7, 16, 17, 33, 130, 300};
    static double xd[300 * 9];
    static float xf[300 * 9], yfast[300 * 8], ygen[300 * 8], ythr[300 * 8], want[300 * 8];
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(2, &pool));
    size_t fast_seen = 0, f32_seen = 0;
    for (int iter = 0; iter < 120; iter++) {
        bool numeric = iter % 3 != 2, dbl = iter % 4 == 1;
        size_t cols = (size_t)ais_test_randint(1, 9), width = (size_t)ais_test_randint(1, 4);
        size_t n_trees = (size_t)ais_test_randint(1, MAXT);
        ens_random(&g_e, n_trees, cols, width, numeric, dbl);
        ais__tree_agg agg = numeric && iter % 5 != 0 ? AGGS[iter % 2] : AGGS[iter % 4];
        const char *base = iter % 3 == 0 ? NULL : iter % 3 == 1 ? "one" : "all";
        ais_attrs *a = ens_attrs(&g_e, base);
        ais__tengine *fast = NULL, *gen = NULL, *fast32 = NULL, *gen32 = NULL;
        AIS_ASSERT_OK(ais__tengine_build(a, "target", width, agg, true, &fast));
        AIS_ASSERT_OK(ais__tengine_build(a, "target", width, agg, false, &gen));
        /* SUM ensembles again in float32 mode, weights scaled by 1024 (exactly undone below) */
        ais_attrs *a32 = NULL;
        if (agg == AIS__TAGG_SUM) {
            for (size_t w = 0; w < g_e.nw; w++)
                g_e.ww[w] *= 1024.0f;
            a32 = ens_attrs(&g_e, base);
            AIS_ASSERT_OK(ais_attrs_set_string(a32, "aistack_accumulate", "float32"));
            AIS_ASSERT_OK(ais__tengine_build(a32, "target", width, agg, true, &fast32));
            AIS_ASSERT_OK(ais__tengine_build(a32, "target", width, agg, false, &gen32));
            assert_int_equal(ais__tengine_fast(fast32), ais__tengine_fast(fast));
            for (size_t w = 0; w < g_e.nw; w++)
                g_e.ww[w] /= 1024.0f; /* exact: back to the weights of `a` */
        }
        assert_false(ais__tengine_fast(gen));
        /* narrow rows: f64 inputs take the fast layout as ranks whenever f32 ones take it */
        assert_int_equal(ais__tengine_rank(fast), ais__tengine_fast(fast));
        /* the fast layout only where its conditions hold (it also steps aside when padding
         * thin deep trees would cost too much) */
        bool may_fast = agg == AIS__TAGG_SUM || agg == AIS__TAGG_AVERAGE;
        for (size_t i = 0; i < g_e.n; i++)
            may_fast =
                may_fast && strcmp(g_e.mode[i], "BRANCH_EQ") && strcmp(g_e.mode[i], "BRANCH_NEQ");
        assert_true(may_fast || !ais__tengine_fast(fast));
        fast_seen += ais__tengine_fast(fast);
        size_t rows = ROWS[iter % AIS__ARRAY_LEN(ROWS)];
        for (int dt = 0; dt < 2; dt++) {
            bool f64 = dt == 1;
            for (size_t i = 0; i < rows * cols; i++) {
                xd[i] = pick_x(&g_e, f64);
                if (!f64) xd[i] = (double)(xf[i] = (float)xd[i]);
            }
            ais_tensor *x = NULL;
            AIS_ASSERT_OK(ais_tensor_create(f64 ? AIS_DTYPE_F64 : AIS_DTYPE_F32,
                                            AIS_SHAPE((int64_t)rows, (int64_t)cols), &x));
            if (rows)
                memcpy(ais_tensor_data(x), f64 ? (const void *)xd : (const void *)xf,
                       rows * cols * (f64 ? sizeof(double) : sizeof(float)));
            for (size_t r = 0; r < rows; r++)
                ref_row(&g_e, a, xd + r * cols, agg, want + r * width);
            AIS_ASSERT_OK(ais__tengine_scores(fast, x, rows, cols, yfast, NULL));
            AIS_ASSERT_OK(ais__tengine_scores(gen, x, rows, cols, ygen, NULL));
            AIS_ASSERT_OK(ais__tengine_scores(fast, x, rows, cols, ythr, pool));
            char what[96];
            snprintf(what, sizeof what, "iter %d %s fast", iter, f64 ? "f64" : "f32");
            assert_same_floats(yfast, want, rows * width, what);
            snprintf(what, sizeof what, "iter %d %s generic", iter, f64 ? "f64" : "f32");
            assert_same_floats(ygen, want, rows * width, what);
            snprintf(what, sizeof what, "iter %d %s threads", iter, f64 ? "f64" : "f32");
            assert_same_floats(ythr, want, rows * width, what);
            if (a32) {
                for (size_t w = 0; w < g_e.nw; w++)
                    g_e.ww[w] *= 1024.0f;
                for (size_t r = 0; r < rows; r++)
                    ref_row_f32(&g_e, a32, xd + r * cols, want + r * width);
                for (size_t w = 0; w < g_e.nw; w++)
                    g_e.ww[w] /= 1024.0f;
                AIS_ASSERT_OK(ais__tengine_scores(fast32, x, rows, cols, yfast, NULL));
                AIS_ASSERT_OK(ais__tengine_scores(gen32, x, rows, cols, ygen, NULL));
                AIS_ASSERT_OK(ais__tengine_scores(fast32, x, rows, cols, ythr, pool));
                snprintf(what, sizeof what, "iter %d %s float32 fast", iter, f64 ? "f64" : "f32");
                assert_same_floats(yfast, want, rows * width, what);
                snprintf(what, sizeof what, "iter %d %s float32 generic", iter,
                         f64 ? "f64" : "f32");
                assert_same_floats(ygen, want, rows * width, what);
                snprintf(what, sizeof what, "iter %d %s float32 threads", iter,
                         f64 ? "f64" : "f32");
                assert_same_floats(ythr, want, rows * width, what);
                f32_seen += rows > 0;
            }
            ais_tensor_destroy(x);
        }
        ais__tengine_free(fast);
        ais__tengine_free(gen);
        ais__tengine_free(fast32);
        ais__tengine_free(gen32);
        ais_attrs_destroy(a32);
        ais_attrs_destroy(a);
    }
    assert_true(fast_seen >= 20);
    assert_true(f32_seen >= 20);
    ais__pool_destroy(pool);
}

/*
 * Batches of 1 to 17 rows through every walk of the fast layout against the reference: the
 * small-batch walk (8 trees side by side, on doubled or plain rows, trees shallower than their
 * group or all equally deep, the last n_trees % 8 trees by the block walk), the 16-row block walk
 * with and without AVX2, and the two mixed (full blocks, then the rest by the small walk); both
 * accumulation modes, NaNs, both missing directions, thresholds between floats and at +inf.
 */
static void test_small_batches(void **state) {
    (void)state;
    static double xd[17 * 9];
    static float xf[17 * 9], y[17 * 8], want[17 * 8];
    static const struct {
        bool simd;
        size_t small_max;
        bool doubled;
    } CFG[] = {{true, 15, true}, {false, 15, true}, {true, 0, true},
               {false, 0, true}, {true, 64, false}, {true, 64, true}};
    size_t checked = 0, uniform = 0, f32_seen = 0;
    for (int iter = 0; iter < 80; iter++) {
        g_full = iter % 2 ? (int)ais_test_randint(0, 5) : -1;
        size_t cols = (size_t)ais_test_randint(1, 9), width = (size_t)ais_test_randint(1, 4);
        size_t n_trees = (size_t)ais_test_randint(1, MAXT);
        ens_random(&g_e, n_trees, cols, width, true, iter % 4 == 1);
        uniform += g_full > 0 && n_trees >= 8;
        g_full = -1;
        /* +inf thresholds: at a default-right node, NaN goes right and +inf left */
        for (size_t i = 0; iter % 3 == 0 && i < g_e.n; i++)
            if (strcmp(g_e.mode[i], "LEAF") != 0 && ais_test_randint(0, 5) == 0)
                g_e.val[i] = INFINITY;
        ais__tree_agg agg = AGGS[iter % 2];
        bool f32 = agg == AIS__TAGG_SUM && iter % 4 >= 2;
        for (size_t w = 0; f32 && w < g_e.nw; w++)
            g_e.ww[w] *= 1024.0f; /* float sums then differ from double ones */
        const char *base = iter % 3 == 0 ? NULL : iter % 3 == 1 ? "one" : "all";
        ais_attrs *a = ens_attrs(&g_e, base);
        if (f32) AIS_ASSERT_OK(ais_attrs_set_string(a, "aistack_accumulate", "float32"));
        ais__tengine *e = NULL;
        AIS_ASSERT_OK(ais__tengine_build(a, "target", width, agg, true, &e));
        if (!ais__tengine_fast(e)) { /* thin deep trees: padding them would cost too much */
            ais__tengine_free(e);
            ais_attrs_destroy(a);
            continue;
        }
        for (size_t rows = 1; rows <= 17; rows++) {
            for (size_t i = 0; i < rows * cols; i++)
                xd[i] = (double)(xf[i] = (float)pick_x(&g_e, false));
            for (size_t r = 0; r < rows; r++)
                if (f32)
                    ref_row_f32(&g_e, a, xd + r * cols, want + r * width);
                else
                    ref_row(&g_e, a, xd + r * cols, agg, want + r * width);
            /* the same rows as f32, and as f64 (rank mode: the values are floats, so the
             * reference holds for both) */
            ais_tensor *x =
                ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE((int64_t)rows, (int64_t)cols), xd);
            ais_tensor *x64 =
                ais_test_tensor(AIS_DTYPE_F64, AIS_SHAPE((int64_t)rows, (int64_t)cols), xd);
            for (size_t c = 0; c < 2 * AIS__ARRAY_LEN(CFG); c++) {
                bool f64 = c >= AIS__ARRAY_LEN(CFG);
                size_t cf = c % AIS__ARRAY_LEN(CFG);
                ais__tengine_tune(e, CFG[cf].simd, CFG[cf].small_max, CFG[cf].doubled);
                memset(y, 0, sizeof y);
                AIS_ASSERT_OK(ais__tengine_scores(e, f64 ? x64 : x, rows, cols, y, NULL));
                char what[96];
                snprintf(what, sizeof what, "iter %d rows %zu config %zu%s%s", iter, rows, cf,
                         f32 ? " float32" : "", f64 ? " f64" : "");
                assert_same_floats(y, want, rows * width, what);
                checked++;
            }
            ais_tensor_destroy(x);
            ais_tensor_destroy(x64);
        }
        f32_seen += f32;
        ais__tengine_free(e);
        ais_attrs_destroy(a);
    }
    assert_true(checked >= 2 * 50 * 17 * AIS__ARRAY_LEN(CFG));
    assert_true(uniform >= 10);
    assert_true(f32_seen >= 10);
}

/* Many rows through a fast ensemble on two threads: the blocks split across the pool. */
static void test_threads_large(void **state) {
    (void)state;
    ens_random(&g_e, MAXT, 6, 1, true, false);
    ais_attrs *a = ens_attrs(&g_e, "one");
    ais__tengine *e = NULL;
    AIS_ASSERT_OK(ais__tengine_build(a, "target", 1, AIS__TAGG_SUM, true, &e));
    size_t rows = 4099;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE((int64_t)rows, 6), -2, 2);
    float *xv = ais_tensor_data(x);
    for (size_t i = 0; i < rows * 6; i += 7)
        xv[i] = NAN;
    static float y1[4099], y2[4099], want[4099];
    double row[6];
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < 6; c++)
            row[c] = xv[r * 6 + c];
        ref_row(&g_e, a, row, AIS__TAGG_SUM, want + r);
    }
    ais__pool *pool = NULL;
    AIS_ASSERT_OK(ais__pool_create(2, &pool));
    AIS_ASSERT_OK(ais__tengine_scores(e, x, rows, 6, y1, NULL));
    AIS_ASSERT_OK(ais__tengine_scores(e, x, rows, 6, y2, pool));
    assert_same_floats(y1, want, rows, "serial");
    assert_same_floats(y2, want, rows, "2 threads");
    ais__pool_destroy(pool);
    ais__tengine_free(e);
    ais_tensor_destroy(x);
    ais_attrs_destroy(a);
}

/* A three-node tree: node 0 splits feature 0 at 0.5 to leaves 1 (true) and 2. */
static ais_attrs *small(const int64_t *tt, const int64_t *ff, const int64_t *fid) {
    ais_attrs *a = NULL;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    const char *modes[] = {"BRANCH_LEQ", "LEAF", "LEAF"};
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_treeids", (const int64_t[]){0, 0, 0}, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_nodeids", (const int64_t[]){0, 1, 2}, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_featureids", fid, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_truenodeids", tt, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_falsenodeids", ff, 3));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "nodes_values", (const float[]){0.5f, 0, 0}, 3));
    AIS_ASSERT_OK(ais_attrs_set_strings(a, "nodes_modes", modes, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "target_treeids", (const int64_t[]){0, 0}, 2));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "target_nodeids", (const int64_t[]){1, 2}, 2));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "target_ids", (const int64_t[]){0, 0}, 2));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "target_weights", (const float[]){1, 2}, 2));
    return a;
}

static void expect_build_error(ais_attrs *a, ais_status st, const char *needle) {
    ais__tengine *e = NULL;
    AIS_ASSERT_STATUS(ais__tengine_build(a, "target", 1, AIS__TAGG_SUM, true, &e), st);
    ais_test_assert_error_contains(needle);
    assert_null(e);
    ais_attrs_destroy(a);
}

static void test_hostile(void **state) {
    (void)state;
    const int64_t tt[] = {1, 0, 0}, ff[] = {2, 0, 0}, fid[] = {0, 0, 0};
    expect_build_error(small((const int64_t[]){0, 0, 0}, ff, fid), AIS_E_INVALID_ARGUMENT, "cycle");
    expect_build_error(small(tt, (const int64_t[]){9, 0, 0}, fid), AIS_E_INVALID_ARGUMENT,
                       "has no node 9");
    expect_build_error(small(tt, ff, (const int64_t[]){-4, 0, 0}), AIS_E_INVALID_ARGUMENT,
                       "feature -4");
    /* a longer cycle: 0 -> 1 -> 0 with 1 turned into a branch */
    {
        ais_attrs *a = small(tt, ff, fid);
        const char *modes[] = {"BRANCH_LEQ", "BRANCH_GT", "LEAF"};
        AIS_ASSERT_OK(ais_attrs_set_strings(a, "nodes_modes", modes, 3));
        AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_truenodeids", (const int64_t[]){1, 0, 0}, 3));
        AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_falsenodeids", (const int64_t[]){2, 2, 0}, 3));
        expect_build_error(a, AIS_E_INVALID_ARGUMENT, "cycle");
    }
    /* a shared child (a DAG, not a tree) is legal: generic layout, right answers */
    {
        ais_attrs *a = small(tt, (const int64_t[]){1, 0, 0}, fid);
        ais__tengine *e = NULL;
        AIS_ASSERT_OK(ais__tengine_build(a, "target", 1, AIS__TAGG_SUM, true, &e));
        assert_false(ais__tengine_fast(e));
        ais_tensor *x = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2, 1), (const double[]){0, 1});
        float y[2];
        AIS_ASSERT_OK(ais__tengine_scores(e, x, 2, 1, y, NULL));
        assert_true(y[0] == 1 && y[1] == 1);
        ais_tensor_destroy(x);
        ais__tengine_free(e);
        ais_attrs_destroy(a);
    }
    /* feature beyond X: an error at run, naming it; none for zero rows */
    {
        ais_attrs *a = small(tt, ff, (const int64_t[]){3, 0, 0});
        ais__tengine *e = NULL;
        AIS_ASSERT_OK(ais__tengine_build(a, "target", 1, AIS__TAGG_SUM, true, &e));
        assert_true(ais__tengine_fast(e));
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 2), 0, 1);
        float y[2];
        AIS_ASSERT_STATUS(ais__tengine_scores(e, x, 2, 2, y, NULL), AIS_E_SHAPE);
        ais_test_assert_error_contains("reads feature 3 but X has 2");
        AIS_ASSERT_OK(ais__tengine_scores(e, x, 0, 2, y, NULL));
        ais_tensor_destroy(x);
        ais__tengine_free(e);
        ais_attrs_destroy(a);
    }
    /* NaN and infinite thresholds, LT at -inf: the fast layout steps aside or stays exact */
    static const float odd[] = {NAN, INFINITY, -INFINITY, 3.4e38f, -3.4e38f, 1e-45f};
    for (size_t m = 0; m < 4; m++)
        for (size_t k = 0; k < AIS__ARRAY_LEN(odd); k++) {
            ais_attrs *a = small(tt, ff, fid);
            const char *modes[] = {MODES[m], "LEAF", "LEAF"};
            AIS_ASSERT_OK(ais_attrs_set_strings(a, "nodes_modes", modes, 3));
            AIS_ASSERT_OK(
                ais_attrs_set_floats(a, "nodes_values", (const float[]){odd[k], 0, 0}, 3));
            ais__tengine *e = NULL;
            AIS_ASSERT_OK(ais__tengine_build(a, "target", 1, AIS__TAGG_SUM, true, &e));
            static const double xs[] = {NAN, INFINITY, -INFINITY, 0, 3.4e38, -3.4e38, 1e-45, -0.0};
            ais_tensor *x = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(8, 1), xs);
            float y[8];
            AIS_ASSERT_OK(ais__tengine_scores(e, x, 8, 1, y, NULL));
            for (size_t r = 0; r < 8; r++) {
                double v = (float)xs[r], th = odd[k];
                bool go = isnan(v) ? false
                          : m == 0 ? v <= th
                          : m == 1 ? v < th
                          : m == 2 ? v >= th
                                   : v > th;
                if (y[r] != (go ? 1.0f : 2.0f))
                    fail_msg("mode %s threshold %g x %g: got %g", MODES[m], th, v, y[r]);
            }
            ais_tensor_destroy(x);
            ais__tengine_free(e);
            ais_attrs_destroy(a);
        }
}

/* ---- through a model and a session ---- */

static char g_path[256];

/* A model of one TreeEnsembleRegressor node 'trees' on x [N, cols]; the graph takes a. */
static ais_status load_tree_model(ais_attrs *a, size_t cols, ais_model **out) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "ai.onnx.ml", 3));
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, AIS_SHAPE(-1, (int64_t)cols), NULL);
    const char *in[] = {"x"}, *outs[] = {"y"};
    AIS_ASSERT_OK(ais__graph_add_node(g, "trees", "TreeEnsembleRegressor", "ai.onnx.ml", a, in, 1,
                                      outs, 1, NULL));
    ais_test_graph_output(g, "y");
    return ais__model_from_graph(g, NULL, out);
}

static void test_session_steady_state(void **state) {
    (void)state;
    ens_random(&g_e, 20, 5, 1, true, false);
    ais_model *m = NULL;
    AIS_ASSERT_OK(load_tree_model(ens_attrs(&g_e, "one"), 5, &m));
    ais_session *s = NULL;
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_THREADS, 2));
    AIS_ASSERT_OK(ais_session_create(m, o, &s));
    ais_options_destroy(o);
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(300, 5), -2, 2), *y = NULL;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(300, 1), &y));
    const ais_tensor *ins[1] = {x};
    AIS_ASSERT_OK(ais_session_run(s, NULL, ins, 1, NULL, &y, 1));
    float *xv = ais_tensor_data(x);
    ais_test_fill_uniform(xv, 300 * 5, -2, 2);
    for (size_t i = 0; i < 300 * 5; i += 3)
        xv[i] = NAN;
    ais_test_alloc_install(-1, false);
    ais_status st = ais_session_run(s, NULL, ins, 1, NULL, &y, 1);
    long count = ais_test_alloc_count();
    ais_test_alloc_remove();
    AIS_ASSERT_OK(st);
    assert_int_equal(count, 0);
    ais_attrs *a = ens_attrs(&g_e, "one");
    const float *yv = ais_tensor_data(y);
    for (size_t r = 0; r < 300; r++) {
        double row[5];
        for (size_t c = 0; c < 5; c++)
            row[c] = xv[r * 5 + c];
        float want;
        ref_row(&g_e, a, row, AIS__TAGG_SUM, &want);
        if (yv[r] != want) fail_msg("row %zu: %.9g, expected %.9g", r, yv[r], want);
    }
    /* the eager path (a state built for the call) agrees */
    ais_tensor *ye = NULL;
    AIS_ASSERT_OK(ais_op_run_opset("ai.onnx.ml", "TreeEnsembleRegressor", 3, a, ins, 1, &ye, 1));
    assert_memory_equal(ais_tensor_data(ye), yv, 300 * sizeof(float));
    ais_tensor_destroy(ye);
    ais_attrs_destroy(a);
    ais_tensor_destroy(x);
    ais_tensor_destroy(y);
    ais_session_destroy(s);
    ais_model_destroy(m);

    /* hostile attributes fail the load, naming the node */
    ais_model *bad = NULL;
    AIS_ASSERT_STATUS(load_tree_model(small((const int64_t[]){1, 0, 0}, (const int64_t[]){7, 0, 0},
                                            (const int64_t[]){0, 0, 0}),
                                      1, &bad),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("node 'trees'");
    ais_test_assert_error_contains("has no node 7");
    assert_null(bad);
}

/* Three single-leaf trees with the given weights, base value `base`, and aistack_accumulate
 * `acc` (NULL: none). */
static ais_attrs *leaves3(const float *w, float base, const char *acc) {
    ais_attrs *a = NULL;
    const int64_t z[3] = {0, 0, 0}, t[3] = {0, 1, 2};
    const char *modes[] = {"LEAF", "LEAF", "LEAF"};
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_treeids", t, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_nodeids", z, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_featureids", z, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_truenodeids", z, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_falsenodeids", z, 3));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "nodes_values", (const float[]){0, 0, 0}, 3));
    AIS_ASSERT_OK(ais_attrs_set_strings(a, "nodes_modes", modes, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "target_treeids", t, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "target_nodeids", z, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "target_ids", z, 3));
    /* NaN base: none (the caller adds base_values_as_tensor); then the caller gives
     * target_weights_as_tensor too */
    if (!isnan(base)) {
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "target_weights", w, 3));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "base_values", &base, 1));
    }
    if (acc) AIS_ASSERT_OK(ais_attrs_set_string(a, "aistack_accumulate", acc));
    return a;
}

/* The engine's score of one row (x = 0) with the fast layout and without. */
static void score1(ais_attrs *a, float *fast, float *gen) {
    ais_tensor *x = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(1, 1), (const double[]){0});
    ais__tengine *e = NULL;
    AIS_ASSERT_OK(ais__tengine_build(a, "target", 1, AIS__TAGG_SUM, true, &e));
    assert_true(ais__tengine_fast(e));
    AIS_ASSERT_OK(ais__tengine_scores(e, x, 1, 1, fast, NULL));
    ais__tengine_free(e);
    AIS_ASSERT_OK(ais__tengine_build(a, "target", 1, AIS__TAGG_SUM, false, &e));
    AIS_ASSERT_OK(ais__tengine_scores(e, x, 1, 1, gen, NULL));
    ais__tengine_free(e);
    ais_tensor_destroy(x);
}

static void test_float32_mode(void **state) {
    (void)state;
    /* 2^24 + 1 + 1: float adds lose each 1 (ties to even), double keeps both; and the base value
     * is where the float sum starts, not a last addend */
    const float big = 16777216.0f;
    struct {
        float w[3], base;
        const char *acc;
        float want;
    } cases[] = {
        {{big, 1, 1}, 0, NULL, big + 2},
        {{big, 1, 1}, 0, "float64", big + 2},
        {{big, 1, 1}, 0, "float32", big},
        {{1, 1, 0}, big, NULL, big + 2},
        {{1, 1, 0}, big, "float32", big},
        {{1, 1, big}, 0, "float32", big + 2},
        {{0.1f, 0.2f, 0.3f}, 0, "float32", (0.1f + 0.2f) + 0.3f},
    };
    for (size_t i = 0; i < AIS__ARRAY_LEN(cases); i++) {
        ais_attrs *a = leaves3(cases[i].w, cases[i].base, cases[i].acc);
        float yf, yg;
        score1(a, &yf, &yg);
        if (yf != cases[i].want || yg != cases[i].want)
            fail_msg("case %zu: fast %.9g generic %.9g, expected %.9g", i, yf, yg, cases[i].want);
        ais_attrs_destroy(a);
    }
    /* a double base value (base_values_as_tensor) and double weights are rounded to float
     * first */
    {
        ais_attrs *a = leaves3((const float[]){0, 0, 0}, NAN, "float32");
        ais_tensor *b = ais_test_tensor(AIS_DTYPE_F64, AIS_SHAPE(1), (const double[]){0.1});
        ais_tensor *w =
            ais_test_tensor(AIS_DTYPE_F64, AIS_SHAPE(3), (const double[]){1, 0.2, 1e-9});
        AIS_ASSERT_OK(ais_attrs_set_tensor(a, "base_values_as_tensor", b));
        AIS_ASSERT_OK(ais_attrs_set_tensor(a, "target_weights_as_tensor", w));
        ais_tensor_destroy(b);
        ais_tensor_destroy(w);
        float yf, yg, want = (((float)0.1 + 1.0f) + (float)0.2) + (float)1e-9;
        score1(a, &yf, &yg);
        if (yf != want || yg != want)
            fail_msg("double attributes: fast %.9g generic %.9g, expected %.9g", yf, yg, want);
        ais_attrs_destroy(a);
    }

    /* hostile values */
    ais__tengine *e = NULL;
    ais_attrs *a = leaves3((const float[]){1, 1, 1}, 0, "float16");
    AIS_ASSERT_STATUS(ais__tengine_build(a, "target", 1, AIS__TAGG_SUM, true, &e),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains(
        "aistack_accumulate must be \"float32\" or \"float64\", got \"float16\"");
    assert_null(e);
    AIS_ASSERT_OK(ais_attrs_set_int(a, "aistack_accumulate", 32));
    AIS_ASSERT_STATUS(ais__tengine_build(a, "target", 1, AIS__TAGG_SUM, true, &e),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("aistack_accumulate must be a string");
    AIS_ASSERT_OK(ais_attrs_set_string(a, "aistack_accumulate", "float32"));
    for (size_t g = 1; g < AIS__ARRAY_LEN(AGGS); g++) {
        AIS_ASSERT_STATUS(ais__tengine_build(a, "target", 1, AGGS[g], true, &e),
                          AIS_E_INVALID_ARGUMENT);
        ais_test_assert_error_contains("\"float32\" needs aggregate_function SUM");
        assert_null(e);
    }
    ais_attrs_destroy(a);

    /* through a model, a .ais file and the operator's prepare: the attribute is saved */
    ais_model *m = NULL;
    AIS_ASSERT_OK(load_tree_model(leaves3((const float[]){big, 1, 1}, 0, "float32"), 1, &m));
    snprintf(g_path, sizeof g_path, "test_tree_engine_f32_%ld.ais", (long)ais_test_seed());
    AIS_ASSERT_OK(ais_model_save(m, g_path, NULL));
    ais_model_destroy(m);
    m = NULL;
    AIS_ASSERT_OK(ais_model_load(g_path, NULL, &m));
    remove(g_path);
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    ais_tensor *x = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2, 1), (const double[]){0, NAN});
    ais_tensor *y = NULL;
    const ais_tensor *ins[1] = {x};
    AIS_ASSERT_OK(ais_session_run(s, NULL, ins, 1, NULL, &y, 1));
    const float *yv = ais_tensor_data(y);
    assert_true(yv[0] == big && yv[1] == big);
    ais_tensor_destroy(x);
    ais_tensor_destroy(y);
    ais_session_destroy(s);
    ais_model_destroy(m);
    /* a bad value fails the load, naming the node */
    ais_model *bad = NULL;
    AIS_ASSERT_STATUS(load_tree_model(leaves3((const float[]){1, 1, 1}, 0, "half"), 1, &bad),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("node 'trees'");
    ais_test_assert_error_contains("got \"half\"");
    assert_null(bad);
}

typedef struct sweep {
    ais_attrs *a;
    ais__tengine *e;
    ais_model *m;
} sweep;

static ais_status sweep_build(void *ctx) {
    sweep *s = ctx;
    return ais__tengine_build(s->a, "target", g_e.width, AIS__TAGG_SUM, true, &s->e);
}

static ais_status sweep_load(void *ctx) {
    sweep *s = ctx;
    return ais_model_load(g_path, NULL, &s->m);
}

static void test_oom(void **state) {
    (void)state;
    ens_random(&g_e, 6, 4, 2, true, false);
    sweep s = {.a = ens_attrs(&g_e, "all")};
    assert_true(AIS_TEST_OOM_SWEEP("tree engine build", sweep_build, &s, 200, AIS_OWN_TENGINE(&s.e),
                                   AIS_OWN_MODEL(&s.m)) >= 5);
    AIS_ASSERT_OK(ais_attrs_set_string(s.a, "aistack_accumulate", "float32"));
    assert_true(AIS_TEST_OOM_SWEEP("tree engine build, float32", sweep_build, &s, 200,
                                   AIS_OWN_TENGINE(&s.e), AIS_OWN_MODEL(&s.m)) >= 5);
    ais_attrs_destroy(s.a);
    /* the whole load of a saved model, prepare included */
    ais_model *m = NULL;
    AIS_ASSERT_OK(load_tree_model(ens_attrs(&g_e, "all"), g_e.cols, &m));
    snprintf(g_path, sizeof g_path, "test_tree_engine_%ld.ais", (long)ais_test_seed());
    AIS_ASSERT_OK(ais_model_save(m, g_path, NULL));
    ais_model_destroy(m);
    assert_true(AIS_TEST_OOM_SWEEP("tree model load", sweep_load, &s, 2000, AIS_OWN_TENGINE(&s.e),
                                   AIS_OWN_MODEL(&s.m)) >= 5);
    remove(g_path);
}

/* A new node of tree t (ens e); returns its index. */
static size_t add_node(ens *e, size_t t, const char *mode, double v, int64_t miss) {
    size_t i = e->n++;
    e->tid[i] = (int64_t)(t * 3 + 1);
    e->nid[i] = (int64_t)i;
    e->fid[i] = 0;
    e->val[i] = v;
    e->mode[i] = mode;
    e->miss[i] = miss;
    e->tt[i] = e->ff[i] = 0;
    return i;
}

static void add_leaf_weight(ens *e, size_t i, float w) {
    size_t k = e->nw++;
    e->wt[k] = e->tid[i];
    e->wn[k] = e->nid[i];
    e->wi[k] = 0;
    e->ww[k] = w;
}

/*
 * Thresholds exactly at and around float rounding boundaries, every split mode with both missing
 * directions, x at each threshold, its double and float neighbours, NaN, +-0 and +-inf, as f32,
 * f64 and i64 inputs: the fast layout (rounded float thresholds for f32, ranks otherwise) takes
 * every decision the double comparison takes. One stump per (mode, missing direction) adds 2^j
 * when its test holds, so that the sum names every decision.
 */
static void test_boundaries(void **state) {
    (void)state;
    const double one_up = (double)nextafterf(1.0f, INFINITY);
    const double THRS[] = {1.0,
                           (1.0 + one_up) / 2, /* halfway between two floats */
                           nextafter(1.0, INFINITY),
                           nextafter(1.0, -INFINITY),
                           nextafter(one_up, -INFINITY),
                           0.1,
                           -0.1,
                           0.0,
                           -0.0,
                           0.7e-45, /* between float 0 and the smallest subnormal */
                           1e39,    /* above FLT_MAX */
                           -1e39,
                           (double)FLT_MAX,
                           16777217.0, /* 2^24 + 1: no float */
                           -2.5,
                           INFINITY,
                           -INFINITY};
    static const char *const M4[] = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"};
    static double xd[64];
    static float xf[64], y[64], want[64];
    static int64_t xi[64];
    size_t fast_seen = 0;
    for (size_t ti = 0; ti < AIS__ARRAY_LEN(THRS); ti++) {
        double t = THRS[ti];
        memset(&g_e, 0, sizeof g_e);
        g_e.width = 1;
        g_e.cols = 1;
        g_e.dbl = true;
        for (size_t j = 0; j < 8; j++) {
            size_t r = add_node(&g_e, j, M4[j / 2], t, (int64_t)(j % 2));
            size_t a = add_node(&g_e, j, "LEAF", 0, 0), b = add_node(&g_e, j, "LEAF", 0, 0);
            g_e.tt[r] = g_e.nid[a];
            g_e.ff[r] = g_e.nid[b];
            add_leaf_weight(&g_e, a, (float)(1 << j));
            g_e.root[j] = g_e.nid[r];
        }
        g_e.n_trees = 8;
        ais_attrs *a = ens_attrs(&g_e, NULL);
        ais__tengine *e = NULL;
        AIS_ASSERT_OK(ais__tengine_build(a, "target", 1, AIS__TAGG_SUM, true, &e));
        /* x < -inf cannot be said as x > T with a float T: only those keep the generic walk */
        bool may_fast = t != -INFINITY;
        assert_int_equal(ais__tengine_fast(e), may_fast);
        assert_int_equal(ais__tengine_rank(e), may_fast);
        fast_seen += ais__tengine_fast(e);
        float f = (float)t;
        double xs[] = {t,
                       nextafter(t, INFINITY),
                       nextafter(t, -INFINITY),
                       (double)f,
                       (double)nextafterf(f, INFINITY),
                       (double)nextafterf(f, -INFINITY),
                       NAN,
                       INFINITY,
                       -INFINITY,
                       0.0,
                       -0.0,
                       1.0,
                       -1.0,
                       (double)FLT_MAX,
                       -(double)FLT_MAX};
        size_t n = AIS__ARRAY_LEN(xs);
        for (int dt = 0; dt < 3; dt++) {
            ais_dtype d = dt == 0 ? AIS_DTYPE_F32 : dt == 1 ? AIS_DTYPE_F64 : AIS_DTYPE_I64;
            for (size_t i = 0; i < n; i++) {
                if (dt == 0) xd[i] = (double)(xf[i] = (float)xs[i]);
                if (dt == 1) xd[i] = xs[i];
                if (dt == 2) { /* integers near the threshold, and the extremes */
                    double c = isfinite(t) && fabs(t) < 1e18 ? floor(t) : 0;
                    xi[i] = i == n - 1   ? INT64_MAX
                            : i == n - 2 ? INT64_MIN
                                         : (int64_t)c + (int64_t)i - 7;
                    xd[i] = (double)xi[i];
                }
                ref_row(&g_e, a, xd + i, AIS__TAGG_SUM, want + i);
            }
            const void *src = dt == 0 ? (const void *)xf : dt == 1 ? (const void *)xd : xi;
            ais_tensor *x = NULL;
            AIS_ASSERT_OK(ais_tensor_create(d, AIS_SHAPE((int64_t)n, 1), &x));
            memcpy(ais_tensor_data(x), src, n * ais_dtype_size(d));
            for (int simd = 0; simd < 2; simd++)
                for (size_t small = 0; small <= 64; small += 64) {
                    ais__tengine_tune(e, simd, small, true);
                    memset(y, 0, sizeof y);
                    AIS_ASSERT_OK(ais__tengine_scores(e, x, n, 1, y, NULL));
                    char what[96];
                    snprintf(what, sizeof what, "threshold %.17g %s simd %d small %zu", t,
                             ais_dtype_name(d), simd, small);
                    assert_same_floats(y, want, n, what);
                }
            ais_tensor_destroy(x);
        }
        ais__tengine_free(e);
        ais_attrs_destroy(a);
    }
    assert_true(fast_seen == AIS__ARRAY_LEN(THRS) - 1);
}

/* A tree of 2^d leaves at depth d with one leaf replaced by a chain `tail` levels deeper, all
 * on random features and thresholds: what leaf-wise growth (HistGradientBoosting, LightGBM)
 * makes, deeper than its average path. */
static size_t grow_lopsided(ens *e, size_t t, int depth, int d, int tail, bool chain) {
    bool inner = depth < d || (chain && depth < d + tail);
    size_t i = add_node(e, t, inner ? MODES[ais_test_randint(0, 3)] : "LEAF",
                        THR[ais_test_randint(0, AIS__ARRAY_LEN(THR) - 1)], ais_test_randint(0, 1));
    if (!inner) {
        add_leaf_weight(e, i, (float)ais_test_uniform(-1, 1));
        return i;
    }
    e->fid[i] = ais_test_randint(0, (int64_t)e->cols - 1);
    size_t l = grow_lopsided(e, t, depth + 1, d, tail, chain);
    size_t r = grow_lopsided(e, t, depth + 1, d, tail, false);
    e->tt[i] = e->nid[l];
    e->ff[i] = e->nid[r];
    return i;
}

/*
 * Leaf-wise grown trees (a complete tree of depth 4 with one chain 5 levels deeper, so 12 times
 * more padded leaves than nodes, as the HistGradientBoosting exports have): the fast layout is
 * built (the padding allowance) and agrees with the reference on f32 and f64 inputs.
 */
static void test_lopsided(void **state) {
    (void)state;
    static double xd[300 * 5];
    static float xf[300 * 5], y[300], want[300];
    memset(&g_e, 0, sizeof g_e);
    g_e.width = 1;
    g_e.cols = 5;
    g_e.dbl = true;
    g_e.n_trees = 40;
    for (size_t t = 0; t < g_e.n_trees; t++)
        g_e.root[t] = g_e.nid[grow_lopsided(&g_e, t, 0, 4, 5, true)];
    ais_attrs *a = ens_attrs(&g_e, "one");
    ais__tengine *e = NULL;
    AIS_ASSERT_OK(ais__tengine_build(a, "target", 1, AIS__TAGG_SUM, true, &e));
    assert_true(ais__tengine_fast(e));
    assert_true(ais__tengine_rank(e));
    size_t rows = 300;
    for (int f64 = 0; f64 < 2; f64++) {
        for (size_t i = 0; i < rows * g_e.cols; i++) {
            xd[i] = pick_x(&g_e, f64);
            if (!f64) xd[i] = (double)(xf[i] = (float)xd[i]);
        }
        for (size_t r = 0; r < rows; r++)
            ref_row(&g_e, a, xd + r * g_e.cols, AIS__TAGG_SUM, want + r);
        ais_tensor *x = ais_test_tensor(f64 ? AIS_DTYPE_F64 : AIS_DTYPE_F32,
                                        AIS_SHAPE((int64_t)rows, (int64_t)g_e.cols), xd);
        AIS_ASSERT_OK(ais__tengine_scores(e, x, rows, g_e.cols, y, NULL));
        assert_same_floats(y, want, rows, f64 ? "lopsided f64" : "lopsided f32");
        ais_tensor_destroy(x);
    }
    ais__tengine_free(e);
    ais_attrs_destroy(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_ensembles),
        cmocka_unit_test(test_small_batches),
        cmocka_unit_test(test_threads_large),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_lopsided),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_float32_mode),
        cmocka_unit_test(test_session_steady_state),
        cmocka_unit_test(test_oom),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
