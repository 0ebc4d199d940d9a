/* protobuf.c - the zero-copy protobuf wire reader (see protobuf.h for why it exists). */
#include "protobuf.h"

#include <string.h>

static const char *const ais__pb_wire_names[8] = {"varint",      "fixed64",    "length-delimited",
                                                  "group start", "group end",  "fixed32",
                                                  "wire type 6", "wire type 7"};

void ais__pb_init(ais__pb *r, const void *data, size_t size) {
    static const uint8_t empty[1];
    if (!data) size = 0, data = empty; /* NULL + 0 is undefined */
    r->base = data;
    r->p = data;
    r->end = r->p + size;
    r->limit = r->end;
    r->depth = 0;
}

size_t ais__pb_offset(const ais__pb *r, const uint8_t *p) { return (size_t)(p - r->base); }

ais_status ais__pb_varint(const uint8_t **p, const uint8_t *end, const uint8_t *base,
                          uint64_t *out) {
    const uint8_t *q = *p;
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (q >= end)
            return ais__error(AIS_E_FORMAT, "truncated varint at offset %zu", (size_t)(*p - base));
        uint8_t b = *q++;
        /* The tenth byte carries only bit 63: anything more would be silently lost. */
        if (i == 9 && b > 1)
            return ais__error(AIS_E_FORMAT, "varint overflows 64 bits at offset %zu",
                              (size_t)(*p - base));
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *p = q;
            *out = v;
            return AIS_OK;
        }
    }
    return ais__error(AIS_E_FORMAT, "varint longer than 10 bytes at offset %zu",
                      (size_t)(*p - base));
}

static uint64_t ais__pb_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

ais_status ais__pb_next(ais__pb *r, ais__pb_field *f, bool *has) {
    *has = false;
    if (r->p >= r->end) return AIS_OK;
    memset(f, 0, sizeof *f);
    f->offset = ais__pb_offset(r, r->p);
    uint64_t key;
    AIS__CHECK(ais__pb_varint(&r->p, r->end, r->base, &key));
    uint64_t number = key >> 3;
    f->wire = (uint32_t)(key & 7);
    if (number == 0 || number > 0x1fffffff)
        return ais__error(AIS_E_FORMAT, "invalid field number %llu at offset %zu",
                          (unsigned long long)number, f->offset);
    f->number = (uint32_t)number;
    size_t left = (size_t)(r->end - r->p);
    switch (f->wire) {
    case AIS__PB_VARINT: AIS__CHECK(ais__pb_varint(&r->p, r->end, r->base, &f->v)); break;
    case AIS__PB_I64:
    case AIS__PB_I32: {
        int n = f->wire == AIS__PB_I64 ? 8 : 4;
        if (left < (size_t)n)
            return ais__error(AIS_E_FORMAT, "field %u: truncated %s at offset %zu%s", f->number,
                              ais__pb_wire_names[f->wire], f->offset,
                              r->end == r->limit ? " (the file is truncated)" : "");
        f->v = ais__pb_le(r->p, n);
        r->p += n;
        break;
    }
    case AIS__PB_LEN: {
        uint64_t len;
        AIS__CHECK(ais__pb_varint(&r->p, r->end, r->base, &len));
        left = (size_t)(r->end - r->p);
        /* A length that runs past the end of the whole input is what a cut-off file looks
         * like; one that only overruns its enclosing message is corruption. */
        if (len > left && r->end == r->limit)
            return ais__error(AIS_E_FORMAT,
                              "field %u at offset %zu: length %llu runs past the end of the file "
                              "(%zu bytes left): the file is truncated",
                              f->number, f->offset, (unsigned long long)len, left);
        if (len > left)
            return ais__error(AIS_E_FORMAT,
                              "field %u at offset %zu: length %llu runs past the end of its "
                              "message (%zu bytes left)",
                              f->number, f->offset, (unsigned long long)len, left);
        f->data = r->p;
        f->len = (size_t)len;
        r->p += len;
        break;
    }
    default:
        return ais__error(AIS_E_FORMAT, "field %u at offset %zu: %s is not supported", f->number,
                          f->offset, ais__pb_wire_names[f->wire]);
    }
    *has = true;
    return AIS_OK;
}

ais_status ais__pb_sub(const ais__pb *r, const ais__pb_field *f, ais__pb *sub) {
    if (f->wire != AIS__PB_LEN)
        return ais__error(AIS_E_FORMAT, "field %u at offset %zu: expected a message, got a %s",
                          f->number, f->offset, ais__pb_wire_names[f->wire]);
    if (r->depth + 1 > AIS__PB_MAX_DEPTH)
        return ais__error(AIS_E_LIMIT, "messages nested deeper than %d at offset %zu",
                          AIS__PB_MAX_DEPTH, f->offset);
    sub->base = r->base;
    sub->limit = r->limit;
    sub->p = f->data;
    sub->end = f->data + f->len;
    sub->depth = r->depth + 1;
    return AIS_OK;
}

