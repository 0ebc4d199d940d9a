/* json_error.c - where a JSON text stops parsing, for the messages of every JSON reader. */
#include "format.h"

ais_status ais__json_error(const char *who, const char *json, size_t len, const char *stop,
                           int max_depth) {
    size_t at = stop && stop >= json && stop <= json + len ? (size_t)(stop - json) : 0;
    size_t line = 1, col = 1;
    int depth = 0, deepest = 0;
    bool in_str = false;
    for (size_t i = 0; i < at; i++) {
        char c = json[i];
        if (c == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
        if (in_str) {
            if (c == '\\')
                i++, col++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest) deepest = depth;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    /* cJSON gives up at its nesting limit without saying so: say it for it. */
    if (max_depth > 0 && deepest >= max_depth)
        return ais__error(AIS_E_FORMAT,
                          "%s: not valid JSON at byte %zu (line %zu, column %zu): nested deeper "
                          "than %d levels",
                          who, at, line, col, max_depth);
    if (at + 1 >= len && len > 0)
        return ais__error(AIS_E_FORMAT,
                          "%s: not valid JSON at byte %zu (line %zu, column %zu): the text ends "
                          "early (%zu bytes)",
                          who, at, line, col, len);
    return ais__error(AIS_E_FORMAT, "%s: not valid JSON at byte %zu (line %zu, column %zu)", who,
                      at, line, col);
}
