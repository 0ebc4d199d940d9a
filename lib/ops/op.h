/*
 * op.h - the operator registry: how an operator is described, how its kernels are called, and
 * how they read attributes. The eager API (eager.c) and the graph executor both go through
 * ais__op_invoke-style calls of these definitions.
 *
 * Contract of a kernel pair:
 *   infer(ctx, in, n_in, out_desc, n_out): checks the inputs (count, dtype, shape, attributes)
 *     and fills dtype and shape of every output. It may read the *values* of the inputs flagged
 *     in value_inputs (Reshape's shape, Slice's starts) and of no other: when a session plans
 *     shapes ahead of a run, the other inputs are descriptors whose data is NULL.
 *   compute(ctx, in, n_in, out, n_out): out[i] already has the inferred dtype and shape and
 *     memory of its own (or, for flagged view operators, may share in[0]'s data). It must not
 *     fail on shapes infer accepted, except for out-of-memory or data-dependent errors (an index
 *     out of range).
 *   Errors: return ais__error(status, "...") WITHOUT the operator's name: the caller prefixes it
 *   with the node name and operator type. Say what was expected and what came.
 *   Optional inputs that are absent arrive as NULL; inputs below min_inputs never do.
 *   Neither may abort, print or allocate with malloc; scratch memory comes from ais__op_scratch
 *   so that a session's steady state allocates nothing.
 *   prepare(ctx, &state) (optional): builds an immutable state from the attributes (a compiled
 *     tree ensemble) and, when ctx->consts is not NULL, from the node's constant inputs (weights
 *     packed once into a kernel's layout), once per model node at load; kernels read it as
 *     ctx->state from any number of threads at once. A state built from consts[i] must only be
 *     used while compute's in[i] is that same tensor (compare the pointer or data): graphs may
 *     change and eager calls have no consts. Where nothing prepared it (eager calls, folding), the
 *     caller of ais__op_invoke gets one built for the call and released after. Errors in
 *     attributes that prepare finds fail the model load.
 */
#ifndef AIS_OP_H
#define AIS_OP_H

#include <aistack/ais_ops.h>

#include "tensor/tensor.h"

/* The newest ai.onnx opset whose semantics the registry implements. */
#define AIS__MAX_OPSET 21
/* The same for ai.onnx.ml (TreeEnsemble-5 is its newest operator). */
#define AIS__MAX_ML_OPSET 5

/* The newest opset version of `domain` that the registry knows ("" and "ai.onnx": AIS__MAX_OPSET;
 * "ai.onnx.ml"; "com.microsoft": 1), or 0 for a domain it has no operators of. */
int64_t ais__opset_max(const char *domain);
/* Error (AIS_E_UNSUPPORTED, naming the domain and the supported range) when a model imports
 * `version` of a known domain outside 1..ais__opset_max: an operator's semantics depend on the
 * version, and a future one may have changed them. Unknown domains pass: their nodes fail. */
ais_status ais__opset_check(const char *domain, int64_t version);

/* ---- attributes ---- */

typedef enum ais__attr_type {
    AIS__ATTR_INT = 1,
    AIS__ATTR_FLOAT = 2,
    AIS__ATTR_STRING = 3,
    AIS__ATTR_INTS = 4,
    AIS__ATTR_FLOATS = 5,
    AIS__ATTR_STRINGS = 6,
    AIS__ATTR_TENSOR = 7,
} ais__attr_type;

typedef struct ais__attr {
    char *name;
    ais__attr_type type;
    int64_t i;
    float f;
    char *s;
    int64_t *ints;
    float *floats;
    char **strings;
    size_t count; /* of ints, floats or strings */
    ais_tensor *t;
} ais__attr;

struct ais_attrs {
    ais__attr *items;
    size_t count, cap;
};

/* The attribute or NULL, whatever its type; attrs may be NULL. */
const ais__attr *ais__attr_find(const ais_attrs *attrs, const char *name);
/*
 * The typed accessors below (and ais__attr_get) return the attribute when it is present with
 * the type asked for (FLOAT also takes INT), and the default when it is absent. Present with
 * another type, they return the default too, and record the mismatch for this thread: the
 * caller of infer, prepare and compute (ais__op_invoke, sessions, model load) then fails with
 * ais__attr_type_error(), which names the attribute, its type and the expected one. Kernels
 * therefore need no type checks of their own.
 */
