/* eval/buf.h: growable arrays reused across calls by the metrics (bytes, code points, ids).
 * They grow geometrically and are never shrunk, so a long scoring run allocates only while
 * it meets longer lines than before. They must never be used for anything but scratch space
 * owned by one metric object. */
#ifndef EF_EVAL_BUF_H
#define EF_EVAL_BUF_H

#include <stddef.h>
#include <stdint.h>

/* Hard cap on one scratch buffer (elements): refuses absurd lines instead of swapping. */
#define EF_BUF_MAX_ELEMS ((size_t)1 << 31)

typedef struct {
  char *p;
  size_t len, cap;
} ef_bytes;

typedef struct {
  uint32_t *p;
  size_t len, cap;
} ef_u32s;

/* Make room for `need` elements in total. Return 0, or -1 when out of memory or over
 * EF_BUF_MAX_ELEMS (the contents are kept either way). */
int ef_bytes_reserve(ef_bytes *b, size_t need);
int ef_u32s_reserve(ef_u32s *b, size_t need);
/* Append n bytes / one element, growing as needed; -1 on failure. */
int ef_bytes_append(ef_bytes *b, const char *s, size_t n);
int ef_u32s_push(ef_u32s *b, uint32_t v);
void ef_bytes_free(ef_bytes *b);
void ef_u32s_free(ef_u32s *b);

/* Generic form for other element types: grows *p (of *cap elements of `elem` bytes) to hold
 * `need` elements. */
int ef_grow(void **p, size_t *cap, size_t need, size_t elem);

#endif
