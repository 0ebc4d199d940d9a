/*
 * elementwise_core.h - the one broadcast iterator that every elementwise operator (unary.c,
 * binary.c, misc.c) runs its loops through.
 *
 * An operator supplies a row function per dtype: it computes `n` outputs, contiguous, from inputs
 * that each either advance one element per output (step 1) or stay on one element (step 0, a
 * broadcast scalar). The iterator collapses the broadcast shape into as few dimensions as it can
 * (same shapes become one row, a bias add becomes rows of the trailing extent), splits the
 * elements across the thread pool and calls the row function on the pieces. Row functions are
 * plain loops over restrict pointers so the compiler vectorizes them.
 */
#ifndef AIS_ELEMENTWISE_CORE_H
#define AIS_ELEMENTWISE_CORE_H

#include "op.h"

/* in[k] points at the first element of input k for this row; step[k] is 0 or 1. */
typedef void (*ais__ew_fn)(void *out, const void *const *in, const size_t *step, size_t n,
                           const void *params);

/* Inputs per call of the iterator (Where has three). */
#define AIS__EW_MAX_IN 3

/* Elements per parallel chunk: small enough to spread a large tensor, large enough that the
 * thread hand-off costs little next to the loop. */
#define AIS__EW_GRAIN 16384

/* Flags of ais__ew_apply. */
enum {
    /* fn is an f32 kernel: the f16/bf16 tensors among in[] and out are converted through f32
     * in small blocks; tensors of other dtypes (a bool condition, a bool result) pass unchanged. */
    AIS__EW_VIA_F32 = 1u << 0,
    /* fn reads out[] before writing it (accumulation: o[i] = op(o[i], in[0][i])). */
    AIS__EW_READS_OUT = 1u << 1,
};

/* Runs fn over out's shape; every input must broadcast to it (infer checked that). */
void ais__ew_apply(ais__op_ctx *ctx, ais_tensor *out, const ais_tensor *const *in, size_t n_in,
                   ais__ew_fn fn, const void *params, unsigned flags);

/* Broadcast shape of in[0..n) into desc (dtype left for the caller); the message names the
 * inputs that do not agree. NULL entries are skipped. */
ais_status ais__ew_broadcast(const ais_tensor *const *in, size_t n, ais__tensor_desc *desc);

/* Index of a dtype in per-dtype kernel tables. */
#define AIS__EW_NDTYPES 17

/* The kernel of a per-dtype table for `dtype`, falling back to the f32 kernel through
 * conversion for f16 and bf16 (*via_f32 set). NULL when the dtype is not supported. */
ais__ew_fn ais__ew_pick(const ais__ew_fn *table, ais_dtype dtype, bool *via_f32);

/* Error naming the dtype that has no kernel in a table, listing the ones that do. */
ais_status ais__ew_dtype_error(const ais__ew_fn *table, const ais_tensor *t, const char *what);

/* ---- generating row functions ----
 *
 * A list macro calls X(NAME, SFX, T, U, EXPR) for each dtype of a group: T is the element type
 * and U the unsigned type that integer arithmetic wraps in (signed overflow is undefined in C,
 * and ONNX integer arithmetic wraps). X is one of the generators below; EXPR uses `a`, `b` (or
 * `x`) and may name the types as ais__T and ais__U. Tables are filled with AIS__EW_ENTRY through
 * the same lists.
 */
#define AIS__EW_DT_f32 AIS_DTYPE_F32
#define AIS__EW_DT_f64 AIS_DTYPE_F64
#define AIS__EW_DT_i8 AIS_DTYPE_I8
#define AIS__EW_DT_i16 AIS_DTYPE_I16
#define AIS__EW_DT_i32 AIS_DTYPE_I32
#define AIS__EW_DT_i64 AIS_DTYPE_I64
#define AIS__EW_DT_u8 AIS_DTYPE_U8
#define AIS__EW_DT_u16 AIS_DTYPE_U16
#define AIS__EW_DT_u32 AIS_DTYPE_U32
#define AIS__EW_DT_u64 AIS_DTYPE_U64
#define AIS__EW_DT_b8 AIS_DTYPE_BOOL

#define AIS__EW_FLOATS(X, NAME, EXPR)                                                              \
    X(NAME, f32, float, float, EXPR) X(NAME, f64, double, double, EXPR)
#define AIS__EW_SINTS(X, NAME, EXPR)                                                               \
    X(NAME, i8, int8_t, uint32_t, EXPR)                                                            \
    X(NAME, i16, int16_t, uint32_t, EXPR) X(NAME, i32, int32_t, uint32_t, EXPR)                    \
        X(NAME, i64, int64_t, uint64_t, EXPR)
#define AIS__EW_UINTS(X, NAME, EXPR)                                                               \
    X(NAME, u8, uint8_t, uint32_t, EXPR)                                                           \
    X(NAME, u16, uint16_t, uint32_t, EXPR) X(NAME, u32, uint32_t, uint32_t, EXPR)                  \
        X(NAME, u64, uint64_t, uint64_t, EXPR)
#define AIS__EW_BOOLS(X, NAME, EXPR) X(NAME, b8, uint8_t, uint32_t, EXPR)

#define AIS__EW_ENTRY(NAME, SFX, T, U, EXPR) [AIS__EW_DT_##SFX] = NAME##_##SFX,

