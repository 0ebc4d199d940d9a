/*
 * matmul.c - MatMul (NumPy semantics: 1-D promotion, broadcast batch axes) and Gemm.
 * f32 goes through our packed GEMM (lib/cpu/cpu_gemm.c) on the session's threads, with a
 * constant B packed once by `prepare` into the micro-kernel's panels and Gemm's C (and a fused
 * activation) applied in the GEMM's store; f16 and bf16 are widened to f32 in scratch memory;
 * f64 goes through BLAS; the integer types use a plain loop (BLAS has none).
 */
#include <stdatomic.h>
#include <string.h>

#include "cpu/cpu.h"
#include "dense_util.h"
#include "matmul.h"

/* ---- integer products: C[m,n] = A[m,k] B[k,n], row-major, wrapping like the hardware ---- */

#define AIS__INT_GEMM(NAME, T, ACC)                                                                \
    static void NAME(const T *a, const T *b, T *c, int64_t m, int64_t n, int64_t k) {              \
        for (int64_t i = 0; i < m; i++) {                                                          \
            T *ci = c + i * n;                                                                     \
            for (int64_t j = 0; j < n; j++)                                                        \
                ci[j] = 0;                                                                         \
            for (int64_t p = 0; p < k; p++) {                                                      \
                ACC av = (ACC)a[i * k + p];                                                        \
                const T *bp = b + p * n;                                                           \
                for (int64_t j = 0; j < n; j++)                                                    \
                    ci[j] = (T)((ACC)ci[j] + av * (ACC)bp[j]);                                     \
            }                                                                                      \
        }                                                                                          \
    }
AIS__INT_GEMM(ais__gemm_i32, int32_t, uint32_t)
AIS__INT_GEMM(ais__gemm_u32, uint32_t, uint32_t)
AIS__INT_GEMM(ais__gemm_i64, int64_t, uint64_t)
AIS__INT_GEMM(ais__gemm_u64, uint64_t, uint64_t)

