/* graph.h: the tape, for op implementers (autograd/op_<name>.c) and the engine; users need only
 * tensor.h and ops.h.
 *
 * Every op runs its forward kernel at once (define-by-run) and, when its output needs a
 * gradient, appends one node holding its inputs, output, saved buffers and scalars.
 * ef_backward() walks the tape in reverse and calls each node's backward kernel, which must
 * ADD into the grads of its inputs (never overwrite): that is what makes shared parameters
 * and tied embeddings correct with no special case.
 */
#ifndef EF_AUTOGRAD_GRAPH_H
#define EF_AUTOGRAD_GRAPH_H

#include "autograd/arena.h"
#include "autograd/tensor.h"

#define EF_NODE_MAX_IN 6
#define EF_NODE_MAX_SAVED 4
#define EF_BF16_CACHE 4

typedef struct ef_node ef_node;
typedef void (*ef_backward_fn)(ef_node *n);

struct ef_node {
  const char *op;
  ef_backward_fn backward;
  ef_tensor *out;
  ef_tensor *in[EF_NODE_MAX_IN];
  void *saved[EF_NODE_MAX_SAVED]; /* arena buffers the backward needs */
  float f[4];                     /* scalar hyper-parameters */
  int64_t i[6];                   /* integer hyper-parameters */
};

typedef struct ef_grad_pool ef_grad_pool;

struct ef_ctx {
  ef_arena *arena;
  ef_grad_pool *pool; /* activation gradients of the reverse pass (backward.c) */
  ef_node *nodes;
  int n_nodes, max_nodes;
  int training, grad_enabled;
  int bf16; /* products in bf16 (ef_ctx_set_bf16) */
  struct {
    const float *src;
    int64_t n;
    uint16_t *dst;
  } bf16_cache[EF_BF16_CACHE]; /* this step's last activation conversions (op_linear.c) */
  int bf16_cache_next;
  uint64_t seed, step, rng_calls; /* dropout: rng_calls counts dropout ops in this step */
  char err[EF_ERR_LEN];
};

/* The gradient pool: zeroed buffers of at least n floats, reused across steps. */
ef_grad_pool *ef_grad_pool_new(void);
void ef_grad_pool_free(ef_grad_pool *p);
/* Every buffer is free again (a new step: no tensor of the last one is alive). */
void ef_grad_pool_reset(ef_grad_pool *p);
/* Give t (requires_grad, no grad yet) a zeroed pooled gradient. 0, or -1 out of memory. */
int ef_grad_acquire(ef_ctx *ctx, ef_tensor *t);
/* Arena allocation that sets the context error on failure. */
void *ef_ctx_alloc(ef_ctx *ctx, size_t bytes);
/* True when any of the n inputs carries a gradient and recording is on. */
int ef_needs_grad(const ef_ctx *ctx, ef_tensor *const *in, int n);
/* Append a node (when out->grad is set); returns it, or NULL (error set) if the tape is full.
 * Inputs beyond n are NULL. */
ef_node *ef_record(ef_ctx *ctx, const char *op, ef_backward_fn bw, ef_tensor *out,
                   ef_tensor *const *in, int n);

/* Output tensor for an op: arena tensor with a zeroed grad when any input needs one. */
ef_tensor *ef_op_output(ef_ctx *ctx, int ndim, const int64_t *shape, ef_tensor *const *in, int n);

#endif
