/* ais_reader.c - the native .ais reader (stub until implemented). */
#include "format.h"

bool ais__ais_sniff(const void *data, size_t size) { (void)data; (void)size; return false; }
ais_status ais__ais_read(const void *data, size_t size, const ais__load_opts *o,
                         ais__graph **out) {
    (void)data; (void)size; (void)o; *out = NULL;
    return ais__error(AIS_E_UNSUPPORTED, ".ais reading is not implemented yet");
}
