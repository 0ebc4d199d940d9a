/*
 * tree_engine.h - the compiled form of an ai.onnx.ml tree ensemble (TreeEnsembleRegressor and
 * TreeEnsembleClassifier, and what the XGBoost and LightGBM readers produce), built once from the
 * node attributes and then read by any number of threads.
 *
 * Two layouts (docs/design-decisions.md, "Tree ensembles"):
 *   - generic: every node flattened into one array (children as indices, the threshold as a
 *     double, leaf weights as index ranges), walked one node at a time. Always built; it serves
 *     BRANCH_EQ/NEQ, MIN/MAX aggregation, very deep or shared (DAG) trees and non-f32 inputs.
 *   - fast: when every branch is LEQ/LT/GTE/GT, each tree is padded to a complete binary tree of
 *     its depth and stored as float thresholds, feature ids with the default (missing) direction
 *     in the top bit, and one double per leaf; rows are walked in blocks, branch-free
 *     (idx = 2 idx + 1 + right), with AVX2 gathers when the CPU has them: 16 rows at a time
 *     through a block of trees, or, for small batches and a batch's last rows, one row at a
 *     time through 8 trees side by side. Used for f32 inputs (double thresholds rounded to the
 *     float that keeps each comparison exact) and, as ranks among each feature's thresholds,
 *     for f64/i32/i64 inputs; its decisions and sums are bit-identical to the generic walk.
 *
 * Sums: in double in tree order, the base values added at the end (then rounded to float); with
 * the node attribute aistack_accumulate = "float32" (SUM only; what the XGBoost reader sets) in
 * float, each output starting from its base value and adding each tree's float leaf value in
 * tree order, as XGBoost's CPU predictor does. Both layouts implement both modes identically.
 */
#ifndef AIS_TREE_ENGINE_H
#define AIS_TREE_ENGINE_H

#include "op.h"

typedef struct ais__tengine ais__tengine;

typedef enum { AIS__TAGG_SUM, AIS__TAGG_AVERAGE, AIS__TAGG_MIN, AIS__TAGG_MAX } ais__tree_agg;

/*
 * Checks and compiles the attributes (an unknown aistack_accumulate fails here). prefix is "target"
 * (regressor) or "class" (classifier); width is the number of outputs the weights may address
 * (n_targets or the class count). allow_fast false builds only the generic layout (tests compare
 * the two).
 */
ais_status ais__tengine_build(const ais_attrs *attrs, const char *prefix, size_t width,
                              ais__tree_agg agg, bool allow_fast, ais__tengine **out);
void ais__tengine_free(ais__tengine *e);

/* Classifier: every leaf weight is for class 0 (and there is at least one). */
bool ais__tengine_binary(const ais__tengine *e);
/* Whether the fast layout was built. */
bool ais__tengine_fast(const ais__tengine *e);
/* Whether inputs that are not f32 (f64, i32, i64) take the fast layout too, as ranks among each
 * feature's thresholds (tree_engine.c, ais__tree_compile_rank): exact, as the generic walk. */
bool ais__tengine_rank(const ais__tengine *e);
/*
 * For tests and measurements, before any scoring: simd false keeps the block walk on portable
 * code (lib/cpu/ref) whatever the CPU has (true: the kernel table's walk for the ISA in effect); row chunks of up to small_max
 * rows take the small-batch walk (8 trees side by side per row), larger ones the 16-row block
 * walk for their full blocks; doubled false keeps the small-batch walk on plain rows (its path
 * for very wide rows). No effect without the fast layout.
 */
void ais__tengine_tune(ais__tengine *e, bool simd, size_t small_max, bool doubled);

/*
 * Raw scores of every row of x ([rows, cols], dtype f32/f64/i32/i64) into y [rows * width]:
 * aggregated, divided for AVERAGE, base values added (first in float32 mode); no post transform.
 * Fails only when a reachable node reads a feature >= cols. Rows are split across pool when there
 * are enough.
 */
ais_status ais__tengine_scores(const ais__tengine *e, const ais_tensor *x, size_t rows, size_t cols,
                               float *y, ais__pool *pool);

#endif /* AIS_TREE_ENGINE_H */
