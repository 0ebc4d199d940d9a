/*
 * tokenizer_load.c - a WordPiece tokenizer from Hugging Face's tokenizer.json or a BERT
 * vocab.txt. Every component we do not implement is refused by name: a tokenizer that loaded
 * but tokenized differently from `tokenizers` would fail silently in production.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "format/format.h"
#include "text/text.h"

static ais_tokenizer *tok_new(void) {
    ais_tokenizer *t = ais__calloc(1, sizeof *t);
    if (!t) return NULL;
    t->unk_id = -1;
    strcpy(t->unk_token, "[UNK]");
    strcpy(t->prefix, "##");
    t->prefix_len = 2;
    t->max_input_chars = 100;
    t->lowercase = t->clean_text = t->chinese_chars = true;
    t->strip_accents = -1;
    t->trunc_strategy = AIS_TEXT_TRUNCATE_LONGEST_FIRST;
    return t;
}

void ais_tokenizer_destroy(ais_tokenizer *t) {
    if (!t) return;
    ais__free(t->strings);
    ais__free(t->entries);
    ais__free(t->slots);
    for (size_t i = 0; i < t->n_added; i++)
        ais__free(t->added[i].content);
    ais__free(t->added);
    ais__free(t);
}

ais_status ais__added_add(ais_tokenizer *t, const char *content, size_t len, int64_t id,
                          const char *where) {
    if (!len) return ais__error(AIS_E_FORMAT, "%s: an added token is empty", where);
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].len == len && memcmp(t->added[i].content, content, len) == 0)
            return AIS_OK; /* listed twice (tokenizers keeps the first) */
    if (t->n_added >= AIS__TOK_MAX_ADDED)
        return ais__error(AIS_E_LIMIT, "%s: more than %d added tokens", where, AIS__TOK_MAX_ADDED);
    ais__added_token *a =
        ais__realloc(t->added, t->n_added * sizeof *a, (t->n_added + 1) * sizeof *a);
    if (!a) return ais__oom((t->n_added + 1) * sizeof *a, "added tokens");
    t->added = a;
    char *c = ais__malloc(len);
    if (!c) return ais__oom(len, "added token");
    memcpy(c, content, len);
    /* Longest first: at a position where several match, the first found is the longest, as
     * the leftmost-longest match of tokenizers' AddedVocabulary. */
    size_t at = t->n_added;
    while (at > 0 && a[at - 1].len < len) {
        a[at] = a[at - 1];
        at--;
    }
    a[at] = (ais__added_token){c, len, id};
    t->n_added++;
    t->added_first[(uint8_t)content[0] >> 3] |= (uint8_t)(1u << ((uint8_t)content[0] & 7));
    return AIS_OK;
}

static ais_status add_special(ais_tokenizer *t, ais__tpl_item *it, const int64_t *ids, size_t n,
                              const char *name) {
    if (t->n_special_ids + n > AIS__TOK_MAX_SPECIAL_IDS)
        return ais__error(AIS_E_LIMIT, "%s: more than %d special-token ids in the template", name,
                          AIS__TOK_MAX_SPECIAL_IDS);
    it->seq = -1;
    it->first_id = t->n_special_ids;
    it->n_ids = n;
    memcpy(t->special_ids + t->n_special_ids, ids, n * sizeof *ids);
    t->n_special_ids += n;
    return AIS_OK;
}

/* BERT's template from the ids of [CLS] and [SEP]. */
static ais_status bert_template(ais_tokenizer *t, int64_t cls, int64_t sep, const char *name) {
    t->n_special_ids = 0;
    ais__tpl_item *s = t->single, *p = t->pair;
    AIS__CHECK(add_special(t, &s[0], &cls, 1, name));
    s[1] = (ais__tpl_item){.seq = 0};
    AIS__CHECK(add_special(t, &s[2], &sep, 1, name));
    t->n_single = 3;
    p[0] = s[0], p[1] = s[1], p[2] = s[2];
    p[3] = (ais__tpl_item){.seq = 1, .type_id = 1};
    AIS__CHECK(add_special(t, &p[4], &sep, 1, name));
    p[4].type_id = 1;
    t->n_pair = 5;
    return AIS_OK;
}

