/* fuzz_npy.c - the .npy reader; a tensor that reads is written back and must read identically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ais_tensor *t = NULL;
    if (ais__npy_read(data, size, &t) != AIS_OK) return 0;
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_npy_%d.npy", (int)getpid());
    if (ais_tensor_save_npy(t, path) == AIS_OK) {
        ais_tensor *back = NULL;
        if (ais_tensor_load(path, &back) != AIS_OK ||
            ais_tensor_nbytes(back) != ais_tensor_nbytes(t) ||
            ais_tensor_ndim(back) != ais_tensor_ndim(t) ||
            (ais_tensor_nbytes(t) &&
             memcmp(ais_tensor_data(back), ais_tensor_data(t), ais_tensor_nbytes(t)) != 0)) {
            fprintf(stderr, "a written .npy does not read back: %s\n", ais_last_error());
            abort();
        }
        ais_tensor_destroy(back);
    }
    unlink(path);
    ais_tensor_destroy(t);
    return 0;
}
