/*
 * test_ops_ml.c - the ai.onnx.ml operators against naive references written here: random tree
 * ensembles evaluated by walking the attribute arrays with linear searches, linear models as
 * plain loops, and the preprocessing operators element by element. Hostile attributes (arrays
 * of mismatched lengths, dangling node references, cycles) must give errors.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/op.h"
#include "test_util.h"

#define ML "ai.onnx.ml"

static ais_status run_ml(const char *op, const ais_attrs *a, const ais_tensor *const *in,
                         size_t n_in, ais_tensor **out, size_t n_out) {
    for (size_t i = 0; i < n_out; i++)
        out[i] = NULL;
    return ais_op_run_opset(ML, op, 3, a, in, n_in, out, n_out);
}

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

/* sqrt(2) * erfinv(2p - 1) by bisection on erf: independent of the kernel's approximation. */
static double probit_ref(double p) {
    double lo = -10, hi = 10, t = 2 * p - 1;
    for (int i = 0; i < 200; i++) {
        double mid = (lo + hi) / 2;
        if (erf(mid) < t)
            lo = mid;
        else
            hi = mid;
    }
    return sqrt(2.0) * (lo + hi) / 2;
}

/* post: 0 NONE, 1 SOFTMAX, 2 LOGISTIC, 3 SOFTMAX_ZERO, 4 PROBIT */
static const char *const POSTS[] = {"NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"};

static void post_ref(int post, double *s, size_t n) {
    if (post == 1 || post == 3) {
        double m = s[0], sum = 0;
        for (size_t i = 1; i < n; i++)
            m = fmax(m, s[i]);
        for (size_t i = 0; i < n; i++) {
            s[i] = (post == 3 && s[i] == 0) ? 0 : exp(s[i] - m);
            sum += s[i];
        }
        for (size_t i = 0; i < n; i++)
            s[i] = sum == 0 ? 0.5 : s[i] / sum;
    } else if (post == 2) {
        for (size_t i = 0; i < n; i++)
            s[i] = sigmoid(s[i]);
    } else if (post == 4) {
        for (size_t i = 0; i < n; i++)
            s[i] = probit_ref(s[i]);
    }
}

/* ---- linear models ---- */

static void test_linear_regressor(void **state) {
    (void)state;
    for (int iter = 0; iter < 20; iter++) {
        size_t n = (size_t)ais_test_randint(1, 9), c = (size_t)ais_test_randint(1, 7);
        size_t t = (size_t)ais_test_randint(1, 3);
        float coef[3 * 7], icpt[3];
        ais_test_fill_uniform(coef, t * c, -2, 2);
        ais_test_fill_uniform(icpt, t, -1, 1);
        ais_attrs *a;
        AIS_ASSERT_OK(ais_attrs_create(&a));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", coef, t * c));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "intercepts", icpt, t));
        AIS_ASSERT_OK(ais_attrs_set_int(a, "targets", (int64_t)t));
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE((int64_t)n, (int64_t)c), -3, 3);
        ais_tensor *y;
        AIS_ASSERT_OK(run_ml("LinearRegressor", a, (const ais_tensor *const[]){x}, 1, &y, 1));
        double want[9 * 3];
        const float *xv = ais_tensor_data(x);
        for (size_t r = 0; r < n; r++)
            for (size_t k = 0; k < t; k++) {
                double s = icpt[k];
                for (size_t j = 0; j < c; j++)
                    s += (double)coef[k * c + j] * xv[r * c + j];
                want[r * t + k] = s;
            }
        assert_int_equal(ais_tensor_ndim(y), 2);
        assert_int_equal(ais_tensor_shape(y)[1], (int64_t)t);
        ais_test_assert_close_values(y, want, n * t, 1e-5, 1e-5);
        ais_tensor_destroy(y);
        /* targets disagreeing with the coefficients */
        AIS_ASSERT_OK(ais_attrs_set_int(a, "targets", (int64_t)t + 1));
        AIS_ASSERT_STATUS(run_ml("LinearRegressor", a, (const ais_tensor *const[]){x}, 1, &y, 1),
                          AIS_E_SHAPE);
        ais_test_assert_error_contains("targets");
        ais_tensor_destroy(x);
        ais_attrs_destroy(a);
    }
}

