/*
 * ais_ops.h - run one operator eagerly on the caller's tensors.
 *
 * Operators have ONNX semantics (names, inputs, attributes, broadcasting and axis rules) of the
 * opset version asked for. The same registry serves the model loader.
 */
#ifndef AISTACK_AIS_OPS_H
#define AISTACK_AIS_OPS_H

#include "ais_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The newest ai.onnx opset version whose semantics this library implements. */
AIS_API int64_t ais_op_max_opset(void);

/* Attributes of an operator: a set of named values. Setting a name twice replaces the value. */
typedef struct ais_attrs ais_attrs;

AIS_API ais_status ais_attrs_create(ais_attrs **out);
AIS_API void ais_attrs_destroy(ais_attrs *attrs);
AIS_API ais_status ais_attrs_set_int(ais_attrs *attrs, const char *name, int64_t value);
AIS_API ais_status ais_attrs_set_float(ais_attrs *attrs, const char *name, float value);
AIS_API ais_status ais_attrs_set_string(ais_attrs *attrs, const char *name, const char *value);
AIS_API ais_status ais_attrs_set_ints(ais_attrs *attrs, const char *name, const int64_t *values,
                                      size_t count);
AIS_API ais_status ais_attrs_set_floats(ais_attrs *attrs, const char *name, const float *values,
                                        size_t count);
AIS_API ais_status ais_attrs_set_strings(ais_attrs *attrs, const char *name,
                                         const char *const *values, size_t count);
/* Stores the tensor as attribute `name`. Its data is shared by reference, as a view shares it
 * (no copy): the tensor may be destroyed afterwards, memory given to ais_tensor_wrap is
 * released only when the attributes let go of it too, and writes to the data show in the
 * attribute. Data the tensor holds no reference to (library-internal views, such as weights in
 * a mapped model file) is copied instead, since it may go away first. */
AIS_API ais_status ais_attrs_set_tensor(ais_attrs *attrs, const char *name,
                                        const ais_tensor *value);

/*
 * The operator registry, for tools that list it: ais_op_count() entries, each an operator of a
 * domain ("" for ai.onnx) whose semantics it implements from opset `since_version` on (one
 * operator may have several entries, one per semantics change). ais_op_info gives entry
 * `index` (0 .. ais_op_count() - 1; the strings are static); any out-pointer may be NULL.
 * AIS_E_INVALID_ARGUMENT for an index out of range.
 */
AIS_API size_t ais_op_count(void);
AIS_API ais_status ais_op_info(size_t index, const char **domain, const char **op_type,
                               int64_t *since_version);

/* 1 when the registry has `op_type` in `domain` ("" or "ai.onnx" for the default domain) at any
 * opset, else 0 (also for a NULL op_type). An int, not a bool, so that every FFI maps it
 * directly; it only ever returns 0 or 1. */
AIS_API int ais_op_exists(const char *domain, const char *op_type);

/*
 * Runs `op_type` of the default domain with the newest opset semantics.
 *
 * inputs: n_inputs tensors; an omitted optional input is NULL.
 * outputs: n_outputs slots. A NULL slot receives a new tensor that the caller destroys. A slot
 * that holds a tensor receives the result in place; it must have the output's dtype and shape.
 * It may be one of the inputs (or share memory with one): the result is then computed apart and
 * copied in after a successful run, so the input is read whole and a failure leaves it as it was.
 * attrs may be NULL (all defaults).
 * On failure every slot that was NULL on entry is NULL again, and ais_last_error() names the
 * operator and what was wrong (e.g. the two shapes that do not broadcast).
 * Uses the thread count of ais_set_num_threads().
 */
AIS_API ais_status ais_op_run(const char *op_type, const ais_attrs *attrs,
                              const ais_tensor *const *inputs, size_t n_inputs,
                              ais_tensor **outputs, size_t n_outputs);

/* As ais_op_run, for an operator of `domain` with the semantics of opset version `opset`. */
AIS_API ais_status ais_op_run_opset(const char *domain, const char *op_type, int64_t opset,
                                    const ais_attrs *attrs, const ais_tensor *const *inputs,
                                    size_t n_inputs, ais_tensor **outputs, size_t n_outputs);

#ifdef __cplusplus
}
#endif
#endif /* AISTACK_AIS_OPS_H */
