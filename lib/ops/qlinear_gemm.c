/*
 * qlinear_gemm.c - packing of constant 8-bit weights at load and the zero-point terms of one
 * matrix product on lib/cpu's int8 GEMM (see qlinear_gemm.h and cpu_qgemm.c for the algebra).
 */
#include <string.h>

#include "common/common.h"
#include "qlinear_gemm.h"

static inline size_t ais__q_al(size_t n) { return (n + 63) & ~(size_t)63; }

int32_t ais__qgemm_zp_at(const ais_tensor *z, size_t i) {
    if (!z) return 0;
    size_t j = z->numel == 1 ? 0 : i;
    return z->dtype == AIS_DTYPE_U8 ? (int32_t)((const uint8_t *)z->data)[j]
                                    : (int32_t)((const int8_t *)z->data)[j];
}

void ais__qpack_free(ais__qpack *p) {
    if (!p) return;
    ais__free(p->mem);
    ais__free(p->a);
    ais__free(p);
}

/* A B whose pairs may saturate vpmaddubsw (so that an AVX2 kernel would take its exact split,
 * twice the multiplies) repacked in an order of k whose pairs cannot (cpu.h, "paired u8 path";
 * the pairs run along k for every column of B), where that costs at most a quarter more k. The
 * products then pack A in that order. Left as it is when memory is short. */
static void ais__qpack_b_pairs(ais__qpack *p, const ais_tensor *w, bool trans) {
    int64_t k = p->b.k, n = p->b.n, max_kp = (k + k / 4 + 3) / 4 * 4;
    const int8_t *src = w->data;
    int8_t *wt = trans ? NULL : ais__malloc((size_t)(n * k)); /* [n, k] for the pairing */
    int32_t *krows = ais__malloc((size_t)max_kp * sizeof *krows);
    size_t bytes = ais__q_al(ais__qgemm_b_bytes(max_kp, n));
    void *mem = ais__malloc_aligned(bytes + ais__q_al((size_t)n * sizeof(int32_t)) +
                                        (size_t)max_kp * sizeof(int32_t),
                                    64);
    int64_t kp = -1;
    if (krows && mem && (trans || wt)) {
        if (!trans)
            for (int64_t kk = 0; kk < k; kk++)
                for (int64_t j = 0; j < n; j++)
                    wt[j * k + kk] = src[kk * n + j];
        kp = ais__q8p_pair_rows(trans ? src : wt, n, k, max_kp, krows);
    }
    if (kp > 0) {
        int8_t *d = mem;
        int32_t *sums = (int32_t *)(void *)((char *)mem + bytes);
        int32_t *kr = (int32_t *)(void *)((char *)mem + bytes + ais__q_al((size_t)n * 4));
        memcpy(kr, krows, (size_t)kp * sizeof *kr);
        ais__qgemm_pack_b_rows(w->data, true, trans ? 1 : n, trans ? k : 1, kr, kp, n, d, sums);
        ais__free(p->mem);
        p->mem = mem;
        p->b = (ais__qgemm_b){.data = d, .sums = sums, .n = n, .k = kp, .krows = kr};
        mem = NULL;
    }
    ais__free(mem);
    ais__free(wt);
    ais__free(krows);
}

ais__qpack *ais__qpack_b_new(const ais_tensor *w, bool trans) {
    if (!w || !w->data || w->ndim != 2 || (w->dtype != AIS_DTYPE_U8 && w->dtype != AIS_DTYPE_I8))
        return NULL;
    int64_t k = w->dims[trans ? 1 : 0], n = w->dims[trans ? 0 : 1];
    if (k <= 0 || n <= 0) return NULL;
    ais__qpack *p = ais__calloc(1, sizeof *p);
    if (!p) return NULL;
    size_t bytes = ais__qgemm_b_bytes(k, n);
    p->mem = ais__malloc_aligned(ais__q_al(bytes) + (size_t)n * sizeof(int32_t), 64);
    if (!p->mem) {
        ais__free(p);
        return NULL;
    }
    int8_t *d = p->mem;
    int32_t *sums = (int32_t *)(void *)((char *)p->mem + ais__q_al(bytes));
    bool exact = true;
    int64_t rs = trans ? 1 : n, cs = trans ? k : 1;
    ais__qgemm_pack_b(w->data, w->dtype == AIS_DTYPE_I8, rs, cs, k, n, d, sums, &exact);
    p->src = w->data;
    p->t = ais__cpu();
    p->b = (ais__qgemm_b){.data = d, .sums = sums, .n = n, .k = k, .exact = exact};
    if (exact && w->dtype == AIS_DTYPE_I8 && p->t->q8p_ukernel) ais__qpack_b_pairs(p, w, trans);
    return p;
}

