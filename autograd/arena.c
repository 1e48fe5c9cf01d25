/* arena.c: the per-step bump allocator (see arena.h). Must never free memory in the middle
 * of a step: tensors of the step point into it until the next reset. */
#include "autograd/arena.h"

#include <stdlib.h>
#include <string.h>

#define EF_ARENA_MAX_CHUNKS 64

typedef struct {
  char *base;
  size_t size;
  size_t used;
} chunk;

struct ef_arena {
  chunk chunks[EF_ARENA_MAX_CHUNKS];
  int nchunks;
  int cur;           /* chunk being filled */
  size_t step_used;  /* bytes handed out since reset (incl. alignment padding) */
  size_t high_water; /* max step_used over all steps */
};

static int add_chunk(ef_arena *a, size_t bytes) {
  if (a->nchunks == EF_ARENA_MAX_CHUNKS) return 0;
  bytes = (bytes + EF_ARENA_ALIGN - 1) & ~(size_t)(EF_ARENA_ALIGN - 1);
  void *p = NULL;
  if (posix_memalign(&p, EF_ARENA_ALIGN, bytes ? bytes : EF_ARENA_ALIGN)) return 0;
  a->chunks[a->nchunks++] = (chunk){p, bytes, 0};
  return 1;
}

ef_arena *ef_arena_new(size_t bytes) {
  ef_arena *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  if (!add_chunk(a, bytes ? bytes : (1u << 20))) {
    free(a);
    return NULL;
  }
  return a;
}

void ef_arena_free(ef_arena *a) {
  if (!a) return;
  for (int i = 0; i < a->nchunks; i++) free(a->chunks[i].base);
  free(a);
}

void *ef_arena_alloc(ef_arena *a, size_t bytes) {
  size_t need = (bytes + EF_ARENA_ALIGN - 1) & ~(size_t)(EF_ARENA_ALIGN - 1);
  if (need == 0) need = EF_ARENA_ALIGN;
  while (a->cur < a->nchunks) {
    chunk *c = &a->chunks[a->cur];
    if (c->size - c->used >= need) {
      void *p = c->base + c->used;
      c->used += need;
      a->step_used += need;
      if (a->step_used > a->high_water) a->high_water = a->step_used;
      return p;
    }
    a->cur++;
  }
  /* Growth (first steps only): a chunk at least as large as everything so far. */
  size_t grow = a->step_used > need ? a->step_used : need;
  if (!add_chunk(a, grow)) return NULL;
  a->cur = a->nchunks - 1;
  return ef_arena_alloc(a, bytes);
}

void ef_arena_reset(ef_arena *a) {
  if (a->nchunks > 1) {
    /* Consolidate: one chunk of the high-water size replaces all of them. */
    size_t want = a->high_water;
    for (int i = 0; i < a->nchunks; i++) free(a->chunks[i].base);
    a->nchunks = 0;
    if (!add_chunk(a, want)) {
      /* Out of memory while consolidating: keep an empty arena; alloc will retry. */
      a->nchunks = 0;
    }
  }
  for (int i = 0; i < a->nchunks; i++) a->chunks[i].used = 0;
  a->cur = 0;
  a->step_used = 0;
}

size_t ef_arena_used(const ef_arena *a) { return a->step_used; }
size_t ef_arena_high_water(const ef_arena *a) { return a->high_water; }
int ef_arena_chunks(const ef_arena *a) { return a->nchunks; }
size_t ef_arena_capacity(const ef_arena *a) {
  size_t s = 0;
  for (int i = 0; i < a->nchunks; i++) s += a->chunks[i].size;
  return s;
}
