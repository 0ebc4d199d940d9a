/* attrs.c - operator attributes: a small list of typed, named values. */
#include <stdio.h>
#include <string.h>

#include "op.h"

static void ais__attr_clear(ais__attr *a) {
    ais__free(a->name);
    ais__free(a->s);
    ais__free(a->ints);
    ais__free(a->floats);
    if (a->strings)
        for (size_t i = 0; i < a->count; i++) ais__free(a->strings[i]);
    ais__free(a->strings);
    ais_tensor_destroy(a->t);
    memset(a, 0, sizeof *a);
}

AIS_API ais_status ais_attrs_create(ais_attrs **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_attrs_create: out is NULL");
    *out = ais__calloc(1, sizeof **out);
    if (!*out) return ais__oom(sizeof **out, "attributes");
    return AIS_OK;
}

AIS_API void ais_attrs_destroy(ais_attrs *attrs) {
    if (!attrs) return;
    for (size_t i = 0; i < attrs->count; i++) ais__attr_clear(&attrs->items[i]);
    ais__free(attrs->items);
    ais__free(attrs);
}

const ais__attr *ais__attr_find(const ais_attrs *attrs, const char *name) {
    if (!attrs) return NULL;
    /* Kernels look attributes up on every run: the first character settles most misses
     * without a call into strcmp. */
    for (size_t i = 0; i < attrs->count; i++) {
        const char *n = attrs->items[i].name;
        if (n[0] == name[0] && strcmp(n, name) == 0) return &attrs->items[i];
    }
    return NULL;
}

/* Stores the prepared attribute `a` (whose name is set) into attrs, replacing one of the same
 * name. On failure `a` is cleared, so the caller never owns half of an attribute. */
static ais_status ais__attrs_put(ais_attrs *attrs, ais__attr *a) {
    for (size_t i = 0; i < attrs->count; i++) {
        if (strcmp(attrs->items[i].name, a->name) == 0) {
            ais__attr_clear(&attrs->items[i]);
            attrs->items[i] = *a;
            return AIS_OK;
        }
    }
    if (attrs->count == attrs->cap) {
        size_t cap = attrs->cap ? attrs->cap * 2 : 8;
        ais__attr *items = ais__realloc(attrs->items, attrs->cap * sizeof *items,
                                        cap * sizeof *items);
        if (!items) {
            ais__attr_clear(a);
            return ais__oom(cap * sizeof *items, "attributes");
        }
        attrs->items = items;
        attrs->cap = cap;
    }
    attrs->items[attrs->count++] = *a;
    return AIS_OK;
}

static ais_status ais__attr_begin(ais_attrs *attrs, const char *name, const char *fn, ais__attr *a,
                                  ais__attr_type type) {
    memset(a, 0, sizeof *a);
    if (!attrs || !name)
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: %s is NULL", fn, attrs ? "name" : "attrs");
    a->type = type;
    a->name = ais__strdup(name);
    if (!a->name) return ais__oom(strlen(name) + 1, "attribute name");
    return AIS_OK;
}

AIS_API ais_status ais_attrs_set_int(ais_attrs *attrs, const char *name, int64_t value) {
    ais__attr a;
    AIS__CHECK(ais__attr_begin(attrs, name, "ais_attrs_set_int", &a, AIS__ATTR_INT));
    a.i = value;
    return ais__attrs_put(attrs, &a);
}

AIS_API ais_status ais_attrs_set_float(ais_attrs *attrs, const char *name, float value) {
    ais__attr a;
    AIS__CHECK(ais__attr_begin(attrs, name, "ais_attrs_set_float", &a, AIS__ATTR_FLOAT));
    a.f = value;
    return ais__attrs_put(attrs, &a);
}

AIS_API ais_status ais_attrs_set_string(ais_attrs *attrs, const char *name, const char *value) {
    if (!value) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_attrs_set_string: value is NULL");
    ais__attr a;
    AIS__CHECK(ais__attr_begin(attrs, name, "ais_attrs_set_string", &a, AIS__ATTR_STRING));
    a.s = ais__strdup(value);
    if (!a.s) {
        ais__attr_clear(&a);
        return ais__oom(strlen(value) + 1, "string attribute");
    }
    return ais__attrs_put(attrs, &a);
}

