/* test_ais_format.c - the native .ais format: round trips, zero-copy loading, corruption,
 * versioning, model sniffing, file mapping and allocation failures. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "format/ais_layout.h"
#include "format/format.h"
#include "pipeline/pipeline.h"
#include "runtime/model.h"
#include "test_util.h"

/* A tensor of `dtype` with random bytes (bools 0/1). */
static ais_tensor *rand_tensor(ais_dtype dtype, const int64_t *dims, size_t ndim) {
    ais_tensor *t;
    AIS_ASSERT_OK(ais_tensor_create(dtype, dims, ndim, &t));
    uint8_t *p = ais_tensor_data(t);
    for (size_t i = 0; i < ais_tensor_nbytes(t); i++)
        p[i] = dtype == AIS_DTYPE_BOOL ? (uint8_t)(ais_test_rand_u64() & 1)
                                       : (uint8_t)ais_test_rand_u64();
    return t;
}

static void add_const(ais__graph *g, const char *name, ais_tensor *t) {
    int32_t v;
    AIS_ASSERT_OK(ais__graph_value(g, name, &v));
    AIS_ASSERT_OK(ais__graph_set_constant(g, v, t));
}

/* A graph that uses every feature the format stores. `big` adds a 64k-element weight of
 * random-normal-ish floats (compressible by shuffle) and a block of zeros. */
static ais__graph *build_graph(bool big) {
    ais__graph *g;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 17));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "ai.onnx.ml", 3));
    int32_t x, y;
    AIS_ASSERT_OK(ais__graph_value(g, "x", &x));
    const char *xnames[] = {"batch", NULL, "seq"};
    AIS_ASSERT_OK(ais__graph_declare(
        g, x, AIS_DTYPE_F32, 3, (const int64_t[]){AIS__DIM_DYNAMIC, 4, AIS__DIM_DYNAMIC}, xnames));
    AIS_ASSERT_OK(ais__graph_add_input(g, x));
    add_const(g, "w_f32", rand_tensor(AIS_DTYPE_F32, AIS_SHAPE(4, 3)));
    add_const(g, "w_f16", rand_tensor(AIS_DTYPE_F16, AIS_SHAPE(5)));
    add_const(g, "w_bf16", rand_tensor(AIS_DTYPE_BF16, AIS_SHAPE(2, 2)));
    add_const(g, "w_f64", rand_tensor(AIS_DTYPE_F64, AIS_SHAPE(3)));
    add_const(g, "w_i8", rand_tensor(AIS_DTYPE_I8, AIS_SHAPE(7)));
    add_const(g, "w_u8", rand_tensor(AIS_DTYPE_U8, AIS_SHAPE(1, 1, 9)));
    add_const(g, "w_i16", rand_tensor(AIS_DTYPE_I16, AIS_SHAPE(3)));
    add_const(g, "w_u16", rand_tensor(AIS_DTYPE_U16, AIS_SHAPE(3)));
    add_const(g, "w_i32", rand_tensor(AIS_DTYPE_I32, AIS_SHAPE(2, 1)));
    add_const(g, "w_u32", rand_tensor(AIS_DTYPE_U32, AIS_SHAPE(2)));
    add_const(g, "w_i64", rand_tensor(AIS_DTYPE_I64, AIS_SHAPE(3)));
    add_const(g, "w_u64", rand_tensor(AIS_DTYPE_U64, AIS_SHAPE(2)));
    add_const(g, "w_bool", rand_tensor(AIS_DTYPE_BOOL, AIS_SHAPE(6)));
    add_const(g, "scalar", rand_tensor(AIS_DTYPE_F32, NULL, 0));
    add_const(g, "empty", rand_tensor(AIS_DTYPE_I64, AIS_SHAPE(0, 3)));
    if (big) {
        ais_tensor *t;
        AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(256, 256), &t));
        float *p = ais_tensor_data(t);
        for (size_t i = 0; i < 65536; i++) /* sum of uniforms: roughly normal, scale 0.05 */
            p[i] = (float)((ais_test_uniform(-1, 1) + ais_test_uniform(-1, 1) +
                            ais_test_uniform(-1, 1)) *
                           0.05);
        add_const(g, "big_weight", t);
        AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I32, AIS_SHAPE(10000), &t));
        add_const(g, "zeros", t);
    }

    ais_attrs *a;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_int(a, "i", -42));
    AIS_ASSERT_OK(ais_attrs_set_float(a, "f", 0.25f));
    AIS_ASSERT_OK(ais_attrs_set_string(a, "s", "hello"));
    AIS_ASSERT_OK(ais_attrs_set_string(a, "empty_s", ""));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "ints", (const int64_t[]){1, -2, INT64_MAX}, 3));
    AIS_ASSERT_OK(ais_attrs_set_ints(a, "no_ints", NULL, 0));
    AIS_ASSERT_OK(ais_attrs_set_floats(a, "floats", (const float[]){1.5f, -0.0f}, 2));
    AIS_ASSERT_OK(ais_attrs_set_strings(a, "strings", (const char *const[]){"a", "", "ccc"}, 3));
    ais_tensor *at = rand_tensor(AIS_DTYPE_I64, AIS_SHAPE(2, 2));
    AIS_ASSERT_OK(ais_attrs_set_tensor(a, "t", at));
    ais_tensor_destroy(at);
    AIS_ASSERT_OK(ais__graph_add_node(g, "mm", "MatMul", "", a, (const char *const[]){"x", "w_f32"},
                                      2, (const char *const[]){"h"}, 1, NULL));
    AIS_ASSERT_OK(ais_attrs_create(&a));
    at = rand_tensor(AIS_DTYPE_F32, NULL, 0);
    AIS_ASSERT_OK(ais_attrs_set_tensor(a, "value", at));
    ais_tensor_destroy(at);
    AIS_ASSERT_OK(ais__graph_add_node(g, "", "Constant", "", a, NULL, 0, (const char *const[]){"c"},
                                      1, NULL));
    AIS_ASSERT_OK(ais__graph_add_node(g, "opt", "Custom", "com.example", NULL,
                                      (const char *const[]){"h", "", "c"}, 3,
                                      (const char *const[]){"y", ""}, 2, NULL));
    AIS_ASSERT_OK(ais__graph_value(g, "y", &y));
    AIS_ASSERT_OK(ais__graph_declare(g, y, AIS_DTYPE_F32, 2, (const int64_t[]){AIS__DIM_DYNAMIC, 3},
                                     (const char *const[]){"batch", NULL}));
    AIS_ASSERT_OK(ais__graph_add_output(g, y));
    AIS_ASSERT_OK(ais__graph_set_meta(g, "name", "test model"));
    AIS_ASSERT_OK(ais__graph_set_meta(g, "version", "1.2.3"));
    AIS_ASSERT_OK(ais__graph_set_meta(g, "description", "everything the format stores"));
    AIS_ASSERT_OK(ais__graph_set_meta(g, "producer", "test_ais_format"));
    AIS_ASSERT_OK(ais__graph_set_meta(g, "custom key", "with\nnewline"));
    AIS_ASSERT_OK(ais__graph_set_meta(g, "empty", ""));
    return g;
}

