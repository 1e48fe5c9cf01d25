/* graph.c: the EdgeFormer training graph (teacher forcing) on the autograd engine, exactly as
 * docs/model.md specifies: post-LN encoder with shared attention/FFN sets and layer
 * adaptation, interleaved or standard decoder, tied output projection, label-smoothed loss.
 * Must never special-case sharing: shared blocks are the same parameter tensors, and the
 * engine's accumulating backward sums their gradients. */
#include <math.h>
#include <string.h>

#include "autograd/ops.h"
#include "model/edgeformer.h"

static ef_tensor *P(ef_model *m, int idx) { return idx < 0 ? NULL : ef_params_tensor(m->params, idx); }

static ef_tensor *lin(ef_ctx *c, ef_model *m, ef_tensor *x, int w, int b) {
  return ef_linear(c, x, P(m, w), P(m, b));
}

static ef_tensor *act(ef_ctx *c, const ef_model_config *cfg, ef_tensor *x) {
  return cfg->activation == EF_ACT_GELU ? ef_gelu(c, x) : ef_relu(c, x);
}

static ef_tensor *ffn(ef_ctx *c, ef_model *m, int f, ef_tensor *x) {
  const ef_ffn_params *p = &m->ffn[f];
  return lin(c, m, act(c, &m->cfg, lin(c, m, x, p->fc1_w, p->fc1_b)), p->fc2_w, p->fc2_b);
}

static ef_tensor *lora(ef_ctx *c, ef_model *m, const ef_lora_params *p, ef_tensor *x) {
  return lin(c, m, lin(c, m, x, p->u_w, p->u_b), p->v_w, p->v_b);
}

static ef_tensor *ln(ef_ctx *c, ef_model *m, ef_ln_params p, ef_tensor *x) {
  return ef_layernorm(c, x, P(m, p.w), P(m, p.b), 1e-5f);
}

/* Multi-head attention block: projections (+ LoRA on q and v), attention, out projection. */
static ef_tensor *attention_block(ef_ctx *c, ef_model *m, int a, ef_tensor *x, ef_tensor *kv_in,
                                  ef_tensor *key_pad, int causal, const ef_enc_layer *L) {
  const ef_attn_params *p = &m->attn[a];
  ef_tensor *q = lin(c, m, x, p->q_w, p->q_b);
  ef_tensor *k = lin(c, m, kv_in, p->k_w, p->k_b);
  ef_tensor *v = lin(c, m, kv_in, p->v_w, p->v_b);
  ef_attn_opts o = {.heads = m->cfg.attention_heads,
                    .scale = 1.0f / sqrtf((float)(m->cfg.embed_dim / m->cfg.attention_heads)),
                    .causal = causal, .key_pad = key_pad};
  if (L && L->lora_q.u_w >= 0) {
    q = ef_add(c, q, lora(c, m, &L->lora_q, x));
    v = ef_add(c, v, lora(c, m, &L->lora_v, x));
  }
  if (L && L->prefix_k >= 0) {
    o.prefix_k = P(m, L->prefix_k);
    o.prefix_v = P(m, L->prefix_v);
  }
  return lin(c, m, ef_attention(c, q, k, v, &o), p->o_w, p->o_b);
}

/* key_pad[b,t] = (tokens[b,t] == pad), int32 for the attention op. */
static ef_tensor *pad_mask(ef_ctx *c, ef_tensor *tokens) {
  ef_tensor *mk = ef_tensor_new(c, EF_I32, 2, tokens->shape, 0, 0);
  if (!mk) return NULL;
  for (int64_t i = 0; i < tokens->numel; i++) mk->idata[i] = tokens->idata[i] == EF_PAD;
  return mk;
}

static ef_tensor *embed(ef_ctx *c, ef_model *m, ef_tensor *tokens) {
  const ef_model_config *cfg = &m->cfg;
  ef_tensor *x = ef_add(c, ef_embedding(c, P(m, m->embed), tokens, sqrtf((float)cfg->embed_dim), EF_PAD),
                        ef_sinusoidal_positions(c, tokens, cfg->embed_dim, EF_PAD));
  return ef_dropout(c, x, cfg->dropout);
}

