/*
 * plan.c - building a session's plan for one input-shape signature: a step per node, shape
 * inference, and the nodes folded at plan time because their inputs are known then; the memory
 * plan (memory_plan.c) or the device plan (placement.c) finishes it.
 */
#include <string.h>

#include "session_internal.h"

void ais__plan_destroy(ais__plan *p) {
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

/* AIS_E_LIMIT when output `k` of the step (shape `d`, `bytes` bytes) exceeds the session's
 * limit: raised before anything of that size is allocated. */
ais_status ais__too_big(const ais__step *st, size_t k, const ais__tensor_desc *d, uint64_t bytes,
                        uint64_t limit) {
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

ais_status ais__plan_build(ais_session *s, ais__plan **out) {
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
