/*
 * conv_gemm.c - convolution on NCHW as our packed GEMM (lib/cpu/cpu_gemm.c's micro-kernel, driven
 * here because a convolution's B is not a matrix in memory).
 *
 * Per image and group, out[co, pos] = W[co, ci*taps] x cols[ci*taps, pos]: the weights are A
 * (packed once into mr-row panels, by prepare when W is constant), the columns are B, packed
 * kc rows x a block of columns at a time straight from the image into nr-column panels
 * (ais__dense_im2col_pack; a 1x1 stride-1 unpadded convolution packs rows of X directly), so the
 * column matrix never exists and a block stays in L2 while every row panel of A passes over it.
 * The micro-kernel stores each output tile once with the bias (a column of the output) and the
 * activation (Relu, Clip, LeakyRelu).
 *
 * Threads: the work is split into tasks of (image, group, column block, row block), columns
 * first (no repeated packing), rows only when there are too few columns for the threads; each
 * pool slot claims tasks one at a time with its own packing buffer. One image of one group with
 * few columns (a deep layer at batch 1) instead splits its output tiles (row panel x column
 * panel), taken column-major, into equal runs, as many as a multiple of the threads: each run
 * packs only the column panels it covers (one shared with the next run is packed twice), so
 * every thread reads B from its own cache and the weights, read-only, from either. Row blocks
 * there left threads idle (MobileNetV2's 64-row 1x1 projections at 14x14: 5 row panels went 3:2
 * over two threads), and one B packed by all threads and read by all made every tile fetch its
 * B panel from the other core's cache (the threads' tiles ran 1.4x slower than one thread's).
 * A residual Z (FusedConv's) is copied into each output tile before its first k slice, so the
 * micro-kernel's store writes act(W X + bias + Z) once.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "conv_gemm.h"

bool ais__conv_gemm_usable(const ais__cpu_kernels *t) {
    return t->isa >= AIS_CPU_ISA_AVX2 && t->gemm_ukernel_ep && t->gemm_pack_a && t->gemm_pack_b;
}

static int64_t ais__conv_mpad(const ais__cpu_kernels *t, int64_t mg) {
    return (mg + t->gemm_mr - 1) / t->gemm_mr * t->gemm_mr;
}

size_t ais__conv_wpack_floats(const ais__cpu_kernels *t, int64_t m, int64_t group, int64_t k) {
    return (size_t)group * (size_t)ais__conv_mpad(t, m / group) * (size_t)k;
}

void ais__conv_wpack_fill(ais__conv_wpack *p, const ais__cpu_kernels *t, const float *w, int64_t m,
                          int64_t group, int64_t k, float *dst) {
    const int64_t mg = m / group, mpad = ais__conv_mpad(t, mg), kc = t->gemm_kc, mr = t->gemm_mr;
    for (int64_t g = 0; g < group; g++) {
        const float *wg = w + g * mg * k;
        float *dg = dst + g * mpad * k;
        for (int64_t pc = 0; pc < k; pc += kc) {
            int64_t kcb = AIS__MIN(kc, k - pc);
            for (int64_t ir = 0; ir < mpad; ir += mr)
                t->gemm_pack_a(false, wg + pc, k, ir, mg, kcb, dg + pc * mpad + ir * kcb);
        }
    }
    *p = (ais__conv_wpack){.t = t, .w = w, .m = m, .group = group, .k = k, .mpad = mpad, .a = dst};
}

typedef struct ais__cg_job {
    const ais__conv_plan *p;
    const ais__cpu_kernels *t;
    ais__dense_win win;
    bool direct;
    bool strided;            /* 1x1 with a stride > 1, unpadded: ais__cg_pack_strided */
    ais__gemm_act store_act; /* the activation in the micro-kernel's store */
    const float *a, *x, *bias, *z;
    float *y, *bufs;
    int64_t ldy; /* floats between two rows of a group's output (a folded shuffle spreads them) */
    ais__conv_act act;
    int64_t k, mpad, cols_per_block, col_blocks, rows_per_block, row_blocks;
    int64_t mc_rows; /* ais__cg_task: rows of A's k slice kept in L2 while column panels pass */
    size_t tasks, n_slots, buf_floats;
    _Atomic size_t next; /* the next task to claim */
    /* runs mode: one image's tiles, column-major (tile i is column panel i / row_panels, row
     * panel i % row_panels), in `tasks` equal runs */
    bool runs;
    int64_t tiles, row_panels;
} ais__cg_job;

/* The epilogue of the tile at rows ir.., columns jq.. of y on the last k slice; the residual z
 * copied into the tile before the first (the micro-kernel then accumulates onto it). */
