/* eval/ngram_any.c: exact n-gram keys of any order (see ngram_any.h). */
#include "eval/ngram_any.h"

#include <string.h>

#define NGRAM_LONG_MARK UINT64_MAX /* key.b of an interned key; packed keys never have it */

size_t ef_ngram_any(const uint32_t *seq, size_t len, int n, int chars, ef_intern *tab,
                    ef_ngram *keys) {
  if (n < 1 || len < (size_t)n) return 0;
  if (chars && n <= EF_NGRAM_MAX_CHARS) return ef_ngram_chars(seq, len, n, keys);
  if (!chars && n <= EF_NGRAM_MAX_WORDS) return ef_ngram_words(seq, len, n, keys);
  size_t m = len - (size_t)n + 1;
  for (size_t i = 0; i < m; i++) {
    int64_t id = ef_intern_id(tab, (const char *)(seq + i), (size_t)n * sizeof *seq);
    if (id < 0) return (size_t)-1;
    keys[i].a = (uint64_t)id + 1;
    keys[i].b = NGRAM_LONG_MARK;
  }
  return m;
}