/* One plain product of a batch; `dt` is the work dtype (f32, f64 or an integer type). */
static void ais__mm_one(ais_dtype dt, const void *a, const void *b, void *c, int64_t m, int64_t n,
                        int64_t k) {
    if (m <= 0 || n <= 0) return;
    size_t esz = ais_dtype_size(dt);
    if (k <= 0) {
        memset(c, 0, (size_t)(m * n) * esz);
        return;
    }
    switch (dt) {
    case AIS_DTYPE_F32:
        ais__cpu()->sgemm(false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
        break;
    case AIS_DTYPE_F64: ais__cpu()->dgemm(false, false, m, n, k, 1.0, a, k, b, n, 0.0, c, n); break;
    case AIS_DTYPE_I32: ais__gemm_i32(a, b, c, m, n, k); break;
    case AIS_DTYPE_U32: ais__gemm_u32(a, b, c, m, n, k); break;
    case AIS_DTYPE_I64: ais__gemm_i64(a, b, c, m, n, k); break;
    case AIS_DTYPE_U64: ais__gemm_u64(a, b, c, m, n, k); break;
    default: break;
    }
}

/* ---- the prepared state: B packed once ---- */

void ais__mm_release(void *state) {
    ais__mm_state *st = state;
    if (!st) return;
    ais__free(st->bp);
    ais__free(st);
}

/* Packs a constant f32 B: Gemm's op(B) (transB) or MatMul's batch of [k, n] matrices. */
static ais_status ais__mm_pack_const(const ais__op_ctx *ctx, bool gemm, ais__mm_state *st) {
    const ais_tensor *b = ctx->consts && ctx->n_consts > 1 ? ctx->consts[1] : NULL;
    if (!b || b->dtype != AIS_DTYPE_F32 || !b->data || b->ndim == 0) return AIS_OK;
    bool tb = false;
    int64_t ldb;
    size_t mats = 1;
    if (gemm) {
        if (b->ndim != 2) return AIS_OK; /* infer says what is wrong */
        tb = ais__attr_int(ctx->attrs, "transB", 0) != 0;
        st->k = tb ? b->dims[1] : b->dims[0];
        st->n = tb ? b->dims[0] : b->dims[1];
        ldb = b->dims[1];
    } else {
        st->k = b->ndim == 1 ? b->dims[0] : b->dims[b->ndim - 2];
        st->n = b->ndim == 1 ? 1 : b->dims[b->ndim - 1];
        ldb = st->n;
        for (size_t i = 0; i + 2 < b->ndim; i++)
            mats *= (size_t)b->dims[i];
    }
    if (st->k <= 0 || st->n <= 0 || mats == 0) return AIS_OK;
    const ais__cpu_kernels *t = ais__cpu();
    size_t per = t->gemm_packed_b_size(st->k, st->n), total;
    if (!ais__mul_size(per, mats, &total) || !ais__mul_size(total, sizeof(float), &total))
        return ais__error(AIS_E_LIMIT, "packed weight B of %zu matrices overflows", mats);
    st->bp = ais__malloc_aligned(total, 64);
    if (!st->bp) return ais__oom(total, "packed weight B");
    const float *src = b->data;
    for (size_t i = 0; i < mats; i++)
        t->gemm_prepack_b(tb, src + i * (size_t)(st->k * st->n), ldb, st->k, st->n,
                          st->bp + i * per);
    st->t = t;
    st->mats = mats;
    st->mat_floats = per;
    st->b_src = b;
    st->b_data = b->data;
    return AIS_OK;
}

ais_status ais__mm_prepare(const ais__op_ctx *ctx, void **state) {
    ais__mm_state *st = ais__calloc(1, sizeof *st);
    if (!st) return ais__oom(sizeof *st, "MatMul state");
    st->magic = AIS__MM_STATE_MAGIC;
    const char *op = ctx->op_type ? ctx->op_type : "";
    bool gemm = strcmp(op, "Gemm") == 0 || strcmp(op, "FusedGemm") == 0;
    if (gemm) {
        st->gemm_attrs = true;
        st->ta = ais__attr_int(ctx->attrs, "transA", 0) != 0;
        st->tb = ais__attr_int(ctx->attrs, "transB", 0) != 0;
        st->alpha = ais__attr_float(ctx->attrs, "alpha", 1.0f);
        st->beta = ais__attr_float(ctx->attrs, "beta", 1.0f);
    }
    ais_status s = ais__mm_pack_const(ctx, gemm, st);
    if (s != AIS_OK) {
        ais__mm_release(st);
        return s;
    }
    *state = st;
    return AIS_OK;
}

static const ais__mm_state *ais__mm_state_of(const ais__op_ctx *ctx) {
    const ais__mm_state *st = ctx->state;
    return st && st->magic == AIS__MM_STATE_MAGIC ? st : NULL;
}

/* The pre-packed B when compute's B is the constant prepare packed (op.h's contract), with the
 * table it was packed for; else NULL and the table in effect. */
static const float *ais__mm_packed_b(const ais__mm_state *st, const ais_tensor *b,
                                     const ais__cpu_kernels **t) {
    if (st && st->bp && b == st->b_src && b->data == st->b_data) {
        *t = st->t;
        return st->bp;
    }
    *t = ais__cpu();
    return NULL;
}

/* ---- MatMul ---- */

ais_status ais__mm_plan_make(const ais_tensor *a, const ais_tensor *b, ais__mm_plan *p) {
    char sa[AIS__SHAPE_STR_MAX], sb[AIS__SHAPE_STR_MAX];
    if (a->ndim == 0 || b->ndim == 0 || a->ndim > AIS_MAX_DIMS || b->ndim > AIS_MAX_DIMS)
        return ais__error(AIS_E_SHAPE, "inputs must have rank >= 1, got A %s and B %s",
                          ais__shape_str(a->dims, a->ndim, sa, sizeof sa),
                          ais__shape_str(b->dims, b->ndim, sb, sizeof sb));
    size_t ra = a->ndim, rb = b->ndim;
    p->m = ra == 1 ? 1 : a->dims[ra - 2];
    p->k = a->dims[ra - 1];
    int64_t kb = rb == 1 ? b->dims[0] : b->dims[rb - 2];
    p->n = rb == 1 ? 1 : b->dims[rb - 1];
    if (p->k != kb)
        return ais__error(AIS_E_SHAPE,
                          "inner dimensions do not match: A %s has %lld columns, B %s has %lld "
                          "rows",
                          ais__shape_str(a->dims, a->ndim, sa, sizeof sa), (long long)p->k,
                          ais__shape_str(b->dims, b->ndim, sb, sizeof sb), (long long)kb);
    size_t nba = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0;
    p->nb = AIS__MAX(nba, nbb);
    p->nbatch = 1;
    p->a_mats = p->b_mats = 1;
    for (size_t i = 0; i < nba; i++)
        p->a_mats *= (size_t)a->dims[i];
    for (size_t i = 0; i < nbb; i++)
        p->b_mats *= (size_t)b->dims[i];
    int64_t sta = 1, stb = 1;
    for (size_t ii = p->nb; ii-- > 0;) {
        size_t lead_a = p->nb - nba, lead_b = p->nb - nbb;
        int64_t da = ii < lead_a ? 1 : a->dims[ii - lead_a];
        int64_t db = ii < lead_b ? 1 : b->dims[ii - lead_b];
        if (da != db && da != 1 && db != 1)
            return ais__error(AIS_E_SHAPE, "batch dimensions of A %s and B %s do not broadcast",
                              ais__shape_str(a->dims, a->ndim, sa, sizeof sa),
                              ais__shape_str(b->dims, b->ndim, sb, sizeof sb));
        p->bdims[ii] = da == 1 ? db : da;
        p->astr[ii] = da == 1 ? 0 : sta;
        p->bstr[ii] = db == 1 ? 0 : stb;
        sta *= da;
        stb *= db;
    }
    for (size_t i = 0; i < p->nb; i++)
        p->nbatch *= (size_t)p->bdims[i];
    p->ond = 0;
    for (size_t i = 0; i < p->nb; i++)
        p->odims[p->ond++] = p->bdims[i];
    if (ra > 1) p->odims[p->ond++] = p->m;
    if (rb > 1) p->odims[p->ond++] = p->n;
    return AIS_OK;
}

static ais_status ais__matmul_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais__tensor_desc *out, size_t n_out) {
    AIS__CHECK(ais__expect_dtype(in[0], "input A", AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_F16,
                                 AIS_DTYPE_BF16, AIS_DTYPE_I32, AIS_DTYPE_I64, AIS_DTYPE_U32,
                                 AIS_DTYPE_U64, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_same_dtype(in[0], "A", in[1], "B"));
    ais__mm_plan p;
    AIS__CHECK(ais__mm_plan_make(in[0], in[1], &p));
    ais__desc_set(&out[0], in[0]->dtype, p.odims, p.ond);
    return AIS_OK;
}

void ais__mm_offsets(const ais__mm_plan *p, size_t bi, int64_t *ao, int64_t *bo) {
    *ao = *bo = 0;
    for (size_t ax = p->nb; ax-- > 0;) {
        int64_t idx = (int64_t)(bi % (size_t)p->bdims[ax]);
        bi /= (size_t)p->bdims[ax];
        *ao += idx * p->astr[ax];
        *bo += idx * p->bstr[ax];
    }
}

typedef struct {
    const ais__mm_plan *p;
    ais_dtype dt;
    const char *a, *b;
    char *c;
} ais__mm_job;

static void ais__mm_range(void *vj, size_t begin, size_t end) {
    const ais__mm_job *j = vj;
    const ais__mm_plan *p = j->p;
    size_t esz = ais_dtype_size(j->dt);
    size_t asz = (size_t)(p->m * p->k) * esz, bsz = (size_t)(p->k * p->n) * esz;
    size_t csz = (size_t)(p->m * p->n) * esz;
    for (size_t bi = begin; bi < end; bi++) {
        int64_t ao, bo;
        ais__mm_offsets(p, bi, &ao, &bo);
        ais__mm_one(j->dt, j->a + (size_t)ao * asz, j->b + (size_t)bo * bsz, j->c + bi * csz, p->m,
                    p->n, p->k);
    }
}

/* Runs the batched product on work buffers of dtype dt (f32, f64 or integers). */
static void ais__mm_run(ais__op_ctx *ctx, const ais__mm_plan *p, ais_dtype dt, const void *a,
                        const void *b, void *c) {
    if (p->nbatch == 0 || p->m == 0 || p->n == 0) return;
    if (p->b_mats == 1) {
        /* B is shared by every batch: the batches of A are rows of one tall product. */
        ais__mm_one(dt, a, b, c, p->m * (int64_t)p->nbatch, p->n, p->k);
        return;
    }
    ais__mm_job j = {p, dt, a, b, c};
    double work = (double)p->m * (double)p->n * (double)p->k;
    bool blas = dt == AIS_DTYPE_F32 || dt == AIS_DTYPE_F64;
    /* Large products are left to BLAS's own threads; small ones (attention heads) are spread
     * over our pool, one whole product per task, so the two never nest. */
    if (blas && work >= 262144.0) {
        ais__mm_range(&j, 0, p->nbatch);
        return;
    }
    size_t grain = work >= 65536.0 ? 1 : (size_t)(65536.0 / (work + 1.0)) + 1;
    ais__parallel_for(ctx->pool, p->nbatch, grain, ais__mm_range, &j);
}

/* ---- f32 MatMul through our GEMM ---- */

/* How a batch of products shares the threads: one B for all (a tall product split by the GEMM
 * itself), or products claimed one at a time by `slots` threads, each with its own scratch. */
typedef struct ais__mmf_job {
    const ais__mm_plan *p;
    const ais__cpu_kernels *t;
    const float *a, *b, *bp;
    size_t bp_floats; /* per matrix of the pre-packed B */
    float *c;
    const ais__gemm_epilogue *ep;
    float *scratch;
    size_t slots, slot_floats;
    _Atomic size_t next;
} ais__mmf_job;

static int32_t ais__mm_threads(const ais__op_ctx *ctx) {
    return ctx->pool ? ais__pool_threads(ctx->pool) : 1;
}

/* Fills j's split and returns the scratch floats it needs. */
static size_t ais__mmf_plan(const ais__op_ctx *ctx, ais__mmf_job *j) {
    const ais__mm_plan *p = j->p;
    bool packed = j->bp != NULL;
    if (p->b_mats == 1) {
        j->slots = 0;
        return ais__gemm_parallel_scratch(ctx->pool, j->t, p->m * (int64_t)p->nbatch, p->n, p->k,
                                          packed);
    }
    double work = (double)p->m * (double)p->n * (double)p->k;
    size_t threads = (size_t)ais__mm_threads(ctx);
    if (p->nbatch >= threads || work < 1e6) {
        /* whole products per thread (attention heads); tiny batches stay on one */
        j->slots = work * (double)p->nbatch < 65536.0 ? 1 : AIS__MIN(threads, p->nbatch);
        j->slot_floats = ais__gemm_scratch_floats(j->t, p->m, p->n, p->k, packed);
        return j->slots * j->slot_floats;
    }
    j->slots = 0; /* few large products: each split over the threads */
    return ais__gemm_parallel_scratch(ctx->pool, j->t, p->m, p->n, p->k, packed);
}

static void ais__mmf_one(const ais__mmf_job *j, size_t bi, float *scr) {
    const ais__mm_plan *p = j->p;
    int64_t ao, bo;
    ais__mm_offsets(p, bi, &ao, &bo);
    const float *a = j->a + ao * p->m * p->k;
    float *c = j->c + (int64_t)bi * p->m * p->n;
    if (j->bp)
        ais__gemm_drive(j->t, false, false, p->m, p->n, p->k, 1.0f, a, p->k, NULL, p->n,
                        j->bp + (size_t)bo * j->bp_floats, 0.0f, c, p->n, j->ep, scr);
    else
        ais__gemm_drive(j->t, false, false, p->m, p->n, p->k, 1.0f, a, p->k,
                        j->b + bo * p->k * p->n, p->n, NULL, 0.0f, c, p->n, j->ep, scr);
}

static void ais__mmf_slot(void *vj, size_t begin, size_t end) {
    ais__mmf_job *j = vj;
    for (size_t slot = begin; slot < end; slot++) {
        float *scr = j->slot_floats ? j->scratch + slot * j->slot_floats : NULL;
        for (size_t bi; (bi = atomic_fetch_add(&j->next, 1)) < j->p->nbatch;)
            ais__mmf_one(j, bi, scr);
    }
}

/* Fewer rows than this go to the table's sgemm (BLAS's GEMV, which reads B once at about twice
 * the rate of our one-row tile: 43 vs 26 GFLOP/s at 1x512x784 with B pre-packed) and the
 * epilogue after. */
#define AIS__MM_MIN_ROWS 4

static bool ais__mm_few_rows(int64_t m, int64_t k) { return m < AIS__MM_MIN_ROWS && k > 0; }

/* With more than one thread, a few-row product whose B is pre-packed and m*n*k is 1e6 or more
 * runs on our pool instead, its columns split by our GEMM (a batch-1 product reads B once from
 * memory, so two threads read it at twice the rate); smaller ones stay with BLAS's GEMV, on one
 * thread (ais__mm_by_blas). Not on OpenBLAS's own threads: they sleep between the model's calls,
 * and once woken they spin in sched_yield for a while (THREAD_TIMEOUT, ~0.1 s), competing with
 * our workers for the cores through the rest of the run. MobileNetV2's 1x1280x1000 classifier,
 * 2 threads, aistack bench --profile on a loaded machine: 2.4-3.2 ms through BLAS's threads,
 * 1.2 ms here (0.8-0.9 ms on one thread). */
static bool ais__mm_few_rows_pooled(const ais__op_ctx *ctx, const float *bp, int64_t m, int64_t n,
                                    int64_t k) {
    return bp && ctx->pool && ais__pool_threads(ctx->pool) > 1 &&
           (double)m * (double)n * (double)k >= 1e6;
}

static void ais__mm_by_blas(const ais__cpu_kernels *t, bool ta, bool tb, int64_t m, int64_t n,
                            int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                            int64_t ldb, float *c, const ais__gemm_epilogue *ep) {
    /* on this thread only (see ais__mm_few_rows_pooled): a binding to no pool is width 1 */
    ais__pool_binding saved;
    ais__pool_bind(NULL, &saved);
    ais__cpu()->sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, 0.0f, c, n);
    ais__pool_unbind(&saved);
    ais__gemm_epilogue_apply(t, ep, c, n, m, n);
}

