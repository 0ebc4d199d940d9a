/* eager.c - the public entry points that run one operator on the caller's tensors. */
#include <string.h>

#include "op.h"

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
        return ais__error(AIS_E_INVALID_ARGUMENT, "%s: inputs is NULL but n_inputs is %zu",
                          op_type, n_inputs);
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
    ais__op_ctx ctx = {.op_type = op_type,
                       .node_name = "",
                       .opset = opset,
                       .attrs = attrs,
                       .pool = ais__default_pool()};
    ais_status st = ais__op_invoke(def, &ctx, inputs, n_inputs, outputs, n_outputs);
    ais__op_ctx_release(&ctx);
    return st;
}

AIS_API ais_status ais_op_run(const char *op_type, const ais_attrs *attrs,
                              const ais_tensor *const *inputs, size_t n_inputs,
                              ais_tensor **outputs, size_t n_outputs) {
    return ais_op_run_opset("", op_type, AIS__MAX_OPSET, attrs, inputs, n_inputs, outputs,
                            n_outputs);
}
