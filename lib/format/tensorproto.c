/* tensorproto.c - a TensorProto file (the input_*.pb / output_*.pb of the ONNX backend tests). */
#include "onnx_tensor.h"

ais_status ais__tensorproto_read(const void *data, size_t size, ais_tensor **out, char **name) {
    if (name) *name = NULL;
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais__tensorproto_read: out is NULL");
    *out = NULL;
    if (!data && size)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais__tensorproto_read: data is NULL");
    ais__pb r;
    ais__pb_init(&r, data, size);
    /* .pb files are small and their buffer is usually freed right after: always copy. */
    ais_status st = ais__onnx_tensor_read(&r, NULL, false, out, name);
    if (st != AIS_OK) ais__error_prefix("TensorProto");
    return st;
}