static void assert_tensor_equal(const ais_tensor *a, const ais_tensor *b) {
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->dtype, b->dtype);
    assert_int_equal(a->ndim, b->ndim);
    for (uint32_t i = 0; i < a->ndim; i++)
        assert_int_equal(a->dims[i], b->dims[i]);
    assert_int_equal(a->nbytes, b->nbytes);
    if (a->nbytes) assert_memory_equal(a->data, b->data, a->nbytes);
}

static void assert_str_eq_null(const char *a, const char *b) {
    if (!a || !b) {
        assert_true(a == b);
        return;
    }
    assert_string_equal(a, b);
}

static void assert_graph_equal(const ais__graph *a, const ais__graph *b) {
    assert_int_equal(a->n_opsets, b->n_opsets);
    for (size_t i = 0; i < a->n_opsets; i++)
        assert_int_equal(ais__graph_opset(b, a->opsets[i].domain), a->opsets[i].version);
    assert_int_equal(a->n_values, b->n_values);
    for (size_t i = 0; i < a->n_values; i++) {
        const ais__value *u = &a->values[i], *v = &b->values[i];
        assert_string_equal(u->name, v->name);
        assert_int_equal(u->dtype, v->dtype);
        assert_int_equal(u->ndim, v->ndim);
        assert_int_equal(u->flags, v->flags);
        assert_int_equal(u->producer, v->producer);
        for (int32_t d = 0; d < u->ndim; d++) {
            assert_int_equal(u->dims[d], v->dims[d]);
            assert_str_eq_null(u->dim_names[d], v->dim_names[d]);
        }
        assert_true((u->constant == NULL) == (v->constant == NULL));
        if (u->constant) assert_tensor_equal(u->constant, v->constant);
    }
    assert_int_equal(a->n_nodes, b->n_nodes);
    for (size_t i = 0; i < a->n_nodes; i++) {
        const ais__node *m = &a->nodes[i], *n = &b->nodes[i];
        assert_string_equal(m->name, n->name);
        assert_string_equal(m->op_type, n->op_type);
        assert_string_equal(m->domain, n->domain);
        assert_int_equal(m->n_inputs, n->n_inputs);
        assert_int_equal(m->n_outputs, n->n_outputs);
        for (size_t k = 0; k < m->n_inputs; k++)
            assert_int_equal(m->inputs[k], n->inputs[k]);
        for (size_t k = 0; k < m->n_outputs; k++)
            assert_int_equal(m->outputs[k], n->outputs[k]);
        size_t na = m->attrs ? m->attrs->count : 0, nb = n->attrs ? n->attrs->count : 0;
        assert_int_equal(na, nb);
        for (size_t k = 0; k < na; k++) {
            const ais__attr *x = &m->attrs->items[k], *y = &n->attrs->items[k];
            assert_string_equal(x->name, y->name);
            assert_int_equal(x->type, y->type);
            switch (x->type) {
            case AIS__ATTR_INT: assert_int_equal(x->i, y->i); break;
            case AIS__ATTR_FLOAT: assert_memory_equal(&x->f, &y->f, sizeof x->f); break;
            case AIS__ATTR_STRING: assert_string_equal(x->s, y->s); break;
            case AIS__ATTR_INTS:
                assert_int_equal(x->count, y->count);
                if (x->count) assert_memory_equal(x->ints, y->ints, x->count * 8);
                break;
            case AIS__ATTR_FLOATS:
                assert_int_equal(x->count, y->count);
                if (x->count) assert_memory_equal(x->floats, y->floats, x->count * 4);
                break;
            case AIS__ATTR_STRINGS:
                assert_int_equal(x->count, y->count);
                for (size_t j = 0; j < x->count; j++)
                    assert_string_equal(x->strings[j], y->strings[j]);
                break;
            case AIS__ATTR_TENSOR: assert_tensor_equal(x->t, y->t); break;
            }
        }
    }
    assert_int_equal(a->n_inputs, b->n_inputs);
    for (size_t i = 0; i < a->n_inputs; i++)
        assert_int_equal(a->inputs[i], b->inputs[i]);
    assert_int_equal(a->n_outputs, b->n_outputs);
    for (size_t i = 0; i < a->n_outputs; i++)
        assert_int_equal(a->outputs[i], b->outputs[i]);
    for (size_t i = 0; i < a->n_meta; i++) {
        if (!strcmp(a->meta[i].key, "created") || !strcmp(a->meta[i].key, "content_hash")) continue;
        const char *v = ais__graph_meta(b, a->meta[i].key);
        assert_non_null(v);
        assert_string_equal(v, a->meta[i].value);
    }
    assert_non_null(ais__graph_meta(b, "created"));
    assert_non_null(ais__graph_meta(b, "content_hash"));
}

static const ais__file *graph_file(const ais__graph *g) {
    assert_true(g->n_holds >= 1);
    return g->holds[g->n_holds - 1].ctx;
}

static void test_roundtrip_raw(void **state) {
    (void)state;
    ais__graph *g = build_graph(true), *r;
    const char *path = ais_test_tmp_path("raw.ais");
    AIS_ASSERT_OK(ais__ais_write(g, path, 0));
    AIS_ASSERT_OK(ais__model_read_file(path, NULL, &r));
    assert_graph_equal(g, r);
    /* Raw constants are used in place: borrowed from the mapping, 64-byte aligned. */
    const ais__file *f = graph_file(r);
    assert_true(f->mapped);
    size_t borrowed = 0;
    for (size_t i = 0; i < r->n_values; i++) {
        const ais_tensor *t = r->values[i].constant;
        if (!t || !t->nbytes) continue;
        assert_null(t->storage);
        assert_true((const uint8_t *)t->data >= f->data &&
                    (const uint8_t *)t->data + t->nbytes <= f->data + f->size);
        assert_int_equal((uintptr_t)t->data % 64, 0);
        borrowed++;
    }
    assert_true(borrowed >= 15);
    const ais__attr *ta = ais__attr_find(r->nodes[0].attrs, "t");
    assert_non_null(ta);
    assert_null(ta->t->storage);
    ais__graph_destroy(r);

    /* Not mapped: read into owned aligned memory, still used in place. */
    ais__load_opts o;
    ais__load_opts_default(&o);
    o.map_weights = false;
    AIS_ASSERT_OK(ais__model_read_file(path, &o, &r));
    assert_false(graph_file(r)->mapped);
    assert_graph_equal(g, r);
    ais__graph_destroy(r);
    ais__graph_destroy(g);
}

