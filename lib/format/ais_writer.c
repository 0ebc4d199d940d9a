/*
 * ais_writer.c - the native .ais writer (docs/ais-format.md). The sections are built in memory
 * (they are small); tensor data is written straight from the tensors when raw, or from per-tensor
 * zstd frames when compressing pays.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "ais_layout.h"

typedef struct ais__wtensor {
    char *name;
    const ais_tensor *t;
    uint8_t encoding, filter;
    uint8_t *stored; /* the zstd frame, or NULL when raw (t->data is written) */
    size_t stored_size;
    uint64_t offset; /* in the DATA section */
    uint64_t hash;
} ais__wtensor;

typedef struct ais__writer {
    const ais__graph *g;
    ais__wtensor *tensors;
    size_t n_tensors;
    int32_t *value_tensor; /* per value: its tensor index or -1 */
    ZSTD_CCtx *cctx;
    uint8_t *scratch[2];
    size_t scratch_cap[2];
    uint64_t features;
    const ais__pipeline_section *pipeline; /* written to the PIPELINE section, or NULL */
    const void *drift; /* the DRIFT section's bytes (drift_len 0: none) */
    size_t drift_len;
} ais__writer;

static ais_status ais__wt_add(ais__writer *w, const ais_tensor *t, const char *a, const char *b,
                              int32_t *index) {
    if (w->n_tensors >= AIS__MAX_ITEMS)
        return ais__error(AIS_E_LIMIT, "more than %u tensors", AIS__MAX_ITEMS);
    if (ais__dtype_is_opaque(t->dtype))
        return ais__error(AIS_E_DTYPE, "tensor '%s%s%s': %s tensors cannot be stored in .ais", a,
                          b ? "/" : "", b ? b : "", ais_dtype_name(t->dtype));
    size_t na = strlen(a), nb = b ? strlen(b) : 0;
    char *name = ais__malloc(na + nb + 2);
    if (!name) return ais__oom(na + nb + 2, "tensor name");
    memcpy(name, a, na);
    name[na] = 0;
    if (b) {
        name[na] = '/';
        memcpy(name + na + 1, b, nb + 1);
    }
    ais__wtensor *wt = &w->tensors[w->n_tensors];
    memset(wt, 0, sizeof *wt);
    wt->name = name;
    wt->t = t;
    *index = (int32_t)w->n_tensors++;
    return AIS_OK;
}

/* Collects constants (in value order) then attribute tensors (in node and attribute order): the
 * graph section refers to them by these indices. */
static ais_status ais__collect(ais__writer *w) {
    const ais__graph *g = w->g;
    size_t cap = 0;
    for (size_t i = 0; i < g->n_values; i++)
        cap += g->values[i].constant != NULL;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ais_attrs *a = g->nodes[i].attrs;
        for (size_t k = 0; a && k < a->count; k++)
            cap += a->items[k].type == AIS__ATTR_TENSOR;
    }
    w->tensors = ais__calloc(cap ? cap : 1, sizeof *w->tensors);
    w->value_tensor = ais__malloc((g->n_values ? g->n_values : 1) * sizeof *w->value_tensor);
    if (!w->tensors || !w->value_tensor) return ais__oom(cap * sizeof *w->tensors, "tensor table");
    for (size_t i = 0; i < g->n_values; i++) {
        const ais__value *v = &g->values[i];
        w->value_tensor[i] = -1;
        if (!v->name || !v->name[0])
            return ais__error(AIS_E_INVALID_ARGUMENT, "value %zu has no name", i);
        if ((v->flags & AIS__VALUE_CONST) && !v->constant)
            return ais__error(AIS_E_INVALID_ARGUMENT, "value '%s' is constant but has no data",
                              v->name);
        if (v->constant)
            AIS__CHECK(ais__wt_add(w, v->constant, v->name, NULL, &w->value_tensor[i]));
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ais__node *n = &g->nodes[i];
        for (size_t k = 0; n->attrs && k < n->attrs->count; k++) {
            const ais__attr *a = &n->attrs->items[k];
            int32_t idx;
            if (a->type == AIS__ATTR_TENSOR)
                AIS__CHECK(ais__wt_add(w, a->t, n->name[0] ? n->name : n->op_type, a->name, &idx));
        }
    }
    return AIS_OK;
}

