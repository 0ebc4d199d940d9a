/*
 * model_file.c - the reader table: which reader a file needs, by content and never by its
 * name, and the "format" metadata of what was loaded. Loading a model from a file or from memory
 * and loading a tensor file all go through ais__format_sniff, so adding a format is one row.
 */
#include "format.h"

#include <stdio.h>
#include <string.h>

static bool ais__starts_with(const uint8_t *p, size_t n, const char *lit) {
    size_t k = strlen(lit);
    return n >= k && memcmp(p, lit, k) == 0;
}

/* How many bytes the content checks look at. */
#define AIS__SNIFF_WINDOW 512

/* Valid UTF-8 without control characters other than tab, CR, LF and form feed in the first
 * AIS__SNIFF_WINDOW bytes (a sequence cut by the window counts as valid). Binary formats give
 * themselves away within a few bytes: every ONNX file has small varints (field keys 0x08, 0x12,
 * element types 1..16) long before this window ends. */
static bool ais__looks_like_text(const uint8_t *p, size_t n) {
    if (n > AIS__SNIFF_WINDOW) n = AIS__SNIFF_WINDOW;
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7f)
                return false;
            i++;
            continue;
        }
        size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0 || c == 0xc0 || c == 0xc1 || c > 0xf4) return false;
        for (size_t k = 1; k < len; k++)
            if (i + k < n && (p[i + k] & 0xc0) != 0x80) return false;
        i += len;
    }
    return n > 0;
}

static bool ais__sniff_ais(const uint8_t *p, size_t n) { return ais__ais_sniff(p, n); }

static bool ais__sniff_npy(const uint8_t *p, size_t n) {
    return ais__starts_with(p, n, "\x93NUMPY");
}

/* A protobuf ModelProto never starts with '{' (field 15, wire type 3 is a deprecated group), so
 * this does not steal ONNX files. */
static bool ais__sniff_xgboost(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i < n && p[i] == '{';
}

static bool ais__sniff_lightgbm(const uint8_t *p, size_t n) {
    return ais__starts_with(p, n, "tree\n") || ais__starts_with(p, n, "tree\r\n") ||
           ais__starts_with(p, n, "version=");
}

/* Files people pass by mistake whose first bytes happen to be a valid protobuf key. */
static const char *ais__other_magic(const uint8_t *p, size_t n) {
    static const struct {
        const char *magic;
        size_t len;
        const char *what;
    } others[] = {
        {"PK\x03\x04", 4, "a zip archive (a PyTorch .pt or NumPy .npz file?)"},
        {"\x1f\x8b", 2, "gzip-compressed"},
        {"\x28\xb5\x2f\xfd", 4, "zstd-compressed"},
        {"\x89HDF\r\n\x1a\n", 8, "an HDF5 file (a Keras .h5 model?)"},
        {"\x7f"
         "ELF",
         4, "an ELF executable or library"},
    };
    for (size_t i = 0; i < AIS__ARRAY_LEN(others); i++)
        if (n >= others[i].len && memcmp(p, others[i].magic, others[i].len) == 0)
            return others[i].what;
    if (n >= 2 && p[0] == 0x80 && p[1] >= 2 && p[1] <= 5)
        return "a Python pickle (a PyTorch or scikit-learn dump?)";
    return NULL;
}

/* The first field key of a protobuf message: a varint whose field number is not 0 and whose
 * wire type is one that proto3 writes (groups, 3 and 4, are never written by ONNX). And not
 * text, which can start with any byte that happens to be a valid key. */
static bool ais__sniff_protobuf(const uint8_t *p, size_t n) {
    uint64_t key = 0;
    size_t i = 0;
    for (; i < n && i < 5; i++) {
        key |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) break;
    }
    if (i == n || i == 5) return false;
    uint32_t wire = (uint32_t)(key & 7);
    return (key >> 3) != 0 && (wire == 0 || wire == 1 || wire == 2 || wire == 5) &&
           !ais__looks_like_text(p, n) && !ais__other_magic(p, n);
}

