/*
 * ais_tensor.h - tensors: dtype, shape, data; owned or wrapping caller memory; DLPack exchange.
 *
 * A tensor is dense and row-major (C order). Its data is shared between the tensor and its views
 * (ais_tensor_reshape) through a reference count, so a view stays valid after the tensor it was
 * made from is destroyed. Tensors are not synchronized: one thread writes at a time.
 *
 * Bool tensors (AIS_DTYPE_BOOL) hold one byte per element. The library writes only 0 and 1, but
 * bytes that come from elsewhere (raw ONNX data, .npy files, wrapped memory) may be anything:
 * every operator reads 0 as false and any other byte as true (Not, And, Or, Xor, Where, Equal and
 * the other comparisons, Cast, ArgMax, ReduceMax/ReduceMin, NonZero), so a 2 equals a 1. The
 * bytes are not rewritten where they enter (wrapped memory is the caller's); operators that only
 * move elements (Identity, Reshape, Concat ...) pass them through unchanged, and Cast to bool
 * normalizes them to 0 and 1.
 */
#ifndef AISTACK_AIS_TENSOR_H
#define AISTACK_AIS_TENSOR_H

#include "ais_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types. The values are those of ONNX's TensorProto.DataType, so they never change. */
typedef enum ais_dtype {
    AIS_DTYPE_UNDEFINED = 0,
    AIS_DTYPE_F32 = 1,
    AIS_DTYPE_U8 = 2,
    AIS_DTYPE_I8 = 3,
    AIS_DTYPE_U16 = 4,
    AIS_DTYPE_I16 = 5,
    AIS_DTYPE_I32 = 6,
    AIS_DTYPE_I64 = 7,
    AIS_DTYPE_STRING = 8, /* owned NUL-terminated UTF-8 strings: see ais_tensor_create_strings */
    AIS_DTYPE_BOOL = 9,   /* one byte per element: 0 is false, any other byte true */
    AIS_DTYPE_F16 = 10,   /* IEEE 754 binary16, stored as uint16_t */
    AIS_DTYPE_F64 = 11,
    AIS_DTYPE_U32 = 12,
    AIS_DTYPE_U64 = 13,
    AIS_DTYPE_BF16 = 16, /* bfloat16, stored as uint16_t */
    /* 8-bit floats (one byte each, ONNX's encodings): E4M3FN has no infinities and one NaN per
     * sign (S.1111.111); the FNUZ variants have no infinities, no negative zero and a single NaN
     * (0x80); E5M2 is IEEE-like with infinities. */
    AIS_DTYPE_F8E4M3FN = 17,
    AIS_DTYPE_F8E4M3FNUZ = 18,
    AIS_DTYPE_F8E5M2 = 19,
    AIS_DTYPE_F8E5M2FNUZ = 20,
    /* 4-bit integers, stored UNPACKED: one element per byte (uint8_t 0..15, int8_t -8..7), so
     * every kernel sees whole bytes and ais_dtype_size() is 1. ONNX files pack two per byte (low
     * nibble first); the readers unpack them. */
    AIS_DTYPE_U4 = 21,
    AIS_DTYPE_I4 = 22,
    /* Not an element type: the dtype of a sequence value (ONNX sequence(tensor)), an ais_tensor
     * of shape [] that holds an ordered list of tensors; see ais_tensor_create_sequence. ONNX
     * has no number for it, so it is far from ONNX's range. */
    AIS_DTYPE_SEQUENCE = 1000
} ais_dtype;

/* The most dimensions a tensor can have. */
#define AIS_MAX_DIMS 8

/* Bytes per element, or 0 for a dtype this version does not support. */
AIS_API size_t ais_dtype_size(ais_dtype dtype);
/* Static lower-case name ("f32", "i64", ...); "undefined" for unknown values. */
AIS_API const char *ais_dtype_name(ais_dtype dtype);

typedef struct ais_tensor ais_tensor;

/*
 * A new tensor that owns zero-filled, 64-byte aligned memory. `shape` has `ndim` entries, each
 * >= 0 (a zero makes an empty tensor); ndim == 0 makes a scalar and `shape` may be NULL.
 * On success *out is the tensor (destroy it with ais_tensor_destroy); on failure *out is NULL.
 */
AIS_API ais_status ais_tensor_create(ais_dtype dtype, const int64_t *shape, size_t ndim,
                                     ais_tensor **out);

