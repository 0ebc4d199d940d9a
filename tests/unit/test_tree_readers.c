/* test_tree_readers.c - XGBoost JSON and LightGBM text readers: tiny hand-written models run
 * end to end against rules evaluated here, missing values, hostile files, allocation failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "ir/graph.h"
#include "test_util.h"

/* Runs a model (bytes) on rows x [n, f] and returns output `name` [n, k] into y. */
static void run_model(const char *text, const float *x, size_t n, size_t f, const char *name,
                      float *y, size_t k) {
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load_memory(text, strlen(text), NULL, &m));
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    ais_tensor *in = NULL, *out = NULL;
    int64_t dims[2] = {(int64_t)n, (int64_t)f};
    AIS_ASSERT_OK(
        ais_tensor_wrap(AIS_DTYPE_F32, dims, 2, (void *)x, n * f * sizeof *x, NULL, NULL, &in));
    const char *iname = "input";
    AIS_ASSERT_OK(ais_session_run(s, &iname, (const ais_tensor *const *)&in, 1, &name, &out, 1));
    assert_int_equal(ais_tensor_nbytes(out), n * k * sizeof(float));
    memcpy(y, ais_tensor_data(out), n * k * sizeof *y);
    ais_tensor_destroy(out);
    ais_tensor_destroy(in);
    ais_session_destroy(s);
    ais_model_destroy(m);
}

static ais_status read_model(const char *text) {
    ais__graph *g = NULL;
    ais_status st = ais__model_read_memory(text, strlen(text), NULL, NULL, &g);
    ais__graph_destroy(g);
    return st;
}

/* XGBoost: node 0 splits feature 1 at 0.5 (x < 0.5 left, missing right); node 1 splits feature 0
 * at -1 (missing left). Leaves 3 (x0<-1), 4, 2. base_score 0.5 for reg:squarederror. */
#define XGB_HEAD                                                                                   \
    "{\"learner\":{\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_class\":\"0\","          \
    "\"num_feature\":\"2\"},\"objective\":{\"name\":\"reg:squarederror\"},"                        \
    "\"gradient_booster\":{\"name\":\"gbtree\",\"model\":{\"tree_info\":[0],\"trees\":[{"          \
    "\"tree_param\":{\"num_nodes\":\"5\"},"
#define XGB_TAIL "}]}}}}"
static const char *xgb_ok =
    XGB_HEAD "\"left_children\":[1,3,-1,-1,-1],\"right_children\":[2,4,-1,-1,-1],"
             "\"split_indices\":[1,0,0,0,0],\"split_conditions\":[0.5,-1,7,1.5,-2.25],"
             "\"default_left\":[0,1,0,0,0]" XGB_TAIL;

static float xgb_ref(float x0, float x1) {
    bool left = isnan(x1) ? false : x1 < 0.5f;
    if (!left) return 7 + 0.5f;
    bool l2 = isnan(x0) ? true : x0 < -1.0f;
    return (l2 ? 1.5f : -2.25f) + 0.5f;
}

static void test_xgboost_tree(void **state) {
    (void)state;
    enum { N = 37 };
    float x[N * 2], y[N];
    ais_test_fill_uniform(x, N * 2, -2, 2);
    x[0] = NAN, x[3] = NAN, x[4] = NAN, x[5] = NAN, x[8] = -1.0f, x[9] = 0.5f;
    run_model(xgb_ok, x, N, 2, "margin", y, 1);
    for (size_t i = 0; i < N; i++)
        assert_float_equal(y[i], xgb_ref(x[2 * i], x[2 * i + 1]), 1e-6);
}

/* LightGBM: two trees (the second a stump), x0 <= 0.25 left; node 1 is NaN-missing default-left
 * on x1 <= 1; the stump's missing type None sends NaN like 0. */
#define LGB_HEAD                                                                                   \
    "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=1\n"                 \
    "objective=regression\n\n"
static const char *lgb_ok = LGB_HEAD
    "Tree=0\nnum_leaves=3\nnum_cat=0\nsplit_feature=0 1\nthreshold=0.25 1\n"
    "decision_type=2 10\nleft_child=1 -1\nright_child=-3 -2\nleaf_value=1 2 3\nshrinkage=1\n\n"
    "Tree=1\nnum_leaves=2\nsplit_feature=1\nthreshold=-0.5\ndecision_type=0\nleft_child=-1\n"
    "right_child=-2\nleaf_value=10 20\n\nend of trees\n";

