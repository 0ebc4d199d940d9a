/*
 * ml_tree.c - ai.onnx.ml TreeEnsembleClassifier and TreeEnsembleRegressor (versions 1 and 3;
 * 3 adds the *_as_tensor attributes).
 *
 * The trees arrive as parallel attribute arrays addressed by (tree id, node id). Each call
 * flattens them into scratch memory: nodes sorted by (tree, node), children and leaf weights
 * resolved to indices, so that evaluation is a walk over one array. Every array length and every
 * reference is checked first, and a walk longer than its tree has nodes is reported as a cycle:
 * trees come from files and may be hostile.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ml_util.h"

enum { AIS__M_LEQ, AIS__M_LT, AIS__M_GTE, AIS__M_GT, AIS__M_EQ, AIS__M_NEQ, AIS__M_LEAF };

typedef struct ais__tnode {
    double value;
    size_t feature;
    uint32_t t, f;       /* children (indices into the sorted nodes) */
    uint32_t wbeg, wend; /* its leaf weights in the sorted weight list */
    uint8_t mode, miss_true;
} ais__tnode;

typedef struct ais__tweight {
    uint32_t node, target;
    double w;
} ais__tweight;

typedef struct ais__trees {
    size_t n_nodes, n_trees, n_weights, n_targets;
    ais__tnode *nodes;
    uint32_t *roots;
    ais__tweight *weights;
    size_t n_base;
    ais__post_transform post;
    int agg;     /* 0 SUM, 1 AVERAGE, 2 MIN, 3 MAX */
    bool binary; /* classifier: every weight is for class 0 */
} ais__trees;

typedef struct ais__tkey {
    int64_t tree, node;
    uint32_t idx;
} ais__tkey;

static int ais__tkey_cmp(const void *a, const void *b) {
    const ais__tkey *x = a, *y = b;
    if (x->tree != y->tree) return x->tree < y->tree ? -1 : 1;
    if (x->node != y->node) return x->node < y->node ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int ais__tweight_cmp(const void *a, const void *b) {
    const ais__tweight *x = a, *y = b;
    if (x->node != y->node) return x->node < y->node ? -1 : 1;
    return 0;
}

/* A float list `name` (*f) or a float/double tensor `name`_as_tensor (*t); *n values, 0 when
 * neither is there. */
static ais_status ais__tree_floats(const ais_attrs *attrs, const char *name, size_t *n,
                                   const float **f, const ais_tensor **t) {
    char tn[64];
    snprintf(tn, sizeof tn, "%s_as_tensor", name);
    *f = NULL;
    *t = NULL;
    *n = 0;
    if (ais__attr_floats(attrs, name, f, n)) return AIS_OK;
    const ais_tensor *x = ais__attr_tensor(attrs, tn);
    if (!x) return AIS_OK;
    if (x->dtype != AIS_DTYPE_F32 && x->dtype != AIS_DTYPE_F64)
        return ais__error(AIS_E_DTYPE, "attribute %s must be float or double, got %s", tn,
                          ais_dtype_name(x->dtype));
    *t = x;
    *n = x->numel;
    return AIS_OK;
}

static double ais__tree_float_at(const float *f, const ais_tensor *t, size_t i) {
    return f ? f[i] : ais__load_f64(t->data, t->dtype, i);
}

static ais_status ais__tree_ints(const ais_attrs *attrs, const char *name, size_t want,
                                 bool required, const int64_t **v) {
    size_t n = 0;
    if (!ais__attr_ints(attrs, name, v, &n)) {
        *v = NULL;
        if (required && want)
            return ais__error(AIS_E_INVALID_ARGUMENT, "attribute %s (ints) is required", name);
        return AIS_OK;
    }
    if (n != want)
        return ais__error(AIS_E_SHAPE,
                          "attribute %s has %zu values, expected %zu (one per "
                          "entry)",
                          name, n, want);
    return AIS_OK;
}

static ais_status ais__tree_mode(const char *s, uint8_t *m) {
    static const char *const names[] = {"BRANCH_LEQ", "BRANCH_LT",  "BRANCH_GTE", "BRANCH_GT",
                                        "BRANCH_EQ",  "BRANCH_NEQ", "LEAF"};
    for (size_t i = 0; i < AIS__ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (uint8_t)i;
            return AIS_OK;
        }
    return ais__error(AIS_E_INVALID_ARGUMENT, "unknown node mode '%s'", s);
}

static ais_status ais__tree_find(const ais__tkey *keys, size_t n, int64_t tree, int64_t node,
                                 uint32_t *idx) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid].tree < tree || (keys[mid].tree == tree && keys[mid].node < node))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == n || keys[lo].tree != tree || keys[lo].node != node)
        return ais__error(AIS_E_INVALID_ARGUMENT, "tree %lld has no node %lld", (long long)tree,
                          (long long)node);
    *idx = (uint32_t)lo;
    return AIS_OK;
}

