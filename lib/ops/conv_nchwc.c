/*
 * conv_nchwc.c - a group-1 convolution with more than one tap as the table's blocked direct
 * kernel (cpu.h, ais__nchwc_row), instead of a GEMM over packed columns.
 *
 * The GEMM path packs every tap's column block per call (k x k the input's size for a k x k
 * kernel); here the input is copied once per call into a zero-padded blocked buffer
 * [C / cb][Hp][Wp][cb] (its size, no taps), and the kernel reads each output pixel's taps from
 * it directly with the weights (packed once at load) streaming in order. The channel block keeps
 * one pixel's output channels in one vector, so any row width fills the vectors (a 7-wide row of
 * ResNet's last stage as well as a 112-wide one).
 *
 * Threads: tasks are (group of output channel blocks, at most as many as the kernel's tile takes,
 * groups near equal so no lone block runs the narrow tile; run of output pixels), group-major so a
 * thread keeps one group's weights in cache across its runs; each pool slot writes its run into
 * its own small blocked buffer and transposes it into the NCHW output while it is in L1.
 */
#include <string.h>

#include "conv_nchwc.h"

bool ais__conv_nchwc_suits(const ais__cpu_kernels *t, int64_t group, int64_t m, int64_t c,
                           int64_t kh, int64_t kw) {
    const int64_t b = t->conv_nchwc_block;
    if (b <= 0 || !t->conv_nchwc_row || group != 1 || kh * kw < 2 || m < 1 || c < 1) return false;
    int64_t cpad = c < b ? c : (c + b - 1) / b * b, mpad = (m + b - 1) / b * b;
    /* padded channels are multiply-adds of zeros: allow about a quarter more work */
    return (double)cpad * (double)mpad <= 1.3 * (double)c * (double)m;
}

ais_status ais__conv_nchwc_pack_make(ais__conv_nchwc_pack *p, const ais__cpu_kernels *t,
                                     const float *w, int64_t m, int64_t c, int64_t kh, int64_t kw) {
    const int64_t b = t->conv_nchwc_block, cb = c < b ? c : b;
    *p = (ais__conv_nchwc_pack){
        .t = t, .w = w, .m = m, .c = c, .kh = kh, .kw = kw, .block = b, .cb = cb};
    p->n_icb = (c + cb - 1) / cb;
    p->n_ocb = (m + b - 1) / b;
    const int64_t kvol = kh * kw;
    size_t floats = (size_t)(p->n_ocb * p->n_icb * kvol * cb * b), bytes;
    if (!ais__mul_size(floats, sizeof(float), &bytes))
        return ais__error(AIS_E_LIMIT, "blocked convolution weights size overflows");
    p->wb = ais__malloc_aligned(bytes, 64);
    if (!p->wb) return ais__oom(bytes, "blocked convolution weights");
    float *d = p->wb;
    for (int64_t ob = 0; ob < p->n_ocb; ob++)
        for (int64_t ib = 0; ib < p->n_icb; ib++)
            for (int64_t k = 0; k < kvol; k++)
                for (int64_t ci = 0; ci < cb; ci++)
                    for (int64_t o = 0; o < b; o++) {
                        int64_t mo = ob * b + o, cc = ib * cb + ci;
                        *d++ = mo < m && cc < c ? w[(mo * c + cc) * kvol + k] : 0.0f;
                    }
    return AIS_OK;
}

void ais__conv_nchwc_pack_free(ais__conv_nchwc_pack *p) {
    ais__free(p->wb);
    p->wb = NULL;
}

bool ais__conv_nchwc_fits(const ais__conv_nchwc_pack *p, const ais__conv_plan *q) {
    const ais__dense_geom *g = &q->g;
    return p->wb && q->group == 1 && q->m == p->m && q->c == p->c && g->k[0] == 1 &&
           g->in[0] == 1 && g->out[0] == 1 && g->k[1] == p->kh && g->k[2] == p->kw;
}

typedef struct ais__nchwc_job {
    const ais__conv_nchwc_pack *p;
    const ais__conv_plan *q;
    const float *x; /* this image's NCHW input */
    const float *z; /* this image's residual, Y's shape (NULL: none) */
    float *y;       /* this image's NCHW output */
    float *xb, *bias, *rows;
    ais__conv_act act, zact; /* act: in the kernel's store; zact: after Z */
    int64_t hp, wp, oh, ow, nb, groups, chunks, rows_floats;
    size_t tasks, n_slots;
} ais__nchwc_job;

