/* fuzz_lightgbm.c - the lightgbm model reader through the sniffing dispatch; a graph that loads is
 * freed. */
#include "format/format.h"
#include "ir/graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ais__graph *g = NULL;
    if (ais__lightgbm_read(data, size, NULL, &g) == AIS_OK) ais__graph_destroy(g);
    return 0;
}
