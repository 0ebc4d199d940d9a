/* dtype.c - element types: sizes, names, generic loads and stores, broadcasting of shapes. */
#include "tensor.h"

#include <math.h>
#include <stdio.h>

AIS_API size_t ais_dtype_size(ais_dtype dtype) {
    switch (dtype) {
    case AIS_DTYPE_F32: return 4;
    case AIS_DTYPE_U8: return 1;
    case AIS_DTYPE_I8: return 1;
    case AIS_DTYPE_U16: return 2;
    case AIS_DTYPE_I16: return 2;
    case AIS_DTYPE_I32: return 4;
    case AIS_DTYPE_I64: return 8;
    case AIS_DTYPE_BOOL: return 1;
    case AIS_DTYPE_F16: return 2;
    case AIS_DTYPE_F64: return 8;
    case AIS_DTYPE_U32: return 4;
    case AIS_DTYPE_U64: return 8;
    case AIS_DTYPE_BF16: return 2;
    case AIS_DTYPE_F8E4M3FN:
    case AIS_DTYPE_F8E4M3FNUZ:
    case AIS_DTYPE_F8E5M2:
    case AIS_DTYPE_F8E5M2FNUZ:
    case AIS_DTYPE_U4:
    case AIS_DTYPE_I4: return 1; /* 4-bit integers are unpacked in memory */
    case AIS_DTYPE_STRING: return sizeof(char *);
    default: return (int)dtype == (int)AIS__DTYPE_SEQUENCE ? sizeof(ais__sequence *) : 0;
    }
}

AIS_API const char *ais_dtype_name(ais_dtype dtype) {
    switch (dtype) {
    case AIS_DTYPE_F32: return "f32";
    case AIS_DTYPE_U8: return "u8";
    case AIS_DTYPE_I8: return "i8";
    case AIS_DTYPE_U16: return "u16";
    case AIS_DTYPE_I16: return "i16";
    case AIS_DTYPE_I32: return "i32";
    case AIS_DTYPE_I64: return "i64";
    case AIS_DTYPE_STRING: return "string";
    case AIS_DTYPE_BOOL: return "bool";
    case AIS_DTYPE_F16: return "f16";
    case AIS_DTYPE_F64: return "f64";
    case AIS_DTYPE_U32: return "u32";
    case AIS_DTYPE_U64: return "u64";
    case AIS_DTYPE_BF16: return "bf16";
    case AIS_DTYPE_F8E4M3FN: return "f8e4m3fn";
    case AIS_DTYPE_F8E4M3FNUZ: return "f8e4m3fnuz";
    case AIS_DTYPE_F8E5M2: return "f8e5m2";
    case AIS_DTYPE_F8E5M2FNUZ: return "f8e5m2fnuz";
    case AIS_DTYPE_U4: return "u4";
    case AIS_DTYPE_I4: return "i4";
    default: return (int)dtype == (int)AIS__DTYPE_SEQUENCE ? "sequence" : "undefined";
    }
}

bool ais__dtype_valid(ais_dtype dtype) { return ais_dtype_size(dtype) != 0; }

bool ais__dtype_is_float(ais_dtype d) {
    return d == AIS_DTYPE_F32 || d == AIS_DTYPE_F64 || d == AIS_DTYPE_F16 || d == AIS_DTYPE_BF16;
}

bool ais__dtype_is_int(ais_dtype d) {
    switch (d) {
    case AIS_DTYPE_U8:
    case AIS_DTYPE_I8:
    case AIS_DTYPE_U16:
    case AIS_DTYPE_I16:
    case AIS_DTYPE_I32:
    case AIS_DTYPE_I64:
    case AIS_DTYPE_U32:
    case AIS_DTYPE_U64: return true;
    default: return false;
    }
}

bool ais__dtype_is_signed(ais_dtype d) {
    return d == AIS_DTYPE_I8 || d == AIS_DTYPE_I16 || d == AIS_DTYPE_I32 || d == AIS_DTYPE_I64 ||
           ais__dtype_is_float(d);
}

double ais__load_f64(const void *data, ais_dtype dtype, size_t i) {
    switch (dtype) {
    case AIS_DTYPE_F32: return ((const float *)data)[i];
    case AIS_DTYPE_F64: return ((const double *)data)[i];
    case AIS_DTYPE_F16: return ais__f16_to_f32(((const uint16_t *)data)[i]);
    case AIS_DTYPE_BF16: return ais__bf16_to_f32(((const uint16_t *)data)[i]);
    case AIS_DTYPE_U8: return ((const uint8_t *)data)[i];
    case AIS_DTYPE_BOOL: return ((const uint8_t *)data)[i] != 0;
    case AIS_DTYPE_I8: return ((const int8_t *)data)[i];
    case AIS_DTYPE_U16: return ((const uint16_t *)data)[i];
    case AIS_DTYPE_I16: return ((const int16_t *)data)[i];
    case AIS_DTYPE_I32: return ((const int32_t *)data)[i];
    case AIS_DTYPE_I64: return (double)((const int64_t *)data)[i];
    case AIS_DTYPE_U32: return ((const uint32_t *)data)[i];
    case AIS_DTYPE_U64: return (double)((const uint64_t *)data)[i];
    case AIS_DTYPE_F8E4M3FN:
    case AIS_DTYPE_F8E4M3FNUZ:
    case AIS_DTYPE_F8E5M2:
    case AIS_DTYPE_F8E5M2FNUZ: return ais__f8_to_f32(((const uint8_t *)data)[i], dtype);
    case AIS_DTYPE_U4: return ((const uint8_t *)data)[i];
    case AIS_DTYPE_I4: return ((const int8_t *)data)[i];
    default: return 0;
    }
}

