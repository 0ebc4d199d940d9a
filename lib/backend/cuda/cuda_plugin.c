/*
 * cuda_plugin.c - the plugin side of backend_plugin.h: the one exported function, and the
 * library internals that the CUDA backend's code calls, forwarded to the host table that
 * libaistack passes in. Defining them here under their usual names keeps the backend's code
 * unchanged and lets the GPU unit tests link that code against the static library instead
 * (this file is not in those tests). The definitions are hidden: nothing leaves the plugin.
 */
#include <stdio.h>

#include "backend/backend_plugin.h"
#include "cuda_internal.h"

static const ais__host_services *ais__h;

__attribute__((visibility("default"))) int ais_cuda_plugin_entry(const ais__host_services *host,
                                                                 ais__plugin_info *info, char *err,
                                                                 size_t err_size);

int ais_cuda_plugin_entry(const ais__host_services *host, ais__plugin_info *info, char *err,
                          size_t err_size) {
    info->abi = AIS__PLUGIN_ABI;
    info->lib_version = AIS_VERSION_NUMBER;
    info->backend = NULL;
    if (!host || host->abi != AIS__PLUGIN_ABI || host->lib_version != AIS_VERSION_NUMBER) {
        snprintf(err, err_size,
                 "the plugin is libaistack_cuda %s (plugin ABI %d), the library %u "
                 "(plugin ABI %u)",
                 AIS_VERSION_STRING, AIS__PLUGIN_ABI, host ? host->lib_version : 0,
                 host ? host->abi : 0);
        return 1;
    }
    if (host->size_tensor != sizeof(ais_tensor) || host->size_op_def != sizeof(ais__op_def) ||
        host->size_op_ctx != sizeof(ais__op_ctx) || host->size_attr != sizeof(ais__attr)) {
        snprintf(err, err_size,
                 "same version, but the shared structs differ in size (tensor %u "
                 "vs %zu, op_def %u vs %zu, op_ctx %u vs %zu): a plugin from another build",
                 host->size_tensor, sizeof(ais_tensor), host->size_op_def, sizeof(ais__op_def),
                 host->size_op_ctx, sizeof(ais__op_ctx));
        return 1;
    }
    ais__h = host;
    info->backend = ais__cuda_backend_table();
    return 0;
}

/* ---- common/ ---- */

ais_status ais__verror(ais_status status, const char *fmt, va_list ap) {
    return ais__h->verror(status, fmt, ap);
}

ais_status ais__error_set(ais_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ais_status st = ais__h->verror(status, fmt, ap);
    va_end(ap);
    return st;
}

void ais__error_prefix(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ais__h->verror_prefix(fmt, ap);
    va_end(ap);
}

ais_status ais__oom_set(size_t bytes, const char *what) { return ais__h->oom_set(bytes, what); }
void *ais__malloc(size_t size) { return ais__h->malloc(size); }
void *ais__calloc(size_t count, size_t size) { return ais__h->calloc(count, size); }
void *ais__realloc(void *ptr, size_t old_size, size_t new_size) {
    return ais__h->realloc(ptr, old_size, new_size);
}
void ais__free(void *ptr) { ais__h->free(ptr); }

/* ---- tensor/ ---- */

size_t ais_dtype_size(ais_dtype dtype) { return ais__h->dtype_size(dtype); }
const char *ais_dtype_name(ais_dtype dtype) { return ais__h->dtype_name(dtype); }
bool ais__shape_numel(const int64_t *dims, size_t ndim, size_t elem_size, size_t *numel) {
    return ais__h->shape_numel(dims, ndim, elem_size, numel);
}
ais_status ais__shape_validate(const int64_t *dims, size_t ndim, ais_dtype dtype, const char *who) {
    return ais__h->shape_validate(dims, ndim, dtype, who);
}
void ais__tensor_init_borrowed(ais_tensor *t, ais_dtype dtype, const int64_t *dims, size_t ndim,
                               void *data) {
    ais__h->tensor_init_borrowed(t, dtype, dims, ndim, data);
}
void ais__broadcast_strides(const int64_t *in, size_t nin, const int64_t *out, size_t nout,
                            int64_t *strides) {
    ais__h->broadcast_strides(in, nin, out, nout, strides);
}
double ais__load_f64(const void *data, ais_dtype dtype, size_t i) {
    return ais__h->load_f64(data, dtype, i);
}

/* ---- ops/ ---- */

const ais__attr *ais__attr_find(const ais_attrs *attrs, const char *name) {
    return ais__h->attr_find(attrs, name);
}
int64_t ais__attr_int(const ais_attrs *attrs, const char *name, int64_t dflt) {
    return ais__h->attr_int(attrs, name, dflt);
}
float ais__attr_float(const ais_attrs *attrs, const char *name, float dflt) {
    return ais__h->attr_float(attrs, name, dflt);
}
const char *ais__attr_string(const ais_attrs *attrs, const char *name, const char *dflt) {
    return ais__h->attr_string(attrs, name, dflt);
}
bool ais__attr_ints(const ais_attrs *attrs, const char *name, const int64_t **v, size_t *n) {
    return ais__h->attr_ints(attrs, name, v, n);
}
bool ais__attr_floats(const ais_attrs *attrs, const char *name, const float **v, size_t *n) {
    return ais__h->attr_floats(attrs, name, v, n);
}
void ais__desc_from(ais__tensor_desc *d, const ais_tensor *t) { ais__h->desc_from(d, t); }
ais_status ais__read_int_list(const ais_tensor *t, const char *what, int64_t *v, size_t max,
                              size_t *n) {
    return ais__h->read_int_list(t, what, v, max, n);
}
ais_status ais__read_index_list(const ais_tensor *t, const char *what, int64_t *v, size_t max,
                                size_t *n) {
    return ais__h->read_index_list(t, what, v, max, n);
}
ais_status ais__dense_geom_init(const ais__op_ctx *ctx, const ais_tensor *x, const int64_t *kernel,
                                bool ceil_mode, ais__dense_geom *g) {
    return ais__h->dense_geom_init(ctx, x, kernel, ceil_mode, g);
}
