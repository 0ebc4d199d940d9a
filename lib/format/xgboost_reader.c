/*
 * xgboost_reader.c - XGBoost JSON models (Booster.save_model("m.json"), XGBoost 1.x to 3.x) as one
 * TreeEnsembleRegressor (see tree_model.h for the graph's inputs and outputs).
 *
 * XGBoost sends a row left when x < split_condition and a missing value the default_left way;
 * a leaf's value is its split_condition. A categorical node (split_type 1) lists its categories
 * in categories[categories_segments[j] ..][.. categories_sizes[j]] where categories_nodes[j] is
 * the node: a value whose integer part (toward zero) is listed goes right, any other value left,
 * negative values and values >= 2^24 included, NaN the default_left way (XGBoost's
 * common::Decision); it becomes a chain of range tests (ais__tree_ens_categories). The margin of
 * class k is base_score (one value, or from XGBoost 3.1 one per class) turned into margin space by
 * the objective (logit for logistic objectives, log for poisson/gamma/tweedie) plus its trees
 * (tree_info), summed as XGBoost's CPU predictor does: in float, from the base margin, tree by tree
 * (aistack_accumulate "float32"). Files are hostile: every child must come after its parent and
 * have one parent (so the nodes form a tree), and every feature must be below num_feature.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree_model.h"

static const cJSON *ais__xgb_get(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* A number given as a JSON number or a string ("5E-1", XGBoost 2.x also "[5E-1]"). */
static ais_status ais__xgb_number(const cJSON *o, const char *key, double dflt, double *out) {
    const cJSON *v = ais__xgb_get(o, key);
    *out = dflt;
    if (!v) return AIS_OK;
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
    } else if (cJSON_IsString(v) && v->valuestring) {
        const char *s = v->valuestring;
        if (*s == '[') s++;
        char *end;
        *out = strtod(s, &end);
        if (end == s || (*end && *end != ']'))
            return ais__error(AIS_E_FORMAT, "%s must be a number, got \"%.40s\"", key,
                              v->valuestring);
    } else {
        return ais__error(AIS_E_FORMAT, "%s must be a number or a string", key);
    }
    if (!isfinite(*out)) return ais__error(AIS_E_FORMAT, "%s is not finite", key);
    return AIS_OK;
}

/*
 * base_score: a number, or a string holding one ("5E-1", XGBoost 2.x "[5E-1]"), or from XGBoost
 * 3.1 a vector string with one value per output ("[5E-1,5E-1,5E-1]" for a 3-class model, also
 * num_target long for multi-target ones). Fills base[0 .. n_out); a single value applies to every
 * output. *n_given is how many values the file holds (1 or n_out); any other count, an element
 * that is no number, or a malformed list is an error.
 */
static ais_status ais__xgb_base_score(const cJSON *mp, size_t n_out, double *base,
                                      size_t *n_given) {
    const cJSON *v = ais__xgb_get(mp, "base_score");
    *n_given = 1;
    if (!cJSON_IsString(v) || !v->valuestring || v->valuestring[0] != '[') {
        AIS__CHECK(ais__xgb_number(mp, "base_score", 0.5, &base[0]));
        for (size_t k = 1; k < n_out; k++)
            base[k] = base[0];
        return AIS_OK;
    }
    const char *s = v->valuestring + 1;
    size_t n = 0;
    for (;;) {
        char *end;
        double x = strtod(s, &end);
        if (end == s)
            return ais__error(AIS_E_FORMAT,
                              "base_score \"%.60s\": element %zu is not a number (expected "
                              "\"[v0,v1,...]\", one value per output)",
                              v->valuestring, n);
        if (!isfinite(x))
            return ais__error(AIS_E_FORMAT, "base_score \"%.60s\": element %zu is not finite",
                              v->valuestring, n);
        if (n < n_out) base[n] = x;
        n++;
        while (*end == ' ')
            end++;
        if (*end == ']' && end[1] == 0) break;
        if (*end != ',')
            return ais__error(AIS_E_FORMAT,
                              "base_score \"%.60s\": expected ',' or a final ']' after element "
                              "%zu",
                              v->valuestring, n - 1);
        s = end + 1;
    }
    if (n != 1 && n != n_out)
        return ais__error(AIS_E_FORMAT,
                          "base_score has %zu values, but the model has %zu output%s (num_class "
                          "/ num_target): expected 1 or %zu",
                          n, n_out, n_out == 1 ? "" : "s", n_out);
    for (size_t k = n; k < n_out; k++)
        base[k] = base[0];
    *n_given = n;
    return AIS_OK;
}

