/*
 * image.h - JPEG and PNG decoding through Debian's libjpeg-turbo and libpng (never our own
 * codecs), for the image input kind of the feature pipeline (lib/pipeline/pipeline_image.c).
 * Every entry point treats its bytes as hostile: a corrupt, truncated or oversized image is a
 * status with a message naming `what` (the caller's "row 3, field \"image\""), never an abort.
 */
#ifndef AIS_IMAGE_H
#define AIS_IMAGE_H

#include "common/common.h"

/* Defaults of ais__image_limits: 64 Mpx (Pillow warns at 89 Mpx) and 64 MiB of encoded bytes. */
#define AIS__IMAGE_MAX_PIXELS ((uint64_t)1 << 26)
#define AIS__IMAGE_MAX_BYTES ((size_t)64 << 20)
#define AIS__IMAGE_MAX_SIDE 65500 /* JPEG's own limit; PNG's is larger, we refuse it */

typedef struct ais__image_limits {
    uint64_t max_pixels; /* width * height, checked on the declared size before any allocation */
    size_t max_bytes;    /* encoded size */
} ais__image_limits;

/* A decoded image: 8 bits per sample, rows packed (stride = w * c), channels 1 (gray), 2 (gray +
 * alpha), 3 (RGB) or 4 (RGBA). px is from ais__malloc, with AIS__IMAGE_SLACK bytes after the
 * last pixel (the SIMD resampling reads and writes whole words at the end of a row);
 * ais__image_free releases it. */
#define AIS__IMAGE_SLACK 16
typedef struct ais__image {
    uint8_t *px;
    uint32_t w, h, c;
} ais__image;

typedef enum { AIS__IMAGE_UNKNOWN, AIS__IMAGE_JPEG, AIS__IMAGE_PNG } ais__image_format;

/* The format by its magic bytes. */
ais__image_format ais__image_sniff(const void *data, size_t size);

/* Decodes JPEG or PNG bytes into *out (released with ais__image_free; left empty on failure).
 * JPEG: grayscale or YCbCr/RGB (CMYK and YCCK are AIS_E_UNSUPPORTED), EXIF orientation applied
 * (as PIL's ImageOps.exif_transpose), any libjpeg warning (truncated or corrupt entropy data) is
 * AIS_E_FORMAT. PNG: palette and low-bit gray expanded to 8 bits, tRNS to an alpha channel,
 * 16-bit samples scaled to 8 (png_set_scale_16: round(v * 255 / 65535)). Limits (NULL: the
 * defaults) give AIS_E_LIMIT. `what` prefixes every message. */
ais_status ais__image_decode(const void *data, size_t size, const ais__image_limits *limits,
                             const char *what, ais__image *out);
void ais__image_free(ais__image *img);

/* ---- geometric steps (image_ops.c): each makes a new image in *out ---- */

/* Converts to 3 channels in place, as PIL's convert("RGB"): gray replicated, alpha dropped. */
ais_status ais__image_to_rgb(ais__image *img, const char *what);
/* To w x h: Pillow's bilinear resampling (antialias: the filter widened when shrinking, as PIL
 * always does; false: plain bilinear, align_corners=False) or Pillow's nearest. */
ais_status ais__image_resize(const ais__image *in, uint32_t w, uint32_t h, bool nearest,
                             bool antialias, ais__image *out, const char *what);
/* Adds ltrb[0..3] (left, top, right, bottom) pixels of fill[0..c) around the image. */
ais_status ais__image_pad(const ais__image *in, const uint32_t ltrb[4], const uint8_t *fill,
                          ais__image *out, const char *what);
/* The w x h window at (left, top), which must lie inside the image. */
ais_status ais__image_crop(const ais__image *in, uint32_t left, uint32_t top, uint32_t w,
                           uint32_t h, ais__image *out, const char *what);

/* Internal to lib/image. */
ais_status ais__image_decode_jpeg(const uint8_t *data, size_t size, const ais__image_limits *lim,
                                  const char *what, ais__image *out);
ais_status ais__image_decode_png(const uint8_t *data, size_t size, const ais__image_limits *lim,
                                 const char *what, ais__image *out);
/* Whether w x h passes the limits; else sets the message and returns AIS_E_LIMIT/FORMAT. */
ais_status ais__image_check_size(uint64_t w, uint64_t h, const ais__image_limits *lim,
                                 const char *what, const char *fmt_name);
/* Applies EXIF orientation o (2..8; 1 and others: nothing) to img, in a new buffer. */
ais_status ais__image_orient(ais__image *img, int o, const char *what);

#endif
