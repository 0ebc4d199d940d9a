/*
 * ais_reader.c - the native .ais reader (docs/ais-format.md). Every offset, size and count is
 * checked against the bytes that exist before use; checksums are verified before a section is
 * parsed. Raw tensors are used in place (borrowed from the caller's bytes) when aligned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "ais_layout.h"

typedef struct ais__span {
    uint64_t off, size;
} ais__span;

typedef struct ais__reader {
    const uint8_t *base;
    size_t size;
    uint64_t features;
    ais__span sec[AIS__SEC_DRIFT + 1]; /* by type; size 0 and off 0 when absent */
    bool have[AIS__SEC_DRIFT + 1];
    ais_tensor **tensors; /* decoded; borrowed ones have storage NULL */
    char **tensor_names;
    uint32_t n_tensors;
    ZSTD_DCtx *dctx;
    ais__graph *g;
    bool verify_data;   /* check the tensors' checksums (the sections' are always checked) */
    bool source_mapped; /* base is a private read-only file mapping: see ais__drop_pages */
} ais__reader;

bool ais__ais_sniff(const void *data, size_t size) {
    return data && size >= AIS__MAGIC_LEN && memcmp(data, AIS__MAGIC, AIS__MAGIC_LEN) == 0;
}

static int ais__span_cmp(const void *a, const void *b) {
    const ais__span *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Bytes in [begin, end) that no span covers are padding and must be zero, so that every byte of
 * a file is either checksummed or checked. Sorts `spans`. */
static ais_status ais__check_padding(const uint8_t *base, uint64_t begin, uint64_t end,
                                     ais__span *spans, size_t n, const char *where) {
    qsort(spans, n, sizeof *spans, ais__span_cmp);
    uint64_t at = begin;
    for (size_t i = 0; i <= n; i++) {
        uint64_t next = i < n ? spans[i].off : end;
        for (uint64_t p = at; p < next; p++)
            if (base[p])
                return ais__error(AIS_E_FORMAT, "%s: padding byte at offset %llu is not zero",
                                  where, (unsigned long long)p);
        if (i < n && spans[i].off + spans[i].size > at) at = spans[i].off + spans[i].size;
    }
    return AIS_OK;
}

static ais_status ais__read_header(ais__reader *r) {
    const uint8_t *p = r->base;
    if (r->size < AIS__HEADER_SIZE)
        return ais__error(AIS_E_FORMAT, ".ais: truncated: %zu bytes, the header alone has %d",
                          r->size, AIS__HEADER_SIZE);
    if (memcmp(p, AIS__MAGIC, AIS__MAGIC_LEN) != 0)
        return ais__error(AIS_E_FORMAT, ".ais: bad magic bytes");
    uint16_t major = ais__le16(p + AIS__H_MAJOR), minor = ais__le16(p + AIS__H_MINOR);
    if (major != AIS__VERSION_MAJOR)
        return ais__error(AIS_E_UNSUPPORTED,
                          ".ais: format version %u.%u, this library reads version %d.x", major,
                          minor, AIS__VERSION_MAJOR);
    uint32_t header_size = ais__le32(p + AIS__H_HEADER_SIZE);
    uint32_t count = ais__le32(p + AIS__H_SECTION_COUNT);
    uint32_t entry_size = ais__le32(p + AIS__H_SECTION_ENTRY_SIZE);
    if (header_size < AIS__HEADER_SIZE || header_size % 8 || entry_size < AIS__SECTION_ENTRY_SIZE ||
        entry_size % 8 || count > AIS__MAX_SECTIONS)
        return ais__error(AIS_E_FORMAT, ".ais: bad header: header size %u, %u sections of %u bytes",
                          header_size, count, entry_size);
    uint64_t table_end = (uint64_t)header_size + (uint64_t)count * entry_size;
    if (table_end > r->size)
        return ais__error(AIS_E_FORMAT,
                          ".ais: truncated: the section table ends at %llu, the file has %zu bytes",
                          (unsigned long long)table_end, r->size);
    uint8_t saved[8];
    memcpy(saved, p + AIS__H_HASH, 8);
    /* The hash is defined with its own field zeroed; hash in pieces instead of copying. */
    uint64_t want = ais__le64(saved);
    uint8_t head[AIS__HEADER_SIZE];
    memcpy(head, p, AIS__HEADER_SIZE);
    memset(head + AIS__H_HASH, 0, 8);
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    XXH64_update(&st, head, AIS__HEADER_SIZE);
    XXH64_update(&st, p + AIS__HEADER_SIZE, (size_t)table_end - AIS__HEADER_SIZE);
    if (XXH64_digest(&st) != want)
        return ais__error(AIS_E_CHECKSUM, ".ais: header checksum mismatch (the file is corrupt)");
    uint64_t file_size = ais__le64(p + AIS__H_FILE_SIZE);
    if (file_size != r->size)
        return ais__error(AIS_E_FORMAT, ".ais: %s: the header says %llu bytes, there are %zu",
                          file_size > r->size ? "truncated" : "trailing bytes",
                          (unsigned long long)file_size, r->size);
    r->features = ais__le64(p + AIS__H_REQUIRED);
    uint64_t unknown = r->features & ~AIS__FEAT_KNOWN;
    if (unknown) {
        int bit = __builtin_ctzll(unknown);
        return ais__error(AIS_E_UNSUPPORTED,
                          ".ais: the file needs feature %d (a required-feature bit) that this "
                          "version of libaistack does not know; upgrade it",
                          bit);
    }
    if (ais__le64(p + AIS__H_RESERVED) != 0)
        return ais__error(AIS_E_FORMAT, ".ais: reserved header field is not zero");

    ais__span spans[AIS__MAX_SECTIONS];
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = p + header_size + (size_t)i * entry_size;
        uint32_t type = ais__le32(e), flags = ais__le32(e + 4);
        uint64_t off = ais__le64(e + 8), size = ais__le64(e + 16), hash = ais__le64(e + 24);
        if (off < table_end || off > r->size || size > r->size - off)
            return ais__error(AIS_E_FORMAT,
                              ".ais: section %u (type %u) at offset %llu, %llu bytes, lies "
                              "outside the file's %zu bytes",
                              i, type, (unsigned long long)off, (unsigned long long)size, r->size);
        spans[i].off = off;
        spans[i].size = size;
        if (type < AIS__SEC_META || type > AIS__SEC_DRIFT) {
            if (flags & AIS__SECF_REQUIRED)
                return ais__error(AIS_E_UNSUPPORTED,
                                  ".ais: the file has a required section of type %u that this "
                                  "version of libaistack does not know; upgrade it",
                                  type);
            continue; /* optional and unknown: skipped */
        }
        if (r->have[type])
            return ais__error(AIS_E_FORMAT, ".ais: section type %u appears twice", type);
        r->have[type] = true;
        r->sec[type].off = off;
        r->sec[type].size = size;
        if (type == AIS__SEC_DATA) {
            if (off % AIS__DATA_ALIGN || hash != 0)
                return ais__error(AIS_E_FORMAT,
                                  ".ais: the data section must start at a multiple of %d and "
                                  "have checksum 0 (offset %llu)",
                                  AIS__DATA_ALIGN, (unsigned long long)off);
        } else if (ais__xxh64(p + off, (size_t)size) != hash) {
            static const char *const names[] = {"", "metadata", "graph", "tensor table",
                                                "", "pipeline", "drift"};
            return ais__error(AIS_E_CHECKSUM, ".ais: %s section checksum mismatch (corrupt)",
                              names[type]);
        }
    }
    for (int t = AIS__SEC_META; t <= AIS__SEC_DATA; t++)
        if (!r->have[t]) return ais__error(AIS_E_FORMAT, ".ais: section type %d is missing", t);
    return ais__check_padding(p, table_end, r->size, spans, count, ".ais");
}

