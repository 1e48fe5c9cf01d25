/* bench_block: one post-LN Transformer block (d = 512, FFN 2048, 8 heads, 4096 tokens as
 * 64 sentences of 64) forward + backward through the autograd engine, against the cblas_sgemm
 * ceiling measured in the same run on the block's own GEMM shapes.
 *
 * Prints, for each, the median and best of several repetitions in GFLOP/s, and the ratio
 * block / ceiling (medians). FLOPs counted: 2·M·N·K per GEMM (forward, and twice that for
 * the two backward GEMMs), 4·B·H·T²·dh for attention forward and twice that backward;
 * elementwise work (LayerNorm, softmax, residuals, dropout) is not counted as FLOPs.
 *
 * Usage: bench_block [repetitions]   (threads: EF_NUM_THREADS, default all cores) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autograd/blas.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"
#include "autograd/params.h"

#define B 64
#define T 64
#define D 512
#define F 2048
#define H 8

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static const char *names[] = {"q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "o.w", "o.b",
                              "ln1.w", "ln1.b", "fc1.w", "fc1.b", "fc2.w", "fc2.b", "ln2.w", "ln2.b"};

static ef_tensor *P(ef_params *p, const char *n) { return ef_params_tensor(p, ef_params_find(p, n)); }

static ef_tensor *block(ef_ctx *c, ef_params *p, ef_tensor *x, ef_tensor *pad) {
  ef_tensor *q = ef_linear(c, x, P(p, "q.w"), P(p, "q.b"));
  ef_tensor *k = ef_linear(c, x, P(p, "k.w"), P(p, "k.b"));
  ef_tensor *v = ef_linear(c, x, P(p, "v.w"), P(p, "v.b"));
  ef_attn_opts o = {.heads = H, .scale = 0.125f, .key_pad = pad};
  ef_tensor *a = ef_linear(c, ef_attention(c, q, k, v, &o), P(p, "o.w"), P(p, "o.b"));
  x = ef_layernorm(c, ef_add(c, x, ef_dropout(c, a, 0.1f)), P(p, "ln1.w"), P(p, "ln1.b"), 1e-5f);
  ef_tensor *h = ef_relu(c, ef_linear(c, x, P(p, "fc1.w"), P(p, "fc1.b")));
  ef_tensor *y = ef_linear(c, h, P(p, "fc2.w"), P(p, "fc2.b"));
  return ef_layernorm(c, ef_add(c, x, ef_dropout(c, y, 0.1f)), P(p, "ln2.w"), P(p, "ln2.b"), 1e-5f);
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 7;
  if (reps < 1) reps = 1;
  char err[256];
  ef_params *p = ef_params_new();
  for (int i = 0; i < 16; i++) {
    int64_t shape[2];
    int two = strstr(names[i], ".w") && strncmp(names[i], "ln", 2);
    if (two) {
      shape[0] = !strncmp(names[i], "fc1", 3) ? F : D;
      shape[1] = !strncmp(names[i], "fc2", 3) ? F : D;
    } else {
      shape[0] = !strncmp(names[i], "fc1", 3) ? F : D;
    }
    if (ef_params_add(p, names[i], two ? 2 : 1, shape, err, sizeof err) < 0) {
      fprintf(stderr, "error: %s\n", err);
      return 1;
    }
  }
  if (ef_params_finalize(p, err, sizeof err)) return fprintf(stderr, "error: %s\n", err), 1;
  float *w = ef_params_data(p);
  for (int64_t i = 0; i < ef_params_flat_len(p); i++) w[i] = 0.02f * (float)((i * 7919) % 101 - 50) / 50.0f;
  for (int i = 0; i < D; i++) P(p, "ln1.w")->data[i] = P(p, "ln2.w")->data[i] = 1.0f;

  float *xin = malloc((size_t)B * T * D * sizeof(float)), *dy = malloc((size_t)B * T * D * sizeof(float));
  int32_t *pad = calloc((size_t)B * T, sizeof(int32_t));
  for (int64_t i = 0; i < (int64_t)B * T * D; i++) {
    xin[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    dy[i] = (float)((i * 40503u) % 1000) / 1e6f;
  }
  for (int b = 0; b < B; b++)
    for (int t = 0; t < b % 8; t++) pad[b * T + t] = 1; /* left padding, as fairseq sources */

  ef_ctx *ctx = ef_ctx_new(64u << 20, 64);
  double gemm_flops = 2.0 * B * T * (4.0 * D * D + 2.0 * D * F);
  double attn_flops = 4.0 * B * H * (double)T * T * (D / H);
  double block_flops = 3.0 * gemm_flops + 3.0 * attn_flops;

  /* sgemm ceiling: exactly the block's GEMMs (forward and both backward products) alone. */
  int M = B * T;
  float *X = malloc((size_t)M * F * sizeof(float)), *W = malloc((size_t)F * D * sizeof(float)),
        *Y = malloc((size_t)M * F * sizeof(float)), *dX = malloc((size_t)M * F * sizeof(float)),
        *dW = malloc((size_t)F * D * sizeof(float));
  for (int64_t i = 0; i < (int64_t)M * F; i++) X[i] = dX[i] = 0.001f * (float)(i % 97);
  for (int64_t i = 0; i < (int64_t)F * D; i++) W[i] = dW[i] = 0.001f * (float)(i % 89);
  double *t_gemm = malloc((size_t)reps * sizeof(double)), *t_block = malloc((size_t)reps * sizeof(double));
  for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
    double t0 = now();
    for (int l = 0; l < 6; l++) { /* q, k, v, out (D->D), fc1 (D->F), fc2 (F->D) */
      int N = l == 4 ? F : D, K = l == 5 ? F : D;
      ef_sgemm(0, 1, M, N, K, 1.0f, X, K, W, K, 0.0f, Y, N);   /* y = x Wᵀ */
      ef_sgemm(0, 0, M, K, N, 1.0f, Y, N, W, K, 1.0f, dX, K);  /* dx += dy W */
      ef_sgemm(1, 0, N, K, M, 1.0f, Y, N, X, K, 1.0f, dW, K);  /* dW += dyᵀ x */
    }
    if (r >= 0) t_gemm[r] = now() - t0;
  }
  for (int r = -1; r < reps; r++) {
    double t0 = now();
    ef_ctx_reset(ctx);
    ef_ctx_set_training(ctx, 1);
    ef_ctx_set_rng(ctx, 1, (uint64_t)(r + 1));
    ef_params_zero_grad(p);
    int64_t xs[3] = {B, T, D}, ps[2] = {B, T};
    ef_tensor *x = ef_tensor_wrap(ctx, EF_F32, 3, xs, xin, NULL);
    ef_tensor *y = block(ctx, p, x, ef_tensor_wrap(ctx, EF_I32, 2, ps, pad, NULL));
    if (!y || ef_backward_from(ctx, y, dy)) {
      fprintf(stderr, "error: %s\n", ef_ctx_error(ctx));
      return 1;
    }
    if (r >= 0) t_block[r] = now() - t0;
  }
  double g_best = 3.0 * gemm_flops / t_gemm[0], b_best = block_flops / t_block[0];
  for (int r = 1; r < reps; r++) {
    if (3.0 * gemm_flops / t_gemm[r] > g_best) g_best = 3.0 * gemm_flops / t_gemm[r];
    if (block_flops / t_block[r] > b_best) b_best = block_flops / t_block[r];
  }
  double g_med = 3.0 * gemm_flops / median(t_gemm, reps), b_med = block_flops / median(t_block, reps);
  printf("transformer block d=%d ffn=%d heads=%d tokens=%d threads=%d reps=%d openblas=%s\n", D,
         F, H, M, ef_num_threads(), reps, ef_blas_corename());
  printf("sgemm ceiling (block GEMM shapes): median %6.1f GFLOP/s  best %6.1f\n", g_med / 1e9, g_best / 1e9);
  printf("block forward+backward:            median %6.1f GFLOP/s  best %6.1f  (%.1f ms/step)\n",
         b_med / 1e9, b_best / 1e9, 1e3 * median(t_block, reps));
  printf("ratio block/ceiling (medians): %.3f\n", b_med / g_med);
  free(X); free(W); free(Y); free(dX); free(dW); free(xin); free(dy); free(pad); free(t_gemm); free(t_block);
  ef_ctx_free(ctx);
  ef_params_free(p);
  return 0;
}