static int check_tokens(ef_ctx *c, ef_model *m, const char *what, ef_tensor *t, int max_len) {
  if (!t) return ef_ctx_fail(c, "model: %s missing", what), 0;
  if (t->dtype != EF_I32 || t->ndim != 2)
    return ef_fail_shapes(c, "model", what, t, NULL), 0;
  if (t->shape[1] > max_len)
    return ef_ctx_fail(c, "model: %s has %lld positions, the model allows %d", what,
                       (long long)t->shape[1], max_len), 0;
  for (int64_t i = 0; i < t->numel; i++)
    if (t->idata[i] < 0 || t->idata[i] >= m->cfg.vocab_size)
      return ef_ctx_fail(c, "model: %s: token id %d outside the vocabulary [0,%d)", what,
                         t->idata[i], m->cfg.vocab_size), 0;
  return 1;
}

int ef_model_forward(ef_ctx *c, ef_model *m, const ef_batch_tensors *b, float eps,
                     ef_model_out *out) {
  memset(out, 0, sizeof *out);
  const ef_model_config *cfg = &m->cfg;
  if (!ef_ctx_ok(c)) return -1;
  if (!check_tokens(c, m, "src_tokens", b->src_tokens, cfg->max_source_positions) ||
      !check_tokens(c, m, "prev_output_tokens", b->prev_output_tokens, cfg->max_target_positions))
    return -1;
  if (b->src_tokens->shape[0] != b->prev_output_tokens->shape[0]) {
    ef_fail_shapes(c, "model", "source and target batch sizes differ", b->src_tokens,
                   b->prev_output_tokens);
    return -1;
  }
  /* encoder */
  ef_tensor *src_pad = pad_mask(c, b->src_tokens);
  ef_tensor *x = ef_mask_rows(c, embed(c, m, b->src_tokens), b->src_tokens, EF_PAD);
  for (int i = 0; i < cfg->encoder_layers; i++) {
    const ef_enc_layer *L = &m->enc[i];
    if (L->la_bias >= 0) x = ef_bias_add(c, x, P(m, L->la_bias));
    ef_tensor *a = attention_block(c, m, L->attn, x, x, src_pad, 0, L);
    x = ln(c, m, L->ln_attn, ef_add(c, x, ef_dropout(c, a, cfg->dropout)));
    x = ln(c, m, L->ln_ffn, ef_add(c, x, ef_dropout(c, ffn(c, m, L->ffn, x), cfg->dropout)));
  }
  ef_tensor *enc = x;
  /* decoder */
  ef_tensor *tgt_pad = pad_mask(c, b->prev_output_tokens);
  ef_tensor *y = embed(c, m, b->prev_output_tokens);
  for (int j = 0; j < cfg->decoder_layers; j++) {
    const ef_dec_layer *L = &m->dec[j];
    ef_tensor *s = attention_block(c, m, L->self_attn, y, y, tgt_pad, 1, NULL);
    y = ln(c, m, L->ln_self, ef_add(c, y, ef_dropout(c, s, cfg->dropout)));
    if (cfg->decoder_layout == EF_DEC_INTERLEAVED)
      y = ln(c, m, L->ln_final, ef_add(c, y, ef_dropout(c, ffn(c, m, L->ffn, y), cfg->dropout)));
    ef_tensor *xa = attention_block(c, m, L->cross_attn, y, enc, src_pad, 0, NULL);
    y = ln(c, m, L->ln_cross, ef_add(c, y, ef_dropout(c, xa, cfg->dropout)));
    y = ln(c, m, L->ln_final, ef_add(c, y, ef_dropout(c, ffn(c, m, L->ffn, y), cfg->dropout)));
  }
  out->encoder_out = enc;
  out->logits = ef_linear(c, y, P(m, m->embed), NULL);
  if (b->target) {
    if (!ef_same_shape(b->target, b->prev_output_tokens)) {
      ef_fail_shapes(c, "model", "target and prev_output_tokens differ", b->target,
                     b->prev_output_tokens);
      return -1;
    }
    out->loss = ef_label_smoothed_nll(c, out->logits, b->target, eps, EF_PAD, &out->nll_sum,
                                      &out->lprobs);
  }
  return ef_ctx_ok(c) ? 0 : -1;
}
