/* onnx_tensor.c - ONNX TensorProto into ais_tensor, borrowing raw data in place when it can. */
#include "onnx_tensor.h"

#include <string.h>

enum {
    AIS__TP_DIMS = 1,
    AIS__TP_DATA_TYPE = 2,
    AIS__TP_SEGMENT = 3,
    AIS__TP_FLOAT_DATA = 4,
    AIS__TP_INT32_DATA = 5,
    AIS__TP_STRING_DATA = 6,
    AIS__TP_INT64_DATA = 7,
    AIS__TP_NAME = 8,
    AIS__TP_RAW_DATA = 9,
    AIS__TP_DOUBLE_DATA = 10,
    AIS__TP_UINT64_DATA = 11,
    AIS__TP_EXTERNAL_DATA = 13,
    AIS__TP_DATA_LOCATION = 14,
    AIS__TP_NFIELDS = 15
};

static bool ais__host_little_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void ais__onnx_ext_finish(ais__onnx_ext *e) {
    if (!e) return;
    for (size_t i = 0; i < e->n_files; i++)
        ais__free(e->files[i].location);
    ais__free(e->files);
    e->files = NULL;
    e->n_files = 0;
}

ais_status ais__onnx_tensor_from_bytes(ais__onnx_ext *ext, bool borrow, ais_dtype dtype,
                                       const int64_t *dims, size_t ndim, const uint8_t *data,
                                       size_t nbytes, ais_tensor **out) {
    *out = NULL;
    size_t es = ais_dtype_size(dtype);
    /* Unaligned element access is undefined in C (and trapped by UBSan), so misaligned raw data
     * is copied; protobuf gives no alignment, but exporters often land on 4-byte boundaries. */
    if (borrow && nbytes > 0 && es && (uintptr_t)data % es == 0) {
        ais_tensor *t = ais__malloc(sizeof *t);
        if (!t) return ais__oom(sizeof *t, "tensor");
        ais__tensor_init_borrowed(t, dtype, dims, ndim, (void *)(uintptr_t)data);
        if (ext) ext->borrowed += nbytes;
        *out = t;
        return AIS_OK;
    }
    ais_tensor *t;
    AIS__CHECK(ais__tensor_new(dtype, dims, ndim, &t));
    if (t->nbytes != nbytes) {
        ais_tensor_destroy(t);
        return ais__error(AIS_E_INTERNAL, "tensor of %zu bytes from %zu bytes of data", t->nbytes,
                          nbytes);
    }
    if (nbytes) memcpy(t->data, data, nbytes);
    if (ext) ext->copied += nbytes;
    *out = t;
    return AIS_OK;
}

/* Which typed field holds the values of `dtype` when raw_data is absent (onnx.proto). */
static int ais__typed_field(ais_dtype dtype, ais__pb_kind *kind, const char **fname) {
    switch (dtype) {
    case AIS_DTYPE_F32:
        *kind = AIS__PB_K_FIXED32;
        *fname = "float_data";
        return AIS__TP_FLOAT_DATA;
    case AIS_DTYPE_I64:
        *kind = AIS__PB_K_VARINT;
        *fname = "int64_data";
        return AIS__TP_INT64_DATA;
    case AIS_DTYPE_F64:
        *kind = AIS__PB_K_FIXED64;
        *fname = "double_data";
        return AIS__TP_DOUBLE_DATA;
    case AIS_DTYPE_U32:
    case AIS_DTYPE_U64:
        *kind = AIS__PB_K_VARINT;
        *fname = "uint64_data";
        return AIS__TP_UINT64_DATA;
    default: /* i32, i16, i8, u16, u8, bool, f16 and bf16 (as bit patterns) */
        *kind = AIS__PB_K_VARINT;
        *fname = "int32_data";
        return AIS__TP_INT32_DATA;
    }
}