/* Flattens the attributes into scratch. `prefix` is "target" or "class". */
static ais_status ais__trees_build(ais__op_ctx *ctx, const char *prefix, ais__trees *tr) {
    const ais_attrs *a = ctx->attrs;
    memset(tr, 0, sizeof *tr);
    AIS__CHECK(ais__ml_post_parse(a, &tr->post));
    const ais__attr *modes = ais__attr_find(a, "nodes_modes");
    if (!modes || modes->type != AIS__ATTR_STRINGS || modes->count == 0)
        return ais__error(AIS_E_INVALID_ARGUMENT, "attribute nodes_modes (strings) is required");
    size_t n = modes->count;
    if (n >= UINT32_MAX / 2) return ais__error(AIS_E_LIMIT, "%zu tree nodes are too many", n);
    const int64_t *tids, *nids, *fids, *tt, *ff, *miss;
    AIS__CHECK(ais__tree_ints(a, "nodes_treeids", n, true, &tids));
    AIS__CHECK(ais__tree_ints(a, "nodes_nodeids", n, true, &nids));
    AIS__CHECK(ais__tree_ints(a, "nodes_featureids", n, true, &fids));
    AIS__CHECK(ais__tree_ints(a, "nodes_truenodeids", n, true, &tt));
    AIS__CHECK(ais__tree_ints(a, "nodes_falsenodeids", n, true, &ff));
    AIS__CHECK(ais__tree_ints(a, "nodes_missing_value_tracks_true", n, false, &miss));
    const float *vf;
    const ais_tensor *vt;
    size_t nv;
    AIS__CHECK(ais__tree_floats(a, "nodes_values", &nv, &vf, &vt));
    if (nv != n)
        return ais__error(AIS_E_SHAPE,
                          "attribute nodes_values has %zu values, expected %zu (one "
                          "per node)",
                          nv, n);

    char name[64];
    size_t nw = 0;
    const int64_t *wn, *wt, *wi;
    const float *wf;
    const ais_tensor *wtens;
    snprintf(name, sizeof name, "%s_weights", prefix);
    AIS__CHECK(ais__tree_floats(a, name, &nw, &wf, &wtens));
    if (nw >= UINT32_MAX) return ais__error(AIS_E_LIMIT, "%zu leaf weights are too many", nw);
    snprintf(name, sizeof name, "%s_nodeids", prefix);
    AIS__CHECK(ais__tree_ints(a, name, nw, true, &wn));
    snprintf(name, sizeof name, "%s_treeids", prefix);
    AIS__CHECK(ais__tree_ints(a, name, nw, true, &wt));
    snprintf(name, sizeof name, "%s_ids", prefix);
    AIS__CHECK(ais__tree_ints(a, name, nw, true, &wi));

    /* One scratch block: keys, nodes, roots, weights. */
    size_t off_nodes = ((n * sizeof(ais__tkey)) + 63) & ~(size_t)63;
    size_t off_roots = off_nodes + (((n * sizeof(ais__tnode)) + 63) & ~(size_t)63);
    size_t off_w = off_roots + (((n * sizeof(uint32_t)) + 63) & ~(size_t)63);
    size_t total = off_w + nw * sizeof(ais__tweight) + 64;
    char *buf = ais__op_scratch(ctx, total);
    if (!buf) return ais__oom(total, "tree ensemble layout");
    ais__tkey *keys = (ais__tkey *)buf;
    tr->nodes = (ais__tnode *)(buf + off_nodes);
    tr->roots = (uint32_t *)(buf + off_roots);
    tr->weights = (ais__tweight *)(buf + off_w);
    tr->n_nodes = n;
    tr->n_weights = nw;

    for (size_t i = 0; i < n; i++)
        keys[i] = (ais__tkey){tids[i], nids[i], (uint32_t)i};
    qsort(keys, n, sizeof *keys, ais__tkey_cmp);
    for (size_t i = 1; i < n; i++)
        if (keys[i].tree == keys[i - 1].tree && keys[i].node == keys[i - 1].node)
            return ais__error(AIS_E_INVALID_ARGUMENT, "tree %lld has node %lld twice",
                              (long long)keys[i].tree, (long long)keys[i].node);
    /* Roots: per tree (in id order), the node that comes first in the attribute order. */
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || keys[i].tree != keys[i - 1].tree)
            tr->roots[tr->n_trees++] = (uint32_t)i;
        else if (keys[i].idx < keys[tr->roots[tr->n_trees - 1]].idx)
            tr->roots[tr->n_trees - 1] = (uint32_t)i;
    }
    for (size_t i = 0; i < n; i++) {
        size_t s = keys[i].idx;
        ais__tnode *nd = &tr->nodes[i];
        memset(nd, 0, sizeof *nd);
        AIS__CHECK(ais__tree_mode(modes->strings[s], &nd->mode));
        nd->value = ais__tree_float_at(vf, vt, s);
        nd->miss_true = miss && miss[s] != 0;
        if (nd->mode == AIS__M_LEAF) continue;
        if (fids[s] < 0)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "node %lld of tree %lld reads feature "
                              "%lld",
                              (long long)nids[s], (long long)tids[s], (long long)fids[s]);
        nd->feature = (size_t)fids[s];
        AIS__CHECK(ais__tree_find(keys, n, tids[s], tt[s], &nd->t));
        AIS__CHECK(ais__tree_find(keys, n, tids[s], ff[s], &nd->f));
    }
    for (size_t i = 0; i < nw; i++) {
        uint32_t node;
        AIS__CHECK(ais__tree_find(keys, n, wt[i], wn[i], &node));
        if (wi[i] < 0 || wi[i] >= (int64_t)UINT32_MAX)
            return ais__error(AIS_E_INVALID_ARGUMENT, "%s id %lld is out of range", prefix,
                              (long long)wi[i]);
        tr->weights[i] = (ais__tweight){node, (uint32_t)wi[i], ais__tree_float_at(wf, wtens, i)};
    }
    /* Stable order within a node is not needed: weights of one node go to distinct sums. */
    qsort(tr->weights, nw, sizeof *tr->weights, ais__tweight_cmp);
    for (size_t i = 0; i < nw;) {
        size_t j = i;
        while (j < nw && tr->weights[j].node == tr->weights[i].node)
            j++;
        tr->nodes[tr->weights[i].node].wbeg = (uint32_t)i;
        tr->nodes[tr->weights[i].node].wend = (uint32_t)j;
        i = j;
    }
    const float *bf;
    const ais_tensor *bt;
    AIS__CHECK(ais__tree_floats(a, "base_values", &tr->n_base, &bf, &bt));
    (void)bf, (void)bt;
    return AIS_OK;
}

