/* cuda_context.c - devices, contexts, device memory, pinned staging copies, error mapping. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "cuda_internal.h"

ais_status ais__cuda_err(cudaError_t e, const char *what) {
    const char *name = cudaGetErrorName(e), *msg = cudaGetErrorString(e);
    /* The same answer as ais__cuda_available for any call that finds no driver or device. */
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver || e == cudaErrorStubLibrary)
        return ais__error(AIS_E_NO_DEVICE,
                          "no CUDA device: no NVIDIA driver / no GPU found (%s: %s)", what,
                          name ? name : "?");
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
        e == cudaErrorDevicesUnavailable || e == cudaErrorInitializationError ||
        e == cudaErrorInvalidDevice || e == cudaErrorCompatNotSupportedOnDevice)
        return ais__error(AIS_E_NO_DEVICE, "no CUDA device: %s: %s (%s)", what, msg ? msg : "?",
                          name ? name : "?");
    if (e == cudaErrorMemoryAllocation)
        return ais__error(AIS_E_OUT_OF_MEMORY, "%s: %s (%s)", what, msg ? msg : "?",
                          name ? name : "?");
    return ais__error(AIS_E_DEVICE, "%s failed: %s (%s)", what, msg ? msg : "?", name ? name : "?");
}

ais_status ais__cublas_err(cublasStatus_t st, const char *what) {
    if (st == CUBLAS_STATUS_ALLOC_FAILED)
        return ais__error(AIS_E_OUT_OF_MEMORY, "%s: %s", what, cublasGetStatusString(st));
    if (st == CUBLAS_STATUS_NOT_INITIALIZED)
        return ais__error(AIS_E_NO_DEVICE, "no CUDA device: %s: %s", what,
                          cublasGetStatusString(st));
    return ais__error(AIS_E_DEVICE, "%s failed: %s (%s)", what, cublasGetStatusString(st),
                      cublasGetStatusName(st));
}

#ifdef AIS_HAVE_CUDNN
ais_status ais__cudnn_err(cudnnStatus_t st, const char *what) {
    char detail[256] = "";
    cudnnGetLastErrorString(detail, sizeof detail);
    if (st == CUDNN_STATUS_ALLOC_FAILED)
        return ais__error(AIS_E_OUT_OF_MEMORY, "%s: %s", what, cudnnGetErrorString(st));
    return ais__error(AIS_E_DEVICE, "%s failed: %s%s%s", what, cudnnGetErrorString(st),
                      detail[0] ? ": " : "", detail);
}
#endif

ais_status ais__cuda_available(int *count) {
    if (count) *count = 0;
    if (!count) return ais__error(AIS_E_INVALID_ARGUMENT, "count is NULL");
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* clear the sticky-free error so later calls start clean */
        /* Without a GPU the runtime says "CUDA driver version is insufficient" (it could not
         * load the driver, libcuda.so.1) or "no CUDA-capable device": both mean, to a user, that
         * there is no driver or no GPU, and the first one sends them after the wrong fix. */
        if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice ||
            e == cudaErrorStubLibrary) {
            void *drv = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
            if (drv) dlclose(drv);
            return ais__error(AIS_E_NO_DEVICE,
                              "no CUDA device: no NVIDIA driver / no GPU found (%s%s%s)",
                              drv ? "cudaGetDeviceCount: "
                                  : "the driver library libcuda.so.1 is "
                                    "not installed",
                              drv ? cudaGetErrorName(e) : "",
                              drv && e == cudaErrorInsufficientDriver
                                  ? "; with a GPU present, the driver is older than this CUDA "
                                    "runtime"
                                  : "");
        }
        return ais__error(AIS_E_NO_DEVICE, "no CUDA device: %s (%s)", cudaGetErrorString(e),
                          cudaGetErrorName(e));
    }
    if (n <= 0)
        return ais__error(AIS_E_NO_DEVICE,
                          "no CUDA device: no NVIDIA driver / no GPU found (the driver reports "
                          "none)");
    *count = n;
    return AIS_OK;
}

