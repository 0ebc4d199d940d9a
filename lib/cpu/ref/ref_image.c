/* ref_image.c - the portable image resampling rows (cpu.h, resample_u8_row and
 * resample_rgb_row). */
#include "cpu/cpu.h"

#define PRECISION_BITS 22

static uint8_t clip8(int32_t ss) {
    return ss >= (255 << PRECISION_BITS) ? 255 : ss <= 0 ? 0 : (uint8_t)(ss >> PRECISION_BITS);
}

static void ref_resample_u8_row(const uint8_t *src, size_t stride, const int32_t *k, int taps,
                                uint8_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int32_t ss = 1 << (PRECISION_BITS - 1);
        for (int t = 0; t < taps; t++)
            ss += src[(size_t)t * stride + i] * k[t];
        dst[i] = clip8(ss);
    }
}

static void ref_resample_rgb_row(const uint8_t *src, const int32_t *off, const int32_t *k, int taps,
                                 uint8_t *dst, size_t n) {
    for (size_t x = 0; x < n; x++) {
        int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
        for (int t = 0; t < taps; t++) {
            const uint8_t *p = src + off[(size_t)t * n + x];
            int32_t w = k[(size_t)t * n + x];
            s0 += p[0] * w, s1 += p[1] * w, s2 += p[2] * w;
        }
        dst[3 * x] = clip8(s0), dst[3 * x + 1] = clip8(s1), dst[3 * x + 2] = clip8(s2);
    }
}

void ais__cpu_fill_ref_image(ais__cpu_kernels *k) {
    k->resample_u8_row = ref_resample_u8_row;
    k->resample_rgb_row = ref_resample_rgb_row;
}