static uint8_t *ais__scratch(ais__writer *w, int i, size_t n) {
    if (n > w->scratch_cap[i]) {
        ais__free(w->scratch[i]);
        w->scratch[i] = ais__malloc(n);
        w->scratch_cap[i] = w->scratch[i] ? n : 0;
    }
    return w->scratch[i];
}

/* Picks the smallest of raw, zstd and shuffle+zstd; raw wins ties, since it maps in place. */
static ais_status ais__encode(ais__writer *w, ais__wtensor *wt, int level) {
    const ais_tensor *t = wt->t;
    size_t nbytes = t->nbytes, es = ais_dtype_size(t->dtype);
    if (level == 0 || nbytes == 0) return AIS_OK;
    size_t bound = ZSTD_compressBound(nbytes);
    uint8_t *best = NULL, *shuf = NULL;
    size_t best_size = nbytes;
    uint8_t filter = AIS__FILTER_NONE;
    for (int pass = 0; pass < 2; pass++) {
        const uint8_t *src = t->data;
        if (pass == 1) {
            if (es < 2) break;
            shuf = ais__scratch(w, 1, nbytes);
            if (!shuf) return ais__oom(nbytes, "shuffled tensor");
            ais__shuffle(shuf, src, t->numel, es);
            src = shuf;
        }
        uint8_t *dst = ais__scratch(w, 0, bound);
        if (!dst) return ais__oom(bound, "compressed tensor");
        size_t n = ZSTD_compress2(w->cctx, dst, bound, src, nbytes);
        if (ZSTD_isError(n)) {
            if (ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation)
                return ais__oom(nbytes, "zstd compression");
            return ais__error(AIS_E_INTERNAL, "tensor '%s': zstd: %s", wt->name,
                              ZSTD_getErrorName(n));
        }
        if (n < best_size) {
            uint8_t *copy = ais__malloc(n);
            if (!copy) return ais__oom(n, "compressed tensor");
            memcpy(copy, dst, n);
            ais__free(best);
            best = copy;
            best_size = n;
            filter = pass ? AIS__FILTER_SHUFFLE : AIS__FILTER_NONE;
        }
    }
    if (best) {
        wt->stored = best;
        wt->stored_size = best_size;
        wt->encoding = AIS__ENC_ZSTD;
        wt->filter = filter;
        w->features |= AIS__FEAT_ZSTD | (filter ? AIS__FEAT_SHUFFLE : 0);
    }
    return AIS_OK;
}

static void ais__put_tensor_ref(ais__buf *b, int32_t index) { ais__buf_u32(b, (uint32_t)index); }

