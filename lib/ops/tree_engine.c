/*
 * tree_engine.c - compiles a tree ensemble's attributes once (tree_engine.h) and scores rows.
 *
 * Trees come from files and may be hostile: every array length, every reference, feature id and
 * target is checked, and cycles are found here (a depth-first walk with colours), so that the
 * walks below never loop and never read outside the arrays.
 */
#include "tree_engine.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"

enum { AIS__M_LEQ, AIS__M_LT, AIS__M_GTE, AIS__M_GT, AIS__M_EQ, AIS__M_NEQ, AIS__M_LEAF };

/* Rows walked together (the kernel table's block walk, lib/cpu), rows per chunk that share a
 * block of trees, and trees per block (a block's nodes stay in L1/L2 while the chunk's rows go
 * through it). */
#define AIS__TB_ROWS AIS__CPU_TREE_ROWS
#ifndef AIS__TB_CHUNK
#define AIS__TB_CHUNK 128
#endif
#ifndef AIS__TB_TREES
#define AIS__TB_TREES 64
#endif
/* Chunks of at most this many rows walk trees across the lanes, one row at a time (measured:
 * docs/design-decisions.md, "Tree ensembles"); a chunk's last rows short of a block also do. */
/* A block of trees with up to this many padded nodes is prefetched whole per chunk (64 trees
 * of depth 7); bigger ones only their top AIS__TB_PREFETCH_TOP nodes per tree. */
#define AIS__TB_PREFETCH 8192
#define AIS__TB_PREFETCH_TOP 127
#ifndef AIS__TB_SMALL
#define AIS__TB_SMALL 15
#endif
/* The fast layout's limits: outputs (accumulators live on the stack) and tree depth. */
#define AIS__TF_MAX_WIDTH 16
#define AIS__TF_MAX_DEPTH 20
/* Padded leaves the fast layout may hold per node of the ensemble: leaf-wise grown trees
 * (HistGradientBoosting's max_leaf_nodes, LightGBM's num_leaves) are a few levels deeper than
 * their average path, and padding them to complete trees costs memory, never correctness. */
#define AIS__TF_MAX_PAD 32
/* Rank mode (non-f32 inputs on the fast layout, ais__tree_compile_rank): floats of converted
 * rows one chunk keeps on the stack, and with it the widest row it can take (16 rows). */
#define AIS__TR_BUF 16384
#define AIS__TR_MAX_COLS (AIS__TR_BUF / 16)
#define AIS__TREE_MAX_WIDTH 4096

typedef struct ais__tnode {
    double value;
    uint32_t feature;
    uint32_t t, f;       /* children (indices into the sorted nodes) */
    uint32_t wbeg, wend; /* its leaf weights in the sorted weight list */
    uint8_t mode, miss_true;
} ais__tnode;

typedef struct ais__tweight {
    uint32_t node, target;
    double w;
} ais__tweight;

struct ais__tengine {
    size_t n_nodes, n_trees, n_weights, width;
    ais__tnode *nodes;
    uint32_t *roots;
    ais__tweight *weights;
    double *base; /* [width] */
    ais__tree_agg agg;
    bool binary;
    /* aistack_accumulate "float32": weights and base rounded to float, each sum starts at its
     * base value and adds in float (see ais__tree_add) */
    bool acc_f32;
    size_t need_cols; /* 1 + the largest feature a reachable node reads; 0 when none */
    /* fast layout (fast true) */
    bool fast;
    bool simd;            /* the block walk through the kernel table (false: always ref/) */
    ais__cpu_forest view; /* the fast layout as the kernel layer reads it */
    size_t small_max;     /* row chunks up to this take the trees-across-lanes walk */
    bool lanes_dbl;       /* no default-right node at +inf: the small walk may double rows */
    float *thr;           /* per tree: 2^depth - 1 thresholds, heap order */
    uint32_t *fd;         /* feature | default-right << 31, same order */
    double *leaf;         /* per tree: 2^depth leaf values (NULL in float32 mode) */
    float *leaf32;        /* the same as floats, in float32 mode only (leaf is freed) */
    uint32_t *node_off;   /* [n_trees] */
    uint32_t *leaf_off;   /* [n_trees] */
    uint8_t *depth;       /* [n_trees] */
    uint16_t *target;     /* [n_trees] */
    uint8_t *gdepth;      /* [n_trees / 8]: each group of 8 trees' deepest, | 0x80: all as deep */
    size_t n_inner, n_leaves;
    /* rank mode (rank true): inputs that are not f32 (f64, i32, i64) walk the fast layout as
     * ranks among each feature's thresholds (ais__tree_compile_rank) */
    bool rank;
    double *cuts;          /* per feature, its distinct thresholds, ascending */
    uint32_t *cut_off;     /* [need_cols + 1] each feature's first cut */
    float *thr_rank;       /* the thresholds as ranks, same order as thr */
    ais__cpu_forest vrank; /* view with thr_rank */
};

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
        return ais__error(AIS_E_SHAPE, "attribute %s has %zu values, expected %zu (one per entry)",
                          name, n, want);
    return AIS_OK;
}

