/*
 * tokenizer_encode.c - a batch of texts (and pairs) to padded id, mask and type tensors, with
 * the truncation rules of Hugging Face's `tokenizers` (truncate_encodings) so ids match.
 */
#include <stdio.h>
#include <string.h>

#include "tensor/tensor.h"
#include "text/text.h"

static size_t tpl_added(const ais__tpl_item *it, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (it[i].seq < 0) k += it[i].n_ids;
    return k;
}

/* Keeps `keep` ids of `x`: the first ones, or the last ones when cutting on the left. */
static void cut(ais__ids *x, size_t keep, bool left) {
    if (x->n <= keep) return;
    if (left) memmove(x->v, x->v + (x->n - keep), keep * sizeof *x->v);
    x->n = keep;
}

/* truncate_encodings of tokenizers/src/utils/truncation.rs, for the main encoding. la and lb are
 * the full lengths of the texts; a and b may hold fewer ids (the first ones) when cutting on
 * the right, but never fewer than are kept. */
static ais_status truncate(ais__ids *a, ais__ids *b, size_t la, size_t lb, bool has_b, size_t max,
                           bool left, ais_text_truncation strategy, size_t row) {
    size_t total = la + (has_b ? lb : 0);
    if (total <= max) return AIS_OK;
    size_t to_remove = total - max;
    if (strategy == AIS_TEXT_TRUNCATE_LONGEST_FIRST) {
        if (!has_b) {
            cut(a, max, left);
            return AIS_OK;
        }
        size_t n1 = la, n2 = lb;
        bool swap = n1 > n2;
        if (swap) n1 = lb, n2 = la;
        n2 = n1 > max ? n1 : AIS__MAX(n1, max - n1);
        if (n1 + n2 > max) {
            n1 = max / 2;
            n2 = n1 + max % 2;
        }
        if (swap) {
            size_t tmp = n1;
            n1 = n2, n2 = tmp;
        }
        cut(a, n1, left);
        cut(b, n2, left);
        return AIS_OK;
    }
    ais__ids *target = a;
    size_t target_len = la;
    if (strategy == AIS_TEXT_TRUNCATE_ONLY_SECOND) {
        if (!has_b)
            return ais__error(AIS_E_LIMIT,
                              "row %zu: truncation only_second, but the row has no second text",
                              row);
        target = b;
        target_len = lb;
    }
    if (target_len <= to_remove)
        return ais__error(AIS_E_LIMIT,
                          "row %zu: the %s text is too short to cut %zu tokens from it", row,
                          target == a ? "first" : "second", to_remove);
    cut(target, target_len - to_remove, left);
    return AIS_OK;
}

typedef struct enc_rows {
    ais__ids ids, types;
    size_t *ends; /* row r is [ends[r-1], ends[r]) */
} enc_rows;

static ais_status encode_row(const ais_tokenizer *t, const char *a, size_t na, const char *b,
                             size_t nb, size_t row, int64_t max_length,
                             ais_text_truncation truncation, ais__ids *ta, ais__ids *tb,
                             enc_rows *out) {
    char what_a[64], what_b[64];
    snprintf(what_a, sizeof what_a, "texts[%zu]", row);
    snprintf(what_b, sizeof what_b, "pairs[%zu]", row);
    AIS__CHECK(ais__utf8_check(a, na, what_a));
    if (b) AIS__CHECK(ais__utf8_check(b, nb, what_b));
    const ais__tpl_item *tpl = b ? t->pair : t->single;
    size_t n_tpl = b ? t->n_pair : t->n_single;
    size_t added = tpl_added(tpl, n_tpl);
    size_t cap = SIZE_MAX, max_eff = SIZE_MAX;
    if (max_length > 0 && truncation != AIS_TEXT_TRUNCATE_NONE) {
        if ((size_t)max_length < added)
            return ais__error(AIS_E_LIMIT,
                              "row %zu: max_length %lld is less than the %zu special tokens", row,
                              (long long)max_length, added);
        max_eff = (size_t)max_length - added;
        /* Cutting on the right never keeps more than max_eff ids of either text. A single text
         * can stop there; a pair must count on, since which text loses more depends on the
         * full lengths. only_second on a single text must see the whole length to fail as
         * tokenizers does. */
        if (!t->trunc_left && (b || truncation != AIS_TEXT_TRUNCATE_ONLY_SECOND)) cap = max_eff;
    }
    ta->n = tb->n = 0;
    size_t la = 0, lb = 0;
    AIS__CHECK(ais__wordpiece_encode(t, a, na, cap, !b, ta, &la, what_a));
    if (b) AIS__CHECK(ais__wordpiece_encode(t, b, nb, cap, false, tb, &lb, what_b));
    if (max_eff != SIZE_MAX)
        AIS__CHECK(truncate(ta, tb, la, lb, b != NULL, max_eff, t->trunc_left, truncation, row));
    size_t len = ta->n + (b ? tb->n : 0) + added;
    if (max_length > 0 && truncation == AIS_TEXT_TRUNCATE_NONE && len > (size_t)max_length)
        return ais__error(AIS_E_LIMIT,
                          "row %zu: %zu tokens, more than max_length %lld, and truncation is off",
                          row, len, (long long)max_length);
    for (size_t i = 0; i < n_tpl; i++) {
        const ais__tpl_item *it = &tpl[i];
        const int64_t *v = it->seq < 0 ? t->special_ids + it->first_id : it->seq ? tb->v : ta->v;
        size_t n = it->seq < 0 ? it->n_ids : it->seq ? tb->n : ta->n;
        for (size_t k = 0; k < n; k++) {
            AIS__CHECK(ais__ids_push(&out->ids, v[k]));
            AIS__CHECK(ais__ids_push(&out->types, it->type_id));
        }
    }
    out->ends[row] = out->ids.n;
    return AIS_OK;
}

