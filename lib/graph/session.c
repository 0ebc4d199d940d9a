/*
 * session.c - the executor: a plan per input-shape signature (shape inference, plan-time
 * constants, liveness, one arena), and runs that bind the caller's buffers without copying.
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
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../backend/backend.h"
#include "../pipeline/pipeline.h"
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
};

/* Where zero-byte tensors point: kernels may compute an address from it but never load. */
static _Alignas(64) unsigned char ais__empty_data[64];

static void ais__plan_destroy(ais__plan *p) {
    if (!p) return;
    if (p->owned)
        for (size_t i = 0; i < p->n_slots; i++) ais_tensor_destroy(p->owned[i]);
    if (p->steps) {
        for (size_t s = 0; s < p->n_steps; s++) {
            ais__free(p->steps[s].in);
            ais__free(p->steps[s].in_slot);
            ais__free(p->steps[s].out);
            ais__free(p->steps[s].out_slot);
        }
    }
    ais__free(p->sig);
    ais__free(p->kind);
    ais__free(p->vt);
    ais__free(p->vp);
    ais__free(p->owned);
    ais__free(p->home);
    ais__free(p->steps);
    ais__free(p->arena);
    if (p->be) {
        if (p->dev_owned)
            for (size_t i = 0; i < p->n_slots; i++)
                if (p->dev_owned[i]) p->be->free(p->be_state, p->dev_owned[i]);
        if (p->dev_arena) p->be->free(p->be_state, p->dev_arena);
    }
    ais__free(p->dt);
    ais__free(p->dev_owned);
    ais__free(p->xfers);
    ais__free(p);
}

static bool ais__shape_only_op(const ais__node *n) {
    return n->domain[0] == 0 && (strcmp(n->op_type, "Shape") == 0 || strcmp(n->op_type, "Size") == 0);
}

static void ais__ctx_for(ais__op_ctx *ctx, const ais__step *st) {
    ctx->op_type = st->node->op_type;
    ctx->node_name = st->label;
    ctx->opset = st->opset;
    ctx->attrs = st->node->attrs;
    ctx->state = st->state;
}

static void ais__node_prefix(const ais__step *st) {
    ais__error_prefix("%s (%s)", st->label, st->node->op_type);
}

/* AIS_E_LIMIT when output `k` of the step (shape `d`, `bytes` bytes) exceeds the session's
 * limit: raised before anything of that size is allocated. */
static ais_status ais__too_big(const ais__step *st, size_t k, const ais__tensor_desc *d,
                               uint64_t bytes, uint64_t limit) {
    char shape[AIS__SHAPE_STR_MAX];
    ais__shape_str(d->dims, d->ndim, shape, sizeof shape);
    if (bytes == UINT64_MAX)
        return ais__error(AIS_E_LIMIT,
                          "%s (%s): output %zu would be %s %s, more bytes than can be counted; "
                          "the limit is %llu bytes per tensor (AIS_OPT_MAX_TENSOR_BYTES)",
                          st->label, st->node->op_type, k, ais_dtype_name(d->dtype), shape,
                          (unsigned long long)limit);
    return ais__error(AIS_E_LIMIT,
                      "%s (%s): output %zu would be %s %s, %llu bytes, above the limit of %llu "
                      "bytes per tensor (raise AIS_OPT_MAX_TENSOR_BYTES to allow it)",
                      st->label, st->node->op_type, k, ais_dtype_name(d->dtype), shape,
                      (unsigned long long)bytes, (unsigned long long)limit);
}

/* Sizes the step's arrays and maps its inputs and outputs to slots. */
static ais_status ais__step_init(ais__step *st, const ais__node *n, size_t *next_anon) {
    size_t n_in = n->n_inputs, n_out = n->n_outputs;
    while (n_in > 0 && n->inputs[n_in - 1] < 0) n_in--;
    while (n_out > 0 && n->outputs[n_out - 1] < 0) n_out--;
    st->node = n;
    st->n_in = (uint32_t)n_in;
    st->n_out = (uint32_t)n_out;
    st->in = ais__calloc(n_in ? n_in : 1, sizeof *st->in);
    st->in_slot = ais__malloc((n_in ? n_in : 1) * sizeof *st->in_slot);
    st->out = ais__calloc(n_out ? n_out : 1, sizeof *st->out);
    st->out_slot = ais__malloc((n_out ? n_out : 1) * sizeof *st->out_slot);
    if (!st->in || !st->in_slot || !st->out || !st->out_slot)
        return ais__oom((n_in + n_out) * 16, "execution plan");
    for (size_t k = 0; k < n_in; k++) st->in_slot[k] = n->inputs[k];
    for (size_t k = 0; k < n_out; k++)
        st->out_slot[k] = n->outputs[k] >= 0 ? n->outputs[k] : (int32_t)(*next_anon)++;
    return AIS_OK;
}

/* Runs a node at plan time; its outputs become plan constants. */
static ais_status ais__plan_fold(ais_session *s, ais__plan *p, ais__step *st) {
    for (size_t k = 0; k < st->n_in; k++)
        st->in[k] = st->in_slot[k] >= 0 ? p->vp[st->in_slot[k]] : NULL;
    ais__ctx_for(&s->ctx, st);
    for (size_t k = 0; k < st->n_out; k++) st->out[k] = NULL;
    AIS__CHECK(ais__op_invoke(st->def, &s->ctx, st->in, st->n_in, st->out, st->n_out));
    for (size_t k = 0; k < st->n_out; k++) {
        int32_t slot = st->out_slot[k];
        p->owned[slot] = st->out[k];
        p->vp[slot] = st->out[k];
        p->kind[slot] = AIS__SLOT_PCONST;
        st->out[k] = NULL;
    }
    return AIS_OK;
}

/* Infers the output shapes of a node whose input shapes are known. */
static ais_status ais__plan_infer(ais_session *s, ais__plan *p, ais__step *st) {
    for (size_t k = 0; k < st->n_in; k++)
        st->in[k] = st->in_slot[k] >= 0 ? p->vp[st->in_slot[k]] : NULL;
    ais__ctx_for(&s->ctx, st);
    ais__tensor_desc desc[64];
    memset(desc, 0, sizeof desc[0] * st->n_out);
    ais_status rc = ais__op_opaque_check(st->def, st->in, st->n_in, NULL, 0);
    ais__attr_type_reset();
    if (rc == AIS_OK) /* fails on an attribute of the wrong type too */
        rc = ais__attr_type_check(st->def->infer(&s->ctx, st->in, st->n_in, desc, st->n_out));
    if (rc == AIS_OK) rc = ais__op_opaque_check(st->def, st->in, 0, desc, st->n_out);
    for (size_t k = 0; k < st->n_out && rc == AIS_OK; k++)
        rc = ais__shape_validate(desc[k].dims, desc[k].ndim, desc[k].dtype, "inferred output");
    if (rc != AIS_OK) {
        ais__node_prefix(st);
        return rc;
    }
    for (size_t k = 0; k < st->n_out; k++) {
        if (ais__dtype_is_opaque(desc[k].dtype)) continue;
        size_t numel;
        size_t es = ais_dtype_size(desc[k].dtype);
        uint64_t bytes = ais__shape_numel(desc[k].dims, desc[k].ndim, es, &numel)
                             ? (uint64_t)numel * es
                             : UINT64_MAX;
        if (bytes > s->max_tensor_bytes)
            return ais__too_big(st, k, &desc[k], bytes, s->max_tensor_bytes);
    }
    for (size_t k = 0; k < st->n_out; k++) {
        int32_t slot = st->out_slot[k];
        ais__tensor_init_borrowed(&p->vt[slot], desc[k].dtype, desc[k].dims, desc[k].ndim, NULL);
        p->vp[slot] = &p->vt[slot];
        p->kind[slot] = AIS__SLOT_STATIC;
        st->out[k] = &p->vt[slot];
    }
    return AIS_OK;
}

