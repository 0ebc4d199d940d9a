/*
 * conv_winograd.c - a group-1 3x3 stride-1 convolution as Winograd F(4x4, 3x3) (Lavin and Gray,
 * 2015): each 4x4 block of outputs is A^T [U (.) V] A with V = B^T d B the transform of its 6x6
 * input tile d and U = G g G^T that of the 3x3 filter g, so a tile costs 36 multiply-adds per
 * channel pair instead of 144 (4x fewer; less for planes that are not a multiple of 4).
 *
 * Layout: summed over input channels, the 36 element-wise products are 36 independent matrix
 * products M[xi] (tiles x M) = V[xi] (tiles x C) U[xi] (C x M). U is built at load in double
 * precision and packed as the GEMM's pre-packed B (gemm_prepack_b), one matrix per xi; V and M
 * keep channels last, so the table's transforms (wino_in, wino_out) run one vector of channels
 * at a time. Each call copies the input once into a zero-padded channels-last buffer
 * [Hp][Wp][C] (the tiles overlap by 2 pixels and read past the plane's edges), then works
 * through chunks of tiles sized so that a chunk's V and M stay in L2: transform the chunk's
 * tiles, 36 GEMMs, transform back with the bias, then Z and the activation as each tile is
 * written into the NCHW output. Threads take whole chunks, each with its own V, M and GEMM
 * scratch.
 *
 * Error: the transforms' constants (up to 5 in B, 8 in A, 1/24 in G) magnify rounding: measured
 * in tests/unit/test_ops_conv_winograd.c against the direct kernel and a double-precision sum.
 */
#include <string.h>

#include "conv_winograd.h"

/* U's floats (36 x C x M, 4x W's) above which prepare does not build it: ResNet's 512-channel
 * layers (37 MB each) run on 7x7 planes where the rule would not take it anyway. */
#define AIS__WINO_MAX_U_BYTES ((size_t)12 << 20)
/* Fewer channels than this leave the GEMMs too thin to pay for the transforms. */
#define AIS__WINO_MIN_CH 16
/* Bytes of one chunk's V and M together: 256 KiB measured up to 6% faster than 512 KiB and 1 MiB
 * on ResNet-18's 56x56 and 28x28 layers (they stay in L2 beside U's current matrix). */
#define AIS__WINO_CHUNK_BYTES ((size_t)256 << 10)