/* Float to integer conversion that is defined for every input (C leaves NaN and out-of-range
 * conversions undefined, and a hostile model can feed either). */
static int64_t ais__f64_to_i64_sat(double v) {
    if (isnan(v)) return 0;
    if (v >= 9.2233720368547758e18) return INT64_MAX;
    if (v <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)v;
}

static uint64_t ais__f64_to_u64_sat(double v) {
    if (isnan(v) || v <= 0) return v <= -1.0 ? (uint64_t)ais__f64_to_i64_sat(v) : 0;
    if (v >= 1.8446744073709552e19) return UINT64_MAX;
    return (uint64_t)v;
}

void ais__store_f64(void *data, ais_dtype dtype, size_t i, double v) {
    switch (dtype) {
    case AIS_DTYPE_F32: ((float *)data)[i] = (float)v; break;
    case AIS_DTYPE_F64: ((double *)data)[i] = v; break;
    case AIS_DTYPE_F16: ((uint16_t *)data)[i] = ais__f32_to_f16((float)v); break;
    case AIS_DTYPE_BF16: ((uint16_t *)data)[i] = ais__f32_to_bf16((float)v); break;
    case AIS_DTYPE_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    case AIS_DTYPE_U8: ((uint8_t *)data)[i] = (uint8_t)ais__f64_to_i64_sat(v); break;
    case AIS_DTYPE_I8: ((int8_t *)data)[i] = (int8_t)ais__f64_to_i64_sat(v); break;
    case AIS_DTYPE_U16: ((uint16_t *)data)[i] = (uint16_t)ais__f64_to_i64_sat(v); break;
    case AIS_DTYPE_I16: ((int16_t *)data)[i] = (int16_t)ais__f64_to_i64_sat(v); break;
    case AIS_DTYPE_I32: ((int32_t *)data)[i] = (int32_t)ais__f64_to_i64_sat(v); break;
    case AIS_DTYPE_I64: ((int64_t *)data)[i] = ais__f64_to_i64_sat(v); break;
    case AIS_DTYPE_U32: ((uint32_t *)data)[i] = (uint32_t)ais__f64_to_i64_sat(v); break;
    case AIS_DTYPE_U64: ((uint64_t *)data)[i] = ais__f64_to_u64_sat(v); break;
    case AIS_DTYPE_F8E4M3FN:
    case AIS_DTYPE_F8E4M3FNUZ:
    case AIS_DTYPE_F8E5M2:
    case AIS_DTYPE_F8E5M2FNUZ: ((uint8_t *)data)[i] = ais__f32_to_f8((float)v, dtype, true); break;
    case AIS_DTYPE_U4:
    case AIS_DTYPE_I4: ((uint8_t *)data)[i] = ais__f32_to_int4((float)v, dtype); break;
    default: break;
    }
}

int64_t ais__load_i64(const void *data, ais_dtype dtype, size_t i) {
    switch (dtype) {
    case AIS_DTYPE_I64: return ((const int64_t *)data)[i];
    case AIS_DTYPE_I32: return ((const int32_t *)data)[i];
    case AIS_DTYPE_U64: return (int64_t)((const uint64_t *)data)[i];
    case AIS_DTYPE_U32: return ((const uint32_t *)data)[i];
    case AIS_DTYPE_I16: return ((const int16_t *)data)[i];
    case AIS_DTYPE_U16: return ((const uint16_t *)data)[i];
    case AIS_DTYPE_I8: return ((const int8_t *)data)[i];
    case AIS_DTYPE_U8:
    case AIS_DTYPE_BOOL: return ((const uint8_t *)data)[i];
    default: return ais__f64_to_i64_sat(ais__load_f64(data, dtype, i));
    }
}

ais_status ais__broadcast_shape(const char *op, const int64_t *a, size_t na, const int64_t *b,
                                size_t nb, int64_t *out, size_t *nout) {
    size_t n = AIS__MAX(na, nb);
    if (n > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "%s: broadcast rank %zu exceeds %d", op, n, AIS_MAX_DIMS);
    for (size_t i = 0; i < n; i++) {
        int64_t da = i < n - na ? 1 : a[i - (n - na)];
        int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
        if (da == db || db == 1) {
            out[i] = da;
        } else if (da == 1) {
            out[i] = db;
        } else {
            char sa[AIS__SHAPE_STR_MAX], sb[AIS__SHAPE_STR_MAX];
            return ais__error(AIS_E_SHAPE,
                              "%s: shapes %s and %s do not broadcast (dimension %zu: %lld vs %lld)",
                              op, ais__shape_str(a, na, sa, sizeof sa),
                              ais__shape_str(b, nb, sb, sizeof sb), i, (long long)da,
                              (long long)db);
        }
    }
    *nout = n;
    return AIS_OK;
}

void ais__broadcast_strides(const int64_t *in, size_t nin, const int64_t *out, size_t nout,
                            int64_t *strides) {
    int64_t s = 1;
    for (size_t k = nout; k-- > 0;) {
        size_t off = nout - nin;
        if (k < off) {
            strides[k] = 0;
            continue;
        }
        int64_t d = in[k - off];
        strides[k] = (d == 1 && out[k] != 1) ? 0 : s;
        s *= d;
    }
}
