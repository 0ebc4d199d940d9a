/*
 * onnx_reader.c - ONNX ModelProto into the graph IR. The protobuf is decoded by our own wire
 * reader (protobuf.h) so that initializers borrow their bytes from the input in place.
 *
 * Graph inputs that are also initializers are constants, not inputs the caller must feed: in IR
 * version < 4 every initializer had to be listed as an input, and for later versions such an
 * input is only an overridable default, which we do not offer.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "onnx_tensor.h"

enum {
    AIS__MP_IR_VERSION = 1,
    AIS__MP_PRODUCER_NAME = 2,
    AIS__MP_PRODUCER_VERSION = 3,
    AIS__MP_DOMAIN = 4,
    AIS__MP_MODEL_VERSION = 5,
    AIS__MP_DOC_STRING = 6,
    AIS__MP_GRAPH = 7,
    AIS__MP_OPSET_IMPORT = 8,
    AIS__MP_METADATA_PROPS = 14,
};

enum {
    AIS__GP_NODE = 1,
    AIS__GP_NAME = 2,
    AIS__GP_INITIALIZER = 5,
    AIS__GP_INPUT = 11,
    AIS__GP_OUTPUT = 12,
    AIS__GP_VALUE_INFO = 13,
    AIS__GP_SPARSE_INITIALIZER = 15,
};

/* A ValueInfoProto as far as we use it. */
typedef struct ais__vinfo {
    char *name;
    bool is_tensor;    /* TypeProto.tensor_type; else some other type (or none) */
    bool is_seq;       /* a sequence of tensors of elem_type (dims: of the elements) */
    bool seq_of_map;   /* ZipMap's output type: run as its dense tensor (docs/onnx_ml.md) */
    const char *other; /* the kind of a non-tensor type, for messages */
    uint64_t elem_type;
    int32_t ndim; /* -1 without a shape */
    int64_t dims[AIS_MAX_DIMS];
    char *dim_names[AIS_MAX_DIMS];
} ais__vinfo;

static void ais__vinfo_clear(ais__vinfo *v) {
    ais__free(v->name);
    for (int i = 0; i < AIS_MAX_DIMS; i++)
        ais__free(v->dim_names[i]);
    memset(v, 0, sizeof *v);
}

static ais_status ais__read_shape(const ais__pb *msg, ais__vinfo *v) {
    ais__pb r = *msg;
    ais__pb_field f;
    bool has;
    ais_status st;
    v->ndim = 0;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        if (f.number != 1) continue; /* dim */
        if (v->ndim >= AIS_MAX_DIMS)
            return ais__error(AIS_E_LIMIT, "value '%s': more than %d dims", v->name, AIS_MAX_DIMS);
        ais__pb d;
        AIS__CHECK(ais__pb_sub(&r, &f, &d));
        int32_t k = v->ndim++;
        v->dims[k] = AIS__DIM_DYNAMIC;
        ais__pb_field x;
        bool more;
        while ((st = ais__pb_next(&d, &x, &more)) == AIS_OK && more) {
            if (x.number == 1) { /* dim_value */
                AIS__CHECK(ais__pb_expect(&d, &x, AIS__PB_VARINT, "dim_value"));
                if ((int64_t)x.v < 0)
                    return ais__error(AIS_E_FORMAT,
                                      "value '%s': dim %d is %" PRId64 " at offset %zu", v->name, k,
                                      (int64_t)x.v, x.offset);
                v->dims[k] = (int64_t)x.v;
                ais__free(v->dim_names[k]);
                v->dim_names[k] = NULL;
            } else if (x.number == 2) { /* dim_param */
                ais__free(v->dim_names[k]);
                v->dim_names[k] = NULL;
                AIS__CHECK(ais__pb_strdup(&d, &x, AIS__ONNX_MAX_NAME, &v->dim_names[k]));
                v->dims[k] = AIS__DIM_DYNAMIC;
            }
        }
        AIS__CHECK(st);
    }
    return st;
}

/* TypeProto: a tensor type; a sequence of tensors (is_seq); an optional of either, read as
 * its element (an empty optional cannot be fed). Maps, sparse tensors and nested sequences stay
 * "other". `depth` bounds the recursion on hostile input. */
