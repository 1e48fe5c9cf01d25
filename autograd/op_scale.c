/* op_scale.c: y = alpha·x. */
#include "autograd/graph.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

typedef struct {
  float *dst;
  const float *src;
  float alpha;
} scale_args;

// x (n) -> y (n) = alpha x
static void scale_forward(void *p, int64_t i0, int64_t i1, int tid) {
  scale_args *s = p;
  for (int64_t i = i0; i < i1; i++) s->dst[i] = s->alpha * s->src[i];
}

// dy (n) -> dx (n) += alpha dy
static void scale_backward_body(void *p, int64_t i0, int64_t i1, int tid) {
  scale_args *s = p;
  for (int64_t i = i0; i < i1; i++) s->dst[i] += s->alpha * s->src[i];
}

static void scale_backward(ef_node *n) {
  scale_args s = {n->in[0]->grad, n->out->grad, n->f[0]};
  ef_parallel_for_cost(n->out->numel, 2.0, scale_backward_body, &s);
}

ef_tensor *ef_scale(ef_ctx *ctx, ef_tensor *x, float alpha) {
  if (!x || !ef_ctx_ok(ctx)) return NULL;
  if (x->dtype != EF_F32) return ef_fail_shapes(ctx, "scale", "float tensor expected", x, NULL);
  ef_tensor *y = ef_op_output(ctx, x->ndim, x->shape, &x, 1);
  if (!y) return NULL;
  scale_args s = {y->data, x->data, alpha};
  ef_parallel_for_cost(y->numel, 1.0, scale_forward, &s);
  ef_node *nd = ef_record(ctx, "scale", scale_backward, y, &x, 1);
  if (nd) nd->f[0] = alpha;
  return ef_ctx_ok(ctx) ? y : NULL;
}
