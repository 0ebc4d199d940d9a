/*
 * conv_transpose.c - ConvTranspose (1-D to 3-D, groups, dilations, strides, pads,
 * output_padding, output_shape, auto_pad): per image and group, columns = W^T X by sgemm, then
 * col2im adds them onto the output. The output plays the role of Conv's input image.
 */
#include <string.h>

#include "cpu/cpu.h"
#include "dense_util.h"

typedef struct ais__ct_plan {
    ais__dense_win win; /* im: the output extents; col: the input extents */
    size_t nsp;
    int64_t n, c, m, group, cg, mg, kvol, isz, osz;
    int64_t out[3];
} ais__ct_plan;

#define AIS__CT_ATTR_MAX ((int64_t)INT32_MAX)

static ais_status ais__ct_plan_make(const ais__op_ctx *ctx, const ais_tensor *const *in,
                                    size_t n_in, ais__ct_plan *p) {
    const ais_tensor *x = in[0], *w = in[1], *b = n_in > 2 ? in[2] : NULL;
    char sx[AIS__SHAPE_STR_MAX], sw[AIS__SHAPE_STR_MAX];
    AIS__CHECK(ais__dense_check_conv_xw(x, w, "[C, M/group, k1...]"));
    size_t nsp = x->ndim - 2;
    int64_t group = ais__attr_int(ctx->attrs, "group", 1);
    p->nsp = nsp;
    p->n = x->dims[0];
    p->c = x->dims[1];
    if (group < 1 || group > AIS__CT_ATTR_MAX || p->c % group != 0)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "group %lld must divide the input channels (%lld)", (long long)group,
                          (long long)p->c);
    if (w->dims[0] != p->c)
        return ais__error(AIS_E_SHAPE, "channel mismatch: X %s has %lld channels but W %s has %lld",
                          ais__shape_str(x->dims, x->ndim, sx, sizeof sx), (long long)p->c,
                          ais__shape_str(w->dims, w->ndim, sw, sizeof sw), (long long)w->dims[0]);
    p->group = group;
    p->cg = p->c / group;
    p->mg = w->dims[1];
    if (p->mg > INT64_MAX / group) return ais__error(AIS_E_LIMIT, "too many output channels");
    p->m = p->mg * group;
    if (b) {
        AIS__CHECK(ais__expect_same_dtype(x, "X", b, "B"));
        if (b->ndim != 1 || b->dims[0] != p->m)
            return ais__error(AIS_E_SHAPE, "bias B must be [%lld], got %s", (long long)p->m,
                              ais__shape_str(b->dims, b->ndim, sx, sizeof sx));
    }
    int64_t k[3], st[3], dl[3], pads[6], opad[3], oshape[5];
    for (size_t i = 0; i < nsp; i++)
        k[i] = w->dims[2 + i];
    if (ais__attr_find(ctx->attrs, "kernel_shape")) {
        int64_t ka[3];
        AIS__CHECK(ais__dense_ints(ctx, "kernel_shape", nsp, 1, 1, AIS__CT_ATTR_MAX, ka));
        for (size_t i = 0; i < nsp; i++)
            if (ka[i] != k[i])
                return ais__error(AIS_E_SHAPE, "kernel_shape[%zu] is %lld but W has %lld", i,
                                  (long long)ka[i], (long long)k[i]);
    }
    for (size_t i = 0; i < nsp; i++)
        if (k[i] < 1 || k[i] > AIS__CT_ATTR_MAX)
            return ais__error(AIS_E_SHAPE, "kernel extent %zu of W %s must be at least 1", i,
                              ais__shape_str(w->dims, w->ndim, sw, sizeof sw));
    AIS__CHECK(ais__dense_ints(ctx, "strides", nsp, 1, 1, AIS__CT_ATTR_MAX, st));
    AIS__CHECK(ais__dense_ints(ctx, "dilations", nsp, 1, 1, AIS__CT_ATTR_MAX, dl));
    AIS__CHECK(ais__dense_ints(ctx, "pads", 2 * nsp, 0, 0, AIS__CT_ATTR_MAX, pads));
    AIS__CHECK(ais__dense_ints(ctx, "output_padding", nsp, 0, 0, AIS__CT_ATTR_MAX, opad));
    int mode;
    AIS__CHECK(ais__dense_auto_pad(ctx, &mode));
    const int64_t *osv;
    size_t osn = 0;
    bool has_os = ais__attr_ints(ctx->attrs, "output_shape", &osv, &osn);
    if (has_os) {
        /* Spatial extents; [N, C, spatial...] is accepted too, as ONNX Runtime does. */
        if (osn != nsp && osn != nsp + 2)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "output_shape has %zu values, expected %zu (the spatial extents)",
                              osn, nsp);
        for (size_t i = 0; i < nsp; i++) {
            oshape[i] = osv[osn - nsp + i];
            if (oshape[i] < 0 || oshape[i] > AIS__CT_ATTR_MAX)
                return ais__error(AIS_E_INVALID_ARGUMENT, "output_shape[%zu] is %lld", i,
                                  (long long)oshape[i]);
        }
    }
    size_t off = 3 - nsp;
    for (size_t i = 0; i < 3; i++) {
        p->win.im[i] = p->win.col[i] = p->win.k[i] = p->win.stride[i] = p->win.dil[i] = 1;
        p->win.pb[i] = 0;
        p->out[i] = 1;
    }
    for (size_t i = 0; i < nsp; i++) {
        size_t j = off + i;
        int64_t inx = x->dims[2 + i], dk = (k[i] - 1) * dl[i] + 1;
        int64_t full = st[i] * (inx - 1) + opad[i] + dk; /* the output without any padding */
        if (inx == 0) full = 0;
        int64_t out, pb;
        if (has_os || mode == 1 || mode == 2) {
            out = has_os ? oshape[i] : inx * st[i];
            int64_t total = full - out;
            /* floor(total / 2) as ONNX's reference computes it, also for a negative total */
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
            pb = mode == 1 ? half : total - half;
        } else {
            pb = mode == 3 ? 0 : pads[i];
            int64_t pe = mode == 3 ? 0 : pads[nsp + i];
            out = full - pb - pe;
            if (out < 0)
                return ais__error(AIS_E_SHAPE,
                                  "spatial axis %zu: the pads (%lld, %lld) exceed the output "
                                  "extent %lld",
                                  i, (long long)pb, (long long)pe, (long long)full);
        }
        p->win.im[j] = out;
        p->win.col[j] = inx;
        p->win.k[j] = k[i];
        p->win.stride[j] = st[i];
        p->win.dil[j] = dl[i];
        p->win.pb[j] = pb;
        p->out[j] = out;
    }
    int64_t od[5] = {p->n, p->m, p->out[0], p->out[1], p->out[2]};
    size_t numel;
    if (!ais__shape_numel(od, 5, sizeof(float), &numel))
        return ais__error(AIS_E_LIMIT, "the output would be too large");
    p->kvol = p->win.k[0] * p->win.k[1] * p->win.k[2];
    p->isz = p->win.col[0] * p->win.col[1] * p->win.col[2];
    p->osz = p->out[0] * p->out[1] * p->out[2];
    return AIS_OK;
}

