/*
 * qdq_rows.c - see qdq_rows.h. Rounding half to even is done by adding and subtracting
 * 1.5 * 2^23 (exact for |v| < 2^22 in the default rounding mode), after a clamp to +-512: past
 * that the result saturates whatever the zero point (at most 255 away), so the clamp changes
 * nothing that is stored. Every select is branch-free so that the loops vectorize.
 */
#include "qdq_rows.h"

#define AIS__QDQ_MAGIC 12582912.0f /* 1.5 * 2^23 */

static inline float ais__qdq_clamp512(float v) {
    v = v > 512.0f ? 512.0f : v;
    return v >= -512.0f ? v : v < -512.0f ? -512.0f : 0.0f; /* NaN -> 0 */
}

#define AIS__QDQ_STORE(T, LO, HI, r) ((T)((r) < (LO) ? (LO) : (r) > (HI) ? (HI) : (r)))

void ais__qdq_quantize_row(const float *x, float s, int32_t zp, void *y, size_t n, bool is_signed) {
    float z = (float)zp;
    if (is_signed) {
        int8_t *py = y;
        for (size_t i = 0; i < n; i++) {
            float r = (ais__qdq_clamp512(x[i] / s) + AIS__QDQ_MAGIC) - AIS__QDQ_MAGIC + z;
            py[i] = AIS__QDQ_STORE(int8_t, -128.0f, 127.0f, r);
        }
    } else {
        uint8_t *py = y;
        for (size_t i = 0; i < n; i++) {
            float r = (ais__qdq_clamp512(x[i] / s) + AIS__QDQ_MAGIC) - AIS__QDQ_MAGIC + z;
            py[i] = AIS__QDQ_STORE(uint8_t, 0.0f, 255.0f, r);
        }
    }
}

void ais__qdq_dequantize_row(const void *x, float s, int32_t zp, float *y, size_t n,
                             bool is_signed) {
    if (is_signed)
        for (size_t i = 0; i < n; i++)
            y[i] = (float)((int32_t)((const int8_t *)x)[i] - zp) * s;
    else
        for (size_t i = 0; i < n; i++)
            y[i] = (float)((int32_t)((const uint8_t *)x)[i] - zp) * s;
}
