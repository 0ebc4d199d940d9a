/*
 * model_text.c - text models: a transformer and its tokenizer in one .ais file that takes raw
 * text and gives sentence embeddings (ais_text_convert), and the check that a text pipeline fits
 * the model it feeds.
 *
 * The pooling is appended to the graph as ordinary ONNX nodes at convert time, not run as a
 * pipeline post-step: the pipeline stays "records -> the model's input tensors" and the graph
 * "tensors -> outputs", so the file's one output is the embedding whichever way it is run
 * (records, or ais_session_run on token tensors), every backend runs the pooling like any other
 * node, `aistack info` shows it, and the pipeline needs no notion of model outputs.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "format/format.h"
#include "model.h"
#include "pipeline/pipeline.h"
#include "tensor/tensor.h"
#include "text/text.h"

ais_status ais__text_target(const ais__graph *g, const ais_pipeline *p, const char *who,
                            int32_t *input) {
    for (size_t i = 0; i < g->n_inputs; i++) {
        const ais__value *v = &g->values[g->inputs[i]];
        bool fed = false;
        for (int k = 0; k < AIS__PL_TEXT_N; k++) {
            const char *t = ais__pipeline_text_target(p, k);
            if (t && strcmp(t, v->name) == 0) fed = true;
        }
        if (!fed)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "%s: model input \"%s\" is none of the text pipeline's tensors "
                              "(input_ids, attention_mask, token_type_ids as its spec names them)",
                              who, v->name);
        if (v->dtype != AIS_DTYPE_I64)
            return ais__error(AIS_E_DTYPE,
                              "%s: model input \"%s\" is %s, the text pipeline gives int64 token "
                              "tensors",
                              who, v->name, ais_dtype_name(v->dtype));
        if (v->ndim >= 0 && v->ndim != 2)
            return ais__error(AIS_E_SHAPE,
                              "%s: model input \"%s\" has %d dimensions, the text pipeline gives "
                              "[rows, tokens]",
                              who, v->name, (int)v->ndim);
    }
    *input = -1;
    for (int k = 0; k < AIS__PL_TEXT_N; k++) {
        const char *t = ais__pipeline_text_target(p, k);
        if (!t) continue;
        int32_t idx = ais__graph_find(g, t);
        if (idx < 0 || !(g->values[idx].flags & AIS__VALUE_INPUT))
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "%s: the text pipeline feeds \"%s\", which is no model input", who,
                              t);
        if (k == AIS__PL_TEXT_IDS) *input = idx;
    }
    return AIS_OK;
}

/* ---- the pooling nodes ---- */

typedef struct {
    ais__graph *g;
    int64_t opset;
    int n; /* nodes added, for unique names */
} pool_builder;

static ais_status add_node(pool_builder *b, const char *op, ais_attrs *attrs, const char *const *in,
                           size_t n_in, const char *out) {
    char name[64];
    snprintf(name, sizeof name, "sentence_embedding/%s_%d", op, b->n++);
    return ais__graph_add_node(b->g, name, op, "", attrs, in, n_in, &out, 1, NULL);
}

static ais_status add_const(pool_builder *b, const char *name, ais_dtype dt, const void *data,
                            size_t n, bool scalar) {
    ais_tensor *t = NULL;
    int64_t dims[1] = {(int64_t)n};
    AIS__CHECK(ais__tensor_new(dt, dims, scalar ? 0 : 1, &t));
    memcpy(ais_tensor_data(t), data, n * ais_dtype_size(dt));
    int32_t v;
    ais_status st = ais__graph_value(b->g, name, &v);
    if (st != AIS_OK) {
        ais_tensor_destroy(t);
        return st;
    }
    return ais__graph_set_constant(b->g, v, t);
}

/* ReduceSum over axis `axis`: the axes are an input from opset 13, an attribute before. */
static ais_status reduce_sum(pool_builder *b, const char *x, int64_t axis, int keepdims,
                             const char *out) {
    ais_attrs *a = NULL;
    AIS__CHECK(ais_attrs_create(&a));
    ais_status st = ais_attrs_set_int(a, "keepdims", keepdims);
    if (st == AIS_OK && b->opset < 13) st = ais_attrs_set_ints(a, "axes", &axis, 1);
    if (st != AIS_OK) {
        ais_attrs_destroy(a);
        return st;
    }
    const char *ax = axis == 1 ? "sentence_embedding/axis1" : "sentence_embedding/axis-1";
    const char *in[2] = {x, ax};
    return add_node(b, "ReduceSum", a, in, b->opset < 13 ? 1 : 2, out);
}

