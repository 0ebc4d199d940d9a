/*
 * aistack.c - the command-line tool: inspect, run, convert and conformance-check models.
 *
 *   aistack info MODEL
 *   aistack run MODEL [--input NAME=FILE | FILE]... [--random-inputs] [--output-dir DIR]
 *                     [--threads N] [--backend cpu|cuda]
 *   aistack run MODEL --records FILE [--records-format csv|jsonl] [--ignore-extra-fields] ...
 *   aistack convert IN OUT.ais [--compress LEVEL|none] [--pipeline SPEC.json] [--progress]
 *   aistack check PATH... [--rtol R] [--atol A]
 *   aistack ops
 *   aistack bench MODEL [--threads N] [--runs N] [--warmup N] [--profile] [--input NAME=FILE]...
 *   aistack serve --model-repository DIR [--host H] [--port P] [--api-keys FILE] ...
 *
 * `aistack help COMMAND` (or COMMAND --help) explains one command. One file per command
 * (aistack_tool.h lists them); this one holds main. The tool uses the public API only
 * (include/aistack), as any application would: element types other than f64 are read through
 * the Cast operator (ais_op_run), the registry through ais_op_count/ais_op_info.
 */
#include <aistack/aistack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aistack_tool.h"

static const char *const usage_main =
    "usage: aistack COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  info MODEL        metadata, inputs and outputs, operator histogram, weight bytes\n"
    "  run MODEL ...     run a model on .npy/.pb inputs (or random ones on request), or on raw\n"
    "                    records (CSV, JSON lines) through its feature pipeline; print and\n"
    "                    save outputs\n"
    "  convert IN OUT    write a model in the native .ais format\n"
    "  check PATH...     run ONNX backend-test cases and compare with their expected outputs\n"
    "  ops               list the operators this build implements\n"
    "  bench MODEL ...   load time, latency percentiles and throughput; with --profile the\n"
    "                    time per operator type and per node\n"
    "  profile MODEL ... write a model with the reference profile of training records\n"
    "  drift MODEL ...   compare records with a model's reference profile (data drift)\n"
#ifdef AISTACK_HAVE_SERVE
    "  serve ...         serve a model repository over HTTP (KServe V2 / Triton protocol)\n"
#endif
    "  help [COMMAND]    this text, or the help of one command\n"
    "\n"
    "MODEL is an ONNX (.onnx), native (.ais), XGBoost JSON or LightGBM text model file\n"
    "(told apart by content, not by name).\n";

/* ---- main ---- */

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} command;

static const command commands[] = {
    {"info", tool_cmd_info, tool_usage_info},
    {"run", tool_cmd_run, tool_usage_run},
    {"convert", tool_cmd_convert, tool_usage_convert},
    {"check", tool_cmd_check, tool_usage_check},
    {"ops", tool_cmd_ops, tool_usage_ops},
    {"bench", tool_cmd_bench, tool_usage_bench},
    {"profile", tool_cmd_profile, tool_usage_profile},
    {"drift", tool_cmd_drift, tool_usage_drift},
#ifdef AISTACK_HAVE_SERVE
    {"serve", tool_cmd_serve, tool_usage_serve},
#endif
};

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("aistack %s\n", ais_version_string());
        return 0;
    }
    if (!strcmp(argv[1], "help")) {
        for (size_t i = 0; argc > 2 && i < sizeof commands / sizeof *commands; i++)
            if (!strcmp(argv[2], commands[i].name)) return fputs(commands[i].usage, stdout), 0;
        fputs(usage_main, stdout);
        return argc > 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        for (int k = 2; k < argc; k++) {
            if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
                fputs(commands[i].usage, stdout);
                return 0;
            }
        }
        return commands[i].fn(argc - 2, argv + 2);
    }
    fprintf(stderr, "aistack: unknown command '%s'\n\n%s", argv[1], usage_main);
    return 2;
}
