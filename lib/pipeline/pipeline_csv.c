/*
 * pipeline_csv.c - runs a pipeline over CSV text (RFC 4180 with a header row naming the fields).
 *
 * The tokenizer is our own rather than a library: it never allocates per cell (cells are spans of
 * the caller's text; a row's cells are copied, unescaped and NUL-terminated, into one scratch
 * buffer that only grows when a row is longer than any before), it reports malformed rows with
 * their number instead of stopping, and the few C options packaged in Debian (libcsv) are LGPL
 * and unmaintained since 2013. tests/fuzz/fuzz_pipeline.c feeds it arbitrary bytes.
 *
 * Conventions (docs/pipeline-spec.md, "CSV"): a UTF-8 byte-order mark before the header is
 * skipped; LF or CRLF ends a record; an empty line is skipped (as pandas does); an empty cell is a
 * missing value; a numeric input parses its cell as a number ("nan" is missing), a categorical
 * input takes the text.
 */
#include <math.h>
#include <string.h>

#include "pipeline.h"
#include "tensor/tensor.h"

typedef struct {
    size_t off, len; /* into the text: the cell's bytes without enclosing quotes */
    bool escaped;    /* holds "" pairs to unescape */
} csv_cell;

typedef struct {
    const char *s;
    size_t len, pos;
    csv_cell *cells; /* the current record's cells */
    size_t n_cells, cap_cells;
    bool store; /* false: only skip records (counting) */
} csv_scan;

static ais_status add_cell(csv_scan *c, size_t off, size_t len, bool escaped) {
    if (!c->store) {
        c->n_cells++;
        return AIS_OK;
    }
    if (c->n_cells == c->cap_cells) {
        size_t cap = c->cap_cells ? c->cap_cells * 2 : 16;
        csv_cell *cells = ais__realloc(c->cells, c->cap_cells * sizeof *cells, cap * sizeof *cells);
        if (!cells) return ais__oom(cap * sizeof *cells, "CSV cells");
        c->cells = cells;
        c->cap_cells = cap;
    }
    c->cells[c->n_cells++] = (csv_cell){off, len, escaped};
    return AIS_OK;
}

/* Skips to just past the next LF (or to the end). */
static void skip_line(csv_scan *c) {
    const char *nl = memchr(c->s + c->pos, '\n', c->len - c->pos);
    c->pos = nl ? (size_t)(nl - c->s) + 1 : c->len;
}

/* Reads the record at c->pos into c->cells. *got is false at the end of the text. A malformed
 * record sets *problem (static text) and is consumed to the end of its line (for an unterminated
 * quote, to the end of the text). */
static ais_status next_record(csv_scan *c, bool *got, const char **problem) {
    *got = false;
    *problem = NULL;
    c->n_cells = 0;
    while (c->pos < c->len) {
        if (c->s[c->pos] == '\n')
            c->pos++;
        else if (c->s[c->pos] == '\r' && c->pos + 1 < c->len && c->s[c->pos + 1] == '\n')
            c->pos += 2;
        else
            break;
    }
    if (c->pos >= c->len) return AIS_OK;
    *got = true;
    const char *s = c->s;
    for (;;) {
        size_t at = c->pos;
        if (at < c->len && s[at] == '"') {
            size_t i = at + 1;
            bool escaped = false;
            for (;;) {
                const char *q = memchr(s + i, '"', c->len - i);
                if (!q) {
                    c->pos = c->len;
                    *problem = "unterminated quoted cell";
                    return AIS_OK;
                }
                i = (size_t)(q - s);
                if (i + 1 < c->len && s[i + 1] == '"') {
                    escaped = true;
                    i += 2;
                    continue;
                }
                break;
            }
            AIS__CHECK(add_cell(c, at + 1, i - at - 1, escaped));
            c->pos = i + 1;
        } else {
            size_t i = at;
            while (i < c->len && s[i] != ',' && s[i] != '\n')
                i++;
            size_t end = i;
            if ((i == c->len || s[i] == '\n') && end > at && s[end - 1] == '\r') end--;
            AIS__CHECK(add_cell(c, at, end - at, false));
            c->pos = end;
        }
        /* After a cell: a separator, the end of the record, or (after quotes) an error. */
        size_t p = c->pos;
        if (p >= c->len) return AIS_OK;
        if (s[p] == ',') {
            c->pos++;
            if (c->pos >= c->len) return add_cell(c, c->pos, 0, false);
            continue;
        }
        if (s[p] == '\n') {
            c->pos++;
            return AIS_OK;
        }
        if (s[p] == '\r' && (p + 1 == c->len || s[p + 1] == '\n')) {
            c->pos = p + 1 == c->len ? p + 1 : p + 2;
            return AIS_OK;
        }
        *problem = "text after the closing quote of a cell";
        skip_line(c);
        return AIS_OK;
    }
}

