/*
 * float8.c - the 8-bit float dtypes (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ) and 4-bit integers,
 * converted as ONNX's Cast specifies (its tables for saturate=1 and 0) and, bit for bit, as
 * ONNX's reference implementation does (onnx.helper.float32_to_float8e4m3 and friends,
 * onnx.subbyte) except in two overflow corners where the reference contradicts the spec and we
 * follow the spec, with saturate=0: E4M3FN of |x| in [480, 496) is NaN ([x] = 480 > 448; the
 * reference gives 448), and E5M2 of |x| in [61440, 65536) is infinity ([x] = 65536 > 57344; the
 * reference ORs the infinity code into 0x7B and gives NaN). No ONNX test data covers either.
 *
 * Encoding works on the float32 bits, as the reference does (a double is rounded to float32
 * first): the significand is rounded to nearest even at the target's mantissa width, with the
 * subnormal range handled by a wider shift, and the result composed as one integer so that a
 * carry out of the mantissa bumps the exponent by itself.
 */
#include <math.h>

#include "tensor.h"

typedef enum ais__f8_kind {
    AIS__F8_FN,   /* no infinities, NaN = S.1111.111 */
    AIS__F8_IEEE, /* infinities S.11111.00, NaNs S.11111.xx */
    AIS__F8_UZ,   /* no infinities, no negative zero, NaN = 0x80 */
} ais__f8_kind;

typedef struct ais__f8_format {
    int man_bits, bias;
    uint8_t max; /* code of the largest finite value */
    ais__f8_kind kind;
} ais__f8_format;

static bool ais__f8_format_of(ais_dtype d, ais__f8_format *f) {
    switch (d) {
    case AIS_DTYPE_F8E4M3FN: *f = (ais__f8_format){3, 7, 0x7E, AIS__F8_FN}; return true;
    case AIS_DTYPE_F8E4M3FNUZ: *f = (ais__f8_format){3, 8, 0x7F, AIS__F8_UZ}; return true;
    case AIS_DTYPE_F8E5M2: *f = (ais__f8_format){2, 15, 0x7B, AIS__F8_IEEE}; return true;
    case AIS_DTYPE_F8E5M2FNUZ: *f = (ais__f8_format){2, 16, 0x7F, AIS__F8_UZ}; return true;
    default: return false;
    }
}

bool ais__dtype_is_f8(ais_dtype d) {
    ais__f8_format f;
    return ais__f8_format_of(d, &f);
}

bool ais__dtype_is_int4(ais_dtype d) { return d == AIS_DTYPE_U4 || d == AIS_DTYPE_I4; }

float ais__f8_to_f32(uint8_t c, ais_dtype d) {
    ais__f8_format f;
    if (!ais__f8_format_of(d, &f)) return NAN;
    bool neg = (c & 0x80) != 0;
    int exp_field = (c & 0x7F) >> f.man_bits;
    int man = c & ((1 << f.man_bits) - 1);
    int exp_all = (1 << (7 - f.man_bits)) - 1;
    switch (f.kind) {
    case AIS__F8_UZ:
        if (c == 0x80) return NAN;
        break;
    case AIS__F8_FN:
        if ((c & 0x7F) == 0x7F) return neg ? -NAN : NAN;
        break;
    case AIS__F8_IEEE:
        if (exp_field == exp_all) {
            if (man == 0) return neg ? -INFINITY : INFINITY;
            return neg ? -NAN : NAN;
        }
        break;
    }
    float v = exp_field == 0 ? ldexpf((float)man, 1 - f.bias - f.man_bits)
                             : ldexpf((float)(man | (1 << f.man_bits)),
                                      exp_field - f.bias - f.man_bits);
    return neg ? -v : v;
}

/* What an out-of-range value (or infinity) becomes. */
static uint8_t ais__f8_overflow(const ais__f8_format *f, uint8_t sign, bool saturate) {
    if (saturate) return (uint8_t)(sign | f->max);
    switch (f->kind) {
    case AIS__F8_FN: return (uint8_t)(sign | 0x7F);
    case AIS__F8_IEEE: return (uint8_t)(sign | 0x7C);
    case AIS__F8_UZ: break;
    }
    return 0x80;
}

uint8_t ais__f32_to_f8(float x, ais_dtype d, bool saturate) {
    ais__f8_format f;
    if (!ais__f8_format_of(d, &f)) return 0;
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    uint8_t sign = (uint8_t)((b >> 24) & 0x80);
    uint32_t a = b & 0x7fffffffu;
    if (a > 0x7f800000u) return f.kind == AIS__F8_UZ ? 0x80 : (uint8_t)(sign | 0x7F); /* NaN */
    if (a == 0x7f800000u) return ais__f8_overflow(&f, sign, saturate);
    uint32_t e = a >> 23, code = 0;
    /* float32 subnormals lie far below half the smallest float8 subnormal: they round to 0 */
    if (e != 0) {
        int E = (int)e - 127, emin = 1 - f.bias;
        int shift = 23 - f.man_bits + (E < emin ? emin - E : 0);
        if (shift < 25) { /* at 25 or more the value is below half the smallest subnormal */
            uint32_t sig = (a & 0x7fffffu) | 0x800000u;
            uint32_t r = sig >> shift, rem = sig & ((1u << shift) - 1), half = 1u << (shift - 1);
            bool up = rem > half || (rem == half && (r & 1));
            uint32_t trunc = (E >= emin ? (uint32_t)(E - emin) << f.man_bits : 0) + r;
            code = trunc + (up ? 1u : 0u);
        }
    }
    if (code > f.max) return ais__f8_overflow(&f, sign, saturate);
    if (code == 0 && f.kind == AIS__F8_UZ) return 0; /* no negative zero */
    return (uint8_t)(sign | code);
}

uint8_t ais__f32_to_int4(float x, ais_dtype d) {
    bool s = d == AIS_DTYPE_I4;
    float lo = s ? -8.0f : 0.0f, hi = s ? 7.0f : 15.0f;
    if (x != x) return 0;
    x = x < lo ? lo : x > hi ? hi : x;
    int v = (int)nearbyintf(x); /* ties to even, the default rounding mode (np.rint) */
    return (uint8_t)(s ? (uint8_t)(int8_t)v : (uint8_t)v);
}