static ais_status ais__decode_tensor(ais__reader *r, ais__cur *c, uint32_t index, ais__span *span) {
    char *name = ais__cur_str(c, "tensor name");
    if (!name) return c->st;
    r->tensor_names[index] = name;
    uint32_t dtype = ais__cur_u32(c, "tensor dtype");
    uint32_t ndim = ais__cur_u32(c, "tensor rank");
    if (c->st) return c->st;
    /* string elements are pointers: never read from a file */
    if (!ais__dtype_valid((ais_dtype)dtype) || ais__dtype_is_opaque((ais_dtype)dtype))
        return ais__cur_fail(c, "tensor '%s': unsupported dtype %u", name, dtype);
    if (ndim > AIS_MAX_DIMS)
        return ais__cur_fail(c, "tensor '%s': rank %u, at most %d", name, ndim, AIS_MAX_DIMS);
    int64_t dims[AIS_MAX_DIMS];
    for (uint32_t d = 0; d < ndim; d++)
        dims[d] = ais__cur_i64(c, "tensor dimension");
    uint8_t enc = ais__cur_u8(c, "tensor encoding"), filter = ais__cur_u8(c, "tensor filter");
    uint32_t reserved = ais__cur_u8(c, "reserved") | (ais__cur_u8(c, "reserved") << 8);
    uint64_t off = ais__cur_u64(c, "tensor offset"), stored = ais__cur_u64(c, "stored size");
    uint64_t raw = ais__cur_u64(c, "raw size"), hash = ais__cur_u64(c, "tensor checksum");
    if (c->st) return c->st;
    size_t es = ais_dtype_size((ais_dtype)dtype), numel;
    if (!ais__shape_numel(dims, ndim, es, &numel))
        return ais__cur_fail(c, "tensor '%s': invalid or too large shape", name);
    if (raw != (uint64_t)numel * es)
        return ais__cur_fail(c, "tensor '%s': raw size %llu, its shape needs %zu bytes", name,
                             (unsigned long long)raw, numel * es);
    const ais__span *data = &r->sec[AIS__SEC_DATA];
    if (off > data->size || stored > data->size - off)
        return ais__cur_fail(c, "tensor '%s': bytes [%llu, +%llu) lie outside the data section",
                             name, (unsigned long long)off, (unsigned long long)stored);
    if (reserved || enc > AIS__ENC_ZSTD || filter > AIS__FILTER_SHUFFLE ||
        (enc == AIS__ENC_RAW && (filter || stored != raw || off % AIS__DATA_ALIGN)) ||
        (enc == AIS__ENC_ZSTD && !(r->features & AIS__FEAT_ZSTD)) ||
        (filter == AIS__FILTER_SHUFFLE && !(r->features & AIS__FEAT_SHUFFLE)))
        return ais__cur_fail(
            c, "tensor '%s': bad encoding %u, filter %u (stored %llu bytes at %llu)", name, enc,
            filter, (unsigned long long)stored, (unsigned long long)off);
    /* zstd cannot expand more than 32768:1 (one RLE byte per 128 KiB block plus headers): a
     * larger claim is a decompression bomb, refused before allocating. */
    if (enc == AIS__ENC_ZSTD && raw / 65536 > stored)
        return ais__cur_fail(c, "tensor '%s': %llu raw bytes cannot come from %llu compressed",
                             name, (unsigned long long)raw, (unsigned long long)stored);
    span->off = off;
    span->size = stored;
    const uint8_t *src = r->base + data->off + off;
    if (r->verify_data && ais__xxh64(src, (size_t)stored) != hash)
        return ais__error(AIS_E_CHECKSUM, ".ais: tensor '%s': checksum mismatch (corrupt data)",
                          name);
    ais_tensor *t;
    if (enc == AIS__ENC_RAW && (uintptr_t)src % AIS__ALIGN == 0) {
        t = ais__malloc(sizeof *t);
        if (!t) return ais__oom(sizeof *t, "tensor");
        /* Borrowed from read-only bytes: constants are never written to. */
        ais__tensor_init_borrowed(t, (ais_dtype)dtype, dims, ndim, (void *)src);
        r->tensors[index] = t;
        return AIS_OK;
    }
    AIS__CHECK(ais__tensor_new((ais_dtype)dtype, dims, ndim, &t));
    r->tensors[index] = t;
    if (enc == AIS__ENC_RAW) { /* unaligned caller buffer: copy */
        if (raw) memcpy(t->data, src, (size_t)raw);
        return AIS_OK;
    }
    unsigned long long frame = ZSTD_getFrameContentSize(src, (size_t)stored);
    if (frame != raw)
        return ais__error(AIS_E_FORMAT,
                          ".ais: tensor '%s': the zstd frame holds %lld bytes, "
                          "expected %llu",
                          name, (long long)frame, (unsigned long long)raw);
    if (!r->dctx && !(r->dctx = ais__zstd_dctx())) return ais__oom(sizeof(void *), "zstd context");
    uint8_t *dst = t->data, *tmp = NULL;
    if (filter == AIS__FILTER_SHUFFLE && es > 1) {
        tmp = ais__malloc((size_t)raw ? (size_t)raw : 1);
        if (!tmp) return ais__oom((size_t)raw, "tensor decompression");
        dst = tmp;
    }
    size_t n = ZSTD_decompressDCtx(r->dctx, dst, (size_t)raw, src, (size_t)stored);
    /* The compressed bytes are not needed again: without this, loading holds the whole
     * compressed file and the decompressed tensors at once. */
    if (r->source_mapped) ais__drop_pages(src, (size_t)stored);
    ais_status st = AIS_OK;
    if (ZSTD_isError(n))
        st = ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation
                 ? ais__oom((size_t)raw, "zstd decompression")
                 : ais__error(AIS_E_FORMAT, ".ais: tensor '%s': zstd: %s", name,
                              ZSTD_getErrorName(n));
    else if (n != raw)
        st = ais__error(AIS_E_FORMAT, ".ais: tensor '%s': decompressed %zu bytes, expected %llu",
                        name, n, (unsigned long long)raw);
    else if (tmp)
        ais__unshuffle(t->data, tmp, numel, es);
    ais__free(tmp);
    return st;
}