static ais_status ais__xgb_count(const cJSON *o, const char *key, double dflt, size_t max,
                                 size_t *out) {
    double d;
    AIS__CHECK(ais__xgb_number(o, key, dflt, &d));
    if (d < 0 || d > (double)max || d != floor(d))
        return ais__error(AIS_E_LIMIT, "%s is %g, expected an integer in [0, %zu]", key, d, max);
    *out = (size_t)d;
    return AIS_OK;
}

/* The array `key` of tree `t`: exactly n numbers (bools count as 0/1). */
static ais_status ais__xgb_array(const cJSON *tree, size_t t, const char *key, size_t n,
                                 const cJSON **out) {
    const cJSON *a = ais__xgb_get(tree, key);
    if (!cJSON_IsArray(a))
        return ais__error(AIS_E_FORMAT, "tree %zu: field %s is missing or not an array", t, key);
    size_t k = 0;
    for (const cJSON *c = a->child; c; c = c->next, k++)
        if (!cJSON_IsNumber(c) && !cJSON_IsBool(c))
            return ais__error(AIS_E_FORMAT, "tree %zu: %s[%zu] is not a number", t, key, k);
    if (k != n)
        return ais__error(AIS_E_FORMAT, "tree %zu: %s has %zu entries, expected %zu (nodes)", t,
                          key, k, n);
    *out = a->child;
    return AIS_OK;
}

static double ais__xgb_val(const cJSON *c) {
    return cJSON_IsBool(c) ? (cJSON_IsTrue(c) ? 1 : 0) : c->valuedouble;
}

/* XGBoost's largest category: it treats values >= 2^24 as invalid (sent left). */
#define AIS__XGB_MAX_CAT 16777216.0

typedef struct {
    int64_t *nodes, *seg, *size, *cats;
    size_t n, ncats, next;
} ais__xgb_cats;

static void ais__xgb_cats_free(ais__xgb_cats *c) {
    ais__free(c->nodes);
    ais__free(c->seg);
    ais__free(c->size);
    ais__free(c->cats);
    memset(c, 0, sizeof *c);
}

/* The integer array `key` of tree t (values in [0, hi)) into a new buffer; *n its length. */
static ais_status ais__xgb_ints(const cJSON *tree, size_t t, const char *key, double hi,
                                int64_t **out, size_t *n) {
    const cJSON *a = ais__xgb_get(tree, key);
    if (!cJSON_IsArray(a))
        return ais__error(AIS_E_FORMAT, "tree %zu: field %s is missing or not an array", t, key);
    size_t k = 0;
    for (const cJSON *c = a->child; c; c = c->next)
        k++;
    *n = k;
    *out = ais__malloc((k ? k : 1) * sizeof **out);
    if (!*out) return ais__oom(k * sizeof **out, key);
    k = 0;
    for (const cJSON *c = a->child; c; c = c->next, k++) {
        double v = c->valuedouble;
        if (!cJSON_IsNumber(c) || !(v >= 0 && v < hi) || v != floor(v))
            return ais__error(AIS_E_FORMAT, "tree %zu: %s[%zu] is not an integer in [0, %.0f)", t,
                              key, k, hi);
        (*out)[k] = (int64_t)v;
    }
    return AIS_OK;
}