static ais_status need_token(const ais_tokenizer *t, const char *tok, const char *name,
                             int64_t *id) {
    *id = ais__vocab_find(t, "", 0, tok, strlen(tok));
    if (*id < 0)
        return ais__error(AIS_E_FORMAT, "%s: the vocabulary has no \"%s\" token", name, tok);
    return AIS_OK;
}

/* ---- vocab.txt ---- */

static ais_status load_vocab_txt(ais_tokenizer *t, const char *s, size_t n, const char *name) {
    AIS__CHECK(ais__utf8_check(s, n, name));
    size_t line = 0;
    for (size_t i = 0; i < n; line++) {
        size_t e = i;
        while (e < n && s[e] != '\n')
            e++;
        size_t len = e - i;
        /* What `tokenizers` does: trailing whitespace is not part of the token. */
        while (len && (s[i + len - 1] == '\r' || s[i + len - 1] == ' ' || s[i + len - 1] == '\t'))
            len--;
        char where[300];
        snprintf(where, sizeof where, "%s: line %zu", name, line + 1);
        AIS__CHECK(ais__vocab_add(t, s + i, len, (int64_t)line, where));
        i = e + 1;
    }
    if (!line) return ais__error(AIS_E_FORMAT, "%s: empty vocabulary", name);
    int64_t cls, sep;
    AIS__CHECK(need_token(t, "[UNK]", name, &t->unk_id));
    AIS__CHECK(need_token(t, "[CLS]", name, &cls));
    AIS__CHECK(need_token(t, "[SEP]", name, &sep));
    AIS__CHECK(need_token(t, "[PAD]", name, &t->pad_id));
    /* BERT's special tokens are never split, as transformers' BertTokenizer does for a
     * vocab.txt: a literal "[SEP]" in the text is the token. */
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (size_t k = 0; k < sizeof specials / sizeof *specials; k++) {
        int64_t id = ais__vocab_find(t, "", 0, specials[k], strlen(specials[k]));
        if (id >= 0) AIS__CHECK(ais__added_add(t, specials[k], strlen(specials[k]), id, name));
    }
    return bert_template(t, cls, sep, name);
}

/* ---- tokenizer.json ---- */

static ais_status want_type(const cJSON *obj, const char *key, const char *expect,
                            const char *name) {
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!cJSON_IsString(ty))
        return ais__error(AIS_E_FORMAT, "%s: %s.type is missing or not a string", name, key);
    if (strcmp(ty->valuestring, expect) != 0)
        return ais__error(AIS_E_UNSUPPORTED, "%s: %s.type \"%s\" is not supported (only %s)", name,
                          key, ty->valuestring, expect);
    return AIS_OK;
}

/* An optional boolean field; absent or null keeps *v. */
static ais_status get_bool(const cJSON *obj, const char *key, const char *path, const char *name,
                           bool *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!x || cJSON_IsNull(x)) return AIS_OK;
    if (!cJSON_IsBool(x))
        return ais__error(AIS_E_FORMAT, "%s: %s.%s is not a boolean", name, path, key);
    *v = cJSON_IsTrue(x);
    return AIS_OK;
}

static ais_status get_int(const cJSON *obj, const char *key, const char *path, const char *name,
                          int64_t lo, int64_t hi, int64_t *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!x || cJSON_IsNull(x)) return AIS_OK;
    if (!cJSON_IsNumber(x) || x->valuedouble != (double)(int64_t)x->valuedouble ||
        x->valuedouble < (double)lo || x->valuedouble > (double)hi)
        return ais__error(AIS_E_FORMAT, "%s: %s.%s is not an integer in [%lld, %lld]", name, path,
                          key, (long long)lo, (long long)hi);
    *v = (int64_t)x->valuedouble;
    return AIS_OK;
}

static ais_status get_str(const cJSON *obj, const char *key, const char *path, const char *name,
                          char *buf, size_t cap) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!x || cJSON_IsNull(x)) return AIS_OK;
    if (!cJSON_IsString(x) || strlen(x->valuestring) >= cap)
        return ais__error(AIS_E_FORMAT, "%s: %s.%s is not a string of under %zu bytes", name, path,
                          key, cap);
    strcpy(buf, x->valuestring);
    return AIS_OK;
}

