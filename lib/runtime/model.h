/*
 * model.h - what lies behind the public ais_model, ais_session and ais_options handles, and the
 * entry point that turns a graph from any loader into a checked, sorted, optimized model.
 *
 * A model's graph is immutable after ais__model_from_graph: nodes are in execution order, every
 * node's operator is resolved, folded nodes and dead nodes are gone. Sessions only read it, so
 * any number of them may run on one model from different threads.
 */
#ifndef AIS_GRAPH_MODEL_H
#define AIS_GRAPH_MODEL_H

#include <aistack/ais_model.h>
#include <stdatomic.h>

#include "ir/graph.h"

#define AIS__N_OPTIONS 33 /* one past the highest ais_option */

struct ais_options {
    int64_t values[AIS__N_OPTIONS];
    bool set[AIS__N_OPTIONS];
    /* Internal, no public key: the fusion pass also folds Clip into its producer (fuse.c says
     * why it does not by default); tests set it to exercise the fused form. */
    bool fuse_clip;
    ais_progress_fn progress; /* ais_options_set_progress */
    void *progress_data;
    struct ais_monitor *monitor; /* ais_options_set_monitor: borrowed */
};

/* The value of an option (its default when options is NULL or the key is unset). */
int64_t ais__option(const ais_options *options, ais_option key);

struct ais_model {
    atomic_int refs;
    ais__graph *graph;
    const ais__op_def **defs; /* per node of graph */
    int64_t *opsets;          /* per node: the imported version of its domain */
    void **states;            /* per node: what its operator's prepare built (or NULL) */
    char **labels;            /* per node: how messages name it (ais__node_label), one block */
    size_t weight_bytes;
    int opt_level;
    bool fuse_clip; /* from the options (see struct ais_options) */
    uint64_t max_fold_bytes; /* AIS_OPT_MAX_FOLD_BYTES of the load */
    /* AIS_OPT_BACKEND of the load is CUDA: no fusion into operators only the CPU runs
     * (FusedAttention, BiasGelu), whose nodes would fall back to the host with copies */
    bool load_for_cuda;
    /* AIS_OPT_QDQ_FUSION of the load, at optimization level 2 and not for CUDA: the level 1
     * folding leaves DequantizeLinear of constants for fuse_qdq.c, which needs the 8-bit
     * weights (see ais__graph_fuse_qdq) */
    bool qdq_fusion;
};

/*
 * Checks (operators resolved for the imported opsets, inputs defined, no cycles), sorts the
 * nodes, folds constants and removes dead nodes (at optimization level >= 1), fuses (at 2),
 * then wraps the graph in a model. Takes ownership of g, also on failure. options may be NULL.
 */
ais_status ais__model_from_graph(ais__graph *g, const ais_options *options, ais_model **out);

/* The feature pipeline (model_pipeline.c). ais__model_attach_pipeline compiles the PIPELINE
 * spec a .ais reader left in g (g->pipeline_input, g->pipeline_spec; nothing to do without one),
 * checks it with ais__pipeline_target and that it names that input, and sets g->pipeline;
 * messages start ".ais: pipeline section". ais__model_from_graph calls it first. */
ais_status ais__model_attach_pipeline(ais__graph *g);
/* The reference profile (model_profile.c): parses a .ais DRIFT section the reader left in g
 * (g->drift_profile) into g->profile; a malformed one fails the load (messages start ".ais:
 * drift section"). */
ais_status ais__model_attach_profile(ais__graph *g);
/* Checks that `pipeline` can feed g: g has exactly one input, of dtype f32 or f64, of rank 2 (or
 * unknown rank), whose last extent, when static, is the pipeline's output width. Sets *input to
 * that input's value index. Messages say which input and what was expected; `who` prefixes
 * them. */
ais_status ais__pipeline_target(const ais__graph *g, const struct ais_pipeline *pipeline,
                                const char *who, int32_t *input);
/* ais__pipeline_target for a text pipeline (model_text.c): every model input is one that the
 * pipeline feeds, int64 of rank 2 (or unknown rank), and each tensor it feeds is a model input;
 * *input is the input the token ids feed. */
ais_status ais__text_target(const ais__graph *g, const struct ais_pipeline *pipeline,
                            const char *who, int32_t *input);
/* Writes g as .ais to path with `pipeline` (NULL: none) in its PIPELINE section, after checking
 * that it fits; the compression level and progress callback come from options (may be NULL). */
ais_status ais__model_write(const ais__graph *g, const struct ais_pipeline *pipeline,
                            const char *path, const ais_options *options);

/* Optimization level 2 (fuse.c): Conv, Gemm or MatMul whose output only an activation reads,
 * and that is no graph output, becomes FusedConv/FusedGemm/FusedMatMul (com.microsoft) with the
 * activation as attributes; the activation node goes. Needs the sorted, resolved graph. */
ais_status ais__graph_fuse(ais_model *m);
/* After ais__graph_fuse: MobileNetV2's inverted-residual block, expansion -> depthwise ->
 * projection [+ residual], becomes one FusedInvertedResidual node (fuse_block.c) at the CPU
 * levels with its kernels; count (may be NULL) receives how many. */
