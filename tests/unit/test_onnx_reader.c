/*
 * test_onnx_reader.c - the ONNX model and TensorProto readers, against values that the onnx
 * Python package and numpy decoded (tests/fixtures/make_onnx_fixtures.py), and against hostile
 * input: truncation at every byte, random byte flips, hand-made wire-format corner cases.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/format.h"
#include "format/protobuf.h"
#include "test_util.h"

#define FIX AIS_SOURCE_DIR "/tests/fixtures/onnx"
#define CONF AIS_SHARED_DIR "/conformance/onnx"

static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static uint64_t fnv1a64(const void *data, size_t n) {
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static ais__graph *load_model(const char *path, const char *base_dir) {
    size_t n;
    uint8_t *buf = read_file(path, &n);
    ais__load_opts o;
    ais__load_opts_default(&o);
    ais__graph *g = NULL;
    ais_status st = ais__onnx_read(buf, n, base_dir, &o, &g);
    if (st != AIS_OK) fail_msg("%s: %s", path, ais_last_error());
    /* Constants may borrow from buf; the tests that keep the graph only look at copied data
     * after the buffer is gone through hold-free models... so keep buf alive with the graph. */
    ais__graph_hold(g, free, buf);
    return g;
}

/* ---- every conformance model against the manifest ---- */

typedef struct manifest {
    char *text;
    char **lines;
    size_t n;
} manifest;

