/* registry.c - finds operator definitions and runs one with checked inputs and outputs. */
#include <stdatomic.h>
#include <string.h>

#include "op.h"

static const ais__op_def *const ais__op_tables[] = {
    ais__ops_unary,  ais__ops_binary, ais__ops_misc,    ais__ops_matmul,
    ais__ops_conv,   ais__ops_conv_transpose, ais__ops_pool, ais__ops_norm,
    ais__ops_softmax, ais__ops_reduce, ais__ops_shape,  ais__ops_layout,
    ais__ops_sequence, ais__ops_string,
    ais__ops_resize, ais__ops_loss, ais__ops_quantize,
    ais__ops_ml_linear, ais__ops_ml_tree, ais__ops_ml_tree5, ais__ops_ml_prep, ais__ops_ml_svm, ais__ops_ml_map,
    ais__ops_fused,
    ais__ops_conv_block,
    ais__ops_attention,
    ais__ops_qlinear,
    ais__ops_qlinear_ms,
    ais__ops_qattention,
};

/* Operators whose kernels move elements as bytes of ais_dtype_size without looking at them, so
 * that string tensors work once the output's pointers are made its own copies. */
static const char *const ais__string_movers[] = {
    "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Concat", "Gather", "Transpose",
    "Constant",
};

ais__opaque_mode ais__op_opaque_mode(const ais__op_def *def) {
    if (def->flags & (AIS__OP_STRINGS | AIS__OP_SEQUENCES)) return AIS__OPAQUE_OWN;
    if (def->domain && def->domain[0] && strcmp(def->domain, "ai.onnx") != 0)
        return AIS__OPAQUE_NONE;
    if (strcmp(def->name, "Shape") == 0 || strcmp(def->name, "Size") == 0)
        return AIS__OPAQUE_SHAPE;
    for (size_t i = 0; i < AIS__ARRAY_LEN(ais__string_movers); i++)
        if (strcmp(def->name, ais__string_movers[i]) == 0) return AIS__OPAQUE_MOVE;
    return AIS__OPAQUE_NONE;
}

static bool ais__opaque_ok(ais__opaque_mode mode, uint32_t flags, ais_dtype d, bool is_input) {
    if (d == AIS_DTYPE_STRING)
        return (mode == AIS__OPAQUE_OWN && (flags & AIS__OP_STRINGS)) ||
               mode == AIS__OPAQUE_MOVE || (mode == AIS__OPAQUE_SHAPE && is_input);
    if (d == AIS__DTYPE_SEQUENCE) return mode == AIS__OPAQUE_OWN && (flags & AIS__OP_SEQUENCES);
    return true;
}

ais_status ais__op_opaque_check(const ais__op_def *def, const ais_tensor *const *in, size_t n_in,
                                const ais__tensor_desc *out, size_t n_out) {
    ais__opaque_mode mode = ais__op_opaque_mode(def);
    for (size_t i = 0; i < n_in; i++)
        if (in[i] && !ais__opaque_ok(mode, def->flags, in[i]->dtype, true))
            return ais__error(AIS_E_DTYPE, "input %zu is a %s tensor, which this operator does "
                              "not support", i, ais_dtype_name(in[i]->dtype));
    for (size_t i = 0; out && i < n_out; i++)
        if (!ais__opaque_ok(mode, def->flags, out[i].dtype, false))
            return ais__error(AIS_E_DTYPE, "output %zu would be a %s tensor, which this operator "
                              "does not support", i, ais_dtype_name(out[i].dtype));
    return AIS_OK;
}

/* A table entry may leave .domain NULL for the default domain. */
static bool ais__domain_eq(const char *a, const char *b) {
    if (!a) a = "";
    if (!b) b = "";
    if (strcmp(a, "ai.onnx") == 0) a = "";
    if (strcmp(b, "ai.onnx") == 0) b = "";
    return strcmp(a, b) == 0;
}

int64_t ais__opset_max(const char *domain) {
    if (ais__domain_eq(domain, "")) return AIS__MAX_OPSET;
    if (ais__domain_eq(domain, "ai.onnx.ml")) return AIS__MAX_ML_OPSET;
    if (ais__domain_eq(domain, "com.microsoft")) return 1;
    return 0;
}

ais_status ais__opset_check(const char *domain, int64_t version) {
    int64_t max = ais__opset_max(domain);
    if (max == 0 || (version >= 1 && version <= max)) return AIS_OK;
    return ais__error(AIS_E_UNSUPPORTED,
                      "opset %lld of domain '%s' is not supported: this build implements "
                      "versions 1 to %lld",
                      (long long)version, domain && domain[0] ? domain : "ai.onnx", (long long)max);
}

