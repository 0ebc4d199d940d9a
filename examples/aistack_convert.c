/*
 * aistack_convert.c - `aistack convert IN OUT.ais`: writes the native format, with progress per
 * tensor.
 */
#include <aistack/aistack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aistack_tool.h"

const char tool_usage_convert[] =
    "usage: aistack convert IN OUT.ais [--compress LEVEL|none] [--pipeline SPEC.json]\n"
    "                               [--image-preprocess SPEC.json|imagenet]\n"
    "                               [--progress | --no-progress]\n"
    "       aistack convert MODEL OUT.ais --tokenizer tokenizer.json|vocab.txt [--max-length N]\n"
    "                               [--pooling mean|cls] [--normalize] [--compress ...]\n"
    "\n"
    "Loads IN (any supported format), optimizes it, and writes the native format (OUT must\n"
    "end in .ais). Progress goes to stderr, one line per tensor, when stderr is a terminal or\n"
    "with --progress (--no-progress: never). Tensor data\n"
    "is raw and memory-mappable by default (none), or zstd-compressed per tensor at LEVEL\n"
    "(1..22). --pipeline puts the feature pipeline of SPEC.json (docs/pipeline-spec.md) into\n"
    "the file, in place of any IN has; the model must have one f32 input [rows, width] whose\n"
    "width is the pipeline's. Without it, a pipeline IN carries is kept.\n"
    "\n"
    "--tokenizer makes a text model: the tokenizer goes into the file as a text pipeline and\n"
    "the transformer's token embeddings are pooled (mean over the attention mask by default,\n"
    "or the [CLS] token; --normalize: L2-normalized) into one output, sentence_embedding\n"
    "[rows, hidden]; `aistack run OUT.ais --records FILE.jsonl` then takes {\"text\": \"...\"}\n"
    "lines. --max-length: tokens per row (default: the tokenizer's truncation length).\n"
    "\n"
    "--image-preprocess puts an image pipeline (docs/pipeline-spec.md, \"Image inputs\") in\n"
    "front of the model's one image input [batch, 3, H, W]: SPEC.json, or the preset imagenet,\n"
    "torchvision's Resize(256), CenterCrop(224), ToTensor(), Normalize(ImageNet mean, std) on\n"
    "a field \"image\" (a file path, as in `aistack run OUT.ais --records images.jsonl`).\n";

/* torchvision's classifier recipe, as an image pipeline spec. */
static const char imagenet_spec[] =
    "{\"version\": 1, \"inputs\": [{\"name\": \"image\", \"type\": \"image\"}], "
    "\"features\": [{\"input\": \"image\", \"steps\": ["
    "{\"op\": \"resize\", \"size\": 256}, {\"op\": \"center_crop\", \"size\": 224}, "
    "{\"op\": \"to_tensor\"}, {\"op\": \"normalize\", \"mean\": [0.485, 0.456, 0.406], "
    "\"std\": [0.229, 0.224, 0.225]}]}]}";

/* One line per tensor on stderr; on a terminal each overwrites the last. */
static void convert_progress(void *ud, uint64_t done, uint64_t total, const char *item) {
    bool tty = *(const bool *)ud;
    fprintf(stderr, "%sconvert: tensor %llu/%llu %.60s%s", tty ? "\r\033[K" : "",
            (unsigned long long)done, (unsigned long long)total, item, tty ? "" : "\n");
    if (tty && done == total) fputc('\n', stderr);
    fflush(stderr);
}

