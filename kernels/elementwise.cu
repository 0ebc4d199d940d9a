/* elementwise.cu - unary and binary operators with broadcasting, Where, bias + activation
 * epilogues, BatchNormalization (inference) and Cast. Memory-bound: grid-stride loops, each
 * element read and written once, float4 loads for aligned dense f32. */
#include <type_traits>

#include "aisk_device.cuh"

using namespace aisk;

namespace {

template <typename T>
__global__ void unary_kernel(int op, const T *__restrict__ x, T *__restrict__ y, size_t n, float a,
                             float b) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        st(y, i, act_apply(op, ld(x, i), a, b));
}

__global__ void unary_f32x4_kernel(int op, const float4 *__restrict__ x, float4 *__restrict__ y,
                                   size_t n4, float a, float b) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += stride) {
        float4 v = x[i];
        v.x = act_apply(op, v.x, a, b);
        v.y = act_apply(op, v.y, a, b);
        v.z = act_apply(op, v.z, a, b);
        v.w = act_apply(op, v.w, a, b);
        y[i] = v;
    }
}

__device__ __forceinline__ float bin_f(int op, float a, float b) {
    switch (op) {
    case AISK_ADD: return a + b;
    case AISK_SUB: return a - b;
    case AISK_MUL: return a * b;
    case AISK_DIV: return a / b;
    case AISK_POW: return powf(a, b);
    case AISK_MAX: return (a != a || b != b) ? a + b : fmaxf(a, b);
    case AISK_MIN: return (a != a || b != b) ? a + b : fminf(a, b);
    default: return 0.f;
    }
}

template <typename I> __device__ __forceinline__ I bin_i(int op, I a, I b) {
    switch (op) {
    case AISK_ADD: return (I)((uint64_t)a + (uint64_t)b); /* wraps like the CPU, no UB */
    case AISK_SUB: return (I)((uint64_t)a - (uint64_t)b);
    case AISK_MUL: return (I)((uint64_t)a * (uint64_t)b);
    case AISK_DIV: return b == 0 ? (I)0 : (b == (I)-1 ? (I)(0 - (uint64_t)a) : (I)(a / b));
    case AISK_MAX: return a > b ? a : b;
    case AISK_MIN: return a < b ? a : b;
    default: return 0;
    }
}

template <typename V> __device__ __forceinline__ uint8_t cmp(int op, V a, V b) {
    switch (op) {
    case AISK_EQUAL: return a == b;
    case AISK_LESS: return a < b;
    case AISK_LESS_EQUAL: return a <= b;
    case AISK_GREATER: return a > b;
    case AISK_GREATER_EQUAL: return a >= b;
    default: return 0;
    }
}

/* One kernel per element type and kind; `dense` means both inputs are read at i (same shape). */
template <typename T>
__global__ void binary_float_kernel(int op, const T *__restrict__ a, const T *__restrict__ b,
                                    T *__restrict__ y, aisk_bcast bc, size_t n, bool dense) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        size_t ia = dense ? i : (size_t)bcast_offset(bc, 0, (int64_t)i);
        size_t ib = dense ? i : (size_t)bcast_offset(bc, 1, (int64_t)i);
        st(y, i, bin_f(op, ld(a, ia), ld(b, ib)));
    }
}

__global__ void binary_f32x4_kernel(int op, const float4 *__restrict__ a,
                                    const float4 *__restrict__ b, float4 *__restrict__ y,
                                    size_t n4) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += stride) {
        float4 u = a[i], v = b[i];
        y[i] = make_float4(bin_f(op, u.x, v.x), bin_f(op, u.y, v.y), bin_f(op, u.z, v.z),
                           bin_f(op, u.w, v.w));
    }
}

template <typename I>
__global__ void binary_int_kernel(int op, const I *__restrict__ a, const I *__restrict__ b,
                                  I *__restrict__ y, aisk_bcast bc, size_t n) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] = bin_i<I>(op, a[bcast_offset(bc, 0, (int64_t)i)], b[bcast_offset(bc, 1, (int64_t)i)]);
}

template <typename T, typename V>
__global__ void compare_kernel(int op, const T *__restrict__ a, const T *__restrict__ b,
                               uint8_t *__restrict__ y, aisk_bcast bc, size_t n) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        V va, vb;
        if constexpr (std::is_same<V, float>::value) {
            va = ld(a, (size_t)bcast_offset(bc, 0, (int64_t)i));
            vb = ld(b, (size_t)bcast_offset(bc, 1, (int64_t)i));
        } else {
            va = (V)a[bcast_offset(bc, 0, (int64_t)i)];
            vb = (V)b[bcast_offset(bc, 1, (int64_t)i)];
        }
        y[i] = cmp<V>(op, va, vb);
    }
}

