/*
 * image_ops.c - the geometric steps of the image pipeline on 8-bit images: RGB conversion,
 * resizing, cropping and padding.
 *
 * Resizing is Pillow's (libImaging/Resample.c, Pillow 9 and later), which torchvision's
 * Resize runs on PIL images: separable, horizontal pass first into an 8-bit image of only the
 * rows the vertical pass reads, then vertical; triangle filter widened by the scale factor when
 * shrinking (antialias); coefficients normalized in double and rounded to 22-bit fixed point;
 * each pass rounds and clamps to 8 bits. Written the same way it gives Pillow's bytes exactly.
 * Nearest is Pillow's too: source index (int)(scale * (x + 0.5)), accumulated as Pillow does.
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu.h"
#include "image.h"

#define PRECISION_BITS (32 - 8 - 2)

static ais_status alloc_image(ais__image *img, uint32_t w, uint32_t h, uint32_t c,
                              const char *what) {
    size_t n = (size_t)w * h * c;
    *img = (ais__image){ais__malloc(n + AIS__IMAGE_SLACK), w, h, c};
    return img->px ? AIS_OK : ais__oom(n, what);
}

ais_status ais__image_to_rgb(ais__image *img, const char *what) {
    if (img->c == 3) return AIS_OK;
    ais__image out;
    AIS__CHECK(alloc_image(&out, img->w, img->h, 3, what));
    size_t n = (size_t)img->w * img->h;
    const uint8_t *s = img->px;
    uint8_t *d = out.px;
    /* PIL's convert("RGB"): gray is replicated, alpha dropped (not composited). */
    for (size_t i = 0; i < n; i++, d += 3, s += img->c) {
        uint8_t g = s[0];
        if (img->c >= 3)
            d[0] = s[0], d[1] = s[1], d[2] = s[2];
        else
            d[0] = d[1] = d[2] = g;
    }
    ais__image_free(img);
    *img = out;
    return AIS_OK;
}