static void manifest_load(manifest *m) {
    size_t n;
    m->text = (char *)read_file(FIX "/conformance_manifest.txt", &n);
    m->text = realloc(m->text, n + 1);
    m->text[n] = 0;
    m->lines = calloc(n + 1, sizeof *m->lines);
    m->n = 0;
    for (char *save = NULL, *l = strtok_r(m->text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        m->lines[m->n++] = l;
}

static void manifest_free(manifest *m) {
    free(m->lines);
    free(m->text);
}

static size_t manifest_find(const manifest *m, const char *kind, const char *rel) {
    size_t kl = strlen(kind), rl = strlen(rel);
    for (size_t i = 0; i < m->n; i++)
        if (strncmp(m->lines[i], kind, kl) == 0 && m->lines[i][kl] == ' ' &&
            strncmp(m->lines[i] + kl + 1, rel, rl) == 0 && m->lines[i][kl + 1 + rl] == ' ')
            return i;
    return (size_t)-1;
}

/* Returns false when the model is refused as unsupported (string inputs), which is checked. */
static bool check_model(const manifest *m, const char *rel) {
    size_t li = manifest_find(m, "model", rel);
    if (li == (size_t)-1) fail_msg("%s is not in the manifest: rerun make_onnx_fixtures.py", rel);
    unsigned nodes, inputs, outputs, inits;
    char relbuf[512];
    assert_int_equal(
        sscanf(m->lines[li], "model %511s %u %u %u %u", relbuf, &nodes, &inputs, &outputs, &inits),
        5);
    char path[1024], dir[1024];
    snprintf(path, sizeof path, "%s/%s", CONF, rel);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    size_t size;
    uint8_t *buf = read_file(path, &size);
    ais__graph *g = NULL;
    ais_status st = ais__onnx_read(buf, size, dir, NULL, &g);
    if (st == AIS_E_UNSUPPORTED) {
        /* tensors of strings are not supported; nothing else in the suite may be refused */
        ais_test_assert_error_contains("(string), which is not supported");
        free(buf);
        return false;
    }
    if (st != AIS_OK) fail_msg("%s: %s", rel, ais_last_error());
    if (g->n_nodes != nodes || g->n_inputs != inputs || g->n_outputs != outputs)
        fail_msg("%s: %zu nodes, %zu inputs, %zu outputs; onnx says %u, %u, %u", rel, g->n_nodes,
                 g->n_inputs, g->n_outputs, nodes, inputs, outputs);
    size_t consts = 0;
    for (size_t i = 0; i < g->n_values; i++)
        consts += (g->values[i].flags & AIS__VALUE_CONST) != 0;
    assert_int_equal(consts, inits);
    for (size_t i = 0; i < inits; i++) {
        char name[512];
        unsigned dtype;
        size_t nbytes;
        unsigned long long hash;
        assert_int_equal(
            sscanf(m->lines[li + 1 + i], "init %511s %u %zu %llx", name, &dtype, &nbytes, &hash),
            4);
        int32_t v = ais__graph_find(g, name);
        assert_true(v >= 0);
        const ais_tensor *t = g->values[v].constant;
        assert_non_null(t);
        assert_int_equal(t->dtype, dtype);
        assert_int_equal(t->nbytes, nbytes);
        if (fnv1a64(t->data, t->nbytes) != hash) fail_msg("%s: initializer %s differs", rel, name);
        assert_false(g->values[v].flags & AIS__VALUE_INPUT);
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        assert_true(g->nodes[i].op_type[0] != 0);
    assert_true(ais__graph_opset(g, "") > 0);
    ais__graph_destroy(g);
    free(buf);
    return true;
}

static void test_conformance_models(void **state) {
    (void)state;
    manifest m;
    manifest_load(&m);
    static const char *const folders[] = {"pytorch-converted", "pytorch-operator", "simple"};
    size_t count = 0, refused = 0;
    for (size_t k = 0; k < 3; k++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", CONF, folders[k]);
        DIR *d = opendir(dir);
        if (!d) fail_msg("cannot open %s", dir);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char rel[512];
            snprintf(rel, sizeof rel, "%s/%s/model.onnx", folders[k], e->d_name);
            refused += !check_model(&m, rel);
            count++;
        }
        closedir(d);
    }
    assert_true(count >= 100);
    assert_true(refused <= 6);
    manifest_free(&m);
}

/* ---- TensorProto files ---- */

/* A fixture's expectation: ONNX dtype, dims, then the little-endian bytes numpy decoded. */
typedef struct expect {
    uint8_t *buf;
    int32_t dtype, ndim;
    int64_t dims[AIS_MAX_DIMS];
    const uint8_t *data;
    size_t nbytes;
} expect;

static void expect_load(const char *path, expect *e) {
    size_t n;
    e->buf = read_file(path, &n);
    memcpy(&e->dtype, e->buf, 4);
    memcpy(&e->ndim, e->buf + 4, 4);
    assert_true(e->ndim >= 0 && e->ndim <= AIS_MAX_DIMS);
    memcpy(e->dims, e->buf + 8, 8 * (size_t)e->ndim);
    e->data = e->buf + 8 + 8 * (size_t)e->ndim;
    e->nbytes = n - 8 - 8 * (size_t)e->ndim;
}

static void assert_tensor_matches(const ais_tensor *t, const expect *e, const char *what) {
    assert_int_equal(t->ndim, e->ndim);
    for (int i = 0; i < e->ndim; i++)
        assert_int_equal(t->dims[i], e->dims[i]);
    if ((int32_t)t->dtype == e->dtype) {
        assert_int_equal(t->nbytes, e->nbytes);
        if (memcmp(t->data, e->data, e->nbytes) != 0) fail_msg("%s: bytes differ", what);
        return;
    }
    /* onnx returns bfloat16 as float32: compare through the conversion */
    assert_int_equal(t->dtype, AIS_DTYPE_BF16);
    assert_int_equal(e->dtype, AIS_DTYPE_F32);
    for (size_t i = 0; i < t->numel; i++) {
        float want;
        memcpy(&want, e->data + 4 * i, 4);
        assert_true(ais__bf16_to_f32(((const uint16_t *)t->data)[i]) == want);
    }
}

static void test_tensorproto_fixtures(void **state) {
    (void)state;
    static const char *const names[] = {"f32", "f64",    "i64",   "i32", "i8",   "u8",
                                        "i16", "u16",    "bool",  "f16", "bf16", "u32",
                                        "u64", "scalar", "empty", "raw"};
    for (size_t k = 0; k < AIS__ARRAY_LEN(names); k++) {
        char path[512];
        snprintf(path, sizeof path, FIX "/tp_%s.pb", names[k]);
        size_t n;
        uint8_t *buf = read_file(path, &n);
        ais_tensor *t;
        char *name;
        AIS_ASSERT_OK(ais__tensorproto_read(buf, n, &t, &name));
        free(buf); /* the tensor owns its data */
        assert_string_equal(name, names[k]);
        expect e;
        snprintf(path, sizeof path, FIX "/tp_%s.expect", names[k]);
        expect_load(path, &e);
        assert_tensor_matches(t, &e, names[k]);
        assert_non_null(t->storage);
        free(e.buf);
        ais_tensor_destroy(t);
        ais__free(name);
    }
}

static void test_conformance_pb(void **state) {
    (void)state;
    manifest m;
    manifest_load(&m);
    size_t count = 0;
    for (size_t i = 0; i < m.n; i++) {
        if (strncmp(m.lines[i], "pb ", 3) != 0) continue;
        char rel[512], shape[128];
        unsigned dtype;
        size_t nbytes;
        unsigned long long hash;
        assert_int_equal(
            sscanf(m.lines[i], "pb %511s %u %zu %127s %llx", rel, &dtype, &nbytes, shape, &hash),
            5);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", CONF, rel);
        size_t n;
        uint8_t *buf = read_file(path, &n);
        ais_tensor *t;
        AIS_ASSERT_OK(ais__tensorproto_read(buf, n, &t, NULL));
        free(buf);
        assert_int_equal(t->dtype, dtype);
        assert_int_equal(t->nbytes, nbytes);
        char got[128] = "scalar";
        for (uint32_t d = 0, pos = 0; d < t->ndim; d++)
            pos += (uint32_t)snprintf(got + pos, sizeof got - pos, d ? "x%lld" : "%lld",
                                      (long long)t->dims[d]);
        assert_string_equal(got, shape);
        if (fnv1a64(t->data, t->nbytes) != hash) fail_msg("%s: values differ", rel);
        ais_tensor_destroy(t);
        count++;
    }
    assert_true(count > 100);
    manifest_free(&m);
}

/* ---- external data ---- */

static void check_ext_constant(ais__graph *g, const char *name, const char *expect_file,
                               bool borrowed) {
    int32_t v = ais__graph_find(g, name);
    assert_true(v >= 0);
    const ais_tensor *t = g->values[v].constant;
    assert_non_null(t);
    expect e;
    expect_load(expect_file, &e);
    assert_tensor_matches(t, &e, name);
    assert_int_equal(t->storage == NULL, borrowed);
    free(e.buf);
}

static void test_external_data(void **state) {
    (void)state;
    size_t n;
    uint8_t *buf = read_file(FIX "/ext/model.onnx", &n);
    for (int map = 0; map < 2; map++) {
        ais__load_opts o;
        ais__load_opts_default(&o);
        o.map_weights = map;
        ais__graph *g;
        AIS_ASSERT_OK(ais__onnx_read(buf, n, FIX "/ext", &o, &g));
        check_ext_constant(g, "W", FIX "/ext/W.expect", map);
        check_ext_constant(g, "B", FIX "/ext/B.expect", map);
        assert_int_equal(g->n_inputs, 1);
        assert_int_equal(g->n_holds, map ? 1 : 0); /* one mapping for both tensors */
        ais__graph_destroy(g);
    }
    /* From another folder the data file is not there. */
    ais__graph *g;
    AIS_ASSERT_STATUS(ais__onnx_read(buf, n, FIX, NULL, &g), AIS_E_IO);
    ais_test_assert_error_contains("weights.bin");
    ais_test_assert_error_contains("graph.initializer[0]");
    assert_null(g);
    free(buf);

    static const struct {
        const char *file, *needle;
    } bad[] = {
        {"escape.onnx", ".."}, {"absolute.onnx", "relative"}, {"past_end.onnx", "past the end"}};
    for (size_t k = 0; k < AIS__ARRAY_LEN(bad); k++) {
        char path[512];
        snprintf(path, sizeof path, FIX "/ext/%s", bad[k].file);
        buf = read_file(path, &n);
        for (int map = 0; map < 2; map++) {
            ais__load_opts o;
            ais__load_opts_default(&o);
            o.map_weights = map;
            AIS_ASSERT_STATUS(ais__onnx_read(buf, n, FIX "/ext", &o, &g), AIS_E_FORMAT);
            ais_test_assert_error_contains(bad[k].needle);
            ais_test_assert_error_contains("tensor 'W'");
        }
        free(buf);
    }
}

/* ---- misaligned raw data ---- */

static void test_misaligned_raw_data(void **state) {
    (void)state;
    size_t n;
    uint8_t *src = read_file(CONF "/pytorch-converted/test_Conv2d/model.onnx", &n);
    ais__graph *ref;
    AIS_ASSERT_OK(ais__onnx_read(src, n, NULL, NULL, &ref));
    uint8_t *big = malloc(n + 8);
    for (size_t shift = 1; shift < 8; shift++) {
        memcpy(big + shift, src, n);
        ais__graph *g;
        AIS_ASSERT_OK(ais__onnx_read(big + shift, n, NULL, NULL, &g));
        assert_int_equal(g->n_values, ref->n_values);
        size_t consts = 0;
        for (size_t i = 0; i < g->n_values; i++) {
            const ais_tensor *t = g->values[i].constant;
            if (!t) continue;
            consts++;
            const ais_tensor *r = ref->values[ais__graph_find(ref, g->values[i].name)].constant;
            assert_int_equal(t->nbytes, r->nbytes);
            assert_memory_equal(t->data, r->data, t->nbytes);
            /* borrowed only when aligned; copies are owned */
            assert_int_equal((uintptr_t)t->data % ais_dtype_size(t->dtype), 0);
            if (!t->storage) {
                assert_true((const uint8_t *)t->data >= big &&
                            (const uint8_t *)t->data < big + n + 8);
            }
        }
        assert_true(consts > 0);
        ais__graph_destroy(g);
    }
    ais__graph_destroy(ref);
    free(big);
    free(src);
}

/* A protobuf writer just big enough for a one-initializer ModelProto. */
static size_t pb_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}
static size_t pb_len(uint8_t *p, uint32_t field, const void *data, size_t len) {
    size_t n = pb_varint(p, (uint64_t)field << 3 | 2);
    n += pb_varint(p + n, len);
    memcpy(p + n, data, len);
    return n + len;
}

/* Mapped files whose raw_data is misaligned: copied, the mapping's pages given back, values and
 * the file's bytes (read again through the mapping) intact. */
static void test_mapped_misaligned(void **state) {
    (void)state;
    const size_t count = 5000; /* several pages */
    float *w = malloc(count * sizeof *w);
    for (size_t i = 0; i < count; i++)
        w[i] = (float)ais_test_uniform(-1, 1);
    uint8_t *tensor = malloc(count * 4 + 64), *graph = malloc(count * 4 + 128);
    uint8_t *model = malloc(count * 4 + 256);
    char path[] = "/tmp/ais_test_mapped_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    for (size_t name_len = 1; name_len <= 4; name_len++) { /* every raw_data alignment */
        char name[8] = "wwww";
        name[name_len] = 0;
        size_t t = 0;
        t += pb_varint(tensor + t, 1 << 3), t += pb_varint(tensor + t, count);      /* dims */
        t += pb_varint(tensor + t, 2 << 3), t += pb_varint(tensor + t, 1);          /* f32 */
        t += pb_len(tensor + t, 8, name, name_len);                                /* name */
        t += pb_len(tensor + t, 9, w, count * 4);                                  /* raw_data */
        uint8_t vi[16];
        size_t nvi = pb_len(vi, 1, name, name_len); /* ValueInfoProto.name */
        size_t gl = pb_len(graph, 5, tensor, t);     /* initializer */
        gl += pb_len(graph + gl, 12, vi, nvi);       /* output */
        uint8_t opset[4];
        size_t no = pb_varint(opset, 2 << 3);
        no += pb_varint(opset + no, 13);
        size_t m = pb_varint(model, 1 << 3);
        m += pb_varint(model + m, 8); /* ir_version */
        m += pb_len(model + m, 8, opset, no);
        m += pb_len(model + m, 7, graph, gl);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(model, 1, m, f), m);
        fclose(f);
        ais__graph *g = NULL;
        if (ais__model_read_file(path, NULL, &g) != AIS_OK) fail_msg("%s", ais_last_error());
        int32_t v = ais__graph_find(g, name);
        assert_true(v >= 0);
        const ais_tensor *c = g->values[v].constant;
        assert_non_null(c);
        assert_int_equal(c->nbytes, count * 4);
        assert_memory_equal(c->data, w, count * 4);
        const ais__file *file = g->holds[g->n_holds - 1].ctx;
        assert_true(file->mapped);
        const uint8_t *raw = memmem(file->data, file->size, w, count * 4);
        assert_non_null(raw);
        assert_true(((uintptr_t)raw % 4 == 0) == (c->storage == NULL));
        assert_memory_equal(file->data, model, m); /* dropped pages read back from the file */
        ais__graph_destroy(g);
    }
    unlink(path);
    free(model);
    free(graph);
    free(tensor);
    free(w);
}

