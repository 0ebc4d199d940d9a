/* layout_util.c - argument readers and the strided copy shared by shape/layout/reduce ops. */
#include <stdio.h>
#include <string.h>

#include "layout_util.h"

ais_status ais__layout_int_arg(const ais__op_ctx *ctx, const ais_tensor *const *in, size_t n_in,
                               size_t idx, const char *name, int64_t since, int64_t *v, size_t max,
                               size_t *n, bool *present, bool tind) {
    *n = 0;
    *present = false;
    if (ctx->opset < since) {
        if (n_in > idx && in[idx])
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "input %zu ('%s') exists only from opset %lld, the model uses %lld "
                              "(give '%s' as an attribute)",
                              idx, name, (long long)since, (long long)ctx->opset, name);
        const int64_t *a;
        size_t na;
        if (!ais__attr_ints(ctx->attrs, name, &a, &na)) {
            if (ais__attr_find(ctx->attrs, name))
                return ais__error(AIS_E_INVALID_ARGUMENT, "attribute '%s' must be a list of ints",
                                  name);
            return AIS_OK;
        }
        if (na > max)
            return ais__error(AIS_E_LIMIT,
                              "attribute '%s' has %zu values, at most %zu are supported", name, na,
                              max);
        if (na) memcpy(v, a, na * sizeof *v);
        *n = na;
        *present = true;
        return AIS_OK;
    }
    if (n_in <= idx || !in[idx]) return AIS_OK;
    char what[64];
    snprintf(what, sizeof what, "input '%s'", name);
    AIS__CHECK(tind ? ais__read_index_list(in[idx], what, v, max, n)
                    : ais__read_int_list(in[idx], what, v, max, n));
    *present = true;
    return AIS_OK;
}

ais_status ais__layout_axes(const int64_t *axes, size_t n, size_t rank, const char *what,
                            bool *mask, int64_t *norm) {
    bool seen[AIS_MAX_DIMS + 1] = {false};
    for (size_t i = 0; i < n; i++) {
        int64_t a;
        if (!ais__norm_axis(axes[i], (int64_t)rank, &a))
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "%s value %lld is out of range for rank %zu (expected %lld to %lld)",
                              what, (long long)axes[i], rank, -(long long)rank,
                              (long long)rank - 1);
        if (seen[a])
            return ais__error(AIS_E_INVALID_ARGUMENT, "%s names axis %lld twice", what,
                              (long long)a);
        seen[a] = true;
        if (norm) norm[i] = a;
    }
    if (mask)
        for (size_t i = 0; i < rank; i++)
            mask[i] = seen[i];
    return AIS_OK;
}

void ais__layout_strides(const int64_t *dims, size_t ndim, int64_t *strides) {
    int64_t s = 1;
    for (size_t i = ndim; i-- > 0;) {
        strides[i] = s;
        s *= dims[i];
    }
}

/* One row: n elements of size E, source stride st (elements). memcpy with a constant size
 * compiles to a single move and stays correct for unaligned caller buffers. */
#define AIS__ROW(E)                                                                                \
    do {                                                                                           \
        for (int64_t k = 0; k < n; k++)                                                            \
            memcpy(d + k * (E), s + k * st * (E), (E));                                            \
    } while (0)

static void ais__copy_row(char *d, const char *s, size_t elem, int64_t n, int64_t st) {
    if (st == 1) {
        memcpy(d, s, (size_t)n * elem);
        return;
    }
    switch (elem) {
    case 1: AIS__ROW(1); break;
    case 2: AIS__ROW(2); break;
    case 4: AIS__ROW(4); break;
    case 8: AIS__ROW(8); break;
    default:
        for (int64_t k = 0; k < n; k++)
            memcpy(d + (size_t)k * elem, s + k * st * (int64_t)elem, elem);
    }
}

/* Tile of a 2-D transpose: rows a (src stride sa), columns b (src stride sb, dst contiguous). */
static void ais__copy_tile2(char *d, const char *s, size_t elem, int64_t na, int64_t nb, int64_t sa,
                            int64_t sb) {
    enum { T = 16 };
    const int64_t e = (int64_t)elem;
    for (int64_t a0 = 0; a0 < na; a0 += T) {
        int64_t a1 = AIS__MIN(na, a0 + T);
        for (int64_t b0 = 0; b0 < nb; b0 += T) {
            int64_t b1 = AIS__MIN(nb, b0 + T);
            for (int64_t a = a0; a < a1; a++)
                ais__copy_row(d + (a * nb + b0) * e, s + (a * sa + b0 * sb) * e, elem, b1 - b0, sb);
        }
    }
}

void ais__layout_copy_strided(void *dst, const void *src, size_t elem, size_t ndim,
                              const int64_t *dims_in, const int64_t *strides_in) {
    int64_t dims[AIS__LAYOUT_MAX_RANK], st[AIS__LAYOUT_MAX_RANK];
    size_t nd = 0;
    for (size_t i = 0; i < ndim; i++) {
        if (dims_in[i] == 0) return;
        if (dims_in[i] == 1) continue;
        /* merge with the previous axis when the pair walks memory as one axis */
        if (nd && st[nd - 1] == strides_in[i] * dims_in[i]) {
            dims[nd - 1] *= dims_in[i];
            st[nd - 1] = strides_in[i];
            continue;
        }
        dims[nd] = dims_in[i];
        st[nd] = strides_in[i];
        nd++;
    }
    if (nd == 0) {
        memcpy(dst, src, elem);
        return;
    }
    char *d = dst;
    const char *s = src;
    const int64_t e = (int64_t)elem;
    /* a transposed pair of innermost axes: copy in tiles so both sides stay in cache */
    bool tile =
        nd >= 2 && st[nd - 1] != 1 && st[nd - 2] == 1 && dims[nd - 1] >= 8 && dims[nd - 2] >= 8;
    size_t outer_n = tile ? nd - 2 : nd - 1;
    int64_t idx[AIS__LAYOUT_MAX_RANK] = {0};
    int64_t inner = tile ? dims[nd - 1] * dims[nd - 2] : dims[nd - 1];
    for (;;) {
        int64_t off = 0;
        for (size_t i = 0; i < outer_n; i++)
            off += idx[i] * st[i];
        if (tile)
            ais__copy_tile2(d, s + off * e, elem, dims[nd - 2], dims[nd - 1], st[nd - 2],
                            st[nd - 1]);
        else
            ais__copy_row(d, s + off * e, elem, dims[nd - 1], st[nd - 1]);
        d += inner * e;
        size_t i = outer_n;
        while (i > 0) {
            i--;
            if (++idx[i] < dims[i]) break;
            idx[i] = 0;
            if (i == 0) return;
        }
        if (outer_n == 0) return;
    }
}

void ais__layout_transpose(void *dst, const void *src, size_t elem, size_t ndim,
                           const int64_t *dims, const int64_t *perm) {
    int64_t in_st[AIS__LAYOUT_MAX_RANK], od[AIS__LAYOUT_MAX_RANK], os[AIS__LAYOUT_MAX_RANK];
    ais__layout_strides(dims, ndim, in_st);
    for (size_t i = 0; i < ndim; i++) {
        od[i] = dims[perm[i]];
        os[i] = in_st[perm[i]];
    }
    ais__layout_copy_strided(dst, src, elem, ndim, od, os);
}