static ais_status ais__read_tensors(ais__reader *r) {
    const ais__span *s = &r->sec[AIS__SEC_TENSORS];
    ais__cur c = {r->base + s->off, (size_t)s->size, 0, "tensor table", AIS_OK};
    /* name, dtype, rank, encoding..., offset, sizes, checksum: at least 48 bytes each */
    r->n_tensors = ais__cur_count(&c, 48, AIS__MAX_ITEMS, "tensor count");
    if (c.st) return c.st;
    size_t n = r->n_tensors ? r->n_tensors : 1;
    r->tensors = ais__calloc(n, sizeof *r->tensors);
    r->tensor_names = ais__calloc(n, sizeof *r->tensor_names);
    ais__span *spans = ais__malloc(n * sizeof *spans);
    ais_status st = AIS_OK;
    if (!r->tensors || !r->tensor_names || !spans)
        st = ais__oom(n * (2 * sizeof(void *) + sizeof *spans), "tensor table");
    for (uint32_t i = 0; i < r->n_tensors && st == AIS_OK; i++)
        st = ais__decode_tensor(r, &c, i, &spans[i]);
    if (st == AIS_OK) {
        const ais__span *d = &r->sec[AIS__SEC_DATA];
        st = ais__check_padding(r->base + d->off, 0, d->size, spans, r->n_tensors, ".ais data");
    }
    ais__free(spans);
    return st;
}

