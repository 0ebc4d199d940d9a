/* test_text_pipeline.c - text pipelines (issue 14 item 2): the "text" input kind and its tokenize
 * step in the spec, ais_text_convert (tokenizer + model + pooling in one .ais file), records of
 * raw text through the session's record APIs against pooling computed here, and bad input:
 * invalid UTF-8, NUL, non-string values, a 10 MB text, wrong models and tokenizers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/model.h"
#include "test_util.h"

/* ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 hello=4 world=5 ,=6 !=7 ##s=8 */
static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\n,\n!\n##s\n";
#define V 9
#define H 3

static float emb[V][H];
static float temb[2][H];

static const char *write_vocab(const char *name, const char *text) {
    const char *path = ais_test_tmp_path(name);
    ais_test_spit(path, text, strlen(text));
    return path;
}

/* h = emb[input_ids] + temb[token_type_ids] ([batch, tokens, H]), saved as .ais; with_types
 * false: no token_type_ids input. */
static const char *write_model(const char *name, bool with_types, bool with_mask) {
    for (int i = 0; i < V; i++)
        for (int j = 0; j < H; j++)
            emb[i][j] = (float)ais_test_uniform(-1, 1);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < H; j++)
            temb[i][j] = (float)ais_test_uniform(-1, 1);
    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 17));
    ais_test_graph_input(g, "input_ids", AIS_DTYPE_I64, (const int64_t[]){-1, -1}, 2, NULL);
    if (with_mask)
        ais_test_graph_input(g, "attention_mask", AIS_DTYPE_I64, (const int64_t[]){-1, -1}, 2,
                             NULL);
    double e[V * H], t[2 * H];
    for (int i = 0; i < V * H; i++)
        e[i] = emb[i / H][i % H];
    for (int i = 0; i < 2 * H; i++)
        t[i] = temb[i / H][i % H];
    ais_test_graph_const(g, "emb", ais_test_tensor(AIS_DTYPE_F32, (const int64_t[]){V, H}, 2, e));
    if (with_types) {
        ais_test_graph_input(g, "token_type_ids", AIS_DTYPE_I64, (const int64_t[]){-1, -1}, 2,
                             NULL);
        ais_test_graph_const(g, "temb",
                             ais_test_tensor(AIS_DTYPE_F32, (const int64_t[]){2, H}, 2, t));
        ais_test_graph_node(g, "g1", "Gather", "emb", "input_ids", "e1");
        ais_test_graph_node(g, "g2", "Gather", "temb", "token_type_ids", "e2");
        ais_test_graph_node(g, "add", "Add", "e1", "e2", "last_hidden_state");
    } else {
        ais_test_graph_node(g, "g1", "Gather", "emb", "input_ids", "last_hidden_state");
    }
    ais_test_graph_output(g, "last_hidden_state");
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(g, NULL, &m));
    const char *path = ais_test_tmp_path(name);
    AIS_ASSERT_OK(ais_model_save(m, path, NULL));
    ais_model_destroy(m);
    return path;
}

static ais_status convert(const char *model, const char *tok, const char *out, int64_t max_length,
                          ais_text_pooling pooling, int normalize) {
    ais_options *o = NULL;
    AIS__CHECK(ais_options_create(&o));
    ais_status st = ais_options_set_int(o, AIS_OPT_TEXT_MAX_LENGTH, max_length);
    if (st == AIS_OK) st = ais_options_set_int(o, AIS_OPT_TEXT_POOLING, pooling);
    if (st == AIS_OK) st = ais_options_set_int(o, AIS_OPT_TEXT_NORMALIZE, normalize);
    if (st == AIS_OK) st = ais_text_convert(model, tok, out, o);
    ais_options_destroy(o);
    return st;
}

/* The pooled embedding of one row of ids (all type 0), as sentence-transformers computes it. */
static void pooled(const int64_t *ids, size_t n, ais_text_pooling pooling, int normalize,
                   double out[H]) {
    for (int j = 0; j < H; j++) {
        double s = 0;
        for (size_t k = 0; k < n; k++)
            s += (double)emb[ids[k]][j] + temb[0][j];
        out[j] =
            pooling == AIS_TEXT_POOLING_CLS ? (double)emb[ids[0]][j] + temb[0][j] : s / (double)n;
    }
    if (normalize) {
        double ss = 0;
        for (int j = 0; j < H; j++)
            ss += out[j] * out[j];
        for (int j = 0; j < H; j++)
            out[j] /= fmax(sqrt(ss), 1e-12);
    }
}