static void ais__cg_tile(const ais__cg_job *j, const float *ap, const float *bp, int64_t kcb,
                         bool first, bool last, const float *bias, const float *z, float *y,
                         int64_t ir, int64_t jq, int mu, int nu) {
    const int64_t osz = j->p->osz;
    ais__gemm_epilogue ep = {.bias_rs = 1, .act = AIS__GEMM_ACT_NONE}, *epp = NULL;
    if (last && (bias || j->store_act != AIS__GEMM_ACT_NONE)) {
        ep.bias = bias ? bias + ir : NULL;
        ep.act = j->store_act;
        ep.act_alpha = j->act.kind == AIS__CONV_ACT_LEAKY ? j->act.alpha : j->act.lo;
        ep.act_beta = j->act.hi;
        epp = &ep;
    }
    if (first && z) {
        /* the residual of the tile two row panels on (the walk's next tiles but one, in both
         * modes), so that its rows, read from L3 or memory, arrive while this tile's k loop
         * runs: the copy below waited on them and took a fifth of a 64 -> 256 channel
         * residual layer */
        const int64_t ahead = ir + 2 * j->t->gemm_mr;
        for (int64_t r = ahead; r < AIS__MIN(ahead + mu, j->p->mg); r++) {
            __builtin_prefetch(z + r * osz + jq);
            __builtin_prefetch(z + r * osz + jq + nu - 1);
        }
        /* constant sizes for full tiles, so the copies are inlined vector moves */
        const float *zt = z + ir * osz + jq;
        float *yt = y + ir * j->ldy + jq;
        if (nu == 16)
            for (int r = 0; r < mu; r++)
                memcpy(yt + r * j->ldy, zt + r * osz, 16 * sizeof *y);
        else if (nu == 32)
            for (int r = 0; r < mu; r++)
                memcpy(yt + r * j->ldy, zt + r * osz, 32 * sizeof *y);
        else
            for (int r = 0; r < mu; r++)
                memcpy(yt + r * j->ldy, zt + r * osz, (size_t)nu * sizeof *y);
    }
    j->t->gemm_ukernel_ep(kcb, ap, bp, y + ir * j->ldy + jq, j->ldy, mu, nu, !first || z, epp);
}

/* Columns [j0, j1) of the kcb rows of X (ld floats apart) into nr-column panels, as the table's
 * gemm_pack_b lays them out, row by row: one panel at a time read 16 or 32 floats of each row,
 * a new 4 KiB page per row on a 56x56 plane (12.5 KiB rows), and took a tenth of a 1x1
 * convolution's time there; a row's columns of all panels are one sequential read. */
static void ais__cg_pack_rows(const float *x, int64_t ld, int64_t j0, int64_t j1, int64_t kcb,
                              int64_t nr, float *buf) {
    const int64_t full = (j1 - j0) / nr, tail = (j1 - j0) - full * nr, pstride = kcb * nr;
    for (int64_t p = 0; p < kcb; p++) {
        const float *src = x + p * ld + j0;
        float *dst = buf + p * nr;
        /* constant sizes, so the copies are inlined vector moves */
        if (nr == 16)
            for (int64_t q = 0; q < full; q++)
                memcpy(dst + q * pstride, src + q * 16, 16 * sizeof(float));
        else if (nr == 32)
            for (int64_t q = 0; q < full; q++)
                memcpy(dst + q * pstride, src + q * 32, 32 * sizeof(float));
        else
            for (int64_t q = 0; q < full; q++)
                memcpy(dst + q * pstride, src + q * nr, (size_t)nr * sizeof(float));
        if (tail) {
            float *d = dst + full * pstride;
            memcpy(d, src + full * nr, (size_t)tail * sizeof(float));
            memset(d + tail, 0, (size_t)(nr - tail) * sizeof(float));
        }
    }
}

/* Columns [j0, j1) of the kcb rows of a 1x1 unpadded convolution with a stride (ResNet's
 * downsampling shortcuts) into nr-column panels: row p of the block is channel p's plane read at
 * every stride-th position of every stride-th row. The general im2col packing walked each panel
 * and row with its window arithmetic and took a third of these layers' time (56x56 -> 28x28,
 * 256 -> 512 channels); here each output row is a run of strided loads cut at the panel edges. */