const ais__attr *ais__attr_get(const ais_attrs *attrs, const char *name, ais__attr_type type);
/* AIS_OK, or the error for the first attribute read with the wrong type on this thread since
 * the last call or reset (and clears the record). */
ais_status ais__attr_type_error(void);
/* st, replaced by the type error when a mismatch was recorded (unless st is out of memory):
 * wrap each infer, prepare and compute call in it. */
ais_status ais__attr_type_check(ais_status st);
/* Forgets a recorded mismatch (one from reads outside a kernel call): call before the kernel. */
void ais__attr_type_reset(void);
int64_t ais__attr_int(const ais_attrs *attrs, const char *name, int64_t dflt);
float ais__attr_float(const ais_attrs *attrs, const char *name, float dflt);
const char *ais__attr_string(const ais_attrs *attrs, const char *name, const char *dflt);
/* true and the values when present with that type; false (and *v NULL, *n 0) otherwise. */
bool ais__attr_ints(const ais_attrs *attrs, const char *name, const int64_t **v, size_t *n);
bool ais__attr_floats(const ais_attrs *attrs, const char *name, const float **v, size_t *n);
const ais_tensor *ais__attr_tensor(const ais_attrs *attrs, const char *name);
/* Adds an attribute whose tensor borrows data (a mapped model file): no copy, no reference. */
ais_status ais__attrs_set_tensor_borrowed(ais_attrs *attrs, const char *name, ais_dtype dtype,
                                          const int64_t *dims, size_t ndim, void *data);

/* ---- kernels ---- */

typedef struct ais__op_ctx {
    const char *op_type;
    /* How messages name the node: "node 'conv1'", or "graph.node[17]" for an unnamed one
     * (ais__node_label); "" outside a graph */
    const char *node_name;
    int64_t opset;         /* the opset version of the operator's domain that the model imports */
    const ais_attrs *attrs;
    ais__pool *pool; /* may be NULL: run serially */
    /* Scratch memory, kept by the caller between calls so that it is allocated once. */
    void *scratch;
    size_t scratch_size;
    /* What the operator's prepare built for this node (read-only); NULL for operators without
     * prepare. Kernels read it through ais__op_state, which fails when it is missing. */
    const void *state;
    /* For prepare at model load only: consts[i] is input i's constant tensor (an initializer or
     * a folded value, alive as long as the model) or NULL when input i is computed or fed; the
     * array has n_consts entries. NULL in eager calls, folding and compute. */
    const ais_tensor *const *consts;
    size_t n_consts;
} ais__op_ctx;

/* The state `prepare` built for the node being run (*state). ais__op_invoke and sessions give one
 * to every operator that has `prepare` before its infer and compute run, so kernels never build
 * their own; a missing state is a bug in the caller (AIS_E_INTERNAL). */
ais_status ais__op_state(const ais__op_ctx *ctx, const void **state);
/* For a prepare whose state is a small struct of plain values (attributes read once, so that a
 * run looks none up by name): *state becomes a heap copy of the `size` bytes at `params`; the
 * operator's release is ais__op_state_free. `what` names it in an out-of-memory error. */
ais_status ais__op_state_dup(const void *params, size_t size, const char *what, void **state);
void ais__op_state_free(void *state);

/* At least `bytes` of 64-byte aligned scratch, valid until the kernel returns; NULL when out of
 * memory (the kernel then returns ais__oom(bytes, "...")). */
void *ais__op_scratch(ais__op_ctx *ctx, size_t bytes);
/* Frees the context's scratch buffer. */
void ais__op_ctx_release(ais__op_ctx *ctx);
/* y = a + b through the Add operator's kernel (opset 14: NumPy broadcasting), for kernels that
 * finish with a residual or a broadcast sum (FusedConv's Z, FusedMatMulBias's Z, a broadcasting
 * SkipLayerNormalization); in place when y is a (Add reads element i before writing it). Scratch
 * grown by the call stays with ctx. The kernel is looked up once per process. */