static void ais__store_bits(void *data, ais_dtype dtype, size_t i, uint64_t v) {
    switch (ais_dtype_size(dtype)) {
    case 1: {
        uint8_t b = dtype == AIS_DTYPE_BOOL ? (uint8_t)(v != 0) : (uint8_t)v;
        ((uint8_t *)data)[i] = b;
        break;
    }
    case 2: {
        uint16_t h = (uint16_t)v;
        memcpy((uint8_t *)data + 2 * i, &h, 2);
        break;
    }
    case 4: {
        uint32_t w = (uint32_t)v;
        memcpy((uint8_t *)data + 4 * i, &w, 4);
        break;
    }
    default: memcpy((uint8_t *)data + 8 * i, &v, 8); break;
    }
}

/* A decimal uint64 from the bytes of an external_data value. */
static bool ais__parse_u64(const uint8_t *s, size_t n, uint64_t *out) {
    if (n == 0 || n > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
            return false;
    }
    *out = v;
    return true;
}

static bool ais__key_is(const ais__pb_field *f, const char *key) {
    size_t n = strlen(key);
    return f->len == n && memcmp(f->data, key, n) == 0;
}

static ais_status ais__tensor_external(const ais__pb *msg, ais__onnx_ext *ext, const char *tname,
                                       ais_dtype dtype, const int64_t *dims, size_t ndim,
                                       size_t nbytes, ais_tensor **out) {
    if (!ext || !ext->base_dir)
        return ais__error(AIS_E_UNSUPPORTED,
                          "tensor '%s': external data is not supported here (no base folder)",
                          tname);
    ais__pb r = *msg;
    ais__pb_field f;
    bool has;
    char *location = NULL;
    uint64_t offset = 0, length = 0;
    bool has_length = false;
    ais_status st = AIS_OK;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        if (f.number != AIS__TP_EXTERNAL_DATA) continue;
        ais__pb e;
        if ((st = ais__pb_sub(&r, &f, &e)) != AIS_OK) break;
        ais__pb_field kf = {0}, vf = {0}, x = {0};
        bool has_k = false, has_v = false, more;
        while ((st = ais__pb_next(&e, &x, &more)) == AIS_OK && more) {
            if (x.number == 1 && x.wire == AIS__PB_LEN) kf = x, has_k = true;
            if (x.number == 2 && x.wire == AIS__PB_LEN) vf = x, has_v = true;
        }
        if (st != AIS_OK) break;
        if (!has_k || !has_v) {
            st = ais__error(AIS_E_FORMAT,
                            "tensor '%s': external_data entry at offset %zu lacks a %s", tname,
                            f.offset, has_k ? "value" : "key");
            break;
        }
        if (ais__key_is(&kf, "location")) {
            ais__free(location);
            if ((st = ais__pb_strdup(&r, &vf, AIS__ONNX_MAX_PATH, &location)) != AIS_OK) break;
        } else if (ais__key_is(&kf, "offset") || ais__key_is(&kf, "length")) {
            bool is_off = ais__key_is(&kf, "offset");
            if (!ais__parse_u64(vf.data, vf.len, is_off ? &offset : &length)) {
                st = ais__error(AIS_E_FORMAT,
                                "tensor '%s': external_data %s at offset %zu is not a decimal "
                                "number below 2^64",
                                tname, is_off ? "offset" : "length", vf.offset);
                break;
            }
            if (!is_off) has_length = true;
        }
        /* checksum and unknown keys are ignored, as onnx does */
    }
    if (st == AIS_OK && !location)
        st = ais__error(AIS_E_FORMAT, "tensor '%s': external data without a location", tname);
    if (st == AIS_OK) {
        st = ais__onnx_external(ext, location, offset, has_length, length, dtype, dims, ndim,
                                nbytes, out);
        if (st != AIS_OK) ais__error_prefix("tensor '%s'", tname);
    }
    ais__free(location);
    return st;
}