static double lgb_ref(float x0, float x1) {
    double t0;
    if (isnan(x0) || x0 <= 0.25) /* missing None: NaN as 0 <= 0.25 */
        t0 = (isnan(x1) || x1 <= 1) ? 1 : 2;
    else
        t0 = 3;
    double x1z = isnan(x1) ? 0 : x1;
    return t0 + (x1z <= -0.5 ? 10 : 20);
}

static void test_lightgbm_tree(void **state) {
    (void)state;
    enum { N = 41 };
    float x[N * 2], y[N];
    ais_test_fill_uniform(x, N * 2, -2, 2);
    x[0] = NAN, x[3] = NAN, x[4] = NAN, x[5] = NAN, x[6] = 0.25f, x[7] = -0.5f;
    run_model(lgb_ok, x, N, 2, "margin", y, 1);
    for (size_t i = 0; i < N; i++)
        assert_float_equal(y[i], lgb_ref(x[2 * i], x[2 * i + 1]), 1e-6);
}

static void expect_error(const char *text, ais_status want, const char *needle);

/* The aistack_accumulate attribute of the model's tree node, NULL when absent. */
static const char *accumulate_attr(const char *text, char *buf, size_t cap) {
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__model_read_memory(text, strlen(text), NULL, NULL, &g));
    const char *v = NULL;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].op_type, "TreeEnsembleRegressor") == 0)
            v = ais__attr_string(g->nodes[i].attrs, "aistack_accumulate", NULL);
    if (v) snprintf(buf, cap, "%s", v);
    ais__graph_destroy(g);
    return v ? buf : NULL;
}

/* XGBoost binary:logistic, base_score 0.3, three one-leaf trees with leaf values a, b, c. */
static void xgb_three_leaves(char *buf, size_t cap, const char *a, const char *b, const char *c) {
    const char *leaf = "{\"tree_param\":{\"num_nodes\":\"1\"},\"left_children\":[-1],"
                       "\"right_children\":[-1],\"split_indices\":[0],\"default_left\":[0],"
                       "\"split_conditions\":[";
    snprintf(buf, cap,
             "{\"learner\":{\"learner_model_param\":{\"base_score\":\"3E-1\",\"num_class\":"
             "\"0\",\"num_feature\":\"1\"},\"objective\":{\"name\":\"binary:logistic\"},"
             "\"gradient_booster\":{\"name\":\"gbtree\",\"model\":{\"tree_info\":[0,0,0],"
             "\"trees\":[%s%s]},%s%s]},%s%s]}]}}}}",
             leaf, a, leaf, b, leaf, c);
}

/* The margin is XGBoost's float arithmetic: -logf(1 / 0.3f - 1) (not the double logit of 0.3f
 * rounded, one ulp away), then each leaf added in float in tree order (2^24 + 1 + 1 keeps
 * neither 1). The node says so in aistack_accumulate; LightGBM's keeps double sums. */
static void test_accumulation(void **state) {
    (void)state;
    char text[2048], buf[32];
    float x[2] = {0, NAN}, y[2];
    volatile float b = 0.3f, one = 1.0f; /* float arithmetic, not folded in double */
    float base = -logf(one / b - one);
    xgb_three_leaves(text, sizeof text, "0", "0", "0");
    run_model(text, x, 2, 1, "margin", y, 1);
    if (y[0] != base || y[1] != base) fail_msg("margin %.9g, expected %.9g", y[0], base);
    assert_true(base != (float)log((double)b / (1 - (double)b)));
    xgb_three_leaves(text, sizeof text, "16777216", "1", "1");
    run_model(text, x, 2, 1, "margin", y, 1);
    float want = base;
    want += 16777216.0f;
    want += 1.0f;
    want += 1.0f;
    assert_true(want == 16777216.0f);
    if (y[0] != want || y[1] != want) fail_msg("margin %.9g, expected %.9g", y[0], want);
    assert_string_equal(accumulate_attr(text, buf, sizeof buf), "float32");
    assert_null(accumulate_attr(lgb_ok, buf, sizeof buf));
    /* base scores that are fine as doubles but not as floats */
    const char *at = strstr(xgb_ok, "5E-1");
    assert_non_null(at);
    snprintf(text, sizeof text, "%.*s1E39%s", (int)(at - xgb_ok), xgb_ok, at + 4);
    expect_error(text, AIS_E_FORMAT, "base_score 1e+39 gives the margin inf");
    /* a logistic base_score above 0 that is 0 as a float */
    xgb_three_leaves(text, sizeof text, "0", "0", "0");
    char *b3 = strstr(text, "3E-1"), tiny[2048];
    assert_non_null(b3);
    snprintf(tiny, sizeof tiny, "%.*s1E-50%s", (int)(b3 - text), text, b3 + 4);
    expect_error(tiny, AIS_E_FORMAT, "not in (0, 1)");
}