AIS_API ais_status ais_attrs_set_ints(ais_attrs *attrs, const char *name, const int64_t *values,
                                      size_t count) {
    if (!values && count)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_attrs_set_ints: values is NULL");
    ais__attr a;
    AIS__CHECK(ais__attr_begin(attrs, name, "ais_attrs_set_ints", &a, AIS__ATTR_INTS));
    a.ints = ais__malloc(count * sizeof *a.ints + 1);
    if (!a.ints) {
        ais__attr_clear(&a);
        return ais__oom(count * sizeof *a.ints, "ints attribute");
    }
    if (count) memcpy(a.ints, values, count * sizeof *a.ints);
    a.count = count;
    return ais__attrs_put(attrs, &a);
}

AIS_API ais_status ais_attrs_set_floats(ais_attrs *attrs, const char *name, const float *values,
                                        size_t count) {
    if (!values && count)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_attrs_set_floats: values is NULL");
    ais__attr a;
    AIS__CHECK(ais__attr_begin(attrs, name, "ais_attrs_set_floats", &a, AIS__ATTR_FLOATS));
    a.floats = ais__malloc(count * sizeof *a.floats + 1);
    if (!a.floats) {
        ais__attr_clear(&a);
        return ais__oom(count * sizeof *a.floats, "floats attribute");
    }
    if (count) memcpy(a.floats, values, count * sizeof *a.floats);
    a.count = count;
    return ais__attrs_put(attrs, &a);
}

AIS_API ais_status ais_attrs_set_strings(ais_attrs *attrs, const char *name,
                                         const char *const *values, size_t count) {
    if (!values && count)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_attrs_set_strings: values is NULL");
    for (size_t i = 0; i < count; i++)
        if (!values[i])
            return ais__error(AIS_E_INVALID_ARGUMENT, "ais_attrs_set_strings: values[%zu] is NULL",
                              i);
    ais__attr a;
    AIS__CHECK(ais__attr_begin(attrs, name, "ais_attrs_set_strings", &a, AIS__ATTR_STRINGS));
    a.strings = ais__calloc(count + 1, sizeof *a.strings);
    if (!a.strings) {
        ais__attr_clear(&a);
        return ais__oom((count + 1) * sizeof *a.strings, "strings attribute");
    }
    a.count = count;
    for (size_t i = 0; i < count; i++) {
        a.strings[i] = ais__strdup(values[i]);
        if (!a.strings[i]) {
            ais__attr_clear(&a);
            return ais__oom(strlen(values[i]) + 1, "string attribute");
        }
    }
    return ais__attrs_put(attrs, &a);
}

AIS_API ais_status ais_attrs_set_tensor(ais_attrs *attrs, const char *name,
                                        const ais_tensor *value) {
    if (!value) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_attrs_set_tensor: value is NULL");
    ais__attr a;
    AIS__CHECK(ais__attr_begin(attrs, name, "ais_attrs_set_tensor", &a, AIS__ATTR_TENSOR));
    /* A tensor with storage is shared by reference; borrowed data is copied, since its owner
     * may go away before the attributes do. */
    ais_status st = value->storage ? ais__tensor_share(value, value->dims, value->ndim, &a.t)
                                   : ais_tensor_copy(value, &a.t);
    if (st != AIS_OK) {
        ais__attr_clear(&a);
        return st;
    }
    return ais__attrs_put(attrs, &a);
}

ais_status ais__attrs_set_tensor_borrowed(ais_attrs *attrs, const char *name, ais_dtype dtype,
                                          const int64_t *dims, size_t ndim, void *data) {
    AIS__CHECK(ais__shape_validate(dims, ndim, dtype, name));
    ais__attr a;
    AIS__CHECK(ais__attr_begin(attrs, name, "attribute", &a, AIS__ATTR_TENSOR));
    a.t = ais__malloc(sizeof *a.t);
    if (!a.t) {
        ais__attr_clear(&a);
        return ais__oom(sizeof(ais_tensor), "tensor attribute");
    }
    ais__tensor_init_borrowed(a.t, dtype, dims, ndim, data);
    return ais__attrs_put(attrs, &a);
}