/* Rows [begin, end) of the padded blocked input, a row being (input block, padded row). */
static void ais__nchwc_fill(void *vj, size_t begin, size_t end) {
    const ais__nchwc_job *j = vj;
    const ais__conv_nchwc_pack *p = j->p;
    const ais__dense_geom *g = &j->q->g;
    const int64_t cb = p->cb, h = g->in[1], w = g->in[2], ph = g->pb[1], pw = g->pb[2];
    const int64_t isz = h * w;
    for (size_t r = begin; r < end; r++) {
        int64_t ib = (int64_t)r / j->hp, row = (int64_t)r % j->hp, ih = row - ph;
        float *d = j->xb + (int64_t)r * j->wp * cb;
        if (ih < 0 || ih >= h) {
            memset(d, 0, (size_t)(j->wp * cb) * sizeof(float));
            continue;
        }
        memset(d, 0, (size_t)(pw * cb) * sizeof(float));
        int64_t tail = j->wp - pw - w;
        if (tail > 0) memset(d + (pw + w) * cb, 0, (size_t)(tail * cb) * sizeof(float));
        float *dm = d + pw * cb;
        /* the block's channels of the row into pixel-major order through the table's
         * transposing copy (whole vectors where it has them, not one strided float store at a
         * time), zeros for channels past C */
        const int64_t nc = AIS__MIN(cb, p->c - ib * cb);
        p->t->wino_chlast(j->x + ib * cb * isz + ih * w, isz, nc, w, dm, cb);
        for (int64_t ci = nc; ci < cb; ci++)
            for (int64_t iw = 0; iw < w; iw++)
                dm[iw * cb + ci] = 0.0f;
    }
}

/* Output pixels a task computes (a few tiles of the kernel's), which its slot keeps blocked in
 * L1 until it transposes them into the NCHW output. A multiple of the kernels' widest tiles (6
 * and 12 pixels, 8 for three blocks), so that only a plane's last run has a short tile: near-equal
 * runs (25 and 24 of a 7x7 plane, 40 or 39 of a 14x14 one) took as many or more tiles. */
#define AIS__NCHWC_CHUNK 48

static void ais__nchwc_task(const ais__nchwc_job *j, size_t task, float *rows) {
    const ais__conv_nchwc_pack *p = j->p;
    const ais__conv_plan *q = j->q;
    const ais__dense_geom *g = &q->g;
    const int64_t b = p->block, grp = (int64_t)task / j->chunks, ch = (int64_t)task % j->chunks;
    const int64_t ob = grp * p->n_ocb / j->groups, ob1 = (grp + 1) * p->n_ocb / j->groups;
    const int64_t kvol = p->kh * p->kw;
    const int64_t q0 = ch * AIS__NCHWC_CHUNK, q1 = AIS__MIN(q->osz, q0 + AIS__NCHWC_CHUNK);
    ais__nchwc_row a = {.x = j->xb,
                        .w = p->wb + ob * p->n_icb * kvol * p->cb * b,
                        .bias = j->bias ? j->bias + ob * b : NULL,
                        .y = rows,
                        .q0 = q0,
                        .q1 = q1,
                        .ow = j->ow,
                        .n_icb = p->n_icb,
                        .cb = p->cb,
                        .kh = p->kh,
                        .kw = p->kw,
                        .sh = g->stride[1],
                        .sw = g->stride[2],
                        .dh = g->dil[1],
                        .dw = g->dil[2],
                        .x_icb = j->hp * j->wp * p->cb,
                        .x_row = j->wp * p->cb,
                        .w_ocb = p->n_icb * kvol * p->cb * b,
                        .y_blk = AIS__NCHWC_CHUNK * b,
                        .nblk = (int)(ob1 - ob),
                        .block = (int)b,
                        .act = j->act};
    p->t->conv_nchwc_row(&a);
    /* back to NCHW from the run in L1, block by block (the last may hold fewer channels); then
     * the residual Z and the activation on the rows just written, while they are in L1 (a
     * separate Add and activation pass over Y ran on one thread after the call) */
    for (int blk = 0; blk < a.nblk; blk++) {
        const int64_t m0 = (ob + blk) * b, nch = AIS__MIN(b, q->m - m0);
        float *y = j->y + m0 * q->osz + q0;
        p->t->conv_nchwc_unblock(rows + blk * a.y_blk, q1 - q0, b, nch, y, q->osz);
        if (!j->z) continue;
        const float *z = j->z + m0 * q->osz + q0;
        for (int64_t o = 0; o < nch; o++) {
            float *yr = y + o * q->osz;
            const float *zr = z + o * q->osz;
            for (int64_t i = 0; i < q1 - q0; i++)
                yr[i] += zr[i];
            if (j->zact.kind != AIS__CONV_ACT_NONE)
                p->t->conv_act(yr, (size_t)(q1 - q0), 0.0f, &j->zact);
        }
    }
}

