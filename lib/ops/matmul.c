/*
 * matmul.c - MatMul (NumPy semantics: 1-D promotion, broadcast batch axes) and Gemm.
 * f32 and f64 go through BLAS; f16 and bf16 are widened to f32 in scratch memory; the integer
 * types use a plain loop (BLAS has none).
 */
#include <string.h>

#include "cpu/cpu.h"
#include "dense_util.h"

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

/* ---- MatMul ---- */

typedef struct ais__mm_plan {
    int64_t m, n, k;
    size_t nbatch;               /* product of the output batch extents */
    size_t nb;                   /* batch rank of the output */
    int64_t bdims[AIS_MAX_DIMS]; /* output batch extents */
    int64_t astr[AIS_MAX_DIMS];  /* per batch axis: matrices to step in A (0: broadcast) */
    int64_t bstr[AIS_MAX_DIMS];
    size_t a_mats, b_mats; /* matrices in A and in B */
    int64_t odims[AIS_MAX_DIMS];
    size_t ond;
} ais__mm_plan;

static ais_status ais__mm_plan_make(const ais_tensor *a, const ais_tensor *b, ais__mm_plan *p) {
    char sa[AIS__SHAPE_STR_MAX], sb[AIS__SHAPE_STR_MAX];
    if (a->ndim == 0 || b->ndim == 0)
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
        int64_t ao = 0, bo = 0;
        size_t rem = bi;
        for (size_t ax = p->nb; ax-- > 0;) {
            int64_t idx = (int64_t)(rem % (size_t)p->bdims[ax]);
            rem /= (size_t)p->bdims[ax];
            ao += idx * p->astr[ax];
            bo += idx * p->bstr[ax];
        }
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

static ais_status ais__matmul_compute(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                      ais_tensor *const *out, size_t n_out) {
    const ais_tensor *a = in[0], *b = in[1];
    ais_tensor *y = out[0];
    ais__mm_plan p;
    AIS__CHECK(ais__mm_plan_make(a, b, &p));
    if (!ais__dense_is_half(a->dtype)) {
        ais__mm_run(ctx, &p, a->dtype, a->data, b->data, y->data);
        return AIS_OK;
    }
    size_t total = 0;
    if (!ais__add_size(a->numel, b->numel, &total) || !ais__add_size(total, y->numel, &total) ||
        !ais__mul_size(total, sizeof(float), &total))
        return ais__error(AIS_E_LIMIT, "work buffer size overflows");
    float *w = ais__op_scratch(ctx, total);
    if (!w) return ais__oom(total, "MatMul f32 work buffers");
    float *wa = w, *wb = w + a->numel, *wc = wb + b->numel;
    ais__dense_to_f32(a->data, a->dtype, wa, a->numel);
    ais__dense_to_f32(b->data, b->dtype, wb, b->numel);
    ais__mm_run(ctx, &p, AIS_DTYPE_F32, wa, wb, wc);
    ais__dense_from_f32(wc, y->dtype, y->data, y->numel);
    return AIS_OK;
}

/* ---- Gemm: Y = alpha * op(A) op(B) + beta * C ---- */

static ais_status ais__gemm_dims(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                 int64_t *m, int64_t *n, int64_t *k) {
    const ais_tensor *a = in[0], *b = in[1];
    char sa[AIS__SHAPE_STR_MAX], sb[AIS__SHAPE_STR_MAX];
    AIS__CHECK(ais__expect_rank(a, "input A", 2, 2));
    AIS__CHECK(ais__expect_rank(b, "input B", 2, 2));
    bool ta = ais__attr_int(ctx->attrs, "transA", 0) != 0;
    bool tb = ais__attr_int(ctx->attrs, "transB", 0) != 0;
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
    AIS__CHECK(ais__gemm_dims(ctx, in, n_in, &m, &n, &k));
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
    int64_t m, n, k;
    AIS__CHECK(ais__gemm_dims(ctx, in, n_in, &m, &n, &k));
    bool ta = ais__attr_int(ctx->attrs, "transA", 0) != 0;
    bool tb = ais__attr_int(ctx->attrs, "transB", 0) != 0;
    float alpha = ais__attr_float(ctx->attrs, "alpha", 1.0f);
    float beta = ais__attr_float(ctx->attrs, "beta", 1.0f);
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
        const float *af = a->data, *bf = b->data, *cf = use_c ? c->data : NULL;
        float *yf = y->data;
        if (dt != AIS_DTYPE_F32) {
            size_t total = a->numel, cn = use_c ? c->numel : 0;
            if (!ais__add_size(total, b->numel, &total) || !ais__add_size(total, cn, &total) ||
                !ais__add_size(total, y->numel, &total) ||
                !ais__mul_size(total, sizeof(float), &total))
                return ais__error(AIS_E_LIMIT, "work buffer size overflows");
            float *w = ais__op_scratch(ctx, total);
            if (!w) return ais__oom(total, "Gemm f32 work buffers");
            ais__dense_to_f32(a->data, dt, w, a->numel);
            af = w;
            w += a->numel;
            ais__dense_to_f32(b->data, dt, w, b->numel);
            bf = w;
            w += b->numel;
            if (use_c) {
                ais__dense_to_f32(c->data, dt, w, c->numel);
                cf = w;
                w += c->numel;
            }
            yf = w;
        }
        for (int64_t i = 0; use_c && i < m; i++)
            for (int64_t j = 0; j < n; j++)
                yf[i * n + j] = beta * cf[ais__gemm_cidx(c, i, j)];
        if (k == 0) {
            if (!use_c) memset(yf, 0, (size_t)(m * n) * sizeof(float));
        } else {
            ais__cpu()->sgemm(ta, tb, m, n, k, alpha, af, a->dims[1], bf, b->dims[1],
                              use_c ? 1.0f : 0.0f, yf, n);
        }
        if (dt != AIS_DTYPE_F32) ais__dense_from_f32(yf, dt, y->data, y->numel);
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
     .compute = ais__matmul_compute},
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
     .compute = ais__gemm_compute},
    {.name = NULL},
};
