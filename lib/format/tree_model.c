/* tree_model.c - builds the TreeEnsembleRegressor graph of a gradient-boosted model. */
#include "tree_model.h"

#include <string.h>

void ais__tree_ens_init(ais__tree_ens *e) { memset(e, 0, sizeof *e); }

void ais__tree_ens_free(ais__tree_ens *e) {
    int64_t **arrs[] = {&e->tree, &e->node,  &e->feat,  &e->tnode,  &e->fnode,
                        &e->miss, &e->wtree, &e->wnode, &e->wtarget};
    for (size_t i = 0; i < AIS__ARRAY_LEN(arrs); i++) {
        ais__free(*arrs[i]);
        *arrs[i] = NULL;
    }
    ais__free(e->value);
    ais__free(e->kind);
    ais__free(e->weight);
    ais__free(e->cut_v);
    ais__free(e->cut_incl);
    ais__free(e->cut_dest);
    ais__free(e->cats);
    e->value = e->weight = e->cut_v = NULL;
    e->kind = e->cut_incl = NULL;
    e->cut_dest = e->cats = NULL;
    e->n = e->cap = e->nw = e->capw = e->cats_cap = 0;
}

static ais_status ais__grow(void **p, size_t old_n, size_t new_n, size_t elem) {
    void *q = ais__realloc(*p, old_n * elem, new_n * elem);
    if (!q) return ais__oom(new_n * elem, "tree nodes");
    *p = q;
    return AIS_OK;
}

static ais_status ais__tree_ens_reserve(ais__tree_ens *e) {
    if (e->n < e->cap) return AIS_OK;
    if (e->n >= AIS__TREES_MAX_NODES)
        return ais__error(AIS_E_LIMIT, "the model has more than %u tree nodes",
                          AIS__TREES_MAX_NODES);
    size_t nc = e->cap ? e->cap * 2 : 256;
    void **i64[] = {(void **)&e->tree,  (void **)&e->node,  (void **)&e->feat,
                    (void **)&e->tnode, (void **)&e->fnode, (void **)&e->miss};
    for (size_t i = 0; i < AIS__ARRAY_LEN(i64); i++)
        AIS__CHECK(ais__grow(i64[i], e->cap, nc, sizeof(int64_t)));
    AIS__CHECK(ais__grow((void **)&e->value, e->cap, nc, sizeof(double)));
    AIS__CHECK(ais__grow((void **)&e->kind, e->cap, nc, 1));
    e->cap = nc;
    return AIS_OK;
}

static ais_status ais__tree_ens_put(ais__tree_ens *e, int64_t tree, int64_t node, uint8_t kind,
                                    int64_t feature, double threshold, int64_t t, int64_t f,
                                    bool miss_true) {
    AIS__CHECK(ais__tree_ens_reserve(e));
    size_t i = e->n++;
    e->tree[i] = tree;
    e->node[i] = node;
    e->kind[i] = kind;
    e->feat[i] = feature;
    e->value[i] = threshold;
    e->tnode[i] = t;
    e->fnode[i] = f;
    e->miss[i] = miss_true;
    return AIS_OK;
}

ais_status ais__tree_ens_branch(ais__tree_ens *e, int64_t tree, int64_t node, int64_t feature,
                                double threshold, int64_t t, int64_t f, bool miss_true) {
    return ais__tree_ens_put(e, tree, node, AIS__TN_DEFAULT, feature, threshold, t, f, miss_true);
}

ais_status ais__tree_ens_cut_scratch(ais__tree_ens *e) {
    if (e->cut_v) return AIS_OK;
    size_t n = AIS__TREES_MAX_SPLIT_NODES + 1;
    e->cut_v = ais__malloc(n * sizeof *e->cut_v);
    e->cut_incl = ais__malloc(n);
    e->cut_dest = ais__malloc(n * sizeof *e->cut_dest);
    if (e->cut_v && e->cut_incl && e->cut_dest) return AIS_OK;
    ais__free(e->cut_v);
    ais__free(e->cut_incl);
    ais__free(e->cut_dest);
    e->cut_v = NULL, e->cut_incl = NULL, e->cut_dest = NULL;
    return ais__oom(n * 17, "split scratch");
}

