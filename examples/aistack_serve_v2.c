/*
 * aistack_serve_v2.c - the Open Inference Protocol (KServe V2) bodies of `aistack serve`: model
 * metadata, and infer requests and responses with tensors as JSON arrays or, in Triton's binary
 * tensor data extension, as raw little-endian bytes after the JSON header. The JSON is parsed
 * with cJSON (what lib/pipeline uses); responses are printed here, straight into one buffer,
 * because a tensor of a million floats as a million cJSON nodes would cost more than the run.
 * Floats print with 9 (f32) or 17 (f64) significant digits, so that they parse back to the
 * same bits.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aistack_serve.h"
#include "aistack_tool.h"

#define MAX_DIMS 16

void serve_buf_put(serve_buf *b, const void *data, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
}

void serve_buf_puts(serve_buf *b, const char *s) { serve_buf_put(b, s, strlen(s)); }

void serve_buf_printf(serve_buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) return serve_buf_put(b, tmp, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    serve_buf_put(b, big, (size_t)n);
    free(big);
}

void serve_buf_json_str(serve_buf *b, const char *s) {
    serve_buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            serve_buf_put(b, e, 2);
        } else if (*p < 0x20) {
            serve_buf_printf(b, "\\u%04x", *p);
        } else {
            serve_buf_put(b, p, 1);
        }
    }
    serve_buf_put(b, "\"", 1);
}

void serve_buf_free(serve_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

void serve_error_body(serve_buf *out, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    out->len = 0;
    out->oom = false;
    serve_buf_puts(out, "{\"error\": ");
    serve_buf_json_str(out, msg);
    serve_buf_puts(out, "}");
}

static const struct {
    ais_dtype dt;
    const char *name;
} dtype_names[] = {
    {AIS_DTYPE_F32, "FP32"},   {AIS_DTYPE_F64, "FP64"},     {AIS_DTYPE_F16, "FP16"},
    {AIS_DTYPE_BF16, "BF16"},  {AIS_DTYPE_I8, "INT8"},      {AIS_DTYPE_I16, "INT16"},
    {AIS_DTYPE_I32, "INT32"},  {AIS_DTYPE_I64, "INT64"},    {AIS_DTYPE_U8, "UINT8"},
    {AIS_DTYPE_U16, "UINT16"}, {AIS_DTYPE_U32, "UINT32"},   {AIS_DTYPE_U64, "UINT64"},
    {AIS_DTYPE_BOOL, "BOOL"},  {AIS_DTYPE_STRING, "BYTES"},
};

const char *serve_dtype_name(ais_dtype dt) {
    for (size_t i = 0; i < sizeof dtype_names / sizeof *dtype_names; i++)
        if (dtype_names[i].dt == dt) return dtype_names[i].name;
    return NULL;
}

ais_dtype serve_dtype_parse(const char *name) {
    for (size_t i = 0; i < sizeof dtype_names / sizeof *dtype_names; i++)
        if (!strcmp(dtype_names[i].name, name)) return dtype_names[i].dt;
    return AIS_DTYPE_UNDEFINED;
}

static void put_tensor_desc(serve_buf *out, const char *name, ais_dtype dt, size_t nd,
                            const int64_t *dims) {
    serve_buf_puts(out, "{\"name\": ");
    serve_buf_json_str(out, name);
    const char *dn = serve_dtype_name(dt);
    serve_buf_printf(out, ", \"datatype\": \"%s\", \"shape\": [", dn ? dn : ais_dtype_name(dt));
    for (size_t k = 0; k < nd; k++)
        serve_buf_printf(out, "%s%" PRId64, k ? ", " : "", dims[k]);
    serve_buf_puts(out, "]}");
}

void serve_model_metadata(const serve_model *m, const int64_t *versions, size_t n_versions,
                          serve_buf *out) {
    serve_buf_puts(out, "{\"name\": ");
    serve_buf_json_str(out, m->name);
    serve_buf_puts(out, ", \"versions\": [");
    for (size_t i = 0; i < n_versions; i++)
        serve_buf_printf(out, "%s\"%" PRId64 "\"", i ? ", " : "", versions[i]);
    serve_buf_puts(out, "], \"platform\": \"aistack\", \"inputs\": [");
    for (int io = 0; io < 2; io++) {
        size_t n = io ? ais_model_output_count(m->model) : ais_model_input_count(m->model);
        for (size_t i = 0; i < n; i++) {
            const char *name;
            ais_dtype dt;
            size_t nd;
            const int64_t *dims;
            if (io)
                ais_model_output_info(m->model, i, &name, &dt, &nd, &dims);
            else
                ais_model_input_info(m->model, i, &name, &dt, &nd, &dims);
            if (i) serve_buf_puts(out, ", ");
            put_tensor_desc(out, name, dt, nd, dims);
        }
        serve_buf_puts(out, io ? "]}" : "], \"outputs\": [");
    }
}

void serve_model_config(const serve_model *m, serve_buf *out) {
    serve_buf_puts(out, "{\"name\": ");
    serve_buf_json_str(out, m->name);
    serve_buf_puts(out, ", \"platform\": \"aistack\", \"max_batch_size\": 0, \"input\": [");
    for (int io = 0; io < 2; io++) {
        size_t n = io ? ais_model_output_count(m->model) : ais_model_input_count(m->model);
        for (size_t i = 0; i < n; i++) {
            const char *name, *dn;
            ais_dtype dt;
            size_t nd;
            const int64_t *dims;
            if (io)
                ais_model_output_info(m->model, i, &name, &dt, &nd, &dims);
            else
                ais_model_input_info(m->model, i, &name, &dt, &nd, &dims);
            dn = serve_dtype_name(dt);
            serve_buf_puts(out, i ? ", {\"name\": " : "{\"name\": ");
            serve_buf_json_str(out, name);
            /* Triton's config spells types TYPE_FP32, TYPE_STRING (BYTES), TYPE_BOOL. */
            serve_buf_printf(out, ", \"data_type\": \"TYPE_%s\", \"dims\": [",
                             !dn                      ? "INVALID"
                             : dt == AIS_DTYPE_STRING ? "STRING"
                                                      : dn);
            for (size_t k = 0; k < nd; k++)
                serve_buf_printf(out, "%s%" PRId64, k ? ", " : "", dims[k]);
            serve_buf_puts(out, "]}");
        }
        serve_buf_puts(out, io ? "]}" : "], \"output\": [");
    }
}