static void ais__cg_pack_strided(const ais__dense_win *w, const float *x, int64_t isz, int64_t j0,
                                 int64_t j1, int64_t kcb, int64_t nr, float *buf) {
    const int64_t o1 = w->col[1], o2 = w->col[2], pstride = kcb * nr, n = j1 - j0;
    const int64_t s0 = w->stride[0] * w->im[1] * w->im[2], s1 = w->stride[1] * w->im[2];
    const int64_t s2 = w->stride[2];
    const int64_t od0 = j0 / (o1 * o2), oh0 = (j0 / o2) % o1, ow0 = j0 % o2;
    for (int64_t p = 0; p < kcb; p++) {
        const float *plane = x + p * isz;
        float *dst = buf + p * nr;
        int64_t od = od0, oh = oh0, ow = ow0;
        for (int64_t t = 0; t < n;) {
            int64_t run = AIS__MIN(o2 - ow, n - t);
            const float *src = plane + od * s0 + oh * s1 + ow * s2;
            /* the run in pieces that stay inside one panel */
            for (int64_t left = run; left > 0;) {
                int64_t q = t / nr, r = t - q * nr, len = AIS__MIN(left, nr - r);
                float *d = dst + q * pstride + r;
                if (s2 == 2)
                    for (int64_t i = 0; i < len; i++)
                        d[i] = src[2 * i];
                else
                    for (int64_t i = 0; i < len; i++)
                        d[i] = src[i * s2];
                src += len * s2;
                t += len;
                left -= len;
            }
            ow = 0;
            if (++oh == o1) {
                oh = 0;
                od++;
            }
        }
        int64_t tail = n % nr;
        if (tail) memset(dst + (n / nr) * pstride + tail, 0, (size_t)(nr - tail) * sizeof(float));
    }
}

/* Rows [pc, pc + kcb) and columns [j0, j1) of the column matrix of image x (its first channel at
 * x) into buf, by the cheapest packing the convolution's window allows. */
static void ais__cg_pack(const ais__cg_job *j, const float *x, int64_t pc, int64_t kcb, int64_t j0,
                         int64_t j1, float *buf) {
    const int64_t isz = j->p->isz, nr = j->t->gemm_nr;
    if (j->direct)
        ais__cg_pack_rows(x + pc * isz, isz, j0, j1, kcb, nr, buf);
    else if (j->strided)
        ais__cg_pack_strided(&j->win, x + pc * isz, isz, j0, j1, kcb, nr, buf);
    else
        ais__dense_im2col_pack(x, &j->win, pc, pc + kcb, j0, j1, nr, buf);
}

static void ais__cg_task(const ais__cg_job *j, size_t task, float *buf) {
    const ais__conv_plan *p = j->p;
    const ais__cpu_kernels *t = j->t;
    const int64_t mr = t->gemm_mr, nr = t->gemm_nr, kc = t->gemm_kc, osz = p->osz;
    int64_t rb = (int64_t)task % j->row_blocks, rest = (int64_t)task / j->row_blocks;
    int64_t cb = rest % j->col_blocks, ng = rest / j->col_blocks;
    int64_t n = ng / p->group, g = ng % p->group;
    int64_t j0 = cb * j->cols_per_block, j1 = AIS__MIN(osz, j0 + j->cols_per_block);
    int64_t i0 = rb * j->rows_per_block, i1 = AIS__MIN(p->mg, i0 + j->rows_per_block);
    if (j0 >= j1 || i0 >= i1) return;
    const float *x = j->x + (n * p->c + g * p->cg) * p->isz;
    const float *a = j->a + g * j->mpad * j->k;
    const float *bias = j->bias ? j->bias + g * p->mg : NULL;
    float *y = j->y + (n * p->m + ais__conv_group_row(p, g)) * osz;
    const float *z = j->z ? j->z + (n * p->m + g * p->mg) * osz : NULL;
    for (int64_t pc = 0; pc < j->k; pc += kc) {
        int64_t kcb = AIS__MIN(kc, j->k - pc);
        bool last = pc + kcb >= j->k;
        ais__cg_pack(j, x, pc, kcb, j0, j1, buf);
        /* row blocks of A (mc rows of the k slice) that stay in L2 while the column panels pass
         * under them: with all rows per panel, the slice of a wide layer (2048 x 256 floats at
         * ResNet-50's last stage) came from L3 once per column panel */
        for (int64_t ic = i0; ic < i1; ic += j->mc_rows)
            for (int64_t jq = j0, q = 0; jq < j1; jq += nr, q++)
                for (int64_t ir = ic; ir < AIS__MIN(i1, ic + j->mc_rows); ir += mr)
                    ais__cg_tile(j, a + pc * j->mpad + ir * kcb, buf + q * kcb * nr, kcb, pc == 0,
                                 last, bias, z, y, ir, jq, (int)AIS__MIN(mr, i1 - ir),
                                 (int)AIS__MIN(nr, j1 - jq));
    }
}

