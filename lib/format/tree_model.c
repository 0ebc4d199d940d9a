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
    ais__free(e->leaf);
    ais__free(e->weight);
    e->value = e->weight = NULL;
    e->leaf = NULL;
    e->n = e->cap = e->nw = e->capw = 0;
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
    AIS__CHECK(ais__grow((void **)&e->leaf, e->cap, nc, 1));
    e->cap = nc;
    return AIS_OK;
}

static ais_status ais__tree_ens_put(ais__tree_ens *e, int64_t tree, int64_t node, bool leaf,
                                    int64_t feature, double threshold, int64_t t, int64_t f,
                                    bool miss_true) {
    AIS__CHECK(ais__tree_ens_reserve(e));
    size_t i = e->n++;
    e->tree[i] = tree;
    e->node[i] = node;
    e->leaf[i] = leaf;
    e->feat[i] = feature;
    e->value[i] = threshold;
    e->tnode[i] = t;
    e->fnode[i] = f;
    e->miss[i] = miss_true;
    return AIS_OK;
}

ais_status ais__tree_ens_branch(ais__tree_ens *e, int64_t tree, int64_t node, int64_t feature,
                                double threshold, int64_t t, int64_t f, bool miss_true) {
    return ais__tree_ens_put(e, tree, node, false, feature, threshold, t, f, miss_true);
}

ais_status ais__tree_ens_leaf(ais__tree_ens *e, int64_t tree, int64_t node, int64_t target,
                              double weight) {
    AIS__CHECK(ais__tree_ens_put(e, tree, node, true, 0, 0, 0, 0, false));
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
    for (size_t i = 0; i < e->n; i++)
        modes[i] = e->leaf[i] ? "LEAF" : mode;
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
                                      ais__trees_prob prob, const char *source,
                                      const char *objective, ais__graph *g) {
    if (e->n == 0) return ais__error(AIS_E_FORMAT, "the model has no trees");
    AIS__CHECK(ais__graph_set_opset(g, "", 13));
    AIS__CHECK(ais__graph_set_opset(g, "ai.onnx.ml", 3));
    AIS__CHECK(ais__graph_set_meta(g, "source_format", source));
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
                                   margin, 1, p, 1, NULL));
    return ais__declare(g, "probability", (int64_t)e->n_targets, false);
}

ais_status ais__tree_ens_graph(const ais__tree_ens *e, const char *mode, ais__trees_prob prob,
                               const char *source, const char *objective, ais__graph **out) {
    *out = NULL;
    ais__graph *g = NULL;
    AIS__CHECK(ais__graph_create(&g));
    ais_status st = ais__tree_ens_build(e, mode, prob, source, objective, g);
    if (st != AIS_OK) {
        ais__graph_destroy(g);
        return st;
    }
    *out = g;
    return AIS_OK;
}
