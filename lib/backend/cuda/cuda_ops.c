/* cuda_ops.c - which nodes the CUDA backend runs, and running them: the kernels of kernels/ for
 * elementwise, normalization, reduction and layout operators; cuda_blas.c and cuda_dnn.c for the
 * library-backed ones. One table (at the end) lists every operator with its `supports` and `run`:
 * the backend looks an operator up once per operator definition, at plan time (cuda_table.c). */
#include <math.h>
#include <string.h>

#include "ops/dense_util.h"
#include "cuda_internal.h"

static bool float_dtype(ais_dtype d) {
    return d == AIS_DTYPE_F32 || d == AIS_DTYPE_F16 || d == AIS_DTYPE_BF16;
}

static bool cast_dtype(ais_dtype d) {
    return float_dtype(d) || d == AIS_DTYPE_F64 || d == AIS_DTYPE_I8 || d == AIS_DTYPE_U8 ||
           d == AIS_DTYPE_I32 || d == AIS_DTYPE_I64 || d == AIS_DTYPE_BOOL;
}

static int64_t prod(const int64_t *d, size_t lo, size_t hi) {
    int64_t p = 1;
    for (size_t i = lo; i < hi; i++)
        p *= d[i];
    return p;
}

int ais__cuda_activation(const ais_attrs *attrs, float *alpha) {
    const char *a = ais__attr_string(attrs, "activation", NULL);
    const float *params = NULL;
    size_t np = 0;
    *alpha = ais__attr_float(attrs, "activation_alpha", 0.01f);
    if (ais__attr_floats(attrs, "activation_params", &params, &np) && np > 0) *alpha = params[0];
    if (!a || !a[0]) return AISK_ACT_NONE;
    if (strcmp(a, "Relu") == 0) return AISK_RELU;
    if (strcmp(a, "Gelu") == 0) return AISK_GELU;
    if (strcmp(a, "GeluTanh") == 0) return AISK_GELU_TANH;
    if (strcmp(a, "Sigmoid") == 0) return AISK_SIGMOID;
    if (strcmp(a, "Tanh") == 0) return AISK_TANH;
    if (strcmp(a, "LeakyRelu") == 0) return AISK_LEAKY_RELU;
    return -1;
}

/* Output shape and per-input strides, with axes merged where every input stays contiguous
 * across them: same-shape inputs become one flat axis. */
static void make_bcast(const ais_tensor *out, const ais_tensor *const *ins, int k, aisk_bcast *bc) {
    int64_t s[3][AIS_MAX_DIMS];
    for (int j = 0; j < k; j++)
        ais__broadcast_strides(ins[j]->dims, ins[j]->ndim, out->dims, out->ndim, s[j]);
    memset(bc, 0, sizeof *bc);
    int nd = 0;
    for (uint32_t d = 0; d < out->ndim; d++) {
        if (out->dims[d] == 1) continue;
        bool merge = nd > 0;
        for (int j = 0; j < k && merge; j++)
            merge = bc->strides[j][nd - 1] == s[j][d] * out->dims[d];
        if (merge) {
            bc->dims[nd - 1] *= out->dims[d];
            for (int j = 0; j < k; j++)
                bc->strides[j][nd - 1] = s[j][d];
        } else {
            bc->dims[nd] = out->dims[d];
            for (int j = 0; j < k; j++)
                bc->strides[j][nd] = s[j][d];
            nd++;
        }
    }
    if (nd == 0) {
        nd = 1;
        bc->dims[0] = 1;
    }
    bc->ndim = nd;
}

ais_status ais__cuda_expand(ais__cuda_ctx *ctx, const ais_tensor *src, ais_tensor *dst) {
    aisk_bcast bc;
    make_bcast(dst, &src, 1, &bc);
    AIS__KERNEL(aisk_strided_copy(ctx->stream, ais_dtype_size(dst->dtype), src->data, dst->data,
                                  &bc, dst->numel),
                "expand kernel");
    return AIS_OK;
}

static ais_status copy_d2d(ais__cuda_ctx *ctx, void *dst, const void *src, size_t bytes) {
    if (dst == src || bytes == 0) return AIS_OK;
    AIS__CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx->stream));
    return AIS_OK;
}

static bool dnn_takes(const char *op, const ais_attrs *attrs, const ais_tensor *const *in,
                      size_t n_in) {
    ais__tensor_desc descs[16];
    const ais__tensor_desc *dp[16];
    for (size_t i = 0; i < n_in && i < 16; i++) {
        dp[i] = NULL;
        if (in[i]) {
            ais__desc_from(&descs[i], in[i]);
            dp[i] = &descs[i];
        }
    }
    return n_in <= 16 && ais__cuda_dnn_supports(op, dp, n_in, attrs);
}