static void ais__mmf_run(ais__op_ctx *ctx, ais__mmf_job *j) {
    const ais__mm_plan *p = j->p;
    if (p->nbatch == 0 || p->m == 0 || p->n == 0) return;
    if (p->b_mats == 1 && ais__mm_few_rows(p->m * (int64_t)p->nbatch, p->k) &&
        !ais__mm_few_rows_pooled(ctx, j->bp, p->m * (int64_t)p->nbatch, p->n, p->k)) {
        ais__mm_by_blas(j->t, false, false, p->m * (int64_t)p->nbatch, p->n, p->k, 1.0f, j->a, p->k,
                        j->b, p->n, j->c, j->ep);
        return;
    }
    if (p->b_mats == 1) {
        ais__gemm_parallel_ex(ctx->pool, j->t, false, false, p->m * (int64_t)p->nbatch, p->n, p->k,
                              1.0f, j->a, p->k, j->b, p->n, j->bp, 0.0f, j->c, p->n, j->ep,
                              j->scratch);
        return;
    }
    if (j->slots) {
        atomic_store(&j->next, 0);
        ais__parallel_for(ctx->pool, j->slots, 1, ais__mmf_slot, j);
        return;
    }
    for (size_t bi = 0; bi < p->nbatch; bi++) {
        int64_t ao, bo;
        ais__mm_offsets(p, bi, &ao, &bo);
        ais__gemm_parallel_ex(ctx->pool, j->t, false, false, p->m, p->n, p->k, 1.0f,
                              j->a + ao * p->m * p->k, p->k, j->bp ? NULL : j->b + bo * p->k * p->n,
                              p->n, j->bp ? j->bp + (size_t)bo * j->bp_floats : NULL, 0.0f,
                              j->c + (int64_t)bi * p->m * p->n, p->n, j->ep, j->scratch);
    }
}

