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

/* Liveness over the static steps and offsets in one arena. */
ais_status ais__plan_memory(ais__plan *p, const ais__graph *g) {
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