static ais_status ais__read_type(const ais__pb *msg, ais__vinfo *v, int depth) {
    static const char *const kinds[] = {
        [4] = "a sequence", [5] = "a map", [8] = "a sparse tensor", [9] = "an optional"};
    ais__pb r = *msg;
    ais__pb_field f;
    bool has;
    ais_status st;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        if ((f.number == 4 || f.number == 9) && depth < 3 && f.wire == AIS__PB_LEN) {
            /* SequenceProto / OptionalProto type: field 1 is the element's TypeProto */
            ais__pb c;
            AIS__CHECK(ais__pb_sub(&r, &f, &c));
            ais__pb_field x;
            bool more;
            /* inner owns the dim names it reads; v's (of an earlier field) are dropped */
            for (int k = 0; k < AIS_MAX_DIMS; k++) {
                ais__free(v->dim_names[k]);
                v->dim_names[k] = NULL;
            }
            ais__vinfo inner = *v;
            inner.ndim = -1;
            inner.elem_type = 0;
            inner.is_tensor = false;
            inner.is_seq = false;
            inner.other = kinds[f.number];
            while ((st = ais__pb_next(&c, &x, &more)) == AIS_OK && more) {
                if (x.number != 1) continue;
                ais__pb e;
                if ((st = ais__pb_sub(&c, &x, &e)) != AIS_OK ||
                    (st = ais__read_type(&e, &inner, depth + 1)) != AIS_OK)
                    break;
            }
            if (st != AIS_OK) {
                for (int k = 0; k < AIS_MAX_DIMS; k++)
                    ais__free(inner.dim_names[k]);
                return st;
            }
            bool ok =
                f.number == 4 ? inner.is_tensor && !inner.is_seq : inner.is_tensor || inner.is_seq;
            memcpy(v->dims, inner.dims, sizeof v->dims);
            memcpy(v->dim_names, inner.dim_names, sizeof v->dim_names);
            v->ndim = inner.ndim;
            v->elem_type = inner.elem_type;
            if (!ok) {
                v->seq_of_map = f.number == 4 && inner.other == kinds[5];
                v->is_tensor = false;
                v->is_seq = false;
                v->other = f.number == 4 ? "a sequence of non-tensor" : "an optional of another";
            } else if (f.number == 4) {
                v->is_tensor = false;
                v->is_seq = true;
            } else {
                v->is_tensor = inner.is_tensor;
                v->is_seq = inner.is_seq;
            }
            continue;
        }
        if (f.number != 1) {
            if (f.number < AIS__ARRAY_LEN(kinds) && kinds[f.number]) {
                v->is_tensor = false;
                v->is_seq = false;
                v->other = kinds[f.number];
            }
            continue;
        }
        ais__pb t;
        AIS__CHECK(ais__pb_sub(&r, &f, &t));
        v->is_tensor = true;
        v->is_seq = false;
        ais__pb_field x;
        bool more;
        while ((st = ais__pb_next(&t, &x, &more)) == AIS_OK && more) {
            if (x.number == 1) {
                AIS__CHECK(ais__pb_expect(&t, &x, AIS__PB_VARINT, "elem_type"));
                v->elem_type = x.v;
            } else if (x.number == 2) {
                ais__pb s;
                AIS__CHECK(ais__pb_sub(&t, &x, &s));
                AIS__CHECK(ais__read_shape(&s, v));
            }
        }
        AIS__CHECK(st);
    }
    return st;
}

static ais_status ais__read_vinfo(const ais__pb *msg, ais__vinfo *v) {
    memset(v, 0, sizeof *v);
    v->ndim = -1;
    v->other = "an untyped";
    ais__pb r = *msg;
    ais__pb_field f, type_f = {0};
    bool has, has_type = false;
    ais_status st;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        if (f.number == 1) {
            ais__free(v->name);
            v->name = NULL;
            AIS__CHECK(ais__pb_strdup(&r, &f, AIS__ONNX_MAX_NAME, &v->name));
        } else if (f.number == 2) {
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_LEN, "type"));
            type_f = f;
            has_type = true;
        }
    }
    AIS__CHECK(st);
    if (!v->name || !v->name[0]) return ais__error(AIS_E_FORMAT, "value without a name");
    if (has_type) {
        ais__pb t;
        AIS__CHECK(ais__pb_sub(&r, &type_f, &t));
        AIS__CHECK(ais__read_type(&t, v, 0));
    }
    return AIS_OK;
}

