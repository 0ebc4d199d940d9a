/*
 * dense_util.h - what the dense operators (conv, pool, norm, matmul, softmax) share: the
 * spatial geometry of windowed operators (kernel, strides, dilations, pads, auto_pad) and
 * conversions between half-precision buffers and f32 work buffers.
 */
#ifndef AIS_DENSE_UTIL_H
#define AIS_DENSE_UTIL_H

#include "op.h"

/* The most spatial dimensions of Conv, ConvTranspose and the pools. */
#define AIS__DENSE_MAX_SP 3

/*
 * Geometry of a windowed operator, always stored as 3-D: a 1-D or 2-D operator gets leading
 * axes of extent 1 (kernel 1, stride 1, no pads), so that one loop nest serves every rank.
 */
typedef struct ais__dense_geom {
    size_t nsp; /* spatial axes of the input, 1..3 */
    int64_t in[3], k[3], stride[3], dil[3], pb[3], pe[3], out[3];
} ais__dense_geom;

/* Product of the three extents. */
static inline int64_t ais__dense_prod3(const int64_t *v) { return v[0] * v[1] * v[2]; }

/*
 * Reads kernel_shape (or takes `kernel` from a weight tensor when not NULL: then the attribute
 * must agree), strides, dilations, pads and auto_pad, and computes the output extents of an
 * input x of shape [N, C, spatial...]. `ceil_mode` applies the pooling rounding.
 */
ais_status ais__dense_geom_init(const ais__op_ctx *ctx, const ais_tensor *x, const int64_t *kernel,
                                bool ceil_mode, ais__dense_geom *g);

/* Parses the auto_pad attribute into 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID. */
ais_status ais__dense_auto_pad(const ais__op_ctx *ctx, int *mode);

/* Reads an INTS attribute of exactly `n` values into v (or fills `dflt` when absent); each must
 * lie in [lo, hi]. */
ais_status ais__dense_ints(const ais__op_ctx *ctx, const char *name, size_t n, int64_t dflt,
                           int64_t lo, int64_t hi, int64_t *v);

/* f16 / bf16 / f32 / f64 elements to f32 and back. */
void ais__dense_to_f32(const void *src, ais_dtype dtype, float *dst, size_t n);
void ais__dense_from_f32(const float *src, ais_dtype dtype, void *dst, size_t n);
/* Whether dtype is f16 or bf16 (computed in f32). */
static inline bool ais__dense_is_half(ais_dtype d) {
    return d == AIS_DTYPE_F16 || d == AIS_DTYPE_BF16;
}

/* Adds bias[c] to every element of each of the n*c planes of `plane` elements. */
void ais__dense_add_bias(ais__pool *pool, float *y, const float *bias, int64_t n, int64_t c,
                         int64_t plane);

/* The input checks both convolutions start with: X and W f32 of the same rank with 1 to 3
 * spatial axes. `w_layout` describes W in the message ("[M, C/group, k1...]"). */
ais_status ais__dense_check_conv_xw(const ais_tensor *x, const ais_tensor *w, const char *w_layout);

/* Work split shared by the GEMM-based convolutions: small products (<= 2^18 multiply-adds) go
 * to the pool, one per slot, at most one slot per thread; larger ones run one after another so
 * that BLAS's own threads take them (never both at once). Returns the number of slots. */
size_t ais__dense_gemm_slots(const ais__op_ctx *ctx, double flops, size_t tasks);

/* Column buffers from scratch: one per slot, each `tile` columns of `row_bytes`, where the tile
 * (at least 64 columns, at most `cols`) keeps a buffer under 8 MiB so that large images need
 * bounded memory. `what` names the buffer in errors. */
ais_status ais__dense_col_buffers(ais__op_ctx *ctx, size_t row_bytes, int64_t cols, size_t slots,
                                  int64_t *tile, float **buf, const char *what);

/* ---- im2col / col2im (dense_im2col.c) ----
 * The image has `ch` channels of extents im[3]; the columns are the positions col[3] of the
 * windows (kernel k[3], stride, dilation, leading pad pb). Row r = (c, kd, kh, kw) of the column
 * matrix holds, for window positions j in [j0, j1), the image element under kernel tap r, or 0
 * in the padding. The matrix is [ch * prod(k), j1 - j0], row-major. */
typedef struct ais__dense_win {
    int64_t im[3], col[3], k[3], stride[3], dil[3], pb[3];
} ais__dense_win;

void ais__dense_im2col(const float *im, int64_t ch, const ais__dense_win *w, int64_t j0, int64_t j1,
                       float *cols);
/* The adjoint: adds every column element back onto the image element it came from. */
void ais__dense_col2im(const float *cols, int64_t ch, const ais__dense_win *w, int64_t j0,
                       int64_t j1, float *im);

/* Rows [r0, r1) and columns [j0, j1) of the column matrix of `im` (ch unused: r names the channel)
 * straight into the GEMM's packed B layout (cpu.h): panel q holds columns j0 + q * nr ... as
 * (r1 - r0) rows of nr floats at dst + q * (r1 - r0) * nr, zero past j1. The im2col of one cache
 * block, without the matrix. */
void ais__dense_im2col_pack(const float *im, const ais__dense_win *w, int64_t r0, int64_t r1,
                            int64_t j0, int64_t j1, int64_t nr, float *dst);

#endif /* AIS_DENSE_UTIL_H */
