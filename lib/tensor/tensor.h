/*
 * tensor.h - the tensor object inside the library, shape arithmetic, broadcasting and element
 * conversions that every operator uses.
 */
#ifndef AIS_TENSOR_H
#define AIS_TENSOR_H

#include <aistack/ais_tensor.h>
#include <stdatomic.h>
#include <string.h>

#include "common/common.h"

/* The memory behind one or more tensors. Owned memory lives in the same block as this header. */
typedef struct ais__storage {
    atomic_int refs;
    void *data;
    size_t nbytes;
    ais_release_fn release; /* for wrapped memory; NULL when owned or borrowed without release */
    void *release_ud;
    void *block; /* what ais__free gets back; NULL for wrapped memory */
    /* What the elements own: AIS__CONTENT_STRINGS and AIS__CONTENT_SEQUENCE storage frees each
     * element pointer (a string, an ais__sequence) with the storage. Only owned blocks. */
    uint8_t content;
} ais__storage;

enum { AIS__CONTENT_POD, AIS__CONTENT_STRINGS, AIS__CONTENT_SEQUENCE };

/* The dtype of a sequence value: a scalar tensor whose one element is an `ais__sequence *`
 * owned by the tensor's storage. Public as AIS_DTYPE_SEQUENCE (ais_tensor_create_sequence);
 * ais_tensor_create and ais_tensor_wrap refuse it. */
#define AIS__DTYPE_SEQUENCE AIS_DTYPE_SEQUENCE

/* An ordered list of owned tensors of one dtype (ONNX sequence values). */
typedef struct ais__sequence {
    ais_dtype elem_dtype;
    size_t n, cap;
    ais_tensor **items;
} ais__sequence;

struct ais_tensor {
    ais_dtype dtype;
    uint32_t ndim;
    int64_t dims[AIS_MAX_DIMS];
    size_t numel;
    size_t nbytes;
    void *data;
    /* NULL when the data is borrowed from somewhere that outlives the tensor (a session's arena,
     * a mapped model file): then nothing is released. */
    ais__storage *storage;
};

/* dtype, rank and extents without data: what shape inference produces. */
typedef struct ais__tensor_desc {
    ais_dtype dtype;
    uint32_t ndim;
    int64_t dims[AIS_MAX_DIMS];
} ais__tensor_desc;

/* Element count of a shape; false when an extent is negative or the count (in bytes of
 * `elem_size`) overflows. */
bool ais__shape_numel(const int64_t *dims, size_t ndim, size_t elem_size, size_t *numel);
/* Validates a shape for tensor creation; the message starts with `who`. */
ais_status ais__shape_validate(const int64_t *dims, size_t ndim, ais_dtype dtype, const char *who);
/* "[2, 3, 4]" into buf (always terminated); returns buf. */
const char *ais__shape_str(const int64_t *dims, size_t ndim, char *buf, size_t size);
#define AIS__SHAPE_STR_MAX 200
bool ais__dtype_valid(ais_dtype dtype);
/* Strings and sequences: elements are owned pointers, not plain bytes. */
static inline bool ais__dtype_is_opaque(ais_dtype d) {
    return d == AIS_DTYPE_STRING || d == AIS__DTYPE_SEQUENCE;
}
bool ais__dtype_is_float(ais_dtype dtype); /* f16, bf16, f32, f64 */
bool ais__dtype_is_int(ais_dtype dtype);   /* signed or unsigned integers (not bool) */
bool ais__dtype_is_signed(ais_dtype dtype);

/* A new tensor with uninitialized, 64-byte aligned data (what operators write into). */
ais_status ais__tensor_new(ais_dtype dtype, const int64_t *dims, size_t ndim, ais_tensor **out);
ais_status ais__tensor_new_desc(const ais__tensor_desc *desc, ais_tensor **out);
/* Fills a caller-provided tensor struct that borrows `data` (no storage, nothing released). */
void ais__tensor_init_borrowed(ais_tensor *t, ais_dtype dtype, const int64_t *dims, size_t ndim,
                               void *data);
/* A new tensor struct sharing t's data (a reference when t has storage). */
ais_status ais__tensor_share(const ais_tensor *t, const int64_t *dims, size_t ndim,
                             ais_tensor **out);
void ais__storage_release(ais__storage *s);
bool ais__tensor_same_shape(const ais_tensor *a, const ais_tensor *b);

/* ---- strings and sequences (strings.c) ---- */

/* The string elements of a string tensor (NULL entries read as ""). */
static inline char **ais__strs(const ais_tensor *t) { return (char **)t->data; }
static inline const char *ais__str_at(const ais_tensor *t, size_t i) {
    const char *s = ((char *const *)t->data)[i];
    return s ? s : "";
}
/* Replaces element i of a string tensor with a copy of the `len` bytes at s (NUL added). */
ais_status ais__str_set(ais_tensor *t, size_t i, const char *s, size_t len);
/* Frees every string of t and leaves NULL (""). */
void ais__strs_clear(ais_tensor *t);
/* Turns string pointers borrowed from other tensors (a byte-moving kernel's output) into owned
 * copies. On failure the elements not yet copied are reset to NULL, so destroying t is safe. */
