/* ais_writer.c - the native .ais writer (stub until implemented). */
#include "format.h"

ais_status ais__ais_write(const ais__graph *g, const char *path, int compress_level) {
    (void)g; (void)compress_level;
    return ais__error(AIS_E_UNSUPPORTED, "%s: .ais writing is not implemented yet", path);
}
