/* op_matmul.c: C = op(A)·op(B), 2-D or batched 3-D, through cblas_sgemm. Gradients
 * accumulate (beta = 1). */
#include "autograd/blas.h"
#include "autograd/graph.h"
#include "autograd/ops.h"

// a (M,K) or (K,M) if ta; b (K,N) or (N,K) if tb -> c (M,N); per batch item
static void matmul_forward(float *c, const float *a, const float *b, int ta, int tb, int M,
                           int N, int K) {
  ef_sgemm(ta, tb, M, N, K, 1.0f, a, ta ? M : K, b, tb ? K : N, 0.0f, c, N);
}

static void matmul_backward(ef_node *n) {
  ef_tensor *A = n->in[0], *B = n->in[1];
  int ta = (int)n->i[0], tb = (int)n->i[1], M = (int)n->i[2], N = (int)n->i[3],
      K = (int)n->i[4], batch = (int)n->i[5];
  for (int bt = 0; bt < batch; bt++) {
    const float *a = A->data + (int64_t)bt * M * K, *b = B->data + (int64_t)bt * K * N;
    const float *dc = n->out->grad + (int64_t)bt * M * N;
    float *da = A->grad ? A->grad + (int64_t)bt * M * K : NULL;
    float *db = B->grad ? B->grad + (int64_t)bt * K * N : NULL;
    if (!ta && !tb) {
      if (da) ef_sgemm(0, 1, M, K, N, 1.0f, dc, N, b, N, 1.0f, da, K);
      if (db) ef_sgemm(1, 0, K, N, M, 1.0f, a, K, dc, N, 1.0f, db, N);
    } else if (ta && !tb) {
      if (da) ef_sgemm(0, 1, K, M, N, 1.0f, b, N, dc, N, 1.0f, da, M);
      if (db) ef_sgemm(0, 0, K, N, M, 1.0f, a, M, dc, N, 1.0f, db, N);
    } else if (!ta && tb) {
      if (da) ef_sgemm(0, 0, M, K, N, 1.0f, dc, N, b, K, 1.0f, da, K);
      if (db) ef_sgemm(1, 0, N, K, M, 1.0f, dc, N, a, K, 1.0f, db, K);
    } else {
      if (da) ef_sgemm(1, 1, K, M, N, 1.0f, b, K, dc, N, 1.0f, da, M);
      if (db) ef_sgemm(1, 1, N, K, M, 1.0f, dc, N, a, M, 1.0f, db, K);
    }
  }
}

ef_tensor *ef_matmul(ef_ctx *ctx, ef_tensor *a, ef_tensor *b, int trans_a, int trans_b) {
  if (!a || !b || !ef_ctx_ok(ctx)) return NULL;
  if (a->dtype != EF_F32 || b->dtype != EF_F32 || a->ndim != b->ndim ||
      (a->ndim != 2 && a->ndim != 3))
    return ef_fail_shapes(ctx, "matmul", "two float tensors, both 2-D or both 3-D, expected", a,
                          b);
  int r = a->ndim - 2;
  int64_t batch = r ? a->shape[0] : 1;
  if (r && b->shape[0] != batch) return ef_fail_shapes(ctx, "matmul", "batch sizes differ", a, b);
  int64_t M = trans_a ? a->shape[r + 1] : a->shape[r], K = trans_a ? a->shape[r] : a->shape[r + 1];
  int64_t Kb = trans_b ? b->shape[r + 1] : b->shape[r], N = trans_b ? b->shape[r] : b->shape[r + 1];
  if (K != Kb) return ef_fail_shapes(ctx, "matmul", "inner dimensions differ", a, b);
  int64_t shape[3] = {batch, M, N};
  ef_tensor *in[2] = {a, b};
  ef_tensor *c = ef_op_output(ctx, a->ndim, r ? shape : shape + 1, in, 2);
  if (!c) return NULL;
  for (int64_t bt = 0; bt < batch; bt++)
    matmul_forward(c->data + bt * M * N, a->data + bt * M * K, b->data + bt * K * N, trans_a,
                   trans_b, (int)M, (int)N, (int)K);
  ef_node *nd = ef_record(ctx, "matmul", matmul_backward, c, in, 2);
  if (nd) {
    nd->i[0] = trans_a;
    nd->i[1] = trans_b;
    nd->i[2] = M;
    nd->i[3] = N;
    nd->i[4] = K;
    nd->i[5] = batch;
  }
  return ef_ctx_ok(ctx) ? c : NULL;
}
