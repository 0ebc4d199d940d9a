/*
 * conv_block.c - com.microsoft FusedInvertedResidual (our own operator, made by
 * runtime/fuse_block.c): MobileNetV2's inverted-residual block in one node,
 *
 *   E = clamp_e(We X + Be)          1x1 expansion, C -> CE channels (Relu6)
 *   D = clamp_d(depthwise(E, Wd) + Bd)   K x K, stride s, pads (Relu6)
 *   Y = Wp D + Bp [+ Z]              1x1 projection, CE -> M channels, the residual Z
 *
 * inputs X [N, C, H, W], We [CE, C, 1, 1], Be [CE], Wd [CE, 1, K, K], Bd [CE], Wp [M, CE, 1, 1],
 * Bp [M], optional Z (broadcasting to Y); attributes strides (2), pads (4: begins, ends),
 * expand_clip and depthwise_clip (2 floats each: the clamp's bounds; Relu is [0, inf]).
 *
 * Why: the expanded tensor E has 6x the channels of X. Unfused, each of the three layers
 * streams it through memory: MobileNetV2's 96 x 112 x 112 E is 4.8 MB, written by the expansion,
 * read by the depthwise layer whose output (1.2 MB) the projection reads again; none of it stays
 * in the 512 KB L2. Here the block runs a band of output rows at a time: the expansion computes
 * only the input rows the band's depthwise windows need beyond those the previous band computed,
 * the depthwise layer reads them while they are in L2 and writes the band's D rows, and the
 * projection reads those at once and writes Y's rows. E and D keep their full-plane layout in
 * scratch (a band touches only its rows of each plane, so the cache holds the band, not the
 * planes), which lets the table's kernels run unchanged: conv_pw_small for both 1x1 layers (the
 * expansion is one of few input channels; the projection's k is the expansion's width, at most
 * 256 (runtime/fuse_block.c), where the broadcast kernel keeps up with the GEMM path) and
 * dwconv_planes on the band's rows of one plane at a time.
 *
 * Threads: output rows in one contiguous range per thread, each with its own E (a range's
 * first band recomputes the input rows it shares with the range before), D and Y rows disjoint.
 * At the scalar level the portable kernels run the same bands.
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu.h"
#include "op.h"

/* The shape of one call. */
typedef struct ais__blk_geom {
    int64_t n, c, ce, m, h, w, k, s, pt, pl, oh, ow;
} ais__blk_geom;

typedef struct ais__blk_params {
    int64_t s, pads[4];
    ais__conv_act act_e, act_d;
} ais__blk_params;

static ais_status ais__blk_clip(const ais_attrs *attrs, const char *name, ais__conv_act *act) {
    const float *v;
    size_t n;
    if (!ais__attr_floats(attrs, name, &v, &n) || n != 2 || !(v[0] <= v[1]))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "attribute %s must be 2 floats, the clamp's bounds lo <= hi", name);
    *act = (ais__conv_act){AIS__CONV_ACT_CLAMP, v[0], v[1], 0};
    return AIS_OK;
}

static ais_status ais__blk_params_read(const ais_attrs *attrs, ais__blk_params *p) {
    const int64_t *v;
    size_t n;
    memset(p, 0, sizeof *p);
    p->s = 1;
    if (ais__attr_ints(attrs, "strides", &v, &n)) {
        if (n != 2 || v[0] != v[1] || (v[0] != 1 && v[0] != 2))
            return ais__error(AIS_E_UNSUPPORTED, "strides must be [1, 1] or [2, 2]");
        p->s = v[0];
    }
    if (ais__attr_ints(attrs, "pads", &v, &n)) {
        if (n != 4) return ais__error(AIS_E_INVALID_ARGUMENT, "pads must hold 4 values");
        for (int i = 0; i < 4; i++) {
            if (v[i] < 0 || v[i] > 64)
                return ais__error(AIS_E_INVALID_ARGUMENT, "pad %lld is outside [0, 64]",
                                  (long long)v[i]);
            p->pads[i] = v[i];
        }
    }
    AIS__CHECK(ais__blk_clip(attrs, "expand_clip", &p->act_e));
    return ais__blk_clip(attrs, "depthwise_clip", &p->act_d);
}

static ais_status ais__blk_prepare(const ais__op_ctx *ctx, void **out) {
    ais__blk_params p;
    AIS__CHECK(ais__blk_params_read(ctx->attrs, &p));
    return ais__op_state_dup(&p, sizeof p, "inverted-residual state", out);
}

static bool ais__blk_is(const ais_tensor *t, size_t ndim, int64_t d0, int64_t d1, int64_t d2,
                        int64_t d3) {
    const int64_t d[4] = {d0, d1, d2, d3};
    if (!t || t->dtype != AIS_DTYPE_F32 || t->ndim != ndim) return false;
    for (size_t i = 0; i < ndim; i++)
        if (d[i] >= 0 && t->dims[i] != d[i]) return false;
    return true;
}

