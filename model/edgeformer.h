/* edgeformer.h: the EdgeFormer model on the autograd engine: its parameter layout (canonical
 * fairseq keys + aliases, see docs/model.md), fairseq's initialisation, the teacher-forced
 * training graph, and counts (parameters, multiply-adds, the sharing table).
 *
 * Memory: ef_model_new allocates the parameter store once; ef_model_free releases it. The
 * graph functions allocate only in the step context's arena.
 */
#ifndef EF_MODEL_EDGEFORMER_H
#define EF_MODEL_EDGEFORMER_H

#include <stdint.h>
#include <stdio.h>

#include "autograd/params.h"
#include "autograd/tensor.h"
#include "model/config.h"

#define EF_PAD 1
#define EF_EOS 2
#define EF_BOS 0
#define EF_UNK 3

/* Parameter indices of one attention block, FFN block, LayerNorm, LoRA. */
typedef struct { int q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b; } ef_attn_params;
typedef struct { int fc1_w, fc1_b, fc2_w, fc2_b; } ef_ffn_params;
typedef struct { int w, b; } ef_ln_params;
typedef struct { int u_w, u_b, v_w, v_b; } ef_lora_params;

/* The layer table: which unique block every layer uses. Any sharing scheme is expressible. */
typedef struct {
  int attn, ffn;            /* indices into model->attn / model->ffn */
  ef_ln_params ln_attn, ln_ffn;
  ef_lora_params lora_q, lora_v; /* adapter; -1 otherwise */
  int la_bias;              /* bias-LA, -1 otherwise */
  int prefix_k, prefix_v;   /* prefix-LA, -1 otherwise */
} ef_enc_layer;

typedef struct {
  int self_attn, cross_attn, ffn;
  ef_ln_params ln_self, ln_cross, ln_final;
} ef_dec_layer;

typedef struct ef_model {
  ef_model_config cfg;
  ef_params *params;
  int embed;
  ef_attn_params *attn; /* encoder sets, then decoder-own blocks */
  int n_attn;
  ef_ffn_params *ffn;   /* encoder sets, then decoder sets */
  int n_ffn;
  ef_enc_layer *enc;
  ef_dec_layer *dec;
  int64_t n_embedding_params; /* V·d */
} ef_model;

/* Build the layout for cfg (checked), parameters zeroed. 0, or -1 with message. */
int ef_model_new(const ef_model_config *cfg, ef_model **out, char *err, size_t errlen);
void ef_model_free(ef_model *m);
/* fairseq's initialisation (docs/model.md), from a seed. */
void ef_model_init(ef_model *m, uint64_t seed);

/* A batch in fairseq's layout (int32 [B,S], [B,T], [B,T]; pad = 1). */
typedef struct {
  ef_tensor *src_tokens, *prev_output_tokens, *target;
} ef_batch_tensors;

typedef struct {
  ef_tensor *encoder_out; /* [B,S,d] */
  ef_tensor *logits;      /* [B,T,V] */
  ef_tensor *loss;        /* [1], summed label-smoothed loss */
  double nll_sum;         /* summed plain NLL (natural log) */
  ef_tensor *lprobs;      /* [B,T,V] */
} ef_model_out;

/* The teacher-forced graph: encoder, decoder, logits and (when b->target) the loss with
 * epsilon = eps. Training mode of ctx switches dropout. NULL inputs / shape errors leave the
 * context error set; returns 0 or -1. */
int ef_model_forward(ef_ctx *ctx, ef_model *m, const ef_batch_tensors *b, float eps,
                     ef_model_out *out);

/* Counts. */
int64_t ef_model_unique_params(const ef_model *m, int with_embeddings);
/* Multiply-adds to encode src_len tokens and decode tgt_len tokens incrementally (each new
 * token attends to itself and earlier ones; cross-attention keys/values once per source). */
double ef_model_macs(const ef_model *m, int src_len, int tgt_len);
/* The sharing table, unique parameters and MACs, as `edgeformer info` prints them. */
void ef_model_describe(const ef_model *m, FILE *f);

#endif