static const double ais__wino_g[6][3] = {{1.0 / 4, 0, 0},
                                         {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                         {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                         {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                         {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                         {0, 0, 1}};

static bool ais__wino_all_one(const ais_attrs *attrs, const char *name) {
    const int64_t *v;
    size_t n;
    if (!ais__attr_ints(attrs, name, &v, &n)) return true; /* absent: 1 */
    for (size_t i = 0; i < n; i++)
        if (v[i] != 1) return false;
    return true;
}

bool ais__conv_wino_suits(const ais__cpu_kernels *t, const ais_attrs *attrs, int64_t group,
                          int64_t m, int64_t c, int64_t kh, int64_t kw) {
    if (!t->wino_in || !t->wino_out || !t->wino_chlast || !t->sgemm_ex || !t->gemm_prepack_b ||
        !ais__conv_gemm_usable(t))
        return false;
    if (group != 1 || kh != 3 || kw != 3 || m < AIS__WINO_MIN_CH || c < AIS__WINO_MIN_CH)
        return false;
    if (!ais__wino_all_one(attrs, "strides") || !ais__wino_all_one(attrs, "dilations"))
        return false;
    return 36.0 * (double)m * (double)c * sizeof(float) <= (double)AIS__WINO_MAX_U_BYTES;
}

ais_status ais__conv_wino_pack_make(ais__conv_wino_pack *p, const ais__cpu_kernels *t,
                                    const float *w, int64_t m, int64_t c) {
    *p = (ais__conv_wino_pack){.t = t, .w = w, .m = m, .c = c};
    p->xi_floats = (t->gemm_packed_b_size(c, m) + 15) / 16 * 16;
    size_t bytes = 36 * p->xi_floats * sizeof(float), ubytes = (size_t)(m * c) * sizeof(float);
    float *buf = ais__malloc_aligned(bytes, 64), *u = ais__malloc(ubytes);
    if (!buf || !u) {
        ais__free(buf);
        ais__free(u);
        return ais__oom(bytes + ubytes, "Winograd weights");
    }
    /* one U[xi] = (G g G^T)[i][j] at a time, C x M row-major in double, then packed */
    for (int xi = 0; xi < 36; xi++) {
        const double *gi = ais__wino_g[xi / 6], *gj = ais__wino_g[xi % 6];
        for (int64_t o = 0; o < m; o++)
            for (int64_t ci = 0; ci < c; ci++) {
                const float *g = w + (o * c + ci) * 9;
                double s = 0;
                for (int a = 0; a < 3; a++)
                    s += gi[a] * (gj[0] * g[a * 3] + gj[1] * g[a * 3 + 1] + gj[2] * g[a * 3 + 2]);
                u[ci * m + o] = (float)s;
            }
        t->gemm_prepack_b(false, u, m, c, m, buf + (size_t)xi * p->xi_floats);
    }
    ais__free(u);
    p->u = buf;
    return AIS_OK;
}

void ais__conv_wino_pack_free(ais__conv_wino_pack *p) {
    ais__free(p->u);
    p->u = NULL;
}

bool ais__conv_wino_fits(const ais__conv_wino_pack *p, const ais__conv_plan *q) {
    const ais__dense_geom *g = &q->g;
    if (!p->u || q->group != 1 || q->m != p->m || q->c != p->c || g->k[0] != 1 || g->in[0] != 1 ||
        g->out[0] != 1 || g->k[1] != 3 || g->k[2] != 3)
        return false;
    for (int i = 1; i < 3; i++)
        if (g->stride[i] != 1 || g->dil[i] != 1) return false;
    return true;
}

/* Tiles a chunk takes, a multiple of the GEMM's mr: V and M within AIS__WINO_CHUNK_BYTES while
 * U stays in L2 between chunks; when it cannot (more than 1 MiB), all tiles in one chunk (up to
 * 16x that), so that U streams from memory once per call. Threads take whole chunks, so there
 * are at least as many chunks as threads where the tiles allow: with one chunk (ResNet-18's
 * 28x28 stage) a second thread had nothing to do. The threads then read the same U at about the
 * same time, from the cache they share. */
static int64_t ais__wino_chunk(const ais__cpu_kernels *t, int64_t c, int64_t m, int64_t tiles,
                               int32_t threads) {
    const int64_t mr = t->gemm_mr, panels = (tiles + mr - 1) / mr, all = panels * mr;
    const double per_tile = 36.0 * sizeof(float) * (double)(c + m);
    size_t budget = AIS__WINO_CHUNK_BYTES;
    if (36.0 * sizeof(float) * (double)c * (double)m > (double)((size_t)1 << 20)) budget *= 16;
    int64_t fit = (int64_t)((double)budget / per_tile);
    int64_t tc = AIS__MIN(AIS__MAX(mr, fit / mr * mr), all);
    if (threads > 1) tc = AIS__MIN(tc, (panels + threads - 1) / threads * mr);
    return tc;
}

/* Multiply-adds one byte of weights read from memory costs (about 60 G multiply-adds/s against
 * 10 GB/s on one core here): in a model run each layer's weights come from memory, and U is 4x W.
 */
#define AIS__WINO_MAC_PER_BYTE 6.0

/* The cost rule, in multiply-adds: the direct kernel's 9 C M per output pixel against the 36 C M
 * per tile of the 36 GEMMs, whose rows are padded to whole chunks (a chunk is whole GEMM panels:
 * 4 tiles of a 7x7 plane cost a 14-row panel at AVX-512), plus the transforms (about 8 per tile
 * element and channel, with the copies in and out) and the extra weight traffic (U's 36 C M
 * floats against W's 9 C M), with a margin of 1.25 for the thinner GEMMs. Both paths ran near
 * 55-60 G multiply-adds/s at one thread on ResNet-18's shapes (Ice Lake, AVX-512; bench/README.md),
 * which is why the rule compares counts. In ResNet-18 at 224 x 224 this takes the 56x56 and 28x28
 * stages and leaves the 14x14 one (U of 9.4 MB per layer) and the 7x7 one to the direct kernel.
 * Threads: the direct kernel splits any plane; this path splits chunks only. */
bool ais__conv_wino_wins(const ais__conv_wino_pack *p, const ais__conv_plan *q, int32_t threads) {
    const ais__dense_geom *g = &q->g;
    const int64_t oh = g->out[1], ow = g->out[2], tiles = (oh + 3) / 4 * ((ow + 3) / 4);
    const int64_t tc = ais__wino_chunk(p->t, p->c, p->m, tiles, threads);
    const int64_t chunks = (tiles + tc - 1) / tc;
    const double c = (double)p->c, m = (double)p->m;
    double direct = 9.0 * c * m * (double)(oh * ow) / (double)AIS__MAX(1, threads);
    double wino = (36.0 * c * m * (double)(chunks * tc) + 8.0 * 36.0 * (c + m) * (double)tiles +
                   AIS__WINO_MAC_PER_BYTE * 27.0 * c * m * sizeof(float)) /
                  (double)AIS__MAX(1, AIS__MIN(threads, chunks));
    return 1.25 * wino < direct;
}

typedef struct ais__wino_job {
    const ais__conv_wino_pack *p;
    const ais__conv_plan *q;
    const float *x, *bias, *z; /* this image's */
    float *y;
    float *xp, *slots;
    ais__conv_act act;
    int64_t hp, wp, th, tw, tiles, tc, chunks, slot_floats, gemm_floats;
    size_t n_slots;
} ais__wino_job;

/* Rows [begin, end) of the padded channels-last input. */
static void ais__wino_fill(void *vj, size_t begin, size_t end) {
    const ais__wino_job *j = vj;
    const ais__dense_geom *g = &j->q->g;
    const int64_t c = j->p->c, h = g->in[1], w = g->in[2], ph = g->pb[1], pw = g->pb[2];
    for (size_t r = begin; r < end; r++) {
        float *d = j->xp + (int64_t)r * j->wp * c;
        int64_t ih = (int64_t)r - ph;
        if (ih < 0 || ih >= h) {
            memset(d, 0, (size_t)(j->wp * c) * sizeof(float));
            continue;
        }
        /* columns [pw, pw + w) of the buffer hold the row; the rest are zeros (pw may exceed
         * the buffer's width only when the output is narrower than the pad, never here) */
        int64_t c0 = AIS__MIN(pw, j->wp), c1 = AIS__MIN(pw + w, j->wp);
        memset(d, 0, (size_t)(c0 * c) * sizeof(float));
        if (c1 < j->wp) memset(d + c1 * c, 0, (size_t)((j->wp - c1) * c) * sizeof(float));
        if (c1 > c0)
            j->p->t->wino_chlast(j->x + ih * w + (c0 - pw), h * w, c, c1 - c0, d + c0 * c, c);
    }
}

static void ais__wino_chunk_run(const ais__wino_job *j, int64_t chunk, float *slot) {
    const ais__conv_wino_pack *p = j->p;
    const ais__cpu_kernels *t = p->t;
    const ais__dense_geom *g = &j->q->g;
    const int64_t c = p->c, m = p->m, tc = j->tc, oh = g->out[1], ow = g->out[2];
    const int64_t osz = oh * ow;
    const int64_t t0 = chunk * tc, nt = AIS__MIN(tc, j->tiles - t0);
    float *v = slot, *mm = v + 36 * tc * c, *yt = mm + 36 * tc * m, *gs = yt + 16 * m;
    for (int64_t i = 0; i < nt; i++) {
        int64_t ty = (t0 + i) / j->tw, tx = (t0 + i) % j->tw;
        t->wino_in(j->xp + (4 * ty * j->wp + 4 * tx) * c, j->wp * c, c, c, v + i * c, tc * c);
    }
    for (int xi = 0; xi < 36; xi++)
        t->sgemm_ex(false, false, nt, m, c, 1.0f, v + xi * tc * c, c, NULL, 0,
                    p->u + (size_t)xi * p->xi_floats, 0.0f, mm + xi * tc * m, m, NULL, gs);
    for (int64_t i = 0; i < nt; i++) {
        int64_t ty = (t0 + i) / j->tw, tx = (t0 + i) % j->tw;
        t->wino_out(mm + i * m, tc * m, m, j->bias, yt, 16);
        int64_t rows = AIS__MIN(4, oh - 4 * ty), cols = AIS__MIN(4, ow - 4 * tx);
        /* Z, then the activation over the whole contiguous block, then into NCHW rows */
        const int64_t at = 4 * ty * ow + 4 * tx;
        if (j->z)
            for (int64_t o = 0; o < m; o++)
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t col = 0; col < cols; col++)
                        yt[o * 16 + r * 4 + col] += j->z[o * osz + at + r * ow + col];
        if (j->act.kind != AIS__CONV_ACT_NONE) t->conv_act(yt, (size_t)(16 * m), 0.0f, &j->act);
        for (int64_t o = 0; o < m; o++)
            for (int64_t r = 0; r < rows; r++) {
                float *d = j->y + o * osz + at + r * ow;
                const float *src = yt + o * 16 + r * 4;
                if (cols == 4)
                    memcpy(d, src, 4 * sizeof(float));
                else
                    for (int64_t col = 0; col < cols; col++)
                        d[col] = src[col];
            }
    }
}

static void ais__wino_slots(void *vj, size_t begin, size_t end) {
    const ais__wino_job *j = vj;
    for (size_t s = begin; s < end; s++)
        for (int64_t ch = (int64_t)s * j->chunks / (int64_t)j->n_slots;
             ch < (int64_t)(s + 1) * j->chunks / (int64_t)j->n_slots; ch++)
            ais__wino_chunk_run(j, ch, j->slots + (int64_t)s * j->slot_floats);
}

static int64_t ais__wino_round16(int64_t n) { return (n + 15) / 16 * 16; }

ais_status ais__conv_wino_run(ais__op_ctx *ctx, const ais__conv_plan *q,
                              const ais__conv_wino_pack *p, const float *x, const float *bias,
                              const float *z, float *y, const ais__conv_act *act) {
    const ais__dense_geom *g = &q->g;
    const ais__cpu_kernels *t = p->t;
    ais__wino_job j = {.p = p, .q = q, .bias = bias, .act = *act};
    j.th = (g->out[1] + 3) / 4;
    j.tw = (g->out[2] + 3) / 4;
    j.hp = 4 * j.th + 2;
    j.wp = 4 * j.tw + 2;
    j.tiles = j.th * j.tw;
    int32_t threads = ctx->pool ? ais__pool_threads(ctx->pool) : 1;
    j.tc = ais__wino_chunk(t, p->c, p->m, j.tiles, threads);
    j.chunks = (j.tiles + j.tc - 1) / j.tc;
    j.gemm_floats = ais__wino_round16((int64_t)t->gemm_scratch_size(j.tc, p->m, p->c, true));
    j.slot_floats = ais__wino_round16(36 * j.tc * (p->c + p->m) + 16 * p->m) + j.gemm_floats;
    j.n_slots = (size_t)AIS__MAX(1, AIS__MIN((int64_t)threads, j.chunks));
    const int64_t xp_floats = ais__wino_round16(j.hp * j.wp * p->c);
    size_t total = (size_t)xp_floats + j.n_slots * (size_t)j.slot_floats, bytes;
    if (!ais__mul_size(total, sizeof(float), &bytes))
        return ais__error(AIS_E_LIMIT, "Winograd convolution scratch size overflows");
    float *scratch = ais__op_scratch(ctx, bytes);
    if (!scratch) return ais__oom(bytes, "Winograd convolution tiles");
    j.xp = scratch;
    j.slots = scratch + xp_floats;
    for (int64_t n = 0; n < q->n; n++) {
        j.x = x + n * q->c * q->isz;
        j.y = y + n * q->m * q->osz;
        j.z = z ? z + n * q->m * q->osz : NULL;
        if (j.n_slots > 1) {
            ais__parallel_for(ctx->pool, (size_t)j.hp, 8, ais__wino_fill, &j);
            ais__parallel_for(ctx->pool, j.n_slots, 1, ais__wino_slots, &j);
        } else {
            ais__wino_fill(&j, 0, (size_t)j.hp);
            ais__wino_slots(&j, 0, 1);
        }
    }
    return AIS_OK;
}
