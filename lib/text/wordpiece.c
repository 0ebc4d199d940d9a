/*
 * wordpiece.c - one text to WordPiece ids: BertNormalizer, BertPreTokenizer and the WordPiece
 * model of Hugging Face's `tokenizers`, in one streaming pass, so that memory stays at one word.
 */
#include <string.h>
#include <utf8proc.h>

#include "text/text.h"
#include "text/unicode8_new.h"

/* ---- UTF-8 ---- */

/* Decodes one code point at s[i] (i < n, the text already checked); returns its byte length. */
static size_t utf8_next(const unsigned char *s, size_t i, size_t n, int32_t *cp) {
    unsigned c = s[i];
    if (c < 0x80) {
        *cp = (int32_t)c;
        return 1;
    }
    if (c < 0xE0) {
        *cp = (int32_t)(((c & 0x1F) << 6) | (s[i + 1] & 0x3F));
        return 2;
    }
    if (c < 0xF0) {
        *cp = (int32_t)(((c & 0x0F) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3F));
        return 3;
    }
    (void)n;
    *cp = (int32_t)(((c & 0x07) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
                    (s[i + 3] & 0x3F));
    return 4;
}

ais_status ais__utf8_check(const char *str, size_t n, const char *what) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t min, cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2, min = 0x80, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, min = 0x800, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, min = 0x10000, cp = c & 0x07;
        } else {
            return ais__error(AIS_E_FORMAT,
                              "%s: invalid UTF-8 at byte %zu: 0x%02X cannot start a character",
                              what, i, c);
        }
        if (n - i < len)
            return ais__error(
                AIS_E_FORMAT,
                "%s: invalid UTF-8 at byte %zu: the text ends inside a %zu-byte character", what, i,
                len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return ais__error(
                    AIS_E_FORMAT,
                    "%s: invalid UTF-8 at byte %zu: 0x%02X is not a continuation byte", what, i + k,
                    s[i + k]);
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min)
            return ais__error(AIS_E_FORMAT, "%s: invalid UTF-8 at byte %zu: overlong encoding",
                              what, i);
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return ais__error(AIS_E_FORMAT,
                              "%s: invalid UTF-8 at byte %zu: U+%04X is not a Unicode scalar value",
                              what, i, (unsigned)cp);
        i += len;
    }
    return AIS_OK;
}

