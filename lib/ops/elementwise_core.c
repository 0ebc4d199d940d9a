/* elementwise_core.c - broadcast iteration, threading and f16/bf16 conversion for the
 * elementwise operators. */
#include <stdio.h>

#include "elementwise_core.h"

typedef struct ais__ew_job {
    size_t nd; /* collapsed rank, >= 1 */
    int64_t dims[AIS_MAX_DIMS];
    int64_t strides[AIS__EW_MAX_IN][AIS_MAX_DIMS]; /* in elements; 0 on broadcast axes */
    const char *base[AIS__EW_MAX_IN];
    size_t esize[AIS__EW_MAX_IN];
    ais_dtype dtype[AIS__EW_MAX_IN];
    size_t step[AIS__EW_MAX_IN]; /* stride of the innermost axis: 0 or 1 */
    size_t n_in;
    char *out;
    size_t out_esize;
    ais_dtype out_dtype;
    ais__ew_fn fn;
    const void *params;
    bool via_f32, reads_out;
} ais__ew_job;

static bool ais__ew_is_half(ais_dtype d) { return d == AIS_DTYPE_F16 || d == AIS_DTYPE_BF16; }

/* Enough to amortize the call, small enough for the stack (4 blocks of 1 KiB). */
#define AIS__EW_BLOCK 256

static void ais__ew_half_to_f32(const uint16_t *src, ais_dtype d, float *dst, size_t n) {
    if (d == AIS_DTYPE_F16)
        for (size_t i = 0; i < n; i++)
            dst[i] = ais__f16_to_f32(src[i]);
    else
        for (size_t i = 0; i < n; i++)
            dst[i] = ais__bf16_to_f32(src[i]);
}

static void ais__ew_f32_to_half(const float *src, ais_dtype d, uint16_t *dst, size_t n) {
    if (d == AIS_DTYPE_F16)
        for (size_t i = 0; i < n; i++)
            dst[i] = ais__f32_to_f16(src[i]);
    else
        for (size_t i = 0; i < n; i++)
            dst[i] = ais__f32_to_bf16(src[i]);
}

/* One row of a kernel written for f32, with f16/bf16 operands converted block by block. */
static void ais__ew_row_via_f32(const ais__ew_job *j, char *out, const void *const *in, size_t n) {
    float ibuf[AIS__EW_MAX_IN][AIS__EW_BLOCK];
    float obuf[AIS__EW_BLOCK];
    bool out_half = ais__ew_is_half(j->out_dtype);
    for (size_t s = 0; s < n; s += AIS__EW_BLOCK) {
        size_t m = AIS__MIN((size_t)AIS__EW_BLOCK, n - s);
        const void *p[AIS__EW_MAX_IN];
        for (size_t k = 0; k < j->n_in; k++) {
            const char *src = (const char *)in[k] + s * j->step[k] * j->esize[k];
            if (ais__ew_is_half(j->dtype[k])) {
                ais__ew_half_to_f32((const uint16_t *)src, j->dtype[k], ibuf[k],
                                    j->step[k] ? m : 1);
                p[k] = ibuf[k];
            } else {
                p[k] = src;
            }
        }
        char *o = out + s * j->out_esize;
        if (out_half && j->reads_out)
            ais__ew_half_to_f32((const uint16_t *)o, j->out_dtype, obuf, m);
        j->fn(out_half ? (void *)obuf : (void *)o, p, j->step, m, j->params);
        if (out_half) ais__ew_f32_to_half(obuf, j->out_dtype, (uint16_t *)o, m);
    }
}

static void ais__ew_range(void *ctx, size_t begin, size_t end) {
    const ais__ew_job *j = ctx;
    size_t nd = j->nd;
    size_t inner = (size_t)j->dims[nd - 1];
    size_t idx[AIS_MAX_DIMS];
    int64_t off[AIS__EW_MAX_IN] = {0};
    size_t rem = begin;
    for (size_t d = nd; d-- > 0;) {
        idx[d] = rem % (size_t)j->dims[d];
        rem /= (size_t)j->dims[d];
        for (size_t k = 0; k < j->n_in; k++)
            off[k] += (int64_t)idx[d] * j->strides[k][d];
    }
    size_t pos = begin;
    while (pos < end) {
        size_t len = AIS__MIN(inner - idx[nd - 1], end - pos);
        const void *p[AIS__EW_MAX_IN];
        for (size_t k = 0; k < j->n_in; k++)
            p[k] = j->base[k] + (size_t)off[k] * j->esize[k];
        char *o = j->out + pos * j->out_esize;
        if (j->via_f32)
            ais__ew_row_via_f32(j, o, p, len);
        else
            j->fn(o, p, j->step, len, j->params);
        pos += len;
        if (pos >= end) break;
        /* Next row: the innermost index wraps (a row always ends at the axis' end here). */
        for (size_t k = 0; k < j->n_in; k++)
            off[k] += (int64_t)len * j->strides[k][nd - 1] - (int64_t)inner * j->strides[k][nd - 1];
        idx[nd - 1] = 0;
        for (size_t d = nd - 1; d-- > 0;) {
            idx[d]++;
            for (size_t k = 0; k < j->n_in; k++)
                off[k] += j->strides[k][d];
            if (idx[d] < (size_t)j->dims[d]) break;
            idx[d] = 0;
            for (size_t k = 0; k < j->n_in; k++)
                off[k] -= j->dims[d] * j->strides[k][d];
        }
    }
}