/* A value index from the file: -1 (absent) or an existing value. */
static int32_t ais__cur_value_ref(ais__cur *c, uint32_t n_values, bool allow_none,
                                  const char *what) {
    int32_t v = ais__cur_i32(c, what);
    if (c->st) return -1;
    if ((v == -1 && allow_none) || (v >= 0 && (uint32_t)v < n_values)) return v;
    ais__cur_fail(c, "%s %d is not a value index (there are %u)", what, v, n_values);
    return -1;
}

static ais_status ais__read_attr(ais__reader *r, ais__cur *c, ais_attrs *attrs) {
    char *name = ais__cur_str(c, "attribute name");
    if (!name) return c->st;
    uint32_t type = ais__cur_u32(c, "attribute type");
    ais_status st = AIS_OK;
    if (c->st) goto done;
    if (!name[0]) {
        st = ais__cur_fail(c, "attribute with an empty name");
        goto done;
    }
    switch (type) {
    case AIS__ATTR_INT: {
        int64_t v = ais__cur_i64(c, "int attribute");
        if (!c->st) st = ais_attrs_set_int(attrs, name, v);
        break;
    }
    case AIS__ATTR_FLOAT: {
        float v = ais__cur_f32(c, "float attribute");
        if (!c->st) st = ais_attrs_set_float(attrs, name, v);
        break;
    }
    case AIS__ATTR_STRING: {
        char *s = ais__cur_str(c, "string attribute");
        if (s) st = ais_attrs_set_string(attrs, name, s);
        ais__free(s);
        break;
    }
    case AIS__ATTR_INTS:
    case AIS__ATTR_FLOATS: {
        size_t es = type == AIS__ATTR_INTS ? 8 : 4;
        uint32_t n = ais__cur_count(c, es, AIS__MAX_ITEMS, "attribute length");
        if (c->st) break;
        void *v = ais__malloc(n ? (size_t)n * es : 1);
        if (!v) {
            st = ais__oom((size_t)n * es, "attribute");
            break;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (type == AIS__ATTR_INTS)
                ((int64_t *)v)[i] = ais__cur_i64(c, "ints attribute");
            else
                ((float *)v)[i] = ais__cur_f32(c, "floats attribute");
        }
        st = type == AIS__ATTR_INTS ? ais_attrs_set_ints(attrs, name, v, n)
                                    : ais_attrs_set_floats(attrs, name, v, n);
        ais__free(v);
        break;
    }
    case AIS__ATTR_STRINGS: {
        uint32_t n = ais__cur_count(c, 4, AIS__MAX_ITEMS, "attribute length");
        if (c->st) break;
        char **v = ais__calloc(n ? n : 1, sizeof *v);
        if (!v) {
            st = ais__oom((size_t)n * sizeof *v, "attribute");
            break;
        }
        uint32_t got = 0;
        while (got < n && (v[got] = ais__cur_str(c, "strings attribute")) != NULL)
            got++;
        if (got == n) st = ais_attrs_set_strings(attrs, name, (const char *const *)v, n);
        for (uint32_t i = 0; i < got; i++)
            ais__free(v[i]);
        ais__free(v);
        break;
    }
    case AIS__ATTR_TENSOR: {
        uint32_t k = ais__cur_u32(c, "tensor attribute");
        if (c->st) break;
        if (k >= r->n_tensors) {
            st = ais__cur_fail(c, "attribute '%s': tensor %u of %u", name, k, r->n_tensors);
            break;
        }
        const ais_tensor *t = r->tensors[k];
        st = t->storage
                 ? ais_attrs_set_tensor(attrs, name, t)
                 : ais__attrs_set_tensor_borrowed(attrs, name, t->dtype, t->dims, t->ndim, t->data);
        break;
    }
    default: st = ais__cur_fail(c, "attribute '%s' has unknown type %u", name, type);
    }
done:
    ais__free(name);
    return c->st ? c->st : st;
}