/* ---- infer ---- */

/* The parsed request: serve_job (aistack_serve.h), so that the batcher can take it over. */
typedef serve_job infer_req;

/* Counts the leaves of a (possibly nested) JSON data array, refusing non-array nesting. */
static bool count_leaves(const cJSON *a, size_t *n, int depth) {
    if (depth > MAX_DIMS) return false;
    for (const cJSON *e = a->child; e; e = e->next) {
        if (cJSON_IsArray(e)) {
            if (!count_leaves(e, n, depth + 1)) return false;
        } else {
            (*n)++;
        }
    }
    return true;
}

typedef struct fill_ctx {
    ais_tensor *t;
    ais_dtype dt;
    size_t i;
    const char **strs;
    char err[256];
} fill_ctx;

/* Writes the leaves of a into the tensor in row-major order; false with fc->err set. */
static bool fill_leaves(const cJSON *a, fill_ctx *fc) {
    for (const cJSON *e = a->child; e; e = e->next) {
        if (cJSON_IsArray(e)) {
            if (!fill_leaves(e, fc)) return false;
            continue;
        }
        size_t i = fc->i++;
        void *d = ais_tensor_data(fc->t);
        if (fc->dt == AIS_DTYPE_STRING) {
            if (!cJSON_IsString(e)) {
                snprintf(fc->err, sizeof fc->err, "element %zu is not a string", i);
                return false;
            }
            fc->strs[i] = e->valuestring;
            continue;
        }
        if (fc->dt == AIS_DTYPE_BOOL) {
            if (!cJSON_IsBool(e)) {
                snprintf(fc->err, sizeof fc->err, "element %zu is not true or false", i);
                return false;
            }
            ((uint8_t *)d)[i] = cJSON_IsTrue(e) ? 1 : 0;
            continue;
        }
        if (!cJSON_IsNumber(e)) {
            snprintf(fc->err, sizeof fc->err, "element %zu is not a number", i);
            return false;
        }
        double v = e->valuedouble;
        if (fc->dt == AIS_DTYPE_F32) {
            ((float *)d)[i] = (float)v;
            continue;
        }
        if (fc->dt == AIS_DTYPE_F64) {
            ((double *)d)[i] = v;
            continue;
        }
        /* Integers: whole and in range (cJSON reads numbers as doubles, so 64-bit integers
         * beyond 2^53 need the binary form to arrive exactly). */
        double lo, hi;
        switch (fc->dt) {
        case AIS_DTYPE_I8: lo = INT8_MIN, hi = INT8_MAX; break;
        case AIS_DTYPE_I16: lo = INT16_MIN, hi = INT16_MAX; break;
        case AIS_DTYPE_I32: lo = INT32_MIN, hi = INT32_MAX; break;
        case AIS_DTYPE_I64: lo = -9223372036854775808.0, hi = 9223372036854774784.0; break;
        case AIS_DTYPE_U8: lo = 0, hi = UINT8_MAX; break;
        case AIS_DTYPE_U16: lo = 0, hi = UINT16_MAX; break;
        case AIS_DTYPE_U32: lo = 0, hi = UINT32_MAX; break;
        default: lo = 0, hi = 18446744073709549568.0; break;
        }
        if (!(v >= lo && v <= hi) || v != floor(v)) {
            snprintf(fc->err, sizeof fc->err, "element %zu (%.17g) is not a %s", i, v,
                     serve_dtype_name(fc->dt));
            return false;
        }
        switch (fc->dt) {
        case AIS_DTYPE_I8: ((int8_t *)d)[i] = (int8_t)v; break;
        case AIS_DTYPE_I16: ((int16_t *)d)[i] = (int16_t)v; break;
        case AIS_DTYPE_I32: ((int32_t *)d)[i] = (int32_t)v; break;
        case AIS_DTYPE_I64: ((int64_t *)d)[i] = (int64_t)v; break;
        case AIS_DTYPE_U8: ((uint8_t *)d)[i] = (uint8_t)v; break;
        case AIS_DTYPE_U16: ((uint16_t *)d)[i] = (uint16_t)v; break;
        case AIS_DTYPE_U32: ((uint32_t *)d)[i] = (uint32_t)v; break;
        default: ((uint64_t *)d)[i] = (uint64_t)v; break;
        }
    }
    return true;
}