/* string_data: one LEN field per element, each a copy owned by the tensor. */
static ais_status ais__tensor_strings(const ais__pb *msg, const char *tname, const int64_t *dims,
                                      size_t ndim, size_t numel, const size_t *counts,
                                      ais_tensor **out) {
    if (counts[AIS__TP_STRING_DATA] != numel)
        return ais__error(AIS_E_FORMAT,
                          "tensor '%s': its dims need %zu strings, got %zu in "
                          "string_data",
                          tname, numel, counts[AIS__TP_STRING_DATA]);
    ais_tensor *t;
    AIS__CHECK(ais__tensor_new(AIS_DTYPE_STRING, dims, ndim, &t));
    ais__pb r = *msg;
    ais__pb_field f;
    bool has;
    size_t i = 0;
    ais_status st;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has && i < numel) {
        if (f.number != AIS__TP_STRING_DATA) continue;
        if ((st = ais__pb_strdup(&r, &f, AIS__ONNX_MAX_STRING, &ais__strs(t)[i])) != AIS_OK) break;
        i++;
    }
    if (st != AIS_OK) {
        ais_tensor_destroy(t);
        ais__error_prefix("tensor '%s'", tname);
        return st;
    }
    *out = t;
    return AIS_OK;
}

static ais_status ais__tensor_typed(const ais__pb *msg, const char *tname, ais_dtype dtype,
                                    const int64_t *dims, size_t ndim, size_t numel,
                                    const size_t *counts, ais_tensor **out) {
    ais__pb_kind kind;
    const char *fname;
    int field = ais__typed_field(dtype, &kind, &fname);
    if (counts[field] != numel) {
        size_t es = ais_dtype_size(dtype);
        return ais__error(AIS_E_FORMAT,
                          "tensor '%s': its dims need %zu values (%zu bytes of %s), got %zu in "
                          "%s and no raw_data",
                          tname, numel, numel * es, ais_dtype_name(dtype), counts[field], fname);
    }
    ais_tensor *t;
    AIS__CHECK(ais__tensor_new(dtype, dims, ndim, &t));
    ais__pb r = *msg;
    ais__pb_field f;
    bool has;
    size_t i = 0;
    ais_status st;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        if (f.number != (uint32_t)field) continue;
        size_t n;
        if ((st = ais__pb_scalar_count(&r, &f, kind, &n)) != AIS_OK) break;
        ais__pb_iter it;
        ais__pb_iter_init(&r, &f, kind, &it);
        for (size_t k = 0; k < n && i < numel && st == AIS_OK; k++, i++) {
            uint64_t v;
            if ((st = ais__pb_iter_next(&it, &v)) == AIS_OK) ais__store_bits(t->data, dtype, i, v);
        }
        if (st != AIS_OK) break;
    }
    if (st != AIS_OK) {
        ais_tensor_destroy(t);
        return st;
    }
    *out = t;
    return AIS_OK;
}

/* 4-bit integers: ONNX packs two per byte, low nibble first (raw_data, external data, or one
 * byte per int32_data value); in memory they are one per byte, INT4 sign-extended. The packed
 * bytes are read as a u8 tensor of ceil(numel / 2) elements, then spread out. */