static ais_status json_model(ais_tokenizer *t, const cJSON *m, const char *name) {
    if (!cJSON_IsObject(m)) return ais__error(AIS_E_FORMAT, "%s: no \"model\" object", name);
    AIS__CHECK(want_type(m, "model", "WordPiece", name));
    AIS__CHECK(get_str(m, "unk_token", "model", name, t->unk_token, sizeof t->unk_token));
    AIS__CHECK(get_str(m, "continuing_subword_prefix", "model", name, t->prefix, sizeof t->prefix));
    t->prefix_len = strlen(t->prefix);
    AIS__CHECK(get_int(m, "max_input_chars_per_word", "model", name, 1, (int64_t)1 << 20,
                       &t->max_input_chars));
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    if (!cJSON_IsObject(vocab))
        return ais__error(AIS_E_FORMAT, "%s: model.vocab is missing or not an object", name);
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 2147483647.0 ||
            e->valuedouble != (double)(int64_t)e->valuedouble)
            return ais__error(AIS_E_FORMAT,
                              "%s: model.vocab[\"%.64s\"] is not a non-negative integer id", name,
                              e->string);
        size_t len = strlen(e->string);
        AIS__CHECK(ais__utf8_check(e->string, len, "model.vocab key"));
        AIS__CHECK(ais__vocab_add(t, e->string, len, (int64_t)e->valuedouble, name));
    }
    t->unk_id = ais__vocab_find(t, "", 0, t->unk_token, strlen(t->unk_token));
    if (t->unk_id < 0)
        return ais__error(AIS_E_FORMAT, "%s: model.unk_token \"%s\" is not in model.vocab", name,
                          t->unk_token);
    return AIS_OK;
}

static ais_status json_normalizer(ais_tokenizer *t, const cJSON *nm, const char *name) {
    if (!nm || cJSON_IsNull(nm)) {
        t->lowercase = t->clean_text = t->chinese_chars = false;
        t->strip_accents = 0;
        return AIS_OK;
    }
    AIS__CHECK(want_type(nm, "normalizer", "BertNormalizer", name));
    AIS__CHECK(get_bool(nm, "clean_text", "normalizer", name, &t->clean_text));
    AIS__CHECK(get_bool(nm, "handle_chinese_chars", "normalizer", name, &t->chinese_chars));
    AIS__CHECK(get_bool(nm, "lowercase", "normalizer", name, &t->lowercase));
    bool strip = false;
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(nm, "strip_accents");
    if (sa && !cJSON_IsNull(sa)) {
        AIS__CHECK(get_bool(nm, "strip_accents", "normalizer", name, &strip));
        t->strip_accents = strip;
    }
    return AIS_OK;
}

static ais_status json_template_list(ais_tokenizer *t, const cJSON *list, const cJSON *specials,
                                     const char *key, ais__tpl_item *items, size_t *n_items,
                                     const char *name) {
    if (!cJSON_IsArray(list))
        return ais__error(AIS_E_FORMAT, "%s: post_processor.%s is not an array", name, key);
    size_t n = 0;
    for (const cJSON *e = list->child; e; e = e->next, n++) {
        if (n >= AIS__TOK_MAX_TEMPLATE)
            return ais__error(AIS_E_LIMIT, "%s: post_processor.%s has more than %d pieces", name,
                              key, AIS__TOK_MAX_TEMPLATE);
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(e, "Sequence");
        const cJSON *body = sp ? sp : sq;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "id");
        int64_t type_id = 0;
        char path[64];
        snprintf(path, sizeof path, "post_processor.%s[%zu]", key, n);
        if (!cJSON_IsObject(body) || !cJSON_IsString(id))
            return ais__error(AIS_E_FORMAT, "%s: %s is neither a SpecialToken nor a Sequence", name,
                              path);
        AIS__CHECK(get_int(body, "type_id", path, name, 0, 1 << 20, &type_id));
        ais__tpl_item *it = &items[n];
        if (sq) {
            if (strcmp(id->valuestring, "A") && strcmp(id->valuestring, "B"))
                return ais__error(AIS_E_FORMAT, "%s: %s.Sequence.id \"%s\" is neither A nor B",
                                  name, path, id->valuestring);
            *it = (ais__tpl_item){.seq = id->valuestring[0] == 'B'};
        } else {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(specials, id->valuestring);
            const cJSON *ids = cJSON_GetObjectItemCaseSensitive(st, "ids");
            if (!cJSON_IsArray(ids))
                return ais__error(AIS_E_FORMAT,
                                  "%s: post_processor.special_tokens has no \"%s\" with ids", name,
                                  id->valuestring);
            int64_t v[AIS__TOK_MAX_SPECIAL_IDS];
            size_t k = 0;
            for (const cJSON *x = ids->child; x; x = x->next, k++) {
                if (k >= AIS__TOK_MAX_SPECIAL_IDS || !cJSON_IsNumber(x) || x->valuedouble < 0 ||
                    x->valuedouble > 2147483647.0)
                    return ais__error(
                        AIS_E_FORMAT,
                        "%s: post_processor.special_tokens[\"%s\"].ids[%zu] is not a valid id",
                        name, id->valuestring, k);
                v[k] = (int64_t)x->valuedouble;
            }
            AIS__CHECK(add_special(t, it, v, k, name));
        }
        it->type_id = type_id;
    }
    *n_items = n;
    return AIS_OK;
}

