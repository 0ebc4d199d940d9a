/*
 * pipeline_image.c - the image input kind: a spec whose one input has "type": "image" compiles
 * here (docs/pipeline-spec.md, "Image inputs"), and its runs decode each record's file, bytes
 * or pixels (lib/image) and apply the steps, threaded over the batch, into one [N, C, H, W] (or
 * [N, H, W, C]) tensor. Records, JSON lines, CSV and columns reach it through the same fill
 * callbacks as the tabular inputs, so field checks and unknown-field reports are shared.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "format/format.h"
#include "image/image.h"
#include "pipeline.h"

#define PATH_LEN 256

typedef enum { GEOM_RESIZE, GEOM_CROP, GEOM_PAD } geom_op;

typedef struct {
    geom_op op;
    uint32_t w, h;    /* resize to / crop to; resize: w == 0 means "shorter side to h" */
    bool nearest;     /* resize */
    bool antialias;   /* resize */
    uint32_t ltrb[4]; /* pad */
    uint8_t fill[3];  /* pad */
} geom_step;

typedef enum { F_TO_TENSOR, F_NORMALIZE } float_op;

struct ais__pl_image {
    geom_step geom[AIS__PL_MAX_STEPS];
    size_t n_geom;
    float_op fops[2];
    size_t n_fops;
    float mean[3], std[3];
    bool bgr, hwc;
    uint32_t out_w, out_h;
    ais__image_limits limits;
};

/* ---- the spec ---- */

static const cJSON *get(const cJSON *o, const char *k) {
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static ais_status keys_ok(const cJSON *obj, const char *path, const char *const *allowed) {
    if (!cJSON_IsObject(obj))
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s: expected an object", path);
    for (const cJSON *c = obj->child; c; c = c->next) {
        bool known = false;
        for (size_t i = 0; allowed[i]; i++)
            known = known || strcmp(c->string, allowed[i]) == 0;
        if (!known)
            return ais__error(AIS_E_FORMAT, "pipeline spec: %s: unknown key \"%.64s\"", path,
                              c->string);
        for (const cJSON *d = obj->child; d != c; d = d->next)
            if (strcmp(c->string, d->string) == 0)
                return ais__error(AIS_E_FORMAT, "pipeline spec: %s: duplicate key \"%.64s\"", path,
                                  c->string);
    }
    return AIS_OK;
}

/* An integer in [lo, hi] from a JSON number. */
static ais_status int_in(const cJSON *v, const char *path, const char *key, double lo, double hi,
                         uint32_t *out) {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s%s: expected an integer in [%g, %g]",
                          path, key, lo, hi);
    *out = (uint32_t)v->valuedouble;
    return AIS_OK;
}

/* n integers, or one integer standing for all n (torchvision's int-or-sequence sizes). */
static ais_status ints(const cJSON *v, const char *path, const char *key, size_t n_min,
                       size_t n_max, double lo, double hi, uint32_t *out, size_t *n) {
    if (cJSON_IsNumber(v)) {
        *n = 1;
        return int_in(v, path, key, lo, hi, out);
    }
    size_t count = (size_t)cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || count < n_min || count > n_max)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: %s%s: expected an integer or an array of %zu to %zu "
                          "integers",
                          path, key, n_min, n_max);
    size_t i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s%s[%zu]", path, key, i);
        AIS__CHECK(int_in(c, p, "", lo, hi, &out[i]));
    }
    *n = count;
    return AIS_OK;
}

static ais_status three_floats(const cJSON *v, const char *path, const char *key, float *out,
                               bool positive) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s.%s: expected an array of 3 numbers",
                          path, key);
    size_t i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble) || (positive && c->valuedouble <= 0))
            return ais__error(AIS_E_FORMAT, "pipeline spec: %s.%s[%zu]: expected a finite %s", path,
                              key, i, positive ? "number above 0" : "number");
        out[i] = (float)c->valuedouble;
    }
    return AIS_OK;
}

static ais_status enum_of(const cJSON *obj, const char *key, const char *path,
                          const char *const *names, int dflt, int *out) {
    const cJSON *v = get(obj, key);
    if (!v) {
        *out = dflt;
        return AIS_OK;
    }
    for (int i = 0; cJSON_IsString(v) && names[i]; i++)
        if (strcmp(v->valuestring, names[i]) == 0) {
            *out = i;
            return AIS_OK;
        }
    return ais__error(AIS_E_FORMAT, "pipeline spec: %s.%s: expected one of \"%s\", \"%s\"", path,
                      key, names[0], names[1]);
}

