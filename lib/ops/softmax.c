/*
 * softmax.c - Softmax, LogSoftmax and Hardmax. Before opset 13 the input is read as a 2-D
 * matrix [prod(dims[:axis]), prod(dims[axis:])] (default axis 1); from 13 on the operator works
 * along one axis (default -1). Both become (outer, n, inner) here, with inner == 1 before 13.
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu.h"
#include "dense_util.h"

enum { AIS__SM_SOFT = 0, AIS__SM_LOG = 1, AIS__SM_HARD = 2 };

/* Numerically stable: the maximum is subtracted before exponentiating. */
#define AIS__SOFTMAX_LINE(NAME, T, EXP, LOG)                                                       \
    static void NAME(const T *x, T *y, int64_t n, int64_t s, int kind) {                           \
        T mx = x[0];                                                                               \
        int64_t arg = 0;                                                                           \
        for (int64_t i = 1; i < n; i++)                                                            \
            if (x[i * s] > mx) {                                                                   \
                mx = x[i * s];                                                                     \
                arg = i;                                                                           \
            }                                                                                      \
        if (kind == AIS__SM_HARD) {                                                                \
            for (int64_t i = 0; i < n; i++)                                                        \
                y[i * s] = 0;                                                                      \
            y[arg * s] = 1;                                                                        \
            return;                                                                                \
        }                                                                                          \
        T sum = 0;                                                                                 \
        if (kind == AIS__SM_SOFT) {                                                                \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T e = EXP(x[i * s] - mx);                                                          \
                y[i * s] = e;                                                                      \
                sum += e;                                                                          \
            }                                                                                      \
            T inv = (T)1 / sum;                                                                    \
            for (int64_t i = 0; i < n; i++)                                                        \
                y[i * s] *= inv;                                                                   \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++)                                                        \
                sum += EXP(x[i * s] - mx);                                                         \
            /* (x - max) - log(sum), not x - (max + log(sum)): the latter rounds log(sum)  \
             * away when |max| is large. */                                                    \
            T lsum = LOG(sum);                                                                     \
            for (int64_t i = 0; i < n; i++)                                                        \
                y[i * s] = (x[i * s] - mx) - lsum;                                                 \
        }                                                                                          \
    }
AIS__SOFTMAX_LINE(ais__softmax_line_f32, float, expf, logf)
AIS__SOFTMAX_LINE(ais__softmax_line_f64, double, exp, log)

typedef struct {
    const void *x;
    void *y;
    bool f64;
    int64_t n, inner;
    int kind;
} ais__sm_job;

static void ais__sm_range(void *vj, size_t begin, size_t end) {
    const ais__sm_job *j = vj;
    for (size_t l = begin; l < end; l++) {
        int64_t o = (int64_t)l / j->inner, in = (int64_t)l % j->inner;
        size_t off = (size_t)(o * j->n * j->inner + in);
        if (j->f64)
            ais__softmax_line_f64((const double *)j->x + off, (double *)j->y + off, j->n, j->inner,
                                  j->kind);
        else if (j->inner == 1 && j->kind == AIS__SM_SOFT)
            /* a contiguous f32 row, the hot case of transformers and classifiers: the CPU kernel
             * table's row (lib/cpu), which gives NaN rows as the exact line below does */
            ais__cpu()->softmax_row((const float *)j->x + off, (float *)j->y + off, (size_t)j->n);
        else if (j->inner == 1 && j->kind == AIS__SM_LOG)
            ais__cpu()->log_softmax_row((const float *)j->x + off, (float *)j->y + off,
                                        (size_t)j->n);
        else
            ais__softmax_line_f32((const float *)j->x + off, (float *)j->y + off, j->n, j->inner,
                                  j->kind);
    }
}

/* What the node's attribute and opset say, read once when the node is prepared (at load) so
 * that a run looks up no attribute by name. */
typedef struct {
    bool legacy; /* opset < 13: the input is read as a 2-D matrix */
    int64_t axis;
} ais__sm_params;

static ais__sm_params ais__sm_read(const ais__op_ctx *ctx) {
    ais__sm_params p = {.legacy = ctx->opset < 13};
    p.axis = ais__attr_int(ctx->attrs, "axis", p.legacy ? 1 : -1);
    return p;
}

static ais_status ais__sm_prepare(const ais__op_ctx *ctx, void **state) {
    ais__sm_params p = ais__sm_read(ctx); /* an axis of the wrong type fails the load */
    return ais__op_state_dup(&p, sizeof p, "softmax attributes", state);
}

