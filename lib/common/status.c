/* status.c - status names and the per-thread message of the last failure. */
#include "common.h"

#include <stdio.h>
#include <string.h>

/* Per thread, like errno and dlerror(): every object type can report through one call, and a
 * ctypes caller reads it right after the failing call on the same thread. */
static _Thread_local char ais__message[1024];

static const struct {
    const char *name;
    const char *text;
} ais__status_table[] = {
    {"AIS_OK", "success"},
    {"AIS_E_INVALID_ARGUMENT", "invalid argument"},
    {"AIS_E_OUT_OF_MEMORY", "out of memory"},
    {"AIS_E_SHAPE", "shape mismatch"},
    {"AIS_E_DTYPE", "unsupported or mismatched element type"},
    {"AIS_E_UNSUPPORTED", "unsupported operator, opset or feature"},
    {"AIS_E_IO", "input/output error"},
    {"AIS_E_FORMAT", "malformed or corrupt data"},
    {"AIS_E_NOT_FOUND", "not found"},
    {"AIS_E_LIMIT", "a size limit was exceeded"},
    {"AIS_E_CHECKSUM", "checksum mismatch"},
    {"AIS_E_NO_DEVICE", "device not available"},
    {"AIS_E_DEVICE", "device error"},
    {"AIS_E_INTERNAL", "internal error"},
    {"AIS_E_SCHEMA", "record does not match the schema"},
    {"AIS_E_BUSY", "in use by another thread"},
};

AIS_API const char *ais_status_name(ais_status status) {
    if ((unsigned)status < AIS__ARRAY_LEN(ais__status_table))
        return ais__status_table[status].name;
    return "AIS_E_UNKNOWN";
}

AIS_API const char *ais_status_string(ais_status status) {
    if ((unsigned)status < AIS__ARRAY_LEN(ais__status_table))
        return ais__status_table[status].text;
    return "unknown status";
}

AIS_API const char *ais_last_error(void) { return ais__message; }

ais_status ais__verror(ais_status status, const char *fmt, va_list ap) {
    vsnprintf(ais__message, sizeof ais__message, fmt, ap);
    return status;
}

ais_status ais__error_set(ais_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ais__verror(status, fmt, ap);
    va_end(ap);
    return status;
}

void ais__error_prefix(const char *fmt, ...) {
    char prefix[256];
    char old[sizeof ais__message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, ais__message, sizeof old);
    /* Truncation of an over-long message is acceptable; using the result tells gcc so. */
    if (snprintf(ais__message, sizeof ais__message, "%s: %s", prefix, old) < 0)
        ais__message[0] = 0;
}

ais_status ais__oom_set(size_t bytes, const char *what) {
    return ais__error_set(AIS_E_OUT_OF_MEMORY, "out of memory allocating %zu bytes for %s", bytes,
                      what);
}

AIS_API uint32_t ais_version_number(void) { return AIS_VERSION_NUMBER; }
AIS_API const char *ais_version_string(void) { return AIS_VERSION_STRING; }
