/*
 * pipeline_text.c - text pipelines: a "text" input whose one feature block is a "tokenize" step
 * holding the whole tokenizer (a tokenizer.json object, or the text of a vocab.txt), so that one
 * .ais file takes raw text. Records come through the same fill functions as the other pipelines
 * (records, JSON lines, CSV, columns) and the same report of bad rows; the run gives the token
 * tensors a transformer takes instead of one float feature tensor.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "pipeline.h"
#include "text/text.h"

struct ais__pl_text {
    ais_tokenizer *tok;
    int64_t max_length; /* > 0: rows are cut (or refused) there */
    bool truncation;
    char *targets[AIS__PL_TEXT_N]; /* the model input each tensor feeds; NULL: none */
    size_t first, second;          /* the text inputs; second is SIZE_MAX without "pair" */
};

#define TEXT_MAX_LENGTH ((int64_t)1 << 20)

/* NULL-terminated: it is also the allowed-keys list of "outputs" */
static const char *const target_keys[AIS__PL_TEXT_N + 1] = {"input_ids", "attention_mask",
                                                            "token_type_ids", NULL};

void ais__pipeline_text_free(struct ais__pl_text *t) {
    if (!t) return;
    ais_tokenizer_destroy(t->tok);
    for (int k = 0; k < AIS__PL_TEXT_N; k++)
        ais__free(t->targets[k]);
    ais__free(t);
}

const char *ais__pipeline_text_target(const ais_pipeline *p, int k) {
    return p && p->text && k >= 0 && k < AIS__PL_TEXT_N ? p->text->targets[k] : NULL;
}

const ais_tokenizer *ais__pipeline_tokenizer(const ais_pipeline *p) {
    return p && p->text ? p->text->tok : NULL;
}

/* The tokenizer of the step: an object is a tokenizer.json (printed back to bytes for the
 * tokenizer's own reader, which checks it as strictly as a file), a string the lines of a
 * vocab.txt. */
static ais_status load_tokenizer(const cJSON *v, const char *path, ais_tokenizer **tok) {
    char where[300];
    snprintf(where, sizeof where, "pipeline spec: %.200s.tokenizer", path);
    if (cJSON_IsString(v))
        return ais_tokenizer_load_memory(v->valuestring, strlen(v->valuestring), where, tok);
    if (!cJSON_IsObject(v))
        return ais__error(AIS_E_FORMAT,
                          "%s: expected a tokenizer.json object or the text of a vocab.txt", where);
    char *json = cJSON_PrintUnformatted(v);
    if (!json) return ais__oom(0, "tokenizer JSON");
    ais_status st = ais_tokenizer_load_memory(json, strlen(json), where, tok);
    cJSON_free(json);
    return st;
}

static ais_status parse_outputs(struct ais__pl_text *t, const cJSON *obj, const char *path) {
    char op[300];
    snprintf(op, sizeof op, "%.200s.outputs", path);
    if (obj) AIS__CHECK(ais__pipeline_check_keys(obj, op, target_keys, NULL));
    for (int k = 0; k < AIS__PL_TEXT_N; k++) {
        const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, target_keys[k]) : NULL;
        const char *name = target_keys[k]; /* Hugging Face's names by default */
        if (cJSON_IsNull(v)) continue;
        if (v) {
            if (!cJSON_IsString(v) || !v->valuestring[0] ||
                strlen(v->valuestring) > AIS__PL_MAX_NAME)
                return ais__error(AIS_E_FORMAT,
                                  "pipeline spec: %s.%s: expected a model input name (1 to %d "
                                  "bytes) or null",
                                  op, target_keys[k], AIS__PL_MAX_NAME);
            name = v->valuestring;
        }
        if (!(t->targets[k] = ais__strdup(name))) return ais__oom(strlen(name), "text target");
    }
    if (!t->targets[AIS__PL_TEXT_IDS])
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: %s.input_ids: the token ids must feed "
                          "a model input",
                          op);
    return AIS_OK;
}