static void expect_error(const char *text, ais_status want, const char *needle) {
    AIS_ASSERT_STATUS(read_model(text), want);
    ais_test_assert_error_contains(needle);
}

static void test_bad_files(void **state) {
    (void)state;
    char buf[4096];
    /* truncated: every prefix fails cleanly */
    for (size_t n = 1; n < strlen(xgb_ok); n += 7) {
        ais__graph *g = NULL;
        assert_int_not_equal(ais__model_read_memory(xgb_ok, n, NULL, NULL, &g), AIS_OK);
        assert_null(g);
    }
    for (size_t n = 5; n < strlen(lgb_ok); n += 3) {
        ais__graph *g = NULL;
        assert_int_not_equal(ais__model_read_memory(lgb_ok, n, NULL, NULL, &g), AIS_OK);
        assert_null(g);
    }
    expect_error("{\"learner\":", AIS_E_FORMAT, "not valid JSON at byte");
    snprintf(buf, sizeof buf, "%s",
             XGB_HEAD "\"left_children\":[1,3,-1,-1,-1],\"right_children\":[2,9,-1,-1,-1],"
                      "\"split_indices\":[1,0,0,0,0],\"split_conditions\":[0.5,-1,7,1.5,-2.25],"
                      "\"default_left\":[0,1,0,0,0]" XGB_TAIL);
    expect_error(buf, AIS_E_FORMAT, "tree 0 node 1: children");
    snprintf(buf, sizeof buf, "%s",
             XGB_HEAD "\"left_children\":[1,3,-1,-1,-1],\"right_children\":[2,4,-1,-1,-1],"
                      "\"split_indices\":[2,0,0,0,0],\"split_conditions\":[0.5,-1,7,1.5,-2.25],"
                      "\"default_left\":[0,1,0,0,0]" XGB_TAIL);
    expect_error(buf, AIS_E_FORMAT, "split_indices 2");
    snprintf(buf, sizeof buf, "%s",
             XGB_HEAD "\"left_children\":[1,3,-1,-1],\"right_children\":[2,4,-1,-1,-1],"
                      "\"split_indices\":[1,0,0,0,0],\"split_conditions\":[0.5,-1,7,1.5,-2.25],"
                      "\"default_left\":[0,1,0,0,0]" XGB_TAIL);
    expect_error(buf, AIS_E_FORMAT, "left_children has 4 entries");
    /* a cycle: a child pointing back */
    snprintf(buf, sizeof buf, "%s",
             XGB_HEAD "\"left_children\":[1,0,-1,-1,-1],\"right_children\":[2,4,-1,-1,-1],"
                      "\"split_indices\":[1,0,0,0,0],\"split_conditions\":[0.5,-1,7,1.5,-2.25],"
                      "\"default_left\":[0,1,0,0,0]" XGB_TAIL);
    expect_error(buf, AIS_E_FORMAT, "tree 0 node 1");
    expect_error("{\"learner\":{\"learner_model_param\":{\"num_feature\":\"2\",\"num_class\":"
                 "\"99999999999\"}}}",
                 AIS_E_LIMIT, "num_class");
    /* LightGBM */
    snprintf(buf, sizeof buf, "%s",
             LGB_HEAD "Tree=0\nnum_leaves=2\nsplit_feature=5\nthreshold=0\ndecision_type=0\n"
                      "left_child=-1\nright_child=-2\nleaf_value=1 2\n\nend of trees\n");
    expect_error(buf, AIS_E_FORMAT, "split_feature 5");
    snprintf(buf, sizeof buf, "%s",
             LGB_HEAD "Tree=0\nnum_leaves=2\nsplit_feature=0\nthreshold=0\ndecision_type=0\n"
                      "left_child=-1\nright_child=-7\nleaf_value=1 2\n\nend of trees\n");
    expect_error(buf, AIS_E_FORMAT, "right_child -7");
    snprintf(buf, sizeof buf, "%s",
             LGB_HEAD "Tree=0\nnum_leaves=2000000\nsplit_feature=0\n\nend of trees\n");
    expect_error(buf, AIS_E_FORMAT, "num_leaves");
    snprintf(buf, sizeof buf, "%s",
             LGB_HEAD "Tree=0\nnum_leaves=2\nsplit_feature=0\nthreshold=0\ndecision_type=1\n"
                      "left_child=-1\nright_child=-2\nleaf_value=1 2\n\nend of trees\n");
    expect_error(buf, AIS_E_FORMAT, "tree 0 node 0: categorical threshold 0");
    snprintf(buf, sizeof buf, "%s",
             LGB_HEAD "Tree=0\nnum_leaves=2\nsplit_feature=0\nthreshold=0\ndecision_type=0\n"
                      "left_child=-1\nright_child=-2\nleaf_value=1 2 3\n\nend of trees\n");
    expect_error(buf, AIS_E_FORMAT, "leaf_value has more");
}