static ais_status ais__xgb_cats_read(const cJSON *tree, size_t t, size_t n_nodes,
                                     ais__xgb_cats *c) {
    size_t n2, n3;
    AIS__CHECK(ais__xgb_ints(tree, t, "categories", AIS__XGB_MAX_CAT, &c->cats, &c->ncats));
    AIS__CHECK(ais__xgb_ints(tree, t, "categories_nodes", (double)n_nodes, &c->nodes, &c->n));
    AIS__CHECK(ais__xgb_ints(tree, t, "categories_segments", (double)c->ncats + 1, &c->seg, &n2));
    AIS__CHECK(ais__xgb_ints(tree, t, "categories_sizes", (double)c->ncats + 1, &c->size, &n3));
    if (n2 != c->n || n3 != c->n)
        return ais__error(AIS_E_FORMAT,
                          "tree %zu: categories_nodes, _segments and _sizes have %zu, %zu and %zu "
                          "entries",
                          t, c->n, n2, n3);
    for (size_t j = 0; j < c->n; j++) {
        if (j && c->nodes[j] <= c->nodes[j - 1])
            return ais__error(AIS_E_FORMAT, "tree %zu: categories_nodes is not increasing", t);
        if (c->size[j] > (int64_t)c->ncats - c->seg[j])
            return ais__error(AIS_E_FORMAT,
                              "tree %zu node %lld: categories segment %lld + size %lld is beyond "
                              "the %zu categories",
                              t, (long long)c->nodes[j], (long long)c->seg[j],
                              (long long)c->size[j], c->ncats);
    }
    return AIS_OK;
}

static int ais__xgb_cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Node i of tree t is categorical: its chain of range tests. */
static ais_status ais__xgb_cat_split(ais__tree_ens *e, ais__xgb_cats *c, size_t t, size_t i,
                                     int64_t f, int64_t lc, int64_t rc, bool left_default,
                                     int64_t *next_id) {
    if (c->next >= c->n || c->nodes[c->next] != (int64_t)i)
        return ais__error(AIS_E_FORMAT, "tree %zu node %zu: categorical split without categories",
                          t, i);
    size_t j = c->next++, n = (size_t)c->size[j];
    if (n == 0)
        return ais__error(AIS_E_FORMAT, "tree %zu node %zu: categorical split with no categories",
                          t, i);
    AIS__CHECK(ais__tree_ens_cat_scratch(e, n));
    memcpy(e->cats, c->cats + c->seg[j], n * sizeof *e->cats);
    qsort(e->cats, n, sizeof *e->cats, ais__xgb_cmp);
    return ais__tree_ens_categories(e, (int64_t)t, (int64_t)i, f, e->cats, n, false, rc, lc,
                                    left_default ? lc : rc, next_id);
}

static ais_status ais__xgb_tree_nodes(const cJSON *tree, size_t t, int64_t target, ais__tree_ens *e,
                                      uint8_t *parents, ais__xgb_cats *cats);

static ais_status ais__xgb_tree(const cJSON *tree, size_t t, int64_t target, ais__tree_ens *e,
                                uint8_t *parents) {
    ais__xgb_cats c = {0};
    ais_status st = ais__xgb_tree_nodes(tree, t, target, e, parents, &c);
    ais__xgb_cats_free(&c);
    return st;
}