int tool_cmd_convert(int argc, char **argv) {
    const char *src = NULL, *dst = NULL, *spec_path = NULL, *tok_path = NULL, *image_spec = NULL;
    int64_t level = 0, max_length = 0, pooling = AIS_TEXT_POOLING_MEAN, normalize = 0;
    int progress = -1; /* -1: when stderr is a terminal */
    for (int i = 0; i < argc; i++) {
        if ((!strcmp(argv[i], "--pipeline") || !strcmp(argv[i], "--compress") ||
             !strcmp(argv[i], "--tokenizer") || !strcmp(argv[i], "--max-length") ||
             !strcmp(argv[i], "--pooling") || !strcmp(argv[i], "--image-preprocess")) &&
            i + 1 == argc)
            return tool_bad_option("convert", argv[i], true, tool_usage_convert);
        if (!strcmp(argv[i], "--progress")) {
            progress = 1;
        } else if (!strcmp(argv[i], "--no-progress")) {
            progress = 0;
        } else if (!strcmp(argv[i], "--pipeline") && i + 1 < argc) {
            spec_path = argv[++i];
        } else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
            tok_path = argv[++i];
        } else if (!strcmp(argv[i], "--max-length") && i + 1 < argc) {
            char *end;
            max_length = strtoll(argv[++i], &end, 10);
            if (*end || !*argv[i] || max_length < 1 || max_length > (1 << 20)) {
                fprintf(stderr, "aistack: --max-length takes 1..1048576\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--pooling") && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "mean") && strcmp(v, "cls")) {
                fprintf(stderr, "aistack: --pooling takes mean or cls\n");
                return 2;
            }
            pooling = strcmp(v, "cls") ? AIS_TEXT_POOLING_MEAN : AIS_TEXT_POOLING_CLS;
        } else if (!strcmp(argv[i], "--normalize")) {
            normalize = 1;
        } else if (!strcmp(argv[i], "--image-preprocess") && i + 1 < argc) {
            image_spec = argv[++i];
        } else if (!strcmp(argv[i], "--compress") && i + 1 < argc) {
            const char *v = argv[++i];
            char *end;
            level = strcmp(v, "none") == 0 ? 0 : strtoll(v, &end, 10);
            if (strcmp(v, "none") != 0 && (*end || level < 1 || level > 22)) {
                fprintf(stderr, "aistack: --compress takes 1..22 or none\n");
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return tool_bad_option("convert", argv[i], false, tool_usage_convert);
        } else if (!src) {
            src = argv[i];
        } else if (!dst) {
            dst = argv[i];
        } else {
            fputs(tool_usage_convert, stderr);
            return 2;
        }
    }
    if (!src || !dst) {
        fputs(tool_usage_convert, stderr);
        return 2;
    }
    if (!tool_ends_with(dst, ".ais")) {
        /* .ais bytes under a .onnx name would fool every other tool */
        fprintf(stderr,
                "aistack convert: OUT must end in .ais (convert writes the native format), got "
                "'%s'\n",
                dst);
        return 2;
    }
    if (spec_path && image_spec) {
        fprintf(stderr, "aistack convert: --pipeline and --image-preprocess exclude each other\n");
        return 2;
    }
    bool tty = isatty(STDERR_FILENO) != 0;
    if (progress < 0) progress = tty;
    if (image_spec && tok_path) {
        fprintf(stderr, "aistack convert: --tokenizer and --image-preprocess exclude each other\n");
        return 2;
    }
    if (spec_path && tok_path) {
        fprintf(stderr, "aistack convert: --tokenizer makes the pipeline: give no --pipeline\n");
        return 2;
    }
    if (!tok_path && (max_length || normalize || pooling != AIS_TEXT_POOLING_MEAN)) {
        fprintf(stderr, "aistack convert: --max-length, --pooling and --normalize need "
                        "--tokenizer\n");
        return 2;
    }
    if (tok_path) {
        ais_options *o = NULL;
        ais_status st = ais_options_create(&o);
        if (!st) st = ais_options_set_int(o, AIS_OPT_SAVE_COMPRESSION, level);
        if (!st) st = ais_options_set_int(o, AIS_OPT_TEXT_MAX_LENGTH, max_length);
        if (!st) st = ais_options_set_int(o, AIS_OPT_TEXT_POOLING, pooling);
        if (!st) st = ais_options_set_int(o, AIS_OPT_TEXT_NORMALIZE, normalize);
        if (!st && progress) st = ais_options_set_progress(o, convert_progress, &tty);
        if (!st) st = ais_text_convert(src, tok_path, dst, o);
        ais_options_destroy(o);
        if (st) return tool_fail_status(dst, st);
        printf("wrote %s\n", dst);
        return 0;
    }
    ais_pipeline *pl = NULL;
    if (image_spec && strcmp(image_spec, "imagenet") == 0) {
        ais_status st = ais_pipeline_create_from_json(imagenet_spec, strlen(imagenet_spec), &pl);
        if (st) return tool_fail_status("--image-preprocess imagenet", st);
    } else if (spec_path || image_spec) {
        const char *path = spec_path ? spec_path : image_spec;
        size_t len;
        char *spec = tool_read_all(path, &len);
        if (!spec) return 1;
        ais_status st = ais_pipeline_create_from_json(spec, len, &pl);
        free(spec);
        if (st) return tool_fail_status(path, st);
        ais_feature_kind kind = AIS_FEATURE_NUMERIC;
        if (image_spec &&
            (ais_pipeline_input_info(pl, 0, NULL, &kind) || kind != AIS_FEATURE_IMAGE)) {
            fprintf(stderr,
                    "aistack convert: %s: --image-preprocess takes an image pipeline (an "
                    "input of type \"image\"); use --pipeline for others\n",
                    path);
            ais_pipeline_destroy(pl);
            return 2;
        }
    }
    ais_model *m = NULL;
    ais_options *o = NULL;
    if (tool_load_model(src, NULL, &m)) {
        ais_pipeline_destroy(pl);
        return 1;
    }
    ais_status st = ais_options_create(&o);
    if (!st) st = ais_options_set_int(o, AIS_OPT_SAVE_COMPRESSION, level);
    if (!st && progress) st = ais_options_set_progress(o, convert_progress, &tty);
    if (!st) st = pl ? ais_model_save_with_pipeline(m, pl, dst, o) : ais_model_save(m, dst, o);
    ais_options_destroy(o);
    ais_model_destroy(m);
    ais_pipeline_destroy(pl);
    if (st) return tool_fail_status(dst, st);
    printf("wrote %s\n", dst);
    return 0;
}
