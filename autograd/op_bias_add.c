/* op_bias_add.c: y[.., D] = x[.., D] + b[D], a bias broadcast over rows (Bias-LA). */
#include "autograd/graph.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

typedef struct {
  float *y, *db;
  const float *x, *b, *dy;
  float *dx;
  int64_t rows, D;
} bias_args;

// x (rows, D), b (D) -> y (rows, D)
static void bias_add_forward(void *p, int64_t r0, int64_t r1, int tid) {
  bias_args *s = p;
  for (int64_t r = r0; r < r1; r++)
    for (int64_t d = 0; d < s->D; d++) s->y[r * s->D + d] = s->x[r * s->D + d] + s->b[d];
}

// dy (rows, D) -> dx += dy (row chunks)
static void bias_add_backward_x(void *p, int64_t r0, int64_t r1, int tid) {
  bias_args *s = p;
  for (int64_t i = r0 * s->D; i < r1 * s->D; i++) s->dx[i] += s->dy[i];
}

// dy (rows, D) -> db[d] += Σ_r dy[r, d] (column chunks: deterministic)
static void bias_add_backward_b(void *p, int64_t d0, int64_t d1, int tid) {
  bias_args *s = p;
  for (int64_t r = 0; r < s->rows; r++)
    for (int64_t d = d0; d < d1; d++) s->db[d] += s->dy[r * s->D + d];
}

static void bias_add_backward(ef_node *n) {
  bias_args s = {0};
  s.dy = n->out->grad;
  s.dx = n->in[0]->grad;
  s.db = n->in[1]->grad;
  s.rows = ef_rows(n->out);
  s.D = ef_cols(n->out);
  if (s.dx) ef_parallel_for_cost(s.rows, (double)s.D, bias_add_backward_x, &s);
  if (s.db) ef_parallel_for_cost(s.D, (double)s.rows, bias_add_backward_b, &s);
}

ef_tensor *ef_bias_add(ef_ctx *ctx, ef_tensor *x, ef_tensor *b) {
  if (!x || !b || !ef_ctx_ok(ctx)) return NULL;
  if (x->dtype != EF_F32 || b->dtype != EF_F32 || b->ndim != 1 || b->shape[0] != ef_cols(x))
    return ef_fail_shapes(ctx, "bias_add", "bias length differs from the last dim", x, b);
  ef_tensor *in[2] = {x, b};
  ef_tensor *y = ef_op_output(ctx, x->ndim, x->shape, in, 2);
  if (!y) return NULL;
  bias_args s = {.y = y->data, .x = x->data, .b = b->data, .rows = ef_rows(x), .D = ef_cols(x)};
  ef_parallel_for_cost(s.rows, (double)s.D, bias_add_forward, &s);
  ef_record(ctx, "bias_add", bias_add_backward, y, in, 2);
  return ef_ctx_ok(ctx) ? y : NULL;
}
