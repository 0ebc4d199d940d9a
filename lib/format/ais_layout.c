/* ais_layout.c - byte cursor and buffer, byte shuffle, checksum and zstd contexts of .ais. */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_customMem: zstd allocates through ais__malloc */
#include "ais_layout.h"

#include <stdio.h>
#include <xxhash.h>
#include <zstd.h>

ais_status ais__cur_fail(ais__cur *c, const char *fmt, ...) {
    if (c->st != AIS_OK) return c->st;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    c->st = ais__error(AIS_E_FORMAT, "%s section, offset %zu: %s", c->section, c->pos, what);
    return c->st;
}

bool ais__cur_need(ais__cur *c, size_t n, const char *what) {
    if (c->st != AIS_OK) return false;
    if (n > c->size - c->pos) {
        ais__cur_fail(c, "%s needs %zu bytes, only %zu remain", what, n, c->size - c->pos);
        return false;
    }
    return true;
}

uint8_t ais__cur_u8(ais__cur *c, const char *what) {
    if (!ais__cur_need(c, 1, what)) return 0;
    return c->p[c->pos++];
}

uint32_t ais__cur_u32(ais__cur *c, const char *what) {
    if (!ais__cur_need(c, 4, what)) return 0;
    uint32_t v = ais__le32(c->p + c->pos);
    c->pos += 4;
    return v;
}

int32_t ais__cur_i32(ais__cur *c, const char *what) { return (int32_t)ais__cur_u32(c, what); }

uint64_t ais__cur_u64(ais__cur *c, const char *what) {
    if (!ais__cur_need(c, 8, what)) return 0;
    uint64_t v = ais__le64(c->p + c->pos);
    c->pos += 8;
    return v;
}

int64_t ais__cur_i64(ais__cur *c, const char *what) { return (int64_t)ais__cur_u64(c, what); }

float ais__cur_f32(ais__cur *c, const char *what) {
    uint32_t bits = ais__cur_u32(c, what);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint32_t ais__cur_count(ais__cur *c, size_t min_item_bytes, uint32_t max, const char *what) {
    size_t at = c->pos;
    uint32_t n = ais__cur_u32(c, what);
    if (c->st != AIS_OK) return 0;
    if (n > max || (min_item_bytes && n > (c->size - c->pos) / min_item_bytes)) {
        c->pos = at;
        ais__cur_fail(c, "%s is %u, more than %s", what, n,
                      n > max ? "the limit" : "the remaining bytes can hold");
        return 0;
    }
    return n;
}

char *ais__cur_str(ais__cur *c, const char *what) {
    size_t at = c->pos;
    uint32_t n = ais__cur_u32(c, what);
    if (c->st != AIS_OK) return NULL;
    if (n > AIS__MAX_STRING) {
        c->pos = at;
        ais__cur_fail(c, "%s is %u bytes long, the limit is %u", what, n, AIS__MAX_STRING);
        return NULL;
    }
    if (!ais__cur_need(c, n, what)) return NULL;
    const uint8_t *s = c->p + c->pos;
    if (memchr(s, 0, n)) {
        ais__cur_fail(c, "%s contains a NUL byte", what);
        return NULL;
    }
    char *out = ais__malloc((size_t)n + 1);
    if (!out) {
        c->st = ais__oom((size_t)n + 1, what);
        return NULL;
    }
    memcpy(out, s, n);
    out[n] = 0;
    c->pos += n;
    return out;
}

void ais__buf_free(ais__buf *b) {
    ais__free(b->p);
    memset(b, 0, sizeof *b);
}

static bool ais__buf_reserve(ais__buf *b, size_t n) {
    if (b->oom) return false;
    size_t need;
    if (!ais__add_size(b->size, n, &need)) {
        b->oom = true;
        return false;
    }
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    uint8_t *p = ais__realloc(b->p, b->size, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void ais__buf_bytes(ais__buf *b, const void *data, size_t n) {
    if (!n || !ais__buf_reserve(b, n)) return;
    memcpy(b->p + b->size, data, n);
    b->size += n;
}

void ais__buf_u8(ais__buf *b, uint8_t v) { ais__buf_bytes(b, &v, 1); }
void ais__buf_u16(ais__buf *b, uint16_t v) {
    uint8_t t[2];
    ais__put_le16(t, v);
    ais__buf_bytes(b, t, 2);
}
void ais__buf_u32(ais__buf *b, uint32_t v) {
    uint8_t t[4];
    ais__put_le32(t, v);
    ais__buf_bytes(b, t, 4);
}
void ais__buf_u64(ais__buf *b, uint64_t v) {
    uint8_t t[8];
    ais__put_le64(t, v);
    ais__buf_bytes(b, t, 8);
}
void ais__buf_f32(ais__buf *b, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    ais__buf_u32(b, bits);
}
void ais__buf_str(ais__buf *b, const char *s) {
    size_t n = s ? strlen(s) : 0;
    ais__buf_u32(b, (uint32_t)n);
    ais__buf_bytes(b, s, n);
}

/* Constant element sizes let the compiler unroll the inner gathers and scatters; the general
 * loop serves the rest. */
#define AIS__SHUFFLE_BODY(ES)                                                                      \
    for (size_t i = 0; i < n_elems; i++)                                                           \
        for (size_t j = 0; j < (ES); j++)                                                          \
            dst[j * n_elems + i] = src[i * (ES) + j];
#define AIS__UNSHUFFLE_BODY(ES)                                                                    \
    for (size_t i = 0; i < n_elems; i++)                                                           \
        for (size_t j = 0; j < (ES); j++)                                                          \
            dst[i * (ES) + j] = src[j * n_elems + i];

void ais__shuffle(uint8_t *restrict dst, const uint8_t *restrict src, size_t n_elems,
                  size_t elem_size) {
    switch (elem_size) {
    case 2: AIS__SHUFFLE_BODY(2) break;
    case 4: AIS__SHUFFLE_BODY(4) break;
    case 8: AIS__SHUFFLE_BODY(8) break;
    default: AIS__SHUFFLE_BODY(elem_size) break;
    }
}

void ais__unshuffle(uint8_t *restrict dst, const uint8_t *restrict src, size_t n_elems,
                    size_t elem_size) {
    switch (elem_size) {
    case 2: AIS__UNSHUFFLE_BODY(2) break;
    case 4: AIS__UNSHUFFLE_BODY(4) break;
    case 8: AIS__UNSHUFFLE_BODY(8) break;
    default: AIS__UNSHUFFLE_BODY(elem_size) break;
    }
}

uint64_t ais__xxh64(const void *data, size_t n) { return XXH64(data, n, 0); }

static void *ais__zstd_alloc(void *opaque, size_t size) {
    (void)opaque;
    return ais__malloc(size);
}
static void ais__zstd_free(void *opaque, void *p) {
    (void)opaque;
    ais__free(p);
}
static const ZSTD_customMem ais__zstd_mem = {ais__zstd_alloc, ais__zstd_free, NULL};

struct ZSTD_CCtx_s *ais__zstd_cctx(void) {
    return ZSTD_createCCtx_advanced(ais__zstd_mem);
}
struct ZSTD_DCtx_s *ais__zstd_dctx(void) {
    return ZSTD_createDCtx_advanced(ais__zstd_mem);
}