static ais_status ais__sm_geometry(const ais__sm_params *p, const ais_tensor *x, int64_t *outer,
                                   int64_t *n, int64_t *inner) {
    bool legacy = p->legacy;
    int64_t axis = p->axis, ax;
    if (x->ndim == 0) return ais__error(AIS_E_SHAPE, "input must have rank >= 1, got a scalar");
    if (!ais__norm_axis(axis, (int64_t)x->ndim, &ax))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld is out of range for rank %u",
                          (long long)axis, x->ndim);
    *outer = 1;
    for (int64_t i = 0; i < ax; i++)
        *outer *= x->dims[i];
    *n = 1;
    *inner = 1;
    if (legacy) {
        for (size_t i = (size_t)ax; i < x->ndim; i++)
            *n *= x->dims[i];
    } else {
        *n = x->dims[ax];
        for (size_t i = (size_t)ax + 1; i < x->ndim; i++)
            *inner *= x->dims[i];
    }
    return AIS_OK;
}

static ais_status ais__sm_infer(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                ais__tensor_desc *out, size_t n_out) {
    AIS__CHECK(ais__expect_dtype(in[0], "input", AIS_DTYPE_F32, AIS_DTYPE_F64, AIS_DTYPE_F16,
                                 AIS_DTYPE_BF16, AIS_DTYPE_UNDEFINED));
    int64_t o = 0, n = 0, i = 0;
    const void *state;
    AIS__CHECK(ais__op_state(ctx, &state));
    AIS__CHECK(ais__sm_geometry(state, in[0], &o, &n, &i));
    ais__desc_from(&out[0], in[0]);
    return AIS_OK;
}

static ais_status ais__sm_compute(ais__op_ctx *ctx, const ais_tensor *x, ais_tensor *y, int kind) {
    int64_t outer = 0, n = 0, inner = 0;
    const void *state;
    AIS__CHECK(ais__op_state(ctx, &state));
    AIS__CHECK(ais__sm_geometry(state, x, &outer, &n, &inner));
    if (x->numel == 0) return AIS_OK;
    ais__sm_job j = {x->data, y->data, x->dtype == AIS_DTYPE_F64, n, inner, kind};
    float *w = NULL;
    if (ais__dense_is_half(x->dtype)) {
        size_t bytes;
        if (!ais__mul_size(x->numel, sizeof(float), &bytes))
            return ais__error(AIS_E_LIMIT, "work buffer size overflows");
        w = ais__op_scratch(ctx, bytes);
        if (!w) return ais__oom(bytes, "f32 work buffer");
        ais__dense_to_f32(x->data, x->dtype, w, x->numel);
        j.x = j.y = w;
    }
    size_t lines = (size_t)(outer * inner);
    size_t grain = n >= 2048 ? 1 : (size_t)(2048 / n) + 1;
    ais__parallel_for(ctx->pool, lines, grain, ais__sm_range, &j);
    if (w) ais__dense_from_f32(w, y->dtype, y->data, y->numel);
    return AIS_OK;
}

static ais_status ais__softmax(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                               ais_tensor *const *out, size_t n_out) {
    return ais__sm_compute(ctx, in[0], out[0], AIS__SM_SOFT);
}
static ais_status ais__logsoftmax(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                                  ais_tensor *const *out, size_t n_out) {
    return ais__sm_compute(ctx, in[0], out[0], AIS__SM_LOG);
}
static ais_status ais__hardmax(ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                               ais_tensor *const *out, size_t n_out) {
    return ais__sm_compute(ctx, in[0], out[0], AIS__SM_HARD);
}

#define AIS__SM_DEF(NAME, FN)                                                                      \
    {                                                                                              \
        .domain = "", .name = NAME, .since_version = 1, .min_inputs = 1, .max_inputs = 1,          \
        .min_outputs = 1, .max_outputs = 1, .infer = ais__sm_infer, .compute = FN,                 \
        .prepare = ais__sm_prepare, .release = ais__op_state_free                                  \
    }

/* One entry each: the opset (< 13 or not) picks the semantics at run time from ctx->opset. */
const ais__op_def ais__ops_softmax[] = {
    AIS__SM_DEF("Softmax", ais__softmax),
    AIS__SM_DEF("LogSoftmax", ais__logsoftmax),
    AIS__SM_DEF("Hardmax", ais__hardmax),
    {.name = NULL},
};
