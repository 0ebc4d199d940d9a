/* json_error.c - where a JSON text stops parsing, for the messages of every JSON reader. */
#include "format.h"

ais_status ais__json_error(const char *who, const char *json, size_t len, const char *stop,
                           int max_depth) {
    size_t at = stop && stop >= json && stop <= json + len ? (size_t)(stop - json) : 0;
    size_t line = 1, col = 1, at_line = 1, at_col = 1;
    int depth = 0, deepest = 0, at_deepest = 0;
    bool in_str = false, seen = false;
    /* One pass over the whole text: position and depth where parsing stopped, and whether the
     * text as a whole is cut off (an open string or bracket at its end). */
    for (size_t i = 0; i < len; i++) {
        if (!seen && i >= at) {
            at_line = line, at_col = col, at_deepest = deepest;
            seen = true;
        }
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
    if (!seen) at_line = line, at_col = col, at_deepest = deepest;
    /* cJSON gives up at its nesting limit without saying so: say it for it. */
    if (max_depth > 0 && at_deepest >= max_depth)
        return ais__error(AIS_E_FORMAT,
                          "%s: not valid JSON at byte %zu (line %zu, column %zu): nested deeper "
                          "than %d levels",
                          who, at, at_line, at_col, max_depth);
    if (at + 1 >= len && (depth > 0 || in_str))
        return ais__error(AIS_E_FORMAT,
                          "%s: not valid JSON at byte %zu (line %zu, column %zu): the text ends "
                          "early (%zu bytes, %s still open)",
                          who, at, at_line, at_col, len, in_str ? "a string" : "a bracket");
    return ais__error(AIS_E_FORMAT, "%s: not valid JSON at byte %zu (line %zu, column %zu)", who,
                      at, at_line, at_col);
}
