/* norm.cu - Softmax/LogSoftmax (online max and sum), LayerNormalization (Welford, the row kept in
 * shared memory so that x is read from global memory once) and reductions over axes. */
#include "aisk_device.cuh"

using namespace aisk;

namespace {

constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ MaxSum warp_ms(MaxSum v) {
    for (int o = 16; o > 0; o >>= 1) {
        MaxSum w{__shfl_xor_sync(kFull, v.m, o), __shfl_xor_sync(kFull, v.s, o)};
        v = ms_merge(v, w);
    }
    return v;
}

template <typename T>
__device__ __forceinline__ void softmax_write(const T *xr, T *yr, int64_t j, int64_t step,
                                              int64_t n, MaxSum ms, int log_softmax) {
    float lse = ms.m + logf(ms.s), inv = 1.f / ms.s;
    for (; j < n; j += step) {
        float v = ld(xr, (size_t)j);
        st(yr, (size_t)j, log_softmax ? v - lse : expf(v - ms.m) * inv);
    }
}

/* One warp per row (rows of at most 1024 elements). */
template <typename T>
__global__ void softmax_warp_kernel(const T *__restrict__ x, T *__restrict__ y, int64_t rows,
                                    int64_t n, int log_softmax) {
    int lane = threadIdx.x & 31;
    int64_t warp = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int64_t nwarps = ((int64_t)gridDim.x * blockDim.x) >> 5;
    for (int64_t r = warp; r < rows; r += nwarps) {
        const T *xr = x + r * n;
        MaxSum ms{-INFINITY, 0.f};
        for (int64_t j = lane; j < n; j += 32) ms = ms_add(ms, ld(xr, (size_t)j));
        ms = warp_ms(ms);
        softmax_write(xr, y + r * n, lane, 32, n, ms, log_softmax);
    }
}

/* One block per row for long rows. */
template <typename T>
__global__ void softmax_block_kernel(const T *__restrict__ x, T *__restrict__ y, int64_t rows,
                                     int64_t n, int log_softmax) {
    __shared__ MaxSum part[32];
    __shared__ MaxSum total;
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *xr = x + r * n;
        MaxSum ms{-INFINITY, 0.f};
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) ms = ms_add(ms, ld(xr, (size_t)j));
        ms = warp_ms(ms);
        if (lane == 0) part[wid] = ms;
        __syncthreads();
        if (wid == 0) {
            MaxSum v = lane < nw ? part[lane] : MaxSum{-INFINITY, 0.f};
            v = warp_ms(v);
            if (lane == 0) total = v;
        }
        __syncthreads();
        softmax_write(xr, y + r * n, threadIdx.x, blockDim.x, n, total, log_softmax);
        __syncthreads(); /* part/total are reused by the next row */
    }
}

/* Softmax over a strided axis: one thread per (outer, inner) column, coalesced across inner. */
template <typename T>
__global__ void softmax_col_kernel(const T *__restrict__ x, T *__restrict__ y, int64_t outer,
                                   int64_t n, int64_t inner, int log_softmax) {
    int64_t cols = outer * inner, stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += stride) {
        int64_t o = c / inner, j = c - o * inner;
        const T *xc = x + o * n * inner + j;
        T *yc = y + o * n * inner + j;
        MaxSum ms{-INFINITY, 0.f};
        for (int64_t k = 0; k < n; k++) ms = ms_add(ms, ld(xc, (size_t)(k * inner)));
        float lse = ms.m + logf(ms.s), inv = 1.f / ms.s;
        for (int64_t k = 0; k < n; k++) {
            float v = ld(xc, (size_t)(k * inner));
            st(yc, (size_t)(k * inner), log_softmax ? v - lse : expf(v - ms.m) * inv);
        }
    }
}

struct Welford {
    float n, mean, m2;
};
__device__ __forceinline__ Welford wf_merge(Welford a, Welford b) {
    float n = a.n + b.n;
    if (n == 0.f) return a;
    float d = b.mean - a.mean, fb = b.n / n;
    return Welford{n, a.mean + d * fb, a.m2 + b.m2 + d * d * a.n * fb};
}
__device__ __forceinline__ Welford warp_wf(Welford v) {
    for (int o = 16; o > 0; o >>= 1) {
        Welford w{__shfl_xor_sync(kFull, v.n, o), __shfl_xor_sync(kFull, v.mean, o),
                  __shfl_xor_sync(kFull, v.m2, o)};
        v = wf_merge(v, w);
    }
    return v;
}

