/*
 * avx2_qdq.c - DynamicQuantizeLinear's two passes (the table's dynq_minmax and dynq_row) in AVX2;
 * see avx512_qdq.c. The portable ones in lib/ops/qdq_rows.c are the reference.
 */
#include <immintrin.h>
#include <math.h>

#include "cpu/cpu.h"

static void ais__q256_dynq_minmax(const float *x, size_t n, float *mn, float *mx) {
    /* max_ps / min_ps return their second operand (the running value) for a NaN x: skipped */
    __m256 l0 = _mm256_set1_ps(*mn), l1 = l0, h0 = _mm256_set1_ps(*mx), h1 = h0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        h0 = _mm256_max_ps(a, h0);
        h1 = _mm256_max_ps(b, h1);
        l0 = _mm256_min_ps(a, l0);
        l1 = _mm256_min_ps(b, l1);
    }
    float hv[8], lv[8], lo = *mn, hi = *mx;
    _mm256_storeu_ps(hv, _mm256_max_ps(h0, h1));
    _mm256_storeu_ps(lv, _mm256_min_ps(l0, l1));
    for (int j = 0; j < 8; j++) {
        hi = hv[j] > hi ? hv[j] : hi;
        lo = lv[j] < lo ? lv[j] : lo;
    }
    for (; i < n; i++) {
        hi = x[i] > hi ? x[i] : hi;
        lo = x[i] < lo ? x[i] : lo;
    }
    *mn = lo;
    *mx = hi;
}

/* 8 values to int32: see avx512_qdq.c's ais__q512_dynq16 (NaN converts to INT_MIN, which the
 * narrowing below saturates to 0). */
static inline __m256i ais__q256_dynq8(const float *x, __m256 s, __m256i zp) {
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(x), s);
    v = _mm256_max_ps(_mm256_set1_ps(-512.0f), _mm256_min_ps(_mm256_set1_ps(512.0f), v));
    return _mm256_add_epi32(_mm256_cvtps_epi32(v), zp);
}

static void ais__q256_dynq_row(const float *x, float s, float zp, uint8_t *y, size_t n) {
    __m256 vs = _mm256_set1_ps(s);
    __m256i vz = _mm256_set1_epi32((int32_t)zp);
    /* packs/packus interleave the 128-bit lanes: dwords A0 B0 C0 D0 A1 B1 C1 D1 back in order */
    __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a = ais__q256_dynq8(x + i, vs, vz), b = ais__q256_dynq8(x + i + 8, vs, vz);
        __m256i c = ais__q256_dynq8(x + i + 16, vs, vz), d = ais__q256_dynq8(x + i + 24, vs, vz);
        __m256i q = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
        _mm256_storeu_si256((__m256i *)(void *)(y + i), _mm256_permutevar8x32_epi32(q, order));
    }
    for (; i < n; i++) { /* the same arithmetic, one value at a time */
        float v = x[i] / s;
        v = v == v ? v : -1024.0f;
        v = v > 512.0f ? 512.0f : v < -512.0f ? -512.0f : v;
        float r = nearbyintf(v) + zp;
        y[i] = (uint8_t)(r < 0.0f ? 0.0f : r > 255.0f ? 255.0f : r);
    }
}

void ais__avx2_fill_qdq(ais__cpu_kernels *k) {
    k->dynq_minmax = ais__q256_dynq_minmax;
    k->dynq_row = ais__q256_dynq_row;
}
