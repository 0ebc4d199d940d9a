/*
 * placement.c - device plans: which steps run on the session's device backend and which on the
 * CPU, the transfers between host and device, and the two arenas they use.
 */
#include <stdio.h>
#include <string.h>

#include "session_internal.h"

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
ais_status ais__plan_device(ais_session *s, ais__plan *p) {
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