/* MaxPool/AveragePool through pool.cu, with the CPU operator's geometry (lib/ops/pool.c). */
static ais_status run_pool_direct(ais__cuda_ctx *ctx, const char *op, int64_t opset,
                                  const ais_attrs *attrs, const ais_tensor *x,
                                  ais_tensor *const *out, size_t n_out) {
    if (n_out > 1 && out[1]) return ais__error(AIS_E_UNSUPPORTED, "MaxPool's Indices output");
    ais__op_ctx oc;
    memset(&oc, 0, sizeof oc);
    oc.op_type = op;
    oc.node_name = "";
    oc.opset = opset;
    oc.attrs = attrs;
    ais__dense_geom g;
    AIS__CHECK(ais__dense_geom_init(&oc, x, NULL, ais__attr_int(attrs, "ceil_mode", 0) != 0, &g));
    ais_tensor *y = out[0];
    bool same = y->ndim == x->ndim && y->dims[0] == x->dims[0] && y->dims[1] == x->dims[1];
    for (size_t i = 0; same && i < g.nsp; i++)
        same = y->dims[2 + i] == g.out[3 - g.nsp + i];
    if (!same)
        return ais__error(AIS_E_SHAPE, "the output's shape does not match the pooling geometry");
    aisk_pool_desc d;
    memset(&d, 0, sizeof d);
    for (int i = 0; i < 3; i++) {
        d.in[i] = g.in[i];
        d.out[i] = g.out[i];
        d.k[i] = g.k[i];
        d.stride[i] = g.stride[i];
        d.dil[i] = g.dil[i];
        d.pb[i] = g.pb[i];
    }
    d.kind = op[0] == 'M' ? 0 : 1;
    d.include_pad = ais__attr_int(attrs, "count_include_pad", 0) != 0;
    if (y->numel == 0) return AIS_OK;
    AIS__KERNEL(aisk_pool(ctx->stream, (int)x->dtype, x->data, y->data, &d,
                          (size_t)(x->dims[0] * x->dims[1])),
                "pool kernel");
    return AIS_OK;
}

/* ---- run ---- */

static ais_status run_unary(ais__cuda_ctx *ctx, const char *op, int code, int64_t opset,
                            const ais_attrs *attrs, const ais_tensor *const *in, size_t n_in,
                            ais_tensor *y) {
    float a = 0.f, b = 0.f;
    switch (code) {
    case AISK_LEAKY_RELU: a = ais__attr_float(attrs, "alpha", 0.01f); break;
    case AISK_ELU: a = ais__attr_float(attrs, "alpha", 1.0f); break;
    case AISK_HARD_SIGMOID:
        a = ais__attr_float(attrs, "alpha", 0.2f);
        b = ais__attr_float(attrs, "beta", 0.5f);
        break;
    case AISK_GELU:
        if (strcmp(ais__attr_string(attrs, "approximate", "none"), "tanh") == 0)
            code = AISK_GELU_TANH;
        break;
    case AISK_CLIP:
        a = -INFINITY;
        b = INFINITY;
        if (opset < 11) {
            a = ais__attr_float(attrs, "min", a);
            b = ais__attr_float(attrs, "max", b);
        } else {
            if (n_in > 1 && in[1]) AIS__CHECK(ais__cuda_read_scalar(ctx, in[1], "min", &a));
            if (n_in > 2 && in[2]) AIS__CHECK(ais__cuda_read_scalar(ctx, in[2], "max", &b));
        }
        break;
    default: break;
    }
    (void)op;
    AIS__KERNEL(aisk_unary(ctx->stream, code, (int)y->dtype, in[0]->data, y->data, y->numel, a, b),
                "unary kernel");
    return AIS_OK;
}

static ais_status run_softmax(ais__cuda_ctx *ctx, bool lg, int64_t opset, const ais_attrs *attrs,
                              const ais_tensor *x, ais_tensor *y) {
    int64_t r = (int64_t)x->ndim, axis;
    if (r == 0) return ais__error(AIS_E_SHAPE, "input must have rank >= 1");
    if (!ais__norm_axis(ais__attr_int(attrs, "axis", opset < 13 ? 1 : -1), r, &axis))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis out of range for rank %lld", (long long)r);
    int64_t outer = prod(x->dims, 0, (size_t)axis), n, inner;
    if (opset < 13) {
        n = prod(x->dims, (size_t)axis, x->ndim);
        inner = 1;
    } else {
        n = x->dims[axis];
        inner = prod(x->dims, (size_t)axis + 1, x->ndim);
    }
    if (x->numel == 0) return AIS_OK;
    AIS__KERNEL(aisk_softmax(ctx->stream, (int)x->dtype, x->data, y->data, outer, n, inner, lg),
                "softmax kernel");
    return AIS_OK;
}

static ais_status run_layernorm(ais__cuda_ctx *ctx, const ais_attrs *attrs,
                                const ais_tensor *const *in, size_t n_in, ais_tensor *const *out,
                                size_t n_out) {
    const ais_tensor *x = in[0];
    int64_t axis;
    if (!ais__norm_axis(ais__attr_int(attrs, "axis", -1), (int64_t)x->ndim, &axis))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis out of range for rank %u", x->ndim);
    int64_t rows = prod(x->dims, 0, (size_t)axis), n = prod(x->dims, (size_t)axis, x->ndim);
    const ais_tensor *bias = n_in > 2 ? in[2] : NULL;
    if ((int64_t)in[1]->numel != n || (bias && (int64_t)bias->numel != n))
        return ais__error(AIS_E_UNSUPPORTED, "Scale and B must have the %lld normalized elements",
                          (long long)n);
    float *mean = NULL, *inv = NULL;
    for (size_t i = 1; i < n_out && i < 3; i++) {
        if (!out[i]) continue;
        if (out[i]->dtype != AIS_DTYPE_F32 || (int64_t)out[i]->numel != rows)
            return ais__error(AIS_E_UNSUPPORTED, "Mean/InvStdDev must be f32 with %lld values",
                              (long long)rows);
        if (i == 1)
            mean = out[i]->data;
        else
            inv = out[i]->data;
    }
    if (x->numel == 0) return AIS_OK;
    AIS__KERNEL(aisk_layernorm(ctx->stream, (int)x->dtype, x->data, in[1]->data,
                               bias ? bias->data : NULL, out[0]->data, mean, inv, rows, n,
                               ais__attr_float(attrs, "epsilon", 1e-5f)),
                "layernorm kernel");
    return AIS_OK;
}

static ais_status reduce_axes(ais__cuda_ctx *ctx, int code, const ais_tensor *x, ais_tensor *y,
                              const bool *red);