ais_status ais__cuda_device_name(int device, char *buf, size_t size) {
    if (!buf || size == 0) return ais__error(AIS_E_INVALID_ARGUMENT, "buffer is NULL or empty");
    buf[0] = '\0';
    int n = 0;
    AIS__CHECK(ais__cuda_available(&n));
    if (device < 0 || device >= n)
        return ais__error(AIS_E_NO_DEVICE, "no CUDA device %d: %d device(s) present", device, n);
    struct cudaDeviceProp p;
    AIS__CU(cudaGetDeviceProperties(&p, device));
    snprintf(buf, size, "%s (sm_%d%d, %d SMs, %zu MiB)", p.name, p.major, p.minor,
             p.multiProcessorCount, (size_t)(p.totalGlobalMem >> 20));
    return AIS_OK;
}

void ais__cuda_ctx_destroy(ais__cuda_ctx *ctx) {
    if (!ctx) return;
    (void)cudaSetDevice(ctx->device);
    if (ctx->stream) (void)cudaStreamSynchronize(ctx->stream);
    ais__cuda_dnn_release(ctx);
#ifdef AIS_HAVE_CUDNN
    if (ctx->dnn) cudnnDestroy(ctx->dnn);
#endif
    if (ctx->blaslt) cublasLtDestroy(ctx->blaslt);
    if (ctx->blas) cublasDestroy(ctx->blas);
    for (int i = 0; i < 2; i++)
        if (ctx->staging_done[i]) cudaEventDestroy(ctx->staging_done[i]);
    if (ctx->staging) cudaFreeHost(ctx->staging);
    if (ctx->workspace) cudaFree(ctx->workspace);
    if (ctx->err_flag) cudaFree(ctx->err_flag);
    if (ctx->stream) cudaStreamDestroy(ctx->stream);
    (void)cudaGetLastError();
    ais__free(ctx->op_slots);
    ais__free(ctx);
}

static ais_status ctx_init(ais__cuda_ctx *c) {
    AIS__CU(cudaSetDevice(c->device));
    AIS__CU(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    AIS__CUBLAS(cublasCreate(&c->blas));
    AIS__CUBLAS(cublasSetStream(c->blas, c->stream));
    /* Pointer mode host: alpha/beta live on the stack. No TF32: f32 results must match the CPU. */
    AIS__CUBLAS(cublasSetPointerMode(c->blas, CUBLAS_POINTER_MODE_HOST));
    AIS__CUBLAS(cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH));
    AIS__CUBLAS(cublasLtCreate(&c->blaslt));
#ifdef AIS_HAVE_CUDNN
    AIS__CUDNN(cudnnCreate(&c->dnn));
    AIS__CUDNN(cudnnSetStream(c->dnn, c->stream));
#endif
    AIS__CU(cudaMallocHost((void **)&c->staging, AIS__CUDA_STAGING_BYTES));
    for (int i = 0; i < 2; i++)
        AIS__CU(cudaEventCreateWithFlags(&c->staging_done[i], cudaEventDisableTiming));
    AIS__CU(cudaMalloc((void **)&c->err_flag, sizeof(int)));
    AIS__CU(cudaMemsetAsync(c->err_flag, 0, sizeof(int), c->stream));
    return AIS_OK;
}

ais_status ais__cuda_ctx_create(int device, ais__cuda_ctx **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    int n = 0;
    AIS__CHECK(ais__cuda_available(&n));
    if (device < 0 || device >= n)
        return ais__error(AIS_E_NO_DEVICE, "no CUDA device %d: %d device(s) present", device, n);
    ais__cuda_ctx *c = ais__calloc(1, sizeof *c);
    if (!c) return ais__oom(sizeof *c, "CUDA context");
    c->device = device;
    ais_status st = ctx_init(c);
    if (st != AIS_OK) {
        ais__cuda_ctx_destroy(c);
        return st;
    }
    *out = c;
    return AIS_OK;
}