static void test_linear_classifier(void **state) {
    (void)state;
    for (int iter = 0; iter < 40; iter++) {
        int post = (int)ais_test_randint(0, 4);
        bool binary = iter % 3 == 0;
        size_t n = (size_t)ais_test_randint(1, 8), c = (size_t)ais_test_randint(1, 6);
        size_t e = binary ? 1 : (size_t)ais_test_randint(2, 4);
        size_t w = binary ? 2 : e;
        float coef[4 * 6], icpt[4];
        ais_test_fill_uniform(coef, e * c, -1, 1);
        ais_test_fill_uniform(icpt, e, -0.5f, 0.5f);
        int64_t labels[4] = {7, -3, 11, 5};
        ais_attrs *a;
        AIS_ASSERT_OK(ais_attrs_create(&a));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", coef, e * c));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "intercepts", icpt, e));
        AIS_ASSERT_OK(ais_attrs_set_ints(a, "classlabels_ints", labels, w));
        AIS_ASSERT_OK(ais_attrs_set_string(a, "post_transform", POSTS[post]));
        /* PROBIT takes probabilities: keep scores inside (0, 1) */
        float lo = post == 4 ? 0.05f : -2, hi = post == 4 ? 0.2f : 2;
        if (post == 4) {
            for (size_t i = 0; i < e * c; i++)
                coef[i] = fabsf(coef[i]) / (float)c * 0.5f;
            for (size_t i = 0; i < e; i++)
                icpt[i] = 0.1f;
            AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", coef, e * c));
            AIS_ASSERT_OK(ais_attrs_set_floats(a, "intercepts", icpt, e));
            if (binary) { /* -s is no probability */
                ais_attrs_destroy(a);
                continue;
            }
        }
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE((int64_t)n, (int64_t)c), lo, hi);
        ais_tensor *out[2];
        AIS_ASSERT_OK(run_ml("LinearClassifier", a, (const ais_tensor *const[]){x}, 1, out, 2));
        const float *xv = ais_tensor_data(x);
        double want[8 * 4];
        for (size_t r = 0; r < n; r++) {
            double s[4];
            for (size_t k = 0; k < e; k++) {
                s[k] = icpt[k];
                for (size_t j = 0; j < c; j++)
                    s[k] += (double)coef[k * c + j] * xv[r * c + j];
            }
            if (binary) {
                s[1] = s[0];
                s[0] = -s[1];
            }
            post_ref(post, s, w);
            size_t best = 0;
            for (size_t k = 0; k < w; k++) {
                want[r * w + k] = s[k];
                if (s[k] > s[best]) best = k;
            }
            assert_int_equal(((const int64_t *)ais_tensor_data(out[0]))[r], labels[best]);
        }
        ais_test_assert_close_values(out[1], want, n * w, post == 4 ? 5e-3 : 1e-5,
                                     post == 4 ? 5e-3 : 1e-6);
        ais_tensor_destroy(out[0]);
        ais_tensor_destroy(out[1]);
        ais_tensor_destroy(x);
        ais_attrs_destroy(a);
    }
}

static void test_linear_string_labels_and_errors(void **state) {
    (void)state;
    const float coef[6] = {1, 0, 0, 1, -1, -1};
    const char *names[3] = {"setosa", "versicolor", "virginica"};
    ais_attrs *a;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "coefficients", coef, 6));
    AIS_ASSERT_OK(ais_attrs_set_strings(a, "classlabels_strings", names, 3));
    ais_tensor *x =
        ais_test_tensor(AIS_DTYPE_F64, AIS_SHAPE(3, 2), (const double[]){5, 1, 1, 5, -2, -3});
    ais_tensor *out[2];
    AIS_ASSERT_OK(run_ml("LinearClassifier", a, (const ais_tensor *const[]){x}, 1, out, 2));
    assert_int_equal(ais_tensor_dtype(out[0]), AIS_DTYPE_STRING);
    assert_string_equal(ais_tensor_string_at(out[0], 0), "setosa");
    assert_string_equal(ais_tensor_string_at(out[0], 1), "versicolor");
    assert_string_equal(ais_tensor_string_at(out[0], 2), "virginica");
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    ais_tensor_destroy(x);
    /* 6 coefficients for 4 features */
    x = ais_test_rand_f32(AIS_SHAPE(2, 4), 0, 1);
    AIS_ASSERT_STATUS(run_ml("LinearClassifier", a, (const ais_tensor *const[]){x}, 1, out, 2),
                      AIS_E_SHAPE);
    ais_test_assert_error_contains("multiple of the 4 features");
    ais_tensor_destroy(x);
    x = ais_test_rand_f32(AIS_SHAPE(2, 3), 0, 1);
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "intercepts", coef, 3));
    AIS_ASSERT_STATUS(run_ml("LinearClassifier", a, (const ais_tensor *const[]){x}, 1, out, 2),
                      AIS_E_SHAPE);
    ais_test_assert_error_contains("3 intercepts for 2 rows");
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "intercepts", coef, 2));
    AIS_ASSERT_OK(ais_attrs_set_string(a, "post_transform", "SIGMOID"));
    AIS_ASSERT_STATUS(run_ml("LinearClassifier", a, (const ais_tensor *const[]){x}, 1, out, 2),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("post_transform");
    ais_tensor_destroy(x);
    ais_tensor *s;
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(1, 3), names, &s));
    AIS_ASSERT_STATUS(run_ml("LinearClassifier", a, (const ais_tensor *const[]){s}, 1, out, 2),
                      AIS_E_DTYPE);
    ais_tensor_destroy(s);
    ais_attrs_destroy(a);
}

/* ---- tree ensembles ---- */

#define MAXN 256
#define MAXW 1024

typedef struct trees {
    size_t n, nw;
    int64_t tid[MAXN], nid[MAXN], fid[MAXN], tt[MAXN], ff[MAXN], miss[MAXN];
    float val[MAXN];
    const char *mode[MAXN];
    int64_t wt[MAXW], wn[MAXW], wi[MAXW];
    float ww[MAXW];
    size_t n_trees, width;
} trees;

static const char *const MODES[] = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE",
                                    "BRANCH_GT",  "BRANCH_EQ", "BRANCH_NEQ"};
static const float GRID[] = {-1, -0.5f, 0, 0.5f, 1};

static void swap_nodes(trees *tr, size_t i, size_t j) {
#define SWAP(f)                                                                                    \
    do {                                                                                           \
        tmp.f[0] = tr->f[i];                                                                       \
        tr->f[i] = tr->f[j];                                                                       \
        tr->f[j] = tmp.f[0];                                                                       \
    } while (0)
    static trees tmp;
    SWAP(tid);
    SWAP(nid);
    SWAP(fid);
    SWAP(tt);
    SWAP(ff);
    SWAP(miss);
    SWAP(val);
    SWAP(mode);
#undef SWAP
}

/* Random complete trees (heap numbering, node id = 3 * heap + 7, tree id = 5 * t + 2); roots
 * first in attribute order, the other nodes shuffled; every leaf has a weight per output. */
