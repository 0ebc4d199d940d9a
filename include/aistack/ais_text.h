/*
 * ais_text.h - text to token ids: BERT's WordPiece tokenizer, bit-for-bit what Hugging Face's
 * `tokenizers` library gives for the same tokenizer.json.
 *
 *   ais_tokenizer   a loaded tokenizer: vocabulary, normalizer settings (clean text, CJK
 *                   splitting, accent stripping, lowercasing), the special-token template and
 *                   the padding/truncation settings its file declares. Once loaded, encoding does
 *                   not change it: one tokenizer may encode on any number of threads at once, as
 *                   long as no ais_tokenizer_set_option call runs at the same time.
 *
 * The pipeline is the one of BertNormalizer -> BertPreTokenizer -> WordPiece -> BertProcessing:
 *   1. clean text: drop NUL, U+FFFD and control/format/unassigned/private-use/surrogate
 *      characters (Unicode category C*) except tab, CR and LF; map every White_Space character to
 *      a space;
 *   2. put spaces around CJK ideographs;
 *   3. strip accents (NFD, then drop nonspacing marks Mn); on by default when lowercasing;
 *   4. lowercase (Unicode's full lowercase mapping, char by char, as Rust's char::to_lowercase);
 *   5. split on whitespace, and isolate each punctuation character (Unicode P* and ASCII
 *      punctuation);
 *   6. greedy longest-match-first WordPiece with "##" continuations; a word longer than
 *      max_input_chars_per_word characters (default 100) or with no segmentation is [UNK];
 *   7. the template: "[CLS] A [SEP]" and "[CLS] A [SEP] B [SEP]" with token type 0 for A and 1
 *      for B (or what the file's TemplateProcessing declares), truncation and padding.
 * Unicode data (NFD, categories, case) comes from utf8proc, except that a character assigned
 * after Unicode 8.0 counts as unassigned for steps 1, 3 and 5, as it does in `tokenizers` (whose
 * category tables are Unicode 8.0): it is kept as a letter.
 *
 * Input text is UTF-8 with an explicit length, so NUL bytes are allowed: like Hugging Face, the
 * clean-text step drops them (with clean text off they are an ordinary control character).
 * Invalid UTF-8 (a bad lead or continuation byte, a truncated sequence, an overlong form, a
 * surrogate or a code point above U+10FFFF) is refused with AIS_E_FORMAT and a message naming
 * the text's index in the batch, which text of the pair, and the byte offset. Nothing is replaced
 * or truncated silently. Memory for encoding is proportional to the tokens kept, plus a small
 * per-word buffer: a 10 MB text needs no 10 MB scratch copy.
 */
#ifndef AISTACK_AIS_TEXT_H
#define AISTACK_AIS_TEXT_H

#include "ais_model.h"
#include "ais_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ais_tokenizer ais_tokenizer;

/*
 * Loads a tokenizer from a file: a Hugging Face tokenizer.json (recognized by its first
 * non-blank byte, '{') or a plain vocab.txt (one token per line, id = line number, BERT's
 * defaults: lowercase and strip accents on, [CLS]/[SEP]/[PAD]/[UNK] as the special tokens).
 *
 * tokenizer.json: the model must be WordPiece; the normalizer BertNormalizer (or null: no
 * normalization); the pre-tokenizer BertPreTokenizer; the post-processor TemplateProcessing,
 * BertProcessing or null; its "truncation" (max_length, direction, strategy) and "padding"
 * (pad_id, pad_type_id, direction, pad_to_multiple_of) blocks give the defaults of
 * ais_tokenizer_encode_batch; the decoder is not used. Anything else (a BPE, Unigram or WordLevel
 * model, another normalizer, pre-tokenizer or post-processor) fails with AIS_E_UNSUPPORTED and a
 * message naming the file and key ("tok.json: model.type \"BPE\" is not supported").
 * The "added_tokens" are matched in the raw text before normalization, longest first, as
 * `tokenizers` does (a literal "[SEP]" in the input is the [SEP] id; "[sep]" is not matched); an
 * added token with "normalized": true or "single_word": true fails with AIS_E_UNSUPPORTED naming
 * it. A vocab.txt's [PAD], [UNK], [CLS], [SEP] and [MASK] are matched the same way, as
 * transformers' BertTokenizer never splits them.
 * A vocabulary without its [UNK] token, or without the special tokens that the template or
 * padding uses, fails with AIS_E_FORMAT naming the file and the token. Files over 256 MiB fail
 * with AIS_E_LIMIT.
 *
 * On success *out is a new tokenizer the caller frees with ais_tokenizer_destroy; on failure
 * *out is NULL and ais_last_error() says why.
 */
