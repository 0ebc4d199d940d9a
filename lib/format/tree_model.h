/*
 * tree_model.h - what the XGBoost and LightGBM readers share: a growing list of tree nodes and
 * leaf weights that becomes one ai.onnx.ml TreeEnsembleRegressor node.
 *
 * The graph it builds: input "input" f32 [N, n_features]; output "margin" f32 [N, n_targets], the
 * raw score (XGBoost output_margin=True, LightGBM raw_score=True); for classifiers also
 * "probability" f32 [N, n_targets] (Sigmoid of the margin for binary models, Softmax across
 * classes for multi-class ones).
 */
#ifndef AIS_TREE_MODEL_H
#define AIS_TREE_MODEL_H

#include "format.h"
#include "graph/graph.h"

/* Bounds on what a file may ask for: far beyond real models, small enough to allocate. */
#define AIS__TREES_MAX_NODES (1u << 24)      /* all trees together */
#define AIS__TREES_MAX_TREE_NODES (1u << 22) /* one tree */
#define AIS__TREES_MAX_FEATURES (1u << 24)
#define AIS__TREES_MAX_TARGETS 4096

typedef enum {
    AIS__TREES_PROB_NONE,
    AIS__TREES_PROB_SIGMOID,
    AIS__TREES_PROB_SOFTMAX
} ais__trees_prob;

typedef struct ais__tree_ens {
    size_t n, cap;
    int64_t *tree, *node, *feat, *tnode, *fnode, *miss;
    double *value;
    uint8_t *leaf;
    size_t nw, capw;
    int64_t *wtree, *wnode, *wtarget;
    double *weight;
    size_t n_features, n_targets;
    double base[AIS__TREES_MAX_TARGETS];
} ais__tree_ens;

void ais__tree_ens_init(ais__tree_ens *e);
void ais__tree_ens_free(ais__tree_ens *e);
ais_status ais__tree_ens_branch(ais__tree_ens *e, int64_t tree, int64_t node, int64_t feature,
                                double threshold, int64_t t, int64_t f, bool miss_true);
ais_status ais__tree_ens_leaf(ais__tree_ens *e, int64_t tree, int64_t node, int64_t target,
                              double weight);
/* `mode` is "BRANCH_LT" or "BRANCH_LEQ"; `source` names the format in the graph's metadata. */
ais_status ais__tree_ens_graph(const ais__tree_ens *e, const char *mode, ais__trees_prob prob,
                               const char *source, const char *objective, ais__graph **out);

#endif /* AIS_TREE_MODEL_H */
