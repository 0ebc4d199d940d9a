/*
 * resize.c - Resize (opsets 10 to 19) and the deprecated Upsample (7, 9), following ONNX's
 * reference (onnx/reference/ops/op_resize.py). Every output coordinate along every axis gets a
 * short list of (input index, weight) taps; an output element is the tensor product of its
 * axes' taps. Taps are computed once per axis, so the inner loop only gathers and multiplies.
 * Coordinates and weights are doubles, as the reference computes them.
 */
#include <math.h>
#include <string.h>

#include "op.h"

enum { AIS__RS_NEAREST, AIS__RS_LINEAR, AIS__RS_CUBIC };
enum {
    AIS__CT_HALF_PIXEL,
    AIS__CT_HALF_PIXEL_SYM,
    AIS__CT_PYTORCH,
    AIS__CT_ALIGN,
    AIS__CT_ASYM,
    AIS__CT_TF_CROP
};
enum { AIS__NM_PREFER_FLOOR, AIS__NM_PREFER_CEIL, AIS__NM_FLOOR, AIS__NM_CEIL };

/* Antialiasing widens the footprint as 1/scale; beyond this many taps a call is refused. */
#define AIS__RS_MAX_TAPS 4096

typedef struct {
    int mode, coord, nearest;
    double cubic_a, extrapolation;
    bool exclude_outside, antialias;
    size_t rank;
    int64_t in[AIS_MAX_DIMS], out[AIS_MAX_DIMS];
    double scale[AIS_MAX_DIMS];
    double roi[2 * AIS_MAX_DIMS];
    bool has_roi;
} ais__rs_geom;

static bool ais__rs_pick(const char *s, const char *const *names, size_t n, int *out) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return true;
        }
    return false;
}

static ais_status ais__rs_attrs(const ais__op_ctx *ctx, bool upsample, ais__rs_geom *g) {
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const coords[] = {"half_pixel",         "half_pixel_symmetric",
                                         "pytorch_half_pixel", "align_corners",
                                         "asymmetric",         "tf_crop_and_resize"};
    static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                           "ceil"};
    bool legacy = upsample || ctx->opset < 11;
    const char *m = ais__attr_string(ctx->attrs, "mode", "nearest");
    if (!ais__rs_pick(m, modes, legacy ? 2 : 3, &g->mode))
        return ais__error(AIS_E_INVALID_ARGUMENT, "mode '%s' is not one of nearest, linear%s", m,
                          legacy ? "" : ", cubic");
    if (legacy) {
        /* Upsample and Resize-10 map coordinates as x / scale and take the floor. */
        g->coord = AIS__CT_ASYM;
        g->nearest = AIS__NM_FLOOR;
        g->cubic_a = -0.75;
        return AIS_OK;
    }
    const char *c = ais__attr_string(ctx->attrs, "coordinate_transformation_mode", "half_pixel");
    if (!ais__rs_pick(c, coords, AIS__ARRAY_LEN(coords), &g->coord) ||
        (g->coord == AIS__CT_HALF_PIXEL_SYM && ctx->opset < 19))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "coordinate_transformation_mode '%s' is not supported", c);
    const char *n = ais__attr_string(ctx->attrs, "nearest_mode", "round_prefer_floor");
    if (!ais__rs_pick(n, nearests, AIS__ARRAY_LEN(nearests), &g->nearest))
        return ais__error(AIS_E_INVALID_ARGUMENT, "nearest_mode '%s' is not supported", n);
    g->cubic_a = ais__attr_float(ctx->attrs, "cubic_coeff_a", -0.75f);
    g->exclude_outside = ais__attr_int(ctx->attrs, "exclude_outside", 0) != 0;
    g->extrapolation = ais__attr_float(ctx->attrs, "extrapolation_value", 0.0f);
    g->antialias = ctx->opset >= 18 && ais__attr_int(ctx->attrs, "antialias", 0) != 0;
    if (g->antialias && g->mode == AIS__RS_NEAREST)
        return ais__error(AIS_E_INVALID_ARGUMENT, "antialias is not supported with mode nearest");
    return AIS_OK;
}

