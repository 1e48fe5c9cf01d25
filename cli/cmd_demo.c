/* cmd_demo.c: `edgeformer demo`, the engine demonstration until the trainer lands: a tiny
 * causal Transformer block (tied embeddings, sinusoidal positions, attention, FFN, post-LN,
 * label-smoothed loss) fitted by plain SGD to a fixed set of token sequences. It prints the
 * falling loss; it must never be mistaken for training (no data, no checkpoint). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/ops.h"
#include "autograd/parallel.h"
#include "autograd/params.h"
#include "cli/commands.h"

#define DEMO_V 24
#define DEMO_D 64
#define DEMO_F 128
#define DEMO_H 4
#define DEMO_B 8
#define DEMO_T 12

static const struct {
  const char *name;
  int ndim;
  int64_t shape[2];
} demo_params[] = {
    {"embed_tokens.weight", 2, {DEMO_V, DEMO_D}},
    {"self_attn.q_proj.weight", 2, {DEMO_D, DEMO_D}}, {"self_attn.q_proj.bias", 1, {DEMO_D}},
    {"self_attn.k_proj.weight", 2, {DEMO_D, DEMO_D}}, {"self_attn.k_proj.bias", 1, {DEMO_D}},
    {"self_attn.v_proj.weight", 2, {DEMO_D, DEMO_D}}, {"self_attn.v_proj.bias", 1, {DEMO_D}},
    {"self_attn.out_proj.weight", 2, {DEMO_D, DEMO_D}}, {"self_attn.out_proj.bias", 1, {DEMO_D}},
    {"self_attn_layer_norm.weight", 1, {DEMO_D}}, {"self_attn_layer_norm.bias", 1, {DEMO_D}},
    {"fc1.weight", 2, {DEMO_F, DEMO_D}}, {"fc1.bias", 1, {DEMO_F}},
    {"fc2.weight", 2, {DEMO_D, DEMO_F}}, {"fc2.bias", 1, {DEMO_D}},
    {"final_layer_norm.weight", 1, {DEMO_D}}, {"final_layer_norm.bias", 1, {DEMO_D}},
};
#define N_DEMO_PARAMS ((int)(sizeof demo_params / sizeof demo_params[0]))

static ef_tensor *P(ef_params *p, const char *n) { return ef_params_tensor(p, ef_params_find(p, n)); }

/* One forward pass: next-token prediction over the fixed sequences; returns the summed loss. */
static ef_tensor *demo_forward(ef_ctx *c, ef_params *p, ef_tensor *ids, ef_tensor *tgt,
                               double *nll) {
  ef_tensor *x = ef_add(c, ef_embedding(c, P(p, "embed_tokens.weight"), ids, sqrtf(DEMO_D), 1),
                        ef_sinusoidal_positions(c, ids, DEMO_D, 1));
  x = ef_dropout(c, x, 0.1f);
  ef_tensor *q = ef_linear(c, x, P(p, "self_attn.q_proj.weight"), P(p, "self_attn.q_proj.bias"));
  ef_tensor *k = ef_linear(c, x, P(p, "self_attn.k_proj.weight"), P(p, "self_attn.k_proj.bias"));
  ef_tensor *v = ef_linear(c, x, P(p, "self_attn.v_proj.weight"), P(p, "self_attn.v_proj.bias"));
  ef_attn_opts o = {.heads = DEMO_H, .scale = 1.0f / sqrtf(DEMO_D / DEMO_H), .causal = 1};
  ef_tensor *a = ef_linear(c, ef_attention(c, q, k, v, &o), P(p, "self_attn.out_proj.weight"),
                           P(p, "self_attn.out_proj.bias"));
  x = ef_layernorm(c, ef_add(c, x, ef_dropout(c, a, 0.1f)), P(p, "self_attn_layer_norm.weight"),
                   P(p, "self_attn_layer_norm.bias"), 1e-5f);
  ef_tensor *h = ef_relu(c, ef_linear(c, x, P(p, "fc1.weight"), P(p, "fc1.bias")));
  h = ef_linear(c, h, P(p, "fc2.weight"), P(p, "fc2.bias"));
  x = ef_layernorm(c, ef_add(c, x, ef_dropout(c, h, 0.1f)), P(p, "final_layer_norm.weight"),
                   P(p, "final_layer_norm.bias"), 1e-5f);
  ef_tensor *logits = ef_linear(c, x, P(p, "embed_tokens.weight"), NULL); /* tied */
  return ef_label_smoothed_nll(c, logits, tgt, 0.1f, 1, nll, NULL);
}