/* XGBoost categorical: node 0 on feature 0 with categories {4, 1, 3} (listed in any order) sends
 * them right (leaf 2), other values left to node 1 (x1 < 0.5); NaN goes right (default_left 0).
 * XGBoost writes a bare NaN as the categorical split_condition. */
#define XGB_CAT(cats, nodes, segs, sizes, stype)                                                   \
    XGB_HEAD "\"left_children\":[1,3,-1,-1,-1],\"right_children\":[2,4,-1,-1,-1],"                 \
             "\"split_indices\":[0,1,0,0,0],\"split_conditions\":[NaN,0.5,7,1.5,-2.25],"           \
             "\"default_left\":[0,1,0,0,0],\"split_type\":" stype ",\"categories\":" cats          \
             ",\"categories_nodes\":" nodes ",\"categories_segments\":" segs                       \
             ",\"categories_sizes\":" sizes XGB_TAIL
static const char *xgb_cat = XGB_CAT("[9,4,1,3]", "[0]", "[1]", "[3]", "[1,0,0,0,0]");

static float xgb_cat_ref(float x0, float x1) {
    bool right;
    if (isnan(x0))
        right = true;
    else if (x0 < 0 || x0 >= 16777216.0f)
        right = false; /* XGBoost: invalid category, left */
    else {
        int c = (int)x0;
        right = c == 1 || c == 3 || c == 4;
    }
    if (right) return 7 + 0.5f;
    bool l2 = isnan(x1) ? true : x1 < 0.5f;
    return (l2 ? 1.5f : -2.25f) + 0.5f;
}

/* Category-like values: integers around the set, fractions, negatives, huge values, NaN. */
static void fill_categories(float *x, size_t n, size_t stride) {
    static const float special[] = {-0.5f,       -1.0f, -0.0f, 0.0f,  0.99f, 1.0f, 2.999f,
                                    3.0f,        4.5f,  5.0f,  31.0f, 32.0f, 1e9f, -1e9f,
                                    16777216.0f, NAN,   0.5f,  -1.5f, 2.0f,  5.99f};
    for (size_t i = 0; i < n; i++)
        x[i * stride] = i < AIS__ARRAY_LEN(special) ? special[i] : (float)(rand() % 80 - 10) / 2.0f;
}

static void test_xgboost_categorical(void **state) {
    (void)state;
    enum { N = 97 };
    float x[N * 2], y[N];
    ais_test_fill_uniform(x, N * 2, -2, 2);
    fill_categories(x, N, 2);
    x[3] = NAN;
    run_model(xgb_cat, x, N, 2, "margin", y, 1);
    for (size_t i = 0; i < N; i++)
        assert_float_equal(y[i], xgb_cat_ref(x[2 * i], x[2 * i + 1]), 1e-6);
}

