/* fuzz_tokenizer.c - the tokenizer config reader (tokenizer.json / vocab.txt); a tokenizer that
 * loads must encode texts, pairs and the input itself without a crash, and give rows whose mask
 * and ids agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aistack/aistack.h>

static void encode_check(const ais_tokenizer *t, const char *const *texts, const size_t *lens,
                         const char *const *pairs, const size_t *pair_lens, size_t n,
                         int64_t max_length, ais_text_padding pad, ais_text_truncation trunc) {
    ais_tensor *ids = NULL, *mask = NULL, *types = NULL;
    if (ais_tokenizer_encode_batch(t, texts, lens, pairs, pair_lens, n, max_length, pad, trunc,
                                   &ids, &mask, &types) != AIS_OK) {
        if (ids || mask || types) {
            fprintf(stderr, "a failed encode left a tensor: %s\n", ais_last_error());
            abort();
        }
        return;
    }
    const int64_t *shape = ais_tensor_shape(ids);
    if (ais_tensor_ndim(ids) != 2 || shape[0] != (int64_t)n ||
        (pad == AIS_TEXT_PAD_MAX_LENGTH && max_length > 0 && shape[1] < max_length)) {
        fprintf(stderr, "bad output shape\n");
        abort();
    }
    const int64_t *m = ais_tensor_data(mask);
    for (size_t i = 0; i < ais_tensor_size(mask); i++)
        if (m[i] != 0 && m[i] != 1) abort();
    ais_tensor_destroy(ids);
    ais_tensor_destroy(mask);
    ais_tensor_destroy(types);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ais_tokenizer *t = NULL;
    if (ais_tokenizer_load_memory(data, size, "fuzz", &t) != AIS_OK) {
        if (t) abort();
        return 0;
    }
    static const char *texts[] = {"Hello, World! caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac",
                                  "unaffable \xf0\x9f\x98\x80 a\xcc\x81\xcc\xa3", "", "   ",
                                  "[CLS] [UNK] ##a ## #"};
    static const char *pairs[] = {"second", NULL, "x y z", "", "\xe2\x80\x8b"};
    encode_check(t, texts, NULL, NULL, NULL, 5, 0, AIS_TEXT_PAD_LONGEST, AIS_TEXT_TRUNCATE_NONE);
    encode_check(t, texts, NULL, pairs, NULL, 5, 7, AIS_TEXT_PAD_MAX_LENGTH,
                 AIS_TEXT_TRUNCATE_LONGEST_FIRST);
    encode_check(t, texts, NULL, pairs, NULL, 5, 4, AIS_TEXT_PAD_LONGEST,
                 AIS_TEXT_TRUNCATE_ONLY_FIRST);
    /* the input as a text: the UTF-8 check and the normalizer see arbitrary bytes */
    const char *self[] = {(const char *)data};
    size_t len[] = {size};
    encode_check(t, self, len, NULL, NULL, 1, 0, AIS_TEXT_PAD_LONGEST, AIS_TEXT_TRUNCATE_NONE);
    ais_tokenizer_set_option(t, AIS_TOKENIZER_LOWERCASE, 0);
    ais_tokenizer_set_option(t, AIS_TOKENIZER_STRIP_ACCENTS, 1);
    encode_check(t, self, len, self, len, 1, 9, AIS_TEXT_PAD_LONGEST,
                 AIS_TEXT_TRUNCATE_LONGEST_FIRST);
    ais_tokenizer_destroy(t);
    return 0;
}
