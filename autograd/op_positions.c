/* op_positions.c: fairseq's sinusoidal positional embeddings (a constant: no gradient, so no
 * backward kernel) and the row mask that zeroes pad positions. Computed on the fly in float32
 * exactly as fairseq builds its table: f_k = exp(k · -(ln(10000)/(half-1))), angle = p·f_k. */
#include <math.h>

#include "autograd/graph.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

typedef struct {
  const int32_t *ids;
  float *y, *dx;
  const float *x, *dy;
  int64_t B, T, D;
  int pad;
} pos_args;

// ids (B, T) -> y (B, T, D); one batch row per item
static void positions_forward(void *p, int64_t b0, int64_t b1, int tid) {
  pos_args *s = p;
  int64_t half = s->D / 2;
  float step = half > 1 ? (float)(log(10000.0) / (double)(half - 1)) : 0.0f;
  for (int64_t b = b0; b < b1; b++) {
    int32_t count = 0;
    for (int64_t t = 0; t < s->T; t++) {
      float *y = s->y + (b * s->T + t) * s->D;
      int pad = s->ids[b * s->T + t] == s->pad;
      if (!pad) count++;
      float pos = pad ? (float)s->pad : (float)(s->pad + count);
      for (int64_t k = 0; k < half; k++) {
        float angle = pos * expf((float)k * -step);
        y[k] = sinf(angle);
        y[half + k] = cosf(angle);
      }
      if (s->D % 2) y[s->D - 1] = 0.0f;
      if (pos == (float)s->pad)
        for (int64_t d = 0; d < s->D; d++) y[d] = 0.0f; /* fairseq zeroes the padding row */
    }
  }
}

ef_tensor *ef_sinusoidal_positions(ef_ctx *ctx, ef_tensor *ids, int dim, int padding_idx) {
  if (!ids || !ef_ctx_ok(ctx)) return NULL;
  if (ids->dtype != EF_I32 || ids->ndim != 2 || dim < 2)
    return ef_fail_shapes(ctx, "sinusoidal_positions", "int32 ids [B,T] and dim >= 2 expected",
                          ids, NULL);
  int64_t shape[3] = {ids->shape[0], ids->shape[1], dim};
  ef_tensor *y = ef_tensor_new(ctx, EF_F32, 3, shape, 0, 0);
  if (!y) return NULL;
  pos_args s = {.ids = ids->idata, .y = y->data, .B = shape[0], .T = shape[1], .D = dim,
                .pad = padding_idx};
  ef_parallel_for_cost(s.B, 30.0 * (double)(s.T * dim), positions_forward, &s);
  return y;
}

// x (n, D), ids (n) -> y = x·[id != pad]; backward: dx += dy·[id != pad]
static void mask_rows_body(void *p, int64_t r0, int64_t r1, int tid) {
  pos_args *s = p;
  for (int64_t r = r0; r < r1; r++) {
    int keep = s->ids[r] != s->pad;
    if (s->dx) {
      if (keep)
        for (int64_t d = 0; d < s->D; d++) s->dx[r * s->D + d] += s->dy[r * s->D + d];
    } else {
      for (int64_t d = 0; d < s->D; d++) s->y[r * s->D + d] = keep ? s->x[r * s->D + d] : 0.0f;
    }
  }
}

static void mask_rows_backward(ef_node *n) {
  pos_args s = {.ids = n->in[1]->idata, .dx = n->in[0]->grad, .dy = n->out->grad,
                .D = ef_cols(n->out), .pad = (int)n->i[0]};
  ef_parallel_for_cost(n->in[1]->numel, (double)s.D, mask_rows_body, &s);
}

ef_tensor *ef_mask_rows(ef_ctx *ctx, ef_tensor *x, ef_tensor *ids, int padding_idx) {
  if (!x || !ids || !ef_ctx_ok(ctx)) return NULL;
  if (x->dtype != EF_F32 || ids->dtype != EF_I32 || ids->numel != ef_rows(x))
    return ef_fail_shapes(ctx, "mask_rows", "one id per row of x expected", x, ids);
  ef_tensor *in[2] = {x, ids};
  ef_tensor *y = ef_op_output(ctx, x->ndim, x->shape, in, 2);
  if (!y) return NULL;
  pos_args s = {.ids = ids->idata, .y = y->data, .x = x->data, .D = ef_cols(x),
                .pad = padding_idx};
  ef_parallel_for_cost(ids->numel, (double)s.D, mask_rows_body, &s);
  ef_node *nd = ef_record(ctx, "mask_rows", mask_rows_backward, y, in, 2);
  if (nd) nd->i[0] = padding_idx;
  return ef_ctx_ok(ctx) ? y : NULL;
}