static ais_status parse_geom(const cJSON *st, const char *path, const char *op, geom_step *g,
                             bool *fixed, uint32_t *w, uint32_t *h) {
    uint32_t v[4];
    size_t n;
    if (strcmp(op, "resize") == 0) {
        static const char *const keys[] = {"op", "size", "interpolation", "antialias", NULL};
        static const char *const interp[] = {"bilinear", "nearest", NULL};
        AIS__CHECK(keys_ok(st, path, keys));
        AIS__CHECK(ints(get(st, "size"), path, ".size", 2, 2, 1, AIS__IMAGE_MAX_SIDE, v, &n));
        int mode;
        AIS__CHECK(enum_of(st, "interpolation", path, interp, 0, &mode));
        const cJSON *aa = get(st, "antialias");
        if (aa && !cJSON_IsBool(aa))
            return ais__error(AIS_E_FORMAT, "pipeline spec: %s.antialias: expected true or false",
                              path);
        *g = (geom_step){.op = GEOM_RESIZE,
                         .w = n == 2 ? v[1] : 0,
                         .h = v[0],
                         .nearest = mode == 1,
                         .antialias = !aa || cJSON_IsTrue(aa)};
        *fixed = n == 2;
        if (n == 2) *w = v[1], *h = v[0];
        return AIS_OK;
    }
    if (strcmp(op, "center_crop") == 0) {
        static const char *const keys[] = {"op", "size", NULL};
        AIS__CHECK(keys_ok(st, path, keys));
        AIS__CHECK(ints(get(st, "size"), path, ".size", 2, 2, 1, AIS__IMAGE_MAX_SIDE, v, &n));
        *g = (geom_step){.op = GEOM_CROP, .w = n == 2 ? v[1] : v[0], .h = v[0]};
        *fixed = true;
        *w = g->w, *h = g->h;
        return AIS_OK;
    }
    static const char *const keys[] = {"op", "padding", "fill", NULL};
    AIS__CHECK(keys_ok(st, path, keys));
    AIS__CHECK(ints(get(st, "padding"), path, ".padding", 2, 4, 0, 4096, v, &n));
    if (n == 3)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: %s.padding: expected 1, 2 or 4 integers, got 3", path);
    g->op = GEOM_PAD;
    /* torchvision's Pad: one for all sides, [left/right, top/bottom], or [l, t, r, b] */
    uint32_t l = v[0], t = n >= 2 ? v[1] : v[0];
    g->ltrb[0] = l, g->ltrb[1] = t;
    g->ltrb[2] = n == 4 ? v[2] : l, g->ltrb[3] = n == 4 ? v[3] : t;
    const cJSON *fill = get(st, "fill");
    if (fill) {
        uint32_t f[3];
        size_t nf;
        AIS__CHECK(ints(fill, path, ".fill", 3, 3, 0, 255, f, &nf));
        for (int i = 0; i < 3; i++)
            g->fill[i] = (uint8_t)f[nf == 1 ? 0 : i];
    }
    *w += g->ltrb[0] + g->ltrb[2];
    *h += g->ltrb[1] + g->ltrb[3];
    return AIS_OK;
}

