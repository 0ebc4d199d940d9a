/* A tiny program built against the installed tree, through CMake and through pkg-config. */
#include <aistack/aistack.h>
#include <stdio.h>

int main(void) {
    ais_tensor *t = NULL;
    int64_t shape[2] = {2, 3};
    if (ais_tensor_create(AIS_DTYPE_F32, shape, 2, &t) != AIS_OK) {
        fprintf(stderr, "create failed: %s\n", ais_last_error());
        return 1;
    }
    if (ais_version_number() / 10000 != AIS_VERSION_MAJOR) return 2;
    printf("aistack %s: tensor of %zu elements\n", ais_version_string(), ais_tensor_size(t));
    ais_tensor_destroy(t);
    return 0;
}