static ais_status run_reduce(ais__cuda_ctx *ctx, int code, int64_t opset, const char *op,
                             const ais_attrs *attrs, const ais_tensor *const *in, size_t n_in,
                             ais_tensor *y) {
    const ais_tensor *x = in[0];
    int64_t axes[AIS_MAX_DIMS];
    size_t na = 0;
    bool axes_input = (strcmp(op, "ReduceSum") == 0 && opset >= 13) || opset >= 18;
    if (axes_input) {
        if (n_in > 1 && in[1])
            AIS__CHECK(ais__cuda_read_ints(ctx, in[1], "axes", axes, AIS_MAX_DIMS, &na));
    } else {
        const int64_t *v;
        if (ais__attr_ints(attrs, "axes", &v, &na)) {
            if (na > AIS_MAX_DIMS) return ais__error(AIS_E_INVALID_ARGUMENT, "too many axes");
            memcpy(axes, v, na * sizeof *v);
        }
    }
    bool red[AIS_MAX_DIMS] = {false};
    if (na == 0) {
        if (ais__attr_int(attrs, "noop_with_empty_axes", 0))
            return copy_d2d(ctx, y->data, x->data, x->nbytes);
        for (uint32_t d = 0; d < x->ndim; d++)
            red[d] = true;
    }
    for (size_t i = 0; i < na; i++) {
        int64_t a;
        if (!ais__norm_axis(axes[i], (int64_t)x->ndim, &a))
            return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld out of range for rank %u",
                              (long long)axes[i], x->ndim);
        red[a] = true;
    }
    return reduce_axes(ctx, code, x, y, red);
}

/* y = the reduction `code` of x over the axes marked in red (y has x's rank or fewer). */
static ais_status reduce_axes(ais__cuda_ctx *ctx, int code, const ais_tensor *x, ais_tensor *y,
                              const bool *red) {
    aisk_reduce_desc d;
    memset(&d, 0, sizeof d);
    int64_t stride = 1;
    size_t n_red = 1;
    for (int k = (int)x->ndim - 1; k >= 0; k--) {
        if (red[k]) {
            d.red_dims[d.nred] = x->dims[k];
            d.red_strides[d.nred++] = stride;
            n_red *= (size_t)x->dims[k];
        } else {
            d.keep_dims[d.nkeep] = x->dims[k];
            d.keep_strides[d.nkeep++] = stride;
        }
        stride *= x->dims[k];
    }
    /* Collected innermost first; the kernel decodes outermost first. */
    for (int i = 0; i < d.nred / 2; i++) {
        int64_t t = d.red_dims[i];
        d.red_dims[i] = d.red_dims[d.nred - 1 - i];
        d.red_dims[d.nred - 1 - i] = t;
        t = d.red_strides[i];
        d.red_strides[i] = d.red_strides[d.nred - 1 - i];
        d.red_strides[d.nred - 1 - i] = t;
    }
    for (int i = 0; i < d.nkeep / 2; i++) {
        int64_t t = d.keep_dims[i];
        d.keep_dims[i] = d.keep_dims[d.nkeep - 1 - i];
        d.keep_dims[d.nkeep - 1 - i] = t;
        t = d.keep_strides[i];
        d.keep_strides[i] = d.keep_strides[d.nkeep - 1 - i];
        d.keep_strides[d.nkeep - 1 - i] = t;
    }
    if (y->numel == 0) return AIS_OK;
    if (n_red == 0) return ais__error(AIS_E_UNSUPPORTED, "reduction over an empty axis");
    AIS__KERNEL(
        aisk_reduce(ctx->stream, code, (int)x->dtype, x->data, y->data, &d, y->numel, n_red),
        "reduce kernel");
    return AIS_OK;
}

static ais_status run_transpose(ais__cuda_ctx *ctx, const ais_attrs *attrs, const ais_tensor *x,
                                ais_tensor *y) {
    size_t r = x->ndim, np = 0;
    int64_t perm[AIS_MAX_DIMS], in_strides[AIS_MAX_DIMS];
    const int64_t *p;
    if (ais__attr_ints(attrs, "perm", &p, &np)) {
        if (np != r)
            return ais__error(AIS_E_INVALID_ARGUMENT, "perm has %zu entries for rank %zu", np, r);
        memcpy(perm, p, r * sizeof *p);
    } else {
        for (size_t i = 0; i < r; i++)
            perm[i] = (int64_t)(r - 1 - i);
    }
    int64_t s = 1;
    for (size_t i = r; i-- > 0;) {
        in_strides[i] = s;
        s *= x->dims[i];
    }
    aisk_bcast bc;
    memset(&bc, 0, sizeof bc);
    int nd = 0;
    for (size_t i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= (int64_t)r)
            return ais__error(AIS_E_INVALID_ARGUMENT, "perm[%zu] = %lld out of range", i,
                              (long long)perm[i]);
        int64_t ext = x->dims[perm[i]], st = in_strides[perm[i]];
        if (ext == 1) continue;
        if (nd > 0 && bc.strides[0][nd - 1] == st * ext) {
            bc.dims[nd - 1] *= ext;
            bc.strides[0][nd - 1] = st;
        } else {
            bc.dims[nd] = ext;
            bc.strides[0][nd++] = st;
        }
    }
    if (nd == 0) bc.dims[nd++] = 1;
    bc.ndim = nd;
    if (y->numel == 0) return AIS_OK;
    size_t es = ais_dtype_size(x->dtype);
    if (nd == 1) return copy_d2d(ctx, y->data, x->data, x->nbytes);
    /* [B, R, C] -> [B, C, R]: out axes (.., C, R) with input strides (.., 1, C). */
    if ((nd == 2 || (nd == 3 && bc.strides[0][0] == bc.dims[1] * bc.dims[2])) &&
        bc.strides[0][nd - 2] == 1 && bc.strides[0][nd - 1] == bc.dims[nd - 2]) {
        int64_t batch = nd == 3 ? bc.dims[0] : 1;
        cudaError_t e = aisk_transpose_2d(ctx->stream, es, x->data, y->data, batch, bc.dims[nd - 1],
                                          bc.dims[nd - 2]);
        if (e == cudaSuccess) return AIS_OK;
        if (e != cudaErrorInvalidConfiguration) return ais__cuda_err(e, "transpose kernel");
        (void)cudaGetLastError();
    }
    AIS__KERNEL(aisk_strided_copy(ctx->stream, es, x->data, y->data, &bc, y->numel),
                "transpose kernel");
    return AIS_OK;
}

