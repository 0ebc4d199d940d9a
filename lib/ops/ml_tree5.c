/*
 * ml_tree5.c - ai.onnx.ml TreeEnsemble (opset 5), the unified tree operator.
 *
 * prepare translates the opset-5 encoding into the TreeEnsembleRegressor form that the compiled
 * engine (tree_engine.c) builds from, so both share one checked, fast implementation:
 *   - trees are walked from tree_roots; every interior node reached from root t becomes node
 *     (tree t, id = its index), every leaf index l reached becomes a LEAF node (t, n + l) with
 *     one weight (leaf_targetids[l], leaf_weights[l]);
 *   - a BRANCH_MEMBER node with the set {v0..vk-1} becomes a chain of BRANCH_EQ nodes (v0 true ->
 *     the true child, false -> the test of v1, ..., the last false -> the false child), each
 *     with the node's missing-value direction, so a NaN goes where the node sends it. Trees with
 *     only LEQ/LT/GTE/GT splits keep the engine's branch-free layout.
 * Sets are taken from membership_values in the order the member nodes appear in nodes_modes, as
 * the specification says (onnx.reference 1.16 takes them in its build order instead, and ends a
 * set at a member 0.0: docs/onnx_ml.md).
 */
#include <stdlib.h>

#include "ml_util.h"
#include "tree_engine.h"

#define AIS__T5_MAX_TARGETS 4096
/* Translated nodes, over every tree: trees that share subtrees are copied per tree. */
#define AIS__T5_MAX_NODES ((size_t)1 << 26)

typedef struct ais__t5 {
    ais__tengine *e;
    size_t n_targets;
    ais__post_transform post;
} ais__t5;

/* The growing regressor-form arrays. */
typedef struct ais__t5_out {
    size_t n, cap, nw, capw;
    int64_t *tree, *id, *feat, *tid, *fid, *miss;
    const char **mode;
    double *value;
    int64_t *wtree, *wid, *wtarget;
    double *w;
} ais__t5_out;

static void ais__t5_out_free(ais__t5_out *o) {
    ais__free(o->tree), ais__free(o->id), ais__free(o->feat), ais__free(o->tid);
    ais__free(o->fid), ais__free(o->miss), ais__free(o->mode), ais__free(o->value);
    ais__free(o->wtree), ais__free(o->wid), ais__free(o->wtarget), ais__free(o->w);
}

static bool ais__t5_grow(void **p, size_t old, size_t cap, size_t sz) {
    void *q = ais__realloc(*p, old * sz, cap * sz);
    if (!q) return false;
    *p = q;
    return true;
}

static ais_status ais__t5_node(ais__t5_out *o, int64_t tree, int64_t id, int64_t feat,
                               const char *mode, double value, int64_t t, int64_t f, bool miss) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 256;
        if (o->n >= AIS__T5_MAX_NODES)
            return ais__error(AIS_E_LIMIT, "the trees expand to more than %zu nodes",
                              AIS__T5_MAX_NODES);
        if (!ais__t5_grow((void **)&o->tree, o->cap, cap, sizeof(int64_t)) ||
            !ais__t5_grow((void **)&o->id, o->cap, cap, sizeof(int64_t)) ||
            !ais__t5_grow((void **)&o->feat, o->cap, cap, sizeof(int64_t)) ||
            !ais__t5_grow((void **)&o->tid, o->cap, cap, sizeof(int64_t)) ||
            !ais__t5_grow((void **)&o->fid, o->cap, cap, sizeof(int64_t)) ||
            !ais__t5_grow((void **)&o->miss, o->cap, cap, sizeof(int64_t)) ||
            !ais__t5_grow((void **)&o->mode, o->cap, cap, sizeof(char *)) ||
            !ais__t5_grow((void **)&o->value, o->cap, cap, sizeof(double)))
            return ais__oom(cap * 8 * sizeof(int64_t), "TreeEnsemble nodes");
        o->cap = cap;
    }
    size_t i = o->n++;
    o->tree[i] = tree, o->id[i] = id, o->feat[i] = feat, o->tid[i] = t, o->fid[i] = f;
    o->miss[i] = miss, o->mode[i] = mode, o->value[i] = value;
    return AIS_OK;
}