ais__qpack *ais__qpack_conv_new(const ais_tensor *w, int64_t group) {
    if (!w || !w->data || w->ndim < 3 || (w->dtype != AIS_DTYPE_U8 && w->dtype != AIS_DTYPE_I8))
        return NULL;
    int64_t m = w->dims[0];
    if (group < 1 || m <= 0 || m % group != 0) return NULL;
    int64_t mg = m / group, k = (int64_t)w->numel / m;
    if (k <= 0) return NULL;
    const ais__cpu_kernels *t = ais__cpu();
    ais__qpack *p = ais__calloc(1, sizeof *p);
    if (!p) return NULL;
    /* AVX2: the paired u8 layout (cpu.h) where an order of k with safe pairs costs at most a
     * quarter more columns (its kernel does twice the products of the int16 pair kernel's per
     * instruction, on half the bytes), else the int16 pair layout; both exact */
    bool wide = t->q16_ukernel != NULL;
    int64_t max_kp = (k + k / 4 + 3) / 4 * 4;
    int32_t *krows = NULL;
    int64_t *kps = NULL;
    bool pairs = t->q8p_ukernel != NULL && w->dtype == AIS_DTYPE_I8;
    if (pairs) {
        krows = ais__malloc((size_t)(group * max_kp) * sizeof *krows);
        kps = ais__malloc((size_t)group * sizeof *kps);
        for (int64_t g = 0; g < group && krows && kps; g++) {
            const int8_t *src = (const int8_t *)w->data + (size_t)(g * mg * k);
            kps[g] = ais__q8p_pair_rows(src, mg, k, max_kp, krows + g * max_kp);
            pairs = pairs && kps[g] > 0;
        }
        pairs = pairs && krows && kps;
    }
    size_t per = ais__q_al(pairs  ? ais__q8p_a_bytes(t->qgemm_mr, mg, max_kp)
                           : wide ? ais__q16_a_bytes(t->qgemm_mr, mg, k)
                                  : ais__qgemm_a_bytes(t->qgemm_mr, mg, k));
    size_t sums = ais__q_al((size_t)mg * sizeof(int32_t));
    size_t rows_b = pairs ? ais__q_al((size_t)max_kp * sizeof(int32_t)) : 0;
    p->a = ais__calloc((size_t)group, sizeof *p->a);
    p->mem = ais__malloc_aligned((size_t)group * (per + sums + rows_b), 64);
    if (!p->a || !p->mem) {
        ais__free(krows);
        ais__free(kps);
        ais__qpack_free(p);
        return NULL;
    }
    for (int64_t g = 0; g < group; g++) {
        uint8_t *d = (uint8_t *)p->mem + (size_t)g * (per + sums + rows_b);
        int32_t *s = (int32_t *)(void *)(d + per);
        const uint8_t *src = (const uint8_t *)w->data + (size_t)(g * mg * k);
        if (pairs) {
            int32_t *kr = (int32_t *)(void *)(d + per + sums);
            int64_t kp = kps[g];
            memcpy(kr, krows + g * max_kp, (size_t)kp * sizeof *kr);
            ais__q8p_pack_a(t->qgemm_mr, (const int8_t *)src, mg, k, kr, kp, (int8_t *)d);
            for (int64_t i = 0; i < mg; i++) {
                uint32_t rs = 0;
                for (int64_t c = 0; c < k; c++)
                    rs += (uint32_t)(int32_t)((const int8_t *)src)[i * k + c];
                s[i] = (int32_t)rs;
            }
            p->a[g] = (ais__qgemm_a){.data = d,
                                     .sums = s,
                                     .m = mg,
                                     .k = k,
                                     .mr = t->qgemm_mr,
                                     .krows = kr,
                                     .kp = kp};
            continue;
        }
        if (wide)
            ais__q16_pack_a(t->qgemm_mr, src, w->dtype == AIS_DTYPE_I8, mg, k,
                            (int16_t *)(void *)d);
        else
            ais__qgemm_pack_a(t->qgemm_mr, src, w->dtype == AIS_DTYPE_I8, k, 1, mg, k, d, s);
        p->a[g] = (ais__qgemm_a){
            .data = d, .sums = wide ? NULL : s, .m = mg, .k = k, .mr = t->qgemm_mr, .wide = wide};
    }
    ais__free(krows);
    ais__free(kps);
    p->src = w->data;
    p->t = t;
    p->groups = group;
    return p;
}