static size_t ais__align_up(size_t n) { return (n + AIS__ALIGN - 1) & ~(size_t)(AIS__ALIGN - 1); }

typedef struct ais__block {
    size_t off, size;
} ais__block;

/* Returns [off, off+size) to the free list, merging with neighbours. */
static void ais__block_release(ais__block *fl, size_t *n_fl, size_t off, size_t size) {
    for (size_t i = 0; i < *n_fl; i++) {
        if (fl[i].off + fl[i].size == off) { /* grow the block before us */
            off = fl[i].off;
            size += fl[i].size;
            fl[i] = fl[--*n_fl];
            i = (size_t)-1;
        } else if (off + size == fl[i].off) {
            size += fl[i].size;
            fl[i] = fl[--*n_fl];
            i = (size_t)-1;
        }
    }
    fl[(*n_fl)++] = (ais__block){off, size};
}

/* Best fit from the free list; else the end of the arena (absorbing a free block there). */
static size_t ais__block_take(ais__block *fl, size_t *n_fl, size_t *total, size_t need) {
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < *n_fl; i++)
        if (fl[i].size >= need && (best == SIZE_MAX || fl[i].size < fl[best].size)) best = i;
    if (best != SIZE_MAX) {
        size_t off = fl[best].off;
        fl[best].off += need;
        fl[best].size -= need;
        if (fl[best].size == 0) fl[best] = fl[--*n_fl];
        return off;
    }
    for (size_t i = 0; i < *n_fl; i++) {
        if (fl[i].off + fl[i].size == *total) {
            size_t off = fl[i].off;
            fl[i] = fl[--*n_fl];
            *total = off + need;
            return off;
        }
    }
    size_t off = *total;
    *total += need;
    return off;
}

/* Liveness over the static steps and offsets in one arena. */
static ais_status ais__plan_memory(ais__plan *p, const ais__graph *g) {
    size_t ns = p->n_steps, nslots = p->n_slots;
    size_t *last = ais__malloc((nslots ? nslots : 1) * sizeof *last);
    size_t *offset = ais__malloc((nslots ? nslots : 1) * sizeof *offset);
    int32_t *next_end = ais__malloc((nslots ? nslots : 1) * sizeof *next_end);
    int32_t *end_head = ais__malloc((ns + 1) * sizeof *end_head);
    ais__block *fl = ais__malloc((nslots + 1) * sizeof *fl);
    ais_status st = AIS_OK;
    if (!last || !offset || !next_end || !end_head || !fl) {
        st = ais__oom(nslots * 32, "memory plan");
        goto done;
    }
    for (size_t i = 0; i < nslots; i++) last[i] = SIZE_MAX;
    for (size_t s = 0; s < ns; s++) {
        const ais__step *stp = &p->steps[s];
        for (size_t k = 0; k < stp->n_out; k++) last[stp->out_slot[k]] = s;
        for (size_t k = 0; k < stp->n_in; k++)
            if (stp->in_slot[k] >= 0) last[stp->in_slot[k]] = s;
    }
    for (size_t i = 0; i < g->n_outputs; i++) last[g->outputs[i]] = ns; /* kept to the end */
    for (size_t s = ns; s-- > 0;) {
        const ais__step *stp = &p->steps[s];
        if (!stp->alias) continue;
        int32_t src = stp->in_slot[0], dst = stp->out_slot[0];
        if (p->kind[src] == AIS__SLOT_STATIC && last[dst] > last[src]) last[src] = last[dst];
    }
    for (size_t s = 0; s <= ns; s++) end_head[s] = -1;
    size_t total = 0, n_fl = 0;
    for (size_t s = 0; s < ns; s++) {
        if (s > 0)
            for (int32_t v = end_head[s - 1]; v >= 0; v = next_end[v])
                ais__block_release(fl, &n_fl, offset[v],
                                   ais__align_up(p->vt[v].nbytes));
        const ais__step *stp = &p->steps[s];
        if (stp->dynamic) continue;
        for (size_t k = 0; k < stp->n_out; k++) {
            int32_t v = stp->out_slot[k];
            if (k == 0 && stp->alias) continue;
            size_t need = ais__align_up(p->vt[v].nbytes);
            if (need == 0) {
                offset[v] = SIZE_MAX;
                continue;
            }
            offset[v] = ais__block_take(fl, &n_fl, &total, need);
            size_t end = last[v] < ns ? last[v] : ns;
            next_end[v] = end_head[end];
            end_head[end] = v;
        }
    }
    p->arena_size = total;
    p->arena = ais__malloc_aligned(total ? total : AIS__ALIGN, AIS__ALIGN);
    if (!p->arena) {
        st = ais__oom(total, "session arena");
        goto done;
    }
    for (size_t s = 0; s < ns; s++) {
        const ais__step *stp = &p->steps[s];
        if (stp->dynamic) continue;
        for (size_t k = 0; k < stp->n_out; k++) {
            int32_t v = stp->out_slot[k];
            if (k == 0 && stp->alias) continue;
            void *d = offset[v] == SIZE_MAX ? (void *)ais__empty_data : (char *)p->arena + offset[v];
            p->home[v] = d;
            p->vt[v].data = d;
        }
    }
done:
    ais__free(last);
    ais__free(offset);
    ais__free(next_end);
    ais__free(end_head);
    ais__free(fl);
    return st;
}

/* ---- device plans ---- */

/* One side's buffer of a slot while planning: the steps it lives over. */
typedef struct ais__buf {
    size_t start, end; /* start SIZE_MAX: the slot has no buffer on this side */
    bool planned;      /* in this side's arena (not an alias of its view input) */
    bool made;         /* the value is computed on this side (not copied there) */
} ais__buf;

/* Offsets in one arena for the planned buffers of one side: best fit over their lifetimes
 * (a buffer is live from its start step through its end step). */