/* Sets up j for the product of plan p whose B is the tensor bt (for the pre-packed check) and
 * takes the scratch: the GEMM's, then `extra` floats for the caller (*work; NULL when extra is
 * 0). The caller then sets j->a, j->b, j->c (f32 buffers) and calls ais__mmf_run. */
static ais_status ais__mmf_setup(ais__op_ctx *ctx, const ais__mm_plan *p, const ais_tensor *bt,
                                 const ais__gemm_epilogue *ep, size_t extra, ais__mmf_job *j,
                                 float **work) {
    memset(j, 0, sizeof *j);
    const ais__mm_state *st = ais__mm_state_of(ctx);
    j->p = p;
    j->bp = ais__mm_packed_b(st, bt, &j->t);
    if (j->bp) j->bp_floats = st->mat_floats;
    j->ep = ep;
    size_t gf = (ais__mmf_plan(ctx, j) + 15) / 16 * 16, total;
    if (!ais__add_size(gf, extra, &total) || !ais__mul_size(total, sizeof(float), &total))
        return ais__error(AIS_E_LIMIT, "work buffer size overflows");
    float *s = total ? ais__op_scratch(ctx, total) : NULL;
    if (total && !s) return ais__oom(total, "MatMul packing and work buffers");
    j->scratch = s;
    *work = extra ? s + gf : NULL;
    return AIS_OK;
}

