/*
 * cpu_gemm.c - our packed single-precision GEMM (BLIS style), the same driver for every level:
 * the level's table gives the micro-kernel (an mr x nr register tile), its packing and the cache
 * blocking. Loops, outer to inner: nc columns of C (B block kc x nc packed into L2 scratch,
 * or taken from a pre-packed weight), kc deep slices, mc rows (A block mc x kc packed into L2
 * scratch, alpha folded in), then mr-high panels of A (one stays in L1) and nr-wide panels of
 * B streaming from L2 (measured 3-15% faster than the other order at 256^3-1024^3 on a 48 KiB
 * L1, where a 32 KiB B panel and the A panels together overflow L1).
 * beta is applied to C once up front (or by overwriting on the first slice when 0), the epilogue
 * by the micro-kernel's store of the last slice.
 */
#include <stdatomic.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "../common/common.h"
#include "cpu.h"

/* Layout of a packed op(B) [k, n] (pre-packed or one nc block of it): kc-deep slices one after
 * the other (slice at row pc starts at pc * np * nr), each slice a row of np panels of kcb x nr
 * (panel q at q * kcb * nr), zero-padded past n. */
static int64_t ais__gemm_panels(const ais__cpu_kernels *t, int64_t n) {
    return (n + t->gemm_nr - 1) / t->gemm_nr;
}

size_t ais__gemm_packed_size(const ais__cpu_kernels *t, int64_t k, int64_t n) {
    if (k <= 0 || n <= 0) return 0;
    return (size_t)k * (size_t)ais__gemm_panels(t, n) * (size_t)t->gemm_nr;
}

/* op(B) rows [pc, ...) of b: where the packing starts. */
static const float *ais__gemm_brow(bool trans_b, const float *b, int64_t ldb, int64_t pc) {
    return trans_b ? b + pc : b + pc * ldb;
}

/* Rows [p0, p0 + kb) of the kcb-deep slice at pc of op(B), nq panels from column n0 (panel q:
 * columns n0 + q * nr on, zero past n), into dst laid out as one slice (panel q at q * kcb * nr).
 */
static void ais__gemm_pack_b_rows(const ais__cpu_kernels *t, bool trans_b, const float *b,
                                  int64_t ldb, int64_t pc, int64_t kcb, int64_t p0, int64_t kb,
                                  int64_t n0, int64_t nq, int64_t n, float *dst) {
    const int64_t nr = t->gemm_nr;
    const float *bs = ais__gemm_brow(trans_b, b, ldb, pc + p0);
    for (int64_t q = 0; q < nq; q++)
        t->gemm_pack_b(trans_b, bs, ldb, n0 + q * nr, n, kb, dst + q * kcb * nr + p0 * nr);
}

/* The same for the whole slice, in bands of 16 rows across all the panels: each band of B read
 * once, front to back (panel by panel, the reads jump ldb apart down 256 rows, which the
 * prefetchers follow badly: packing B took 5% of a 512^3 product that way). */
static void ais__gemm_pack_b_slice(const ais__cpu_kernels *t, bool trans_b, const float *b,
                                   int64_t ldb, int64_t pc, int64_t kcb, int64_t n0, int64_t nq,
                                   int64_t n, float *dst) {
    for (int64_t p0 = 0; p0 < kcb; p0 += 16)
        ais__gemm_pack_b_rows(t, trans_b, b, ldb, pc, kcb, p0, AIS__MIN(16, kcb - p0), n0, nq, n,
                              dst);
}

void ais__gemm_prepack(const ais__cpu_kernels *t, bool trans_b, const float *b, int64_t ldb,
                       int64_t k, int64_t n, float *dst) {
    int64_t nr = t->gemm_nr, np = ais__gemm_panels(t, n);
    for (int64_t pc = 0; pc < k; pc += t->gemm_kc)
        ais__gemm_pack_b_slice(t, trans_b, b, ldb, pc, AIS__MIN(t->gemm_kc, k - pc), 0, np, n,
                               dst + pc * np * nr);
}

/* The activations the micro-kernel's store does not apply, on w <= AIS__GEMM_ACT_SPAN
 * contiguous floats. */