static ais_status ais__t5_weight(ais__t5_out *o, int64_t tree, int64_t id, int64_t target,
                                 double w) {
    if (o->nw == o->capw) {
        size_t cap = o->capw ? 2 * o->capw : 256;
        if (!ais__t5_grow((void **)&o->wtree, o->capw, cap, sizeof(int64_t)) ||
            !ais__t5_grow((void **)&o->wid, o->capw, cap, sizeof(int64_t)) ||
            !ais__t5_grow((void **)&o->wtarget, o->capw, cap, sizeof(int64_t)) ||
            !ais__t5_grow((void **)&o->w, o->capw, cap, sizeof(double)))
            return ais__oom(cap * 4 * sizeof(int64_t), "TreeEnsemble leaves");
        o->capw = cap;
    }
    size_t i = o->nw++;
    o->wtree[i] = tree, o->wid[i] = id, o->wtarget[i] = target, o->w[i] = w;
    return AIS_OK;
}

/* The parsed opset-5 attributes. */
typedef struct ais__t5_in {
    size_t n, n_leaves, n_roots, n_members;
    const uint8_t *modes;
    const ais_tensor *splits, *weights, *members;
    const int64_t *feat, *tid, *fid, *tleaf, *fleaf, *miss, *ltarget, *roots;
    size_t *mbeg, *mend; /* [n]: the node's set in members (member nodes only) */
} ais__t5_in;

static ais_status ais__t5_ints(const ais_attrs *a, const char *name, size_t want, bool required,
                               const int64_t **v) {
    size_t n = 0;
    if (!ais__attr_ints(a, name, v, &n)) {
        *v = NULL;
        if (required)
            return ais__error(AIS_E_INVALID_ARGUMENT, "attribute %s (ints) is required", name);
        return AIS_OK;
    }
    if (want != SIZE_MAX && n != want)
        return ais__error(AIS_E_SHAPE, "attribute %s has %zu values, expected %zu", name, n, want);
    return AIS_OK;
}

static ais_status ais__t5_float_tensor(const ais_attrs *a, const char *name, bool required,
                                       const ais_tensor **t) {
    *t = ais__attr_tensor(a, name);
    if (!*t) {
        if (required)
            return ais__error(AIS_E_INVALID_ARGUMENT, "attribute %s (tensor) is required", name);
        return AIS_OK;
    }
    ais_dtype d = (*t)->dtype;
    if (d != AIS_DTYPE_F32 && d != AIS_DTYPE_F64 && d != AIS_DTYPE_F16)
        return ais__error(AIS_E_DTYPE, "attribute %s must be float, double or float16, got %s",
                          name, ais_dtype_name(d));
    return AIS_OK;
}

static ais_status ais__t5_parse(const ais_attrs *a, ais__t5_in *in) {
    const ais_tensor *m = ais__attr_tensor(a, "nodes_modes");
    if (!m) return ais__error(AIS_E_INVALID_ARGUMENT, "attribute nodes_modes (tensor) is required");
    if (m->dtype != AIS_DTYPE_U8)
        return ais__error(AIS_E_DTYPE, "nodes_modes must be a uint8 tensor, got %s",
                          ais_dtype_name(m->dtype));
    in->n = m->numel;
    in->modes = m->data;
    if (in->n == 0 || in->n >= (size_t)INT32_MAX)
        return ais__error(AIS_E_SHAPE, "nodes_modes has %zu nodes, expected 1 to 2^31", in->n);
    AIS__CHECK(ais__t5_ints(a, "nodes_featureids", in->n, true, &in->feat));
    AIS__CHECK(ais__t5_ints(a, "nodes_truenodeids", in->n, true, &in->tid));
    AIS__CHECK(ais__t5_ints(a, "nodes_falsenodeids", in->n, true, &in->fid));
    AIS__CHECK(ais__t5_ints(a, "nodes_trueleafs", in->n, true, &in->tleaf));
    AIS__CHECK(ais__t5_ints(a, "nodes_falseleafs", in->n, true, &in->fleaf));
    AIS__CHECK(ais__t5_ints(a, "nodes_missing_value_tracks_true", in->n, false, &in->miss));
    AIS__CHECK(ais__t5_float_tensor(a, "nodes_splits", true, &in->splits));
    if (in->splits->numel != in->n)
        return ais__error(AIS_E_SHAPE, "nodes_splits has %zu values for %zu nodes",
                          in->splits->numel, in->n);
    AIS__CHECK(ais__t5_float_tensor(a, "leaf_weights", true, &in->weights));
    in->n_leaves = in->weights->numel;
    if (in->n_leaves >= (size_t)INT32_MAX)
        return ais__error(AIS_E_LIMIT, "%zu leaves are too many", in->n_leaves);
    AIS__CHECK(ais__t5_ints(a, "leaf_targetids", in->n_leaves, true, &in->ltarget));
    AIS__CHECK(ais__t5_ints(a, "tree_roots", SIZE_MAX, true, &in->roots));
    ais__attr_ints(a, "tree_roots", &in->roots, &in->n_roots);
    if (in->n_roots == 0) return ais__error(AIS_E_SHAPE, "tree_roots is empty");
    AIS__CHECK(ais__t5_float_tensor(a, "membership_values", false, &in->members));
    for (size_t i = 0; i < in->n; i++) {
        if (in->modes[i] > 6)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "nodes_modes[%zu] is %u, expected 0 (BRANCH_LEQ) to 6 "
                              "(BRANCH_MEMBER)",
                              i, in->modes[i]);
        in->n_members += in->modes[i] == 6;
        if (in->feat[i] < 0 || in->feat[i] > INT32_MAX)
            return ais__error(AIS_E_INVALID_ARGUMENT, "node %zu reads feature %lld", i,
                              (long long)in->feat[i]);
    }
    return AIS_OK;
}

