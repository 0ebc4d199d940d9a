/* fuzz_pipeline.c - the pipeline spec parser and the JSON-lines and CSV readers. The input is a
 * spec, optionally followed by a line "\n--rows--\n" and JSON lines to run through it, or by
 * "\n--csv--\n" and CSV text. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <aistack/ais_pipeline.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char sep[] = "\n--rows--\n", csv_sep[] = "\n--csv--\n";
    const char *text = (const char *)data;
    size_t spec_len = size, rows_off = size;
    bool csv = false;
    for (size_t i = 0; i < size; i++) {
        if (i + sizeof sep - 1 <= size && memcmp(text + i, sep, sizeof sep - 1) == 0) {
            spec_len = i;
            rows_off = i + sizeof sep - 1;
            break;
        }
        if (i + sizeof csv_sep - 1 <= size && memcmp(text + i, csv_sep, sizeof csv_sep - 1) == 0) {
            spec_len = i;
            rows_off = i + sizeof csv_sep - 1;
            csv = true;
            break;
        }
    }
    ais_pipeline *p = NULL;
    if (ais_pipeline_create_from_json(text, spec_len, &p) != AIS_OK) return 0;
    ais_tensor *out = NULL;
    ais_pipeline_errors *errs = NULL;
    /* The CSV text is copied to a block of its exact size, so that a read past its end is
     * caught by the sanitizers even when more input follows in memory. */
    size_t n = size - rows_off;
    char *rows = malloc(n ? n : 1);
    if (!rows) {
        ais_pipeline_destroy(p);
        return 0;
    }
    memcpy(rows, text + rows_off, n);
    ais_status st = csv ? ais_pipeline_run_csv(p, rows, n, &out, &errs)
                        : ais_pipeline_run_json_rows(p, rows, n, &out, &errs);
    free(rows);
    /* A report comes with AIS_E_SCHEMA and only then, and never empty. */
    if ((st == AIS_E_SCHEMA) != (errs != NULL)) abort();
    if (errs && ais_pipeline_errors_count(errs) == 0) abort();
    if (st == AIS_OK && (!out || (size_t)ais_tensor_shape(out)[1] != ais_pipeline_output_width(p)))
        abort();
    ais_tensor_destroy(out);
    ais_pipeline_errors_destroy(errs);
    ais_pipeline_destroy(p);
    return 0;
}