AIS_API ais_status ais_tokenizer_load(const char *path, ais_tokenizer **out);
/* The same from `size` bytes in memory (need not be NUL-terminated); `name` (may be NULL) is
 * used in messages in place of the path. The bytes are not kept. */
AIS_API ais_status ais_tokenizer_load_memory(const void *data, size_t size, const char *name,
                                             ais_tokenizer **out);
/* Frees a tokenizer; NULL is a no-op. */
AIS_API void ais_tokenizer_destroy(ais_tokenizer *tokenizer);

/* Normalizer and model settings. Values are written out and never renumbered. */
typedef enum ais_tokenizer_option {
    AIS_TOKENIZER_LOWERCASE = 1,      /* 0 or 1 */
    AIS_TOKENIZER_STRIP_ACCENTS = 2,  /* 0, 1, or -1: follow LOWERCASE (BERT's default) */
    AIS_TOKENIZER_CLEAN_TEXT = 3,     /* 0 or 1 */
    AIS_TOKENIZER_CHINESE_CHARS = 4,  /* 0 or 1: spaces around CJK ideographs */
    AIS_TOKENIZER_MAX_INPUT_CHARS = 5 /* 1 .. 1<<20: longer words become [UNK] */
} ais_tokenizer_option;

/* Sets one option; AIS_E_INVALID_ARGUMENT (naming the option) for an unknown key or a value
 * outside its range. Not while another thread encodes with this tokenizer. */
AIS_API ais_status ais_tokenizer_set_option(ais_tokenizer *tokenizer, ais_tokenizer_option key,
                                            int64_t value);
/* Reads one option into *value. */
AIS_API ais_status ais_tokenizer_get_option(const ais_tokenizer *tokenizer,
                                            ais_tokenizer_option key, int64_t *value);

/* Number of tokens in the vocabulary (0 for NULL). */
AIS_API size_t ais_tokenizer_vocab_size(const ais_tokenizer *tokenizer);
/* The id of `token` (a NUL-terminated string) in *id; AIS_E_NOT_FOUND when it is not in the
 * vocabulary. */
AIS_API ais_status ais_tokenizer_token_id(const ais_tokenizer *tokenizer, const char *token,
                                          int64_t *id);

/* How a batch is padded. Values are written out and never renumbered. */
typedef enum ais_text_padding {
    AIS_TEXT_PAD_LONGEST = 1,   /* to the longest row of the batch */
    AIS_TEXT_PAD_MAX_LENGTH = 2 /* to max_length */
} ais_text_padding;

/* How rows longer than max_length are cut. Values are written out and never renumbered. */
typedef enum ais_text_truncation {
    AIS_TEXT_TRUNCATE_NONE = 0,          /* a row longer than max_length is an error */
    AIS_TEXT_TRUNCATE_LONGEST_FIRST = 1, /* Hugging Face's longest_first */
    AIS_TEXT_TRUNCATE_ONLY_FIRST = 2,
    AIS_TEXT_TRUNCATE_ONLY_SECOND = 3
} ais_text_truncation;