/* Splits membership_values at its NaNs: one set per member node, in node order. */
static ais_status ais__t5_sets(ais__t5_in *in) {
    if (in->n_members == 0) return AIS_OK;
    if (!in->members)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%zu BRANCH_MEMBER nodes but no membership_values", in->n_members);
    in->mbeg = ais__calloc(in->n, sizeof *in->mbeg);
    in->mend = ais__calloc(in->n, sizeof *in->mend);
    if (!in->mbeg || !in->mend) return ais__oom(2 * in->n * sizeof(size_t), "TreeEnsemble sets");
    size_t at = 0, nv = in->members->numel;
    for (size_t i = 0; i < in->n; i++) {
        if (in->modes[i] != 6) continue;
        if (at > nv)
            return ais__error(AIS_E_SHAPE,
                              "membership_values holds fewer NaN-separated sets than the %zu "
                              "BRANCH_MEMBER nodes",
                              in->n_members);
        in->mbeg[i] = at;
        while (at < nv && !isnan(ais__load_f64(in->members->data, in->members->dtype, at)))
            at++;
        in->mend[i] = at++;
    }
    return AIS_OK;
}

static double ais__t5_at(const ais_tensor *t, size_t i) {
    return ais__load_f64(t->data, t->dtype, i);
}

/* A child reference as a translated node id, checked. */
static ais_status ais__t5_child(const ais__t5_in *in, int64_t ref, bool leaf, int64_t *id) {
    size_t lim = leaf ? in->n_leaves : in->n;
    if (ref < 0 || (uint64_t)ref >= lim)
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s index %lld is out of range [0, %zu)",
                          leaf ? "leaf" : "node", (long long)ref, lim);
    *id = leaf ? (int64_t)in->n + ref : ref;
    return AIS_OK;
}

/* Adds leaf `ref` to tree `tree` the first time the tree reaches it (after the tree's root, which
 * the engine takes to be the tree's first node). */
static ais_status ais__t5_leaf(const ais__t5_in *in, ais__t5_out *o, int64_t tree, int64_t ref,
                               uint32_t *seen_leaf, uint32_t stamp) {
    if (seen_leaf[ref] == stamp) return AIS_OK;
    seen_leaf[ref] = stamp;
    int64_t id = (int64_t)in->n + ref;
    AIS__CHECK(ais__t5_node(o, tree, id, 0, "LEAF", 0, 0, 0, false));
    return ais__t5_weight(o, tree, id, in->ltarget[ref], ais__t5_at(in->weights, ref));
}

static const char *const ais__t5_mode_names[] = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE",
                                                 "BRANCH_GT",  "BRANCH_EQ", "BRANCH_NEQ"};