static uint64_t demo_rng = 0x243F6A8885A308D3ull;
static float uniform(void) {
  demo_rng = demo_rng * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((demo_rng >> 40) / 16777216.0) * 2.0f - 1.0f;
}

int cmd_demo(int argc, char **argv) {
  int steps = 300;
  float lr = 0.05f;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--steps") && i + 1 < argc) {
      steps = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--lr") && i + 1 < argc) {
      lr = (float)atof(argv[++i]);
    } else if (!strcmp(argv[i], "--help")) {
      printf("usage: edgeformer demo [--steps N] [--lr LR]\n"
             "Fits a tiny causal Transformer block (d=%d, %d heads, tied embeddings) to %d fixed\n"
             "token sequences with SGD and prints the loss (base 2, per token).\n",
             DEMO_D, DEMO_H, DEMO_B);
      return 0;
    } else {
      fprintf(stderr, "error: demo: unknown option '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (steps <= 0 || !(lr > 0.0f)) {
    fprintf(stderr, "error: demo: --steps and --lr must be positive\n");
    return 2;
  }
  char err[EF_ERR_LEN];
  ef_params *p = ef_params_new();
  for (int i = 0; i < N_DEMO_PARAMS; i++)
    if (ef_params_add(p, demo_params[i].name, demo_params[i].ndim, demo_params[i].shape, err,
                      sizeof err) < 0) {
      fprintf(stderr, "error: demo: %s\n", err);
      ef_params_free(p);
      return 1;
    }
  if (ef_params_finalize(p, err, sizeof err)) {
    fprintf(stderr, "error: demo: %s\n", err);
    ef_params_free(p);
    return 1;
  }
  for (int i = 0; i < N_DEMO_PARAMS; i++) {
    ef_tensor *t = P(p, demo_params[i].name);
    int is_ln_w = strstr(demo_params[i].name, "layer_norm.weight") != NULL;
    float bound = t->ndim == 2 ? sqrtf(6.0f / (float)(t->shape[0] + t->shape[1])) : 0.0f;
    for (int64_t e = 0; e < t->numel; e++) t->data[e] = is_ln_w ? 1.0f : bound * uniform();
  }
  /* Fixed sequences: tokens 4..23 in patterns (counting, repeating); pad = 1. */
  int32_t ids[DEMO_B * DEMO_T], tgt[DEMO_B * DEMO_T];
  for (int b = 0; b < DEMO_B; b++)
    for (int t = 0; t < DEMO_T; t++) {
      int tok = 4 + (b * 3 + t * (b % 3 + 1)) % 20;
      ids[b * DEMO_T + t] = t == 0 ? 2 : tgt[b * DEMO_T + t - 1];
      tgt[b * DEMO_T + t] = tok;
    }
  int64_t shape[2] = {DEMO_B, DEMO_T};
  ef_ctx *ctx = ef_ctx_new(1u << 20, 64);
  printf("demo: %d unique parameters (%lld values), %d sequences of %d tokens, %d threads\n",
         ef_params_count(p), (long long)ef_params_numel(p), DEMO_B, DEMO_T, ef_num_threads());
  double first = 0.0, last = 0.0;
  float *w = ef_params_data(p), *g = ef_params_grad(p);
  for (int step = 1; step <= steps; step++) {
    ef_ctx_reset(ctx);
    ef_ctx_set_training(ctx, 1);
    ef_ctx_set_rng(ctx, 1, (uint64_t)step);
    ef_params_zero_grad(p);
    double nll = 0.0;
    ef_tensor *loss = demo_forward(ctx, p, ef_tensor_wrap(ctx, EF_I32, 2, shape, ids, NULL),
                                   ef_tensor_wrap(ctx, EF_I32, 2, shape, tgt, NULL), &nll);
    if (!loss || ef_backward(ctx, loss)) {
      fprintf(stderr, "error: demo: %s\n", ef_ctx_error(ctx));
      ef_ctx_free(ctx);
      ef_params_free(p);
      return 1;
    }
    double ntok = DEMO_B * DEMO_T, per_tok = loss->data[0] / ntok / M_LN2;
    for (int64_t e = 0; e < ef_params_flat_len(p); e++) w[e] -= lr * g[e] / (float)ntok;
    if (step == 1) first = per_tok;
    last = per_tok;
    if (step == 1 || step % 25 == 0 || step == steps)
      printf("step %4d  loss %.3f  nll %.3f  ppl %.2f\n", step, per_tok, nll / ntok / M_LN2,
             pow(2.0, nll / ntok / M_LN2));
  }
  printf("demo: loss fell from %.3f to %.3f bits per token\n", first, last);
  ef_ctx_free(ctx);
  ef_params_free(p);
  return last < first ? 0 : 1;
}