ais_status ais__op_add(ais__op_ctx *ctx, const ais_tensor *a, const ais_tensor *b, ais_tensor *y);

typedef ais_status (*ais__infer_fn)(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, size_t n_out);
typedef ais_status (*ais__compute_fn)(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out);
/* Reads ctx->attrs, ctx->opset, ctx->op_type and ctx->consts only. */
typedef ais_status (*ais__prepare_fn)(const ais__op_ctx *ctx, void **state);
typedef void (*ais__release_fn)(void *state);

/* Flags of an operator. */
enum {
    /* Output 0 holds exactly input 0's bytes (Reshape, Flatten, Squeeze, Unsqueeze, Identity):
     * the executor may give out[0] the data of in[0]; compute then copies nothing. */
    AIS__OP_VIEW = 1u << 0,
    /* Output values depend on nothing but attributes (Constant): fold at load. */
    AIS__OP_NO_INPUTS = 1u << 1,
    /* The kernels take and make string tensors themselves (owning every string they write).
     * Operators without it get no string or sequence tensors (ais__op_opaque_check), except
     * the few byte-moving ones that registry.c lists, whose string outputs it deep-copies. */
    AIS__OP_STRINGS = 1u << 2,
    /* The kernels take and make sequence values (AIS__DTYPE_SEQUENCE). */
    AIS__OP_SEQUENCES = 1u << 3,
    /* The outputs are one variadic list whose length is part of the meaning (Split: how many
     * parts): none of them is optional, so the load never drops an unread one (model.c). */
    AIS__OP_VARIADIC_OUTPUTS = 1u << 4,
};

typedef struct ais__op_def {
    const char *domain; /* "" for ai.onnx */
    const char *name;
    int32_t since_version; /* the oldest opset whose semantics this entry implements */
    int16_t min_inputs, max_inputs; /* max_inputs < 0: variadic */
    int16_t min_outputs, max_outputs;
    ais__infer_fn infer;
    ais__compute_fn compute;
    uint32_t flags;
    /* Bit i set: infer reads the values (not only the shape) of input i. Such inputs must be
     * known before shapes can be planned (constants, or computed first). */
    uint32_t value_inputs;
    /* Optional, together: the node's immutable state (see the contract at the top). */
    ais__prepare_fn prepare;
    ais__release_fn release;
} ais__op_def;

/* The entry for domain/name with the highest since_version <= opset; NULL when none. domain
 * "" and "ai.onnx" are the same. */
const ais__op_def *ais__op_find(const char *domain, const char *name, int64_t opset);
/* Any entry of domain/name regardless of opset (to tell "unknown" from "opset too old"). */
const ais__op_def *ais__op_find_any(const char *domain, const char *name);
/* Calls fn for every registered operator (docs, `aistack` listings). */
void ais__op_foreach(void (*fn)(void *ud, const ais__op_def *def), void *ud);

/*
 * Runs one operator: checks counts, infers, prepares outputs and computes. outputs[i] NULL:
 * a new tensor is created; otherwise it must match the inferred dtype and shape. On failure,
 * outputs created here are destroyed and reset to NULL, and the message is prefixed with the
 * operator (and the node when ctx->node_name is not empty).
 */
ais_status ais__op_invoke(const ais__op_def *def, ais__op_ctx *ctx, const ais_tensor *const *in,
                          size_t n_in, ais_tensor **out, size_t n_out);
/* Where nothing prepared the node (ctx->state NULL: an eager call, a node folded at load) and
 * the operator has prepare: builds a state from ctx's attributes and sets ctx->state, so that
 * every infer and compute on ctx until ais__op_state_end sees it; *own_state is NULL when none
 * was built. Errors (an attribute of the wrong type) are prepare's. */
ais_status ais__op_state_begin(const ais__op_def *def, ais__op_ctx *ctx, void **own_state);
/* Releases what ais__op_state_begin built and clears ctx->state; nothing when own_state NULL. */
void ais__op_state_end(const ais__op_def *def, ais__op_ctx *ctx, void *own_state);

