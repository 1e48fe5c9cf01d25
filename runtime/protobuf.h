/* runtime/protobuf.h: a minimal reader of the protobuf wire format (proto2/proto3 encoding),
 * enough to read SentencePiece `.model` files and any other small message the runtime needs.
 *
 * It walks one message's fields in order; nested messages are read by opening a new reader on
 * the field's bytes. Every length and offset is checked against the end of the buffer: a
 * malformed input yields RT_PB_ERROR and a message, never a read outside [begin, end).
 * It never allocates and never copies: bytes fields point into the caller's buffer.
 */
#ifndef EF_RUNTIME_PROTOBUF_H
#define EF_RUNTIME_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

#define RT_PB_MAX_VARINT_BYTES 10        /* a 64-bit varint never needs more */
#define RT_PB_MAX_FIELD_NUMBER 536870911 /* 2^29 - 1, the protobuf limit */

/* Wire types (the low 3 bits of a field key). Groups (3, 4) are deprecated and rejected. */
enum { RT_PB_VARINT = 0, RT_PB_FIXED64 = 1, RT_PB_BYTES = 2, RT_PB_FIXED32 = 5 };

/* Status of rt_pb_next. */
enum { RT_PB_OK = 0, RT_PB_END = 1, RT_PB_ERROR = -1 };

typedef struct rt_pb_reader {
  const uint8_t *begin; /* start of the message (for offsets in messages) */
  const uint8_t *pos;   /* next byte to read */
  const uint8_t *end;   /* one past the last byte of the message */
} rt_pb_reader;

/* One decoded field. For RT_PB_VARINT/FIXED64/FIXED32 `u64` holds the raw value; for
 * RT_PB_BYTES, `data`/`len` point into the reader's buffer. `offset` is where the key starts,
 * relative to the reader's begin (for error messages). */
typedef struct rt_pb_field {
  uint32_t number;
  int wire_type;
  uint64_t u64;
  const uint8_t *data;
  size_t len;
  size_t offset;
} rt_pb_field;

void rt_pb_reader_init(rt_pb_reader *r, const void *data, size_t len);

/* Reads the next field. RT_PB_OK: *f filled. RT_PB_END: the message ended cleanly.
 * RT_PB_ERROR: the bytes are malformed; a one-line description (without a file name) is
 * written to err. */
int rt_pb_next(rt_pb_reader *r, rt_pb_field *f, char *err, size_t errlen);

/* Reads a varint from [*p, end); 0 on success (advances *p), -1 when it is truncated or longer
 * than RT_PB_MAX_VARINT_BYTES. */
int rt_pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out);

/* Interpretations of a field's raw value. */
static inline float rt_pb_as_float(const rt_pb_field *f) {
  union {
    uint32_t u;
    float x;
  } v;
  v.u = (uint32_t)f->u64;
  return v.x;
}
static inline int32_t rt_pb_as_int32(const rt_pb_field *f) { return (int32_t)(uint32_t)f->u64; }
static inline int rt_pb_as_bool(const rt_pb_field *f) { return f->u64 != 0; }

#endif