ais_status ais__cuda_malloc(ais__cuda_ctx *ctx, size_t bytes, void **out) {
    if (!ctx || !out) return ais__error(AIS_E_INVALID_ARGUMENT, "CUDA context or out is NULL");
    *out = NULL;
    AIS__CU(cudaSetDevice(ctx->device));
    AIS__CU(cudaMalloc(out, bytes ? bytes : 1));
    return AIS_OK;
}

void ais__cuda_free(ais__cuda_ctx *ctx, void *ptr) {
    if (!ctx || !ptr) return;
    (void)cudaSetDevice(ctx->device);
    (void)cudaFree(ptr);
}

ais_status ais__cuda_workspace(ais__cuda_ctx *ctx, size_t bytes, void **out) {
    *out = NULL;
    if (bytes == 0) return AIS_OK;
    if (bytes > AIS__CUDA_WORKSPACE_CAP)
        return ais__error(AIS_E_LIMIT, "CUDA workspace of %zu bytes exceeds the cap of %zu", bytes,
                          AIS__CUDA_WORKSPACE_CAP);
    if (bytes > ctx->workspace_size) {
        AIS__CU(cudaStreamSynchronize(ctx->stream));
        if (ctx->workspace) cudaFree(ctx->workspace);
        ctx->workspace = NULL;
        ctx->workspace_size = 0;
        AIS__CU(cudaMalloc(&ctx->workspace, bytes));
        ctx->workspace_size = bytes;
    }
    *out = ctx->workspace;
    return AIS_OK;
}

ais_status ais__cuda_memcpy_h2d(ais__cuda_ctx *ctx, void *dst, const void *src, size_t bytes) {
    if (!ctx) return ais__error(AIS_E_INVALID_ARGUMENT, "CUDA context is NULL");
    AIS__CU(cudaSetDevice(ctx->device));
    size_t half = AIS__CUDA_STAGING_BYTES / 2;
    for (size_t off = 0, k = 0; off < bytes; off += half, k ^= 1) {
        size_t len = AIS__MIN(half, bytes - off);
        unsigned char *stage = ctx->staging + k * half;
        /* The half is free once the copy that last used it has finished. */
        AIS__CU(cudaEventSynchronize(ctx->staging_done[k]));
        memcpy(stage, (const unsigned char *)src + off, len);
        AIS__CU(cudaMemcpyAsync((unsigned char *)dst + off, stage, len, cudaMemcpyHostToDevice,
                                ctx->stream));
        AIS__CU(cudaEventRecord(ctx->staging_done[k], ctx->stream));
    }
    return AIS_OK;
}

ais_status ais__cuda_memcpy_d2h(ais__cuda_ctx *ctx, void *dst, const void *src, size_t bytes) {
    if (!ctx) return ais__error(AIS_E_INVALID_ARGUMENT, "CUDA context is NULL");
    AIS__CU(cudaSetDevice(ctx->device));
    size_t half = AIS__CUDA_STAGING_BYTES / 2;
    /* Chunk i lands in half i%2; while chunk i+1 copies, chunk i is moved out of pinned memory. */
    size_t prev_off = 0, prev_len = 0, k = 0;
    for (size_t off = 0; off < bytes; off += half, k ^= 1) {
        size_t len = AIS__MIN(half, bytes - off);
        AIS__CU(cudaEventSynchronize(ctx->staging_done[k]));
        AIS__CU(cudaMemcpyAsync(ctx->staging + k * half, (const unsigned char *)src + off, len,
                                cudaMemcpyDeviceToHost, ctx->stream));
        AIS__CU(cudaEventRecord(ctx->staging_done[k], ctx->stream));
        if (prev_len) {
            AIS__CU(cudaEventSynchronize(ctx->staging_done[k ^ 1]));
            memcpy((unsigned char *)dst + prev_off, ctx->staging + (k ^ 1) * half, prev_len);
        }
        prev_off = off;
        prev_len = len;
    }
    if (prev_len) {
        AIS__CU(cudaEventSynchronize(ctx->staging_done[k ^ 1]));
        memcpy((unsigned char *)dst + prev_off, ctx->staging + (k ^ 1) * half, prev_len);
    }
    return AIS_OK;
}

