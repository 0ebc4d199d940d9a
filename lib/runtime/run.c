/*
 * run.c - the two run loops over a plan's steps: host only, and device with its transfers; and
 * the nodes whose shapes are known only when they run.
 */
#include <stdio.h>

#include "session_internal.h"

void ais__free_dynamic(ais__plan *p) {
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
    for (size_t k = 0; k < st->n_out; k++)
        st->out[k] = NULL;
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
        const char *name =
            v < (int32_t)s->model->graph->n_values ? s->model->graph->values[v].name : "(unnamed)";
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
        uint64_t t0 = AIS__UNLIKELY(s->prof != NULL) ? ais__now_ns() : 0;
        if (st->dynamic) {
            rc = ais__run_dynamic(ctx, p, st, s->max_tensor_bytes);
        } else {
            if (st->alias) st->out[0]->data = st->in[0]->data;
            rc = st->on_dev ? s->backend->run_node(s->backend_state, st->def, ctx, st->in, st->n_in,
                                                   st->out, st->n_out)
                            : st->def->compute(ctx, st->in, st->n_in, st->out, st->n_out);
            if (rc != AIS_OK) ais__node_prefix(st);
        }
        if (AIS__UNLIKELY(s->prof != NULL)) ais__prof_step(s, st, t0);
    }
    if (rc == AIS_OK) return s->backend->synchronize(s->backend_state);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ais_last_error());
    (void)s->backend->synchronize(s->backend_state);
    return ais__error(rc, "%s", msg);
}

static ais_status ais__run_host_steps(ais_session *s, ais__plan *p) {
    ais__op_ctx *ctx = &s->ctx;
    for (size_t i = 0; i < p->n_steps; i++) {
        ais__step *st = &p->steps[i];
        ais__ctx_for(ctx, st);
        /* AIS_OPT_PROFILE: the only cost when off is this test of a pointer in cache */
        uint64_t t0 = AIS__UNLIKELY(s->prof != NULL) ? ais__now_ns() : 0;
        ais_status rc = AIS_OK;
        if (AIS__UNLIKELY(st->dynamic)) {
            rc = ais__run_dynamic(ctx, p, st, s->max_tensor_bytes);
        } else if (!st->joined) {
            if (st->alias) st->out[0]->data = st->in[0]->data;
            rc = s->backend->run_node(s->backend_state, st->def, ctx, st->in, st->n_in, st->out,
                                      st->n_out);
            if (AIS__UNLIKELY(rc != AIS_OK)) ais__node_prefix(st);
        }
        if (AIS__UNLIKELY(s->prof != NULL)) ais__prof_step(s, st, t0);
        if (AIS__UNLIKELY(rc != AIS_OK)) return rc;
    }
    return s->backend->synchronize(s->backend_state);
}

ais_status ais__run_steps(ais_session *s, ais__plan *p) {
    /* A BLAS call asks ais__blas_width() how many threads it may take. The CPU backend binds the
     * session's pool around each of its nodes, but on a device plan the CPU fallback nodes run
     * here directly, and a node with run-time shapes goes around the backend on either plan:
     * without this they would take the process-wide width instead of the session's. */
    ais__pool_binding saved;
    ais__pool_bind(s->ctx.pool, &saved);
    ais_status rc = s->device ? ais__run_device_steps(s, p) : ais__run_host_steps(s, p);
    ais__pool_unbind(&saved);
    return rc;
}