static ais_status ais__tree_mode(const char *s, uint8_t *m) {
    static const char *const names[] = {"BRANCH_LEQ", "BRANCH_LT",  "BRANCH_GTE", "BRANCH_GT",
                                        "BRANCH_EQ",  "BRANCH_NEQ", "LEAF"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *m = (uint8_t)i;
            return AIS_OK;
        }
    return ais__error(AIS_E_INVALID_ARGUMENT, "unknown node mode '%s'", s ? s : "(null)");
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

void ais__tengine_free(ais__tengine *e) {
    if (!e) return;
    ais__free(e->nodes);
    ais__free(e->roots);
    ais__free(e->weights);
    ais__free(e->base);
    ais__free(e->thr);
    ais__free(e->fd);
    ais__free(e->leaf);
    ais__free(e->leaf32);
    ais__free(e->node_off);
    ais__free(e->leaf_off);
    ais__free(e->depth);
    ais__free(e->target);
    ais__free(e->gdepth);
    ais__free(e->cuts);
    ais__free(e->cut_off);
    ais__free(e->thr_rank);
    ais__free(e);
}

bool ais__tengine_binary(const ais__tengine *e) { return e->binary; }
bool ais__tengine_fast(const ais__tengine *e) { return e->fast; }
bool ais__tengine_rank(const ais__tengine *e) { return e->rank; }

/* With NaN read as +inf, a default-right node at +inf would send it left (x > +inf never
 * holds): such ensembles keep the small-batch walk on plain rows. */
static bool ais__tree_lanes_dbl_ok(const ais__tengine *e) {
    for (size_t i = 0; i < e->n_inner; i++)
        if ((e->fd[i] >> 31) && (e->thr[i] == INFINITY || (e->rank && e->thr_rank[i] == INFINITY)))
            return false;
    return true;
}

void ais__tengine_tune(ais__tengine *e, bool simd, size_t small_max, bool doubled) {
    if (!e->fast) return;
    e->small_max = small_max;
    e->lanes_dbl = doubled && ais__tree_lanes_dbl_ok(e);
    e->simd = simd;
}

/* Allocates n elements of size sz (at least one), reporting what it was for. */
static ais_status ais__tree_alloc(void **p, size_t n, size_t sz, const char *what) {
    size_t bytes;
    if (!ais__mul_size(n ? n : 1, sz, &bytes))
        return ais__error(AIS_E_LIMIT, "%s: too large", what);
    *p = ais__malloc(bytes);
    if (!*p) return ais__oom(bytes, what);
    return AIS_OK;
}

/* Nodes sorted by (tree, node), children resolved, weights sorted by node. */
static ais_status ais__tree_flatten(ais__tengine *e, const ais_attrs *a, const char *prefix,
                                    ais__tkey **keys_out) {
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
                          "attribute nodes_values has %zu values, expected %zu (one per node)", nv,
                          n);
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

    ais__tkey *keys;
    AIS__CHECK(ais__tree_alloc((void **)&keys, n, sizeof *keys, "tree ensemble layout"));
    *keys_out = keys;
    AIS__CHECK(ais__tree_alloc((void **)&e->nodes, n, sizeof *e->nodes, "tree ensemble layout"));
    AIS__CHECK(ais__tree_alloc((void **)&e->roots, n, sizeof *e->roots, "tree ensemble layout"));
    AIS__CHECK(ais__tree_alloc((void **)&e->weights, nw, sizeof *e->weights, "tree leaf weights"));
    e->n_nodes = n;
    e->n_weights = nw;

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
            e->roots[e->n_trees++] = (uint32_t)i;
        else if (keys[i].idx < keys[e->roots[e->n_trees - 1]].idx)
            e->roots[e->n_trees - 1] = (uint32_t)i;
    }
    for (size_t i = 0; i < n; i++) {
        size_t s = keys[i].idx;
        ais__tnode *nd = &e->nodes[i];
        memset(nd, 0, sizeof *nd);
        AIS__CHECK(ais__tree_mode(modes->strings[s], &nd->mode));
        nd->value = ais__tree_float_at(vf, vt, s);
        nd->miss_true = miss && miss[s] != 0;
        if (nd->mode == AIS__M_LEAF) continue;
        if (fids[s] < 0 || fids[s] >= (int64_t)UINT32_MAX / 2)
            return ais__error(AIS_E_INVALID_ARGUMENT, "node %lld of tree %lld reads feature %lld",
                              (long long)nids[s], (long long)tids[s], (long long)fids[s]);
        nd->feature = (uint32_t)fids[s];
        AIS__CHECK(ais__tree_find(keys, n, tids[s], tt[s], &nd->t));
        AIS__CHECK(ais__tree_find(keys, n, tids[s], ff[s], &nd->f));
    }
    for (size_t i = 0; i < nw; i++) {
        uint32_t node;
        AIS__CHECK(ais__tree_find(keys, n, wt[i], wn[i], &node));
        if (wi[i] < 0 || wi[i] >= (int64_t)UINT32_MAX)
            return ais__error(AIS_E_INVALID_ARGUMENT, "%s id %lld is out of range", prefix,
                              (long long)wi[i]);
        e->weights[i] = (ais__tweight){node, (uint32_t)wi[i], ais__tree_float_at(wf, wtens, i)};
    }
    /* Stable order within a node is not needed: weights of one node go to distinct sums. */
    qsort(e->weights, nw, sizeof *e->weights, ais__tweight_cmp);
    for (size_t i = 0; i < nw;) {
        size_t j = i;
        while (j < nw && e->weights[j].node == e->weights[i].node)
            j++;
        e->nodes[e->weights[i].node].wbeg = (uint32_t)i;
        e->nodes[e->weights[i].node].wend = (uint32_t)j;
        i = j;
    }
    return AIS_OK;
}

/*
 * Depth-first over every tree: finds cycles, the depth of each tree, whether every reachable
 * node has one parent (a tree, not a DAG), and the largest feature read. tmp holds 4 n + 2
 * uint32 (the stack takes one entry per edge at most) and n bytes.
 */
static ais_status ais__tree_walk_check(ais__tengine *e, const ais__tkey *keys, uint32_t *tmp,
                                       uint8_t *tree_depth, bool *is_tree) {
    size_t n = e->n_nodes;
    uint32_t *depth = tmp, *parents = tmp + n, *stack = tmp + 2 * n;
    uint8_t *color = (uint8_t *)(tmp + 4 * n + 2);
    memset(color, 0, n);
    memset(parents, 0, n * sizeof *parents);
    *is_tree = true;
    for (size_t t = 0; t < e->n_trees; t++) {
        size_t sp = 0;
        uint32_t root = e->roots[t];
        if (color[root] != 0) *is_tree = false;
        stack[sp++] = root;
        while (sp) {
            uint32_t v = stack[sp - 1];
            const ais__tnode *nd = &e->nodes[v];
            if (color[v] == 0) {
                color[v] = 1;
                if (nd->mode == AIS__M_LEAF) continue;
                if ((size_t)nd->feature + 1 > e->need_cols) e->need_cols = (size_t)nd->feature + 1;
                uint32_t ch[2] = {nd->t, nd->f};
                for (int k = 0; k < 2; k++) {
                    if (color[ch[k]] == 1)
                        return ais__error(AIS_E_INVALID_ARGUMENT, "tree %lld has a cycle",
                                          (long long)keys[root].tree);
                    if (++parents[ch[k]] > 1 || color[ch[k]] == 2) *is_tree = false;
                    if (color[ch[k]] == 0) stack[sp++] = ch[k];
                }
            } else {
                if (color[v] == 1) {
                    uint32_t d = 0;
                    if (nd->mode != AIS__M_LEAF) {
                        uint32_t a = depth[nd->t], b = depth[nd->f];
                        d = 1 + (a > b ? a : b);
                    }
                    depth[v] = d;
                    color[v] = 2;
                }
                sp--;
            }
        }
        tree_depth[t] = (uint8_t)(depth[root] > 255 ? 255 : depth[root]);
    }
    return AIS_OK;
}