static ais_status ais__read_node(ais__reader *r, ais__cur *c, uint32_t n_values) {
    ais__graph *g = r->g;
    char *name = ais__cur_str(c, "node name");
    char *op = name ? ais__cur_str(c, "node op_type") : NULL;
    char *domain = op ? ais__cur_str(c, "node domain") : NULL;
    const char **ins = NULL, **outs = NULL;
    ais_attrs *attrs = NULL;
    ais_status st = AIS_OK;
    uint32_t n_in = 0, n_out = 0;
    if (!domain) goto done;
    if (!op[0]) {
        ais__cur_fail(c, "node '%s' has an empty op_type", name);
        goto done;
    }
    for (int pass = 0; pass < 2; pass++) {
        uint32_t n = ais__cur_count(c, 4, AIS__MAX_ITEMS, pass ? "output count" : "input count");
        if (c->st) goto done;
        const char **names = ais__calloc(n ? n : 1, sizeof *names);
        if (!names) {
            st = ais__oom((size_t)n * sizeof *names, "node inputs");
            goto done;
        }
        if (pass)
            outs = names, n_out = n;
        else
            ins = names, n_in = n;
        for (uint32_t i = 0; i < n; i++) {
            int32_t v = ais__cur_value_ref(c, n_values, true, pass ? "node output" : "node input");
            names[i] = v >= 0 ? g->values[v].name : NULL;
        }
    }
    uint32_t n_attrs = ais__cur_count(c, 8, AIS__MAX_ATTRS, "attribute count");
    if (c->st) goto done;
    if ((st = ais_attrs_create(&attrs)) != AIS_OK) goto done;
    for (uint32_t i = 0; i < n_attrs && st == AIS_OK && !c->st; i++)
        st = ais__read_attr(r, c, attrs);
    if (st != AIS_OK || c->st) goto done;
    st = ais__graph_add_node(g, name, op, domain, attrs, ins, n_in, outs, n_out, NULL);
    attrs = NULL; /* the graph owns them now, also on failure */
done:
    ais_attrs_destroy(attrs);
    ais__free(ins);
    ais__free(outs);
    ais__free(name);
    ais__free(op);
    ais__free(domain);
    return c->st ? c->st : st;
}