ais_status ais__pb_expect(const ais__pb *r, const ais__pb_field *f, uint32_t wire,
                          const char *name) {
    (void)r;
    if (f->wire == wire) return AIS_OK;
    return ais__error(AIS_E_FORMAT, "%s (field %u) at offset %zu: expected %s, got %s", name,
                      f->number, f->offset, ais__pb_wire_names[wire & 7],
                      ais__pb_wire_names[f->wire & 7]);
}

static uint32_t ais__pb_kind_wire(ais__pb_kind kind) {
    return kind == AIS__PB_K_VARINT    ? AIS__PB_VARINT
           : kind == AIS__PB_K_FIXED32 ? AIS__PB_I32
                                       : AIS__PB_I64;
}

ais_status ais__pb_scalar_count(const ais__pb *r, const ais__pb_field *f, ais__pb_kind kind,
                                size_t *count) {
    uint32_t wire = ais__pb_kind_wire(kind);
    if (f->wire == wire) {
        *count = 1;
        return AIS_OK;
    }
    if (f->wire != AIS__PB_LEN)
        return ais__error(AIS_E_FORMAT, "field %u at offset %zu: expected %s or packed, got %s",
                          f->number, f->offset, ais__pb_wire_names[wire],
                          ais__pb_wire_names[f->wire]);
    if (kind == AIS__PB_K_VARINT) {
        /* Every varint ends in exactly one byte without the continuation bit. */
        size_t n = 0;
        for (size_t i = 0; i < f->len; i++)
            n += !(f->data[i] & 0x80);
        if (f->len && (f->data[f->len - 1] & 0x80))
            return ais__error(AIS_E_FORMAT, "field %u: truncated packed varint at offset %zu",
                              f->number, ais__pb_offset(r, f->data + f->len - 1));
        *count = n;
        return AIS_OK;
    }
    size_t w = kind == AIS__PB_K_FIXED32 ? 4 : 8;
    if (f->len % w)
        return ais__error(AIS_E_FORMAT,
                          "field %u at offset %zu: packed payload of %zu bytes is not a multiple "
                          "of %zu",
                          f->number, f->offset, f->len, w);
    *count = f->len / w;
    return AIS_OK;
}

void ais__pb_iter_init(const ais__pb *r, const ais__pb_field *f, ais__pb_kind kind,
                       ais__pb_iter *it) {
    it->base = r->base;
    it->kind = kind;
    it->packed = f->wire == AIS__PB_LEN;
    it->p = it->end = NULL;
    if (it->packed) {
        it->p = f->data;
        it->end = f->data + f->len;
    }
    it->single = f->v;
}

ais_status ais__pb_iter_next(ais__pb_iter *it, uint64_t *v) {
    if (!it->packed) {
        *v = it->single;
        return AIS_OK;
    }
    if (it->kind == AIS__PB_K_VARINT) return ais__pb_varint(&it->p, it->end, it->base, v);
    size_t w = it->kind == AIS__PB_K_FIXED32 ? 4 : 8;
    if ((size_t)(it->end - it->p) < w)
        return ais__error(AIS_E_INTERNAL, "packed scalars read past their count");
    *v = ais__pb_le(it->p, (int)w);
    it->p += w;
    return AIS_OK;
}

ais_status ais__pb_strdup(const ais__pb *r, const ais__pb_field *f, size_t max_len, char **out) {
    *out = NULL;
    if (f->wire != AIS__PB_LEN)
        return ais__error(AIS_E_FORMAT, "field %u at offset %zu: expected a string, got a %s",
                          f->number, f->offset, ais__pb_wire_names[f->wire]);
    if (f->len > max_len)
        return ais__error(AIS_E_LIMIT, "string at offset %zu is %zu bytes, at most %zu allowed",
                          f->offset, f->len, max_len);
    if (f->len && memchr(f->data, 0, f->len))
        return ais__error(AIS_E_FORMAT, "string at offset %zu contains a NUL byte",
                          ais__pb_offset(r, f->data));
    char *s = ais__malloc(f->len + 1);
    if (!s) return ais__oom(f->len + 1, "string");
    if (f->len) memcpy(s, f->data, f->len);
    s[f->len] = 0;
    *out = s;
    return AIS_OK;
}