static ais_status ais__ct_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, size_t n_out) {
    ais__ct_plan p;
    AIS__CHECK(ais__ct_plan_make(ctx, in, n_in, &p));
    int64_t d[5] = {p.n, p.m};
    for (size_t i = 0; i < p.nsp; i++)
        d[2 + i] = p.out[3 - p.nsp + i];
    ais__desc_set(&out[0], in[0]->dtype, d, 2 + p.nsp);
    return AIS_OK;
}

typedef struct {
    const ais__ct_plan *p;
    const float *x, *w;
    float *y, *cols;
    int64_t tile;
    size_t n_slots, tasks;
} ais__ct_job;

static void ais__ct_task(const ais__ct_job *j, size_t task, float *cols) {
    const ais__ct_plan *p = j->p;
    int64_t n = (int64_t)task / p->group, g = (int64_t)task % p->group;
    const float *x = j->x + (n * p->c + g * p->cg) * p->isz;
    const float *w = j->w + g * p->cg * p->mg * p->kvol;
    float *y = j->y + (n * p->m + g * p->mg) * p->osz;
    int64_t rows = p->mg * p->kvol;
    for (int64_t j0 = 0; j0 < p->isz; j0 += j->tile) {
        int64_t j1 = AIS__MIN(p->isz, j0 + j->tile);
        if (p->cg == 0)
            memset(cols, 0, (size_t)(rows * (j1 - j0)) * sizeof(float));
        else
            ais__cpu()->sgemm(true, false, rows, j1 - j0, p->cg, 1.0f, w, rows, x + j0, p->isz,
                              0.0f, cols, j1 - j0);
        ais__dense_col2im(cols, p->mg, &p->win, j0, j1, y);
    }
}

static void ais__ct_slots(void *vj, size_t begin, size_t end) {
    const ais__ct_job *j = vj;
    size_t per = (size_t)(j->p->mg * j->p->kvol * j->tile);
    for (size_t s = begin; s < end; s++) {
        size_t t0 = s * j->tasks / j->n_slots, t1 = (s + 1) * j->tasks / j->n_slots;
        for (size_t t = t0; t < t1; t++)
            ais__ct_task(j, t, j->cols + s * per);
    }
}

static ais_status ais__ct_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais_tensor *const *out, size_t n_out) {
    ais__ct_plan p;
    AIS__CHECK(ais__ct_plan_make(ctx, in, n_in, &p));
    const ais_tensor *b = n_in > 2 ? in[2] : NULL;
    float *y = out[0]->data;
    if (out[0]->numel == 0) return AIS_OK;
    memset(y, 0, out[0]->nbytes);
    size_t tasks = (size_t)(p.n * p.group);
    int64_t rows = p.mg * p.kvol;
    if (p.isz > 0 && rows > 0 && tasks > 0) {
        ais__ct_job j = {.p = &p, .x = in[0]->data, .w = in[1]->data, .y = y, .tasks = tasks};
        j.n_slots = ais__dense_gemm_slots(ctx, (double)rows * (double)p.cg * (double)p.isz, tasks);
        AIS__CHECK(ais__dense_col_buffers(ctx, (size_t)rows * sizeof(float), p.isz, j.n_slots,
                                          &j.tile, &j.cols, "column buffer"));
        if (j.n_slots > 1)
            ais__parallel_for(ctx->pool, j.n_slots, 1, ais__ct_slots, &j);
        else
            ais__ct_slots(&j, 0, 1);
    }
    ais__dense_add_bias(ctx->pool, y, b ? b->data : NULL, p.n, p.m, p.osz);
    return AIS_OK;
}

const ais__op_def ais__ops_conv_transpose[] = {
    {.domain = "",
     .name = "ConvTranspose",
     .since_version = 1,
     .min_inputs = 2,
     .max_inputs = 3,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__ct_infer,
     .compute = ais__ct_compute},
    {.name = NULL},
};