static ais_status ais__read_graph(ais__reader *r) {
    const ais__span *s = &r->sec[AIS__SEC_GRAPH];
    ais__cur c = {r->base + s->off, (size_t)s->size, 0, "graph", AIS_OK};
    ais__graph *g = r->g;
    ais_status st = AIS_OK;
    uint32_t n = ais__cur_count(&c, 12, AIS__MAX_ITEMS, "opset count");
    for (uint32_t i = 0; i < n && !c.st && st == AIS_OK; i++) {
        char *domain = ais__cur_str(&c, "opset domain");
        int64_t version = ais__cur_i64(&c, "opset version");
        if (domain && !c.st) st = ais__graph_set_opset(g, domain, version);
        ais__free(domain);
    }
    uint32_t n_values = ais__cur_count(&c, 20, AIS__MAX_ITEMS, "value count");
    int32_t *value_tensor = ais__malloc((n_values ? n_values : 1) * sizeof *value_tensor);
    if (!value_tensor) return ais__oom((size_t)n_values * sizeof *value_tensor, "values");
    for (uint32_t i = 0; i < n_values && !c.st && st == AIS_OK; i++) {
        char *name = ais__cur_str(&c, "value name");
        if (!name) break;
        int32_t idx;
        char *dim_names[AIS_MAX_DIMS] = {0};
        int64_t dims[AIS_MAX_DIMS];
        uint32_t dtype = ais__cur_u32(&c, "value dtype");
        int32_t ndim = ais__cur_i32(&c, "value rank");
        if (!c.st && (ndim < -1 || ndim > AIS_MAX_DIMS || dtype > 64 || !name[0]))
            ais__cur_fail(&c, "value %u ('%s'): bad dtype %u or rank %d", i, name, dtype, ndim);
        for (int32_t d = 0; d < ndim && !c.st; d++) {
            dims[d] = ais__cur_i64(&c, "value dimension");
            dim_names[d] = ais__cur_str(&c, "dimension name");
            if (!c.st && dims[d] < AIS__DIM_DYNAMIC)
                ais__cur_fail(&c, "value '%s': dimension %d is %lld", name, d, (long long)dims[d]);
        }
        uint32_t flags = ais__cur_u32(&c, "value flags");
        value_tensor[i] = ais__cur_i32(&c, "value tensor");
        if (!c.st && (value_tensor[i] < -1 || value_tensor[i] >= (int64_t)r->n_tensors ||
                      ((flags & AIS__VALUE_CONST) != 0) != (value_tensor[i] >= 0)))
            ais__cur_fail(&c, "value '%s': tensor %d (flags %#x) of %u", name, value_tensor[i],
                          flags, r->n_tensors);
        if (!c.st) st = ais__graph_value(g, name, &idx);
        if (!c.st && st == AIS_OK && idx != (int32_t)i)
            ais__cur_fail(&c, "value name '%s' appears twice", name);
        if (!c.st && st == AIS_OK)
            st = ais__graph_declare(g, idx, (ais_dtype)dtype, ndim, dims,
                                    (const char *const *)dim_names);
        for (int d = 0; d < AIS_MAX_DIMS; d++)
            ais__free(dim_names[d]);
        ais__free(name);
    }
    uint32_t n_nodes = c.st || st ? 0 : ais__cur_count(&c, 24, AIS__MAX_ITEMS, "node count");
    for (uint32_t i = 0; i < n_nodes && !c.st && st == AIS_OK; i++)
        st = ais__read_node(r, &c, n_values);
    for (uint32_t i = 0; i < n_values && !c.st && st == AIS_OK; i++) {
        if (value_tensor[i] < 0) continue;
        if (g->values[i].producer >= 0) {
            st = ais__cur_fail(&c, "constant '%s' is also a node's output", g->values[i].name);
            break;
        }
        const ais_tensor *src = r->tensors[value_tensor[i]];
        ais_tensor *t;
        if (src->storage) {
            st = ais__tensor_share(src, src->dims, src->ndim, &t);
        } else if ((t = ais__malloc(sizeof *t)) != NULL) {
            *t = *src;
        } else {
            st = ais__oom(sizeof *t, "tensor");
        }
        if (st == AIS_OK) st = ais__graph_set_constant(g, (int32_t)i, t);
    }
    ais__free(value_tensor);
    for (int pass = 0; pass < 2 && !c.st && st == AIS_OK; pass++) {
        n = ais__cur_count(&c, 4, AIS__MAX_ITEMS,
                           pass ? "graph output count" : "graph input count");
        for (uint32_t i = 0; i < n && !c.st && st == AIS_OK; i++) {
            int32_t v =
                ais__cur_value_ref(&c, n_values, false, pass ? "graph output" : "graph input");
            if (!c.st && !pass && g->values[v].producer >= 0)
                ais__cur_fail(&c, "graph input '%s' is also a node's output", g->values[v].name);
            if (!c.st) st = pass ? ais__graph_add_output(g, v) : ais__graph_add_input(g, v);
        }
    }
    return c.st ? c.st : st;
}