static void trees_random(trees *tr, size_t n_trees, size_t cols, size_t width) {
    memset(tr, 0, sizeof *tr);
    tr->n_trees = n_trees;
    tr->width = width;
    for (size_t t = 0; t < n_trees; t++) {
        int depth = (int)ais_test_randint(0, 3);
        size_t internal = ((size_t)1 << depth) - 1, total = ((size_t)2 << depth) - 1;
        for (size_t h = 0; h < total; h++) {
            size_t i = tr->n++;
            tr->tid[i] = (int64_t)(5 * t + 2);
            tr->nid[i] = (int64_t)(3 * h + 7);
            tr->miss[i] = ais_test_randint(0, 1);
            if (h < internal) {
                tr->mode[i] = MODES[ais_test_randint(0, 5)];
                tr->fid[i] = ais_test_randint(0, (int64_t)cols - 1);
                tr->val[i] = GRID[ais_test_randint(0, 4)] + (ais_test_randint(0, 1) ? 0.25f : 0);
                tr->tt[i] = (int64_t)(3 * (2 * h + 1) + 7);
                tr->ff[i] = (int64_t)(3 * (2 * h + 2) + 7);
            } else {
                tr->mode[i] = "LEAF";
                for (size_t k = 0; k < width; k++) {
                    size_t w = tr->nw++;
                    tr->wt[w] = tr->tid[i];
                    tr->wn[w] = tr->nid[i];
                    tr->wi[w] = (int64_t)k;
                    tr->ww[w] = (float)ais_test_uniform(-1, 1);
                }
            }
        }
    }
    /* roots to the front (a root has heap index 0: node id 7), the rest shuffled */
    size_t first = 0;
    for (size_t i = 0; i < tr->n; i++)
        if (tr->nid[i] == 7) swap_nodes(tr, first++, i);
    for (size_t i = tr->n - 1; i > first; i--)
        swap_nodes(tr, i, first + (size_t)ais_test_randint(0, (int64_t)(i - first)));
}

static void trees_attrs(const trees *tr, ais_attrs *a, const char *prefix) {
    char nm[64];
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_treeids", tr->tid, tr->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_nodeids", tr->nid, tr->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_featureids", tr->fid, tr->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_truenodeids", tr->tt, tr->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_falsenodeids", tr->ff, tr->n));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_missing_value_tracks_true", tr->miss, tr->n));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "nodes_values", tr->val, tr->n));
    AIS_ASSERT_OK(ais_attrs_set_strings(a, "nodes_modes", tr->mode, tr->n));
    snprintf(nm, sizeof nm, "%s_treeids", prefix);
    AIS_ASSERT_OK(ais_attrs_set_ints(a, nm, tr->wt, tr->nw));
    snprintf(nm, sizeof nm, "%s_nodeids", prefix);
    AIS_ASSERT_OK(ais_attrs_set_ints(a, nm, tr->wn, tr->nw));
    snprintf(nm, sizeof nm, "%s_ids", prefix);
    AIS_ASSERT_OK(ais_attrs_set_ints(a, nm, tr->wi, tr->nw));
    snprintf(nm, sizeof nm, "%s_weights", prefix);
    AIS_ASSERT_OK(ais_attrs_set_floats(a, nm, tr->ww, tr->nw));
}

static size_t find_node(const trees *tr, int64_t tid, int64_t nid) {
    for (size_t i = 0; i < tr->n; i++)
        if (tr->tid[i] == tid && tr->nid[i] == nid) return i;
    fail_msg("node %lld of tree %lld missing in the test's own trees", (long long)nid,
             (long long)tid);
    return 0;
}

/* Per tree (in tree id order), the leaf reached by row x: accumulate into out per agg. */
static void trees_ref(const trees *tr, const float *x, int agg, const float *base, double *out) {
    bool seen[8] = {0};
    for (size_t k = 0; k < tr->width; k++)
        out[k] = 0;
    for (size_t t = 0; t < tr->n_trees; t++) {
        size_t i = find_node(tr, (int64_t)(5 * t + 2), 7);
        while (strcmp(tr->mode[i], "LEAF") != 0) {
            float v = x[tr->fid[i]], th = tr->val[i];
            bool go;
            const char *m = tr->mode[i];
            if (isnan(v)) /* NaN != v holds: NEQ goes true whatever the flag */
                go = tr->miss[i] != 0 || !strcmp(m, "BRANCH_NEQ");
            else if (!strcmp(m, "BRANCH_LEQ"))
                go = v <= th;
            else if (!strcmp(m, "BRANCH_LT"))
                go = v < th;
            else if (!strcmp(m, "BRANCH_GTE"))
                go = v >= th;
            else if (!strcmp(m, "BRANCH_GT"))
                go = v > th;
            else if (!strcmp(m, "BRANCH_EQ"))
                go = v == th;
            else
                go = v != th;
            i = find_node(tr, tr->tid[i], go ? tr->tt[i] : tr->ff[i]);
        }
        for (size_t w = 0; w < tr->nw; w++) {
            if (tr->wt[w] != tr->tid[i] || tr->wn[w] != tr->nid[i]) continue;
            size_t k = (size_t)tr->wi[w];
            double v = tr->ww[w];
            if (agg == 2)
                out[k] = seen[k] ? fmin(out[k], v) : v;
            else if (agg == 3)
                out[k] = seen[k] ? fmax(out[k], v) : v;
            else
                out[k] += v;
            seen[k] = true;
        }
    }
    for (size_t k = 0; k < tr->width; k++) {
        if (agg == 1) out[k] /= (double)tr->n_trees;
        if (base) out[k] += base[k];
    }
}