static bool ais__rs_present(const ais_tensor *t) { return t && t->numel > 0; }

/* Output shape, per-axis scales and the roi from the inputs (values) and attributes. */
static ais_status ais__rs_geometry(const ais__op_ctx *ctx, bool upsample,
                                   const ais_tensor *const *in, size_t n_in, ais__rs_geom *g) {
    memset(g, 0, sizeof *g);
    AIS__CHECK(ais__rs_attrs(ctx, upsample, g));
    const ais_tensor *x = in[0];
    size_t r = x->ndim;
    g->rank = r;
    for (size_t i = 0; i < r; i++) {
        g->in[i] = x->dims[i];
        g->out[i] = x->dims[i];
        g->scale[i] = 1.0;
        g->roi[i] = 0.0;
        g->roi[r + i] = 1.0;
    }
    bool legacy = upsample || ctx->opset < 11;
    const ais_tensor *roi = NULL, *scales = NULL, *sizes = NULL;
    const float *attr_scales = NULL;
    size_t n_attr_scales = 0;
    if (upsample && ctx->opset < 9) {
        if (!ais__attr_floats(ctx->attrs, "scales", &attr_scales, &n_attr_scales))
            return ais__error(AIS_E_INVALID_ARGUMENT, "attribute scales is required");
    } else if (legacy) {
        scales = n_in > 1 ? in[1] : NULL;
        if (!scales) return ais__error(AIS_E_INVALID_ARGUMENT, "input scales is required");
    } else {
        roi = n_in > 1 ? in[1] : NULL;
        scales = n_in > 2 ? in[2] : NULL;
        sizes = n_in > 3 ? in[3] : NULL;
    }
    /* axes (opset 18): which dimensions scales, sizes and roi describe. */
    int64_t axes[AIS_MAX_DIMS];
    size_t naxes = r;
    for (size_t i = 0; i < r; i++)
        axes[i] = (int64_t)i;
    const int64_t *av = NULL;
    size_t an = 0;
    if (!legacy && ctx->opset >= 18 && ais__attr_ints(ctx->attrs, "axes", &av, &an)) {
        if (an > r)
            return ais__error(AIS_E_INVALID_ARGUMENT, "axes has %zu values for rank %zu", an, r);
        bool seen[AIS_MAX_DIMS] = {false};
        for (size_t i = 0; i < an; i++) {
            if (!ais__norm_axis(av[i], (int64_t)r, &axes[i]))
                return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %zu",
                                  (long long)av[i], r);
            if (seen[axes[i]])
                return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld appears twice in axes",
                                  (long long)av[i]);
            seen[axes[i]] = true;
        }
        naxes = an;
    }
    if (ais__rs_present(scales) && ais__rs_present(sizes))
        return ais__error(AIS_E_INVALID_ARGUMENT, "scales and sizes are both given; give one");
    if (ais__rs_present(roi) && g->coord == AIS__CT_TF_CROP) {
        if (!ais__dtype_is_float(roi->dtype))
            return ais__error(AIS_E_DTYPE, "roi must be a float tensor, got %s",
                              ais_dtype_name(roi->dtype));
        if (roi->numel != 2 * naxes)
            return ais__error(AIS_E_SHAPE, "roi has %zu values, expected %zu (2 x axes)",
                              roi->numel, 2 * naxes);
        for (size_t i = 0; i < naxes; i++) {
            g->roi[axes[i]] = ais__load_f64(roi->data, roi->dtype, i);
            g->roi[r + (size_t)axes[i]] = ais__load_f64(roi->data, roi->dtype, naxes + i);
        }
        g->has_roi = true;
    } else if (g->coord == AIS__CT_TF_CROP) {
        return ais__error(AIS_E_INVALID_ARGUMENT, "tf_crop_and_resize needs the roi input");
    }
    if (ais__rs_present(sizes)) {
        int64_t sz[AIS_MAX_DIMS];
        size_t ns = 0;
        AIS__CHECK(ais__read_int_list(sizes, "sizes", sz, AIS_MAX_DIMS, &ns));
        if (ns != naxes)
            return ais__error(AIS_E_SHAPE, "sizes has %zu values, expected %zu", ns, naxes);
        for (size_t i = 0; i < naxes; i++) {
            size_t a = (size_t)axes[i];
            if (sz[i] < 0)
                return ais__error(AIS_E_INVALID_ARGUMENT, "sizes[%zu] is %lld, must be >= 0", i,
                                  (long long)sz[i]);
            if (g->in[a] == 0 && sz[i] != 0)
                return ais__error(AIS_E_SHAPE, "axis %zu is empty and cannot be resized to %lld", a,
                                  (long long)sz[i]);
            g->out[a] = sz[i];
            g->scale[a] = g->in[a] ? (double)sz[i] / (double)g->in[a] : 1.0;
        }
        const char *pol = ctx->opset >= 18
                              ? ais__attr_string(ctx->attrs, "keep_aspect_ratio_policy", "stretch")
                              : "stretch";
        bool larger = strcmp(pol, "not_larger") == 0, smaller = strcmp(pol, "not_smaller") == 0;
        if (!larger && !smaller && strcmp(pol, "stretch") != 0)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "keep_aspect_ratio_policy '%s' is not one of stretch, not_larger, "
                              "not_smaller",
                              pol);
        if (larger || smaller) {
            double s = g->scale[axes[0]];
            for (size_t i = 1; i < naxes; i++) {
                double v = g->scale[axes[i]];
                s = larger ? fmin(s, v) : fmax(s, v);
            }
            for (size_t i = 0; i < naxes; i++) {
                size_t a = (size_t)axes[i];
                g->scale[a] = s;
                g->out[a] = (int64_t)(s * (double)g->in[a] + 0.5);
            }
        }
    } else {
        size_t ns = 0;
        double sc[AIS_MAX_DIMS];
        if (attr_scales) {
            ns = n_attr_scales;
            for (size_t i = 0; i < ns && i < AIS_MAX_DIMS; i++)
                sc[i] = attr_scales[i];
        } else {
            if (!ais__rs_present(scales))
                return ais__error(AIS_E_INVALID_ARGUMENT, "neither scales nor sizes is given");
            if (!ais__dtype_is_float(scales->dtype))
                return ais__error(AIS_E_DTYPE, "scales must be a float tensor, got %s",
                                  ais_dtype_name(scales->dtype));
            ns = scales->numel;
            for (size_t i = 0; i < ns && i < AIS_MAX_DIMS; i++)
                sc[i] = ais__load_f64(scales->data, scales->dtype, i);
        }
        if (ns != naxes)
            return ais__error(AIS_E_SHAPE, "scales has %zu values, expected %zu", ns, naxes);
        for (size_t i = 0; i < naxes; i++) {
            size_t a = (size_t)axes[i];
            if (!(sc[i] > 0) || !isfinite(sc[i]))
                return ais__error(AIS_E_INVALID_ARGUMENT, "scales[%zu] is %g, must be > 0", i,
                                  sc[i]);
            double o = sc[i] * (double)g->in[a];
            if (o >= 4.0e18)
                return ais__error(AIS_E_LIMIT, "scales[%zu] = %g makes axis %zu too large", i,
                                  sc[i], a);
            g->scale[a] = sc[i];
            g->out[a] = (int64_t)o;
        }
    }
    return ais__shape_validate(g->out, r, x->dtype, "output");
}

