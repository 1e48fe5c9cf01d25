/* arena.h: the per-step bump allocator for activations, saved values and tensor headers.
 *
 * Allocation is a pointer bump (64-byte aligned); ef_arena_reset() makes everything free
 * again at once. The arena starts with one chunk; if a step needs more, it adds chunks (each
 * at least the request) during that step, and the next reset replaces all chunks by a single
 * chunk as large as the step's high-water mark. So the first (largest) step sizes the arena
 * once and later steps never call malloc. ef_arena_capacity() and ef_arena_chunks() let tests
 * verify that it stopped growing. Memory is never returned until ef_arena_free().
 */
#ifndef EF_AUTOGRAD_ARENA_H
#define EF_AUTOGRAD_ARENA_H

#include <stddef.h>

#define EF_ARENA_ALIGN 64

typedef struct ef_arena ef_arena;

ef_arena *ef_arena_new(size_t bytes);
void ef_arena_free(ef_arena *a);
/* NULL only when the system is out of memory. */
void *ef_arena_alloc(ef_arena *a, size_t bytes);
void ef_arena_reset(ef_arena *a);
size_t ef_arena_used(const ef_arena *a);     /* bytes handed out in this step */
size_t ef_arena_capacity(const ef_arena *a); /* bytes held in all chunks */
int ef_arena_chunks(const ef_arena *a);
size_t ef_arena_high_water(const ef_arena *a);

#endif