/* LightGBM: tree 0 is categorical on x0 with the bitset {0, 2, 5, 33} (37 = bits 0, 2, 5; word
 * 1 = 2: bit 33) going left; tree 1 splits x1 <= 0.5 with missing type Zero, default left. */
static const char *lgb_cat = LGB_HEAD
    "Tree=0\nnum_leaves=2\nnum_cat=1\nsplit_feature=0\nthreshold=0\ndecision_type=1\n"
    "left_child=-1\nright_child=-2\nleaf_value=1 2\ncat_boundaries=0 2\ncat_threshold=37 2\n\n"
    "Tree=1\nnum_leaves=2\nnum_cat=0\nsplit_feature=1\nthreshold=0.5\ndecision_type=6\n"
    "left_child=-1\nright_child=-2\nleaf_value=10 20\n\nend of trees\n";

static double lgb_cat_ref(float x0, float x1) {
    double t0 = 2, d = x0;
    if (!isnan(d) && d > -1 && d < 2147483647.0) { /* (int)d is defined and >= 0 */
        int c = (int)d;
        if (c == 0 || c == 2 || c == 5 || c == 33) t0 = 1;
    }
    double d1 = x1;
    bool zero = isnan(d1) || (d1 >= -(double)1e-35f && d1 <= (double)1e-35f);
    return t0 + (zero || d1 <= 0.5 ? 10 : 20);
}

static void test_lightgbm_categorical(void **state) {
    (void)state;
    enum { N = 101 };
    float x[N * 2], y[N];
    ais_test_fill_uniform(x, N * 2, -2, 2);
    fill_categories(x, N, 2);
    const float z[] = {0, -0.0f, 1e-36f, -1e-36f, 1e-34f, -1e-34f, 1e-45f, NAN, 0.5f, 0.50001f};
    for (size_t i = 0; i < AIS__ARRAY_LEN(z); i++)
        x[2 * i + 1] = z[i];
    x[2 * 40] = 33.5f, x[2 * 41] = 34.0f, x[2 * 42] = 63.0f, x[2 * 43] = 64.0f;
    run_model(lgb_cat, x, N, 2, "margin", y, 1);
    for (size_t i = 0; i < N; i++)
        assert_float_equal(y[i], lgb_cat_ref(x[2 * i], x[2 * i + 1]), 1e-6);
}

static char big[65536];