static ais_status ais__plan_intervals(const ais__plan *p, const ais__buf *b, size_t *offset,
                                      size_t *total_out) {
    size_t ns = p->n_steps, nslots = p->n_slots;
    int32_t *start_head = ais__malloc((ns + 1) * sizeof *start_head);
    int32_t *end_head = ais__malloc((ns + 1) * sizeof *end_head);
    int32_t *next_start = ais__malloc((nslots ? nslots : 1) * sizeof *next_start);
    int32_t *next_end = ais__malloc((nslots ? nslots : 1) * sizeof *next_end);
    ais__block *fl = ais__malloc((nslots + 1) * sizeof *fl);
    ais_status st = AIS_OK;
    *total_out = 0;
    if (!start_head || !end_head || !next_start || !next_end || !fl) {
        st = ais__oom(nslots * 32, "memory plan");
        goto done;
    }
    for (size_t t = 0; t <= ns; t++) start_head[t] = end_head[t] = -1;
    for (size_t v = 0; v < nslots; v++) {
        offset[v] = SIZE_MAX;
        if (b[v].start == SIZE_MAX || !b[v].planned || p->vt[v].nbytes == 0) continue;
        next_start[v] = start_head[b[v].start];
        start_head[b[v].start] = (int32_t)v;
        next_end[v] = end_head[b[v].end];
        end_head[b[v].end] = (int32_t)v;
    }
    size_t total = 0, n_fl = 0;
    for (size_t t = 0; t <= ns; t++) {
        if (t > 0)
            for (int32_t v = end_head[t - 1]; v >= 0; v = next_end[v])
                ais__block_release(fl, &n_fl, offset[v], ais__align_up(p->vt[v].nbytes));
        for (int32_t v = start_head[t]; v >= 0; v = next_start[v])
            offset[v] = ais__block_take(fl, &n_fl, &total, ais__align_up(p->vt[v].nbytes));
    }
    *total_out = total;
done:
    ais__free(start_head);
    ais__free(end_head);
    ais__free(next_start);
    ais__free(next_end);
    ais__free(fl);
    return st;
}

static bool ais__is_const_slot(const ais__plan *p, int32_t v) {
    return p->kind[v] == AIS__SLOT_CONST || p->kind[v] == AIS__SLOT_PCONST;
}

static bool ais__value_input(const ais__step *st, size_t k) {
    return k < 32 && (st->def->value_inputs & (1u << k));
}

/* Whether the device backend takes a step: a static one, with data in every tensor, inputs
 * whose values infer reads known now (they stay on the host), and the backend's yes. */
static bool ais__place_on_device(const ais_session *s, const ais__plan *p, const ais__step *st) {
    if (st->dynamic || st->n_out == 0 || st->n_in == 0) return false;
    for (size_t k = 0; k < st->n_in; k++) {
        int32_t v = st->in_slot[k];
        if (v < 0) continue;
        if (!st->in[k] || st->in[k]->nbytes == 0) return false;
        if (ais__value_input(st, k) && (!ais__is_const_slot(p, v) || (k == 0 && st->alias)))
            return false;
    }
    for (size_t k = 0; k < st->n_out; k++)
        if (p->vt[st->out_slot[k]].nbytes == 0) return false;
    return s->backend->supports(s->backend_state, st->def, st->node->attrs, st->in, st->n_in);
}

/* The backend's alloc returns NULL without a status; keep what it said, if anything. */
static ais_status ais__dev_alloc(ais_session *s, size_t bytes, const char *what, void **out) {
    (void)ais__error(AIS_OK, "%s", "");
    *out = s->backend->alloc(s->backend_state, bytes);
    if (*out) return AIS_OK;
    char why[512];
    snprintf(why, sizeof why, "%s", ais_last_error());
    return ais__error(AIS_E_OUT_OF_MEMORY, "out of device memory allocating %zu bytes for %s%s%s",
                      bytes, what, why[0] ? ": " : "", why);
}

/* A constant on the device: model constants once per session, plan constants once per plan. */
static ais_status ais__const_on_device(ais_session *s, ais__plan *p, int32_t v) {
    if (p->dt[v].data) return AIS_OK;
    const ais_tensor *h = p->vp[v];
    void **cache = p->kind[v] == AIS__SLOT_CONST ? &s->const_dev[v] : &p->dev_owned[v];
    if (!*cache) {
        void *d;
        AIS__CHECK(ais__dev_alloc(s, h->nbytes, "a constant", &d));
        ais_status st = s->backend->copy_to_device(s->backend_state, d, h->data, h->nbytes);
        if (st != AIS_OK) {
            s->backend->free(s->backend_state, d);
            return st;
        }
        *cache = d;
    }
    ais__tensor_init_borrowed(&p->dt[v], h->dtype, h->dims, h->ndim, *cache);
    return AIS_OK;
}

static void ais__add_xfer(ais__plan *p, size_t at, int32_t v, bool to_device) {
    p->xfers[p->n_xfers++] = (ais__xfer){at, v, to_device};
}

/* Placement, transfers and the two arenas of a device plan (after shapes are known). */
static ais_status ais__plan_device(ais_session *s, ais__plan *p) {
    const ais__graph *g = s->model->graph;
    size_t ns = p->n_steps, nslots = p->n_slots, alloc_slots = nslots ? nslots : 1;
    p->be = s->backend;
    p->be_state = s->backend_state;
    p->dt = ais__calloc(alloc_slots, sizeof *p->dt);
    p->dev_owned = ais__calloc(alloc_slots, sizeof *p->dev_owned);
    p->xfers = ais__malloc(alloc_slots * sizeof *p->xfers);
    ais__buf *hb = ais__malloc(alloc_slots * sizeof *hb), *db = ais__malloc(alloc_slots * sizeof *db);
    size_t *hoff = ais__malloc(alloc_slots * sizeof *hoff), *doff = ais__malloc(alloc_slots * sizeof *doff);
    ais_status st = AIS_OK;
    if (!p->dt || !p->dev_owned || !p->xfers || !hb || !db || !hoff || !doff) {
        st = ais__oom(alloc_slots * 160, "device plan");
        goto done;
    }
    for (size_t v = 0; v < nslots; v++) hb[v] = db[v] = (ais__buf){SIZE_MAX, 0, false, false};
    /* folded nodes ran on the CPU while planning */
    for (size_t i = 0; i < g->n_nodes; i++) s->node_backend[i] = AIS_BACKEND_CPU;
    for (size_t i = 0; i < ns; i++) {
        ais__step *stp = &p->steps[i];
        stp->on_dev = ais__place_on_device(s, p, stp);
        if (stp->on_dev) s->node_backend[stp->node - g->nodes] = s->backend->kind;
    }
    for (size_t i = 0; i < ns; i++) {
        ais__step *stp = &p->steps[i];
        for (size_t k = 0; k < stp->n_in; k++) {
            int32_t v = stp->in_slot[k];
            if (v < 0) continue;
            if (stp->on_dev) {
                if (ais__is_const_slot(p, v)) {
                    if (ais__value_input(stp, k)) continue; /* read on the host */
                    if ((st = ais__const_on_device(s, p, v)) != AIS_OK) goto done;
                    stp->in[k] = &p->dt[v];
                    continue;
                }
                if (db[v].start == SIZE_MAX) { /* made on the host: copy it over first */
                    ais__add_xfer(p, i, v, true);
                    db[v] = (ais__buf){i, i, true, false};
                    ais__tensor_init_borrowed(&p->dt[v], p->vt[v].dtype, p->vt[v].dims,
                                              p->vt[v].ndim, NULL);
                    if (hb[v].start != SIZE_MAX) hb[v].end = AIS__MAX(hb[v].end, i);
                }
                db[v].end = AIS__MAX(db[v].end, i);
                stp->in[k] = &p->dt[v];
            } else {
                if (ais__is_const_slot(p, v)) continue;
                if (hb[v].start == SIZE_MAX && db[v].made) { /* made on the device: copy back */
                    ais__add_xfer(p, i, v, false);
                    hb[v] = (ais__buf){i, i, true, false};
                    db[v].end = AIS__MAX(db[v].end, i);
                }
                if (hb[v].start != SIZE_MAX) hb[v].end = AIS__MAX(hb[v].end, i);
            }
        }
        if (stp->dynamic) continue;
        for (size_t k = 0; k < stp->n_out; k++) {
            int32_t v = stp->out_slot[k];
            bool planned = !(k == 0 && stp->alias);
            if (stp->on_dev) {
                ais__tensor_init_borrowed(&p->dt[v], p->vt[v].dtype, p->vt[v].dims, p->vt[v].ndim,
                                          NULL);
                db[v] = (ais__buf){i, i, planned, true};
                stp->out[k] = &p->dt[v];
            } else {
                hb[v] = (ais__buf){i, i, planned, true};
            }
        }
    }
    /* graph outputs: device results come back after the last step; all live to the end */
    for (size_t j = 0; j < g->n_outputs; j++) {
        int32_t v = g->outputs[j];
        if (p->kind[v] != AIS__SLOT_STATIC) continue;
        if (db[v].made) {
            if (hb[v].start == SIZE_MAX) {
                ais__add_xfer(p, ns, v, false);
                hb[v] = (ais__buf){ns, ns, true, false};
            }
            db[v].end = ns;
        }
        if (hb[v].start != SIZE_MAX) hb[v].end = ns;
    }
    /* a view's source lives as long as the view (latest views first, so chains extend) */
    for (size_t i = ns; i-- > 0;) {
        const ais__step *stp = &p->steps[i];
        if (!stp->alias || stp->dynamic) continue;
        ais__buf *b = stp->on_dev ? db : hb;
        int32_t src = stp->in_slot[0], dst = stp->out_slot[0];
        if (b[src].start != SIZE_MAX && b[dst].end > b[src].end) b[src].end = b[dst].end;
    }
    size_t htotal, dtotal;
    if ((st = ais__plan_intervals(p, hb, hoff, &htotal)) != AIS_OK ||
        (st = ais__plan_intervals(p, db, doff, &dtotal)) != AIS_OK)
        goto done;
    p->arena_size = htotal;
    p->arena = ais__malloc_aligned(htotal ? htotal : AIS__ALIGN, AIS__ALIGN);
    if (!p->arena) {
        st = ais__oom(htotal, "session arena");
        goto done;
    }
    if (dtotal && (st = ais__dev_alloc(s, dtotal, "the device arena", &p->dev_arena)) != AIS_OK)
        goto done;
    p->dev_arena_size = dtotal;
    for (size_t v = 0; v < nslots; v++) {
        if (hb[v].start != SIZE_MAX && hb[v].planned) {
            void *d = hoff[v] == SIZE_MAX ? (void *)ais__empty_data : (char *)p->arena + hoff[v];
            p->home[v] = d;
            p->vt[v].data = d;
        }
        if (db[v].start != SIZE_MAX && db[v].planned && doff[v] != SIZE_MAX)
            p->dt[v].data = (char *)p->dev_arena + doff[v];
    }
done:
    ais__free(hb);
    ais__free(db);
    ais__free(hoff);
    ais__free(doff);
    return st;
}

