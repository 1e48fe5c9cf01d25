/* op_add.c: y = a + b (same shapes), the residual connection. */
#include "autograd/graph.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

typedef struct {
  float *y;
  const float *a, *b;
} add_args;

// a (n), b (n) -> y (n)
static void add_forward(void *p, int64_t i0, int64_t i1, int tid) {
  add_args *s = p;
  float *restrict y = s->y;
  const float *restrict a = s->a, *restrict b = s->b;
#pragma omp simd
  for (int64_t i = i0; i < i1; i++) y[i] = a[i] + b[i];
}

typedef struct {
  const float *dy;
  float *da, *db;
} add_bw_args;

static void add_backward_body(void *p, int64_t i0, int64_t i1, int tid) {
  add_bw_args *s = p;
  const float *restrict dy = s->dy;
  /* one buffer at a time: da and db may be the same buffer (a + a) */
  for (int k = 0; k < 2; k++) {
    float *restrict d = k ? s->db : s->da;
    if (!d) continue;
#pragma omp simd
    for (int64_t i = i0; i < i1; i++) d[i] += dy[i];
  }
}

static void add_backward(ef_node *n) {
  add_bw_args s = {n->out->grad, n->in[0]->grad, n->in[1]->grad};
  /* a + a: both gradients are the same buffer; adding twice is the right answer. */
  ef_parallel_for_cost(n->out->numel, 2.0, add_backward_body, &s);
}

ef_tensor *ef_add(ef_ctx *ctx, ef_tensor *a, ef_tensor *b) {
  if (!a || !b || !ef_ctx_ok(ctx)) return NULL;
  if (a->dtype != EF_F32 || b->dtype != EF_F32 || !ef_same_shape(a, b))
    return ef_fail_shapes(ctx, "add", "shapes differ", a, b);
  ef_tensor *in[2] = {a, b};
  ef_tensor *y = ef_op_output(ctx, a->ndim, a->shape, in, 2);
  if (!y) return NULL;
  add_args s = {y->data, a->data, b->data};
  ef_parallel_for_cost(y->numel, 1.0, add_forward, &s);
  ef_record(ctx, "add", add_backward, y, in, 2);
  return ef_ctx_ok(ctx) ? y : NULL;
}