static ais_status parse_steps(struct ais__pl_image *im, const cJSON *arr, const char *fpath) {
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || n > AIS__PL_MAX_STEPS)
        return ais__error(AIS_E_FORMAT, "pipeline spec: %s.steps: expected an array of at most %d",
                          fpath, AIS__PL_MAX_STEPS);
    bool fixed = false, seen[4] = {false};
    uint32_t w = 0, h = 0;
    size_t i = 0;
    for (const cJSON *st = arr->child; st; st = st->next, i++) {
        char path[PATH_LEN];
        snprintf(path, sizeof path, "%.200s.steps[%zu]", fpath, i);
        const cJSON *opv = cJSON_IsObject(st) ? get(st, "op") : NULL;
        static const char *const ops[] = {"resize",    "center_crop", "pad",    "channels",
                                          "to_tensor", "normalize",   "layout", NULL};
        int op = -1;
        for (int k = 0; cJSON_IsString(opv) && ops[k]; k++)
            if (strcmp(opv->valuestring, ops[k]) == 0) op = k;
        if (op < 0)
            return ais__error(AIS_E_FORMAT,
                              "pipeline spec: %s.op: expected one of the image steps \"resize\", "
                              "\"center_crop\", \"pad\", \"channels\", \"to_tensor\", "
                              "\"normalize\", \"layout\"",
                              path);
        if (op <= 2) {
            if (seen[0] || seen[1] || seen[2] || seen[3])
                return ais__error(AIS_E_FORMAT,
                                  "pipeline spec: %s: \"%s\" after a pixel-value step: resize, "
                                  "center_crop and pad come first",
                                  path, ops[op]);
            AIS__CHECK(parse_geom(st, path, ops[op], &im->geom[im->n_geom], &fixed, &w, &h));
            im->n_geom++;
            continue;
        }
        int once = op - 3;
        if (seen[once])
            return ais__error(AIS_E_FORMAT, "pipeline spec: %s: \"%s\" given twice", path, ops[op]);
        seen[once] = true;
        if (op == 3) {
            static const char *const keys[] = {"op", "order", NULL};
            static const char *const orders[] = {"rgb", "bgr", NULL};
            int o;
            AIS__CHECK(keys_ok(st, path, keys));
            AIS__CHECK(enum_of(st, "order", path, orders, -1, &o));
            if (o < 0)
                return ais__error(AIS_E_FORMAT, "pipeline spec: %s: missing key \"order\"", path);
            im->bgr = o == 1;
        } else if (op == 4) {
            static const char *const keys[] = {"op", NULL};
            AIS__CHECK(keys_ok(st, path, keys));
            im->fops[im->n_fops++] = F_TO_TENSOR;
        } else if (op == 5) {
            static const char *const keys[] = {"op", "mean", "std", NULL};
            AIS__CHECK(keys_ok(st, path, keys));
            AIS__CHECK(three_floats(get(st, "mean"), path, "mean", im->mean, false));
            AIS__CHECK(three_floats(get(st, "std"), path, "std", im->std, true));
            im->fops[im->n_fops++] = F_NORMALIZE;
        } else {
            static const char *const keys[] = {"op", "order", NULL};
            static const char *const orders[] = {"chw", "hwc", NULL};
            int o;
            AIS__CHECK(keys_ok(st, path, keys));
            AIS__CHECK(enum_of(st, "order", path, orders, -1, &o));
            if (o < 0)
                return ais__error(AIS_E_FORMAT, "pipeline spec: %s: missing key \"order\"", path);
            im->hwc = o == 1;
        }
    }
    if (!fixed)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: %s.steps: the output size is not fixed: end the "
                          "geometric steps with a center_crop or a resize to [height, width] "
                          "(a batch is one tensor)",
                          fpath);
    if ((uint64_t)w * h * 3 > AIS__PL_MAX_WIDTH || w > AIS__IMAGE_MAX_SIDE ||
        h > AIS__IMAGE_MAX_SIDE)
        return ais__error(AIS_E_LIMIT,
                          "pipeline spec: %s.steps: output of %u x %u pixels is too large", fpath,
                          w, h);
    im->out_w = w, im->out_h = h;
    return AIS_OK;
}

bool ais__pipeline_image_spec(const cJSON *root) {
    const cJSON *inputs = get(root, "inputs");
    for (const cJSON *c = cJSON_IsArray(inputs) ? inputs->child : NULL; c; c = c->next) {
        const cJSON *t = cJSON_IsObject(c) ? get(c, "type") : NULL;
        if (cJSON_IsString(t) && strcmp(t->valuestring, "image") == 0) return true;
    }
    return false;
}