/* The largest float <= v. */
static float ais__f_down(double v) {
    float f = (float)v;
    if ((double)f > v) f = nextafterf(f, -INFINITY);
    return f;
}

/*
 * The node as "go right when x > T, or when x is NaN and the default is right". false when
 * that cannot be said with a float T (NaN threshold, LT/GTE at -inf).
 */
static bool ais__tree_fast_node(const ais__tnode *nd, float *thr, uint32_t *left, uint32_t *right,
                                bool *dr) {
    double v = nd->value;
    if (isnan(v)) return false;
    float t = ais__f_down(v);
    if (nd->mode == AIS__M_LT || nd->mode == AIS__M_GTE) {
        /* x < v  <=>  x <= (largest float < v) */
        if ((double)t == v) t = nextafterf(t, -INFINITY);
        if (!((double)t < v)) return false;
    }
    bool true_left = nd->mode == AIS__M_LEQ || nd->mode == AIS__M_LT;
    *thr = t;
    *left = true_left ? nd->t : nd->f;
    *right = true_left ? nd->f : nd->t;
    *dr = true_left ? !nd->miss_true : nd->miss_true;
    return true;
}

/* Builds the fast layout when the ensemble qualifies; leaves e->fast false otherwise. */
static ais_status ais__tree_compile_fast(ais__tengine *e, const uint8_t *depth, uint32_t *stack,
                                         uint32_t **src_out) {
    if (e->agg != AIS__TAGG_SUM && e->agg != AIS__TAGG_AVERAGE) return AIS_OK;
    if (e->width > AIS__TF_MAX_WIDTH) return AIS_OK;
    size_t inner = 0, leaves = 0;
    for (size_t t = 0; t < e->n_trees; t++) {
        if (depth[t] > AIS__TF_MAX_DEPTH) return AIS_OK;
        inner += ((size_t)1 << depth[t]) - 1;
        leaves += (size_t)1 << depth[t];
    }
    /* Padding must not blow a lopsided ensemble up (a few very deep, thin trees). */
    if (leaves > AIS__TF_MAX_PAD * e->n_nodes + 4096 || leaves >= UINT32_MAX / 2) return AIS_OK;
    for (size_t i = 0; i < e->n_nodes; i++) {
        const ais__tnode *nd = &e->nodes[i];
        if (nd->mode == AIS__M_EQ || nd->mode == AIS__M_NEQ) return AIS_OK;
        if (nd->mode == AIS__M_LEAF && nd->wend - nd->wbeg > 1) return AIS_OK;
    }
    /* 8 spare slots: the AVX2 walk loads a tree's top levels 8 nodes at a time */
    AIS__CHECK(ais__tree_alloc((void **)&e->thr, inner + 8, sizeof *e->thr, "tree fast layout"));
    AIS__CHECK(ais__tree_alloc((void **)&e->fd, inner + 8, sizeof *e->fd, "tree fast layout"));
    memset(e->thr + inner, 0, 8 * sizeof *e->thr);
    memset(e->fd + inner, 0, 8 * sizeof *e->fd);
    /* each slot's node (UINT32_MAX: padding), for ais__tree_compile_rank */
    uint32_t *src;
    AIS__CHECK(ais__tree_alloc((void **)&src, inner + 8, sizeof *src, "tree fast layout"));
    *src_out = src;
    memset(src, 0xff, (inner + 8) * sizeof *src);
    AIS__CHECK(ais__tree_alloc((void **)&e->leaf, leaves, sizeof *e->leaf, "tree fast layout"));
    AIS__CHECK(ais__tree_alloc((void **)&e->node_off, e->n_trees, 4, "tree fast layout"));
    AIS__CHECK(ais__tree_alloc((void **)&e->leaf_off, e->n_trees, 4, "tree fast layout"));
    AIS__CHECK(ais__tree_alloc((void **)&e->depth, e->n_trees, 1, "tree fast layout"));
    AIS__CHECK(ais__tree_alloc((void **)&e->target, e->n_trees, 2, "tree fast layout"));
    size_t no = 0, lo = 0;
    for (size_t t = 0; t < e->n_trees; t++) {
        unsigned d = depth[t];
        size_t n_in = ((size_t)1 << d) - 1;
        e->node_off[t] = (uint32_t)no;
        e->leaf_off[t] = (uint32_t)lo;
        e->depth[t] = (uint8_t)d;
        float *th = e->thr + no;
        uint32_t *fd = e->fd + no;
        double *lv = e->leaf + lo;
        int64_t target = -1;
        /* stack pairs: (node, heap position); the level is implied by the position */
        size_t sp = 0;
        stack[sp++] = e->roots[t];
        stack[sp++] = 0;
        while (sp) {
            uint32_t pos = stack[--sp], v = stack[--sp];
            const ais__tnode *nd = &e->nodes[v];
            if (nd->mode == AIS__M_LEAF) {
                double w = 0;
                if (nd->wend > nd->wbeg) {
                    const ais__tweight *tw = &e->weights[nd->wbeg];
                    if (target >= 0 && tw->target != (uint32_t)target) {
                        e->fast = false;
                        return AIS_OK;
                    }
                    target = tw->target;
                    w = tw->w;
                }
                /* A leaf above the bottom level: every slot of its padded subtree sends rows
                 * left (x > +inf never holds, the default is left), and every leaf below it
                 * holds its value. */
                uint32_t q = pos, span = 1;
                for (; q < n_in; q = 2 * q + 1, span *= 2)
                    for (uint32_t k = 0; k < span; k++) {
                        th[q + k] = INFINITY;
                        fd[q + k] = 0;
                    }
                for (uint32_t k = 0; k < span; k++)
                    lv[q - n_in + k] = w;
                continue;
            }
            float thr;
            uint32_t l, r;
            bool dr;
            if (!ais__tree_fast_node(nd, &thr, &l, &r, &dr)) {
                e->fast = false;
                return AIS_OK;
            }
            th[pos] = thr;
            fd[pos] = nd->feature | (dr ? 0x80000000u : 0);
            src[no + pos] = v;
            stack[sp++] = l;
            stack[sp++] = 2 * pos + 1;
            stack[sp++] = r;
            stack[sp++] = 2 * pos + 2;
        }
        e->target[t] = (uint16_t)(target < 0 ? 0 : target);
        no += n_in;
        lo += n_in + 1;
    }
    e->n_inner = no;
    e->n_leaves = lo;
    AIS__CHECK(ais__tree_alloc((void **)&e->gdepth, e->n_trees / 8, 1, "tree fast layout"));
    for (size_t g = 0; g < e->n_trees / 8; g++) {
        /* the deepest of the group, and 0x80 when all 8 are as deep */
        uint8_t m = 0;
        bool same = true;
        for (size_t t = 8 * g; t < 8 * g + 8; t++) {
            m = e->depth[t] > m ? e->depth[t] : m;
            same = same && e->depth[t] == e->depth[8 * g];
        }
        e->gdepth[g] = (uint8_t)(m | (same ? 0x80 : 0));
    }
    if (e->acc_f32) {
        /* float leaves and float sums: the walk adds as it does in double mode, at one add per
         * row and tree (the weights are floats already) */
        AIS__CHECK(ais__tree_alloc((void **)&e->leaf32, lo, sizeof *e->leaf32, "tree fast layout"));
        for (size_t i = 0; i < lo; i++)
            e->leaf32[i] = (float)e->leaf[i];
        ais__free(e->leaf);
        e->leaf = NULL;
    }
    e->fast = true;
    e->small_max = AIS__TB_SMALL;
    e->lanes_dbl = ais__tree_lanes_dbl_ok(e);
    e->simd = true;
    e->view = (ais__cpu_forest){.width = e->width,
                                .thr = e->thr,
                                .fd = e->fd,
                                .leaf = e->leaf,
                                .leaf32 = e->leaf32,
                                .node_off = e->node_off,
                                .leaf_off = e->leaf_off,
                                .depth = e->depth,
                                .target = e->target};
    return AIS_OK;
}

