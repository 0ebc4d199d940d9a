/*
 * test_image.c - the JPEG and PNG decoders (lib/image) on the fuzz corpus's images
 * (tests/fixtures/make_image_corpus.py): what decodes has the right size and channels, what is
 * hostile fails with the right status and a message naming the record, and an allocation failure
 * anywhere is a clean AIS_E_OUT_OF_MEMORY. Pixel values against Pillow: tests/python/test_image.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "image/image.h"
#include "test_util.h"

#define CORPUS AIS_SOURCE_DIR "/tests/fuzz/corpus/image/"

static uint8_t *slurp(const char *name, size_t *n) {
    char path[512];
    snprintf(path, sizeof path, CORPUS "%s", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void expect_image(const char *name, uint32_t w, uint32_t h, uint32_t c) {
    size_t n;
    uint8_t *b = slurp(name, &n);
    ais__image img;
    ais_status st = ais__image_decode(b, n, NULL, name, &img);
    if (st != AIS_OK) fail_msg("%s: %s", name, ais_last_error());
    if (img.w != w || img.h != h || img.c != c)
        fail_msg("%s: %u x %u x %u, expected %u x %u x %u", name, img.w, img.h, img.c, w, h, c);
    ais__image_free(&img);
    free(b);
}

static void test_decodes(void **state) {
    (void)state;
    expect_image("rgb.jpg", 17, 13, 3);
    expect_image("gray.jpg", 17, 13, 1);
    expect_image("progressive.jpg", 17, 13, 3);
    expect_image("q10_444.jpg", 17, 13, 3);
    expect_image("exif6.jpg", 13, 17, 3); /* orientation 6: rotated by 90 degrees */
    expect_image("exif_bad_offset.jpg", 17, 13, 3); /* lying EXIF blocks: orientation ignored */
    expect_image("exif_bad_count.jpg", 17, 13, 3);
    expect_image("exif_bad_type.jpg", 17, 13, 3);
    expect_image("rgb.png", 17, 13, 3);
    expect_image("rgba.png", 17, 13, 4);
    expect_image("gray.png", 17, 13, 1);
    expect_image("la.png", 17, 13, 2);
    expect_image("palette.png", 17, 13, 3);
    expect_image("mono.png", 17, 13, 1);
    expect_image("gray16.png", 7, 5, 1);
    expect_image("rgb16.png", 4, 3, 3);
}

static void expect_fail(const char *name, ais_status want, const char *needle) {
    size_t n;
    uint8_t *b = slurp(name, &n);
    ais__image img = {(uint8_t *)1, 1, 1, 1};
    ais_status st = ais__image_decode(b, n, NULL, "row 4, field \"image\"", &img);
    if (st != want)
        fail_msg("%s: %s, expected %s: %s", name, ais_status_name(st), ais_status_name(want),
                 ais_last_error());
    assert_null(img.px);
    ais_test_assert_error_contains("row 4, field \"image\"");
    ais_test_assert_error_contains(needle);
    free(b);
}

static void test_hostile(void **state) {
    (void)state;
    expect_fail("truncated.jpg", AIS_E_FORMAT, "JPEG");
    expect_fail("magic_only.jpg", AIS_E_FORMAT, "JPEG");
    expect_fail("corrupt.jpg", AIS_E_FORMAT, "JPEG");
    expect_fail("zero_dim.jpg", AIS_E_FORMAT, "JPEG");
    expect_fail("huge_dim.jpg", AIS_E_FORMAT, "65500"); /* libjpeg's own limit */
    expect_fail("bomb.jpg", AIS_E_LIMIT, "60000 x 60000");
    expect_fail("cmyk.jpg", AIS_E_UNSUPPORTED, "CMYK");
    expect_fail("truncated.png", AIS_E_FORMAT, "PNG");
    expect_fail("zero_dim.png", AIS_E_FORMAT, "PNG");
    expect_fail("huge_dim.png", AIS_E_FORMAT, "PNG"); /* libpng's own limit comes first */
    expect_fail("bomb.png", AIS_E_LIMIT, "60000 x 60000");
    expect_fail("bad_crc.png", AIS_E_FORMAT, "CRC");
    expect_fail("not_an_image.gif", AIS_E_FORMAT, "not a JPEG or PNG");
    expect_fail("empty", AIS_E_FORMAT, "0 bytes");
}

