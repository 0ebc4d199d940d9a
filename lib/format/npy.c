/*
 * npy.c - NumPy .npy files
 * (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html). The header is a Python
 * dict literal; it is parsed strictly (the three keys, once each, the literal forms numpy writes)
 * rather than evaluated.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "format.h"

#define AIS__NPY_MAGIC "\x93NUMPY"
#define AIS__NPY_MAX_HEADER (1u << 20)

static const struct {
    ais_dtype dtype;
    char kind;
    int size;
} ais__npy_types[] = {
    {AIS_DTYPE_F32, 'f', 4}, {AIS_DTYPE_F64, 'f', 8}, {AIS_DTYPE_F16, 'f', 2},
    {AIS_DTYPE_I8, 'i', 1},  {AIS_DTYPE_I16, 'i', 2}, {AIS_DTYPE_I32, 'i', 4},
    {AIS_DTYPE_I64, 'i', 8}, {AIS_DTYPE_U8, 'u', 1},  {AIS_DTYPE_U16, 'u', 2},
    {AIS_DTYPE_U32, 'u', 4}, {AIS_DTYPE_U64, 'u', 8}, {AIS_DTYPE_BOOL, 'b', 1},
};

typedef struct ais__npy_parse {
    const char *s;
    size_t n, pos;
} ais__npy_parse;

static ais_status ais__npy_fail(const ais__npy_parse *p, const char *what) {
    return ais__error(AIS_E_FORMAT, ".npy: header at character %zu: expected %s", p->pos, what);
}

static void ais__npy_ws(ais__npy_parse *p) {
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n'))
        p->pos++;
}

/* Skips whitespace, then consumes `c` if it comes next. */
static bool ais__npy_eat(ais__npy_parse *p, char c) {
    ais__npy_ws(p);
    if (p->pos < p->n && p->s[p->pos] == c) {
        p->pos++;
        return true;
    }
    return false;
}

/* A quoted string (no escapes: numpy's keys and descrs never need them) into buf. */
static bool ais__npy_string(ais__npy_parse *p, char *buf, size_t cap) {
    ais__npy_ws(p);
    if (p->pos >= p->n || (p->s[p->pos] != '\'' && p->s[p->pos] != '"')) return false;
    char q = p->s[p->pos++];
    size_t k = 0;
    while (p->pos < p->n && p->s[p->pos] != q) {
        if (p->s[p->pos] == '\\' || k + 1 >= cap) return false;
        buf[k++] = p->s[p->pos++];
    }
    if (p->pos >= p->n) return false;
    p->pos++;
    buf[k] = 0;
    return true;
}

static bool ais__npy_word(ais__npy_parse *p, const char *w) {
    ais__npy_ws(p);
    size_t k = strlen(w);
    if (p->n - p->pos < k || memcmp(p->s + p->pos, w, k) != 0) return false;
    p->pos += k;
    return true;
}

typedef struct ais__npy_header {
    ais_dtype dtype;
    bool swap;
    int64_t dims[AIS_MAX_DIMS];
    size_t ndim;
} ais__npy_header;

static ais_status ais__npy_descr(const char *d, ais__npy_header *h) {
    char order = d[0];
    if ((order != '<' && order != '>' && order != '|') || !d[1] || !d[2] || d[3])
        return ais__error(AIS_E_DTYPE,
                          ".npy: descr '%s' is not a simple little- or big-endian number type", d);
    for (size_t i = 0; i < AIS__ARRAY_LEN(ais__npy_types); i++) {
        if (ais__npy_types[i].kind == d[1] && ais__npy_types[i].size == d[2] - '0') {
            h->dtype = ais__npy_types[i].dtype;
            h->swap = order == '>' && ais__npy_types[i].size > 1;
            return AIS_OK;
        }
    }
    return ais__error(AIS_E_DTYPE, ".npy: descr '%s' has no libaistack dtype", d);
}

