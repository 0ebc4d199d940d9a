/*
 * backend.h - the interface between the executor and a device: a versioned table of function
 * pointers (the ggml pattern). The CPU backend is always present and is the reference; the
 * CUDA backend is the plugin libaistack_cuda.so (backend_plugin.h), loaded when a session first
 * asks for it.
 *
 * A backend instance is created per session (its state holds streams, handles, caches). The
 * executor asks `supports` for each node at plan time and falls back to the CPU for the others,
 * with explicit copies between device and host memory.
 */
#ifndef AIS_BACKEND_H
#define AIS_BACKEND_H

#include <aistack/ais_model.h>

#include "ops/op.h"

/* Bumped when a field is added; a backend fills `version` with the value it was built for, and
 * the executor reads only the fields that version has. */
#define AIS__BACKEND_VERSION 1

typedef struct ais__backend {
    uint32_t version;
    const char *name; /* "cpu", "cuda" */
    ais_backend kind;
    /* Makes the per-session state (device_id for GPUs); AIS_E_NO_DEVICE with a message when
     * the device is missing. */
    ais_status (*create)(int32_t device_id, void **state);
    void (*destroy)(void *state);
    /* Whether the backend runs this operator on these inputs (dtypes, shapes, attributes). */
    bool (*supports)(void *state, const ais__op_def *def, const ais_attrs *attrs,
                     const ais_tensor *const *in, size_t n_in);
    /* Device memory: 64-byte aligned; NULL when out of memory. */
    void *(*alloc)(void *state, size_t bytes);
    void (*free)(void *state, void *ptr);
    ais_status (*copy_to_device)(void *state, void *dst, const void *src, size_t bytes);
    ais_status (*copy_to_host)(void *state, void *dst, const void *src, size_t bytes);
    /* Waits until queued work is done. */
    ais_status (*synchronize)(void *state);
    /* Runs one node whose outputs are already shaped and placed (the op.h compute contract). */
    ais_status (*run_node)(void *state, const ais__op_def *def, ais__op_ctx *ctx,
                           const ais_tensor *const *in, size_t n_in, ais_tensor *const *out,
                           size_t n_out);
} ais__backend;

/* The CUDA backend from the plugin libaistack_cuda.so (backend_plugin.c), loaded on the first
 * call; AIS_E_NO_DEVICE with the reason (dlerror's text, a version mismatch) when it cannot be. */
ais_status ais__backend_cuda_plugin(const ais__backend **out);

/* The backend for `kind`: AIS_E_NO_DEVICE (with a message) when this build lacks it. */
ais_status ais__backend_get(ais_backend kind, const ais__backend **out);

#endif /* AIS_BACKEND_H */
