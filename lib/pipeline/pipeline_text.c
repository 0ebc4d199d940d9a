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

static ais_status parse_step(struct ais__pl_text *t, const cJSON *step, const char *path) {
    static const char *const keys[] = {"op",         "tokenizer", "max_length",
                                       "truncation", "outputs",   NULL};
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
    return parse_outputs(t, cJSON_GetObjectItemCaseSensitive(step, "outputs"), path);
}

ais_status ais__pipeline_text_compile(ais_pipeline *p, const cJSON *features) {
    if (p->n_inputs != 1)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: $.inputs: a text pipeline has one input, the text (%zu "
                          "given)",
                          p->n_inputs);
    if (!cJSON_IsArray(features) || cJSON_GetArraySize(features) != 1)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: $.features: a text pipeline has exactly one feature "
                          "block, its tokenize step");
    const cJSON *blk = features->child;
    static const char *const keys[] = {"input", "steps", NULL};
    AIS__CHECK(ais__pipeline_check_keys(blk, "$.features[0]", keys, keys));
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(blk, "input");
    if (!cJSON_IsString(in) || strcmp(in->valuestring, p->inputs[0].name) != 0)
        return ais__error(AIS_E_FORMAT, "pipeline spec: $.features[0].input: expected \"%s\"",
                          p->inputs[0].name);
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(blk, "steps");
    if (!cJSON_IsArray(steps) || cJSON_GetArraySize(steps) != 1)
        return ais__error(AIS_E_FORMAT,
                          "pipeline spec: $.features[0].steps: a text input takes exactly one "
                          "step, \"tokenize\"");
    if (!(p->text = ais__calloc(1, sizeof *p->text)))
        return ais__oom(sizeof *p->text, "text pipeline");
    return parse_step(p->text, steps->child, "$.features[0].steps[0]");
}

/* What a row gives for the text input: NULL with a problem added, or the text. */
static ais_status row_text(const ais__pl_input *in, size_t row, bool present, ais__pl_value v,
                           ais_pipeline_errors *e, const char **text) {
    *text = NULL;
    if (!present && v.str)
        return ais__pipeline_add_error(e, row, in->name,
                                       "missing required field (\"%.64s\" was given, which is no "
                                       "input: a misspelling?)",
                                       v.str);
    if (!present || v.kind == AIS_VALUE_MISSING) {
        if (in->allow_missing) {
            *text = ""; /* "missing": "allow": a missing text is the empty text */
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

ais_status ais__pipeline_text_run(const ais_pipeline *p, size_t n_rows, ais__pl_fill_fn fill,
                                  void *ctx, ais_tensor **out, ais_pipeline_errors **errors) {
    for (int k = 0; k < AIS__PL_TEXT_N; k++)
        out[k] = NULL;
    const struct ais__pl_text *t = p->text;
    const ais__pl_input *in = &p->inputs[0];
    ais_pipeline_errors *e = ais__pipeline_errors_new();
    /* The texts are copied: a source's values live only until its next row (JSON lines). */
    char *buf = NULL;
    size_t used = 0, cap = 0;
    size_t *ends = ais__calloc(n_rows + 1, sizeof *ends);
    const char **ptrs = ais__calloc(n_rows + 1, sizeof *ptrs);
    size_t *lens = ais__calloc(n_rows + 1, sizeof *lens);
    ais_status st = AIS_OK;
    if (!e || !ends || !ptrs || !lens) {
        st = ais__oom(n_rows * 3 * sizeof *ends, "text pipeline run");
        goto done;
    }
    for (size_t r = 0; r < n_rows; r++) {
        ais__pl_value v = {AIS_VALUE_MISSING, 0, NULL};
        bool present = false, bad = false;
        ends[r + 1] = used;
        if ((st = fill(ctx, p, r, &v, &present, e, &bad)) != AIS_OK) goto done;
        if (bad) continue;
        const char *s = NULL;
        if ((st = row_text(in, r, present, v, e, &s)) != AIS_OK) goto done;
        if (!s) continue;
        size_t n = strlen(s);
        if (ais__utf8_check(s, n, "text") != AIS_OK) {
            /* Reported per row and field, as the other schema problems, not as a failed call */
            const char *msg = ais_last_error();
            if ((st = ais__pipeline_add_error(e, r, in->name, "%s", msg + 6)) != AIS_OK) goto done;
            continue;
        }
        if (n > cap - used || !buf) {
            size_t nc = cap ? cap : 256;
            while (nc - used < n + 1)
                nc *= 2;
            char *nb = ais__realloc(buf, cap, nc);
            if (!nb) {
                st = ais__oom(nc, "text pipeline texts");
                goto done;
            }
            buf = nb, cap = nc;
        }
        memcpy(buf + used, s, n);
        used += n;
        ends[r + 1] = used;
    }
    if (ais_pipeline_errors_count(e)) {
        st = ais__pipeline_errors_fail(e, errors);
        e = NULL;
        goto done;
    }
    for (size_t r = 0; r < n_rows; r++) {
        ptrs[r] = buf ? buf + ends[r] : "";
        lens[r] = ends[r + 1] - ends[r];
    }
    st = ais_tokenizer_encode_batch(
        t->tok, ptrs, lens, NULL, NULL, n_rows, t->max_length, AIS_TEXT_PAD_LONGEST,
        t->truncation ? AIS_TEXT_TRUNCATE_LONGEST_FIRST : AIS_TEXT_TRUNCATE_NONE,
        &out[AIS__PL_TEXT_IDS], &out[AIS__PL_TEXT_MASK], &out[AIS__PL_TEXT_TYPES]);
    if (st != AIS_OK) ais__error_prefix("pipeline: field \"%s\"", in->name);
done:
    ais__free(buf);
    ais__free(ends);
    ais__free((void *)ptrs);
    ais__free(lens);
    ais_pipeline_errors_destroy(e);
    return st;
}