static ais_status unsqueeze_last(pool_builder *b, const char *x, const char *out) {
    ais_attrs *a = NULL;
    if (b->opset < 13) {
        int64_t axis = -1;
        AIS__CHECK(ais_attrs_create(&a));
        ais_status st = ais_attrs_set_ints(a, "axes", &axis, 1);
        if (st != AIS_OK) {
            ais_attrs_destroy(a);
            return st;
        }
    }
    const char *in[2] = {x, "sentence_embedding/axis-1"};
    return add_node(b, "Unsqueeze", a, in, b->opset < 13 ? 1 : 2, out);
}

static ais_status binary(pool_builder *b, const char *op, const char *x, const char *y,
                         const char *out) {
    const char *in[2] = {x, y};
    return add_node(b, op, NULL, in, 2, out);
}

/* Appends sentence_embedding = pool(h) (and its L2 normalization) to g, where h is the token
 * embeddings [batch, tokens, hidden], as sentence-transformers computes them: mean =
 * sum(h * mask) / max(sum(mask), 1e-9); normalize = x / max(||x||_2, 1e-12). */
static ais_status add_pooling(ais__graph *g, const char *h, const char *mask,
                              ais_text_pooling pooling, bool normalize) {
    pool_builder b = {g, ais__graph_opset(g, ""), 0};
    if (b.opset <= 0) b.opset = 13;
    const int64_t axis1 = 1, axism1 = -1, zero = 0;
    const float eps_mean = 1e-9f, eps_norm = 1e-12f;
    AIS__CHECK(add_const(&b, "sentence_embedding/axis1", AIS_DTYPE_I64, &axis1, 1, false));
    AIS__CHECK(add_const(&b, "sentence_embedding/axis-1", AIS_DTYPE_I64, &axism1, 1, false));
    const char *pooled = normalize ? "sentence_embedding/pooled" : "sentence_embedding";
    if (pooling == AIS_TEXT_POOLING_CLS) {
        AIS__CHECK(add_const(&b, "sentence_embedding/first", AIS_DTYPE_I64, &zero, 1, true));
        ais_attrs *a = NULL;
        AIS__CHECK(ais_attrs_create(&a));
        ais_status st = ais_attrs_set_int(a, "axis", 1);
        if (st != AIS_OK) {
            ais_attrs_destroy(a);
            return st;
        }
        const char *in[2] = {h, "sentence_embedding/first"};
        AIS__CHECK(add_node(&b, "Gather", a, in, 2, pooled));
    } else {
        AIS__CHECK(add_const(&b, "sentence_embedding/eps_mean", AIS_DTYPE_F32, &eps_mean, 1, true));
        ais_attrs *a = NULL;
        AIS__CHECK(ais_attrs_create(&a));
        ais_status st = ais_attrs_set_int(a, "to", 1); /* TensorProto FLOAT */
        if (st != AIS_OK) {
            ais_attrs_destroy(a);
            return st;
        }
        const char *in[1] = {mask};
        AIS__CHECK(add_node(&b, "Cast", a, in, 1, "sentence_embedding/mask_f"));
        AIS__CHECK(unsqueeze_last(&b, "sentence_embedding/mask_f", "sentence_embedding/mask3"));
        AIS__CHECK(binary(&b, "Mul", h, "sentence_embedding/mask3", "sentence_embedding/masked"));
        AIS__CHECK(reduce_sum(&b, "sentence_embedding/masked", 1, 0, "sentence_embedding/sum"));
        AIS__CHECK(reduce_sum(&b, "sentence_embedding/mask3", 1, 0, "sentence_embedding/count"));
        AIS__CHECK(binary(&b, "Max", "sentence_embedding/count", "sentence_embedding/eps_mean",
                          "sentence_embedding/count_c"));
        AIS__CHECK(
            binary(&b, "Div", "sentence_embedding/sum", "sentence_embedding/count_c", pooled));
    }
    if (normalize) {
        AIS__CHECK(add_const(&b, "sentence_embedding/eps_norm", AIS_DTYPE_F32, &eps_norm, 1, true));
        AIS__CHECK(binary(&b, "Mul", pooled, pooled, "sentence_embedding/sq"));
        AIS__CHECK(reduce_sum(&b, "sentence_embedding/sq", -1, 1, "sentence_embedding/sumsq"));
        const char *in[1] = {"sentence_embedding/sumsq"};
        AIS__CHECK(add_node(&b, "Sqrt", NULL, in, 1, "sentence_embedding/norm"));
        AIS__CHECK(binary(&b, "Max", "sentence_embedding/norm", "sentence_embedding/eps_norm",
                          "sentence_embedding/norm_c"));
        AIS__CHECK(binary(&b, "Div", pooled, "sentence_embedding/norm_c", "sentence_embedding"));
    }
    return AIS_OK;
}