ais_status ais__graph_fuse_block(ais_model *m, size_t *count);
/* Level 2, before the fusion: BatchNormalization after a Conv with constant weights folded into
 * them (fold_bn.c). */
ais_status ais__graph_fold_bn(ais_model *m);
/* Level 2, after it: a Mul or Add by a per-channel f32 constant after a Conv with constant weights
 * or an inference BatchNormalization folded into that node's constants (fold_affine.c). */
ais_status ais__graph_fold_affine(ais_model *m);
/* Level 2, last: a channel shuffle (Reshape [N, G, Cg, H, W], Transpose [0, 2, 1, 3, 4], Reshape
 * [N, G * Cg, H, W]) whose only reader is a depthwise convolution folded into that convolution's
 * reading order (attribute ais_shuffled_input, conv.c); the three nodes go (fold_shuffle.c). */
ais_status ais__graph_fold_shuffle(ais_model *m);
/* After a pass marked the nodes it replaced (gone[i]; readers[v]: input slots of the kept nodes
 * reading value v, for v < n_readers): removes them, keeps defs, opsets and producers in step,
 * and frees the constants nothing reads (rewrite.c). */
void ais__model_drop_nodes(ais_model *m, const bool *gone, const uint32_t *readers,
                           size_t n_readers);
/* Node i becomes domain/op_type reading inputs[0..n_inputs) (NULL: its inputs stay), with the
 * kernel definition and opset to match; the domain's opset becomes 1 where the graph has none.
 * Outputs and attributes are the caller's. On failure the node is as it was (rewrite.c). */
ais_status ais__model_retype_node(ais_model *m, int32_t i, const char *domain, const char *op_type,
                                  const int32_t *inputs, size_t n_inputs);

/* Optimization level 2, before the above (fuse_transformer.c): the LayerNorm, Gelu (erf and
 * tanh forms), bias + Gelu and attention subgraphs that exporters emit become com.microsoft
 * LayerNormalization, Gelu, BiasGelu and FusedAttention nodes (the last two not when
 * m->load_for_cuda). counts (may be NULL) receives how many of each kind were fused. */
enum { AIS__FT_LAYERNORM, AIS__FT_GELU, AIS__FT_BIAS_GELU, AIS__FT_ATTENTION, AIS__FT_N };
ais_status ais__graph_fuse_transformer(ais_model *m, size_t counts[AIS__FT_N]);

/* Optimization level 2, first (fuse_qdq.c), when m->qdq_fusion: the DequantizeLinear ->
 * operator -> QuantizeLinear groups of QDQ models become integer operators (QLinearConv,
 * QLinearMatMul, com.microsoft QGemm / QLinearAdd / QLinearMul / QLinearSigmoid /
 * QLinearGlobalAveragePool / QLinearConcat) and data movement between a DQ and a Q of the same
 * quantization runs on the 8-bit tensor; the dynamic-quantized products (MatMulInteger -> Cast ->
 * Mul [-> Add]) become com.microsoft MatMulIntegerToFloat. counts (may be NULL) receives how
 * many of each kind. */
enum {
    AIS__QDQ_CONV,
    AIS__QDQ_MATMUL,
    AIS__QDQ_GEMM,
    AIS__QDQ_OTHER,
    AIS__QDQ_DROPPED,
    AIS__QDQ_DYNAMIC,
    AIS__QDQ_N
};
ais_status ais__graph_fuse_qdq(ais_model *m, size_t counts[AIS__QDQ_N]);
/* Optimization level 2, between the two above (fuse_epilogue.c): MatMul with a constant B
 * followed by the Add of a constant bias, of a residual Z, or BiasGelu (and an activation) becomes
 * com.microsoft FusedMatMulBias; Conv followed by the Add of a residual (and Relu) becomes
 * FusedConv with input Z; then an Add before a LayerNormalization becomes
 * SkipLayerNormalization. Not for models loaded for CUDA. *count (may
 * be NULL) receives the chains fused. */
ais_status ais__graph_fuse_epilogue(ais_model *m, size_t *count);

/* For tests and benchmarks: nodes the current plan runs per call (after plan-time folding),
 * and the bytes of its arena; 0 before the first run. */
size_t ais__session_steps(const ais_session *s);
size_t ais__session_arena_bytes(const ais_session *s);
/* For tests: frees the session's cached plan (the next run plans again). */
void ais__session_drop_plan(ais_session *s);

/* Whether some output of the node would exceed `limit` bytes: infers the output shapes from
 * `in` (nothing is allocated). When so, *which is the output, *desc its inferred shape and
 * *bytes its size (SIZE_MAX when the count overflows). A failing inference says false: the
 * caller's run of the node reports that failure. Strings and sequences count as nothing.
 * ctx must carry the node's prepared state already (a session's step, or ais__op_state_begin):
 * an operator's infer reads its attributes from there. */
bool ais__outputs_exceed(const ais__op_def *def, ais__op_ctx *ctx, const ais_tensor *const *in,
                         size_t n_in, size_t n_out, uint64_t limit, size_t *which,
                         ais__tensor_desc *desc, uint64_t *bytes);

/* Operators whose results differ between calls: never folded. */
bool ais__op_is_random(const char *domain, const char *op_type);

#endif /* AIS_GRAPH_MODEL_H */
