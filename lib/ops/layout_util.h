/*
 * layout_util.h - helpers shared by the shape, layout and reduction operators: integer-list
 * arguments that moved from attributes to inputs between opsets, axis normalization, and the
 * strided byte-moving copy that Transpose, Slice, Expand and friends reduce to.
 */
#ifndef AIS_LAYOUT_UTIL_H
#define AIS_LAYOUT_UTIL_H

#include "op.h"

/* Rank the strided copy accepts: Tile and DepthToSpace view their output with up to twice the
 * tensor rank. */
#define AIS__LAYOUT_MAX_RANK (2 * AIS_MAX_DIMS)

/* Longest integer list (axes, pads, starts ...) an operator argument may have. */
#define AIS__LAYOUT_MAX_LIST 64

/*
 * Reads an integer list that is attribute `name` before opset `since` and input `idx` from it.
 * *present tells whether it was given at all. Before `since`, a tensor in input `idx` is an
 * error (the operator had no such input then). The input must be int64, or int32 or int64 when
 * `tind` (ONNX's Tind constraint: Slice's starts/ends/axes/steps, Pad's axes).
 */
ais_status ais__layout_int_arg(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                               size_t idx, const char *name, int64_t since, int64_t *v, size_t max,
                               size_t *n, bool *present, bool tind);

/* Normalizes n axes (negative count from the end) into [0, rank); errors naming `what` when one
 * is out of range or repeated. mask (rank entries, may be NULL) gets true on the named axes;
 * norm (may be NULL) gets the normalized values in the given order. */
ais_status ais__layout_axes(const int64_t *axes, size_t n, size_t rank, const char *what,
                            bool *mask, int64_t *norm);

/* Row-major element strides of a shape. */
void ais__layout_strides(const int64_t *dims, size_t ndim, int64_t *strides);

/*
 * dst (contiguous, shape dims) = src read through signed element strides. Works on any element
 * size; strides may be 0 (broadcast) or negative (reversed slices). ndim <= AIS__LAYOUT_MAX_RANK.
 */
void ais__layout_copy_strided(void *dst, const void *src, size_t elem, size_t ndim,
                              const int64_t *dims, const int64_t *strides);

/* dst = src (shape dims) with axes permuted: dst axis i is src axis perm[i]. ndim <=
 * AIS__LAYOUT_MAX_RANK. */
void ais__layout_transpose(void *dst, const void *src, size_t elem, size_t ndim,
                           const int64_t *dims, const int64_t *perm);

#endif /* AIS_LAYOUT_UTIL_H */
