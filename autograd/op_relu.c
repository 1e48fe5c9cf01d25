/* op_relu.c: y = max(x, 0). The gradient at exactly 0 is 0 (PyTorch's choice). */
#include "autograd/graph.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

typedef struct {
  float *y, *dx;
  const float *x, *dy;
} relu_args;

// x (n) -> y (n)
static void relu_forward(void *p, int64_t i0, int64_t i1, int tid) {
  relu_args *s = p;
  float *restrict y = s->y;
  const float *restrict x = s->x;
#pragma omp simd
  for (int64_t i = i0; i < i1; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// dy (n) -> dx (n) += dy·[x > 0]; reads the output (y > 0 iff x > 0)
static void relu_backward_body(void *p, int64_t i0, int64_t i1, int tid) {
  relu_args *s = p;
  float *restrict dx = s->dx;
  const float *restrict y = s->y, *restrict dy = s->dy;
#pragma omp simd
  for (int64_t i = i0; i < i1; i++) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
}

static void relu_backward(ef_node *n) {
  relu_args s = {n->out->data, n->in[0]->grad, NULL, n->out->grad};
  ef_parallel_for_cost(n->out->numel, 1.0, relu_backward_body, &s);
}

ef_tensor *ef_relu(ef_ctx *ctx, ef_tensor *x) {
  if (!x || !ef_ctx_ok(ctx)) return NULL;
  if (x->dtype != EF_F32) return ef_fail_shapes(ctx, "relu", "float tensor expected", x, NULL);
  ef_tensor *y = ef_op_output(ctx, x->ndim, x->shape, &x, 1);
  if (!y) return NULL;
  relu_args s = {y->data, NULL, x->data, NULL};
  ef_parallel_for_cost(y->numel, 1.0, relu_forward, &s);
  ef_record(ctx, "relu", relu_backward, y, &x, 1);
  return ef_ctx_ok(ctx) ? y : NULL;
}