ais_status ais__pipeline_image_compile(ais_pipeline *p, const cJSON *root) {
    static const char *const rkeys[] = {"version", "inputs", "features", NULL};
    AIS__CHECK(keys_ok(root, "$", rkeys));
    const cJSON *inputs = get(root, "inputs"), *features = get(root, "features");
    if (cJSON_GetArraySize(inputs) != 1 || !cJSON_IsArray(inputs))
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: $.inputs: an image input must be the pipeline's only "
                          "input, got %d inputs",
                          cJSON_GetArraySize(inputs));
    const cJSON *in = inputs->child;
    static const char *const ikeys[] = {"name", "type", "max_pixels", "max_bytes", NULL};
    AIS__CHECK(keys_ok(in, "$.inputs[0]", ikeys));
    const cJSON *name = get(in, "name");
    if (!cJSON_IsString(name) || !name->valuestring[0] ||
        strlen(name->valuestring) > AIS__PL_MAX_NAME)
        return ais__error(AIS_E_FORMAT, "pipeline spec: $.inputs[0].name: expected a string of 1 "
                                        "to 256 bytes");
    struct ais__pl_image *im = ais__calloc(1, sizeof *im);
    if (!im) return ais__oom(sizeof *im, "pipeline image");
    p->image = im;
    im->limits = (ais__image_limits){AIS__IMAGE_MAX_PIXELS, AIS__IMAGE_MAX_BYTES};
    uint32_t v;
    if (get(in, "max_pixels")) {
        AIS__CHECK(
            int_in(get(in, "max_pixels"), "$.inputs[0]", ".max_pixels", 1, 4294967295.0, &v));
        im->limits.max_pixels = v;
    }
    if (get(in, "max_bytes")) {
        AIS__CHECK(int_in(get(in, "max_bytes"), "$.inputs[0]", ".max_bytes", 1, 4294967295.0, &v));
        im->limits.max_bytes = v;
    }
    if (!(p->inputs = ais__calloc(1, sizeof *p->inputs)) ||
        !(p->input_sorted = ais__calloc(1, sizeof *p->input_sorted)) ||
        !(p->inputs[0].name = ais__strdup(name->valuestring)))
        return ais__oom(AIS__PL_MAX_NAME, "pipeline image input");
    p->n_inputs = 1;
    p->inputs[0].kind = AIS_FEATURE_IMAGE;
    if (cJSON_GetArraySize(features) != 1 || !cJSON_IsArray(features))
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: $.features: an image pipeline has exactly one feature "
                          "block, got %d",
                          cJSON_GetArraySize(features));
    const cJSON *f = features->child;
    static const char *const fkeys[] = {"input", "steps", NULL};
    AIS__CHECK(keys_ok(f, "$.features[0]", fkeys));
    const cJSON *fin = get(f, "input");
    if (!cJSON_IsString(fin) || strcmp(fin->valuestring, name->valuestring) != 0)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: $.features[0].input: expected \"%s\", the image input",
                          name->valuestring);
    AIS__CHECK(parse_steps(im, get(f, "steps"), "$.features[0]"));
    p->width = (size_t)im->out_w * im->out_h * 3;
    return AIS_OK;
}

void ais__pipeline_image_free(struct ais__pl_image *im) { ais__free(im); }

void ais__pipeline_image_shape(const ais_pipeline *p, int64_t dims[3]) {
    const struct ais__pl_image *im = p->image;
    if (im->hwc)
        dims[0] = im->out_h, dims[1] = im->out_w, dims[2] = 3;
    else
        dims[0] = 3, dims[1] = im->out_h, dims[2] = im->out_w;
}

/* ---- one image: decode and steps ---- */

/* torchvision's center_crop: pad with zeros where the crop is larger (floor on the left/top),
 * then the window at round((size - crop) / 2), Python's round (half to even). */
static uint32_t crop_offset(uint32_t size, uint32_t crop) {
    uint32_t d = size - crop, k = d / 2;
    return d % 2 == 0 ? k : (k % 2 == 0 ? k : k + 1);
}

static ais_status center_crop(ais__image *img, uint32_t w, uint32_t h, const char *what) {
    ais__image tmp = {0}, out = {0};
    if (w > img->w || h > img->h) {
        uint32_t ltrb[4] = {w > img->w ? (w - img->w) / 2 : 0, h > img->h ? (h - img->h) / 2 : 0,
                            w > img->w ? (w - img->w + 1) / 2 : 0,
                            h > img->h ? (h - img->h + 1) / 2 : 0};
        static const uint8_t zero[4] = {0};
        AIS__CHECK(ais__image_pad(img, ltrb, zero, &tmp, what));
        ais__image_free(img);
        *img = tmp;
    }
    AIS__CHECK(
        ais__image_crop(img, crop_offset(img->w, w), crop_offset(img->h, h), w, h, &out, what));
    ais__image_free(img);
    *img = out;
    return AIS_OK;
}

