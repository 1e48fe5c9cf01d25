/* op_xent.c: fused log-softmax + label-smoothed NLL over the vocabulary, fairseq's
 * label_smoothed_nll_loss with reduce=True (a sum over non-pad targets). Rows are spread over
 * threads; per-row losses are summed in row order (in double), so the result does not depend
 * on the thread count. Target ids are validated: never an out-of-bounds read. */
#include <math.h>

#include "autograd/graph.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

typedef struct {
  const float *logits;
  const int32_t *targets;
  float *lprobs;       /* [N, V] */
  double *row_loss;    /* [N]: smoothed loss, then nll, interleaved (2 per row) */
  int64_t V;
  float eps;
  int ignore;
  /* backward */
  float *dlogits;
  float g;
} xent_args;

// logits (N, V), targets (N) -> lprobs (N, V), row_loss (N, 2)
static void xent_forward(void *p, int64_t r0, int64_t r1, int tid) {
  xent_args *s = p;
  int64_t V = s->V;
  double eps_i = (double)s->eps / (double)(V - 1);
  for (int64_t r = r0; r < r1; r++) {
    const float *z = s->logits + r * V;
    float *lp = s->lprobs + r * V;
    float mx = z[0];
    for (int64_t v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
    double sum = 0.0;
    for (int64_t v = 0; v < V; v++) sum += expf(z[v] - mx);
    float lse = mx + (float)log(sum);
    double smooth = 0.0;
    for (int64_t v = 0; v < V; v++) {
      lp[v] = z[v] - lse;
      smooth -= lp[v];
    }
    int32_t y = s->targets[r];
    if (y == s->ignore) {
      s->row_loss[2 * r] = s->row_loss[2 * r + 1] = 0.0;
    } else {
      double nll = -(double)lp[y];
      s->row_loss[2 * r] = (1.0 - s->eps - eps_i) * nll + eps_i * smooth;
      s->row_loss[2 * r + 1] = nll;
    }
  }
}

// dloss (scalar g) -> dlogits (N, V) += g·[(1-eps-eps_i)(p - onehot(y)) + eps_i(V·p - 1)]
static void xent_backward_body(void *p, int64_t r0, int64_t r1, int tid) {
  xent_args *s = p;
  int64_t V = s->V;
  float eps_i = s->eps / (float)(V - 1), a = 1.0f - s->eps - eps_i;
  for (int64_t r = r0; r < r1; r++) {
    int32_t y = s->targets[r];
    if (y == s->ignore) continue;
    const float *lp = s->lprobs + r * V;
    float *dz = s->dlogits + r * V;
    for (int64_t v = 0; v < V; v++) {
      float pv = expf(lp[v]);
      dz[v] += s->g * (a * pv + eps_i * ((float)V * pv - 1.0f));
    }
    dz[y] -= s->g * a;
  }
}

static void xent_backward(ef_node *n) {
  xent_args s = *(xent_args *)n->saved[0];
  s.dlogits = n->in[0]->grad;
  s.g = n->out->grad[0];
  if (s.dlogits) ef_parallel_for_cost(ef_rows(n->in[0]), 12.0 * (double)s.V, xent_backward_body, &s);
}

ef_tensor *ef_label_smoothed_nll(ef_ctx *ctx, ef_tensor *logits, ef_tensor *targets, float eps,
                                 int ignore_index, double *nll_sum, ef_tensor **lprobs) {
  if (!logits || !targets || !ef_ctx_ok(ctx)) return NULL;
  if (logits->dtype != EF_F32 || targets->dtype != EF_I32 || targets->numel != ef_rows(logits))
    return ef_fail_shapes(ctx, "label_smoothed_nll", "one int32 target per row of logits expected",
                          logits, targets);
  int64_t V = ef_cols(logits), N = ef_rows(logits);
  if (V < 2) return ef_fail_shapes(ctx, "label_smoothed_nll", "vocabulary below 2", logits, NULL);
  if (!(eps >= 0.0f && eps < 1.0f))
    return ef_ctx_fail(ctx, "label_smoothed_nll: epsilon %g outside [0, 1)", eps);
  for (int64_t r = 0; r < N; r++) {
    int32_t y = targets->idata[r];
    if (y != ignore_index && (y < 0 || y >= V))
      return ef_ctx_fail(ctx, "label_smoothed_nll: target %d at row %lld outside [0,%lld)", y,
                         (long long)r, (long long)V);
  }
  int64_t one = 1;
  ef_tensor *loss = ef_op_output(ctx, 1, &one, &logits, 1);
  ef_tensor *lp = ef_tensor_new(ctx, EF_F32, logits->ndim, logits->shape, 0, 0);
  xent_args *s = ef_ctx_alloc(ctx, sizeof *s);
  double *row_loss = ef_ctx_alloc(ctx, (size_t)N * 2 * sizeof(double));
  if (!loss || !lp || !s || !row_loss) return NULL;
  *s = (xent_args){.logits = logits->data, .targets = targets->idata, .lprobs = lp->data,
                   .row_loss = row_loss, .V = V, .eps = eps, .ignore = ignore_index};
  ef_parallel_for_cost(N, 25.0 * (double)V, xent_forward, s);
  double total = 0.0, nll = 0.0;
  for (int64_t r = 0; r < N; r++) {
    total += row_loss[2 * r];
    nll += row_loss[2 * r + 1];
  }
  loss->data[0] = (float)total;
  if (nll_sum) *nll_sum = nll;
  if (lprobs) *lprobs = lp;
  ef_node *nd = ef_record(ctx, "label_smoothed_nll", xent_backward, loss, &logits, 1);
  if (nd) nd->saved[0] = s;
  return ef_ctx_ok(ctx) ? loss : NULL;
}