#define AIS__GEMM_ACT_SPAN 256
static void ais__gemm_act_span(const ais__cpu_kernels *t, const ais__gemm_epilogue *ep, float *y,
                               size_t w) {
    float buf[AIS__GEMM_ACT_SPAN];
    switch (ep->act) {
    case AIS__GEMM_ACT_SIGMOID: t->vsigmoid(y, y, w); break;
    case AIS__GEMM_ACT_TANH: t->vtanh(y, y, w); break;
    /* the formulas of lib/ops/unary.c's gelu_f32, so fused and unfused agree */
    case AIS__GEMM_ACT_GELU_TANH:
        for (size_t q = 0; q < w; q++)
            buf[q] = 0.7978845608028654f * (y[q] + 0.044715f * y[q] * y[q] * y[q]);
        t->vtanh(buf, buf, w);
        for (size_t q = 0; q < w; q++)
            y[q] = 0.5f * y[q] * (1.0f + buf[q]);
        break;
    case AIS__GEMM_ACT_GELU:
        if (t->vgelu) { /* the same operations in one vector pass (unary.c's Gelu does this) */
            t->vgelu(y, y, w);
            break;
        }
        for (size_t q = 0; q < w; q++)
            buf[q] = y[q] * 0.7071067811865476f;
        t->verf(buf, buf, w);
        for (size_t q = 0; q < w; q++)
            y[q] = 0.5f * y[q] * (1.0f + buf[q]);
        break;
    default: break;
    }
}

void ais__gemm_act_rows(const ais__cpu_kernels *t, const ais__gemm_epilogue *ep, float *c,
                        int64_t ldc, int64_t rows, int64_t cols) {
    if (!ep || ais__gemm_act_inline(ep->act) || cols <= 0) return;
    const int64_t span = AIS__GEMM_ACT_SPAN;
    if (cols * 2 <= span && rows > 1) {
        /* Short rows (a 6 x 16 tile, applied by the driver as each tile completes): gathered
         * into one span, so that the vector function runs once on 96 floats rather than six
         * times on 16 (the calls and their tails cost about as much as the Gelu itself) */
        float tile[AIS__GEMM_ACT_SPAN];
        const int64_t per = span / cols;
        for (int64_t i0 = 0; i0 < rows; i0 += per) {
            int64_t nrow = AIS__MIN(per, rows - i0);
            for (int64_t r = 0; r < nrow; r++)
                memcpy(tile + r * cols, c + (i0 + r) * ldc, (size_t)cols * sizeof *tile);
            ais__gemm_act_span(t, ep, tile, (size_t)(nrow * cols));
            for (int64_t r = 0; r < nrow; r++)
                memcpy(c + (i0 + r) * ldc, tile + r * cols, (size_t)cols * sizeof *tile);
        }
        return;
    }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j0 = 0; j0 < cols; j0 += span)
            ais__gemm_act_span(t, ep, c + i * ldc + j0, (size_t)AIS__MIN(span, cols - j0));
}

static void ais__gemm_ep_block(const ais__cpu_kernels *t, const ais__gemm_epilogue *ep, float *c,
                               int64_t ldc, int64_t m, int64_t n);

void ais__gemm_epilogue_apply(const ais__cpu_kernels *t, const ais__gemm_epilogue *ep, float *c,
                              int64_t ldc, int64_t m, int64_t n) {
    ais__gemm_ep_block(t, ep, c, ldc, m, n);
}

/* The epilogue on a block of C that is already alpha op(A) op(B) + beta C. */
static void ais__gemm_ep_block(const ais__cpu_kernels *t, const ais__gemm_epilogue *ep, float *c,
                               int64_t ldc, int64_t m, int64_t n) {
    if (!ep) return;
    if (ep->resid)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * ldc + j] += ep->resid[i * ep->resid_ld + j];
    if (ep->bias || ep->act != AIS__GEMM_ACT_NONE)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * ldc + j] = ais__gemm_ep1(ep, c[i * ldc + j], i, j);
    ais__gemm_act_rows(t, ep, c, ldc, m, n);
}

