/*
 * ais_kernels.cuh - the C interface of the CUDA kernels in the kernels/ .cu files.
 *
 * Included by the host side of the CUDA backend (lib/backend/cuda/, plain C) and by the .cu
 * files. Every launcher enqueues its work on `stream` and returns the launch's cudaError_t
 * (cudaGetLastError after the launch); none synchronizes unless it says so. Pointers are device
 * pointers. Element types are the ais_dtype values (ONNX TensorProto codes). Launchers with
 * n == 0 launch nothing. The caller has validated shapes, dtypes and sizes: launchers only bound
 * grid dimensions and never read outside [0, n).
 */
#ifndef AIS_KERNELS_CUH
#define AIS_KERNELS_CUH

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    AISK_F32 = 1,
    AISK_U8 = 2,
    AISK_I8 = 3,
    AISK_I32 = 6,
    AISK_I64 = 7,
    AISK_BOOL = 9,
    AISK_F16 = 10,
    AISK_F64 = 11,
    AISK_BF16 = 16
};

#define AISK_MAX_DIMS 8

/* An output shape and, per input, the element stride of each output axis in that input (0 on a
 * broadcast axis). Inputs are dense; dims are collapsed by the caller where possible. */
typedef struct aisk_bcast {
    int32_t ndim;
    int64_t dims[AISK_MAX_DIMS];
    int64_t strides[3][AISK_MAX_DIMS];
} aisk_bcast;

/* Unary operators; a and b are the operator's parameters (alpha/beta, min/max). Also the
 * activations of fused epilogues. */
enum {
    AISK_ACT_NONE = 0,
    AISK_RELU,
    AISK_LEAKY_RELU, /* a = alpha */
    AISK_SIGMOID,
    AISK_TANH,
    AISK_GELU,      /* erf form */
    AISK_GELU_TANH, /* tanh approximation */
    AISK_ERF,
    AISK_EXP,
    AISK_LOG,
    AISK_SQRT,
    AISK_ABS,
    AISK_NEG,
    AISK_CLIP, /* a = min, b = max */
    AISK_RECIPROCAL,
    AISK_FLOOR,
    AISK_CEIL,
    AISK_ELU,          /* a = alpha */
    AISK_SOFTPLUS,
    AISK_HARD_SIGMOID, /* a = alpha, b = beta */
    AISK_SIN,
    AISK_COS,
    AISK_IDENTITY,
    AISK_HARD_SWISH,
    AISK_UNARY_COUNT
};

enum {
    AISK_ADD = 0,
    AISK_SUB,
    AISK_MUL,
    AISK_DIV,
    AISK_POW,
    AISK_MAX,
    AISK_MIN,
    AISK_EQUAL, /* comparisons: output bool */
    AISK_LESS,
    AISK_LESS_EQUAL,
    AISK_GREATER,
    AISK_GREATER_EQUAL,
    AISK_AND, /* logical: bool inputs and output */
    AISK_OR,
    AISK_XOR,
    AISK_BINARY_COUNT
};

enum { AISK_RSUM = 0, AISK_RMEAN, AISK_RMAX, AISK_RMIN };

/* dtypes: f32, f16, bf16. */
cudaError_t aisk_unary(cudaStream_t stream, int op, int dtype, const void *x, void *y, size_t n,
                       float a, float b);
/* Arithmetic: f32, f16, bf16, i32, i64 (Pow: float types); comparisons: those in, bool out;
 * logical: bool. Strides of inputs 0 and 1 in bc. */
cudaError_t aisk_binary(cudaStream_t stream, int op, int dtype, const void *a, const void *b,
                        void *y, const aisk_bcast *bc, size_t n);
/* y = cond ? x : z with three-way broadcasting (strides 0: cond, 1: x, 2: z); any element size
 * of 1, 2, 4 or 8 bytes. */
cudaError_t aisk_where(cudaStream_t stream, size_t elem_size, const uint8_t *cond, const void *x,
                       const void *z, void *y, const aisk_bcast *bc, size_t n);
/* y[i] = x[sum_k idx_k * strides[0][k]] over the output shape of bc: Transpose, Slice (x points
 * at the first element taken, strides may be negative), Expand (strides 0). */
