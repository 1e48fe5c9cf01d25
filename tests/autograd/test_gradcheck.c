/* Finite-difference gradient check of every op, table-driven.
 *
 * For each case the differentiable inputs are parameters filled with seeded values; the
 * scalar L = Σ y·R (R a fixed random tensor) is differentiated by the engine and by central
 * differences (L(θ+h) - L(θ-h)) / 2h, with L summed in double. h = 1e-2 (float32 inputs of
 * order 1); a gradient element passes when |analytic - numeric| <= ATOL + RTOL·|numeric|
 * with ATOL = 2e-3 and RTOL = 1e-2. Inputs of ReLU are kept away from the kink at 0.
 * Embeddings are checked without padding_idx here (a pad row deliberately gets no gradient,
 * unlike its true derivative; test_ops_reference pins that behaviour against PyTorch).
 * Includes: one weight used three times, and one table used both as embedding and output
 * projection (tied embeddings), where the gradient must be the sum of all uses.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/ops.h"
#include "autograd/params.h"

#define GC_H 1e-2
#define GC_ATOL 2e-3
#define GC_RTOL 1e-2
#define GC_MAX_PROBES 24 /* elements probed per parameter (spread over the tensor) */
#define GC_MAX_PARAMS 6

typedef ef_tensor *(*build_fn)(ef_ctx *ctx, ef_tensor **p, ef_tensor **ids);

typedef struct {
  const char *name;
  build_fn build;
  int n_params;
  struct {
    int ndim;
    int64_t shape[4];
    float offset; /* values = offset + N(0,1)·scale, pushed away from 0 when avoid_zero */
    float scale;
    int avoid_zero;
  } p[GC_MAX_PARAMS];
  int training; /* dropout on */
} gc_case;

/* Fixed token ids shared by the cases: [2, 5] with pads (1) at the front of row 0. */
static int32_t ids_data[10] = {1, 1, 5, 7, 2, 4, 5, 5, 9, 2};
static int32_t pad_data[10] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 0};
static int32_t tgt_data[10] = {5, 2, 1, 1, 3, 0, 9, 7, 2, 1};