static ais_status json_post(ais_tokenizer *t, const cJSON *pp, const char *name) {
    if (!pp || cJSON_IsNull(pp)) {
        /* No post-processor: the encoding is the sequence(s) alone. */
        t->single[0] = (ais__tpl_item){.seq = 0};
        t->pair[0] = (ais__tpl_item){.seq = 0};
        t->pair[1] = (ais__tpl_item){.seq = 1, .type_id = 1};
        t->n_single = 1, t->n_pair = 2;
        return AIS_OK;
    }
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(pp, "type");
    if (cJSON_IsString(ty) && strcmp(ty->valuestring, "BertProcessing") == 0) {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(pp, "cls");
        const cJSON *sep = cJSON_GetObjectItemCaseSensitive(pp, "sep");
        if (cJSON_GetArraySize(cls) != 2 || cJSON_GetArraySize(sep) != 2 ||
            !cJSON_IsNumber(cJSON_GetArrayItem(cls, 1)) ||
            !cJSON_IsNumber(cJSON_GetArrayItem(sep, 1)))
            return ais__error(AIS_E_FORMAT, "%s: post_processor.cls and .sep must be [token, id]",
                              name);
        return bert_template(t, (int64_t)cJSON_GetArrayItem(cls, 1)->valuedouble,
                             (int64_t)cJSON_GetArrayItem(sep, 1)->valuedouble, name);
    }
    AIS__CHECK(want_type(pp, "post_processor", "TemplateProcessing", name));
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(pp, "special_tokens");
    t->n_special_ids = 0;
    AIS__CHECK(json_template_list(t, cJSON_GetObjectItemCaseSensitive(pp, "single"), specials,
                                  "single", t->single, &t->n_single, name));
    AIS__CHECK(json_template_list(t, cJSON_GetObjectItemCaseSensitive(pp, "pair"), specials, "pair",
                                  t->pair, &t->n_pair, name));
    return AIS_OK;
}

static ais_status json_direction(const cJSON *obj, const char *path, const char *name, bool *left) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(obj, "direction");
    if (!d || cJSON_IsNull(d)) return AIS_OK;
    if (cJSON_IsString(d) && strcmp(d->valuestring, "Right") == 0)
        *left = false;
    else if (cJSON_IsString(d) && strcmp(d->valuestring, "Left") == 0)
        *left = true;
    else
        return ais__error(AIS_E_FORMAT, "%s: %s.direction is neither \"Left\" nor \"Right\"", name,
                          path);
    return AIS_OK;
}