/* The first attribute read with the wrong type since the last ais__attr_type_error() on this
 * thread. Accessors return no status (kernels read attributes in many places), so a mismatch
 * is recorded here and turned into an error by whoever drives the kernel: the check is made
 * once, in the accessors, instead of in every operator. */
static _Thread_local struct {
    bool set;
    char name[64];
    ais__attr_type want, got;
} ais__attr_mismatch;

static const char *ais__attr_type_name(ais__attr_type t) {
    switch (t) {
    case AIS__ATTR_INT: return "INT";
    case AIS__ATTR_FLOAT: return "FLOAT";
    case AIS__ATTR_STRING: return "STRING";
    case AIS__ATTR_INTS: return "INTS";
    case AIS__ATTR_FLOATS: return "FLOATS";
    case AIS__ATTR_STRINGS: return "STRINGS";
    case AIS__ATTR_TENSOR: return "TENSOR";
    }
    return "UNDEFINED";
}

const ais__attr *ais__attr_get(const ais_attrs *attrs, const char *name, ais__attr_type type) {
    const ais__attr *a = ais__attr_find(attrs, name);
    if (!a || a->type == type) return a;
    /* FLOAT attributes written as integers are common in hand-made models and lossless for
     * the small values they hold: ais__attr_float converts them. */
    if (type == AIS__ATTR_FLOAT && a->type == AIS__ATTR_INT) return a;
    if (!ais__attr_mismatch.set) {
        ais__attr_mismatch.set = true;
        snprintf(ais__attr_mismatch.name, sizeof ais__attr_mismatch.name, "%s", name);
        ais__attr_mismatch.want = type;
        ais__attr_mismatch.got = a->type;
    }
    return NULL;
}

void ais__attr_type_reset(void) { ais__attr_mismatch.set = false; }

ais_status ais__attr_type_check(ais_status st) {
    /* A kernel that read a wrong-typed attribute and then failed most likely failed because of
     * it ("coefficients is required"): the type error is the message that helps. */
    if (st == AIS_E_OUT_OF_MEMORY || !ais__attr_mismatch.set) return st;
    return ais__attr_type_error();
}

ais_status ais__attr_type_error(void) {
    if (!ais__attr_mismatch.set) return AIS_OK;
    ais__attr_mismatch.set = false;
    return ais__error(AIS_E_INVALID_ARGUMENT, "attribute '%s' is %s, expected %s",
                      ais__attr_mismatch.name, ais__attr_type_name(ais__attr_mismatch.got),
                      ais__attr_type_name(ais__attr_mismatch.want));
}

int64_t ais__attr_int(const ais_attrs *attrs, const char *name, int64_t dflt) {
    const ais__attr *a = ais__attr_get(attrs, name, AIS__ATTR_INT);
    return a ? a->i : dflt;
}

float ais__attr_float(const ais_attrs *attrs, const char *name, float dflt) {
    const ais__attr *a = ais__attr_get(attrs, name, AIS__ATTR_FLOAT);
    if (!a) return dflt;
    return a->type == AIS__ATTR_FLOAT ? a->f : (float)a->i;
}

const char *ais__attr_string(const ais_attrs *attrs, const char *name, const char *dflt) {
    const ais__attr *a = ais__attr_get(attrs, name, AIS__ATTR_STRING);
    return a ? a->s : dflt;
}

bool ais__attr_ints(const ais_attrs *attrs, const char *name, const int64_t **v, size_t *n) {
    const ais__attr *a = ais__attr_get(attrs, name, AIS__ATTR_INTS);
    if (a) {
        *v = a->ints;
        *n = a->count;
        return true;
    }
    *v = NULL;
    *n = 0;
    return false;
}

bool ais__attr_floats(const ais_attrs *attrs, const char *name, const float **v, size_t *n) {
    const ais__attr *a = ais__attr_get(attrs, name, AIS__ATTR_FLOATS);
    if (a) {
        *v = a->floats;
        *n = a->count;
        return true;
    }
    *v = NULL;
    *n = 0;
    return false;
}

const ais_tensor *ais__attr_tensor(const ais_attrs *attrs, const char *name) {
    const ais__attr *a = ais__attr_get(attrs, name, AIS__ATTR_TENSOR);
    return a ? a->t : NULL;
}
