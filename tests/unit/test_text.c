/* test_text.c - the WordPiece tokenizer (ais_text.h): encoding rules on a small vocabulary, the
 * tokenizer.json reader, and every failure path (bad files, bad UTF-8, limits, allocation). The
 * parity with Hugging Face `tokenizers` on a large corpus is tests/python/test_text_parity.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

/* ids = line numbers */
static const char VOCAB[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"   /* 0-4 */
                            "hello\nworld\n,\n!\nun\n"               /* 5-9 */
                            "##aff\n##able\ncafe\n\xe6\x9d\xb1\n.\n" /* 10-14 */
                            "a\nb\n##b\n";                           /* 15-17 */

static ais_tokenizer *vocab_tok(void) {
    ais_tokenizer *t = NULL;
    AIS_ASSERT_OK(ais_tokenizer_load_memory(VOCAB, strlen(VOCAB), "vocab.txt", &t));
    return t;
}

/* Encodes texts with the given settings and checks the ids (rows padded with `pad`). */
static void expect_ids(const ais_tokenizer *t, const char *const *texts, const char *const *pairs,
                       size_t n, int64_t max_length, ais_text_padding pad, const int64_t *want,
                       int64_t want_len, const int64_t *want_types) {
    ais_tensor *ids = NULL, *mask = NULL, *types = NULL;
    AIS_ASSERT_OK(ais_tokenizer_encode_batch(t, texts, NULL, pairs, NULL, n, max_length, pad,
                                             AIS_TEXT_TRUNCATE_LONGEST_FIRST, &ids, &mask, &types));
    assert_int_equal(ais_tensor_dtype(ids), AIS_DTYPE_I64);
    assert_int_equal(ais_tensor_ndim(ids), 2);
    assert_int_equal(ais_tensor_shape(ids)[0], (int64_t)n);
    assert_int_equal(ais_tensor_shape(ids)[1], want_len);
    const int64_t *pi = ais_tensor_data(ids), *pm = ais_tensor_data(mask),
                  *pt = ais_tensor_data(types);
    for (size_t i = 0; i < n * (size_t)want_len; i++) {
        assert_int_equal(pi[i], want[i]);
        assert_int_equal(pm[i], want[i] != 0);
        if (want_types) assert_int_equal(pt[i], want_types[i]);
    }
    ais_tensor_destroy(ids);
    ais_tensor_destroy(mask);
    ais_tensor_destroy(types);
}

static void test_vocab_basics(void **state) {
    (void)state;
    ais_tokenizer *t = vocab_tok();
    assert_int_equal(ais_tokenizer_vocab_size(t), 18);
    int64_t id = -1;
    AIS_ASSERT_OK(ais_tokenizer_token_id(t, "##able", &id));
    assert_int_equal(id, 11);
    AIS_ASSERT_STATUS(ais_tokenizer_token_id(t, "nope", &id), AIS_E_NOT_FOUND);
    /* lowercasing, accent stripping, punctuation, continuations, [UNK], CJK */
    const char *texts[] = {"Hello, WORLD!", "unaffable caf\xc3\xa9.",
                           "xyz \xe6\x9d\xb1\xe6\x9d\xb1", ""};
    const int64_t want[] = {2, 5, 7,  6,  8, 3, 0, 2, 9, 10, 11, 12, 14, 3,
                            2, 1, 13, 13, 3, 0, 0, 2, 3, 0,  0,  0,  0,  0};
    expect_ids(t, texts, NULL, 4, 0, AIS_TEXT_PAD_LONGEST, want, 7, NULL);
    /* "ab" has no segmentation (no "##b"... there is: a + ##b); "ba" has none: [UNK] */
    const char *t2[] = {"ab ba bbb"};
    const int64_t w2[] = {2, 15, 17, 1, 16, 17, 17, 3};
    expect_ids(t, t2, NULL, 1, 0, AIS_TEXT_PAD_LONGEST, w2, 8, NULL);
    /* special tokens in the raw text are the tokens (case-sensitive, not inside "[sep]"); the
     * text around them is tokenized as usual; truncation counts them */
    const char *t3[] = {"a[SEP]b [MASK] [sep]"};
    const int64_t w3[] = {2, 15, 3, 16, 4, 1, 1, 1, 3};
    expect_ids(t, t3, NULL, 1, 0, AIS_TEXT_PAD_LONGEST, w3, 9, NULL);
    const int64_t w3cut[] = {2, 15, 3, 16, 3};
    expect_ids(t, t3, NULL, 1, 5, AIS_TEXT_PAD_LONGEST, w3cut, 5, NULL);
    ais_tokenizer_destroy(t);
}

static void test_pairs_truncation_padding(void **state) {
    (void)state;
    ais_tokenizer *t = vocab_tok();
    const char *a[] = {"hello world hello world", "a"};
    const char *b[] = {"b b b", NULL};
    /* max_length 8: 5 ids left for the texts; longest first gives 3 + 2 */
    const int64_t want[] = {2, 5, 6, 5, 3, 16, 16, 3, 2, 15, 3, 0, 0, 0, 0, 0};
    const int64_t types[] = {0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    expect_ids(t, a, b, 2, 8, AIS_TEXT_PAD_LONGEST, want, 8, types);
    /* one id left for two texts: the longer one keeps it, even though both reach the cap of
     * ids kept while reading (the full lengths decide) */
    const char *ta[] = {"a a a"}, *tb[] = {"b"};
    const int64_t wt[] = {2, 15, 3, 3};
    const int64_t wty[] = {0, 0, 0, 1};
    expect_ids(t, ta, tb, 1, 4, AIS_TEXT_PAD_LONGEST, wt, 4, wty);
    /* padding to max_length */
    const char *c[] = {"a"};
    const int64_t w3[] = {2, 15, 3, 0, 0, 0};
    expect_ids(t, c, NULL, 1, 6, AIS_TEXT_PAD_MAX_LENGTH, w3, 6, NULL);
    /* an empty batch */
    ais_tensor *ids = NULL;
    AIS_ASSERT_OK(ais_tokenizer_encode_batch(t, NULL, NULL, NULL, NULL, 0, 0, AIS_TEXT_PAD_LONGEST,
                                             AIS_TEXT_TRUNCATE_NONE, &ids, NULL, NULL));
    assert_int_equal(ais_tensor_shape(ids)[0], 0);
    ais_tensor_destroy(ids);
    /* no truncation: a longer row is an error naming it, never cut */
    const char *d[] = {"a", "hello world hello world"};
    ais_tensor *m = NULL, *ty = NULL;
    AIS_ASSERT_STATUS(ais_tokenizer_encode_batch(t, d, NULL, NULL, NULL, 2, 4, AIS_TEXT_PAD_LONGEST,
                                                 AIS_TEXT_TRUNCATE_NONE, &ids, &m, &ty),
                      AIS_E_LIMIT);
    assert_null(ids);
    assert_null(m);
    assert_null(ty);
    ais_test_assert_error_contains("row 1");
    /* max_length below the special tokens */
    AIS_ASSERT_STATUS(ais_tokenizer_encode_batch(t, d, NULL, NULL, NULL, 1, 1, AIS_TEXT_PAD_LONGEST,
                                                 AIS_TEXT_TRUNCATE_LONGEST_FIRST, &ids, NULL, NULL),
                      AIS_E_LIMIT);
    /* padding to max_length without one (vocab.txt declares none) */
    AIS_ASSERT_STATUS(ais_tokenizer_encode_batch(t, d, NULL, NULL, NULL, 1, 0,
                                                 AIS_TEXT_PAD_MAX_LENGTH,
                                                 AIS_TEXT_TRUNCATE_LONGEST_FIRST, &ids, NULL, NULL),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_tokenizer_encode_batch(t, d, NULL, NULL, NULL, 1, 0, (ais_text_padding)7,
                                                 AIS_TEXT_TRUNCATE_LONGEST_FIRST, &ids, NULL, NULL),
                      AIS_E_INVALID_ARGUMENT);
    /* only_second without a second text */
    AIS_ASSERT_STATUS(ais_tokenizer_encode_batch(t, d + 1, NULL, NULL, NULL, 1, 4,
                                                 AIS_TEXT_PAD_LONGEST,
                                                 AIS_TEXT_TRUNCATE_ONLY_SECOND, &ids, NULL, NULL),
                      AIS_E_LIMIT);
    ais_tokenizer_destroy(t);
}

static void test_options(void **state) {
    (void)state;
    ais_tokenizer *t = vocab_tok();
    int64_t v = 0;
    AIS_ASSERT_OK(ais_tokenizer_get_option(t, AIS_TOKENIZER_STRIP_ACCENTS, &v));
    assert_int_equal(v, -1);
    AIS_ASSERT_OK(ais_tokenizer_set_option(t, AIS_TOKENIZER_LOWERCASE, 0));
    const char *texts[] = {"Hello hello"};
    const int64_t want[] = {2, 1, 5, 3};
    expect_ids(t, texts, NULL, 1, 0, AIS_TEXT_PAD_LONGEST, want, 4, NULL);
    AIS_ASSERT_OK(ais_tokenizer_set_option(t, AIS_TOKENIZER_MAX_INPUT_CHARS, 3));
    const char *t2[] = {"hello a"};
    const int64_t w2[] = {2, 1, 15, 3};
    expect_ids(t, t2, NULL, 1, 0, AIS_TEXT_PAD_LONGEST, w2, 4, NULL);
    AIS_ASSERT_STATUS(ais_tokenizer_set_option(t, AIS_TOKENIZER_LOWERCASE, 2),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_tokenizer_set_option(t, (ais_tokenizer_option)99, 0),
                      AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_tokenizer_set_option(NULL, AIS_TOKENIZER_LOWERCASE, 0),
                      AIS_E_INVALID_ARGUMENT);
    ais_tokenizer_destroy(t);
    ais_tokenizer_destroy(NULL);
}

static void test_bad_utf8_and_nul(void **state) {
    (void)state;
    ais_tokenizer *t = vocab_tok();
    ais_tensor *ids = NULL;
    struct {
        const char *s;
        size_t n;
        const char *msg;
    } bad[] = {
        {"ab\xff", 3, "byte 2"},                      /* not a lead byte */
        {"a\xc3", 2, "byte 1"},                       /* truncated */
        {"\xc0\x80", 2, "byte 0"},                    /* overlong NUL */
        {"\xe0\x80\xaf", 3, "byte 0"},                /* overlong */
        {"x\xed\xa0\x80", 4, "not a Unicode scalar"}, /* surrogate */
        {"\xf4\x90\x80\x80", 4, "byte 0"},            /* > U+10FFFF */
        {"a\xe6\x9d", 3, "byte 1"},
        {"ab\xe6x\x9d", 5, "byte 3"}, /* bad continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *texts[] = {"hello", bad[i].s};
        size_t lens[] = {5, bad[i].n};
        AIS_ASSERT_STATUS(
            ais_tokenizer_encode_batch(t, texts, lens, NULL, NULL, 2, 0, AIS_TEXT_PAD_LONGEST,
                                       AIS_TEXT_TRUNCATE_LONGEST_FIRST, &ids, NULL, NULL),
            AIS_E_FORMAT);
        assert_null(ids);
        ais_test_assert_error_contains("texts[1]");
        ais_test_assert_error_contains(bad[i].msg);
    }
    /* in the second text of a pair */
    const char *a[] = {"a"}, *b[] = {"\xff"};
    AIS_ASSERT_STATUS(ais_tokenizer_encode_batch(t, a, NULL, b, NULL, 1, 0, AIS_TEXT_PAD_LONGEST,
                                                 AIS_TEXT_TRUNCATE_LONGEST_FIRST, &ids, NULL, NULL),
                      AIS_E_FORMAT);
    ais_test_assert_error_contains("pairs[0]");
    /* NUL bytes: dropped by the clean-text step, as Hugging Face does */
    const char *texts[] = {"hel\0lo a"};
    size_t lens[] = {8};
    AIS_ASSERT_OK(ais_tokenizer_encode_batch(t, texts, lens, NULL, NULL, 1, 0, AIS_TEXT_PAD_LONGEST,
                                             AIS_TEXT_TRUNCATE_NONE, &ids, NULL, NULL));
    const int64_t *p = ais_tensor_data(ids);
    assert_int_equal(ais_tensor_shape(ids)[1], 4);
    assert_int_equal(p[1], 5);
    assert_int_equal(p[2], 15);
    ais_tensor_destroy(ids);
    ais_tokenizer_destroy(t);
}

static void test_ten_megabytes(void **state) {
    (void)state;
    ais_tokenizer *t = vocab_tok();
    size_t n = (size_t)10 << 20;
    char *s = malloc(n);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = "hello "[i % 6];
    const char *texts[] = {s};
    size_t lens[] = {n};
    ais_tensor *ids = NULL;
    /* truncated: stops after max_length ids */
    AIS_ASSERT_OK(ais_tokenizer_encode_batch(t, texts, lens, NULL, NULL, 1, 16,
                                             AIS_TEXT_PAD_LONGEST, AIS_TEXT_TRUNCATE_LONGEST_FIRST,
                                             &ids, NULL, NULL));
    assert_int_equal(ais_tensor_shape(ids)[1], 16);
    ais_tensor_destroy(ids);
    /* one 10 MB word: [UNK], without keeping the word */
    memset(s, 'a', n);
    AIS_ASSERT_OK(ais_tokenizer_encode_batch(t, texts, lens, NULL, NULL, 1, 0, AIS_TEXT_PAD_LONGEST,
                                             AIS_TEXT_TRUNCATE_NONE, &ids, NULL, NULL));
    assert_int_equal(ais_tensor_shape(ids)[1], 3);
    assert_int_equal(((const int64_t *)ais_tensor_data(ids))[1], 1);
    ais_tensor_destroy(ids);
    /* untruncated: every id is kept (one per word) */
    for (size_t i = 0; i < n; i++)
        s[i] = "a "[i % 2];
    AIS_ASSERT_OK(ais_tokenizer_encode_batch(t, texts, lens, NULL, NULL, 1, 0, AIS_TEXT_PAD_LONGEST,
                                             AIS_TEXT_TRUNCATE_NONE, &ids, NULL, NULL));
    assert_int_equal(ais_tensor_shape(ids)[1], (int64_t)(n / 2 + 2));
    ais_tensor_destroy(ids);
    free(s);
    ais_tokenizer_destroy(t);
}

static void expect_load_error(const char *data, ais_status want, const char *needle) {
    ais_tokenizer *t = (ais_tokenizer *)1;
    AIS_ASSERT_STATUS(ais_tokenizer_load_memory(data, strlen(data), "tok.json", &t), want);
    assert_null(t);
    ais_test_assert_error_contains(needle);
}

#define MODEL_OK                                                                                   \
    "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"a\":1}}"

static void test_json_reader(void **state) {
    (void)state;
    const char *good = "{" MODEL_OK ",\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":"
                       "false,\"strip_accents\":null},\"pre_tokenizer\":{\"type\":"
                       "\"BertPreTokenizer\"},\"post_processor\":{\"type\":\"BertProcessing\","
                       "\"sep\":[\"[SEP]\",7],\"cls\":[\"[CLS]\",9]},\"truncation\":{"
                       "\"max_length\":5,\"direction\":\"Left\"},\"padding\":{\"pad_id\":3,"
                       "\"pad_to_multiple_of\":4,\"direction\":\"Left\"}}";
    ais_tokenizer *t = NULL;
    AIS_ASSERT_OK(ais_tokenizer_load_memory(good, strlen(good), "tok.json", &t));
    int64_t v = 1;
    AIS_ASSERT_OK(ais_tokenizer_get_option(t, AIS_TOKENIZER_LOWERCASE, &v));
    assert_int_equal(v, 0);
    /* truncation 5 from the file, cut on the left, padded on the left to a multiple of 4 */
    const char *texts[] = {"a a A a a", "a"};
    const int64_t want[] = {3, 3, 3, 9, 0, 1, 1, 7, 3, 3, 3, 3, 3, 9, 1, 7};
    ais_tensor *ids = NULL, *mask = NULL;
    AIS_ASSERT_OK(ais_tokenizer_encode_batch(t, texts, NULL, NULL, NULL, 2, 0, AIS_TEXT_PAD_LONGEST,
                                             AIS_TEXT_TRUNCATE_LONGEST_FIRST, &ids, &mask, NULL));
    assert_int_equal(ais_tensor_shape(ids)[1], 8);
    const int64_t *p = ais_tensor_data(ids);
    /* the last three words of "a a A a a" are kept: "A" is [UNK] (id 0) without lowercasing */
    for (int k = 0; k < 16; k++) {
        assert_int_equal(p[k], want[k]);
        assert_int_equal(((const int64_t *)ais_tensor_data(mask))[k],
                         k < 3 || (k >= 8 && k < 13) ? 0 : 1);
    }
    ais_tensor_destroy(ids);
    ais_tensor_destroy(mask);
    ais_tokenizer_destroy(t);

    expect_load_error("{\"model\": ", AIS_E_FORMAT, "not valid JSON");
    expect_load_error("{" MODEL_OK ",\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
                      "\"added_tokens\":[{\"id\":1,\"content\":\"a\",\"normalized\":true}]}",
                      AIS_E_UNSUPPORTED, "added_tokens[0]");
    expect_load_error("{\"model\":{\"type\":\"BPE\",\"vocab\":{}}}", AIS_E_UNSUPPORTED,
                      "model.type \"BPE\"");
    expect_load_error("{\"model\":{\"type\":\"Unigram\"}}", AIS_E_UNSUPPORTED, "Unigram");
    expect_load_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":1}}}", AIS_E_FORMAT,
                      "[UNK]");
    expect_load_error("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":-1}}}", AIS_E_FORMAT,
                      "model.vocab");
    expect_load_error("{" MODEL_OK ",\"normalizer\":{\"type\":\"NFKC\"}}", AIS_E_UNSUPPORTED,
                      "normalizer.type \"NFKC\"");
    expect_load_error("{" MODEL_OK ",\"normalizer\":null,\"pre_tokenizer\":{\"type\":"
                      "\"Metaspace\"}}",
                      AIS_E_UNSUPPORTED, "pre_tokenizer.type");
    expect_load_error("{" MODEL_OK ",\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
                      "\"post_processor\":{\"type\":\"RobertaProcessing\"}}",
                      AIS_E_UNSUPPORTED, "post_processor.type");
    expect_load_error("{" MODEL_OK ",\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
                      "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{"
                      "\"SpecialToken\":{\"id\":\"[X]\"}}],\"pair\":[],\"special_tokens\":{}}}",
                      AIS_E_FORMAT, "[X]");
    expect_load_error("{" MODEL_OK ",\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":"
                      "3}}",
                      AIS_E_FORMAT, "normalizer.lowercase");
    /* vocab.txt without its special tokens names the file and the token */
    expect_load_error("[UNK]\n[CLS]\nhello\n", AIS_E_FORMAT, "\"[SEP]\"");
    expect_load_error("[CLS]\n[SEP]\n", AIS_E_FORMAT, "\"[UNK]\"");
    expect_load_error("a\na\n", AIS_E_FORMAT, "twice");
    expect_load_error("\xff\n", AIS_E_FORMAT, "invalid UTF-8");
    expect_load_error("", AIS_E_FORMAT, "empty");
    AIS_ASSERT_STATUS(ais_tokenizer_load_memory("a", 1, NULL, NULL), AIS_E_INVALID_ARGUMENT);
    AIS_ASSERT_STATUS(ais_tokenizer_load("/nonexistent/vocab.txt", &t), AIS_E_IO);
    ais_test_assert_error_contains("/nonexistent/vocab.txt");
}