ais_status ais__tree_ens_cat_scratch(ais__tree_ens *e, size_t n) {
    if (n <= e->cats_cap) return AIS_OK;
    if (n > SIZE_MAX / 2 / sizeof *e->cats) return ais__error(AIS_E_LIMIT, "%zu categories", n);
    size_t nc = n < 64 ? 64 : n + n / 2;
    AIS__CHECK(ais__grow((void **)&e->cats, e->cats_cap, nc, sizeof *e->cats));
    e->cats_cap = nc;
    return AIS_OK;
}

ais_status ais__tree_ens_route(ais__tree_ens *e, int64_t tree, int64_t node, int64_t feature,
                               size_t k, int64_t nan_dest, int64_t *next_id) {
    double *v = e->cut_v;
    uint8_t *incl = e->cut_incl;
    int64_t *dest = e->cut_dest;
    /* merge in place: keep cut j only where the destination changes across it */
    size_t m = 0;
    for (size_t j = 0; j < k; j++) {
        if (dest[j + 1] == dest[m]) continue;
        v[m] = v[j], incl[m] = incl[j];
        dest[++m] = dest[j + 1];
    }
    if (m == 0)
        return ais__error(AIS_E_FORMAT, "tree %lld node %lld: the split sends every value one way",
                          (long long)tree, (long long)node);
    if (nan_dest != dest[m - 1] && nan_dest != dest[m])
        return ais__error(AIS_E_FORMAT, "tree %lld node %lld: missing values have no child",
                          (long long)tree, (long long)node);
    if (m > AIS__TREES_MAX_SPLIT_NODES)
        return ais__error(AIS_E_LIMIT, "tree %lld node %lld: the split needs %zu nodes, over %u",
                          (long long)tree, (long long)node, m, AIS__TREES_MAX_SPLIT_NODES);
    int64_t first = *next_id;
    *next_id += (int64_t)(m - 1);
    for (size_t i = 0; i < m; i++) {
        int64_t id = i == 0 ? node : first + (int64_t)i - 1;
        bool last = i + 1 == m;
        int64_t f = last ? dest[m] : first + (int64_t)i;
        bool miss_true = last && nan_dest == dest[i];
        AIS__CHECK(ais__tree_ens_put(e, tree, id, incl[i] ? AIS__TN_LEQ : AIS__TN_LT, feature, v[i],
                                     dest[i], f, miss_true));
    }
    return AIS_OK;
}

ais_status ais__tree_ens_categories(ais__tree_ens *e, int64_t tree, int64_t node, int64_t feature,
                                    const int64_t *cats, size_t n, bool zero_from_minus_one,
                                    int64_t in_dest, int64_t out_dest, int64_t nan_dest,
                                    int64_t *next_id) {
    AIS__CHECK(ais__tree_ens_cut_scratch(e));
    size_t k = 0;
    e->cut_dest[0] = out_dest;
    for (size_t i = 0; i < n;) {
        int64_t a = cats[i], b = a + 1;
        for (i++; i < n && cats[i] <= b; i++)
            if (cats[i] == b) b++;
        if (k + 2 > AIS__TREES_MAX_SPLIT_NODES)
            return ais__error(AIS_E_LIMIT,
                              "tree %lld node %lld: the categorical split needs over %u nodes",
                              (long long)tree, (long long)node, AIS__TREES_MAX_SPLIT_NODES);
        /* below the run: out; then up to b: in */
        bool from_minus_one = zero_from_minus_one && a == 0;
        e->cut_v[k] = from_minus_one ? -1.0 : (double)a;
        e->cut_incl[k] = from_minus_one;
        e->cut_dest[++k] = in_dest;
        e->cut_v[k] = (double)b;
        e->cut_incl[k] = 0;
        e->cut_dest[++k] = out_dest;
    }
    return ais__tree_ens_route(e, tree, node, feature, k, nan_dest, next_id);
}