/* Every tree, depth first from its root, into o. */
static ais_status ais__t5_translate(const ais__t5_in *in, ais__t5_out *o, uint32_t *seen_node,
                                    uint32_t *seen_leaf, uint32_t *stack) {
    size_t chain_base = in->n + in->n_leaves; /* ids of the extra EQ tests of member chains */
    for (size_t t = 0; t < in->n_roots; t++) {
        uint32_t stamp = (uint32_t)t + 1;
        int64_t r = in->roots[t];
        if (r < 0 || (uint64_t)r >= in->n)
            return ais__error(AIS_E_INVALID_ARGUMENT, "tree_roots[%zu] = %lld is not a node", t,
                              (long long)r);
        int64_t tr = (int64_t)t, id;
        (void)id;
        if (in->tleaf[r] && in->fleaf[r] && in->tid[r] == in->fid[r]) {
            /* A tree that is one leaf. */
            AIS__CHECK(ais__t5_child(in, in->tid[r], true, &id));
            AIS__CHECK(ais__t5_leaf(in, o, tr, in->tid[r], seen_leaf, stamp));
            continue;
        }
        size_t sp = 0;
        stack[sp++] = (uint32_t)r;
        seen_node[r] = stamp;
        while (sp) {
            size_t i = stack[--sp];
            int64_t tc, fc;
            AIS__CHECK(ais__t5_child(in, in->tid[i], in->tleaf[i] != 0, &tc));
            AIS__CHECK(ais__t5_child(in, in->fid[i], in->fleaf[i] != 0, &fc));
            bool miss = in->miss && in->miss[i] != 0;
            int64_t feat = in->feat[i];
            if (in->modes[i] == 6) {
                size_t b = in->mbeg[i], e = in->mend[i];
                if (b == e) { /* the empty set: only a missing value can go true */
                    AIS__CHECK(
                        ais__t5_node(o, tr, (int64_t)i, feat, "BRANCH_EQ", NAN, tc, fc, miss));
                }
                for (size_t k = b; k < e; k++) {
                    int64_t self = k == b ? (int64_t)i : (int64_t)(chain_base + k);
                    int64_t next = k + 1 < e ? (int64_t)(chain_base + k + 1) : fc;
                    AIS__CHECK(ais__t5_node(o, tr, self, feat, "BRANCH_EQ",
                                            ais__t5_at(in->members, k), tc, next, miss));
                }
            } else {
                AIS__CHECK(ais__t5_node(o, tr, (int64_t)i, feat, ais__t5_mode_names[in->modes[i]],
                                        ais__t5_at(in->splits, i), tc, fc, miss));
            }
            if (in->tleaf[i]) AIS__CHECK(ais__t5_leaf(in, o, tr, in->tid[i], seen_leaf, stamp));
            if (in->fleaf[i]) AIS__CHECK(ais__t5_leaf(in, o, tr, in->fid[i], seen_leaf, stamp));
            /* Children pushed once per tree; a cycle then ends at a node already pushed, and
             * the engine's own walk reports it. */
            if (!in->tleaf[i] && seen_node[tc] != stamp) {
                seen_node[tc] = stamp;
                stack[sp++] = (uint32_t)tc;
            }
            if (!in->fleaf[i] && seen_node[fc] != stamp) {
                seen_node[fc] = stamp;
                stack[sp++] = (uint32_t)fc;
            }
        }
    }
    return AIS_OK;
}

static ais_status ais__t5_engine(const ais__t5_in *in, const ais__t5_out *o, size_t n_targets,
                                 ais__tree_agg agg, ais__tengine **e) {
    ais_attrs *a;
    AIS__CHECK(ais_attrs_create(&a));
    int64_t nd = (int64_t)o->n, nwd = (int64_t)o->nw;
    ais_status st = ais_attrs_set_strings(a, "nodes_modes", o->mode, o->n);
    if (st == AIS_OK) st = ais_attrs_set_ints(a, "nodes_treeids", o->tree, o->n);
    if (st == AIS_OK) st = ais_attrs_set_ints(a, "nodes_nodeids", o->id, o->n);
    if (st == AIS_OK) st = ais_attrs_set_ints(a, "nodes_featureids", o->feat, o->n);
    if (st == AIS_OK) st = ais_attrs_set_ints(a, "nodes_truenodeids", o->tid, o->n);
    if (st == AIS_OK) st = ais_attrs_set_ints(a, "nodes_falsenodeids", o->fid, o->n);
    if (st == AIS_OK) st = ais_attrs_set_ints(a, "nodes_missing_value_tracks_true", o->miss, o->n);
    if (st == AIS_OK)
        st = ais__attrs_set_tensor_borrowed(a, "nodes_values_as_tensor", AIS_DTYPE_F64, &nd, 1,
                                            o->value);
    if (st == AIS_OK) st = ais_attrs_set_ints(a, "target_treeids", o->wtree, o->nw);
    if (st == AIS_OK) st = ais_attrs_set_ints(a, "target_nodeids", o->wid, o->nw);
    if (st == AIS_OK) st = ais_attrs_set_ints(a, "target_ids", o->wtarget, o->nw);
    if (st == AIS_OK)
        st = ais__attrs_set_tensor_borrowed(a, "target_weights_as_tensor", AIS_DTYPE_F64, &nwd, 1,
                                            o->w);
    (void)in;
    if (st == AIS_OK) st = ais__tengine_build(a, "target", n_targets, agg, true, e);
    ais_attrs_destroy(a);
    return st;
}