static void test_load_file(void **state) {
    (void)state;
    char path[] = "/tmp/ais_test_vocab_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, VOCAB, strlen(VOCAB)), (ssize_t)strlen(VOCAB));
    close(fd);
    ais_tokenizer *t = NULL;
    AIS_ASSERT_OK(ais_tokenizer_load(path, &t));
    assert_int_equal(ais_tokenizer_vocab_size(t), 18);
    ais_tokenizer_destroy(t);
    unlink(path);
}

typedef struct sweep_ctx {
    ais_tokenizer *t;
    ais_tensor *ids, *mask, *types;
} sweep_ctx;

static ais_status sweep_fn(void *ctx) {
    sweep_ctx *s = ctx;
    static const char json[] =
        "{" MODEL_OK ",\"normalizer\":{\"type\":\"BertNormalizer\"},\"pre_tokenizer\":{\"type\":"
        "\"BertPreTokenizer\"},\"post_processor\":null}";
    ais_status st = ais_tokenizer_load_memory(json, strlen(json), "tok.json", &s->t);
    if (st != AIS_OK) return st;
    ais_tokenizer_destroy(s->t);
    s->t = NULL;
    st = ais_tokenizer_load_memory(VOCAB, strlen(VOCAB), "vocab.txt", &s->t);
    if (st != AIS_OK) return st;
    const char *texts[] = {"Hello, caf\xc3\xa9 unaffable \xe6\x9d\xb1 x\xcc\x81\xcc\xa3y", "a"};
    const char *pairs[] = {"b b", NULL};
    return ais_tokenizer_encode_batch(s->t, texts, NULL, pairs, NULL, 2, 32,
                                      AIS_TEXT_PAD_MAX_LENGTH, AIS_TEXT_TRUNCATE_LONGEST_FIRST,
                                      &s->ids, &s->mask, &s->types);
}

static void sweep_cleanup(void *ctx) {
    sweep_ctx *s = ctx;
    ais_tokenizer_destroy(s->t);
    ais_tensor_destroy(s->ids);
    ais_tensor_destroy(s->mask);
    ais_tensor_destroy(s->types);
    memset(s, 0, sizeof *s);
}

static void test_alloc_failure_sweep(void **state) {
    (void)state;
    sweep_ctx s = {0};
    long n = ais_test_oom_sweep("tokenizer load/encode", sweep_fn, sweep_cleanup, &s, 200);
    assert_true(n >= 8);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_basics),  cmocka_unit_test(test_pairs_truncation_padding),
        cmocka_unit_test(test_options),       cmocka_unit_test(test_bad_utf8_and_nul),
        cmocka_unit_test(test_ten_megabytes), cmocka_unit_test(test_json_reader),
        cmocka_unit_test(test_load_file),     cmocka_unit_test(test_alloc_failure_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
