/*
 * memory_plan.c - where a host plan's static values live: liveness over the steps and a best-fit
 * placement of their buffers in one arena.
 */
#include "session_internal.h"

/* Where zero-byte tensors point: kernels may compute an address from it but never load. */
_Alignas(64) unsigned char ais__empty_data[64];

/* Returns [off, off+size) to the free list, merging with neighbours. */
void ais__block_release(ais__block *fl, size_t *n_fl, size_t off, size_t size) {
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
size_t ais__block_take(ais__block *fl, size_t *n_fl, size_t *total, size_t need) {
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

/* Whether step stp is a Concat that joins whole contiguous blocks: every extent before its axis
 * is 1 (a batch-1 NCHW Concat on channels), so input k is bytes [off_k, off_k + size_k) of the
 * output. */
static bool ais__concat_contiguous(const ais__plan *p, const ais__step *stp) {
    if (strcmp(stp->def->name, "Concat") != 0 || stp->def->domain[0] != '\0' || stp->n_out != 1 ||
        stp->n_in < 2)
        return false;
    const ais_tensor *y = &p->vt[stp->out_slot[0]];
    int64_t axis = ais__attr_int(stp->node->attrs, "axis", 1);
    if (axis < 0) axis += (int64_t)y->ndim;
    if (axis < 0 || axis >= (int64_t)y->ndim) return false;
    for (int64_t i = 0; i < axis; i++)
        if (y->dims[i] != 1) return false;
    return true;
}

/*
 * Concat without copies: the inputs of a contiguous Concat (above) are placed inside its output,
 * each at its own offset, so their producers write the joined tensor directly and the Concat
 * finds nothing to move (SqueezeNet's Fire modules: each joins two expand convolutions; the
 * copy was 2-3% of the model). member[v] is the Concat output whose buffer holds slot v, at
 * byte member_off[v] (-1: none; -2: v is such an output). A value joins one group only;
 * inputs must be static, produced by a static step into a buffer of their own (not a view),
 * not graph outputs and not another group's output (no nesting), each once, and land on
 * AIS__ALIGN offsets as kernels expect. The group's buffer then lives from its first input's
 * producer to the last use of any member or the output (last[] of the output is widened
 * here). The Concat step is marked joined: decided here once, it never runs.
 */
static void ais__concat_groups(ais__plan *p, const ais__graph *g, const bool *made_by, size_t *last,
                               int32_t *member, size_t *member_off) {
    for (size_t s = 0; s < p->n_steps; s++) {
        ais__step *stp = &p->steps[s];
        if (stp->dynamic || !ais__concat_contiguous(p, stp)) continue;
        int32_t y = stp->out_slot[0];
        if (p->kind[y] != AIS__SLOT_STATIC || member[y] != -1 ||
            (y < (int32_t)g->n_values && (g->values[y].flags & AIS__VALUE_OUTPUT)))
            continue;
        bool ok = true;
        size_t off = 0;
        for (size_t k = 0; ok && k < stp->n_in; k++) {
            int32_t v = stp->in_slot[k];
            /* member -1: free; -2: a group's output (no nesting either way) */
            ok = v >= 0 && v != y && p->kind[v] == AIS__SLOT_STATIC && made_by[v] &&
                 member[v] == -1 && p->vt[v].nbytes > 0 && off % AIS__ALIGN == 0 &&
                 p->vt[v].dtype == p->vt[y].dtype &&
                 !(v < (int32_t)g->n_values && (g->values[v].flags & AIS__VALUE_OUTPUT));
            for (size_t j = 0; ok && j < k; j++) ok = stp->in_slot[j] != v;
            if (ok) off += p->vt[v].nbytes;
        }
        if (!ok || off != p->vt[y].nbytes) continue;
        member[y] = -2;
        stp->joined = true;
        off = 0;
        for (size_t k = 0; k < stp->n_in; k++) {
            int32_t v = stp->in_slot[k];
            member[v] = y;
            member_off[v] = off;
            off += p->vt[v].nbytes;
            if (last[v] > last[y]) last[y] = last[v];
        }
    }
}

/* Liveness over the static steps and offsets in one arena. */
ais_status ais__plan_memory(ais__plan *p, const ais__graph *g) {
    size_t ns = p->n_steps, nslots = p->n_slots;
    size_t *last = ais__malloc((nslots ? nslots : 1) * sizeof *last);
    size_t *offset = ais__malloc((nslots ? nslots : 1) * sizeof *offset);
    int32_t *next_end = ais__malloc((nslots ? nslots : 1) * sizeof *next_end);
    int32_t *end_head = ais__malloc((ns + 1) * sizeof *end_head);
    ais__block *fl = ais__malloc((nslots + 1) * sizeof *fl);
    int32_t *member = ais__malloc((nslots ? nslots : 1) * sizeof *member);
    size_t *member_off = ais__malloc((nslots ? nslots : 1) * sizeof *member_off);
    bool *made_by = ais__calloc(nslots ? nslots : 1, sizeof *made_by);
    ais_status st = AIS_OK;
    if (!last || !offset || !next_end || !end_head || !fl || !member || !member_off || !made_by) {
        st = ais__oom(nslots * 48, "memory plan");
        goto done;
    }
    for (size_t i = 0; i < nslots; i++) member[i] = -1;
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
    for (size_t s = 0; s < ns; s++) {
        const ais__step *stp = &p->steps[s];
        for (size_t k = 0; !stp->dynamic && k < stp->n_out; k++)
            made_by[stp->out_slot[k]] = !(k == 0 && stp->alias);
    }
    ais__concat_groups(p, g, made_by, last, member, member_off);
    for (size_t s = 0; s <= ns; s++) end_head[s] = -1;
    for (size_t i = 0; i < nslots; i++) offset[i] = SIZE_MAX; /* groups: not placed yet */
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
            if (member[v] == -2) continue; /* placed with its first member */
            if (member[v] >= 0) {
                /* the first member produced places the whole group */
                if (offset[member[v]] == SIZE_MAX) {
                    int32_t y = member[v];
                    offset[y] = ais__block_take(fl, &n_fl, &total, ais__align_up(p->vt[y].nbytes));
                    size_t end = last[y] < ns ? last[y] : ns;
                    next_end[y] = end_head[end];
                    end_head[end] = y;
                }
                offset[v] = offset[member[v]] + member_off[v];
                continue;
            }
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
    ais__free(member);
    ais__free(member_off);
    ais__free(made_by);
    return st;
}