static uint64_t rng_state;
static double gauss(void) {
  double u1, u2;
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  u1 = ((rng_state >> 11) + 1.0) / 9007199254740993.0;
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  u2 = (rng_state >> 11) / 9007199254740992.0;
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* --- the cases ----------------------------------------------------------------------------- */

static ef_tensor *b_linear(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  return ef_linear(c, p[0], p[1], p[2]);
}
static ef_tensor *b_linear_nobias(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  return ef_linear(c, p[0], p[1], NULL);
}
static ef_tensor *b_matmul_nn(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  return ef_matmul(c, p[0], p[1], 0, 0);
}
static ef_tensor *b_matmul_tt(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  return ef_matmul(c, p[0], p[1], 1, 1);
}
static ef_tensor *b_matmul_nt2d(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  return ef_matmul(c, p[0], p[1], 0, 1);
}
static ef_tensor *b_add(ef_ctx *c, ef_tensor **p, ef_tensor **ids) { return ef_add(c, p[0], p[1]); }
static ef_tensor *b_add_self(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  return ef_add(c, p[0], p[0]);
}
static ef_tensor *b_scale(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  return ef_scale(c, p[0], -1.7f);
}
static ef_tensor *b_bias_add(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  return ef_bias_add(c, p[0], p[1]);
}
static ef_tensor *b_relu(ef_ctx *c, ef_tensor **p, ef_tensor **ids) { return ef_relu(c, p[0]); }
static ef_tensor *b_gelu(ef_ctx *c, ef_tensor **p, ef_tensor **ids) { return ef_gelu(c, p[0]); }
static ef_tensor *b_dropout(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  return ef_dropout(c, p[0], 0.3f);
}
static ef_tensor *b_layernorm(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  return ef_layernorm(c, p[0], p[1], p[2], 1e-5f);
}
static ef_tensor *b_embedding(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  return ef_embedding(c, p[0], ids[0], 2.5f, -1);
}
static ef_tensor *b_positions_add(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  /* positions are a constant: the gradient flows to x only */
  return ef_add(c, p[0], ef_sinusoidal_positions(c, ids[0], 6, 1));
}
static ef_tensor *b_mask_rows(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  return ef_mask_rows(c, p[0], ids[0], 1);
}
static ef_tensor *b_attention(ef_ctx *c, ef_tensor **p, ef_tensor **ids, int causal, int pad,
                              int prefix) {
  ef_attn_opts o = {.heads = 2, .scale = 0.5f, .causal = causal, .key_pad = pad ? ids[1] : NULL,
                    .prefix_k = prefix ? p[3] : NULL, .prefix_v = prefix ? p[4] : NULL};
  return ef_attention(c, p[0], p[1], p[2], &o);
}
static ef_tensor *b_attn_pad(ef_ctx *c, ef_tensor **p, ef_tensor **i) { return b_attention(c, p, i, 0, 1, 0); }
static ef_tensor *b_attn_causal(ef_ctx *c, ef_tensor **p, ef_tensor **i) { return b_attention(c, p, i, 1, 0, 0); }
static ef_tensor *b_attn_prefix(ef_ctx *c, ef_tensor **p, ef_tensor **i) { return b_attention(c, p, i, 1, 1, 1); }
static ef_tensor *b_attn_cross(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  ef_attn_opts o = {.heads = 2, .scale = 0.5f, .key_pad = ids[1]};
  return ef_attention(c, p[0], p[1], p[2], &o); /* Tq = 3 queries over Tk = 5 keys */
}
static ef_tensor *b_xent(ef_ctx *c, ef_tensor **p, ef_tensor **ids, float eps) {
  return ef_label_smoothed_nll(c, p[0], ids[2], eps, 1, NULL, NULL);
}
static ef_tensor *b_xent_ls(ef_ctx *c, ef_tensor **p, ef_tensor **i) { return b_xent(c, p, i, 0.1f); }
static ef_tensor *b_xent_plain(ef_ctx *c, ef_tensor **p, ef_tensor **i) { return b_xent(c, p, i, 0.0f); }
/* One weight used three times: y = ((x Wᵀ) Wᵀ) Wᵀ. */
static ef_tensor *b_shared3(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  return ef_linear(c, ef_linear(c, ef_linear(c, p[0], p[1], NULL), p[1], NULL), p[1], NULL);
}
/* Tied embeddings: E embeds the tokens and projects the result back onto the vocabulary. */
static ef_tensor *b_tied(ef_ctx *c, ef_tensor **p, ef_tensor **ids) {
  ef_tensor *h = ef_layernorm(c, ef_embedding(c, p[0], ids[0], 2.0f, -1), p[1], p[2], 1e-5f);
  return ef_label_smoothed_nll(c, ef_linear(c, h, p[0], NULL), ids[2], 0.1f, 1, NULL, NULL);
}

#define P2(a, b) 2, {a, b}
#define P3(a, b, c) 3, {a, b, c}
#define T(nd, ...) {nd, {__VA_ARGS__}, 0.0f, 1.0f, 0}
#define TZ(nd, ...) {nd, {__VA_ARGS__}, 0.0f, 1.0f, 1}
#define TO(nd, off, ...) {nd, {__VA_ARGS__}, off, 0.1f, 0}

static const gc_case cases[] = {
    {"linear", b_linear, 3, {T(3, 2, 3, 4), T(2, 5, 4), T(1, 5)}},
    {"linear_no_bias", b_linear_nobias, 2, {T(2, 3, 4), T(2, 5, 4)}},
    {"matmul_nn_batched", b_matmul_nn, 2, {T(3, 2, 3, 4), T(3, 2, 4, 5)}},
    {"matmul_tt_batched", b_matmul_tt, 2, {T(3, 2, 4, 3), T(3, 2, 5, 4)}},
    {"matmul_nt", b_matmul_nt2d, 2, {T(2, 3, 4), T(2, 6, 4)}},
    {"add", b_add, 2, {T(2, 3, 4), T(2, 3, 4)}},
    {"add_same_input", b_add_self, 1, {T(2, 3, 4)}},
    {"scale", b_scale, 1, {T(2, 3, 4)}},
    {"bias_add", b_bias_add, 2, {T(3, 2, 3, 4), T(1, 4)}},
    {"relu", b_relu, 1, {TZ(2, 4, 5)}},
    {"gelu", b_gelu, 1, {T(2, 4, 5)}},
    {"dropout", b_dropout, 1, {T(2, 6, 7)}, 1},
    {"layernorm", b_layernorm, 3, {T(3, 2, 3, 8), TO(1, 1.0f, 8), T(1, 8)}},
    {"embedding_scaled", b_embedding, 1, {T(2, 11, 4)}},
    {"sinusoidal_positions_add", b_positions_add, 1, {T(3, 2, 5, 6)}},
    {"mask_rows", b_mask_rows, 1, {T(3, 2, 5, 3)}},
    {"attention_key_pad", b_attn_pad, 3, {T(3, 2, 5, 8), T(3, 2, 5, 8), T(3, 2, 5, 8)}},
    {"attention_causal", b_attn_causal, 3, {T(3, 2, 5, 8), T(3, 2, 5, 8), T(3, 2, 5, 8)}},
    {"attention_cross", b_attn_cross, 3, {T(3, 2, 3, 8), T(3, 2, 5, 8), T(3, 2, 5, 8)}},
    {"attention_prefix",
     b_attn_prefix,
     5,
     {T(3, 2, 5, 8), T(3, 2, 5, 8), T(3, 2, 5, 8), T(2, 3, 8), T(2, 3, 8)}},
    {"label_smoothed_nll_eps0.1", b_xent_ls, 1, {T(3, 2, 5, 11)}},
    {"label_smoothed_nll_eps0", b_xent_plain, 1, {T(3, 2, 5, 11)}},
    {"shared_weight_used_three_times", b_shared3, 2, {T(2, 3, 4), TO(2, 0.0f, 4, 4)}},
    {"tied_embedding_and_output_projection",
     b_tied,
     3,
     {T(2, 11, 6), TO(1, 1.0f, 6), T(1, 6)}},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

typedef struct {
  ef_params *params;
  ef_tensor *p[GC_MAX_PARAMS];
  ef_ctx *ctx;
  float *R;
  int64_t n_out;
} gc_rig;

static ef_tensor *build(gc_rig *g, const gc_case *c, int grad) {
  ef_ctx_reset(g->ctx);
  ef_ctx_set_grad(g->ctx, grad);
  ef_ctx_set_training(g->ctx, c->training);
  ef_ctx_set_rng(g->ctx, 42, 7);
  int64_t s25[2] = {2, 5};
  ef_tensor *ids[3] = {ef_tensor_wrap(g->ctx, EF_I32, 2, s25, ids_data, NULL),
                       ef_tensor_wrap(g->ctx, EF_I32, 2, s25, pad_data, NULL),
                       ef_tensor_wrap(g->ctx, EF_I32, 2, s25, tgt_data, NULL)};
  ef_tensor *y = c->build(g->ctx, g->p, ids);
  ck_assert_msg(y != NULL, "%s: %s", c->name, ef_ctx_error(g->ctx));
  return y;
}

static double objective(gc_rig *g, const gc_case *c) {
  ef_tensor *y = build(g, c, 0);
  double L = 0.0;
  for (int64_t k = 0; k < y->numel; k++) L += (double)y->data[k] * g->R[k];
  return L;
}

START_TEST(gradient_matches_central_differences) {
  const gc_case *c = &cases[_i];
  gc_rig g = {0};
  char err[256];
  g.params = ef_params_new();
  for (int k = 0; k < c->n_params; k++) {
    char name[16];
    snprintf(name, sizeof name, "p%d", k);
    ck_assert_int_eq(ef_params_add(g.params, name, c->p[k].ndim, c->p[k].shape, err, sizeof err), k);
  }
  ck_assert_int_eq(ef_params_finalize(g.params, err, sizeof err), 0);
  rng_state = 0x1234u + (uint64_t)_i;
  for (int k = 0; k < c->n_params; k++) {
    g.p[k] = ef_params_tensor(g.params, k);
    for (int64_t e = 0; e < g.p[k]->numel; e++) {
      float v = c->p[k].offset + c->p[k].scale * (float)gauss();
      if (c->p[k].avoid_zero && fabsf(v) < 0.1f) v = v < 0 ? v - 0.1f : v + 0.1f;
      g.p[k]->data[e] = v;
    }
  }
  g.ctx = ef_ctx_new(1 << 16, 64);
  ef_tensor *y = build(&g, c, 1);
  g.n_out = y->numel;
  g.R = malloc((size_t)g.n_out * sizeof(float));
  for (int64_t e = 0; e < g.n_out; e++) g.R[e] = (float)gauss();
  ck_assert_int_eq(ef_backward_from(g.ctx, y, g.R), 0);

  int checked = 0;
  for (int k = 0; k < c->n_params; k++) {
    ef_tensor *t = g.p[k];
    float *analytic = malloc((size_t)t->numel * sizeof(float));
    memcpy(analytic, t->grad, (size_t)t->numel * sizeof(float));
    int64_t step = t->numel > GC_MAX_PROBES ? t->numel / GC_MAX_PROBES : 1;
    for (int64_t e = 0; e < t->numel; e += step) {
      float keep = t->data[e];
      t->data[e] = keep + (float)GC_H;
      double lp = objective(&g, c);
      t->data[e] = keep - (float)GC_H;
      double lm = objective(&g, c);
      t->data[e] = keep;
      double numeric = (lp - lm) / (2.0 * GC_H), a = analytic[e];
      ck_assert_msg(fabs(a - numeric) <= GC_ATOL + GC_RTOL * fabs(numeric),
                    "%s: d/dp%d[%lld]: analytic %.6g, numeric %.6g", c->name, k, (long long)e, a,
                    numeric);
      checked++;
    }
    free(analytic);
  }
  ck_assert_int_gt(checked, 0);
  free(g.R);
  ef_ctx_free(g.ctx);
  ef_params_free(g.params);
}
END_TEST

/* The gradient of a parameter used three times equals the sum of the gradients of three
 * distinct copies of it, each used once. */
START_TEST(shared_gradient_is_sum_of_uses) {
  char err[256];
  ef_params *p = ef_params_new();
  int64_t xs[2] = {3, 4}, ws[2] = {4, 4};
  ef_params_add(p, "x", 2, xs, err, sizeof err);
  ef_params_add(p, "w", 2, ws, err, sizeof err);
  ef_params_add(p, "w1", 2, ws, err, sizeof err);
  ef_params_add(p, "w2", 2, ws, err, sizeof err);
  ef_params_add(p, "w3", 2, ws, err, sizeof err);
  ck_assert_int_eq(ef_params_finalize(p, err, sizeof err), 0);
  rng_state = 99;
  ef_tensor *x = ef_params_tensor(p, 0), *w = ef_params_tensor(p, 1);
  for (int e = 0; e < 12; e++) x->data[e] = (float)gauss();
  for (int e = 0; e < 16; e++) w->data[e] = 0.5f * (float)gauss();
  for (int k = 2; k < 5; k++) memcpy(ef_params_tensor(p, k)->data, w->data, 16 * sizeof(float));
  ef_ctx *ctx = ef_ctx_new(1 << 16, 16);
  float R[12];
  for (int e = 0; e < 12; e++) R[e] = (float)gauss();
  ef_tensor *y = ef_linear(ctx, ef_linear(ctx, ef_linear(ctx, x, w, NULL), w, NULL), w, NULL);
  ck_assert_int_eq(ef_backward_from(ctx, y, R), 0);
  ef_ctx_reset(ctx);
  ef_tensor *y2 = ef_linear(ctx,
                            ef_linear(ctx, ef_linear(ctx, x, ef_params_tensor(p, 2), NULL),
                                      ef_params_tensor(p, 3), NULL),
                            ef_params_tensor(p, 4), NULL);
  ck_assert_int_eq(ef_backward_from(ctx, y2, R), 0);
  for (int e = 0; e < 16; e++) {
    float sum = ef_params_tensor(p, 2)->grad[e] + ef_params_tensor(p, 3)->grad[e] +
                ef_params_tensor(p, 4)->grad[e];
    ck_assert_float_eq_tol(w->grad[e], sum, 1e-5f * (1.0f + fabsf(sum)));
  }
  ef_ctx_free(ctx);
  ef_params_free(p);
}
END_TEST

int main(void) {
  Suite *s = suite_create("gradcheck");
  TCase *tc = tcase_create("finite_differences");
  tcase_add_loop_test(tc, gradient_matches_central_differences, 0, N_CASES);
  tcase_add_test(tc, shared_gradient_is_sum_of_uses);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
