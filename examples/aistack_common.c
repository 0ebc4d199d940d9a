/*
 * aistack_common.c - what the aistack tool's commands share: messages, shapes, files, and
 * reading any element type as double through the public Cast operator.
 */
#include <aistack/aistack.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aistack_tool.h"

int tool_fail_status(const char *what, ais_status st) {
    fprintf(stderr, "aistack: %s: %s: %s\n", what, ais_status_name(st), ais_last_error());
    return 1;
}

/* [2, batch, ?]: a dynamic dimension by the name the file declares (m not NULL: of input or,
 * when output is true, output `index`), else ?. */
void tool_print_dims(FILE *f, size_t ndim, const int64_t *dims, const ais_model *m, size_t index,
                     bool output) {
    fputc('[', f);
    for (size_t i = 0; i < ndim; i++) {
        if (i) fputs(", ", f);
        if (dims[i] >= 0) {
            fprintf(f, "%lld", (long long)dims[i]);
        } else {
            const char *dn = !m       ? NULL
                             : output ? ais_model_output_dim_name(m, index, i)
                                      : ais_model_input_dim_name(m, index, i);
            fputs(dn ? dn : "?", f);
        }
    }
    fputc(']', f);
}

int tool_load_model(const char *path, const ais_options *o, ais_model **m) {
    ais_status st = ais_model_load(path, o, m);
    if (st != AIS_OK) return tool_fail_status("cannot load model", st);
    return 0;
}

bool tool_is_float_dtype(ais_dtype dt) {
    switch (dt) {
    case AIS_DTYPE_F16:
    case AIS_DTYPE_BF16:
    case AIS_DTYPE_F32:
    case AIS_DTYPE_F64:
    case AIS_DTYPE_F8E4M3FN:
    case AIS_DTYPE_F8E4M3FNUZ:
    case AIS_DTYPE_F8E5M2:
    case AIS_DTYPE_F8E5M2FNUZ: return true;
    default: return false;
    }
}

/* A tensor through the Cast operator (ONNX semantics: exact for every type into f64). */
ais_status tool_cast_to(const ais_tensor *t, ais_dtype to, ais_tensor **out) {
    *out = NULL;
    ais_attrs *a = NULL;
    ais_status st = ais_attrs_create(&a);
    if (!st) st = ais_attrs_set_int(a, "to", to);
    if (!st) st = ais_op_run("Cast", a, &t, 1, out, 1);
    ais_attrs_destroy(a);
    return st;
}

/* The elements of a numeric or bool tensor as doubles: its own data when it is f64, else those
 * of *tmp (a cast the caller destroys); NULL when the dtype does not cast. */
const double *tool_as_f64(const ais_tensor *t, ais_tensor **tmp) {
    *tmp = NULL;
    if (ais_tensor_dtype(t) == AIS_DTYPE_F64) return ais_tensor_data(t);
    if (ais_tensor_dtype(t) == AIS_DTYPE_STRING || tool_cast_to(t, AIS_DTYPE_F64, tmp) != AIS_OK)
        return NULL;
    return ais_tensor_data(*tmp);
}

/* "[2, 3]" into buf. */
const char *tool_shape_str(const int64_t *dims, size_t nd, char *buf, size_t size) {
    size_t at = 0;
    at += (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < nd && at < size; i++)
        at += (size_t)snprintf(buf + at, size - at, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (at < size) snprintf(buf + at, size - at, "]");
    return buf;
}

/* The whole of a file ("-": standard input) in a new malloc block; NULL with a message. */
char *tool_read_all(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "aistack: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) free(buf);
        buf = bigger;
        cap *= 2;
    }
    bool bad = !buf || ferror(f);
    if (f != stdin) fclose(f);
    if (bad) {
        fprintf(stderr, "aistack: cannot read %s\n", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

bool tool_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Says what is wrong with an option the command does not take, or that lacks its value;
 * returns 2 (the usage-error exit status). */
int tool_bad_option(const char *cmd, const char *opt, bool takes_value, const char *usage) {
    if (takes_value)
        fprintf(stderr, "aistack %s: option '%s' needs a value\n\n", cmd, opt);
    else
        fprintf(stderr, "aistack %s: unknown option '%s'\n\n", cmd, opt);
    fputs(usage, stderr);
    return 2;
}

ais_status tool_random_input(const ais_model *m, size_t i, ais_tensor **out) {
    *out = NULL;
    ais_dtype dt;
    size_t nd;
    const int64_t *dims;
    ais_status st = ais_model_input_info(m, i, NULL, &dt, &nd, &dims);
    if (st) return st;
    if (dt == AIS_DTYPE_UNDEFINED) dt = AIS_DTYPE_F32;
    int64_t shape[AIS_MAX_DIMS];
    for (size_t k = 0; k < nd && k < AIS_MAX_DIMS; k++)
        shape[k] = dims[k] < 0 ? 1 : dims[k];
    /* drawn as doubles, then cast to the input's type */
    ais_tensor *d = NULL;
    if ((st = ais_tensor_create(AIS_DTYPE_F64, shape, nd, &d))) return st;
    double *v = ais_tensor_data(d);
    for (size_t k = 0; k < ais_tensor_size(d); k++)
        v[k] = tool_is_float_dtype(dt) ? (double)rand() / ((double)RAND_MAX + 1.0)
               : dt == AIS_DTYPE_BOOL  ? (double)(rand() % 2)
                                       : (double)(rand() % 10);
    if (dt == AIS_DTYPE_F64) {
        *out = d;
        return AIS_OK;
    }
    st = tool_cast_to(d, dt, out);
    ais_tensor_destroy(d);
    return st;
}