/* Copies cell `j` of the record, unescaped and NUL-terminated, to dst; returns its length. */
static size_t copy_cell(const csv_scan *c, const csv_cell *cell, char *dst) {
    const char *src = c->s + cell->off;
    size_t n = 0;
    if (!cell->escaped) {
        memcpy(dst, src, cell->len);
        n = cell->len;
    } else {
        for (size_t i = 0; i < cell->len; i++) {
            dst[n++] = src[i];
            if (src[i] == '"') i++; /* the second quote of a "" pair */
        }
    }
    dst[n] = 0;
    return n;
}

typedef struct {
    csv_scan scan;
    size_t n_header;
    size_t *col_input; /* per header column: the input it feeds, or SIZE_MAX */
    char *scratch;     /* the current record's cells, NUL-terminated */
    size_t cap_scratch;
    char *header;      /* the header's cells, NUL-terminated one after the other */
    const char **near; /* per input absent from the header: a near-miss column, or NULL */
} csv_ctx;

static ais_status fill_csv(void *vctx, const ais_pipeline *p, size_t row, ais__pl_value *vals,
                           bool *present, ais_pipeline_errors *e, bool *bad) {
    csv_ctx *ctx = vctx;
    csv_scan *c = &ctx->scan;
    size_t start = c->pos;
    bool got;
    const char *problem;
    AIS__CHECK(next_record(c, &got, &problem));
    if (!got) return ais__error(AIS_E_INTERNAL, "pipeline: CSV row %zu vanished", row);
    if (problem) {
        *bad = true;
        return ais__pipeline_add_error(e, row, "", "%s", problem);
    }
    if (c->n_cells != ctx->n_header) {
        *bad = true;
        return ais__pipeline_add_error(e, row, "", "%zu cells, the header has %zu", c->n_cells,
                                       ctx->n_header);
    }
    /* Unescaped cells are no longer than their raw bytes: the record's span bounds them all. */
    size_t need = c->pos - start + c->n_cells + 1;
    if (need > ctx->cap_scratch) {
        char *buf = ais__realloc(ctx->scratch, ctx->cap_scratch, need);
        if (!buf) return ais__oom(need, "CSV row");
        ctx->scratch = buf;
        ctx->cap_scratch = need;
    }
    char *dst = ctx->scratch;
    for (size_t j = 0; j < c->n_cells; j++) {
        size_t i = ctx->col_input[j];
        if (i == SIZE_MAX) continue;
        size_t n = copy_cell(c, &c->cells[j], dst);
        present[i] = true;
        if (memchr(dst, 0, n)) {
            /* C strings end at a NUL: "3\0 0" would read as 3, "r\0x" as "r". */
            *bad = true;
            AIS__CHECK(
                ais__pipeline_add_error(e, row, p->inputs[i].name, "the cell holds a NUL byte"));
            dst += n + 1;
            continue;
        }
        if (n == 0) {
            vals[i] = (ais__pl_value){AIS_VALUE_MISSING, NAN, NULL};
        } else if (p->inputs[i].kind == AIS_FEATURE_NUMERIC) {
            double d;
            float f;
            if (ais__num_parse(dst, &d, &f))
                vals[i] = (ais__pl_value){AIS_VALUE_NUMBER, d, NULL};
            else
                vals[i] = (ais__pl_value){AIS__PL_VALUE_NOT_NUMBER, NAN, dst};
        } else {
            vals[i] = (ais__pl_value){AIS_VALUE_STRING, NAN, dst};
        }
        dst += n + 1;
    }
    for (size_t i = 0; i < p->n_inputs; i++)
        if (!present[i]) vals[i].str = ctx->near[i];
    return AIS_OK;
}

/* Reads the header: maps its columns to inputs. Columns that name no input are problems in
 * *unknown (a new report) under the error policy; under the ignore policy they name the
 * near misses of absent inputs. */