static void test_bad_categorical(void **state) {
    (void)state;
    expect_error(XGB_CAT("[4,1,3]", "[0]", "[1]", "[3]", "[1,0,0,0,0]"), AIS_E_FORMAT,
                 "tree 0 node 0: categories segment 1 + size 3 is beyond the 3 categories");
    expect_error(XGB_CAT("[4,1,3]", "[0]", "[0]", "[1e300]", "[1,0,0,0,0]"), AIS_E_FORMAT,
                 "categories_sizes[0] is not an integer");
    expect_error(XGB_CAT("[4,-1,3]", "[0]", "[0]", "[3]", "[1,0,0,0,0]"), AIS_E_FORMAT,
                 "tree 0: categories[1] is not an integer in [0, 16777216)");
    expect_error(XGB_CAT("[4,1.5,3]", "[0]", "[0]", "[3]", "[1,0,0,0,0]"), AIS_E_FORMAT,
                 "categories[1] is not an integer");
    expect_error(XGB_CAT("[4,1,3]", "[1]", "[0]", "[3]", "[1,0,0,0,0]"), AIS_E_FORMAT,
                 "tree 0 node 0: categorical split without categories");
    expect_error(XGB_CAT("[4,1,3]", "[0]", "[0]", "[0]", "[1,0,0,0,0]"), AIS_E_FORMAT,
                 "tree 0 node 0: categorical split with no categories");
    expect_error(XGB_CAT("[4,1,3]", "[0,0]", "[0,0]", "[3,3]", "[1,0,0,0,0]"), AIS_E_FORMAT,
                 "categories_nodes is not increasing");
    expect_error(XGB_CAT("[4,1,3]", "[0]", "[0]", "[3]", "[2,0,0,0,0]"), AIS_E_FORMAT,
                 "tree 0 node 0: split_type 2");
    expect_error(XGB_CAT("[4,1,3]", "[0]", "[0]", "[3,1]", "[1,0,0,0,0]"), AIS_E_FORMAT,
                 "categories_nodes, _segments and _sizes have 1, 1 and 2 entries");
    /* a NaN leaf value stays refused */
    expect_error(XGB_HEAD "\"left_children\":[1,3,-1,-1,-1],\"right_children\":[2,4,-1,-1,-1],"
                          "\"split_indices\":[1,0,0,0,0],\"split_conditions\":[0.5,-1,NaN,1,2],"
                          "\"default_left\":[0,1,0,0,0]" XGB_TAIL,
                 AIS_E_FORMAT, "split_conditions[2] is not finite");
    /* a category set too scattered for the chain limit: 0, 2, 4, ..., 2 * 9000 */
    size_t k = (size_t)snprintf(big, sizeof big, "%s",
                                XGB_HEAD "\"left_children\":[1,3,-1,-1,-1],\"right_children\":"
                                         "[2,4,-1,-1,-1],\"split_indices\":[0,1,0,0,0],"
                                         "\"split_conditions\":[NaN,0.5,7,1.5,-2.25],"
                                         "\"default_left\":[0,1,0,0,0],\"split_type\":"
                                         "[1,0,0,0,0],\"categories\":[0");
    for (int i = 1; i < 9000; i++)
        k += (size_t)snprintf(big + k, sizeof big - k, ",%d", 2 * i);
    snprintf(big + k, sizeof big - k, "%s",
             "],\"categories_nodes\":[0],\"categories_segments\":[0],\"categories_sizes\":["
             "9000]" XGB_TAIL);
    expect_error(big, AIS_E_LIMIT, "tree 0 node 0: the categorical split needs over 16384 nodes");

#define LGB_CAT(thr, dec, bounds, bits)                                                            \
    LGB_HEAD "Tree=0\nnum_leaves=2\nnum_cat=1\nsplit_feature=0\nthreshold=" thr                    \
             "\ndecision_type=" dec "\nleft_child=-1\nright_child=-2\nleaf_value=1 2\n"            \
             "cat_boundaries=" bounds "\ncat_threshold=" bits "\n\nend of trees\n"
    expect_error(LGB_CAT("1", "1", "0 1", "5"), AIS_E_FORMAT,
                 "tree 0 node 0: categorical threshold 1 is not an index below num_cat 1");
    expect_error(LGB_CAT("0.5", "1", "0 1", "5"), AIS_E_FORMAT, "categorical threshold 0.5");
    expect_error(LGB_CAT("0", "1", "0 2", "5"), AIS_E_FORMAT, "cat_threshold has 1 values");
    expect_error(LGB_CAT("0", "1", "1 1", "5"), AIS_E_FORMAT, "tree 0: cat_boundaries[0] 1");
    expect_error(LGB_CAT("0", "1", "0 -1", "5"), AIS_E_FORMAT, "cat_boundaries[1] is -1");
    expect_error(LGB_CAT("0", "1", "0 1", "4294967296"), AIS_E_FORMAT,
                 "cat_threshold[0] 4.29497e+09 is not a uint32");
    expect_error(LGB_CAT("0", "1", "0 1", "0"), AIS_E_FORMAT,
                 "tree 0 node 0: categorical split with no categories");
    expect_error(LGB_CAT("0", "12", "0 1", "5"), AIS_E_FORMAT, "missing type 3");
    expect_error(LGB_HEAD "Tree=0\nnum_leaves=2\nnum_cat=1\nsplit_feature=0\nthreshold=0\n"
                          "decision_type=1\nleft_child=-1\nright_child=-2\nleaf_value=1 2\n\n"
                          "end of trees\n",
                 AIS_E_FORMAT, "num_cat 1 without cat_boundaries");
    expect_error(LGB_HEAD "Tree=0\nnum_leaves=2\nis_linear=1\nsplit_feature=0\nthreshold=0\n"
                          "decision_type=0\nleft_child=-1\nright_child=-2\nleaf_value=1 2\n\n"
                          "end of trees\n",
                 AIS_E_UNSUPPORTED, "tree 0: linear trees are not supported");
    /* alternating bits: 16 runs (32 chain nodes) per word, 600 words */
    k = (size_t)snprintf(big, sizeof big, "%s",
                         LGB_HEAD "Tree=0\nnum_leaves=2\nnum_cat=1\nsplit_feature=0\nthreshold=0\n"
                                  "decision_type=1\nleft_child=-1\nright_child=-2\nleaf_value=1 "
                                  "2\ncat_boundaries=0 600\ncat_threshold=1431655765");
    for (int i = 1; i < 600; i++)
        k += (size_t)snprintf(big + k, sizeof big - k, " 1431655765");
    snprintf(big + k, sizeof big - k, "\n\nend of trees\n");
    expect_error(big, AIS_E_LIMIT, "tree 0 node 0: the categorical split needs over 16384 nodes");
    /* XGBoost objectives and boosters that have no TreeEnsemble form */
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", xgb_ok);
    memcpy(strstr(buf, "reg:squarederror"), "rank:pairwise___", 16);
    expect_error(buf, AIS_E_UNSUPPORTED, "objective \"rank:pairwise___\" is not supported");
}