static ais_status ais__tensor_int4(const ais__pb *msg, ais__onnx_ext *ext, const char *tname,
                                   const ais__pb_field *raw, uint64_t location, ais_dtype dtype,
                                   const int64_t *dims, size_t ndim, size_t numel,
                                   const size_t *counts, ais_tensor **out) {
    size_t packed_n = numel / 2 + numel % 2;
    int64_t pdim = (int64_t)packed_n;
    ais_tensor *packed = NULL, *t = NULL;
    ais_status st;
    if (location == 1) {
        st = ais__tensor_external(msg, ext, tname, AIS_DTYPE_U8, &pdim, 1, packed_n, &packed);
    } else if (location != 0) {
        st = ais__error(AIS_E_FORMAT, "tensor '%s': data_location %llu is neither 0 nor 1", tname,
                        (unsigned long long)location);
    } else if (raw) {
        if (raw->len != packed_n)
            st = ais__error(AIS_E_FORMAT,
                            "tensor '%s': %zu elements of %s need %zu packed bytes, raw_data at "
                            "offset %zu has %zu",
                            tname, numel, ais_dtype_name(dtype), packed_n, raw->offset, raw->len);
        else
            st = ais__onnx_tensor_from_bytes(NULL, true, AIS_DTYPE_U8, &pdim, 1, raw->data,
                                             raw->len, &packed);
    } else if (counts[AIS__TP_INT32_DATA] != packed_n) {
        st = ais__error(AIS_E_FORMAT,
                        "tensor '%s': %zu elements of %s need %zu packed int32_data values, got "
                        "%zu and no raw_data",
                        tname, numel, ais_dtype_name(dtype), packed_n, counts[AIS__TP_INT32_DATA]);
    } else {
        st = ais__tensor_typed(msg, tname, AIS_DTYPE_U8, &pdim, 1, packed_n, counts, &packed);
    }
    if (st == AIS_OK) st = ais__tensor_new(dtype, dims, ndim, &t);
    if (st == AIS_OK) {
        const uint8_t *src = packed->data;
        uint8_t *dst = t->data;
        for (size_t i = 0; i < numel; i++) {
            uint8_t v = (uint8_t)((src[i / 2] >> (4 * (i % 2))) & 0x0f);
            dst[i] = dtype == AIS_DTYPE_I4 && (v & 8) ? (uint8_t)(v | 0xf0) : v;
        }
        *out = t;
    }
    ais_tensor_destroy(packed);
    return st;
}