static void test_convert_and_run(void **state) {
    (void)state;
    const char *model = write_model("t.ais", true, true);
    const char *tok = write_vocab("vocab.txt", vocab);
    /* rows: "hello worlds!" -> [CLS] hello world ##s ! [SEP]; "HELLO" -> [CLS] hello [SEP];
     * "" -> [CLS] [SEP]; max_length 5 cuts the first to [CLS] hello world ##s [SEP]. */
    static const int64_t r0[] = {2, 4, 5, 8, 7, 3}, r0cut[] = {2, 4, 5, 8, 3}, r1[] = {2, 4, 3},
                         r2[] = {2, 3};
    for (int variant = 0; variant < 4; variant++) {
        ais_text_pooling pooling = variant & 1 ? AIS_TEXT_POOLING_CLS : AIS_TEXT_POOLING_MEAN;
        int normalize = variant >= 2;
        int64_t max_length = variant == 3 ? 5 : 16;
        const char *out = ais_test_tmp_path("text.ais");
        AIS_ASSERT_OK(convert(model, tok, out, max_length, pooling, normalize));
        ais_model *m = NULL;
        AIS_ASSERT_OK(ais_model_load(out, NULL, &m));
        assert_int_equal(ais_model_output_count(m), 1);
        const char *oname;
        AIS_ASSERT_OK(ais_model_output_info(m, 0, &oname, NULL, NULL, NULL));
        assert_string_equal(oname, "sentence_embedding");
        const ais_pipeline *p = ais_model_pipeline(m);
        assert_non_null(p);
        ais_feature_kind kind;
        const char *iname;
        AIS_ASSERT_OK(ais_pipeline_input_info(p, 0, &iname, &kind));
        assert_string_equal(iname, "text");
        assert_int_equal(kind, AIS_FEATURE_TEXT);
        assert_int_equal(ais_pipeline_output_width(p), 0);

        ais_session *s = NULL;
        AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
        const char *jsonl = "{\"text\": \"hello worlds!\"}\n{\"text\": \"HELLO\"}\n\n"
                            "{\"text\": \"\"}\n";
        ais_tensor *y = NULL;
        AIS_ASSERT_OK(ais_session_run_json_rows(s, jsonl, strlen(jsonl), NULL, &y, 1, NULL));
        assert_int_equal(ais_tensor_ndim(y), 2);
        assert_int_equal(ais_tensor_shape(y)[0], 3);
        assert_int_equal(ais_tensor_shape(y)[1], H);
        double want[3 * H];
        pooled(variant == 3 ? r0cut : r0, variant == 3 ? 5 : 6, pooling, normalize, want);
        pooled(r1, 3, pooling, normalize, want + H);
        pooled(r2, 2, pooling, normalize, want + 2 * H);
        ais_test_assert_close_values(y, want, 3 * H, 1e-6, 1e-6);

        /* The same rows as records, CSV and a string column give the same bytes. */
        ais_field f[3] = {{"text", AIS_VALUE_STRING, 0, "hello worlds!"},
                          {"text", AIS_VALUE_STRING, 0, "HELLO"},
                          {"text", AIS_VALUE_STRING, 0, ""}};
        const ais_field *rows[3] = {&f[0], &f[1], &f[2]};
        const size_t nf[3] = {1, 1, 1};
        ais_tensor *y2 = NULL, *y3 = NULL, *y4 = NULL;
        AIS_ASSERT_OK(ais_session_run_records(s, rows, nf, 3, NULL, &y2, 1, NULL));
        /* (an empty CSV cell is a missing value; a blank is a text of no words) */
        const char *csv = "text\nhello worlds!\nHELLO\n\" \"\n";
        AIS_ASSERT_OK(ais_session_run_csv(s, csv, strlen(csv), NULL, &y3, 1, NULL));
        const char *strs[3] = {"hello worlds!", "HELLO", " "};
        ais_tensor *col = NULL;
        AIS_ASSERT_OK(ais_tensor_create_strings((const int64_t[]){3}, 1, strs, &col));
        const char *cname = "text";
        AIS_ASSERT_OK(ais_session_run_columns(s, &cname, (const ais_tensor *const *)&col, 1, NULL,
                                              &y4, 1, NULL));
        ais_tensor *ys[3] = {y2, y3, y4};
        for (int k = 0; k < 3; k++)
            assert_memory_equal(ais_tensor_data(ys[k]), ais_tensor_data(y), 3 * H * sizeof(float));
        ais_tensor_destroy(col);
        ais_tensor_destroy(y);
        ais_tensor_destroy(y2);
        ais_tensor_destroy(y3);
        ais_tensor_destroy(y4);

        /* The pipeline's own run functions refuse: a text pipeline has no feature tensor. */
        ais_tensor *feat = NULL;
        assert_int_equal(ais_pipeline_run_json_rows(p, jsonl, strlen(jsonl), &feat, NULL),
                         AIS_E_UNSUPPORTED);
        ais_test_assert_error_contains("session");
        assert_int_equal(ais_pipeline_run_csv(p, csv, strlen(csv), &feat, NULL), AIS_E_UNSUPPORTED);
        ais_session_destroy(s);
        ais_model_destroy(m);
    }
}