ais_status ais__tree_ens_leaf(ais__tree_ens *e, int64_t tree, int64_t node, int64_t target,
                              double weight) {
    AIS__CHECK(ais__tree_ens_put(e, tree, node, AIS__TN_LEAF, 0, 0, 0, 0, false));
    if (e->nw == e->capw) {
        size_t nc = e->capw ? e->capw * 2 : 256;
        AIS__CHECK(ais__grow((void **)&e->wtree, e->capw, nc, sizeof(int64_t)));
        AIS__CHECK(ais__grow((void **)&e->wnode, e->capw, nc, sizeof(int64_t)));
        AIS__CHECK(ais__grow((void **)&e->wtarget, e->capw, nc, sizeof(int64_t)));
        AIS__CHECK(ais__grow((void **)&e->weight, e->capw, nc, sizeof(double)));
        e->capw = nc;
    }
    e->wtree[e->nw] = tree;
    e->wnode[e->nw] = node;
    e->wtarget[e->nw] = target;
    e->weight[e->nw] = weight;
    e->nw++;
    return AIS_OK;
}

/* A double tensor attribute (the attribute keeps a reference to the data). */
static ais_status ais__set_doubles(ais_attrs *a, const char *name, const double *v, size_t n) {
    int64_t dims[1] = {(int64_t)n};
    ais_tensor *t = NULL;
    AIS__CHECK(ais_tensor_create(AIS_DTYPE_F64, dims, 1, &t));
    if (n) memcpy(ais_tensor_data(t), v, n * sizeof *v);
    ais_status st = ais_attrs_set_tensor(a, name, t);
    ais_tensor_destroy(t);
    return st;
}

static ais_status ais__tree_ens_attrs(const ais__tree_ens *e, const char *mode, ais_attrs *a) {
    const char **modes = ais__malloc(e->n * sizeof *modes);
    if (!modes) return ais__oom(e->n * sizeof *modes, "tree node modes");
    static const char *const names[] = {NULL, "LEAF", "BRANCH_LT", "BRANCH_LEQ", "BRANCH_GTE"};
    for (size_t i = 0; i < e->n; i++)
        modes[i] = e->kind[i] == AIS__TN_DEFAULT ? mode : names[e->kind[i]];
    ais_status st = ais_attrs_set_strings(a, "nodes_modes", modes, e->n);
    ais__free(modes);
    AIS__CHECK(st);
    AIS__CHECK(ais_attrs_set_ints(a, "nodes_treeids", e->tree, e->n));
    AIS__CHECK(ais_attrs_set_ints(a, "nodes_nodeids", e->node, e->n));
    AIS__CHECK(ais_attrs_set_ints(a, "nodes_featureids", e->feat, e->n));
    AIS__CHECK(ais_attrs_set_ints(a, "nodes_truenodeids", e->tnode, e->n));
    AIS__CHECK(ais_attrs_set_ints(a, "nodes_falsenodeids", e->fnode, e->n));
    AIS__CHECK(ais_attrs_set_ints(a, "nodes_missing_value_tracks_true", e->miss, e->n));
    AIS__CHECK(ais__set_doubles(a, "nodes_values_as_tensor", e->value, e->n));
    AIS__CHECK(ais_attrs_set_ints(a, "target_treeids", e->wtree, e->nw));
    AIS__CHECK(ais_attrs_set_ints(a, "target_nodeids", e->wnode, e->nw));
    AIS__CHECK(ais_attrs_set_ints(a, "target_ids", e->wtarget, e->nw));
    AIS__CHECK(ais__set_doubles(a, "target_weights_as_tensor", e->weight, e->nw));
    AIS__CHECK(ais__set_doubles(a, "base_values_as_tensor", e->base, e->n_targets));
    AIS__CHECK(ais_attrs_set_int(a, "n_targets", (int64_t)e->n_targets));
    AIS__CHECK(ais_attrs_set_string(a, "aggregate_function", "SUM"));
    if (e->acc_f32) AIS__CHECK(ais_attrs_set_string(a, "aistack_accumulate", "float32"));
    return ais_attrs_set_string(a, "post_transform", "NONE");
}