/* out[i] = EXPR(a, b) with a, b of T; TO is the output type. */
#define AIS__EW_BIN_TO(NAME, SFX, T, U, TO, EXPR)                                                  \
    static void NAME##_##SFX(void *o_, const void *const *in, const size_t *st, size_t n,          \
                             const void *p_) {                                                     \
        typedef T ais__T;                                                                          \
        typedef U ais__U;                                                                          \
        (void)p_;                                                                                  \
        (void)sizeof(ais__U);                                                                      \
        TO *restrict o = o_;                                                                       \
        const ais__T *restrict A = in[0];                                                          \
        const ais__T *restrict B = in[1];                                                          \
        if (st[0] && st[1]) {                                                                      \
            for (size_t i = 0; i < n; i++) {                                                       \
                ais__T a = A[i], b = B[i];                                                         \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else if (st[0]) {                                                                        \
            const ais__T b = B[0];                                                                 \
            for (size_t i = 0; i < n; i++) {                                                       \
                ais__T a = A[i];                                                                   \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else if (st[1]) {                                                                        \
            const ais__T a = A[0];                                                                 \
            for (size_t i = 0; i < n; i++) {                                                       \
                ais__T b = B[i];                                                                   \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else {                                                                                   \
            const ais__T a = A[0], b = B[0];                                                       \
            const TO r = (TO)(EXPR);                                                               \
            for (size_t i = 0; i < n; i++)                                                         \
                o[i] = r;                                                                          \
        }                                                                                          \
    }
#define AIS__EW_BIN(NAME, SFX, T, U, EXPR) AIS__EW_BIN_TO(NAME, SFX, T, U, T, EXPR)
#define AIS__EW_CMP(NAME, SFX, T, U, EXPR) AIS__EW_BIN_TO(NAME, SFX, T, U, uint8_t, EXPR)

/* Accumulation: o[i] = EXPR(a = o[i], b = in[0][i]) (variadic Sum, Max, Min). */
#define AIS__EW_ACC(NAME, SFX, T, U, EXPR)                                                         \
    static void NAME##_##SFX(void *o_, const void *const *in, const size_t *st, size_t n,          \
                             const void *p_) {                                                     \
        typedef T ais__T;                                                                          \
        typedef U ais__U;                                                                          \
        (void)p_;                                                                                  \
        (void)sizeof(ais__U);                                                                      \
        ais__T *restrict o = o_;                                                                   \
        const ais__T *restrict B = in[0];                                                          \
        if (st[0]) {                                                                               \
            for (size_t i = 0; i < n; i++) {                                                       \
                ais__T a = o[i], b = B[i];                                                         \
                o[i] = (ais__T)(EXPR);                                                             \
            }                                                                                      \
        } else {                                                                                   \
            const ais__T b = B[0];                                                                 \
            for (size_t i = 0; i < n; i++) {                                                       \
                ais__T a = o[i];                                                                   \
                o[i] = (ais__T)(EXPR);                                                             \
            }                                                                                      \
        }                                                                                          \
    }

/* Parameters of unary kernels (attributes, Clip's bounds), read once per row. */
typedef struct ais__ew_uparams {
    double alpha, beta, gamma;
    int64_t ilo, ihi;  /* Clip on signed integers */
    uint64_t ulo, uhi; /* Clip on unsigned integers */
    int mode;          /* Gelu: 1 for tanh; IsInf: bit 0 negative, bit 1 positive */
} ais__ew_uparams;

/* out[i] = EXPR(x) with x of T and TO out; alpha, beta, gamma are the parameters as T (floating
 * kernels only: converting them to an integer type could overflow). */
#define AIS__EW_UN_F_TO(NAME, SFX, T, U, TO, EXPR)                                                 \
    static void NAME##_##SFX(void *o_, const void *const *in, const size_t *st, size_t n,          \
                             const void *p_) {                                                     \
        typedef T ais__T;                                                                          \
        typedef U ais__U;                                                                          \
        (void)st;                                                                                  \
        (void)sizeof(ais__U);                                                                      \
        const ais__ew_uparams *P = p_;                                                             \
        const ais__T alpha = P ? (ais__T)P->alpha : 0, beta = P ? (ais__T)P->beta : 0;             \
        const ais__T gamma = P ? (ais__T)P->gamma : 0;                                             \
        const int mode = P ? P->mode : 0;                                                          \
        (void)alpha, (void)beta, (void)gamma, (void)mode;                                          \
        TO *restrict o = o_;                                                                       \
        const ais__T *restrict X = in[0];                                                          \
        for (size_t i = 0; i < n; i++) {                                                           \
            ais__T x = X[i];                                                                       \
            o[i] = (TO)(EXPR);                                                                     \
        }                                                                                          \
    }
#define AIS__EW_UN_F(NAME, SFX, T, U, EXPR) AIS__EW_UN_F_TO(NAME, SFX, T, U, T, EXPR)
#define AIS__EW_UN_FB(NAME, SFX, T, U, EXPR) AIS__EW_UN_F_TO(NAME, SFX, T, U, uint8_t, EXPR)

/* Integer (and bool) unary kernels; P is the parameter block. */
#define AIS__EW_UN_I(NAME, SFX, T, U, EXPR)                                                        \
    static void NAME##_##SFX(void *o_, const void *const *in, const size_t *st, size_t n,          \
                             const void *p_) {                                                     \
        typedef T ais__T;                                                                          \
        typedef U ais__U;                                                                          \
        (void)st;                                                                                  \
        (void)sizeof(ais__U);                                                                      \
        const ais__ew_uparams *P = p_;                                                             \
        (void)P;                                                                                   \
        ais__T *restrict o = o_;                                                                   \
        const ais__T *restrict X = in[0];                                                          \
        for (size_t i = 0; i < n; i++) {                                                           \
            ais__T x = X[i];                                                                       \
            o[i] = (ais__T)(EXPR);                                                                 \
        }                                                                                          \
    }

#endif /* AIS_ELEMENTWISE_CORE_H */
