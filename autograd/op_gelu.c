/* op_gelu.c: exact GELU, y = x·Φ(x) = 0.5·x·(1 + erf(x/√2)). */
#include <math.h>

#include "autograd/graph.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

typedef struct {
  float *y, *dx;
  const float *x, *dy;
} gelu_args;

// x (n) -> y (n)
static void gelu_forward(void *p, int64_t i0, int64_t i1, int tid) {
  gelu_args *s = p;
  for (int64_t i = i0; i < i1; i++)
    s->y[i] = 0.5f * s->x[i] * (1.0f + erff(s->x[i] * (float)M_SQRT1_2));
}

// dy (n) -> dx (n) += dy·(Φ(x) + x·φ(x))
static void gelu_backward_body(void *p, int64_t i0, int64_t i1, int tid) {
  gelu_args *s = p;
  const float inv_sqrt_2pi = 0.3989422804014327f;
  for (int64_t i = i0; i < i1; i++) {
    float x = s->x[i];
    float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
    float pdf = inv_sqrt_2pi * expf(-0.5f * x * x);
    s->dx[i] += s->dy[i] * (cdf + x * pdf);
  }
}

static void gelu_backward(ef_node *n) {
  gelu_args s = {NULL, n->in[0]->grad, n->in[0]->data, n->out->grad};
  ef_parallel_for_cost(n->out->numel, 20.0, gelu_backward_body, &s);
}

ef_tensor *ef_gelu(ef_ctx *ctx, ef_tensor *x) {
  if (!x || !ef_ctx_ok(ctx)) return NULL;
  if (x->dtype != EF_F32) return ef_fail_shapes(ctx, "gelu", "float tensor expected", x, NULL);
  ef_tensor *y = ef_op_output(ctx, x->ndim, x->shape, &x, 1);
  if (!y) return NULL;
  gelu_args s = {y->data, NULL, x->data, NULL};
  ef_parallel_for_cost(y->numel, 20.0, gelu_forward, &s);
  ef_record(ctx, "gelu", gelu_backward, y, &x, 1);
  return ef_ctx_ok(ctx) ? y : NULL;
}