const ais__op_def *ais__op_find(const char *domain, const char *name, int64_t opset) {
    const ais__op_def *best = NULL;
    if (!domain) domain = "";
    for (size_t t = 0; t < AIS__ARRAY_LEN(ais__op_tables); t++) {
        for (const ais__op_def *d = ais__op_tables[t]; d->name; d++) {
            if (strcmp(d->name, name) != 0 || !ais__domain_eq(d->domain, domain)) continue;
            if (d->since_version > opset) continue;
            if (!best || d->since_version > best->since_version) best = d;
        }
    }
    return best;
}

const ais__op_def *ais__op_find_any(const char *domain, const char *name) {
    if (!domain) domain = "";
    for (size_t t = 0; t < AIS__ARRAY_LEN(ais__op_tables); t++)
        for (const ais__op_def *d = ais__op_tables[t]; d->name; d++)
            if (strcmp(d->name, name) == 0 && ais__domain_eq(d->domain, domain)) return d;
    return NULL;
}

void ais__op_foreach(void (*fn)(void *ud, const ais__op_def *def), void *ud) {
    for (size_t t = 0; t < AIS__ARRAY_LEN(ais__op_tables); t++)
        for (const ais__op_def *d = ais__op_tables[t]; d->name; d++) fn(ud, d);
}

AIS_API size_t ais_op_count(void) {
    size_t n = 0;
    for (size_t t = 0; t < AIS__ARRAY_LEN(ais__op_tables); t++)
        for (const ais__op_def *d = ais__op_tables[t]; d->name; d++)
            n++;
    return n;
}

AIS_API ais_status ais_op_info(size_t index, const char **domain, const char **op_type,
                               int64_t *since_version) {
    size_t i = 0;
    for (size_t t = 0; t < AIS__ARRAY_LEN(ais__op_tables); t++) {
        for (const ais__op_def *d = ais__op_tables[t]; d->name; d++, i++) {
            if (i != index) continue;
            if (domain) *domain = d->domain;
            if (op_type) *op_type = d->name;
            if (since_version) *since_version = d->since_version;
            return AIS_OK;
        }
    }
    return ais__error(AIS_E_INVALID_ARGUMENT,
                      "ais_op_info: index %zu, the registry has %zu entries", index, i);
}

ais_status ais__op_add(ais__op_ctx *ctx, const ais_tensor *a, const ais_tensor *b, ais_tensor *y) {
    static _Atomic(const ais__op_def *) cached;
    const ais__op_def *add = atomic_load_explicit(&cached, memory_order_acquire);
    if (!add) {
        add = ais__op_find("", "Add", 14);
        if (!add) return ais__error(AIS_E_INTERNAL, "no kernel for Add");
        atomic_store_explicit(&cached, add, memory_order_release); /* racers store the same */
    }
    const ais_tensor *in[2] = {a, b};
    ais__op_ctx c = *ctx;
    c.opset = 14;
    c.attrs = NULL;
    c.state = NULL;
    ais_status s = add->compute(&c, in, 2, &y, 1);
    ctx->scratch = c.scratch;
    ctx->scratch_size = c.scratch_size;
    return s;
}

void *ais__op_scratch(ais__op_ctx *ctx, size_t bytes) {
    if (bytes <= ctx->scratch_size) return ctx->scratch;
    void *p = ais__malloc_aligned(bytes, AIS__ALIGN);
    if (!p) return NULL;
    ais__free(ctx->scratch);
    ctx->scratch = p;
    ctx->scratch_size = bytes;
    return p;
}

void ais__op_ctx_release(ais__op_ctx *ctx) {
    ais__free(ctx->scratch);
    ctx->scratch = NULL;
    ctx->scratch_size = 0;
}

ais_status ais__op_state(const ais__op_ctx *ctx, const void **state) {
    *state = ctx->state;
    if (!*state)
        return ais__error(AIS_E_INTERNAL, "%s was run without its prepared state", ctx->op_type);
    return AIS_OK;
}

ais_status ais__op_state_begin(const ais__op_def *def, ais__op_ctx *ctx, void **own_state) {
    *own_state = NULL;
    if (!def->prepare || ctx->state) return AIS_OK;
    ais__attr_type_reset();
    ais_status st = ais__attr_type_check(def->prepare(ctx, own_state));
    ctx->state = *own_state;
    return st;
}

void ais__op_state_end(const ais__op_def *def, ais__op_ctx *ctx, void *own_state) {
    if (!own_state) return;
    def->release(own_state);
    ctx->state = NULL;
}

static void ais__op_prefix(const ais__op_ctx *ctx) {
    if (ctx->node_name && ctx->node_name[0])
        ais__error_prefix("%s (%s)", ctx->node_name, ctx->op_type);
    else
        ais__error_prefix("%s", ctx->op_type);
}

