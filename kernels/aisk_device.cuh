/* aisk_device.cuh - device helpers shared by the .cu files: element loads and stores through
 * float, launch geometry, broadcast offsets, the activation functions. */
#ifndef AISK_DEVICE_CUH
#define AISK_DEVICE_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "ais_kernels.cuh"

namespace aisk {

constexpr int kThreads = 256;
/* Grid-stride loops cover the rest; 65535 blocks keep every launch legal on any device. */
constexpr size_t kMaxBlocks = 65535;

static inline unsigned blocks_for(size_t n, size_t per_block = kThreads) {
    size_t b = (n + per_block - 1) / per_block;
    if (b < 1) b = 1;
    if (b > kMaxBlocks) b = kMaxBlocks;
    return (unsigned)b;
}

template <typename T> __device__ __forceinline__ float ld(const T *p, size_t i) {
    return (float)p[i];
}
template <> __device__ __forceinline__ float ld<__half>(const __half *p, size_t i) {
    return __half2float(p[i]);
}
template <> __device__ __forceinline__ float ld<__nv_bfloat16>(const __nv_bfloat16 *p, size_t i) {
    return __bfloat162float(p[i]);
}
template <typename T> __device__ __forceinline__ void st(T *p, size_t i, float v) { p[i] = (T)v; }
template <> __device__ __forceinline__ void st<__half>(__half *p, size_t i, float v) {
    p[i] = __float2half_rn(v);
}
template <> __device__ __forceinline__ void st<__nv_bfloat16>(__nv_bfloat16 *p, size_t i,
                                                              float v) {
    p[i] = __float2bfloat16_rn(v);
}

/* Offset of output element i in input k of a broadcast descriptor. */
__device__ __forceinline__ int64_t bcast_offset(const aisk_bcast &bc, int k, int64_t i) {
    int64_t off = 0;
    for (int d = bc.ndim - 1; d >= 0; d--) {
        int64_t ext = bc.dims[d];
        int64_t q = i / ext;
        off += (i - q * ext) * bc.strides[k][d];
        i = q;
    }
    return off;
}

__device__ __forceinline__ float act_apply(int op, float x, float a, float b) {
    switch (op) {
    case AISK_RELU: return x > 0.f ? x : 0.f;
    case AISK_LEAKY_RELU: return x >= 0.f ? x : a * x;
    case AISK_SIGMOID: return 1.f / (1.f + expf(-x));
    case AISK_TANH: return tanhf(x);
    case AISK_GELU: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case AISK_GELU_TANH:
        return 0.5f * x * (1.f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case AISK_ERF: return erff(x);
    case AISK_EXP: return expf(x);
    case AISK_LOG: return logf(x);
    case AISK_SQRT: return sqrtf(x);
    case AISK_ABS: return fabsf(x);
    case AISK_NEG: return -x;
    case AISK_CLIP: return x != x ? x : fminf(fmaxf(x, a), b);
    case AISK_RECIPROCAL: return 1.f / x;
    case AISK_FLOOR: return floorf(x);
    case AISK_CEIL: return ceilf(x);
    case AISK_ELU: return x >= 0.f ? x : a * (expf(x) - 1.f);
    case AISK_SOFTPLUS: return x > 20.f ? x : log1pf(expf(x));
    case AISK_HARD_SIGMOID: return fmaxf(0.f, fminf(1.f, a * x + b));
    case AISK_SIN: return sinf(x);
    case AISK_COS: return cosf(x);
    case AISK_HARD_SWISH: return x * fmaxf(0.f, fminf(1.f, x * (1.f / 6.f) + 0.5f));
    default: return x; /* identity, none */
    }
}

/* Online softmax state: running max m and sum s of exp(x - m). */
struct MaxSum {
    float m, s;
};
__device__ __forceinline__ MaxSum ms_merge(MaxSum x, MaxSum y) {
    if (x.m == -INFINITY) return y;
    if (y.m == -INFINITY) return x;
    float m = fmaxf(x.m, y.m);
    return MaxSum{m, x.s * expf(x.m - m) + y.s * expf(y.m - m)};
}
__device__ __forceinline__ MaxSum ms_add(MaxSum x, float v) {
    if (v == -INFINITY) return x;
    if (v > x.m) return MaxSum{v, x.s * expf(x.m - v) + 1.f}; /* x.m == -inf gives 0 * 0 */
    return MaxSum{x.m, x.s + expf(v - x.m)};
}

} // namespace aisk

#define AISK_LAUNCH_CHECK() return cudaGetLastError()

#endif /* AISK_DEVICE_CUH */