/* ---- one matrix product ---- */

/* A's k: a packed B's reordered k (ais__qpack_b_pairs) is at most this */
static int64_t ais__qmm_kmax(int64_t k) { return (k + k / 4 + 3) / 4 * 4; }

size_t ais__qmm_scratch(const ais__cpu_kernels *t, int64_t m, int64_t n, int64_t k, bool pack_b) {
    size_t s = ais__q_al(ais__qgemm_a_bytes(t->qgemm_mr, m, ais__qmm_kmax(k)));
    s += 2 * ais__q_al((size_t)m * sizeof(int32_t)) + 2 * ais__q_al((size_t)n * sizeof(int32_t));
    if (pack_b) s += ais__q_al(ais__qgemm_b_bytes(k, n)) + ais__q_al((size_t)n * sizeof(int32_t));
    return s;
}

void ais__qmm_run(ais__pool *pool, const ais__cpu_kernels *t, const ais__qmm *q, ais__qgemm_ep *ep,
                  void *scratch) {
    int64_t m = q->m, n = q->n, k = q->k;
    char *p = scratch;
    uint8_t *ap = (uint8_t *)p;
    p += ais__q_al(ais__qgemm_a_bytes(t->qgemm_mr, m, ais__qmm_kmax(k)));
    int32_t *sa = (int32_t *)(void *)p;
    p += ais__q_al((size_t)m * sizeof(int32_t));
    int32_t *rowt = (int32_t *)(void *)p;
    p += ais__q_al((size_t)m * sizeof(int32_t));
    int32_t *zbp = (int32_t *)(void *)p;
    p += ais__q_al((size_t)n * sizeof(int32_t));
    int32_t *cola = (int32_t *)(void *)p;
    p += ais__q_al((size_t)n * sizeof(int32_t));
    ais__qgemm_b bl;
    const ais__qgemm_b *pb = q->pb;
    if (!pb) {
        int8_t *bp = (int8_t *)p;
        int32_t *sb = (int32_t *)(void *)(p + ais__q_al(ais__qgemm_b_bytes(k, n)));
        ais__qgemm_pack_b(q->b, q->b_signed, q->brs, q->bcs, k, n, bp, sb, NULL);
        bl = (ais__qgemm_b){.data = bp, .sums = sb, .n = n, .k = k, .exact = true};
        pb = &bl;
    }
    /* the moved zero points: A' = A + 128 for s8, B' = B - 128 for u8 */
    uint32_t za = (uint32_t)q->za + (q->a_signed ? 128u : 0u);
    bool zb_zero = true, zb_one = true;
    for (int64_t j = 0; j < n; j++) {
        zbp[j] = ais__qgemm_zp_at(q->zb, (size_t)j) - (q->b_signed ? 0 : 128);
        zb_zero = zb_zero && zbp[j] == 0;
        zb_one = zb_one && zbp[j] == zbp[0];
    }
    for (int64_t j = 0; j < n; j++)
        cola[j] =
            (int32_t)((q->col_bias ? (uint32_t)q->col_bias[j] : 0u) - za * (uint32_t)pb->sums[j]);
    /* the row sums only when a zero point of B multiplies them (symmetric s8 weights: never) */
    if (pb->krows)
        ais__qgemm_pack_a_rows(t->qgemm_mr, q->a, q->a_signed, q->ars, q->acs, m, pb->krows,
                               pb->k, ap, zb_zero ? NULL : sa);
    else
        ais__qgemm_pack_a(t->qgemm_mr, q->a, q->a_signed, q->ars, q->acs, m, k, ap,
                          zb_zero ? NULL : sa);
    ep->col_add = cola;
    ep->row_add = ep->row_mul = ep->col_mul = NULL;
    if (!zb_zero) {
        /* - zb' (sa - k za') */
        for (int64_t i = 0; i < m; i++)
            rowt[i] = (int32_t)(0u - ((uint32_t)sa[i] - (uint32_t)k * za));
        if (zb_one) {
            for (int64_t i = 0; i < m; i++)
                rowt[i] = (int32_t)((uint32_t)rowt[i] * (uint32_t)zbp[0]);
            ep->row_add = rowt;
        } else {
            ep->row_mul = rowt;
            ep->col_mul = zbp;
        }
    }
    ais__qgemm_a A = {.data = ap, .sums = sa, .m = m, .k = pb->k, .mr = t->qgemm_mr};
    ais__qgemm_run(pool, t, &A, pb, ep);
}