__global__ void logical_kernel(int op, const uint8_t *__restrict__ a, const uint8_t *__restrict__ b,
                               uint8_t *__restrict__ y, aisk_bcast bc, size_t n) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        bool u = a[bcast_offset(bc, 0, (int64_t)i)] != 0, v = b[bcast_offset(bc, 1, (int64_t)i)] != 0;
        y[i] = op == AISK_AND ? (u && v) : op == AISK_OR ? (u || v) : (u != v);
    }
}

template <typename T>
__global__ void where_kernel(const uint8_t *__restrict__ c, const T *__restrict__ x,
                             const T *__restrict__ z, T *__restrict__ y, aisk_bcast bc, size_t n) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] = c[bcast_offset(bc, 0, (int64_t)i)] ? x[bcast_offset(bc, 1, (int64_t)i)]
                                                  : z[bcast_offset(bc, 2, (int64_t)i)];
}

template <typename T>
__global__ void bias_act_kernel(T *__restrict__ y, const T *__restrict__ bias, size_t n,
                                int64_t channels, int64_t inner, int act, float a, float b) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        float v = ld(y, i);
        if (bias) v += ld(bias, (size_t)(((int64_t)i / inner) % channels));
        st(y, i, act_apply(act, v, a, b));
    }
}

template <typename T>
__global__ void batchnorm_kernel(const T *__restrict__ x, const T *__restrict__ scale,
                                 const T *__restrict__ bias, const T *__restrict__ mean,
                                 const T *__restrict__ var, T *__restrict__ y, size_t n,
                                 int64_t c, int64_t inner, float eps) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        size_t ch = (size_t)(((int64_t)i / inner) % c);
        float s = ld(scale, ch) * rsqrtf(ld(var, ch) + eps);
        st(y, i, (ld(x, i) - ld(mean, ch)) * s + ld(bias, ch));
    }
}

/* Cast: integers travel as int64, floats as double, so i64 -> i32 keeps C's modular result and
 * f64 -> f32 rounds once. */
struct Num {
    bool is_int;
    int64_t i;
    double f;
};
__device__ __forceinline__ Num cast_load(int dt, const void *p, size_t i) {
    switch (dt) {
    case AISK_F32: return Num{false, 0, (double)((const float *)p)[i]};
    case AISK_F16: return Num{false, 0, (double)__half2float(((const __half *)p)[i])};
    case AISK_BF16: return Num{false, 0, (double)__bfloat162float(((const __nv_bfloat16 *)p)[i])};
    case AISK_F64: return Num{false, 0, ((const double *)p)[i]};
    case AISK_I8: return Num{true, ((const int8_t *)p)[i], 0};
    case AISK_U8: return Num{true, ((const uint8_t *)p)[i], 0};
    case AISK_BOOL: return Num{true, ((const uint8_t *)p)[i] != 0, 0};
    case AISK_I32: return Num{true, ((const int32_t *)p)[i], 0};
    default: return Num{true, ((const int64_t *)p)[i], 0};
    }
}
/* Float -> int conversions of NaN or out-of-range values are undefined in C; here they saturate
 * (the hardware's cvt), which is one of the results the CPU may give. */
__device__ __forceinline__ int64_t num_int(Num v) { return v.is_int ? v.i : (int64_t)v.f; }
__device__ __forceinline__ double num_f(Num v) { return v.is_int ? (double)v.i : v.f; }
__device__ __forceinline__ void cast_store(int dt, void *p, size_t i, Num v) {
    switch (dt) {
    case AISK_F32: ((float *)p)[i] = (float)num_f(v); break;
    case AISK_F16: ((__half *)p)[i] = __float2half_rn((float)num_f(v)); break;
    case AISK_BF16: ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn((float)num_f(v)); break;
    case AISK_F64: ((double *)p)[i] = num_f(v); break;
    case AISK_I8: ((int8_t *)p)[i] = (int8_t)num_int(v); break;
    case AISK_U8: ((uint8_t *)p)[i] = (uint8_t)num_int(v); break;
    case AISK_BOOL: ((uint8_t *)p)[i] = v.is_int ? v.i != 0 : v.f != 0.0; break;
    case AISK_I32: ((int32_t *)p)[i] = (int32_t)num_int(v); break;
    default: ((int64_t *)p)[i] = num_int(v); break;
    }
}
__global__ void cast_kernel(int src, int dst, const void *__restrict__ x, void *__restrict__ y,
                            size_t n) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        cast_store(dst, y, i, cast_load(src, x, i));
}

bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

bool is_dense(const aisk_bcast *bc) {
    return bc->ndim == 1 && bc->strides[0][0] == 1 && bc->strides[1][0] == 1;
}

} // namespace

