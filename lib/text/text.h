/*
 * text.h - the WordPiece tokenizer's internals, shared by the loader (tokenizer_load.c), the
 * per-text tokenizer (wordpiece.c) and the batch encoder (tokenizer_encode.c).
 */
#ifndef AIS_TEXT_H
#define AIS_TEXT_H

#include <aistack/ais_text.h>

#include "common/common.h"

/* Limits on what a tokenizer file may declare. */
#define AIS__TOK_MAX_FILE_BYTES ((size_t)256 << 20)
#define AIS__TOK_MAX_VOCAB ((size_t)1 << 24)
#define AIS__TOK_MAX_TOKEN_BYTES 1024
#define AIS__TOK_MAX_TEMPLATE 16
#define AIS__TOK_MAX_SPECIAL_IDS 64
#define AIS__TOK_MAX_ADDED 4096

typedef struct ais__vocab_entry {
    uint32_t off, len; /* the token's bytes in ais_tokenizer.strings */
    int64_t id;
} ais__vocab_entry;

/* One piece of a post-processing template: a special token's ids, or sequence A/B. */
typedef struct ais__tpl_item {
    int seq;         /* -1: special token (ids[0..n_ids)), 0: sequence A, 1: sequence B */
    int64_t type_id; /* the token type of every id of this piece */
    size_t first_id; /* index into ais_tokenizer.special_ids */
    size_t n_ids;
} ais__tpl_item;

/* An added token (tokenizer.json's "added_tokens"), matched in the raw text before anything else:
 * its bytes become its id, the text around it is tokenized as usual. */
typedef struct ais__added_token {
    char *content;
    size_t len;
    int64_t id;
} ais__added_token;

struct ais_tokenizer {
    /* vocabulary: entries[] in insertion order, slots[] an open-addressing table of entry+1 */
    char *strings;
    size_t strings_len, strings_cap;
    ais__vocab_entry *entries;
    size_t n_entries, entries_cap;
    uint32_t *slots;
    size_t slots_cap; /* a power of two */
    size_t max_token_bytes;

    int64_t unk_id; /* -1: the vocabulary lacks the unk token (an error once a word needs it) */
    char unk_token[64];
    char prefix[32]; /* continuing subword prefix, "##" */
    size_t prefix_len;
    int64_t max_input_chars;

    bool lowercase, clean_text, chinese_chars;
    int strip_accents; /* -1: follow lowercase */

    ais__tpl_item single[AIS__TOK_MAX_TEMPLATE], pair[AIS__TOK_MAX_TEMPLATE];
    size_t n_single, n_pair;
    int64_t special_ids[AIS__TOK_MAX_SPECIAL_IDS];
    size_t n_special_ids;

    int64_t pad_id, pad_type_id;
    bool pad_left;
    int64_t pad_multiple; /* 0: none */
    int64_t trunc_max;    /* 0: none declared */
    bool trunc_left;
    ais_text_truncation trunc_strategy; /* the file's, for max_length = 0 */

    ais__added_token *added; /* longest first, so that the first match is the longest */
    size_t n_added;
    uint8_t added_first[32]; /* bit set of the added tokens' first bytes */
};

/* The id of bytes [s, s+n) prefixed by `prefix` bytes; -1 when absent. */
int64_t ais__vocab_find(const ais_tokenizer *t, const char *prefix, size_t prefix_len,
                        const char *s, size_t n);
/* Adds a token with `id`; AIS_E_FORMAT for a duplicate (naming `where`). */
ais_status ais__vocab_add(ais_tokenizer *t, const char *s, size_t n, int64_t id, const char *where);

/* A growable int64 list. */
typedef struct ais__ids {
    int64_t *v;
    size_t n, cap;
} ais__ids;
ais_status ais__ids_push(ais__ids *ids, int64_t id);

/* Adds an added token (content of `len` bytes, id); keeps the list longest first. */
ais_status ais__added_add(ais_tokenizer *t, const char *content, size_t len, int64_t id,
                          const char *where);

/* Checks that [s, s+n) is UTF-8; on failure sets the error naming `what` and the byte offset. */
ais_status ais__utf8_check(const char *s, size_t n, const char *what);

/*
 * Normalizes, pre-tokenizes and WordPiece-encodes one UTF-8 text (already checked) and appends
 * the ids to `out`, keeping at most `cap` of them (SIZE_MAX: all): right truncation never needs
 * the rest. With `stop` it stops reading there; else it goes on counting, and *total (may be
 * NULL) is the number of ids the whole text gives. `what` names the text in messages.
 */
ais_status ais__wordpiece_encode(const ais_tokenizer *t, const char *s, size_t n, size_t cap,
                                 bool stop, ais__ids *out, size_t *total, const char *what);

#endif /* AIS_TEXT_H */