constexpr int64_t kLnCache = 8192; /* floats of a row kept in shared memory (32 KiB) */

template <typename T>
__global__ void layernorm_kernel(const T *__restrict__ x, const T *__restrict__ scale,
                                 const T *__restrict__ bias, T *__restrict__ y, float *mean_out,
                                 float *inv_out, int64_t rows, int64_t n, float eps, int cached) {
    extern __shared__ float cache[];
    __shared__ Welford part[32];
    __shared__ Welford total;
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        const T *xr = x + r * n;
        Welford w{0.f, 0.f, 0.f};
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
            float v = ld(xr, (size_t)j);
            if (cached) cache[j] = v;
            w.n += 1.f;
            float d = v - w.mean;
            w.mean += d / w.n;
            w.m2 += d * (v - w.mean);
        }
        w = warp_wf(w);
        if (lane == 0) part[wid] = w;
        __syncthreads();
        if (wid == 0) {
            Welford v = lane < nw ? part[lane] : Welford{0.f, 0.f, 0.f};
            v = warp_wf(v);
            if (lane == 0) total = v;
        }
        __syncthreads();
        float mean = total.mean, inv = rsqrtf(total.m2 / (float)n + eps);
        if (threadIdx.x == 0) {
            if (mean_out) mean_out[r] = mean;
            if (inv_out) inv_out[r] = inv;
        }
        T *yr = y + r * n;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
            float v = cached ? cache[j] : ld(xr, (size_t)j);
            float o = (v - mean) * inv * ld(scale, (size_t)j);
            if (bias) o += ld(bias, (size_t)j);
            st(yr, (size_t)j, o);
        }
        __syncthreads();
    }
}

__device__ __forceinline__ float red_init(int op) {
    return op == AISK_RMAX ? -INFINITY : op == AISK_RMIN ? INFINITY : 0.f;
}
__device__ __forceinline__ float red_op(int op, float a, float b) {
    if (op == AISK_RMAX) return (a != a || b != b) ? a + b : fmaxf(a, b);
    if (op == AISK_RMIN) return (a != a || b != b) ? a + b : fminf(a, b);
    return a + b;
}
__device__ __forceinline__ int64_t decode(int nd, const int64_t *dims, const int64_t *strides,
                                          int64_t i) {
    int64_t off = 0;
    for (int d = nd - 1; d >= 0; d--) {
        int64_t q = i / dims[d];
        off += (i - q * dims[d]) * strides[d];
        i = q;
    }
    return off;
}

/* One warp per output element; lanes stride over the reduced elements. */
template <typename T>
__global__ void reduce_warp_kernel(int op, const T *__restrict__ x, T *__restrict__ y,
                                   aisk_reduce_desc d, int64_t n_out, int64_t n_red) {
    int lane = threadIdx.x & 31;
    int64_t warp = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int64_t nwarps = ((int64_t)gridDim.x * blockDim.x) >> 5;
    for (int64_t o = warp; o < n_out; o += nwarps) {
        int64_t base = decode(d.nkeep, d.keep_dims, d.keep_strides, o);
        float acc = red_init(op);
        for (int64_t r = lane; r < n_red; r += 32)
            acc = red_op(op, acc, ld(x, (size_t)(base + decode(d.nred, d.red_dims, d.red_strides, r))));
        for (int s = 16; s > 0; s >>= 1) acc = red_op(op, acc, __shfl_xor_sync(kFull, acc, s));
        if (lane == 0) st(y, (size_t)o, op == AISK_RMEAN ? acc / (float)n_red : acc);
    }
}

/* One thread per output element, for short reductions. */
template <typename T>
__global__ void reduce_thread_kernel(int op, const T *__restrict__ x, T *__restrict__ y,
                                     aisk_reduce_desc d, int64_t n_out, int64_t n_red) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < n_out; o += stride) {
        int64_t base = decode(d.nkeep, d.keep_dims, d.keep_strides, o);
        float acc = red_init(op);
        for (int64_t r = 0; r < n_red; r++)
            acc = red_op(op, acc, ld(x, (size_t)(base + decode(d.nred, d.red_dims, d.red_strides, r))));
        st(y, (size_t)o, op == AISK_RMEAN ? acc / (float)n_red : acc);
    }
}