static ais_status parse_step(const ais_pipeline *p, struct ais__pl_text *t, const cJSON *step,
                             const char *path) {
    static const char *const keys[] = {"op",      "tokenizer", "max_length", "truncation",
                                       "outputs", "pair",      NULL};
    static const char *const req[] = {"op", "tokenizer", NULL};
    AIS__CHECK(ais__pipeline_check_keys(step, path, keys, req));
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(step, "op");
    if (!cJSON_IsString(op) || strcmp(op->valuestring, "tokenize") != 0)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: %s.op: a text input takes one step, \"tokenize\"", path);
    AIS__CHECK(load_tokenizer(cJSON_GetObjectItemCaseSensitive(step, "tokenizer"), path, &t->tok));
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(step, "max_length");
    t->max_length = t->tok->trunc_max;
    if (ml) {
        if (!cJSON_IsNumber(ml) || ml->valuedouble != (double)(int64_t)ml->valuedouble ||
            ml->valuedouble < 1 || ml->valuedouble > (double)TEXT_MAX_LENGTH)
            return ais__error(AIS_E_FORMAT,
                              "pipeline spec: %s.max_length: expected an integer 1 to %lld", path,
                              (long long)TEXT_MAX_LENGTH);
        t->max_length = (int64_t)ml->valuedouble;
    }
    /* No silent cap and no unbounded tensors: the length is the spec's or the file's. */
    if (t->max_length <= 0)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: %s.max_length: required, since the tokenizer declares "
                          "no truncation length",
                          path);
    size_t specials = 0;
    for (size_t i = 0; i < t->tok->n_single; i++)
        if (t->tok->single[i].seq < 0) specials += t->tok->single[i].n_ids;
    if ((size_t)t->max_length < specials + 1)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: %s.max_length: %lld leaves no room for text after the "
                          "%zu special tokens",
                          path, (long long)t->max_length, specials);
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(step, "truncation");
    t->truncation = true;
    if (tr) {
        if (!cJSON_IsBool(tr))
            return ais__error(AIS_E_FORMAT, "pipeline spec: %s.truncation: expected a boolean",
                              path);
        t->truncation = cJSON_IsTrue(tr);
    }
    t->second = SIZE_MAX;
    const cJSON *pair = cJSON_GetObjectItemCaseSensitive(step, "pair");
    if (pair) {
        size_t k = cJSON_IsString(pair) ? ais__pipeline_find_input(p, pair->valuestring) : SIZE_MAX;
        if (k == SIZE_MAX || k == t->first || p->inputs[k].kind != AIS_FEATURE_TEXT)
            return ais__error(AIS_E_FORMAT,
                              "pipeline spec: %s.pair: expected the name of the other text input",
                              path);
        t->second = k;
    }
    if (p->n_inputs > 1 && t->second == SIZE_MAX)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: $.inputs: a text pipeline has one input, the text, or "
                          "two, the second named by the tokenize step's \"pair\" (%zu given)",
                          p->n_inputs);
    return parse_outputs(t, cJSON_GetObjectItemCaseSensitive(step, "outputs"), path);
}

ais_status ais__pipeline_text_compile(ais_pipeline *p, const cJSON *features) {
    if (p->n_inputs > 2)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: $.inputs: a text pipeline has one input, the text, or "
                          "two, the second named by the tokenize step's \"pair\" (%zu given)",
                          p->n_inputs);
    if (!cJSON_IsArray(features) || cJSON_GetArraySize(features) != 1)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: $.features: a text pipeline has exactly one feature "
                          "block, its tokenize step");
    const cJSON *blk = features->child;
    static const char *const keys[] = {"input", "steps", NULL};
    AIS__CHECK(ais__pipeline_check_keys(blk, "$.features[0]", keys, keys));
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(blk, "input");
    size_t first = cJSON_IsString(in) ? ais__pipeline_find_input(p, in->valuestring) : SIZE_MAX;
    if (first == SIZE_MAX || p->inputs[first].kind != AIS_FEATURE_TEXT)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: $.features[0].input: expected the name of a text input");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(blk, "steps");
    if (!cJSON_IsArray(steps) || cJSON_GetArraySize(steps) != 1)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: $.features[0].steps: a text input takes exactly one "
                          "step, \"tokenize\"");
    if (!(p->text = ais__calloc(1, sizeof *p->text)))
        return ais__oom(sizeof *p->text, "text pipeline");
    p->text->first = first;
    return parse_step(p, p->text, steps->child, "$.features[0].steps[0]");
}

/* What a row gives for the text input: NULL with a problem added, or the text. */
static ais_status row_text(const ais__pl_input *in, size_t row, bool present, ais__pl_value v,
                           ais_pipeline_errors *e, bool pair, const char **text) {
    *text = NULL;
    if (!present && v.str)
        return ais__pipeline_add_error(e, row, in->name,
                                       "missing required field (\"%.64s\" was given, which is no "
                                       "input: a misspelling?)",
                                       v.str);
    if (!present || v.kind == AIS_VALUE_MISSING) {
        if (in->allow_missing) {
            /* "missing": "allow": a missing text is the empty text; a missing pair, a row
             * without a second text (text stays NULL) */
            if (!pair) *text = "";
            return AIS_OK;
        }
        return ais__pipeline_add_error(e, row, in->name,
                                       present ? "missing value where the input "
                                                 "allows none"
                                               : "missing required field");
    }
    if (v.kind == AIS_VALUE_STRING && v.str) {
        *text = v.str;
        return AIS_OK;
    }
    return ais__pipeline_add_error(e, row, in->name, "expected a string (text input), got %s",
                                   v.kind == AIS_VALUE_NUMBER   ? "a number"
                                   : v.kind == AIS_VALUE_STRING ? "a NULL string"
                                                                : "another JSON value");
}

