/* runtime/protobuf.c: the protobuf wire-format reader declared in protobuf.h.
 * It must never read outside [begin, end) nor allocate; every failure is a status + message. */
#include "runtime/protobuf.h"

#include <stdio.h>
#include <string.h>

void rt_pb_reader_init(rt_pb_reader *r, const void *data, size_t len) {
  r->begin = (const uint8_t *)data;
  r->pos = r->begin;
  r->end = r->begin + len;
}

int rt_pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  const uint8_t *q = *p;
  uint64_t v = 0;
  for (int i = 0; i < RT_PB_MAX_VARINT_BYTES; i++) {
    if (q >= end) return -1;
    uint8_t b = *q++;
    if (i == RT_PB_MAX_VARINT_BYTES - 1 && b > 1) return -1; /* would overflow 64 bits */
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *p = q;
      *out = v;
      return 0;
    }
  }
  return -1;
}

static uint64_t read_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

int rt_pb_next(rt_pb_reader *r, rt_pb_field *f, char *err, size_t errlen) {
  if (r->pos >= r->end) return RT_PB_END;
  size_t off = (size_t)(r->pos - r->begin);
  uint64_t key;
  memset(f, 0, sizeof *f);
  f->offset = off;
  if (rt_pb_read_varint(&r->pos, r->end, &key) != 0) {
    snprintf(err, errlen, "bad varint in field key at byte %zu", off);
    return RT_PB_ERROR;
  }
  uint64_t number = key >> 3;
  f->wire_type = (int)(key & 7);
  if (number == 0 || number > RT_PB_MAX_FIELD_NUMBER) {
    snprintf(err, errlen, "invalid field number %llu at byte %zu", (unsigned long long)number, off);
    return RT_PB_ERROR;
  }
  f->number = (uint32_t)number;
  size_t left;
  switch (f->wire_type) {
  case RT_PB_VARINT:
    if (rt_pb_read_varint(&r->pos, r->end, &f->u64) != 0) {
      snprintf(err, errlen, "bad varint in field %u at byte %zu", f->number, off);
      return RT_PB_ERROR;
    }
    return RT_PB_OK;
  case RT_PB_FIXED64:
  case RT_PB_FIXED32: {
    int n = f->wire_type == RT_PB_FIXED64 ? 8 : 4;
    if ((size_t)(r->end - r->pos) < (size_t)n) {
      snprintf(err, errlen, "field %u at byte %zu: %d-byte value runs past the end", f->number, off,
               n);
      return RT_PB_ERROR;
    }
    f->u64 = read_le(r->pos, n);
    r->pos += n;
    return RT_PB_OK;
  }
  case RT_PB_BYTES: {
    uint64_t len;
    if (rt_pb_read_varint(&r->pos, r->end, &len) != 0) {
      snprintf(err, errlen, "bad length varint in field %u at byte %zu", f->number, off);
      return RT_PB_ERROR;
    }
    left = (size_t)(r->end - r->pos);
    if (len > left) {
      snprintf(err, errlen,
               "field %u at byte %zu: length %llu runs past the end of the message (%zu bytes "
               "left)",
               f->number, off, (unsigned long long)len, left);
      return RT_PB_ERROR;
    }
    f->data = r->pos;
    f->len = (size_t)len;
    r->pos += len;
    return RT_PB_OK;
  }
  default:
    snprintf(err, errlen, "field %u at byte %zu: unsupported wire type %d", f->number, off,
             f->wire_type);
    return RT_PB_ERROR;
  }
}
