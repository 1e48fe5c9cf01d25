/* op_layernorm.c: LayerNorm over the last dim (biased variance, eps inside the sqrt), as
 * torch.nn.LayerNorm. Rows are spread over threads; the weight/bias gradients are summed in
 * per-thread partials and reduced in thread order. */
#include <math.h>
#include <string.h>

#include "autograd/graph.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

typedef struct {
  float *y;
  const float *x, *w, *b;
  float *mean, *rstd;
  float eps;
  int64_t D;
  /* backward */
  const float *dy;
  float *dx, *partial; /* partial: [threads][2·D] (dw, db) */
} ln_args;

// x (rows, D), w (D), b (D) -> y (rows, D); saves mean, rstd (rows)
static void layernorm_forward(void *p, int64_t r0, int64_t r1, int tid) {
  ln_args *s = p;
  int64_t D = s->D;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = s->x + r * D;
    float *y = s->y + r * D;
    double sum = 0.0;
    for (int64_t d = 0; d < D; d++) sum += x[d];
    float mean = (float)(sum / (double)D);
    double var = 0.0;
    for (int64_t d = 0; d < D; d++) var += (double)(x[d] - mean) * (x[d] - mean);
    float rstd = 1.0f / sqrtf((float)(var / (double)D) + s->eps);
    for (int64_t d = 0; d < D; d++) y[d] = (x[d] - mean) * rstd * s->w[d] + s->b[d];
    s->mean[r] = mean;
    s->rstd[r] = rstd;
  }
}

// dy (rows, D) -> dx (rows, D) +=, partial dw, db (per thread)
static void layernorm_backward_body(void *p, int64_t r0, int64_t r1, int tid) {
  ln_args *s = p;
  int64_t D = s->D;
  float *dw = s->partial + (int64_t)tid * 2 * D, *db = dw + D;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = s->x + r * D, *dy = s->dy + r * D;
    float mean = s->mean[r], rstd = s->rstd[r];
    float sum_g = 0.0f, sum_gx = 0.0f; /* Σ dxhat, Σ dxhat·xhat */
    for (int64_t d = 0; d < D; d++) {
      float xhat = (x[d] - mean) * rstd, g = dy[d] * s->w[d];
      sum_g += g;
      sum_gx += g * xhat;
      dw[d] += dy[d] * xhat;
      db[d] += dy[d];
    }
    if (s->dx) {
      float *dx = s->dx + r * D;
      float mg = sum_g / (float)D, mgx = sum_gx / (float)D;
      for (int64_t d = 0; d < D; d++) {
        float xhat = (x[d] - mean) * rstd;
        dx[d] += rstd * (dy[d] * s->w[d] - mg - xhat * mgx);
      }
    }
  }
}

static void layernorm_backward(ef_node *n) {
  ef_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
  int nt = ef_num_threads();
  ln_args s = {.x = x->data, .w = w->data, .mean = n->saved[0], .rstd = n->saved[1],
               .D = ef_cols(x), .dy = n->out->grad, .dx = x->grad, .partial = n->saved[2]};
  memset(s.partial, 0, (size_t)nt * 2 * (size_t)s.D * sizeof(float));
  ef_parallel_for_cost(ef_rows(x), 10.0 * (double)s.D, layernorm_backward_body, &s);
  for (int t = 0; t < nt; t++) {
    const float *dw = s.partial + (int64_t)t * 2 * s.D, *db = dw + s.D;
    if (w->grad)
      for (int64_t d = 0; d < s.D; d++) w->grad[d] += dw[d];
    if (b->grad)
      for (int64_t d = 0; d < s.D; d++) b->grad[d] += db[d];
  }
}

ef_tensor *ef_layernorm(ef_ctx *ctx, ef_tensor *x, ef_tensor *w, ef_tensor *b, float eps) {
  if (!x || !w || !b || !ef_ctx_ok(ctx)) return NULL;
  int64_t D = ef_cols(x);
  if (x->dtype != EF_F32 || w->ndim != 1 || w->shape[0] != D)
    return ef_fail_shapes(ctx, "layernorm", "weight length differs from the last dim", x, w);
  if (b->ndim != 1 || b->shape[0] != D)
    return ef_fail_shapes(ctx, "layernorm", "bias length differs from the last dim", x, b);
  ef_tensor *in[3] = {x, w, b};
  ef_tensor *y = ef_op_output(ctx, x->ndim, x->shape, in, 3);
  if (!y) return NULL;
  int64_t rows = ef_rows(x);
  float *stats = ef_ctx_alloc(ctx, (size_t)rows * 2 * sizeof(float));
  if (!stats) return NULL;
  ln_args s = {.y = y->data, .x = x->data, .w = w->data, .b = b->data, .mean = stats,
               .rstd = stats + rows, .eps = eps, .D = D};
  ef_parallel_for_cost(rows, 8.0 * (double)D, layernorm_forward, &s);
  ef_node *nd = ef_record(ctx, "layernorm", layernorm_backward, y, in, 3);
  if (nd) {
    nd->saved[0] = s.mean;
    nd->saved[1] = s.rstd;
    nd->saved[2] = ef_ctx_alloc(ctx, (size_t)ef_num_threads() * 2 * (size_t)D * sizeof(float));
  }
  return ef_ctx_ok(ctx) ? y : NULL;
}