/* A model without token_type_ids: the pipeline feeds only what the model takes. */
static void test_model_without_types(void **state) {
    (void)state;
    const char *model = write_model("nt.ais", false, true);
    const char *tok = write_vocab("vocab.txt", vocab);
    const char *out = ais_test_tmp_path("nt_text.ais");
    AIS_ASSERT_OK(convert(model, tok, out, 8, AIS_TEXT_POOLING_MEAN, 0));
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(out, NULL, &m));
    assert_int_equal(ais_model_input_count(m), 2);
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    const char *jsonl = "{\"text\": \"world\"}\n";
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_session_run_json_rows(s, jsonl, strlen(jsonl), NULL, &y, 1, NULL));
    double want[H];
    for (int j = 0; j < H; j++)
        want[j] = ((double)emb[2][j] + emb[5][j] + emb[3][j]) / 3;
    ais_test_assert_close_values(y, want, H, 1e-6, 1e-6);
    ais_tensor_destroy(y);
    ais_session_destroy(s);
    ais_model_destroy(m);
    /* Mean pooling needs the mask; CLS pooling does not. */
    const char *nomask = write_model("nm.ais", false, false);
    assert_int_equal(convert(nomask, tok, out, 8, AIS_TEXT_POOLING_MEAN, 0),
                     AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("attention_mask");
    AIS_ASSERT_OK(convert(nomask, tok, out, 8, AIS_TEXT_POOLING_CLS, 0));
}

/* Sentence pairs: a second text input named by the step's "pair" (a cross-encoder's query and
 * passage), through ais_model_save_with_pipeline on a model without pooling. */
