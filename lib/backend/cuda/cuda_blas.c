/* cuda_blas.c - MatMul and Gemm through cuBLAS (strided-batched, broadcast batch dimensions) and
 * cuBLASLt (Gemm with a bias/ReLU epilogue).
 *
 * Row-major Y = op(A) op(B) is column-major Y^T = op(B)^T op(A)^T: cuBLAS gets B as its first
 * operand and A as its second, m = N and n = M, so no data is transposed. f32 computes in f32
 * (never TF32: results must match the CPU to ~1e-5); f16 and bf16 accumulate in f32. */
#include <limits.h>
#include <string.h>

#include "cuda_internal.h"

#define AIS__LT_WORKSPACE ((size_t)32 << 20)

static cudaDataType_t cuda_type(ais_dtype d) {
    return d == AIS_DTYPE_F16 ? CUDA_R_16F : d == AIS_DTYPE_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

typedef struct gemm_args {
    cublasOperation_t op_a, op_b; /* for A and B of the row-major product */
    int64_t m, n, k, lda, ldb, ldc;
    long long stride_a, stride_b, stride_c;
    int64_t batch;
} gemm_args;

static ais_status gemm_call(ais__cuda_ctx *ctx, ais_dtype dt, const gemm_args *g, float alpha,
                            const void *a, const void *b, float beta, void *c) {
    if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX || g->lda > INT_MAX ||
        g->ldb > INT_MAX || g->ldc > INT_MAX || g->batch > INT_MAX)
        return ais__error(AIS_E_LIMIT, "matrix dimensions exceed cuBLAS's int range");
    cudaDataType_t t = cuda_type(dt);
    if (g->batch == 1) {
        AIS__CUBLAS(cublasGemmEx(ctx->blas, g->op_b, g->op_a, (int)g->n, (int)g->m, (int)g->k,
                                 &alpha, b, t, (int)g->ldb, a, t, (int)g->lda, &beta, c, t,
                                 (int)g->ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    } else {
        AIS__CUBLAS(cublasGemmStridedBatchedEx(
            ctx->blas, g->op_b, g->op_a, (int)g->n, (int)g->m, (int)g->k, &alpha, b, t,
            (int)g->ldb, g->stride_b, a, t, (int)g->lda, g->stride_a, &beta, c, t, (int)g->ldc,
            g->stride_c, (int)g->batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
    return AIS_OK;
}

static ais_status epilogue(ais__cuda_ctx *ctx, const ais_attrs *attrs, const ais_tensor *bias,
                           ais_tensor *y, int64_t n) {
    float alpha;
    int act = ais__cuda_activation(attrs, &alpha);
    if (act < 0) return ais__error(AIS_E_UNSUPPORTED, "unknown activation");
    if (!bias && act == AISK_ACT_NONE) return AIS_OK;
    if (bias && (int64_t)bias->numel != n)
        return ais__error(AIS_E_SHAPE, "bias has %zu values for %lld columns", bias->numel,
                          (long long)n);
    AIS__KERNEL(aisk_bias_act(ctx->stream, (int)y->dtype, y->data, bias ? bias->data : NULL,
                              y->numel, n, 1, act, alpha, 0.f),
                "bias/activation kernel");
    return AIS_OK;
}

ais_status ais__cuda_matmul(ais__cuda_ctx *ctx, const ais_attrs *attrs, const ais_tensor *a,
                            const ais_tensor *b, const ais_tensor *bias, ais_tensor *y) {
    size_t ra = a->ndim, rb = b->ndim;
    int64_t m = ra == 1 ? 1 : a->dims[ra - 2], k = a->dims[ra - 1];
    int64_t kb = rb == 1 ? b->dims[0] : b->dims[rb - 2], n = rb == 1 ? 1 : b->dims[rb - 1];
    if (k != kb)
        return ais__error(AIS_E_SHAPE, "inner dimensions differ: A has %lld, B has %lld",
                          (long long)k, (long long)kb);
    /* Batch dimensions, right-aligned and padded with 1 to a common rank. */
    size_t nba = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0, nb = AIS__MAX(nba, nbb);
    int64_t ba[AIS_MAX_DIMS], bb[AIS_MAX_DIMS], bo[AIS_MAX_DIMS];
    int64_t na = 1, nbt = 1, no = 1;
    for (size_t i = 0; i < nb; i++) {
        ba[i] = i < nb - nba ? 1 : a->dims[i - (nb - nba)];
        bb[i] = i < nb - nbb ? 1 : b->dims[i - (nb - nbb)];
        if (ba[i] != bb[i] && ba[i] != 1 && bb[i] != 1)
            return ais__error(AIS_E_SHAPE, "batch dimensions %lld and %lld do not broadcast",
                              (long long)ba[i], (long long)bb[i]);
        bo[i] = ba[i] == 1 ? bb[i] : ba[i];
        na *= ba[i];
        nbt *= bb[i];
        no *= bo[i];
    }
    if ((size_t)(no * m * n) != y->numel)
        return ais__error(AIS_E_SHAPE, "output has %zu elements, expected %lld", y->numel,
                          (long long)(no * m * n));
    if (y->numel == 0) return AIS_OK;
    if (k == 0) {
        AIS__CU(cudaMemsetAsync(y->data, 0, y->nbytes, ctx->stream));
        return epilogue(ctx, attrs, bias, y, n);
    }
    gemm_args g = {CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, k, n, n, m * k, k * n, m * n, no};
    if (nbt == 1) { /* B shared: fold A's batch into M, one product */
        g.m = m * na;
        g.batch = 1;
        AIS__CHECK(gemm_call(ctx, y->dtype, &g, 1.f, a->data, b->data, 0.f, y->data));
    } else if (na == 1) {
        g.stride_a = 0;
        AIS__CHECK(gemm_call(ctx, y->dtype, &g, 1.f, a->data, b->data, 0.f, y->data));
    } else if (na == no && nbt == no) {
        AIS__CHECK(gemm_call(ctx, y->dtype, &g, 1.f, a->data, b->data, 0.f, y->data));
    } else {
        /* Mixed broadcasting: one product per output batch element. */
        size_t es = ais_dtype_size(y->dtype);
        g.batch = 1;
        for (int64_t o = 0; o < no; o++) {
            int64_t rem = o, ia = 0, ib = 0, sa = 1, sb = 1;
            for (size_t i = nb; i-- > 0;) {
                int64_t idx = rem % bo[i];
                rem /= bo[i];
                ia += (ba[i] == 1 ? 0 : idx) * sa;
                ib += (bb[i] == 1 ? 0 : idx) * sb;
                sa *= ba[i];
                sb *= bb[i];
            }
            AIS__CHECK(gemm_call(ctx, y->dtype, &g, 1.f,
                                 (const char *)a->data + (size_t)(ia * m * k) * es,
                                 (const char *)b->data + (size_t)(ib * k * n) * es, 0.f,
                                 (char *)y->data + (size_t)(o * m * n) * es));
        }
    }
    return epilogue(ctx, attrs, bias, y, n);
}

/* cuBLASLt with a bias (and ReLU) epilogue; *done false when no algorithm fits. */
static ais_status gemm_lt(ais__cuda_ctx *ctx, const gemm_args *g, ais_dtype dt, float alpha,
                          const void *a, const void *b, const void *bias, bool relu, void *y,
                          bool *done) {
    *done = false;
    if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX) return AIS_OK;
    void *ws = NULL;
    AIS__CHECK(ais__cuda_workspace(ctx, AIS__LT_WORKSPACE, &ws));
    cudaDataType_t t = cuda_type(dt);
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    cublasStatus_t s;
    ais_status st = AIS_OK;
    const char *what = "cublasLtMatmulDescCreate";
#define LT(call)                                                                                   \
    do {                                                                                           \
        what = #call;                                                                              \
        if ((s = (call)) != CUBLAS_STATUS_SUCCESS) goto fail;                                      \
    } while (0)
    LT(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = g->op_b, tb = g->op_a;
    LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    cublasLtEpilogue_t epi = relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
    LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &t, sizeof t));
    /* Column-major: the first operand is B (stored rows x cols before its op), the second A. */
    uint64_t n = (uint64_t)g->n, m = (uint64_t)g->m, k = (uint64_t)g->k;
    LT(cublasLtMatrixLayoutCreate(&la, t, ta == CUBLAS_OP_N ? n : k, ta == CUBLAS_OP_N ? k : n, g->ldb));
    LT(cublasLtMatrixLayoutCreate(&lb, t, tb == CUBLAS_OP_N ? k : m, tb == CUBLAS_OP_N ? m : k, g->lda));
    LT(cublasLtMatrixLayoutCreate(&lc, t, n, m, g->ldc));
    LT(cublasLtMatmulPreferenceCreate(&pref));
    uint64_t wsb = AIS__LT_WORKSPACE;
    LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof wsb));
    cublasLtMatmulHeuristicResult_t res;
    int count = 0;
    memset(&res, 0, sizeof res);
    s = cublasLtMatmulAlgoGetHeuristic(ctx->blaslt, op, la, lb, lc, lc, pref, 1, &res, &count);
    if (s == CUBLAS_STATUS_SUCCESS && count > 0) {
        float beta = 0.f;
        LT(cublasLtMatmul(ctx->blaslt, op, &alpha, b, la, a, lb, &beta, y, lc, y, lc, &res.algo, ws,
                          AIS__LT_WORKSPACE, ctx->stream));
        *done = true;
    }
    goto out;
fail:
    st = ais__cublas_err(s, what);
out:
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (op) cublasLtMatmulDescDestroy(op);
    return st;
#undef LT
}

ais_status ais__cuda_gemm(ais__cuda_ctx *ctx, const ais_attrs *attrs, const ais_tensor *a,
                          const ais_tensor *b, const ais_tensor *c, ais_tensor *y) {
    if (a->ndim != 2 || b->ndim != 2 || y->ndim != 2)
        return ais__error(AIS_E_SHAPE, "A, B and Y must be matrices");
    bool ta = ais__attr_int(attrs, "transA", 0) != 0, tb = ais__attr_int(attrs, "transB", 0) != 0;
    float alpha = ais__attr_float(attrs, "alpha", 1.f), beta = ais__attr_float(attrs, "beta", 1.f);
    int64_t m = ta ? a->dims[1] : a->dims[0], k = ta ? a->dims[0] : a->dims[1];
    int64_t kb = tb ? b->dims[1] : b->dims[0], n = tb ? b->dims[0] : b->dims[1];
    if (k != kb || y->dims[0] != m || y->dims[1] != n)
        return ais__error(AIS_E_SHAPE, "A is %lldx%lld, B %lldx%lld after transposes, Y %lldx%lld",
                          (long long)m, (long long)k, (long long)kb, (long long)n,
                          (long long)y->dims[0], (long long)y->dims[1]);
    if (y->numel == 0) return AIS_OK;
    gemm_args g = {ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
                   ta ? m : k, tb ? k : n, n, 0, 0, 0, 1};
    float act_alpha;
    int act = ais__cuda_activation(attrs, &act_alpha);
    if (act < 0) return ais__error(AIS_E_UNSUPPORTED, "unknown activation");
    bool row_bias = c && beta == 1.f && (int64_t)c->numel == n &&
                    (c->ndim == 1 || (c->ndim == 2 && c->dims[0] == 1));
    if (row_bias && k > 0) {
        bool done = false;
        AIS__CHECK(gemm_lt(ctx, &g, y->dtype, alpha, a->data, b->data, c->data, act == AISK_RELU,
                           y->data, &done));
        if (done) {
            if (act == AISK_RELU || act == AISK_ACT_NONE) return AIS_OK;
            AIS__KERNEL(aisk_bias_act(ctx->stream, (int)y->dtype, y->data, NULL, y->numel, 1, 1,
                                      act, act_alpha, 0.f),
                        "activation kernel");
            return AIS_OK;
        }
    }
    float beta_blas = 0.f;
    if (c && beta != 0.f) {
        AIS__CHECK(ais__cuda_expand(ctx, c, y));
        beta_blas = beta;
    }
    if (k > 0) {
        AIS__CHECK(gemm_call(ctx, y->dtype, &g, alpha, a->data, b->data, beta_blas, y->data));
    } else if (beta_blas == 0.f) { /* an empty sum: Y = beta * C, here C absent or beta 0 */
        AIS__CU(cudaMemsetAsync(y->data, 0, y->nbytes, ctx->stream));
    } else if (beta_blas != 1.f) {
        return ais__error(AIS_E_UNSUPPORTED, "K = 0 with beta other than 0 or 1");
    }
    if (act == AISK_ACT_NONE) return AIS_OK;
    AIS__KERNEL(aisk_bias_act(ctx->stream, (int)y->dtype, y->data, NULL, y->numel, 1, 1, act,
                              act_alpha, 0.f),
                "activation kernel");
    return AIS_OK;
}
