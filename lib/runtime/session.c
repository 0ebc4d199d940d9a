/*
 * session.c - sessions: create and destroy, node introspection, binding and checking inputs,
 * the caller's outputs, ais_session_run, and the busy flag that keeps one call at a time.
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "monitor/monitor.h"
#include "session_internal.h"

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
    if ((st = ais__prof_create(options, g, &s->prof)) != AIS_OK) goto fail;
    /* Until the first plan says otherwise (a device plan records its CPU fallbacks). */
    for (size_t i = 0; i < g->n_nodes; i++) s->node_backend[i] = be->kind;
    s->model = ais_model_retain(model);
    if ((st = ais__session_metrics_create(s, options)) != AIS_OK) goto fail;
    if ((st = ais__session_live_create(s, options)) != AIS_OK) goto fail;
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
    ais__free(s->prof);
    ais_tensor_destroy(s->features);
    ais__session_into_destroy(s);
    ais__session_live_destroy(s);
    ais__metrics_shard_destroy(s->metrics); /* and the window */
    ais_model_destroy(s->model);
    ais__free(s);
}

/* Safe during a run on another thread without the busy flag: the model's graph never changes
 * after loading, and a session never edits it. */
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
    /* node_backend is rewritten when a run plans (placement.c), so reading it during a run on
     * another thread would be a data race: take the busy flag like a run. The flag is an atomic
     * in a session the caller owns, so setting it through the const pointer is sound. */
    ais_session *w = (ais_session *)s;
    AIS__CHECK(ais__session_enter(w, "ais_session_node_info"));
    if (name) *name = g->nodes[index].name;
    if (op_type) *op_type = g->nodes[index].op_type;
    if (backend) *backend = s->node_backend[index];
    ais__session_leave(w);
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
const char *ais__names_list(const ais__graph *g, const int32_t *ids, size_t n, char *buf,
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
ais_status ais__session_enter(ais_session *s, const char *who) {
    if (atomic_exchange_explicit(&s->busy, true, memory_order_acquire)) {
        ais__metrics_refused(s->metrics);
        return ais__error(AIS_E_BUSY,
                          "%s: the session is already running a call on another thread (a "
                          "session runs one call at a time: open one session per thread)",
                          who);
    }
    return AIS_OK;
}

void ais__session_leave(ais_session *s) {
    atomic_store_explicit(&s->busy, false, memory_order_release);
}

ais_status ais__session_bind(ais_session *s, const char *const *input_names,
                             const ais_tensor *const *inputs, size_t n_inputs, ais__plan **out) {
    const ais__graph *g = s->model->graph;
    AIS__CHECK(ais__bind_inputs(s, input_names, inputs, n_inputs));
    if (!s->plan || !ais__plan_matches(s->plan, s)) {
        ais__plan_destroy(s->plan);
        s->plan = NULL;
        AIS__CHECK(ais__plan_build(s, &s->plan));
    }
    ais__plan *p = s->plan;
    for (size_t i = 0; i < g->n_inputs; i++) {
        ais_tensor *t = &p->vt[g->inputs[i]];
        t->data = s->bound[i]->data;
    }
    *out = p;
    return AIS_OK;
}

static ais_status ais__session_run_body(ais_session *s, const char *const *input_names,
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
    ais__plan *p;
    ais_status st = ais__session_bind(s, input_names, inputs, n_inputs, &p);
    if (st != AIS_OK) return st;
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

/* With AIS_OPT_PROFILE the whole call is timed too (the nodes are, inside run.c). */
ais_status ais__session_run(ais_session *s, const char *const *input_names,
                            const ais_tensor *const *inputs, size_t n_inputs,
                            const char *const *output_names, ais_tensor **outputs,
                            size_t n_outputs) {
    if (AIS__UNLIKELY(s->prof != NULL)) {
        uint64_t t0 = ais__now_ns();
        ais_status st = ais__session_run_body(s, input_names, inputs, n_inputs, output_names,
                                              outputs, n_outputs);
        s->prof->runs++;
        s->prof->ns += ais__now_ns() - t0;
        return st;
    }
    return ais__session_run_body(s, input_names, inputs, n_inputs, output_names, outputs,
                                 n_outputs);
}

AIS_API ais_status ais_session_run(ais_session *s, const char *const *input_names,
                                   const ais_tensor *const *inputs, size_t n_inputs,
                                   const char *const *output_names, ais_tensor **outputs,
                                   size_t n_outputs) {
    if (!s) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_session_run: session is NULL");
    ais__metrics_shard *m = s->metrics; /* fixed for the session's life */
    uint64_t t0 = ais__metrics_clock(m); /* before the flag: monitor.h says why */
    AIS__CHECK(ais__session_enter(s, "ais_session_run"));
    ais__metrics_begin(m);
    ais_status st =
        ais__session_run(s, input_names, inputs, n_inputs, output_names, outputs, n_outputs);
    if (m) ais__metrics_end_run(m, t0, st, inputs, n_inputs, outputs, n_outputs);
    if (s->live && st == AIS_OK)
        ais__session_live_commit(s, s->bound, output_names, outputs, n_outputs, false);
    ais__session_leave(s);
    return st;
}