/* Runs mode: task = an equal run of the column-major tiles; per kc slice it packs the column
 * panels it covers into its own buffer, then walks its tiles, each B panel staying in L1 while
 * the run passes the row panels over it. (Runs taken row block by row block, to keep A's rows in
 * L2 as ais__cg_task does, packed each block's panels again: 8-10% more CPU time on ResNet-50's
 * 7x7 1x1 layers at two threads.) */
static void ais__cg_run_task(const ais__cg_job *j, size_t task, float *buf) {
    const ais__conv_plan *p = j->p;
    const ais__cpu_kernels *t = j->t;
    const int64_t mr = t->gemm_mr, nr = t->gemm_nr, kc = t->gemm_kc, osz = p->osz;
    const int64_t rp = j->row_panels;
    int64_t t0 = (int64_t)task * j->tiles / (int64_t)j->tasks;
    int64_t t1 = ((int64_t)task + 1) * j->tiles / (int64_t)j->tasks;
    if (t0 >= t1) return;
    int64_t q0 = t0 / rp, q1 = (t1 - 1) / rp + 1;
    int64_t c0 = q0 * nr, c1 = AIS__MIN(osz, q1 * nr);
    for (int64_t pc = 0; pc < j->k; pc += kc) {
        int64_t kcb = AIS__MIN(kc, j->k - pc);
        ais__cg_pack(j, j->x, pc, kcb, c0, c1, buf);
        for (int64_t i = t0; i < t1; i++) {
            int64_t q = i / rp, ir = i % rp * mr;
            ais__cg_tile(j, j->a + pc * j->mpad + ir * kcb, buf + (q - q0) * kcb * nr, kcb, pc == 0,
                         pc + kcb >= j->k, j->bias, j->z, j->y, ir, q * nr,
                         (int)AIS__MIN(mr, p->mg - ir), (int)AIS__MIN(nr, osz - q * nr));
        }
    }
}

/* Each slot claims tasks one at a time, so a thread the system delays holds up no fixed share. */
static void ais__cg_slots(void *vj, size_t begin, size_t end) {
    ais__cg_job *j = vj;
    for (size_t s = begin; s < end; s++)
        for (size_t task; (task = atomic_fetch_add(&j->next, 1)) < j->tasks;) {
            if (j->runs)
                ais__cg_run_task(j, task, j->bufs + s * j->buf_floats);
            else
                ais__cg_task(j, task, j->bufs + s * j->buf_floats);
        }
}

