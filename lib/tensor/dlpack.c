/* dlpack.c - zero-copy exchange with NumPy, PyTorch and others through DLPack. */
#include <dlpack/dlpack.h>

#include "tensor.h"

/* kDLBool arrived in DLPack 0.8; older headers (Debian 12 ships 0.6) lack it. Its value is
 * fixed by the standard, so we name it ourselves. */
#define AIS__DL_BOOL 6

typedef struct ais__dl_export {
    DLManagedTensor managed;
    int64_t shape[AIS_MAX_DIMS];
    ais__storage *storage; /* NULL: we copied the data into `owned` */
    ais_tensor *owned;
} ais__dl_export;

static bool ais__dtype_to_dl(ais_dtype d, DLDataType *out) {
    out->lanes = 1;
    out->bits = (uint8_t)(ais_dtype_size(d) * 8);
    switch (d) {
    case AIS_DTYPE_F16:
    case AIS_DTYPE_F32:
    case AIS_DTYPE_F64: out->code = kDLFloat; return true;
    case AIS_DTYPE_BF16: out->code = kDLBfloat; return true;
    case AIS_DTYPE_I8:
    case AIS_DTYPE_I16:
    case AIS_DTYPE_I32:
    case AIS_DTYPE_I64: out->code = kDLInt; return true;
    case AIS_DTYPE_U8:
    case AIS_DTYPE_U16:
    case AIS_DTYPE_U32:
    case AIS_DTYPE_U64: out->code = kDLUInt; return true;
    case AIS_DTYPE_BOOL: out->code = AIS__DL_BOOL; return true;
    default: return false;
    }
}

static ais_dtype ais__dtype_from_dl(DLDataType t) {
    if (t.lanes != 1) return AIS_DTYPE_UNDEFINED;
    switch (t.code) {
    case kDLFloat:
        return t.bits == 16 ? AIS_DTYPE_F16
               : t.bits == 32 ? AIS_DTYPE_F32
               : t.bits == 64 ? AIS_DTYPE_F64
                              : AIS_DTYPE_UNDEFINED;
    case kDLBfloat: return t.bits == 16 ? AIS_DTYPE_BF16 : AIS_DTYPE_UNDEFINED;
    case kDLInt:
        return t.bits == 8    ? AIS_DTYPE_I8
               : t.bits == 16 ? AIS_DTYPE_I16
               : t.bits == 32 ? AIS_DTYPE_I32
               : t.bits == 64 ? AIS_DTYPE_I64
                              : AIS_DTYPE_UNDEFINED;
    case kDLUInt:
        return t.bits == 8    ? AIS_DTYPE_U8
               : t.bits == 16 ? AIS_DTYPE_U16
               : t.bits == 32 ? AIS_DTYPE_U32
               : t.bits == 64 ? AIS_DTYPE_U64
                              : AIS_DTYPE_UNDEFINED;
    case AIS__DL_BOOL: return t.bits == 8 ? AIS_DTYPE_BOOL : AIS_DTYPE_UNDEFINED;
    default: return AIS_DTYPE_UNDEFINED;
    }
}

static void ais__dl_export_delete(DLManagedTensor *self) {
    ais__dl_export *e = self->manager_ctx;
    ais__storage_release(e->storage);
    ais_tensor_destroy(e->owned);
    ais__free(e);
}

AIS_API ais_status ais_tensor_to_dlpack(const ais_tensor *t, struct DLManagedTensor **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_to_dlpack: out is NULL");
    *out = NULL;
    if (!t) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_to_dlpack: tensor is NULL");
    DLDataType dt;
    if (!ais__dtype_to_dl(t->dtype, &dt))
        return ais__error(AIS_E_DTYPE, "ais_tensor_to_dlpack: dtype %s has no DLPack type",
                          ais_dtype_name(t->dtype));
    ais__dl_export *e = ais__calloc(1, sizeof *e);
    if (!e) return ais__oom(sizeof *e, "DLPack export");
    void *data = t->data;
    if (t->storage) {
        e->storage = t->storage;
        atomic_fetch_add(&e->storage->refs, 1);
    } else {
        /* Borrowed data may not outlive this call's owner, so the consumer gets a copy. */
        ais_status st = ais_tensor_copy(t, &e->owned);
        if (st != AIS_OK) {
            ais__free(e);
            return st;
        }
        data = e->owned->data;
    }
    for (uint32_t i = 0; i < t->ndim; i++) e->shape[i] = t->dims[i];
    DLTensor *d = &e->managed.dl_tensor;
    d->data = data;
    d->device.device_type = kDLCPU;
    d->device.device_id = 0;
    d->ndim = (int)t->ndim;
    d->dtype = dt;
    d->shape = e->shape;
    d->strides = NULL; /* compact row-major */
    d->byte_offset = 0;
    e->managed.manager_ctx = e;
    e->managed.deleter = ais__dl_export_delete;
    *out = &e->managed;
    return AIS_OK;
}

static void ais__dl_import_release(void *user_data, void *data) {
    (void)data;
    DLManagedTensor *m = user_data;
    if (m->deleter) m->deleter(m);
}

AIS_API ais_status ais_tensor_from_dlpack(struct DLManagedTensor *m, ais_tensor **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_from_dlpack: out is NULL");
    *out = NULL;
    if (!m) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_from_dlpack: tensor is NULL");
    const DLTensor *d = &m->dl_tensor;
    if (d->device.device_type != kDLCPU && d->device.device_type != kDLCUDAHost)
        return ais__error(AIS_E_UNSUPPORTED,
                          "ais_tensor_from_dlpack: device type %d is not the CPU",
                          (int)d->device.device_type);
    ais_dtype dtype = ais__dtype_from_dl(d->dtype);
    if (dtype == AIS_DTYPE_UNDEFINED)
        return ais__error(AIS_E_DTYPE,
                          "ais_tensor_from_dlpack: DLPack type (code %u, bits %u, lanes %u) is "
                          "not supported",
                          d->dtype.code, d->dtype.bits, d->dtype.lanes);
    if (d->ndim < 0 || d->ndim > AIS_MAX_DIMS)
        return ais__error(AIS_E_LIMIT, "ais_tensor_from_dlpack: %d dimensions, at most %d",
                          d->ndim, AIS_MAX_DIMS);
    if (d->ndim > 0 && !d->shape)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tensor_from_dlpack: shape is NULL");
    if (d->strides) { /* accept only compact row-major strides (any stride on extent-1 axes) */
        int64_t expect = 1;
        for (int i = d->ndim - 1; i >= 0; i--) {
            if (d->shape[i] != 1 && d->strides[i] != expect)
                return ais__error(AIS_E_UNSUPPORTED,
                                  "ais_tensor_from_dlpack: strided (non-contiguous) tensors are "
                                  "not supported (axis %d has stride %lld, expected %lld)",
                                  i, (long long)d->strides[i], (long long)expect);
            expect *= d->shape[i];
        }
    }
    AIS__CHECK(ais__shape_validate(d->shape, (size_t)d->ndim, dtype, "ais_tensor_from_dlpack"));
    size_t numel = 0; /* validated above */
    ais__shape_numel(d->shape, (size_t)d->ndim, ais_dtype_size(dtype), &numel);
    void *data = (char *)d->data + d->byte_offset;
    return ais_tensor_wrap(dtype, d->shape, (size_t)d->ndim, data, numel * ais_dtype_size(dtype),
                           ais__dl_import_release, m, out);
}