static ais_tensor *grid_x(size_t n, size_t c) {
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE((int64_t)n, (int64_t)c), 0, 1);
    float *v = ais_tensor_data(x);
    for (size_t i = 0; i < n * c; i++)
        v[i] = ais_test_randint(0, 9) == 0 ? NAN : GRID[ais_test_randint(0, 4)];
    return x;
}

static trees g_tr; /* large: not on the stack */

static void test_tree_regressor(void **state) {
    (void)state;
    static const char *const AGG[] = {"SUM", "AVERAGE", "MIN", "MAX"};
    for (int iter = 0; iter < 40; iter++) {
        size_t c = (size_t)ais_test_randint(1, 5), width = (size_t)ais_test_randint(1, 3);
        size_t nt = (size_t)ais_test_randint(1, 6), n = (size_t)ais_test_randint(1, 12);
        int agg = iter % 4;
        trees_random(&g_tr, nt, c, width);
        float base[3];
        ais_test_fill_uniform(base, width, -1, 1);
        ais_attrs *a;
        AIS_ASSERT_OK(ais_attrs_create(&a));
        trees_attrs(&g_tr, a, "target");
        AIS_ASSERT_OK(ais_attrs_set_int(a, "n_targets", (int64_t)width));
        AIS_ASSERT_OK(ais_attrs_set_string(a, "aggregate_function", AGG[agg]));
        bool use_base = iter % 2 == 0;
        if (use_base) {
            if (iter % 8 == 0) { /* version 3: base_values_as_tensor (double) */
                ais_tensor *bt = ais_test_tensor(AIS_DTYPE_F64, AIS_SHAPE((int64_t)width),
                                                 (const double[]){base[0], base[1], base[2]});
                AIS_ASSERT_OK(ais_attrs_set_tensor(a, "base_values_as_tensor", bt));
                ais_tensor_destroy(bt);
            } else {
                AIS_ASSERT_OK(ais_attrs_set_floats(a, "base_values", base, width));
            }
        }
        ais_tensor *x = grid_x(n, c), *y;
        AIS_ASSERT_OK(run_ml("TreeEnsembleRegressor", a, (const ais_tensor *const[]){x}, 1, &y, 1));
        double want[12 * 3];
        for (size_t r = 0; r < n; r++)
            trees_ref(&g_tr, (const float *)ais_tensor_data(x) + r * c, agg, use_base ? base : NULL,
                      want + r * width);
        ais_test_assert_close_values(y, want, n * width, 1e-5, 1e-5);
        ais_tensor_destroy(y);
        ais_tensor_destroy(x);
        ais_attrs_destroy(a);
    }
}

static void test_tree_classifier(void **state) {
    (void)state;
    const int64_t labels[4] = {10, 20, 30, 40};
    for (int iter = 0; iter < 40; iter++) {
        size_t c = (size_t)ais_test_randint(1, 5), width = (size_t)ais_test_randint(2, 4);
        size_t nt = (size_t)ais_test_randint(1, 6), n = (size_t)ais_test_randint(1, 12);
        bool binary = iter % 4 == 0;
        int post = binary ? 2 : (int)ais_test_randint(0, 3);
        trees_random(&g_tr, nt, c, binary ? 1 : width);
        if (binary) width = 2;
        float base[4];
        ais_test_fill_uniform(base, 4, -1, 1);
        ais_attrs *a;
        AIS_ASSERT_OK(ais_attrs_create(&a));
        trees_attrs(&g_tr, a, "class");
        AIS_ASSERT_OK(ais_attrs_set_ints(a, "classlabels_int64s", labels, width));
        AIS_ASSERT_OK(ais_attrs_set_string(a, "post_transform", POSTS[post]));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "base_values", base, binary ? 1 : width));
        ais_tensor *x = grid_x(n, c), *out[2];
        AIS_ASSERT_OK(
            run_ml("TreeEnsembleClassifier", a, (const ais_tensor *const[]){x}, 1, out, 2));
        double want[12 * 4];
        for (size_t r = 0; r < n; r++) {
            double s[4];
            trees_ref(&g_tr, (const float *)ais_tensor_data(x) + r * c, 0, base, s);
            if (binary) {
                s[1] = s[0];
                s[0] = -s[1];
            }
            post_ref(post, s, width);
            size_t best = 0;
            for (size_t k = 0; k < width; k++) {
                want[r * width + k] = s[k];
                if (s[k] > s[best]) best = k;
            }
            assert_int_equal(((const int64_t *)ais_tensor_data(out[0]))[r], labels[best]);
        }
        ais_test_assert_close_values(out[1], want, n * width, 1e-5, 1e-5);
        ais_tensor_destroy(out[0]);
        ais_tensor_destroy(out[1]);
        ais_tensor_destroy(x);
        ais_attrs_destroy(a);
    }
}

/* A valid one-split tree, then one broken attribute at a time. */
static ais_attrs *small_tree(void) {
    ais_attrs *a;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    trees *t = &g_tr;
    memset(t, 0, sizeof *t);
    t->n = 3;
    t->n_trees = 1;
    t->width = 1;
    const char *modes[3] = {"BRANCH_LEQ", "LEAF", "LEAF"};
    for (size_t i = 0; i < 3; i++) {
        t->nid[i] = (int64_t)i;
        t->mode[i] = modes[i];
    }
    t->tt[0] = 1;
    t->ff[0] = 2;
    t->val[0] = 0.5f;
    t->nw = 2;
    t->wn[0] = 1;
    t->wn[1] = 2;
    t->ww[0] = 1;
    t->ww[1] = 2;
    trees_attrs(t, a, "target");
    return a;
}