cudaError_t aisk_strided_copy(cudaStream_t stream, size_t elem_size, const void *x, void *y,
                              const aisk_bcast *bc, size_t n);
/* y[b][c][r] = x[b][r][c] through shared-memory tiles. */
cudaError_t aisk_transpose_2d(cudaStream_t stream, size_t elem_size, const void *x, void *y,
                              int64_t batch, int64_t rows, int64_t cols);
/* In place: y[i] = act(y[i] + bias[(i / inner) % channels]); bias may be NULL. */
cudaError_t aisk_bias_act(cudaStream_t stream, int dtype, void *y, const void *bias, size_t n,
                          int64_t channels, int64_t inner, int act, float a, float b);
/* Softmax or LogSoftmax over the middle axis of [outer, n, inner]. f32, f16, bf16. */
cudaError_t aisk_softmax(cudaStream_t stream, int dtype, const void *x, void *y, int64_t outer,
                         int64_t n, int64_t inner, int log_softmax);
/* LayerNormalization over rows of n elements; scale (n elements, required) and bias (n or NULL)
 * have x's dtype; mean and inv_std (rows f32 values each) may be NULL. */
cudaError_t aisk_layernorm(cudaStream_t stream, int dtype, const void *x, const void *scale,
                           const void *bias, void *y, float *mean, float *inv_std, int64_t rows,
                           int64_t n, float eps);
/* BatchNormalization (inference) on [n, c, inner]; parameters (c each) have x's dtype. */
cudaError_t aisk_batchnorm(cudaStream_t stream, int dtype, const void *x, const void *scale,
                           const void *bias, const void *mean, const void *var, void *y,
                           size_t total, int64_t c, int64_t inner, float eps);

/* A reduction: output element o sits at input offset sum(keep_idx * keep_strides); the reduced
 * elements at that plus sum(red_idx * red_strides). */
typedef struct aisk_reduce_desc {
    int32_t nkeep, nred;
    int64_t keep_dims[AISK_MAX_DIMS], keep_strides[AISK_MAX_DIMS];
    int64_t red_dims[AISK_MAX_DIMS], red_strides[AISK_MAX_DIMS];
} aisk_reduce_desc;
/* f32, f16, bf16; n_red >= 1. */
cudaError_t aisk_reduce(cudaStream_t stream, int op, int dtype, const void *x, void *y,
                        const aisk_reduce_desc *d, size_t n_out, size_t n_red);

/* MaxPool/AveragePool on [planes, D, H, W] (fewer spatial axes as leading extents of 1) for what
 * cuDNN cannot express (ceil_mode, asymmetric pads, dilations): output (od, oh, ow) reads input
 * od*stride - pb + kd*dil (per axis), skipping positions outside the input. kind 0: max (the first
 * in-range value, then strictly greater ones); 1: average over the in-range values, or over the
 * whole kernel volume with include_pad. f32, f16, bf16. */
typedef struct aisk_pool_desc {
    int64_t in[3], out[3], k[3], stride[3], dil[3], pb[3];
    int32_t kind, include_pad;
} aisk_pool_desc;
cudaError_t aisk_pool(cudaStream_t stream, int dtype, const void *x, void *y,
                      const aisk_pool_desc *d, size_t planes);

/* Gather on [outer, g, inner] with n_idx indices (i32 or i64, negative counts from the end):
 * y is [outer, n_idx, inner]. An index out of [-g, g) writes zeros and sets *err_flag (device
 * memory) to 1. */
cudaError_t aisk_gather(cudaStream_t stream, size_t elem_size, const void *x, const void *idx,
                        int idx_dtype, void *y, int64_t outer, int64_t g, int64_t inner,
                        int64_t n_idx, int *err_flag);
/* Cast between f32, f16, bf16, f64, i8, u8, i32, i64, bool (C conversion rules; to bool: != 0). */
cudaError_t aisk_cast(cudaStream_t stream, int src_dtype, int dst_dtype, const void *x, void *y,
                      size_t n);

#ifdef __cplusplus
}
#endif

#endif /* AIS_KERNELS_CUH */