static void ais__nchwc_slots(void *vj, size_t begin, size_t end) {
    const ais__nchwc_job *j = vj;
    for (size_t s = begin; s < end; s++) {
        size_t t0 = s * j->tasks / j->n_slots, t1 = (s + 1) * j->tasks / j->n_slots;
        for (size_t task = t0; task < t1; task++)
            ais__nchwc_task(j, task, j->rows + (int64_t)s * j->rows_floats);
    }
}

static int64_t ais__nchwc_round16(int64_t n) { return (n + 15) / 16 * 16; }

ais_status ais__conv_nchwc_run(ais__op_ctx *ctx, const ais__conv_plan *q,
                               const ais__conv_nchwc_pack *p, const float *x, const float *bias,
                               const float *z, float *y, const ais__conv_act *act) {
    const ais__dense_geom *g = &q->g;
    const int64_t b = p->block, oh = g->out[1], ow = g->out[2];
    const ais__conv_act none = {AIS__CONV_ACT_NONE, 0, 0, 0};
    ais__nchwc_job j = {.p = p, .q = q, .act = z ? none : *act, .zact = *act, .oh = oh, .ow = ow};
    int64_t need_h = (oh - 1) * g->stride[1] + (p->kh - 1) * g->dil[1] + 1;
    int64_t need_w = (ow - 1) * g->stride[2] + (p->kw - 1) * g->dil[2] + 1;
    j.hp = AIS__MAX(g->pb[1] + g->in[1], need_h);
    j.wp = AIS__MAX(g->pb[2] + g->in[2], need_w);
    j.nb = AIS__MAX(1, p->t->conv_nchwc_nblk);
    j.groups = (p->n_ocb + j.nb - 1) / j.nb;
    j.chunks = (oh * ow + AIS__NCHWC_CHUNK - 1) / AIS__NCHWC_CHUNK;
    j.rows_floats = j.nb * AIS__NCHWC_CHUNK * b;
    j.tasks = (size_t)(j.groups * j.chunks);
    int32_t threads = ctx->pool ? ais__pool_threads(ctx->pool) : 1;
    double flops = 2.0 * (double)q->m * (double)q->c * (double)(p->kh * p->kw) * (double)(oh * ow);
    j.n_slots = flops >= 1e6 ? AIS__MIN(j.tasks, (size_t)threads) : 1;
    const int64_t xb_floats = ais__nchwc_round16(p->n_icb * j.hp * j.wp * p->cb);
    const int64_t bias_floats = bias ? ais__nchwc_round16(p->n_ocb * b) : 0;
    size_t total = (size_t)(xb_floats + bias_floats) + j.n_slots * (size_t)j.rows_floats, bytes;
    if (!ais__mul_size(total, sizeof(float), &bytes))
        return ais__error(AIS_E_LIMIT, "blocked convolution scratch size overflows");
    float *scratch = ais__op_scratch(ctx, bytes);
    if (!scratch) return ais__oom(bytes, "blocked convolution input and rows");
    j.xb = scratch;
    j.bias = bias ? scratch + xb_floats : NULL;
    j.rows = scratch + xb_floats + bias_floats;
    if (bias) {
        memcpy(j.bias, bias, (size_t)q->m * sizeof(float));
        memset(j.bias + q->m, 0, (size_t)(p->n_ocb * b - q->m) * sizeof(float));
    }
    const size_t fill_rows = (size_t)(p->n_icb * j.hp);
    for (int64_t n = 0; n < q->n; n++) {
        j.x = x + n * q->c * q->isz;
        j.y = y + n * q->m * q->osz;
        j.z = z ? z + n * q->m * q->osz : NULL;
        if (j.n_slots > 1) {
            ais__parallel_for(ctx->pool, fill_rows, 8, ais__nchwc_fill, &j);
            ais__parallel_for(ctx->pool, j.n_slots, 1, ais__nchwc_slots, &j);
        } else {
            ais__nchwc_fill(&j, 0, fill_rows);
            ais__nchwc_slots(&j, 0, 1);
        }
    }
    return AIS_OK;
}