static ais_status ais__xgb_tree_nodes(const cJSON *tree, size_t t, int64_t target, ais__tree_ens *e,
                                      uint8_t *parents, ais__xgb_cats *cats) {
    size_t n = 0;
    const cJSON *tp = ais__xgb_get(tree, "tree_param");
    if (!cJSON_IsObject(tp)) return ais__error(AIS_E_FORMAT, "tree %zu has no tree_param", t);
    AIS__CHECK(ais__xgb_count(tp, "num_nodes", -1, AIS__TREES_MAX_TREE_NODES, &n));
    if (n == 0) return ais__error(AIS_E_FORMAT, "tree %zu has no nodes", t);
    size_t leafvec;
    AIS__CHECK(ais__xgb_count(tp, "size_leaf_vector", 1, 1u << 20, &leafvec));
    if (leafvec > 1)
        return ais__error(AIS_E_UNSUPPORTED,
                          "tree %zu has vector leaves (size_leaf_vector %zu): multi-target trees "
                          "are not supported",
                          t, leafvec);
    const cJSON *l, *r, *si, *sc, *dl, *st = NULL;
    AIS__CHECK(ais__xgb_array(tree, t, "left_children", n, &l));
    AIS__CHECK(ais__xgb_array(tree, t, "right_children", n, &r));
    AIS__CHECK(ais__xgb_array(tree, t, "split_indices", n, &si));
    AIS__CHECK(ais__xgb_array(tree, t, "split_conditions", n, &sc));
    AIS__CHECK(ais__xgb_array(tree, t, "default_left", n, &dl));
    if (ais__xgb_get(tree, "split_type")) AIS__CHECK(ais__xgb_array(tree, t, "split_type", n, &st));
    bool any_cat = false;
    for (const cJSON *c = st; c; c = c->next)
        any_cat |= ais__xgb_val(c) != 0;
    if (any_cat) AIS__CHECK(ais__xgb_cats_read(tree, t, n, cats));
    int64_t next_id = (int64_t)n; /* ids of the categorical chains' extra nodes */
    memset(parents, 0, n);
    for (size_t i = 0; i < n; i++) {
        double lc = ais__xgb_val(l), rc = ais__xgb_val(r), f = ais__xgb_val(si);
        double cond = ais__xgb_val(sc);
        bool left_default = ais__xgb_val(dl) != 0;
        double stype = st ? ais__xgb_val(st) : 0;
        if (stype != 0 && stype != 1)
            return ais__error(AIS_E_FORMAT, "tree %zu node %zu: split_type %g is not 0 or 1", t, i,
                              stype);
        if (!isfinite(cond) && (stype != 1 || lc == -1))
            return ais__error(AIS_E_FORMAT, "tree %zu: split_conditions[%zu] is not finite", t, i);
        /* XGBoost stores and compares in float. */
        double c32 = (double)(float)cond;
        if (lc == -1) {
            AIS__CHECK(ais__tree_ens_leaf(e, (int64_t)t, (int64_t)i, target, c32));
        } else {
            if (lc != floor(lc) || rc != floor(rc) || lc <= (double)i || rc <= (double)i ||
                lc >= (double)n || rc >= (double)n || lc == rc)
                return ais__error(AIS_E_FORMAT,
                                  "tree %zu node %zu: children %g and %g, expected two distinct "
                                  "nodes after it and below num_nodes %zu",
                                  t, i, lc, rc, n);
            if (f < 0 || f != floor(f) || f >= (double)e->n_features)
                return ais__error(AIS_E_FORMAT,
                                  "tree %zu node %zu: split_indices %g is not a feature below "
                                  "num_feature %zu",
                                  t, i, f, e->n_features);
            if (parents[(size_t)lc]++ || parents[(size_t)rc]++)
                return ais__error(AIS_E_FORMAT, "tree %zu node %zu: a child has two parents", t, i);
            if (stype == 1)
                AIS__CHECK(ais__xgb_cat_split(e, cats, t, i, (int64_t)f, (int64_t)lc, (int64_t)rc,
                                              left_default, &next_id));
            else
                AIS__CHECK(ais__tree_ens_branch(e, (int64_t)t, (int64_t)i, (int64_t)f, c32,
                                                (int64_t)lc, (int64_t)rc, left_default));
        }
        l = l->next, r = r->next, si = si->next, sc = sc->next, dl = dl->next;
        if (st) st = st->next;
    }
    if (cats->next != cats->n)
        return ais__error(AIS_E_FORMAT,
                          "tree %zu: categories_nodes[%zu] (node %lld) is not a categorical split",
                          t, cats->next, (long long)cats->nodes[cats->next]);
    return AIS_OK;
}

typedef struct {
    const char *name;
    int base; /* 0 identity, 1 logit, 2 log */
    ais__trees_prob prob;
} ais__xgb_objective;