/* C = beta C then the epilogue, element by element: the k == 0 (or alpha == 0) product. */
static void ais__gemm_scale_only(const ais__cpu_kernels *t, int64_t m, int64_t n, float beta,
                                 float *c, int64_t ldc, const ais__gemm_epilogue *ep) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c[i * ldc + j] = beta == 0 ? 0.0f : beta * c[i * ldc + j];
    ais__gemm_ep_block(t, ep, c, ldc, m, n);
}

/* The column block of a product (or a thread's block) of m rows: see gemm_nc_one_block. A
 * 64 x 3136 x 576 convolution product packed a 3 MiB block of B into L3 and read it back from
 * there. */
static int64_t ais__gemm_nc(const ais__cpu_kernels *t, int64_t m) {
    const int64_t mr = t->gemm_mr, nr = t->gemm_nr, mc = t->gemm_mc / mr * mr;
    int64_t nc = t->gemm_nc;
    if (m <= mc && t->gemm_nc_one_block > 0) nc = AIS__MIN(nc, t->gemm_nc_one_block);
    return AIS__MAX(nc / nr, 1) * nr;
}

/* Whether a block of m x n packs its A once for every column block: one row block (a
 * transformer's 128 rows) over several column blocks (QKV 1152, FFN 1536 columns) would pack the
 * same A once per column block, up to a tenth of such a product's time. Then the scratch holds
 * all k of the rows' A (bounded, so that it stays in L2 with B's block). */
static bool ais__gemm_a_once(const ais__cpu_kernels *t, int64_t m, int64_t n, int64_t k) {
    const int64_t mr = t->gemm_mr;
    const int64_t mc = t->gemm_mc / mr * mr, nc = ais__gemm_nc(t, m);
    return m <= mc && n > nc && (m + mr - 1) / mr * mr * k <= 128 * 1024;
}

/* Scratch of one call: the packed A block (all of k when ais__gemm_a_once), then (at a 64-byte
 * boundary) the packed B block. */
static void ais__gemm_scratch_parts(const ais__cpu_kernels *t, int64_t m, int64_t n, int64_t k,
                                    bool b_packed, size_t *a_floats, size_t *b_floats) {
    const int64_t mr = t->gemm_mr, nr = t->gemm_nr;
    const int64_t mc = t->gemm_mc / mr * mr, nc = ais__gemm_nc(t, m);
    int64_t kc = AIS__MIN(t->gemm_kc, k), mrows = AIS__MIN(mc, (m + mr - 1) / mr * mr);
    if (ais__gemm_a_once(t, m, n, k)) kc = k;
    *a_floats = ((size_t)(mrows * kc) + 15) / 16 * 16;
    *b_floats = b_packed ? 0 : (size_t)(AIS__MIN(nc, ais__gemm_panels(t, n) * nr) * kc);
}

size_t ais__gemm_scratch_floats(const ais__cpu_kernels *t, int64_t m, int64_t n, int64_t k,
                                bool b_packed) {
    if (m <= 0 || n <= 0 || k <= 0) return 0;
    size_t af, bf;
    ais__gemm_scratch_parts(t, m, n, k, b_packed, &af, &bf);
    return (af + bf + 15) / 16 * 16;
}

/* The residual of tile (ti, tj) into C before its first k slice: copied, or added to what beta
 * left there. */
static void ais__gemm_resid_tile(const ais__gemm_epilogue *ep, float *ct, int64_t ldc, int64_t ti,
                                 int64_t tj, int mu, int nu, bool add) {
    const float *r = ep->resid + ti * ep->resid_ld + tj;
    for (int i = 0; i < mu; i++) {
        float *ci = ct + i * ldc;
        const float *ri = r + i * ep->resid_ld;
        if (add)
            for (int j = 0; j < nu; j++)
                ci[j] += ri[j];
        else
            memcpy(ci, ri, (size_t)nu * sizeof *ci);
    }
}

