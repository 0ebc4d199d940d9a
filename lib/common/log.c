/* log.c - messages go to the application's callback, never to stdout or stderr. */
#include "common.h"

#include <stdio.h>

static ais_log_fn ais__log_fn;
static void *ais__log_ud;
static ais_log_level ais__log_max = AIS_LOG_WARN;

AIS_API void ais_set_log_callback(ais_log_fn fn, void *user_data, ais_log_level max_level) {
    ais__log_fn = fn;
    ais__log_ud = user_data;
    ais__log_max = max_level;
}

void ais__log(ais_log_level level, const char *fmt, ...) {
    if (!ais__log_fn || level > ais__log_max) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ais__log_fn(ais__log_ud, level, buf);
}
