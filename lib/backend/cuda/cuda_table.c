/*
 * cuda_table.c - the CUDA backend behind the executor's backend interface (backend.h): one
 * context (stream, library handles, pinned staging) per session.
 *
 * Memory handed out by `alloc` is plain cudaMalloc'd memory: the executor plans its own device
 * arena per execution plan and uploads constants once, so these calls happen at plan time only.
 */
#include <string.h>

#include "../backend.h"
#include "cuda_internal.h"

static ais_status ais__cudab_create(int32_t device_id, void **state) {
    *state = NULL;
    ais__cuda_ctx *ctx = NULL;
    ais_status st = ais__cuda_ctx_create((int)device_id, 0, &ctx);
    if (st != AIS_OK) return st;
    *state = ctx;
    return AIS_OK;
}

static void ais__cudab_destroy(void *state) { ais__cuda_ctx_destroy(state); }

static bool ais__cudab_supports(void *state, const ais__op_def *def, const ais_attrs *attrs,
                                const ais_tensor *const *in, size_t n_in) {
    (void)state;
    if (!def || !def->name || n_in == 0 || n_in > 16 || !in) return false;
    /* The CUDA side knows operators by name: the default domain's, and com.microsoft's that
     * share those names and semantics (Gelu, FusedMatMul, ...). */
    if (def->domain && def->domain[0] && strcmp(def->domain, "ai.onnx") != 0 &&
        strcmp(def->domain, "com.microsoft") != 0)
        return false;
    ais__tensor_desc descs[16];
    const ais__tensor_desc *dp[16];
    for (size_t i = 0; i < n_in; i++) {
        dp[i] = NULL;
        if (in[i]) {
            ais__desc_from(&descs[i], in[i]);
            dp[i] = &descs[i];
        }
    }
    return ais__cuda_supports(def->name, def->since_version, dp, n_in, attrs);
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
    return ais__cuda_run_node(state, def->name, ctx->opset, ctx->attrs, in, n_in, out, n_out);
}

static const ais__backend ais__cuda_backend_table = {
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

const ais__backend *ais__backend_cuda(void) { return &ais__cuda_backend_table; }