typedef struct {
    const char *text;
    ais__graph *g;
} sweep_ctx;
static ais_status sweep_read(void *ctx) {
    sweep_ctx *c = ctx;
    return ais__model_read_memory(c->text, strlen(c->text), NULL, NULL, &c->g);
}
static void test_oom(void **state) {
    (void)state;
    sweep_ctx c = {xgb_ok, NULL};
    AIS_TEST_OOM_SWEEP("ais__xgboost_read", sweep_read, &c, 5000, AIS_OWN_GRAPH(&c.g));
    c.text = lgb_ok;
    AIS_TEST_OOM_SWEEP("ais__lightgbm_read", sweep_read, &c, 5000, AIS_OWN_GRAPH(&c.g));
    c.text = xgb_cat;
    AIS_TEST_OOM_SWEEP("ais__xgboost_read categorical", sweep_read, &c, 5000, AIS_OWN_GRAPH(&c.g));
    c.text = lgb_cat;
    AIS_TEST_OOM_SWEEP("ais__lightgbm_read categorical", sweep_read, &c, 5000, AIS_OWN_GRAPH(&c.g));
}

/* ---- booster headers that contradict themselves (issue 12.6) ---- */

#define XGB_TREE3                                                                                  \
    "{\"tree_param\":{\"num_nodes\":\"3\"},\"left_children\":[1,-1,-1],"                           \
    "\"right_children\":[2,-1,-1],\"split_indices\":[0,0,0],\"split_conditions\":[0.5,%d,%d],"     \
    "\"default_left\":[0,0,0]}"

/* An XGBoost model with `objective`, num_class, the given tree_info and one tree per entry;
 * `extra` goes into the gbtree model object (e.g. gbtree_model_param). */
static const char *xgb_multi(char *buf, size_t cap, const char *objective, int n_class,
                             const int *info, size_t n, const char *extra) {
    size_t k = (size_t)snprintf(buf, cap,
                                "{\"learner\":{\"learner_model_param\":{\"base_score\":\"5E-1\","
                                "\"num_class\":\"%d\",\"num_feature\":\"1\"},\"objective\":{"
                                "\"name\":\"%s\"},\"gradient_booster\":{\"name\":\"gbtree\","
                                "\"model\":{%s\"tree_info\":[",
                                n_class, objective, extra);
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%d", i ? "," : "", info[i]);
    k += (size_t)snprintf(buf + k, cap - k, "],\"trees\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) buf[k++] = ',';
        k += (size_t)snprintf(buf + k, cap - k, XGB_TREE3, (int)i, -(int)i);
    }
    snprintf(buf + k, cap - k, "]}}}}");
    return buf;
}

