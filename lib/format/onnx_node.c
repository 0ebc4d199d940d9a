/* onnx_node.c - ONNX NodeProto and AttributeProto into graph nodes with ais_attrs. */
#include <stdio.h>
#include <string.h>

#include "onnx_tensor.h"

enum {
    AIS__NODE_INPUT = 1,
    AIS__NODE_OUTPUT = 2,
    AIS__NODE_NAME = 3,
    AIS__NODE_OP_TYPE = 4,
    AIS__NODE_ATTRIBUTE = 5,
    AIS__NODE_DOMAIN = 7,
};

enum {
    AIS__AP_NAME = 1,
    AIS__AP_F = 2,
    AIS__AP_I = 3,
    AIS__AP_S = 4,
    AIS__AP_T = 5,
    AIS__AP_G = 6,
    AIS__AP_FLOATS = 7,
    AIS__AP_INTS = 8,
    AIS__AP_STRINGS = 9,
    AIS__AP_TENSORS = 10,
    AIS__AP_GRAPHS = 11,
    AIS__AP_TP = 14,
    AIS__AP_TYPE_PROTOS = 15,
    AIS__AP_TYPE = 20,
    AIS__AP_REF_ATTR_NAME = 21,
    AIS__AP_SPARSE_TENSOR = 22,
    AIS__AP_SPARSE_TENSORS = 23,
    AIS__AP_NFIELDS = 24
};

/* AttributeProto.AttributeType */
enum {
    AIS__AT_FLOAT = 1,
    AIS__AT_INT = 2,
    AIS__AT_STRING = 3,
    AIS__AT_TENSOR = 4,
    AIS__AT_GRAPH = 5,
    AIS__AT_FLOATS = 6,
    AIS__AT_INTS = 7,
    AIS__AT_STRINGS = 8,
    AIS__AT_TENSORS = 9,
    AIS__AT_GRAPHS = 10,
    AIS__AT_SPARSE_TENSOR = 11,
    AIS__AT_SPARSE_TENSORS = 12,
    AIS__AT_TYPE_PROTO = 13,
    AIS__AT_TYPE_PROTOS = 14,
};

ais_status ais__onnx_fail(ais__onnx_ctx *ctx, ais_status st, const char *path) {
    if (st != AIS_OK && !ctx->prefixed) {
        ais__error_prefix("%s", path);
        ctx->prefixed = true;
    }
    return st;
}

typedef struct ais__attr_scan {
    ais__pb_field last[AIS__AP_NFIELDS]; /* the last occurrence of each field */
    size_t seen[AIS__AP_NFIELDS];        /* occurrences (values for repeated scalars) */
} ais__attr_scan;

/* The attribute type of files written before AttributeProto.type existed: whichever field is
 * set. */
static uint64_t ais__attr_infer_type(const ais__attr_scan *s) {
    static const struct {
        int field;
        uint64_t type;
    } order[] = {
        {AIS__AP_G, AIS__AT_GRAPH},
        {AIS__AP_GRAPHS, AIS__AT_GRAPHS},
        {AIS__AP_T, AIS__AT_TENSOR},
        {AIS__AP_TENSORS, AIS__AT_TENSORS},
        {AIS__AP_S, AIS__AT_STRING},
        {AIS__AP_F, AIS__AT_FLOAT},
        {AIS__AP_I, AIS__AT_INT},
        {AIS__AP_FLOATS, AIS__AT_FLOATS},
        {AIS__AP_INTS, AIS__AT_INTS},
        {AIS__AP_STRINGS, AIS__AT_STRINGS},
        {AIS__AP_SPARSE_TENSOR, AIS__AT_SPARSE_TENSOR},
        {AIS__AP_SPARSE_TENSORS, AIS__AT_SPARSE_TENSORS},
        {AIS__AP_TP, AIS__AT_TYPE_PROTO},
        {AIS__AP_TYPE_PROTOS, AIS__AT_TYPE_PROTOS},
    };
    for (size_t i = 0; i < AIS__ARRAY_LEN(order); i++)
        if (s->seen[order[i].field]) return order[i].type;
    return 0;
}