/* The base value of target k (0 when none are given). */
static double ais__tree_base(const ais_attrs *a, size_t k) {
    const float *bf;
    const ais_tensor *bt;
    size_t n;
    if (ais__tree_floats(a, "base_values", &n, &bf, &bt) != AIS_OK || n == 0) return 0;
    return ais__tree_float_at(bf, bt, n == 1 ? 0 : k);
}

static bool ais__tree_go_true(const ais__tnode *nd, double x) {
    if (isnan(x)) return nd->miss_true;
    switch (nd->mode) {
    case AIS__M_LEQ: return x <= nd->value;
    case AIS__M_LT: return x < nd->value;
    case AIS__M_GTE: return x >= nd->value;
    case AIS__M_GT: return x > nd->value;
    case AIS__M_EQ: return x == nd->value;
    default: return x != nd->value;
    }
}

/* The leaf that row `r` of X reaches in tree `t`. */
static ais_status ais__tree_leaf(const ais__trees *tr, const ais_tensor *x, size_t r, size_t cols,
                                 size_t t, const ais__tnode **leaf) {
    const ais__tnode *nd = &tr->nodes[tr->roots[t]];
    for (size_t steps = 0; nd->mode != AIS__M_LEAF; steps++) {
        if (steps > tr->n_nodes)
            return ais__error(AIS_E_INVALID_ARGUMENT, "tree %zu has a cycle", t);
        if (nd->feature >= cols)
            return ais__error(AIS_E_SHAPE, "a node reads feature %zu but X has %zu features",
                              nd->feature, cols);
        double v = ais__load_f64(x->data, x->dtype, r * cols + nd->feature);
        nd = &tr->nodes[ais__tree_go_true(nd, v) ? nd->t : nd->f];
    }
    *leaf = nd;
    return AIS_OK;
}