static ais_status ais__plan_build(ais_session *s, ais__plan **out) {
    *out = NULL;
    const ais_model *m = s->model;
    const ais__graph *g = m->graph;
    size_t n_anon = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i].n_outputs; k++)
            if (g->nodes[i].outputs[k] < 0) n_anon++;
    ais__plan *p = ais__calloc(1, sizeof *p);
    if (!p) return ais__oom(sizeof *p, "execution plan");
    size_t nslots = g->n_values + n_anon;
    p->n_slots = nslots;
    size_t alloc_slots = nslots ? nslots : 1;
    p->sig = ais__calloc(g->n_inputs ? g->n_inputs : 1, sizeof *p->sig);
    p->kind = ais__calloc(alloc_slots, sizeof *p->kind);
    p->vt = ais__calloc(alloc_slots, sizeof *p->vt);
    p->vp = ais__calloc(alloc_slots, sizeof *p->vp);
    p->owned = ais__calloc(alloc_slots, sizeof *p->owned);
    p->home = ais__calloc(alloc_slots, sizeof *p->home);
    p->steps = ais__calloc(g->n_nodes ? g->n_nodes : 1, sizeof *p->steps);
    ais_status st = AIS_OK;
    if (!p->sig || !p->kind || !p->vt || !p->vp || !p->owned || !p->home || !p->steps) {
        st = ais__oom(alloc_slots * 128, "execution plan");
        goto fail;
    }
    for (size_t v = 0; v < g->n_values; v++) {
        const ais__value *val = &g->values[v];
        if (val->flags & AIS__VALUE_CONST) {
            p->kind[v] = AIS__SLOT_CONST;
            p->vp[v] = val->constant;
        }
    }
    for (size_t i = 0; i < g->n_inputs; i++) {
        int32_t v = g->inputs[i];
        const ais_tensor *t = s->bound[i];
        ais__desc_from(&p->sig[i], t);
        ais__tensor_init_borrowed(&p->vt[v], t->dtype, t->dims, t->ndim, NULL);
        p->vp[v] = &p->vt[v];
        p->kind[v] = AIS__SLOT_INPUT;
    }
    size_t next_anon = g->n_values;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ais__node *n = &g->nodes[i];
        ais__step *stp = &p->steps[p->n_steps];
        stp->def = m->defs[i];
        stp->opset = m->opsets[i];
        stp->state = m->states ? m->states[i] : NULL;
        stp->label = m->labels[i];
        /* counted before init so that a failed init is freed with the plan */
        p->n_steps++;
        if ((st = ais__step_init(stp, n, &next_anon)) != AIS_OK) goto fail;
        bool values_known = true, shapes_known = true, value_inputs_known = true;
        for (size_t k = 0; k < stp->n_in; k++) {
            int32_t v = stp->in_slot[k];
            if (v < 0) continue;
            uint8_t kd = p->kind[v];
            bool val = kd == AIS__SLOT_CONST || kd == AIS__SLOT_PCONST;
            if (!val) values_known = false;
            /* a sequence's items are known only when it is bound, at run time */
            if (kd == AIS__SLOT_DYNAMIC || kd == AIS__SLOT_NONE ||
                (p->vp[v] && p->vp[v]->dtype == AIS__DTYPE_SEQUENCE))
                shapes_known = false;
            if (!val && k < 32 && (stp->def->value_inputs & (1u << k))) value_inputs_known = false;
        }
        bool foldable = m->opt_level >= 1 && shapes_known &&
                        (values_known || ais__shape_only_op(n)) &&
                        !ais__op_is_random(n->domain, n->op_type);
        if (foldable) { /* a huge constant is left to the run, where the tensor limit holds */
            size_t which;
            ais__tensor_desc big;
            uint64_t bytes;
            for (size_t k = 0; k < stp->n_in; k++)
                stp->in[k] = stp->in_slot[k] >= 0 ? p->vp[stp->in_slot[k]] : NULL;
            ais__ctx_for(&s->ctx, stp);
            foldable = !ais__outputs_exceed(stp->def, &s->ctx, stp->in, stp->n_in, stp->n_out,
                                            s->max_fold_bytes, &which, &big, &bytes);
        }
        if (foldable) {
            if ((st = ais__plan_fold(s, p, stp)) != AIS_OK) goto fail;
            /* the node is done: drop the step */
            p->n_steps--;
            ais__free(stp->in);
            ais__free(stp->in_slot);
            ais__free(stp->out);
            ais__free(stp->out_slot);
            memset(stp, 0, sizeof *stp);
            continue;
        }
        if (shapes_known && value_inputs_known) {
            if ((st = ais__plan_infer(s, p, stp)) != AIS_OK) goto fail;
            /* Strings and sequences own what their elements point to: they never live in the
             * arena but in tensors of their own per run, like data-dependent shapes. */
            bool opaque = false;
            for (size_t k = 0; k < stp->n_out; k++)
                opaque = opaque || ais__dtype_is_opaque(p->vt[stp->out_slot[k]].dtype);
            if (opaque) {
                stp->dynamic = true;
                stp->sized = true;
                p->has_dynamic = true;
                for (size_t k = 0; k < stp->n_out; k++)
                    p->kind[stp->out_slot[k]] = AIS__SLOT_DYNAMIC;
                continue;
            }
            const ais_tensor *src = stp->n_in ? stp->in[0] : NULL;
            int32_t dst = stp->n_out ? stp->out_slot[0] : -1;
            stp->alias = (stp->def->flags & AIS__OP_VIEW) && src && dst >= 0 &&
                         dst < (int32_t)g->n_values &&
                         !(g->values[dst].flags & AIS__VALUE_OUTPUT) &&
                         src->dtype == p->vt[dst].dtype && src->nbytes == p->vt[dst].nbytes;
            for (size_t k = 0; k < stp->n_in; k++)
                stp->in[k] = stp->in_slot[k] >= 0 ? p->vp[stp->in_slot[k]] : NULL;
        } else {
            stp->dynamic = true;
            p->has_dynamic = true;
            for (size_t k = 0; k < stp->n_out; k++) p->kind[stp->out_slot[k]] = AIS__SLOT_DYNAMIC;
        }
    }
    st = s->device ? ais__plan_device(s, p) : ais__plan_memory(p, g);
    if (st != AIS_OK) goto fail;
    *out = p;
    return AIS_OK;