static void test_roundtrip_compressed(void **state) {
    (void)state;
    ais__graph *g = build_graph(true), *r;
    const char *raw = ais_test_tmp_path("c0.ais");
    AIS_ASSERT_OK(ais__ais_write(g, raw, 0));
    AIS_ASSERT_OK(ais__model_read_file(raw, NULL, &r));
    char hash0[64];
    snprintf(hash0, sizeof hash0, "%s", ais__graph_meta(r, "content_hash"));
    ais__graph_destroy(r);
    size_t raw_size;
    free(ais_test_slurp(raw, &raw_size));
    const int levels[] = {1, 3, 19};
    for (size_t l = 0; l < AIS__ARRAY_LEN(levels); l++) {
        const char *path = ais_test_tmp_path("c.ais");
        AIS_ASSERT_OK(ais__ais_write(g, path, levels[l]));
        size_t size;
        uint8_t *bytes = ais_test_slurp(path, &size);
        /* 40000 bytes of zeros and the low-entropy exponents of the weight compress */
        assert_true(size + 40000 < raw_size);
        assert_true(ais__le64(bytes + AIS__H_REQUIRED) & AIS__FEAT_ZSTD);
        free(bytes);
        AIS_ASSERT_OK(ais__model_read_file(path, NULL, &r));
        assert_graph_equal(g, r);
        /* identity of the model, not of its encoding */
        assert_string_equal(ais__graph_meta(r, "content_hash"), hash0);
        int32_t v = ais__graph_find(r, "zeros");
        assert_true(v >= 0);
        assert_non_null(r->values[v].constant->storage); /* decompressed: owned */
        ais__graph_destroy(r);
    }
    ais__graph_destroy(g);
}

static void test_read_memory_unaligned(void **state) {
    (void)state;
    ais__graph *g = build_graph(false), *r;
    const char *path = ais_test_tmp_path("mem.ais");
    AIS_ASSERT_OK(ais__ais_write(g, path, 0));
    size_t size;
    uint8_t *bytes = ais_test_slurp(path, &size);
    uint8_t *buf = malloc(size + 1);
    memcpy(buf + 1, bytes, size);
    AIS_ASSERT_OK(ais__model_read_memory(buf + 1, size, NULL, NULL, &r));
    assert_graph_equal(g, r);
    for (size_t i = 0; i < r->n_values; i++) /* unaligned bytes are copied, never borrowed */
        if (r->values[i].constant && r->values[i].constant->nbytes)
            assert_int_equal((uintptr_t)r->values[i].constant->data % 64, 0);
    ais__graph_destroy(r);
    free(buf);
    free(bytes);
    ais__graph_destroy(g);
}

/* A small file of the full feature set (raw or compressed) in a malloc'd exact-size buffer. */
static uint8_t *small_file(int level, size_t *size) {
    ais__graph *g = build_graph(false);
    const char *path = ais_test_tmp_path("small.ais");
    AIS_ASSERT_OK(ais__ais_write(g, path, level));
    ais__graph_destroy(g);
    return ais_test_slurp(path, size);
}

static void expect_corrupt(const uint8_t *p, size_t n, const char *what, size_t at) {
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    ais__graph *r = NULL;
    ais_status st = ais__ais_read(copy, n, NULL, &r);
    if (st != AIS_E_FORMAT && st != AIS_E_CHECKSUM && st != AIS_E_UNSUPPORTED)
        fail_msg("%s at %zu: status %s (%s)", what, at, ais_status_name(st), ais_last_error());
    assert_null(r);
    free(copy);
}

static void test_truncated(void **state) {
    (void)state;
    for (int level = 0; level <= 3; level += 3) {
        size_t size;
        uint8_t *bytes = small_file(level, &size);
        for (size_t n = 0; n < size; n++)
            expect_corrupt(bytes, n, "truncated", n);
        ais__graph *r;
        AIS_ASSERT_OK(ais__ais_read(bytes, size, NULL, &r)); /* the whole file still reads */
        ais__graph_destroy(r);
        free(bytes);
    }
}

static void test_byte_flips(void **state) {
    (void)state;
    for (int level = 0; level <= 3; level += 3) {
        size_t size;
        uint8_t *bytes = small_file(level, &size);
        /* every byte, with a random nonzero xor: every byte is checksummed or checked */
        for (size_t i = 0; i < size; i++) {
            uint8_t old = bytes[i];
            bytes[i] ^= (uint8_t)(1 + ais_test_randint(0, 254));
            expect_corrupt(bytes, size, "flip", i);
            bytes[i] = old;
        }
        free(bytes);
    }
}

/* Rewrites the header hash after a deliberate edit. */
static void rehash(uint8_t *p) {
    uint32_t count = ais__le32(p + AIS__H_SECTION_COUNT);
    memset(p + AIS__H_HASH, 0, 8);
    ais__put_le64(p + AIS__H_HASH,
                  XXH64(p, AIS__HEADER_SIZE + (size_t)count * AIS__SECTION_ENTRY_SIZE, 0));
}

static void test_checksum_names_tensor(void **state) {
    (void)state;
    ais__graph *g = build_graph(true);
    int32_t v = ais__graph_find(g, "big_weight");
    const ais_tensor *w = g->values[v].constant;
    const char *path = ais_test_tmp_path("sum.ais");
    AIS_ASSERT_OK(ais__ais_write(g, path, 0));
    size_t size;
    uint8_t *bytes = ais_test_slurp(path, &size);
    uint8_t *at = memmem(bytes, size, w->data, w->nbytes);
    assert_non_null(at);
    at[w->nbytes / 2] ^= 0x10;
    ais__graph *r = NULL;
    AIS_ASSERT_STATUS(ais__ais_read(bytes, size, NULL, &r), AIS_E_CHECKSUM);
    ais_test_assert_error_contains("big_weight");
    /* through the file loader, the message also names the file */
    const char *bad = ais_test_tmp_path("bad.ais");
    ais_test_spit(bad, bytes, size);
    AIS_ASSERT_STATUS(ais__model_read_file(bad, NULL, &r), AIS_E_CHECKSUM);
    ais_test_assert_error_contains("bad.ais");
    ais_test_assert_error_contains("big_weight");
    free(bytes);
    ais__graph_destroy(g);
}