static ais_status ais__attr_numbers(const ais__pb *msg, int field, ais__pb_kind kind, size_t n,
                                    void *out) {
    ais__pb r = *msg;
    ais__pb_field f;
    bool has;
    ais_status st;
    size_t i = 0;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        if (f.number != (uint32_t)field) continue;
        size_t k;
        AIS__CHECK(ais__pb_scalar_count(&r, &f, kind, &k));
        ais__pb_iter it;
        ais__pb_iter_init(&r, &f, kind, &it);
        for (size_t j = 0; j < k && i < n; j++, i++) {
            uint64_t v;
            AIS__CHECK(ais__pb_iter_next(&it, &v));
            if (kind == AIS__PB_K_FIXED32) {
                uint32_t w = (uint32_t)v;
                memcpy((float *)out + i, &w, 4);
            } else {
                ((int64_t *)out)[i] = (int64_t)v;
            }
        }
    }
    return st;
}

static ais_status ais__attr_strings(const ais__pb *msg, ais_attrs *attrs, const char *name,
                                    size_t n) {
    char **v = ais__calloc(n ? n : 1, sizeof *v);
    if (!v) return ais__oom(n * sizeof *v, "strings attribute");
    ais__pb r = *msg;
    ais__pb_field f;
    bool has;
    ais_status st;
    size_t i = 0;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has && i < n) {
        if (f.number != AIS__AP_STRINGS) continue;
        if ((st = ais__pb_strdup(&r, &f, AIS__ONNX_MAX_STRING, &v[i++])) != AIS_OK) break;
    }
    if (st == AIS_OK) st = ais_attrs_set_strings(attrs, name, (const char *const *)v, i);
    for (size_t k = 0; k < i; k++)
        ais__free(v[k]);
    ais__free(v);
    return st;
}

static ais_status ais__attr_tensor_field(ais__onnx_ctx *ctx, const ais__pb *msg,
                                         const ais__pb_field *f, ais_attrs *attrs,
                                         const char *name) {
    ais__pb sub;
    AIS__CHECK(ais__pb_sub(msg, f, &sub));
    ais_tensor *t;
    AIS__CHECK(ais__onnx_tensor_read(&sub, &ctx->ext, true, &t, NULL));
    ais_status st;
    if (!t->storage) /* borrowed from the input or a mapping that the graph keeps */
        st = ais__attrs_set_tensor_borrowed(attrs, name, t->dtype, t->dims, t->ndim, t->data);
    else
        st = ais_attrs_set_tensor(attrs, name, t);
    ais_tensor_destroy(t);
    return st;
}