static ais_status json_trunc_pad(ais_tokenizer *t, const cJSON *tr, const cJSON *pd,
                                 const char *name) {
    if (tr && !cJSON_IsNull(tr)) {
        AIS__CHECK(
            get_int(tr, "max_length", "truncation", name, 0, (int64_t)1 << 30, &t->trunc_max));
        AIS__CHECK(json_direction(tr, "truncation", name, &t->trunc_left));
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(tr, "strategy");
        if (cJSON_IsString(s) && strcmp(s->valuestring, "LongestFirst") == 0)
            t->trunc_strategy = AIS_TEXT_TRUNCATE_LONGEST_FIRST;
        else if (cJSON_IsString(s) && strcmp(s->valuestring, "OnlyFirst") == 0)
            t->trunc_strategy = AIS_TEXT_TRUNCATE_ONLY_FIRST;
        else if (cJSON_IsString(s) && strcmp(s->valuestring, "OnlySecond") == 0)
            t->trunc_strategy = AIS_TEXT_TRUNCATE_ONLY_SECOND;
        else if (s && !cJSON_IsNull(s))
            return ais__error(AIS_E_UNSUPPORTED, "%s: truncation.strategy is not supported", name);
    }
    t->pad_id = ais__vocab_find(t, "", 0, "[PAD]", 5);
    if (t->pad_id < 0) t->pad_id = 0; /* tokenizers' PaddingParams default */
    if (pd && !cJSON_IsNull(pd)) {
        AIS__CHECK(get_int(pd, "pad_id", "padding", name, 0, 2147483647, &t->pad_id));
        AIS__CHECK(get_int(pd, "pad_type_id", "padding", name, 0, 2147483647, &t->pad_type_id));
        AIS__CHECK(
            get_int(pd, "pad_to_multiple_of", "padding", name, 0, 1 << 20, &t->pad_multiple));
        AIS__CHECK(json_direction(pd, "padding", name, &t->pad_left));
    }
    return AIS_OK;
}

/* added_tokens: matched in the raw text. Those with "normalized": true would be matched in the
 * normalized text, and "single_word" only between word boundaries; neither is implemented, so
 * they are refused rather than tokenized differently from tokenizers. lstrip and rstrip change
 * nothing here: BertPreTokenizer drops the whitespace they would take. */
static ais_status json_added(ais_tokenizer *t, const cJSON *list, const char *name) {
    if (!list || cJSON_IsNull(list)) return AIS_OK;
    if (!cJSON_IsArray(list))
        return ais__error(AIS_E_FORMAT, "%s: added_tokens is not an array", name);
    size_t i = 0;
    for (const cJSON *e = list->child; e; e = e->next, i++) {
        char path[64];
        snprintf(path, sizeof path, "added_tokens[%zu]", i);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!cJSON_IsObject(e) || !cJSON_IsString(c) || !c->valuestring[0])
            return ais__error(AIS_E_FORMAT, "%s: %s.content is missing or empty", name, path);
        int64_t id = -1;
        AIS__CHECK(get_int(e, "id", path, name, 0, 2147483647, &id));
        if (id < 0) return ais__error(AIS_E_FORMAT, "%s: %s.id is missing", name, path);
        bool normalized = false, single_word = false;
        AIS__CHECK(get_bool(e, "normalized", path, name, &normalized));
        AIS__CHECK(get_bool(e, "single_word", path, name, &single_word));
        if (normalized || single_word)
            return ais__error(AIS_E_UNSUPPORTED,
                              "%s: %s (\"%.64s\"): %s added tokens are not supported", name, path,
                              c->valuestring, normalized ? "\"normalized\": true" : "single_word");
        AIS__CHECK(ais__utf8_check(c->valuestring, strlen(c->valuestring), path));
        AIS__CHECK(ais__added_add(t, c->valuestring, strlen(c->valuestring), id, name));
    }
    return AIS_OK;
}

static ais_status load_json(ais_tokenizer *t, const char *s, size_t n, const char *name) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(s, n, &end, false);
    if (!root) return ais__error(AIS_E_FORMAT, "%s: not valid JSON (%zu bytes)", name, n);
    ais_status st = AIS_OK;
    if (!cJSON_IsObject(root))
        st = ais__error(AIS_E_FORMAT, "%s: the top level is not a JSON object", name);
    if (st == AIS_OK) st = json_model(t, cJSON_GetObjectItemCaseSensitive(root, "model"), name);
    if (st == AIS_OK)
        st = json_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), name);
    if (st == AIS_OK) {
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
        if (!pt || cJSON_IsNull(pt))
            st =
                ais__error(AIS_E_UNSUPPORTED,
                           "%s: pre_tokenizer null is not supported (only BertPreTokenizer)", name);
        else
            st = want_type(pt, "pre_tokenizer", "BertPreTokenizer", name);
    }
    if (st == AIS_OK)
        st = json_post(t, cJSON_GetObjectItemCaseSensitive(root, "post_processor"), name);
    if (st == AIS_OK)
        st = json_added(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), name);
    if (st == AIS_OK)
        st = json_trunc_pad(t, cJSON_GetObjectItemCaseSensitive(root, "truncation"),
                            cJSON_GetObjectItemCaseSensitive(root, "padding"), name);
    cJSON_Delete(root);
    return st;
}