static void test_pairs(void **state) {
    (void)state;
    const char *model = write_model("p.ais", true, true);
    static const char spec[] =
        "{\"version\":1,\"inputs\":[{\"name\":\"q\",\"type\":\"text\"},{\"name\":\"d\","
        "\"type\":\"text\",\"missing\":\"allow\"}],\"features\":[{\"input\":\"q\",\"steps\":[{"
        "\"op\":\"tokenize\",\"pair\":\"d\",\"max_length\":16,\"tokenizer\":"
        "\"[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\nhello\\nworld\\n,\\n!\\n##s\\n\"}]}]}";
    ais_pipeline *p = NULL;
    AIS_ASSERT_OK(ais_pipeline_create_from_json(spec, strlen(spec), &p));
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(model, NULL, &m));
    const char *out = ais_test_tmp_path("pairs.ais");
    AIS_ASSERT_OK(ais_model_save_with_pipeline(m, p, out, NULL));
    ais_model_destroy(m);
    ais_pipeline_destroy(p);
    AIS_ASSERT_OK(ais_model_load(out, NULL, &m));
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    /* [CLS] hello [SEP] world ##s [SEP] (types 0 0 0 1 1 1), and [CLS] world [SEP] padded */
    const char *jsonl = "{\"q\": \"hello\", \"d\": \"worlds\"}\n{\"q\": \"world\"}\n";
    ais_tensor *y = NULL;
    AIS_ASSERT_OK(ais_session_run_json_rows(s, jsonl, strlen(jsonl), NULL, &y, 1, NULL));
    assert_int_equal(ais_tensor_ndim(y), 3);
    assert_int_equal(ais_tensor_shape(y)[1], 6);
    static const int64_t ids[2][6] = {{2, 4, 3, 5, 8, 3}, {2, 5, 3, 0, 0, 0}};
    static const int types[2][6] = {{0, 0, 0, 1, 1, 1}, {0, 0, 0, 0, 0, 0}};
    double want[2 * 6 * H];
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 6; k++)
            for (int j = 0; j < H; j++)
                want[(r * 6 + k) * H + j] = (double)emb[ids[r][k]][j] + temb[types[r][k]][j];
    ais_test_assert_close_values(y, want, 2 * 6 * H, 1e-6, 1e-6);
    ais_tensor_destroy(y);
    /* the first text may not be missing */
    const char *bad = "{\"d\": \"hello\"}\n";
    ais_pipeline_errors *e = NULL;
    assert_int_equal(ais_session_run_json_rows(s, bad, strlen(bad), NULL, &y, 1, &e), AIS_E_SCHEMA);
    assert_string_equal(ais_pipeline_errors_field(e, 0), "q");
    ais_pipeline_errors_destroy(e);
    ais_session_destroy(s);
    ais_model_destroy(m);
    /* a second input that no "pair" names, or a pair that is no text input */
    static const char nopair[] =
        "{\"version\":1,\"inputs\":[{\"name\":\"q\",\"type\":\"text\"},{\"name\":\"d\","
        "\"type\":\"text\"}],\"features\":[{\"input\":\"q\",\"steps\":[{\"op\":"
        "\"tokenize\",\"max_length\":16,\"tokenizer\":\"[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n\"}]}]}";
    assert_int_equal(ais_pipeline_create_from_json(nopair, strlen(nopair), &p), AIS_E_FORMAT);
    ais_test_assert_error_contains("\"pair\"");
    static const char selfpair[] =
        "{\"version\":1,\"inputs\":[{\"name\":\"q\",\"type\":\"text\"}],\"features\":[{"
        "\"input\":\"q\",\"steps\":[{\"op\":\"tokenize\",\"pair\":\"q\",\"max_length\":16,"
        "\"tokenizer\":\"[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n\"}]}]}";
    assert_int_equal(ais_pipeline_create_from_json(selfpair, strlen(selfpair), &p), AIS_E_FORMAT);
    ais_test_assert_error_contains(".pair");
}