ais_status ais__onnx_tensor_read(const ais__pb *msg, ais__onnx_ext *ext, bool borrow,
                                 ais_tensor **out, char **name) {
    *out = NULL;
    if (name) *name = NULL;
    int64_t dims[AIS_MAX_DIMS];
    size_t ndim = 0, counts[AIS__TP_NFIELDS] = {0};
    uint64_t data_type = 0, location = 0;
    bool has_raw = false, has_name = false;
    ais__pb_field raw = {0}, namef = {0}, f;
    ais__pb r = *msg;
    bool has;
    ais_status st;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        switch (f.number) {
        case AIS__TP_DIMS: {
            size_t n;
            AIS__CHECK(ais__pb_scalar_count(&r, &f, AIS__PB_K_VARINT, &n));
            if (n > AIS_MAX_DIMS - ndim)
                return ais__error(AIS_E_LIMIT, "tensor at offset %zu: more than %d dims", f.offset,
                                  AIS_MAX_DIMS);
            ais__pb_iter it;
            ais__pb_iter_init(&r, &f, AIS__PB_K_VARINT, &it);
            for (size_t k = 0; k < n; k++) {
                uint64_t v;
                AIS__CHECK(ais__pb_iter_next(&it, &v));
                if ((int64_t)v < 0)
                    return ais__error(AIS_E_FORMAT, "tensor at offset %zu: negative dim %lld",
                                      f.offset, (long long)(int64_t)v);
                dims[ndim++] = (int64_t)v;
            }
            break;
        }
        case AIS__TP_DATA_TYPE:
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_VARINT, "data_type"));
            data_type = f.v;
            break;
        case AIS__TP_SEGMENT:
            return ais__error(AIS_E_UNSUPPORTED,
                              "tensor at offset %zu: segmented tensors are not supported",
                              f.offset);
        case AIS__TP_FLOAT_DATA:
        case AIS__TP_INT32_DATA:
        case AIS__TP_INT64_DATA:
        case AIS__TP_DOUBLE_DATA:
        case AIS__TP_UINT64_DATA: {
            ais__pb_kind kind = f.number == AIS__TP_FLOAT_DATA    ? AIS__PB_K_FIXED32
                                : f.number == AIS__TP_DOUBLE_DATA ? AIS__PB_K_FIXED64
                                                                  : AIS__PB_K_VARINT;
            size_t n;
            AIS__CHECK(ais__pb_scalar_count(&r, &f, kind, &n));
            counts[f.number] += n; /* bounded by the input size: no overflow */
            break;
        }
        case AIS__TP_STRING_DATA:
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_LEN, "string_data"));
            counts[f.number]++;
            break;
        case AIS__TP_NAME:
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_LEN, "name"));
            namef = f;
            has_name = true;
            break;
        case AIS__TP_RAW_DATA:
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_LEN, "raw_data"));
            raw = f;
            has_raw = true;
            break;
        case AIS__TP_DATA_LOCATION:
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_VARINT, "data_location"));
            location = f.v;
            break;
        default: break;
        }
    }
    AIS__CHECK(st);

    char *tname = NULL;
    if (has_name) AIS__CHECK(ais__pb_strdup(&r, &namef, AIS__ONNX_MAX_NAME, &tname));
    const char *shown = tname && tname[0] ? tname : "(unnamed)";
    size_t es = data_type <= 64 ? ais_dtype_size((ais_dtype)data_type) : 0;
    size_t numel = 1, nbytes = 0;
    ais_tensor *t = NULL;
    if (data_type == AIS_DTYPE_UNDEFINED) {
        st = ais__error(AIS_E_FORMAT, "tensor '%s': data_type is missing", shown);
    } else if (es == 0) {
        st = ais__error(AIS_E_UNSUPPORTED, "tensor '%s': data type %llu is not supported", shown,
                        (unsigned long long)data_type);
    } else {
        for (size_t i = 0; i < ndim && st == AIS_OK; i++)
            if (!ais__mul_size(numel, (size_t)dims[i], &numel))
                st = ais__error(AIS_E_LIMIT, "tensor '%s': element count overflows", shown);
        if (st == AIS_OK && !ais__mul_size(numel, es, &nbytes))
            st = ais__error(AIS_E_LIMIT, "tensor '%s': byte size overflows", shown);
    }
    if (st == AIS_OK) st = ais__shape_validate(dims, ndim, (ais_dtype)data_type, shown);
    if (st != AIS_OK) {
        /* fall through to cleanup */
    } else if (data_type == AIS_DTYPE_STRING) {
        if (location != 0 || has_raw)
            st = ais__error(AIS_E_FORMAT,
                            "tensor '%s': string tensors keep their values in "
                            "string_data, not raw or external data",
                            shown);
        else
            st = ais__tensor_strings(msg, shown, dims, ndim, numel, counts, &t);
    } else if (ais__dtype_is_int4((ais_dtype)data_type)) {
        st = ais__tensor_int4(msg, ext, shown, has_raw ? &raw : NULL, location,
                              (ais_dtype)data_type, dims, ndim, numel, counts, &t);
    } else if (location == 1) {
        st = ais__tensor_external(msg, ext, shown, (ais_dtype)data_type, dims, ndim, nbytes, &t);
    } else if (location != 0) {
        st = ais__error(AIS_E_FORMAT, "tensor '%s': data_location %llu is neither 0 nor 1", shown,
                        (unsigned long long)location);
    } else if (has_raw) {
        if (raw.len != nbytes)
            st = ais__error(AIS_E_FORMAT,
                            "tensor '%s': dims need %zu bytes of %s, raw_data at offset %zu has "
                            "%zu",
                            shown, nbytes, ais_dtype_name((ais_dtype)data_type), raw.offset,
                            raw.len);
        else if (!ais__host_little_endian())
            st = ais__error(AIS_E_UNSUPPORTED, "tensor '%s': big-endian hosts are not supported",
                            shown);
        else if ((st = ais__onnx_tensor_from_bytes(ext, borrow, (ais_dtype)data_type, dims, ndim,
                                                   raw.data, raw.len, &t)) == AIS_OK &&
                 t->storage && ext && ext->source_mapped)
            /* Copied (misaligned): the mapped source pages would otherwise stay resident
             * next to the copy, up to twice the weights' size while loading. */
            ais__drop_pages(raw.data, raw.len);
    } else {
        st = ais__tensor_typed(msg, shown, (ais_dtype)data_type, dims, ndim, numel, counts, &t);
    }
    if (st != AIS_OK) {
        ais__free(tname);
        return st;
    }
    *out = t;
    if (name)
        *name = tname;
    else
        ais__free(tname);
    return AIS_OK;
}