template <typename T>
cudaError_t softmax_t(cudaStream_t s, const void *xv, void *yv, int64_t outer, int64_t n,
                      int64_t inner, int lg) {
    const T *x = (const T *)xv;
    T *y = (T *)yv;
    if (inner == 1 && n <= 1024) {
        softmax_warp_kernel<T><<<blocks_for((size_t)outer * 32), kThreads, 0, s>>>(x, y, outer, n, lg);
    } else if (inner == 1) {
        unsigned g = outer > (int64_t)kMaxBlocks ? (unsigned)kMaxBlocks : (unsigned)outer;
        softmax_block_kernel<T><<<g, 1024, 0, s>>>(x, y, outer, n, lg);
    } else {
        softmax_col_kernel<T><<<blocks_for((size_t)(outer * inner)), kThreads, 0, s>>>(x, y, outer, n, inner, lg);
    }
    AISK_LAUNCH_CHECK();
}

template <typename T>
cudaError_t layernorm_t(cudaStream_t s, const void *x, const void *scale, const void *bias,
                        void *y, float *mean, float *inv, int64_t rows, int64_t n, float eps) {
    int cached = n <= kLnCache;
    int threads = n <= 256 ? 64 : n <= 2048 ? 256 : 512;
    unsigned g = rows > (int64_t)kMaxBlocks ? (unsigned)kMaxBlocks : (unsigned)rows;
    size_t smem = cached ? (size_t)n * sizeof(float) : 0;
    layernorm_kernel<T><<<g, threads, smem, s>>>((const T *)x, (const T *)scale, (const T *)bias,
                                                 (T *)y, mean, inv, rows, n, eps, cached);
    AISK_LAUNCH_CHECK();
}

template <typename T>
cudaError_t reduce_t(cudaStream_t s, int op, const void *x, void *y, const aisk_reduce_desc *d,
                     size_t n_out, size_t n_red) {
    if (n_red < 32) {
        reduce_thread_kernel<T><<<blocks_for(n_out), kThreads, 0, s>>>(op, (const T *)x, (T *)y, *d,
                                                                       (int64_t)n_out, (int64_t)n_red);
    } else {
        reduce_warp_kernel<T><<<blocks_for(n_out * 32), kThreads, 0, s>>>(op, (const T *)x, (T *)y, *d,
                                                                          (int64_t)n_out, (int64_t)n_red);
    }
    AISK_LAUNCH_CHECK();
}

} // namespace

extern "C" cudaError_t aisk_softmax(cudaStream_t s, int dtype, const void *x, void *y,
                                    int64_t outer, int64_t n, int64_t inner, int log_softmax) {
    if (outer <= 0 || n <= 0 || inner <= 0) return cudaSuccess;
    switch (dtype) {
    case AISK_F32: return softmax_t<float>(s, x, y, outer, n, inner, log_softmax);
    case AISK_F16: return softmax_t<__half>(s, x, y, outer, n, inner, log_softmax);
    case AISK_BF16: return softmax_t<__nv_bfloat16>(s, x, y, outer, n, inner, log_softmax);
    default: return cudaErrorInvalidValue;
    }
}

extern "C" cudaError_t aisk_layernorm(cudaStream_t s, int dtype, const void *x, const void *scale,
                                      const void *bias, void *y, float *mean, float *inv_std,
                                      int64_t rows, int64_t n, float eps) {
    if (rows <= 0) return cudaSuccess;
    if (n <= 0) return cudaErrorInvalidValue;
    switch (dtype) {
    case AISK_F32: return layernorm_t<float>(s, x, scale, bias, y, mean, inv_std, rows, n, eps);
    case AISK_F16: return layernorm_t<__half>(s, x, scale, bias, y, mean, inv_std, rows, n, eps);
    case AISK_BF16: return layernorm_t<__nv_bfloat16>(s, x, scale, bias, y, mean, inv_std, rows, n, eps);
    default: return cudaErrorInvalidValue;
    }
}

extern "C" cudaError_t aisk_reduce(cudaStream_t s, int op, int dtype, const void *x, void *y,
                                   const aisk_reduce_desc *d, size_t n_out, size_t n_red) {
    if (n_out == 0) return cudaSuccess;
    if (n_red == 0) return cudaErrorInvalidValue;
    switch (dtype) {
    case AISK_F32: return reduce_t<float>(s, op, x, y, d, n_out, n_red);
    case AISK_F16: return reduce_t<__half>(s, op, x, y, d, n_out, n_red);
    case AISK_BF16: return reduce_t<__nv_bfloat16>(s, op, x, y, d, n_out, n_red);
    default: return cudaErrorInvalidValue;
    }
}
