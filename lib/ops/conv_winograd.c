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
 * 16x that), so that U streams from memory once per call. */
static int64_t ais__wino_chunk(const ais__cpu_kernels *t, int64_t c, int64_t m, int64_t tiles) {
    const int64_t mr = t->gemm_mr, panels = (tiles + mr - 1) / mr, all = panels * mr;
    const double per_tile = 36.0 * sizeof(float) * (double)(c + m);
    size_t budget = AIS__WINO_CHUNK_BYTES;
    if (36.0 * sizeof(float) * (double)c * (double)m > (double)((size_t)1 << 20)) budget *= 16;
    int64_t fit = (int64_t)((double)budget / per_tile);
    return AIS__MIN(AIS__MAX(mr, fit / mr * mr), all);
}

/* How threads share a call. With enough chunks, each thread takes whole chunks (its own V, M and
 * GEMM scratch). With few (ResNet-18's 28x28 stage is one chunk of 49 tiles, a 14x14 plane one of
 * 16), chunks cut per thread were unequal (30 and 19 tiles, 5 and 4 six-row panels: a second
 * thread gained 1.6x at most), so there the threads share each chunk in three steps: the input
 * transforms split by tiles, the 36 GEMMs split by xi (18 each: equal work, and each thread reads
 * only its half of U), the output transforms split by tiles again. */
typedef struct ais__wino_split {
    int64_t tc, chunks;
    bool shared; /* the threads share each chunk */
} ais__wino_split;