void ais__ew_apply(ais__op_ctx *ctx, ais_tensor *out, const ais_tensor *const *in, size_t n_in,
                   ais__ew_fn fn, const void *params, unsigned flags) {
    if (out->numel == 0) return;
    ais__ew_job j;
    memset(&j, 0, sizeof j);
    j.n_in = n_in;
    j.out = out->data;
    j.out_dtype = out->dtype;
    j.out_esize = ais_dtype_size(out->dtype);
    j.fn = fn;
    j.params = params;
    j.via_f32 = (flags & AIS__EW_VIA_F32) != 0;
    j.reads_out = (flags & AIS__EW_READS_OUT) != 0;
    int64_t full[AIS__EW_MAX_IN][AIS_MAX_DIMS];
    for (size_t k = 0; k < n_in; k++) {
        ais__broadcast_strides(in[k]->dims, in[k]->ndim, out->dims, out->ndim, full[k]);
        j.base[k] = in[k]->data;
        j.dtype[k] = in[k]->dtype;
        j.esize[k] = ais_dtype_size(in[k]->dtype);
    }
    /* Collapse: drop extents of 1, then merge neighbours that every input walks contiguously
     * (or broadcasts along together). */
    size_t nd = 0;
    for (size_t d = 0; d < out->ndim; d++) {
        if (out->dims[d] == 1) continue;
        bool merge = nd > 0;
        for (size_t k = 0; k < n_in && merge; k++)
            merge = j.strides[k][nd - 1] == full[k][d] * out->dims[d];
        if (merge) {
            j.dims[nd - 1] *= out->dims[d];
            for (size_t k = 0; k < n_in; k++)
                j.strides[k][nd - 1] = full[k][d];
        } else {
            j.dims[nd] = out->dims[d];
            for (size_t k = 0; k < n_in; k++)
                j.strides[k][nd] = full[k][d];
            nd++;
        }
    }
    if (nd == 0) {
        j.dims[0] = 1;
        nd = 1;
    }
    j.nd = nd;
    for (size_t k = 0; k < n_in; k++)
        j.step[k] = j.strides[k][nd - 1] != 0;
    ais__parallel_for(ctx->pool, out->numel, AIS__EW_GRAIN, ais__ew_range, &j);
}

ais_status ais__ew_broadcast(const ais_tensor *const *in, size_t n, ais__tensor_desc *desc) {
    size_t nd = 0;
    int64_t dims[AIS_MAX_DIMS];
    bool any = false;
    for (size_t k = 0; k < n; k++) {
        if (!in[k]) continue;
        if (!any) {
            nd = in[k]->ndim;
            memcpy(dims, in[k]->dims, nd * sizeof(int64_t));
            any = true;
            continue;
        }
        int64_t res[AIS_MAX_DIMS];
        size_t nres = 0;
        AIS__CHECK(ais__broadcast_shape("inputs", dims, nd, in[k]->dims, in[k]->ndim, res, &nres));
        memcpy(dims, res, nres * sizeof(int64_t));
        nd = nres;
    }
    desc->ndim = (uint32_t)nd;
    memcpy(desc->dims, dims, nd * sizeof(int64_t));
    return AIS_OK;
}

ais__ew_fn ais__ew_pick(const ais__ew_fn *table, ais_dtype dtype, bool *via_f32) {
    *via_f32 = false;
    if ((unsigned)dtype >= AIS__EW_NDTYPES) return NULL;
    if (table[dtype]) return table[dtype];
    if (ais__ew_is_half(dtype) && table[AIS_DTYPE_F32]) {
        *via_f32 = true;
        return table[AIS_DTYPE_F32];
    }
    return NULL;
}

ais_status ais__ew_dtype_error(const ais__ew_fn *table, const ais_tensor *t, const char *what) {
    char names[256];
    size_t pos = 0;
    names[0] = 0;
    for (int d = 1; d < AIS__EW_NDTYPES; d++) {
        bool ok = table[d] || (ais__ew_is_half((ais_dtype)d) && table[AIS_DTYPE_F32]);
        if (!ok || pos >= sizeof names) continue;
        int w = snprintf(names + pos, sizeof names - pos, "%s%s", pos ? ", " : "",
                         ais_dtype_name((ais_dtype)d));
        if (w > 0) pos += (size_t)w;
    }
    return ais__error(AIS_E_DTYPE, "%s has dtype %s, expected one of: %s", what,
                      ais_dtype_name(t->dtype), names);
}