static ais_status run_concat(ais__cuda_ctx *ctx, const ais_attrs *attrs,
                             const ais_tensor *const *in, size_t n_in, ais_tensor *y) {
    int64_t axis;
    if (!ais__norm_axis(ais__attr_int(attrs, "axis", 0), (int64_t)y->ndim, &axis))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis out of range for rank %u", y->ndim);
    size_t es = ais_dtype_size(y->dtype);
    size_t outer = (size_t)prod(y->dims, 0, (size_t)axis);
    size_t inner = (size_t)prod(y->dims, (size_t)axis + 1, y->ndim);
    size_t dpitch = (size_t)y->dims[axis] * inner * es, off = 0;
    if (y->numel == 0) return AIS_OK;
    for (size_t i = 0; i < n_in; i++) {
        if (!in[i] || in[i]->ndim != y->ndim)
            return ais__error(AIS_E_SHAPE, "input %zu: rank differs from the output's", i);
        size_t w = (size_t)in[i]->dims[axis] * inner * es;
        if (off + w > dpitch || in[i]->numel * es != w * outer)
            return ais__error(AIS_E_SHAPE, "input %zu does not fit the output's shape", i);
        if (w) {
            AIS__CU(cudaMemcpy2DAsync((char *)y->data + off, dpitch, in[i]->data, w, w, outer,
                                      cudaMemcpyDeviceToDevice, ctx->stream));
        }
        off += w;
    }
    if (off != dpitch) return ais__error(AIS_E_SHAPE, "inputs do not fill the output's axis");
    return AIS_OK;
}

static ais_status run_slice(ais__cuda_ctx *ctx, int64_t opset, const ais_attrs *attrs,
                            const ais_tensor *const *in, size_t n_in, ais_tensor *y) {
    const ais_tensor *x = in[0];
    size_t r = x->ndim, ns = 0, ne = 0, na = 0, nst = 0;
    int64_t starts[AIS_MAX_DIMS], ends[AIS_MAX_DIMS], axes[AIS_MAX_DIMS], steps[AIS_MAX_DIMS];
    if (opset < 10) {
        const int64_t *v;
        if (ais__attr_ints(attrs, "starts", &v, &ns) && ns <= AIS_MAX_DIMS)
            memcpy(starts, v, ns * 8);
        if (ais__attr_ints(attrs, "ends", &v, &ne) && ne <= AIS_MAX_DIMS) memcpy(ends, v, ne * 8);
        if (ais__attr_ints(attrs, "axes", &v, &na) && na <= AIS_MAX_DIMS) memcpy(axes, v, na * 8);
        if (ns > AIS_MAX_DIMS || ne > AIS_MAX_DIMS || na > AIS_MAX_DIMS)
            return ais__error(AIS_E_INVALID_ARGUMENT, "too many slice axes");
    } else {
        if (n_in < 3 || !in[1] || !in[2])
            return ais__error(AIS_E_INVALID_ARGUMENT, "starts and ends are required");
        AIS__CHECK(ais__cuda_read_ints(ctx, in[1], "starts", starts, AIS_MAX_DIMS, &ns));
        AIS__CHECK(ais__cuda_read_ints(ctx, in[2], "ends", ends, AIS_MAX_DIMS, &ne));
        if (n_in > 3 && in[3])
            AIS__CHECK(ais__cuda_read_ints(ctx, in[3], "axes", axes, AIS_MAX_DIMS, &na));
        if (n_in > 4 && in[4])
            AIS__CHECK(ais__cuda_read_ints(ctx, in[4], "steps", steps, AIS_MAX_DIMS, &nst));
    }
    (void)ne;
    if (na == 0) {
        na = ns;
        for (size_t i = 0; i < na; i++)
            axes[i] = (int64_t)i;
    }
    if (nst == 0)
        for (size_t i = 0; i < ns; i++)
            steps[i] = 1;
    if (na != ns || nst > ns || (nst && nst != ns))
        return ais__error(AIS_E_INVALID_ARGUMENT, "starts, axes and steps differ in length");
    int64_t st[AIS_MAX_DIMS], step[AIS_MAX_DIMS], in_strides[AIS_MAX_DIMS], s = 1;
    for (size_t i = r; i-- > 0;) {
        in_strides[i] = s;
        s *= x->dims[i];
        st[i] = 0;
        step[i] = 1;
    }
    for (size_t i = 0; i < ns; i++) {
        int64_t a;
        if (!ais__norm_axis(axes[i], (int64_t)r, &a))
            return ais__error(AIS_E_INVALID_ARGUMENT, "axis %lld out of range", (long long)axes[i]);
        int64_t d = x->dims[a], b = starts[i];
        if (steps[i] == 0) return ais__error(AIS_E_INVALID_ARGUMENT, "step is 0");
        if (b < 0) b += d;
        if (steps[i] > 0)
            b = b < 0 ? 0 : (b > d ? d : b);
        else
            b = b < 0 ? 0 : (b > d - 1 ? d - 1 : b);
        st[a] = b;
        step[a] = steps[i];
    }
    aisk_bcast bc;
    memset(&bc, 0, sizeof bc);
    int64_t base = 0;
    if (y->ndim != r)
        return ais__error(AIS_E_SHAPE, "output rank %u for input rank %zu", y->ndim, r);
    for (size_t i = 0; i < r; i++) {
        int64_t n = y->dims[i];
        /* Every element read must lie inside the input, whatever the output shape says. */
        if (n > 0) {
            int64_t last = st[i] + (n - 1) * step[i];
            if (st[i] < 0 || st[i] >= x->dims[i] || last < 0 || last >= x->dims[i])
                return ais__error(AIS_E_SHAPE,
                                  "output extent %lld on axis %zu reads outside the input",
                                  (long long)n, i);
        }
        base += st[i] * in_strides[i];
        bc.dims[i] = n;
        bc.strides[0][i] = in_strides[i] * step[i];
    }
    bc.ndim = r ? (int32_t)r : 1;
    if (r == 0) bc.dims[0] = 1;
    if (y->numel == 0) return AIS_OK;
    size_t es = ais_dtype_size(x->dtype);
    AIS__KERNEL(aisk_strided_copy(ctx->stream, es, (const char *)x->data + (size_t)base * es,
                                  y->data, &bc, y->numel),
                "slice kernel");
    return AIS_OK;
}

