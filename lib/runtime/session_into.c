/*
 * session_into.c - ais_session_run_into: a run on plain buffer views, for callers that pay per
 * foreign call (a ctypes call costs about as much as a batch-1 run of a small model, and a run
 * through tensor objects takes one per tensor wrapped, described and destroyed). The views
 * become tensor structs that the session keeps, so a run allocates nothing; outputs go into the
 * caller's buffers, or stay where the run left them in the plan's arena, or are copied into
 * memory the session keeps until its next run.
 */
#include <stdio.h>
#include <string.h>

#include "monitor/monitor.h"
#include "session_internal.h"

typedef struct ais__into {
    ais_tensor *in; /* per graph input: its view, as a tensor that borrows the data */
    const ais_tensor **in_ptr;
    ais_tensor *out; /* per output view: the result, for the metrics and drift window */
    ais_tensor **out_ptr;
    const char **out_names; /* per output view: the output's name (drift window) */
    int32_t *out_value;     /* per output view: its graph value */
    bool *direct;           /* per output view: the nodes wrote into the caller's buffer */
    void **keep;            /* per output view: session memory for results outside the arena */
    size_t *keep_cap;
    uint8_t *seen; /* per graph output: asked for in this call */
} ais__into;

void ais__session_into_destroy(ais_session *s) {
    ais__into *x = s->into;
    if (!x) return;
    const ais__graph *g = s->model->graph;
    if (x->keep)
        for (size_t j = 0; j < g->n_outputs; j++)
            ais__free(x->keep[j]);
    ais__free(x->in);
    ais__free(x->in_ptr);
    ais__free(x->out);
    ais__free(x->out_ptr);
    ais__free(x->out_names);
    ais__free(x->out_value);
    ais__free(x->direct);
    ais__free(x->keep);
    ais__free(x->keep_cap);
    ais__free(x->seen);
    ais__free(x);
    s->into = NULL;
}

/* Made by the first call: the arrays are sized by the graph, so no later run allocates. */
static ais_status ais__into_state(ais_session *s, ais__into **out) {
    if (s->into) return *out = s->into, AIS_OK;
    const ais__graph *g = s->model->graph;
    size_t ni = g->n_inputs ? g->n_inputs : 1, no = g->n_outputs ? g->n_outputs : 1;
    ais__into *x = ais__calloc(1, sizeof *x);
    if (!x) return ais__oom(sizeof *x, "ais_session_run_into state");
    s->into = x;
    x->in = ais__calloc(ni, sizeof *x->in);
    x->in_ptr = ais__calloc(ni, sizeof *x->in_ptr);
    x->out = ais__calloc(no, sizeof *x->out);
    x->out_ptr = ais__calloc(no, sizeof *x->out_ptr);
    x->out_names = ais__calloc(no, sizeof *x->out_names);
    x->out_value = ais__calloc(no, sizeof *x->out_value);
    x->direct = ais__calloc(no, sizeof *x->direct);
    x->keep = ais__calloc(no, sizeof *x->keep);
    x->keep_cap = ais__calloc(no, sizeof *x->keep_cap);
    x->seen = ais__calloc(no, sizeof *x->seen);
    if (!x->in || !x->in_ptr || !x->out || !x->out_ptr || !x->out_names || !x->out_value ||
        !x->direct || !x->keep || !x->keep_cap || !x->seen) {
        ais__session_into_destroy(s);
        return ais__oom(ni * (sizeof(ais_tensor) + 8) + no * (sizeof(ais_tensor) + 48),
                        "ais_session_run_into state");
    }
    for (size_t i = 0; i < ni; i++)
        x->in_ptr[i] = &x->in[i];
    *out = x;
    return AIS_OK;
}

static void ais__view_clear(ais_buffer_view *v) {
    v->data = NULL;
    v->nbytes = 0;
    v->dtype = AIS_DTYPE_UNDEFINED;
    v->ndim = 0;
    memset(v->dims, 0, sizeof v->dims);
}

