/* ref_nchwc.c - the portable row of the blocked (NCHWc) direct convolution, for any channel
 * block: the reference the AVX2 and AVX-512 rows are tested against (cpu.h, ais__nchwc_row). The
 * scalar level does not drive it (block 0 there): its convolutions keep im2col + BLAS. */
#include "../cpu.h"

void ais__cpu_ref_conv_nchwc_row(const ais__nchwc_row *a) {
    const int64_t bl = a->block, kvol = a->kh * a->kw;
    for (int b = 0; b < a->nblk; b++)
        for (int64_t q = a->q0; q < a->q1; q++)
            for (int64_t o = 0; o < bl; o++) {
                const int64_t oh = q / a->ow, ow = q % a->ow;
                float s = a->bias ? a->bias[b * bl + o] : 0.0f;
                for (int64_t ib = 0; ib < a->n_icb; ib++)
                    for (int64_t kh = 0; kh < a->kh; kh++)
                        for (int64_t kw = 0; kw < a->kw; kw++) {
                            const float *x = a->x + ib * a->x_icb +
                                             (oh * a->sh + kh * a->dh) * a->x_row +
                                             (ow * a->sw + kw * a->dw) * a->cb;
                            const float *w = a->w + b * a->w_ocb +
                                             (ib * kvol + kh * a->kw + kw) * a->cb * bl + o;
                            for (int64_t c = 0; c < a->cb; c++)
                                s += x[c] * w[c * bl];
                        }
                a->y[b * a->y_blk + (q - a->q0) * bl + o] = ais__conv_act1(&a->act, s);
            }
}

void ais__cpu_ref_conv_nchwc_unblock(const float *src, int64_t n, int64_t block, int64_t ch,
                                     float *dst, int64_t ld_dst) {
    for (int64_t c = 0; c < ch; c++)
        for (int64_t i = 0; i < n; i++)
            dst[c * ld_dst + i] = src[i * block + c];
}
