/*
 * ref_conv.c - the portable convolution kernels: a depthwise plane tap by tap with bounds checks,
 * and the bias + activation pass. The reference the SIMD versions (x86/conv_kernel.h) are tested
 * against.
 */
#include <math.h>

#include "cpu/cpu.h"

void ais__cpu_ref_conv_dw(const float *x, const float *w, float bias, float *y,
                          const ais__conv_dw_geom *g, const ais__conv_act *act, float *scratch) {
    (void)scratch;
    for (int64_t oh = 0; oh < g->oh; oh++)
        for (int64_t ow = 0; ow < g->ow; ow++) {
            float s = bias;
            for (int64_t kh = 0; kh < g->kh; kh++) {
                int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                if (ih < 0 || ih >= g->ih) continue;
                for (int64_t kw = 0; kw < g->kw; kw++) {
                    int64_t iw = ow * g->sw - g->pw + kw * g->dw;
                    if (iw < 0 || iw >= g->iw) continue;
                    s += w[kh * g->kw + kw] * x[ih * g->iw + iw];
                }
            }
            y[oh * g->ow + ow] = ais__conv_act1(act, s);
        }
}

void ais__cpu_ref_pool_max2d(const float *x, float *y, const ais__conv_dw_geom *g, float *scratch) {
    (void)scratch;
    for (int64_t oh = 0; oh < g->oh; oh++)
        for (int64_t ow = 0; ow < g->ow; ow++) {
            float m = -INFINITY;
            bool any = false;
            for (int64_t kh = 0; kh < g->kh; kh++) {
                int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                if (ih < 0 || ih >= g->ih) continue;
                for (int64_t kw = 0; kw < g->kw; kw++) {
                    int64_t iw = ow * g->sw - g->pw + kw * g->dw;
                    if (iw < 0 || iw >= g->iw) continue;
                    float v = x[ih * g->iw + iw];
                    if (v > m || !any) m = v;
                    any = true;
                }
            }
            y[oh * g->ow + ow] = m;
        }
}

static void ais__ref_conv_act(float *y, size_t n, float bias, const ais__conv_act *act) {
    for (size_t i = 0; i < n; i++)
        y[i] = ais__conv_act1(act, y[i] + bias);
}

/* The portable dwconv_planes: the reference plane per channel (it reads no scratch). */
static void ais__ref_dwconv_planes(const float *x, const float *w, const float *bias, float *y,
                                   int64_t n, const ais__conv_dw_geom *g,
                                   const ais__conv_act *act) {
    for (int64_t c = 0; c < n; c++)
        ais__cpu_ref_conv_dw(x + c * g->ih * g->iw, w + c * g->kh * g->kw, bias ? bias[c] : 0.0f,
                             y + c * g->oh * g->ow, g, act, NULL);
}

void ais__cpu_ref_conv_pw(const float *x, const float *w, const float *bias, float *y, int64_t k,
                          int64_t m, int64_t ld, int64_t q0, int64_t q1, const ais__conv_act *act) {
    for (int64_t co = 0; co < m; co++)
        for (int64_t q = q0; q < q1; q++) {
            float s = bias ? bias[co] : 0.0f;
            for (int64_t c = 0; c < k; c++)
                s += w[co * k + c] * x[c * ld + q];
            y[co * ld + q] = ais__conv_act1(act, s);
        }
}

void ais__cpu_fill_ref_conv(ais__cpu_kernels *k) {
    k->conv_dw = ais__cpu_ref_conv_dw;
    k->dwconv_planes = ais__ref_dwconv_planes;
    k->conv_act = ais__ref_conv_act;
    k->conv_nchwc_row = ais__cpu_ref_conv_nchwc_row; /* conv_nchwc_block stays 0 */
    k->conv_nchwc_unblock = ais__cpu_ref_conv_nchwc_unblock;
    k->pool_max2d = ais__cpu_ref_pool_max2d;
}