ais_status ais_tokenizer_load_memory(const void *data, size_t size, const char *name,
                                     ais_tokenizer **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tokenizer_load_memory: out is NULL");
    *out = NULL;
    if (!name) name = "tokenizer";
    if (!data && size)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tokenizer_load_memory: data is NULL");
    if (size > AIS__TOK_MAX_FILE_BYTES)
        return ais__error(AIS_E_LIMIT, "%s: %zu bytes, more than the limit %zu", name, size,
                          AIS__TOK_MAX_FILE_BYTES);
    const char *s = data;
    size_t i = 0;
    while (i < size && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    ais_tokenizer *t = tok_new();
    if (!t) return ais__oom(sizeof *t, "tokenizer");
    ais_status st =
        (i < size && s[i] == '{') ? load_json(t, s, size, name) : load_vocab_txt(t, s, size, name);
    if (st != AIS_OK) {
        ais_tokenizer_destroy(t);
        return st;
    }
    *out = t;
    return AIS_OK;
}

ais_status ais_tokenizer_load(const char *path, ais_tokenizer **out) {
    if (!out) return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tokenizer_load: out is NULL");
    *out = NULL;
    ais__file *f = NULL;
    AIS__CHECK(ais__file_open(path, AIS__TOK_MAX_FILE_BYTES, false, &f));
    ais_status st = ais_tokenizer_load_memory(f->data, f->size, path, out);
    ais__file_close(f);
    return st;
}

ais_status ais_tokenizer_set_option(ais_tokenizer *t, ais_tokenizer_option key, int64_t v) {
    if (!t)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tokenizer_set_option: tokenizer is NULL");
    bool is01 = v == 0 || v == 1;
    switch (key) {
    case AIS_TOKENIZER_LOWERCASE:
        if (!is01) break;
        t->lowercase = v;
        return AIS_OK;
    case AIS_TOKENIZER_STRIP_ACCENTS:
        if (!is01 && v != -1) break;
        t->strip_accents = (int)v;
        return AIS_OK;
    case AIS_TOKENIZER_CLEAN_TEXT:
        if (!is01) break;
        t->clean_text = v;
        return AIS_OK;
    case AIS_TOKENIZER_CHINESE_CHARS:
        if (!is01) break;
        t->chinese_chars = v;
        return AIS_OK;
    case AIS_TOKENIZER_MAX_INPUT_CHARS:
        if (v < 1 || v > ((int64_t)1 << 20)) break;
        t->max_input_chars = v;
        return AIS_OK;
    default:
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tokenizer_set_option: unknown option %d",
                          (int)key);
    }
    return ais__error(AIS_E_INVALID_ARGUMENT,
                      "ais_tokenizer_set_option: option %d: value %lld out of range", (int)key,
                      (long long)v);
}

ais_status ais_tokenizer_get_option(const ais_tokenizer *t, ais_tokenizer_option key, int64_t *v) {
    if (!t || !v)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tokenizer_get_option: a NULL argument");
    switch (key) {
    case AIS_TOKENIZER_LOWERCASE: *v = t->lowercase; return AIS_OK;
    case AIS_TOKENIZER_STRIP_ACCENTS: *v = t->strip_accents; return AIS_OK;
    case AIS_TOKENIZER_CLEAN_TEXT: *v = t->clean_text; return AIS_OK;
    case AIS_TOKENIZER_CHINESE_CHARS: *v = t->chinese_chars; return AIS_OK;
    case AIS_TOKENIZER_MAX_INPUT_CHARS: *v = t->max_input_chars; return AIS_OK;
    }
    return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tokenizer_get_option: unknown option %d",
                      (int)key);
}

size_t ais_tokenizer_vocab_size(const ais_tokenizer *t) { return t ? t->n_entries : 0; }

ais_status ais_tokenizer_token_id(const ais_tokenizer *t, const char *token, int64_t *id) {
    if (!t || !token || !id)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_tokenizer_token_id: a NULL argument");
    *id = ais__vocab_find(t, "", 0, token, strlen(token));
    if (*id < 0)
        return ais__error(AIS_E_NOT_FOUND, "token \"%.64s\" is not in the vocabulary", token);
    return AIS_OK;
}