/* The model input called name: its dtype; false when there is none. */
static bool model_input_dtype(const ais_model *m, const char *name, ais_dtype *dt) {
    for (size_t i = 0; i < ais_model_input_count(m); i++) {
        const char *n;
        if (ais_model_input_info(m, i, &n, dt, NULL, NULL) == AIS_OK && !strcmp(n, name))
            return true;
    }
    return false;
}

static bool model_has_output(const ais_model *m, const char *name) {
    for (size_t i = 0; i < ais_model_output_count(m); i++) {
        const char *n;
        if (ais_model_output_info(m, i, &n, NULL, NULL, NULL) == AIS_OK && !strcmp(n, name))
            return true;
    }
    return false;
}

/* One request input into r->inputs[r->n_in]; 0, or an HTTP status with out holding the error. */
static int parse_input(const serve_model *m, const cJSON *in, const char *bin, size_t bin_len,
                       size_t *bin_off, infer_req *r, serve_buf *out) {
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(in, "name");
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(in, "datatype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(in, "shape");
    if (!cJSON_IsString(jn) || !cJSON_IsString(jt) || !cJSON_IsArray(js))
        return serve_error_body(out, "each input needs \"name\", \"datatype\" and \"shape\""), 400;
    const char *name = jn->valuestring;
    ais_dtype want, dt = serve_dtype_parse(jt->valuestring);
    if (!model_input_dtype(m->model, name, &want))
        return serve_error_body(out, "model '%s' has no input '%s'", m->name, name), 400;
    if (dt != want)
        return serve_error_body(out, "input '%s': datatype %s, but the model takes %s", name,
                                jt->valuestring,
                                serve_dtype_name(want) ? serve_dtype_name(want) : "another"),
               400;
    for (size_t k = 0; k < r->n_in; k++)
        if (!strcmp(r->in_names[k], name))
            return serve_error_body(out, "input '%s' given twice", name), 400;
    int64_t dims[MAX_DIMS];
    size_t nd = 0;
    uint64_t count = 1;
    for (const cJSON *e = js->child; e; e = e->next) {
        if (nd == MAX_DIMS || !cJSON_IsNumber(e) || e->valuedouble < 0 ||
            e->valuedouble > 2147483647.0 || e->valuedouble != floor(e->valuedouble))
            return serve_error_body(out,
                                    "input '%s': bad shape (at most %d dimensions, each a "
                                    "whole number 0..2^31-1)",
                                    name, MAX_DIMS),
                   400;
        dims[nd++] = (int64_t)e->valuedouble;
        count *= (uint64_t)dims[nd - 1];
        if (count > ((uint64_t)1 << 40))
            return serve_error_body(out, "input '%s': shape too large", name), 400;
    }
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(in, "parameters");
    const cJSON *jbs = params ? cJSON_GetObjectItemCaseSensitive(params, "binary_data_size") : NULL;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
    size_t esize = dt == AIS_DTYPE_STRING ? 0 : ais_dtype_size(dt);
    if (jbs) {
        if (!cJSON_IsNumber(jbs) || jbs->valuedouble < 0 || jbs->valuedouble > (double)bin_len ||
            (size_t)jbs->valuedouble > bin_len - *bin_off)
            return serve_error_body(out,
                                    "input '%s': binary_data_size exceeds the binary data "
                                    "that follows the JSON header",
                                    name),
                   400;
        size_t sz = (size_t)jbs->valuedouble;
        const char *p = bin + *bin_off;
        *bin_off += sz;
        if (dt != AIS_DTYPE_STRING) {
            if ((uint64_t)sz != count * esize)
                return serve_error_body(out,
                                        "input '%s': %zu bytes of binary data for shape of "
                                        "%" PRIu64 " %s elements (%" PRIu64 " bytes)",
                                        name, sz, count, jt->valuestring, count * esize),
                       400;
            ais_status st = ais_tensor_create(dt, dims, nd, &r->inputs[r->n_in]);
            if (st) return serve_error_body(out, "input '%s': %s", name, ais_last_error()), 500;
            if (sz) memcpy(ais_tensor_data(r->inputs[r->n_in]), p, sz);
        } else {
            /* BYTES: each element a 4-byte little-endian length and that many bytes, so the
             * shape is checked against the size before a tensor of that shape is made. */
            if (count > sz / 4)
                return serve_error_body(
                           out, "input '%s': %zu bytes cannot hold %" PRIu64 " BYTES elements",
                           name, sz, count),
                       400;
            ais_status st = ais_tensor_create(dt, dims, nd, &r->inputs[r->n_in]);
            if (st) return serve_error_body(out, "input '%s': %s", name, ais_last_error()), 500;
            size_t off = 0;
            char *tmp = NULL;
            for (uint64_t i = 0; i < count; i++) {
                if (sz - off < 4) {
                    free(tmp);
                    return serve_error_body(out, "input '%s': BYTES data ends in element %" PRIu64,
                                            name, i),
                           400;
                }
                const uint8_t *q = (const uint8_t *)p + off;
                uint32_t l = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                             (uint32_t)q[3] << 24;
                off += 4;
                if (l > sz - off || memchr(p + off, 0, l)) {
                    free(tmp);
                    return serve_error_body(out,
                                            "input '%s': BYTES element %" PRIu64
                                            " overruns its data or holds a NUL byte",
                                            name, i),
                           400;
                }
                char *t2 = realloc(tmp, (size_t)l + 1);
                if (!t2) return free(tmp), serve_error_body(out, "out of memory"), 500;
                tmp = t2;
                memcpy(tmp, p + off, l);
                tmp[l] = 0;
                off += l;
                if (ais_tensor_set_string(r->inputs[r->n_in], (size_t)i, tmp) != AIS_OK)
                    return free(tmp), serve_error_body(out, "out of memory"), 500;
            }
            free(tmp);
            if (off != sz)
                return serve_error_body(out, "input '%s': %zu bytes of BYTES data left over", name,
                                        sz - off),
                       400;
        }
    } else {
        if (!cJSON_IsArray(data))
            return serve_error_body(out,
                                    "input '%s' needs \"data\" (an array) or "
                                    "parameters.binary_data_size",
                                    name),
                   400;
        size_t n = 0;
        if (!count_leaves(data, &n, 0))
            return serve_error_body(out, "input '%s': data nested too deep", name), 400;
        if ((uint64_t)n != count)
            return serve_error_body(out, "input '%s': %zu data elements for a shape of %" PRIu64,
                                    name, n, count),
                   400;
        ais_status st = ais_tensor_create(dt, dims, nd, &r->inputs[r->n_in]);
        if (st) return serve_error_body(out, "input '%s': %s", name, ais_last_error()), 500;
        fill_ctx fc = {.t = r->inputs[r->n_in], .dt = dt};
        if (dt == AIS_DTYPE_STRING && !(fc.strs = calloc(n ? n : 1, sizeof *fc.strs)))
            return serve_error_body(out, "out of memory"), 500;
        bool ok = fill_leaves(data, &fc);
        for (size_t i = 0; ok && dt == AIS_DTYPE_STRING && i < n; i++)
            if (ais_tensor_set_string(fc.t, i, fc.strs[i]) != AIS_OK) ok = false;
        free(fc.strs);
        if (!ok)
            return serve_error_body(out, "input '%s': %s", name, fc.err[0] ? fc.err : "no memory"),
                   400;
    }
    r->in_names[r->n_in++] = name;
    return 0;
}

static void put_json_data(serve_buf *out, const ais_tensor *t) {
    size_t n = ais_tensor_size(t);
    ais_dtype dt = ais_tensor_dtype(t);
    const void *d = ais_tensor_data_const(t);
    serve_buf_puts(out, "[");
    for (size_t i = 0; i < n && !out->oom; i++) {
        if (i) serve_buf_puts(out, ",");
        double v = 0;
        switch (dt) {
        case AIS_DTYPE_STRING: serve_buf_json_str(out, ais_tensor_string_at(t, i)); continue;
        case AIS_DTYPE_BOOL:
            serve_buf_puts(out, ((const uint8_t *)d)[i] ? "true" : "false");
            continue;
        case AIS_DTYPE_I64: serve_buf_printf(out, "%" PRId64, ((const int64_t *)d)[i]); continue;
        case AIS_DTYPE_U64: serve_buf_printf(out, "%" PRIu64, ((const uint64_t *)d)[i]); continue;
        case AIS_DTYPE_I32: serve_buf_printf(out, "%" PRId32, ((const int32_t *)d)[i]); continue;
        case AIS_DTYPE_U32: serve_buf_printf(out, "%" PRIu32, ((const uint32_t *)d)[i]); continue;
        case AIS_DTYPE_I16: serve_buf_printf(out, "%d", ((const int16_t *)d)[i]); continue;
        case AIS_DTYPE_U16: serve_buf_printf(out, "%u", ((const uint16_t *)d)[i]); continue;
        case AIS_DTYPE_I8: serve_buf_printf(out, "%d", ((const int8_t *)d)[i]); continue;
        case AIS_DTYPE_U8: serve_buf_printf(out, "%u", ((const uint8_t *)d)[i]); continue;
        case AIS_DTYPE_F32: v = ((const float *)d)[i]; break;
        default: v = ((const double *)d)[i]; break;
        }
        /* JSON has no NaN or infinity: null (the binary form carries them exactly). */
        if (!isfinite(v))
            serve_buf_puts(out, "null");
        else
            serve_buf_printf(out, dt == AIS_DTYPE_F32 ? "%.9g" : "%.17g", v);
    }
    serve_buf_puts(out, "]");
}

/* The binary form of t appended to bin; its byte count. */
static size_t put_binary(serve_buf *bin, const ais_tensor *t) {
    size_t before = bin->len;
    if (ais_tensor_dtype(t) != AIS_DTYPE_STRING) {
        serve_buf_put(bin, ais_tensor_data_const(t), ais_tensor_nbytes(t));
    } else {
        for (size_t i = 0; i < ais_tensor_size(t); i++) {
            const char *s = ais_tensor_string_at(t, i);
            size_t l = strlen(s ? s : "");
            uint8_t h[4] = {(uint8_t)l, (uint8_t)(l >> 8), (uint8_t)(l >> 16), (uint8_t)(l >> 24)};
            serve_buf_put(bin, h, 4);
            serve_buf_put(bin, s ? s : "", l);
        }
    }
    return bin->len - before;
}

/* The outputs r->outputs as the V2 response into out. */
static int reply_outputs(const serve_model *m, const cJSON *req, infer_req *r, serve_buf *out,
                         size_t *out_json_len) {
    for (size_t i = 0; i < r->n_out; i++)
        if (!serve_dtype_name(ais_tensor_dtype(r->outputs[i])) ||
            ais_tensor_dtype(r->outputs[i]) == AIS_DTYPE_F16 ||
            ais_tensor_dtype(r->outputs[i]) == AIS_DTYPE_BF16)
            return serve_error_body(out,
                                    "output '%s' is of type %s, which the server cannot "
                                    "send yet; request the other outputs",
                                    r->out_names[i],
                                    ais_dtype_name(ais_tensor_dtype(r->outputs[i]))),
                   500;
    serve_buf bin = {0};
    serve_buf_puts(out, "{\"model_name\": ");
    serve_buf_json_str(out, m->name);
    serve_buf_printf(out, ", \"model_version\": \"%" PRId64 "\"", m->version);
    const cJSON *id = req ? cJSON_GetObjectItemCaseSensitive(req, "id") : NULL;
    if (cJSON_IsString(id)) {
        serve_buf_puts(out, ", \"id\": ");
        serve_buf_json_str(out, id->valuestring);
    }
    serve_buf_puts(out, ", \"outputs\": [");
    for (size_t i = 0; i < r->n_out; i++) {
        const ais_tensor *t = r->outputs[i];
        if (i) serve_buf_puts(out, ", ");
        put_tensor_desc(out, r->out_names[i], ais_tensor_dtype(t), ais_tensor_ndim(t),
                        ais_tensor_shape(t));
        out->len--; /* reopen the object */
        if (r->out_binary[i]) {
            serve_buf_printf(out, ", \"parameters\": {\"binary_data_size\": %zu}}",
                             put_binary(&bin, t));
        } else {
            serve_buf_puts(out, ", \"data\": ");
            put_json_data(out, t);
            serve_buf_puts(out, "}");
        }
    }
    serve_buf_puts(out, "]}");
    *out_json_len = out->len;
    serve_buf_put(out, bin.p, bin.len);
    bool oom = out->oom || bin.oom;
    serve_buf_free(&bin);
    if (oom) return serve_error_body(out, "out of memory building the response"), 500;
    return 200;
}

/* Runs r's inputs into r->outputs; 0, or an HTTP status with out holding the error. */
static int run_only(const serve_model *m, ais_session *s, infer_req *r, serve_buf *out) {
    ais_status st = ais_session_run(s, r->in_names, (const ais_tensor *const *)r->inputs, r->n_in,
                                    r->out_names, r->outputs, r->n_out);
    if (st) {
        int code = st == AIS_E_SHAPE || st == AIS_E_DTYPE || st == AIS_E_INVALID_ARGUMENT ||
                           st == AIS_E_NOT_FOUND || st == AIS_E_LIMIT || st == AIS_E_SCHEMA
                       ? 400
                       : 500;
        serve_error_body(out, "model '%s': %s: %s", m->name, ais_status_name(st), ais_last_error());
        return code;
    }
    return 0;
}

static int run_and_reply(const serve_model *m, ais_session *s, const cJSON *req, infer_req *r,
                         serve_buf *out, size_t *out_json_len) {
    int code = run_only(m, s, r, out);
    return code ? code : reply_outputs(m, req, r, out, out_json_len);
}

int serve_infer(const serve_model *m, ais_session *s, const char *body, size_t len, size_t json_len,
                serve_buf *out, size_t *out_json_len) {
    return serve_infer_or_queue(m, s, body, len, json_len, out, out_json_len, NULL);
}

int serve_infer_or_queue(const serve_model *m, ais_session *s, const char *body, size_t len,
                         size_t json_len, serve_buf *out, size_t *out_json_len,
                         serve_job **pending) {
    *out_json_len = 0;
    if (pending) *pending = NULL;
    cJSON *req = cJSON_ParseWithLength(body, json_len);
    if (!req || !cJSON_IsObject(req)) {
        cJSON_Delete(req);
        return serve_error_body(out, "the request is not a JSON object"), 400;
    }
    /* On the heap (MAX_IO slots are kilobytes), and a queued request outlives this call. */
    infer_req *r = calloc(1, sizeof *r);
    if (!r) return cJSON_Delete(req), serve_error_body(out, "out of memory"), 500;
    int code = 0;
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(req, "inputs");
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(req, "outputs");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "parameters");
    bool all_binary = cJSON_IsTrue(
        params ? cJSON_GetObjectItemCaseSensitive(params, "binary_data_output") : NULL);
    size_t bin_off = 0;
    if (!cJSON_IsArray(ins) || !cJSON_GetArraySize(ins)) {
        code = 400, serve_error_body(out, "the request needs \"inputs\", a non-empty array");
        goto done;
    }
    for (const cJSON *in = ins->child; in && !code; in = in->next) {
        if (r->n_in == MAX_IO || !cJSON_IsObject(in)) {
            code = 400, serve_error_body(out, "\"inputs\" holds at most %d objects", MAX_IO);
            break;
        }
        code = parse_input(m, in, body + json_len, len - json_len, &bin_off, r, out);
    }
    if (!code && bin_off != len - json_len)
        code = 400, serve_error_body(out,
                                     "%zu bytes of binary data follow the JSON header, "
                                     "but the inputs' binary_data_size add up to %zu",
                                     len - json_len, bin_off);
    if (code) goto done;
    if (outs && !cJSON_IsArray(outs)) {
        code = 400, serve_error_body(out, "\"outputs\" must be an array");
        goto done;
    }
    if (outs && cJSON_GetArraySize(outs)) {
        for (const cJSON *o = outs->child; o; o = o->next) {
            const cJSON *jn = cJSON_GetObjectItemCaseSensitive(o, "name");
            if (r->n_out == MAX_IO || !cJSON_IsString(jn)) {
                code = 400, serve_error_body(out, "each requested output needs a \"name\"");
                goto done;
            }
            if (!model_has_output(m->model, jn->valuestring)) {
                code = 404,
                serve_error_body(out, "model '%s' has no output '%s'", m->name, jn->valuestring);
                goto done;
            }
            const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "parameters");
            const cJSON *jb = op ? cJSON_GetObjectItemCaseSensitive(op, "binary_data") : NULL;
            r->out_binary[r->n_out] = jb ? cJSON_IsTrue(jb) : all_binary;
            r->out_names[r->n_out++] = jn->valuestring;
        }
    } else {
        for (size_t i = 0; i < ais_model_output_count(m->model) && i < MAX_IO; i++) {
            ais_model_output_info(m->model, i, &r->out_names[r->n_out], NULL, NULL, NULL);
            r->out_binary[r->n_out++] = all_binary;
        }
    }
    if (pending && m->batcher && serve_batch_accepts(m->batcher, r)) {
        r->req = req;
        r->model = m;
        *pending = r;
        return 0;
    }
    code = run_and_reply(m, s, req, r, out, out_json_len);
