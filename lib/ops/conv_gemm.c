/*
 * conv_gemm.c - convolution on NCHW as our packed GEMM (lib/cpu/cpu_gemm.c's micro-kernel, driven
 * here because a convolution's B is not a matrix in memory).
 *
 * Per image and group, out[co, pos] = W[co, ci*taps] x cols[ci*taps, pos]: the weights are A
 * (packed once into mr-row panels, by prepare when W is constant), the columns are B, packed
 * kc rows x a block of columns at a time straight from the image into nr-column panels
 * (ais__dense_im2col_pack; a 1x1 stride-1 unpadded convolution packs rows of X directly), so the
 * column matrix never exists and a block stays in L2 while every row panel of A passes over it.
 * The micro-kernel stores each output tile once with the bias (a column of the output) and Relu;
 * Clip and LeakyRelu follow on the block while it is still in cache.
 *
 * Threads: the work is split into tasks of (image, group, column block, row block), columns
 * first (no repeated packing), rows only when there are too few columns for the threads; each
 * pool slot takes a contiguous run of tasks with its own packing buffer.
 */
#include <math.h>
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
    bool direct, relu_in_store, act_after;
    const float *a, *x, *bias, *z;
    float *y, *bufs;
    ais__conv_act act;
    int64_t k, mpad, cols_per_block, col_blocks, rows_per_block, row_blocks;
    size_t tasks, n_slots, buf_floats;
} ais__cg_job;

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
    float *y = j->y + (n * p->m + g * p->mg) * osz;
    const float *z = j->z ? j->z + (n * p->m + g * p->mg) * osz : NULL;
    for (int64_t pc = 0; pc < j->k; pc += kc) {
        int64_t kcb = AIS__MIN(kc, j->k - pc);
        bool last = pc + kcb >= j->k;
        if (j->direct)
            for (int64_t jq = j0, q = 0; jq < j1; jq += nr, q++)
                t->gemm_pack_b(false, x + pc * p->isz, p->isz, jq, j1, kcb, buf + q * kcb * nr);
        else
            ais__dense_im2col_pack(x, &j->win, pc, pc + kcb, j0, j1, nr, buf);
        for (int64_t jq = j0, q = 0; jq < j1; jq += nr, q++)
            for (int64_t ir = i0; ir < i1; ir += mr) {
                ais__gemm_epilogue ep = {.bias_rs = 1, .act = AIS__GEMM_ACT_NONE}, *epp = NULL;
                if (last && (bias || j->relu_in_store)) {
                    ep.bias = bias ? bias + ir : NULL;
                    ep.act = j->relu_in_store ? AIS__GEMM_ACT_RELU : AIS__GEMM_ACT_NONE;
                    epp = &ep;
                }
                int mu = (int)AIS__MIN(mr, i1 - ir), nu = (int)AIS__MIN(nr, j1 - jq);
                if (pc == 0 && z)
                    for (int r = 0; r < mu; r++)
                        memcpy(y + (ir + r) * osz + jq, z + (ir + r) * osz + jq,
                               (size_t)nu * sizeof *y);
                t->gemm_ukernel_ep(kcb, a + pc * j->mpad + ir * kcb, buf + q * kcb * nr,
                                   y + ir * osz + jq, osz, mu, nu, pc > 0 || z, epp);
            }
    }
    if (j->act_after)
        for (int64_t i = i0; i < i1; i++)
            t->conv_act(y + i * osz + j0, (size_t)(j1 - j0), 0.0f, &j->act);
}

static void ais__cg_slots(void *vj, size_t begin, size_t end) {
    const ais__cg_job *j = vj;
    for (size_t s = begin; s < end; s++) {
        size_t t0 = s * j->tasks / j->n_slots, t1 = (s + 1) * j->tasks / j->n_slots;
        for (size_t task = t0; task < t1; task++)
            ais__cg_task(j, task, j->bufs + s * j->buf_floats);
    }
}

ais_status ais__conv_gemm_run(ais__op_ctx *ctx, const ais__conv_plan *p, const ais__cpu_kernels *t,
                              const ais__conv_wpack *wp, const float *w, const float *x,
                              const float *bias, const float *z, float *y,
                              const ais__conv_act *act) {
    const int64_t mr = t->gemm_mr, nr = t->gemm_nr, k = p->cg * p->kvol;
    const int64_t kcmin = AIS__MIN(t->gemm_kc, k), mpad = ais__conv_mpad(t, p->mg);
    ais__cg_job j = {
        .p = p, .t = t, .x = x, .bias = bias, .z = z, .y = y, .act = *act, .k = k, .mpad = mpad};
    j.direct = true;
    for (int i = 0; i < 3; i++) {
        if (p->g.k[i] != 1 || p->g.stride[i] != 1 || p->g.pb[i] != 0 || p->g.pe[i] != 0)
            j.direct = false;
        j.win.im[i] = p->g.in[i];
        j.win.col[i] = p->g.out[i];
        j.win.k[i] = p->g.k[i];
        j.win.stride[i] = p->g.stride[i];
        j.win.dil[i] = p->g.dil[i];
        j.win.pb[i] = p->g.pb[i];
    }
    j.relu_in_store =
        act->kind == AIS__CONV_ACT_CLAMP && act->lo == 0.0f && isinf(act->hi) && act->hi > 0;
    j.act_after = act->kind != AIS__CONV_ACT_NONE && !j.relu_in_store;

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
        int64_t have = ng * ((panels + pb - 1) / pb);
        if (have < 2 * threads) rb = AIS__MIN(row_panels, (2 * (int64_t)threads + have - 1) / have);
    } else {
        threads = 1;
    }
    j.cols_per_block = pb * nr;
    j.col_blocks = (p->osz + j.cols_per_block - 1) / j.cols_per_block;
    j.rows_per_block = (row_panels + rb - 1) / rb * mr;
    j.row_blocks = (p->mg + j.rows_per_block - 1) / j.rows_per_block;
    j.tasks = (size_t)(ng * j.col_blocks * j.row_blocks);
    j.n_slots = AIS__MIN(j.tasks, (size_t)threads);
    j.buf_floats = ((size_t)(kcmin * pb * nr) + 15) / 16 * 16;

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
    if (j.n_slots > 1)
        ais__parallel_for(ctx->pool, j.n_slots, 1, ais__cg_slots, &j);
    else
        ais__cg_slots(&j, 0, 1);
    return AIS_OK;
}