typedef struct ais__tcut {
    uint32_t f;
    double v;
} ais__tcut;

static int ais__tcut_cmp(const void *a, const void *b) {
    const ais__tcut *x = a, *y = b;
    if (x->f != y->f) return x->f < y->f ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

/*
 * Rank mode, so that inputs that are not f32 (HistGradientBoosting's float64 features) take the
 * fast layout with every decision exactly the double comparison of the generic walk. Each
 * feature's distinct thresholds (cuts) are sorted; a value x becomes
 *     p(x) = 2 * #{cuts < x} + (x is a cut),
 * which is monotone and puts the k-th cut at 2k + 1, so that for the node at cut k
 *     x <= t <=> p(x) <= 2k + 1,  x < t <=> p(x) <= 2k,  and GT/GTE their negations:
 * "go right when p(x) > T" with T = 2k + 1 (LEQ, GT) or 2k (LT, GTE). The ranks are small
 * integers, exact as floats (a feature with 2^23 cuts or more keeps the generic walk); NaN stays
 * NaN and takes the node's missing direction as before. A chunk's rows are converted once
 * (a binary search per feature) and then walk the same trees with thr_rank for thr.
 */
static ais_status ais__tree_compile_rank(ais__tengine *e, const uint32_t *src) {
    size_t nc = e->need_cols, n = 0;
    if (nc > AIS__TR_MAX_COLS) return AIS_OK;
    for (size_t i = 0; i < e->n_inner; i++)
        n += src[i] != UINT32_MAX;
    ais__tcut *c;
    AIS__CHECK(ais__tree_alloc((void **)&c, n, sizeof *c, "tree rank layout"));
    for (size_t i = 0, m = 0; i < e->n_inner; i++)
        if (src[i] != UINT32_MAX)
            c[m++] = (ais__tcut){e->nodes[src[i]].feature, e->nodes[src[i]].value};
    qsort(c, n, sizeof *c, ais__tcut_cmp);
    ais_status st =
        ais__tree_alloc((void **)&e->cut_off, nc + 1, sizeof *e->cut_off, "tree rank layout");
    if (st == AIS_OK)
        st = ais__tree_alloc((void **)&e->cuts, n, sizeof *e->cuts, "tree rank layout");
    if (st == AIS_OK)
        st = ais__tree_alloc((void **)&e->thr_rank, e->n_inner + 8, sizeof *e->thr_rank,
                             "tree rank layout");
    if (st != AIS_OK) {
        ais__free(c);
        return st;
    }
    size_t u = 0, f = 0;
    e->cut_off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        while (f < c[i].f)
            e->cut_off[++f] = (uint32_t)u;
        /* == also merges -0.0 with 0.0, which every comparison takes as equal */
        if (u > e->cut_off[f] && e->cuts[u - 1] == c[i].v) continue;
        e->cuts[u++] = c[i].v;
    }
    while (f < nc)
        e->cut_off[++f] = (uint32_t)u;
    ais__free(c);
    for (size_t k = 0; k < nc; k++)
        if (e->cut_off[k + 1] - e->cut_off[k] >= ((uint32_t)1 << 23)) return AIS_OK;
    /* padding slots (+inf) and the 8 spare ones as they are */
    memcpy(e->thr_rank, e->thr, (e->n_inner + 8) * sizeof *e->thr);
    for (size_t i = 0; i < e->n_inner; i++) {
        if (src[i] == UINT32_MAX) continue;
        const ais__tnode *nd = &e->nodes[src[i]];
        const double *cu = e->cuts + e->cut_off[nd->feature];
        size_t lo = 0, hi = e->cut_off[nd->feature + 1] - e->cut_off[nd->feature];
        while (lo < hi) { /* the cut equal to the threshold: it is there */
            size_t mid = lo + (hi - lo) / 2;
            if (cu[mid] < nd->value)
                lo = mid + 1;
            else
                hi = mid;
        }
        bool at = nd->mode == AIS__M_LEQ || nd->mode == AIS__M_GT;
        e->thr_rank[i] = (float)(2 * lo + (at ? 1 : 0));
    }
    e->vrank = e->view;
    e->vrank.thr = e->thr_rank;
    e->rank = true;
    return AIS_OK;
}

