/*
 * aistack_tool.h - the aistack command-line tool's parts: one file per command
 * (aistack_info.c, aistack_run.c, aistack_convert.c, aistack_check.c, aistack_ops.c,
 * aistack_bench.c, aistack_monitor.c), the
 * helpers they share (aistack_common.c) and main (aistack.c). The tool uses the public API only.
 */
#ifndef AISTACK_TOOL_H
#define AISTACK_TOOL_H

#include <aistack/aistack.h>
#include <stdbool.h>
#include <stdio.h>

#define MAX_IO 256

/* Each command: its usage text and its entry (argv after the command name; exit status). */
extern const char tool_usage_info[], tool_usage_run[], tool_usage_convert[], tool_usage_check[],
    tool_usage_ops[], tool_usage_bench[], tool_usage_profile[], tool_usage_drift[];
int tool_cmd_info(int argc, char **argv);
int tool_cmd_run(int argc, char **argv);
int tool_cmd_convert(int argc, char **argv);
int tool_cmd_check(int argc, char **argv);
int tool_cmd_ops(int argc, char **argv);
int tool_cmd_bench(int argc, char **argv);
int tool_cmd_profile(int argc, char **argv); /* aistack_monitor.c */
int tool_cmd_drift(int argc, char **argv);
/* `aistack serve` (aistack_serve*.c), built when libmicrohttpd was found (AISTACK_HAVE_SERVE). */
extern const char tool_usage_serve[];
int tool_cmd_serve(int argc, char **argv);

/* ---- shared helpers (aistack_common.c) ---- */

/* Prints "aistack: WHAT: STATUS: last error" to stderr; returns 1 (the failure exit status). */
int tool_fail_status(const char *what, ais_status st);
/* [2, batch, ?]: dynamic dimensions by the name the file declares for input (or, when output
 * is true, output) `index` of m, else ?; m may be NULL. */
void tool_print_dims(FILE *f, size_t ndim, const int64_t *dims, const ais_model *m, size_t index,
                     bool output);
/* Loads a model; 0, or 1 after printing why not. */
int tool_load_model(const char *path, const ais_options *o, ais_model **m);
bool tool_is_float_dtype(ais_dtype dt);
/* t through the Cast operator into `to`. */
ais_status tool_cast_to(const ais_tensor *t, ais_dtype to, ais_tensor **out);
/* t's elements as doubles: its own data (f64) or *tmp's (a cast the caller destroys); NULL for
 * strings and types Cast cannot read. */
const double *tool_as_f64(const ais_tensor *t, ais_tensor **tmp);
/* A random tensor for input i of m (floats uniform in [0, 1), integers in [0, 10), booleans;
 * a dynamic extent becomes 1). */
ais_status tool_random_input(const ais_model *m, size_t i, ais_tensor **out);
/* "[2, 3]" into buf. */
const char *tool_shape_str(const int64_t *dims, size_t nd, char *buf, size_t size);
/* The whole of a file ("-": standard input) in a new malloc block; NULL after a message. */
char *tool_read_all(const char *path, size_t *len);
bool tool_ends_with(const char *s, const char *suffix);
/* Names an unknown option (or one without its value) and prints the usage; returns 2. */
int tool_bad_option(const char *cmd, const char *opt, bool takes_value, const char *usage);

#endif