fail:
    ais__plan_destroy(p);
    return st;
}

/* ---- sessions ---- */

AIS_API ais_status ais_session_create(ais_model *model, const ais_options *options,
                                      ais_session **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_create: out is NULL");
    *out = NULL;
    if (!model) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_create: model is NULL");
    const ais__backend *be;
    AIS__CHECK(ais__backend_get((ais_backend)ais__option(options, AIS_OPT_BACKEND), &be));
    ais_session *s = ais__calloc(1, sizeof *s);
    if (!s) return ais__oom(sizeof *s, "session");
    atomic_init(&s->busy, false);
    const ais__graph *g = model->graph;
    s->bound = ais__calloc(g->n_inputs ? g->n_inputs : 1, sizeof *s->bound);
    s->created = ais__calloc(g->n_outputs ? g->n_outputs : 1, sizeof *s->created);
    s->node_backend = ais__calloc(g->n_nodes ? g->n_nodes : 1, sizeof *s->node_backend);
    ais_status st = AIS_OK;
    if (!s->bound || !s->created || !s->node_backend) {
        st = ais__oom(g->n_inputs * 8 + g->n_nodes * 4, "session");
        goto fail;
    }
    if ((st = be->create((int32_t)ais__option(options, AIS_OPT_DEVICE_ID), &s->backend_state)) !=
        AIS_OK)
        goto fail;
    s->backend = be;
    s->device = be->kind != AIS_BACKEND_CPU;
    if (s->device) {
        s->n_const_dev = g->n_values;
        s->const_dev = ais__calloc(g->n_values ? g->n_values : 1, sizeof *s->const_dev);
        if (!s->const_dev) {
            st = ais__oom(g->n_values * sizeof(void *), "session");
            goto fail;
        }
    }
    s->max_tensor_bytes = (uint64_t)ais__option(options, AIS_OPT_MAX_TENSOR_BYTES);
    /* a plan constant is a planned tensor too: folding never makes one above the tensor limit */
    s->max_fold_bytes =
        AIS__MIN((uint64_t)ais__option(options, AIS_OPT_MAX_FOLD_BYTES), s->max_tensor_bytes);
    /* 0 (the default): the process-wide handle, which follows ais_set_num_threads. */
    s->extra = (ais_extra_fields)ais__option(options, AIS_OPT_EXTRA_FIELDS);
    int32_t threads = (int32_t)ais__option(options, AIS_OPT_THREADS);
    if (threads == 0) s->pool = ais__default_pool();
    else if (threads > 1 && (st = ais__pool_create(threads, &s->pool)) != AIS_OK) goto fail;
    s->ctx.pool = s->pool;
    /* Until the first plan says otherwise (a device plan records its CPU fallbacks). */
    for (size_t i = 0; i < g->n_nodes; i++) s->node_backend[i] = be->kind;
    s->model = ais_model_retain(model);
    *out = s;
    return AIS_OK;
fail:
    ais_session_destroy(s);
    return st;
}

