/* fuzz_onnx.c - ais__onnx_read on arbitrary bytes: any status is fine, a crash, leak or hang is
 * not. Every constant is read in full, so a tensor that borrows out of bounds is caught. */
#include <stdint.h>

#include "format/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ais__graph *g = NULL;
    /* A folder that does not exist: external data references fail to open instead of reading
     * whatever the fuzzer names. */
    if (ais__onnx_read(data, size, "/nonexistent-ais-fuzz", NULL, &g) != AIS_OK) return 0;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < g->n_values; i++) {
        const ais_tensor *t = g->values[i].constant;
        if (!t) continue;
        const uint8_t *p = t->data;
        for (size_t k = 0; k < t->nbytes; k++)
            sink ^= p[k];
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ais_attrs *a = g->nodes[i].attrs;
        for (size_t k = 0; a && k < a->count; k++) {
            const ais_tensor *t = a->items[k].t;
            for (size_t j = 0; t && j < t->nbytes; j++)
                sink ^= ((const uint8_t *)t->data)[j];
        }
    }
    (void)sink;
    ais__graph_destroy(g);
    return 0;
}