static ais_status ais__rs_infer_common(ais__op_ctx *ctx, bool upsample, const ais_tensor *const *in,
                                       size_t n_in, ais__tensor_desc *out) {
    AIS__CHECK(ais__expect_dtype(in[0], "X", AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_F16,
                                 AIS_DTYPE_BF16, AIS_DTYPE_U8, AIS_DTYPE_I8, AIS_DTYPE_I32,
                                 AIS_DTYPE_I64, AIS_DTYPE_UNDEFINED));
    ais__rs_geom g;
    AIS__CHECK(ais__rs_geometry(ctx, upsample, in, n_in, &g));
    ais__desc_set(&out[0], in[0]->dtype, g.out, g.rank);
    return AIS_OK;
}

static ais_status ais__rs_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, size_t n_out) {
    return ais__rs_infer_common(ctx, false, in, n_in, out);
}
static ais_status ais__up_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, size_t n_out) {
    return ais__rs_infer_common(ctx, true, in, n_in, out);
}

/* The number of taps along an axis (the reference's len(coeffs)). */
static int64_t ais__rs_ntaps(const ais__rs_geom *g, double scale) {
    if (!g->antialias) return g->mode == AIS__RS_CUBIC ? 4 : 2;
    double s = fmin(scale, 1.0);
    if (g->mode == AIS__RS_LINEAR) return 2 - 2 * ((int64_t)floor(-1.0 / s) + 1);
    return 2 - 2 * ((int64_t)floor(-2.0 / s) + 1);
}