static bool ais__overlap(const void *a, uint64_t na, const void *b, uint64_t nb) {
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return na && nb && pa < pb + nb && pb < pa + na;
}

/* The view of graph input i as x->in[i], checked as ais_tensor_wrap checks caller memory (the
 * model's declarations are checked when binding). */
static ais_status ais__into_input(const ais__graph *g, size_t i, const ais_buffer_view *v,
                                  ais_tensor *t) {
    const char *name = g->values[g->inputs[i]].name;
    ais_dtype dt = (ais_dtype)v->dtype;
    if (!ais__dtype_valid(dt) || ais__dtype_is_opaque(dt))
        return ais__error(AIS_E_DTYPE,
                          "ais_session_run_into: input '%s': dtype %d is not an "
                          "element type (strings and sequences: use ais_session_run)",
                          name, (int)v->dtype);
    char who[320];
    snprintf(who, sizeof who, "ais_session_run_into: input '%s'", name);
    AIS__CHECK(ais__shape_validate(v->dims, v->ndim, dt, who));
    ais__tensor_init_borrowed(t, dt, v->dims, v->ndim, v->data);
    if (!v->data && t->nbytes) return ais__error(AIS_E_INVALID_ARGUMENT, "%s: data is NULL", who);
    if (v->nbytes < t->nbytes) {
        char b[AIS__SHAPE_STR_MAX];
        return ais__error(AIS_E_SHAPE, "%s: %s %s needs %zu bytes, nbytes is %llu", who,
                          ais_dtype_name(dt), ais__shape_str(v->dims, v->ndim, b, sizeof b),
                          t->nbytes, (unsigned long long)v->nbytes);
    }
    size_t align = ais_dtype_size(dt);
    if (v->data && (uintptr_t)v->data % align != 0)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s: data %p is not aligned to %zu bytes (the "
                          "size of a %s element)",
                          who, v->data, align, ais_dtype_name(dt));
    if (!t->nbytes) t->data = ais__empty_data; /* kernels may form an address from it */
    return AIS_OK;
}

static ais_status ais__into_misaligned(const char *name, const ais_buffer_view *v, ais_dtype dt) {
    return ais__error(AIS_E_INVALID_ARGUMENT,
                      "ais_session_run_into: output '%s': buffer %p is "
                      "not aligned to %zu bytes (the size of a %s element)",
                      name, v->buffer, ais_dtype_size(dt), ais_dtype_name(dt));
}

static ais_status ais__into_opaque(const char *name, ais_dtype dt) {
    return ais__error(AIS_E_DTYPE,
                      "ais_session_run_into: output '%s' is a %s; run it with "
                      "ais_session_run",
                      name, dt == AIS_DTYPE_STRING ? "string tensor" : "sequence");
}

/* Output views: indices, duplicates, declared dtypes, and buffers that overlap inputs or each
 * other (the nodes write a buffer while they read the inputs). */
