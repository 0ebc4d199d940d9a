/*
 * session_internal.h - what the runtime's files share about the executor: a plan per input-shape
 * signature (shape inference, plan-time constants, liveness, one arena), and runs that bind the
 * caller's buffers without copying. The executor is in parts, one job each: plan.c (steps, shape
 * inference, plan-time folding), memory_plan.c (liveness, best-fit arena), placement.c (device
 * plans and transfers), run.c (the two run loops), session.c (create, destroy, run, inputs,
 * outputs, the busy flag) and record_run.c (records, JSON lines, CSV, columns through the
 * model's pipeline).
 *
 * Slots: one per graph value, plus anonymous ones for omitted optional outputs that a kernel
 * still writes. A slot is one of:
 *   INPUT   the caller's tensor, bound per run (its struct is copied, never its data)
 *   CONST   a model constant (shared, read-only)
 *   PCONST  computed while planning because its inputs were known then (Shape of an input, the
 *           Gather/Concat chains after it, ...), owned by the plan
 *   STATIC  shape known at plan time; data in the arena, an alias of its view input, or the
 *           caller's output buffer
 *   DYNAMIC shape known only when the node runs (it depends on values computed at run time):
 *           the node goes through ais__op_invoke and gets fresh tensors, freed after the run
 *
 * Device plans (a session whose backend is not the CPU): each static node runs on the device
 * when the backend supports it, else on the CPU (dynamic nodes always do). A value then has a
 * host tensor (vt) and/or a device tensor (dt); explicit copies ("transfers") run before the
 * first node that needs a value on the other side, and after the last node for device results
 * that are graph outputs. Host and device buffers are planned with the same liveness and
 * best-fit placement, in two arenas allocated at plan time; constants are uploaded once per
 * session, plan constants once per plan. All device work goes onto the backend's one stream.
 */
#ifndef AIS_RUNTIME_SESSION_INTERNAL_H
#define AIS_RUNTIME_SESSION_INTERNAL_H

#include <stdatomic.h>
#include <time.h>

#include "backend/backend.h"
#include "model.h"

enum { AIS__SLOT_NONE, AIS__SLOT_INPUT, AIS__SLOT_CONST, AIS__SLOT_PCONST, AIS__SLOT_STATIC,
       AIS__SLOT_DYNAMIC };

typedef struct ais__step {
    const ais__node *node;
    const char *label; /* how messages name the node (the model's labels) */
    const ais__op_def *def;
    int64_t opset;
    const void *state; /* the model's prepared state of the node (or NULL) */
    const ais_tensor **in;
    int32_t *in_slot; /* -1: omitted */
    ais_tensor **out;
    int32_t *out_slot;
    uint32_t n_in, n_out;
    bool dynamic;
    bool sized;  /* a dynamic step whose output shapes the plan inferred (and checked) */
    bool alias;  /* output 0 shares input 0's data */
    /* A Concat whose inputs the memory plan placed inside its output (memory_plan.c): their
     * producers wrote the joined tensor, the step has nothing to do and does not run */
    bool joined;
    bool on_dev; /* runs on the session's device backend */
} ais__step;

/* A copy of a slot between host and device memory, made before step `at` (n_steps: after the
 * last step). */
typedef struct ais__xfer {
    size_t at;
    int32_t slot;
    bool to_device;
} ais__xfer;

typedef struct ais__plan {
    ais__tensor_desc *sig; /* per graph input */
    size_t n_slots;
    uint8_t *kind;
    ais_tensor *vt;     /* tensor structs of INPUT and STATIC slots */
    ais_tensor **vp;    /* the tensor a slot currently is */
    ais_tensor **owned; /* PCONST results; DYNAMIC results during a run */
    void **home;        /* arena address of STATIC slots */
    ais__step *steps;
    size_t n_steps;
    void *arena;
    size_t arena_size;
    bool has_dynamic;
    /* device plans only */
    const ais__backend *be;
    void *be_state;
    ais_tensor *dt;    /* device tensor structs per slot */
    void **dev_owned;  /* per slot: device copies of plan constants */
    ais__xfer *xfers;
    size_t n_xfers;
    void *dev_arena;
    size_t dev_arena_size;
} ais__plan;

struct ais_session {
    ais_model *model;
    const ais__backend *backend;
    void *backend_state;
    ais__pool *pool;
    ais__op_ctx ctx;
    ais__plan *plan;
    const ais_tensor **bound; /* per graph input, during a run */
    bool *created;            /* per output slot of a run */
    ais_backend *node_backend;
    bool device;     /* the backend is not the CPU: device plans */
    void **const_dev; /* per graph value: its constant uploaded to the device, once */
    size_t n_const_dev;
    ais_tensor *features; /* the pipeline's output of the last record run, reused when the next
                             has as many rows */
    uint64_t max_tensor_bytes; /* AIS_OPT_MAX_TENSOR_BYTES */
    uint64_t max_fold_bytes;   /* AIS_OPT_MAX_FOLD_BYTES: plan-time folding */
    /* Set while a call runs. The contract is one thread at a time, but a caller that breaks it
     * must get AIS_E_BUSY instead of two runs writing the same plan and arena. */
    atomic_bool busy;
    ais_extra_fields extra; /* AIS_OPT_EXTRA_FIELDS */
    /* AIS_OPT_PROFILE: calls and nanoseconds per graph node (profile.c); NULL when off, which
     * the run loops test once per node. */
    struct ais__prof *prof;
    struct ais__metrics_shard *metrics; /* NULL with AIS_OPT_METRICS 0 (lib/monitor) */
    struct ais__live *live; /* the live drift window's feeds (session_live.c), or NULL */
    struct ais__into *into; /* ais_session_run_into's views as tensors (session_into.c), made
                               by its first call */
};