/* Operator tables, each ending with an entry whose name is NULL. One per source file. */
extern const ais__op_def ais__ops_unary[];
extern const ais__op_def ais__ops_binary[];
extern const ais__op_def ais__ops_misc[];
extern const ais__op_def ais__ops_matmul[];
extern const ais__op_def ais__ops_conv[];
extern const ais__op_def ais__ops_conv_transpose[];
extern const ais__op_def ais__ops_pool[];
extern const ais__op_def ais__ops_norm[];
extern const ais__op_def ais__ops_softmax[];
extern const ais__op_def ais__ops_reduce[];
extern const ais__op_def ais__ops_shape[];
extern const ais__op_def ais__ops_layout[];
extern const ais__op_def ais__ops_sequence[];
extern const ais__op_def ais__ops_string[];
extern const ais__op_def ais__ops_resize[];
extern const ais__op_def ais__ops_loss[];
extern const ais__op_def ais__ops_quantize[];
extern const ais__op_def ais__ops_ml_linear[];
extern const ais__op_def ais__ops_ml_tree[];
extern const ais__op_def ais__ops_ml_tree5[];
extern const ais__op_def ais__ops_ml_prep[];
extern const ais__op_def ais__ops_ml_svm[];
extern const ais__op_def ais__ops_ml_map[];
extern const ais__op_def ais__ops_fused[];
extern const ais__op_def ais__ops_conv_block[]; /* conv_block.c: FusedInvertedResidual */
extern const ais__op_def ais__ops_attention[];
extern const ais__op_def ais__ops_qlinear[];
extern const ais__op_def ais__ops_qlinear_ms[];
extern const ais__op_def ais__ops_qattention[];

/* How an operator treats string and sequence tensors. */
typedef enum ais__opaque_mode {
    AIS__OPAQUE_NONE,  /* refuses them */
    AIS__OPAQUE_OWN,   /* AIS__OP_STRINGS / AIS__OP_SEQUENCES: the kernel handles them */
    AIS__OPAQUE_MOVE,  /* moves elements as bytes: string outputs need ais__strs_own after */
    AIS__OPAQUE_SHAPE, /* reads shapes only (Shape, Size) */
} ais__opaque_mode;
ais__opaque_mode ais__op_opaque_mode(const ais__op_def *def);
/* Error unless the operator accepts the string/sequence inputs and outputs it got. */
ais_status ais__op_opaque_check(const ais__op_def *def, const ais_tensor *const *in, size_t n_in,
                                const ais__tensor_desc *out, size_t n_out);

/* ---- helpers for kernels (op_util.c) ---- */

/* Error unless t has one of the listed dtypes (terminated by AIS_DTYPE_UNDEFINED). */
ais_status ais__expect_dtype(const ais_tensor *t, const char *what, ...);
/* Error unless a and b have the same dtype. */
ais_status ais__expect_same_dtype(const ais_tensor *a, const char *what_a, const ais_tensor *b,
                                  const char *what_b);
/* Error unless t's rank is in [lo, hi]. */
ais_status ais__expect_rank(const ais_tensor *t, const char *what, size_t lo, size_t hi);
/* Fills desc from a tensor's dtype and shape. */
void ais__desc_from(ais__tensor_desc *d, const ais_tensor *t);
void ais__desc_set(ais__tensor_desc *d, ais_dtype dtype, const int64_t *dims, size_t ndim);
/* Reads a 1-D (or scalar) int64 tensor of at most `max` values into v; an error naming `what`
 * when it has another dtype (ONNX types shape-like inputs int64: Reshape's and Expand's shape,
 * Tile's repeats, pads, axes, split, TopK's K, Resize's sizes, ConstantOfShape), rank or is
 * too long. */
ais_status ais__read_int_list(const ais_tensor *t, const char *what, int64_t *v, size_t max,
                              size_t *n);
/* The same for inputs that ONNX constrains to Tind (int32 or int64): Slice's starts, ends,
 * axes and steps, Pad's axes. */
ais_status ais__read_index_list(const ais_tensor *t, const char *what, int64_t *v, size_t max,
                                size_t *n);

#endif /* AIS_OP_H */
