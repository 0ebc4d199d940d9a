/*
 * cuda_backend.h - the CUDA backend's internal C API: devices, a per-session context (stream,
 * cuBLAS/cuBLASLt/cuDNN handles, pinned staging buffers), host<->device copies
 * and running one node on device tensors.
 *
 * Device tensors are ordinary ais_tensor structs whose `data` is a device pointer and whose
 * storage is NULL (borrowed from device memory of ais__cuda_malloc, or the executor's plan). The
 * executor gives run_node outputs that already have the inferred dtype and shape (from the CPU
 * operator's infer) and device memory of their own.
 *
 * Errors: no driver or no GPU gives AIS_E_NO_DEVICE ("no CUDA device: ..."); any failing CUDA,
 * cuBLAS or cuDNN call gives AIS_E_DEVICE naming the call and the library's error string.
 * Nothing aborts. A context is used by one thread at a time.
 */
#ifndef AIS_CUDA_BACKEND_H
#define AIS_CUDA_BACKEND_H

#include "ops/op.h"

typedef struct ais__cuda_ctx ais__cuda_ctx;

/* The number of usable CUDA devices in *count (0 on failure). AIS_E_NO_DEVICE when there is no
 * driver or no device. */
ais_status ais__cuda_available(int *count);
/* "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79 GiB)" into buf. */
ais_status ais__cuda_device_name(int device, char *buf, size_t size);

/* A context on `device` with one stream, library handles and pinned staging buffers. */
ais_status ais__cuda_ctx_create(int device, ais__cuda_ctx **out);
void ais__cuda_ctx_destroy(ais__cuda_ctx *ctx);

/* Standalone device memory (weights that live as long as the session). */
ais_status ais__cuda_malloc(ais__cuda_ctx *ctx, size_t bytes, void **out);
void ais__cuda_free(ais__cuda_ctx *ctx, void *ptr);

/* Copies between a host tensor and a device tensor of the same dtype and element count, on the
 * context's stream through pinned staging buffers. to_device returns once the host data has been
 * staged (the host buffer may be reused at once); to_host returns with the data in place. */
ais_status ais__cuda_copy_to_device(ais__cuda_ctx *ctx, const ais_tensor *host, ais_tensor *dev);
ais_status ais__cuda_copy_to_host(ais__cuda_ctx *ctx, const ais_tensor *dev, ais_tensor *host);
/* Raw versions on bytes. */
ais_status ais__cuda_memcpy_h2d(ais__cuda_ctx *ctx, void *dst, const void *src, size_t bytes);
ais_status ais__cuda_memcpy_d2h(ais__cuda_ctx *ctx, void *dst, const void *src, size_t bytes);
/* Waits for everything enqueued on the context's stream. */
ais_status ais__cuda_synchronize(ais__cuda_ctx *ctx);

/*
 * Whether run_node can run this node. in: descriptors of the inputs (NULL entries for omitted
 * optional inputs); attrs as the node has them. Never fails; false means "run it on the CPU".
 * For operators whose infer reads input values (Slice's starts/ends/axes/steps, the axes input
 * of Reduce*, Clip's min/max), those inputs may be host or device tensors: run_node tells them
 * apart with cudaPointerGetAttributes.
 *
 * Fused epilogues: Conv, Gemm and MatMul (and FusedConv/FusedGemm/FusedMatMul) accept a string
 * attribute "activation" (Relu, Gelu, Sigmoid, Tanh, LeakyRelu with "activation_alpha") that the
 * graph's fusion pass sets; Conv and MatMul also accept an optional bias input per channel
 * (Conv: input 2, MatMul: FusedMatMul's input 2 of N elements).
 */
bool ais__cuda_supports(const char *op_type, int64_t opset, const ais__tensor_desc *const *in,
                        size_t n_in, const ais_attrs *attrs);
/* Runs op_type on device tensors: enqueued on the stream, not synchronized (except where a
 * data-dependent check needs it, e.g. Gather's index range). */
ais_status ais__cuda_run_node(ais__cuda_ctx *ctx, const char *op_type, int64_t opset,
                              const ais_attrs *attrs, const ais_tensor *const *in, size_t n_in,
                              ais_tensor *const *out, size_t n_out);

#endif /* AIS_CUDA_BACKEND_H */