static ais_status run_geom(const struct ais__pl_image *im, ais__image *img, const char *what) {
    AIS__CHECK(ais__image_to_rgb(img, what));
    for (size_t i = 0; i < im->n_geom; i++) {
        const geom_step *g = &im->geom[i];
        ais__image out = {0};
        if (g->op == GEOM_CROP) {
            AIS__CHECK(center_crop(img, g->w, g->h, what));
            continue;
        }
        if (g->op == GEOM_PAD) {
            AIS__CHECK(ais__image_pad(img, g->ltrb, g->fill, &out, what));
        } else {
            uint32_t w = g->w, h = g->h;
            if (w == 0) {
                /* torchvision's Resize(int): the shorter side to h, the longer one to
                 * int(h * long / short), a float product truncated */
                uint32_t s = img->w <= img->h ? img->w : img->h;
                uint32_t l = img->w <= img->h ? img->h : img->w;
                double nl = (double)h * l / s;
                if (nl > AIS__IMAGE_MAX_SIDE)
                    return ais__error(AIS_E_LIMIT,
                                      "%s: resizing %u x %u to a shorter side of %u gives a "
                                      "side of %.0f pixels, more than %d",
                                      what, img->w, img->h, h, nl, AIS__IMAGE_MAX_SIDE);
                uint32_t ls = (uint32_t)nl;
                if (ls < 1) ls = 1;
                if (img->w <= img->h)
                    w = h, h = ls;
                else
                    w = ls;
            }
            AIS__CHECK(ais__image_resize(img, w, h, g->nearest, g->antialias, &out, what));
        }
        ais__image_free(img);
        *img = out;
    }
    return AIS_OK;
}

/* The pixel-value steps as a table per output channel: every output value is a function of one
 * byte, computed in float in step order (torchvision's x.div(255), then x.sub(mean).div(std)),
 * once per run rather than once per pixel. */
static void make_lut(const struct ais__pl_image *im, float lut[3][256]) {
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            float x = (float)v;
            for (size_t k = 0; k < im->n_fops; k++)
                x = im->fops[k] == F_TO_TENSOR ? x / 255.0f : (x - im->mean[c]) / im->std[c];
            lut[c][v] = x;
        }
}

static void store(const struct ais__pl_image *im, const ais__image *img, const float lut[3][256],
                  void *dst, bool f64) {
    size_t hw = (size_t)img->w * img->h;
    const uint8_t *px = img->px;
    for (int c = 0; c < 3; c++) {
        int src = im->bgr ? 2 - c : c;
        const float *t = lut[c];
        if (f64) {
            double *d = dst;
            for (size_t i = 0; i < hw; i++)
                d[im->hwc ? i * 3 + c : c * hw + i] = t[px[i * 3 + src]];
        } else if (im->hwc) {
            float *d = dst;
            for (size_t i = 0; i < hw; i++)
                d[i * 3 + c] = t[px[i * 3 + src]];
        } else {
            float *d = (float *)dst + c * hw;
            for (size_t i = 0; i < hw; i++)
                d[i] = t[px[i * 3 + src]];
        }
    }
}

/* ---- the batch ---- */

typedef struct {
    int kind; /* an ais_value_kind */
    char *path;
    const void *bytes;
    size_t len;
    const ais_tensor *pixels;
    bool bad; /* a problem already reported while filling */
    ais_status st;
    char *msg; /* the problem of a worker, for the report */
} img_row;

typedef struct {
    const ais_pipeline *p;
    img_row *rows;
    float lut[3][256];
    uint8_t *out;
    size_t row_bytes;
    bool f64;
} batch;