static ais_status ais__npy_shape(ais__npy_parse *p, ais__npy_header *h) {
    if (!ais__npy_eat(p, '(')) return ais__npy_fail(p, "'(' starting the shape");
    h->ndim = 0;
    if (ais__npy_eat(p, ')')) return AIS_OK;
    for (;;) {
        ais__npy_ws(p);
        int64_t v = 0;
        size_t digits = 0;
        while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return ais__error(AIS_E_LIMIT, ".npy: a dimension of the shape is too large");
            v = v * 10 + (p->s[p->pos++] - '0');
            digits++;
        }
        if (!digits) return ais__npy_fail(p, "a non-negative integer in the shape");
        if (h->ndim == AIS_MAX_DIMS)
            return ais__error(AIS_E_LIMIT, ".npy: more than %d dimensions", AIS_MAX_DIMS);
        h->dims[h->ndim++] = v;
        /* numpy writes "(n,)" for one dimension and "(a, b)" for more */
        if (ais__npy_eat(p, ')')) return AIS_OK;
        if (!ais__npy_eat(p, ',')) return ais__npy_fail(p, "',' or ')' in the shape");
        if (ais__npy_eat(p, ')')) return AIS_OK;
    }
}

static ais_status ais__npy_parse_header(const char *s, size_t n, ais__npy_header *h) {
    ais__npy_parse p = {s, n, 0};
    bool seen[3] = {false, false, false};
    if (!ais__npy_eat(&p, '{')) return ais__npy_fail(&p, "'{'");
    while (!ais__npy_eat(&p, '}')) {
        char key[32], val[32];
        if (!ais__npy_string(&p, key, sizeof key)) return ais__npy_fail(&p, "a quoted key or '}'");
        if (!ais__npy_eat(&p, ':')) return ais__npy_fail(&p, "':'");
        int k = !strcmp(key, "descr")           ? 0
                : !strcmp(key, "fortran_order") ? 1
                : !strcmp(key, "shape")         ? 2
                                                : -1;
        if (k < 0) return ais__error(AIS_E_FORMAT, ".npy: unknown header key '%s'", key);
        if (seen[k]) return ais__error(AIS_E_FORMAT, ".npy: header key '%s' appears twice", key);
        seen[k] = true;
        if (k == 0) {
            if (!ais__npy_string(&p, val, sizeof val))
                return ais__npy_fail(&p,
                                     "a short quoted descr (structured dtypes are not supported)");
            AIS__CHECK(ais__npy_descr(val, h));
        } else if (k == 1) {
            if (ais__npy_word(&p, "True"))
                return ais__error(AIS_E_UNSUPPORTED,
                                  ".npy: Fortran-order arrays are not supported; save a C-order "
                                  "array (numpy.ascontiguousarray)");
            if (!ais__npy_word(&p, "False")) return ais__npy_fail(&p, "True or False");
        } else {
            AIS__CHECK(ais__npy_shape(&p, h));
        }
        if (!ais__npy_eat(&p, ',')) {
            if (!ais__npy_eat(&p, '}')) return ais__npy_fail(&p, "',' or '}'");
            break;
        }
    }
    ais__npy_ws(&p);
    if (p.pos != n) return ais__npy_fail(&p, "only spaces and a newline after the dict");
    if (!seen[0] || !seen[1] || !seen[2])
        return ais__error(AIS_E_FORMAT, ".npy: header lacks '%s'",
                          !seen[0]   ? "descr"
                          : !seen[1] ? "fortran_order"
                                     : "shape");
    return AIS_OK;
}

