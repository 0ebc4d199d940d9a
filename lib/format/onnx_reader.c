/* onnx_reader.c - the ONNX reader (stub until implemented). */
#include "format.h"

ais_status ais__onnx_read(const void *data, size_t size, const char *base_dir,
                          const ais__load_opts *o, ais__graph **out) {
    (void)data; (void)size; (void)base_dir; (void)o; *out = NULL;
    return ais__error(AIS_E_UNSUPPORTED, "ONNX reading is not implemented yet");
}