/* y = x + w with w of n random floats: a model the public loader accepts. */
static ais__graph *add_model(int64_t n) {
    ais__graph *g;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    int32_t x, y;
    AIS_ASSERT_OK(ais__graph_value(g, "x", &x));
    AIS_ASSERT_OK(ais__graph_declare(g, x, AIS_DTYPE_F32, 1, (int64_t[]){n}, NULL));
    AIS_ASSERT_OK(ais__graph_add_input(g, x));
    add_const(g, "w", rand_tensor(AIS_DTYPE_F32, AIS_SHAPE(n)));
    AIS_ASSERT_OK(ais__graph_add_node(g, "add", "Add", "", NULL, (const char *const[]){"x", "w"},
                                      2, (const char *const[]){"y"}, 1, NULL));
    AIS_ASSERT_OK(ais__graph_value(g, "y", &y));
    AIS_ASSERT_OK(ais__graph_add_output(g, y));
    return g;
}

static ais_status load_verify(const char *path, int verify) {
    ais_options *o;
    AIS_ASSERT_OK(ais_options_create(&o));
    AIS_ASSERT_OK(ais_options_set_int(o, AIS_OPT_VERIFY_CHECKSUMS, verify));
    ais_model *m = NULL;
    ais_status st = ais_model_load(path, o, &m);
    if (st != AIS_OK) assert_null(m);
    ais_model_destroy(m);
    ais_options_destroy(o);
    return st;
}

/* Where section `type` lies in a file (its entry in the section table). */
static void find_section(const uint8_t *p, uint32_t type, uint64_t *off, uint64_t *size) {
    uint32_t hs = ais__le32(p + AIS__H_HEADER_SIZE), n = ais__le32(p + AIS__H_SECTION_COUNT);
    uint32_t es = ais__le32(p + AIS__H_SECTION_ENTRY_SIZE);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = p + hs + (size_t)i * es;
        if (ais__le32(e) == type) {
            *off = ais__le64(e + 8);
            *size = ais__le64(e + 16);
            return;
        }
    }
    fail_msg("no section of type %u", type);
}

static void test_verify_option(void **state) {
    (void)state;
    ais__graph *g = add_model(3000);
    const ais_tensor *w = g->values[ais__graph_find(g, "w")].constant;
    for (int level = 0; level <= 1; level++) {
        const char *good = ais_test_tmp_path("verify_good.ais");
        AIS_ASSERT_OK(ais__ais_write(g, good, level));
        AIS_ASSERT_OK(load_verify(good, 1));
        AIS_ASSERT_OK(load_verify(good, 0));
        size_t size;
        uint8_t *bytes = ais_test_slurp(good, &size);
        uint64_t data_off, data_size, graph_off, graph_size;
        find_section(bytes, AIS__SEC_DATA, &data_off, &data_size);
        find_section(bytes, AIS__SEC_GRAPH, &graph_off, &graph_size);
        /* a tensor byte: caught only when verifying (raw: the weight's middle byte; zstd: a
         * byte of the frame, which may also break decoding) */
        size_t at = level == 0 ? (size_t)((uint8_t *)memmem(bytes, size, w->data, w->nbytes) -
                                          bytes) + w->nbytes / 2
                               : (size_t)(data_off + data_size / 2);
        assert_true(at >= data_off && at < data_off + data_size);
        bytes[at] ^= 0x40;
        const char *bad = ais_test_tmp_path("verify_bad.ais");
        ais_test_spit(bad, bytes, size);
        AIS_ASSERT_STATUS(load_verify(bad, 1), AIS_E_CHECKSUM);
        ais_test_assert_error_contains("'w'");
        ais_status st = load_verify(bad, 0);
        if (level == 0) {
            AIS_ASSERT_OK(st);
            /* the corrupt byte is what the model now holds: nothing checked it */
            ais__load_opts o;
            ais__load_opts_default(&o);
            o.verify_data = false;
            ais__graph *r;
            AIS_ASSERT_OK(ais__model_read_file(bad, &o, &r));
            const ais_tensor *rw = r->values[ais__graph_find(r, "w")].constant;
            size_t k = w->nbytes / 2;
            assert_int_equal(((const uint8_t *)rw->data)[k], ((const uint8_t *)w->data)[k] ^ 0x40);
            ais__graph_destroy(r);
        } else if (st != AIS_OK && st != AIS_E_FORMAT) {
            fail_msg("zstd tensor flipped, unverified: %s", ais_status_name(st));
        }
        bytes[at] ^= 0x40;
        /* a graph byte: caught either way */
        bytes[graph_off + graph_size / 2] ^= 0x01;
        ais_test_spit(bad, bytes, size);
        AIS_ASSERT_STATUS(load_verify(bad, 1), AIS_E_CHECKSUM);
        ais_test_assert_error_contains("graph section");
        AIS_ASSERT_STATUS(load_verify(bad, 0), AIS_E_CHECKSUM);
        ais_test_assert_error_contains("graph section");
        free(bytes);
    }
    ais__graph_destroy(g);
}

/* Unverified, every flipped byte outside the tensor data is still an error, and flips inside it
 * never make the reader misbehave (run under ASan/UBSan). */
static void test_byte_flips_unverified(void **state) {
    (void)state;
    ais__load_opts o;
    ais__load_opts_default(&o);
    o.verify_data = false;
    for (int level = 0; level <= 3; level += 3) {
        size_t size;
        uint8_t *bytes = small_file(level, &size);
        uint64_t data_off, data_size;
        find_section(bytes, AIS__SEC_DATA, &data_off, &data_size);
        for (size_t i = 0; i < size; i++) {
            uint8_t old = bytes[i];
            bytes[i] ^= (uint8_t)(1 + ais_test_randint(0, 254));
            ais__graph *r = NULL;
            ais_status st = ais__ais_read(bytes, size, &o, &r);
            bool in_data = i >= data_off && i < data_off + data_size;
            if (st == AIS_OK) {
                /* only tensor bytes may go unnoticed (not the zero padding between them) */
                assert_true(in_data);
                ais__graph_destroy(r);
            } else if (st != AIS_E_FORMAT && st != AIS_E_CHECKSUM && st != AIS_E_UNSUPPORTED) {
                fail_msg("flip at %zu: %s (%s)", i, ais_status_name(st), ais_last_error());
            }
            bytes[i] = old;
        }
        free(bytes);
    }
}

