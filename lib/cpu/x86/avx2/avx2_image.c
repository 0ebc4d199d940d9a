/* avx2_image.c - the image resampling row (cpu.h, resample_u8_row) on AVX2: 32 bytes at a time,
 * four 8-lane int32 sums kept in registers over the taps; the clamp is an arithmetic shift and
 * two saturating packs, which give clip8's bytes exactly. */
#include <immintrin.h>

#include "cpu/cpu.h"

#define PRECISION_BITS 22

static void avx2_resample_u8_row(const uint8_t *src, size_t stride, const int32_t *k, int taps,
                                 uint8_t *dst, size_t n) {
    const __m256i half = _mm256_set1_epi32(1 << (PRECISION_BITS - 1));
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a0 = half, a1 = half, a2 = half, a3 = half;
        for (int t = 0; t < taps; t++) {
            const uint8_t *s = src + (size_t)t * stride + i;
            __m256i w = _mm256_set1_epi32(k[t]);
            __m128i lo = _mm_loadu_si128((const __m128i *)s);
            __m128i hi = _mm_loadu_si128((const __m128i *)(s + 16));
            a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(lo), w));
            a1 = _mm256_add_epi32(
                a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), w));
            a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(hi), w));
            a3 = _mm256_add_epi32(
                a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), w));
        }
        a0 = _mm256_srai_epi32(a0, PRECISION_BITS);
        a1 = _mm256_srai_epi32(a1, PRECISION_BITS);
        a2 = _mm256_srai_epi32(a2, PRECISION_BITS);
        a3 = _mm256_srai_epi32(a3, PRECISION_BITS);
        /* signed 32 -> 16 keeps negatives negative for the unsigned 16 -> 8 pack to clamp to 0;
         * packs work per 128-bit lane: [a0l a1l a0h a1h] -> fix the order with a permute */
        __m256i p01 = _mm256_packs_epi32(a0, a1), p23 = _mm256_packs_epi32(a2, a3);
        __m256i b = _mm256_packus_epi16(p01, p23);
        b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(dst + i), b);
    }
    for (; i < n; i++) {
        int32_t ss = 1 << (PRECISION_BITS - 1);
        for (int t = 0; t < taps; t++)
            ss += src[(size_t)t * stride + i] * k[t];
        dst[i] = ss >= (255 << PRECISION_BITS) ? 255
                 : ss <= 0                     ? 0
                                               : (uint8_t)(ss >> PRECISION_BITS);
    }
}

/* Eight output pixels at a time: one 32-bit gather per tap brings each pixel's three bytes (and
 * one more), shifted apart into three int32 sums; the results are clamped, packed back to
 * 3-byte pixels with a byte shuffle, and stored 12 bytes per 128-bit half (16-byte stores, the
 * extra 4 bytes overwritten by the next block or landing in the slack). */
static void avx2_resample_rgb_row(const uint8_t *src, const int32_t *off, const int32_t *k,
                                  int taps, uint8_t *dst, size_t n) {
    const __m256i half = _mm256_set1_epi32(1 << (PRECISION_BITS - 1));
    const __m256i lo8 = _mm256_set1_epi32(0xFF), zero = _mm256_setzero_si256();
    const __m256i max8 = _mm256_set1_epi32(255);
    const __m256i pack = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0,
                                          1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    size_t x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256i r = half, g = half, b = half;
        for (int t = 0; t < taps; t++) {
            __m256i o = _mm256_loadu_si256((const __m256i *)(off + (size_t)t * n + x));
            __m256i w = _mm256_loadu_si256((const __m256i *)(k + (size_t)t * n + x));
            __m256i p = _mm256_i32gather_epi32((const int *)(const void *)src, o, 1);
            r = _mm256_add_epi32(r, _mm256_mullo_epi32(_mm256_and_si256(p, lo8), w));
            g = _mm256_add_epi32(
                g, _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(p, 8), lo8), w));
            b = _mm256_add_epi32(
                b, _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(p, 16), lo8), w));
        }
        r = _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(r, PRECISION_BITS), zero), max8);
        g = _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(g, PRECISION_BITS), zero), max8);
        b = _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(b, PRECISION_BITS), zero), max8);
        __m256i v =
            _mm256_or_si256(r, _mm256_or_si256(_mm256_slli_epi32(g, 8), _mm256_slli_epi32(b, 16)));
        v = _mm256_shuffle_epi8(v, pack);
        _mm_storeu_si128((__m128i *)(dst + 3 * x), _mm256_castsi256_si128(v));
        _mm_storeu_si128((__m128i *)(dst + 3 * x + 12), _mm256_extracti128_si256(v, 1));
    }
    for (; x < n; x++) {
        int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
        for (int t = 0; t < taps; t++) {
            const uint8_t *p = src + off[(size_t)t * n + x];
            int32_t w = k[(size_t)t * n + x];
            s0 += p[0] * w, s1 += p[1] * w, s2 += p[2] * w;
        }
        dst[3 * x] = s0 >= (255 << PRECISION_BITS) ? 255 : s0 <= 0 ? 0 : (uint8_t)(s0 >> 22);
        dst[3 * x + 1] = s1 >= (255 << PRECISION_BITS) ? 255 : s1 <= 0 ? 0 : (uint8_t)(s1 >> 22);
        dst[3 * x + 2] = s2 >= (255 << PRECISION_BITS) ? 255 : s2 <= 0 ? 0 : (uint8_t)(s2 >> 22);
    }
}

void ais__avx2_fill_image(ais__cpu_kernels *k) {
    k->resample_u8_row = avx2_resample_u8_row;
    k->resample_rgb_row = avx2_resample_rgb_row;
}