/* Raw scores of row r into s [width]: base values and aggregation applied. */
static ais_status ais__trees_scores(const ais__trees *tr, const ais_attrs *a, const ais_tensor *x,
                                    size_t r, size_t cols, size_t width, float *s, double *acc,
                                    uint8_t *seen) {
    {
        for (size_t k = 0; k < width; k++) {
            acc[k] = 0;
            seen[k] = 0;
        }
        for (size_t t = 0; t < tr->n_trees; t++) {
            const ais__tnode *leaf;
            AIS__CHECK(ais__tree_leaf(tr, x, r, cols, t, &leaf));
            for (uint32_t w = leaf->wbeg; w < leaf->wend; w++) {
                const ais__tweight *tw = &tr->weights[w];
                double *d = &acc[tw->target];
                if (tr->agg == 2)
                    *d = seen[tw->target] && *d < tw->w ? *d : tw->w;
                else if (tr->agg == 3)
                    *d = seen[tw->target] && *d > tw->w ? *d : tw->w;
                else
                    *d += tw->w;
                seen[tw->target] = 1;
            }
        }
        for (size_t k = 0; k < width; k++) {
            double v = acc[k];
            if (tr->agg == 1) v /= (double)tr->n_trees;
            s[k] = (float)(v + ais__tree_base(a, k));
        }
    }
    return AIS_OK;
}

static ais_status ais__trees_check_targets(const ais__trees *tr, size_t width) {
    for (size_t i = 0; i < tr->n_weights; i++)
        if (tr->weights[i].target >= width)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "a leaf weight is for output %u but there "
                              "are %zu",
                              tr->weights[i].target, width);
    /* one base value is broadcast to every output (a binary classifier's one score) */
    if (tr->n_base > 1 && tr->n_base != width)
        return ais__error(AIS_E_SHAPE, "%zu base_values for %zu outputs", tr->n_base, width);
    return AIS_OK;
}

/* The per-row accumulators live on the stack (the scratch holds the layout), so the number of
 * outputs is bounded. */
#define AIS__TREE_MAX_WIDTH 4096

/* ---- TreeEnsembleRegressor ---- */

static ais_status ais__treg_parse(ais__op_ctx *ctx, const ais_tensor *x, size_t *rows, size_t *cols,
                                  size_t *width) {
    AIS__CHECK(ais__ml_matrix(x, rows, cols));
    int64_t nt = ais__attr_int(ctx->attrs, "n_targets", 1);
    if (nt < 1 || nt > AIS__TREE_MAX_WIDTH)
        return ais__error(AIS_E_INVALID_ARGUMENT, "n_targets must be in [1, %d], got %lld",
                          AIS__TREE_MAX_WIDTH, (long long)nt);
    *width = (size_t)nt;
    const char *agg = ais__attr_string(ctx->attrs, "aggregate_function", "SUM");
    if (strcmp(agg, "SUM") && strcmp(agg, "AVERAGE") && strcmp(agg, "MIN") && strcmp(agg, "MAX"))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "aggregate_function must be SUM, AVERAGE, MIN "
                          "or MAX, got '%s'",
                          agg);
    ais__post_transform pt;
    return ais__ml_post_parse(ctx->attrs, &pt);
}

static ais_status ais__treg_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    (void)n_in, (void)n_out;
    size_t rows, cols, width;
    AIS__CHECK(ais__treg_parse(ctx, in[0], &rows, &cols, &width));
    ais__trees tr;
    AIS__CHECK(ais__trees_build(ctx, "target", &tr));
    AIS__CHECK(ais__trees_check_targets(&tr, width));
    int64_t dims[2] = {(int64_t)rows, (int64_t)width};
    ais__desc_set(&out[0], AIS_DTYPE_F32, dims, 2);
    return AIS_OK;
}

