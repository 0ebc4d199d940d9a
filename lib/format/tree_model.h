/*
 * tree_model.h - what the XGBoost and LightGBM readers share: a growing list of tree nodes and
 * leaf weights that becomes one ai.onnx.ml TreeEnsembleRegressor node.
 *
 * The graph it builds: input "input" f32 [N, n_features]; output "margin" f32 [N, n_targets], the
 * raw score (XGBoost output_margin=True, LightGBM raw_score=True); for classifiers also
 * "probability" f32 [N, n_targets] (Sigmoid of the margin for binary models, Softmax across
 * classes for multi-class ones). A model that averages its trees (LightGBM random forests) also
 * outputs "average" f32 [N, n_targets] = margin / iterations, and its probabilities come from that.
 */
#ifndef AIS_TREE_MODEL_H
#define AIS_TREE_MODEL_H

#include "format.h"
#include "ir/graph.h"

/* Bounds on what a file may ask for: far beyond real models, small enough to allocate. */
#define AIS__TREES_MAX_NODES (1u << 24)      /* all trees together */
#define AIS__TREES_MAX_TREE_NODES (1u << 22) /* one tree */
#define AIS__TREES_MAX_FEATURES (1u << 24)
#define AIS__TREES_MAX_TARGETS 4096
/* A categorical split becomes a chain of range tests (two per run of consecutive categories in
 * its set); one split may need at most this many nodes, else AIS_E_LIMIT. */
#define AIS__TREES_MAX_SPLIT_NODES 16384

/* Per-node comparison: the ensemble's default mode, or one chosen for the node. */
enum { AIS__TN_DEFAULT, AIS__TN_LEAF, AIS__TN_LT, AIS__TN_LEQ, AIS__TN_GTE };

typedef enum {
    AIS__TREES_PROB_NONE,
    AIS__TREES_PROB_SIGMOID,
    AIS__TREES_PROB_SOFTMAX
} ais__trees_prob;

typedef struct ais__tree_ens {
    size_t n, cap;
    int64_t *tree, *node, *feat, *tnode, *fnode, *miss;
    double *value;
    uint8_t *kind; /* AIS__TN_* */
    size_t nw, capw;
    int64_t *wtree, *wnode, *wtarget;
    double *weight;
    size_t n_features, n_targets;
    double base[AIS__TREES_MAX_TARGETS];
    /* > 0: the graph also outputs "average" = margin / average, and probabilities come from it */
    double average;
    /* the node sums in float, from the base value, tree by tree (aistack_accumulate "float32",
     * XGBoost's predictor); else in double with the base added last (LightGBM) */
    bool acc_f32;
    /* scratch of the split routers */
    double *cut_v;
    uint8_t *cut_incl;
    int64_t *cut_dest;
    int64_t *cats;
    size_t cats_cap;
} ais__tree_ens;

void ais__tree_ens_init(ais__tree_ens *e);
void ais__tree_ens_free(ais__tree_ens *e);
ais_status ais__tree_ens_branch(ais__tree_ens *e, int64_t tree, int64_t node, int64_t feature,
                                double threshold, int64_t t, int64_t f, bool miss_true);
/*
 * Routes node `node` by value intervals of `feature`: with k cuts, segment j (the values above cut
 * j-1 and below cut j) goes to dest[j], j = 0..k; cut j is "x < v[j]" or, when incl[j], "x <=
 * v[j]"; cuts increase. NaN goes to nan_dest. Adjacent segments with one destination are merged;
 * the remaining cuts become a chain of nodes whose extra ids are taken from *next_id. NaN follows
 * the chain to its last node, whose two children are the last two destinations (nan_dest must be
 * one). The cuts are read from e->cut_v, e->cut_incl, e->cut_dest (k + 1 entries).
 */
ais_status ais__tree_ens_route(ais__tree_ens *e, int64_t tree, int64_t node, int64_t feature,
                               size_t k, int64_t nan_dest, int64_t *next_id);
/* The cut scratch for up to AIS__TREES_MAX_SPLIT_NODES cuts (allocated on first use). */
ais_status ais__tree_ens_cut_scratch(ais__tree_ens *e);
/* e->cats with room for n entries. */
ais_status ais__tree_ens_cat_scratch(ais__tree_ens *e, size_t n);
/*
 * A categorical split: the non-NaN values whose integer part is in cats[0..n) (ascending,
 * repeats allowed) go to in_dest, the other non-NaN values to out_dest, NaN to nan_dest. Category
 * c covers [c, c + 1); with zero_from_minus_one category 0 covers (-1, 1) (C's truncation toward
 * zero, as LightGBM casts to int). Fails with AIS_E_LIMIT beyond AIS__TREES_MAX_SPLIT_NODES nodes.
 */
ais_status ais__tree_ens_categories(ais__tree_ens *e, int64_t tree, int64_t node, int64_t feature,
                                    const int64_t *cats, size_t n, bool zero_from_minus_one,
                                    int64_t in_dest, int64_t out_dest, int64_t nan_dest,
                                    int64_t *next_id);
ais_status ais__tree_ens_leaf(ais__tree_ens *e, int64_t tree, int64_t node, int64_t target,
                              double weight);
/* `mode` is "BRANCH_LT" or "BRANCH_LEQ". The "format" metadata comes from the reader table. */
ais_status ais__tree_ens_graph(const ais__tree_ens *e, const char *mode, ais__trees_prob prob,
                               const char *objective, ais__graph **out);

#endif /* AIS_TREE_MODEL_H */