static ais_status ais__read_attr(ais__onnx_ctx *ctx, const ais__pb *msg, ais_attrs *attrs,
                                 const char *node, const char *op) {
    ais__attr_scan s;
    memset(&s, 0, sizeof s);
    ais__pb r = *msg;
    ais__pb_field f;
    bool has;
    ais_status st;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        if (f.number >= AIS__AP_NFIELDS) continue;
        size_t n = 1;
        switch (f.number) {
        case AIS__AP_F: AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_I32, "f")); break;
        case AIS__AP_I: AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_VARINT, "i")); break;
        case AIS__AP_TYPE: AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_VARINT, "type")); break;
        case AIS__AP_FLOATS: AIS__CHECK(ais__pb_scalar_count(&r, &f, AIS__PB_K_FIXED32, &n)); break;
        case AIS__AP_INTS: AIS__CHECK(ais__pb_scalar_count(&r, &f, AIS__PB_K_VARINT, &n)); break;
        case AIS__AP_NAME:
        case AIS__AP_S:
        case AIS__AP_T:
        case AIS__AP_G:
        case AIS__AP_STRINGS:
        case AIS__AP_REF_ATTR_NAME:
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_LEN, "attribute field"));
            break;
        default: break;
        }
        s.last[f.number] = f;
        s.seen[f.number] += n;
    }
    AIS__CHECK(st);
    if (!s.seen[AIS__AP_NAME])
        return ais__error(AIS_E_FORMAT, "node '%s' (%s): attribute without a name", node, op);
    char *name;
    AIS__CHECK(ais__pb_strdup(&r, &s.last[AIS__AP_NAME], AIS__ONNX_MAX_NAME, &name));
    if (!name[0]) {
        ais__free(name);
        return ais__error(AIS_E_FORMAT, "node '%s' (%s): attribute with an empty name", node, op);
    }
    uint64_t type = s.seen[AIS__AP_TYPE] ? s.last[AIS__AP_TYPE].v : 0;
    if (type == 0) type = ais__attr_infer_type(&s);
    st = AIS_OK;
    if (s.seen[AIS__AP_REF_ATTR_NAME]) {
        st = ais__error(AIS_E_UNSUPPORTED,
                        "node '%s' (%s): attribute '%s' refers to a function attribute "
                        "(ref_attr_name); functions are not supported",
                        node, op, name);
    } else {
        switch (type) {
        case AIS__AT_FLOAT: {
            uint32_t w = (uint32_t)s.last[AIS__AP_F].v;
            float v;
            memcpy(&v, &w, 4);
            st = ais_attrs_set_float(attrs, name, v);
            break;
        }
        case AIS__AT_INT: st = ais_attrs_set_int(attrs, name, (int64_t)s.last[AIS__AP_I].v); break;
        case AIS__AT_STRING: {
            char *v = NULL;
            if (s.seen[AIS__AP_S])
                st = ais__pb_strdup(&r, &s.last[AIS__AP_S], AIS__ONNX_MAX_STRING, &v);
            if (st == AIS_OK) st = ais_attrs_set_string(attrs, name, v ? v : "");
            ais__free(v);
            break;
        }
        case AIS__AT_TENSOR:
            if (!s.seen[AIS__AP_T])
                st = ais__error(AIS_E_FORMAT, "node '%s' (%s): tensor attribute '%s' has no t",
                                node, op, name);
            else
                st = ais__attr_tensor_field(ctx, msg, &s.last[AIS__AP_T], attrs, name);
            break;
        case AIS__AT_FLOATS:
        case AIS__AT_INTS: {
            bool fl = type == AIS__AT_FLOATS;
            size_t n = s.seen[fl ? AIS__AP_FLOATS : AIS__AP_INTS];
            size_t es = fl ? sizeof(float) : sizeof(int64_t);
            void *v = ais__malloc(n ? n * es : 1);
            if (!v) {
                st = ais__oom(n * es, "attribute values");
                break;
            }
            st = ais__attr_numbers(msg, fl ? AIS__AP_FLOATS : AIS__AP_INTS,
                                   fl ? AIS__PB_K_FIXED32 : AIS__PB_K_VARINT, n, v);
            if (st == AIS_OK)
                st = fl ? ais_attrs_set_floats(attrs, name, v, n)
                        : ais_attrs_set_ints(attrs, name, v, n);
            ais__free(v);
            break;
        }
        case AIS__AT_STRINGS:
            st = ais__attr_strings(msg, attrs, name, s.seen[AIS__AP_STRINGS]);
            break;
        case AIS__AT_GRAPH:
        case AIS__AT_GRAPHS:
            st = ais__error(AIS_E_UNSUPPORTED,
                            "node '%s' (%s): attribute '%s' is a sub-graph; control flow with "
                            "sub-graphs (If, Loop, Scan) is not supported",
                            node, op, name);
            break;
        case AIS__AT_TENSORS:
        case AIS__AT_SPARSE_TENSOR:
        case AIS__AT_SPARSE_TENSORS:
        case AIS__AT_TYPE_PROTO:
        case AIS__AT_TYPE_PROTOS:
            st = ais__error(AIS_E_UNSUPPORTED,
                            "node '%s' (%s): attribute '%s' of type %llu (tensors, sparse tensors "
                            "or types) is not supported",
                            node, op, name, (unsigned long long)type);
            break;
        case 0:
            st = ais__error(AIS_E_FORMAT, "node '%s' (%s): attribute '%s' has no value", node, op,
                            name);
            break;
        default:
            st = ais__error(AIS_E_FORMAT, "node '%s' (%s): attribute '%s' has unknown type %llu",
                            node, op, name, (unsigned long long)type);
            break;
        }
    }
    ais__free(name);
    return st;
}

/* Copies a LEN field into the arena at *pos as a C string; NUL bytes and size are checked. */
static ais_status ais__arena_str(const ais__pb *r, const ais__pb_field *f, char *arena, size_t *pos,
                                 const char **out) {
    if (f->len > AIS__ONNX_MAX_NAME)
        return ais__error(AIS_E_LIMIT, "name at offset %zu is %zu bytes, at most %u allowed",
                          f->offset, f->len, AIS__ONNX_MAX_NAME);
    if (f->len && memchr(f->data, 0, f->len))
        return ais__error(AIS_E_FORMAT, "name at offset %zu contains a NUL byte",
                          ais__pb_offset(r, f->data));
    char *s = arena + *pos;
    if (f->len) memcpy(s, f->data, f->len);
    s[f->len] = 0;
    *pos += f->len + 1;
    *out = s;
    return AIS_OK;
}