static void ais__t5_free(void *state) {
    ais__t5 *s = state;
    if (!s) return;
    ais__tengine_free(s->e);
    ais__free(s);
}

static ais_status ais__t5_settings(const ais_attrs *a, size_t *n_targets, ais__tree_agg *agg,
                                   ais__post_transform *post) {
    int64_t nt = ais__attr_int(a, "n_targets", 1);
    if (nt < 1 || nt > AIS__T5_MAX_TARGETS)
        return ais__error(AIS_E_INVALID_ARGUMENT, "n_targets must be in [1, %d], got %lld",
                          AIS__T5_MAX_TARGETS, (long long)nt);
    *n_targets = (size_t)nt;
    int64_t ag = ais__attr_int(a, "aggregate_function", 1);
    static const ais__tree_agg aggs[] = {AIS__TAGG_AVERAGE, AIS__TAGG_SUM, AIS__TAGG_MIN,
                                         AIS__TAGG_MAX};
    if (ag < 0 || ag > 3)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "aggregate_function must be 0 (AVERAGE), 1 (SUM), 2 (MIN) or 3 (MAX), "
                          "got %lld",
                          (long long)ag);
    *agg = aggs[ag];
    int64_t pt = ais__attr_int(a, "post_transform", 0);
    static const ais__post_transform posts[] = {AIS__POST_NONE, AIS__POST_SOFTMAX,
                                                AIS__POST_LOGISTIC, AIS__POST_SOFTMAX_ZERO,
                                                AIS__POST_PROBIT};
    if (pt < 0 || pt > 4)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "post_transform must be 0 (NONE) to 4 (PROBIT), got %lld", (long long)pt);
    *post = posts[pt];
    return AIS_OK;
}

static ais_status ais__t5_prepare(const ais__op_ctx *ctx, void **state) {
    *state = NULL;
    ais__t5 *s = ais__calloc(1, sizeof *s);
    if (!s) return ais__oom(sizeof *s, "TreeEnsemble");
    ais__tree_agg agg;
    ais__t5_in in;
    memset(&in, 0, sizeof in);
    ais__t5_out o;
    memset(&o, 0, sizeof o);
    uint32_t *seen_node = NULL, *seen_leaf = NULL, *stack = NULL;
    ais_status st = ais__t5_settings(ctx->attrs, &s->n_targets, &agg, &s->post);
    if (st == AIS_OK) st = ais__t5_parse(ctx->attrs, &in);
    if (st == AIS_OK) st = ais__t5_sets(&in);
    if (st == AIS_OK) {
        seen_node = ais__calloc(in.n, sizeof *seen_node);
        seen_leaf = ais__calloc(in.n_leaves ? in.n_leaves : 1, sizeof *seen_leaf);
        stack = ais__malloc(in.n * sizeof *stack);
        if (!seen_node || !seen_leaf || !stack)
            st = ais__oom((2 * in.n + in.n_leaves) * sizeof(uint32_t), "TreeEnsemble walk");
    }
    for (size_t i = 0; st == AIS_OK && i < in.n_leaves; i++)
        if (in.ltarget[i] < 0 || (uint64_t)in.ltarget[i] >= s->n_targets)
            st = ais__error(AIS_E_INVALID_ARGUMENT,
                            "leaf_targetids[%zu] is %lld, expected [0, n_targets = %zu)", i,
                            (long long)in.ltarget[i], s->n_targets);
    if (st == AIS_OK) st = ais__t5_translate(&in, &o, seen_node, seen_leaf, stack);
    if (st == AIS_OK) st = ais__t5_engine(&in, &o, s->n_targets, agg, &s->e);
    ais__free(seen_node), ais__free(seen_leaf), ais__free(stack);
    ais__free(in.mbeg), ais__free(in.mend);
    ais__t5_out_free(&o);
    if (st != AIS_OK) {
        ais__t5_free(s);
        return st;
    }
    *state = s;
    return AIS_OK;
}

