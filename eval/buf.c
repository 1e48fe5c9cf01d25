/* eval/buf.c: growable scratch arrays for the metrics (see buf.h). It must never free or
 * move memory except while growing, so callers can keep using their contents. */
#include "eval/buf.h"

#include <stdlib.h>
#include <string.h>

#define EF_BUF_MIN_CAP 64

int ef_grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  if (need > EF_BUF_MAX_ELEMS) return -1;
  size_t nc = *cap ? *cap : EF_BUF_MIN_CAP;
  while (nc < need) nc *= 2;
  if (nc > EF_BUF_MAX_ELEMS) nc = EF_BUF_MAX_ELEMS;
  void *q = realloc(*p, nc * elem);
  if (!q) return -1;
  *p = q;
  *cap = nc;
  return 0;
}

int ef_bytes_reserve(ef_bytes *b, size_t need) { return ef_grow((void **)&b->p, &b->cap, need, 1); }

int ef_u32s_reserve(ef_u32s *b, size_t need) {
  return ef_grow((void **)&b->p, &b->cap, need, sizeof *b->p);
}

int ef_bytes_append(ef_bytes *b, const char *s, size_t n) {
  if (ef_bytes_reserve(b, b->len + n + 1)) return -1;
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0; /* always NUL-terminated for convenience; len excludes it */
  return 0;
}

int ef_u32s_push(ef_u32s *b, uint32_t v) {
  if (ef_u32s_reserve(b, b->len + 1)) return -1;
  b->p[b->len++] = v;
  return 0;
}

void ef_bytes_free(ef_bytes *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

void ef_u32s_free(ef_u32s *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}