/*
 * Our attribute aistack_accumulate (docs/boosters.md): absent or "float64" sums in double and adds
 * the base values at the end; "float32" reproduces XGBoost's float accumulator. Only SUM
 * ensembles have a float order to reproduce.
 */
static ais_status ais__tree_accumulate(const ais_attrs *a, ais__tree_agg agg, bool *f32) {
    *f32 = false;
    const ais__attr *at = ais__attr_find(a, "aistack_accumulate");
    if (!at) return AIS_OK;
    if (at->type != AIS__ATTR_STRING || !at->s)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "attribute aistack_accumulate must be a string (\"float32\" or "
                          "\"float64\")");
    if (strcmp(at->s, "float64") == 0) return AIS_OK;
    if (strcmp(at->s, "float32") != 0)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "attribute aistack_accumulate must be \"float32\" or \"float64\", got "
                          "\"%.40s\"",
                          at->s);
    if (agg != AIS__TAGG_SUM)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "attribute aistack_accumulate \"float32\" needs aggregate_function SUM");
    *f32 = true;
    return AIS_OK;
}

ais_status ais__tengine_build(const ais_attrs *attrs, const char *prefix, size_t width,
                              ais__tree_agg agg, bool allow_fast, ais__tengine **out) {
    *out = NULL;
    if (width == 0 || width > AIS__TREE_MAX_WIDTH)
        return ais__error(AIS_E_LIMIT, "%zu outputs, expected 1 to %d", width, AIS__TREE_MAX_WIDTH);
    bool f32;
    AIS__CHECK(ais__tree_accumulate(attrs, agg, &f32));
    ais__tengine *e = ais__calloc(1, sizeof *e);
    if (!e) return ais__oom(sizeof *e, "tree ensemble");
    e->width = width;
    e->agg = agg;
    e->acc_f32 = f32;
    ais__tkey *keys = NULL;
    uint32_t *tmp = NULL;
    uint8_t *depth = NULL;
    ais_status st = ais__tree_flatten(e, attrs, prefix, &keys);
    for (size_t i = 0; st == AIS_OK && i < e->n_weights; i++)
        if (e->weights[i].target >= width)
            st = ais__error(AIS_E_INVALID_ARGUMENT,
                            "a leaf weight is for output %u but there are %zu",
                            e->weights[i].target, width);
    const float *bf = NULL;
    const ais_tensor *bt = NULL;
    size_t nb = 0;
    if (st == AIS_OK) st = ais__tree_floats(attrs, "base_values", &nb, &bf, &bt);
    /* one base value is broadcast to every output (a binary classifier's one score) */
    if (st == AIS_OK && nb > 1 && nb != width)
        st = ais__error(AIS_E_SHAPE, "%zu base_values for %zu outputs", nb, width);
    if (st == AIS_OK)
        st = ais__tree_alloc((void **)&e->base, width, sizeof *e->base, "tree ensemble");
    if (st == AIS_OK) {
        for (size_t k = 0; k < width; k++) {
            e->base[k] = nb == 0 ? 0 : ais__tree_float_at(bf, bt, nb == 1 ? 0 : k);
            if (f32) e->base[k] = (double)(float)e->base[k];
        }
        /* before the fast layout copies them: both layouts add the same values */
        for (size_t i = 0; f32 && i < e->n_weights; i++)
            e->weights[i].w = (double)(float)e->weights[i].w;
        e->binary = e->n_weights > 0;
        for (size_t i = 0; i < e->n_weights; i++)
            e->binary = e->binary && e->weights[i].target == 0;
        st = ais__tree_alloc((void **)&tmp, e->n_nodes * 5 + 4, 4, "tree ensemble check");
    }
    if (st == AIS_OK) st = ais__tree_alloc((void **)&depth, e->n_trees, 1, "tree ensemble check");
    bool is_tree = false;
    uint32_t *src = NULL;
    if (st == AIS_OK) st = ais__tree_walk_check(e, keys, tmp, depth, &is_tree);
    if (st == AIS_OK && allow_fast && is_tree) st = ais__tree_compile_fast(e, depth, tmp, &src);
    if (st == AIS_OK && e->fast) {
        st = ais__tree_compile_rank(e, src);
        e->lanes_dbl = ais__tree_lanes_dbl_ok(e);
    }
    ais__free(src);
    ais__free(keys);
    ais__free(tmp);
    ais__free(depth);
    if (st != AIS_OK) {
        ais__tengine_free(e);
        return st;
    }
    *out = e;
    return AIS_OK;
}

/* ---- scoring ---- */

static bool ais__tree_go_true(const ais__tnode *nd, double x) {
    /* NaN != v holds: NEQ sends NaN true whatever the flag (ONNX Runtime, onnx.reference). */
    if (isnan(x)) return nd->miss_true || nd->mode == AIS__M_NEQ;
    switch (nd->mode) {
    case AIS__M_LEQ: return x <= nd->value;
    case AIS__M_LT: return x < nd->value;
    case AIS__M_GTE: return x >= nd->value;
    case AIS__M_GT: return x > nd->value;
    case AIS__M_EQ: return x == nd->value;
    default: return x != nd->value;
    }
}

/*
 * A leaf weight into a running sum of the generic walk. In float32 mode both are floats and the
 * double sum is rounded to float: that is the float sum, bit for bit (double rounding is
 * innocuous for addition when 53 >= 2 * 24 + 2, Figueroa), which the fast walk computes with
 * float accumulators and float leaves.
 */
static inline double ais__tree_add(bool f32, double acc, double w) {
    double s = acc + w;
    return f32 ? (double)(float)s : s;
}

/* The sums' starting values: the base values in float32 mode (XGBoost's order), else 0. */
static void ais__tree_start(const ais__tengine *e, double *acc) {
    for (size_t k = 0; k < e->width; k++)
        acc[k] = e->acc_f32 ? e->base[k] : 0;
}

static void ais__tree_finish(const ais__tengine *e, const double *acc, float *y) {
    for (size_t k = 0; k < e->width; k++) {
        double v = acc[k];
        if (e->acc_f32) {
            y[k] = (float)v; /* exact: v is a float, and base is already in */
            continue;
        }
        if (e->agg == AIS__TAGG_AVERAGE) v /= (double)e->n_trees;
        y[k] = (float)(v + e->base[k]);
    }
}