/* The token embeddings: the output Hugging Face or sentence-transformers names so, else the
 * first of rank 3 (or unknown rank) and float dtype. */
static int32_t token_embeddings(const ais__graph *g) {
    static const char *const names[] = {"last_hidden_state", "token_embeddings"};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < g->n_outputs; i++)
            if (strcmp(g->values[g->outputs[i]].name, names[k]) == 0) return g->outputs[i];
    for (size_t i = 0; i < g->n_outputs; i++) {
        const ais__value *v = &g->values[g->outputs[i]];
        if ((v->ndim == 3 || v->ndim < 0) &&
            (v->dtype == AIS_DTYPE_F32 || v->dtype == AIS_DTYPE_UNDEFINED))
            return g->outputs[i];
    }
    return -1;
}

/* The spec of the text pipeline: the tokenizer file's bytes inside a tokenize step (a
 * tokenizer.json as a JSON object, a vocab.txt as a string), feeding the model inputs that
 * exist. */
static ais_status text_spec(const ais__graph *g, const char *tok_path, const ais__file *f,
                            int64_t max_length, char **out) {
    *out = NULL;
    size_t i = 0;
    while (i < f->size &&
           (f->data[i] == ' ' || f->data[i] == '\t' || f->data[i] == '\n' || f->data[i] == '\r'))
        i++;
    cJSON *tok = NULL;
    if (i < f->size && f->data[i] == '{') {
        tok = cJSON_ParseWithLength((const char *)f->data, f->size);
        if (!tok)
            return ais__error(AIS_E_FORMAT, "%s: not valid JSON (ais_tokenizer_load said more)",
                              tok_path);
    } else {
        char *s = ais__malloc(f->size + 1);
        if (!s) return ais__oom(f->size + 1, "vocab.txt");
        memcpy(s, f->data, f->size);
        s[f->size] = 0;
        /* A NUL byte would cut the text short in the spec: refuse rather than lose tokens. */
        if (strlen(s) != f->size) {
            ais__free(s);
            return ais__error(AIS_E_FORMAT, "%s: a NUL byte at byte %zu", tok_path, strlen(s));
        }
        tok = cJSON_CreateString(s);
        ais__free(s);
        if (!tok) return ais__oom(f->size, "vocab.txt as JSON");
    }
    cJSON *root = cJSON_CreateObject(), *inputs = cJSON_AddArrayToObject(root, "inputs");
    cJSON *in = cJSON_CreateObject(), *features = cJSON_AddArrayToObject(root, "features");
    cJSON *blk = cJSON_CreateObject(), *step = cJSON_CreateObject(), *outs = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(in, "name", "text");
    cJSON_AddStringToObject(in, "type", "text");
    cJSON_AddItemToArray(inputs, in);
    cJSON_AddStringToObject(blk, "input", "text");
    cJSON *steps = cJSON_AddArrayToObject(blk, "steps");
    cJSON_AddStringToObject(step, "op", "tokenize");
    cJSON_AddItemToObject(step, "tokenizer", tok);
    if (max_length > 0) cJSON_AddNumberToObject(step, "max_length", (double)max_length);
    static const char *const keys[] = {"input_ids", "attention_mask", "token_type_ids"};
    for (size_t k = 0; k < 3; k++) {
        int32_t v = ais__graph_find(g, keys[k]);
        if (v >= 0 && (g->values[v].flags & AIS__VALUE_INPUT))
            cJSON_AddStringToObject(outs, keys[k], keys[k]);
        else if (k)
            cJSON_AddNullToObject(outs, keys[k]);
    }
    cJSON_AddItemToObject(step, "outputs", outs);
    cJSON_AddItemToArray(steps, step);
    cJSON_AddItemToArray(features, blk);
    *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return *out ? AIS_OK : ais__oom(f->size, "text pipeline spec");
}