static double triangle(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for in_size -> out_size over the whole
 * input: bounds[2 * i] is the first source index of output i, bounds[2 * i + 1] the tap count,
 * kk[i * ksize + t] the fixed-point weights. antialias false keeps the filter unwidened (plain
 * bilinear with align_corners=False, as torch's interpolate). */
static ais_status coeffs(uint32_t in_size, uint32_t out_size, bool antialias, int *ksize_out,
                         int **bounds_out, int32_t **kk_out, const char *what) {
    double scale = (double)in_size / out_size, filterscale = scale;
    if (filterscale < 1.0 || !antialias) filterscale = 1.0;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *pre = ais__malloc((size_t)out_size * ksize * sizeof *pre);
    int *bounds = ais__malloc((size_t)out_size * 2 * sizeof *bounds);
    int32_t *kk = ais__malloc((size_t)out_size * ksize * sizeof *kk);
    if (!pre || !bounds || !kk) {
        ais__free(pre), ais__free(bounds), ais__free(kk);
        return ais__oom((size_t)out_size * ksize * sizeof *pre, what);
    }
    for (uint32_t xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > (int)in_size) xmax = (int)in_size;
        xmax -= xmin;
        double *k = pre + (size_t)xx * ksize;
        int x;
        for (x = 0; x < xmax; x++) {
            double w = triangle((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++)
            k[x] = 0;
        bounds[xx * 2] = xmin;
        bounds[xx * 2 + 1] = xmax;
    }
    for (size_t i = 0; i < (size_t)out_size * ksize; i++)
        kk[i] = pre[i] < 0 ? (int32_t)(-0.5 + pre[i] * (1 << PRECISION_BITS))
                           : (int32_t)(0.5 + pre[i] * (1 << PRECISION_BITS));
    ais__free(pre);
    *ksize_out = ksize;
    *bounds_out = bounds;
    *kk_out = kk;
    return AIS_OK;
}

/* Pixels (c bytes each) of the rows [y0, y0 + h) of a w-wide image, transposed: dst row x holds
 * column x, h pixels. */
static void transpose(const uint8_t *src, uint32_t w, uint32_t y0, uint32_t h, uint32_t c,
                      uint8_t *dst) {
    /* tiles of 16 x 16 pixels keep both sides in the cache; 3 bytes are copied by hand, since
     * a memcpy call per pixel costs more than the resampling */
    for (uint32_t yb = 0; yb < h; yb += 16)
        for (uint32_t xb = 0; xb < w; xb += 16)
            for (uint32_t y = yb; y < yb + 16 && y < h; y++) {
                const uint8_t *s = src + ((size_t)(y + y0) * w + xb) * c;
                uint8_t *d = dst + ((size_t)xb * h + y) * c;
                uint32_t xe = xb + 16 < w ? xb + 16 : w;
                if (c == 3) {
                    for (uint32_t x = xb; x < xe; x++, s += 3, d += (size_t)h * 3)
                        d[0] = s[0], d[1] = s[1], d[2] = s[2];
                } else {
                    for (uint32_t x = xb; x < xe; x++, s += c, d += (size_t)h * c)
                        for (uint32_t k = 0; k < c; k++)
                            d[k] = s[k];
                }
            }
}

/* Rows [y0, y0 + out->h) of `in` resampled horizontally into out. RGB (what the pipeline
 * resizes) goes through the kernel table's row function over tap-major tables of source
 * offsets and weights (taps past a pixel's own have weight 0 and a clamped offset); other
 * channel counts through the transposed image and the vertical row function. Integer sums
 * either way: the bytes are Pillow's. */
static ais_status pass_h(const ais__image *in, uint32_t y0, ais__image *out, int ksize,
                         const int *bounds, const int32_t *kk, const char *what) {
    uint32_t c = in->c, h = out->h, W = out->w;
    const ais__cpu_kernels *cpu = ais__cpu();
    if (c == 3) {
        int32_t *off = ais__malloc((size_t)ksize * W * sizeof *off);
        int32_t *kt = ais__malloc((size_t)ksize * W * sizeof *kt);
        if (!off || !kt) {
            ais__free(off), ais__free(kt);
            return ais__oom((size_t)ksize * W * sizeof *off, what);
        }
        for (int t = 0; t < ksize; t++)
            for (uint32_t x = 0; x < W; x++) {
                int sx = bounds[x * 2] + t;
                if (sx > (int)in->w - 1) sx = (int)in->w - 1;
                off[(size_t)t * W + x] = sx * 3;
                kt[(size_t)t * W + x] = t < bounds[x * 2 + 1] ? kk[(size_t)x * ksize + t] : 0;
            }
        for (uint32_t y = 0; y < h; y++)
            cpu->resample_rgb_row(in->px + (size_t)(y + y0) * in->w * 3, off, kt, ksize,
                                  out->px + (size_t)y * W * 3, W);
        ais__free(off);
        ais__free(kt);
        return AIS_OK;
    }
    size_t col = (size_t)h * c;
    uint8_t *t_in = ais__malloc((size_t)in->w * col), *t_out = ais__malloc((size_t)W * col);
    if (!t_in || !t_out) {
        ais__free(t_in), ais__free(t_out);
        return ais__oom((size_t)in->w * col, what);
    }
    transpose(in->px, in->w, y0, h, c, t_in);
    for (uint32_t x = 0; x < W; x++)
        cpu->resample_u8_row(t_in + (size_t)bounds[x * 2] * col, col, kk + (size_t)x * ksize,
                             bounds[x * 2 + 1], t_out + (size_t)x * col, col);
    transpose(t_out, h, 0, W, c, out->px);
    ais__free(t_in);
    ais__free(t_out);
    return AIS_OK;
}

/* in resampled vertically into out; bounds are relative to in's first row. */
static void pass_v(const ais__image *in, ais__image *out, int ksize, const int *bounds,
                   const int32_t *kk) {
    size_t row = (size_t)in->w * in->c;
    const ais__cpu_kernels *cpu = ais__cpu();
    for (uint32_t y = 0; y < out->h; y++)
        cpu->resample_u8_row(in->px + (size_t)bounds[y * 2] * row, row, kk + (size_t)y * ksize,
                             bounds[y * 2 + 1], out->px + (size_t)y * row, row);
}

static ais_status resize_nearest(const ais__image *in, uint32_t w, uint32_t h, ais__image *out,
                                 const char *what) {
    AIS__CHECK(alloc_image(out, w, h, in->c, what));
    uint32_t *xs = ais__malloc((size_t)w * sizeof *xs);
    if (!xs) {
        ais__image_free(out);
        return ais__oom((size_t)w * sizeof *xs, what);
    }
    double a0 = (double)in->w / w, a4 = (double)in->h / h, xo = a0 * 0.5, yo = a4 * 0.5;
    for (uint32_t x = 0; x < w; x++, xo += a0) {
        int xi = xo < 0.0 ? -1 : (int)xo;
        xs[x] = xi < 0 ? 0 : xi >= (int)in->w ? in->w - 1 : (uint32_t)xi;
    }
    for (uint32_t y = 0; y < h; y++, yo += a4) {
        int yi = yo < 0.0 ? -1 : (int)yo;
        uint32_t sy = yi < 0 ? 0 : yi >= (int)in->h ? in->h - 1 : (uint32_t)yi;
        const uint8_t *src = in->px + (size_t)sy * in->w * in->c;
        uint8_t *dst = out->px + (size_t)y * w * in->c;
        for (uint32_t x = 0; x < w; x++)
            memcpy(dst + (size_t)x * in->c, src + (size_t)xs[x] * in->c, in->c);
    }
    ais__free(xs);
    return AIS_OK;
}

ais_status ais__image_resize(const ais__image *in, uint32_t w, uint32_t h, bool nearest,
                             bool antialias, ais__image *out, const char *what) {
    *out = (ais__image){0};
    if (w == in->w && h == in->h) {
        AIS__CHECK(alloc_image(out, w, h, in->c, what));
        memcpy(out->px, in->px, (size_t)w * h * in->c);
        return AIS_OK;
    }
    if (nearest) return resize_nearest(in, w, h, out, what);
    int kh = 0, kv = 0, *bh = NULL, *bv = NULL;
    int32_t *kkh = NULL, *kkv = NULL;
    ais__image tmp = {0};
    ais_status st = coeffs(in->h, h, antialias, &kv, &bv, &kkv, what);
    if (st == AIS_OK && w != in->w) st = coeffs(in->w, w, antialias, &kh, &bh, &kkh, what);
    const ais__image *src = in;
    if (st == AIS_OK && w != in->w) {
        /* only the rows the vertical pass reads */
        int first = h != in->h ? bv[0] : 0;
        int last = h != in->h ? bv[(h - 1) * 2] + bv[(h - 1) * 2 + 1] : (int)in->h;
        st = alloc_image(&tmp, w, (uint32_t)(last - first), in->c, what);
        if (st == AIS_OK) {
            for (uint32_t y = 0; h != in->h && y < h; y++)
                bv[y * 2] -= first;
            st = pass_h(in, (uint32_t)first, &tmp, kh, bh, kkh, what);
            src = &tmp;
        }
    }
    if (st == AIS_OK) {
        if (h != in->h) {
            st = alloc_image(out, w, h, in->c, what);
            if (st == AIS_OK) pass_v(src, out, kv, bv, kkv);
        } else {
            *out = tmp;
            tmp = (ais__image){0};
        }
    }
    ais__image_free(&tmp);
    ais__free(bh), ais__free(bv), ais__free(kkh), ais__free(kkv);
    return st;
}

ais_status ais__image_pad(const ais__image *in, const uint32_t ltrb[4], const uint8_t *fill,
                          ais__image *out, const char *what) {
    uint64_t w = (uint64_t)in->w + ltrb[0] + ltrb[2], h = (uint64_t)in->h + ltrb[1] + ltrb[3];
    if (w > AIS__IMAGE_MAX_SIDE || h > AIS__IMAGE_MAX_SIDE)
        return ais__error(AIS_E_LIMIT, "%s: padded image of %llu x %llu pixels is too large", what,
                          (unsigned long long)w, (unsigned long long)h);
    AIS__CHECK(alloc_image(out, (uint32_t)w, (uint32_t)h, in->c, what));
    uint32_t c = in->c;
    for (size_t i = 0; i < (size_t)w * h; i++)
        memcpy(out->px + i * c, fill, c);
    for (uint32_t y = 0; y < in->h; y++)
        memcpy(out->px + (((size_t)y + ltrb[1]) * w + ltrb[0]) * c, in->px + (size_t)y * in->w * c,
               (size_t)in->w * c);
    return AIS_OK;
}

ais_status ais__image_crop(const ais__image *in, uint32_t left, uint32_t top, uint32_t w,
                           uint32_t h, ais__image *out, const char *what) {
    if ((uint64_t)left + w > in->w || (uint64_t)top + h > in->h)
        return ais__error(AIS_E_INTERNAL, "%s: crop outside the image", what);
    AIS__CHECK(alloc_image(out, w, h, in->c, what));
    for (uint32_t y = 0; y < h; y++)
        memcpy(out->px + (size_t)y * w * in->c, in->px + (((size_t)y + top) * in->w + left) * in->c,
               (size_t)w * in->c);
    return AIS_OK;
}