static ais_status fill(const ais_tokenizer *t, const enc_rows *r, size_t n, size_t L,
                       ais_tensor **ids, ais_tensor **mask, ais_tensor **types) {
    int64_t dims[2] = {(int64_t)n, (int64_t)L};
    AIS__CHECK(ais__tensor_new(AIS_DTYPE_I64, dims, 2, ids));
    if (mask) AIS__CHECK(ais__tensor_new(AIS_DTYPE_I64, dims, 2, mask));
    if (types) AIS__CHECK(ais__tensor_new(AIS_DTYPE_I64, dims, 2, types));
    int64_t *pi = ais_tensor_data(*ids);
    int64_t *pm = mask ? ais_tensor_data(*mask) : NULL;
    int64_t *pt = types ? ais_tensor_data(*types) : NULL;
    for (size_t row = 0; row < n; row++) {
        size_t b = row ? r->ends[row - 1] : 0, len = r->ends[row] - b;
        size_t pad = L - len, at = row * L, first = t->pad_left ? pad : 0;
        for (size_t k = 0; k < L; k++) {
            bool real = k >= first && k < first + len;
            pi[at + k] = real ? r->ids.v[b + k - first] : t->pad_id;
            if (pm) pm[at + k] = real;
            if (pt) pt[at + k] = real ? r->types.v[b + k - first] : t->pad_type_id;
        }
    }
    return AIS_OK;
}

ais_status ais_tokenizer_encode_batch(const ais_tokenizer *t, const char *const *texts,
                                      const size_t *lengths, const char *const *pairs,
                                      const size_t *pair_lengths, size_t n, int64_t max_length,
                                      ais_text_padding padding, ais_text_truncation truncation,
                                      ais_tensor **input_ids, ais_tensor **attention_mask,
                                      ais_tensor **token_type_ids) {
    if (input_ids) *input_ids = NULL;
    if (attention_mask) *attention_mask = NULL;
    if (token_type_ids) *token_type_ids = NULL;
    if (!t || !input_ids || (n && !texts))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_tokenizer_encode_batch: tokenizer, texts or input_ids is NULL");
    if (padding != AIS_TEXT_PAD_LONGEST && padding != AIS_TEXT_PAD_MAX_LENGTH)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_tokenizer_encode_batch: padding %d is unknown", (int)padding);
    if (truncation < AIS_TEXT_TRUNCATE_NONE || truncation > AIS_TEXT_TRUNCATE_ONLY_SECOND)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_tokenizer_encode_batch: truncation %d is unknown", (int)truncation);
    if (max_length < 0 || max_length > ((int64_t)1 << 30))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_tokenizer_encode_batch: max_length %lld is out of [0, 2^30]",
                          (long long)max_length);
    if (max_length == 0) max_length = t->trunc_max;
    if (padding == AIS_TEXT_PAD_MAX_LENGTH && max_length == 0)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_tokenizer_encode_batch: padding to max_length needs a max_length "
                          "(the tokenizer declares none)");
    for (size_t i = 0; i < n; i++)
        if (!texts[i])
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "ais_tokenizer_encode_batch: texts[%zu] is NULL", i);

    enc_rows r = {0};
    ais__ids ta = {0}, tb = {0};
    ais_status st = AIS_OK;
    r.ends = ais__calloc(n ? n : 1, sizeof *r.ends);
    if (!r.ends) st = ais__oom(n * sizeof *r.ends, "row offsets");
    for (size_t i = 0; i < n && st == AIS_OK; i++) {
        const char *b = pairs ? pairs[i] : NULL;
        size_t na = lengths ? lengths[i] : strlen(texts[i]);
        size_t nb = b ? (pair_lengths ? pair_lengths[i] : strlen(b)) : 0;
        st = encode_row(t, texts[i], na, b, nb, i, max_length, truncation, &ta, &tb, &r);
    }
    size_t L = 0;
    for (size_t i = 0; i < n && st == AIS_OK; i++) {
        size_t len = r.ends[i] - (i ? r.ends[i - 1] : 0);
        if (len > L) L = len;
    }
    if (padding == AIS_TEXT_PAD_MAX_LENGTH && (size_t)max_length > L) L = (size_t)max_length;
    if (n && t->pad_multiple > 0 && L % (size_t)t->pad_multiple)
        L += (size_t)t->pad_multiple - L % (size_t)t->pad_multiple;
    if (n == 0) L = 0;
    if (st == AIS_OK) st = fill(t, &r, n, L, input_ids, attention_mask, token_type_ids);
    if (st != AIS_OK) {
        ais_tensor_destroy(*input_ids);
        *input_ids = NULL;
        if (attention_mask) {
            ais_tensor_destroy(*attention_mask);
            *attention_mask = NULL;
        }
        if (token_type_ids) {
            ais_tensor_destroy(*token_type_ids);
            *token_type_ids = NULL;
        }
    }
    ais__free(ta.v);
    ais__free(tb.v);
    ais__free(r.ids.v);
    ais__free(r.types.v);
    ais__free(r.ends);
    return st;
}
