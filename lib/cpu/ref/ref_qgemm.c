/*
 * ref_qgemm.c - the portable int8 micro-kernel and epilogue store: the reference the SIMD levels
 * are tested against (tests/unit/test_cpu_qgemm.c), and the store the SIMD ones use for edges.
 */
#include <math.h>
#include <string.h>

#include "../cpu.h"

#define AIS__REF_QMR 4

static void ais__ref_qukernel(int64_t k4, const uint8_t *ap, const int8_t *bp, int64_t bstride,
                              int np, bool exact, int32_t *c) {
    (void)exact;
    for (int q = 0; q < np; q++)
        for (int r = 0; r < AIS__REF_QMR; r++)
            for (int j = 0; j < AIS__QGEMM_NR; j++) {
                uint32_t s = 0;
                for (int64_t kk = 0; kk < k4; kk++)
                    for (int t = 0; t < 4; t++)
                        s +=
                            (uint32_t)((int32_t)ap[(kk * AIS__REF_QMR + r) * 4 + t] *
                                       (int32_t)bp[q * bstride + (kk * AIS__QGEMM_NR + j) * 4 + t]);
                c[r * AIS__QGEMM_LDC + q * AIS__QGEMM_NR + j] = (int32_t)s;
            }
}

void ais__cpu_ref_q16_ukernel(int mr, int64_t k2, const int16_t *ap, const int16_t *bp,
                              int32_t *c) {
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < AIS__QGEMM_NR; j++) {
            uint32_t s = 0;
            for (int64_t kk = 0; kk < k2; kk++)
                for (int t = 0; t < 2; t++)
                    s += (uint32_t)((int32_t)ap[(kk * mr + r) * 2 + t] *
                                    (int32_t)bp[(kk * AIS__QGEMM_NR + j) * 2 + t]);
            c[r * AIS__QGEMM_LDC + j] = (int32_t)s;
        }
}

void ais__cpu_ref_q16_pack_b(const uint8_t *src, int64_t ld, int64_t k, bool is_signed, int32_t zp,
                             int16_t *dst, int32_t *sums) {
    int32_t s[AIS__QGEMM_NR] = {0};
    for (int64_t kk = 0; kk < (k + 1) / 2; kk++)
        for (int j = 0; j < AIS__QGEMM_NR; j++)
            for (int t = 0; t < 2; t++) {
                int64_t kx = 2 * kk + t;
                uint8_t b = kx < k ? src[kx * ld + j] : 0;
                int32_t v = kx < k ? (is_signed ? (int32_t)(int8_t)b : (int32_t)b) - zp : 0;
                dst[(kk * AIS__QGEMM_NR + j) * 2 + t] = (int16_t)v;
                s[j] += v;
            }
    if (sums) memcpy(sums, s, sizeof s);
}

void ais__cpu_ref_q8p_ukernel(int mr, int64_t k4, const int8_t *ap, const uint8_t *bp, int32_t *c) {
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < AIS__QGEMM_NR; j++) {
            uint32_t s = 0;
            for (int64_t kk = 0; kk < k4; kk++)
                for (int t = 0; t < 4; t++)
                    s += (uint32_t)((int32_t)ap[(kk * mr + r) * 4 + t] *
                                    (int32_t)bp[(kk * AIS__QGEMM_NR + j) * 4 + t]);
            c[r * AIS__QGEMM_LDC + j] = (int32_t)s;
        }
}

void ais__cpu_ref_q8p_pack_b(const uint8_t *src, int64_t ld, const int32_t *krows, int64_t k4,
                             uint8_t flip, uint8_t *dst) {
    for (int64_t kk = 0; kk < k4; kk++)
        for (int j = 0; j < AIS__QGEMM_NR; j++)
            for (int t = 0; t < 4; t++) {
                int32_t r = krows[kk * 4 + t];
                dst[(kk * AIS__QGEMM_NR + j) * 4 + t] = r < 0 ? 0 : (uint8_t)(src[r * ld + j] ^ flip);
            }
}

