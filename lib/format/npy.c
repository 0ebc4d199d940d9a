/* npy.c - .npy files (stub until implemented). */
#include "format.h"

ais_status ais__npy_read(const void *data, size_t size, ais_tensor **out) {
    (void)data; (void)size; *out = NULL;
    return ais__error(AIS_E_UNSUPPORTED, ".npy reading is not implemented yet");
}
ais_status ais__npy_write(const ais_tensor *t, const char *path) {
    (void)t;
    return ais__error(AIS_E_UNSUPPORTED, "%s: .npy writing is not implemented yet", path);
}
