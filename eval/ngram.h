/* eval/ngram.h: n-gram multisets as sorted (key, count) lists, and their clipped
 * intersection. A key packs up to 4 word ids (32 bits each) or up to 6 code points (21 bits
 * each, +1 so that 0 means "absent"), so different n-grams always have different keys. It
 * must never hash keys lossily: metrics built on it are exact. */
#ifndef EF_EVAL_NGRAM_H
#define EF_EVAL_NGRAM_H

#include <stddef.h>
#include <stdint.h>

#define EF_NGRAM_MAX_WORDS 4 /* word ids per key */
#define EF_NGRAM_MAX_CHARS 6 /* code points per key */

typedef struct {
  uint64_t a, b;
} ef_ngram;

typedef struct {
  ef_ngram key;
  uint32_t count;
} ef_ngram_count;

/* The keys of all n-grams of order n (1..EF_NGRAM_MAX_WORDS) of ids[0..len): len-n+1 keys
 * (none if len < n) written to keys (room for len keys). Returns the number written. */
size_t ef_ngram_words(const uint32_t *ids, size_t len, int n, ef_ngram *keys);
/* The same for code points, n in 1..EF_NGRAM_MAX_CHARS. */
size_t ef_ngram_chars(const uint32_t *cps, size_t len, int n, ef_ngram *keys);
/* Sorts keys[0..n) and writes distinct keys with their counts to out (room for n).
 * Returns the number of distinct keys. */
size_t ef_ngram_tally(ef_ngram *keys, size_t n, ef_ngram_count *out);
/* Count of key in the sorted list, 0 if absent. */
uint32_t ef_ngram_lookup(const ef_ngram_count *list, size_t n, ef_ngram key);
/* Sum over keys of min(count in a, count in b), both sorted lists. */
uint64_t ef_ngram_clipped(const ef_ngram_count *a, size_t na, const ef_ngram_count *b, size_t nb);

#endif
