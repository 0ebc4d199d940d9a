/*
 * aistack_info.c - `aistack info MODEL`: metadata, inputs and outputs with declared dimension
 * names, the file's operators and those after optimization, weight bytes, the feature pipeline.
 */
#include <aistack/aistack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aistack_tool.h"

const char tool_usage_info[] =
    "usage: aistack info MODEL\n"
    "\n"
    "Prints the model's metadata, each input and output with dtype and shape (dynamic\n"
    "dimensions by their symbolic name, or ? when the file names none), the number of nodes\n"
    "per operator as the file has them, then as a session runs them after optimization\n"
    "(constant folding, dead nodes removed, fusions such as com.microsoft.FusedGemm, which\n"
    "the file need not import), and the bytes of constant tensors (weights). A model with a\n"
    "feature pipeline also lists the pipeline's inputs (name and numeric or categorical) and\n"
    "its output width.\n";

typedef struct op_count {
    const char *op, *domain;
    size_t n;
} op_count;

/* Whether `op` is one of the tree-ensemble operators, whose trees live in attributes. */
static bool is_tree_op(const char *op) { return strncmp(op, "TreeEnsemble", 12) == 0; }

/* Prints the node count per operator of m; with `file` (the same model as the file has it),
 * marks operators the file does not use. Sets *trees when a tree ensemble is among them. */
static int print_histogram(const ais_model *m, const ais_model *file, bool *trees) {
    size_t nn = ais_model_node_count(m);
    op_count *hist = calloc(nn ? nn : 1, sizeof *hist);
    size_t nh = 0;
    if (!hist) {
        fprintf(stderr, "aistack: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < nn; i++) {
        const char *op, *dom;
        if (ais_model_node_info(m, i, NULL, &op, &dom) != AIS_OK) continue;
        size_t k = 0;
        while (k < nh && !(strcmp(hist[k].op, op) == 0 && strcmp(hist[k].domain, dom) == 0))
            k++;
        if (k == nh) hist[nh++] = (op_count){op, dom, 0};
        hist[k].n++;
        if (is_tree_op(op)) *trees = true;
    }
    for (size_t k = 0; k < nh; k++) {
        bool in_file = !file;
        for (size_t i = 0; file && !in_file && i < ais_model_node_count(file); i++) {
            const char *op, *dom;
            in_file = ais_model_node_info(file, i, NULL, &op, &dom) == AIS_OK &&
                      !strcmp(op, hist[k].op) && !strcmp(dom, hist[k].domain);
        }
        printf("  %s%s%s: %zu%s\n", hist[k].domain, hist[k].domain[0] ? "." : "", hist[k].op,
               hist[k].n, in_file ? "" : " (made by aistack's fusion; not in the file)");
    }
    free(hist);
    return 0;
}

int tool_cmd_info(int argc, char **argv) {
    if (argc != 1) {
        fputs(tool_usage_info, stderr);
        return 2;
    }
    ais_model *m = NULL;
    if (tool_load_model(argv[0], NULL, &m)) return 1;
    /* The file's operators (loaded again without optimization), then what a session runs:
     * folding, dead-node removal and fusion change the list (com.microsoft.FusedGemm appears
     * though the file imports no such domain). The metadata too is the file's. */
    ais_model *raw = NULL;
    ais_options *o0 = NULL;
    if (ais_options_create(&o0) != AIS_OK || ais_options_set_int(o0, AIS_OPT_OPT_LEVEL, 0) ||
        ais_model_load(argv[0], o0, &raw) != AIS_OK)
        raw = NULL; /* the optimized model alone is still worth printing */
    ais_options_destroy(o0);
    const ais_model *file = raw ? raw : m;
    printf("model: %s\n", argv[0]);
    printf("metadata:\n");
    for (size_t i = 0; i < ais_model_metadata_count(file); i++) {
        const char *k, *v;
        if (ais_model_metadata_at(file, i, &k, &v) == AIS_OK) printf("  %s: %s\n", k, v);
    }
    for (int io = 0; io < 2; io++) {
        size_t n = io ? ais_model_output_count(m) : ais_model_input_count(m);
        printf("%s (%zu):\n", io ? "outputs" : "inputs", n);
        for (size_t i = 0; i < n; i++) {
            const char *name;
            ais_dtype dt;
            size_t nd;
            const int64_t *dims;
            ais_status st = io ? ais_model_output_info(m, i, &name, &dt, &nd, &dims)
                               : ais_model_input_info(m, i, &name, &dt, &nd, &dims);
            if (st != AIS_OK) continue;
            printf("  %s: %s ", name, ais_dtype_name(dt));
            tool_print_dims(stdout, nd, dims, m, i, io == 1);
            putchar('\n');
        }
    }
    bool trees = false;
    int rc = 0;
    if (raw) {
        printf("nodes in the file: %zu\n", ais_model_node_count(raw));
        rc = print_histogram(raw, NULL, &trees);
    }
    if (!rc) {
        printf("nodes after optimization (what a session runs): %zu\n", ais_model_node_count(m));
        rc = print_histogram(m, raw, &trees);
    }
    ais_model_destroy(raw);
    if (rc) {
        ais_model_destroy(m);
        return rc;
    }
    size_t wb = ais_model_weight_bytes(m);
    if (trees)
        printf("weight bytes: %zu (constant tensors; the tree ensembles hold their trees in node "
               "attributes, not counted here)\n",
               wb);
    else
        printf("weight bytes: %zu\n", wb);
    const ais_pipeline *pl = ais_model_pipeline(m);
    if (pl) {
        size_t n = ais_pipeline_input_count(pl);
        printf("pipeline: %zu inputs -> %zu features\n", n, ais_pipeline_output_width(pl));
        for (size_t i = 0; i < n; i++) {
            const char *name;
            ais_feature_kind kind;
            if (ais_pipeline_input_info(pl, i, &name, &kind) != AIS_OK) continue;
            printf("  %s: %s\n", name,
                   kind == AIS_FEATURE_NUMERIC       ? "numeric"
                   : kind == AIS_FEATURE_TEXT        ? "text (tokenized to the model's inputs)"
                   : kind == AIS_FEATURE_IMAGE       ? "image"
                   : kind == AIS_FEATURE_CATEGORICAL ? "categorical"
                                                     : "other");
        }
    }
    ais_model_destroy(m);
    return 0;
}