static const ais__xgb_objective ais__xgb_objectives[] = {
    {"reg:squarederror", 0, AIS__TREES_PROB_NONE},
    {"reg:squaredlogerror", 0, AIS__TREES_PROB_NONE},
    {"reg:pseudohubererror", 0, AIS__TREES_PROB_NONE},
    {"reg:absoluteerror", 0, AIS__TREES_PROB_NONE},
    {"reg:quantileerror", 0, AIS__TREES_PROB_NONE},
    {"reg:linear", 0, AIS__TREES_PROB_NONE},
    {"reg:logistic", 1, AIS__TREES_PROB_SIGMOID},
    {"binary:logistic", 1, AIS__TREES_PROB_SIGMOID},
    {"binary:logitraw", 0, AIS__TREES_PROB_NONE},
    {"multi:softprob", 0, AIS__TREES_PROB_SOFTMAX},
    {"multi:softmax", 0, AIS__TREES_PROB_SOFTMAX},
    {"count:poisson", 2, AIS__TREES_PROB_NONE},
    {"reg:gamma", 2, AIS__TREES_PROB_NONE},
    {"reg:tweedie", 2, AIS__TREES_PROB_NONE},
};

/* Every boosting round adds one tree per class (times num_parallel_tree), so each class has the
 * same number of trees, and gbtree_model_param.num_trees, where present, counts them all. */
static ais_status ais__xgb_per_class(const cJSON *model, const cJSON *info, size_t n_class,
                                     size_t n_trees) {
    const cJSON *gp = ais__xgb_get(model, "gbtree_model_param");
    if (cJSON_IsObject(gp) && ais__xgb_get(gp, "num_trees")) {
        size_t declared;
        AIS__CHECK(ais__xgb_count(gp, "num_trees", 0, AIS__TREES_MAX_NODES, &declared));
        if (declared != n_trees)
            return ais__error(AIS_E_FORMAT,
                              "gbtree_model_param.num_trees is %zu, but there are %zu trees",
                              declared, n_trees);
    }
    if (n_class < 2) return AIS_OK;
    size_t *count = ais__calloc(n_class, sizeof *count);
    if (!count) return ais__oom(n_class * sizeof *count, "trees per class");
    for (const cJSON *ti = info->child; ti; ti = ti->next)
        count[(size_t)ti->valuedouble]++; /* checked below n_class by the caller */
    ais_status st = AIS_OK;
    for (size_t k = 1; k < n_class && st == AIS_OK; k++)
        if (count[k] != count[0])
            st = ais__error(AIS_E_FORMAT,
                            "num_class is %zu, but tree_info gives class 0 %zu trees and class "
                            "%zu %zu: every round has one tree per class",
                            n_class, count[0], k, count[k]);
    ais__free(count);
    return st;
}