/* Called when the last tensor or view of wrapped memory is destroyed. */
typedef void (*ais_release_fn)(void *user_data, void *data);

/*
 * A tensor over caller memory, without copying. `data` must hold at least the tensor's bytes
 * (`nbytes` is checked against the shape) and outlive the tensor; `release`, if not NULL, is
 * called with `user_data` and `data` when the last reference goes away. If this call fails,
 * release is not called and the memory stays the caller's. `data` must be aligned to the
 * element size (ais_dtype_size: 4 for F32, 8 for I64 ...); a misaligned pointer (a NumPy view
 * at an odd byte offset) gives AIS_E_INVALID_ARGUMENT: copy such data into aligned memory.
 * ais_tensor_from_dlpack applies the same rule.
 */
AIS_API ais_status ais_tensor_wrap(ais_dtype dtype, const int64_t *shape, size_t ndim, void *data,
                                   size_t nbytes, ais_release_fn release, void *user_data,
                                   ais_tensor **out);

/* Destroys the tensor (its data when no other view shares it). NULL is a no-op. */
AIS_API void ais_tensor_destroy(ais_tensor *tensor);

AIS_API ais_dtype ais_tensor_dtype(const ais_tensor *tensor);
/* Number of dimensions (0 for a scalar). */
AIS_API size_t ais_tensor_ndim(const ais_tensor *tensor);
/* Pointer to ndim extents, valid as long as the tensor. */
AIS_API const int64_t *ais_tensor_shape(const ais_tensor *tensor);
/* Number of elements (1 for a scalar, 0 for an empty tensor). */
AIS_API size_t ais_tensor_size(const ais_tensor *tensor);
/* Number of bytes of the elements. */
AIS_API size_t ais_tensor_nbytes(const ais_tensor *tensor);
/* Pointer to the first element; the caller may read and write ais_tensor_nbytes() bytes there.
 * NULL when tensor is NULL. It takes a const tensor for compatibility: code that only reads
 * should use ais_tensor_data_const, which keeps the const. */
AIS_API void *ais_tensor_data(const ais_tensor *tensor);
/* The same pointer as ais_tensor_data, for reading only (the const-correct accessor). */
AIS_API const void *ais_tensor_data_const(const ais_tensor *tensor);

/*
 * The five accessors above for n tensors in one call, for language bindings that pay per
 * foreign call (a ctypes call costs about as much as a batch-1 run of a small model): for
 * tensor i, dtypes[i], ndims[i], its extents in dims[i * AIS_MAX_DIMS ...] (ndims[i] of them),
 * data[i] (ais_tensor_data) and nbytes[i]. Every array has room for n entries (dims for
 * n * AIS_MAX_DIMS). AIS_E_INVALID_ARGUMENT when an array or a tensor is NULL (n == 0 is fine
 * with any arrays); nothing is written then. Any thread; the pointers in data[] are valid as
 * long as their tensors.
 */
AIS_API ais_status ais_tensor_describe(const ais_tensor *const *tensors, size_t n, int32_t *dtypes,
                                       uint64_t *ndims, int64_t *dims, void **data,
                                       uint64_t *nbytes);

/*
 * A view with a new shape of the same element count over the same data (no copy). One entry of
 * `shape` may be -1 (inferred). The view holds a reference to the data.
 */
AIS_API ais_status ais_tensor_reshape(const ais_tensor *tensor, const int64_t *shape, size_t ndim,
                                      ais_tensor **out);
/* A new tensor that owns a copy of the data. */
AIS_API ais_status ais_tensor_copy(const ais_tensor *tensor, ais_tensor **out);
/* Copies the data of src into dst, which must have the same dtype and element count. */
AIS_API ais_status ais_tensor_copy_into(const ais_tensor *src, ais_tensor *dst);