static ais_status ais__into_outputs(const ais__graph *g, ais__into *x, const size_t *idx,
                                    const ais_buffer_view *inputs, size_t n_inputs,
                                    const ais_buffer_view *outputs, size_t n_outputs) {
    memset(x->seen, 0, g->n_outputs);
    for (size_t j = 0; j < n_outputs; j++) {
        size_t o = idx ? idx[j] : j;
        if (o >= g->n_outputs)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "ais_session_run_into: output index %zu "
                              "(view %zu) is out of range: the model has %zu outputs",
                              o, j, g->n_outputs);
        const ais__value *val = &g->values[g->outputs[o]];
        if (x->seen[o])
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "ais_session_run_into: output %zu ('%s') "
                              "is asked for twice",
                              o, val->name);
        x->seen[o] = 1;
        if (ais__dtype_is_opaque(val->dtype)) return ais__into_opaque(val->name, val->dtype);
        x->out_value[j] = g->outputs[o];
        x->out_names[j] = val->name;
        const ais_buffer_view *v = &outputs[j];
        if (!v->buffer || !v->capacity) continue;
        if (val->dtype != AIS_DTYPE_UNDEFINED &&
            (uintptr_t)v->buffer % ais_dtype_size(val->dtype) != 0)
            return ais__into_misaligned(val->name, v, val->dtype);
        for (size_t i = 0; i < n_inputs; i++)
            if (ais__overlap(v->buffer, v->capacity, inputs[i].data, inputs[i].nbytes))
                return ais__error(AIS_E_INVALID_ARGUMENT,
                                  "ais_session_run_into: output '%s': "
                                  "the buffer overlaps input '%s'",
                                  val->name, g->values[g->inputs[i]].name);
        for (size_t k = 0; k < j; k++)
            if (ais__overlap(v->buffer, v->capacity, outputs[k].buffer, outputs[k].capacity))
                return ais__error(AIS_E_INVALID_ARGUMENT,
                                  "ais_session_run_into: the buffers "
                                  "of outputs '%s' and '%s' overlap",
                                  x->out_names[k], val->name);
    }
    return AIS_OK;
}

/* Static outputs whose buffer fits are written by the nodes themselves (no copy). */
static ais_status ais__into_prepare(const ais__graph *g, ais__plan *p, ais__into *x,
                                    const ais_buffer_view *outputs, size_t n_outputs) {
    for (size_t i = 0; i < g->n_outputs; i++) {
        int32_t v = g->outputs[i];
        if (p->kind[v] == AIS__SLOT_STATIC) p->vt[v].data = p->home[v];
    }
    for (size_t j = 0; j < n_outputs; j++) {
        int32_t v = x->out_value[j];
        const ais_buffer_view *ov = &outputs[j];
        ais_tensor *t = &p->vt[v];
        x->direct[j] =
            p->kind[v] == AIS__SLOT_STATIC && ov->buffer && t->nbytes && t->nbytes <= ov->capacity;
        if (!x->direct[j]) continue;
        if ((uintptr_t)ov->buffer % ais_dtype_size(t->dtype) != 0)
            return ais__into_misaligned(x->out_names[j], ov, t->dtype);
        t->data = ov->buffer;
    }
    return AIS_OK;
}

/* Where each result is, told through its view (and x->out, for the metrics). */
static ais_status ais__into_finish(ais__plan *p, ais__into *x, ais_buffer_view *outputs,
                                   size_t n_outputs) {
    const uint8_t *arena = p->arena;
    for (size_t j = 0; j < n_outputs; j++) {
        const ais_tensor *src = p->vp[x->out_value[j]];
        ais_buffer_view *ov = &outputs[j];
        if (ais__dtype_is_opaque(src->dtype)) /* undeclared, found when the node ran */
            return ais__into_opaque(x->out_names[j], src->dtype);
        void *data = src->data;
        if (x->direct[j]) {
            data = ov->buffer;
        } else if (ov->buffer && src->nbytes && src->nbytes <= ov->capacity) {
            if ((uintptr_t)ov->buffer % ais_dtype_size(src->dtype) != 0)
                return ais__into_misaligned(x->out_names[j], ov, src->dtype);
            memcpy(ov->buffer, src->data, src->nbytes);
            data = ov->buffer;
        } else if (src->nbytes && !((const uint8_t *)src->data >= arena &&
                                    (const uint8_t *)src->data < arena + p->arena_size)) {
            /* a result the run frees (computed at run time) or does not own (an input, a
             * constant): copied into memory the session keeps */
            if (x->keep_cap[j] < src->nbytes) {
                void *m = ais__malloc_aligned(src->nbytes, AIS__ALIGN);
                if (!m) return ais__oom(src->nbytes, x->out_names[j]);
                ais__free(x->keep[j]);
                x->keep[j] = m;
                x->keep_cap[j] = src->nbytes;
            }
            memcpy(x->keep[j], src->data, src->nbytes);
            data = x->keep[j];
        }
        ov->data = data;
        ov->nbytes = src->nbytes;
        ov->dtype = (int32_t)src->dtype;
        ov->ndim = src->ndim;
        memcpy(ov->dims, src->dims, sizeof ov->dims); /* zero from ndim on (tensor.c) */
        ais__tensor_init_borrowed(&x->out[j], src->dtype, src->dims, src->ndim, data);
        x->out_ptr[j] = &x->out[j];
    }
    return AIS_OK;
}

