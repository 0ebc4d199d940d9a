/* tensor.c - tensor objects: creation, wrapping, views, copies. */
#include "tensor.h"

#include <stdio.h>

/* Owned data lives in one block after its storage header, so a tensor costs two allocations
 * (struct and block) and a view one. The header takes a full alignment unit so data stays
 * 64-byte aligned. */
#define AIS__STORAGE_HEADER AIS__ALIGN

_Static_assert(sizeof(ais__storage) <= AIS__STORAGE_HEADER, "storage header too large");

bool ais__shape_numel(const int64_t *dims, size_t ndim, size_t elem_size, size_t *numel) {
    size_t n = 1;
    for (size_t i = 0; i < ndim; i++) {
        if (dims[i] < 0) return false;
        if (!ais__mul_size(n, (size_t)dims[i], &n)) return false;
    }
    size_t bytes;
    if (!ais__mul_size(n, elem_size ? elem_size : 1, &bytes)) return false;
    if (bytes > (size_t)INT64_MAX / 2) return false;
    *numel = n;
    return true;
}

const char *ais__shape_str(const int64_t *dims, size_t ndim, char *buf, size_t size) {
    size_t pos = 0;
    if (size == 0) return buf;
    buf[0] = 0;
    pos += (size_t)snprintf(buf + pos, size - pos, "[");
    for (size_t i = 0; i < ndim && pos < size; i++)
        pos += (size_t)snprintf(buf + pos, size - pos, i ? ", %lld" : "%lld", (long long)dims[i]);
    if (pos < size) snprintf(buf + pos, size - pos, "]");
    return buf;
}

ais_status ais__shape_validate(const int64_t *dims, size_t ndim, ais_dtype dtype,
                               const char *who) {
    if (!ais__dtype_valid(dtype))
        return ais__error(AIS_E_DTYPE, "%s: unsupported dtype %d", who, (int)dtype);
    if (ndim > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "%s: %zu dimensions, at most %d are supported", who, ndim,
                          AIS_MAX_DIMS);
    if (ndim > 0 && !dims)
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: shape is NULL but ndim is %zu", who, ndim);
    for (size_t i = 0; i < ndim; i++)
        if (dims[i] < 0)
            return ais__error(AIS_E_SHAPE, "%s: dimension %zu is negative (%lld)", who, i,
                              (long long)dims[i]);
    size_t n;
    if (!ais__shape_numel(dims, ndim, ais_dtype_size(dtype), &n)) {
        char buf[AIS__SHAPE_STR_MAX];
        return ais__error(AIS_E_LIMIT, "%s: shape %s is too large", who,
                          ais__shape_str(dims, ndim, buf, sizeof buf));
    }
    return AIS_OK;
}

static void ais__tensor_set_shape(ais_tensor *t, ais_dtype dtype, const int64_t *dims,
                                  size_t ndim) {
    t->dtype = dtype;
    t->ndim = (uint32_t)ndim;
    size_t n = 1;
    for (size_t i = 0; i < ndim; i++) {
        t->dims[i] = dims[i];
        n *= (size_t)dims[i];
    }
    for (size_t i = ndim; i < AIS_MAX_DIMS; i++) t->dims[i] = 0;
    t->numel = n;
    t->nbytes = n * ais_dtype_size(dtype);
}

void ais__tensor_init_borrowed(ais_tensor *t, ais_dtype dtype, const int64_t *dims, size_t ndim,
                               void *data) {
    ais__tensor_set_shape(t, dtype, dims, ndim);
    t->data = data;
    t->storage = NULL;
}

ais_status ais__tensor_new(ais_dtype dtype, const int64_t *dims, size_t ndim, ais_tensor **out) {
    *out = NULL;
    AIS__CHECK(ais__shape_validate(dims, ndim, dtype, "tensor"));
    ais_tensor *t = ais__malloc(sizeof *t);
    if (!t) return ais__oom(sizeof *t, "tensor");
    ais__tensor_set_shape(t, dtype, dims, ndim);
    size_t block_size = AIS__STORAGE_HEADER + t->nbytes;
    void *block = ais__malloc_aligned(block_size, AIS__ALIGN);
    if (!block) {
        ais__free(t);
        return ais__oom(block_size, "tensor data");
    }
    ais__storage *s = block;
    atomic_init(&s->refs, 1);
    s->data = (char *)block + AIS__STORAGE_HEADER;
    s->nbytes = t->nbytes;
    s->release = NULL;
    s->release_ud = NULL;
    s->block = block;
    s->content = dtype == AIS_DTYPE_STRING       ? AIS__CONTENT_STRINGS
                 : dtype == AIS__DTYPE_SEQUENCE ? AIS__CONTENT_SEQUENCE
                                                : AIS__CONTENT_POD;
    /* owned pointers start out NULL so that the tensor can be destroyed before it is filled */
    if (s->content != AIS__CONTENT_POD) memset(s->data, 0, t->nbytes);
    t->storage = s;
    t->data = s->data;
    *out = t;
    return AIS_OK;
}

