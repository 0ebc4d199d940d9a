/*
 * image_png.c - PNG through libpng. Its errors longjmp to png_jmpbuf (the default handler would
 * abort when no jump buffer is set); its memory comes from ais__malloc through
 * png_create_read_struct_2, so the allocation-failure tests reach it.
 */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "image.h"

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    char msg[160];
    bool oom; /* an allocation libpng asked for failed: its "Out of Memory" error is ours */
    png_structp png;
    png_infop info;
    png_bytep *rows;
    ais__image img;
} png_state;

static void on_error(png_structp png, png_const_charp msg) {
    png_state *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "error");
    png_longjmp(png, 1);
}
static void on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static void on_read(png_structp png, png_bytep out, size_t n) {
    png_state *s = png_get_io_ptr(png);
    if (n > s->size - s->pos) png_error(png, "truncated file: read past the end of the data");
    memcpy(out, s->data + s->pos, n);
    s->pos += n;
}

static png_voidp on_malloc(png_structp png, png_alloc_size_t n) {
    void *p = ais__malloc(n ? n : 1);
    if (!p) ((png_state *)png_get_mem_ptr(png))->oom = true;
    return p;
}
static void on_free(png_structp png, png_voidp p) {
    (void)png;
    ais__free(p);
}

static ais_status decode(png_state *s, const ais__image_limits *lim, const char *what) {
    if (setjmp(png_jmpbuf(s->png)))
        return s->oom ? ais__oom(0, what)
                      : ais__error(AIS_E_FORMAT, "%s: corrupt PNG: %s", what, s->msg);
    png_set_read_fn(s->png, s, on_read);
    /* libpng's own limits, below ours, so that a declared size is refused before any row. */
    png_set_user_limits(s->png, AIS__IMAGE_MAX_SIDE, AIS__IMAGE_MAX_SIDE);
    png_set_chunk_malloc_max(s->png, 8u << 20);
    png_read_info(s->png, s->info);
    png_uint_32 w = png_get_image_width(s->png, s->info), h = png_get_image_height(s->png, s->info);
    AIS__CHECK(ais__image_check_size(w, h, lim, what, "PNG"));
    int color = png_get_color_type(s->png, s->info);
    png_set_expand(s->png); /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
    png_set_scale_16(s->png);
    (void)png_set_interlace_handling(s->png);
    png_read_update_info(s->png, s->info);
    uint32_t c = png_get_channels(s->png, s->info);
    if (png_get_bit_depth(s->png, s->info) != 8 || c < 1 || c > 4)
        return ais__error(AIS_E_UNSUPPORTED, "%s: PNG color type %d gives %u channels of %d bits",
                          what, color, c, (int)png_get_bit_depth(s->png, s->info));
    size_t stride = (size_t)w * c;
    if (png_get_rowbytes(s->png, s->info) != stride)
        return ais__error(AIS_E_INTERNAL, "%s: PNG row of %zu bytes, expected %zu", what,
                          (size_t)png_get_rowbytes(s->png, s->info), stride);
    s->img = (ais__image){ais__malloc(stride * h + AIS__IMAGE_SLACK), w, h, c};
    s->rows = ais__malloc(h * sizeof *s->rows);
    if (!s->img.px || !s->rows) return ais__oom(stride * h, what);
    for (uint32_t y = 0; y < h; y++)
        s->rows[y] = s->img.px + stride * y;
    png_read_image(s->png, s->rows);
    /* The IEND chunk and what follows the pixels are not needed: a file cut after its image data
     * has all its pixels (Pillow reads it too). */
    return AIS_OK;
}

ais_status ais__image_decode_png(const uint8_t *data, size_t size, const ais__image_limits *lim,
                                 const char *what, ais__image *out) {
    png_state *s = ais__calloc(1, sizeof *s);
    if (!s) return ais__oom(sizeof *s, what);
    s->data = data;
    s->size = size;
    s->png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, s, on_error, on_warning, s, on_malloc,
                                      on_free);
    if (s->png) s->info = png_create_info_struct(s->png);
    ais_status st = s->png && s->info ? decode(s, lim, what) : ais__oom(sizeof *s, what);
    png_destroy_read_struct(s->png ? &s->png : NULL, s->info ? &s->info : NULL, NULL);
    ais__free(s->rows);
    if (st == AIS_OK)
        *out = s->img;
    else
        ais__image_free(&s->img);
    ais__free(s);
    return st;
}