static void test_limits(void **state) {
    (void)state;
    size_t n;
    uint8_t *b = slurp("rgb.png", &n);
    ais__image img;
    ais__image_limits px = {17 * 13 - 1, 1 << 20}, bytes = {1 << 20, n - 1};
    AIS_ASSERT_STATUS(ais__image_decode(b, n, &px, "x", &img), AIS_E_LIMIT);
    ais_test_assert_error_contains("17 x 13");
    AIS_ASSERT_STATUS(ais__image_decode(b, n, &bytes, "x", &img), AIS_E_LIMIT);
    ais_test_assert_error_contains("bytes");
    free(b);
}

/* EXIF orientation 6 is the plain image rotated clockwise: pixel (x, y) of the result is pixel
 * (y, H - 1 - x) of the stored one. */
static void test_orientation(void **state) {
    (void)state;
    size_t n1, n2;
    uint8_t *a = slurp("rgb.jpg", &n1), *b = slurp("exif6.jpg", &n2);
    ais__image plain, rot;
    AIS_ASSERT_OK(ais__image_decode(a, n1, NULL, "x", &plain));
    AIS_ASSERT_OK(ais__image_decode(b, n2, NULL, "x", &rot));
    for (uint32_t y = 0; y < rot.h; y++)
        for (uint32_t x = 0; x < rot.w; x++)
            assert_memory_equal(rot.px + ((size_t)y * rot.w + x) * 3,
                                plain.px + ((size_t)(plain.h - 1 - x) * plain.w + y) * 3, 3);
    ais__image_free(&plain);
    ais__image_free(&rot);
    free(a);
    free(b);
}

typedef struct {
    uint8_t *b;
    size_t n;
    ais__image img;
} oom_ctx;
static ais_status oom_decode(void *v) {
    oom_ctx *c = v;
    return ais__image_decode(c->b, c->n, NULL, "oom", &c->img);
}
static void oom_cleanup(void *v) { ais__image_free(&((oom_ctx *)v)->img); }

static void test_oom(void **state) {
    (void)state;
    const char *names[] = {"rgb.png", "palette.png", "rgb.jpg", "exif6.jpg"};
    for (size_t i = 0; i < 4; i++) {
        oom_ctx c = {0};
        c.b = slurp(names[i], &c.n);
        ais_test_oom_sweep(names[i], oom_decode, oom_cleanup, &c, 200);
        free(c.b);
    }
}

/* The resampling rows of every instruction-set level give the scalar level's bytes (integer
 * sums, so exactly), on random pixels, weights (some negative, some 0) and lengths that leave
 * tails. */
static void test_resample_levels(void **state) {
    (void)state;
    const ais__cpu_kernels *ref = ais__cpu_for(AIS_CPU_ISA_SCALAR);
    enum { W = 203, TAPS = 6, ROWS = TAPS, N = 77 };
    uint8_t src[ROWS * W + 16], a[3 * N + 16], b[3 * N + 16];
    int32_t k[TAPS * N], off[TAPS * N];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)ais_test_randint(0, 255);
    for (int lvl = AIS_CPU_ISA_AVX2; lvl <= AIS_CPU_ISA_AVX512; lvl++) {
        const ais__cpu_kernels *t = ais__cpu_for((ais_cpu_isa)lvl);
        if (!t) continue;
        for (size_t n = 1; n <= N; n += 19) {
            for (size_t i = 0; i < TAPS * n; i++) {
                k[i] = (int32_t)ais_test_randint(-(1 << 18), 1 << 20); /* sums stay in int32 */
                if (i % 7 == 0) k[i] = 0;
                off[i] = (int32_t)ais_test_randint(0, W / 3 - 1) * 3;
            }
            memset(a, 0, sizeof a), memset(b, 0, sizeof b);
            ref->resample_rgb_row(src, off, k, TAPS, a, n);
            t->resample_rgb_row(src, off, k, TAPS, b, n);
            assert_memory_equal(a, b, 3 * n);
            ref->resample_u8_row(src, W, k, TAPS, a, n);
            t->resample_u8_row(src, W, k, TAPS, b, n);
            assert_memory_equal(a, b, n);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes), cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_limits),  cmocka_unit_test(test_orientation),
        cmocka_unit_test(test_oom),     cmocka_unit_test(test_resample_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