static void expect_tree_error(ais_attrs *a, ais_status st, const char *needle) {
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 2), 0, 1), *y = NULL;
    AIS_ASSERT_STATUS(run_ml("TreeEnsembleRegressor", a, (const ais_tensor *const[]){x}, 1, &y, 1),
                      st);
    ais_test_assert_error_contains(needle);
    assert_null(y);
    ais_tensor_destroy(x);
    ais_attrs_destroy(a);
}

static void test_tree_hostile_attributes(void **state) {
    (void)state;
    ais_attrs *a = small_tree();
    ais_tensor *x = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2, 1), (const double[]){0.1, 0.9});
    ais_tensor *y;
    AIS_ASSERT_OK(run_ml("TreeEnsembleRegressor", a, (const ais_tensor *const[]){x}, 1, &y, 1));
    ais_test_assert_close_values(y, (const double[]){1, 2}, 2, 0, 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);
    ais_attrs_destroy(a);

    a = small_tree();
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_truenodeids", g_tr.tt, 2));
    expect_tree_error(a, AIS_E_SHAPE, "nodes_truenodeids has 2 values, expected 3");
    a = small_tree();
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "nodes_values", g_tr.val, 4));
    expect_tree_error(a, AIS_E_SHAPE, "nodes_values has 4 values");
    a = small_tree();
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "target_ids", g_tr.wi, 1));
    expect_tree_error(a, AIS_E_SHAPE, "target_ids has 1 values, expected 2");
    a = small_tree();
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_missing_value_tracks_true", g_tr.miss, 5));
    expect_tree_error(a, AIS_E_SHAPE, "nodes_missing_value_tracks_true");
    a = small_tree();
    g_tr.tt[0] = 9;
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_truenodeids", g_tr.tt, 3));
    expect_tree_error(a, AIS_E_INVALID_ARGUMENT, "has no node 9");
    a = small_tree();
    g_tr.ff[0] = 0; /* the root's false branch is the root itself */
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_falsenodeids", g_tr.ff, 3));
    {
        ais_tensor *xx = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(1, 1), (const double[]){0.9});
        AIS_ASSERT_STATUS(
            run_ml("TreeEnsembleRegressor", a, (const ais_tensor *const[]){xx}, 1, &y, 1),
            AIS_E_INVALID_ARGUMENT);
        ais_test_assert_error_contains("cycle");
        ais_tensor_destroy(xx);
        ais_attrs_destroy(a);
    }
    a = small_tree();
    g_tr.fid[0] = 5;
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_featureids", g_tr.fid, 3));
    expect_tree_error(a, AIS_E_SHAPE, "reads feature 5 but X has 2");
    a = small_tree();
    g_tr.fid[0] = -1;
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_featureids", g_tr.fid, 3));
    expect_tree_error(a, AIS_E_INVALID_ARGUMENT, "feature -1");
    a = small_tree();
    g_tr.mode[1] = "BRANCH_WHATEVER";
    AIS_ASSERT_OK(ais_attrs_set_strings(a, "nodes_modes", g_tr.mode, 3));
    expect_tree_error(a, AIS_E_INVALID_ARGUMENT, "unknown node mode 'BRANCH_WHATEVER'");
    a = small_tree();
    g_tr.nid[2] = 1;
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "nodes_nodeids", g_tr.nid, 3));
    expect_tree_error(a, AIS_E_INVALID_ARGUMENT, "node 1 twice");
    a = small_tree();
    g_tr.wi[1] = 3;
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "target_ids", g_tr.wi, 2));
    expect_tree_error(a, AIS_E_INVALID_ARGUMENT, "output 3 but there are 1");
    a = small_tree();
    g_tr.wn[1] = 77;
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "target_nodeids", g_tr.wn, 2));
    expect_tree_error(a, AIS_E_INVALID_ARGUMENT, "has no node 77");
    a = small_tree();
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "base_values", g_tr.val, 3));
    expect_tree_error(a, AIS_E_SHAPE, "3 base_values for 1 outputs");
    a = small_tree();
    AIS_ASSERT_OK(ais_attrs_set_string(a, "aggregate_function", "MEDIAN"));
    expect_tree_error(a, AIS_E_INVALID_ARGUMENT, "aggregate_function");
    a = small_tree();
    AIS_ASSERT_OK(ais_attrs_set_int(a, "n_targets", 0));
    expect_tree_error(a, AIS_E_INVALID_ARGUMENT, "n_targets");
    a = small_tree();
    ais_tensor *bad = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(3), (const double[]){1, 2, 3});
    AIS_ASSERT_OK(ais_attrs_set_tensor(a, "base_values_as_tensor", bad));
    ais_tensor_destroy(bad);
    expect_tree_error(a, AIS_E_DTYPE, "base_values_as_tensor must be float or double");
    /* the classifier's string labels */
    ais_attrs_destroy(small_tree()); /* g_tr back to the valid tree */
    AIS_ASSERT_OK(ais_attrs_create(&a));
    g_tr.wi[0] = 0;
    g_tr.wi[1] = 1;
    trees_attrs(&g_tr, a, "class");
    const char *names[2] = {"no", "yes"};
    AIS_ASSERT_OK(ais_attrs_set_strings(a, "classlabels_strings", names, 2));
    x = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(3, 1), (const double[]){0.1, 0.9, NAN});
    ais_tensor *out[2];
    AIS_ASSERT_OK(run_ml("TreeEnsembleClassifier", a, (const ais_tensor *const[]){x}, 1, out, 2));
    /* leaf 1 (x <= 0.5) gives class 0 weight 1; leaf 2 gives class 1 weight 2; NaN goes false */
    assert_string_equal(ais_tensor_string_at(out[0], 0), "no");
    assert_string_equal(ais_tensor_string_at(out[0], 1), "yes");
    assert_string_equal(ais_tensor_string_at(out[0], 2), "yes");
    ais_tensor_destroy(out[0]);
    ais_tensor_destroy(out[1]);
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "classlabels_int64s", (const int64_t[]){1, 2}, 2));
    AIS_ASSERT_STATUS(
        run_ml("TreeEnsembleClassifier", a, (const ais_tensor *const[]){x}, 1, out, 2),
        AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("only one of");
    ais_tensor_destroy(x);
    ais_attrs_destroy(a);
}

