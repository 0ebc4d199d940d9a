/* model_file.c - which reader a model file needs (by content, never by extension). */
#include "format.h"

#include <string.h>

static bool ais__starts_with(const uint8_t *p, size_t n, const char *lit) {
    size_t k = strlen(lit);
    return n >= k && memcmp(p, lit, k) == 0;
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
    const uint8_t *p = data;
    if (ais__ais_sniff(p, size)) return ais__ais_read(p, size, o, out);
    /* A protobuf ModelProto never starts with '{' (field 15, wire type 3 is a deprecated group)
     * nor with ASCII text like LightGBM's first line, so these tests do not steal ONNX files. */
    size_t i = 0;
    while (i < size && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i < size && p[i] == '{') return ais__xgboost_read(p, size, o, out);
    if (ais__starts_with(p, size, "tree\n") || ais__starts_with(p, size, "tree\r\n") ||
        ais__starts_with(p, size, "version="))
        return ais__lightgbm_read(p, size, o, out);
    return ais__onnx_read(p, size, base_dir ? base_dir : ".", o, out);
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
