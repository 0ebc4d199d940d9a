/* mapped_file.c - mapping files (stub until implemented). */
#include "format.h"

void ais__load_opts_default(ais__load_opts *o) {
    o->max_file_bytes = (uint64_t)1 << 40;
    o->map_weights = true;
}
ais_status ais__file_open(const char *path, uint64_t max_bytes, bool map, ais__file **out) {
    (void)max_bytes; (void)map; *out = NULL;
    return ais__error(AIS_E_UNSUPPORTED, "%s: file loading is not implemented yet", path);
}
void ais__file_close(ais__file *f) { (void)f; }
void ais__file_release(void *file) { ais__file_close(file); }