static ais_status ais__treg_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    (void)n_in, (void)n_out;
    size_t rows, cols, width;
    AIS__CHECK(ais__treg_parse(ctx, in[0], &rows, &cols, &width));
    ais__trees tr;
    AIS__CHECK(ais__trees_build(ctx, "target", &tr));
    AIS__CHECK(ais__trees_check_targets(&tr, width));
    const char *agg = ais__attr_string(ctx->attrs, "aggregate_function", "SUM");
    tr.agg = strcmp(agg, "AVERAGE") == 0 ? 1
             : strcmp(agg, "MIN") == 0   ? 2
             : strcmp(agg, "MAX") == 0   ? 3
                                         : 0;
    double acc[AIS__TREE_MAX_WIDTH];
    uint8_t seen[AIS__TREE_MAX_WIDTH];
    float *y = out[0]->data;
    for (size_t r = 0; r < rows; r++) {
        float *s = y + r * width;
        AIS__CHECK(ais__trees_scores(&tr, ctx->attrs, in[0], r, cols, width, s, acc, seen));
        ais__ml_post_apply(tr.post, s, width);
    }
    return AIS_OK;
}

/* ---- TreeEnsembleClassifier ---- */

static ais_status ais__tcls_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    (void)n_in;
    size_t rows, cols;
    AIS__CHECK(ais__ml_matrix(in[0], &rows, &cols));
    ais__ml_labels lb;
    AIS__CHECK(ais__ml_labels_parse(ctx->attrs, "classlabels_int64s", &lb));
    if (lb.n > AIS__TREE_MAX_WIDTH)
        return ais__error(AIS_E_LIMIT, "%zu classes, at most %d", lb.n, AIS__TREE_MAX_WIDTH);
    ais__trees tr;
    AIS__CHECK(ais__trees_build(ctx, "class", &tr));
    AIS__CHECK(ais__trees_check_targets(&tr, lb.n));
    int64_t dims[2] = {(int64_t)rows, (int64_t)(lb.n == 1 ? 2 : lb.n)};
    ais__desc_set(&out[0], lb.strings ? AIS_DTYPE_STRING : AIS_DTYPE_I64, dims, 1);
    if (n_out > 1) ais__desc_set(&out[1], AIS_DTYPE_F32, dims, 2);
    return AIS_OK;
}

static ais_status ais__tcls_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    (void)n_in;
    size_t rows, cols;
    AIS__CHECK(ais__ml_matrix(in[0], &rows, &cols));
    ais__ml_labels lb;
    AIS__CHECK(ais__ml_labels_parse(ctx->attrs, "classlabels_int64s", &lb));
    ais__trees tr;
    AIS__CHECK(ais__trees_build(ctx, "class", &tr));
    AIS__CHECK(ais__trees_check_targets(&tr, lb.n));
    bool binary = tr.n_weights > 0;
    for (size_t i = 0; i < tr.n_weights; i++)
        binary = binary && tr.weights[i].target == 0;
    size_t width = lb.n == 1 ? 2 : lb.n;
    double acc[AIS__TREE_MAX_WIDTH];
    uint8_t seen[AIS__TREE_MAX_WIDTH];
    float row[AIS__TREE_MAX_WIDTH];
    if (lb.strings) ais__strs_clear(out[0]);
    for (size_t r = 0; r < rows; r++) {
        AIS__CHECK(ais__trees_scores(&tr, ctx->attrs, in[0], r, cols, lb.n, row, acc, seen));
        if (lb.n == 1) row[1] = 0;
        if (binary) {
            row[1] = row[0];
            row[0] =
                (tr.post == AIS__POST_NONE || tr.post == AIS__POST_PROBIT) ? 1 - row[1] : -row[1];
        }
        ais__ml_post_apply(tr.post, row, width);
        size_t k = 0;
        for (size_t j = 1; j < width; j++)
            if (row[j] > row[k]) k = j;
        if (lb.n == 1) k = k == 1 ? 0 : SIZE_MAX; /* the one label, or "not it" */
        AIS__CHECK(ais__ml_label_write(&lb, out[0], r, k));
        if (n_out > 1) memcpy((float *)out[1]->data + r * width, row, width * sizeof *row);
    }
    return AIS_OK;
}

const ais__op_def ais__ops_ml_tree[] = {
    {.domain = AIS__ML_DOMAIN,
     .name = "TreeEnsembleClassifier",
     .since_version = 1,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 1,
     .max_outputs = 2,
     .infer = ais__tcls_infer,
     .compute = ais__tcls_compute,
     .flags = AIS__OP_STRINGS},
    {.domain = AIS__ML_DOMAIN,
     .name = "TreeEnsembleRegressor",
     .since_version = 1,
     .min_inputs = 1,
     .max_inputs = 1,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__treg_infer,
     .compute = ais__treg_compute},
    {.name = NULL},
};
