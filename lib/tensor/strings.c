/* strings.c - string tensors (owned NUL-terminated elements) and sequences of tensors. */
#include "tensor.h"

ais_status ais__str_set(ais_tensor *t, size_t i, const char *s, size_t len) {
    if (len == SIZE_MAX) return ais__error(AIS_E_LIMIT, "string of %zu bytes is too long", len);
    char *c = ais__malloc(len + 1);
    if (!c) return ais__oom(len + 1, "string element");
    if (len) memcpy(c, s, len);
    c[len] = 0;
    char **v = ais__strs(t);
    ais__free(v[i]);
    v[i] = c;
    return AIS_OK;
}

void ais__strs_clear(ais_tensor *t) {
    char **v = ais__strs(t);
    for (size_t i = 0; i < t->numel; i++) {
        ais__free(v[i]);
        v[i] = NULL;
    }
}

ais_status ais__strs_own(ais_tensor *t) {
    char **v = ais__strs(t);
    for (size_t i = 0; i < t->numel; i++) {
        if (!v[i]) continue;
        char *c = ais__strdup(v[i]);
        if (!c) {
            size_t len = strlen(v[i]) + 1;
            for (size_t k = i; k < t->numel; k++) v[k] = NULL; /* borrowed: not ours to free */
            return ais__oom(len, "string element");
        }
        v[i] = c;
    }
    return AIS_OK;
}

ais_status ais__elems_copy(ais_tensor *dst, size_t doff, const ais_tensor *src, size_t soff,
                           size_t n) {
    if (src->dtype != AIS_DTYPE_STRING) {
        size_t es = ais_dtype_size(src->dtype);
        if (n) memmove((char *)dst->data + doff * es, (const char *)src->data + soff * es, n * es);
        return AIS_OK;
    }
    if (dst->data == src->data && doff == soff) return AIS_OK;
    for (size_t i = 0; i < n; i++) {
        const char *s = ais__str_at(src, soff + i);
        AIS__CHECK(ais__str_set(dst, doff + i, s, strlen(s)));
    }
    return AIS_OK;
}

/* ---- sequences ---- */

void ais__seq_free(ais__sequence *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) ais_tensor_destroy(s->items[i]);
    ais__free(s->items);
    ais__free(s);
}

static ais_status ais__seq_reserve(ais__sequence *s, size_t need) {
    if (need <= s->cap) return AIS_OK;
    size_t cap = s->cap ? s->cap : 4;
    while (cap < need) {
        if (cap > SIZE_MAX / 2 / sizeof *s->items)
            return ais__error(AIS_E_LIMIT, "sequence of %zu tensors is too long", need);
        cap *= 2;
    }
    ais_tensor **items = ais__realloc(s->items, s->cap * sizeof *items, cap * sizeof *items);
    if (!items) return ais__oom(cap * sizeof *items, "sequence");
    s->items = items;
    s->cap = cap;
    return AIS_OK;
}

ais_status ais__seq_attach(ais_tensor *t, ais_dtype elem_dtype, size_t cap) {
    ais__sequence *s = ais__calloc(1, sizeof *s);
    if (!s) return ais__oom(sizeof *s, "sequence");
    s->elem_dtype = elem_dtype;
    ais_status st = ais__seq_reserve(s, cap);
    if (st != AIS_OK) {
        ais__seq_free(s);
        return st;
    }
    *(ais__sequence **)t->data = s;
    return AIS_OK;
}

ais_status ais__seq_tensor_new(ais_dtype elem_dtype, size_t cap, ais_tensor **out) {
    *out = NULL;
    ais_tensor *t;
    AIS__CHECK(ais__tensor_new(AIS__DTYPE_SEQUENCE, NULL, 0, &t));
    ais_status st = ais__seq_attach(t, elem_dtype, cap);
    if (st != AIS_OK) {
        ais_tensor_destroy(t);
        return st;
    }
    *out = t;
    return AIS_OK;
}

ais_status ais__seq_insert(ais__sequence *s, size_t pos, const ais_tensor *t) {
    AIS__CHECK(ais__seq_reserve(s, s->n + 1));
    ais_tensor *c;
    if (t->storage)
        AIS__CHECK(ais__tensor_share(t, t->dims, t->ndim, &c));
    else
        AIS__CHECK(ais_tensor_copy(t, &c));
    memmove(s->items + pos + 1, s->items + pos, (s->n - pos) * sizeof *s->items);
    s->items[pos] = c;
    s->n++;
    return AIS_OK;
}

void ais__seq_erase(ais__sequence *s, size_t pos) {
    ais_tensor_destroy(s->items[pos]);
    memmove(s->items + pos, s->items + pos + 1, (s->n - pos - 1) * sizeof *s->items);
    s->n--;
}