ais_status ais__conv_gemm_run(ais__op_ctx *ctx, const ais__conv_plan *p, const ais__cpu_kernels *t,
                              const ais__conv_wpack *wp, const float *w, const float *x,
                              const float *bias, const float *z, float *y,
                              const ais__conv_act *act) {
    const int64_t mr = t->gemm_mr, nr = t->gemm_nr, k = p->cg * p->kvol;
    const int64_t kcmin = AIS__MIN(t->gemm_kc, k), mpad = ais__conv_mpad(t, p->mg);
    ais__cg_job j = {.p = p,
                     .t = t,
                     .x = x,
                     .bias = bias,
                     .z = z,
                     .y = y,
                     .ldy = ais__conv_row_step(p) * p->osz,
                     .act = *act,
                     .k = k,
                     .mpad = mpad};
    j.direct = true;
    bool pointwise = true; /* 1x1 unpadded, any stride */
    for (int i = 0; i < 3; i++) {
        if (p->g.k[i] != 1 || p->g.pb[i] != 0 || p->g.pe[i] != 0) pointwise = false;
        if (p->g.stride[i] != 1) j.direct = false;
        j.win.im[i] = p->g.in[i];
        j.win.col[i] = p->g.out[i];
        j.win.k[i] = p->g.k[i];
        j.win.stride[i] = p->g.stride[i];
        j.win.dil[i] = p->g.dil[i];
        j.win.pb[i] = p->g.pb[i];
    }
    j.direct = j.direct && pointwise;
    j.strided = !j.direct && pointwise;
    /* every activation of a convolution is one the micro-kernel applies in its store (Clip:
     * min(max(v, lo), hi) either way, NaN kept), so the output is written once */
    if (act->kind == AIS__CONV_ACT_LEAKY)
        j.store_act = AIS__GEMM_ACT_LEAKY_RELU;
    else if (act->kind == AIS__CONV_ACT_CLAMP)
        j.store_act = act->lo == 0.0f && isinf(act->hi) && act->hi > 0 ? AIS__GEMM_ACT_RELU
                                                                       : AIS__GEMM_ACT_CLIP;
    else
        j.store_act = AIS__GEMM_ACT_NONE;

    /* Blocks: a kc x (panels * nr) block of B in about 256 KiB of L2; with several threads,
     * smaller column blocks until there are about 4 tasks a thread, then row blocks. */
    int32_t threads = ctx->pool ? ais__pool_threads(ctx->pool) : 1;
    int64_t ng = p->n * p->group, panels = (p->osz + nr - 1) / nr;
    int64_t pb = AIS__MAX(1, 65536 / (kcmin * nr)), row_panels = mpad / mr, rb = 1;
    if (pb > panels) pb = panels;
    double flops = 2.0 * (double)p->m * (double)k * (double)p->osz * (double)p->n;
    if (threads > 1 && flops >= 1e6) {
        int64_t want = 4 * (int64_t)threads;
        if (ng * ((panels + pb - 1) / pb) < want) pb = AIS__MAX(1, panels * ng / want);
        /* one image: a multiple of the threads of equal blocks (196 panels in blocks of 24 were
         * 8 blocks and one of 4, 5 blocks to one thread and 4 to the other) */
        int64_t nb = (panels + pb - 1) / pb;
        if (ng == 1 && nb < 8 * (int64_t)threads && nb % threads != 0) {
            nb = (nb + threads - 1) / threads * threads;
            pb = (panels + nb - 1) / nb;
        }
        int64_t have = ng * ((panels + pb - 1) / pb);
        if (have < 2 * threads) rb = AIS__MIN(row_panels, (2 * (int64_t)threads + have - 1) / have);
    } else {
        threads = 1;
    }
    /* One image of one group with few columns (the deep layers of a CNN at batch 1): column
     * blocks would be too few to balance, row blocks would pack the same columns once per row
     * block. There the threads take equal runs of tiles. */
    j.runs = threads > 1 && ng == 1 && row_panels * panels >= 2 * (int64_t)threads &&
             ((panels + pb - 1) / pb < 4 * threads);
    j.mc_rows = AIS__MAX(1, t->gemm_mc / mr) * mr;
    if (j.runs) {
        /* runs of at least ~3 tiles, up to 4 a thread, a multiple of the threads in all */
        j.row_panels = row_panels;
        j.tiles = row_panels * panels;
        int64_t per_thread = AIS__MAX(1, AIS__MIN(4, j.tiles / (3 * (int64_t)threads)));
        j.tasks = (size_t)AIS__MIN(j.tiles, per_thread * (int64_t)threads);
        j.n_slots = (size_t)threads;
        /* the most column panels a run covers: its tiles over row_panels, plus one it starts
         * inside */
        int64_t run_tiles = (j.tiles + (int64_t)j.tasks - 1) / (int64_t)j.tasks;
        int64_t run_panels = AIS__MIN(panels, (run_tiles + row_panels - 1) / row_panels + 1);
        j.buf_floats = ((size_t)(kcmin * run_panels * nr) + 15) / 16 * 16;
    } else {
        j.cols_per_block = pb * nr;
        j.col_blocks = (p->osz + j.cols_per_block - 1) / j.cols_per_block;
        j.rows_per_block = (row_panels + rb - 1) / rb * mr;
        j.row_blocks = (p->mg + j.rows_per_block - 1) / j.rows_per_block;
        j.tasks = (size_t)(ng * j.col_blocks * j.row_blocks);
        j.n_slots = AIS__MIN(j.tasks, (size_t)threads);
        j.buf_floats = ((size_t)(kcmin * pb * nr) + 15) / 16 * 16;
    }

    size_t a_floats = wp ? 0 : (ais__conv_wpack_floats(t, p->m, p->group, k) + 15) / 16 * 16;
    size_t total = j.n_slots * j.buf_floats + a_floats, bytes;
    if (!ais__mul_size(total, sizeof(float), &bytes))
        return ais__error(AIS_E_LIMIT, "convolution scratch size overflows");
    float *scratch = ais__op_scratch(ctx, bytes);
    if (!scratch) return ais__oom(bytes, "convolution packing buffers");
    j.bufs = scratch;
    if (wp) {
        j.a = wp->a;
    } else {
        ais__conv_wpack own;
        ais__conv_wpack_fill(&own, t, w, p->m, p->group, k, scratch + j.n_slots * j.buf_floats);
        j.a = own.a;
    }
    atomic_init(&j.next, 0);
    if (j.n_slots > 1)
        ais__parallel_for(ctx->pool, j.n_slots, 1, ais__cg_slots, &j);
    else
        ais__cg_slots(&j, 0, 1);
    return AIS_OK;
}