AIS_API void ais_session_destroy(ais_session *s) {
    if (!s) return;
    /* A call still running on another thread finishes first; then the flag stays set, so a call
     * that races with the destroy gets AIS_E_BUSY rather than running on freed state (until the
     * memory is gone: calling after destroy returned is the caller's bug, as for free()). */
    for (unsigned spins = 0; atomic_exchange_explicit(&s->busy, true, memory_order_acquire);
         spins++) {
        if (spins < 64) {
            sched_yield();
        } else {
            struct timespec ts = {0, 100 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    ais__plan_destroy(s->plan);
    ais__op_ctx_release(&s->ctx);
    ais__pool_destroy(s->pool);
    if (s->const_dev)
        for (size_t v = 0; v < s->n_const_dev; v++)
            if (s->const_dev[v]) s->backend->free(s->backend_state, s->const_dev[v]);
    ais__free(s->const_dev);
    if (s->backend) s->backend->destroy(s->backend_state);
    ais__free(s->bound);
    ais__free(s->created);
    ais__free(s->node_backend);
    ais_tensor_destroy(s->features);
    ais_model_destroy(s->model);
    ais__free(s);
}

AIS_API size_t ais_session_node_count(const ais_session *s) {
    return s ? s->model->graph->n_nodes : 0;
}

AIS_API ais_status ais_session_node_info(const ais_session *s, size_t index, const char **name,
                                         const char **op_type, ais_backend *backend) {
    if (!s) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_node_info: session is NULL");
    const ais__graph *g = s->model->graph;
    if (index >= g->n_nodes)
        return ais__error(AIS_E_NOT_FOUND, "ais_session_node_info: index %zu, the session has %zu "
                          "nodes", index, g->n_nodes);
    if (name) *name = g->nodes[index].name;
    if (op_type) *op_type = g->nodes[index].op_type;
    if (backend) *backend = s->node_backend[index];
    return AIS_OK;
}

size_t ais__session_steps(const ais_session *s) { return s && s->plan ? s->plan->n_steps : 0; }

void ais__session_drop_plan(ais_session *s) {
    if (!s) return;
    ais__plan_destroy(s->plan);
    s->plan = NULL;
}

size_t ais__session_arena_bytes(const ais_session *s) {
    return s && s->plan ? s->plan->arena_size : 0;
}

/* "[batch, 3]": the declared shape, with symbolic names (or "?") for dynamic extents. */
static const char *ais__declared_str(const ais__value *v, char *buf, size_t size) {
    size_t pos = 0;
    buf[0] = 0;
    pos += (size_t)snprintf(buf, size, "[");
    for (int32_t i = 0; i < v->ndim && pos < size; i++) {
        const char *sep = i ? ", " : "";
        if (v->dims[i] >= 0)
            pos += (size_t)snprintf(buf + pos, size - pos, "%s%lld", sep, (long long)v->dims[i]);
        else
            pos += (size_t)snprintf(buf + pos, size - pos, "%s%s", sep,
                                    v->dim_names[i] ? v->dim_names[i] : "?");
    }
    if (pos < size) snprintf(buf + pos, size - pos, "]");
    return buf;
}

static ais_status ais__check_input(const ais__value *v, const ais_tensor *t) {
    char a[AIS__SHAPE_STR_MAX], b[AIS__SHAPE_STR_MAX];
    if (v->dtype != AIS_DTYPE_UNDEFINED && t->dtype != v->dtype)
        return ais__error(AIS_E_DTYPE, "input '%s': expected dtype %s, got %s", v->name,
                          ais_dtype_name(v->dtype), ais_dtype_name(t->dtype));
    if (v->ndim < 0) return AIS_OK;
    bool ok = (int32_t)t->ndim == v->ndim;
    for (int32_t i = 0; ok && i < v->ndim; i++)
        if (v->dims[i] >= 0 && v->dims[i] != t->dims[i]) ok = false;
    if (!ok)
        return ais__error(AIS_E_SHAPE, "input '%s': expected shape %s, got %s", v->name,
                          ais__declared_str(v, a, sizeof a),
                          ais__shape_str(t->dims, t->ndim, b, sizeof b));
    return AIS_OK;
}

/* "'a', 'b', 'c'" for the names of values[ids[0, n)], cut with ", ..." to fit buf: what a
 * wrong name should have been. */
static const char *ais__names_list(const ais__graph *g, const int32_t *ids, size_t n, char *buf,
                                   size_t size) {
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + at, size - at, "%s'%s'", i ? ", " : "", g->values[ids[i]].name);
        if (w < 0 || (size_t)w >= size - at) {
            snprintf(buf + (at + 6 < size ? at : size - 6), 6, ", ...");
            break;
        }
        at += (size_t)w;
    }
    return buf;
}

static ais_status ais__bind_inputs(ais_session *s, const char *const *names,
                                   const ais_tensor *const *inputs, size_t n_inputs) {
    const ais__graph *g = s->model->graph;
    for (size_t i = 0; i < g->n_inputs; i++) s->bound[i] = NULL;
    if (n_inputs && !inputs)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_run: inputs is NULL");
    for (size_t i = 0; i < n_inputs; i++) {
        size_t idx = i;
        if (names) {
            if (!names[i])
                return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_run: input name %zu is NULL",
                                  i);
            for (idx = 0; idx < g->n_inputs; idx++)
                if (strcmp(g->values[g->inputs[idx]].name, names[i]) == 0) break;
            if (idx == g->n_inputs) {
                char list[256];
                return ais__error(AIS_E_NOT_FOUND, "the model has no input '%s' (its inputs: %s)",
                                  names[i],
                                  ais__names_list(g, g->inputs, g->n_inputs, list, sizeof list));
            }
        } else if (i >= g->n_inputs) {
            return ais__error(AIS_E_INVALID_ARGUMENT, "%zu inputs given, the model has %zu",
                              n_inputs, g->n_inputs);
        }
        const ais__value *v = &g->values[g->inputs[idx]];
        if (!inputs[i])
            return ais__error(AIS_E_INVALID_ARGUMENT, "input '%s': the tensor is NULL", v->name);
        if (s->bound[idx])
            return ais__error(AIS_E_INVALID_ARGUMENT, "input '%s' is given twice", v->name);
        AIS__CHECK(ais__check_input(v, inputs[i]));
        s->bound[idx] = inputs[i];
    }
    for (size_t i = 0; i < g->n_inputs; i++)
        if (!s->bound[i])
            return ais__error(AIS_E_INVALID_ARGUMENT, "input '%s' is missing",
                              g->values[g->inputs[i]].name);
    return AIS_OK;
}

static bool ais__plan_matches(const ais__plan *p, const ais_session *s) {
    const ais__graph *g = s->model->graph;
    for (size_t i = 0; i < g->n_inputs; i++) {
        const ais_tensor *t = s->bound[i];
        const ais__tensor_desc *d = &p->sig[i];
        if (t->dtype != d->dtype || t->ndim != d->ndim ||
            memcmp(t->dims, d->dims, t->ndim * sizeof(int64_t)) != 0)
            return false;
    }
    return true;
}

static void ais__free_dynamic(ais__plan *p) {
    if (!p->has_dynamic) return;
    for (size_t i = 0; i < p->n_slots; i++) {
        if (p->kind[i] != AIS__SLOT_DYNAMIC) continue;
        ais_tensor_destroy(p->owned[i]);
        p->owned[i] = NULL;
        p->vp[i] = NULL;
    }
}

/* A node whose shapes are known only now: fresh outputs, owned by the plan until the run ends.
 * Their sizes are checked against max_bytes first (an input computed at run time may ask for
 * a huge tensor as well as a constant can). */
static ais_status ais__run_dynamic(ais__op_ctx *ctx, ais__plan *p, ais__step *st,
                                   uint64_t max_bytes) {
    for (size_t k = 0; k < st->n_in; k++)
        st->in[k] = st->in_slot[k] >= 0 ? p->vp[st->in_slot[k]] : NULL;
    for (size_t k = 0; k < st->n_out; k++) st->out[k] = NULL;
    size_t which;
    ais__tensor_desc big;
    uint64_t bytes;
    if (!st->sized && ais__outputs_exceed(st->def, ctx, st->in, st->n_in, st->n_out, max_bytes,
                                          &which, &big, &bytes))
        return ais__too_big(st, which, &big, bytes, max_bytes);
    AIS__CHECK(ais__op_invoke(st->def, ctx, st->in, st->n_in, st->out, st->n_out));
    for (size_t k = 0; k < st->n_out; k++) {
        int32_t slot = st->out_slot[k];
        p->owned[slot] = st->out[k];
        p->vp[slot] = st->out[k];
        st->out[k] = NULL;
    }
    return AIS_OK;
}

static ais_status ais__run_xfer(ais_session *s, ais__plan *p, const ais__xfer *x) {
    int32_t v = x->slot;
    ais_tensor *h = &p->vt[v], *d = &p->dt[v];
    ais_status st = x->to_device
                        ? s->backend->copy_to_device(s->backend_state, d->data, h->data, d->nbytes)
                        : s->backend->copy_to_host(s->backend_state, h->data, d->data, d->nbytes);
    if (AIS__UNLIKELY(st != AIS_OK)) {
        const char *name = v < (int32_t)s->model->graph->n_values
                               ? s->model->graph->values[v].name : "(unnamed)";
        ais__error_prefix("copying '%s' to the %s", name, x->to_device ? "device" : "host");
    }
    return st;
}

/* Nodes on the device and the CPU with the planned copies between them; waits for the device
 * before returning, also after a failure (so that nothing still runs on the plan's memory). */