static void ais__write_graph(ais__writer *w, ais__buf *b) {
    const ais__graph *g = w->g;
    ais__buf_u32(b, (uint32_t)g->n_opsets);
    for (size_t i = 0; i < g->n_opsets; i++) {
        ais__buf_str(b, g->opsets[i].domain);
        ais__buf_u64(b, (uint64_t)g->opsets[i].version);
    }
    ais__buf_u32(b, (uint32_t)g->n_values);
    for (size_t i = 0; i < g->n_values; i++) {
        const ais__value *v = &g->values[i];
        ais__buf_str(b, v->name);
        ais__buf_u32(b, (uint32_t)v->dtype);
        ais__buf_u32(b, (uint32_t)v->ndim);
        for (int32_t d = 0; d < v->ndim; d++) {
            ais__buf_u64(b, (uint64_t)v->dims[d]);
            ais__buf_str(b, v->dim_names[d]);
        }
        ais__buf_u32(b, v->flags & (AIS__VALUE_INPUT | AIS__VALUE_OUTPUT | AIS__VALUE_CONST));
        ais__put_tensor_ref(b, w->value_tensor[i]);
    }
    ais__buf_u32(b, (uint32_t)g->n_nodes);
    int32_t next_tensor = 0;
    for (size_t i = 0; i < g->n_values; i++)
        next_tensor += w->value_tensor[i] >= 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ais__node *n = &g->nodes[i];
        ais__buf_str(b, n->name);
        ais__buf_str(b, n->op_type);
        ais__buf_str(b, n->domain);
        ais__buf_u32(b, (uint32_t)n->n_inputs);
        for (size_t k = 0; k < n->n_inputs; k++)
            ais__buf_u32(b, (uint32_t)n->inputs[k]);
        ais__buf_u32(b, (uint32_t)n->n_outputs);
        for (size_t k = 0; k < n->n_outputs; k++)
            ais__buf_u32(b, (uint32_t)n->outputs[k]);
        size_t na = n->attrs ? n->attrs->count : 0;
        ais__buf_u32(b, (uint32_t)na);
        for (size_t k = 0; k < na; k++) {
            const ais__attr *a = &n->attrs->items[k];
            ais__buf_str(b, a->name);
            ais__buf_u32(b, (uint32_t)a->type);
            switch (a->type) {
            case AIS__ATTR_INT: ais__buf_u64(b, (uint64_t)a->i); break;
            case AIS__ATTR_FLOAT: ais__buf_f32(b, a->f); break;
            case AIS__ATTR_STRING: ais__buf_str(b, a->s); break;
            case AIS__ATTR_INTS:
                ais__buf_u32(b, (uint32_t)a->count);
                for (size_t j = 0; j < a->count; j++)
                    ais__buf_u64(b, (uint64_t)a->ints[j]);
                break;
            case AIS__ATTR_FLOATS:
                ais__buf_u32(b, (uint32_t)a->count);
                for (size_t j = 0; j < a->count; j++)
                    ais__buf_f32(b, a->floats[j]);
                break;
            case AIS__ATTR_STRINGS:
                ais__buf_u32(b, (uint32_t)a->count);
                for (size_t j = 0; j < a->count; j++)
                    ais__buf_str(b, a->strings[j]);
                break;
            case AIS__ATTR_TENSOR: ais__put_tensor_ref(b, next_tensor++); break;
            }
        }
    }
    ais__buf_u32(b, (uint32_t)g->n_inputs);
    for (size_t i = 0; i < g->n_inputs; i++)
        ais__buf_u32(b, (uint32_t)g->inputs[i]);
    ais__buf_u32(b, (uint32_t)g->n_outputs);
    for (size_t i = 0; i < g->n_outputs; i++)
        ais__buf_u32(b, (uint32_t)g->outputs[i]);
}

/* The tensor table; also lays the tensors out in the DATA section (returns its size). */
static uint64_t ais__write_tensor_table(ais__writer *w, ais__buf *b) {
    uint64_t off = 0;
    ais__buf_u32(b, (uint32_t)w->n_tensors);
    for (size_t i = 0; i < w->n_tensors; i++) {
        ais__wtensor *wt = &w->tensors[i];
        const ais_tensor *t = wt->t;
        off = (off + AIS__DATA_ALIGN - 1) & ~(uint64_t)(AIS__DATA_ALIGN - 1);
        wt->offset = off;
        if (!wt->stored) wt->stored_size = t->nbytes;
        const void *bytes = wt->stored ? (const void *)wt->stored : t->data;
        wt->hash = ais__xxh64(bytes, wt->stored_size);
        off += wt->stored_size;
        ais__buf_str(b, wt->name);
        ais__buf_u32(b, (uint32_t)t->dtype);
        ais__buf_u32(b, t->ndim);
        for (uint32_t d = 0; d < t->ndim; d++)
            ais__buf_u64(b, (uint64_t)t->dims[d]);
        ais__buf_u8(b, wt->encoding);
        ais__buf_u8(b, wt->filter);
        ais__buf_u16(b, 0);
        ais__buf_u64(b, wt->offset);
        ais__buf_u64(b, wt->stored_size);
        ais__buf_u64(b, t->nbytes);
        ais__buf_u64(b, wt->hash);
    }
    return off;
}

