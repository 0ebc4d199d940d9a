/* ref_winograd.c - the portable Winograd F(4x4, 3x3) tile transforms (cpu.h, wino_in and
 * wino_out): the reference the AVX2 and AVX-512 ones are tested against, and their channel tails.
 * The same operation order as ../x86/winograd_kernel.h, one channel at a time. */
#include "../cpu.h"

/* B^T of 6 values: rows (4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0),
 * (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1). */
static void ais__ref_bt6(const float d[6], float r[6]) {
    r[0] = 4.0f * d[0] + (-5.0f * d[2] + d[4]);
    r[1] = -4.0f * (d[1] + d[2]) + (d[3] + d[4]);
    r[2] = 4.0f * (d[1] - d[2]) + (d[4] - d[3]);
    r[3] = 2.0f * (d[3] - d[1]) + (d[4] - d[2]);
    r[4] = 2.0f * (d[1] - d[3]) + (d[4] - d[2]);
    r[5] = 4.0f * d[1] + (-5.0f * d[3] + d[5]);
}

/* A^T of 6 values: rows (1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0),
 * (0, 1, -1, 8, -8, 1). */
static void ais__ref_at6(const float m[6], float r[4]) {
    float s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    r[0] = m[0] + s12 + s34;
    r[1] = 2.0f * d34 + d12;
    r[2] = 4.0f * s34 + s12;
    r[3] = 8.0f * d34 + (d12 + m[5]);
}

void ais__cpu_ref_wino_in(const float *x, int64_t ld_row, int64_t ld_pix, int64_t n, float *v,
                          int64_t ld_v) {
    for (int64_t ch = 0; ch < n; ch++) {
        float t[6][6], d[6], r[6];
        for (int j = 0; j < 6; j++) {
            for (int i = 0; i < 6; i++)
                d[i] = x[i * ld_row + j * ld_pix + ch];
            ais__ref_bt6(d, r);
            for (int i = 0; i < 6; i++)
                t[i][j] = r[i];
        }
        for (int i = 0; i < 6; i++) {
            ais__ref_bt6(t[i], r);
            for (int j = 0; j < 6; j++)
                v[(i * 6 + j) * ld_v + ch] = r[j];
        }
    }
}

void ais__cpu_ref_wino_out(const float *m, int64_t ld_m, int64_t n, const float *bias, float *y,
                           int64_t ld_y) {
    for (int64_t ch = 0; ch < n; ch++) {
        float t[4][6], d[6], r[4];
        for (int j = 0; j < 6; j++) {
            for (int i = 0; i < 6; i++)
                d[i] = m[(i * 6 + j) * ld_m + ch];
            ais__ref_at6(d, r);
            for (int i = 0; i < 4; i++)
                t[i][j] = r[i];
        }
        float b = bias ? bias[ch] : 0.0f;
        for (int i = 0; i < 4; i++) {
            ais__ref_at6(t[i], r);
            for (int j = 0; j < 4; j++)
                y[ch * ld_y + i * 4 + j] = r[j] + b;
        }
    }
}

void ais__cpu_ref_wino_chlast(const float *x, int64_t ld_ch, int64_t n, int64_t w, float *d,
                              int64_t ld_d) {
    for (int64_t ch = 0; ch < n; ch++)
        for (int64_t col = 0; col < w; col++)
            d[col * ld_d + ch] = x[ch * ld_ch + col];
}

void ais__cpu_fill_ref_winograd(ais__cpu_kernels *k) {
    k->wino_in = ais__cpu_ref_wino_in;
    k->wino_out = ais__cpu_ref_wino_out;
    k->wino_chlast = ais__cpu_ref_wino_chlast;
}
