/* tensor_file.c - tensor files in the public API (stub until implemented). */
#include "format.h"

AIS_API ais_status ais_tensor_load(const char *path, ais_tensor **out) {
    if (out) *out = NULL;
    return ais__error(AIS_E_UNSUPPORTED, "%s: tensor files are not implemented yet", path ? path : "(null)");
}
AIS_API ais_status ais_tensor_save_npy(const ais_tensor *tensor, const char *path) {
    (void)tensor;
    return ais__error(AIS_E_UNSUPPORTED, "%s: tensor files are not implemented yet", path ? path : "(null)");
}