static ais_status check_pair(const ais_tensor *a, const ais_tensor *b) {
    if (!a || !b) return ais__error(AIS_E_INVALID_ARGUMENT, "tensor is NULL");
    if (a->dtype != b->dtype)
        return ais__error(AIS_E_DTYPE, "copy between %s and %s tensors", ais_dtype_name(a->dtype),
                          ais_dtype_name(b->dtype));
    if (a->numel != b->numel)
        return ais__error(AIS_E_SHAPE, "copy between tensors of %zu and %zu elements", a->numel,
                          b->numel);
    return AIS_OK;
}

ais_status ais__cuda_copy_to_device(ais__cuda_ctx *ctx, const ais_tensor *host, ais_tensor *dev) {
    AIS__CHECK(check_pair(host, dev));
    return ais__cuda_memcpy_h2d(ctx, dev->data, host->data, host->nbytes);
}

ais_status ais__cuda_copy_to_host(ais__cuda_ctx *ctx, const ais_tensor *dev, ais_tensor *host) {
    AIS__CHECK(check_pair(dev, host));
    return ais__cuda_memcpy_d2h(ctx, host->data, dev->data, dev->nbytes);
}

ais_status ais__cuda_synchronize(ais__cuda_ctx *ctx) {
    if (!ctx) return ais__error(AIS_E_INVALID_ARGUMENT, "CUDA context is NULL");
    AIS__CU(cudaSetDevice(ctx->device));
    AIS__CU(cudaStreamSynchronize(ctx->stream));
    return AIS_OK;
}

bool ais__cuda_is_device_ptr(const void *p) {
    struct cudaPointerAttributes a;
    if (!p) return false;
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
        (void)cudaGetLastError();
        return false;
    }
    return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
}

ais_status ais__cuda_read_ints(ais__cuda_ctx *ctx, const ais_tensor *t, const char *what,
                               int64_t *v, size_t max, size_t *n) {
    /* The CPU infer of the node already held the dtype to the operator's ONNX constraint:
     * accept what any of them allows (int32 for Slice). */
    if (!ais__cuda_is_device_ptr(t->data)) return ais__read_index_list(t, what, v, max, n);
    /* A small device tensor: bring it over, then read it as the host would. */
    unsigned char buf[AIS_MAX_DIMS * 8 * 2];
    if (t->nbytes > sizeof buf)
        return ais__error(AIS_E_LIMIT, "%s: %zu values, at most %zu", what, t->numel, max);
    AIS__CHECK(ais__cuda_memcpy_d2h(ctx, buf, t->data, t->nbytes));
    ais_tensor h;
    ais__tensor_init_borrowed(&h, t->dtype, t->dims, t->ndim, buf);
    return ais__read_index_list(&h, what, v, max, n);
}

ais_status ais__cuda_read_scalar(ais__cuda_ctx *ctx, const ais_tensor *t, const char *what,
                                 float *v) {
    if (t->numel != 1)
        return ais__error(AIS_E_SHAPE, "%s must hold one value, got %zu", what, t->numel);
    unsigned char buf[8];
    const void *p = t->data;
    if (ais__cuda_is_device_ptr(p)) {
        AIS__CHECK(ais__cuda_memcpy_d2h(ctx, buf, p, t->nbytes));
        p = buf;
    }
    *v = (float)ais__load_f64(p, t->dtype, 0);
    return AIS_OK;
}
