/* fuzz_model.c - the reader table (lib/format/model_file.c) on arbitrary bytes: sniffing picks a
 * model reader (or describes what the bytes look like), and the same bytes go to the tensor rows.
 * Any status is fine; a crash, leak or hang is not. The corpus holds files that are not what
 * their names say: text and .npy files named .onnx, zip and pickle files, truncated models. */
#include <stdint.h>

#include "format/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ais__graph *g = NULL;
    /* A folder that does not exist: external data references fail to open. */
    if (ais__model_read_memory(data, size, "/nonexistent-ais-fuzz", NULL, &g) == AIS_OK) {
        /* the table always names the format */
        if (!ais__graph_meta(g, "format")) __builtin_trap();
        ais__graph_destroy(g);
    }
    const ais__format_reader *r = ais__format_sniff(data, size, false);
    ais_tensor *t = NULL;
    if (r && r->read_tensor(data, size, &t) == AIS_OK) ais_tensor_destroy(t);
    return 0;
}
