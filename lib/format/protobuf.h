/*
 * protobuf.h - a minimal, zero-copy reader of the protobuf wire format.
 *
 * We do not use libprotobuf: it would copy every bytes field (the weights, which are the bulk of
 * an ONNX file) into std::string and cannot be told to borrow them from a mapped file. This
 * reader hands out pointers into the input instead, so constants can be used in place.
 *
 * Every read is bounds-checked against the enclosing message; errors are AIS_E_FORMAT with the
 * byte offset from the start of the whole buffer, and the caller prefixes the field path.
 */
#ifndef AIS_PROTOBUF_H
#define AIS_PROTOBUF_H

#include "common/common.h"

/* Nesting of length-delimited messages that a reader follows at most. */
#define AIS__PB_MAX_DEPTH 64

enum { AIS__PB_VARINT = 0, AIS__PB_I64 = 1, AIS__PB_LEN = 2, AIS__PB_I32 = 5 };

/* A message being read: [p, end) inside the buffer that starts at base. */
typedef struct ais__pb {
    const uint8_t *base;
    const uint8_t *p, *end;
    const uint8_t *limit; /* the end of the whole buffer: a length past it means "truncated" */
    int depth;
} ais__pb;

typedef struct ais__pb_field {
    uint32_t number;
    uint32_t wire;
    uint64_t v;          /* the value of VARINT, I64 and I32 fields */
    const uint8_t *data; /* the payload of LEN fields (borrowed) */
    size_t len;
    size_t offset; /* of the field's key, from base */
} ais__pb_field;

/* A reader over a whole buffer. */
void ais__pb_init(ais__pb *r, const void *data, size_t size);
/* The next field: *has false at the end of the message. Unknown fields are returned like any
 * other, so skipping one is simply not looking at it. Groups (wire types 3, 4) are refused. */
ais_status ais__pb_next(ais__pb *r, ais__pb_field *f, bool *has);
/* A reader over the payload of a LEN field (a nested message); AIS_E_LIMIT past the depth. */
ais_status ais__pb_sub(const ais__pb *r, const ais__pb_field *f, ais__pb *sub);
size_t ais__pb_offset(const ais__pb *r, const uint8_t *p);

/* Reads one varint at *p (< end), advancing *p; AIS_E_FORMAT when truncated or longer than
 * 10 bytes / 64 bits. base is for the offset in the message. */
ais_status ais__pb_varint(const uint8_t **p, const uint8_t *end, const uint8_t *base,
                          uint64_t *out);

/* Scalar kinds of repeated fields, which may come packed (one LEN field) or unpacked. */
typedef enum ais__pb_kind {
    AIS__PB_K_VARINT,  /* int32, int64, uint64, bool, enum */
    AIS__PB_K_FIXED32, /* float */
    AIS__PB_K_FIXED64, /* double */
} ais__pb_kind;

/* Number of scalars in one occurrence of a repeated field (1 unpacked, n packed); checks that a
 * packed payload holds a whole number of values and that the wire type fits the kind. */
ais_status ais__pb_scalar_count(const ais__pb *r, const ais__pb_field *f, ais__pb_kind kind,
                                size_t *count);
/* Walks the values of one occurrence of a repeated scalar field as uint64 bit patterns. The
 * caller takes exactly the count that ais__pb_scalar_count gave. */
typedef struct ais__pb_iter {
    const uint8_t *p, *end, *base;
    ais__pb_kind kind;
    bool packed;
    uint64_t single;
} ais__pb_iter;
void ais__pb_iter_init(const ais__pb *r, const ais__pb_field *f, ais__pb_kind kind,
                       ais__pb_iter *it);
ais_status ais__pb_iter_next(ais__pb_iter *it, uint64_t *v);

/* A NUL-terminated copy of a LEN field for names; AIS_E_LIMIT over max_len, AIS_E_FORMAT on an
 * embedded NUL (it would silently shorten the name). */
ais_status ais__pb_strdup(const ais__pb *r, const ais__pb_field *f, size_t max_len, char **out);

/* Checks the wire type of a known field; the message names it. */
ais_status ais__pb_expect(const ais__pb *r, const ais__pb_field *f, uint32_t wire,
                          const char *name);

#endif /* AIS_PROTOBUF_H */