static ais_status ais__run_device_steps(ais_session *s, ais__plan *p) {
    ais__op_ctx *ctx = &s->ctx;
    ais_status rc = AIS_OK;
    size_t xi = 0;
    for (size_t i = 0; i <= p->n_steps && rc == AIS_OK; i++) {
        for (; xi < p->n_xfers && p->xfers[xi].at == i && rc == AIS_OK; xi++)
            rc = ais__run_xfer(s, p, &p->xfers[xi]);
        if (rc != AIS_OK || i == p->n_steps) break;
        ais__step *st = &p->steps[i];
        ais__ctx_for(ctx, st);
        if (st->dynamic) {
            rc = ais__run_dynamic(ctx, p, st, s->max_tensor_bytes);
            continue;
        }
        if (st->alias) st->out[0]->data = st->in[0]->data;
        rc = st->on_dev ? s->backend->run_node(s->backend_state, st->def, ctx, st->in, st->n_in,
                                               st->out, st->n_out)
                        : st->def->compute(ctx, st->in, st->n_in, st->out, st->n_out);
        if (rc != AIS_OK) ais__node_prefix(st);
    }
    if (rc == AIS_OK) return s->backend->synchronize(s->backend_state);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ais_last_error());
    (void)s->backend->synchronize(s->backend_state);
    return ais__error(rc, "%s", msg);
}

static ais_status ais__run_steps(ais_session *s, ais__plan *p) {
    if (s->device) return ais__run_device_steps(s, p);
    ais__op_ctx *ctx = &s->ctx;
    for (size_t i = 0; i < p->n_steps; i++) {
        ais__step *st = &p->steps[i];
        ais__ctx_for(ctx, st);
        if (AIS__UNLIKELY(st->dynamic)) {
            AIS__CHECK(ais__run_dynamic(ctx, p, st, s->max_tensor_bytes));
            continue;
        }
        if (st->alias) st->out[0]->data = st->in[0]->data;
        ais_status rc = s->backend->run_node(s->backend_state, st->def, ctx, st->in, st->n_in,
                                             st->out, st->n_out);
        if (AIS__UNLIKELY(rc != AIS_OK)) {
            ais__node_prefix(st);
            return rc;
        }
    }
    return s->backend->synchronize(s->backend_state);
}

static ais_status ais__output_index(const ais__graph *g, const char *const *names, size_t j,
                                    size_t *idx) {
    if (!names) {
        if (j >= g->n_outputs)
            return ais__error(AIS_E_INVALID_ARGUMENT, "output %zu asked for, the model has %zu",
                              j, g->n_outputs);
        *idx = j;
        return AIS_OK;
    }
    if (!names[j])
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_run: output name %zu is NULL", j);
    for (size_t i = 0; i < g->n_outputs; i++) {
        if (strcmp(g->values[g->outputs[i]].name, names[j]) == 0) {
            *idx = i;
            return AIS_OK;
        }
    }
    char list[256];
    return ais__error(AIS_E_NOT_FOUND, "the model has no output '%s' (its outputs: %s)", names[j],
                      ais__names_list(g, g->outputs, g->n_outputs, list, sizeof list));
}

static ais_status ais__check_output(const char *name, const ais_tensor *want, const ais_tensor *got) {
    if (got->dtype == want->dtype && ais__tensor_same_shape(got, want)) return AIS_OK;
    char a[AIS__SHAPE_STR_MAX], b[AIS__SHAPE_STR_MAX];
    /* A wrong element type is a dtype error even when the shape is wrong too. */
    return ais__error(got->dtype != want->dtype ? AIS_E_DTYPE : AIS_E_SHAPE,
                      "output '%s': the tensor given is %s %s, the result is %s %s",
                      name, ais_dtype_name(got->dtype), ais__shape_str(got->dims, got->ndim, a, sizeof a),
                      ais_dtype_name(want->dtype), ais__shape_str(want->dims, want->ndim, b, sizeof b));
}

/* Points static outputs at the caller's tensors (or new ones) so the nodes write there. */
static ais_status ais__prepare_outputs(ais_session *s, ais__plan *p, const char *const *names,
                                       ais_tensor **outputs, size_t n_outputs) {
    const ais__graph *g = s->model->graph;
    for (size_t i = 0; i < g->n_outputs; i++) {
        int32_t v = g->outputs[i];
        if (p->kind[v] == AIS__SLOT_STATIC) p->vt[v].data = p->home[v];
    }
    for (size_t j = 0; j < n_outputs; j++) {
        size_t idx;
        AIS__CHECK(ais__output_index(g, names, j, &idx));
        int32_t v = g->outputs[idx];
        if (p->kind[v] != AIS__SLOT_STATIC) continue;
        if (outputs[j]) {
            AIS__CHECK(ais__check_output(g->values[v].name, &p->vt[v], outputs[j]));
        } else {
            AIS__CHECK(ais__tensor_new(p->vt[v].dtype, p->vt[v].dims, p->vt[v].ndim, &outputs[j]));
            s->created[j] = true;
        }
        p->vt[v].data = outputs[j]->nbytes ? outputs[j]->data : p->home[v];
    }
    return AIS_OK;
}

static ais_status ais__finish_outputs(ais_session *s, ais__plan *p, const char *const *names,
                                      ais_tensor **outputs, size_t n_outputs) {
    const ais__graph *g = s->model->graph;
    for (size_t j = 0; j < n_outputs; j++) {
        size_t idx;
        AIS__CHECK(ais__output_index(g, names, j, &idx));
        int32_t v = g->outputs[idx];
        const ais_tensor *src = p->vp[v];
        if (src->dtype == AIS__DTYPE_SEQUENCE && outputs[j] && outputs[j]->data != src->data)
            return ais__error(AIS_E_INVALID_ARGUMENT, "output '%s' is a sequence: pass a NULL "
                              "slot to receive it", g->values[v].name);
        if (!outputs[j]) {
            if (p->kind[v] == AIS__SLOT_DYNAMIC && p->owned[v]) {
                outputs[j] = p->owned[v]; /* hand it over; vp[v] still reads it */
                p->owned[v] = NULL;
            } else {
                AIS__CHECK(ais_tensor_copy(src, &outputs[j]));
            }
            s->created[j] = true;
            continue;
        }
        if (outputs[j]->data == src->data) continue;
        AIS__CHECK(ais__check_output(g->values[v].name, src, outputs[j]));
        if (src->dtype == AIS_DTYPE_STRING)
            AIS__CHECK(ais_tensor_copy_into(src, outputs[j]));
        else if (src->nbytes)
            memcpy(outputs[j]->data, src->data, src->nbytes);
    }
    return AIS_OK;
}

/* Claims the session for one call; AIS_E_BUSY when another thread is inside a call on it. */
static ais_status ais__session_enter(ais_session *s, const char *who) {
    if (atomic_exchange_explicit(&s->busy, true, memory_order_acquire))
        return ais__error(AIS_E_BUSY,
                          "%s: the session is already running a call on another thread (a "
                          "session runs one call at a time: open one session per thread)",
                          who);
    return AIS_OK;
}

static void ais__session_leave(ais_session *s) {
    atomic_store_explicit(&s->busy, false, memory_order_release);
}