extern "C" cudaError_t aisk_unary(cudaStream_t s, int op, int dtype, const void *x, void *y,
                                  size_t n, float a, float b) {
    if (n == 0) return cudaSuccess;
    switch (dtype) {
    case AISK_F32:
        if (aligned16(x) && aligned16(y) && n >= 4) {
            size_t n4 = n / 4;
            unary_f32x4_kernel<<<blocks_for(n4), kThreads, 0, s>>>(op, (const float4 *)x,
                                                                  (float4 *)y, n4, a, b);
            if (n4 * 4 < n)
                unary_kernel<float><<<1, kThreads, 0, s>>>(op, (const float *)x + n4 * 4,
                                                           (float *)y + n4 * 4, n - n4 * 4, a, b);
        } else {
            unary_kernel<float><<<blocks_for(n), kThreads, 0, s>>>(op, (const float *)x,
                                                                   (float *)y, n, a, b);
        }
        break;
    case AISK_F16:
        unary_kernel<__half><<<blocks_for(n), kThreads, 0, s>>>(op, (const __half *)x, (__half *)y,
                                                                n, a, b);
        break;
    case AISK_BF16:
        unary_kernel<__nv_bfloat16><<<blocks_for(n), kThreads, 0, s>>>(
            op, (const __nv_bfloat16 *)x, (__nv_bfloat16 *)y, n, a, b);
        break;
    default: return cudaErrorInvalidValue;
    }
    AISK_LAUNCH_CHECK();
}

extern "C" cudaError_t aisk_binary(cudaStream_t s, int op, int dtype, const void *a, const void *b,
                                   void *y, const aisk_bcast *bc, size_t n) {
    if (n == 0) return cudaSuccess;
    unsigned g = blocks_for(n);
    bool dense = is_dense(bc);
    if (op >= AISK_EQUAL && op <= AISK_GREATER_EQUAL) {
        uint8_t *o = (uint8_t *)y;
        switch (dtype) {
        case AISK_F32: compare_kernel<float, float><<<g, kThreads, 0, s>>>(op, (const float *)a, (const float *)b, o, *bc, n); break;
        case AISK_F16: compare_kernel<__half, float><<<g, kThreads, 0, s>>>(op, (const __half *)a, (const __half *)b, o, *bc, n); break;
        case AISK_BF16: compare_kernel<__nv_bfloat16, float><<<g, kThreads, 0, s>>>(op, (const __nv_bfloat16 *)a, (const __nv_bfloat16 *)b, o, *bc, n); break;
        case AISK_I32: compare_kernel<int32_t, int64_t><<<g, kThreads, 0, s>>>(op, (const int32_t *)a, (const int32_t *)b, o, *bc, n); break;
        case AISK_I64: compare_kernel<int64_t, int64_t><<<g, kThreads, 0, s>>>(op, (const int64_t *)a, (const int64_t *)b, o, *bc, n); break;
        case AISK_BOOL: compare_kernel<uint8_t, int64_t><<<g, kThreads, 0, s>>>(op, (const uint8_t *)a, (const uint8_t *)b, o, *bc, n); break;
        default: return cudaErrorInvalidValue;
        }
        AISK_LAUNCH_CHECK();
    }
    if (op >= AISK_AND) {
        if (dtype != AISK_BOOL) return cudaErrorInvalidValue;
        logical_kernel<<<g, kThreads, 0, s>>>(op, (const uint8_t *)a, (const uint8_t *)b,
                                              (uint8_t *)y, *bc, n);
        AISK_LAUNCH_CHECK();
    }
    switch (dtype) {
    case AISK_F32:
        if (dense && aligned16(a) && aligned16(b) && aligned16(y) && n % 4 == 0) {
            binary_f32x4_kernel<<<blocks_for(n / 4), kThreads, 0, s>>>(
                op, (const float4 *)a, (const float4 *)b, (float4 *)y, n / 4);
        } else {
            binary_float_kernel<float><<<g, kThreads, 0, s>>>(op, (const float *)a,
                                                              (const float *)b, (float *)y, *bc,
                                                              n, dense);
        }
        break;
    case AISK_F16:
        binary_float_kernel<__half><<<g, kThreads, 0, s>>>(op, (const __half *)a, (const __half *)b,
                                                           (__half *)y, *bc, n, dense);
        break;
    case AISK_BF16:
        binary_float_kernel<__nv_bfloat16><<<g, kThreads, 0, s>>>(
            op, (const __nv_bfloat16 *)a, (const __nv_bfloat16 *)b, (__nv_bfloat16 *)y, *bc, n,
            dense);
        break;
    case AISK_I32:
        if (op == AISK_POW) return cudaErrorInvalidValue;
        binary_int_kernel<int32_t><<<g, kThreads, 0, s>>>(op, (const int32_t *)a,
                                                          (const int32_t *)b, (int32_t *)y, *bc, n);
        break;
    case AISK_I64:
        if (op == AISK_POW) return cudaErrorInvalidValue;
        binary_int_kernel<int64_t><<<g, kThreads, 0, s>>>(op, (const int64_t *)a,
                                                          (const int64_t *)b, (int64_t *)y, *bc, n);
        break;
    default: return cudaErrorInvalidValue;
    }
    AISK_LAUNCH_CHECK();
}

