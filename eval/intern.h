/* eval/intern.h: a string -> dense id table (open addressing), so word n-grams and LCS can
 * compare integers. Ids are stable for the table's lifetime. It must never return the same
 * id for two different strings. */
#ifndef EF_EVAL_INTERN_H
#define EF_EVAL_INTERN_H

#include <stddef.h>
#include <stdint.h>

/* Most distinct strings one table holds (ids fit in 32 bits with room for ngram.h's +1). */
#define EF_INTERN_MAX_IDS ((uint32_t)1 << 30)

typedef struct {
  uint32_t *slots; /* id+1 per slot, 0 = empty */
  size_t nslots;
  uint64_t *hashes; /* per id */
  size_t *offs;     /* per id, into pool */
  uint32_t *lens;   /* per id */
  size_t cap_ids;
  uint32_t n;
  char *pool;
  size_t pool_len, pool_cap;
} ef_intern;

/* The id of s[0..len), adding it if new; -1 (as int64) on out of memory or table full. */
int64_t ef_intern_id(ef_intern *t, const char *s, size_t len);
void ef_intern_free(ef_intern *t);

#endif
