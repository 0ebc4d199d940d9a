/*
 * image_decode.c - format sniffing, the size limits, and EXIF orientation shared by the JPEG and
 * PNG decoders.
 */
#include <stdio.h>
#include <string.h>

#include "image.h"

ais__image_format ais__image_sniff(const void *data, size_t size) {
    const uint8_t *b = data;
    if (size >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return AIS__IMAGE_JPEG;
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (size >= 8 && memcmp(b, png, 8) == 0) return AIS__IMAGE_PNG;
    return AIS__IMAGE_UNKNOWN;
}

ais_status ais__image_check_size(uint64_t w, uint64_t h, const ais__image_limits *lim,
                                 const char *what, const char *fmt_name) {
    if (w == 0 || h == 0)
        return ais__error(AIS_E_FORMAT, "%s: %s image of %llu x %llu pixels (a zero dimension)",
                          what, fmt_name, (unsigned long long)w, (unsigned long long)h);
    if (w > AIS__IMAGE_MAX_SIDE || h > AIS__IMAGE_MAX_SIDE || w * h > lim->max_pixels)
        return ais__error(AIS_E_LIMIT,
                          "%s: %s image declares %llu x %llu pixels, more than the limit of "
                          "%llu pixels (%d per side)",
                          what, fmt_name, (unsigned long long)w, (unsigned long long)h,
                          (unsigned long long)lim->max_pixels, AIS__IMAGE_MAX_SIDE);
    return AIS_OK;
}

ais_status ais__image_decode(const void *data, size_t size, const ais__image_limits *limits,
                             const char *what, ais__image *out) {
    *out = (ais__image){0};
    ais__image_limits lim = {AIS__IMAGE_MAX_PIXELS, AIS__IMAGE_MAX_BYTES};
    if (limits) lim = *limits;
    if (!data && size) return ais__error(AIS_E_INVALID_ARGUMENT, "%s: image bytes are NULL", what);
    if (size > lim.max_bytes)
        return ais__error(AIS_E_LIMIT, "%s: encoded image of %zu bytes, more than the limit %zu",
                          what, size, lim.max_bytes);
    switch (ais__image_sniff(data, size)) {
    case AIS__IMAGE_JPEG: return ais__image_decode_jpeg(data, size, &lim, what, out);
    case AIS__IMAGE_PNG: return ais__image_decode_png(data, size, &lim, what, out);
    default: break;
    }
    const uint8_t *b = data;
    char magic[32] = "";
    for (size_t i = 0; i < 4 && i < size; i++)
        snprintf(magic + 3 * i, sizeof magic - 3 * i, "%s%02x", i ? " " : "", b[i]);
    return ais__error(AIS_E_FORMAT,
                      "%s: not a JPEG or PNG image (%zu bytes, starting %s; expected ff d8 ff or "
                      "89 50 4e 47)",
                      what, size, size ? magic : "with nothing");
}

void ais__image_free(ais__image *img) {
    if (!img) return;
    ais__free(img->px);
    *img = (ais__image){0};
}

ais_status ais__image_orient(ais__image *img, int o, const char *what) {
    if (o < 2 || o > 8) return AIS_OK;
    uint32_t W = img->w, H = img->h, c = img->c;
    bool swap = o >= 5; /* transpose, the two rotations by 90 and transverse */
    uint32_t ow = swap ? H : W, oh = swap ? W : H;
    uint8_t *dst = ais__malloc((size_t)W * H * c + AIS__IMAGE_SLACK);
    if (!dst) return ais__oom((size_t)W * H * c, what);
    for (uint32_t y = 0; y < oh; y++) {
        for (uint32_t x = 0; x < ow; x++) {
            uint32_t sx, sy; /* PIL's exif_transpose, per orientation value */
            switch (o) {
            case 2: sx = W - 1 - x, sy = y; break;         /* FLIP_LEFT_RIGHT */
            case 3: sx = W - 1 - x, sy = H - 1 - y; break; /* ROTATE_180 */
            case 4: sx = x, sy = H - 1 - y; break;         /* FLIP_TOP_BOTTOM */
            case 5: sx = y, sy = x; break;                 /* TRANSPOSE */
            case 6: sx = y, sy = H - 1 - x; break;         /* ROTATE_270 */
            case 7: sx = W - 1 - y, sy = H - 1 - x; break; /* TRANSVERSE */
            default: sx = W - 1 - y, sy = x; break;        /* 8: ROTATE_90 */
            }
            memcpy(dst + ((size_t)y * ow + x) * c, img->px + ((size_t)sy * W + sx) * c, c);
        }
    }
    ais__free(img->px);
    img->px = dst;
    img->w = ow;
    img->h = oh;
    return AIS_OK;
}