static ais_status ais__read_onnx(const void *data, size_t size, const char *base_dir,
                                 const ais__load_opts *o, ais__graph **out) {
    return ais__onnx_read(data, size, base_dir ? base_dir : ".", o, out);
}

static ais_status ais__read_ais(const void *data, size_t size, const char *base_dir,
                                const ais__load_opts *o, ais__graph **out) {
    (void)base_dir;
    return ais__ais_read(data, size, o, out);
}

static ais_status ais__read_xgboost(const void *data, size_t size, const char *base_dir,
                                    const ais__load_opts *o, ais__graph **out) {
    (void)base_dir;
    return ais__xgboost_read(data, size, o, out);
}

static ais_status ais__read_lightgbm(const void *data, size_t size, const char *base_dir,
                                     const ais__load_opts *o, ais__graph **out) {
    (void)base_dir;
    return ais__lightgbm_read(data, size, o, out);
}

static ais_status ais__read_tensorproto(const void *data, size_t size, ais_tensor **out) {
    return ais__tensorproto_read(data, size, out, NULL);
}

/* In sniffing order: exact magics first, then the text formats, then protobuf, whose sniff is
 * the weakest. ONNX and TensorProto share it; a model load only looks at model rows and a tensor
 * load only at tensor rows. */
static const ais__format_reader ais__readers[] = {
    {"ais", "a native .ais model", ais__sniff_ais, ais__read_ais, NULL},
    {"npy", "a NumPy .npy tensor", ais__sniff_npy, NULL, ais__npy_read},
    {"xgboost", "an XGBoost JSON model", ais__sniff_xgboost, ais__read_xgboost, NULL},
    {"lightgbm", "a LightGBM text model", ais__sniff_lightgbm, ais__read_lightgbm, NULL},
    {"onnx", "an ONNX model", ais__sniff_protobuf, ais__read_onnx, NULL},
    {"tensorproto", "an ONNX TensorProto", ais__sniff_protobuf, NULL, ais__read_tensorproto},
};

const ais__format_reader *ais__format_sniff(const void *data, size_t size, bool model) {
    if (!data || size == 0) return NULL;
    for (size_t i = 0; i < AIS__ARRAY_LEN(ais__readers); i++) {
        const ais__format_reader *r = &ais__readers[i];
        if ((model ? r->read_model != NULL : r->read_tensor != NULL) && r->sniff(data, size))
            return r;
    }
    return NULL;
}

const ais__format_reader *ais__format_find(const char *name) {
    for (size_t i = 0; name && i < AIS__ARRAY_LEN(ais__readers); i++)
        if (strcmp(ais__readers[i].name, name) == 0) return &ais__readers[i];
    return NULL;
}