static ais_status ais__t5_x(const ais_tensor *x, size_t *rows, size_t *cols) {
    AIS__CHECK(ais__expect_dtype(x, "X", AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_F16,
                                 AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_rank(x, "X", 1, 2));
    *rows = x->ndim == 2 ? (size_t)x->dims[0] : 1;
    *cols = (size_t)x->dims[x->ndim - 1];
    return AIS_OK;
}

static ais_status ais__t5_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    size_t rows, cols;
    AIS__CHECK(ais__t5_x(in[0], &rows, &cols));
    size_t nt;
    ais__tree_agg agg;
    ais__post_transform pt;
    AIS__CHECK(ais__t5_settings(ctx->attrs, &nt, &agg, &pt));
    int64_t dims[2] = {(int64_t)rows, (int64_t)nt};
    ais__desc_set(&out[0], in[0]->dtype, dims, 2);
    return AIS_OK;
}

static ais_status ais__t5_run(ais__op_ctx *ctx, const ais__t5 *s, const ais_tensor *x, size_t rows,
                              size_t cols, ais_tensor *y) {
    size_t n_sc, n_x = 0, bytes;
    if (!ais__mul_size(rows, s->n_targets, &n_sc) ||
        (x->dtype == AIS_DTYPE_F16 && !ais__mul_size(rows, cols, &n_x)) ||
        !ais__add_size(n_sc, n_x, &bytes) || !ais__mul_size(bytes + 16, sizeof(float), &bytes))
        return ais__error(AIS_E_LIMIT, "%zu rows of %zu targets are too many", rows, s->n_targets);
    float *sc = y->dtype == AIS_DTYPE_F32 ? y->data : ais__op_scratch(ctx, bytes);
    if (!sc) return ais__oom(bytes, "TreeEnsemble scores");
    const ais_tensor *xs = x;
    ais_tensor xf;
    if (x->dtype == AIS_DTYPE_F16) {
        /* The engine reads f32/f64: widen the half rows once. */
        float *buf = y->dtype == AIS_DTYPE_F32 ? ais__op_scratch(ctx, bytes) : sc + n_sc + 8;
        if (!buf) return ais__oom(bytes, "TreeEnsemble rows");
        for (size_t i = 0; i < rows * cols; i++)
            buf[i] = ais__f16_to_f32(((const uint16_t *)x->data)[i]);
        xf = *x;
        xf.dtype = AIS_DTYPE_F32;
        xf.nbytes = x->numel * sizeof(float);
        xf.data = buf;
        xf.storage = NULL;
        xs = &xf;
    }
    AIS__CHECK(ais__tengine_scores(s->e, xs, rows, cols, sc, ctx->pool));
    for (size_t r = 0; r < rows; r++) {
        float *row = sc + r * s->n_targets;
        ais__ml_post_apply(s->post, row, s->n_targets);
        if (y->dtype != AIS_DTYPE_F32)
            for (size_t j = 0; j < s->n_targets; j++)
                ais__store_f64(y->data, y->dtype, r * s->n_targets + j, row[j]);
    }
    return AIS_OK;
}

static ais_status ais__t5_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    size_t rows, cols;
    AIS__CHECK(ais__t5_x(in[0], &rows, &cols));
    const ais__t5 *s;
    AIS__CHECK(ais__op_state(ctx, (const void **)&s));
    ais_status st = ais__t5_run(ctx, s, in[0], rows, cols, out[0]);
    return st;
}

const ais__op_def ais__ops_ml_tree5[] = {
    {.domain = AIS__ML_DOMAIN,
     .name = "TreeEnsemble",
     .since_version = 5,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__t5_infer,
     .compute = ais__t5_compute,
     .prepare = ais__t5_prepare,
     .release = ais__t5_free},
    {.name = NULL},
};