/* The fused activation of the state (FusedMatMul, FusedGemm) as an epilogue, or NULL. */
static const ais__gemm_epilogue *ais__mm_act(const ais__op_ctx *ctx, ais__gemm_epilogue *ep) {
    const ais__mm_state *st = ais__mm_state_of(ctx);
    memset(ep, 0, sizeof *ep);
    if (!st || st->act.act == AIS__GEMM_ACT_NONE) return NULL;
    ep->act = st->act.act;
    ep->act_alpha = st->act.act_alpha;
    ep->act_beta = st->act.act_beta;
    return ep;
}

static ais_status ais__matmul_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    const ais_tensor *a = in[0], *b = in[1];
    ais_tensor *y = out[0];
    ais__mm_plan p;
    AIS__CHECK(ais__mm_plan_make(a, b, &p));
    if (a->dtype != AIS_DTYPE_F32 && !ais__dense_is_half(a->dtype)) {
        ais__mm_run(ctx, &p, a->dtype, a->data, b->data, y->data);
        return AIS_OK;
    }
    ais__gemm_epilogue epb;
    /* the fused activation only for f32 results: a half result is rounded first, as unfused */
    const ais__gemm_epilogue *ep = a->dtype == AIS_DTYPE_F32 ? ais__mm_act(ctx, &epb) : NULL;
    size_t extra = 0;
    if (a->dtype != AIS_DTYPE_F32 &&
        (!ais__add_size(a->numel, b->numel, &extra) || !ais__add_size(extra, y->numel, &extra)))
        return ais__error(AIS_E_LIMIT, "work buffer size overflows");
    ais__mmf_job j;
    float *w;
    AIS__CHECK(ais__mmf_setup(ctx, &p, b, ep, extra, &j, &w));
    if (!w) {
        j.a = a->data;
        j.b = b->data;
        j.c = y->data;
        ais__mmf_run(ctx, &j);
        return AIS_OK;
    }
    float *wa = w, *wb = w + a->numel, *wc = wb + b->numel;
    ais__dense_to_f32(a->data, a->dtype, wa, a->numel);
    ais__dense_to_f32(b->data, b->dtype, wb, b->numel);
    j.a = wa;
    j.b = wb;
    j.c = wc;
    ais__mmf_run(ctx, &j);
    ais__dense_from_f32(wc, y->dtype, y->data, y->numel);
    return AIS_OK;
}