/* The tile loop's order inside an mc x nc block. false: A's mr-high panel stays in L1 while the
 * nr-wide panels of B stream from L2 (the AVX-512 14 x 32 tile on a 48 KiB L1). true: B's
 * kc x nr panel stays in L1 while the panels of A stream from L2 (BLIS's order), which moves 24
 * bytes of A from L2 per 12 FMAs of the AVX2 6 x 16 tile instead of 64 of B, and lets the kc x nc
 * block of B sit in L3 so that nc can be large and A is packed once per k slice (Zen 3, 32 KiB L1,
 * 512 KiB L2: 256^3-1024^3 went from 66-80% to 82-86% of the FMA peak with mc 96, nc 4096). */
static bool ais__gemm_b_panel_in_l1(const ais__cpu_kernels *t) {
    return t->isa < AIS_CPU_ISA_AVX512;
}

/* One product, whole or a block of C: the arguments of sgemm_ex. */
typedef struct ais__gemm_args {
    const ais__cpu_kernels *t;
    bool trans_a, trans_b;
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b, *b_packed;
    float *c;
    const ais__gemm_epilogue *ep;
} ais__gemm_args;

/* C[i0:i1, j0:j1] of the product g (j0 a multiple of nr when B is pre-packed: its panels are
 * addressed by column), packing into scratch (ais__gemm_scratch_floats(i1 - i0, j1 - j0, k)
 * floats). The epilogue sees global indices. */
static void ais__gemm_block(const ais__gemm_args *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
                            float *scratch) {
    const ais__cpu_kernels *t = g->t;
    const int64_t mr = t->gemm_mr, nr = t->gemm_nr, kc = t->gemm_kc, k = g->k, ldc = g->ldc;
    const int64_t mc_max = t->gemm_mc / mr * mr, nc = ais__gemm_nc(t, i1 - i0);
    /* Row blocks of about equal height (whole tiles, at most mc): a thread's 132 rows of a
     * 1024^3 product on 2 threads went as 96 + 36, the 36 streaming all of B's block through L1
     * for a quarter of the rows; as 66 + 66 both blocks reuse each B panel as often. */
    const int64_t mblocks = (i1 - i0 + mc_max - 1) / mc_max;
    const int64_t mc = ((i1 - i0 + mblocks - 1) / mblocks + mr - 1) / mr * mr;
    const int64_t np = ais__gemm_panels(t, g->n);
    size_t a_floats, b_floats;
    ais__gemm_scratch_parts(t, i1 - i0, j1 - j0, k, g->b_packed != NULL, &a_floats, &b_floats);
    float *abuf = scratch, *bbuf = scratch + a_floats;
    const bool a_once = ais__gemm_a_once(t, i1 - i0, j1 - j0, k);
    const int64_t mpad = (i1 - i0 + mr - 1) / mr * mr;
    const ais__gemm_epilogue *ep = g->ep;
    bool late_act = ep && !ais__gemm_act_inline(ep->act);
    if (g->beta != 0 && g->beta != 1)
        for (int64_t i = i0; i < i1; i++)
            for (int64_t j = j0; j < j1; j++)
                g->c[i * ldc + j] *= g->beta;
    for (int64_t jc = j0; jc < j1; jc += nc) {
        int64_t ncb = AIS__MIN(nc, j1 - jc);
        for (int64_t pc = 0; pc < k; pc += kc) {
            int64_t kcb = AIS__MIN(kc, k - pc);
            bool accumulate = g->beta != 0 || pc > 0, last = pc + kcb >= k;
            const float *bblk;
            if (g->b_packed) {
                bblk = g->b_packed + pc * np * nr + jc / nr * kcb * nr;
            } else {
                ais__gemm_pack_b_slice(t, g->trans_b, g->b, g->ldb, pc, kcb, jc,
                                       (ncb + nr - 1) / nr, j1, bbuf);
                bblk = bbuf;
            }
            const float *as = g->trans_a ? g->a + pc * g->lda : g->a + pc;
            /* a_once: one row block, its k slices side by side, packed in the first column
             * block and read again by the others */
            float *ap = a_once ? abuf + mpad * pc : abuf;
            for (int64_t ic = i0; ic < i1; ic += mc) {
                int64_t mcb = AIS__MIN(mc, i1 - ic);
                if (!a_once || jc == j0) {
                    for (int64_t ir = 0; ir < mcb; ir += mr)
                        t->gemm_pack_a(g->trans_a, as, g->lda, ic + ir, i1, kcb, ap + ir * kcb);
                    if (g->alpha != 1) {
                        size_t cnt = (size_t)((mcb + mr - 1) / mr * mr * kcb);
                        for (size_t i = 0; i < cnt; i++)
                            ap[i] *= g->alpha;
                    }
                }
                /* tiles in either order (gemm_b_panel_in_l1): the outer loop's panel is the
                 * one that stays in L1 */
                const bool b_outer = ais__gemm_b_panel_in_l1(t);
                const int64_t outer = b_outer ? ncb : mcb, inner = b_outer ? mcb : ncb;
                const int64_t ostep = b_outer ? nr : mr, istep = b_outer ? mr : nr;
                for (int64_t o = 0; o < outer; o += ostep)
                    for (int64_t in = 0; in < inner; in += istep) {
                        int64_t ir = b_outer ? in : o, jr = b_outer ? o : in;
                        int64_t ti = ic + ir, tj = jc + jr;
                        int mu = (int)AIS__MIN(mr, i1 - ti), nu = (int)AIS__MIN(nr, j1 - tj);
                        ais__gemm_epilogue tile, *tp = NULL;
                        if (last && ep) {
                            tile = *ep;
                            if (tile.bias) tile.bias += ti * ep->bias_rs + tj * ep->bias_cs;
                            tp = &tile;
                        }
                        float *ct = g->c + ti * ldc + tj;
                        bool acc = accumulate;
                        if (pc == 0 && ep && ep->resid) {
                            ais__gemm_resid_tile(ep, ct, ldc, ti, tj, mu, nu, acc);
                            acc = true;
                        }
                        t->gemm_ukernel_ep(kcb, ap + ir * kcb, bblk + jr / nr * kcb * nr, ct, ldc,
                                           mu, nu, acc, tp);
                        if (last && late_act && !b_outer)
                            ais__gemm_act_rows(t, ep, ct, ldc, mu, nu);
                    }
                /* B's panel outer: the activation once the whole mc x nc block is done, by rows
                 * of nc (tile by tile, Gelu's vector function ran on 16 floats at a time: a
                 * third of a 128 x 1536 x 384 feed-forward product's time went to its calls) */
                if (last && late_act && b_outer)
                    ais__gemm_act_rows(t, ep, g->c + ic * ldc + jc, ldc, mcb, ncb);
            }
        }
    }
}