static ais_status ais__blk_geom_make(const ais__blk_params *p, const ais_tensor *const *in,
                                     size_t n_in, ais__blk_geom *g) {
    const ais_tensor *x = in[0], *we = in[1], *wd = in[3], *wp = in[5];
    char sx[AIS__SHAPE_STR_MAX];
    if (!ais__blk_is(x, 4, -1, -1, -1, -1))
        return ais__error(AIS_E_SHAPE, "X must be f32 [N, C, H, W], got %s",
                          ais__shape_str(x->dims, x->ndim, sx, sizeof sx));
    *g = (ais__blk_geom){.n = x->dims[0], .c = x->dims[1], .h = x->dims[2], .w = x->dims[3]};
    if (!ais__blk_is(we, 4, -1, g->c, 1, 1))
        return ais__error(AIS_E_SHAPE, "We must be f32 [CE, %lld, 1, 1], got %s", (long long)g->c,
                          ais__shape_str(we->dims, we->ndim, sx, sizeof sx));
    g->ce = we->dims[0];
    if (!ais__blk_is(wd, 4, g->ce, 1, -1, -1) || wd->dims[2] != wd->dims[3] ||
        (wd->dims[2] != 3 && wd->dims[2] != 5))
        return ais__error(AIS_E_SHAPE, "Wd must be f32 [%lld, 1, K, K], K 3 or 5, got %s",
                          (long long)g->ce, ais__shape_str(wd->dims, wd->ndim, sx, sizeof sx));
    g->k = wd->dims[2];
    if (!ais__blk_is(wp, 4, -1, g->ce, 1, 1))
        return ais__error(AIS_E_SHAPE, "Wp must be f32 [M, %lld, 1, 1], got %s", (long long)g->ce,
                          ais__shape_str(wp->dims, wp->ndim, sx, sizeof sx));
    g->m = wp->dims[0];
    const int64_t nb[3] = {g->ce, g->ce, g->m};
    for (int i = 0; i < 3; i++)
        if (!ais__blk_is(in[2 + 2 * i], 1, nb[i], -1, -1, -1))
            return ais__error(AIS_E_SHAPE, "bias input %d must be f32 [%lld]", 2 + 2 * i,
                              (long long)nb[i]);
    g->s = p->s;
    g->pt = p->pads[0];
    g->pl = p->pads[1];
    int64_t eh = g->h + p->pads[0] + p->pads[2] - g->k, ew = g->w + p->pads[1] + p->pads[3] - g->k;
    if (eh < 0 || ew < 0 || g->c == 0 || g->ce == 0)
        return ais__error(AIS_E_SHAPE, "X %s is smaller than the %lldx%lld window with its pads",
                          ais__shape_str(x->dims, x->ndim, sx, sizeof sx), (long long)g->k,
                          (long long)g->k);
    g->oh = eh / g->s + 1;
    g->ow = ew / g->s + 1;
    size_t numel;
    int64_t od[4] = {g->n, g->ce, g->h, g->w};
    if (!ais__shape_numel(od, 4, 2 * sizeof(float), &numel))
        return ais__error(AIS_E_LIMIT, "the expanded tensor would be too large");
    (void)n_in;
    return AIS_OK;
}

static ais_status ais__blk_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 ais__tensor_desc *out, size_t n_out) {
    (void)n_out;
    ais__blk_params p;
    AIS__CHECK(ais__blk_params_read(ctx->attrs, &p));
    ais__blk_geom g;
    AIS__CHECK(ais__blk_geom_make(&p, in, n_in, &g));
    int64_t d[4] = {g.n, g.m, g.oh, g.ow};
    ais__desc_set(&out[0], AIS_DTYPE_F32, d, 4);
    const ais_tensor *z = n_in > 7 ? in[7] : NULL;
    if (!z) return AIS_OK;
    AIS__CHECK(ais__expect_same_dtype(in[0], "X", z, "Z"));
    int64_t bd[AIS_MAX_DIMS];
    size_t bn;
    char sz[AIS__SHAPE_STR_MAX], sy[AIS__SHAPE_STR_MAX];
    ais_status s = ais__broadcast_shape("FusedInvertedResidual", d, 4, z->dims, z->ndim, bd, &bn);
    if (s == AIS_OK && (bn != 4 || memcmp(bd, d, sizeof d) != 0))
        s = ais__error(AIS_E_SHAPE, "Z %s must broadcast to the block's output %s",
                       ais__shape_str(z->dims, z->ndim, sz, sizeof sz),
                       ais__shape_str(d, 4, sy, sizeof sy));
    return s;
}