static ais_status ais__read_node_inner(ais__onnx_ctx *ctx, const ais__pb *msg, const char *path,
                                       char *arena_out[1], ais_attrs **attrs_out) {
    ais__pb r = *msg;
    ais__pb_field f, name_f = {0}, op_f = {0}, dom_f = {0};
    bool has, has_name = false, has_op = false, has_dom = false;
    size_t n_in = 0, n_out = 0, n_attr = 0, bytes = 0;
    ais_status st;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        switch (f.number) {
        case AIS__NODE_INPUT:
        case AIS__NODE_OUTPUT:
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_LEN, f.number == 1 ? "input" : "output"));
            if (f.number == AIS__NODE_INPUT)
                n_in++;
            else
                n_out++;
            bytes += f.len + 1;
            break;
        case AIS__NODE_NAME:
        case AIS__NODE_OP_TYPE:
        case AIS__NODE_DOMAIN:
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_LEN, "name, op_type or domain"));
            if (f.number == AIS__NODE_NAME) name_f = f, has_name = true;
            if (f.number == AIS__NODE_OP_TYPE) op_f = f, has_op = true;
            if (f.number == AIS__NODE_DOMAIN) dom_f = f, has_dom = true;
            break;
        case AIS__NODE_ATTRIBUTE:
            AIS__CHECK(ais__pb_expect(&r, &f, AIS__PB_LEN, "attribute"));
            if (++n_attr > AIS__ONNX_MAX_ATTRS)
                return ais__error(AIS_E_LIMIT, "more than %d attributes", AIS__ONNX_MAX_ATTRS);
            break;
        default: break;
        }
    }
    AIS__CHECK(st);
    if (!has_op || op_f.len == 0) return ais__error(AIS_E_FORMAT, "node without an op_type");
    /* One block for every string and the two pointer arrays; all sizes are bounded by the
     * message size, so these sums cannot overflow, but they are checked anyway. */
    size_t ptrs, total;
    if (!ais__add_size(bytes, name_f.len + op_f.len + dom_f.len + 3, &total) ||
        !ais__mul_size(n_in + n_out + 1, sizeof(char *), &ptrs) ||
        !ais__add_size(total, ptrs, &total))
        return ais__error(AIS_E_LIMIT, "node too large");
    char *arena = ais__malloc(total);
    if (!arena) return ais__oom(total, "node names");
    *arena_out = arena;
    const char **ins = (const char **)(void *)arena;
    const char **outs = ins + n_in;
    size_t pos = ptrs, i_in = 0, i_out = 0;
    const char *name = "", *op = NULL, *dom = "";
    if (has_name) AIS__CHECK(ais__arena_str(&r, &name_f, arena, &pos, &name));
    AIS__CHECK(ais__arena_str(&r, &op_f, arena, &pos, &op));
    if (has_dom) AIS__CHECK(ais__arena_str(&r, &dom_f, arena, &pos, &dom));
    r = *msg;
    while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
        if (f.number == AIS__NODE_INPUT)
            AIS__CHECK(ais__arena_str(&r, &f, arena, &pos, &ins[i_in++]));
        else if (f.number == AIS__NODE_OUTPUT)
            AIS__CHECK(ais__arena_str(&r, &f, arena, &pos, &outs[i_out++]));
    }
    AIS__CHECK(st);
    if (n_attr) {
        AIS__CHECK(ais_attrs_create(attrs_out));
        size_t k = 0;
        r = *msg;
        while ((st = ais__pb_next(&r, &f, &has)) == AIS_OK && has) {
            if (f.number != AIS__NODE_ATTRIBUTE) continue;
            char sub_path[300];
            snprintf(sub_path, sizeof sub_path, "%s.attribute[%zu]", path, k++);
            ais__pb sub;
            if ((st = ais__pb_sub(&r, &f, &sub)) == AIS_OK)
                st = ais__read_attr(ctx, &sub, *attrs_out, name, op);
            if (st != AIS_OK) return ais__onnx_fail(ctx, st, sub_path);
        }
        AIS__CHECK(st);
    }
    ais_attrs *attrs = *attrs_out;
    *attrs_out = NULL; /* add_node owns it from here, also on failure */
    st = ais__graph_add_node(ctx->g, name, op, dom, attrs, ins, n_in, outs, n_out, NULL);
    return st;
}

ais_status ais__onnx_read_node(ais__onnx_ctx *ctx, const ais__pb *msg, const char *path) {
    char *arena = NULL;
    ais_attrs *attrs = NULL;
    ais_status st = ais__read_node_inner(ctx, msg, path, &arena, &attrs);
    ais_attrs_destroy(attrs);
    ais__free(arena);
    return ais__onnx_fail(ctx, st, path);
}