/* The product when no scratch can be had: BLAS needs none of ours. */
static void ais__gemm_fallback(const ais__gemm_args *g) {
    /* A pre-packed B comes with b NULL when its owner dropped the weight: then there is nothing
     * to fall back on, and C is left alone. */
    if (g->b_packed && !g->b) return;
    ais__sgemm(g->trans_a, g->trans_b, g->m, g->n, g->k, g->alpha, g->a, g->lda, g->b, g->ldb,
               g->beta, g->c, g->ldc);
    ais__gemm_ep_block(g->t, g->ep, g->c, g->ldc, g->m, g->n);
}

void ais__gemm_drive(const ais__cpu_kernels *t, bool trans_a, bool trans_b, int64_t m, int64_t n,
                     int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                     int64_t ldb, const float *b_packed, float beta, float *c, int64_t ldc,
                     const ais__gemm_epilogue *ep, float *scratch) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0) {
        ais__gemm_scale_only(t, m, n, beta, c, ldc, ep);
        return;
    }
    ais__gemm_args g = {t,   trans_a, trans_b, m, n, k,        lda, ldb,
                        ldc, alpha,   beta,    a, b, b_packed, c,   ep};
    float *own = NULL;
    if (!scratch)
        scratch = own =
            ais__malloc_aligned(ais__gemm_scratch_floats(t, m, n, k, b_packed) * sizeof(float), 64);
    if (!scratch) {
        ais__gemm_fallback(&g);
        return;
    }
    ais__gemm_block(&g, 0, m, 0, n, scratch);
    ais__free(own);
}