done:
    /* MAX_IO, not n_in: a slot parse_input filled before failing is freed too. */
    for (size_t i = 0; i < MAX_IO; i++)
        ais_tensor_destroy(r->inputs[i]);
    for (size_t i = 0; i < MAX_IO; i++)
        ais_tensor_destroy(r->outputs[i]);
    if (code >= 400 || !*out_json_len) *out_json_len = out->len;
    cJSON_Delete(req);
    free(r);
    return code;
}

int serve_job_reply(serve_job *j) {
    j->out_json_len = 0;
    j->reply_pending = false;
    j->status = reply_outputs(j->model, j->req, j, &j->out, &j->out_json_len);
    if (j->status >= 400 || !j->out_json_len) j->out_json_len = j->out.len;
    return j->status;
}

int serve_job_run(ais_session *s, serve_job *j) {
    j->status = run_only(j->model, s, j, &j->out);
    j->out_json_len = j->out.len;
    if (!j->status) j->status = 200, j->reply_pending = true;
    return j->status;
}

void serve_job_free(serve_job *j) {
    if (!j) return;
    for (size_t i = 0; i < MAX_IO; i++)
        ais_tensor_destroy(j->inputs[i]);
    for (size_t i = 0; i < MAX_IO; i++)
        ais_tensor_destroy(j->outputs[i]);
    cJSON_Delete(j->req);
    serve_buf_free(&j->out);
    free(j);
}