static void ais__npy_swap(uint8_t *p, size_t numel, size_t es) {
    for (size_t i = 0; i < numel; i++, p += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

ais_status ais__npy_read(const void *data, size_t size, ais_tensor **out) {
    *out = NULL;
    const uint8_t *b = data;
    if (!b || size < 10 || memcmp(b, AIS__NPY_MAGIC, 6) != 0)
        return ais__error(AIS_E_FORMAT, ".npy: missing the \\x93NUMPY magic (%zu bytes)", size);
    uint8_t major = b[6], minor = b[7];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)b[8] | ((size_t)b[9] << 8);
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return ais__error(AIS_E_FORMAT, ".npy: truncated header (%zu bytes)", size);
        hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
        hstart = 12;
    } else {
        return ais__error(AIS_E_UNSUPPORTED, ".npy: format version %u.%u, expected 1.0 to 3.0",
                          major, minor);
    }
    if (minor != 0)
        return ais__error(AIS_E_UNSUPPORTED, ".npy: format version %u.%u, expected %u.0", major,
                          minor, major);
    if (hlen > AIS__NPY_MAX_HEADER)
        return ais__error(AIS_E_LIMIT, ".npy: a header of %zu bytes, the limit is %u", hlen,
                          AIS__NPY_MAX_HEADER);
    if (hlen > size - hstart)
        return ais__error(AIS_E_FORMAT, ".npy: truncated: the header needs %zu bytes, %zu remain",
                          hlen, size - hstart);
    if (memchr(b + hstart, 0, hlen))
        return ais__error(AIS_E_FORMAT, ".npy: the header contains a NUL byte");
    ais__npy_header h;
    memset(&h, 0, sizeof h);
    AIS__CHECK(ais__npy_parse_header((const char *)b + hstart, hlen, &h));
    size_t es = ais_dtype_size(h.dtype), numel;
    if (!ais__shape_numel(h.dims, h.ndim, es, &numel)) {
        char buf[AIS__SHAPE_STR_MAX];
        return ais__error(AIS_E_LIMIT, ".npy: shape %s is too large",
                          ais__shape_str(h.dims, h.ndim, buf, sizeof buf));
    }
    size_t body = size - hstart - hlen;
    if (body != numel * es) {
        char buf[AIS__SHAPE_STR_MAX];
        return ais__error(AIS_E_FORMAT,
                          ".npy: shape %s of %s needs %zu data bytes, the file has %zu",
                          ais__shape_str(h.dims, h.ndim, buf, sizeof buf), ais_dtype_name(h.dtype),
                          numel * es, body);
    }
    ais_tensor *t;
    AIS__CHECK(ais__tensor_new(h.dtype, h.dims, h.ndim, &t));
    if (body) memcpy(t->data, b + hstart + hlen, body);
    if (h.swap) ais__npy_swap(t->data, numel, es);
    if (h.dtype == AIS_DTYPE_BOOL) /* our bools are 0 or 1; numpy's should be too */
        for (size_t i = 0; i < numel; i++)
            ((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
    *out = t;
    return AIS_OK;
}

ais_status ais__npy_write(const ais_tensor *t, const char *path) {
    if (!t || !path)
        return ais__error(AIS_E_INVALID_ARGUMENT, ".npy write: tensor or path is NULL");
    const char *descr = NULL;
    char code[4];
    for (size_t i = 0; i < AIS__ARRAY_LEN(ais__npy_types); i++) {
        if (ais__npy_types[i].dtype == t->dtype) {
            code[0] = ais__npy_types[i].size == 1 ? '|' : '<';
            code[1] = ais__npy_types[i].kind;
            code[2] = (char)('0' + ais__npy_types[i].size);
            code[3] = 0;
            descr = code;
        }
    }
    if (!descr)
        return ais__error(AIS_E_DTYPE, "%s: .npy has no %s type%s", path, ais_dtype_name(t->dtype),
                          t->dtype == AIS_DTYPE_BF16 ? "; convert the tensor to f32 first" : "");
    char dict[512];
    int n =
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (uint32_t i = 0; i < t->ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, i ? ", %lld" : "%lld",
                      (long long)t->dims[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", t->ndim == 1 ? "," : "");
    /* magic(6) + version(2) + length(2) + dict + spaces + '\n', a multiple of 64 in all */
    size_t total = ((size_t)10 + (size_t)n + 1 + 63) / 64 * 64;
    uint8_t header[640];
    memset(header, ' ', total);
    memcpy(header, AIS__NPY_MAGIC "\x01\x00", 8);
    header[8] = (uint8_t)((total - 10) & 0xff);
    header[9] = (uint8_t)((total - 10) >> 8);
    memcpy(header + 10, dict, (size_t)n);
    header[total - 1] = '\n';
    int fd;
    AIS__CHECK(ais__create_regular(path, ".npy file", &fd));
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        int err = errno;
        close(fd);
        return ais__error(AIS_E_IO, "%s: cannot create: %s", path, strerror(err));
    }
    bool ok = fwrite(header, 1, total, fp) == total &&
              (t->nbytes == 0 || fwrite(t->data, 1, t->nbytes, fp) == t->nbytes);
    int err = errno;
    if (fclose(fp) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        remove(path);
        return ais__error(AIS_E_IO, "%s: cannot write: %s", path, strerror(err));
    }
    return AIS_OK;
}
