/* runtime/model.h: the runtime's model representation: the config, a table of tensors (fp32 or
 * int8 with per-row scales) and a layer table that says which tensors every layer uses, so any
 * sharing scheme and layer adaptation of the training side is expressible. The same struct is
 * built from live training parameters (eval/, pointers into the parameter store, nothing
 * copied) and from a `.efm` file (runtime/efm.h, pointers into the mapped file).
 *
 * Depends on libc only. Must never include anything from the training side.
 *
 * Memory: an rt_model owns its `tensors`, `attn`, `ffn`, `enc` and `dec` arrays (rt_model_alloc,
 * released by rt_model_free) but never the tensor data: whoever fills the data pointers keeps
 * the data alive for as long as the model is used (`owner`/`release` let a loader attach it).
 *
 * Semantics of every field are those of docs/model.md; indices are into `tensors`, -1 = absent.
 */
#ifndef EF_RUNTIME_MODEL_H
#define EF_RUNTIME_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RT_MAX_LAYERS 256
#define RT_MAX_DIM 65536
#define RT_MAX_VOCAB (1 << 22)
#define RT_MAX_POSITIONS 65536

/* fairseq's special symbols */
#define RT_BOS 0
#define RT_PAD 1
#define RT_EOS 2
#define RT_UNK 3

typedef enum { RT_F32 = 0, RT_I8 = 1 } rt_dtype;
typedef enum { RT_LA_NONE = 0, RT_LA_BIAS, RT_LA_ADAPTER, RT_LA_PREFIX } rt_layer_adaptation;
typedef enum { RT_DEC_INTERLEAVED = 0, RT_DEC_STANDARD } rt_decoder_layout;
typedef enum { RT_ACT_RELU = 0, RT_ACT_GELU } rt_activation;

typedef struct rt_config {
  int encoder_layers, decoder_layers, embed_dim, attention_heads;
  int encoder_ffn_dim, decoder_ffn_dim;
  int decoder_layout;   /* rt_decoder_layout */
  int layer_adaptation; /* rt_layer_adaptation */
  int lora_rank, prefix_length;
  int activation; /* rt_activation */
  int max_source_positions, max_target_positions;
  int vocab_size;
} rt_config;

/* A matrix [rows, cols] (PyTorch Linear layout: [out, in]) or a vector (rows = 1).
 * RT_F32: f holds rows·cols floats. RT_I8: q holds rows·cols int8 and W[r,c] = scale[r]·q[r,c];
 * rowsum[r] = Σ_c q[r,c] (used by kernels that shift activations to unsigned bytes). Row-major,
 * no padding, no repacking: the data may be a read-only mapping of a file. */
typedef struct rt_mat {
  int rows, cols;
  int dtype; /* rt_dtype */
  const float *f;
  const int8_t *q;
  const float *scale;
  const int32_t *rowsum;
} rt_mat;

typedef struct { int q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b; } rt_attn;
typedef struct { int fc1_w, fc1_b, fc2_w, fc2_b; } rt_ffn;
typedef struct { int w, b; } rt_ln;
typedef struct { int u_w, u_b, v_w, v_b; } rt_lora;

typedef struct {
  int attn, ffn; /* indices into rt_model.attn / rt_model.ffn */
  rt_ln ln_attn, ln_ffn;
  rt_lora lora_q, lora_v; /* Adapter-LA; all -1 otherwise */
  int la_bias;            /* Bias-LA [d]; -1 otherwise */
  int prefix_k, prefix_v; /* Prefix-LA [L, d]; -1 otherwise */
} rt_enc_layer;

typedef struct {
  int self_attn, cross_attn, ffn; /* indices into rt_model.attn / rt_model.ffn */
  rt_ln ln_self, ln_cross, ln_final;
} rt_dec_layer;

typedef struct rt_model {
  rt_config cfg;
  int n_tensors;
  rt_mat *tensors;
  const char **names; /* optional tensor names (canonical fairseq keys); may be NULL */
  int embed;          /* [V, d]: token embedding and output projection (tied) */
  int n_attn, n_ffn;
  rt_attn *attn;
  rt_ffn *ffn;
  rt_enc_layer *enc; /* [encoder_layers] */
  rt_dec_layer *dec; /* [decoder_layers] */
  void *owner;       /* data owner, released by release(owner) in rt_model_free */
  void (*release)(void *owner);
} rt_model;

/* Allocate the tables of a model with these counts (entries zeroed, layer-table indices -1).
 * Returns NULL when out of memory or a count is out of range. */
rt_model *rt_model_alloc(const rt_config *cfg, int n_tensors, int n_attn, int n_ffn);
void rt_model_free(rt_model *m); /* NULL is fine */

/* Check everything a decoder relies on: config ranges and consistency, every index in range,
 * every referenced tensor present with the shape the config implies, int8 tensors with scale
 * and rowsum, no NULL data. 0, or -1 with one line naming the first problem. */
int rt_model_check(const rt_model *m, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