/* The model's identity: independent of compression and of the metadata (spec: content hash). */
static uint64_t ais__content_hash(const ais__writer *w, const ais__buf *graph) {
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    XXH64_update(&st, graph->p, graph->size);
    if (w->pipeline) XXH64_update(&st, w->pipeline->spec, w->pipeline->len);
    for (size_t i = 0; i < w->n_tensors; i++) {
        const ais_tensor *t = w->tensors[i].t;
        uint8_t hdr[8 + 8 * AIS_MAX_DIMS];
        ais__put_le32(hdr, (uint32_t)t->dtype);
        ais__put_le32(hdr + 4, t->ndim);
        for (uint32_t d = 0; d < t->ndim; d++)
            ais__put_le64(hdr + 8 + 8 * d, (uint64_t)t->dims[d]);
        XXH64_update(&st, hdr, 8 + 8 * (size_t)t->ndim);
        XXH64_update(&st, t->data, t->nbytes);
    }
    return XXH64_digest(&st);
}

static int64_t ais__creation_time(void) {
    /* Reproducible builds: https://reproducible-builds.org/specs/source-date-epoch/ */
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde) {
        char *end;
        errno = 0;
        long long v = strtoll(sde, &end, 10);
        if (!*end && errno == 0 && v >= 0) return v;
    }
    return (int64_t)time(NULL);
}

/* The file's own facts ("created", "content_hash") are written in their fields, not as keys.
 * "format" says what the loaded file was, so a model read from ONNX or XGBoost keeps that as
 * "source_format" and the .ais file reads back as format "ais". */
static const char *ais__meta_key_out(const ais__graph *g, const char *key) {
    if (!strcmp(key, "created") || !strcmp(key, "content_hash")) return NULL;
    if (strcmp(key, "format") != 0) return key;
    for (size_t i = 0; i < g->n_meta; i++)
        if (!strcmp(g->meta[i].key, "source_format")) return NULL;
    return "source_format";
}

static void ais__write_meta(const ais__writer *w, ais__buf *b, uint64_t content_hash) {
    const ais__graph *g = w->g;
    ais__buf_u64(b, (uint64_t)ais__creation_time());
    ais__buf_u64(b, content_hash);
    uint32_t n = 0;
    for (size_t i = 0; i < g->n_meta; i++)
        n += ais__meta_key_out(g, g->meta[i].key) != NULL;
    ais__buf_u32(b, n);
    for (size_t i = 0; i < g->n_meta; i++) {
        const char *key = ais__meta_key_out(g, g->meta[i].key);
        if (!key) continue;
        ais__buf_str(b, key);
        ais__buf_str(b, g->meta[i].value);
    }
}

static bool ais__write_all(FILE *fp, const void *p, size_t n) {
    return n == 0 || fwrite(p, 1, n, fp) == n;
}

static bool ais__write_zeros(FILE *fp, size_t n) {
    static const uint8_t zeros[AIS__DATA_ALIGN];
    while (n) {
        size_t k = AIS__MIN(n, sizeof zeros);
        if (fwrite(zeros, 1, k, fp) != k) return false;
        n -= k;
    }
    return true;
}

static bool ais__too_long(const char *s) { return s && strlen(s) > AIS__MAX_STRING; }

/* What the format cannot hold (longer strings or lists than readers accept), refused before
 * anything is written. */