/* Where zero-byte tensors point: kernels may compute an address from it but never load. */
extern _Alignas(64) unsigned char ais__empty_data[64];

static inline void ais__ctx_for(ais__op_ctx *ctx, const ais__step *st) {
    ctx->op_type = st->node->op_type;
    ctx->node_name = st->label;
    ctx->opset = st->opset;
    ctx->attrs = st->node->attrs;
    ctx->state = st->state;
}

static inline void ais__node_prefix(const ais__step *st) {
    ais__error_prefix("%s (%s)", st->label, st->node->op_type);
}

static inline size_t ais__align_up(size_t n) { return (n + AIS__ALIGN - 1) & ~(size_t)(AIS__ALIGN - 1); }

typedef struct ais__block {
    size_t off, size;
} ais__block;

/* profile.c: AIS_OPT_PROFILE's counts */
typedef struct ais__prof_node {
    uint64_t calls, ns;
} ais__prof_node;
typedef struct ais__prof {
    uint64_t runs, ns;
    ais__prof_node nodes[]; /* per graph node */
} ais__prof;

/* Adds one call of step st that began at t0 (an ais__now_ns reading). */
static inline void ais__prof_step(ais_session *s, const ais__step *st, uint64_t t0) {
    ais__prof_node *n = &s->prof->nodes[st->node - s->model->graph->nodes];
    n->calls++;
    n->ns += ais__now_ns() - t0;
}

/* The session's counts when `options` ask for them, else NULL in *out. */
ais_status ais__prof_create(const ais_options *options, const ais__graph *g, ais__prof **out);

/* plan.c */
ais_status ais__plan_build(ais_session *s, ais__plan **out);
void ais__plan_destroy(ais__plan *p);
ais_status ais__too_big(const ais__step *st, size_t k, const ais__tensor_desc *d, uint64_t bytes,
                        uint64_t limit);

/* memory_plan.c */
void ais__block_release(ais__block *fl, size_t *n_fl, size_t off, size_t size);
size_t ais__block_take(ais__block *fl, size_t *n_fl, size_t *total, size_t need);
ais_status ais__plan_memory(ais__plan *p, const ais__graph *g);

/* placement.c */
ais_status ais__plan_device(ais_session *s, ais__plan *p);

/* run.c */
ais_status ais__run_steps(ais_session *s, ais__plan *p);
void ais__free_dynamic(ais__plan *p);

/* session_live.c: the live drift window (AIS_OPT_DRIFT_WINDOW). create after the metrics
 * shard (nothing without one, or without a reference profile); commit after a call that
 * succeeded: graph_inputs per graph input (NULL: none), outputs as the call returned them;
 * record_run: the rows the pipeline's tap staged are the call's. */
typedef struct ais__live ais__live;
ais_status ais__session_live_create(ais_session *s, const ais_options *options);
void ais__session_live_destroy(ais_session *s);
void ais__session_live_commit(ais_session *s, const ais_tensor *const *graph_inputs,
                              const char *const *output_names, ais_tensor *const *outputs,
                              size_t n_outputs, bool record_run);
const struct ais__pl_tap *ais__session_live_tap(ais_session *s);
void ais__session_live_abort(ais_session *s);

/* session_monitor.c: the session's metric shard (AIS_OPT_METRICS, ais_options_set_monitor) */
ais_status ais__session_metrics_create(ais_session *s, const ais_options *options);

/* session.c */
ais_status ais__session_enter(ais_session *s, const char *who);
void ais__session_leave(ais_session *s);
ais_status ais__session_run(ais_session *s, const char *const *input_names,
                            const ais_tensor *const *inputs, size_t n_inputs,
                            const char *const *output_names, ais_tensor **outputs,
                            size_t n_outputs);
/* The first half of a run: binds the inputs (checked against the model's declarations), plans
 * when their shapes are new, and points the plan's input slots at them; *out is the plan. */
ais_status ais__session_bind(ais_session *s, const char *const *input_names,
                             const ais_tensor *const *inputs, size_t n_inputs, ais__plan **out);

/* "'a', 'b', 'c'": the names of values[ids[0, n)] for messages, cut with ", ..." to fit. */
const char *ais__names_list(const ais__graph *g, const int32_t *ids, size_t n, char *buf,
                            size_t size);

/* session_into.c: frees what ais_session_run_into kept (NULL state: nothing). */
void ais__session_into_destroy(ais_session *s);

/* record_chunks.c: runs `features` [n, ...] as input `name` in chunks of the model's fixed
 * `batch` and concatenates each output's rows (outputs as in ais_session_run). */
ais_status ais__run_in_chunks(ais_session *s, const char *who, const char *name,
                              const ais_tensor *features, int64_t batch,
                              const char *const *output_names, ais_tensor **outputs,
                              size_t n_outputs);

#endif