/* What the bytes look like, for the message when no reader of the wanted kind claims them. */
static void ais__describe(const uint8_t *p, size_t n, bool model, char *buf, size_t cap) {
    for (size_t i = 0; i < AIS__ARRAY_LEN(ais__readers); i++) {
        const ais__format_reader *r = &ais__readers[i];
        if ((model ? r->read_model == NULL : r->read_tensor == NULL) && r->sniff(p, n) &&
            strcmp(r->name, "tensorproto") != 0 && strcmp(r->name, "onnx") != 0) {
            if (!strcmp(r->name, "npy"))
                snprintf(buf, cap, "the file starts with the NumPy magic: it is %s", r->what);
            else
                snprintf(buf, cap, "the file is %s", r->what);
            return;
        }
    }
    const char *other = ais__other_magic(p, n);
    if (other) {
        snprintf(buf, cap, "the file is %s", other);
        return;
    }
    if (n >= 6 && ((p[0] == 0x93 && memcmp(p + 1, "NUM", 3) == 0) ||
                   memcmp(p + 1, "NUMPY", 5) == 0 || memcmp(p, "NUMPY", 5) == 0)) {
        snprintf(buf, cap,
                 "the file starts like a NumPy .npy file with a damaged magic "
                 "(expected \\x93NUMPY)");
        return;
    }
    if (ais__looks_like_text(p, n)) {
        /* the first line, cut short, with anything odd replaced */
        char first[41];
        size_t k = 0;
        for (size_t i = 0; i < n && k + 1 < sizeof first && p[i] != '\n' && p[i] != '\r'; i++)
            first[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
        first[k] = 0;
        snprintf(buf, cap, "the file looks like text (\"%s%s\")", first,
                 k + 1 == sizeof first ? "..." : "");
        return;
    }
    char hex[3 * 8 + 1] = "";
    size_t k = 0;
    for (size_t i = 0; i < n && i < 8; i++)
        k += (size_t)snprintf(hex + k, sizeof hex - k, "%s%02x", i ? " " : "", p[i]);
    snprintf(buf, cap, "the file does not start like a protobuf message (first bytes: %s)", hex);
}

ais_status ais__format_unknown(const void *data, size_t size, bool model) {
    char what[160];
    ais__describe(data, size, model, what, sizeof what);
    if (model)
        return ais__error(AIS_E_FORMAT,
                          "not an ONNX model: %s (models are ONNX, .ais, XGBoost JSON or "
                          "LightGBM text)",
                          what);
    return ais__error(AIS_E_FORMAT,
                      "not a tensor file: %s (tensors are NumPy .npy or ONNX TensorProto .pb)",
                      what);
}

ais_status ais__model_read_memory(const void *data, size_t size, const char *base_dir,
                                  const ais__load_opts *o, ais__graph **out) {
    *out = NULL;
    ais__load_opts dflt;
    if (!o) {
        ais__load_opts_default(&dflt);
        o = &dflt;
    }
    if (!data || size == 0) return ais__error(AIS_E_FORMAT, "model is empty (0 bytes)");
    if (size > o->max_file_bytes)
        return ais__error(AIS_E_LIMIT, "model has %zu bytes, more than the limit of %llu", size,
                          (unsigned long long)o->max_file_bytes);
    const ais__format_reader *r = ais__format_sniff(data, size, true);
    if (!r) return ais__format_unknown(data, size, true);
    ais__graph *g = NULL;
    AIS__CHECK(r->read_model(data, size, base_dir, o, &g));
    /* The table names the format; a "format" key inside the file (a forged .ais) loses. */
    ais_status st = ais__graph_set_meta(g, "format", r->name);
    if (st != AIS_OK) {
        ais__graph_destroy(g);
        return st;
    }
    *out = g;
    return AIS_OK;
}

/* The folder of `path` ("." when it has none), for ONNX external data. */
static char *ais__dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return ais__strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = ais__malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = 0;
    return d;
}

ais_status ais__model_read_file(const char *path, const ais__load_opts *o, ais__graph **out) {
    *out = NULL;
    if (!path) return ais__error(AIS_E_INVALID_ARGUMENT, "model path is NULL");
    ais__load_opts dflt;
    if (!o) {
        ais__load_opts_default(&dflt);
        o = &dflt;
    }
    ais__file *f = NULL;
    AIS__CHECK(ais__file_open(path, o->max_file_bytes, o->map_weights, &f));
    char *dir = ais__dirname(path);
    if (!dir) {
        ais__file_close(f);
        return ais__oom(strlen(path) + 1, "model folder");
    }
    ais__load_opts mine = *o;
    mine.source_mapped = f->mapped;
    ais__graph *g = NULL;
    ais_status st = ais__model_read_memory(f->data, f->size, dir, &mine, &g);
    ais__free(dir);
    if (st != AIS_OK) {
        ais__file_close(f);
        ais__error_prefix("%s", path);
        return st;
    }
    /* Constants may point into the bytes: the graph keeps them (and closes them on failure). */
    if ((st = ais__graph_hold(g, ais__file_release, f)) != AIS_OK) {
        ais__graph_destroy(g);
        return st;
    }
    *out = g;
    return AIS_OK;
}