/* Dropped pages of a file mapping come back with the file's bytes. */
static void test_drop_pages(void **state) {
    (void)state;
    size_t n = 5 * 4096 + 123;
    uint8_t *want = malloc(n);
    for (size_t i = 0; i < n; i++)
        want[i] = (uint8_t)ais_test_rand_u64();
    const char *path = ais_test_tmp_path("pages.bin");
    ais_test_spit(path, want, n);
    ais__file *f;
    AIS_ASSERT_OK(ais__file_open(path, n, true, &f));
    assert_true(f->mapped);
    assert_memory_equal(f->data, want, n);
    ais__drop_pages(f->data + 100, n - 300); /* unaligned ends: only whole pages inside */
    ais__drop_pages(f->data, n);
    ais__drop_pages(f->data + 5, 10); /* less than a page: nothing */
    assert_memory_equal(f->data, want, n);
    ais__file_close(f);
    free(want);
}

static void test_versions_and_features(void **state) {
    (void)state;
    size_t size;
    uint8_t *bytes = small_file(0, &size);
    ais__graph *r = NULL;
    /* an unknown required feature: a clear refusal */
    ais__put_le64(bytes + AIS__H_REQUIRED, ais__le64(bytes + AIS__H_REQUIRED) | (1ull << 9));
    rehash(bytes);
    AIS_ASSERT_STATUS(ais__ais_read(bytes, size, NULL, &r), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("feature 9");
    ais__put_le64(bytes + AIS__H_REQUIRED, ais__le64(bytes + AIS__H_REQUIRED) & ~(1ull << 9));
    /* optional features are ignored */
    ais__put_le64(bytes + AIS__H_OPTIONAL, 1ull << 40);
    rehash(bytes);
    AIS_ASSERT_OK(ais__ais_read(bytes, size, NULL, &r));
    ais__graph_destroy(r);
    /* a newer minor version reads; another major does not */
    ais__put_le16(bytes + AIS__H_MINOR, 7);
    rehash(bytes);
    AIS_ASSERT_OK(ais__ais_read(bytes, size, NULL, &r));
    ais__graph_destroy(r);
    ais__put_le16(bytes + AIS__H_MAJOR, 2);
    rehash(bytes);
    AIS_ASSERT_STATUS(ais__ais_read(bytes, size, NULL, &r), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("version 2.7");
    free(bytes);
}

/* Inserts a fifth section of `type` (its payload appended at the end) into a .ais file. */
static uint8_t *add_section(const uint8_t *p, size_t size, uint32_t type, uint32_t flags,
                            size_t *out_size) {
    const char payload[] = "future section payload";
    size_t shift = 64; /* one entry, padded so the data section stays 64-aligned */
    size_t n = size + shift + sizeof payload;
    uint8_t *q = calloc(1, n);
    memcpy(q, p, AIS__HEADER_SIZE + 4 * AIS__SECTION_ENTRY_SIZE);
    memcpy(q + AIS__HEADER_SIZE + 4 * AIS__SECTION_ENTRY_SIZE + shift,
           p + AIS__HEADER_SIZE + 4 * AIS__SECTION_ENTRY_SIZE,
           size - AIS__HEADER_SIZE - 4 * AIS__SECTION_ENTRY_SIZE);
    for (int s = 0; s < 4; s++) {
        uint8_t *e = q + AIS__HEADER_SIZE + s * AIS__SECTION_ENTRY_SIZE;
        ais__put_le64(e + 8, ais__le64(e + 8) + shift);
    }
    uint8_t *e = q + AIS__HEADER_SIZE + 4 * AIS__SECTION_ENTRY_SIZE;
    ais__put_le32(e, type);
    ais__put_le32(e + 4, flags);
    ais__put_le64(e + 8, size + shift);
    ais__put_le64(e + 16, sizeof payload);
    memcpy(q + size + shift, payload, sizeof payload);
    ais__put_le32(q + AIS__H_SECTION_COUNT, 5);
    ais__put_le64(q + AIS__H_FILE_SIZE, n);
    rehash(q);
    *out_size = n;
    return q;
}

static void test_unknown_sections(void **state) {
    (void)state;
    ais__graph *g = build_graph(false), *r = NULL;
    const char *path = ais_test_tmp_path("sec.ais");
    AIS_ASSERT_OK(ais__ais_write(g, path, 0));
    size_t size, n;
    uint8_t *bytes = ais_test_slurp(path, &size);
    uint8_t *q = add_section(bytes, size, 1000, 0, &n);
    AIS_ASSERT_OK(ais__ais_read(q, n, NULL, &r)); /* optional: skipped */
    assert_graph_equal(g, r);
    ais__graph_destroy(r);
    free(q);
    q = add_section(bytes, size, 1000, AIS__SECF_REQUIRED, &n);
    AIS_ASSERT_STATUS(ais__ais_read(q, n, NULL, &r), AIS_E_UNSUPPORTED);
    ais_test_assert_error_contains("type 1000");
    free(q);
    q = add_section(bytes, size, AIS__SEC_GRAPH, 0, &n);
    AIS_ASSERT_STATUS(ais__ais_read(q, n, NULL, &r), AIS_E_FORMAT);
    ais_test_assert_error_contains("twice");
    free(q);
    free(bytes);
    ais__graph_destroy(g);
}

static void test_sniffing(void **state) {
    (void)state;
    ais__graph *r = NULL;
    AIS_ASSERT_STATUS(ais__model_read_memory("", 0, NULL, NULL, &r), AIS_E_FORMAT);
    ais_test_assert_error_contains("empty");
    const char *xgb = "  \n{\"learner\": {}}";
    /* these reach the XGBoost / LightGBM readers (tests/unit/test_tree_readers.c) */
    AIS_ASSERT_STATUS(ais__model_read_memory(xgb, strlen(xgb), NULL, NULL, &r), AIS_E_FORMAT);
    ais_test_assert_error_contains("XGBoost JSON model");
    const char *lgb[] = {"tree\nversion=v3\n", "version=v4\nnum_class=1\n"};
    for (int i = 0; i < 2; i++) {
        AIS_ASSERT_STATUS(ais__model_read_memory(lgb[i], strlen(lgb[i]), NULL, NULL, &r),
                          AIS_E_FORMAT);
        ais_test_assert_error_contains("LightGBM");
    }
    assert_true(ais__ais_sniff(AIS__MAGIC, 8));
    assert_false(ais__ais_sniff(AIS__MAGIC, 7));
    assert_false(ais__ais_sniff("\x08\x07\x12\x04", 4));
    /* an empty file through the file loader names the file */
    const char *path = ais_test_tmp_path("empty.onnx");
    ais_test_spit(path, "", 0);
    AIS_ASSERT_STATUS(ais__model_read_file(path, NULL, &r), AIS_E_FORMAT);
    ais_test_assert_error_contains("empty.onnx");
    assert_null(r);
}

/* "format" names the file loaded; a conversion keeps where the model came from as
 * "source_format", also through a second conversion. */
static void test_format_metadata(void **state) {
    (void)state;
    ais_model *m = NULL, *a = NULL, *b = NULL;
    AIS_ASSERT_OK(ais_model_load(AIS_SOURCE_DIR "/models/digits_mlp.onnx", NULL, &m));
    assert_string_equal(ais_model_metadata(m, "format"), "onnx");
    assert_null(ais_model_metadata(m, "source_format"));
    const char *p1 = ais_test_tmp_path("fmt1.ais"), *p2 = ais_test_tmp_path("fmt2.ais");
    AIS_ASSERT_OK(ais_model_save(m, p1, NULL));
    AIS_ASSERT_OK(ais_model_load(p1, NULL, &a));
    assert_string_equal(ais_model_metadata(a, "format"), "ais");
    assert_string_equal(ais_model_metadata(a, "source_format"), "onnx");
    AIS_ASSERT_OK(ais_model_save(a, p2, NULL));
    AIS_ASSERT_OK(ais_model_load(p2, NULL, &b));
    assert_string_equal(ais_model_metadata(b, "format"), "ais");
    assert_string_equal(ais_model_metadata(b, "source_format"), "onnx");
    size_t n_format = 0;
    for (size_t i = 0; i < ais_model_metadata_count(b); i++) {
        const char *k = NULL, *v = NULL;
        AIS_ASSERT_OK(ais_model_metadata_at(b, i, &k, &v));
        n_format += strcmp(k, "format") == 0;
    }
    assert_int_equal(n_format, 1);
    ais_model_destroy(b);
    ais_model_destroy(a);
    ais_model_destroy(m);
}

static void test_file_open(void **state) {
    (void)state;
    ais__file *f = NULL;
    AIS_ASSERT_STATUS(ais__file_open("/nonexistent/model.ais", 100, true, &f), AIS_E_IO);
    ais_test_assert_error_contains("/nonexistent/model.ais");
    ais_test_assert_error_contains("No such file");
    assert_null(f);
    AIS_ASSERT_STATUS(ais__file_open("/tmp", 100, true, &f), AIS_E_IO);
    const char *path = ais_test_tmp_path("bytes.bin");
    uint8_t data[1000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)ais_test_rand_u64();
    ais_test_spit(path, data, sizeof data);
    AIS_ASSERT_STATUS(ais__file_open(path, 999, true, &f), AIS_E_LIMIT);
    ais_test_assert_error_contains("bytes.bin");
    for (int map = 0; map < 2; map++) {
        AIS_ASSERT_OK(ais__file_open(path, 1000, map, &f));
        assert_int_equal(f->size, sizeof data);
        assert_int_equal(f->mapped, map);
        assert_int_equal((uintptr_t)f->data % 64, 0);
        assert_memory_equal(f->data, data, sizeof data);
        ais__file_release(f);
    }
    ais__file_close(NULL);
    /* a model over the limit */
    ais__load_opts o;
    ais__load_opts_default(&o);
    assert_true(o.map_weights);
    assert_int_equal(o.max_file_bytes, (uint64_t)1 << 40);
    o.max_file_bytes = 10;
    ais__graph *r;
    AIS_ASSERT_STATUS(ais__model_read_file(path, &o, &r), AIS_E_LIMIT);
}

static void test_write_errors(void **state) {
    (void)state;
    ais__graph *g = build_graph(false);
    AIS_ASSERT_STATUS(ais__ais_write(g, ais_test_tmp_path("x.ais"), 23), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais__ais_write(g, ais_test_tmp_path("x.ais"), -1), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais__ais_write(g, "/nonexistent/dir/x.ais", 0), AIS_E_IO);
    ais_test_assert_error_contains("/nonexistent/dir/x.ais");
    AIS_ASSERT_STATUS(ais__ais_write(NULL, "x", 0), AIS_E_INVALID_ARGUMENT);
    /* longer than readers accept: refused when writing, not discovered when reading */
    char *huge = malloc((1u << 20) + 2);
    memset(huge, 'x', (1u << 20) + 1);
    huge[(1u << 20) + 1] = 0;
    AIS_ASSERT_OK(ais__graph_set_meta(g, "huge", huge));
    AIS_ASSERT_STATUS(ais__ais_write(g, ais_test_tmp_path("x.ais"), 0), AIS_E_LIMIT);
    ais_test_assert_error_contains("huge");
    free(huge);
    ais__graph_destroy(g);
}

static void test_shuffle(void **state) {
    (void)state;
    for (size_t es = 1; es <= 8; es *= 2) {
        size_t n = (size_t)ais_test_randint(0, 37);
        uint8_t src[37 * 8], mid[37 * 8], back[37 * 8];
        for (size_t i = 0; i < n * es; i++)
            src[i] = (uint8_t)ais_test_rand_u64();
        ais__shuffle(mid, src, n, es);
        for (size_t i = 0; i < n; i++) /* byte j of element i lands in plane j */
            for (size_t j = 0; j < es; j++)
                assert_int_equal(mid[j * n + i], src[i * es + j]);
        ais__unshuffle(back, mid, n, es);
        if (n) assert_memory_equal(back, src, n * es);
    }
}

typedef struct sweep_ctx {
    const uint8_t *bytes;
    size_t size;
    ais__graph *g;
    const ais__graph *src;
    const char *path;
    int level;
} sweep_ctx;

/* ---- the PIPELINE section ---- */

static const char pl_spec2[] =
    "{\"version\":1,\"inputs\":[{\"name\":\"a\",\"type\":\"numeric\"},{\"name\":\"b\","
    "\"type\":\"numeric\"}],\"features\":[{\"input\":\"a\",\"steps\":[]},{\"input\":\"b\","
    "\"steps\":[]}]}";
/* Width 1, padded with blanks to the same length as pl_spec2. */
static const char pl_spec1[] =
    "{\"version\":1,\"inputs\":[{\"name\":\"a\",\"type\":\"numeric\"},{\"name\":\"b\","
    "\"type\":\"numeric\"}],\"features\":[{\"input\":\"a\",\"steps\":[]}                  "
    "       ]}";

/* y = x + w, x f32 [rows, 2]. */
static ais__graph *pl_graph(void) {
    ais__graph *g;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    ais_test_graph_input(g, "x", AIS_DTYPE_F32, (const int64_t[]){-1, 2}, 2, NULL);
    add_const(g, "w", rand_tensor(AIS_DTYPE_F32, AIS_SHAPE(2)));
    ais_test_graph_node(g, "add", "Add", "x", "w", "y");
    ais_test_graph_output(g, "y");
    return g;
}

static uint8_t *pl_file(int level, size_t *size) {
    assert_int_equal(sizeof pl_spec1, sizeof pl_spec2);
    ais__graph *g = pl_graph();
    const ais__pipeline_section sec = {"x", pl_spec2, strlen(pl_spec2)};
    const char *path = ais_test_tmp_path("pl.ais");
    AIS_ASSERT_OK(ais__ais_write_pipeline(g, &sec, path, level));
    ais__graph_destroy(g);
    return ais_test_slurp(path, size);
}

/* What ais_model_load does with a .ais file's pipeline: the reader parses the section, the
 * runtime compiles and checks it. The graph is destroyed when the second step fails. */
static ais_status pl_read(const uint8_t *bytes, size_t size, ais__graph **out) {
    AIS__CHECK(ais__ais_read(bytes, size, NULL, out));
    ais_status st = ais__model_attach_pipeline(*out);
    if (st != AIS_OK) {
        ais__graph_destroy(*out);
        *out = NULL;
    }
    return st;
}

/* Overwrites bytes of section `type` and fixes its checksum and the header's. */
static void patch_section(uint8_t *p, uint32_t type, size_t at, const void *data, size_t n) {
    uint32_t hs = ais__le32(p + AIS__H_HEADER_SIZE), count = ais__le32(p + AIS__H_SECTION_COUNT);
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *e = p + hs + (size_t)i * AIS__SECTION_ENTRY_SIZE;
        if (ais__le32(e) != type) continue;
        uint64_t off = ais__le64(e + 8), size = ais__le64(e + 16);
        assert_true(at + n <= size);
        memcpy(p + off + at, data, n);
        ais__put_le64(e + 24, XXH64(p + off, (size_t)size, 0));
        rehash(p);
        return;
    }
    fail_msg("no section of type %u", type);
}

static void test_pipeline_section(void **state) {
    (void)state;
    for (int level = 0; level <= 3; level += 3) {
        size_t size;
        uint8_t *bytes = pl_file(level, &size);
        ais__graph *r = NULL;
        AIS_ASSERT_OK(ais__ais_read(bytes, size, NULL, &r));
        /* the reader hands the section back as bytes and compiles nothing */
        assert_null(r->pipeline);
        assert_string_equal(r->pipeline_input, "x");
        assert_int_equal(r->pipeline_spec_len, strlen(pl_spec2));
        assert_memory_equal(r->pipeline_spec, pl_spec2, strlen(pl_spec2));
        AIS_ASSERT_OK(ais__model_attach_pipeline(r));
        assert_non_null(r->pipeline);
        const char *text;
        size_t len;
        AIS_ASSERT_OK(ais_pipeline_spec_json(r->pipeline, &text, &len));
        assert_int_equal(len, strlen(pl_spec2));
        assert_memory_equal(text, pl_spec2, len);
        /* written back through ais__ais_write, the section's bytes are the same */
        const char *again = ais_test_tmp_path("pl_again.ais");
        AIS_ASSERT_OK(ais__ais_write(r, again, level));
        ais__graph_destroy(r);
        size_t size2;
        uint8_t *bytes2 = ais_test_slurp(again, &size2);
        AIS_ASSERT_OK(pl_read(bytes2, size2, &r));
        AIS_ASSERT_OK(ais_pipeline_spec_json(r->pipeline, &text, &len));
        assert_int_equal(len, strlen(pl_spec2));
        assert_memory_equal(text, pl_spec2, len);
        ais__graph_destroy(r);
        free(bytes2);
        /* The section is flagged required: a reader that does not know it refuses the file. */
        uint32_t hs = ais__le32(bytes + AIS__H_HEADER_SIZE);
        bool found = false;
        for (uint32_t i = 0; i < ais__le32(bytes + AIS__H_SECTION_COUNT); i++) {
            const uint8_t *e = bytes + hs + (size_t)i * AIS__SECTION_ENTRY_SIZE;
            if (ais__le32(e) != AIS__SEC_PIPELINE) continue;
            found = true;
            assert_int_equal(ais__le32(e + 4) & AIS__SECF_REQUIRED, AIS__SECF_REQUIRED);
        }
        assert_true(found);
        for (size_t n = 0; n < size; n++)
            expect_corrupt(bytes, n, "truncated (pipeline)", n);
        for (size_t i = 0; i < size; i++) {
            uint8_t old = bytes[i];
            bytes[i] ^= (uint8_t)(1 + ais_test_randint(0, 254));
            expect_corrupt(bytes, size, "flip (pipeline)", i);
            bytes[i] = old;
        }
        uint64_t off, sec_size;
        find_section(bytes, AIS__SEC_PIPELINE, &off, &sec_size);
        size_t spec_at = 4 + 4 + 1 + 8; /* version, name length, "x", spec length */
        assert_int_equal(sec_size, spec_at + strlen(pl_spec2));
        uint8_t *copy = malloc(size);
        /* Checksums right, meaning wrong: each is refused with a message naming the section. */
        memcpy(copy, bytes, size);
        patch_section(copy, AIS__SEC_PIPELINE, spec_at, pl_spec1, strlen(pl_spec1));
        AIS_ASSERT_STATUS(pl_read(copy, size, &r), AIS_E_SHAPE);
        ais_test_assert_error_contains("pipeline section");
        ais_test_assert_error_contains("takes 2 features per row, the feature pipeline gives 1");
        memcpy(copy, bytes, size);
        patch_section(copy, AIS__SEC_PIPELINE, spec_at, "[", 1);
        /* a spec that does not compile still reads: compiling is the runtime's step */
        AIS_ASSERT_OK(ais__ais_read(copy, size, NULL, &r));
        assert_null(r->pipeline);
        ais__graph_destroy(r);
        AIS_ASSERT_STATUS(pl_read(copy, size, &r), AIS_E_FORMAT);
        ais_test_assert_error_contains(".ais: pipeline section");
        /* and through the public loader, which compiles it */
        ais_model *m = NULL;
        AIS_ASSERT_STATUS(ais_model_load_memory(copy, size, NULL, &m), AIS_E_FORMAT);
        assert_null(m);
        ais_test_assert_error_contains(".ais: pipeline section");
        memcpy(copy, bytes, size);
        patch_section(copy, AIS__SEC_PIPELINE, 8, "q", 1);
        AIS_ASSERT_STATUS(pl_read(copy, size, &r), AIS_E_FORMAT);
        ais_test_assert_error_contains(".ais: pipeline section: it feeds input \"q\"");
        memcpy(copy, bytes, size);
        patch_section(copy, AIS__SEC_PIPELINE, 0, "\x02", 1);
        AIS_ASSERT_STATUS(ais__ais_read(copy, size, NULL, &r), AIS_E_UNSUPPORTED);
        ais_test_assert_error_contains("layout version 2");
        memcpy(copy, bytes, size);
        patch_section(copy, AIS__SEC_PIPELINE, 9, "\x01", 1); /* spec length + 1 */
        AIS_ASSERT_STATUS(ais__ais_read(copy, size, NULL, &r), AIS_E_FORMAT);
        ais_test_assert_error_contains("pipeline");
        /* the writer refuses a section whose input the graph does not have */
        ais__graph *g = pl_graph();
        const ais__pipeline_section bad = {"q", pl_spec2, strlen(pl_spec2)};
        AIS_ASSERT_STATUS(ais__ais_write_pipeline(g, &bad, ais_test_tmp_path("bad.ais"), level),
                          AIS_E_INVALID_ARGUMENT);
        ais_test_assert_error_contains("feeds \"q\", no input of the model");
        ais__graph_destroy(g);
        free(copy);
        free(bytes);
    }
}

static ais_status sweep_read(void *ctx) {
    sweep_ctx *c = ctx;
    return ais__ais_read(c->bytes, c->size, NULL, &c->g);
}
static ais_status sweep_read_attach(void *ctx) {
    sweep_ctx *c = ctx;
    return pl_read(c->bytes, c->size, &c->g);
}
static ais_status sweep_write(void *ctx) {
    sweep_ctx *c = ctx;
    return ais__ais_write(c->src, c->path, c->level);
}

static ais_status sweep_read_file(void *ctx) {
    sweep_ctx *c = ctx;
    return ais__model_read_file(c->path, NULL, &c->g);
}

static void test_oom(void **state) {
    (void)state;
    for (int level = 0; level <= 3; level += 3) {
        size_t size;
        uint8_t *bytes = small_file(level, &size);
        uint8_t *aligned = aligned_alloc(64, (size + 63) / 64 * 64);
        memcpy(aligned, bytes, size);
        sweep_ctx c = {aligned, size, NULL, NULL, NULL, level};
        AIS_TEST_OOM_SWEEP("ais__ais_read", sweep_read, &c, 5000, AIS_OWN_GRAPH(&c.g));
        free(aligned);
        free(bytes);
        ais__graph *g = build_graph(false);
        sweep_ctx w = {NULL, 0, NULL, g, ais_test_tmp_path("oom.ais"), level};
        ais_test_oom_sweep("ais__ais_write", sweep_write, NULL, &w, 5000);
        /* the file loader too: the mapping is released on every failure */
        sweep_ctx f = {NULL, 0, NULL, NULL, w.path, level};
        AIS_TEST_OOM_SWEEP("ais__model_read_file", sweep_read_file, &f, 5000, AIS_OWN_GRAPH(&f.g));
        ais__graph_destroy(g);
        /* a file with a pipeline: its compile and checks fail cleanly too */
        bytes = pl_file(level, &size);
        aligned = aligned_alloc(64, (size + 63) / 64 * 64);
        memcpy(aligned, bytes, size);
        sweep_ctx pc = {aligned, size, NULL, NULL, NULL, level};
        AIS_TEST_OOM_SWEEP("ais__ais_read (pipeline)", sweep_read, &pc, 5000, AIS_OWN_GRAPH(&pc.g));
        AIS_TEST_OOM_SWEEP("ais__model_attach_pipeline", sweep_read_attach, &pc, 5000,
                           AIS_OWN_GRAPH(&pc.g));
        free(aligned);
        free(bytes);
    }
}

static int teardown(void **state) {
    (void)state;
    return ais_test_tmpdir_remove();
}

/* `test_ais_format --seeds DIR`: small valid files for the fuzzer's corpus. */
static int write_seeds(const char *dir) {
    char path[1024];
    ais__graph *g = build_graph(false);
    for (int level = 0; level <= 3; level += 3) {
        snprintf(path, sizeof path, "%s/small_level%d.ais", dir, level);
        if (ais__ais_write(g, path, level) != AIS_OK) return 1;
    }
    ais__graph_destroy(g);
    /* compressible tensors: zstd alone (zeros) and shuffle+zstd (smooth floats) */
    AIS_ASSERT_OK(ais__graph_create(&g));
    ais_tensor *t;
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_I64, AIS_SHAPE(64), &t));
    add_const(g, "zeros", t);
    AIS_ASSERT_OK(ais_tensor_create(AIS_DTYPE_F32, AIS_SHAPE(16, 16), &t));
    for (int i = 0; i < 256; i++)
        ((float *)ais_tensor_data(t))[i] = 1.0f + (float)i / 1024.0f;
    ais_attrs *a;
    AIS_ASSERT_OK(ais_attrs_create(&a));
    AIS_ASSERT_OK(ais_attrs_set_tensor(a, "value", t));
    add_const(g, "ramp", t);
    AIS_ASSERT_OK(ais__graph_add_node(g, "k", "Constant", "", a, NULL, 0,
                                      (const char *const[]){"out"}, 1, NULL));
    snprintf(path, sizeof path, "%s/compressed.ais", dir);
    if (ais__ais_write(g, path, 3) != AIS_OK) return 1;
    ais__graph_destroy(g);
    AIS_ASSERT_OK(ais__graph_create(&g));
    snprintf(path, sizeof path, "%s/empty_graph.ais", dir);
    if (ais__ais_write(g, path, 0) != AIS_OK) return 1;
    ais__graph_destroy(g);
    g = pl_graph();
    const ais__pipeline_section sec = {"x", pl_spec2, strlen(pl_spec2)};
    snprintf(path, sizeof path, "%s/pipeline.ais", dir);
    ais_status st = ais__ais_write_pipeline(g, &sec, path, 0);
    ais__graph_destroy(g);
    return st != AIS_OK;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--seeds") == 0) return write_seeds(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_raw),
        cmocka_unit_test(test_roundtrip_compressed),
        cmocka_unit_test(test_read_memory_unaligned),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_byte_flips),
        cmocka_unit_test(test_checksum_names_tensor),
        cmocka_unit_test(test_verify_option),
        cmocka_unit_test(test_byte_flips_unverified),
        cmocka_unit_test(test_drop_pages),
        cmocka_unit_test(test_versions_and_features),
        cmocka_unit_test(test_unknown_sections),
        cmocka_unit_test(test_pipeline_section),
        cmocka_unit_test(test_sniffing),
        cmocka_unit_test(test_format_metadata),
        cmocka_unit_test(test_file_open),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_shuffle),
        cmocka_unit_test(test_oom),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
