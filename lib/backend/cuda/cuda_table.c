/*
 * cuda_table.c - the CUDA backend behind the executor's backend interface (backend.h): one
 * context (stream, library handles, pinned staging) per session.
 *
 * Memory handed out by `alloc` is plain cudaMalloc'd memory: the executor plans its own device
 * arena per execution plan and uploads constants once, so these calls happen at plan time only.
 */
#include <stdint.h>
#include <string.h>

#include "backend/backend.h"
#include "cuda_internal.h"

static ais_status ais__cudab_create(int32_t device_id, void **state) {
    *state = NULL;
    ais__cuda_ctx *ctx = NULL;
    ais_status st = ais__cuda_ctx_create((int)device_id, &ctx);
    if (st != AIS_OK) return st;
    *state = ctx;
    return AIS_OK;
}

static void ais__cudab_destroy(void *state) { ais__cuda_ctx_destroy(state); }

static size_t ais__cudab_hash(const void *def, size_t cap) {
    uintptr_t h = (uintptr_t)def;
    h ^= h >> 17;
    h *= (uintptr_t)0x9E3779B97F4A7C15u;
    return (size_t)(h >> 7) & (cap - 1);
}

/* The slot of def in the context's map (found, or the empty one where it goes). */
static struct ais__cuda_op_slot *ais__cudab_slot(ais__cuda_ctx *c, const void *def) {
    if (!c->cap_op_slots) return NULL;
    for (size_t i = ais__cudab_hash(def, c->cap_op_slots);; i = (i + 1) & (c->cap_op_slots - 1))
        if (c->op_slots[i].def == def || !c->op_slots[i].def) return &c->op_slots[i];
}

/* def's table entry (NULL: not a GPU operator), from the map or looked up by name and kept. At
 * plan time only; false when the map could not grow (then the node runs on the CPU). */
static bool ais__cudab_resolve(ais__cuda_ctx *c, const ais__op_def *def, const ais__cuda_op **op) {
    struct ais__cuda_op_slot *slot = ais__cudab_slot(c, def);
    if (slot && slot->def) {
        *op = slot->op;
        return true;
    }
    /* at most half full, so that probes stay short and always end */
    if ((c->n_op_slots + 1) * 2 > c->cap_op_slots) {
        size_t cap = c->cap_op_slots ? c->cap_op_slots * 2 : 64;
        struct ais__cuda_op_slot *grown = ais__calloc(cap, sizeof *grown), *old = c->op_slots;
        if (!grown) return false;
        size_t old_cap = c->cap_op_slots;
        c->op_slots = grown;
        c->cap_op_slots = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].def) *ais__cudab_slot(c, old[i].def) = old[i];
        ais__free(old);
        slot = ais__cudab_slot(c, def);
    }
    /* The CUDA side knows operators by name: the default domain's, and com.microsoft's that
     * share those names and semantics (Gelu, FusedMatMul, ...). */
    bool domain_ok = !def->domain || !def->domain[0] || strcmp(def->domain, "ai.onnx") == 0 ||
                     strcmp(def->domain, "com.microsoft") == 0;
    slot->def = def;
    slot->op = domain_ok ? ais__cuda_op_find(def->name) : NULL;
    c->n_op_slots++;
    *op = slot->op;
    return true;
}

static bool ais__cudab_supports(void *state, const ais__op_def *def, const ais_attrs *attrs,
                                const ais_tensor *const *in, size_t n_in) {
    if (!state || !def || !def->name || n_in == 0 || n_in > 16 || !in) return false;
    const ais__cuda_op *op = NULL;
    if (!ais__cudab_resolve(state, def, &op) || !op) return false;
    ais__tensor_desc descs[16];
    const ais__tensor_desc *dp[16];
    for (size_t i = 0; i < n_in; i++) {
        dp[i] = NULL;
        if (in[i]) {
            ais__desc_from(&descs[i], in[i]);
            dp[i] = &descs[i];
        }
    }
    return ais__cuda_op_supports(op, dp, n_in, attrs);
}

static void *ais__cudab_alloc(void *state, size_t bytes) {
    void *p = NULL;
    if (ais__cuda_malloc(state, bytes ? bytes : 1, &p) != AIS_OK) return NULL;
    return p;
}

static void ais__cudab_free(void *state, void *ptr) {
    if (!ptr) return;
    /* Queued work may still read it; cudaFree alone does not wait for a non-blocking stream. */
    (void)ais__cuda_synchronize(state);
    ais__cuda_free(state, ptr);
}

static ais_status ais__cudab_h2d(void *state, void *dst, const void *src, size_t bytes) {
    return ais__cuda_memcpy_h2d(state, dst, src, bytes);
}

static ais_status ais__cudab_d2h(void *state, void *dst, const void *src, size_t bytes) {
    return ais__cuda_memcpy_d2h(state, dst, src, bytes);
}

static ais_status ais__cudab_sync(void *state) { return ais__cuda_synchronize(state); }

static ais_status ais__cudab_run_node(void *state, const ais__op_def *def, ais__op_ctx *ctx,
                                      const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    /* The executor runs here only nodes that supports() accepted at plan time, which put the
     * definition in the map: one probe, no name comparisons, no second supports check. */
    struct ais__cuda_op_slot *slot = ais__cudab_slot(state, def);
    if (!slot || slot->def != def || !slot->op)
        return ais__error(AIS_E_INTERNAL, "%s: run on CUDA without being planned for it",
                          def->name);
    return ais__cuda_op_run(state, slot->op, ctx->opset, ctx->attrs, in, n_in, out, n_out);
}

static const ais__backend ais__cuda_backend_table_v = {
    .version = AIS__BACKEND_VERSION,
    .name = "cuda",
    .kind = AIS_BACKEND_CUDA,
    .create = ais__cudab_create,
    .destroy = ais__cudab_destroy,
    .supports = ais__cudab_supports,
    .alloc = ais__cudab_alloc,
    .free = ais__cudab_free,
    .copy_to_device = ais__cudab_h2d,
    .copy_to_host = ais__cudab_d2h,
    .synchronize = ais__cudab_sync,
    .run_node = ais__cudab_run_node,
};

const ais__backend *ais__cuda_backend_table(void) { return &ais__cuda_backend_table_v; }