static ais_status ais__into_body(ais_session *s, const ais_buffer_view *inputs, size_t n_inputs,
                                 const size_t *idx, ais_buffer_view *outputs, size_t n_outputs,
                                 ais__into **bound) {
    const ais__graph *g = s->model->graph;
    if (n_outputs && !outputs)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_run_into: outputs is NULL");
    for (size_t j = 0; j < n_outputs; j++)
        ais__view_clear(&outputs[j]);
    if (n_inputs && !inputs)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_run_into: inputs is NULL");
    if (n_inputs != g->n_inputs) {
        char list[256];
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_session_run_into: %zu inputs given, the "
                          "model has %zu (in this order: %s)",
                          n_inputs, g->n_inputs,
                          ais__names_list(g, g->inputs, g->n_inputs, list, sizeof list));
    }
    if (!idx && n_outputs > g->n_outputs)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_session_run_into: %zu outputs asked "
                          "for, the model has %zu",
                          n_outputs, g->n_outputs);
    ais__into *x;
    AIS__CHECK(ais__into_state(s, &x));
    AIS__CHECK(ais__into_outputs(g, x, idx, inputs, n_inputs, outputs, n_outputs));
    for (size_t i = 0; i < n_inputs; i++)
        AIS__CHECK(ais__into_input(g, i, &inputs[i], &x->in[i]));
    *bound = x;
    ais__plan *p;
    AIS__CHECK(ais__session_bind(s, NULL, x->in_ptr, n_inputs, &p));
    ais_status st = ais__into_prepare(g, p, x, outputs, n_outputs);
    if (st == AIS_OK && (st = ais__run_steps(s, p)) == AIS_OK)
        st = ais__into_finish(p, x, outputs, n_outputs);
    ais__free_dynamic(p);
    return st;
}

AIS_API ais_status ais_session_run_into(ais_session *s, const ais_buffer_view *inputs,
                                        size_t n_inputs, const size_t *output_indices,
                                        ais_buffer_view *outputs, size_t n_outputs) {
    if (!s) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_run_into: session is NULL");
    ais__metrics_shard *m = s->metrics;  /* fixed for the session's life */
    uint64_t t0 = ais__metrics_clock(m); /* before the flag: monitor.h says why */
    AIS__CHECK(ais__session_enter(s, "ais_session_run_into"));
    ais__metrics_begin(m);
    uint64_t p0 = AIS__UNLIKELY(s->prof != NULL) ? ais__now_ns() : 0;
    ais__into *x = NULL; /* set once the inputs are tensors the metrics may read */
    ais_status st = ais__into_body(s, inputs, n_inputs, output_indices, outputs, n_outputs, &x);
    if (AIS__UNLIKELY(s->prof != NULL)) {
        s->prof->runs++;
        s->prof->ns += ais__now_ns() - p0;
    }
    if (st != AIS_OK && outputs)
        for (size_t j = 0; j < n_outputs; j++)
            ais__view_clear(&outputs[j]);
    if (m)
        ais__metrics_end_run(m, t0, st, x ? x->in_ptr : NULL, x ? n_inputs : 0,
                             x ? x->out_ptr : NULL, st == AIS_OK ? n_outputs : 0);
    if (s->live && st == AIS_OK)
        ais__session_live_commit(s, s->bound, x->out_names, x->out_ptr, n_outputs, false);
    ais__session_leave(s);
    return st;
}