static ais_status run_gather(ais__cuda_ctx *ctx, const ais_attrs *attrs, const ais_tensor *x,
                             const ais_tensor *idx, ais_tensor *y) {
    int64_t axis;
    if (!ais__norm_axis(ais__attr_int(attrs, "axis", 0), (int64_t)x->ndim, &axis))
        return ais__error(AIS_E_INVALID_ARGUMENT, "axis out of range for rank %u", x->ndim);
    int64_t outer = prod(x->dims, 0, (size_t)axis), g = x->dims[axis];
    int64_t inner = prod(x->dims, (size_t)axis + 1, x->ndim);
    if ((size_t)(outer * inner) * idx->numel != y->numel)
        return ais__error(AIS_E_SHAPE, "output has %zu elements, expected %lld", y->numel,
                          (long long)(outer * inner * (int64_t)idx->numel));
    if (y->numel == 0) return AIS_OK;
    AIS__KERNEL(aisk_gather(ctx->stream, ais_dtype_size(x->dtype), x->data, idx->data,
                            (int)idx->dtype, y->data, outer, g, inner, (int64_t)idx->numel,
                            ctx->err_flag),
                "gather kernel");
    int flag = 0;
    AIS__CHECK(ais__cuda_memcpy_d2h(ctx, &flag, ctx->err_flag, sizeof flag));
    if (flag) {
        AIS__CU(cudaMemsetAsync(ctx->err_flag, 0, sizeof(int), ctx->stream));
        return ais__error(AIS_E_INVALID_ARGUMENT, "an index is out of range [-%lld, %lld)",
                          (long long)g, (long long)g);
    }
    return AIS_OK;
}

/* ---- the operator table: one entry per operator, its `supports` and its `run` ---- */

typedef struct ais__cuda_call {
    int64_t opset;
    const ais_attrs *attrs;
    const ais_tensor *const *in;
    size_t n_in;
    ais_tensor *const *out;
    size_t n_out;
} ais__cuda_call;

typedef bool (*ais__cuda_sup_fn)(const ais__cuda_op *op, const ais__tensor_desc *const *in,
                                 size_t n_in, const ais_attrs *attrs);
typedef ais_status (*ais__cuda_run_fn)(ais__cuda_ctx *ctx, const ais__cuda_op *op,
                                       const ais__cuda_call *c);

struct ais__cuda_op {
    const char *name;
    int code; /* the kernel's AISK_* code where a family shares one kernel; else 0 */
    ais__cuda_sup_fn supports;
    ais__cuda_run_fn run;
};

static bool sup_unary(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                      const ais_attrs *attrs) {
    ais_dtype dt = in[0]->dtype;
    if (op->code == AISK_GELU) {
        const char *ap = ais__attr_string(attrs, "approximate", "none");
        if (strcmp(ap, "none") != 0 && strcmp(ap, "tanh") != 0) return false;
    }
    for (size_t i = 1; i < n_in; i++) /* Clip's min/max: scalars of the same type */
        if (in[i] && in[i]->dtype != dt) return false;
    return float_dtype(dt);
}

static ais_status do_unary(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    return run_unary(ctx, op->name, op->code, c->opset, c->attrs, c->in, c->n_in, c->out[0]);
}

static bool sup_binary(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                       const ais_attrs *attrs) {
    (void)attrs;
    ais_dtype dt = in[0]->dtype;
    int code = op->code;
    if (n_in != 2 || !in[1] || in[1]->dtype != dt) return false;
    if (code >= AISK_AND) return dt == AIS_DTYPE_BOOL;
    if (code >= AISK_EQUAL)
        return float_dtype(dt) || dt == AIS_DTYPE_I32 || dt == AIS_DTYPE_I64 ||
               (code == AISK_EQUAL && dt == AIS_DTYPE_BOOL);
    if (code == AISK_POW) return float_dtype(dt);
    return float_dtype(dt) || dt == AIS_DTYPE_I32 || dt == AIS_DTYPE_I64;
}

static ais_status do_binary(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    ais_tensor *y = c->out[0];
    if (c->n_in != 2 || !c->in[1])
        return ais__error(AIS_E_UNSUPPORTED, "exactly two inputs are supported");
    aisk_bcast bc;
    make_bcast(y, c->in, 2, &bc);
    AIS__KERNEL(aisk_binary(ctx->stream, op->code, (int)c->in[0]->dtype, c->in[0]->data,
                            c->in[1]->data, y->data, &bc, y->numel),
                "binary kernel");
    return AIS_OK;
}