extern "C" cudaError_t aisk_where(cudaStream_t s, size_t es, const uint8_t *c, const void *x,
                                  const void *z, void *y, const aisk_bcast *bc, size_t n) {
    if (n == 0) return cudaSuccess;
    unsigned g = blocks_for(n);
    switch (es) {
    case 1: where_kernel<uint8_t><<<g, kThreads, 0, s>>>(c, (const uint8_t *)x, (const uint8_t *)z, (uint8_t *)y, *bc, n); break;
    case 2: where_kernel<uint16_t><<<g, kThreads, 0, s>>>(c, (const uint16_t *)x, (const uint16_t *)z, (uint16_t *)y, *bc, n); break;
    case 4: where_kernel<uint32_t><<<g, kThreads, 0, s>>>(c, (const uint32_t *)x, (const uint32_t *)z, (uint32_t *)y, *bc, n); break;
    case 8: where_kernel<uint64_t><<<g, kThreads, 0, s>>>(c, (const uint64_t *)x, (const uint64_t *)z, (uint64_t *)y, *bc, n); break;
    default: return cudaErrorInvalidValue;
    }
    AISK_LAUNCH_CHECK();
}

extern "C" cudaError_t aisk_bias_act(cudaStream_t s, int dtype, void *y, const void *bias,
                                     size_t n, int64_t channels, int64_t inner, int act, float a,
                                     float b) {
    if (n == 0) return cudaSuccess;
    if (channels < 1 || inner < 1) return cudaErrorInvalidValue;
    unsigned g = blocks_for(n);
    switch (dtype) {
    case AISK_F32: bias_act_kernel<float><<<g, kThreads, 0, s>>>((float *)y, (const float *)bias, n, channels, inner, act, a, b); break;
    case AISK_F16: bias_act_kernel<__half><<<g, kThreads, 0, s>>>((__half *)y, (const __half *)bias, n, channels, inner, act, a, b); break;
    case AISK_BF16: bias_act_kernel<__nv_bfloat16><<<g, kThreads, 0, s>>>((__nv_bfloat16 *)y, (const __nv_bfloat16 *)bias, n, channels, inner, act, a, b); break;
    default: return cudaErrorInvalidValue;
    }
    AISK_LAUNCH_CHECK();
}

extern "C" cudaError_t aisk_batchnorm(cudaStream_t s, int dtype, const void *x, const void *scale,
                                      const void *bias, const void *mean, const void *var, void *y,
                                      size_t n, int64_t c, int64_t inner, float eps) {
    if (n == 0) return cudaSuccess;
    if (c < 1 || inner < 1) return cudaErrorInvalidValue;
    unsigned g = blocks_for(n);
    switch (dtype) {
    case AISK_F32:
        batchnorm_kernel<float><<<g, kThreads, 0, s>>>((const float *)x, (const float *)scale, (const float *)bias,
            (const float *)mean, (const float *)var, (float *)y, n, c, inner, eps);
        break;
    case AISK_F16:
        batchnorm_kernel<__half><<<g, kThreads, 0, s>>>((const __half *)x, (const __half *)scale, (const __half *)bias,
            (const __half *)mean, (const __half *)var, (__half *)y, n, c, inner, eps);
        break;
    case AISK_BF16:
        batchnorm_kernel<__nv_bfloat16><<<g, kThreads, 0, s>>>((const __nv_bfloat16 *)x, (const __nv_bfloat16 *)scale,
            (const __nv_bfloat16 *)bias, (const __nv_bfloat16 *)mean, (const __nv_bfloat16 *)var, (__nv_bfloat16 *)y,
            n, c, inner, eps);
        break;
    default: return cudaErrorInvalidValue;
    }
    AISK_LAUNCH_CHECK();
}

extern "C" cudaError_t aisk_cast(cudaStream_t s, int src, int dst, const void *x, void *y,
                                 size_t n) {
    if (n == 0) return cudaSuccess;
    cast_kernel<<<blocks_for(n), kThreads, 0, s>>>(src, dst, x, y, n);
    AISK_LAUNCH_CHECK();
}