ais_status ais__tensor_new_desc(const ais__tensor_desc *d, ais_tensor **out) {
    return ais__tensor_new(d->dtype, d->dims, d->ndim, out);
}

void ais__storage_release(ais__storage *s) {
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
    if (s->block) {
        size_t n = s->nbytes / sizeof(void *);
        if (s->content == AIS__CONTENT_STRINGS)
            for (size_t i = 0; i < n; i++) ais__free(((char **)s->data)[i]);
        else if (s->content == AIS__CONTENT_SEQUENCE)
            for (size_t i = 0; i < n; i++) ais__seq_free(((ais__sequence **)s->data)[i]);
        ais__free(s->block);
    } else {
        if (s->release) s->release(s->release_ud, s->data);
        ais__free(s);
    }
}

ais_status ais__tensor_share(const ais_tensor *src, const int64_t *dims, size_t ndim,
                             ais_tensor **out) {
    *out = NULL;
    ais_tensor *t = ais__malloc(sizeof *t);
    if (!t) return ais__oom(sizeof *t, "tensor view");
    ais__tensor_set_shape(t, src->dtype, dims, ndim);
    t->data = src->data;
    t->storage = src->storage;
    if (t->storage) atomic_fetch_add(&t->storage->refs, 1);
    *out = t;
    return AIS_OK;
}