/* Bytes of E and D one band may keep in L2 together (of Zen 3's 512 KB, the rest for X's and
 * Y's rows and the weights). */
#define AIS__BLOCK_BAND_BYTES (192 * 1024)
/* Bands for an E of one image of at least this size (MobileNetV2's at 112x112 and 56x56) */
#define AIS__BLOCK_MIN_BYTES (1024 * 1024)
/* dwconv_kernel.h's AIS__DW_FLAT_MAX */
#define AIS__BLOCK_FLAT_MAX 256

typedef struct ais__blk_job {
    const ais__cpu_kernels *t;
    const ais__blk_geom *g;
    const ais__blk_params *p;
    const float *x, *we, *be, *wd, *bd, *wp, *bp, *z; /* z: Y's shape, added per band; or NULL */
    float *y, *e, *d;                                 /* e: one full E per slot */
    size_t slot_floats;
    int64_t band, slots; /* output rows a band; row ranges */
} ais__blk_job;

static void ais__blk_pw(const ais__cpu_kernels *t, const float *x, const float *w, const float *b,
                        float *y, int64_t k, int64_t m, int64_t ld, int64_t q0, int64_t q1,
                        const ais__conv_act *act) {
    if (t->conv_pw_small)
        t->conv_pw_small(x, w, b, y, k, m, ld, q0, q1, act);
    else
        ais__cpu_ref_conv_pw(x, w, b, y, k, m, ld, q0, q1, act);
}

/* Output rows [r0, r1) of image n with slot e's E, whose input rows up to *done are computed. */
static void ais__blk_band(const ais__blk_job *j, int64_t n, float *e, int64_t r0, int64_t r1,
                          int64_t *done) {
    const ais__blk_geom *g = j->g;
    const int64_t hw = g->h * g->w, ohw = g->oh * g->ow;
    int64_t i0 = r0 * g->s - g->pt, i1 = (r1 - 1) * g->s - g->pt + g->k;
    i0 = AIS__MAX(i0, 0);
    i1 = AIS__MIN(i1, g->h);
    if (i1 <= i0) { /* windows entirely in the padding: the depthwise kernel sees no rows */
        i0 = AIS__MIN(AIS__MAX(r0 * g->s - g->pt, 0), g->h);
        i1 = i0;
    }
    if (*done < i1) {
        int64_t from = AIS__MAX(*done, i0);
        ais__blk_pw(j->t, j->x + n * g->c * hw, j->we, j->be, e, g->c, g->ce, hw, from * g->w,
                    i1 * g->w, &j->p->act_e);
        *done = i1;
    }
    float *d = j->d + n * g->ce * ohw;
    if (i1 > i0) {
        /* the band's rows of each plane, one plane a call: dwconv_planes takes planes back to
         * back, these are a band inside full planes */
        ais__conv_dw_geom dg = {
            i1 - i0, g->w, r1 - r0, g->ow, g->k, g->k, g->s, g->s, 1, 1, i0 - (r0 * g->s - g->pt),
            g->pl};
        for (int64_t c = 0; c < g->ce; c++)
            j->t->dwconv_planes(e + c * hw + i0 * g->w, j->wd + c * g->k * g->k, j->bd + c,
                                d + c * ohw + r0 * g->ow, 1, &dg, &j->p->act_d);
    } else { /* only padding under these rows: the bias through the activation */
        for (int64_t c = 0; c < g->ce; c++)
            for (int64_t q = r0 * g->ow; q < r1 * g->ow; q++) {
                float v = j->bd[c];
                d[c * ohw + q] = v < j->p->act_d.lo   ? j->p->act_d.lo
                                 : v > j->p->act_d.hi ? j->p->act_d.hi
                                                      : v;
            }
    }
    float *y = j->y + n * g->m * ohw;
    /* the projection's k is the expansion's width (96 to 256): positions in runs whose D
     * columns (k floats each) stay in L1 while every block of 4 output channels reads them,
     * rather than the kernel's own L2-sized chunks */
    const ais__conv_act none = {AIS__CONV_ACT_NONE, 0, 0, 0};
    const int64_t run = AIS__MAX(24, 8192 / g->ce / 24 * 24);
    for (int64_t q = r0 * g->ow; q < r1 * g->ow; q += run)
        ais__blk_pw(j->t, d, j->wp, j->bp, y, g->ce, g->m, ohw, q, AIS__MIN(r1 * g->ow, q + run),
                    &none);
    if (j->z) {
        const float *z = j->z + n * g->m * ohw;
        for (int64_t co = 0; co < g->m; co++)
            for (int64_t q = r0 * g->ow; q < r1 * g->ow; q++)
                y[co * ohw + q] += z[co * ohw + q];
    }
}