/*
 * Encodes `n` texts (each `lengths[i]` bytes of UTF-8; lengths may be NULL for NUL-terminated
 * texts) into three new int64 tensors of shape [n, L]: token ids, the attention mask (1 for a
 * token, 0 for padding) and the token type ids (0 for the first text, 1 for the second of a
 * pair, the pad type for padding). `pairs` (may be NULL) gives a second text per row, with
 * `pair_lengths` like `lengths`; a NULL entry of pairs means that row has no second text.
 *
 * max_length: 0 means the tokenizer's own truncation length from its file (none for vocab.txt),
 * > 0 overrides it; it counts the special tokens. With padding AIS_TEXT_PAD_MAX_LENGTH a
 * max_length (given or from the file) is required and L = max_length; with AIS_TEXT_PAD_LONGEST,
 * L is the longest row. A row longer than max_length with truncation NONE, or a max_length
 * smaller than the template's special tokens, fails with AIS_E_LIMIT naming the row. Truncation
 * cuts on the side the file declares (right by default); padding goes on the side and with the
 * id/type the file declares (right, [PAD], 0 by default), and L is rounded up to the file's
 * pad_to_multiple_of.
 *
 * n == 0 gives tensors of shape [0, 0]. On success the caller owns the three tensors (destroy
 * each with ais_tensor_destroy); on failure all three are NULL. Any of the three out pointers
 * but input_ids may be NULL when the caller does not want that tensor. Thread-safe on a shared
 * tokenizer.
 */
AIS_API ais_status ais_tokenizer_encode_batch(
    const ais_tokenizer *tokenizer, const char *const *texts, const size_t *lengths,
    const char *const *pairs, const size_t *pair_lengths, size_t n, int64_t max_length,
    ais_text_padding padding, ais_text_truncation truncation, ais_tensor **input_ids,
    ais_tensor **attention_mask, ais_tensor **token_type_ids);

/* ---- sentence embeddings from raw text, in one .ais file ---- */

/* How token embeddings become one sentence embedding. Values are written out and never
 * renumbered. */
typedef enum ais_text_pooling {
    AIS_TEXT_POOLING_MEAN = 1, /* the mean over the tokens whose attention mask is 1 */
    AIS_TEXT_POOLING_CLS = 2   /* the first token's ([CLS]) embedding */
} ais_text_pooling;

/*
 * Converts a transformer (an ONNX file, or any file ais_model_load reads) and its tokenizer
 * (tokenizer.json or vocab.txt, as ais_tokenizer_load reads them) into one .ais file at out_path
 * that takes raw text: its feature pipeline is a text pipeline (docs/pipeline-spec.md, "Text")
 * holding the whole tokenizer, and its graph ends with the pooling, so its one output, named
 * "sentence_embedding", is float32 [rows, hidden]. Run it with ais_session_run_records (or
 * json_rows, csv, columns) on records {"text": "..."}; rows are padded to the longest of the
 * batch. ais_session_run also works on the token tensors.
 *
 * The token embeddings pooled are the model output named "last_hidden_state" or
 * "token_embeddings", else its first output of rank 3. The model's inputs must be among
 * "input_ids", "attention_mask" and "token_type_ids" (int64 [batch, sequence]); the tokenizer
 * feeds those it has. Mean pooling needs "attention_mask" among them.
 *
 * options (may be NULL): AIS_OPT_TEXT_MAX_LENGTH (the tokens per row; rows are cut there, as
 * Hugging Face's truncation=True; 0: the tokenizer file's truncation length, required for a
 * vocab.txt), AIS_OPT_TEXT_POOLING, AIS_OPT_TEXT_NORMALIZE (x / max(||x||, 1e-12), as
 * torch.nn.functional.normalize), and the load and save options (AIS_OPT_SAVE_COMPRESSION ...).
 * Failures name the file and what was wrong: a model without token embeddings or with other
 * inputs (AIS_E_INVALID_ARGUMENT), a tokenizer the reader refuses (its status), an output name
 * "sentence_embedding" already taken.
 */
AIS_API ais_status ais_text_convert(const char *model_path, const char *tokenizer_path,
                                    const char *out_path, const ais_options *options);

#ifdef __cplusplus
}
#endif

#endif /* AISTACK_AIS_TEXT_H */