/* The leaf's weights into acc under the ensemble's aggregation. */
static void ais__tree_leaf(const ais__tengine *e, const ais__tnode *nd, double *acc,
                           uint8_t *seen) {
    for (uint32_t w = nd->wbeg; w < nd->wend; w++) {
        const ais__tweight *tw = &e->weights[w];
        double *d = &acc[tw->target];
        if (e->agg == AIS__TAGG_MIN)
            *d = seen[tw->target] && *d < tw->w ? *d : tw->w;
        else if (e->agg == AIS__TAGG_MAX)
            *d = seen[tw->target] && *d > tw->w ? *d : tw->w;
        else
            *d = ais__tree_add(e->acc_f32, *d, tw->w);
        seen[tw->target] = 1;
    }
}

/* One row through the generic layout; xr is the row as doubles. */
static void ais__tree_row_generic(const ais__tengine *e, const double *xr, float *y, double *acc,
                                  uint8_t *seen) {
    ais__tree_start(e, acc);
    memset(seen, 0, e->width);
    for (size_t t = 0; t < e->n_trees; t++) {
        const ais__tnode *nd = &e->nodes[e->roots[t]];
        while (nd->mode != AIS__M_LEAF)
            nd = &e->nodes[ais__tree_go_true(nd, xr[nd->feature]) ? nd->t : nd->f];
        ais__tree_leaf(e, nd, acc, seen);
    }
    ais__tree_finish(e, acc, y);
}

/* The fast walk's sums for a block of rows: [rows * width], double or, in float32 mode, float
 * (the float sum of two floats is what ais__tree_add computes in the generic walk). */
typedef ais__cpu_tree_acc ais__tree_acc;

/* The small-batch walk below is written once with f32 (e->acc_f32) as a parameter and inlined
 * into one function per mode, so that neither mode tests it per tree. */
#define AIS__TREE_INLINE static inline __attribute__((always_inline))

/*
 * The small-batch walk: one row at a time, 8 trees side by side (a tree's walk is a chain of
 * dependent loads; 8 independent ones overlap). Lanes of trees shallower than their group's
 * deepest stop at their leaf and re-read their root meanwhile. Leaves are added lane by lane,
 * which is tree order: the sums are those of the block walks. Trees [0, 8 * (n_trees / 8)).
 *
 * dbl: the rows are "doubled" (ais__tree_rows_lanes): value c at 2c with NaN as -inf and at
 * 2c + 1 with NaN as +inf, so that rotating the feature word left by one (the default-right bit
 * becomes bit 0) picks the copy where NaN goes the node's missing way, and x > T alone decides.
 * Else rows are plain (stride cols) and NaN is tested per node.
 */
AIS__TREE_INLINE uint32_t ais__tree_right(const float *xr, uint32_t f, float th, bool dbl) {
    if (dbl) return xr[(f << 1) | (f >> 31)] > th;
    float v = xr[f & 0x7fffffffu];
    return (v > th) | ((f >> 31) & (v != v));
}

AIS__TREE_INLINE void ais__tree_lanes_impl(const ais__tengine *e, const float *thr, const float *x,
                                           size_t stride, size_t nr, ais__tree_acc acc, bool f32,
                                           bool dbl) {
    size_t w = e->width;
    const uint32_t *fd = e->fd;
    for (size_t g = 0; g < e->n_trees / 8; g++) {
        size_t t0 = 8 * g;
        const uint32_t *no = e->node_off + t0;
        const uint8_t *dp = e->depth + t0;
        unsigned dmax = e->gdepth[g] & 0x7f;
        bool uniform = e->gdepth[g] & 0x80;
        for (size_t r = 0; r < nr; r++) {
            const float *xr = x + r * stride;
            uint32_t idx[8] = {0};
            if (uniform) {
                /* the usual case (XGBoost's depth-limited trees): no lane stops early */
                for (unsigned l = 0; l < dmax; l++)
#pragma GCC unroll 8
                    for (int j = 0; j < 8; j++) {
                        uint32_t i = idx[j], a = no[j] + i;
                        idx[j] = 2 * i + 1 + ais__tree_right(xr, fd[a], thr[a], dbl);
                    }
            } else {
                for (unsigned l = 0; l < dmax; l++)
#pragma GCC unroll 8
                    for (int j = 0; j < 8; j++) {
                        uint32_t i = idx[j], live = l < dp[j], a = no[j] + (live ? i : 0);
                        uint32_t ni = 2 * i + 1 + ais__tree_right(xr, fd[a], thr[a], dbl);
                        idx[j] = live ? ni : i;
                    }
            }
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) {
                size_t li = e->leaf_off[t0 + j] + idx[j] - (((uint32_t)1 << dp[j]) - 1);
                if (f32)
                    acc.f[r * w + e->target[t0 + j]] += e->leaf32[li];
                else
                    acc.d[r * w + e->target[t0 + j]] += e->leaf[li];
            }
        }
    }
}

static void ais__tree_lanes(const ais__tengine *e, const float *thr, const float *x, size_t stride,
                            size_t nr, ais__tree_acc acc) {
    ais__tree_lanes_impl(e, thr, x, stride, nr, acc, false, false);
}

static void ais__tree_lanes_f32(const ais__tengine *e, const float *thr, const float *x,
                                size_t stride, size_t nr, ais__tree_acc acc) {
    ais__tree_lanes_impl(e, thr, x, stride, nr, acc, true, false);
}

static void ais__tree_lanes_dbl(const ais__tengine *e, const float *thr, const float *x,
                                size_t stride, size_t nr, ais__tree_acc acc) {
    ais__tree_lanes_impl(e, thr, x, stride, nr, acc, false, true);
}

static void ais__tree_lanes_dbl_f32(const ais__tengine *e, const float *thr, const float *x,
                                    size_t stride, size_t nr, ais__tree_acc acc) {
    ais__tree_lanes_impl(e, thr, x, stride, nr, acc, true, true);
}

/* Floats of doubled rows (ais__tree_lanes_impl) a small-batch walk keeps on the stack. */
#define AIS__TL_DOUBLED 4096

/* nr rows (any number) through every tree by the small-batch walk: groups of 8 trees, then the
 * last n_trees % 8 trees by the portable block walk, 16 rows at a time (tree order is kept). */
