/* fuzz_image.c - the JPEG and PNG decoders (lib/image). An image that decodes has the size and
 * channel count it says, within the limits; every byte of it is read here so that ASan sees a
 * short buffer. */
#include <stdio.h>
#include <stdlib.h>

#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* small limits: the fuzzer should find bombs, not spend its time on big honest images */
    ais__image_limits lim = {1u << 22, 1u << 20};
    ais__image img;
    if (ais__image_decode(data, size, &lim, "fuzz", &img) != AIS_OK) return 0;
    if (!img.px || img.w == 0 || img.h == 0 || img.c < 1 || img.c > 4 ||
        (uint64_t)img.w * img.h > lim.max_pixels) {
        fprintf(stderr, "decoded image breaks its contract: %u x %u x %u\n", img.w, img.h, img.c);
        abort();
    }
    unsigned sum = 0;
    for (size_t i = 0; i < (size_t)img.w * img.h * img.c; i++)
        sum += img.px[i];
    ais__image_free(&img);
    return (int)(sum & 0);
}