int64_t ais__gemm_nc_for_l2(int64_t kc, int64_t nr, int64_t dflt) {
    long l2 = 0;
#ifdef _SC_LEVEL2_CACHE_SIZE
    l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    if (l2 <= 0) return dflt;
    /* half the L2 for the kc x nc block of B: the A panel, C and the next panels share it */
    int64_t nc = (int64_t)l2 / 2 / (kc * (int64_t)sizeof(float)) / nr * nr;
    return AIS__MAX(AIS__MIN(nc, (int64_t)4096), 8 * nr);
}

bool ais__gemm_ours_wins(int64_t m, int64_t n, int64_t k) {
    /* Measured one thread against OpenBLAS 0.3.21 (SkylakeX kernels), ours allocating its
     * scratch per call (bench/README.md, "Our GEMM"): ours 1.09-1.29x from 4 rows and 128
     * columns up (4x512x784, 32x256x256, 256^3, 512^3, im2col 64x3136x576 and 64x3136x27,
     * 128x1536x384); BLAS wins a single row (its GEMV: 2.2x), small products (64^3: 1.7x) and
     * narrow ones (1000x64x64: 1.2x); 128^3 is a tie. */
    return m >= 4 && n >= 128 && (double)m * (double)n * (double)k >= 1.5e6;
}

bool ais__gemm_table_takes_ours(ais_cpu_isa level, int64_t m, int64_t n, int64_t k) {
    /* BLAS runs its own threads on a large product when the caller's width allows: ours (one
     * thread here, as the table's sgemm has no pool) only where BLAS would run on one thread
     * too. Below AVX-512, only where this CPU has nothing better: OpenBLAS picks its kernels
     * from the CPU, not from our level, so on an AVX-512 CPU it would beat our AVX2 kernel. */
    if (level < AIS_CPU_ISA_AVX2 || !ais__gemm_ours_wins(m, n, k)) return false;
    if (level < AIS_CPU_ISA_AVX512 && ais__cpu_isa_detected() > level) return false;
    return ais__blas_width() <= 1 || (double)m * (double)n * (double)k <= 4.0 * 65536.0;
}

/* ---- threads: the product split into independent blocks of C ---- */

/* How a product is cut for `threads`: blocks of `per` rows (by_rows) or columns, in whole
 * tiles, about 4 per thread so that the claiming balances them; slots: how many threads work
 * (each with its own scratch). slots 0: run serially. */
typedef struct ais__gemm_split {
    bool by_rows;
    int64_t per, blocks, slots;
    size_t slot_floats;
    /* floats of all of op(B) packed once by the threads together (ais__gemm_prepack's layout,
     * after the slots' scratch) for a row split of a B not pre-packed; 0: not shared */
    size_t shared_b_floats;
} ais__gemm_split;

