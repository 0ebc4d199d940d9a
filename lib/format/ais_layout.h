/*
 * ais_layout.h - constants of the native .ais container (docs/ais-format.md is the spec) and the
 * little-endian byte cursor and buffer that its reader and writer share.
 */
#ifndef AIS_LAYOUT_H
#define AIS_LAYOUT_H

#include <string.h>

#include "format.h"

/* PNG-style: a high byte catches 7-bit transfers, CR LF and ^Z catch text-mode conversions. */
#define AIS__MAGIC                                                                                 \
    "\x89"                                                                                         \
    "AIS\r\n\x1a\n"
#define AIS__MAGIC_LEN 8
#define AIS__VERSION_MAJOR 1
#define AIS__VERSION_MINOR 0
#define AIS__HEADER_SIZE 64
#define AIS__SECTION_ENTRY_SIZE 32
#define AIS__HEADER_HASH_OFFSET 56
#define AIS__DATA_ALIGN 64

/* Header fields (byte offsets). */
enum {
    AIS__H_MAGIC = 0,
    AIS__H_MAJOR = 8,
    AIS__H_MINOR = 10,
    AIS__H_HEADER_SIZE = 12,
    AIS__H_SECTION_COUNT = 16,
    AIS__H_SECTION_ENTRY_SIZE = 20,
    AIS__H_REQUIRED = 24,
    AIS__H_OPTIONAL = 32,
    AIS__H_FILE_SIZE = 40,
    AIS__H_RESERVED = 48,
    AIS__H_HASH = 56,
};

/* Section types. Readers skip unknown types unless the entry is flagged required. */
enum {
    AIS__SEC_META = 1,
    AIS__SEC_GRAPH = 2,
    AIS__SEC_TENSORS = 3,
    AIS__SEC_DATA = 4,
    AIS__SEC_PIPELINE = 5, /* reserved: the feature-pipeline spec */
    AIS__SEC_DRIFT = 6,    /* reserved: the drift reference profile */
};
#define AIS__SECF_REQUIRED 1u

/* Required-feature bits: a reader that meets a bit it does not know must refuse the file. */
#define AIS__FEAT_ZSTD (1ull << 0)
#define AIS__FEAT_SHUFFLE (1ull << 1)
#define AIS__FEAT_KNOWN (AIS__FEAT_ZSTD | AIS__FEAT_SHUFFLE)

enum { AIS__ENC_RAW = 0, AIS__ENC_ZSTD = 1 };
enum { AIS__FILTER_NONE = 0, AIS__FILTER_SHUFFLE = 1 };

/* Limits on counts read from a file; sizes are bounded by the bytes that remain. */
#define AIS__MAX_SECTIONS 256u
#define AIS__MAX_STRING (1u << 20)
#define AIS__MAX_ITEMS (1u << 24)
/* Attribute lookup is linear, so a node with very many would make loading quadratic. */
#define AIS__MAX_ATTRS 256u

/* ---- little-endian scalars ---- */

static inline uint16_t ais__le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t ais__le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t ais__le64(const uint8_t *p) {
    return (uint64_t)ais__le32(p) | ((uint64_t)ais__le32(p + 4) << 32);
}
static inline void ais__put_le16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void ais__put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void ais__put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- reading: a cursor over one section; the first failure sticks ---- */

typedef struct ais__cur {
    const uint8_t *p;
    size_t size, pos;
    const char *section; /* for messages */
    ais_status st;
} ais__cur;

/* Sets a format error naming the section and offset (only the first one counts). */
ais_status ais__cur_fail(ais__cur *c, const char *fmt, ...) AIS__PRINTF(2, 3);
bool ais__cur_need(ais__cur *c, size_t n, const char *what);
uint8_t ais__cur_u8(ais__cur *c, const char *what);
uint32_t ais__cur_u32(ais__cur *c, const char *what);
int32_t ais__cur_i32(ais__cur *c, const char *what);
uint64_t ais__cur_u64(ais__cur *c, const char *what);
int64_t ais__cur_i64(ais__cur *c, const char *what);
float ais__cur_f32(ais__cur *c, const char *what);
/* A count of items of at least `min_item_bytes` each: refused when the remaining bytes could not
 * hold them or it exceeds `max`. */
uint32_t ais__cur_count(ais__cur *c, size_t min_item_bytes, uint32_t max, const char *what);
/* A length-prefixed string, copied and NUL-terminated into a new ais__malloc block (NULL on
 * failure, with c->st set). Embedded NULs are refused. */
char *ais__cur_str(ais__cur *c, const char *what);

/* ---- writing: a growable buffer; the first allocation failure sticks ---- */

typedef struct ais__buf {
    uint8_t *p;
    size_t size, cap;
    bool oom;
} ais__buf;

void ais__buf_free(ais__buf *b);
void ais__buf_bytes(ais__buf *b, const void *data, size_t n);
void ais__buf_u8(ais__buf *b, uint8_t v);
void ais__buf_u16(ais__buf *b, uint16_t v);
void ais__buf_u32(ais__buf *b, uint32_t v);
void ais__buf_u64(ais__buf *b, uint64_t v);
void ais__buf_f32(ais__buf *b, float v);
void ais__buf_str(ais__buf *b, const char *s);

/* ---- byte shuffle (Blosc's filter): byte j of element i goes to plane j ---- */

void ais__shuffle(uint8_t *restrict dst, const uint8_t *restrict src, size_t n_elems,
                  size_t elem_size);
void ais__unshuffle(uint8_t *restrict dst, const uint8_t *restrict src, size_t n_elems,
                    size_t elem_size);

/* XXH64 with seed 0, the checksum of the format. */
uint64_t ais__xxh64(const void *data, size_t n);

/* zstd contexts that allocate through ais__malloc. */
struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;
struct ZSTD_CCtx_s *ais__zstd_cctx(void);
struct ZSTD_DCtx_s *ais__zstd_dctx(void);

#endif /* AIS_LAYOUT_H */