static ais_status convert(const char *model_path, const char *tok_path, const char *out_path,
                          const ais_options *options, ais__graph **gp, ais__file **fp, char **spec,
                          ais_model **model, ais_pipeline **pipeline) {
    ais__load_opts lo;
    ais__load_opts_default(&lo);
    if (options) {
        lo.max_file_bytes = (uint64_t)ais__option(options, AIS_OPT_MAX_FILE_BYTES);
        lo.map_weights = ais__option(options, AIS_OPT_MAP_WEIGHTS) != 0;
    }
    int64_t max_length = ais__option(options, AIS_OPT_TEXT_MAX_LENGTH);
    ais_text_pooling pooling = (ais_text_pooling)ais__option(options, AIS_OPT_TEXT_POOLING);
    bool normalize = ais__option(options, AIS_OPT_TEXT_NORMALIZE) != 0;

    /* The tokenizer first: its errors name its file, and a bad one costs no model load. */
    ais_tokenizer *tok = NULL;
    AIS__CHECK(ais_tokenizer_load(tok_path, &tok));
    bool pad_left = tok->pad_left;
    ais_tokenizer_destroy(tok);
    if (pooling == AIS_TEXT_POOLING_CLS && pad_left)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s: pads on the left, so the first token is no [CLS] in every row: "
                          "CLS pooling needs right padding",
                          tok_path);
    AIS__CHECK(ais__file_open(tok_path, AIS__TOK_MAX_FILE_BYTES, false, fp));

    AIS__CHECK(ais__model_read_file(model_path, &lo, gp));
    ais__graph *g = *gp;
    int32_t h = token_embeddings(g);
    if (h < 0)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s: no output holds token embeddings (\"last_hidden_state\", "
                          "\"token_embeddings\", or a float output of rank 3)",
                          model_path);
    if (ais__graph_find(g, "sentence_embedding") >= 0)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s: the model already has a value named \"sentence_embedding\"",
                          model_path);
    int32_t mask = ais__graph_find(g, "attention_mask");
    if (pooling == AIS_TEXT_POOLING_MEAN &&
        (mask < 0 || !(g->values[mask].flags & AIS__VALUE_INPUT)))
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s: mean pooling needs the model input \"attention_mask\"", model_path);
    AIS__CHECK(add_pooling(g, g->values[h].name, "attention_mask", pooling, normalize));
    /* The embedding is the one output: the token embeddings stay an intermediate value. */
    for (size_t i = 0; i < g->n_outputs; i++)
        g->values[g->outputs[i]].flags &= ~(uint32_t)AIS__VALUE_OUTPUT;
    g->n_outputs = 0;
    int32_t out = ais__graph_find(g, "sentence_embedding");
    AIS__CHECK(ais__graph_declare(g, out, AIS_DTYPE_F32, 2,
                                  (const int64_t[]){AIS__DIM_DYNAMIC, AIS__DIM_DYNAMIC},
                                  (const char *const[]){"batch", NULL}));
    AIS__CHECK(ais__graph_add_output(g, out));

    AIS__CHECK(text_spec(g, tok_path, *fp, max_length, spec));
    AIS__CHECK(ais_pipeline_create_from_json(*spec, strlen(*spec), pipeline));
    *gp = NULL; /* ais__model_from_graph owns it, also on failure */
    AIS__CHECK(ais__model_from_graph(g, options, model));
    return ais__model_write((*model)->graph, *pipeline, out_path, options);
}

AIS_API ais_status ais_text_convert(const char *model_path, const char *tokenizer_path,
                                    const char *out_path, const ais_options *options) {
    if (!model_path || !tokenizer_path || !out_path)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "ais_text_convert: model_path, tokenizer_path or out_path is NULL");
    ais__graph *g = NULL;
    ais__file *f = NULL;
    char *spec = NULL;
    ais_model *m = NULL;
    ais_pipeline *p = NULL;
    ais_status st = convert(model_path, tokenizer_path, out_path, options, &g, &f, &spec, &m, &p);
    ais__graph_destroy(g);
    ais__file_close(f);
    cJSON_free(spec);
    ais_model_destroy(m);
    ais_pipeline_destroy(p);
    if (st != AIS_OK && !strstr(ais_last_error(), "ais_text_convert"))
        ais__error_prefix("ais_text_convert");
    return st;
}