/* Copies n bytes of s to the end of *buf (growing it), at *off. */
static ais_status keep_text(char **buf, size_t *used, size_t *cap, const char *s, size_t n,
                            size_t *off) {
    if (!*buf || n > *cap - *used) {
        size_t nc = *cap ? *cap : 256;
        while (nc - *used < n + 1)
            nc *= 2;
        char *nb = ais__realloc(*buf, *cap, nc);
        if (!nb) return ais__oom(nc, "text pipeline texts");
        *buf = nb, *cap = nc;
    }
    memcpy(*buf + *used, s, n);
    *off = *used;
    *used += n;
    return AIS_OK;
}

ais_status ais__pipeline_text_run(const ais_pipeline *p, size_t n_rows, ais__pl_fill_fn fill,
                                  void *ctx, ais_tensor **out, ais_pipeline_errors **errors) {
    for (int k = 0; k < AIS__PL_TEXT_N; k++)
        out[k] = NULL;
    const struct ais__pl_text *t = p->text;
    ais_pipeline_errors *e = ais__pipeline_errors_new();
    /* The texts are copied: a source's values live only until its next row (JSON lines).
     * Row r's text is at buf + off[r] (len[r] bytes), its pair at off[n_rows + r] when has[r]. */
    char *buf = NULL;
    size_t used = 0, cap = 0;
    size_t *off = ais__calloc(2 * n_rows + 1, sizeof *off);
    size_t *len = ais__calloc(2 * n_rows + 1, sizeof *len);
    bool *has = ais__calloc(n_rows + 1, sizeof *has);
    const char **ptrs = ais__calloc(2 * n_rows + 1, sizeof *ptrs);
    ais_status st = AIS_OK;
    if (!e || !off || !len || !has || !ptrs) {
        st = ais__oom(n_rows * 7 * sizeof *off, "text pipeline run");
        goto done;
    }
    for (size_t r = 0; r < n_rows; r++) {
        ais__pl_value v[2] = {{AIS_VALUE_MISSING, 0, NULL}, {AIS_VALUE_MISSING, 0, NULL}};
        bool present[2] = {false, false}, bad = false;
        if ((st = fill(ctx, p, r, v, present, e, &bad)) != AIS_OK) goto done;
        if (bad) continue;
        for (size_t k = 0; k < 2; k++) {
            size_t i = k ? t->second : t->first;
            if (i == SIZE_MAX) break;
            const char *s = NULL;
            if ((st = row_text(&p->inputs[i], r, present[i], v[i], e, k == 1, &s)) != AIS_OK)
                goto done;
            if (!s) continue;
            size_t n = strlen(s);
            if (ais__utf8_check(s, n, "text") != AIS_OK) {
                /* A problem of the row and field, as the other schema problems, not a failed
                 * call; the message without its "text: " */
                const char *msg = ais_last_error();
                if ((st = ais__pipeline_add_error(e, r, p->inputs[i].name, "%s", msg + 6)) !=
                    AIS_OK)
                    goto done;
                continue;
            }
            if ((st = keep_text(&buf, &used, &cap, s, n, &off[k * n_rows + r])) != AIS_OK)
                goto done;
            len[k * n_rows + r] = n;
            if (k) has[r] = true;
        }
    }
    if (ais_pipeline_errors_count(e)) {
        st = ais__pipeline_errors_fail(e, errors);
        e = NULL;
        goto done;
    }
    /* texts are ptrs[0, n_rows), pairs ptrs[n_rows, 2 n_rows) (NULL: that row has none) */
    for (size_t r = 0; r < n_rows; r++) {
        ptrs[r] = buf ? buf + off[r] : "";
        ptrs[n_rows + r] = has[r] ? buf + off[n_rows + r] : NULL;
    }
    st = ais_tokenizer_encode_batch(
        t->tok, ptrs, len, t->second == SIZE_MAX ? NULL : ptrs + n_rows, len + n_rows, n_rows,
        t->max_length, AIS_TEXT_PAD_LONGEST,
        t->truncation ? AIS_TEXT_TRUNCATE_LONGEST_FIRST : AIS_TEXT_TRUNCATE_NONE,
        &out[AIS__PL_TEXT_IDS], &out[AIS__PL_TEXT_MASK], &out[AIS__PL_TEXT_TYPES]);
    if (st != AIS_OK) ais__error_prefix("pipeline: field \"%s\"", p->inputs[t->first].name);
done:
    ais__free(buf);
    ais__free(off);
    ais__free(len);
    ais__free(has);
    ais__free((void *)ptrs);
    ais_pipeline_errors_destroy(e);
    return st;
}
