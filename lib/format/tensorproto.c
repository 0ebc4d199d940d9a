/* tensorproto.c - ONNX TensorProto files (stub until implemented). */
#include "format.h"

ais_status ais__tensorproto_read(const void *data, size_t size, ais_tensor **out, char **name) {
    (void)data; (void)size; *out = NULL; if (name) *name = NULL;
    return ais__error(AIS_E_UNSUPPORTED, "TensorProto reading is not implemented yet");
}
