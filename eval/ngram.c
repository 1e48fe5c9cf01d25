/* eval/ngram.c: exact n-gram multisets (see ngram.h). It must never allocate: callers own
 * every array. */
#include "eval/ngram.h"

#include <stdlib.h>

#define CHAR_BITS 21

size_t ef_ngram_words(const uint32_t *ids, size_t len, int n, ef_ngram *keys) {
  if (n < 1 || n > EF_NGRAM_MAX_WORDS || len < (size_t)n) return 0;
  size_t m = len - (size_t)n + 1;
  for (size_t i = 0; i < m; i++) {
    uint64_t w[EF_NGRAM_MAX_WORDS] = {0};
    for (int k = 0; k < n; k++) w[k] = (uint64_t)ids[i + (size_t)k] + 1; /* ids < 2^32-1 */
    keys[i].a = (w[0] << 32) | w[1];
    keys[i].b = (w[2] << 32) | w[3];
  }
  return m;
}

size_t ef_ngram_chars(const uint32_t *cps, size_t len, int n, ef_ngram *keys) {
  if (n < 1 || n > EF_NGRAM_MAX_CHARS || len < (size_t)n) return 0;
  size_t m = len - (size_t)n + 1;
  for (size_t i = 0; i < m; i++) {
    uint64_t c[EF_NGRAM_MAX_CHARS] = {0};
    for (int k = 0; k < n; k++) c[k] = (uint64_t)cps[i + (size_t)k] + 1;
    keys[i].a = (c[0] << (2 * CHAR_BITS)) | (c[1] << CHAR_BITS) | c[2];
    keys[i].b = (c[3] << (2 * CHAR_BITS)) | (c[4] << CHAR_BITS) | c[5];
  }
  return m;
}

static int cmp_key(ef_ngram x, ef_ngram y) {
  if (x.a != y.a) return x.a < y.a ? -1 : 1;
  if (x.b != y.b) return x.b < y.b ? -1 : 1;
  return 0;
}

static int cmp_qsort(const void *p, const void *q) {
  return cmp_key(*(const ef_ngram *)p, *(const ef_ngram *)q);
}

size_t ef_ngram_tally(ef_ngram *keys, size_t n, ef_ngram_count *out) {
  if (!n) return 0;
  qsort(keys, n, sizeof *keys, cmp_qsort);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (m && cmp_key(out[m - 1].key, keys[i]) == 0) {
      out[m - 1].count++;
    } else {
      out[m].key = keys[i];
      out[m].count = 1;
      m++;
    }
  }
  return m;
}

uint32_t ef_ngram_lookup(const ef_ngram_count *list, size_t n, ef_ngram key) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = cmp_key(list[mid].key, key);
    if (c == 0) return list[mid].count;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

uint64_t ef_ngram_clipped(const ef_ngram_count *a, size_t na, const ef_ngram_count *b, size_t nb) {
  uint64_t s = 0;
  size_t i = 0, j = 0;
  while (i < na && j < nb) {
    int c = cmp_key(a[i].key, b[j].key);
    if (c < 0)
      i++;
    else if (c > 0)
      j++;
    else {
      s += a[i].count < b[j].count ? a[i].count : b[j].count;
      i++, j++;
    }
  }
  return s;
}