static ais_status ais__read_meta(ais__reader *r) {
    const ais__span *s = &r->sec[AIS__SEC_META];
    ais__cur c = {r->base + s->off, (size_t)s->size, 0, "metadata", AIS_OK};
    int64_t created = ais__cur_i64(&c, "creation time");
    uint64_t hash = ais__cur_u64(&c, "content hash");
    uint32_t n = ais__cur_count(&c, 8, AIS__MAX_ITEMS, "metadata count");
    ais_status st = AIS_OK;
    for (uint32_t i = 0; i < n && !c.st && st == AIS_OK; i++) {
        char *k = ais__cur_str(&c, "metadata key");
        char *v = k ? ais__cur_str(&c, "metadata value") : NULL;
        if (v && !k[0]) ais__cur_fail(&c, "metadata key %u is empty", i);
        if (v && !c.st) st = ais__graph_set_meta(r->g, k, v);
        ais__free(k);
        ais__free(v);
    }
    if (c.st || st) return c.st ? c.st : st;
    char buf[64];
    struct tm tm;
    time_t tt = (time_t)created;
    if (created >= 0 && gmtime_r(&tt, &tm) && strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        AIS__CHECK(ais__graph_set_meta(r->g, "created", buf));
    snprintf(buf, sizeof buf, "xxh64:%016llx", (unsigned long long)hash);
    return ais__graph_set_meta(r->g, "content_hash", buf);
}

static void ais__section_release(void *p) { ais__free(p); }

/* The PIPELINE section (ais_writer.c writes it): parsed and bounds-checked here, and handed on
 * as bytes (g->pipeline_input, g->pipeline_spec). Compiling the spec and checking that it fits
 * the graph's input is the runtime's (ais__model_attach_pipeline in runtime/model.c): the
 * format layer stays below lib/pipeline. */
static ais_status ais__read_drift(ais__reader *r);
static ais_status ais__read_pipeline(ais__reader *r) {
    if (!r->have[AIS__SEC_PIPELINE]) return AIS_OK;
    const ais__span *s = &r->sec[AIS__SEC_PIPELINE];
    ais__cur c = {r->base + s->off, (size_t)s->size, 0, "pipeline", AIS_OK};
    uint32_t version = ais__cur_u32(&c, "pipeline layout version");
    if (!c.st && version != 1)
        return ais__error(AIS_E_UNSUPPORTED,
                          ".ais: pipeline section: layout version %u, this library reads 1",
                          version);
    char *input = ais__cur_str(&c, "pipeline input name");
    uint64_t len = input ? ais__cur_u64(&c, "pipeline spec length") : 0;
    if (!c.st && len != c.size - c.pos)
        ais__cur_fail(&c, "the spec is %llu bytes, the section holds %zu after its header",
                      (unsigned long long)len, c.size - c.pos);
    if (c.st) {
        ais__free(input);
        return c.st;
    }
    /* One block: the input name and the spec, each NUL-terminated (len fits: it is at most the
     * section's size, which is inside the mapped file). */
    size_t in_len = strlen(input);
    char *block = ais__malloc(in_len + 1 + (size_t)len + 1);
    if (!block) {
        ais__free(input);
        ais_status st = ais__oom(in_len + (size_t)len + 2, "pipeline section");
        ais__error_prefix(".ais: pipeline section");
        return st;
    }
    memcpy(block, input, in_len + 1);
    memcpy(block + in_len + 1, c.p + c.pos, (size_t)len);
    block[in_len + 1 + len] = '\0';
    ais__free(input);
    ais_status st = ais__graph_hold(r->g, ais__section_release, block); /* frees it on failure */
    if (st != AIS_OK) {
        ais__error_prefix(".ais: pipeline section");
        return st;
    }
    r->g->pipeline_input = block;
    r->g->pipeline_spec = block + in_len + 1;
    r->g->pipeline_spec_len = (size_t)len;
    return AIS_OK;
}

ais_status ais__ais_read(const void *data, size_t size, const ais__load_opts *o, ais__graph **out) {
    *out = NULL;
    if (!data) return ais__error(AIS_E_INVALID_ARGUMENT, ".ais: data is NULL");
    if (o && size > o->max_file_bytes)
        return ais__error(AIS_E_LIMIT, ".ais: %zu bytes, more than the limit of %llu", size,
                          (unsigned long long)o->max_file_bytes);
    ais__reader r;
    memset(&r, 0, sizeof r);
    r.base = data;
    r.size = size;
    r.verify_data = o ? o->verify_data : true;
    r.source_mapped = o && o->source_mapped;
    ais_status st = ais__read_header(&r);
    if (st == AIS_OK) st = ais__read_tensors(&r);
    if (st == AIS_OK) st = ais__graph_create(&r.g);
    if (st == AIS_OK) st = ais__read_graph(&r);
    if (st == AIS_OK && (st = ais__graph_validate(r.g)) != AIS_OK)
        ais__error_prefix(".ais: graph section");
    if (st == AIS_OK) st = ais__read_meta(&r);
    if (st == AIS_OK) st = ais__read_pipeline(&r);
    if (st == AIS_OK) st = ais__read_drift(&r);
    for (uint32_t i = 0; r.tensors && i < r.n_tensors; i++)
        ais_tensor_destroy(r.tensors[i]);
    for (uint32_t i = 0; r.tensor_names && i < r.n_tensors; i++)
        ais__free(r.tensor_names[i]);
    ais__free(r.tensors);
    ais__free(r.tensor_names);
    ZSTD_freeDCtx(r.dctx);
    if (st != AIS_OK) {
        ais__graph_destroy(r.g);
        return st;
    }
    *out = r.g;
    return AIS_OK;
}

/* The DRIFT section: the reference profile's bytes, copied (the file may be unmapped before the
 * model goes) and handed on; lib/monitor parses them (ais_profile_deserialize, with its own
 * checks), called by the runtime, so lib/format stays below lib/monitor. */
static ais_status ais__read_drift(ais__reader *r) {
    if (!r->have[AIS__SEC_DRIFT]) return AIS_OK;
    const ais__span *s = &r->sec[AIS__SEC_DRIFT];
    uint8_t *copy = ais__malloc(s->size ? (size_t)s->size : 1);
    if (!copy) return ais__oom((size_t)s->size, ".ais drift section");
    memcpy(copy, r->base + s->off, (size_t)s->size);
    AIS__CHECK(ais__graph_hold(r->g, ais__section_release, copy)); /* frees it on failure */
    r->g->drift_profile = copy;
    r->g->drift_profile_len = (size_t)s->size;
    return AIS_OK;
}