ais_status ais__op_invoke(const ais__op_def *def, ais__op_ctx *ctx, const ais_tensor *const *in,
                          size_t n_in, ais_tensor **out, size_t n_out) {
    ais_status st = AIS_OK;
    if (n_in < (size_t)def->min_inputs || (def->max_inputs >= 0 && n_in > (size_t)def->max_inputs)) {
        st = def->max_inputs < 0
                 ? ais__error(AIS_E_INVALID_ARGUMENT, "expected at least %d inputs, got %zu",
                              def->min_inputs, n_in)
                 : ais__error(AIS_E_INVALID_ARGUMENT, "expected %d to %d inputs, got %zu",
                              def->min_inputs, def->max_inputs, n_in);
        ais__op_prefix(ctx);
        return st;
    }
    if (n_out < (size_t)def->min_outputs ||
        (def->max_outputs >= 0 && n_out > (size_t)def->max_outputs)) {
        st = ais__error(AIS_E_INVALID_ARGUMENT, "expected %d to %d outputs, got %zu",
                        def->min_outputs, def->max_outputs, n_out);
        ais__op_prefix(ctx);
        return st;
    }
    if (n_out > 64) {
        st = ais__error(AIS_E_LIMIT, "%zu outputs, at most 64 are supported", n_out);
        ais__op_prefix(ctx);
        return st;
    }
    for (size_t i = 0; i < (size_t)def->min_inputs; i++) {
        if (!in[i]) {
            st = ais__error(AIS_E_INVALID_ARGUMENT, "required input %zu is missing", i);
            ais__op_prefix(ctx);
            return st;
        }
    }
    ais__tensor_desc desc[64];
    memset(desc, 0, sizeof(desc[0]) * n_out);
    st = ais__op_opaque_check(def, in, n_in, NULL, 0);
    /* Nothing prepared this node (an eager call): a state for this call only. */
    void *own_state = NULL;
    if (st == AIS_OK) st = ais__op_state_begin(def, ctx, &own_state);
    ais__attr_type_reset();
    if (st == AIS_OK) st = ais__attr_type_check(def->infer(ctx, in, n_in, desc, n_out));
    if (st == AIS_OK) st = ais__op_opaque_check(def, in, 0, desc, n_out);
    if (st != AIS_OK) {
        ais__op_state_end(def, ctx, own_state);
        ais__op_prefix(ctx);
        return st;
    }
    bool created[64] = {false};
    for (size_t i = 0; i < n_out && st == AIS_OK; i++) {
        if (!out[i]) {
            st = ais__tensor_new_desc(&desc[i], &out[i]);
            created[i] = st == AIS_OK;
        } else if (out[i]->dtype != desc[i].dtype || out[i]->ndim != desc[i].ndim ||
                   memcmp(out[i]->dims, desc[i].dims, desc[i].ndim * sizeof(int64_t)) != 0) {
            char a[AIS__SHAPE_STR_MAX], b[AIS__SHAPE_STR_MAX];
            /* A wrong element type is a dtype error even when the shape is wrong too. */
            st = ais__error(out[i]->dtype != desc[i].dtype ? AIS_E_DTYPE : AIS_E_SHAPE,
                            "output %zu is %s %s, the result is %s %s", i,
                            ais_dtype_name(out[i]->dtype),
                            ais__shape_str(out[i]->dims, out[i]->ndim, a, sizeof a),
                            ais_dtype_name(desc[i].dtype),
                            ais__shape_str(desc[i].dims, desc[i].ndim, b, sizeof b));
        }
    }
    bool move = ais__op_opaque_mode(def) == AIS__OPAQUE_MOVE;
    for (size_t i = 0; i < n_out && st == AIS_OK && move; i++)
        if (desc[i].dtype == AIS_DTYPE_STRING) ais__strs_clear(out[i]);
    if (st == AIS_OK) st = ais__attr_type_check(def->compute(ctx, in, n_in, out, n_out));
    ais__op_state_end(def, ctx, own_state);
    if (move) {
        for (size_t i = 0; i < n_out; i++) {
            if (!out[i] || desc[i].dtype != AIS_DTYPE_STRING) continue;
            if (st == AIS_OK)
                st = ais__strs_own(out[i]);
            else /* the pointers written so far are the inputs' */
                memset(out[i]->data, 0, out[i]->nbytes);
        }
    }
    if (st != AIS_OK) {
        for (size_t i = 0; i < n_out; i++) {
            if (created[i]) {
                ais_tensor_destroy(out[i]);
                out[i] = NULL;
            }
        }
        ais__op_prefix(ctx);
    }
    return st;
}