static ais__gemm_split ais__gemm_split_of(int32_t threads, const ais__cpu_kernels *t, int64_t m,
                                          int64_t n, int64_t k, bool b_packed) {
    ais__gemm_split s = {0};
    int64_t mt = (m + t->gemm_mr - 1) / t->gemm_mr, nt = (n + t->gemm_nr - 1) / t->gemm_nr;
    if (threads <= 1 || m <= 0 || n <= 0 || k <= 0 || (double)m * (double)n * (double)k < 1e6 ||
        (mt < 2 && nt < 2))
        return s;
    /* Rows while there are enough tiles of them for every thread (each thread then packs only
     * its rows of A, and a pre-packed B is read by all), else columns (a batch-1 product) */
    s.by_rows = mt >= 2 * (int64_t)threads || mt >= nt;
    /* ... but not when a few row tiles would leave a thread idle for a tile's time (64 rows,
     * 5 tiles, on 2 threads: 3 and 2) while there are columns to share evenly */
    if (s.by_rows && mt < nt && mt % threads != 0 && mt < 4 * (int64_t)threads) s.by_rows = false;
    /* ... nor for a wide product (a transformer's 128 x 1536 x 384, a convolution's 64 x 3136 x
     * 576): every row block streams all of B from beyond L2 again (10 times for 128 rows in
     * blocks of one tile), a column block streams its part once and packs its rows of A, the
     * smaller operand there (BERT 6x384's feed-forward MatMuls at 2 threads with B pre-packed:
     * 1.06 -> 0.83 ms). B packed per call too: shared, packed once into a buffer beyond L2 and
     * read back by every row block, it left the 64 x 3136 x 576 product at a third of
     * OpenBLAS's speed on 2 threads. */
    if (s.by_rows && n > m && nt >= 2 * (int64_t)threads) s.by_rows = false;
    int64_t tiles = s.by_rows ? mt : nt, unit = s.by_rows ? t->gemm_mr : t->gemm_nr;
    int64_t want = AIS__MIN(tiles, (int64_t)threads * 4), per = (tiles + want - 1) / want;
    /* Blocks of about `per` tiles, sized so that the busiest thread's share (whole blocks) is
     * smallest: 10 row tiles (a transformer's 128 rows) in blocks of 2 would leave one of two
     * threads 3 blocks and the other 2; in blocks of 1 both get 5. */
    int64_t best = per, best_load = INT64_MAX;
    for (int64_t p = AIS__MAX(1, per / 2); p <= 2 * per; p++) {
        int64_t blocks = (tiles + p - 1) / p;
        if (blocks < (int64_t)threads && p > 1) break;
        int64_t load = (blocks + threads - 1) / threads * p;
        if (load < best_load || (load == best_load && p > best)) best = p, best_load = load;
    }
    s.per = best * unit;
    s.blocks = ((s.by_rows ? m : n) + s.per - 1) / s.per;
    s.slots = AIS__MIN(s.blocks, (int64_t)threads);
    /* Row blocks each packing all of B would pack it once per block (8 times for 512^3 on 2
     * threads, a third of the work): B is packed once, by all threads, then read by all. */
    if (s.by_rows && !b_packed && s.blocks > 1)
        s.shared_b_floats = (ais__gemm_packed_size(t, k, n) + 15) / 16 * 16;
    s.slot_floats = s.by_rows
                        ? ais__gemm_scratch_floats(t, s.per, n, k, b_packed || s.shared_b_floats)
                        : ais__gemm_scratch_floats(t, m, s.per, k, b_packed);
    if (s.by_rows) {
        /* the last, shorter block may be one row block (ais__gemm_nc, ais__gemm_a_once) where
         * the others are not, and pack all of its k at once */
        size_t last = ais__gemm_scratch_floats(t, m - (s.blocks - 1) * s.per, n, k,
                                               b_packed || s.shared_b_floats);
        s.slot_floats = AIS__MAX(s.slot_floats, last);
    }
    return s;
}

typedef struct ais__gemm_job {
    ais__gemm_args g;
    ais__gemm_split s;
    float *scratch;
    _Atomic int64_t next;
    /* the shared B's bands of 16 rows (0: B not shared): claimed, and finished */
    int64_t bands;
    _Atomic int64_t next_band, bands_done;
} ais__gemm_job;

static void ais__gemm_pack_band(const ais__gemm_job *j, int64_t i);

/* The shared B, packed by every thread of the job before any reads it: each claims bands until
 * none is left, then waits for the bands others are still packing. Only claimed bands are waited
 * for, each in the hands of a running thread, so the wait ends however many threads joined (the
 * caller alone packs them all when no worker came). One job instead of a packing job and a
 * product job: the second dispatch and join cost a 256^3 product on 2 threads about a tenth. */
static void ais__gemm_share_b(ais__gemm_job *j) {
    for (;;) {
        int64_t i = atomic_fetch_add_explicit(&j->next_band, 1, memory_order_relaxed);
        if (i >= j->bands) break;
        ais__gemm_pack_band(j, i);
        atomic_fetch_add_explicit(&j->bands_done, 1, memory_order_release);
    }
    for (unsigned spins = 0; atomic_load_explicit(&j->bands_done, memory_order_acquire) < j->bands;
         spins++)
        if (spins >= 64) sched_yield(); /* the packer may have lost its core (shared machine) */
}