ais_status ais__mm_f32_ep(ais__op_ctx *ctx, const ais_tensor *a, const ais_tensor *b, ais_tensor *y,
                          const ais__gemm_epilogue *ep) {
    ais__mm_plan p;
    AIS__CHECK(ais__mm_plan_make(a, b, &p));
    ais__mmf_job j;
    float *w;
    AIS__CHECK(ais__mmf_setup(ctx, &p, b, ep, 0, &j, &w));
    j.a = a->data;
    j.b = b->data;
    j.c = y->data;
    ais__mmf_run(ctx, &j);
    return AIS_OK;
}

/* ---- Gemm: Y = alpha * op(A) op(B) + beta * C ---- */

/* Gemm's attributes: from the prepared state when it has them, else by name (infer, and a
 * state prepared by another operator). */
typedef struct ais__gemm_attrs {
    bool ta, tb;
    float alpha, beta;
} ais__gemm_attrs;

static ais__gemm_attrs ais__gemm_attrs_of(const ais__op_ctx *ctx, const ais__mm_state *st) {
    if (st && st->gemm_attrs)
        return (ais__gemm_attrs){st->ta, st->tb, st->alpha, st->beta};
    return (ais__gemm_attrs){ais__attr_int(ctx->attrs, "transA", 0) != 0,
                             ais__attr_int(ctx->attrs, "transB", 0) != 0,
                             ais__attr_float(ctx->attrs, "alpha", 1.0f),
                             ais__attr_float(ctx->attrs, "beta", 1.0f)};
}

static ais_status ais__gemm_dims(const ais_tensor *const *in, size_t n_in, bool ta, bool tb,
                                 int64_t *m, int64_t *n, int64_t *k) {
    const ais_tensor *a = in[0], *b = in[1];
    char sa[AIS__SHAPE_STR_MAX], sb[AIS__SHAPE_STR_MAX];
    AIS__CHECK(ais__expect_rank(a, "input A", 2, 2));
    AIS__CHECK(ais__expect_rank(b, "input B", 2, 2));
    *m = ta ? a->dims[1] : a->dims[0];
    *k = ta ? a->dims[0] : a->dims[1];
    int64_t kb = tb ? b->dims[1] : b->dims[0];
    *n = tb ? b->dims[0] : b->dims[1];
    if (*k != kb)
        return ais__error(AIS_E_SHAPE,
                          "inner dimensions do not match: A %s (transA=%d) and B %s (transB=%d)",
                          ais__shape_str(a->dims, 2, sa, sizeof sa), (int)ta,
                          ais__shape_str(b->dims, 2, sb, sizeof sb), (int)tb);
    const ais_tensor *c = n_in > 2 ? in[2] : NULL;
    if (c) {
        bool ok = c->ndim <= 2;
        int64_t cm = c->ndim == 2 ? c->dims[0] : 1;
        int64_t cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        ok = ok && (cm == 1 || cm == *m) && (cn == 1 || cn == *n);
        if (!ok)
            return ais__error(AIS_E_SHAPE, "C %s does not broadcast to the result [%lld, %lld]",
                              ais__shape_str(c->dims, c->ndim, sa, sizeof sa), (long long)*m,
                              (long long)*n);
    }
    return AIS_OK;
}

