/*
 * avx512_qdq.c - DynamicQuantizeLinear's two passes (the table's dynq_minmax and dynq_row) in
 * AVX-512: the quantization of a dynamic-quantized transformer's activations was its largest
 * cost after the GEMMs (bench/README.md, "qdyn"). Same results as the portable ones in
 * lib/ops/qdq_rows.c, which are the reference: x / s divided (not multiplied by 1 / s, which
 * rounds differently), rounded half to even by the conversion, NaN to 0.
 */
#include <immintrin.h>

#include "cpu/cpu.h"

static void ais__q512_dynq_minmax(const float *x, size_t n, float *mn, float *mx) {
    /* max_ps / min_ps return their second operand (the running value) for a NaN x: skipped */
    __m512 l0 = _mm512_set1_ps(*mn), l1 = l0, h0 = _mm512_set1_ps(*mx), h1 = h0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        h0 = _mm512_max_ps(a, h0);
        h1 = _mm512_max_ps(b, h1);
        l0 = _mm512_min_ps(a, l0);
        l1 = _mm512_min_ps(b, l1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = (__mmask16)(n - i >= 16 ? 0xffffu : (1u << (n - i)) - 1u);
        __m512 a = _mm512_maskz_loadu_ps(m, x + i);
        h0 = _mm512_mask_max_ps(h0, m, a, h0);
        l0 = _mm512_mask_min_ps(l0, m, a, l0);
    }
    *mx = _mm512_reduce_max_ps(_mm512_max_ps(h0, h1));
    *mn = _mm512_reduce_min_ps(_mm512_min_ps(l0, l1));
}

/* 16 values: x / s clamped to +-512 (past that the store saturates whatever zp; a NaN stays NaN
 * through both, min/max returning their second operand), converted rounding half to even (NaN:
 * INT_MIN), + zp, then saturated to u8 by max(., 0) and the unsigned narrowing. */
static inline __m128i ais__q512_dynq16(__m512 x, __m512 s, __m512i zp) {
    __m512 v = _mm512_div_ps(x, s);
    v = _mm512_max_ps(_mm512_set1_ps(-512.0f), _mm512_min_ps(_mm512_set1_ps(512.0f), v));
    __m512i q = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q = _mm512_max_epi32(_mm512_add_epi32(q, zp), _mm512_setzero_si512());
    return _mm512_cvtusepi32_epi8(q);
}

static void ais__q512_dynq_row(const float *x, float s, float zp, uint8_t *y, size_t n) {
    __m512 vs = _mm512_set1_ps(s);
    __m512i vz = _mm512_set1_epi32((int32_t)zp);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i *)(void *)(y + i),
                         ais__q512_dynq16(_mm512_loadu_ps(x + i), vs, vz));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        __m128i q = ais__q512_dynq16(_mm512_maskz_loadu_ps(m, x + i), vs, vz);
        _mm_mask_storeu_epi8(y + i, m, q);
    }
}

void ais__avx512_fill_qdq(ais__cpu_kernels *k) {
    k->dynq_minmax = ais__q512_dynq_minmax;
    k->dynq_row = ais__q512_dynq_row;
}