/* One thread's share: its slot of scratch, and blocks claimed one at a time. */
static void ais__gemm_slot(void *vj, size_t begin, size_t end) {
    ais__gemm_job *j = vj;
    if (j->bands && begin < end) ais__gemm_share_b(j);
    for (size_t slot = begin; slot < end; slot++) {
        float *scr = j->scratch + slot * j->s.slot_floats;
        for (;;) {
            int64_t b = atomic_fetch_add(&j->next, 1);
            if (b >= j->s.blocks) break;
            int64_t lo = b * j->s.per;
            if (j->s.by_rows)
                ais__gemm_block(&j->g, lo, AIS__MIN(lo + j->s.per, j->g.m), 0, j->g.n, scr);
            else
                ais__gemm_block(&j->g, 0, j->g.m, lo, AIS__MIN(lo + j->s.per, j->g.n), scr);
        }
    }
}

/* Rows of op(B) into the shared packed B, 16 at a time across all the panels
 * (ais__gemm_pack_b_slice's bands): band i is band i % per_slice of slice i / per_slice. */
static void ais__gemm_pack_band(const ais__gemm_job *j, int64_t i) {
    const ais__cpu_kernels *t = j->g.t;
    const int64_t nr = t->gemm_nr, kc = t->gemm_kc, np = ais__gemm_panels(t, j->g.n);
    const int64_t per_slice = (kc + 15) / 16;
    float *dst = j->scratch + (size_t)j->s.slots * j->s.slot_floats;
    int64_t pc = i / per_slice * kc, p0 = i % per_slice * 16;
    int64_t kcb = AIS__MIN(kc, j->g.k - pc);
    if (p0 >= kcb) return;
    ais__gemm_pack_b_rows(t, j->g.trans_b, j->g.b, j->g.ldb, pc, kcb, p0, AIS__MIN(16, kcb - p0),
                          0, np, j->g.n, dst + pc * np * nr);
}

size_t ais__gemm_parallel_scratch(ais__pool *pool, const ais__cpu_kernels *t, int64_t m, int64_t n,
                                  int64_t k, bool b_packed) {
    ais__gemm_split s =
        ais__gemm_split_of(pool ? ais__pool_threads(pool) : 1, t, m, n, k, b_packed);
    if (!s.slots) return ais__gemm_scratch_floats(t, m, n, k, b_packed);
    return (size_t)s.slots * s.slot_floats + s.shared_b_floats;
}

void ais__gemm_parallel_ex(ais__pool *pool, const ais__cpu_kernels *t, bool trans_a, bool trans_b,
                           int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                           int64_t lda, const float *b, int64_t ldb, const float *b_packed,
                           float beta, float *c, int64_t ldc, const ais__gemm_epilogue *ep,
                           float *scratch) {
    if (m <= 0 || n <= 0) return;
    ais__gemm_split s =
        ais__gemm_split_of(pool ? ais__pool_threads(pool) : 1, t, m, n, k, b_packed);
    if (!s.slots || alpha == 0) {
        ais__gemm_drive(t, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, b_packed, beta, c, ldc,
                        ep, scratch);
        return;
    }
    ais__gemm_job j = {
        {t, trans_a, trans_b, m, n, k, lda, ldb, ldc, alpha, beta, a, b, b_packed, c, ep},
        s,
        scratch,
        0,
        0,
        0,
        0};
    float *own = NULL;
    if (!j.scratch)
        j.scratch = own = ais__malloc_aligned(
            ((size_t)s.slots * s.slot_floats + s.shared_b_floats) * sizeof(float), 64);
    if (!j.scratch) {
        ais__gemm_fallback(&j.g);
        return;
    }
    if (s.shared_b_floats) {
        j.bands = (k + t->gemm_kc - 1) / t->gemm_kc * ((t->gemm_kc + 15) / 16);
        j.g.b_packed = j.scratch + (size_t)s.slots * s.slot_floats;
    }
    ais__parallel_for(pool, (size_t)s.slots, 1, ais__gemm_slot, &j);
    ais__free(own);
}

void ais__gemm_parallel(ais__pool *pool, const ais__cpu_kernels *t, bool trans_a, bool trans_b,
                        int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                        const float *b, int64_t ldb, const float *b_packed, float beta, float *c,
                        int64_t ldc, const ais__gemm_epilogue *ep) {
    ais__gemm_parallel_ex(pool, t, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, b_packed, beta,
                          c, ldc, ep, NULL);
}