ais_status ais__seq_copy_into(ais__sequence *dst, const ais__sequence *src) {
    dst->elem_dtype = src->elem_dtype;
    for (size_t i = 0; i < src->n; i++) AIS__CHECK(ais__seq_insert(dst, dst->n, src->items[i]));
    return AIS_OK;
}

/* ---- public API ---- */

AIS_API ais_status ais_tensor_create_strings(const int64_t *shape, size_t ndim,
                                             const char *const *values, ais_tensor **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_create_strings: out is NULL");
    *out = NULL;
    AIS__CHECK(ais__shape_validate(shape, ndim, AIS_DTYPE_STRING, "ais_tensor_create_strings"));
    ais_tensor *t;
    AIS__CHECK(ais__tensor_new(AIS_DTYPE_STRING, shape, ndim, &t));
    for (size_t i = 0; values && i < t->numel; i++) {
        if (!values[i]) continue;
        ais_status st = ais__str_set(t, i, values[i], strlen(values[i]));
        if (st != AIS_OK) {
            ais_tensor_destroy(t);
            return st;
        }
    }
    *out = t;
    return AIS_OK;
}

AIS_API const char *ais_tensor_string_at(const ais_tensor *t, size_t index) {
    if (!t || t->dtype != AIS_DTYPE_STRING || index >= t->numel) return NULL;
    return ais__str_at(t, index);
}

AIS_API ais_status ais_tensor_set_string(ais_tensor *t, size_t index, const char *value) {
    if (!t || !value)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_set_string: %s is NULL",
                          t ? "value" : "tensor");
    if (t->dtype != AIS_DTYPE_STRING)
        return ais__error(AIS_E_DTYPE, "ais_tensor_set_string: expected a string tensor, got %s",
                          ais_dtype_name(t->dtype));
    if (index >= t->numel)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_tensor_set_string: index %zu, the tensor has %zu elements", index,
                          t->numel);
    if (!t->storage || t->storage->content != AIS__CONTENT_STRINGS)
        return ais__error(AIS_E_UNSUPPORTED,
                          "ais_tensor_set_string: the tensor does not own its strings");
    return ais__str_set(t, index, value, strlen(value));
}

AIS_API ais_status ais_tensor_create_sequence(ais_dtype elem_dtype,
                                              const ais_tensor *const *items, size_t n,
                                              ais_tensor **out) {
    if (!out)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_create_sequence: out is NULL");
    *out = NULL;
    if (n && !items)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_tensor_create_sequence: items is NULL with n = %zu", n);
    if (elem_dtype == AIS__DTYPE_SEQUENCE || !ais__dtype_valid(elem_dtype))
        return ais__error(AIS_E_DTYPE,
                          "ais_tensor_create_sequence: elem_dtype %d is not a tensor dtype",
                          (int)elem_dtype);
    for (size_t i = 0; i < n; i++) {
        if (!items[i])
            return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_create_sequence: item %zu is "
                              "NULL", i);
        if (items[i]->dtype != elem_dtype)
            return ais__error(AIS_E_DTYPE, "ais_tensor_create_sequence: item %zu is %s, "
                              "elem_dtype is %s", i, ais_dtype_name(items[i]->dtype),
                              ais_dtype_name(elem_dtype));
    }
    ais_tensor *t;
    AIS__CHECK(ais__seq_tensor_new(elem_dtype, n, &t));
    ais__sequence *s = ais__seq(t);
    for (size_t i = 0; i < n; i++) {
        /* a private copy: the caller may go on writing to its tensor */
        ais_tensor *c;
        ais_status st = ais_tensor_copy(items[i], &c);
        if (st == AIS_OK) {
            st = ais__seq_insert(s, s->n, c);
            ais_tensor_destroy(c);
        }
        if (st != AIS_OK) {
            ais_tensor_destroy(t);
            return st;
        }
    }
    *out = t;
    return AIS_OK;
}

static const ais__sequence *ais__as_seq(const ais_tensor *t) {
    return t && t->dtype == AIS__DTYPE_SEQUENCE && t->data ? ais__seq(t) : NULL;
}

AIS_API size_t ais_sequence_length(const ais_tensor *seq) {
    const ais__sequence *s = ais__as_seq(seq);
    return s ? s->n : 0;
}

AIS_API ais_dtype ais_sequence_elem_dtype(const ais_tensor *seq) {
    const ais__sequence *s = ais__as_seq(seq);
    return s ? s->elem_dtype : AIS_DTYPE_UNDEFINED;
}

AIS_API const ais_tensor *ais_sequence_at(const ais_tensor *seq, size_t index) {
    const ais__sequence *s = ais__as_seq(seq);
    return s && index < s->n ? s->items[index] : NULL;
}