/* ---- attributes, metadata, inputs that are initializers ---- */

static void test_attrs_and_metadata(void **state) {
    (void)state;
    ais__graph *g = load_model(FIX "/attrs.onnx", FIX);
    assert_int_equal(g->n_nodes, 1);
    const ais__node *nd = &g->nodes[0];
    assert_string_equal(nd->op_type, "Custom");
    assert_string_equal(nd->domain, "ai.test");
    assert_string_equal(nd->name, "n0");
    assert_int_equal(nd->n_outputs, 2);
    assert_int_equal(nd->outputs[1], -1);
    const ais_attrs *a = nd->attrs;
    assert_true(ais__attr_float(a, "f", 0) == 0.25f);
    assert_int_equal(ais__attr_int(a, "i", 0), -7);
    assert_int_equal(ais__attr_int(a, "legacy", 0), 9);
    assert_string_equal(ais__attr_string(a, "s", ""), "hello");
    const int64_t *ints;
    const float *floats;
    size_t cnt;
    assert_true(ais__attr_ints(a, "ints", &ints, &cnt));
    assert_int_equal(cnt, 3);
    assert_int_equal(ints[0], 3);
    assert_int_equal(ints[1], -4);
    assert_int_equal(ints[2], 5);
    assert_true(ais__attr_floats(a, "floats", &floats, &cnt));
    assert_int_equal(cnt, 2);
    assert_true(floats[0] == 1.5f && floats[1] == -2.0f);
    const ais__attr *sa = ais__attr_find(a, "strings");
    assert_non_null(sa);
    assert_int_equal(sa->count, 2);
    assert_string_equal(sa->strings[1], "bc");
    const ais_tensor *t = ais__attr_tensor(a, "t");
    assert_non_null(t);
    assert_int_equal(t->dtype, AIS_DTYPE_I32);
    assert_int_equal(t->numel, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(((const int32_t *)t->data)[i], i + 1);
    /* C is listed as an input and an initializer: a constant, not something to feed */
    assert_int_equal(g->n_inputs, 1);
    assert_string_equal(g->values[g->inputs[0]].name, "X");
    int32_t c = ais__graph_find(g, "C");
    assert_true(g->values[c].flags & AIS__VALUE_CONST);
    assert_false(g->values[c].flags & AIS__VALUE_INPUT);
    assert_int_equal(g->values[g->outputs[0]].ndim, -1);
    assert_int_equal(ais__graph_opset(g, ""), 13);
    assert_int_equal(ais__graph_opset(g, "ai.test"), 1);
    assert_string_equal(ais__graph_meta(g, "producer"), "fixture");
    assert_string_equal(ais__graph_meta(g, "producer_version"), "1.2");
    assert_string_equal(ais__graph_meta(g, "description"), "attrs");
    assert_string_equal(ais__graph_meta(g, "model_version"), "5");
    assert_string_equal(ais__graph_meta(g, "domain"), "org.test");
    assert_string_equal(ais__graph_meta(g, "ir_version"), "8");
    assert_string_equal(ais__graph_meta(g, "author"), "me");
    assert_string_equal(ais__graph_meta(g, "license"), "MIT");
    ais__graph_destroy(g);
}

static void test_shapes_declared(void **state) {
    (void)state;
    size_t n;
    uint8_t *buf = read_file(FIX "/ext/model.onnx", &n);
    ais__graph *g;
    AIS_ASSERT_OK(ais__onnx_read(buf, n, FIX "/ext", NULL, &g));
    const ais__value *x = &g->values[g->inputs[0]];
    assert_string_equal(x->name, "X");
    assert_int_equal(x->dtype, AIS_DTYPE_F32);
    assert_int_equal(x->ndim, 2);
    assert_int_equal(x->dims[0], AIS__DIM_DYNAMIC);
    assert_string_equal(x->dim_names[0], "N");
    assert_int_equal(x->dims[1], 3);
    ais__graph_destroy(g);
    free(buf);
}

static void test_subgraph_unsupported(void **state) {
    (void)state;
    size_t n;
    uint8_t *buf = read_file(FIX "/if.onnx", &n);
    ais__graph *g;
    AIS_ASSERT_STATUS(ais__onnx_read(buf, n, NULL, NULL, &g), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("graph.node[0].attribute[0]");
    ais_test_assert_error_contains("'branch' (If)");
    ais_test_assert_error_contains("sub-graph");
    assert_null(g);
    free(buf);
}

/* ---- hand-made wire format ---- */

typedef struct pbw {
    uint8_t b[512];
    size_t n;
} pbw;

static void w_varint(pbw *w, uint64_t v) {
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        w->b[w->n++] = c | (v ? 0x80 : 0);
    } while (v);
}
static void w_key(pbw *w, uint32_t field, uint32_t wire) {
    w_varint(w, (uint64_t)field << 3 | wire);
}
static void w_bytes(pbw *w, uint32_t field, const void *p, size_t n) {
    w_key(w, field, 2);
    w_varint(w, n);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void w_fixed32(pbw *w, uint32_t field, uint32_t v) {
    w_key(w, field, 5);
    for (int i = 0; i < 4; i++)
        w->b[w->n++] = (uint8_t)(v >> (8 * i));
}

static ais_status read_tp(const pbw *w, ais_tensor **t) {
    /* an exact-size heap copy so that ASan sees any over-read */
    uint8_t *copy = malloc(w->n ? w->n : 1);
    memcpy(copy, w->b, w->n);
    ais_status st = ais__tensorproto_read(copy, w->n, t, NULL);
    free(copy);
    return st;
}

/* TensorProto string_data: one element per field, owned copies; NUL bytes, raw data and a
 * wrong count are refused. */
static void test_string_tensor(void **state) {
    (void)state;
    pbw w = {.n = 0};
    w_key(&w, 1, 0);
    w_varint(&w, 1);
    w_key(&w, 1, 0);
    w_varint(&w, 3);
    w_key(&w, 2, 0);
    w_varint(&w, AIS_DTYPE_STRING);
    const char *want[3] = {"monday", "", "caf\xc3\xa9"};
    for (int i = 0; i < 3; i++) w_bytes(&w, 6, want[i], strlen(want[i]));
    ais_tensor *t = NULL;
    AIS_ASSERT_OK(read_tp(&w, &t));
    assert_int_equal(ais_tensor_dtype(t), AIS_DTYPE_STRING);
    assert_int_equal(ais_tensor_ndim(t), 2);
    assert_int_equal(ais_tensor_size(t), 3);
    for (size_t i = 0; i < 3; i++) assert_string_equal(ais_tensor_string_at(t, i), want[i]);
    ais_tensor_destroy(t);

    pbw few = {.n = 0};
    w_key(&few, 1, 0);
    w_varint(&few, 2);
    w_key(&few, 2, 0);
    w_varint(&few, AIS_DTYPE_STRING);
    w_bytes(&few, 6, "a", 1);
    AIS_ASSERT_STATUS(read_tp(&few, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("need 2 strings, got 1");
    pbw nul = {.n = 0};
    w_key(&nul, 2, 0);
    w_varint(&nul, AIS_DTYPE_STRING);
    w_bytes(&nul, 6, "a\0b", 3);
    AIS_ASSERT_STATUS(read_tp(&nul, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("NUL");
    pbw raw = {.n = 0};
    w_key(&raw, 2, 0);
    w_varint(&raw, AIS_DTYPE_STRING);
    w_bytes(&raw, 9, "12345678", 8);
    AIS_ASSERT_STATUS(read_tp(&raw, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("string_data");
    assert_null(t);
}

static void test_wire_format(void **state) {
    (void)state;
    /* dims packed and unpacked, unknown fields of every wire type, float_data unpacked */
    pbw w = {.n = 0};
    w_key(&w, 1, 0);
    w_varint(&w, 2);
    w_varint(&w, 0); /* unknown field 0 is invalid: undo below by rebuilding */
    w.n = 0;
    w_key(&w, 1, 0);
    w_varint(&w, 2);
    uint8_t packed_dim[] = {3};
    w_bytes(&w, 1, packed_dim, 1);
    w_key(&w, 2, 0);
    w_varint(&w, AIS_DTYPE_F32);
    w_key(&w, 99, 0);
    w_varint(&w, UINT64_MAX); /* 10-byte varint, unknown field */
    w_key(&w, 100, 1);
    for (int i = 0; i < 8; i++)
        w.b[w.n++] = 0xab;
    w_bytes(&w, 101, "junk", 4);
    w_fixed32(&w, 102, 7);
    float vals[6];
    for (int i = 0; i < 6; i++) {
        vals[i] = (float)ais_test_uniform(-10, 10);
        uint32_t bits;
        memcpy(&bits, &vals[i], 4);
        if (i < 3) {
            w_fixed32(&w, 4, bits); /* unpacked */
        }
    }
    w_bytes(&w, 4, vals + 3, 12); /* packed */
    ais_tensor *t;
    AIS_ASSERT_OK(read_tp(&w, &t));
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->dims[0], 2);
    assert_int_equal(t->dims[1], 3);
    assert_memory_equal(t->data, vals, sizeof vals);
    ais_tensor_destroy(t);

    /* one value short: the message names counts and bytes */
    pbw s = w;
    s.n -= 14;
    w_bytes(&s, 4, vals + 3, 8);
    AIS_ASSERT_STATUS(read_tp(&s, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("24 bytes");
    ais_test_assert_error_contains("got 5");

    /* raw_data of the wrong size */
    pbw r = {.n = 0};
    w_key(&r, 1, 0);
    w_varint(&r, 6);
    w_key(&r, 2, 0);
    w_varint(&r, AIS_DTYPE_F32);
    w_bytes(&r, 8, "weights", 7);
    w_bytes(&r, 9, vals, 20);
    AIS_ASSERT_STATUS(read_tp(&r, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("'weights'");
    ais_test_assert_error_contains("24 bytes");
    ais_test_assert_error_contains("has 20");

    /* a varint that overflows 64 bits, and one longer than 10 bytes */
    pbw v = {.n = 0};
    w_key(&v, 2, 0);
    for (int i = 0; i < 9; i++)
        v.b[v.n++] = 0xff;
    v.b[v.n++] = 0x02;
    AIS_ASSERT_STATUS(read_tp(&v, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("overflows");
    v.n = 1;
    for (int i = 0; i < 11; i++)
        v.b[v.n++] = 0x80;
    AIS_ASSERT_STATUS(read_tp(&v, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("varint");

    /* groups are refused; a length past the end; field number 0 */
    pbw gr = {.n = 0};
    w_key(&gr, 5, 3);
    AIS_ASSERT_STATUS(read_tp(&gr, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("group");
    pbw ln = {.n = 0};
    w_key(&ln, 9, 2);
    w_varint(&ln, 1000);
    ln.b[ln.n++] = 1;
    AIS_ASSERT_STATUS(read_tp(&ln, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("past the end");
    pbw z = {.n = 1, .b = {0x00}};
    AIS_ASSERT_STATUS(read_tp(&z, &t), AIS_E_FORMAT);

    /* string tensors without their values, too many dims, a missing data type, negative dims */
    pbw st = {.n = 0};
    w_key(&st, 2, 0);
    w_varint(&st, AIS_DTYPE_STRING);
    AIS_ASSERT_STATUS(read_tp(&st, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("strings");
    pbw dm = {.n = 0};
    for (int i = 0; i < 9; i++) {
        w_key(&dm, 1, 0);
        w_varint(&dm, 1);
    }
    AIS_ASSERT_STATUS(read_tp(&dm, &t), AIS_E_LIMIT);
    pbw nt = {.n = 0};
    w_key(&nt, 1, 0);
    w_varint(&nt, 0);
    AIS_ASSERT_STATUS(read_tp(&nt, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("data_type");
    pbw neg = {.n = 0};
    w_key(&neg, 1, 0);
    w_varint(&neg, (uint64_t)-3);
    AIS_ASSERT_STATUS(read_tp(&neg, &t), AIS_E_FORMAT);
    ais_test_assert_error_contains("negative");
    /* huge dims with no data: refused before anything is allocated */
    pbw hu = {.n = 0};
    for (int i = 0; i < 4; i++) {
        w_key(&hu, 1, 0);
        w_varint(&hu, 1ull << 40);
    }
    w_key(&hu, 2, 0);
    w_varint(&hu, AIS_DTYPE_F32);
    assert_int_not_equal(read_tp(&hu, &t), AIS_OK);
    /* external data is refused in .pb files */
    pbw ex = {.n = 0};
    w_key(&ex, 2, 0);
    w_varint(&ex, AIS_DTYPE_F32);
    w_key(&ex, 14, 0);
    w_varint(&ex, 1);
    AIS_ASSERT_STATUS(read_tp(&ex, &t), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("external");

    /* the depth limit of the wire reader */
    pbw nest = {.n = 0};
    w_bytes(&nest, 1, "", 0);
    ais__pb pr, sub;
    ais__pb_init(&pr, nest.b, nest.n);
    ais__pb_field f;
    bool has;
    AIS_ASSERT_OK(ais__pb_next(&pr, &f, &has));
    pr.depth = AIS__PB_MAX_DEPTH - 1;
    AIS_ASSERT_OK(ais__pb_sub(&pr, &f, &sub));
    pr.depth = AIS__PB_MAX_DEPTH;
    AIS_ASSERT_STATUS(ais__pb_sub(&pr, &f, &sub), AIS_E_LIMIT);
}

/* A model whose graph holds one node with a truncated attribute. */
static void test_error_paths(void **state) {
    (void)state;
    pbw attr = {.n = 0};
    w_bytes(&attr, 1, "alpha", 5);
    w_key(&attr, 2, 5); /* f, but only two of its four bytes */
    attr.b[attr.n++] = 0;
    attr.b[attr.n++] = 0;
    pbw node = {.n = 0};
    w_bytes(&node, 1, "x", 1);
    w_bytes(&node, 2, "y", 1);
    w_bytes(&node, 4, "Elu", 3);
    w_bytes(&node, 5, attr.b, attr.n);
    pbw graph = {.n = 0};
    w_bytes(&graph, 1, node.b, node.n);
    pbw model = {.n = 0};
    w_key(&model, 1, 0);
    w_varint(&model, 8);
    w_bytes(&model, 7, graph.b, graph.n);
    ais__graph *g;
    AIS_ASSERT_STATUS(ais__onnx_read(model.b, model.n, NULL, NULL, &g), AIS_E_FORMAT);
    ais_test_assert_error_contains("graph.node[0].attribute[0]: ");
    ais_test_assert_error_contains("truncated");
    ais_test_assert_error_contains("offset");

    /* not a model at all */
    AIS_ASSERT_STATUS(ais__onnx_read("hello world", 11, NULL, NULL, &g), AIS_E_FORMAT);
    AIS_ASSERT_STATUS(ais__onnx_read("", 0, NULL, NULL, &g), AIS_E_FORMAT);
    ais_test_assert_error_contains("not an ONNX model");
    /* the size limit */
    ais__load_opts o;
    ais__load_opts_default(&o);
    o.max_file_bytes = 4;
    AIS_ASSERT_STATUS(ais__onnx_read(model.b, model.n, NULL, &o, &g), AIS_E_LIMIT);
    /* a node without op_type, and an output produced twice */
    pbw n2 = {.n = 0};
    w_bytes(&n2, 2, "y", 1);
    pbw g2 = {.n = 0};
    w_bytes(&g2, 1, n2.b, n2.n);
    model.n = 0;
    w_key(&model, 1, 0);
    w_varint(&model, 8);
    w_bytes(&model, 7, g2.b, g2.n);
    AIS_ASSERT_STATUS(ais__onnx_read(model.b, model.n, NULL, NULL, &g), AIS_E_FORMAT);
    ais_test_assert_error_contains("graph.node[0]: node without an op_type");
    /* a sparse initializer */
    g2.n = 0;
    w_bytes(&g2, 15, "", 0);
    model.n = 0;
    w_key(&model, 1, 0);
    w_varint(&model, 8);
    w_bytes(&model, 7, g2.b, g2.n);
    AIS_ASSERT_STATUS(ais__onnx_read(model.b, model.n, NULL, NULL, &g), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("sparse");
}

/* ---- robustness ---- */

static void try_read(const uint8_t *src, size_t n) {
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, src, n);
    ais__graph *g = NULL;
    ais_status st = ais__onnx_read(copy, n, "/nonexistent-ais-test", NULL, &g);
    if (st == AIS_OK) {
        assert_non_null(g);
        ais__graph_destroy(g);
    } else {
        assert_null(g);
        assert_true(ais_last_error()[0] != 0);
    }
    ais_tensor *t = NULL;
    if (ais__tensorproto_read(copy, n, &t, NULL) == AIS_OK) ais_tensor_destroy(t);
    free(copy);
}

static void test_truncation(void **state) {
    (void)state;
    static const char *const files[] = {CONF "/pytorch-converted/test_Conv2d/model.onnx",
                                        FIX "/attrs.onnx", FIX "/ext/model.onnx",
                                        CONF "/pytorch-converted/test_Conv2d/test_data_set_0/"
                                             "input_0.pb"};
    for (size_t k = 0; k < AIS__ARRAY_LEN(files); k++) {
        size_t n;
        uint8_t *buf = read_file(files[k], &n);
        size_t failures = 0;
        for (size_t len = 0; len < n; len++) {
            uint8_t *copy = malloc(len ? len : 1);
            memcpy(copy, buf, len);
            ais__graph *g = NULL;
            if (ais__onnx_read(copy, len, FIX "/ext", NULL, &g) == AIS_OK)
                ais__graph_destroy(g);
            else
                failures++;
            free(copy);
        }
        assert_true(failures > n / 2);
        free(buf);
    }
}

static void test_random_flips(void **state) {
    (void)state;
    static const char *const files[] = {CONF "/pytorch-converted/test_Conv2d/model.onnx",
                                        FIX "/attrs.onnx", FIX "/tp_i64.pb"};
    for (size_t k = 0; k < AIS__ARRAY_LEN(files); k++) {
        size_t n;
        uint8_t *buf = read_file(files[k], &n);
        uint8_t *m = malloc(n);
        for (int iter = 0; iter < 1500; iter++) {
            memcpy(m, buf, n);
            int flips = (int)ais_test_randint(1, 4);
            for (int i = 0; i < flips; i++) {
                size_t at = (size_t)ais_test_randint(0, (int64_t)n - 1);
                m[at] = (uint8_t)(ais_test_rand_u64() & 1 ? m[at] ^ (1u << ais_test_randint(0, 7))
                                                          : ais_test_rand_u64());
            }
            try_read(m, n);
        }
        free(m);
        free(buf);
    }
}

/* ---- allocation failures ---- */

typedef struct sweep_ctx {
    const uint8_t *data;
    size_t size;
    const char *base_dir;
    bool map;
    bool tensor;
    ais__graph *g;
    ais_tensor *t;
    char *name;
} sweep_ctx;

static ais_status sweep_fn(void *p) {
    sweep_ctx *c = p;
    if (c->tensor) return ais__tensorproto_read(c->data, c->size, &c->t, &c->name);
    ais__load_opts o;
    ais__load_opts_default(&o);
    o.map_weights = c->map;
    return ais__onnx_read(c->data, c->size, c->base_dir, &o, &c->g);
}

static void test_oom_sweep(void **state) {
    (void)state;
    static const struct {
        const char *file, *base;
        bool map, tensor;
    } cases[] = {
        {CONF "/pytorch-converted/test_Conv2d/model.onnx", NULL, true, false},
        {FIX "/attrs.onnx", NULL, true, false},
        {FIX "/ext/model.onnx", FIX "/ext", true, false},
        {FIX "/ext/model.onnx", FIX "/ext", false, false},
        {FIX "/tp_f16.pb", NULL, false, true},
        {FIX "/tp_raw.pb", NULL, false, true},
    };
    for (size_t k = 0; k < AIS__ARRAY_LEN(cases); k++) {
        size_t n;
        uint8_t *buf = read_file(cases[k].file, &n);
        sweep_ctx c = {.data = buf,
                       .size = n,
                       .base_dir = cases[k].base,
                       .map = cases[k].map,
                       .tensor = cases[k].tensor};
        long allocs = AIS_TEST_OOM_SWEEP(cases[k].file, sweep_fn, &c, 2000, AIS_OWN_GRAPH(&c.g),
                                         AIS_OWN_TENSOR(&c.t), AIS_OWN_MEM(&c.name));
        assert_true(allocs > 0);
        free(buf);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conformance_models),  cmocka_unit_test(test_tensorproto_fixtures),
        cmocka_unit_test(test_conformance_pb),      cmocka_unit_test(test_external_data),
        cmocka_unit_test(test_misaligned_raw_data), cmocka_unit_test(test_mapped_misaligned), cmocka_unit_test(test_attrs_and_metadata),
        cmocka_unit_test(test_shapes_declared),     cmocka_unit_test(test_subgraph_unsupported),
        cmocka_unit_test(test_string_tensor), cmocka_unit_test(test_wire_format),         cmocka_unit_test(test_error_paths),
        cmocka_unit_test(test_truncation),          cmocka_unit_test(test_random_flips),
        cmocka_unit_test(test_oom_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