static ais_status ais__gemm_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais__tensor_desc *out, size_t n_out) {
    AIS__CHECK(ais__expect_dtype(in[0], "input A", AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_F16,
                                 AIS_DTYPE_BF16, AIS_DTYPE_I32, AIS_DTYPE_I64, AIS_DTYPE_U32,
                                 AIS_DTYPE_U64, AIS_DTYPE_UNDEFINED));
    AIS__CHECK(ais__expect_same_dtype(in[0], "A", in[1], "B"));
    if (n_in > 2 && in[2]) AIS__CHECK(ais__expect_same_dtype(in[0], "A", in[2], "C"));
    int64_t m, n, k;
    AIS__CHECK(ais__gemm_dims(in, n_in, ais__attr_int(ctx->attrs, "transA", 0) != 0,
                              ais__attr_int(ctx->attrs, "transB", 0) != 0, &m, &n, &k));
    int64_t d[2] = {m, n};
    ais__desc_set(&out[0], in[0]->dtype, d, 2);
    return AIS_OK;
}

/* C's element for result (i, j) under unidirectional broadcasting. */
static inline size_t ais__gemm_cidx(const ais_tensor *c, int64_t i, int64_t j) {
    int64_t cm = c->ndim == 2 ? c->dims[0] : 1;
    int64_t cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
    return (size_t)((cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j));
}