/* Slot s: images' output rows [s * oh / slots, (s + 1) * oh / slots) band by band. */
static void ais__blk_slots(void *vj, size_t begin, size_t end) {
    const ais__blk_job *j = vj;
    const ais__blk_geom *g = j->g;
    for (size_t s = begin; s < end; s++) {
        float *e = j->e + s * j->slot_floats;
        int64_t ra = (int64_t)s * g->oh / j->slots, rb = ((int64_t)s + 1) * g->oh / j->slots;
        for (int64_t n = 0; n < g->n; n++) {
            int64_t done = 0;
            for (int64_t r0 = ra; r0 < rb; r0 += j->band)
                ais__blk_band(j, n, e, r0, AIS__MIN(rb, r0 + j->band), &done);
        }
    }
}

static ais_status ais__blk_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                   ais_tensor *const *out, size_t n_out) {
    (void)n_out;
    const void *vs;
    AIS__CHECK(ais__op_state(ctx, &vs));
    const ais__blk_params *p = vs;
    ais__blk_geom g;
    AIS__CHECK(ais__blk_geom_make(p, in, n_in, &g));
    if (out[0]->numel == 0) return AIS_OK;
    const ais_tensor *z = n_in > 7 ? in[7] : NULL;
    bool z_band = z && z->numel == out[0]->numel; /* else broadcast by the Add kernel after */
    /* rows a band: E's new rows and D's rows within the budget, at least the depthwise
     * kernel's row block (4 rows) and more than AIS__BLOCK_FLAT_MAX outputs a plane (below
     * that, the AVX2 kernel takes its flat path, whose masks it recomputes every call) */
    int64_t per_row = g.ce * (g.s * g.w + g.ow) * (int64_t)sizeof(float);
    int64_t band = AIS__MAX(4, AIS__BLOCK_BAND_BYTES / AIS__MAX(per_row, 1));
    band = AIS__MAX(band, AIS__BLOCK_FLAT_MAX / AIS__MAX(g.ow, 1) + 1);
    band = (band + 3) / 4 * 4; /* whole 4-row blocks (a 1-row block reads 3 rows for 1) */
    /* an E that fits in L2 already comes back from there unfused: bands only add per-call
     * costs (MobileNetV2's 192 x 28 x 28 blocks: 0.52 -> 0.84 ms in bands of 10 rows) */
    if (g.ce * g.h * g.w * (int64_t)sizeof(float) < AIS__BLOCK_MIN_BYTES) band = g.oh;
    /* a thread per range of at least one band (MobileNetV2's 28x28 output of 144 channels
     * is 2 bands of 12 rows); one band of the whole image is halved per thread */
    int32_t threads = ctx->pool ? ais__pool_threads(ctx->pool) : 1;
    int64_t slots = AIS__MAX(1, AIS__MIN((int64_t)threads, g.oh / band));
    if (band == g.oh && threads > 1 && g.oh >= 2)
        slots = AIS__MIN((int64_t)threads, g.oh), band = (g.oh + slots - 1) / slots;
    const ais__cpu_kernels *t = ais__cpu();
    size_t e_floats = ((size_t)(g.ce * g.h * g.w) + 15) / 16 * 16; /* 64-byte aligned slots */
    size_t d_floats = (size_t)(g.n * g.ce * g.oh * g.ow);
    size_t floats = 0, bytes = 0;
    if (!ais__mul_size(e_floats, (size_t)slots, &floats) || floats > SIZE_MAX - d_floats ||
        !ais__mul_size(floats + d_floats, sizeof(float), &bytes))
        return ais__error(AIS_E_LIMIT, "inverted-residual scratch size overflows");
    float *scratch = ais__op_scratch(ctx, bytes);
    if (!scratch) return ais__oom(bytes, "inverted-residual expanded rows");
    ais__blk_job j = {t,
                      &g,
                      p,
                      in[0]->data,
                      in[1]->data,
                      in[2]->data,
                      in[3]->data,
                      in[4]->data,
                      in[5]->data,
                      in[6]->data,
                      z_band ? z->data : NULL,
                      out[0]->data,
                      scratch,
                      scratch + floats,
                      e_floats,
                      band,
                      slots};
    if (slots > 1)
        ais__parallel_for(ctx->pool, (size_t)slots, 1, ais__blk_slots, &j);
    else
        ais__blk_slots(&j, 0, 1);
    if (z && !z_band) AIS__CHECK(ais__op_add(ctx, out[0], z, out[0]));
    return AIS_OK;
}

const ais__op_def ais__ops_conv_block[] = {
    {.domain = "com.microsoft",
     .name = "FusedInvertedResidual",
     .since_version = 1,
     .min_inputs = 7,
     .max_inputs = 8,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__blk_infer,
     .compute = ais__blk_compute,
     .prepare = ais__blk_prepare,
     .release = ais__op_state_free},
    {.name = NULL},
};
