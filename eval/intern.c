/* eval/intern.c: string interning for the metrics (see intern.h). It must never keep a
 * pointer into the caller's strings: everything interned is copied into the pool. */
#include "eval/intern.h"

#include <stdlib.h>
#include <string.h>

#include "eval/buf.h"

#define INTERN_MIN_SLOTS 1024
#define INTERN_FNV_OFFSET 1469598103934665603ull
#define INTERN_FNV_PRIME 1099511628211ull

static uint64_t fnv1a(const char *s, size_t len) {
  uint64_t h = INTERN_FNV_OFFSET;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * INTERN_FNV_PRIME;
  return h;
}

static int rehash(ef_intern *t, size_t nslots) {
  uint32_t *s = calloc(nslots, sizeof *s);
  if (!s) return -1;
  for (uint32_t id = 0; id < t->n; id++) {
    size_t k = t->hashes[id] & (nslots - 1);
    while (s[k]) k = (k + 1) & (nslots - 1);
    s[k] = id + 1;
  }
  free(t->slots);
  t->slots = s;
  t->nslots = nslots;
  return 0;
}

int64_t ef_intern_id(ef_intern *t, const char *s, size_t len) {
  if (!t->slots && rehash(t, INTERN_MIN_SLOTS)) return -1;
  uint64_t h = fnv1a(s, len);
  size_t k = h & (t->nslots - 1);
  while (t->slots[k]) {
    uint32_t id = t->slots[k] - 1;
    if (t->hashes[id] == h && t->lens[id] == len && !memcmp(t->pool + t->offs[id], s, len))
      return id;
    k = (k + 1) & (t->nslots - 1);
  }
  if (t->n >= EF_INTERN_MAX_IDS || len > UINT32_MAX) return -1;
  size_t cap = t->cap_ids;
  if (ef_grow((void **)&t->hashes, &cap, t->n + 1, sizeof *t->hashes)) return -1;
  cap = t->cap_ids;
  if (ef_grow((void **)&t->offs, &cap, t->n + 1, sizeof *t->offs)) return -1;
  cap = t->cap_ids;
  if (ef_grow((void **)&t->lens, &cap, t->n + 1, sizeof *t->lens)) return -1;
  t->cap_ids = cap;
  if (ef_grow((void **)&t->pool, &t->pool_cap, t->pool_len + len + 1, 1)) return -1;
  memcpy(t->pool + t->pool_len, s, len);
  uint32_t id = t->n++;
  t->hashes[id] = h;
  t->offs[id] = t->pool_len;
  t->lens[id] = (uint32_t)len;
  t->pool_len += len;
  t->slots[k] = id + 1;
  if ((size_t)t->n * 2 > t->nslots && rehash(t, t->nslots * 2)) return -1;
  return id;
}

void ef_intern_free(ef_intern *t) {
  free(t->slots);
  free(t->hashes);
  free(t->offs);
  free(t->lens);
  free(t->pool);
  memset(t, 0, sizeof *t);
}