int serve_records(const serve_model *m, ais_session *s, const char *body, size_t len, bool csv,
                  serve_buf *out) {
    infer_req r;
    memset(&r, 0, sizeof r);
    for (size_t i = 0; i < ais_model_output_count(m->model) && i < MAX_IO; i++)
        ais_model_output_info(m->model, i, &r.out_names[r.n_out++], NULL, NULL, NULL);
    ais_pipeline_errors *errs = NULL;
    ais_status st =
        csv ? ais_session_run_csv(s, body, len, r.out_names, r.outputs, r.n_out, &errs)
            : ais_session_run_json_rows(s, body, len, r.out_names, r.outputs, r.n_out, &errs);
    int code;
    size_t json_len = 0;
    if (st) {
        code = st == AIS_E_SHAPE || st == AIS_E_DTYPE || st == AIS_E_INVALID_ARGUMENT ||
                       st == AIS_E_NOT_FOUND || st == AIS_E_LIMIT || st == AIS_E_SCHEMA ||
                       st == AIS_E_FORMAT
                   ? 400
                   : 500;
        serve_error_body(out, "model '%s': %s: %s", m->name, ais_status_name(st), ais_last_error());
        /* The pipeline's report, one entry per row and field (the first 1000). */
        size_t n = errs ? ais_pipeline_errors_count(errs) : 0;
        if (n) {
            out->len--; /* reopen the object */
            serve_buf_puts(out, ", \"errors\": [");
            for (size_t i = 0; i < n && i < 1000; i++) {
                const char *f = ais_pipeline_errors_field(errs, i);
                serve_buf_printf(out, "%s{\"row\": %zu, \"field\": ", i ? ", " : "",
                                 ais_pipeline_errors_row(errs, i));
                if (f)
                    serve_buf_json_str(out, f);
                else
                    serve_buf_puts(out, "null");
                serve_buf_puts(out, ", \"message\": ");
                serve_buf_json_str(out, ais_pipeline_errors_message(errs, i));
                serve_buf_puts(out, "}");
            }
            serve_buf_puts(out, "]}");
        }
    } else {
        code = reply_outputs(m, NULL, &r, out, &json_len);
    }
    ais_pipeline_errors_destroy(errs);
    for (size_t i = 0; i < MAX_IO; i++)
        ais_tensor_destroy(r.outputs[i]);
    return code;
}
