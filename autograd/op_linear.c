/* op_linear.c: y = x·Wᵀ + b through cblas_sgemm, or in a bf16 context through bf16 products
 * (bf16.h): x is rounded to bf16 once and saved for the weight gradient, W is read from the
 * parameter store's bf16 copy, dy is rounded once for both gradient products; every product
 * accumulates in fp32. Weight and bias gradients accumulate (beta = 1) so a weight shared by
 * several layers sums its uses. */
#include <string.h>

#include "autograd/bf16.h"
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

typedef struct {
  float *y;
  const float *b;
  int64_t N;
} fill_args;

static void fill_body(void *p, int64_t r0, int64_t r1, int tid) {
  const fill_args *a = p;
  for (int64_t m = r0; m < r1; m++) memcpy(a->y + m * a->N, a->b, (size_t)a->N * sizeof(float));
}

// x (M,K), w (N,K), b (N) or NULL -> y (M,N)
static void linear_forward(float *y, const float *x, const float *w, const float *b, int M, int N,
                           int K) {
  if (b) {
    fill_args f = {y, b, N};
    ef_parallel_for_cost(M, (double)N, fill_body, &f);
  }
  ef_sgemm(0, 1, M, N, K, 1.0f, x, K, w, K, b ? 1.0f : 0.0f, y, N);
}

// bf16: x16 (M,K), w16 (N,K), b (N) or NULL -> y (M,N); the bias is added in the epilogue
static void linear_forward_bf16(float *y, const ef_bf16 *x16, const ef_bf16 *w16, const float *b,
                                int M, int N, int K) {
  if (b)
    ef_bf16_gemm_bias(M, N, K, x16, w16, b, y);
  else
    ef_bf16_gemm(0, 1, M, N, K, x16, w16, 0.0f, y);
}

/* x in bf16: converted once per step and tensor. q, k, v and LoRA projections read the same x,
 * and every decoder layer's cross-attention reads the encoder output: the context remembers
 * the last few conversions (arena memory, forgotten at reset; activations never change after
 * their op ran, so the data pointer and length identify the values). */
static const ef_bf16 *bf16_of(ef_ctx *ctx, const float *src, int64_t n) {
  for (int i = 0; i < EF_BF16_CACHE; i++)
    if (ctx->bf16_cache[i].src == src && ctx->bf16_cache[i].n == n) return ctx->bf16_cache[i].dst;
  ef_bf16 *dst = ef_ctx_alloc(ctx, (size_t)n * sizeof *dst);
  if (!dst) return NULL;
  ef_bf16_from_f32(dst, src, n);
  int slot = ctx->bf16_cache_next++ % EF_BF16_CACHE;
  ctx->bf16_cache[slot].src = src;
  ctx->bf16_cache[slot].n = n;
  ctx->bf16_cache[slot].dst = dst;
  return dst;
}

typedef struct {
  const float *dy;
  float *db; /* may be NULL */
  ef_bf16 *dy16;
  int64_t M, N;
} round_colsum_args;

/* bf16 backward: dy16 = bf16(dy) and db[n] += Σ_m dy[m, n] in one pass over dy, over column
 * chunks (the same order of summation as colsum_body: bit-identical bias gradients). */
static void round_colsum_body(void *p, int64_t c0, int64_t c1, int tid) {
  round_colsum_args *a = p;
  for (int64_t m = 0; m < a->M; m++) {
    const float *row = a->dy + m * a->N + c0;
    ef_bf16_from_f32(a->dy16 + m * a->N + c0, row, c1 - c0);
    if (a->db) {
      float *restrict db = a->db + c0;
#pragma omp simd
      for (int64_t n = 0; n < c1 - c0; n++) db[n] += row[n];
    }
  }
}

// dy (M,N) -> dx (M,K) +=, dw (N,K) +=, db (N) +=; any of them may be NULL
static void linear_backward(ef_node *n) {
  ef_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
  int M = (int)n->i[0], N = (int)n->i[1], K = (int)n->i[2];
  const float *dy = n->out->grad;
  if (n->i[3]) { /* bf16: saved[0] = x in bf16, saved[1] = W in bf16, saved[2] = room for dy */
    const ef_bf16 *x16 = n->saved[0], *w16 = n->saved[1];
    ef_bf16 *dy16 = n->saved[2];
    if (x->grad || w->grad) {
      round_colsum_args a = {dy, b ? b->grad : NULL, dy16, M, N};
      ef_parallel_for_cost(N, 2.0 * (double)M, round_colsum_body, &a);
      if (x->grad) ef_bf16_gemm(0, 0, M, K, N, dy16, w16, 1.0f, x->grad);
      if (w->grad) ef_bf16_gemm(1, 0, N, K, M, dy16, x16, 1.0f, w->grad);
      return;
    }
  } else {
    if (x->grad) ef_sgemm(0, 0, M, K, N, 1.0f, dy, N, w->data, K, 1.0f, x->grad, K);
    if (w->grad) ef_sgemm(1, 0, N, K, M, 1.0f, dy, N, x->data, K, 1.0f, w->grad, K);
  }
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
  int bf16 = ef_ctx_bf16(ctx);
  const ef_bf16 *x16 = NULL, *w16 = w->bf16;
  ef_bf16 *dy16 = NULL;
  if (bf16) {
    int grad = y->requires_grad;
    x16 = bf16_of(ctx, x->data, (int64_t)M * K);
    if (!w16) w16 = bf16_of(ctx, w->data, (int64_t)N * K); /* not a stored parameter */
    if (grad) dy16 = ef_ctx_alloc(ctx, (size_t)M * N * sizeof *dy16);
    if (!x16 || !w16 || (grad && !dy16)) return NULL;
    linear_forward_bf16(y->data, x16, w16, b ? b->data : NULL, M, N, K);
  } else {
    linear_forward(y->data, x->data, w->data, b ? b->data : NULL, M, N, K);
  }
  ef_node *nd = ef_record(ctx, "linear", linear_backward, y, in, 3);
  if (nd) {
    nd->i[0] = M;
    nd->i[1] = N;
    nd->i[2] = K;
    nd->i[3] = bf16;
    nd->saved[0] = (void *)x16;
    nd->saved[1] = (void *)w16;
    nd->saved[2] = dy16;
  }
  return ef_ctx_ok(ctx) ? y : NULL;
}