void ais__cpu_ref_qgemm_store(const ais__qgemm_ep *ep, const int32_t *c, int64_t i0, int64_t j0,
                              int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        int64_t i = i0 + r;
        for (int jj = 0; jj < cols; jj++) {
            int64_t j = j0 + jj;
            uint32_t u = (uint32_t)c[r * AIS__QGEMM_LDC + jj];
            if (ep->row_add) u += (uint32_t)ep->row_add[i];
            if (ep->col_add) u += (uint32_t)ep->col_add[j];
            if (ep->row_mul) u += (uint32_t)ep->row_mul[i] * (uint32_t)ep->col_mul[j];
            int32_t v = (int32_t)u;
            int64_t s = i * ep->scale_rs + j * ep->scale_cs, o = i * ep->ldy + j;
            if (ep->out == AIS__QGEMM_OUT_I32) {
                ((int32_t *)ep->y)[o] = v;
                continue;
            }
            if (ep->out == AIS__QGEMM_OUT_F32) {
                float f = (float)v * ep->fscale[s];
                ((float *)ep->y)[o] = ep->fbias ? f + ep->fbias[j] : f;
                continue;
            }
            double d;
            if (ep->dscale)
                d = rint((double)v * ep->dscale[s]) + (double)ep->zp;
            else
                d = (double)(nearbyintf((float)v * ep->fscale[s]) + (float)ep->zp);
            d = d > (double)ep->qmin ? d : (double)ep->qmin; /* NaN: qmin */
            d = d < (double)ep->qmax ? d : (double)ep->qmax;
            if (ep->out == AIS__QGEMM_OUT_U8)
                ((uint8_t *)ep->y)[o] = (uint8_t)(int32_t)d;
            else
                ((int8_t *)ep->y)[o] = (int8_t)(int32_t)d;
        }
    }
}

void ais__cpu_ref_q8_to_f32(const uint8_t *x, bool is_signed, int32_t zp, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = (float)((is_signed ? (int32_t)(int8_t)x[i] : (int32_t)x[i]) - zp);
}

void ais__cpu_ref_f32_to_i32(const float *y, int32_t *c, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        c[i] = (int32_t)y[i];
}

void ais__cpu_ref_qbin(const uint8_t *a, const uint8_t *b, int64_t b_step, int64_t n,
                       const ais__qbin_args *p, uint8_t *y) {
    float lo = p->is_signed ? -128.0f : 0.0f, hi = p->is_signed ? 127.0f : 255.0f;
    for (int64_t i = 0; i < n; i++) {
        int32_t ai = p->is_signed ? (int32_t)(int8_t)a[i] : (int32_t)a[i];
        int32_t bi = p->is_signed ? (int32_t)(int8_t)b[i * b_step] : (int32_t)b[i * b_step];
        float va = (float)(ai - p->za), vb = (float)(bi - p->zb);
        float v = p->mul ? va * vb * p->rm : va * p->ra + vb * p->rb;
        float r = nearbyintf(v) + (float)p->zc;
        r = r >= lo ? (r > hi ? hi : r) : lo; /* NaN: lo, as the SIMD max does */
        y[i] = p->is_signed ? (uint8_t)(int8_t)r : (uint8_t)r;
    }
}

void ais__cpu_ref_qdw_plane(const uint8_t *x, bool is_signed, int32_t xz, const int16_t *w,
                            const ais__conv_dw_geom *g, int32_t *acc) {
    for (int64_t oh = 0; oh < g->oh; oh++)
        for (int64_t ow = 0; ow < g->ow; ow++) {
            int32_t s = 0;
            for (int64_t kh = 0; kh < g->kh; kh++) {
                int64_t ih = oh * g->sh - g->ph + kh * g->dh;
                if (ih < 0 || ih >= g->ih) continue;
                for (int64_t kw = 0; kw < g->kw; kw++) {
                    int64_t iw = ow * g->sw - g->pw + kw * g->dw;
                    if (iw < 0 || iw >= g->iw) continue;
                    uint8_t b = x[ih * g->iw + iw];
                    int32_t v = is_signed ? (int32_t)(int8_t)b : (int32_t)b;
                    s += (v - xz) * (int32_t)w[kh * g->kw + kw];
                }
            }
            acc[oh * g->ow + ow] = s;
        }
}

void ais__cpu_fill_ref_qgemm(ais__cpu_kernels *k) {
    k->qgemm_mr = AIS__REF_QMR;
    k->qgemm_np = 1;
    k->qgemm_ukernel = ais__ref_qukernel;
    k->qgemm_store = ais__cpu_ref_qgemm_store;
    k->q8_to_f32 = ais__cpu_ref_q8_to_f32;
    k->f32_to_i32 = ais__cpu_ref_f32_to_i32;
    k->qbin = ais__cpu_ref_qbin;
}