static void test_xgboost_headers(void **state) {
    (void)state;
    char buf[8192];
    /* multi:softprob with num_class 0 used to load and predict probability 1 for every row */
    expect_error(xgb_multi(buf, sizeof buf, "multi:softprob", 0, (int[]){0}, 1, ""), AIS_E_FORMAT,
                 "objective multi:softprob needs num_class of at least 2, the model says 0");
    expect_error(xgb_multi(buf, sizeof buf, "multi:softmax", 1, (int[]){0}, 1, ""), AIS_E_FORMAT,
                 "needs num_class of at least 2");
    expect_error(xgb_multi(buf, sizeof buf, "binary:logistic", 3, (int[]){0, 1, 2}, 3, ""),
                 AIS_E_FORMAT, "objective binary:logistic has one output, but num_class is 3");
    expect_error(xgb_multi(buf, sizeof buf, "multi:softprob", 3, (int[]){0, 1, 2, 0}, 4, ""),
                 AIS_E_FORMAT, "tree_info gives class 0 2 trees and class 1 1");
    expect_error(xgb_multi(buf, sizeof buf, "reg:squarederror", 0, (int[]){0}, 1,
                           "\"gbtree_model_param\":{\"num_trees\":\"5\"},"),
                 AIS_E_FORMAT, "num_trees is 5, but there are 1 trees");
    /* A consistent 2-class model loads, and its probabilities are not all 1. */
    xgb_multi(buf, sizeof buf, "multi:softprob", 2, (int[]){0, 1, 0, 1}, 4,
              "\"gbtree_model_param\":{\"num_trees\":\"4\"},");
    float x[2] = {0.0f, 1.0f}, y[4];
    run_model(buf, x, 2, 1, "probability", y, 2);
    for (int r = 0; r < 2; r++) {
        assert_float_equal(y[2 * r] + y[2 * r + 1], 1.0f, 1e-6);
        assert_true(y[2 * r] < 0.999f && y[2 * r + 1] < 0.999f);
    }
}

#define LGB_STUMP(i)                                                                               \
    "Tree=" #i "\nnum_leaves=2\nsplit_feature=0\nthreshold=0.5\ndecision_type=0\nleft_child=-1\n"  \
    "right_child=-2\nleaf_value=1 -1\n\n"

static void test_lightgbm_headers(void **state) {
    (void)state;
    char buf[4096];
    static const struct {
        const char *header, *needle;
    } bad[] = {
        {"num_class=1\nnum_tree_per_iteration=1\nobjective=multiclass num_class:1\n",
         "objective \"multiclass num_class:1\" needs num_class >= 2, got 1"},
        {"num_class=2\nnum_tree_per_iteration=2\nobjective=multiclass num_class:3\n",
         "disagrees with num_class=2"},
        {"num_class=2\nnum_tree_per_iteration=1\nobjective=multiclassova num_class:2 sigmoid:1\n",
         "num_tree_per_iteration is 1, but a multiclass model with num_class=2"},
        {"num_class=2\nnum_tree_per_iteration=2\nobjective=binary sigmoid:1\n",
         "objective \"binary sigmoid:1\" has one output, but num_class is 2"},
        {"num_class=1\nnum_tree_per_iteration=2\nobjective=regression\n",
         "num_tree_per_iteration 2"},
    };
    for (size_t i = 0; i < AIS__ARRAY_LEN(bad); i++) {
        snprintf(buf, sizeof buf,
                 "tree\nversion=v4\n%smax_feature_idx=0\n\n" LGB_STUMP(0)
                     LGB_STUMP(1) "end of trees\n",
                 bad[i].header);
        expect_error(buf, AIS_E_FORMAT, bad[i].needle);
    }
    /* consistent: 2 classes, one tree each */
    snprintf(buf, sizeof buf,
             "tree\nversion=v4\nnum_class=2\nnum_tree_per_iteration=2\n"
             "objective=multiclass num_class:2\nmax_feature_idx=0\n\n" LGB_STUMP(0)
                 LGB_STUMP(1) "end of trees\n");
    float x[1] = {0.0f}, y[2];
    run_model(buf, x, 1, 1, "probability", y, 2);
    assert_float_equal(y[0] + y[1], 1.0f, 1e-6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xgboost_tree),        cmocka_unit_test(test_lightgbm_tree),
        cmocka_unit_test(test_accumulation),        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_xgboost_categorical), cmocka_unit_test(test_lightgbm_categorical),
        cmocka_unit_test(test_bad_categorical),     cmocka_unit_test(test_oom),
        cmocka_unit_test(test_xgboost_headers),     cmocka_unit_test(test_lightgbm_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