static double ais__rs_cubic(double x, double a) {
    x = fabs(x);
    double x2 = x * x, x3 = x * x2;
    if (x <= 1) return (a + 2) * x3 - (a + 3) * x2 + 1;
    if (x < 2) return a * x3 - 5 * a * x2 + 8 * a * x - 4 * a;
    return 0.0;
}

/* Weights for `ratio` in (0, 1] into c[0..n). */
static void ais__rs_coeffs(const ais__rs_geom *g, double ratio, double scale, int64_t n,
                           double *c) {
    if (g->mode == AIS__RS_NEAREST) {
        bool second;
        if (ratio == 1.0)
            second = true;
        else if (g->nearest == AIS__NM_PREFER_FLOOR)
            second = ratio > 0.5;
        else if (g->nearest == AIS__NM_PREFER_CEIL)
            second = ratio >= 0.5;
        else
            second = g->nearest == AIS__NM_CEIL;
        c[0] = second ? 0.0 : 1.0;
        c[1] = second ? 1.0 : 0.0;
        return;
    }
    if (!g->antialias) {
        if (g->mode == AIS__RS_LINEAR) {
            c[0] = 1 - ratio;
            c[1] = ratio;
            return;
        }
        double a = g->cubic_a, r1 = ratio + 1, q = 1 - ratio, q1 = q + 1;
        c[0] = ((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a;
        c[1] = ((a + 2) * ratio - (a + 3)) * ratio * ratio + 1;
        c[2] = ((a + 2) * q - (a + 3)) * q * q + 1;
        c[3] = ((a * q1 - 5 * a) * q1 + 8 * a) * q1 - 4 * a;
        return;
    }
    double s = fmin(scale, 1.0), sum = 0;
    int64_t start = 1 - n / 2;
    for (int64_t i = 0; i < n; i++) {
        double arg = s * ((double)(start + i) - ratio);
        c[i] = g->mode == AIS__RS_LINEAR ? fmin(fmax(1 - fabs(arg), 0.0), 1.0)
                                         : ais__rs_cubic(arg, g->cubic_a);
        sum += c[i];
    }
    for (int64_t i = 0; i < n; i++)
        c[i] /= sum;
}

/* Source coordinate of output index x along axis a; false when tf_crop_and_resize puts it
 * outside the input (the element is then the extrapolation value). */
static bool ais__rs_coord(const ais__rs_geom *g, size_t a, int64_t xi, double *xo) {
    double x = (double)xi, in = (double)g->in[a], s = g->scale[a], ow = s * in;
    switch (g->coord) {
    case AIS__CT_ALIGN: *xo = ow == 1 ? 0.0 : x * (in - 1) / (ow - 1); break;
    case AIS__CT_ASYM: *xo = x / s; break;
    case AIS__CT_TF_CROP: {
        double r0 = g->roi[a], r1 = g->roi[g->rank + a];
        *xo = ow == 1 ? (r1 - r0) * (in - 1) / 2 : x * (r1 - r0) * (in - 1) / (ow - 1);
        *xo += r0 * (in - 1);
        return !(*xo < 0 || *xo > in - 1);
    }
    case AIS__CT_PYTORCH: *xo = ow == 1 ? -0.5 : (x + 0.5) / s - 0.5; break;
    case AIS__CT_HALF_PIXEL_SYM: {
        double adj = (double)g->out[a] / ow, center = in / 2;
        *xo = center * (1 - adj) + (x + 0.5) / s - 0.5;
        break;
    }
    default: *xo = (x + 0.5) / s - 0.5; break;
    }
    return true;
}

typedef struct {
    int64_t *idx; /* per axis: out * n entries (input offsets, already times the stride) */
    double *w;
    int32_t *cnt; /* per axis and output index: taps kept (zero weights dropped); -1 outside */
    int64_t n;
} ais__rs_axis;

static void ais__rs_build_axis(const ais__rs_geom *g, size_t a, int64_t stride, ais__rs_axis *t,
                               double *c) {
    int64_t n = t->n, in = g->in[a], pad = (n + 1) / 2;
    for (int64_t o = 0; o < g->out[a]; o++) {
        double xo = 0;
        int64_t *idx = t->idx + o * n;
        double *w = t->w + o * n;
        if (!ais__rs_coord(g, a, o, &xo)) {
            t->cnt[o] = -1;
            continue;
        }
        double fl = floor(xo);
        /* ratio in (0, 1]: an integer coordinate counts as the right end of the left cell */
        int64_t base = xo == fl ? (int64_t)fl - 1 : (int64_t)fl;
        double ratio = xo - (double)base;
        ais__rs_coeffs(g, ratio, g->scale[a], n, c);
        int64_t lo = base - (n / 2 - 1);
        if (lo < -pad) lo = -pad;
        if (lo + n > in + pad) lo = in + pad - n;
        if (g->exclude_outside) {
            double sum = 0;
            for (int64_t k = 0; k < n; k++) {
                if (lo + k < 0 || lo + k >= in) c[k] = 0;
                sum += c[k];
            }
            for (int64_t k = 0; k < n; k++)
                c[k] /= sum;
        }
        int32_t m = 0;
        for (int64_t k = 0; k < n; k++) {
            if (c[k] == 0) continue;
            int64_t i = AIS__MIN(AIS__MAX(lo + k, 0), in - 1);
            idx[m] = i * stride;
            w[m] = c[k];
            m++;
        }
        t->cnt[o] = m;
    }
}

static ais_status ais__rs_compute(ais__op_ctx *ctx, bool upsample, const ais_tensor *const *in,
                                  size_t n_in, ais_tensor *y) {
    const ais_tensor *x = in[0];
    ais__rs_geom g;
    AIS__CHECK(ais__rs_geometry(ctx, upsample, in, n_in, &g));
    if (y->numel == 0) return AIS_OK;
    size_t r = g.rank;
    /* Scratch: per axis idx (i64) and w (f64) of out*n, cnt (i32) of out, one coefficient row. */
    size_t bytes = 0, maxn = 1, off[AIS_MAX_DIMS][3];
    ais__rs_axis ax[AIS_MAX_DIMS];
    for (size_t a = 0; a < r; a++) {
        int64_t n = ais__rs_ntaps(&g, g.scale[a]);
        if (n < 1 || n > AIS__RS_MAX_TAPS)
            return ais__error(AIS_E_LIMIT, "axis %zu needs %lld taps, at most %d are supported", a,
                              (long long)n, AIS__RS_MAX_TAPS);
        ax[a].n = n;
        maxn = AIS__MAX(maxn, (size_t)n);
        size_t cells, b;
        if (!ais__mul_size((size_t)g.out[a], (size_t)n, &cells) || !ais__mul_size(cells, 16, &b) ||
            b > SIZE_MAX / 2 - bytes)
            return ais__error(AIS_E_LIMIT, "resize tables overflow");
        off[a][0] = bytes;
        off[a][1] = bytes + cells * 8;
        off[a][2] = bytes + b;
        bytes += b + ((size_t)g.out[a] * 4 + 7) / 8 * 8;
    }
    size_t coef_off = bytes;
    bytes += maxn * sizeof(double);
    char *s = ais__op_scratch(ctx, bytes);
    if (!s) return ais__oom(bytes, "resize tables");
    int64_t stride = 1;
    for (size_t a = r; a-- > 0;) {
        ax[a].idx = (int64_t *)(void *)(s + off[a][0]);
        ax[a].w = (double *)(void *)(s + off[a][1]);
        ax[a].cnt = (int32_t *)(void *)(s + off[a][2]);
        ais__rs_build_axis(&g, a, stride, &ax[a], (double *)(void *)(s + coef_off));
        stride *= g.in[a];
    }
    bool f32 = x->dtype == AIS_DTYPE_F32;
    const float *xf = x->data;
    float *yf = y->data;
    int64_t c[AIS_MAX_DIMS] = {0};
    for (size_t i = 0; i < y->numel; i++) {
        bool outside = false;
        bool none = false;
        for (size_t a = 0; a < r; a++) {
            outside |= ax[a].cnt[c[a]] < 0;
            none |= ax[a].cnt[c[a]] == 0;
        }
        double v = 0;
        if (outside) {
            v = g.extrapolation;
        } else if (none) {
            v = 0; /* every weight was zero */
        } else {
            /* odometer over the taps of every axis */
            int32_t k[AIS_MAX_DIMS] = {0};
            v = 0;
            for (;;) {
                double w = 1;
                int64_t src = 0;
                for (size_t a = 0; a < r; a++) {
                    size_t t = (size_t)(c[a] * ax[a].n + k[a]);
                    w *= ax[a].w[t];
                    src += ax[a].idx[t];
                }
                v += w * (f32 ? (double)xf[src] : ais__load_f64(x->data, x->dtype, (size_t)src));
                size_t a = r;
                while (a-- > 0) {
                    if (++k[a] < ax[a].cnt[c[a]]) break;
                    k[a] = 0;
                }
                if (a == (size_t)-1) break;
            }
        }
        if (f32)
            yf[i] = (float)v;
        else
            ais__store_f64(y->data, y->dtype, i, v);
        for (size_t a = r; a-- > 0;) {
            if (++c[a] < g.out[a]) break;
            c[a] = 0;
        }
    }
    return AIS_OK;
}

static ais_status ais__resize(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                              ais_tensor *const *out, size_t n_out) {
    return ais__rs_compute(ctx, false, in, n_in, out[0]);
}
static ais_status ais__upsample(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais_tensor *const *out, size_t n_out) {
    return ais__rs_compute(ctx, true, in, n_in, out[0]);
}

const ais__op_def ais__ops_resize[] = {
    {.domain = "",
     .name = "Resize",
     .since_version = 10,
     .min_inputs = 1,
     .max_inputs = 4,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__rs_infer,
     .compute = ais__resize,
     .value_inputs = 0xEu},
    {.domain = "",
     .name = "Upsample",
     .since_version = 7,
     .min_inputs = 1,
     .max_inputs = 2,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__up_infer,
     .compute = ais__upsample,
     .value_inputs = 0x2u},
    {.name = NULL},
};
