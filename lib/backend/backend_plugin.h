/*
 * backend_plugin.h - the contract between libaistack and a backend built as its own shared object
 * (the CUDA backend, libaistack_cuda.so), the way ONNX Runtime loads its provider libraries.
 *
 * The plugin exports one function, AIS__PLUGIN_ENTRY. The library calls it once with a table of
 * the internal services the plugin's code needs (errors, the allocator, attributes, shapes): the
 * plugin does not link libaistack, so no internal name has to be exported and the static library
 * can load it too. The plugin answers with its backend table.
 *
 * Compatibility is checked both ways, because the two share struct layouts (ais_tensor,
 * ais__op_def, ais__op_ctx, ais_attrs) that carry no ABI promise: the same library version
 * (AIS_VERSION_NUMBER), the same AIS__PLUGIN_ABI and AIS__BACKEND_VERSION, and the same sizes
 * of the shared structs. Anything else is refused with a message, and the session that asked
 * gets AIS_E_NO_DEVICE.
 */
#ifndef AIS_BACKEND_PLUGIN_H
#define AIS_BACKEND_PLUGIN_H

#include <stdarg.h>

#include "ops/dense_util.h"
#include "backend.h"

/* Bumped whenever ais__host_services or ais__plugin_info changes. */
#define AIS__PLUGIN_ABI 2

#define AIS__PLUGIN_ENTRY "ais_cuda_plugin_entry"

typedef struct ais__host_services {
    uint32_t abi;         /* AIS__PLUGIN_ABI */
    uint32_t lib_version; /* AIS_VERSION_NUMBER */
    uint32_t size_tensor; /* sizeof(ais_tensor) */
    uint32_t size_op_def; /* sizeof(ais__op_def) */
    uint32_t size_op_ctx; /* sizeof(ais__op_ctx) */
    uint32_t size_attr;   /* sizeof(ais__attr) */
    /* common/ */
    ais_status (*verror)(ais_status status, const char *fmt, va_list ap);
    void (*verror_prefix)(const char *fmt, va_list ap);
    ais_status (*oom_set)(size_t bytes, const char *what);
    void *(*malloc)(size_t size);
    void *(*calloc)(size_t count, size_t size);
    void *(*realloc)(void *ptr, size_t old_size, size_t new_size);
    void (*free)(void *ptr);
    /* tensor/ */
    size_t (*dtype_size)(ais_dtype dtype);
    const char *(*dtype_name)(ais_dtype dtype);
    bool (*shape_numel)(const int64_t *dims, size_t ndim, size_t elem_size, size_t *numel);
    ais_status (*shape_validate)(const int64_t *dims, size_t ndim, ais_dtype dtype,
                                 const char *who);
    void (*tensor_init_borrowed)(ais_tensor *t, ais_dtype dtype, const int64_t *dims, size_t ndim,
                                 void *data);
    void (*broadcast_strides)(const int64_t *in, size_t nin, const int64_t *out, size_t nout,
                              int64_t *strides);
    double (*load_f64)(const void *data, ais_dtype dtype, size_t i);
    /* ops/ */
    const ais__attr *(*attr_find)(const ais_attrs *attrs, const char *name);
    int64_t (*attr_int)(const ais_attrs *attrs, const char *name, int64_t dflt);
    float (*attr_float)(const ais_attrs *attrs, const char *name, float dflt);
    const char *(*attr_string)(const ais_attrs *attrs, const char *name, const char *dflt);
    bool (*attr_ints)(const ais_attrs *attrs, const char *name, const int64_t **v, size_t *n);
    bool (*attr_floats)(const ais_attrs *attrs, const char *name, const float **v, size_t *n);
    void (*desc_from)(ais__tensor_desc *d, const ais_tensor *t);
    ais_status (*read_int_list)(const ais_tensor *t, const char *what, int64_t *v, size_t max,
                                size_t *n);
    ais_status (*read_index_list)(const ais_tensor *t, const char *what, int64_t *v, size_t max,
                                  size_t *n);
    ais_status (*dense_geom_init)(const ais__op_ctx *ctx, const ais_tensor *x,
                                  const int64_t *kernel, bool ceil_mode, ais__dense_geom *g);
} ais__host_services;

typedef struct ais__plugin_info {
    uint32_t abi;         /* AIS__PLUGIN_ABI the plugin was built with */
    uint32_t lib_version; /* AIS_VERSION_NUMBER the plugin was built with */
    const ais__backend *backend;
} ais__plugin_info;

/* The entry: fills *info (always, so that a refusing plugin still says what it is) and returns
 * 0, or returns non-zero with the reason in err. host stays valid while the library is loaded. */
typedef int (*ais__plugin_entry_fn)(const ais__host_services *host, ais__plugin_info *info,
                                    char *err, size_t err_size);

#endif /* AIS_BACKEND_PLUGIN_H */