static void ais__tree_rows_lanes(const ais__tengine *e, const ais__cpu_forest *v, const float *x,
                                 size_t cols, size_t nr, ais__tree_acc acc) {
    bool f32 = e->acc_f32;
    size_t w = e->width, nc = e->need_cols;
    /* doubled rows when they fit and no node needs NaN and +inf told apart */
    size_t per = e->lanes_dbl && nc && nc <= AIS__TL_DOUBLED / 2 ? AIS__TL_DOUBLED / (2 * nc) : 0;
    if (e->n_trees >= 8 && per) {
        float xx[AIS__TL_DOUBLED];
        for (size_t r0 = 0; r0 < nr; r0 += per) {
            size_t n = AIS__MIN(per, nr - r0);
            for (size_t r = 0; r < n; r++)
                for (size_t c = 0; c < nc; c++) {
                    float xv = x[(r0 + r) * cols + c];
                    bool nan = xv != xv;
                    xx[(r * nc + c) * 2] = nan ? -INFINITY : xv;
                    xx[(r * nc + c) * 2 + 1] = nan ? INFINITY : xv;
                }
            ais__tree_acc ab;
            if (f32) {
                ab.f = acc.f + r0 * w;
                ais__tree_lanes_dbl_f32(e, v->thr, xx, 2 * nc, n, ab);
            } else {
                ab.d = acc.d + r0 * w;
                ais__tree_lanes_dbl(e, v->thr, xx, 2 * nc, n, ab);
            }
        }
    } else if (e->n_trees >= 8) {
        if (f32)
            ais__tree_lanes_f32(e, v->thr, x, cols, nr, acc);
        else
            ais__tree_lanes(e, v->thr, x, cols, nr, acc);
    }
    size_t t0 = e->n_trees / 8 * 8;
    if (t0 == e->n_trees) return;
    for (size_t b = 0; b < nr; b += AIS__TB_ROWS) {
        size_t n = AIS__MIN(AIS__TB_ROWS, nr - b);
        ais__tree_acc ab;
        if (f32)
            ab.f = acc.f + b * w;
        else
            ab.d = acc.d + b * w;
        ais__cpu_ref_tree_block(v, t0, e->n_trees, x + b * cols, cols, n, ab, f32);
    }
}

typedef struct ais__tree_job {
    const ais__tengine *e;
    const ais_tensor *x;
    size_t rows, cols;
    float *y;
    bool use_fast;
} ais__tree_job;

static void ais__tree_prefetch(const void *p, size_t bytes) {
    const char *c = p;
    for (size_t o = 0; o < bytes; o += 64)
        __builtin_prefetch(c + o);
}

/* n float rows x (stride cols) through the fast layout v into y: chunks of rows share a block of
 * trees at a time. */
static void ais__tree_walk_fast(const ais__tengine *e, const ais__cpu_forest *v, const float *x,
                                size_t cols, size_t n, float *y_out) {
    union {
        double d[AIS__TB_CHUNK * AIS__TF_MAX_WIDTH];
        float f[AIS__TB_CHUNK * AIS__TF_MAX_WIDTH];
    } acc;
    size_t w = e->width;
    /* the SIMD walks index x with int32 offsets */
    bool simd = e->simd && cols <= (size_t)INT32_MAX / 32;
    void (*block)(const ais__cpu_forest *, size_t, size_t, const float *, size_t, size_t,
                  ais__cpu_tree_acc, bool) =
        simd ? ais__cpu()->tree_block : ais__cpu_ref_tree_block;
    for (size_t c0 = 0; c0 < n; c0 += AIS__TB_CHUNK) {
        size_t cn = AIS__MIN(AIS__TB_CHUNK, n - c0);
        if (e->acc_f32) {
            for (size_t r = 0; r < cn; r++)
                for (size_t k = 0; k < w; k++)
                    acc.f[r * w + k] = (float)e->base[k];
        } else {
            memset(acc.d, 0, cn * w * sizeof *acc.d);
        }
        /* Full blocks of rows take the block walk, the rest (all of a small chunk) the
         * small-batch one. */
        size_t nb = cn <= e->small_max ? 0 : cn / AIS__TB_ROWS * AIS__TB_ROWS;
        /* Gathers defeat the hardware prefetcher: the chunk's rows, and below each block of
         * trees, are pulled in by a linear sweep first, so the dependent walks hit cache. */
        if (nb) ais__tree_prefetch(x + c0 * cols, nb * cols * sizeof(float));
        for (size_t t0 = 0; nb && t0 < e->n_trees; t0 += AIS__TB_TREES) {
            size_t t1 = AIS__MIN(e->n_trees, t0 + AIS__TB_TREES);
            size_t n0 = e->node_off[t0], n1 = t1 < e->n_trees ? e->node_off[t1] : e->n_inner;
            size_t l0 = e->leaf_off[t0], l1 = t1 < e->n_trees ? e->leaf_off[t1] : e->n_leaves;
            if (n1 - n0 <= AIS__TB_PREFETCH) {
                ais__tree_prefetch(v->thr + n0, (n1 - n0) * sizeof *v->thr);
                ais__tree_prefetch(e->fd + n0, (n1 - n0) * sizeof *e->fd);
                if (e->acc_f32)
                    ais__tree_prefetch(e->leaf32 + l0, (l1 - l0) * sizeof *e->leaf32);
                else
                    ais__tree_prefetch(e->leaf + l0, (l1 - l0) * sizeof *e->leaf);
            } else {
                /* Deep padded trees (leaf-wise growth): most of their slots are padding that
                 * no row reaches, and sweeping all of it cost a quarter of the walk (HGB, 300
                 * trees to depth 14). Only each tree's top levels, which every row reads. */
                for (size_t t = t0; t < t1; t++) {
                    size_t o = e->node_off[t];
                    size_t top = AIS__MIN(((size_t)1 << e->depth[t]) - 1, AIS__TB_PREFETCH_TOP);
                    ais__tree_prefetch(v->thr + o, top * sizeof *v->thr);
                    ais__tree_prefetch(e->fd + o, top * sizeof *e->fd);
                }
            }
            for (size_t b = 0; b < nb; b += AIS__TB_ROWS) {
                size_t nr = AIS__TB_ROWS;
                const float *xb = x + (c0 + b) * cols;
                ais__tree_acc ab;
                if (e->acc_f32)
                    ab.f = acc.f + b * w;
                else
                    ab.d = acc.d + b * w;
                block(v, t0, t1, xb, cols, nr, ab, e->acc_f32);
            }
        }
        if (nb < cn) {
            ais__tree_acc ab;
            if (e->acc_f32)
                ab.f = acc.f + nb * w;
            else
                ab.d = acc.d + nb * w;
            ais__tree_rows_lanes(e, v, x + (c0 + nb) * cols, cols, cn - nb, ab);
        }
        float *y = y_out + c0 * w;
        if (e->acc_f32)
            memcpy(y, acc.f, cn * w * sizeof *y);
        else
            for (size_t r = 0; r < cn; r++)
                ais__tree_finish(e, acc.d + r * w, y + r * w);
    }
}