static ais_status ais__declare(ais__graph *g, const char *name, int64_t cols, bool input) {
    int32_t v;
    AIS__CHECK(ais__graph_value(g, name, &v));
    int64_t dims[2] = {AIS__DIM_DYNAMIC, cols};
    const char *names[2] = {"N", NULL};
    AIS__CHECK(ais__graph_declare(g, v, AIS_DTYPE_F32, 2, dims, names));
    return input ? ais__graph_add_input(g, v) : ais__graph_add_output(g, v);
}

static ais_status ais__tree_ens_build(const ais__tree_ens *e, const char *mode,
                                      ais__trees_prob prob, const char *objective, ais__graph *g) {
    if (e->n == 0) return ais__error(AIS_E_FORMAT, "the model has no trees");
    AIS__CHECK(ais__graph_set_opset(g, "", 13));
    AIS__CHECK(ais__graph_set_opset(g, "ai.onnx.ml", 3));
    if (objective) AIS__CHECK(ais__graph_set_meta(g, "objective", objective));
    AIS__CHECK(ais__declare(g, "input", (int64_t)e->n_features, true));
    ais_attrs *a = NULL;
    AIS__CHECK(ais_attrs_create(&a));
    ais_status st = ais__tree_ens_attrs(e, mode, a);
    if (st != AIS_OK) {
        ais_attrs_destroy(a);
        return st;
    }
    const char *in[1] = {"input"}, *margin[1] = {"margin"}, *p[1] = {"probability"};
    AIS__CHECK(ais__graph_add_node(g, "trees", "TreeEnsembleRegressor", "ai.onnx.ml", a, in, 1,
                                   margin, 1, NULL));
    AIS__CHECK(ais__declare(g, "margin", (int64_t)e->n_targets, false));
    const char *score[1] = {"margin"};
    if (e->average > 0) {
        /* random forests average their trees after the raw sum (LightGBM average_output) */
        int64_t one = 1;
        ais_tensor *t = NULL;
        int32_t v;
        AIS__CHECK(ais_tensor_create(AIS_DTYPE_F32, &one, 1, &t));
        *(float *)ais_tensor_data(t) = (float)(1.0 / e->average);
        if ((st = ais__graph_value(g, "average_scale", &v)) != AIS_OK) {
            ais_tensor_destroy(t);
            return st;
        }
        AIS__CHECK(ais__graph_set_constant(g, v, t));
        const char *mul_in[2] = {"margin", "average_scale"};
        score[0] = "average";
        AIS__CHECK(ais__graph_add_node(g, "average", "Mul", "", NULL, mul_in, 2, score, 1, NULL));
        AIS__CHECK(ais__declare(g, "average", (int64_t)e->n_targets, false));
    }
    if (prob == AIS__TREES_PROB_NONE) return AIS_OK;
    ais_attrs *pa = NULL;
    if (prob == AIS__TREES_PROB_SOFTMAX) {
        AIS__CHECK(ais_attrs_create(&pa));
        if ((st = ais_attrs_set_int(pa, "axis", -1)) != AIS_OK) {
            ais_attrs_destroy(pa);
            return st;
        }
    }
    AIS__CHECK(ais__graph_add_node(g, "probability",
                                   prob == AIS__TREES_PROB_SOFTMAX ? "Softmax" : "Sigmoid", "", pa,
                                   score, 1, p, 1, NULL));
    return ais__declare(g, "probability", (int64_t)e->n_targets, false);
}

ais_status ais__tree_ens_graph(const ais__tree_ens *e, const char *mode, ais__trees_prob prob,
                               const char *objective, ais__graph **out) {
    *out = NULL;
    ais__graph *g = NULL;
    AIS__CHECK(ais__graph_create(&g));
    ais_status st = ais__tree_ens_build(e, mode, prob, objective, g);
    if (st != AIS_OK) {
        ais__graph_destroy(g);
        return st;
    }
    *out = g;
    return AIS_OK;
}