static size_t utf8_put(int32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- the vocabulary: FNV-1a over prefix + bytes, open addressing ---- */

static uint64_t vocab_hash(const char *p, size_t pn, const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < pn; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

int64_t ais__vocab_find(const ais_tokenizer *t, const char *prefix, size_t pn, const char *s,
                        size_t n) {
    if (!t->slots_cap || pn + n > t->max_token_bytes) return -1;
    size_t mask = t->slots_cap - 1;
    for (size_t i = vocab_hash(prefix, pn, s, n) & mask;; i = (i + 1) & mask) {
        uint32_t e = t->slots[i];
        if (!e) return -1;
        const ais__vocab_entry *en = &t->entries[e - 1];
        const char *k = t->strings + en->off;
        if (en->len == pn + n && memcmp(k, prefix, pn) == 0 && memcmp(k + pn, s, n) == 0)
            return en->id;
    }
}

static ais_status vocab_rehash(ais_tokenizer *t, size_t cap) {
    uint32_t *slots = ais__calloc(cap, sizeof *slots);
    if (!slots) return ais__oom(cap * sizeof *slots, "tokenizer vocabulary table");
    for (size_t e = 0; e < t->n_entries; e++) {
        const ais__vocab_entry *en = &t->entries[e];
        size_t i = vocab_hash("", 0, t->strings + en->off, en->len) & (cap - 1);
        while (slots[i])
            i = (i + 1) & (cap - 1);
        slots[i] = (uint32_t)(e + 1);
    }
    ais__free(t->slots);
    t->slots = slots;
    t->slots_cap = cap;
    return AIS_OK;
}

ais_status ais__vocab_add(ais_tokenizer *t, const char *s, size_t n, int64_t id,
                          const char *where) {
    if (n > AIS__TOK_MAX_TOKEN_BYTES)
        return ais__error(AIS_E_LIMIT, "%s: a token of %zu bytes, more than the limit %d", where, n,
                          AIS__TOK_MAX_TOKEN_BYTES);
    if (t->n_entries >= AIS__TOK_MAX_VOCAB)
        return ais__error(AIS_E_LIMIT, "%s: more than %zu tokens", where, AIS__TOK_MAX_VOCAB);
    size_t saved_max = t->max_token_bytes;
    t->max_token_bytes = AIS__TOK_MAX_TOKEN_BYTES;
    int64_t old = ais__vocab_find(t, "", 0, s, n);
    t->max_token_bytes = saved_max;
    if (old >= 0)
        return ais__error(AIS_E_FORMAT, "%s: the token \"%.*s\" appears twice (ids %lld and %lld)",
                          where, (int)AIS__MIN(n, 64), s, (long long)old, (long long)id);
    if (t->strings_len + n + 1 > t->strings_cap) {
        size_t cap = AIS__MAX(t->strings_cap * 2, t->strings_len + n + 1 + 4096);
        char *p = ais__realloc(t->strings, t->strings_cap, cap);
        if (!p) return ais__oom(cap, "tokenizer vocabulary strings");
        t->strings = p;
        t->strings_cap = cap;
    }
    if (t->n_entries == t->entries_cap) {
        size_t cap = t->entries_cap ? t->entries_cap * 2 : 1024;
        ais__vocab_entry *p = ais__realloc(t->entries, t->entries_cap * sizeof *p, cap * sizeof *p);
        if (!p) return ais__oom(cap * sizeof *p, "tokenizer vocabulary");
        t->entries = p;
        t->entries_cap = cap;
    }
    /* Keep the table at most half full. */
    if ((t->n_entries + 1) * 2 > t->slots_cap) {
        AIS__CHECK(vocab_rehash(t, t->slots_cap ? t->slots_cap * 2 : 2048));
    }
    memcpy(t->strings + t->strings_len, s, n);
    t->strings[t->strings_len + n] = '\0';
    ais__vocab_entry *en = &t->entries[t->n_entries++];
    en->off = (uint32_t)t->strings_len;
    en->len = (uint32_t)n;
    en->id = id;
    t->strings_len += n + 1;
    size_t mask = t->slots_cap - 1;
    size_t i = vocab_hash("", 0, s, n) & mask;
    while (t->slots[i])
        i = (i + 1) & mask;
    t->slots[i] = (uint32_t)t->n_entries;
    if (n > t->max_token_bytes) t->max_token_bytes = n;
    return AIS_OK;
}

ais_status ais__ids_push(ais__ids *ids, int64_t id) {
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 64;
        int64_t *p = ais__realloc(ids->v, ids->cap * sizeof *p, cap * sizeof *p);
        if (!p) return ais__oom(cap * sizeof *p, "token ids");
        ids->v = p;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return AIS_OK;
}

/* ---- character classes, as tokenizers' bert normalizer and pre-tokenizer define them ---- */

/* Rust's char::is_whitespace: the White_Space property. */
static bool is_white_space(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* The category as `tokenizers` sees it: its tables are Unicode 8.0, so a character assigned
 * since then is unassigned (Cn) to it and goes through as a letter. */
static utf8proc_category_t hf_category(int32_t c) {
    /* The six code points whose category Unicode changed after 8.0 in a way the tokenizer
     * sees (found by the code-point sweep of tests/python/test_text_parity.py): their 8.0
     * category. */
    switch (c) {
    case 0x166D: /* So since Unicode 12 */
    case 0x111C9: /* Mn since Unicode 11 */ return UTF8PROC_CATEGORY_PO;
    case 0x1734: /* Mc since Unicode 14 */ return UTF8PROC_CATEGORY_MN;
    case 0x1885: /* Mn since Unicode 9 */
    case 0x1886: return UTF8PROC_CATEGORY_LO;
    case 0xA9BD: /* Mn since Unicode 12 */ return UTF8PROC_CATEGORY_MC;
    default: break;
    }
    size_t lo = 0, hi = AIS__ARRAY_LEN(ais__unicode8_new);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((uint32_t)c < ais__unicode8_new[mid][0])
            hi = mid;
        else if ((uint32_t)c > ais__unicode8_new[mid][1])
            lo = mid + 1;
        else
            return UTF8PROC_CATEGORY_CN;
    }
    return utf8proc_category(c);
}

/* Category Cc, Cf, Co or Cs, except tab, LF and CR (BERT counts those as whitespace). Not Cn:
 * `tokenizers` keeps unassigned code points. */
static bool is_control(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return false;
    if (c < 0x80) return c < 0x20 || c == 0x7F;
    utf8proc_category_t cat = hf_category(c);
    return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
           cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS;
}

static bool is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static bool is_punct(int32_t c) {
    if (c < 0x80)
        return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
               (c >= 0x7B && c <= 0x7E);
    utf8proc_category_t cat = hf_category(c);
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

/* ---- the streaming pass ---- */

typedef struct wp_state {
    const ais_tokenizer *t;
    bool strip, lower;
    ais__ids *out;
    size_t cap; /* ids kept in out; past it they are only counted (dropped) */
    bool stop;  /* stop reading once cap ids are kept */
    size_t dropped;
    const char *what;
    /* the current word: its UTF-8 bytes (kept only while it can still be a WordPiece word) */
    char *word;
    size_t word_len, word_cap, word_chars;
    /* non-starters waiting for canonical ordering (accent stripping only) */
    int32_t *pend;
    size_t n_pend, pend_cap;
} wp_state;

static bool full(const wp_state *w) { return w->stop && w->out->n >= w->cap; }

/* Greedy longest-match-first over the current word. */
static ais_status wordpiece_word(wp_state *w) {
    const ais_tokenizer *t = w->t;
    if (!w->word_chars) return AIS_OK;
    size_t n_before = w->out->n;
    bool bad = false;
    if ((int64_t)w->word_chars > t->max_input_chars) {
        bad = true;
    } else {
        const char *s = w->word;
        size_t n = w->word_len, start = 0;
        while (start < n) {
            size_t pn = start ? t->prefix_len : 0;
            size_t end = n;
            /* No token is longer than the longest in the vocabulary. */
            if (end - start + pn > t->max_token_bytes) {
                end = start + (t->max_token_bytes > pn ? t->max_token_bytes - pn : 0);
                while (end > start && ((unsigned char)s[end] & 0xC0) == 0x80)
                    end--;
            }
            int64_t id = -1;
            while (end > start) {
                id = ais__vocab_find(t, t->prefix, pn, s + start, end - start);
                if (id >= 0) break;
                do
                    end--;
                while (end > start && ((unsigned char)s[end] & 0xC0) == 0x80);
            }
            if (id < 0) {
                bad = true;
                break;
            }
            AIS__CHECK(ais__ids_push(w->out, id));
            start = end;
        }
    }
    if (bad) {
        w->out->n = n_before;
        if (t->unk_id < 0)
            return ais__error(
                AIS_E_FORMAT,
                "%s: a word needs the unknown token \"%s\", which the vocabulary lacks", w->what,
                t->unk_token);
        AIS__CHECK(ais__ids_push(w->out, t->unk_id));
    }
    if (w->out->n > w->cap) {
        w->dropped += w->out->n - w->cap;
        w->out->n = w->cap;
    }
    w->word_len = w->word_chars = 0;
    return AIS_OK;
}

static ais_status word_append(wp_state *w, int32_t c) {
    w->word_chars++;
    /* Past the limit the word is [UNK] whatever it holds: count, do not keep. */
    if ((int64_t)w->word_chars > w->t->max_input_chars) return AIS_OK;
    if (w->word_len + 4 > w->word_cap) {
        size_t cap = AIS__MAX(w->word_cap * 2, 256);
        char *p = ais__realloc(w->word, w->word_cap, cap);
        if (!p) return ais__oom(cap, "tokenizer word buffer");
        w->word = p;
        w->word_cap = cap;
    }
    w->word_len += utf8_put(c, w->word + w->word_len);
    return AIS_OK;
}

/* BertPreTokenizer: whitespace ends a word, punctuation is a word of its own. */
static ais_status pretok(wp_state *w, int32_t c) {
    if (is_white_space(c)) return wordpiece_word(w);
    if (is_punct(c)) {
        AIS__CHECK(wordpiece_word(w));
        if (full(w)) return AIS_OK;
        AIS__CHECK(word_append(w, c));
        return wordpiece_word(w);
    }
    return word_append(w, c);
}

static ais_status lower_then_pretok(wp_state *w, int32_t c) {
    if (!w->lower) return pretok(w, c);
    if (c < 0x80) return pretok(w, c >= 'A' && c <= 'Z' ? c + 32 : c);
    if (c == 0x130) { /* the one unconditional multi-character lowercase mapping */
        AIS__CHECK(pretok(w, 'i'));
        return pretok(w, 0x307);
    }
    return pretok(w, utf8proc_tolower(c));
}

static ais_status flush_pending(wp_state *w) {
    /* Canonical ordering: a stable insertion sort of the run of non-starters by class. */
    for (size_t i = 1; i < w->n_pend; i++) {
        int32_t c = w->pend[i];
        int cc = utf8proc_get_property(c)->combining_class;
        size_t j = i;
        while (j > 0 && utf8proc_get_property(w->pend[j - 1])->combining_class > cc) {
            w->pend[j] = w->pend[j - 1];
            j--;
        }
        w->pend[j] = c;
    }
    for (size_t i = 0; i < w->n_pend; i++)
        AIS__CHECK(lower_then_pretok(w, w->pend[i]));
    w->n_pend = 0;
    return AIS_OK;
}

/* NFD and the removal of nonspacing marks. Marks are dropped before ordering: a stable sort of
 * what is left gives the same order as sorting first and dropping after. */
static ais_status strip_then_on(wp_state *w, int32_t c) {
    if (!w->strip) return lower_then_pretok(w, c);
    if (c < 0x80) { /* no decomposition, a starter */
        if (w->n_pend) AIS__CHECK(flush_pending(w));
        return lower_then_pretok(w, c);
    }
    utf8proc_int32_t d[32];
    int last = 0;
    utf8proc_ssize_t nd = utf8proc_decompose_char(c, d, 32, UTF8PROC_DECOMPOSE, &last);
    if (nd < 0 || nd > 32) {
        d[0] = c;
        nd = 1;
    }
    for (utf8proc_ssize_t k = 0; k < nd; k++) {
        if (d[k] >= 0x300 && hf_category(d[k]) == UTF8PROC_CATEGORY_MN) continue;
        if (utf8proc_get_property(d[k])->combining_class == 0) {
            AIS__CHECK(flush_pending(w));
            AIS__CHECK(lower_then_pretok(w, d[k]));
        } else {
            if (w->n_pend == w->pend_cap) {
                size_t cap = w->pend_cap ? w->pend_cap * 2 : 16;
                int32_t *q = ais__realloc(w->pend, w->pend_cap * sizeof *q, cap * sizeof *q);
                if (!q) return ais__oom(cap * sizeof *q, "tokenizer combining marks");
                w->pend = q;
                w->pend_cap = cap;
            }
            w->pend[w->n_pend++] = d[k];
        }
    }
    return AIS_OK;
}

static ais_status encode_plain(const ais_tokenizer *t, const char *str, size_t n, size_t cap,
                               bool stop, ais__ids *out, size_t *total, const char *what) {
    wp_state w = {.t = t, .out = out, .what = what, .stop = stop};
    w.cap = out->n + AIS__MIN(cap, SIZE_MAX - out->n);
    w.lower = t->lowercase;
    w.strip = t->strip_accents < 0 ? t->lowercase : t->strip_accents != 0;
    const unsigned char *s = (const unsigned char *)str;
    ais_status st = AIS_OK;
    for (size_t i = 0; i < n && st == AIS_OK && !full(&w);) {
        int32_t c;
        i += utf8_next(s, i, n, &c);
        if (t->clean_text) {
            if (c == 0 || c == 0xFFFD || is_control(c)) continue;
            if (is_white_space(c)) c = ' ';
        }
        if (t->chinese_chars && is_cjk(c)) {
            st = strip_then_on(&w, ' ');
            if (st == AIS_OK) st = strip_then_on(&w, c);
            if (st == AIS_OK) st = strip_then_on(&w, ' ');
        } else {
            st = strip_then_on(&w, c);
        }
    }
    if (st == AIS_OK && !full(&w)) st = flush_pending(&w);
    if (st == AIS_OK && !full(&w)) st = wordpiece_word(&w);
    if (total) *total = out->n + w.dropped;
    ais__free(w.word);
    ais__free(w.pend);
    return st;
}

/* The added token that starts at s[i], or NULL. The list is longest first. */
static const ais__added_token *added_at(const ais_tokenizer *t, const char *s, size_t n, size_t i) {
    uint8_t c = (uint8_t)s[i];
    if (!(t->added_first[c >> 3] & (1u << (c & 7)))) return NULL;
    for (size_t k = 0; k < t->n_added; k++) {
        const ais__added_token *a = &t->added[k];
        if (a->len <= n - i && memcmp(s + i, a->content, a->len) == 0) return a;
    }
    return NULL;
}

/* Added tokens are found in the raw text first (leftmost, longest), as tokenizers'
 * AddedVocabulary does; each piece of text between them is normalized and tokenized on its own
 * (for BERT's character-wise normalizer and whitespace/punctuation splitting, the same as
 * tokenizing it in place). */
ais_status ais__wordpiece_encode(const ais_tokenizer *t, const char *str, size_t n, size_t cap,
                                 bool stop, ais__ids *out, size_t *total, const char *what) {
    if (!t->n_added) return encode_plain(t, str, n, cap, stop, out, total, what);
    size_t limit = out->n + AIS__MIN(cap, SIZE_MAX - out->n), dropped = 0, from = 0;
    for (size_t i = 0; i <= n; i++) {
        const ais__added_token *a = i < n ? added_at(t, str, n, i) : NULL;
        if (i < n && !a) continue;
        size_t seg_total = 0;
        if (!(stop && out->n >= limit) && i > from) {
            AIS__CHECK(encode_plain(t, str + from, i - from, limit > out->n ? limit - out->n : 0,
                                    stop, out, &seg_total, what));
            dropped += seg_total - out->n;
        }
        if (!a) break;
        if (out->n < limit)
            AIS__CHECK(ais__ids_push(out, a->id));
        else if (stop)
            break;
        else
            dropped++;
        from = i + a->len;
        i = from - 1;
    }
    if (total) *total = out->n + dropped;
    return AIS_OK;
}