static bool sup_any(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                    const ais_attrs *attrs) {
    (void)op, (void)in, (void)n_in, (void)attrs;
    return true;
}

/* Identity, Reshape, ...: the output is the input's bytes. */
static ais_status do_view(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    (void)op;
    return copy_d2d(ctx, c->out[0]->data, c->in[0]->data, c->out[0]->nbytes);
}

static bool sup_where(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                      const ais_attrs *attrs) {
    (void)op, (void)attrs;
    return n_in == 3 && in[0]->dtype == AIS_DTYPE_BOOL && in[1] && in[2] &&
           in[1]->dtype == in[2]->dtype && ais_dtype_size(in[1]->dtype) > 0 &&
           ais_dtype_size(in[1]->dtype) <= 8;
}

static ais_status do_where(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    (void)op;
    ais_tensor *y = c->out[0];
    aisk_bcast bc;
    make_bcast(y, c->in, 3, &bc);
    AIS__KERNEL(aisk_where(ctx->stream, ais_dtype_size(y->dtype), c->in[0]->data, c->in[1]->data,
                           c->in[2]->data, y->data, &bc, y->numel),
                "where kernel");
    return AIS_OK;
}

static bool sup_cast(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                     const ais_attrs *attrs) {
    (void)op, (void)n_in;
    return cast_dtype(in[0]->dtype) && cast_dtype((ais_dtype)ais__attr_int(attrs, "to", 0));
}

static ais_status do_cast(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    (void)op;
    const ais_tensor *x = c->in[0];
    ais_tensor *y = c->out[0];
    if (x->dtype == y->dtype) return copy_d2d(ctx, y->data, x->data, y->nbytes);
    AIS__KERNEL(aisk_cast(ctx->stream, (int)x->dtype, (int)y->dtype, x->data, y->data, y->numel),
                "cast kernel");
    return AIS_OK;
}

static bool sup_float(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                      const ais_attrs *attrs) {
    (void)op, (void)n_in, (void)attrs;
    return float_dtype(in[0]->dtype);
}

static ais_status do_softmax(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    return run_softmax(ctx, op->code != 0, c->opset, c->attrs, c->in[0], c->out[0]);
}

static bool sup_layernorm(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                          const ais_attrs *attrs) {
    (void)op, (void)attrs;
    ais_dtype dt = in[0]->dtype;
    return float_dtype(dt) && n_in >= 2 && in[1] && in[1]->dtype == dt &&
           (n_in < 3 || !in[2] || in[2]->dtype == dt);
}

static ais_status do_layernorm(ais__cuda_ctx *ctx, const ais__cuda_op *op,
                               const ais__cuda_call *c) {
    (void)op;
    return run_layernorm(ctx, c->attrs, c->in, c->n_in, c->out, c->n_out);
}

static bool sup_batchnorm(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                          const ais_attrs *attrs) {
    (void)op;
    ais_dtype dt = in[0]->dtype;
    if (n_in != 5 || !float_dtype(dt) || in[0]->ndim < 2) return false;
    for (int i = 1; i < 5; i++)
        if (!in[i] || in[i]->dtype != dt) return false;
    return ais__attr_int(attrs, "training_mode", 0) == 0;
}

static ais_status do_batchnorm(ais__cuda_ctx *ctx, const ais__cuda_op *op,
                               const ais__cuda_call *c) {
    (void)op;
    const ais_tensor *x = c->in[0];
    int64_t ch = x->dims[1], inner = prod(x->dims, 2, x->ndim);
    for (int i = 1; i < 5; i++)
        if ((int64_t)c->in[i]->numel != ch)
            return ais__error(AIS_E_SHAPE, "input %d has %zu values for %lld channels", i,
                              c->in[i]->numel, (long long)ch);
    AIS__KERNEL(aisk_batchnorm(ctx->stream, (int)x->dtype, x->data, c->in[1]->data, c->in[2]->data,
                               c->in[3]->data, c->in[4]->data, c->out[0]->data, x->numel, ch, inner,
                               ais__attr_float(c->attrs, "epsilon", 1e-5f)),
                "batchnorm kernel");
    return AIS_OK;
}

static ais_status do_reduce(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    return run_reduce(ctx, op->code, c->opset, op->name, c->attrs, c->in, c->n_in, c->out[0]);
}

static bool sup_global_pool(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                            const ais_attrs *attrs) {
    (void)op, (void)attrs;
    return n_in == 1 && float_dtype(in[0]->dtype) && in[0]->ndim >= 3;
}

/* A mean or max over every spatial axis, keeping N and C. */
static ais_status do_global_pool(ais__cuda_ctx *ctx, const ais__cuda_op *op,
                                 const ais__cuda_call *c) {
    bool red[AIS_MAX_DIMS] = {false};
    for (uint32_t k = 2; k < c->in[0]->ndim; k++)
        red[k] = true;
    return reduce_axes(ctx, op->code, c->in[0], c->out[0], red);
}

/* Layout operators move elements of up to 8 bytes. */
static bool sup_layout(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                       const ais_attrs *attrs) {
    (void)op, (void)n_in, (void)attrs;
    return ais_dtype_size(in[0]->dtype) > 0 && ais_dtype_size(in[0]->dtype) <= 8;
}

static ais_status do_transpose(ais__cuda_ctx *ctx, const ais__cuda_op *op,
                               const ais__cuda_call *c) {
    (void)op;
    return run_transpose(ctx, c->attrs, c->in[0], c->out[0]);
}