/* Declares what v says about a graph input or output; `strict` refuses types we cannot run. */
static ais_status ais__declare(ais__graph *g, int32_t idx, const ais__vinfo *v, bool strict,
                               const char *role) {
    if (v->is_seq) /* the elements' dtype and shape are checked by the operators */
        return ais__graph_declare(g, idx, AIS_DTYPE_SEQUENCE, 0, NULL, NULL);
    if (v->seq_of_map && strcmp(role, "output") == 0) /* the producer's inference types it */
        return ais__graph_declare(g, idx, AIS_DTYPE_UNDEFINED, -1, NULL, NULL);
    if (!v->is_tensor) {
        if (!strict) return AIS_OK;
        return ais__error(AIS_E_UNSUPPORTED,
                          "graph %s '%s' is %s value; only tensors are "
                          "supported",
                          role, v->name, v->other);
    }
    ais_dtype dt = AIS_DTYPE_UNDEFINED;
    if (v->elem_type != 0) {
        size_t es = v->elem_type <= 64 ? ais_dtype_size((ais_dtype)v->elem_type) : 0;
        if (es == 0) {
            if (!strict) return AIS_OK;
            return ais__error(AIS_E_UNSUPPORTED,
                              "graph %s '%s' has element type %llu%s, which is not supported", role,
                              v->name, (unsigned long long)v->elem_type,
                              v->elem_type == AIS_DTYPE_STRING ? " (string)" : "");
        }
        dt = (ais_dtype)v->elem_type;
    }
    return ais__graph_declare(g, idx, dt, v->ndim, v->dims, (const char *const *)v->dim_names);
}

static ais_status ais__read_initializer(ais__onnx_ctx *ctx, const ais__pb *msg) {
    ais_tensor *t;
    char *name;
    AIS__CHECK(ais__onnx_tensor_read(msg, &ctx->ext, true, &t, &name));
    ais_status st = AIS_OK;
    int32_t idx;
    if (!name || !name[0])
        st = ais__error(AIS_E_FORMAT, "initializer without a name");
    else if (ais__graph_find(ctx->g, name) >= 0)
        st = ais__error(AIS_E_FORMAT, "initializer '%s' appears twice", name);
    else if ((st = ais__graph_value(ctx->g, name, &idx)) == AIS_OK)
        st = ais__graph_set_constant(ctx->g, idx, t);
    ais__free(name);
    if (st != AIS_OK) ais_tensor_destroy(t);
    return st;
}

static ais_status ais__read_io(ais__onnx_ctx *ctx, const ais__pb *msg, uint32_t which) {
    ais__vinfo v;
    ais_status st = ais__read_vinfo(msg, &v);
    ais__graph *g = ctx->g;
    int32_t idx = st == AIS_OK ? ais__graph_find(g, v.name) : -1;
    const ais__value *val = idx >= 0 ? &g->values[idx] : NULL;
    if (st != AIS_OK) {
        /* v is cleared below */
    } else if (which == AIS__GP_INPUT) {
        if (val && (val->flags & AIS__VALUE_INPUT))
            st = ais__error(AIS_E_FORMAT, "graph input '%s' appears twice", v.name);
        else if (!(val && (val->flags & AIS__VALUE_CONST))) {
            if ((st = ais__graph_value(g, v.name, &idx)) == AIS_OK &&
                (st = ais__declare(g, idx, &v, true, "input")) == AIS_OK)
                st = ais__graph_add_input(g, idx);
        }
    } else if (which == AIS__GP_OUTPUT) {
        if (val && (val->flags & AIS__VALUE_OUTPUT))
            st = ais__error(AIS_E_FORMAT, "graph output '%s' appears twice", v.name);
        else if ((st = ais__graph_value(g, v.name, &idx)) == AIS_OK) {
            if (!(g->values[idx].flags & (AIS__VALUE_CONST | AIS__VALUE_INPUT)))
                st = ais__declare(g, idx, &v, true, "output");
            if (st == AIS_OK) st = ais__graph_add_output(g, idx);
        }
    } else if (val && !(val->flags & (AIS__VALUE_CONST | AIS__VALUE_INPUT | AIS__VALUE_OUTPUT))) {
        /* value_info: hints for intermediate values; types we do not know are left open */
        st = ais__declare(g, idx, &v, false, "value");
    }
    ais__vinfo_clear(&v);
    return st;
}

/* Runs fn over every occurrence of `field` in the graph, naming failures "graph.<what>[i]". */
static ais_status ais__graph_pass(ais__onnx_ctx *ctx, const ais__pb *gmsg, uint32_t field,
                                  const char *what) {
    ais__pb r = *gmsg;
    ais__pb_field f;
    bool has;
    ais_status st;
    size_t i = 0;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        if (f.number != field) continue;
        char path[64];
        snprintf(path, sizeof path, "graph.%s[%zu]", what, i++);
        ais__pb sub;
        st = ais__pb_sub(&r, &f, &sub);
        if (st == AIS_OK) {
            if (field == AIS__GP_NODE)
                st = ais__onnx_read_node(ctx, &sub, path);
            else if (field == AIS__GP_INITIALIZER)
                st = ais__read_initializer(ctx, &sub);
            else if (field == AIS__GP_SPARSE_INITIALIZER)
                st = ais__error(AIS_E_UNSUPPORTED, "sparse initializers are not supported");
            else
                st = ais__read_io(ctx, &sub, field);
        }
        if (st != AIS_OK) return ais__onnx_fail(ctx, st, path);
    }
    return ais__onnx_fail(ctx, st, "graph");
}