static ais_status ais__check_limits(const ais__graph *g) {
    if (g->n_values > AIS__MAX_ITEMS || g->n_nodes > AIS__MAX_ITEMS || g->n_meta > AIS__MAX_ITEMS)
        return ais__error(AIS_E_LIMIT, "graph has more than %u values, nodes or metadata",
                          AIS__MAX_ITEMS);
    for (size_t i = 0; i < g->n_meta; i++)
        if (ais__too_long(g->meta[i].value) || ais__too_long(g->meta[i].key))
            return ais__error(AIS_E_LIMIT, "metadata '%.40s' is longer than %u bytes",
                              g->meta[i].key, AIS__MAX_STRING);
    for (size_t i = 0; i < g->n_values; i++) {
        bool bad = ais__too_long(g->values[i].name);
        for (int d = 0; d < AIS_MAX_DIMS; d++)
            bad |= ais__too_long(g->values[i].dim_names[d]);
        if (bad)
            return ais__error(AIS_E_LIMIT, "value %zu: a name is longer than %u bytes", i,
                              AIS__MAX_STRING);
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ais__node *n = &g->nodes[i];
        if (ais__too_long(n->name) || ais__too_long(n->op_type) || ais__too_long(n->domain) ||
            n->n_inputs > AIS__MAX_ITEMS || n->n_outputs > AIS__MAX_ITEMS ||
            (n->attrs && n->attrs->count > AIS__MAX_ATTRS))
            return ais__error(AIS_E_LIMIT, "node %zu is too large for .ais", i);
        for (size_t k = 0; n->attrs && k < n->attrs->count; k++) {
            const ais__attr *a = &n->attrs->items[k];
            bool bad = ais__too_long(a->name) || a->count > AIS__MAX_ITEMS ||
                       (a->type == AIS__ATTR_STRING && ais__too_long(a->s));
            for (size_t j = 0; a->type == AIS__ATTR_STRINGS && j < a->count; j++)
                bad |= ais__too_long(a->strings[j]);
            if (bad)
                return ais__error(AIS_E_LIMIT, "node '%s' attribute '%s' is too long for .ais",
                                  n->name, a->name);
        }
    }
    return AIS_OK;
}

/* sec: META, GRAPH, TENSORS, then PIPELINE and DRIFT (NULL when there is none); DATA comes
 * last. */
