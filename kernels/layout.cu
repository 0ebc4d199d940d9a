/* layout.cu - data movement: strided copies (Transpose, Slice, Expand), a shared-memory tiled
 * transpose of the last two (collapsed) axes, and Gather. Element size is the only type. */
#include "aisk_device.cuh"

using namespace aisk;

namespace {

template <typename T>
__global__ void strided_copy_kernel(const T *__restrict__ x, T *__restrict__ y, aisk_bcast bc,
                                    size_t n) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] = x[bcast_offset(bc, 0, (int64_t)i)];
}

constexpr int kTile = 32, kRowsPerPass = 8;

/* Block (32, 8) moves a 32x32 tile: coalesced reads along cols, coalesced writes along rows;
 * the +1 column keeps the shared-memory reads of a column free of bank conflicts. */
template <typename T>
__global__ void transpose_kernel(const T *__restrict__ x, T *__restrict__ y, int64_t rows,
                                 int64_t cols) {
    __shared__ T tile[kTile][kTile + 1];
    int64_t b = blockIdx.z;
    int64_t c0 = (int64_t)blockIdx.x * kTile, r0 = (int64_t)blockIdx.y * kTile;
    const T *xb = x + b * rows * cols;
    T *yb = y + b * rows * cols;
    for (int k = threadIdx.y; k < kTile; k += kRowsPerPass) {
        int64_t r = r0 + k, c = c0 + threadIdx.x;
        if (r < rows && c < cols) tile[k][threadIdx.x] = xb[r * cols + c];
    }
    __syncthreads();
    for (int k = threadIdx.y; k < kTile; k += kRowsPerPass) {
        int64_t c = c0 + k, r = r0 + threadIdx.x;
        if (r < rows && c < cols) yb[c * rows + r] = tile[threadIdx.x][k];
    }
}

template <typename I>
__global__ void gather_kernel(const uint8_t *__restrict__ x, const I *__restrict__ idx,
                              uint8_t *__restrict__ y, size_t es, int64_t outer, int64_t g,
                              int64_t inner, int64_t n_idx, int *err) {
    /* One element of y per iteration; es-byte elements copied through the widest type. */
    int64_t total = outer * n_idx * inner, stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        int64_t k = i % inner, t = i / inner, j = t % n_idx, o = t / n_idx;
        int64_t v = (int64_t)idx[j];
        if (v < 0) v += g;
        uint8_t *dst = y + (size_t)i * es;
        if (v < 0 || v >= g) {
            for (size_t e = 0; e < es; e++) dst[e] = 0;
            *err = 1;
            continue;
        }
        const uint8_t *src = x + ((size_t)((o * g + v) * inner + k)) * es;
        switch (es) {
        case 1: *dst = *src; break;
        case 2: *(uint16_t *)dst = *(const uint16_t *)src; break;
        case 4: *(uint32_t *)dst = *(const uint32_t *)src; break;
        case 8: *(uint64_t *)dst = *(const uint64_t *)src; break;
        default:
            for (size_t e = 0; e < es; e++) dst[e] = src[e];
        }
    }
}

template <typename T>
cudaError_t transpose_t(cudaStream_t s, const void *x, void *y, int64_t batch, int64_t rows,
                        int64_t cols) {
    dim3 block(kTile, kRowsPerPass);
    dim3 grid((unsigned)((cols + kTile - 1) / kTile), (unsigned)((rows + kTile - 1) / kTile),
              (unsigned)batch);
    transpose_kernel<T><<<grid, block, 0, s>>>((const T *)x, (T *)y, rows, cols);
    AISK_LAUNCH_CHECK();
}

} // namespace

extern "C" cudaError_t aisk_strided_copy(cudaStream_t s, size_t es, const void *x, void *y,
                                         const aisk_bcast *bc, size_t n) {
    if (n == 0) return cudaSuccess;
    unsigned g = blocks_for(n);
    switch (es) {
    case 1: strided_copy_kernel<uint8_t><<<g, kThreads, 0, s>>>((const uint8_t *)x, (uint8_t *)y, *bc, n); break;
    case 2: strided_copy_kernel<uint16_t><<<g, kThreads, 0, s>>>((const uint16_t *)x, (uint16_t *)y, *bc, n); break;
    case 4: strided_copy_kernel<uint32_t><<<g, kThreads, 0, s>>>((const uint32_t *)x, (uint32_t *)y, *bc, n); break;
    case 8: strided_copy_kernel<uint64_t><<<g, kThreads, 0, s>>>((const uint64_t *)x, (uint64_t *)y, *bc, n); break;
    default: return cudaErrorInvalidValue;
    }
    AISK_LAUNCH_CHECK();
}

extern "C" cudaError_t aisk_transpose_2d(cudaStream_t s, size_t es, const void *x, void *y,
                                         int64_t batch, int64_t rows, int64_t cols) {
    if (batch <= 0 || rows <= 0 || cols <= 0) return cudaSuccess;
    /* Grid limits: y and z at most 65535. The caller uses aisk_strided_copy beyond them. */
    if (batch > 65535 || (rows + kTile - 1) / kTile > 65535 || (cols + kTile - 1) / kTile > INT32_MAX)
        return cudaErrorInvalidConfiguration;
    switch (es) {
    case 1: return transpose_t<uint8_t>(s, x, y, batch, rows, cols);
    case 2: return transpose_t<uint16_t>(s, x, y, batch, rows, cols);
    case 4: return transpose_t<uint32_t>(s, x, y, batch, rows, cols);
    case 8: return transpose_t<uint64_t>(s, x, y, batch, rows, cols);
    default: return cudaErrorInvalidValue;
    }
}

extern "C" cudaError_t aisk_gather(cudaStream_t s, size_t es, const void *x, const void *idx,
                                   int idx_dtype, void *y, int64_t outer, int64_t g, int64_t inner,
                                   int64_t n_idx, int *err) {
    if (outer <= 0 || inner <= 0 || n_idx <= 0) return cudaSuccess;
    size_t total = (size_t)outer * (size_t)n_idx * (size_t)inner;
    unsigned grid = blocks_for(total);
    if (idx_dtype == AISK_I64)
        gather_kernel<int64_t><<<grid, kThreads, 0, s>>>((const uint8_t *)x, (const int64_t *)idx,
                                                         (uint8_t *)y, es, outer, g, inner, n_idx, err);
    else if (idx_dtype == AISK_I32)
        gather_kernel<int32_t><<<grid, kThreads, 0, s>>>((const uint8_t *)x, (const int32_t *)idx,
                                                         (uint8_t *)y, es, outer, g, inner, n_idx, err);
    else
        return cudaErrorInvalidValue;
    AISK_LAUNCH_CHECK();
}