/* ---- preprocessing ---- */

static void test_scaler_normalizer_binarizer(void **state) {
    (void)state;
    for (int iter = 0; iter < 10; iter++) {
        size_t n = (size_t)ais_test_randint(1, 6), c = (size_t)ais_test_randint(1, 5);
        ais_tensor *x = ais_test_rand_f32(AIS_SHAPE((int64_t)n, (int64_t)c), -3, 3), *y;
        const float *xv = ais_tensor_data(x);
        float off[5], sc[5];
        ais_test_fill_uniform(off, c, -1, 1);
        ais_test_fill_uniform(sc, c, 0.5f, 2);
        bool one = iter % 3 == 0;
        ais_attrs *a;
        AIS_ASSERT_OK(ais_attrs_create(&a));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "offset", off, one ? 1 : c));
        AIS_ASSERT_OK(ais_attrs_set_floats(a, "scale", sc, one ? 1 : c));
        AIS_ASSERT_OK(run_ml("Scaler", a, (const ais_tensor *const[]){x}, 1, &y, 1));
        double want[30];
        for (size_t i = 0; i < n * c; i++) {
            size_t j = one ? 0 : i % c;
            want[i] = ((double)xv[i] - off[j]) * sc[j];
        }
        ais_test_assert_close_values(y, want, n * c, 1e-5, 1e-6);
        ais_tensor_destroy(y);
        ais_attrs_destroy(a);

        static const char *const NORMS[] = {"MAX", "L1", "L2"};
        for (int k = 0; k < 3; k++) {
            AIS_ASSERT_OK(ais_attrs_create(&a));
            AIS_ASSERT_OK(ais_attrs_set_string(a, "norm", NORMS[k]));
            AIS_ASSERT_OK(run_ml("Normalizer", a, (const ais_tensor *const[]){x}, 1, &y, 1));
            for (size_t r = 0; r < n; r++) {
                double d = 0;
                for (size_t j = 0; j < c; j++) {
                    double v = fabs(xv[r * c + j]);
                    d = k == 0 ? fmax(d, v) : k == 1 ? d + v : d + v * v;
                }
                if (k == 2) d = sqrt(d);
                for (size_t j = 0; j < c; j++)
                    want[r * c + j] = xv[r * c + j] / d;
            }
            ais_test_assert_close_values(y, want, n * c, 1e-5, 1e-6);
            ais_tensor_destroy(y);
            ais_attrs_destroy(a);
        }
        AIS_ASSERT_OK(ais_attrs_create(&a));
        AIS_ASSERT_OK(ais_attrs_set_float(a, "threshold", 0.5f));
        AIS_ASSERT_OK(run_ml("Binarizer", a, (const ais_tensor *const[]){x}, 1, &y, 1));
        for (size_t i = 0; i < n * c; i++)
            want[i] = xv[i] > 0.5f;
        ais_test_assert_close_values(y, want, n * c, 0, 0);
        ais_tensor_destroy(y);
        ais_attrs_destroy(a);
        ais_tensor_destroy(x);
    }
    /* errors */
    ais_attrs *a;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "scale", (const float[]){1, 2}, 2));
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(2, 3), 0, 1), *y;
    AIS_ASSERT_STATUS(run_ml("Scaler", a, (const ais_tensor *const[]){x}, 1, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("scale has 2 values; expected 1 or 3");
    AIS_ASSERT_OK(ais_attrs_set_string(a, "norm", "L3"));
    AIS_ASSERT_STATUS(run_ml("Normalizer", a, (const ais_tensor *const[]){x}, 1, &y, 1),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("norm must be MAX, L1 or L2");
    ais_tensor_destroy(x);
    ais_attrs_destroy(a);
}

static void test_imputer(void **state) {
    (void)state;
    ais_tensor *x = ais_test_tensor(AIS_DTYPE_F32, AIS_SHAPE(2, 3),
                                    (const double[]){NAN, 1, 2, 3, NAN, NAN}),
               *y;
    ais_attrs *a;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "imputed_value_floats", (const float[]){7, 8, 9}, 3));
    AIS_ASSERT_OK(ais_attrs_set_float(a, "replaced_value_float", NAN));
    AIS_ASSERT_OK(run_ml("Imputer", a, (const ais_tensor *const[]){x}, 1, &y, 1));
    ais_test_assert_close_values(y, (const double[]){7, 1, 2, 3, 8, 9}, 6, 0, 0);
    ais_tensor_destroy(y);
    /* a replaced value that is a number; NaN then stays */
    AIS_ASSERT_OK(ais_attrs_set_float(a, "replaced_value_float", 2));
    AIS_ASSERT_OK(run_ml("Imputer", a, (const ais_tensor *const[]){x}, 1, &y, 1));
    ais_test_assert_close_values(y, (const double[]){NAN, 1, 9, 3, NAN, NAN}, 6, 0, 0);
    ais_tensor_destroy(y);
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "imputed_value_floats", (const float[]){7, 8}, 2));
    AIS_ASSERT_STATUS(run_ml("Imputer", a, (const ais_tensor *const[]){x}, 1, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("2 imputed values; expected 1 or 3");
    ais_tensor_destroy(x);
    x = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(4), (const double[]){-1, 5, -1, 2});
    AIS_ASSERT_STATUS(run_ml("Imputer", a, (const ais_tensor *const[]){x}, 1, &y, 1),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("imputed_value_int64s");
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "imputed_value_int64s", (const int64_t[]){0}, 1));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "replaced_value_int64", -1));
    AIS_ASSERT_OK(run_ml("Imputer", a, (const ais_tensor *const[]){x}, 1, &y, 1));
    ais_test_assert_close_values(y, (const double[]){0, 5, 0, 2}, 4, 0, 0);
    ais_tensor_destroy(y);
    /* integers beyond 2^53 stay exact */
    ((int64_t *)ais_tensor_data(x))[1] = ((int64_t)1 << 53) + 1;
    AIS_ASSERT_OK(run_ml("Imputer", a, (const ais_tensor *const[]){x}, 1, &y, 1));
    assert_true(((const int64_t *)ais_tensor_data(y))[1] == ((int64_t)1 << 53) + 1);
    ais_tensor_destroy(y);
    ais_tensor_destroy(x);
    ais_attrs_destroy(a);
}