static ais_status ais__gemm_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                    ais_tensor *const *out, size_t n_out) {
    const ais_tensor *a = in[0], *b = in[1], *c = n_in > 2 ? in[2] : NULL;
    ais_tensor *y = out[0];
    const ais__mm_state *st = ais__mm_state_of(ctx);
    const ais__gemm_attrs at = ais__gemm_attrs_of(ctx, st);
    const bool ta = at.ta, tb = at.tb;
    const float alpha = at.alpha, beta = at.beta;
    int64_t m, n, k;
    AIS__CHECK(ais__gemm_dims(in, n_in, ta, tb, &m, &n, &k));
    if (m == 0 || n == 0) return AIS_OK;
    ais_dtype dt = a->dtype;
    /* C == NULL or beta == 0: the product alone (ONNX Runtime ignores C then too). */
    bool use_c = c && c->numel > 0 && beta != 0.0f;

    if (dt == AIS_DTYPE_F64) {
        double *yd = y->data;
        const double *cd = use_c ? c->data : NULL;
        for (int64_t i = 0; use_c && i < m; i++)
            for (int64_t j = 0; j < n; j++)
                yd[i * n + j] = beta * cd[ais__gemm_cidx(c, i, j)];
        if (k == 0) {
            if (!use_c) memset(yd, 0, (size_t)(m * n) * sizeof(double));
            return AIS_OK;
        }
        ais__cpu()->dgemm(ta, tb, m, n, k, alpha, a->data, a->dims[1], b->data, b->dims[1],
                          use_c ? 1.0 : 0.0, yd, n);
        return AIS_OK;
    }
    if (dt == AIS_DTYPE_F32 || ais__dense_is_half(dt)) {
        /* Y = alpha op(A) op(B) + beta C in one pass: C (times beta) is the epilogue's bias,
         * broadcast by its strides, then the fused activation (f32 results only: a half
         * result is rounded first, as unfused) */
        ais__gemm_epilogue ep;
        const ais__gemm_epilogue *epp = dt == AIS_DTYPE_F32 ? ais__mm_act(ctx, &ep) : NULL;
        if (!epp) memset(&ep, 0, sizeof ep);
        int64_t cm = 1, cn = 1;
        if (use_c) {
            cm = c->ndim == 2 ? c->dims[0] : 1;
            cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
            ep.bias_rs = cm == 1 ? 0 : cn;
            ep.bias_cs = cn == 1 ? 0 : 1;
        }
        const ais__cpu_kernels *t;
        const float *bp = ais__mm_packed_b(st, b, &t);
        bool half = dt != AIS_DTYPE_F32, scale_c = use_c && (beta != 1.0f || half);
        size_t gf = (ais__gemm_parallel_scratch(ctx->pool, t, m, n, k, bp != NULL) + 15) / 16 * 16;
        size_t total = gf, cn_el = scale_c ? c->numel : 0;
        if (!ais__add_size(total, cn_el, &total) ||
            (half && (!ais__add_size(total, a->numel, &total) ||
                      !ais__add_size(total, bp ? 0 : b->numel, &total) ||
                      !ais__add_size(total, y->numel, &total))) ||
            !ais__mul_size(total, sizeof(float), &total))
            return ais__error(AIS_E_LIMIT, "work buffer size overflows");
        float *w = total ? ais__op_scratch(ctx, total) : NULL;
        if (total && !w) return ais__oom(total, "Gemm packing and work buffers");
        float *scr = gf ? w : NULL, *wn = w ? w + gf : NULL;
        const float *af = a->data, *bf = b->data;
        float *yf = y->data;
        if (scale_c) {
            ais__dense_to_f32(c->data, dt, wn, c->numel);
            for (size_t i = 0; i < c->numel; i++)
                wn[i] *= beta;
            ep.bias = wn;
            wn += c->numel;
        } else if (use_c) {
            ep.bias = c->data;
        }
        if (ep.bias || epp) epp = &ep;
        if (half) {
            ais__dense_to_f32(a->data, dt, wn, a->numel);
            af = wn;
            wn += a->numel;
            if (!bp) {
                ais__dense_to_f32(b->data, dt, wn, b->numel);
                bf = wn;
                wn += b->numel;
            }
            yf = wn;
        }
        if (ais__mm_few_rows(m, k) && !ais__mm_few_rows_pooled(ctx, bp, m, n, k))
            ais__mm_by_blas(t, ta, tb, m, n, k, alpha, af, a->dims[1], bf, b->dims[1], yf, epp);
        else
            ais__gemm_parallel_ex(ctx->pool, t, ta, tb, m, n, k, alpha, af, a->dims[1],
                                  bp ? NULL : bf, b->dims[1], bp, 0.0f, yf, n, epp, scr);
        if (half) ais__dense_from_f32(yf, dt, y->data, y->numel);
        return AIS_OK;
    }
    /* Integers: exact accumulation in 64 bits, alpha and beta applied in double. */
    int64_t lda = a->dims[1], ldb = b->dims[1];
    bool is_unsigned = !ais__dtype_is_signed(dt);
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            uint64_t acc = 0;
            for (int64_t p = 0; p < k; p++) {
                size_t ai = (size_t)(ta ? p * lda + i : i * lda + p);
                size_t bi = (size_t)(tb ? j * ldb + p : p * ldb + j);
                acc += (uint64_t)ais__load_i64(a->data, dt, ai) *
                       (uint64_t)ais__load_i64(b->data, dt, bi);
            }
            size_t yi = (size_t)(i * n + j);
            if (alpha == 1.0f && (!use_c || beta == 1.0f)) {
                uint64_t r = acc;
                if (use_c) r += (uint64_t)ais__load_i64(c->data, dt, ais__gemm_cidx(c, i, j));
                switch (dt) {
                case AIS_DTYPE_I32: ((int32_t *)y->data)[yi] = (int32_t)(uint32_t)r; break;
                case AIS_DTYPE_U32: ((uint32_t *)y->data)[yi] = (uint32_t)r; break;
                case AIS_DTYPE_I64: ((int64_t *)y->data)[yi] = (int64_t)r; break;
                default: ((uint64_t *)y->data)[yi] = r; break;
                }
            } else {
                double v = is_unsigned ? (double)acc : (double)(int64_t)acc;
                double cv =
                    use_c ? beta * ais__load_f64(c->data, dt, ais__gemm_cidx(c, i, j)) : 0.0;
                ais__store_f64(y->data, dt, yi, alpha * v + cv);
            }
        }
    }
    return AIS_OK;
}

const ais__op_def ais__ops_matmul[] = {
    {.domain = "",
     .name = "MatMul",
     .since_version = 1,
     .min_inputs = 2,
     .max_inputs = 2,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__matmul_infer,
     .compute = ais__matmul_compute,
     .prepare = ais__mm_prepare,
     .release = ais__mm_release},
    /* Opsets 1-6 had a `broadcast` attribute and a required C; the opset 7+ rules (C optional
     * from 11, always unidirectionally broadcast) accept every model those versions accept. */
    {.domain = "",
     .name = "Gemm",
     .since_version = 1,
     .min_inputs = 2,
     .max_inputs = 3,
     .min_outputs = 1,
     .max_outputs = 1,
     .infer = ais__gemm_infer,
     .compute = ais__gemm_compute,
     .prepare = ais__mm_prepare,
     .release = ais__mm_release},
    {.name = NULL},
};