static ais_status ais__session_run(ais_session *s, const char *const *input_names,
                                   const ais_tensor *const *inputs, size_t n_inputs,
                                   const char *const *output_names, ais_tensor **outputs,
                                   size_t n_outputs) {
    const ais__graph *g = s->model->graph;
    if (n_outputs && !outputs)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_run: outputs is NULL");
    if (n_outputs > g->n_outputs)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_session_run: %zu outputs asked for, the model has %zu", n_outputs,
                          g->n_outputs);
    for (size_t j = 0; j < n_outputs; j++) s->created[j] = false;
    ais_status st = ais__bind_inputs(s, input_names, inputs, n_inputs);
    if (st != AIS_OK) return st;
    if (!s->plan || !ais__plan_matches(s->plan, s)) {
        ais__plan_destroy(s->plan);
        s->plan = NULL;
        if ((st = ais__plan_build(s, &s->plan)) != AIS_OK) return st;
    }
    ais__plan *p = s->plan;
    for (size_t i = 0; i < g->n_inputs; i++) {
        ais_tensor *t = &p->vt[g->inputs[i]];
        t->data = s->bound[i]->data;
    }
    if ((st = ais__prepare_outputs(s, p, output_names, outputs, n_outputs)) == AIS_OK &&
        (st = ais__run_steps(s, p)) == AIS_OK)
        st = ais__finish_outputs(s, p, output_names, outputs, n_outputs);
    ais__free_dynamic(p);
    if (st != AIS_OK) {
        for (size_t j = 0; j < n_outputs; j++) {
            if (!s->created[j]) continue;
            ais_tensor_destroy(outputs[j]);
            outputs[j] = NULL;
        }
    }
    return st;
}

AIS_API ais_status ais_session_run(ais_session *s, const char *const *input_names,
                                   const ais_tensor *const *inputs, size_t n_inputs,
                                   const char *const *output_names, ais_tensor **outputs,
                                   size_t n_outputs) {
    if (!s) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_run: session is NULL");
    AIS__CHECK(ais__session_enter(s, "ais_session_run"));
    ais_status st =
        ais__session_run(s, input_names, inputs, n_inputs, output_names, outputs, n_outputs);
    ais__session_leave(s);
    return st;
}

/* ---- records: the model's pipeline, then the model ---- */

typedef enum { AIS__SRC_RECORDS, AIS__SRC_JSONL, AIS__SRC_CSV, AIS__SRC_COLUMNS } ais__source;

typedef struct {
    const char *const *names;
    const ais_tensor *const *columns;
} ais__columns_src;

static ais_status ais__run_source_claimed(ais_session *s, const char *who, ais__source src,
                                          const void *data, const size_t *n_fields, size_t n,
                                          const char *const *output_names, ais_tensor **outputs,
                                          size_t n_outputs, ais_pipeline_errors **errors);

static ais_status ais__run_source(ais_session *s, const char *who, ais__source src,
                                  const void *data, const size_t *n_fields, size_t n,
                                  const char *const *output_names, ais_tensor **outputs,
                                  size_t n_outputs, ais_pipeline_errors **errors) {
    if (errors) *errors = NULL;
    if (!s) return ais__error(AIS_E_INVALID_ARGUMENT, "%s: session is NULL", who);
    /* s->features is session state too: claimed before the pipeline writes into it */
    AIS__CHECK(ais__session_enter(s, who));
    ais_status st = ais__run_source_claimed(s, who, src, data, n_fields, n, output_names, outputs,
                                            n_outputs, errors);
    ais__session_leave(s);
    return st;
}

static ais_status ais__run_source_claimed(ais_session *s, const char *who, ais__source src,
                                          const void *data, const size_t *n_fields, size_t n,
                                          const char *const *output_names, ais_tensor **outputs,
                                          size_t n_outputs, ais_pipeline_errors **errors) {
    const ais__graph *g = s->model->graph;
    const ais_pipeline *p = g->pipeline;
    if (!p) return ais__error(AIS_E_INVALID_ARGUMENT, "%s: the model has no feature pipeline", who);
    /* The features go into the last call's tensor when the row count repeats: a steady stream
     * of same-sized batches allocates nothing here (the plan is reused too). */
    ais_tensor *t = s->features;
    /* f32 or f64, checked when the pipeline was attached (ais__ais_pipeline_target) */
    ais_dtype dt = g->values[g->inputs[0]].dtype;
    ais_status st;
    switch (src) {
    case AIS__SRC_RECORDS:
        st = ais__pipeline_records_into(p, data, n_fields, n, dt, s->extra, &t, errors);
        break;
    case AIS__SRC_JSONL: st = ais__pipeline_jsonl_into(p, data, n, dt, s->extra, &t, errors); break;
    case AIS__SRC_COLUMNS: {
        const ais__columns_src *c = data;
        st = ais__pipeline_columns_into(p, who, c->names, c->columns, n, dt, s->extra, &t, errors);
        break;
    }
    default: st = ais__pipeline_csv_into(p, data, n, dt, s->extra, &t, errors); break;
    }
    if (st != AIS_OK) return st; /* s->features, if any, is untouched and still ours */
    if (t != s->features) {
        ais_tensor_destroy(s->features);
        s->features = t;
    }
    const char *name = g->values[g->inputs[0]].name;
    const ais_tensor *in = t;
    st = ais__session_run(s, &name, &in, 1, output_names, outputs, n_outputs);
    if (st != AIS_OK) ais__error_prefix("%s", who);
    return st;
}

AIS_API ais_status ais_session_run_records(ais_session *s, const ais_field *const *rows,
                                           const size_t *n_fields, size_t n_rows,
                                           const char *const *output_names, ais_tensor **outputs,
                                           size_t n_outputs, ais_pipeline_errors **errors) {
    if (n_rows && (!rows || !n_fields)) {
        if (errors) *errors = NULL;
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_session_run_records: %zu rows but rows or n_fields is NULL", n_rows);
    }
    return ais__run_source(s, "ais_session_run_records", AIS__SRC_RECORDS, rows, n_fields, n_rows,
                           output_names, outputs, n_outputs, errors);
}

AIS_API ais_status ais_session_run_json_rows(ais_session *s, const char *jsonl, size_t len,
                                             const char *const *output_names,
                                             ais_tensor **outputs, size_t n_outputs,
                                             ais_pipeline_errors **errors) {
    return ais__run_source(s, "ais_session_run_json_rows", AIS__SRC_JSONL, jsonl, NULL, len,
                           output_names, outputs, n_outputs, errors);
}

AIS_API ais_status ais_session_run_csv(ais_session *s, const char *csv, size_t len,
                                       const char *const *output_names, ais_tensor **outputs,
                                       size_t n_outputs, ais_pipeline_errors **errors) {
    return ais__run_source(s, "ais_session_run_csv", AIS__SRC_CSV, csv, NULL, len, output_names,
                           outputs, n_outputs, errors);
}

AIS_API ais_status ais_session_run_columns(ais_session *s, const char *const *names,
                                           const ais_tensor *const *columns, size_t n_columns,
                                           const char *const *output_names, ais_tensor **outputs,
                                           size_t n_outputs, ais_pipeline_errors **errors) {
    ais__columns_src c = {names, columns};
    return ais__run_source(s, "ais_session_run_columns", AIS__SRC_COLUMNS, &c, NULL, n_columns,
                           output_names, outputs, n_outputs, errors);
}