static void test_feature_extractor_onehot_zipmap(void **state) {
    (void)state;
    ais_tensor *x = ais_test_rand_f32(AIS_SHAPE(3, 4), 0, 1), *y;
    ais_tensor *idx = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(3), (const double[]){3, 0, 3});
    AIS_ASSERT_OK(
        run_ml("ArrayFeatureExtractor", NULL, (const ais_tensor *const[]){x, idx}, 2, &y, 1));
    const float *xv = ais_tensor_data(x);
    double want[9];
    for (size_t r = 0; r < 3; r++) {
        want[r * 3] = xv[r * 4 + 3];
        want[r * 3 + 1] = xv[r * 4];
        want[r * 3 + 2] = xv[r * 4 + 3];
    }
    ais_test_assert_close_values(y, want, 9, 0, 0);
    ais_tensor_destroy(y);
    ais_tensor_destroy(idx);
    idx = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(1), (const double[]){4});
    AIS_ASSERT_STATUS(
        run_ml("ArrayFeatureExtractor", NULL, (const ais_tensor *const[]){x, idx}, 2, &y, 1),
        AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("index 4 is out of range");
    ais_tensor_destroy(idx);

    /* strings, 1-D X: a [1, k] result */
    const char *words[3] = {"a", "bb", "ccc"};
    ais_tensor *s;
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(3), words, &s));
    idx = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(2), (const double[]){2, 1});
    AIS_ASSERT_OK(
        run_ml("ArrayFeatureExtractor", NULL, (const ais_tensor *const[]){s, idx}, 2, &y, 1));
    assert_int_equal(ais_tensor_ndim(y), 2);
    assert_string_equal(ais_tensor_string_at(y, 0), "ccc");
    assert_string_equal(ais_tensor_string_at(y, 1), "bb");
    ais_tensor_destroy(y);
    ais_tensor_destroy(idx);

    /* OneHotEncoder: strings and ints */
    ais_attrs *a;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    const char *cats[2] = {"bb", "a"};
    AIS_ASSERT_OK(ais_attrs_set_strings(a, "cats_strings", cats, 2));
    AIS_ASSERT_OK(run_ml("OneHotEncoder", a, (const ais_tensor *const[]){s}, 1, &y, 1));
    ais_test_assert_close_values(y, (const double[]){0, 1, 1, 0, 0, 0}, 6, 0, 0);
    ais_tensor_destroy(y);
    AIS_ASSERT_OK(ais_attrs_set_int(a, "zeros", 0));
    AIS_ASSERT_STATUS(run_ml("OneHotEncoder", a, (const ais_tensor *const[]){s}, 1, &y, 1),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("element 2 is no known category");
    ais_attrs_destroy(a);
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "cats_int64s", (const int64_t[]){4, 1, 7}, 3));
    ais_tensor *xi = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(2), (const double[]){7, 1});
    AIS_ASSERT_OK(run_ml("OneHotEncoder", a, (const ais_tensor *const[]){xi}, 1, &y, 1));
    assert_int_equal(ais_tensor_shape(y)[1], 3);
    ais_test_assert_close_values(y, (const double[]){0, 0, 1, 0, 1, 0}, 6, 0, 0);
    ais_tensor_destroy(y);
    AIS_ASSERT_STATUS(run_ml("OneHotEncoder", a, (const ais_tensor *const[]){s}, 1, &y, 1),
                      AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("cats_strings");
    ais_tensor_destroy(xi);
    ais_attrs_destroy(a);
    ais_tensor_destroy(s);

    /* ZipMap: the dense probabilities, columns in label order */
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "classlabels_int64s", (const int64_t[]){0, 1, 2, 3}, 4));
    AIS_ASSERT_OK(run_ml("ZipMap", a, (const ais_tensor *const[]){x}, 1, &y, 1));
    ais_test_assert_close(y, x, 0, 0);
    ais_tensor_destroy(y);
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "classlabels_int64s", (const int64_t[]){0, 1, 2}, 3));
    AIS_ASSERT_STATUS(run_ml("ZipMap", a, (const ais_tensor *const[]){x}, 1, &y, 1), AIS_E_SHAPE);
    ais_test_assert_error_contains("4 columns but there are 3 class labels");
    ais_attrs_destroy(a);
    ais_tensor_destroy(x);
}