static ais_status ais__xgb_build(const cJSON *root, ais__tree_ens *e, ais__graph **out) {
    const cJSON *learner = ais__xgb_get(root, "learner");
    if (!cJSON_IsObject(learner)) return ais__error(AIS_E_FORMAT, "no \"learner\" object");
    const cJSON *mp = ais__xgb_get(learner, "learner_model_param");
    if (!cJSON_IsObject(mp)) return ais__error(AIS_E_FORMAT, "no learner_model_param");
    size_t n_class, n_target, n_base;
    double base[AIS__TREES_MAX_TARGETS];
    AIS__CHECK(ais__xgb_count(mp, "num_feature", -1, AIS__TREES_MAX_FEATURES, &e->n_features));
    AIS__CHECK(ais__xgb_count(mp, "num_class", 0, AIS__TREES_MAX_TARGETS, &n_class));
    AIS__CHECK(ais__xgb_count(mp, "num_target", 1, AIS__TREES_MAX_TARGETS, &n_target));
    if (n_target > 1)
        return ais__error(AIS_E_UNSUPPORTED,
                          "num_target %zu: multi-target models are not "
                          "supported",
                          n_target);
    if (e->n_features == 0) return ais__error(AIS_E_FORMAT, "num_feature is 0");
    e->n_targets = n_class > 1 ? n_class : 1;
    AIS__CHECK(ais__xgb_base_score(mp, e->n_targets, base, &n_base));

    const cJSON *obj = ais__xgb_get(ais__xgb_get(learner, "objective"), "name");
    if (!cJSON_IsString(obj) || !obj->valuestring)
        return ais__error(AIS_E_FORMAT, "no objective name");
    const ais__xgb_objective *ob = NULL;
    for (size_t i = 0; i < AIS__ARRAY_LEN(ais__xgb_objectives); i++)
        if (strcmp(obj->valuestring, ais__xgb_objectives[i].name) == 0)
            ob = &ais__xgb_objectives[i];
    if (!ob)
        return ais__error(AIS_E_UNSUPPORTED, "XGBoost objective \"%.60s\" is not supported",
                          obj->valuestring);
    /* The header must agree with itself: a multi-class objective with num_class 0 or 1 would
     * build one output whose softmax is always 1, and a binary or regression objective with
     * several classes would sum the classes' trees into one margin. */
    if (ob->prob == AIS__TREES_PROB_SOFTMAX && n_class < 2)
        return ais__error(AIS_E_FORMAT,
                          "objective %s needs num_class of at least 2, the model says %zu",
                          ob->name, n_class);
    if (ob->prob != AIS__TREES_PROB_SOFTMAX && n_class > 1)
        return ais__error(AIS_E_FORMAT,
                          "objective %s has one output, but num_class is %zu (a multi-class "
                          "model needs multi:softprob or multi:softmax)",
                          ob->name, n_class);
    /* XGBoost keeps base_score as a float and turns it into a margin in float arithmetic:
     * -logf(1.0f / b - 1.0f) for the logistic objectives, std::log(float) for the log link
     * (ProbToMargin in src/objective); every output starts from its float (XGBoost 3.1+ keeps
     * one per class, each turned into a margin the same way). */
    for (size_t k = 0; k < e->n_targets; k++) {
        char at[32] = "";
        if (n_base > 1) snprintf(at, sizeof at, "[%zu]", k);
        float b = (float)base[k], margin = b;
        if (ob->base == 1) {
            if (!(b > 0 && b < 1))
                return ais__error(AIS_E_FORMAT,
                                  "base_score%s %g of a logistic objective is not in (0, 1)", at,
                                  base[k]);
            margin = -logf(1.0f / b - 1.0f);
        } else if (ob->base == 2) {
            if (!(b > 0))
                return ais__error(AIS_E_FORMAT, "base_score%s %g is not positive", at, base[k]);
            margin = logf(b);
        }
        if (!isfinite(margin))
            return ais__error(AIS_E_FORMAT, "base_score%s %g gives the margin %g", at, base[k],
                              (double)margin);
        e->base[k] = margin;
    }
    e->acc_f32 = true;

    const cJSON *gb = ais__xgb_get(learner, "gradient_booster");
    const cJSON *gname = ais__xgb_get(gb, "name");
    if (!cJSON_IsString(gname) || !gname->valuestring || strcmp(gname->valuestring, "gbtree"))
        return ais__error(AIS_E_UNSUPPORTED,
                          "gradient_booster \"%.40s\": only gbtree is supported (not dart or "
                          "gblinear)",
                          cJSON_IsString(gname) && gname->valuestring ? gname->valuestring : "?");
    const cJSON *model = ais__xgb_get(gb, "model");
    const cJSON *trees = ais__xgb_get(model, "trees"), *info = ais__xgb_get(model, "tree_info");
    if (!cJSON_IsArray(trees) || !cJSON_IsArray(info))
        return ais__error(AIS_E_FORMAT, "gradient_booster.model has no trees or tree_info array");
    int nt = cJSON_GetArraySize(trees);
    if (nt != cJSON_GetArraySize(info))
        return ais__error(AIS_E_FORMAT, "%d trees but %d tree_info entries", nt,
                          cJSON_GetArraySize(info));
    uint8_t *parents = ais__malloc(AIS__TREES_MAX_TREE_NODES);
    if (!parents) return ais__oom(AIS__TREES_MAX_TREE_NODES, "tree check");
    ais_status st = AIS_OK;
    size_t t = 0;
    const cJSON *ti = info->child;
    for (const cJSON *tr = trees->child; tr && st == AIS_OK; tr = tr->next, ti = ti->next, t++) {
        if (!cJSON_IsNumber(ti) || ti->valuedouble < 0 || ti->valuedouble >= (double)e->n_targets ||
            ti->valuedouble != floor(ti->valuedouble))
            st = ais__error(AIS_E_FORMAT, "tree_info[%zu] is not a class below %zu", t,
                            e->n_targets);
        else if (!cJSON_IsObject(tr))
            st = ais__error(AIS_E_FORMAT, "tree %zu is not an object", t);
        else
            st = ais__xgb_tree(tr, t, (int64_t)ti->valuedouble, e, parents);
    }
    ais__free(parents);
    AIS__CHECK(st);
    AIS__CHECK(ais__xgb_per_class(model, info, e->n_targets, (size_t)nt));
    return ais__tree_ens_graph(e, "BRANCH_LT", ob->prob, ob->name, out);
}

