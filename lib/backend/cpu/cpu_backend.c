/* cpu_backend.c - the CPU backend: host memory and the operators' own compute functions. */
#include <string.h>

#include "backend/backend.h"

static ais_status ais__cpu_create(int32_t device_id, void **state) {
    (void)device_id;
    *state = NULL; /* nothing per session: scratch lives in the executor's op context */
    return AIS_OK;
}

static void ais__cpu_destroy(void *state) { (void)state; }

static bool ais__cpu_supports(void *state, const ais__op_def *def, const ais_attrs *attrs,
                              const ais_tensor *const *in, size_t n_in) {
    (void)state, (void)attrs, (void)in, (void)n_in;
    return def && def->compute; /* every registered kernel is a CPU kernel */
}

static void *ais__cpu_alloc(void *state, size_t bytes) {
    (void)state;
    return ais__malloc_aligned(bytes ? bytes : 1, AIS__ALIGN);
}

static void ais__cpu_free(void *state, void *ptr) {
    (void)state;
    ais__free(ptr);
}

static ais_status ais__cpu_copy(void *state, void *dst, const void *src, size_t bytes) {
    (void)state;
    if (bytes && dst != src) memmove(dst, src, bytes);
    return AIS_OK;
}

static ais_status ais__cpu_sync(void *state) {
    (void)state;
    return AIS_OK;
}

static ais_status ais__cpu_run_node(void *state, const ais__op_def *def, ais__op_ctx *ctx,
                                    const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    (void)state;
    /* A BLAS call inside the kernel asks ais__blas_width() how many threads it may take: the
     * session's, not whatever the process last set. */
    ais__pool_binding saved;
    ais__pool_bind(ctx->pool, &saved);
    ais_status st = def->compute(ctx, in, n_in, out, n_out);
    ais__pool_unbind(&saved);
    return st;
}

static const ais__backend ais__cpu_backend = {
    .version = AIS__BACKEND_VERSION,
    .name = "cpu",
    .kind = AIS_BACKEND_CPU,
    .create = ais__cpu_create,
    .destroy = ais__cpu_destroy,
    .supports = ais__cpu_supports,
    .alloc = ais__cpu_alloc,
    .free = ais__cpu_free,
    .copy_to_device = ais__cpu_copy,
    .copy_to_host = ais__cpu_copy,
    .synchronize = ais__cpu_sync,
    .run_node = ais__cpu_run_node,
};

ais_status ais__backend_get(ais_backend kind, const ais__backend **out) {
    *out = NULL;
    switch (kind) {
    case AIS_BACKEND_CPU:
        *out = &ais__cpu_backend;
        return AIS_OK;
    case AIS_BACKEND_CUDA:
#ifdef AIS_HAVE_CUDA_PLUGIN
        return ais__backend_cuda_plugin(out);
#endif
        return ais__error(AIS_E_NO_DEVICE,
                          "the CUDA backend was asked for, but this build of libaistack has no "
                          "CUDA backend (it was compiled without the CUDA toolkit)");
    }
    return ais__error(AIS_E_INVALID_ARGUMENT, "unknown backend %d", (int)kind);
}