static ais__wino_split ais__wino_split_make(const ais__cpu_kernels *t, int64_t c, int64_t m,
                                            int64_t tiles, int32_t threads) {
    ais__wino_split sp = {.tc = ais__wino_chunk(t, c, m, tiles)};
    sp.chunks = (tiles + sp.tc - 1) / sp.tc;
    sp.shared = threads > 1 && sp.chunks < 4 * (int64_t)threads;
    return sp;
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
 * Threads: the direct kernel splits any plane; this path splits chunks, or shares each of them
 * (ais__wino_split), equal parts within a chunk or two. */
bool ais__conv_wino_wins(const ais__conv_wino_pack *p, const ais__conv_plan *q, int32_t threads) {
    const ais__dense_geom *g = &q->g;
    const int64_t oh = g->out[1], ow = g->out[2], tiles = (oh + 3) / 4 * ((ow + 3) / 4);
    const ais__wino_split sp = ais__wino_split_make(p->t, p->c, p->m, tiles, threads);
    const double c = (double)p->c, m = (double)p->m;
    const int64_t split = AIS__MAX(1, sp.shared ? threads : AIS__MIN(threads, sp.chunks));
    double direct = 9.0 * c * m * (double)(oh * ow) / (double)AIS__MAX(1, threads);
    double wino =
        (36.0 * c * m * (double)(sp.chunks * sp.tc) + 8.0 * 36.0 * (c + m) * (double)tiles +
         AIS__WINO_MAC_PER_BYTE * 27.0 * c * m * sizeof(float)) /
        (double)split;
    return 1.25 * wino < direct;
}

typedef struct ais__wino_job {
    const ais__conv_wino_pack *p;
    const ais__conv_plan *q;
    const float *x, *bias, *z; /* this image's */
    float *y;
    float *xp, *slots;
    float *v, *mm; /* shared mode: the chunk's V and M, which every slot works on */
    ais__conv_act act;
    int64_t hp, wp, th, tw, tiles, tc, chunks, slot_floats, gemm_floats;
    int64_t chunk; /* shared mode: the chunk being run */
    size_t n_slots;
    bool shared;
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

/* The input transforms of tiles [i0, i1) of the chunk starting at tile t0 into V. */
static void ais__wino_tiles_in(const ais__wino_job *j, int64_t t0, int64_t i0, int64_t i1,
                               float *v) {
    const int64_t c = j->p->c, tc = j->tc;
    for (int64_t i = i0; i < i1; i++) {
        int64_t ty = (t0 + i) / j->tw, tx = (t0 + i) % j->tw;
        j->p->t->wino_in(j->xp + (4 * ty * j->wp + 4 * tx) * c, j->wp * c, c, c, v + i * c, tc * c);
    }
}

/* M[xi] = V[xi] U[xi] for xi in [xi0, xi1), nt tiles; gs: the GEMM's scratch. */
static void ais__wino_gemms(const ais__wino_job *j, int64_t nt, int xi0, int xi1, const float *v,
                            float *mm, float *gs) {
    const ais__conv_wino_pack *p = j->p;
    const int64_t c = p->c, m = p->m, tc = j->tc;
    for (int xi = xi0; xi < xi1; xi++)
        p->t->sgemm_ex(false, false, nt, m, c, 1.0f, v + xi * tc * c, c, NULL, 0,
                       p->u + (size_t)xi * p->xi_floats, 0.0f, mm + xi * tc * m, m, NULL, gs);
}

/* The output transforms of tiles [i0, i1) of the chunk starting at tile t0, with the bias, Z and
 * the activation, into the NCHW output; yt: 16 M floats of scratch. */
static void ais__wino_tiles_out(const ais__wino_job *j, int64_t t0, int64_t i0, int64_t i1,
                                const float *mm, float *yt) {
    const ais__cpu_kernels *t = j->p->t;
    const ais__dense_geom *g = &j->q->g;
    const int64_t m = j->p->m, tc = j->tc, oh = g->out[1], ow = g->out[2];
    const int64_t osz = oh * ow;
    for (int64_t i = i0; i < i1; i++) {
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

/* A slot's scratch: V and M (whole-chunk mode only), then the 16 M floats of one output tile
 * and the GEMM's scratch. */
static float *ais__wino_slot_tail(const ais__wino_job *j, size_t s) {
    float *slot = j->slots + (int64_t)s * j->slot_floats;
    return j->shared ? slot : slot + 36 * j->tc * (j->p->c + j->p->m);
}

static void ais__wino_chunk_run(const ais__wino_job *j, int64_t chunk, size_t s) {
    const int64_t t0 = chunk * j->tc, nt = AIS__MIN(j->tc, j->tiles - t0);
    float *v = j->slots + (int64_t)s * j->slot_floats, *mm = v + 36 * j->tc * j->p->c;
    float *yt = ais__wino_slot_tail(j, s), *gs = yt + 16 * j->p->m;
    ais__wino_tiles_in(j, t0, 0, nt, v);
    ais__wino_gemms(j, nt, 0, 36, v, mm, gs);
    ais__wino_tiles_out(j, t0, 0, nt, mm, yt);
}

static void ais__wino_slots(void *vj, size_t begin, size_t end) {
    const ais__wino_job *j = vj;
    for (size_t s = begin; s < end; s++)
        for (int64_t ch = (int64_t)s * j->chunks / (int64_t)j->n_slots;
             ch < (int64_t)(s + 1) * j->chunks / (int64_t)j->n_slots; ch++)
            ais__wino_chunk_run(j, ch, s);
}

/* Shared mode, slot s of n_slots: its part of the chunk's tiles (steps 1 and 3) or of the xi. */
static void ais__wino_shared_in(void *vj, size_t begin, size_t end) {
    const ais__wino_job *j = vj;
    const int64_t t0 = j->chunk * j->tc, nt = AIS__MIN(j->tc, j->tiles - t0);
    const int64_t n = (int64_t)j->n_slots;
    for (size_t s = begin; s < end; s++)
        ais__wino_tiles_in(j, t0, (int64_t)s * nt / n, ((int64_t)s + 1) * nt / n, j->v);
}

static void ais__wino_shared_gemms(void *vj, size_t begin, size_t end) {
    const ais__wino_job *j = vj;
    const int64_t t0 = j->chunk * j->tc, nt = AIS__MIN(j->tc, j->tiles - t0);
    const int n = (int)j->n_slots;
    for (size_t s = begin; s < end; s++)
        ais__wino_gemms(j, nt, (int)s * 36 / n, ((int)s + 1) * 36 / n, j->v, j->mm,
                        ais__wino_slot_tail(j, s) + 16 * j->p->m);
}

static void ais__wino_shared_out(void *vj, size_t begin, size_t end) {
    const ais__wino_job *j = vj;
    const int64_t t0 = j->chunk * j->tc, nt = AIS__MIN(j->tc, j->tiles - t0);
    const int64_t n = (int64_t)j->n_slots;
    for (size_t s = begin; s < end; s++)
        ais__wino_tiles_out(j, t0, (int64_t)s * nt / n, ((int64_t)s + 1) * nt / n, j->mm,
                            ais__wino_slot_tail(j, s));
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
    const ais__wino_split sp = ais__wino_split_make(t, p->c, p->m, j.tiles, threads);
    j.tc = sp.tc;
    j.chunks = sp.chunks;
    j.shared = sp.shared;
    j.gemm_floats = ais__wino_round16((int64_t)t->gemm_scratch_size(j.tc, p->m, p->c, true));
    const int64_t vm_floats = ais__wino_round16(36 * j.tc * (p->c + p->m));
    const int64_t tail_floats = ais__wino_round16(16 * p->m) + j.gemm_floats;
    j.slot_floats = (j.shared ? 0 : vm_floats) + tail_floats;
    j.n_slots =
        j.shared ? (size_t)threads : (size_t)AIS__MAX(1, AIS__MIN((int64_t)threads, j.chunks));
    const int64_t xp_floats = ais__wino_round16(j.hp * j.wp * p->c);
    size_t total = (size_t)xp_floats + (j.shared ? (size_t)vm_floats : 0) +
                   j.n_slots * (size_t)j.slot_floats,
           bytes;
    if (!ais__mul_size(total, sizeof(float), &bytes))
        return ais__error(AIS_E_LIMIT, "Winograd convolution scratch size overflows");
    float *scratch = ais__op_scratch(ctx, bytes);
    if (!scratch) return ais__oom(bytes, "Winograd convolution tiles");
    j.xp = scratch;
    if (j.shared) {
        j.v = scratch + xp_floats;
        j.mm = j.v + 36 * j.tc * p->c;
        j.slots = scratch + xp_floats + vm_floats;
    } else {
        j.slots = scratch + xp_floats;
    }
    for (int64_t n = 0; n < q->n; n++) {
        j.x = x + n * q->c * q->isz;
        j.y = y + n * q->m * q->osz;
        j.z = z ? z + n * q->m * q->osz : NULL;
        if (j.n_slots > 1) {
            ais__parallel_for(ctx->pool, (size_t)j.hp, 8, ais__wino_fill, &j);
            if (j.shared) {
                for (j.chunk = 0; j.chunk < j.chunks; j.chunk++) {
                    ais__parallel_for(ctx->pool, j.n_slots, 1, ais__wino_shared_in, &j);
                    ais__parallel_for(ctx->pool, j.n_slots, 1, ais__wino_shared_gemms, &j);
                    ais__parallel_for(ctx->pool, j.n_slots, 1, ais__wino_shared_out, &j);
                }
            } else {
                ais__parallel_for(ctx->pool, j.n_slots, 1, ais__wino_slots, &j);
            }
        } else {
            ais__wino_fill(&j, 0, (size_t)j.hp);
            ais__wino_slots(&j, 0, 1);
        }
    }
    return AIS_OK;
}
