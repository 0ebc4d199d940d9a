/*
 * qdq_rows.c - see qdq_rows.h. Rounding half to even is done by adding and subtracting
 * 1.5 * 2^23 (exact for |v| < 2^22 in the default rounding mode), after a clamp to +-512: past
 * that the result saturates whatever the zero point (at most 255 away), so the clamp changes
 * nothing that is stored. Every select is branch-free so that the loops vectorize.
 */
#include "qdq_rows.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

void ais__qdq_minmax_row(const float *x, size_t n, float *mn, float *mx) {
    size_t i = 0;
    float lo = *mn, hi = *mx;
#if defined(__SSE2__)
    /* GCC does not vectorize this reduction of selects; maxps/minps return their second operand
     * (the running value) for a NaN x, which is skipped as fmaxf/fminf skip it */
    __m128 l0 = _mm_set1_ps(lo), l1 = l0, h0 = _mm_set1_ps(hi), h1 = h0;
    for (; i + 8 <= n; i += 8) {
        __m128 a = _mm_loadu_ps(x + i), b = _mm_loadu_ps(x + i + 4);
        h0 = _mm_max_ps(a, h0);
        h1 = _mm_max_ps(b, h1);
        l0 = _mm_min_ps(a, l0);
        l1 = _mm_min_ps(b, l1);
    }
    float hv[8], lv[8];
    _mm_storeu_ps(hv, h0);
    _mm_storeu_ps(hv + 4, h1);
    _mm_storeu_ps(lv, l0);
    _mm_storeu_ps(lv + 4, l1);
    for (int j = 0; j < 8; j++) {
        hi = hv[j] > hi ? hv[j] : hi;
        lo = lv[j] < lo ? lv[j] : lo;
    }
#endif
    for (; i < n; i++) {
        hi = x[i] > hi ? x[i] : hi;
        lo = x[i] < lo ? x[i] : lo;
    }
    *mn = lo;
    *mx = hi;
}

void ais__qdq_dynamic_row(const float *x, float s, float zp, uint8_t *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i] / s;
        v = v == v ? v : -1024.0f; /* NaN -> 0 after the clamp below */
        float r = (ais__qdq_clamp512(v) + AIS__QDQ_MAGIC) - AIS__QDQ_MAGIC + zp;
        y[i] = AIS__QDQ_STORE(uint8_t, 0.0f, 255.0f, r);
    }
}