ais_status ais__strs_own(ais_tensor *t);
/* Copies n elements (deep for strings) from src at soff into dst at doff; same dtype. */
ais_status ais__elems_copy(ais_tensor *dst, size_t doff, const ais_tensor *src, size_t soff,
                           size_t n);

/* The sequence inside a sequence tensor. */
static inline ais__sequence *ais__seq(const ais_tensor *t) {
    return *(ais__sequence *const *)t->data;
}
/* A new, empty sequence tensor; elements will have elem_dtype. */
ais_status ais__seq_tensor_new(ais_dtype elem_dtype, size_t cap, ais_tensor **out);
/* Puts a new, empty sequence into t, a sequence tensor whose element is still NULL (what
 * ais__tensor_new made). */
ais_status ais__seq_attach(ais_tensor *t, ais_dtype elem_dtype, size_t cap);
/* Inserts t at pos (0..n), the caller's checks done: a view sharing t's storage when it has
 * one (elements of sequences are never written), else an owned copy. */
ais_status ais__seq_insert(ais__sequence *s, size_t pos, const ais_tensor *t);
/* Removes and destroys item pos. */
void ais__seq_erase(ais__sequence *s, size_t pos);
void ais__seq_free(ais__sequence *s);
/* A deep copy of sequence src into the sequence tensor dst (which is empty). */
ais_status ais__seq_copy_into(ais__sequence *dst, const ais__sequence *src);

/* ---- numbers as text (numstr.c), locale-independent ---- */

/* v as NumPy's str() writes a scalar of `dtype` (F64, F32, F16 or BF16): the shortest decimal
 * that reads back as the same value, "nan", "inf", "-inf". Returns the length (snprintf's). */
size_t ais__num_format(double v, ais_dtype dtype, char *buf, size_t size);
#define AIS__NUM_STR_MAX 48
/* A decimal or scientific number with optional sign and surrounding whitespace, or "inf",
 * "infinity", "nan" in any case: its value read as a double and as a float (each correctly
 * rounded). False when s is not such a number. */
bool ais__num_parse(const char *s, double *out_f64, float *out_f32);
/* An integer (a decimal with a fraction or exponent is truncated); false when s is not a
 * number or the value is out of range of int64 (or uint64 when is_unsigned). */
bool ais__num_parse_int(const char *s, bool is_unsigned, int64_t *out_i, uint64_t *out_u);

/* Multidirectional (NumPy) broadcasting of two shapes; message names `op`. */
ais_status ais__broadcast_shape(const char *op, const int64_t *a, size_t na, const int64_t *b,
                                size_t nb, int64_t *out, size_t *nout);
/* Element strides of an input of shape (in, nin) read as the output shape (out, nout): 0 on
 * broadcast axes, right-aligned. strides gets nout entries. */
void ais__broadcast_strides(const int64_t *in, size_t nin, const int64_t *out, size_t nout,
                            int64_t *strides);

/* Normalizes a possibly negative axis into [0, rank); false when out of range. */
static inline bool ais__norm_axis(int64_t axis, int64_t rank, int64_t *out) {
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return false;
    *out = axis;
    return true;
}

/* ---- element conversions ---- */

static inline float ais__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalize */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            man &= 0x3ff;
            bits = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t ais__f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* overflow to inf */
    if (absx < 0x38800000u) {                                  /* subnormal or zero */
        if (absx < 0x33000000u) return (uint16_t)sign;
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        uint32_t s = 126 - e; /* bits to drop: the value is m * 2^(e-150), units of 2^-24 */
        uint32_t r = m >> s;
        uint32_t rem = m & ((1u << s) - 1);
        uint32_t mid = 1u << (s - 1);
        if (rem > mid || (rem == mid && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((absx - 0x38000000u) >> 13);
    uint32_t rem = absx & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
    return (uint16_t)(sign | r);
}

static inline float ais__bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t ais__f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet nan */
    x += 0x7fff + ((x >> 16) & 1);                                            /* nearest even */
    return (uint16_t)(x >> 16);
}

/* 8-bit floats and 4-bit integers (float8.c), bit-exact with ONNX's reference conversions. */
bool ais__dtype_is_f8(ais_dtype dtype);   /* the four float8 dtypes */
bool ais__dtype_is_int4(ais_dtype dtype); /* u4, i4 (one element per byte) */
/* Exact value of a float8 code (NaN for the NaN codes, infinities only in E5M2). */
float ais__f8_to_f32(uint8_t code, ais_dtype dtype);
/* Round to nearest even; out of range (infinities included) gives the largest finite value
 * when `saturate`, else NaN (E5M2: infinity), as ONNX's Cast specifies. */
uint8_t ais__f32_to_f8(float f, ais_dtype dtype, bool saturate);
/* Clip to the 4-bit range, then round half to even (NaN gives 0): the element byte of u4/i4. */
uint8_t ais__f32_to_int4(float f, ais_dtype dtype);

/* Element i of data of `dtype` as a double (slow paths, tests, Cast). */
double ais__load_f64(const void *data, ais_dtype dtype, size_t i);
/* Stores v (converted as C casts do, saturating nothing) as element i. */
void ais__store_f64(void *data, ais_dtype dtype, size_t i, double v);
/* Element i of an integer tensor as int64 (indices, shapes, axes). */
int64_t ais__load_i64(const void *data, ais_dtype dtype, size_t i);

#endif /* AIS_TENSOR_H */