static ais_status do_concat(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    (void)op;
    return run_concat(ctx, c->attrs, c->in, c->n_in, c->out[0]);
}

static ais_status do_slice(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    (void)op;
    return run_slice(ctx, c->opset, c->attrs, c->in, c->n_in, c->out[0]);
}

static ais_status do_expand(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    (void)op;
    return ais__cuda_expand(ctx, c->in[0], c->out[0]);
}

static bool sup_gather(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                       const ais_attrs *attrs) {
    (void)op, (void)attrs;
    return n_in == 2 && in[1] && (in[1]->dtype == AIS_DTYPE_I32 || in[1]->dtype == AIS_DTYPE_I64) &&
           ais_dtype_size(in[0]->dtype) > 0 && ais_dtype_size(in[0]->dtype) <= 8;
}

static ais_status do_gather(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    (void)op;
    return run_gather(ctx, c->attrs, c->in[0], c->in[1], c->out[0]);
}

/* code: 1 for the Gemm family (2-D only), 2 for FusedMatMul, 0 for MatMul. */
static bool sup_product(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                        const ais_attrs *attrs) {
    ais_dtype dt = in[0]->dtype;
    float alpha;
    if (n_in < 2 || !in[1] || in[1]->dtype != dt || !float_dtype(dt)) return false;
    if (ais__cuda_activation(attrs, &alpha) < 0) return false;
    /* ORT's FusedMatMul scales and transposes; the CPU kernel says what it lacks */
    if (op->code == 2 &&
        (ais__attr_int(attrs, "transA", 0) || ais__attr_int(attrs, "transB", 0) ||
         ais__attr_int(attrs, "transBatchA", 0) || ais__attr_int(attrs, "transBatchB", 0) ||
         ais__attr_float(attrs, "alpha", 1.f) != 1.f))
        return false;
    if (op->code == 1) return in[0]->ndim == 2 && in[1]->ndim == 2;
    return in[0]->ndim >= 1 && in[1]->ndim >= 1;
}

static ais_status do_product(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    const ais_tensor *bias = c->n_in > 2 ? c->in[2] : NULL;
    if (op->code == 1) return ais__cuda_gemm(ctx, c->attrs, c->in[0], c->in[1], bias, c->out[0]);
    return ais__cuda_matmul(ctx, c->attrs, c->in[0], c->in[1], bias, c->out[0]);
}

static bool sup_dnn(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                    const ais_attrs *attrs) {
    return ais__cuda_dnn_supports(op->name, in, n_in, attrs);
}

static ais_status do_dnn(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    return ais__cuda_dnn_run(ctx, op->name, c->attrs, c->in, c->n_in, c->out, c->n_out);
}

/* cuDNN where it can; what it cannot express (ceil_mode, asymmetric pads, dilations): pool.cu. */
static bool sup_pool(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                     const ais_attrs *attrs) {
    if (ais__cuda_dnn_supports(op->name, in, n_in, attrs)) return true;
    return float_dtype(in[0]->dtype) && in[0]->ndim >= 3 && in[0]->ndim <= 5;
}

static ais_status do_pool(ais__cuda_ctx *ctx, const ais__cuda_op *op, const ais__cuda_call *c) {
    if (dnn_takes(op->name, c->attrs, c->in, c->n_in)) return do_dnn(ctx, op, c);
    return run_pool_direct(ctx, op->name, c->opset, c->attrs, c->in[0], c->out, c->n_out);
}

