/* op_linear.c: y = x·Wᵀ + b through cblas_sgemm. Weight and bias gradients accumulate
 * (beta = 1) so a weight shared by several layers sums its uses. */
#include <string.h>

#include "autograd/blas.h"
#include "autograd/graph.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

typedef struct {
  const float *dy;
  float *db;
  int64_t M, N;
} colsum_args;

/* db[n] += Σ_m dy[m, n], parallel over column chunks (deterministic for any thread count). */
static void colsum_body(void *p, int64_t c0, int64_t c1, int tid) {
  colsum_args *a = p;
  for (int64_t m = 0; m < a->M; m++) {
    const float *row = a->dy + m * a->N;
    for (int64_t n = c0; n < c1; n++) a->db[n] += row[n];
  }
}

// x (M,K), w (N,K), b (N) or NULL -> y (M,N)
static void linear_forward(float *y, const float *x, const float *w, const float *b, int M,
                           int N, int K) {
  if (b)
    for (int m = 0; m < M; m++) memcpy(y + (int64_t)m * N, b, (size_t)N * sizeof(float));
  ef_sgemm(0, 1, M, N, K, 1.0f, x, K, w, K, b ? 1.0f : 0.0f, y, N);
}

// dy (M,N) -> dx (M,K) +=, dw (N,K) +=, db (N) +=; any of them may be NULL
static void linear_backward(ef_node *n) {
  ef_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
  int M = (int)n->i[0], N = (int)n->i[1], K = (int)n->i[2];
  const float *dy = n->out->grad;
  if (x->grad) ef_sgemm(0, 0, M, K, N, 1.0f, dy, N, w->data, K, 1.0f, x->grad, K);
  if (w->grad) ef_sgemm(1, 0, N, K, M, 1.0f, dy, N, x->data, K, 1.0f, w->grad, K);
  if (b && b->grad) {
    colsum_args a = {dy, b->grad, M, N};
    ef_parallel_for_cost(N, (double)M, colsum_body, &a);
  }
}

ef_tensor *ef_linear(ef_ctx *ctx, ef_tensor *x, ef_tensor *w, ef_tensor *b) {
  if (!x || !w || !ef_ctx_ok(ctx)) return NULL;
  if (x->dtype != EF_F32 || w->dtype != EF_F32 || w->ndim != 2)
    return ef_fail_shapes(ctx, "linear", "x and a 2-D float weight expected", x, w);
  if (ef_cols(x) != w->shape[1])
    return ef_fail_shapes(ctx, "linear", "in_features of x and weight differ", x, w);
  if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
    return ef_fail_shapes(ctx, "linear", "bias length differs from out_features", w, b);
  int64_t shape[EF_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
  shape[x->ndim - 1] = w->shape[0];
  ef_tensor *in[3] = {x, w, b};
  ef_tensor *y = ef_op_output(ctx, x->ndim, shape, in, 3);
  if (!y) return NULL;
  int M = (int)ef_rows(x), N = (int)w->shape[0], K = (int)w->shape[1];
  linear_forward(y->data, x->data, w->data, b ? b->data : NULL, M, N, K);
  ef_node *nd = ef_record(ctx, "linear", linear_backward, y, in, 3);
  if (nd) {
    nd->i[0] = M;
    nd->i[1] = N;
    nd->i[2] = K;
  }
  return ef_ctx_ok(ctx) ? y : NULL;
}
