/* model_file.c - format sniffing (stub until implemented). */
#include "format.h"

ais_status ais__model_read_file(const char *path, const ais__load_opts *o, ais__graph **out) {
    (void)o; *out = NULL;
    return ais__error(AIS_E_UNSUPPORTED, "%s: model loading is not implemented yet", path);
}
ais_status ais__model_read_memory(const void *data, size_t size, const char *base_dir,
                                  const ais__load_opts *o, ais__graph **out) {
    (void)base_dir;
    return ais__onnx_read(data, size, ".", o, out);
}