static ais_status one_image(const batch *b, size_t r, const char *what) {
    const struct ais__pl_image *im = b->p->image;
    const img_row *row = &b->rows[r];
    ais__image img = {0};
    ais_status st = AIS_OK;
    if (row->pixels) {
        const ais_tensor *t = row->pixels;
        const int64_t *s = ais_tensor_shape(t);
        size_t nd = ais_tensor_ndim(t);
        uint32_t c = nd == 3 ? (uint32_t)s[2] : 1;
        AIS__CHECK(ais__image_check_size((uint64_t)s[1], (uint64_t)s[0], &im->limits, what,
                                         "pixel array"));
        img = (ais__image){ais__malloc((size_t)s[0] * s[1] * c + AIS__IMAGE_SLACK), (uint32_t)s[1], (uint32_t)s[0], c};
        if (!img.px) return ais__oom((size_t)s[0] * s[1] * c, what);
        memcpy(img.px, ais_tensor_data_const(t), (size_t)s[0] * s[1] * c);
    } else if (row->path) {
        ais__file *f = NULL;
        st = ais__file_open(row->path, im->limits.max_bytes, true, &f);
        if (st == AIS_OK) {
            st = ais__image_decode(f->data, f->size, &im->limits, what, &img);
            ais__file_close(f);
        }
    } else {
        st = ais__image_decode(row->bytes, row->len, &im->limits, what, &img);
    }
    if (st == AIS_OK) st = run_geom(im, &img, what);
    if (st == AIS_OK && (img.w != im->out_w || img.h != im->out_h))
        st = ais__error(AIS_E_INTERNAL, "%s: steps gave %u x %u, expected %u x %u", what, img.w,
                        img.h, im->out_w, im->out_h);
    if (st == AIS_OK) store(im, &img, b->lut, b->out + r * b->row_bytes, b->f64);
    ais__image_free(&img);
    return st;
}

static void worker(void *ctx, size_t begin, size_t end) {
    batch *b = ctx;
    for (size_t r = begin; r < end; r++) {
        img_row *row = &b->rows[r];
        if (row->bad) continue;
        char what[PATH_LEN + 64];
        if (row->path)
            snprintf(what, sizeof what, "\"%.200s\"", row->path);
        else
            snprintf(what, sizeof what, "%s", row->pixels ? "pixels" : "image bytes");
        row->st = one_image(b, r, what);
        if (row->st != AIS_OK) row->msg = ais__strdup(ais_last_error());
    }
}

/* What a record's image field holds, checked; a problem goes to the report. */
static ais_status take_value(const ais_pipeline *p, size_t r, bool present, ais__pl_value v,
                             img_row *row, ais_pipeline_errors *e) {
    const char *field = p->inputs[0].name;
    row->kind = v.kind;
    if (!present || v.kind == AIS_VALUE_MISSING) {
        row->bad = true;
        return ais__pipeline_add_error(e, r, field, "missing required field (an image)");
    }
    if (v.kind == AIS_VALUE_STRING && v.str) {
        if (!v.str[0]) {
            row->bad = true;
            return ais__pipeline_add_error(e, r, field, "empty file path");
        }
        if (!(row->path = ais__strdup(v.str))) return ais__oom(strlen(v.str), "image path");
        return AIS_OK;
    }
    if (v.kind == AIS_VALUE_BYTES && v.str && v.num >= 0 && v.num == floor(v.num) &&
        v.num <= (double)SIZE_MAX) {
        row->bytes = v.str;
        row->len = (size_t)v.num;
        return AIS_OK;
    }
    if (v.kind == AIS_VALUE_PIXELS && v.str) {
        const ais_tensor *t = (const ais_tensor *)(const void *)v.str;
        size_t nd = ais_tensor_ndim(t);
        const int64_t *s = ais_tensor_shape(t);
        if (ais_tensor_dtype(t) != AIS_DTYPE_U8 || (nd != 2 && nd != 3) ||
            (nd == 3 && s[2] != 1 && s[2] != 3 && s[2] != 4)) {
            row->bad = true;
            return ais__pipeline_add_error(e, r, field,
                                           "pixels must be a u8 tensor [height, width] or "
                                           "[height, width, 1, 3 or 4], got %s with %zu "
                                           "dimensions",
                                           ais_dtype_name(ais_tensor_dtype(t)), nd);
        }
        row->pixels = t;
        return AIS_OK;
    }
    row->bad = true;
    return ais__pipeline_add_error(
        e, r, field, "expected an image: a file path (string), encoded bytes or pixels, got %s",
        v.kind == AIS_VALUE_NUMBER ? "a number" : "another kind of value");
}