static ais_status read_header(csv_ctx *ctx, const ais_pipeline *p, ais_extra_fields extra,
                              ais_pipeline_errors **unknown) {
    csv_scan *c = &ctx->scan;
    size_t start = c->pos;
    bool got;
    const char *problem;
    AIS__CHECK(next_record(c, &got, &problem));
    if (!got) return ais__error(AIS_E_FORMAT, "CSV: no header row (the text is empty)");
    if (problem) return ais__error(AIS_E_FORMAT, "CSV header: %s", problem);
    ctx->n_header = c->n_cells;
    size_t need = c->pos - start + 1;
    ctx->col_input = ais__malloc(c->n_cells * sizeof *ctx->col_input);
    ctx->scratch = ais__malloc(need);
    ctx->header = ais__malloc(need + c->n_cells);
    ctx->near = ais__calloc(p->n_inputs ? p->n_inputs : 1, sizeof *ctx->near);
    if (!ctx->col_input || !ctx->scratch || !ctx->header || !ctx->near)
        return ais__oom(need, "CSV header");
    ctx->cap_scratch = need;
    bool *seen = ais__calloc(p->n_inputs ? p->n_inputs : 1, sizeof *seen);
    const char **names = ais__calloc(c->n_cells ? c->n_cells : 1, sizeof *names);
    if (!seen || !names) {
        ais__free(seen);
        ais__free((void *)names);
        return ais__oom(p->n_inputs + c->n_cells * sizeof *names, "CSV header");
    }
    ais_status st = AIS_OK;
    char *dst = ctx->header;
    size_t n_unknown = 0;
    for (size_t j = 0; j < c->n_cells && st == AIS_OK; j++) {
        size_t n = copy_cell(c, &c->cells[j], dst);
        if (memchr(dst, 0, n)) {
            st = ais__error(AIS_E_FORMAT, "CSV header: cell %zu holds a NUL byte", j);
            break;
        }
        size_t i = ais__pipeline_find_input(p, dst);
        ctx->col_input[j] = i;
        if (i == SIZE_MAX && ais__pipeline_is_ignored(p, dst)) {
            /* a known column the model does not use: skipped, as col_input says */
        } else if (i == SIZE_MAX) {
            names[j] = dst;
            n_unknown++;
        } else {
            if (seen[i])
                st = ais__error(AIS_E_FORMAT, "CSV header: column \"%s\" appears twice (cells %zu)",
                                p->inputs[i].name, j);
            seen[i] = true;
        }
        dst += n + 1;
    }
    if (st == AIS_OK && n_unknown && extra == AIS_EXTRA_FIELDS_ERROR) {
        if (!(*unknown = ais__pipeline_errors_new())) st = AIS_E_OUT_OF_MEMORY;
        for (size_t j = 0; j < c->n_cells && st == AIS_OK; j++)
            if (names[j]) st = ais__pipeline_add_unknown(*unknown, p, SIZE_MAX, names[j]);
    } else if (st == AIS_OK) {
        for (size_t i = 0; n_unknown && i < p->n_inputs; i++) {
            if (seen[i] || p->inputs[i].allow_missing) continue;
            size_t j = ais__pipeline_nearest(p->inputs[i].name, names, c->n_cells);
            if (j != SIZE_MAX) ctx->near[i] = names[j];
        }
    }
    ais__free(seen);
    ais__free((void *)names);
    return st;
}

ais_status ais__pipeline_csv_into(const ais_pipeline *p, const char *csv, size_t len,
                                  ais_dtype dtype, ais_extra_fields extra, ais_tensor **out,
                                  ais_pipeline_errors **errors) {
    if (errors) *errors = NULL;
    if (!csv && len) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_pipeline_run_csv: csv is NULL");
    csv_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.scan = (csv_scan){csv ? csv : "", len, 0, NULL, 0, 0, true};
    if (len >= 3 && memcmp(csv, "\xEF\xBB\xBF", 3) == 0) ctx.scan.pos = 3;
    ais_pipeline_errors *unknown = NULL;
    ais_status st = read_header(&ctx, p, extra, &unknown);
    if (st == AIS_OK && unknown) {
        st = ais__pipeline_errors_fail(unknown, errors);
        unknown = NULL;
    } else if (st == AIS_OK) {
        /* Count the records first: the output tensor is allocated once. */
        csv_scan count = ctx.scan;
        count.store = false;
        size_t n_rows = 0;
        bool got = true;
        const char *problem;
        while (st == AIS_OK && got) {
            st = next_record(&count, &got, &problem);
            n_rows += got;
        }
        if (st == AIS_OK) st = ais__pipeline_run(p, n_rows, fill_csv, &ctx, dtype, out, errors);
    }
    ais_pipeline_errors_destroy(unknown);
    ais__free(ctx.scan.cells);
    ais__free(ctx.col_input);
    ais__free(ctx.scratch);
    ais__free(ctx.header);
    ais__free((void *)ctx.near);
    return st;
}

ais_status ais_pipeline_run_csv(const ais_pipeline *p, const char *csv, size_t len,
                                ais_tensor **out, ais_pipeline_errors **errors) {
    if (errors) *errors = NULL;
    if (out) *out = NULL;
    if (!p || !out)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_pipeline_run_csv: pipeline or out is NULL");
    if (p->text)
        return ais__error(AIS_E_UNSUPPORTED,
                          "ais_pipeline_run_csv: a text pipeline gives token tensors for a model, "
                          "not one feature tensor: run it through a session (ais_session_run_csv)");
    return ais__pipeline_csv_into(p, csv, len, p->out_dtype, p->extra, out, errors);
}