static ais_status ais__read_graph(ais__onnx_ctx *ctx, const ais__pb *gmsg) {
    /* Constants first, so inputs that repeat them are recognized; nodes before outputs, so an
     * output's declared type does not hide what produced it. */
    AIS__CHECK(ais__graph_pass(ctx, gmsg, AIS__GP_SPARSE_INITIALIZER, "sparse_initializer"));
    AIS__CHECK(ais__graph_pass(ctx, gmsg, AIS__GP_INITIALIZER, "initializer"));
    AIS__CHECK(ais__graph_pass(ctx, gmsg, AIS__GP_INPUT, "input"));
    AIS__CHECK(ais__graph_pass(ctx, gmsg, AIS__GP_NODE, "node"));
    AIS__CHECK(ais__graph_pass(ctx, gmsg, AIS__GP_OUTPUT, "output"));
    AIS__CHECK(ais__graph_pass(ctx, gmsg, AIS__GP_VALUE_INFO, "value_info"));
    ais__pb r = *gmsg;
    ais__pb_field f;
    bool has;
    ais_status st;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        if (f.number != AIS__GP_NAME) continue;
        char *name;
        if ((st = ais__pb_strdup(&r, &f, AIS__ONNX_MAX_NAME, &name)) != AIS_OK) break;
        st = ais__graph_set_meta(ctx->g, "graph_name", name);
        ais__free(name);
        if (st != AIS_OK) break;
    }
    return ais__onnx_fail(ctx, st, "graph.name");
}

/* A StringStringEntryProto or OperatorSetIdProto: field 1 a string, field 2 string or int. */
static ais_status ais__read_pair(const ais__pb *msg, bool int_value, char **key, char **value,
                                 int64_t *ivalue) {
    *key = *value = NULL;
    *ivalue = 0;
    ais__pb r = *msg;
    ais__pb_field f;
    bool has;
    ais_status st;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        char **dst = f.number == 1 ? key : (f.number == 2 && !int_value) ? value : NULL;
        if (dst) {
            ais__free(*dst);
            *dst = NULL;
            if ((st = ais__pb_strdup(&r, &f, AIS__ONNX_MAX_STRING, dst)) != AIS_OK) break;
        } else if (f.number == 2) {
            if ((st = ais__pb_expect(&r, &f, AIS__PB_VARINT, "version")) != AIS_OK) break;
            *ivalue = (int64_t)f.v;
        }
    }
    if (st != AIS_OK) {
        ais__free(*key);
        ais__free(*value);
        *key = *value = NULL;
    }
    return st;
}

static ais_status ais__model_field(ais__onnx_ctx *ctx, const ais__pb *r, const ais__pb_field *f) {
    static const char *const keys[] = {[AIS__MP_PRODUCER_NAME] = "producer",
                                       [AIS__MP_PRODUCER_VERSION] = "producer_version",
                                       [AIS__MP_DOMAIN] = "domain",
                                       [AIS__MP_DOC_STRING] = "description"};
    char buf[32];
    switch (f->number) {
    case AIS__MP_IR_VERSION:
    case AIS__MP_MODEL_VERSION:
        AIS__CHECK(ais__pb_expect(r, f, AIS__PB_VARINT, "version"));
        snprintf(buf, sizeof buf, "%" PRId64, (int64_t)f->v);
        return ais__graph_set_meta(
            ctx->g, f->number == AIS__MP_IR_VERSION ? "ir_version" : "model_version", buf);
    case AIS__MP_PRODUCER_NAME:
    case AIS__MP_PRODUCER_VERSION:
    case AIS__MP_DOMAIN:
    case AIS__MP_DOC_STRING: {
        char *s;
        AIS__CHECK(ais__pb_strdup(r, f, AIS__ONNX_MAX_STRING, &s));
        ais_status st = ais__graph_set_meta(ctx->g, keys[f->number], s);
        ais__free(s);
        return st;
    }
    case AIS__MP_OPSET_IMPORT:
    case AIS__MP_METADATA_PROPS: {
        ais__pb sub;
        AIS__CHECK(ais__pb_sub(r, f, &sub));
        bool opset = f->number == AIS__MP_OPSET_IMPORT;
        char *k, *v;
        int64_t version;
        AIS__CHECK(ais__read_pair(&sub, opset, &k, &v, &version));
        ais_status st;
        if (opset)
            st = ais__graph_set_opset(ctx->g, k ? k : "", version);
        else if (!k || !k[0])
            st = ais__error(AIS_E_FORMAT, "metadata entry without a key");
        else
            st = ais__graph_set_meta(ctx->g, k, v ? v : "");
        ais__free(k);
        ais__free(v);
        return st;
    }
    default: return AIS_OK;
    }
}