ais_status ais__pipeline_image_run(const ais_pipeline *p, size_t n_rows, ais__pl_fill_fn fill,
                                   void *ctx, ais_dtype dtype, ais_tensor **out,
                                   ais_pipeline_errors **errors) {
    ais_tensor *given = *out, *t = NULL;
    *out = NULL;
    if (dtype != AIS_DTYPE_F32 && dtype != AIS_DTYPE_F64)
        return ais__error(AIS_E_DTYPE, "pipeline run: output dtype %s, expected f32 or f64",
                          ais_dtype_name(dtype));
    ais_pipeline_errors *e = ais__pipeline_errors_new(), *report = NULL;
    img_row *rows = ais__calloc(n_rows ? n_rows : 1, sizeof *rows);
    batch *b = ais__calloc(1, sizeof *b);
    ais_status st = AIS_OK;
    if (!e || !rows || !b) {
        st = ais__oom(n_rows * sizeof *rows, "pipeline image run");
        goto done;
    }
    /* Rows are filled in order on this thread (a JSON source parses line by line); the paths
     * are copied since a JSON row's strings die with the next row. */
    for (size_t r = 0; r < n_rows; r++) {
        ais__pl_value v = {AIS_VALUE_MISSING, NAN, NULL};
        bool present = false, bad = false;
        if ((st = fill(ctx, p, r, &v, &present, e, &bad)) != AIS_OK) goto done;
        if (bad) {
            rows[r].bad = true;
            continue;
        }
        if ((st = take_value(p, r, present, v, &rows[r], e)) != AIS_OK) goto done;
    }
    int64_t d[3];
    ais__pipeline_image_shape(p, d);
    int64_t shape[4] = {(int64_t)n_rows, d[0], d[1], d[2]};
    if (given && ais_tensor_dtype(given) == dtype && ais_tensor_ndim(given) == 4 &&
        memcmp(ais_tensor_shape(given), shape, sizeof shape) == 0)
        t = given;
    else if ((st = ais_tensor_create(dtype, shape, 4, &t)) != AIS_OK)
        goto done;
    b->p = p;
    b->rows = rows;
    b->f64 = dtype == AIS_DTYPE_F64;
    b->out = ais_tensor_data(t);
    b->row_bytes = p->width * (b->f64 ? sizeof(double) : sizeof(float));
    make_lut(p->image, b->lut);
    ais__parallel_for(ais__default_pool(), n_rows, 1, worker, b);
    /* The report in row order: the problems found while filling (in e, in row order) merged
     * with those of the workers. */
    size_t k = 0, n_fill = ais_pipeline_errors_count(e);
    for (size_t r = 0; r < n_rows && st == AIS_OK; r++) {
        if (!rows[r].bad && rows[r].st != AIS_OK &&
            (rows[r].st == AIS_E_OUT_OF_MEMORY || !rows[r].msg)) {
            st = rows[r].msg
                     ? ais__error(AIS_E_OUT_OF_MEMORY, "pipeline: row %zu: %s", r, rows[r].msg)
                     : ais__oom(0, "pipeline image error message");
            break;
        }
        if (!rows[r].bad && rows[r].st == AIS_OK &&
            (k == n_fill || ais_pipeline_errors_row(e, k) != r))
            continue;
        if (!report && !(report = ais__pipeline_errors_new())) {
            st = AIS_E_OUT_OF_MEMORY;
            break;
        }
        for (; k < n_fill && ais_pipeline_errors_row(e, k) == r && st == AIS_OK; k++)
            st = ais__pipeline_add_error(report, r, ais_pipeline_errors_field(e, k), "%s",
                                         ais_pipeline_errors_message(e, k));
        if (st == AIS_OK && !rows[r].bad && rows[r].st != AIS_OK)
            st = ais__pipeline_add_error(report, r, p->inputs[0].name, "%s", rows[r].msg);
    }
    /* problems of no row (none come from records today) go last */
    for (; k < n_fill && st == AIS_OK; k++) {
        if (!report && !(report = ais__pipeline_errors_new())) {
            st = AIS_E_OUT_OF_MEMORY;
            break;
        }
        st = ais__pipeline_add_error(report, ais_pipeline_errors_row(e, k),
                                     ais_pipeline_errors_field(e, k), "%s",
                                     ais_pipeline_errors_message(e, k));
    }
    if (st == AIS_OK && report) {
        st = ais__pipeline_errors_fail(report, errors);
        report = NULL;
    }
done:
    for (size_t r = 0; rows && r < n_rows; r++) {
        ais__free(rows[r].path);
        ais__free(rows[r].msg);
    }
    ais__free(rows);
    ais__free(b);
    ais_pipeline_errors_destroy(e);
    ais_pipeline_errors_destroy(report);
    if (st != AIS_OK && t != given) ais_tensor_destroy(t);
    *out = st == AIS_OK ? t : NULL;
    return st;
}