static void test_label_encoder(void **state) {
    (void)state;
    const char *keys[3] = {"x", "y", "z"};
    const char *in[4] = {"z", "q", "x", "y"};
    ais_tensor *s, *y;
    AIS_ASSERT_OK(ais_tensor_create_strings(AIS_SHAPE(4), in, &s));
    ais_attrs *a;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_strings(a, "keys_strings", keys, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "values_int64s", (const int64_t[]){10, 20, 30}, 3));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "default_int64", -5));
    AIS_ASSERT_OK(run_ml("LabelEncoder", a, (const ais_tensor *const[]){s}, 1, &y, 1));
    ais_test_assert_close_values(y, (const double[]){30, -5, 10, 20}, 4, 0, 0);
    ais_tensor_destroy(y);
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "values_int64s", (const int64_t[]){10, 20}, 2));
    AIS_ASSERT_STATUS(run_ml("LabelEncoder", a, (const ais_tensor *const[]){s}, 1, &y, 1),
                      AIS_E_SHAPE);
    ais_test_assert_error_contains("3 keys but 2 values");
    ais_attrs_destroy(a);
    /* ints to strings */
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "keys_int64s", (const int64_t[]){1, 2}, 2));
    AIS_ASSERT_OK(ais_attrs_set_strings(a, "values_strings", keys, 2));
    AIS_ASSERT_OK(ais_attrs_set_string(a, "default_string", "none"));
    ais_tensor *xi = ais_test_tensor(AIS_DTYPE_I64, AIS_SHAPE(3), (const double[]){2, 3, 1});
    AIS_ASSERT_OK(run_ml("LabelEncoder", a, (const ais_tensor *const[]){xi}, 1, &y, 1));
    assert_string_equal(ais_tensor_string_at(y, 0), "y");
    assert_string_equal(ais_tensor_string_at(y, 1), "none");
    assert_string_equal(ais_tensor_string_at(y, 2), "x");
    ais_tensor_destroy(y);
    /* a string X against int keys */
    AIS_ASSERT_STATUS(run_ml("LabelEncoder", a, (const ais_tensor *const[]){s}, 1, &y, 1),
                      AIS_E_DTYPE);
    ais_test_assert_error_contains("keys are");
    ais_tensor_destroy(xi);
    ais_tensor_destroy(s);
    ais_attrs_destroy(a);
}

/* ---- allocation failures ---- */

typedef struct sweep_ctx {
    const char *op;
    ais_attrs *attrs;
    const ais_tensor *in[2];
    size_t n_in, n_out;
    ais_tensor *out[2];
} sweep_ctx;

static ais_status sweep_run(void *p) {
    sweep_ctx *c = p;
    return run_ml(c->op, c->attrs, c->in, c->n_in, c->out, c->n_out);
}

static void test_oom(void **state) {
    (void)state;
    /* a tree classifier with string labels (layout scratch, label strings) */
    sweep_ctx c = {.op = "TreeEnsembleClassifier", .n_in = 1, .n_out = 2};
    trees_random(&g_tr, 4, 3, 3);
    AIS_ASSERT_OK(ais_attrs_create(&c.attrs));
    trees_attrs(&g_tr, c.attrs, "class");
    const char *names[3] = {"p", "q", "r"};
    AIS_ASSERT_OK(ais_attrs_set_strings(c.attrs, "classlabels_strings", names, 3));
    ais_tensor *x = grid_x(5, 3);
    c.in[0] = x;
    assert_true(AIS_TEST_OOM_SWEEP("TreeEnsembleClassifier", sweep_run, &c, 200,
                                   AIS_OWN_TENSORS(c.out)) >= 1);
    ais_attrs_destroy(c.attrs);
    /* a linear classifier with only the label output (scores in scratch) */
    c = (sweep_ctx){.op = "LinearClassifier", .n_in = 1, .n_out = 1, .in = {x}};
    AIS_ASSERT_OK(ais_attrs_create(&c.attrs));
    float coef[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    AIS_ASSERT_OK(ais_attrs_set_floats(c.attrs, "coefficients", coef, 9));
    AIS_ASSERT_OK(ais_attrs_set_strings(c.attrs, "classlabels_strings", names, 3));
    assert_true(
        AIS_TEST_OOM_SWEEP("LinearClassifier", sweep_run, &c, 200, AIS_OWN_TENSORS(c.out)) >= 1);
    ais_attrs_destroy(c.attrs);
    /* LabelEncoder to strings */
    c = (sweep_ctx){.op = "LabelEncoder", .n_in = 1, .n_out = 1};
    AIS_ASSERT_OK(ais_attrs_create(&c.attrs));
    AIS_ASSERT_OK(ais_attrs_set_floats(c.attrs, "keys_floats", (const float[]){-1, 0.5f}, 2));
    AIS_ASSERT_OK(ais_attrs_set_strings(c.attrs, "values_strings", names, 2));
    c.in[0] = x;
    assert_true(AIS_TEST_OOM_SWEEP("LabelEncoder", sweep_run, &c, 200, AIS_OWN_TENSORS(c.out)) >=
                1);
    ais_attrs_destroy(c.attrs);
    ais_tensor_destroy(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_regressor),
        cmocka_unit_test(test_linear_classifier),
        cmocka_unit_test(test_linear_string_labels_and_errors),
        cmocka_unit_test(test_tree_regressor),
        cmocka_unit_test(test_tree_classifier),
        cmocka_unit_test(test_tree_hostile_attributes),
        cmocka_unit_test(test_scaler_normalizer_binarizer),
        cmocka_unit_test(test_imputer),
        cmocka_unit_test(test_feature_extractor_onehot_zipmap),
        cmocka_unit_test(test_label_encoder),
        cmocka_unit_test(test_oom),
    };
    ais_test_seed();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
