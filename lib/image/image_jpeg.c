/*
 * image_jpeg.c - JPEG through libjpeg-turbo's libjpeg API. libjpeg reports fatal errors through
 * error_exit, which must not return: ours longjmps back here, so a hostile file never reaches
 * libjpeg's default exit(). Its warnings (premature end of data, corrupt entropy data) would
 * otherwise give a silently grey-filled image; they fail the decode too.
 */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "image.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
    bool warned;
} jpeg_err;

static void on_error_exit(j_common_ptr cinfo) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    e->pub.format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (level >= 0) return; /* trace messages */
    /* Stray bytes between markers are common in cameras' files and harmless: Pillow takes
     * them too. Anything else (a truncated file above all) means wrong pixels. */
    if (e->pub.msg_code == JWRN_EXTRANEOUS_DATA) return;
    if (!e->warned) e->pub.format_message(cinfo, e->msg);
    e->warned = true;
}

static uint32_t rd16(const uint8_t *p, bool le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | p[1];
}
static uint32_t rd32(const uint8_t *p, bool le) {
    return le ? rd16(p, true) | rd16(p + 2, true) << 16 : rd16(p, false) << 16 | rd16(p + 2, false);
}

/* The Orientation tag (0x0112) of IFD0 in an APP1 "Exif\0\0" segment, bounds-checked; 1 when
 * absent or unreadable (a broken EXIF block is no reason to refuse the pixels). */
static int exif_orientation(const uint8_t *d, size_t n) {
    if (n < 14 || memcmp(d, "Exif\0\0", 6) != 0) return 1;
    d += 6, n -= 6;
    bool le = d[0] == 'I' && d[1] == 'I';
    if (!le && !(d[0] == 'M' && d[1] == 'M')) return 1;
    if (rd16(d + 2, le) != 42) return 1;
    uint32_t ifd = rd32(d + 4, le);
    if (ifd > n || n - ifd < 2) return 1;
    uint32_t count = rd16(d + ifd, le);
    for (uint32_t i = 0; i < count; i++) {
        size_t at = (size_t)ifd + 2 + (size_t)i * 12;
        if (at + 12 > n) return 1;
        if (rd16(d + at, le) == 0x0112 && rd16(d + at + 2, le) == 3) {
            uint32_t v = rd16(d + at + 8, le);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

/* The parts that live across setjmp are in one struct reached through a pointer, so none of them
 * is a non-volatile local modified after setjmp. */
typedef struct {
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    struct jpeg_progress_mgr progress;
    ais__image img;
} jpeg_state;

/* A progressive JPEG of a few kilobytes can declare thousands of scans, each a pass over the
 * whole image (CVE-2018-11813's kind of bomb): libjpeg-turbo's TurboJPEG API stops at 500, and
 * so do we. */
#define MAX_SCANS 500
static void on_progress(j_common_ptr cinfo) {
    j_decompress_ptr ci = (j_decompress_ptr)cinfo;
    if (ci->input_scan_number <= MAX_SCANS) return;
    jpeg_err *e = (jpeg_err *)cinfo->err;
    snprintf(e->msg, sizeof e->msg, "more than %d progressive scans", MAX_SCANS);
    longjmp(e->jump, 1);
}

static ais_status decode(jpeg_state *s, const uint8_t *data, size_t size,
                         const ais__image_limits *lim, const char *what) {
    struct jpeg_decompress_struct *ci = &s->cinfo;
    if (setjmp(s->err.jump))
        return ais__error(AIS_E_FORMAT, "%s: corrupt JPEG: %s", what, s->err.msg);
    jpeg_create_decompress(ci);
    jpeg_mem_src(ci, data, (unsigned long)size);
    jpeg_save_markers(ci, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(ci, TRUE);
    AIS__CHECK(ais__image_check_size(ci->image_width, ci->image_height, lim, what, "JPEG"));
    /* now: the saved markers live in the image pool, which jpeg_finish_decompress frees */
    int orientation = 1;
    for (jpeg_saved_marker_ptr m = ci->marker_list; m && orientation == 1; m = m->next)
        if (m->marker == JPEG_APP0 + 1) orientation = exif_orientation(m->data, m->data_length);
    uint32_t c;
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE: ci->out_color_space = JCS_GRAYSCALE, c = 1; break;
    case JCS_YCbCr:
    case JCS_RGB: ci->out_color_space = JCS_RGB, c = 3; break;
    case JCS_CMYK:
    case JCS_YCCK:
        return ais__error(AIS_E_UNSUPPORTED,
                          "%s: CMYK JPEG (%s): only grayscale and YCbCr/RGB JPEGs are supported; "
                          "convert it to RGB first",
                          what, ci->jpeg_color_space == JCS_CMYK ? "CMYK" : "YCCK");
    default:
        return ais__error(AIS_E_UNSUPPORTED, "%s: JPEG color space %d is not supported", what,
                          (int)ci->jpeg_color_space);
    }
    /* Pillow's defaults, so that the pixels match what torchvision's users trained on. */
    ci->dct_method = JDCT_ISLOW;
    ci->do_fancy_upsampling = TRUE;
    jpeg_start_decompress(ci);
    if (ci->output_components != (int)c)
        return ais__error(AIS_E_INTERNAL, "%s: JPEG gave %d components, expected %u", what,
                          ci->output_components, c);
    size_t stride = (size_t)ci->output_width * c;
    s->img = (ais__image){ais__malloc(stride * ci->output_height + AIS__IMAGE_SLACK),
                          ci->output_width, ci->output_height, c};
    if (!s->img.px) return ais__oom(stride * ci->output_height, what);
    while (ci->output_scanline < ci->output_height) {
        JSAMPROW row = s->img.px + stride * ci->output_scanline;
        if (jpeg_read_scanlines(ci, &row, 1) != 1) break;
        if (s->err.warned) break;
    }
    if (!s->err.warned) jpeg_finish_decompress(ci);
    if (s->err.warned)
        return ais__error(AIS_E_FORMAT, "%s: corrupt or truncated JPEG: %s", what, s->err.msg);
    return ais__image_orient(&s->img, orientation, what);
}

ais_status ais__image_decode_jpeg(const uint8_t *data, size_t size, const ais__image_limits *lim,
                                  const char *what, ais__image *out) {
    /* libjpeg allocates its own working memory (jmemnobs.c, malloc): the one allocation in this
     * module that does not go through ais__malloc; the pixels do. */
    jpeg_state *s = ais__calloc(1, sizeof *s);
    if (!s) return ais__oom(sizeof *s, what);
    s->cinfo.err = jpeg_std_error(&s->err.pub);
    s->err.pub.error_exit = on_error_exit;
    s->err.pub.emit_message = on_message;
    s->progress.progress_monitor = on_progress;
    s->cinfo.progress = &s->progress;
    ais_status st = decode(s, data, size, lim, what);
    jpeg_destroy_decompress(&s->cinfo);
    if (st == AIS_OK)
        *out = s->img;
    else
        ais__image_free(&s->img);
    ais__free(s);
    return st;
}
