/* eager.c - the public entry points that run one operator on the caller's tensors. */
#include <stdint.h>
#include <string.h>

#include "op.h"

/* True when out holds a tensor whose bytes share memory with one of the inputs. */
static bool ais__overlaps_input(const ais_tensor *out, const ais_tensor *const *inputs, size_t n) {
    if (!out || !out->data || out->nbytes == 0) return false;
    uintptr_t o0 = (uintptr_t)out->data, o1 = o0 + out->nbytes;
    for (size_t j = 0; j < n; j++) {
        const ais_tensor *t = inputs[j];
        if (!t || !t->data || t->nbytes == 0) continue;
        uintptr_t i0 = (uintptr_t)t->data, i1 = i0 + t->nbytes;
        if (o0 < i1 && i0 < o1) return true;
    }
    return false;
}

/* Copies a result computed apart into the caller's slot, which must fit it as an in-place slot
 * must (dtype and shape). */
static ais_status ais__copy_result(const char *op_type, size_t i, const ais_tensor *res,
                                   ais_tensor *dst) {
    if (dst->dtype != res->dtype || dst->ndim != res->ndim ||
        memcmp(dst->dims, res->dims, res->ndim * sizeof(int64_t)) != 0) {
        char a[96], b[96];
        return ais__error(
            dst->dtype != res->dtype ? AIS_E_DTYPE : AIS_E_SHAPE,
            "%s: output %zu is %s %s, the slot given holds %s %s", op_type, i,
            ais_dtype_name(res->dtype), ais__shape_str(res->dims, res->ndim, a, sizeof a),
            ais_dtype_name(dst->dtype), ais__shape_str(dst->dims, dst->ndim, b, sizeof b));
    }
    if (res->nbytes) memcpy(dst->data, res->data, res->nbytes);
    return AIS_OK;
}

AIS_API int64_t ais_op_max_opset(void) { return AIS__MAX_OPSET; }

AIS_API int ais_op_exists(const char *domain, const char *op_type) {
    if (!op_type) return 0;
    return ais__op_find_any(domain ? domain : "", op_type) != NULL;
}

AIS_API ais_status ais_op_run_opset(const char *domain, const char *op_type, int64_t opset,
                                    const ais_attrs *attrs, const ais_tensor *const *inputs,
                                    size_t n_inputs, ais_tensor **outputs, size_t n_outputs) {
    if (!op_type) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_op_run: op_type is NULL");
    if (!domain) domain = "";
    if (n_inputs && !inputs)
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: inputs is NULL but n_inputs is %zu", op_type,
                          n_inputs);
    if (!outputs || n_outputs == 0)
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: no output slots were given", op_type);
    if (opset < 1)
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: opset %lld is not valid", op_type,
                          (long long)opset);
    if (ais__opset_check(domain, opset) != AIS_OK) {
        ais__error_prefix("%s", op_type);
        return AIS_E_UNSUPPORTED;
    }
    const ais__op_def *def = ais__op_find(domain, op_type, opset);
    if (!def) {
        const ais__op_def *any = ais__op_find_any(domain, op_type);
        if (any)
            return ais__error(AIS_E_UNSUPPORTED,
                              "%s (domain '%s'): opset %lld is older than the oldest version "
                              "implemented (%d)",
                              op_type, domain, (long long)opset, any->since_version);
        return ais__error(AIS_E_UNSUPPORTED, "unknown operator %s in domain '%s' (opset %lld)",
                          op_type, domain[0] ? domain : "ai.onnx", (long long)opset);
    }
    /* An output slot whose memory overlaps an input's (y = MatMul(y, w), a residual Z given as
     * FusedConv's output) would be written while the kernel still reads the input: products,
     * convolutions and transposes then compute garbage. Such slots get a fresh tensor, copied
     * into the caller's after a successful run, so the call behaves as if the two were apart
     * and, on failure, leaves the caller's tensor as it was. More than 64 outputs fail in
     * ais__op_invoke before anything runs. */
    ais_tensor *stack_slots[64], **slots = outputs;
    bool apart[64]; /* slot i aliases an input: computed into stack_slots[i], then copied */
    size_t first = n_outputs <= 64 ? 0 : n_outputs; /* the first aliasing slot */
    while (first < n_outputs && !ais__overlaps_input(outputs[first], inputs, n_inputs))
        first++;
    bool any_alias = first < n_outputs; /* each slot is checked once, here or below */
    if (any_alias) {
        slots = stack_slots;
        for (size_t i = 0; i < n_outputs; i++) {
            apart[i] =
                i == first || (i > first && ais__overlaps_input(outputs[i], inputs, n_inputs));
            slots[i] = apart[i] ? NULL : outputs[i];
        }
    }
    ais__op_ctx ctx = {.op_type = op_type,
                       .node_name = "",
                       .opset = opset,
                       .attrs = attrs,
                       .pool = ais__default_pool()};
    ais_status st = ais__op_invoke(def, &ctx, inputs, n_inputs, slots, n_outputs);
    ais__op_ctx_release(&ctx);
    if (!any_alias) return st;
    for (size_t i = 0; i < n_outputs; i++) {
        if (!apart[i]) continue;
        if (st == AIS_OK) st = ais__copy_result(op_type, i, slots[i], outputs[i]);
        ais_tensor_destroy(slots[i]);
    }
    /* the other slots: the caller's own tensors, or new ones for its NULL slots (on a failure,
     * as ais__op_invoke promises, none is left behind) */
    for (size_t i = 0; i < n_outputs; i++) {
        if (apart[i] || slots[i] == outputs[i]) continue;
        if (st == AIS_OK)
            outputs[i] = slots[i];
        else
            ais_tensor_destroy(slots[i]);
    }
    return st;
}

AIS_API ais_status ais_op_run(const char *op_type, const ais_attrs *attrs,
                              const ais_tensor *const *inputs, size_t n_inputs,
                              ais_tensor **outputs, size_t n_outputs) {
    return ais_op_run_opset("", op_type, AIS__MAX_OPSET, attrs, inputs, n_inputs, outputs,
                            n_outputs);
}