/* Rows [r0, r0 + n) of x (f64, i32 or i64, stride cols) as ranks (ais__tree_compile_rank) into
 * out [n * need_cols]. */
static void ais__tree_rank_rows(const ais__tengine *e, const ais_tensor *x, size_t cols, size_t r0,
                                size_t n, float *out) {
    size_t nc = e->need_cols;
    const double *xd = x->dtype == AIS_DTYPE_F64 ? (const double *)x->data : NULL;
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < nc; c++) {
            const double *cu = e->cuts + e->cut_off[c];
            size_t m = e->cut_off[c + 1] - e->cut_off[c], i = (r0 + r) * cols + c;
            double v = xd ? xd[i] : ais__load_f64(x->data, x->dtype, i);
            if (m == 0 || v != v) { /* a feature no node reads, or missing */
                out[r * nc + c] = m ? NAN : 0;
                continue;
            }
            size_t lo = 0;
            while (m > 1) { /* lo: the number of cuts < v, branch-free halving */
                size_t h = m / 2;
                lo = cu[lo + h - 1] < v ? lo + h : lo;
                m -= h;
            }
            lo += cu[lo] < v;
            size_t end = e->cut_off[c + 1] - e->cut_off[c];
            out[r * nc + c] = (float)(2 * lo + (lo < end && cu[lo] == v));
        }
}

/* Rows [r0, r1) through the fast layout: f32 rows as they are, others as ranks, a chunk of
 * rows at a time. */
static void ais__tree_rows_fast(const ais__tree_job *j, size_t r0, size_t r1) {
    const ais__tengine *e = j->e;
    size_t w = e->width;
    if (j->x->dtype == AIS_DTYPE_F32) {
        const float *x = j->x->data;
        ais__tree_walk_fast(e, &e->view, x + r0 * j->cols, j->cols, r1 - r0, j->y + r0 * w);
        return;
    }
    float buf[AIS__TR_BUF];
    size_t nc = e->need_cols;
    size_t per = AIS__TR_BUF / (nc ? nc : 1);
    per = AIS__MIN(AIS__TB_CHUNK, per / AIS__TB_ROWS * AIS__TB_ROWS);
    for (size_t r = r0; r < r1; r += per) {
        size_t n = AIS__MIN(per, r1 - r);
        ais__tree_rank_rows(e, j->x, j->cols, r, n, buf);
        ais__tree_walk_fast(e, &e->vrank, buf, nc, n, j->y + r * w);
    }
}

static void ais__tree_rows_generic(const ais__tree_job *j, size_t r0, size_t r1) {
    const ais__tengine *e = j->e;
    double acc[AIS__TREE_MAX_WIDTH];
    uint8_t seen[AIS__TREE_MAX_WIDTH];
    double xr[256];
    for (size_t r = r0; r < r1; r++) {
        /* the row as doubles, in pieces of 256 when it is wide: only need_cols are read */
        const double *row;
        if (e->need_cols <= AIS__ARRAY_LEN(xr)) {
            for (size_t c = 0; c < e->need_cols; c++)
                xr[c] = ais__load_f64(j->x->data, j->x->dtype, r * j->cols + c);
            row = xr;
        } else if (j->x->dtype == AIS_DTYPE_F64) {
            row = (const double *)j->x->data + r * j->cols;
        } else {
            row = NULL;
        }
        if (row) {
            ais__tree_row_generic(e, row, j->y + r * e->width, acc, seen);
            continue;
        }
        /* wide non-double rows: read through the dtype node by node */
        ais__tree_start(e, acc);
        memset(seen, 0, e->width);
        for (size_t t = 0; t < e->n_trees; t++) {
            const ais__tnode *nd = &e->nodes[e->roots[t]];
            while (nd->mode != AIS__M_LEAF) {
                double v = ais__load_f64(j->x->data, j->x->dtype, r * j->cols + nd->feature);
                nd = &e->nodes[ais__tree_go_true(nd, v) ? nd->t : nd->f];
            }
            ais__tree_leaf(e, nd, acc, seen);
        }
        ais__tree_finish(e, acc, j->y + r * e->width);
    }
}

/* parallel_for over blocks of AIS__TB_ROWS rows */
static void ais__tree_range(void *ctx, size_t b0, size_t b1) {
    const ais__tree_job *j = ctx;
    size_t r0 = b0 * AIS__TB_ROWS, r1 = AIS__MIN(j->rows, b1 * AIS__TB_ROWS);
    if (j->use_fast)
        ais__tree_rows_fast(j, r0, r1);
    else
        ais__tree_rows_generic(j, r0, r1);
}

ais_status ais__tengine_scores(const ais__tengine *e, const ais_tensor *x, size_t rows, size_t cols,
                               float *y, ais__pool *pool) {
    if (rows == 0) return AIS_OK;
    if (e->need_cols > cols)
        return ais__error(AIS_E_SHAPE, "a node reads feature %zu but X has %zu features",
                          e->need_cols - 1, cols);
    ais__tree_job j = {.e = e,
                       .x = x,
                       .rows = rows,
                       .cols = cols,
                       .y = y,
                       .use_fast = e->fast && (x->dtype == AIS_DTYPE_F32 || e->rank)};
    size_t blocks = (rows + AIS__TB_ROWS - 1) / AIS__TB_ROWS;
    /* Split only when each thread gets enough node visits to pay for waking it. */
    size_t work = rows * (e->n_nodes ? e->n_nodes : 1);
    if (!pool || blocks < 2 || work < ((size_t)1 << 16)) {
        ais__tree_range(&j, 0, blocks);
        return AIS_OK;
    }
    ais__parallel_for(pool, blocks, 1, ais__tree_range, &j);
    return AIS_OK;
}