/*
 * XGBoost writes the split_conditions of categorical nodes as a bare NaN, which is not JSON.
 * A copy of the text with each NaN outside strings spelled 1e999 (an infinity to cJSON, refused
 * wherever a finite number is needed); the byte offsets in
 * parse errors are those of the copy.
 */
static char *ais__xgb_unnan(const char *s, size_t size, size_t *out_size) {
    size_t nans = 0;
    bool in_str = false;
    for (size_t i = 0; i < size; i++) {
        if (in_str) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_str = false;
        } else if (s[i] == '"') {
            in_str = true;
        } else if (s[i] == 'N' && size - i >= 3 && memcmp(s + i, "NaN", 3) == 0) {
            nans++;
        }
    }
    if (nans > (SIZE_MAX - size) / 2) return NULL;
    size_t n = size + 2 * nans;
    char *d = ais__malloc(n ? n : 1);
    if (!d) return NULL;
    size_t k = 0;
    in_str = false;
    for (size_t i = 0; i < size; i++) {
        if (in_str) {
            if (s[i] == '\\' && i + 1 < size)
                d[k++] = s[i++];
            else if (s[i] == '"')
                in_str = false;
        } else if (s[i] == '"') {
            in_str = true;
        } else if (s[i] == 'N' && size - i >= 3 && memcmp(s + i, "NaN", 3) == 0) {
            memcpy(d + k, "1e999", 5);
            k += 5, i += 2;
            continue;
        }
        d[k++] = s[i];
    }
    *out_size = k;
    return d;
}

ais_status ais__xgboost_read(const void *data, size_t size, const ais__load_opts *o,
                             ais__graph **out) {
    (void)o;
    *out = NULL;
    const char *end = NULL;
    size_t tsize = 0;
    char *text = ais__xgb_unnan(data, size, &tsize);
    if (!text) return ais__oom(size, "XGBoost JSON text");
    cJSON *root = cJSON_ParseWithLengthOpts(text, tsize, &end, false);
    if (!root) {
        /* Offsets are those of the copy, which differ from the file's only after a NaN. */
        ais_status st =
            ais__json_error("XGBoost JSON model", text, tsize, end, CJSON_NESTING_LIMIT);
        ais__free(text);
        return st;
    }
    ais__free(text);
    ais__tree_ens *e = ais__malloc(sizeof *e);
    if (!e) {
        cJSON_Delete(root);
        return ais__oom(sizeof *e, "tree ensemble");
    }
    ais__tree_ens_init(e);
    ais_status st = ais__xgb_build(root, e, out);
    ais__tree_ens_free(e);
    ais__free(e);
    cJSON_Delete(root);
    if (st != AIS_OK) ais__error_prefix("XGBoost JSON model");
    return st;
}