static const char *ais__model_field_name(uint32_t n) {
    switch (n) {
    case AIS__MP_IR_VERSION: return "ir_version";
    case AIS__MP_PRODUCER_NAME: return "producer_name";
    case AIS__MP_PRODUCER_VERSION: return "producer_version";
    case AIS__MP_DOMAIN: return "domain";
    case AIS__MP_MODEL_VERSION: return "model_version";
    case AIS__MP_DOC_STRING: return "doc_string";
    case AIS__MP_OPSET_IMPORT: return "opset_import";
    case AIS__MP_METADATA_PROPS: return "metadata_props";
    default: return "model";
    }
}

static ais_status ais__read_model(ais__onnx_ctx *ctx, const void *data, size_t size) {
    ais__pb r;
    ais__pb_init(&r, data, size);
    ais__pb_field f, graph_f = {0};
    bool has, has_graph = false, has_ir = false;
    size_t entries = 0;
    ais_status st;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        if (f.number == AIS__MP_GRAPH) {
            /* protobuf would merge repeated copies of a message field; no exporter writes
             * two, so a second one is corruption, not something to merge. */
            if (has_graph)
                return ais__error(AIS_E_FORMAT, "model: a second graph at offset %zu", f.offset);
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_LEN, "graph"));
            graph_f = f;
            has_graph = true;
            continue;
        }
        if (f.number == AIS__MP_IR_VERSION) has_ir = true;
        if ((f.number == AIS__MP_OPSET_IMPORT || f.number == AIS__MP_METADATA_PROPS) &&
            ++entries > AIS__ONNX_MAX_ENTRIES)
            return ais__error(AIS_E_LIMIT,
                              "model: more than %d opset imports and metadata "
                              "entries",
                              AIS__ONNX_MAX_ENTRIES);
        if ((st = ais__model_field(ctx, &r, &f)) != AIS_OK) {
            ais__error_prefix("model.%s", ais__model_field_name(f.number));
            ctx->prefixed = true;
            return st;
        }
    }
    if (st != AIS_OK) {
        ais__error_prefix("model");
        ctx->prefixed = true;
        return st;
    }
    if (!has_ir || !has_graph)
        return ais__error(AIS_E_FORMAT, "not an ONNX model: no %s",
                          has_ir ? "graph" : "ir_version");
    ais__pb g;
    AIS__CHECK(ais__pb_sub(&r, &graph_f, &g));
    return ais__read_graph(ctx, &g);
}

ais_status ais__onnx_read(const void *data, size_t size, const char *base_dir,
                          const ais__load_opts *o, ais__graph **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais__onnx_read: out is NULL");
    *out = NULL;
    if (!data && size) return ais__error(AIS_E_INVALID_ARGUMENT, "ais__onnx_read: data is NULL");
    ais__load_opts dflt;
    if (!o) {
        ais__load_opts_default(&dflt);
        o = &dflt;
    }
    if ((uint64_t)size > o->max_file_bytes)
        return ais__error(AIS_E_LIMIT, "ONNX model of %zu bytes exceeds the limit of %llu", size,
                          (unsigned long long)o->max_file_bytes);
    ais__onnx_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.ext.base_dir = base_dir ? base_dir : ".";
    ctx.ext.map = o->map_weights;
    ctx.ext.source_mapped = o->source_mapped;
    AIS__CHECK(ais__graph_create(&ctx.g));
    ctx.ext.g = ctx.g;
    ais_status st = ais__read_model(&ctx, data, size);
    ais__onnx_ext_finish(&ctx.ext);
    if (st == AIS_OK && (st = ais__graph_validate(ctx.g)) != AIS_OK) ais__error_prefix("graph");
    if (st != AIS_OK) {
        ais__graph_destroy(ctx.g);
        return st;
    }
    ais__log(AIS_LOG_DEBUG,
             "ONNX model: %zu nodes, %zu values, %llu weight bytes used in place, "
             "%llu copied",
             ctx.g->n_nodes, ctx.g->n_values, (unsigned long long)ctx.ext.borrowed,
             (unsigned long long)ctx.ext.copied);
    *out = ctx.g;
    return AIS_OK;
}