bool ais__tensor_same_shape(const ais_tensor *a, const ais_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (uint32_t i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

/* ---- public API ---- */

AIS_API ais_status ais_tensor_create(ais_dtype dtype, const int64_t *shape, size_t ndim,
                                     ais_tensor **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_create: out is NULL");
    *out = NULL;
    if (dtype == AIS__DTYPE_SEQUENCE)
        return ais__error(AIS_E_DTYPE, "ais_tensor_create: unsupported dtype %d", (int)dtype);
    AIS__CHECK(ais__tensor_new(dtype, shape, ndim, out));
    memset((*out)->data, 0, (*out)->nbytes);
    return AIS_OK;
}

AIS_API ais_status ais_tensor_wrap(ais_dtype dtype, const int64_t *shape, size_t ndim, void *data,
                                   size_t nbytes, ais_release_fn release, void *user_data,
                                   ais_tensor **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_wrap: out is NULL");
    *out = NULL;
    if (ais__dtype_is_opaque(dtype)) /* the library would have to own the elements */
        return ais__error(AIS_E_DTYPE,
                          "ais_tensor_wrap: %s tensors cannot wrap caller memory; use "
                          "ais_tensor_create_strings",
                          ais_dtype_name(dtype));
    AIS__CHECK(ais__shape_validate(shape, ndim, dtype, "ais_tensor_wrap"));
    size_t numel = 0; /* validated above, so this cannot fail */
    ais__shape_numel(shape, ndim, ais_dtype_size(dtype), &numel);
    size_t need = numel * ais_dtype_size(dtype);
    if (!data && need > 0)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_wrap: data is NULL");
    if (nbytes < need)
        return ais__error(AIS_E_SHAPE, "ais_tensor_wrap: the shape needs %zu bytes, got %zu",
                          need, nbytes);
    /* Kernels load whole elements through typed pointers: a misaligned one is undefined
     * behaviour (and a fault on some CPUs), so the caller copies instead of us guessing. */
    size_t align = ais_dtype_size(dtype);
    if (data && (uintptr_t)data % align != 0)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_tensor_wrap: data %p is not aligned to %zu bytes (the size of a %s "
                          "element); copy it into aligned memory",
                          data, align, ais_dtype_name(dtype));
    ais_tensor *t = ais__malloc(sizeof *t);
    ais__storage *s = ais__malloc(sizeof *s);
    if (!t || !s) {
        ais__free(t);
        ais__free(s);
        return ais__oom(sizeof *t + sizeof *s, "wrapped tensor");
    }
    atomic_init(&s->refs, 1);
    s->data = data;
    s->nbytes = nbytes;
    s->release = release;
    s->release_ud = user_data;
    s->block = NULL;
    s->content = AIS__CONTENT_POD;
    ais__tensor_set_shape(t, dtype, shape, ndim);
    t->data = data;
    t->storage = s;
    *out = t;
    return AIS_OK;
}

AIS_API void ais_tensor_destroy(ais_tensor *t) {
    if (!t) return;
    ais__storage_release(t->storage);
    ais__free(t);
}

AIS_API ais_dtype ais_tensor_dtype(const ais_tensor *t) { return t ? t->dtype : AIS_DTYPE_UNDEFINED; }
AIS_API size_t ais_tensor_ndim(const ais_tensor *t) { return t ? t->ndim : 0; }
AIS_API const int64_t *ais_tensor_shape(const ais_tensor *t) { return t ? t->dims : NULL; }
AIS_API size_t ais_tensor_size(const ais_tensor *t) { return t ? t->numel : 0; }
AIS_API size_t ais_tensor_nbytes(const ais_tensor *t) { return t ? t->nbytes : 0; }
AIS_API void *ais_tensor_data(const ais_tensor *t) { return t ? t->data : NULL; }
AIS_API const void *ais_tensor_data_const(const ais_tensor *t) { return t ? t->data : NULL; }

AIS_API ais_status ais_tensor_describe(const ais_tensor *const *tensors, size_t n, int32_t *dtypes,
                                       uint64_t *ndims, int64_t *dims, void **data,
                                       uint64_t *nbytes) {
    if (n == 0) return AIS_OK;
    if (!tensors || !dtypes || !ndims || !dims || !data || !nbytes)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_describe: an array is NULL");
    for (size_t i = 0; i < n; i++)
        if (!tensors[i])
            return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_describe: tensor %zu is NULL", i);
    for (size_t i = 0; i < n; i++) {
        const ais_tensor *t = tensors[i];
        dtypes[i] = (int32_t)t->dtype;
        ndims[i] = t->ndim;
        memcpy(dims + i * AIS_MAX_DIMS, t->dims, t->ndim * sizeof *t->dims);
        data[i] = t->data;
        nbytes[i] = t->nbytes;
    }
    return AIS_OK;
}

AIS_API ais_status ais_tensor_reshape(const ais_tensor *t, const int64_t *shape, size_t ndim,
                                      ais_tensor **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_reshape: out is NULL");
    *out = NULL;
    if (!t) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_reshape: tensor is NULL");
    if (ndim > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "ais_tensor_reshape: %zu dimensions, at most %d", ndim,
                          AIS_MAX_DIMS);
    if (ndim > 0 && !shape)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_reshape: shape is NULL");
    int64_t dims[AIS_MAX_DIMS];
    int infer = -1;
    size_t known = 1;
    for (size_t i = 0; i < ndim; i++) {
        dims[i] = shape[i];
        if (shape[i] == -1 && infer < 0) {
            infer = (int)i;
        } else if (shape[i] < 0) {
            return ais__error(AIS_E_SHAPE, "ais_tensor_reshape: dimension %zu is %lld", i,
                              (long long)shape[i]);
        } else if (!ais__mul_size(known, (size_t)shape[i], &known)) {
            return ais__error(AIS_E_LIMIT, "ais_tensor_reshape: shape too large");
        }
    }
    if (infer >= 0) {
        if (known == 0 || t->numel % known != 0)
            return ais__error(AIS_E_SHAPE,
                              "ais_tensor_reshape: cannot infer dimension %d: %zu elements are "
                              "not a multiple of %zu",
                              infer, t->numel, known);
        dims[infer] = (int64_t)(t->numel / known);
        known = t->numel;
    }
    if (known != t->numel) {
        char a[AIS__SHAPE_STR_MAX], b[AIS__SHAPE_STR_MAX];
        return ais__error(AIS_E_SHAPE,
                          "ais_tensor_reshape: cannot view %s (%zu elements) as %s (%zu)",
                          ais__shape_str(t->dims, t->ndim, a, sizeof a), t->numel,
                          ais__shape_str(dims, ndim, b, sizeof b), known);
    }
    return ais__tensor_share(t, dims, ndim, out);
}

AIS_API ais_status ais_tensor_copy(const ais_tensor *t, ais_tensor **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_copy: out is NULL");
    *out = NULL;
    if (!t) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_copy: tensor is NULL");
    ais_status st;
    if (t->dtype == AIS__DTYPE_SEQUENCE) {
        AIS__CHECK(ais__seq_tensor_new(ais__seq(t)->elem_dtype, ais__seq(t)->n, out));
        st = ais__seq_copy_into(ais__seq(*out), ais__seq(t));
    } else {
        AIS__CHECK(ais__tensor_new(t->dtype, t->dims, t->ndim, out));
        st = ais__elems_copy(*out, 0, t, 0, t->numel);
    }
    if (st != AIS_OK) {
        ais_tensor_destroy(*out);
        *out = NULL;
    }
    return st;
}

AIS_API ais_status ais_tensor_copy_into(const ais_tensor *src, ais_tensor *dst) {
    if (!src || !dst)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_copy_into: %s is NULL",
                          src ? "dst" : "src");
    if (src->dtype != dst->dtype)
        return ais__error(AIS_E_DTYPE, "ais_tensor_copy_into: src is %s, dst is %s",
                          ais_dtype_name(src->dtype), ais_dtype_name(dst->dtype));
    if (src->numel != dst->numel)
        return ais__error(AIS_E_SHAPE, "ais_tensor_copy_into: src has %zu elements, dst %zu",
                          src->numel, dst->numel);
    if (src->dtype == AIS__DTYPE_SEQUENCE)
        return ais__error(AIS_E_UNSUPPORTED, "ais_tensor_copy_into: sequences cannot be copied into");
    if (src->dtype == AIS_DTYPE_STRING) return ais__elems_copy(dst, 0, src, 0, src->numel);
    if (src->nbytes && src->data != dst->data) memmove(dst->data, src->data, src->nbytes);
    return AIS_OK;
}
