/* count.c: parameter and multiply-add counts and the sharing table of a model, as
 * `edgeformer info` prints them (what is counted: docs/model.md). Must never count a shared
 * block twice: counts come from the parameter store, which holds each block once. */
#include <stdio.h>
#include <string.h>

#include "model/edgeformer.h"

int64_t ef_model_unique_params(const ef_model *m, int with_embeddings) {
  int64_t n = ef_params_numel(m->params);
  return with_embeddings ? n : n - m->n_embedding_params;
}

double ef_model_macs(const ef_model *m, int S, int T) {
  const ef_model_config *c = &m->cfg;
  double d = c->embed_dim, macs = 0.0;
  double P = c->layer_adaptation == EF_LA_PREFIX ? c->prefix_length : 0;
  for (int i = 0; i < c->encoder_layers; i++) {
    macs += S * (4.0 * d * d + 2.0 * d * c->encoder_ffn_dim); /* q,k,v,out; fc1, fc2 */
    macs += 2.0 * S * (S + P) * d;                            /* q·kᵀ and p·v */
    if (c->layer_adaptation == EF_LA_ADAPTER) macs += S * 2.0 * 2.0 * d * c->lora_rank;
  }
  double ffn_uses = c->decoder_layout == EF_DEC_INTERLEAVED ? 2.0 : 1.0;
  double self_keys = T * (T + 1) / 2.0; /* incremental: step t sees t keys */
  for (int j = 0; j < c->decoder_layers; j++) {
    macs += T * 4.0 * d * d + 2.0 * self_keys * d;            /* self-attention */
    macs += T * 2.0 * d * d + S * 2.0 * d * d + 2.0 * T * S * d; /* cross: q,out; k,v once */
    macs += ffn_uses * T * 2.0 * d * c->decoder_ffn_dim;
  }
  macs += (double)T * d * c->vocab_size; /* output projection */
  return macs;
}

static const char *la_name[] = {"none", "bias", "adapter", "prefix"};

void ef_model_describe(const ef_model *m, FILE *f) {
  const ef_model_config *c = &m->cfg;
  int A = c->encoder_attn_sets, Fs = c->encoder_ffn_sets;
  fprintf(f, "model: %d+%d layers, d=%d, %d heads, encoder FFN %d, decoder FFN %d, %s decoder, "
             "layer adaptation %s",
          c->encoder_layers, c->decoder_layers, c->embed_dim, c->attention_heads,
          c->encoder_ffn_dim, c->decoder_ffn_dim,
          c->decoder_layout == EF_DEC_INTERLEAVED ? "interleaved" : "standard",
          la_name[c->layer_adaptation]);
  if (c->layer_adaptation == EF_LA_ADAPTER) fprintf(f, " (LoRA r=%d)", c->lora_rank);
  if (c->layer_adaptation == EF_LA_PREFIX) fprintf(f, " (L=%d)", c->prefix_length);
  fprintf(f, ", V=%d\n\nsharing table (A = attention block, F = FFN block, LN = LayerNorms):\n",
          c->vocab_size);
  for (int i = 0; i < c->encoder_layers; i++)
    fprintf(f, "  encoder.layers.%-3d self-attn A%-2d  ffn F%-2d  LN %s%s\n", i, m->enc[i].attn,
            m->enc[i].ffn, c->share_layer_norm ? "shared with its block" : "own",
            c->layer_adaptation ? (c->layer_adaptation == EF_LA_ADAPTER ? "  + own LoRA q,v"
                                   : c->layer_adaptation == EF_LA_BIAS ? "  + own bias"
                                                                       : "  + own prefix k,v")
                                : "");
  for (int j = 0; j < c->decoder_layers; j++) {
    const ef_dec_layer *L = &m->dec[j];
    fprintf(f, "  decoder.layers.%-3d self-attn A%-2d  cross-attn A%-2d  ffn F%-2d%s  LN %s\n", j,
            L->self_attn, L->cross_attn, L->ffn,
            c->decoder_layout == EF_DEC_INTERLEAVED ? " (used twice)" : "",
            c->share_layer_norm ? "shared" : "own");
  }
  fprintf(f, "  embeddings: encoder input, decoder input and output projection share E [%d, %d]\n",
          c->vocab_size, c->embed_dim);
  (void)A;
  (void)Fs;
  int64_t with = ef_model_unique_params(m, 1), without = ef_model_unique_params(m, 0);
  fprintf(f, "\nunique parameter tensors: %d (%d fairseq state_dict keys)\n",
          ef_params_count(m->params), ef_params_count(m->params) + ef_params_alias_count(m->params));
  fprintf(f, "unique parameters without embeddings: %lld (%.1fM)\n", (long long)without,
          without / 1e6);
  fprintf(f, "unique parameters with embeddings:    %lld (%.1fM)\n", (long long)with, with / 1e6);
  double macs = ef_model_macs(m, 30, 30);
  fprintf(f, "multiply-adds, 30-token source + 30-token target: %.0f (%.2fG)\n", macs, macs / 1e9);
}