static const ais__cuda_op ais__cuda_ops[] = {
    {"Relu", AISK_RELU, sup_unary, do_unary},
    {"LeakyRelu", AISK_LEAKY_RELU, sup_unary, do_unary},
    {"Sigmoid", AISK_SIGMOID, sup_unary, do_unary},
    {"Tanh", AISK_TANH, sup_unary, do_unary},
    {"Gelu", AISK_GELU, sup_unary, do_unary},
    {"Erf", AISK_ERF, sup_unary, do_unary},
    {"Exp", AISK_EXP, sup_unary, do_unary},
    {"Log", AISK_LOG, sup_unary, do_unary},
    {"Sqrt", AISK_SQRT, sup_unary, do_unary},
    {"Abs", AISK_ABS, sup_unary, do_unary},
    {"Neg", AISK_NEG, sup_unary, do_unary},
    {"Clip", AISK_CLIP, sup_unary, do_unary},
    {"Reciprocal", AISK_RECIPROCAL, sup_unary, do_unary},
    {"Floor", AISK_FLOOR, sup_unary, do_unary},
    {"Ceil", AISK_CEIL, sup_unary, do_unary},
    {"Elu", AISK_ELU, sup_unary, do_unary},
    {"Softplus", AISK_SOFTPLUS, sup_unary, do_unary},
    {"HardSigmoid", AISK_HARD_SIGMOID, sup_unary, do_unary},
    {"Sin", AISK_SIN, sup_unary, do_unary},
    {"Cos", AISK_COS, sup_unary, do_unary},
    {"HardSwish", AISK_HARD_SWISH, sup_unary, do_unary},
    {"Add", AISK_ADD, sup_binary, do_binary},
    {"Sub", AISK_SUB, sup_binary, do_binary},
    {"Mul", AISK_MUL, sup_binary, do_binary},
    {"Div", AISK_DIV, sup_binary, do_binary},
    {"Pow", AISK_POW, sup_binary, do_binary},
    {"Max", AISK_MAX, sup_binary, do_binary},
    {"Min", AISK_MIN, sup_binary, do_binary},
    {"Equal", AISK_EQUAL, sup_binary, do_binary},
    {"Less", AISK_LESS, sup_binary, do_binary},
    {"LessOrEqual", AISK_LESS_EQUAL, sup_binary, do_binary},
    {"Greater", AISK_GREATER, sup_binary, do_binary},
    {"GreaterOrEqual", AISK_GREATER_EQUAL, sup_binary, do_binary},
    {"And", AISK_AND, sup_binary, do_binary},
    {"Or", AISK_OR, sup_binary, do_binary},
    {"Xor", AISK_XOR, sup_binary, do_binary},
    {"Identity", 0, sup_any, do_view},
    {"Reshape", 0, sup_any, do_view},
    {"Flatten", 0, sup_any, do_view},
    {"Squeeze", 0, sup_any, do_view},
    {"Unsqueeze", 0, sup_any, do_view},
    {"Dropout", 0, sup_any, do_view},
    {"Where", 0, sup_where, do_where},
    {"Cast", 0, sup_cast, do_cast},
    {"Softmax", 0, sup_float, do_softmax},
    {"LogSoftmax", 1, sup_float, do_softmax},
    {"LayerNormalization", 0, sup_layernorm, do_layernorm},
    {"BatchNormalization", 0, sup_batchnorm, do_batchnorm},
    {"ReduceSum", AISK_RSUM, sup_float, do_reduce},
    {"ReduceMean", AISK_RMEAN, sup_float, do_reduce},
    {"ReduceMax", AISK_RMAX, sup_float, do_reduce},
    {"ReduceMin", AISK_RMIN, sup_float, do_reduce},
    {"GlobalAveragePool", AISK_RMEAN, sup_global_pool, do_global_pool},
    {"GlobalMaxPool", AISK_RMAX, sup_global_pool, do_global_pool},
    {"Transpose", 0, sup_layout, do_transpose},
    {"Concat", 0, sup_layout, do_concat},
    {"Slice", 0, sup_layout, do_slice},
    {"Expand", 0, sup_layout, do_expand},
    {"Gather", 0, sup_gather, do_gather},
    {"MatMul", 0, sup_product, do_product},
    {"FusedMatMul", 2, sup_product, do_product},
    {"Gemm", 1, sup_product, do_product},
    {"FusedGemm", 1, sup_product, do_product},
    {"Conv", 0, sup_dnn, do_dnn},
    {"FusedConv", 0, sup_dnn, do_dnn},
    {"ConvTranspose", 0, sup_dnn, do_dnn},
    {"MaxPool", 0, sup_pool, do_pool},
    {"AveragePool", 0, sup_pool, do_pool},
};

const ais__cuda_op *ais__cuda_op_find(const char *op_type) {
    if (!op_type) return NULL;
    for (size_t i = 0; i < AIS__ARRAY_LEN(ais__cuda_ops); i++)
        if (strcmp(ais__cuda_ops[i].name, op_type) == 0) return &ais__cuda_ops[i];
    return NULL;
}

bool ais__cuda_op_supports(const ais__cuda_op *op, const ais__tensor_desc *const *in, size_t n_in,
                           const ais_attrs *attrs) {
    if (!op || n_in == 0 || !in || !in[0]) return false;
    /* a channel shuffle folded into a convolution for the CPU (runtime/fold_shuffle.c) is
     * unknown to cuDNN; a .ais file written from a CPU load keeps it, so that node stays on the
     * CPU rather than run here without its shuffle */
    if (attrs && ais__attr_find(attrs, "ais_shuffled_output")) return false;
    return op->supports(op, in, n_in, attrs);
}

ais_status ais__cuda_op_run(ais__cuda_ctx *ctx, const ais__cuda_op *op, int64_t opset,
                            const ais_attrs *attrs, const ais_tensor *const *in, size_t n_in,
                            ais_tensor *const *out, size_t n_out) {
    if (!ctx || !op || !in || !out || n_in == 0 || n_out == 0 || !in[0] || !out[0])
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: context, inputs or outputs missing",
                          op ? op->name : "(null)");
    AIS__CU(cudaSetDevice(ctx->device));
    ais__cuda_call c = {opset, attrs, in, n_in, out, n_out};
    ais_status st = op->run(ctx, op, &c);
    if (st != AIS_OK) ais__error_prefix("%s (CUDA)", op->name);
    return st;
}

bool ais__cuda_supports(const char *op, int64_t opset, const ais__tensor_desc *const *in,
                        size_t n_in, const ais_attrs *attrs) {
    (void)opset;
    return ais__cuda_op_supports(ais__cuda_op_find(op), in, n_in, attrs);
}

ais_status ais__cuda_run_node(ais__cuda_ctx *ctx, const char *op_type, int64_t opset,
                              const ais_attrs *attrs, const ais_tensor *const *in, size_t n_in,
                              ais_tensor *const *out, size_t n_out) {
    if (!ctx || !op_type || !in || !out || n_in == 0 || n_out == 0 || !in[0] || !out[0])
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: context, inputs or outputs missing",
                          op_type ? op_type : "(null)");
    ais__tensor_desc descs[16];
    const ais__tensor_desc *dp[16];
    if (n_in > 16) return ais__error(AIS_E_UNSUPPORTED, "%s: %zu inputs on CUDA", op_type, n_in);
    for (size_t i = 0; i < n_in; i++) {
        dp[i] = NULL;
        if (in[i]) {
            ais__desc_from(&descs[i], in[i]);
            dp[i] = &descs[i];
        }
    }
    const ais__cuda_op *op = ais__cuda_op_find(op_type);
    if (!ais__cuda_op_supports(op, dp, n_in, attrs))
        return ais__error(AIS_E_UNSUPPORTED,
                          "%s (opset %lld) with these inputs does not run on CUDA", op_type,
                          (long long)opset);
    return ais__cuda_op_run(ctx, op, opset, attrs, in, n_in, out, n_out);
}
