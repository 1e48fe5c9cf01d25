/* backward.c: the reverse pass over the tape, and the pool its activation gradients live in.
 * Must never zero a parameter gradient: backward kernels accumulate, and the caller zeroes
 * the store once per update.
 *
 * Activation gradients: a node's inputs get a zeroed gradient buffer from the pool just
 * before the node's backward runs (if they need one and have none yet), and the node's own
 * output gradient goes back to the pool right after: nothing reads it again. So the pass
 * holds only the gradients in flight instead of one per activation. Buffers are kept in
 * power-of-two size classes and reused across steps: after the first steps the pool stops
 * allocating. */
#include <stdlib.h>
#include <string.h>

#include "autograd/graph.h"
#include "autograd/ops.h"

#define EF_POOL_CLASSES 48
#define EF_POOL_MIN_SHIFT 4 /* smallest buffer: 16 floats */

typedef struct block {
  struct block *next;
  float *data;
  int size_class;
} block;

struct ef_grad_pool {
  block *free_list[EF_POOL_CLASSES]; /* blocks of 2^(class + MIN_SHIFT) floats, available */
  block **owned;                     /* every block ever made */
  int n_owned, cap_owned;
};

ef_grad_pool *ef_grad_pool_new(void) { return calloc(1, sizeof(ef_grad_pool)); }

void ef_grad_pool_free(ef_grad_pool *p) {
  if (!p) return;
  for (int i = 0; i < p->n_owned; i++) {
    free(p->owned[i]->data);
    free(p->owned[i]);
  }
  free(p->owned);
  free(p);
}

static int size_class(int64_t n) {
  int c = 0;
  while (((int64_t)1 << (c + EF_POOL_MIN_SHIFT)) < n) c++;
  return c;
}

/* Buffers handed out and not yet returned, by address, so release can find their header. */
static block *take(ef_grad_pool *p, int c) {
  block *b = p->free_list[c];
  if (b) {
    p->free_list[c] = b->next;
    return b;
  }
  if (p->n_owned == p->cap_owned) {
    int cap = p->cap_owned ? 2 * p->cap_owned : 64;
    block **o = realloc(p->owned, (size_t)cap * sizeof *o);
    if (!o) return NULL;
    p->owned = o;
    p->cap_owned = cap;
  }
  b = calloc(1, sizeof *b);
  void *mem = NULL;
  if (!b || posix_memalign(&mem, 64, ((size_t)1 << (c + EF_POOL_MIN_SHIFT)) * sizeof(float))) {
    free(b);
    return NULL;
  }
  b->data = mem;
  b->size_class = c;
  p->owned[p->n_owned++] = b;
  return b;
}

/* In-flight buffers: a small map from tensor to its block (the tensor keeps the data pointer;
 * the block header is found by scanning the owned list, kept short by reuse). */
static block *find_block(ef_grad_pool *p, const float *data) {
  for (int i = p->n_owned - 1; i >= 0; i--)
    if (p->owned[i]->data == data) return p->owned[i];
  return NULL;
}

int ef_grad_acquire(ef_ctx *ctx, ef_tensor *t) {
  int c = size_class(t->numel);
  if (c >= EF_POOL_CLASSES)
    return ef_ctx_fail(ctx, "backward: gradient of %lld values too large", (long long)t->numel), -1;
  block *b = take(ctx->pool, c);
  if (!b)
    return ef_ctx_fail(ctx, "out of memory for a gradient of %lld values", (long long)t->numel), -1;
  memset(b->data, 0, (size_t)t->numel * sizeof(float));
  t->grad = b->data;
  t->grad_pooled = 1;
  return 0;
}

void ef_grad_pool_reset(ef_grad_pool *p) {
  memset(p->free_list, 0, sizeof p->free_list);
  for (int i = 0; i < p->n_owned; i++) {
    block *b = p->owned[i];
    b->next = p->free_list[b->size_class];
    p->free_list[b->size_class] = b;
  }
}

static void release(ef_grad_pool *p, ef_tensor *t) {
  block *b = find_block(p, t->grad);
  if (b) {
    b->next = p->free_list[b->size_class];
    p->free_list[b->size_class] = b;
  }
  t->grad = NULL;
  t->grad_pooled = 0;
}

static int run_tape(ef_ctx *ctx) {
  for (int i = ctx->n_nodes - 1; i >= 0; i--) {
    ef_node *n = &ctx->nodes[i];
    if (!n->out->grad) continue; /* no gradient reached this output: nothing to propagate */
    for (int k = 0; k < EF_NODE_MAX_IN; k++) {
      ef_tensor *in = n->in[k];
      if (in && in->requires_grad && !in->grad && in->dtype == EF_F32 && ef_grad_acquire(ctx, in))
        return -1;
    }
    n->backward(n);
    if (n->out->grad_pooled) release(ctx->pool, n->out);
  }
  return 0; /* gradients still held by leaves go back at the next ef_ctx_reset */
}

static int seed_output(ef_ctx *ctx, ef_tensor *out) {
  if (!out->grad && out->requires_grad && ef_grad_acquire(ctx, out)) return -1;
  return 0;
}

int ef_backward(ef_ctx *ctx, ef_tensor *loss) {
  if (!ef_ctx_ok(ctx)) return -1;
  if (!loss || loss->numel != 1 || !loss->requires_grad) {
    ef_ctx_fail(ctx, "backward: the loss must be a scalar that needs a gradient");
    return -1;
  }
  if (seed_output(ctx, loss)) return -1;
  loss->grad[0] = 1.0f;
  return run_tape(ctx);
}

int ef_backward_from(ef_ctx *ctx, ef_tensor *out, const float *out_grad) {
  if (!ef_ctx_ok(ctx)) return -1;
  if (!out || !out->requires_grad) {
    ef_ctx_fail(ctx, "backward: the output does not need a gradient");
    return -1;
  }
  if (seed_output(ctx, out)) return -1;
  memcpy(out->grad, out_grad, (size_t)out->numel * sizeof(float));
  return run_tape(ctx);
}