static void test_bad_records(void **state) {
    (void)state;
    const char *model = write_model("b.ais", true, true);
    const char *tok = write_vocab("vocab.txt", vocab);
    const char *out = ais_test_tmp_path("b_text.ais");
    AIS_ASSERT_OK(convert(model, tok, out, 8, AIS_TEXT_POOLING_MEAN, 0));
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais_model_load(out, NULL, &m));
    ais_session *s = NULL;
    AIS_ASSERT_OK(ais_session_create(m, NULL, &s));
    /* row 1 invalid UTF-8, row 2 a NUL escape, row 3 a number, row 4 no text, row 5 a typo */
    const char *jsonl = "{\"text\": \"hello\"}\n"
                        "{\"text\": \"bad \xff byte\"}\n"
                        "{\"text\": \"a\\u0000b\"}\n"
                        "{\"text\": 3}\n"
                        "{}\n"
                        "{\"txt\": \"hello\"}\n";
    ais_tensor *y = NULL;
    ais_pipeline_errors *e = NULL;
    assert_int_equal(ais_session_run_json_rows(s, jsonl, strlen(jsonl), NULL, &y, 1, &e),
                     AIS_E_SCHEMA);
    assert_null(y);
    ais_test_assert_error_contains("row 1");
    ais_test_assert_error_contains("text");
    assert_true(ais_pipeline_errors_count(e) >= 5);
    bool rows[6] = {false};
    for (size_t i = 0; i < ais_pipeline_errors_count(e); i++) {
        size_t r = ais_pipeline_errors_row(e, i);
        assert_true(r >= 1 && r <= 5);
        rows[r] = true;
        if (r == 1) {
            assert_string_equal(ais_pipeline_errors_field(e, i), "text");
            assert_non_null(strstr(ais_pipeline_errors_message(e, i), "invalid UTF-8 at byte 4"));
        }
        if (r == 3) assert_non_null(strstr(ais_pipeline_errors_message(e, i), "expected a string"));
    }
    for (int r = 1; r <= 5; r++)
        assert_true(rows[r]);
    ais_pipeline_errors_destroy(e);

    /* A 10 MB text is cut to max_length tokens, not refused and not copied into a huge
     * tensor. */
    size_t big = (size_t)10 << 20;
    char *text = malloc(big + 1);
    assert_non_null(text);
    for (size_t i = 0; i < big; i++)
        text[i] = i % 6 == 5 ? ' ' : "hello"[i % 6];
    text[big] = 0;
    ais_field f = {"text", AIS_VALUE_STRING, 0, text};
    const ais_field *row = &f;
    const size_t one = 1;
    AIS_ASSERT_OK(ais_session_run_records(s, &row, &one, 1, NULL, &y, 1, NULL));
    double want[H];
    for (int j = 0; j < H; j++)
        want[j] = ((double)emb[2][j] + 6 * emb[4][j] + emb[3][j]) / 8 + temb[0][j];
    ais_test_assert_close_values(y, want, H, 1e-6, 1e-6);
    ais_tensor_destroy(y);
    free(text);
    ais_session_destroy(s);
    ais_model_destroy(m);
}

