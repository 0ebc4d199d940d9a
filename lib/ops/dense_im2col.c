/* dense_im2col.c - im2col and col2im for 1-D to 3-D windows (everything is 3-D here). */
#include <string.h>

#include "dense_util.h"

/* Window positions o in the row for which o * s + off lies inside [0, n): [*lo, *hi). */
static inline void ais__valid_range(int64_t off, int64_t s, int64_t n, int64_t cols, int64_t *lo,
                                    int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = n - 1 - off < 0 ? 0 : (n - 1 - off) / s + 1;
    if (a > cols) a = cols;
    if (b > cols) b = cols;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* im2col reads im_src and writes col_dst; col2im reads col_src and adds into im_dst. */
static void ais__walk(const float *im_src, float *im_dst, const float *col_src, float *col_dst,
                      const ais__dense_win *w, int64_t kd, int64_t kh, int64_t kw, int64_t j0,
                      int64_t j1) {
    const bool add = im_dst != NULL;
    const int64_t o1 = w->col[1], o2 = w->col[2];
    int64_t od = j0 / (o1 * o2), oh = (j0 / o2) % o1, ow = j0 % o2;
    const int64_t offw = kw * w->dil[2] - w->pb[2], s2 = w->stride[2];
    int64_t lo, hi;
    ais__valid_range(offw, s2, w->im[2], o2, &lo, &hi);
    int64_t t = 0, total = j1 - j0;
    while (t < total) {
        int64_t run = AIS__MIN(o2 - ow, total - t);
        int64_t id = od * w->stride[0] - w->pb[0] + kd * w->dil[0];
        int64_t ih = oh * w->stride[1] - w->pb[1] + kh * w->dil[1];
        const int64_t base = t - ow; /* column of window position 0 of this row */
        if (id < 0 || id >= w->im[0] || ih < 0 || ih >= w->im[1]) {
            if (!add) memset(col_dst + t, 0, (size_t)run * sizeof(float));
        } else {
            const int64_t roff = (id * w->im[1] + ih) * w->im[2];
            int64_t a = AIS__MAX(lo, ow), b = AIS__MIN(hi, ow + run);
            if (b < a) b = a;
            if (add) {
                float *row = im_dst + roff;
                for (int64_t o = a; o < b; o++)
                    row[o * s2 + offw] += col_src[base + o];
            } else {
                const float *row = im_src + roff;
                float *c = col_dst;
                for (int64_t o = ow; o < a && o < ow + run; o++)
                    c[base + o] = 0;
                if (s2 == 1 && b > a)
                    memcpy(c + base + a, row + a + offw, (size_t)(b - a) * sizeof(float));
                else
                    for (int64_t o = a; o < b; o++)
                        c[base + o] = row[o * s2 + offw];
                for (int64_t o = AIS__MAX(b, ow); o < ow + run; o++)
                    c[base + o] = 0;
            }
        }
        t += run;
        ow = 0;
        if (++oh == o1) {
            oh = 0;
            od++;
        }
    }
}

void ais__dense_im2col(const float *im, int64_t ch, const ais__dense_win *w, int64_t j0, int64_t j1,
                       float *cols) {
    const int64_t isz = w->im[0] * w->im[1] * w->im[2], T = j1 - j0;
    int64_t r = 0;
    for (int64_t c = 0; c < ch; c++)
        for (int64_t kd = 0; kd < w->k[0]; kd++)
            for (int64_t kh = 0; kh < w->k[1]; kh++)
                for (int64_t kw = 0; kw < w->k[2]; kw++, r++)
                    ais__walk(im + c * isz, NULL, NULL, cols + r * T, w, kd, kh, kw, j0, j1);
}

void ais__dense_col2im(const float *cols, int64_t ch, const ais__dense_win *w, int64_t j0,
                       int64_t j1, float *im) {
    const int64_t isz = w->im[0] * w->im[1] * w->im[2], T = j1 - j0;
    int64_t r = 0;
    for (int64_t c = 0; c < ch; c++)
        for (int64_t kd = 0; kd < w->k[0]; kd++)
            for (int64_t kh = 0; kh < w->k[1]; kh++)
                for (int64_t kw = 0; kw < w->k[2]; kw++, r++)
                    ais__walk(NULL, im + c * isz, cols + r * T, NULL, w, kd, kh, kw, j0, j1);
}

/* A run of output positions inside one output row: where it starts (od, oh, ow), its length and
 * its first column in the panel. */
typedef struct ais__im2col_seg {
    int64_t od, oh, ow, len, t;
} ais__im2col_seg;

#define AIS__PACK_MAX_KW 32

void ais__dense_im2col_pack(const float *im, const ais__dense_win *w, int64_t r0, int64_t r1,
                            int64_t j0, int64_t j1, int64_t nr, float *dst) {
    const int64_t isz = w->im[0] * w->im[1] * w->im[2], kr = r1 - r0;
    const int64_t k12 = w->k[1] * w->k[2], kvol = w->k[0] * k12;
    const int64_t o1 = w->col[1], o2 = w->col[2], s2 = w->stride[2];
    if (w->k[2] > AIS__PACK_MAX_KW || nr > 64) {
        for (int64_t r = r0; r < r1; r++) {
            int64_t c = r / kvol, rem = r % kvol;
            int64_t kd = rem / k12, kh = (rem / w->k[2]) % w->k[1], kw = rem % w->k[2];
            float *d = dst + (r - r0) * nr;
            for (int64_t jq = j0; jq < j1; jq += nr, d += kr * nr) {
                int64_t je = AIS__MIN(jq + nr, j1);
                ais__walk(im + c * isz, NULL, NULL, d, w, kd, kh, kw, jq, je);
                for (int64_t t = je - jq; t < nr; t++)
                    d[t] = 0.0f;
            }
        }
        return;
    }
    /* The divisions once per panel and per kernel column, not per row and run. */
    int64_t offw[AIS__PACK_MAX_KW], lo[AIS__PACK_MAX_KW], hi[AIS__PACK_MAX_KW];
    for (int64_t kw = 0; kw < w->k[2]; kw++) {
        offw[kw] = kw * w->dil[2] - w->pb[2];
        ais__valid_range(offw[kw], s2, w->im[2], o2, &lo[kw], &hi[kw]);
    }
    ais__im2col_seg seg[65];
    for (int64_t jq = j0; jq < j1; jq += nr, dst += kr * nr) {
        int64_t je = AIS__MIN(jq + nr, j1), n_seg = 0;
        int64_t od = jq / (o1 * o2), oh = (jq / o2) % o1, ow = jq % o2;
        for (int64_t t = 0; t < je - jq;) {
            int64_t run = AIS__MIN(o2 - ow, je - jq - t);
            seg[n_seg++] = (ais__im2col_seg){od, oh, ow, run, t};
            t += run;
            ow = 0;
            if (++oh == o1) {
                oh = 0;
                od++;
            }
        }
        int64_t c = r0 / kvol, rem = r0 % kvol;
        int64_t kd = rem / k12, kh = (rem / w->k[2]) % w->k[1], kw = rem % w->k[2];
        for (int64_t r = r0; r < r1; r++) {
            float *d = dst + (r - r0) * nr;
            const float *img = im + c * isz;
            for (int64_t sI = 0; sI < n_seg; sI++) {
                const ais__im2col_seg *sg = &seg[sI];
                float *ds = d + sg->t - sg->ow; /* column of window position 0 of this row */
                int64_t id = sg->od * w->stride[0] - w->pb[0] + kd * w->dil[0];
                int64_t ih = sg->oh * w->stride[1] - w->pb[1] + kh * w->dil[1];
                int64_t e = sg->ow + sg->len;
                if (id < 0 || id >= w->im[0] || ih < 0 || ih >= w->im[1]) {
                    memset(ds + sg->ow, 0, (size_t)sg->len * sizeof(float));
                    continue;
                }
                const float *row = img + (id * w->im[1] + ih) * w->im[2];
                const int64_t off = offw[kw];
                int64_t a = AIS__MAX(lo[kw], sg->ow), b = AIS__MIN(hi[kw], e);
                if (b < a) b = a;
                int64_t o = sg->ow;
                for (; o < a; o++)
                    ds[o] = 0.0f;
                if (s2 == 1) {
                    if (b > a) memcpy(ds + a, row + a + off, (size_t)(b - a) * sizeof(float));
                    o = b;
                } else {
                    for (; o < b; o++)
                        ds[o] = row[o * s2 + off];
                }
                for (; o < e; o++)
                    ds[o] = 0.0f;
            }
            for (int64_t t = je - jq; t < nr; t++)
                d[t] = 0.0f;
            if (++kw == w->k[2]) {
                kw = 0;
                if (++kh == w->k[1]) {
                    kh = 0;
                    if (++kd == w->k[0]) {
                        kd = 0;
                        c++;
                    }
                }
            }
        }
    }
}