static ais_status ais__write_file(ais__writer *w, const char *path, ais__buf *sec[5]) {
    uint32_t types[6] = {AIS__SEC_META, AIS__SEC_GRAPH, AIS__SEC_TENSORS};
    ais__buf *bufs[6] = {sec[0], sec[1], sec[2]};
    int n = 3;
    if (sec[3]) {
        types[n] = AIS__SEC_PIPELINE;
        bufs[n++] = sec[3];
    }
    if (sec[4]) {
        types[n] = AIS__SEC_DRIFT;
        bufs[n++] = sec[4];
    }
    types[n] = AIS__SEC_DATA;
    bufs[n++] = NULL;
    uint64_t data_size = 0;
    for (size_t i = 0; i < w->n_tensors; i++)
        data_size = w->tensors[i].offset + w->tensors[i].stored_size;
    uint8_t head[AIS__HEADER_SIZE + 6 * AIS__SECTION_ENTRY_SIZE];
    memset(head, 0, sizeof head);
    size_t head_size = AIS__HEADER_SIZE + (size_t)n * AIS__SECTION_ENTRY_SIZE;
    uint64_t off = head_size, offs[6], sizes[6], pads[6];
    for (int s = 0; s < n; s++) {
        uint64_t align = s == n - 1 ? AIS__DATA_ALIGN : 8;
        uint64_t aligned = (off + align - 1) & ~(align - 1);
        pads[s] = aligned - off;
        offs[s] = aligned;
        sizes[s] = s < n - 1 ? bufs[s]->size : data_size;
        off = aligned + sizes[s];
    }
    memcpy(head, AIS__MAGIC, AIS__MAGIC_LEN);
    ais__put_le16(head + AIS__H_MAJOR, AIS__VERSION_MAJOR);
    /* 1.1 added PIPELINE, 1.2 DRIFT; a file stays at the lowest version that holds it. */
    ais__put_le16(head + AIS__H_MINOR, sec[4] ? 2 : sec[3] ? 1 : AIS__VERSION_MINOR);
    ais__put_le32(head + AIS__H_HEADER_SIZE, AIS__HEADER_SIZE);
    ais__put_le32(head + AIS__H_SECTION_COUNT, (uint32_t)n);
    ais__put_le32(head + AIS__H_SECTION_ENTRY_SIZE, AIS__SECTION_ENTRY_SIZE);
    ais__put_le64(head + AIS__H_REQUIRED, w->features);
    ais__put_le64(head + AIS__H_FILE_SIZE, off);
    for (int s = 0; s < n; s++) {
        uint8_t *e = head + AIS__HEADER_SIZE + s * AIS__SECTION_ENTRY_SIZE;
        ais__put_le32(e, types[s]);
        /* Required: a reader that does not know PIPELINE would run the model on raw inputs.
         * DRIFT is optional: a reader without monitoring runs the model as well without it. */
        ais__put_le32(e + 4, types[s] == AIS__SEC_DRIFT ? 0 : AIS__SECF_REQUIRED);
        ais__put_le64(e + 8, offs[s]);
        ais__put_le64(e + 16, sizes[s]);
        ais__put_le64(e + 24, s < n - 1 ? ais__xxh64(bufs[s]->p, bufs[s]->size) : 0);
    }
    ais__put_le64(head + AIS__H_HASH, ais__xxh64(head, head_size));

    /* Write next to the destination and rename, so a crash never leaves a half-written model
     * under the real name. */
    size_t plen = strlen(path);
    char *tmp = ais__malloc(plen + 8);
    if (!tmp) return ais__oom(plen + 8, "file name");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    /* A FIFO or device already at the temporary name is refused, not blocked on. */
    int fd;
    ais_status cst = ais__create_regular(tmp, ".ais file", &fd);
    FILE *fp = cst == AIS_OK ? fdopen(fd, "wb") : NULL;
    if (!fp) {
        if (cst == AIS_OK) {
            cst = ais__error(AIS_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
            close(fd);
        }
        ais__free(tmp);
        return cst;
    }
    bool ok = ais__write_all(fp, head, head_size);
    for (int s = 0; s < n - 1 && ok; s++)
        ok = ais__write_zeros(fp, pads[s]) && ais__write_all(fp, bufs[s]->p, bufs[s]->size);
    ok = ok && ais__write_zeros(fp, pads[n - 1]);
    uint64_t pos = 0;
    for (size_t i = 0; i < w->n_tensors && ok; i++) {
        const ais__wtensor *wt = &w->tensors[i];
        ok = ais__write_zeros(fp, wt->offset - pos) &&
             ais__write_all(fp, wt->stored ? (const void *)wt->stored : wt->t->data,
                            wt->stored_size);
        pos = wt->offset + wt->stored_size;
    }
    int err = errno;
    if (fclose(fp) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        err = errno;
        ok = false;
    }
    if (!ok) {
        unlink(tmp);
        ais__free(tmp);
        return ais__error(AIS_E_IO, "%s: cannot write: %s", path, strerror(err));
    }
    ais__free(tmp);
    return AIS_OK;
}

/* The PIPELINE section: u32 layout version (1), the name of the input it feeds (u32 length and
 * bytes), the spec's length (u64) and its JSON text. */
static void ais__write_pipeline(ais__buf *b, const ais__pipeline_section *p) {
    ais__buf_u32(b, 1);
    ais__buf_str(b, p->input);
    ais__buf_u64(b, p->len);
    ais__buf_bytes(b, p->spec, p->len);
}

ais_status ais__ais_write(const ais__graph *g, const char *path, int compress_level) {
    if (!g || !g->pipeline_input) return ais__ais_write_pipeline(g, NULL, path, compress_level);
    ais__pipeline_section sec = {g->pipeline_input, g->pipeline_spec, g->pipeline_spec_len};
    return ais__ais_write_pipeline(g, &sec, path, compress_level);
}

ais_status ais__ais_write_pipeline(const ais__graph *g, const ais__pipeline_section *pipeline,
                                   const char *path, int compress_level) {
    return ais__ais_write_progress(g, pipeline, path, compress_level, NULL, NULL);
}

ais_status ais__ais_write_progress(const ais__graph *g, const ais__pipeline_section *pipeline,
                                   const char *path, int compress_level, ais_progress_fn progress,
                                   void *progress_data) {
    return ais__ais_write_drift(g, pipeline, g ? g->drift_profile : NULL,
                                g ? g->drift_profile_len : 0, path, compress_level, progress,
                                progress_data);
}

ais_status ais__ais_write_drift(const ais__graph *g, const ais__pipeline_section *pipeline,
                                const void *drift, size_t drift_len, const char *path,
                                int compress_level, ais_progress_fn progress,
                                void *progress_data) {
    if (!g || !path) return ais__error(AIS_E_INVALID_ARGUMENT, "ais write: graph or path is NULL");
    /* Whether the spec fits the input is the runtime's check (it compiles the spec); the writer
     * only refuses a section a reader could not match to an input. */
    if (pipeline) {
        bool is_input = false;
        for (size_t i = 0; pipeline->input && i < g->n_inputs; i++)
            is_input = is_input || strcmp(g->values[g->inputs[i]].name, pipeline->input) == 0;
        if (!is_input || (!pipeline->spec && pipeline->len))
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "%s: the pipeline section feeds \"%.64s\", no input of the model",
                              path, pipeline->input ? pipeline->input : "(null)");
    }
    if (compress_level < 0 || compress_level > ZSTD_maxCLevel())
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s: compression level %d, expected 0 (raw) or 1..%d (zstd)", path,
                          compress_level, ZSTD_maxCLevel());
    AIS__CHECK(ais__check_limits(g));
    ais__writer w;
    memset(&w, 0, sizeof w);
    w.g = g;
    w.pipeline = pipeline;
    w.drift = drift;
    w.drift_len = drift ? drift_len : 0;
    ais__buf meta = {0}, graph = {0}, table = {0}, pipe = {0};
    ais_status st = ais__collect(&w);
    if (st == AIS_OK && compress_level > 0 && w.n_tensors > 0) {
        w.cctx = ais__zstd_cctx();
        if (!w.cctx)
            st = ais__oom(sizeof(void *), "zstd context");
        else if (ZSTD_isError(
                     ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_compressionLevel, compress_level)))
            st = ais__error(AIS_E_INTERNAL, "zstd refused level %d", compress_level);
    }
    for (size_t i = 0; i < w.n_tensors && st == AIS_OK; i++) {
        st = ais__encode(&w, &w.tensors[i], compress_level);
        /* per tensor: compressing a large model at a high level takes minutes */
        if (st == AIS_OK && progress)
            progress(progress_data, i + 1, w.n_tensors, w.tensors[i].name);
    }
    if (st == AIS_OK) {
        ais__write_graph(&w, &graph);
        ais__write_tensor_table(&w, &table);
        if (!graph.oom) ais__write_meta(&w, &meta, ais__content_hash(&w, &graph));
        if (pipeline) ais__write_pipeline(&pipe, pipeline);
        if (meta.oom || graph.oom || table.oom || pipe.oom)
            st = ais__oom(graph.size + table.size, "model sections");
    }
    ais__buf dsec = {0};
    if (st == AIS_OK && w.drift_len) {
        ais__buf_bytes(&dsec, w.drift, w.drift_len);
        if (dsec.oom) st = ais__oom(w.drift_len, "drift section");
    }
    if (st == AIS_OK) {
        ais__buf *secs[5] = {&meta, &graph, &table, pipeline ? &pipe : NULL,
                             w.drift_len ? &dsec : NULL};
        st = ais__write_file(&w, path, secs);
    }
    ais__buf_free(&dsec);
    for (size_t i = 0; i < w.n_tensors; i++) {
        ais__free(w.tensors[i].name);
        ais__free(w.tensors[i].stored);
    }
    ais__free(w.tensors);
    ais__free(w.value_tensor);
    ais__free(w.scratch[0]);
    ais__free(w.scratch[1]);
    ZSTD_freeCCtx(w.cctx);
    ais__buf_free(&meta);
    ais__buf_free(&graph);
    ais__buf_free(&table);
    ais__buf_free(&pipe);
    return st;
}
