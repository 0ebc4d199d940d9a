/* fuzz_tensorproto.c - ais__tensorproto_read on arbitrary bytes (the .pb files of the ONNX
 * backend tests). */
#include <stdint.h>

#include "format/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ais_tensor *t = NULL;
    char *name = NULL;
    if (ais__tensorproto_read(data, size, &t, &name) != AIS_OK) return 0;
    volatile uint8_t sink = 0;
    for (size_t k = 0; k < ais_tensor_nbytes(t); k++)
        sink ^= ((const uint8_t *)ais_tensor_data(t))[k];
    (void)sink;
    ais_tensor_destroy(t);
    ais__free(name);
    return 0;
}