/*
 * String tensors (AIS_DTYPE_STRING). Each element is a `char *` to a NUL-terminated (UTF-8)
 * string that the tensor owns; ais_tensor_data returns that array of pointers, which the caller
 * may read but must not modify (use ais_tensor_set_string). NULL elements read as "". Views
 * (ais_tensor_reshape) share the strings; ais_tensor_copy and ais_tensor_copy_into copy them;
 * ais_tensor_destroy frees them with the last view. ais_tensor_create(AIS_DTYPE_STRING, ...)
 * makes a tensor of empty strings. ais_tensor_wrap, DLPack and .npy refuse string tensors
 * (AIS_E_DTYPE).
 *
 * ais_tensor_create_strings: a new string tensor of `shape` whose elements are copies of the
 * ais_tensor_size() strings in `values` (a NULL entry, or values NULL, gives "").
 * ais_tensor_string_at: element `index` (row-major), valid until that element is set or the
 * tensor's last view is destroyed; NULL when the tensor is NULL or not a string tensor or index
 * is out of range.
 * ais_tensor_set_string: replaces element `index` with a copy of `value`.
 */
AIS_API ais_status ais_tensor_create_strings(const int64_t *shape, size_t ndim,
                                             const char *const *values, ais_tensor **out);
AIS_API const char *ais_tensor_string_at(const ais_tensor *tensor, size_t index);
AIS_API ais_status ais_tensor_set_string(ais_tensor *tensor, size_t index, const char *value);

/*
 * Sequences (AIS_DTYPE_SEQUENCE): what ONNX models take and return as sequence(tensor) inputs
 * and outputs (ais_session_run feeds and fetches them like tensors; a sequence output needs a
 * NULL slot). A sequence is an ais_tensor of dtype AIS_DTYPE_SEQUENCE and shape [] whose data
 * is opaque: use the functions below, not ais_tensor_data. Its items are never modified; the
 * caller must not write to them. ais_tensor_copy copies a sequence; ais_tensor_destroy frees it
 * with its items; ais_tensor_wrap, ais_tensor_copy_into, DLPack and .npy refuse it.
 *
 * ais_tensor_create_sequence: a new sequence of copies of the n tensors in `items` (items may
 * be NULL when n is 0), each of dtype `elem_dtype` (a tensor dtype, not a sequence).
 * ais_sequence_length: the number of items; 0 when seq is NULL or not a sequence.
 * ais_sequence_elem_dtype: the items' dtype; AIS_DTYPE_UNDEFINED when seq is not a sequence.
 * ais_sequence_at: item `index`, owned by the sequence (valid while it lives); NULL when seq
 * is NULL or not a sequence or index is out of range.
 */
AIS_API ais_status ais_tensor_create_sequence(ais_dtype elem_dtype,
                                              const ais_tensor *const *items, size_t n,
                                              ais_tensor **out);
AIS_API size_t ais_sequence_length(const ais_tensor *seq);
AIS_API ais_dtype ais_sequence_elem_dtype(const ais_tensor *seq);
AIS_API const ais_tensor *ais_sequence_at(const ais_tensor *seq, size_t index);

/*
 * DLPack exchange (dlpack.h, version 0.6 or later; struct DLManagedTensor). Only CPU, dense,
 * row-major tensors are exchanged.
 * ais_tensor_to_dlpack: a DLManagedTensor that shares the data and holds a reference to it; the
 * consumer calls its deleter once. ais_tensor_from_dlpack: takes ownership of `managed` on
 * success (its deleter runs when the tensor's last reference goes away); on failure ownership
 * stays with the caller.
 */
struct DLManagedTensor;
AIS_API ais_status ais_tensor_to_dlpack(const ais_tensor *tensor, struct DLManagedTensor **out);
AIS_API ais_status ais_tensor_from_dlpack(struct DLManagedTensor *managed, ais_tensor **out);

/*
 * Files. ais_tensor_load reads a NumPy .npy file or an ONNX TensorProto .pb file (recognized by
 * content); the tensor owns its data. ais_tensor_save_npy writes a .npy file (version 1.0, C
 * order, little-endian).
 */
AIS_API ais_status ais_tensor_load(const char *path, ais_tensor **out);
AIS_API ais_status ais_tensor_save_npy(const ais_tensor *tensor, const char *path);
/* Reads an ONNX SequenceProto .pb file (or an OptionalProto holding a sequence, as the ONNX
 * backend tests store sequence values) into a new sequence (AIS_DTYPE_SEQUENCE) the caller
 * destroys. Failures say what was wrong and where, as ais_tensor_load does. */
AIS_API ais_status ais_sequence_load(const char *path, ais_tensor **out);

#ifdef __cplusplus
}
#endif
#endif /* AISTACK_AIS_TENSOR_H */
