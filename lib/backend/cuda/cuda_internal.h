/* cuda_internal.h - what the CUDA backend's .c files share: the context and error mapping. */
#ifndef AIS_CUDA_INTERNAL_H
#define AIS_CUDA_INTERNAL_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#ifdef AIS_HAVE_CUDNN
#include <cudnn.h>
#endif

#include "ais_kernels.cuh"
#include "cuda_backend.h"

/* Workspace for cuBLASLt and cuDNN algorithms: algorithms needing more are not chosen. */
#define AIS__CUDA_WORKSPACE_CAP ((size_t)256 << 20)
/* Pinned staging: two halves, so that filling one overlaps the copy of the other. */
#define AIS__CUDA_STAGING_BYTES ((size_t)8 << 20)

typedef struct ais__cuda_op ais__cuda_op; /* cuda_ops.c */

struct ais__cuda_ctx {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    cublasLtHandle_t blaslt;
#ifdef AIS_HAVE_CUDNN
    cudnnHandle_t dnn;
#endif
    void *workspace; /* lazily grown up to AIS__CUDA_WORKSPACE_CAP */
    size_t workspace_size;
    unsigned char *staging; /* pinned host memory, AIS__CUDA_STAGING_BYTES */
    cudaEvent_t staging_done[2];
    int *err_flag; /* device int for data-dependent kernel errors (Gather) */
    /* cuDNN plans (cuda_dnn.c): descriptors and the chosen algorithm per convolution/pooling
     * shape, made on a shape's first run and kept until the context goes, so that later runs
     * skip the heuristics query (about a millisecond of CPU time in cuDNN 9). */
    struct ais__dnn_plan *dnn_plans;
    size_t n_dnn_plans, cap_dnn_plans;
    /* Operator definition -> table entry (NULL: not on the GPU), filled by the backend's
     * supports at plan time and read by run_node: open addressing on the definition's address. */
    struct ais__cuda_op_slot {
        const void *def;
        const ais__cuda_op *op;
    } * op_slots;
    size_t n_op_slots, cap_op_slots; /* cap: 0 or a power of two */
};

/* AIS_E_DEVICE (or AIS_E_NO_DEVICE for "no driver/device" codes) naming `what`. */
ais_status ais__cuda_err(cudaError_t e, const char *what);
ais_status ais__cublas_err(cublasStatus_t st, const char *what);
#ifdef AIS_HAVE_CUDNN
ais_status ais__cudnn_err(cudnnStatus_t st, const char *what);
#endif

#define AIS__CU(call)                                                                              \
    do {                                                                                           \
        cudaError_t ais__e_ = (call);                                                              \
        if (ais__e_ != cudaSuccess) return ais__cuda_err(ais__e_, #call);                          \
    } while (0)
#define AIS__CUBLAS(call)                                                                          \
    do {                                                                                           \
        cublasStatus_t ais__s_ = (call);                                                           \
        if (ais__s_ != CUBLAS_STATUS_SUCCESS) return ais__cublas_err(ais__s_, #call);              \
    } while (0)
#define AIS__CUDNN(call)                                                                           \
    do {                                                                                           \
        cudnnStatus_t ais__s_ = (call);                                                            \
        if (ais__s_ != CUDNN_STATUS_SUCCESS) return ais__cudnn_err(ais__s_, #call);                \
    } while (0)
/* A kernel launcher's result. */
#define AIS__KERNEL(call, name)                                                                    \
    do {                                                                                           \
        cudaError_t ais__e_ = (call);                                                              \
        if (ais__e_ != cudaSuccess) return ais__cuda_err(ais__e_, name);                           \
    } while (0)

/* At least `bytes` of workspace (bytes <= AIS__CUDA_WORKSPACE_CAP). */
ais_status ais__cuda_workspace(ais__cuda_ctx *ctx, size_t bytes, void **out);
/* Whether p is device memory (false for host or unregistered pointers). */
bool ais__cuda_is_device_ptr(const void *p);
/* Reads count values of a small host-or-device integer tensor as int64 (axes, starts, ...). */
ais_status ais__cuda_read_ints(ais__cuda_ctx *ctx, const ais_tensor *t, const char *what,
                               int64_t *v, size_t max, size_t *n);
/* Reads element 0 of a host-or-device float tensor as float. */
ais_status ais__cuda_read_scalar(ais__cuda_ctx *ctx, const ais_tensor *t, const char *what,
                                 float *v);

/* The operator families (cuda_blas.c, cuda_dnn.c). */
ais_status ais__cuda_matmul(ais__cuda_ctx *ctx, const ais_attrs *attrs, const ais_tensor *a,
                            const ais_tensor *b, const ais_tensor *bias, ais_tensor *y);
ais_status ais__cuda_gemm(ais__cuda_ctx *ctx, const ais_attrs *attrs, const ais_tensor *a,
                          const ais_tensor *b, const ais_tensor *c, ais_tensor *y);
bool ais__cuda_dnn_supports(const char *op, const ais__tensor_desc *const *in, size_t n_in,
                            const ais_attrs *attrs);
ais_status ais__cuda_dnn_run(ais__cuda_ctx *ctx, const char *op, const ais_attrs *attrs,
                             const ais_tensor *const *in, size_t n_in, ais_tensor *const *out,
                             size_t n_out);
/* Releases the cuDNN plans (descriptors) the context holds. */
void ais__cuda_dnn_release(ais__cuda_ctx *ctx);
/* The activation code of an "activation" attribute (AISK_ACT_NONE when absent); -1 unknown. */
int ais__cuda_activation(const ais_attrs *attrs, float *alpha);
/* The operator table (cuda_ops.c): an entry per operator the backend runs. find is a name lookup
 * (NULL for operators it lacks), done once per operator definition and session; supports checks
 * a node's dtypes, shapes and attributes; run enqueues it on the stream (no supports check:
 * the caller asked at plan time). */
const ais__cuda_op *ais__cuda_op_find(const char *op_type);
bool ais__cuda_op_supports(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                           const ais_attrs *attrs);
ais_status ais__cuda_op_run(ais__cuda_ctx *ctx, const ais__cuda_op *op, int64_t opset,
                            const ais_attrs *attrs, const ais_tensor *const *in, size_t n_in,
                            ais_tensor *const *out, size_t n_out);
/* The backend table (cuda_table.c) that the plugin entry hands to the library. */
struct ais__backend;
const struct ais__backend *ais__cuda_backend_table(void);
/* Broadcast/strided copy of src into dst's shape (Expand semantics). */
ais_status ais__cuda_expand(ais__cuda_ctx *ctx, const ais_tensor *src, ais_tensor *dst);

#endif /* AIS_CUDA_INTERNAL_H */