static void test_bad_spec_and_convert(void **state) {
    (void)state;
    ais_pipeline *p = NULL;
    static const struct {
        const char *spec, *needle;
    } bad[] = {
        {"{\"version\":1,\"inputs\":[{\"name\":\"t\",\"type\":\"text\"},{\"name\":\"x\","
         "\"type\":\"numeric\"}],\"features\":[{\"input\":\"t\",\"steps\":[{\"op\":"
         "\"tokenize\",\"max_length\":8,\"tokenizer\":\"[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n\"}]}]}",
         "one input"},
        {"{\"version\":1,\"inputs\":[{\"name\":\"t\",\"type\":\"text\"}],\"features\":[{"
         "\"input\":\"t\",\"steps\":[{\"op\":\"onehot\",\"tokenizer\":\"x\"}]}]}",
         "tokenize"},
        {"{\"version\":1,\"inputs\":[{\"name\":\"t\",\"type\":\"text\"}],\"features\":[{"
         "\"input\":\"t\",\"steps\":[{\"op\":\"tokenize\",\"tokenizer\":"
         "\"[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n\"}]}]}",
         "max_length: required"},
        {"{\"version\":1,\"inputs\":[{\"name\":\"t\",\"type\":\"text\"}],\"features\":[{"
         "\"input\":\"t\",\"steps\":[{\"op\":\"tokenize\",\"max_length\":2,\"tokenizer\":"
         "\"[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n\"}]}]}",
         "no room"},
        {"{\"version\":1,\"inputs\":[{\"name\":\"t\",\"type\":\"text\"}],\"features\":[{"
         "\"input\":\"t\",\"steps\":[{\"op\":\"tokenize\",\"max_length\":8,\"tokenizer\":"
         "\"[PAD]\\nhello\\n\"}]}]}",
         "[UNK]"},
        {"{\"version\":1,\"inputs\":[{\"name\":\"t\",\"type\":\"text\"}],\"features\":[{"
         "\"input\":\"t\",\"steps\":[{\"op\":\"tokenize\",\"tokenizer\":{\"model\":{\"type\":"
         "\"BPE\"}}}]}]}",
         "BPE"},
        {"{\"version\":1,\"inputs\":[{\"name\":\"t\",\"type\":\"text\"}],\"features\":[{"
         "\"input\":\"t\",\"steps\":[{\"op\":\"tokenize\",\"max_length\":8,\"outputs\":{"
         "\"input_ids\":null},\"tokenizer\":\"[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n\"}]}]}",
         "input_ids"},
        {"{\"version\":1,\"inputs\":[{\"name\":\"t\",\"type\":\"text\"}],\"features\":[{"
         "\"input\":\"t\",\"steps\":[{\"op\":\"tokenize\",\"max_length\":8,\"bogus\":1,"
         "\"tokenizer\":\"[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n\"}]}]}",
         "bogus"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ais_status st = ais_pipeline_create_from_json(bad[i].spec, strlen(bad[i].spec), &p);
        if (st == AIS_OK) fail_msg("spec %zu was accepted", i);
        assert_null(p);
        ais_test_assert_error_contains(bad[i].needle);
    }

    /* convert: a tokenizer without its specials, of another model type, a model with other
     * inputs or no token embeddings, and a model fed by numbers. */
    const char *model = write_model("c.ais", true, true);
    const char *out = ais_test_tmp_path("c_text.ais");
    const char *nospecial = write_vocab("nospecial.txt", "hello\nworld\n");
    assert_int_equal(convert(model, nospecial, out, 8, AIS_TEXT_POOLING_MEAN, 0), AIS_E_FORMAT);
    ais_test_assert_error_contains("nospecial.txt");
    const char *bpe = write_vocab("bpe.json", "{\"model\":{\"type\":\"BPE\",\"vocab\":{}}}");
    assert_int_not_equal(convert(model, bpe, out, 8, AIS_TEXT_POOLING_MEAN, 0), AIS_OK);
    ais_test_assert_error_contains("BPE");
    const char *tok = write_vocab("vocab.txt", vocab);
    assert_int_not_equal(convert(model, tok, out, 0, AIS_TEXT_POOLING_MEAN, 0), AIS_OK);
    ais_test_assert_error_contains("max_length");

    ais__graph *g = NULL;
    AIS_ASSERT_OK(ais__graph_create(&g));
    AIS_ASSERT_OK(ais__graph_set_opset(g, "", 13));
    ais_test_graph_input(g, "input_ids", AIS_DTYPE_I64, (const int64_t[]){-1, -1}, 2, NULL);
    ais_test_graph_input(g, "pixel", AIS_DTYPE_I64, (const int64_t[]){-1, -1}, 2, NULL);
    ais_test_graph_node(g, "a", "Add", "input_ids", "pixel", "y");
    ais_test_graph_output(g, "y");
    ais_model *m = NULL;
    AIS_ASSERT_OK(ais__model_from_graph(g, NULL, &m));
    const char *odd = ais_test_tmp_path("odd.ais");
    AIS_ASSERT_OK(ais_model_save(m, odd, NULL));
    ais_model_destroy(m);
    assert_int_equal(convert(odd, tok, out, 8, AIS_TEXT_POOLING_CLS, 0), AIS_E_INVALID_ARGUMENT);
    ais_test_assert_error_contains("\"pixel\" is none of the text pipeline's tensors");
    assert_int_equal(ais_text_convert(NULL, tok, out, NULL), AIS_E_INVALID_ARGUMENT);
    ais_options *o = NULL;
    AIS_ASSERT_OK(ais_options_create(&o));
    assert_int_equal(ais_options_set_int(o, AIS_OPT_TEXT_POOLING, 3), AIS_E_INVALID_ARGUMENT);
    ais_options_destroy(o);
}

static ais_status convert_once(void *ctx) {
    const char *const *paths = ctx;
    return convert(paths[0], paths[1], paths[2], 8, AIS_TEXT_POOLING_MEAN, 1);
}

static void test_oom(void **state) {
    (void)state;
    const char *paths[3] = {write_model("o.ais", true, true), write_vocab("vocab.txt", vocab),
                            ais_test_tmp_path("o_text.ais")};
    ais_test_oom_sweep("ais_text_convert", convert_once, NULL, (void *)paths, 5000);
}

int main(void) {
    ais_test_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convert_and_run),      cmocka_unit_test(test_model_without_types),
        cmocka_unit_test(test_bad_records),          cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_bad_spec_and_convert), cmocka_unit_test(test_oom),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (ais_test_tmpdir_remove() != 0) rc = rc ? rc : 1;
    return rc;
}
