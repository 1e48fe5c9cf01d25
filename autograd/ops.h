/* ops.h: every differentiable op of the engine. Each op lives in autograd/op_<name>.c as a
 * <name>_forward / <name>_backward kernel pair; the functions below check shapes, allocate
 * the output in the step arena, run the forward kernel and record a tape node when a
 * gradient is needed.
 *
 * Conventions: row-major; "[.., K]" means any leading dims (flattened to rows). An op given a
 * NULL input returns NULL; a shape mismatch sets the context error, naming the op and the
 * shapes, and returns NULL. Backward kernels add into input gradients.
 */
#ifndef EF_AUTOGRAD_OPS_H
#define EF_AUTOGRAD_OPS_H

#include "autograd/tensor.h"

/* y[.., N] = x[.., K] · W[N, K]ᵀ + b[N]  (b may be NULL). */
ef_tensor *ef_linear(ef_ctx *ctx, ef_tensor *x, ef_tensor *w, ef_tensor *b);
/* C = op(A) · op(B) for 2-D [M,K]·[K,N], or batched 3-D [Bt,M,K]·[Bt,K,N]; op = transpose when
 * the flag is set (then A is [.., K, M] or B is [.., N, K]). */
ef_tensor *ef_matmul(ef_ctx *ctx, ef_tensor *a, ef_tensor *b, int trans_a, int trans_b);
/* y = a + b, same shapes. */
ef_tensor *ef_add(ef_ctx *ctx, ef_tensor *a, ef_tensor *b);
/* y = alpha · x. */
ef_tensor *ef_scale(ef_ctx *ctx, ef_tensor *x, float alpha);
/* y[.., D] = x[.., D] + b[D] (broadcast over rows). */
ef_tensor *ef_bias_add(ef_ctx *ctx, ef_tensor *x, ef_tensor *b);
ef_tensor *ef_relu(ef_ctx *ctx, ef_tensor *x);
/* GELU, exact form 0.5·x·(1 + erf(x/√2)) (PyTorch's default, fairseq's "gelu"). */
ef_tensor *ef_gelu(ef_ctx *ctx, ef_tensor *x);
/* Inverted dropout with probability p, active only in training mode (identity otherwise).
 * Mask of element i is a pure function of (seed, step, this op's index in the step, i), so
 * it is the same whatever the thread count. */
ef_tensor *ef_dropout(ef_ctx *ctx, ef_tensor *x, float p);
/* LayerNorm over the last dim: y = (x - mean)/sqrt(var + eps) · w + b, biased variance. */
ef_tensor *ef_layernorm(ef_ctx *ctx, ef_tensor *x, ef_tensor *w, ef_tensor *b, float eps);
/* y[.., D] = scale · table[ids[..], :]. Gradient is scattered (added) into the table's rows,
 * except for ids equal to padding_idx (nn.Embedding's padding_idx; -1 for none). */
ef_tensor *ef_embedding(ef_ctx *ctx, ef_tensor *table, ef_tensor *ids, float scale,
                        int padding_idx);
/* fairseq's sinusoidal position embeddings for token ids [B, T] (no gradient: a constant):
 * position = padding_idx + (number of non-pad tokens up to and including this one) for
 * non-pad tokens, padding_idx (the zero row) for pads; row p = [sin(p·f_k), cos(p·f_k)],
 * f_k = exp(-k·ln(10000)/(dim/2 - 1)), k < dim/2; odd dim gets a zero last column. */
ef_tensor *ef_sinusoidal_positions(ef_ctx *ctx, ef_tensor *ids, int dim, int padding_idx);
/* y[b,t,:] = x[b,t,:] · (ids[b,t] != padding_idx): zero the rows of pad tokens. */
ef_tensor *ef_mask_rows(ef_ctx *ctx, ef_tensor *x, ef_tensor *ids, int padding_idx);

/* Multi-head scaled dot-product attention on already projected q, k, v.
 * q [B,Tq,D], k and v [B,Tk,D], D = heads·dh; output [B,Tq,D] (heads concatenated).
 * scores = (q·scale)·kᵀ per head; key_pad (I32 [B,Tk], non-zero = padding) masks keys; causal
 * lets query i see keys j <= i + (Tk - Tq); prefix_k/prefix_v ([P, D], may be NULL, shared by
 * the batch, never masked) are prepended to every sequence's keys and values. A query that
 * can see no key gets a zero output row. Softmax in fp32; no dropout on probabilities. */
typedef struct ef_attn_opts {
  int heads;
  float scale;
  int causal;
  ef_tensor *key_pad;
  ef_tensor *prefix_k, *prefix_v;
} ef_attn_opts;
ef_tensor *ef_attention(ef_ctx *ctx, ef_tensor *q, ef_tensor *k, ef_tensor *v,
                        const ef_attn_opts *o);

/* Fused log-softmax + label-smoothed NLL (fairseq's label_smoothed_cross_entropy):
 * logits [.., V], targets I32 [..]. With eps_i = eps/(V-1), per token
 * loss = (1 - eps - eps_i)·(-log p[y]) + eps_i·Σ_v(-log p[v]); targets equal to ignore_index
 * contribute nothing. Returns the summed loss as a [1] tensor; the summed plain NLL goes to
 * *nll_sum (may be NULL); the log-probs [.., V] to *lprobs (may be NULL; arena memory). */
ef_tensor *ef_label_smoothed_nll(ef_ctx *ctx, ef_tensor *logits, ef_tensor *targets, float eps,
                                 int ignore_index, double *nll_sum, ef_tensor **lprobs);

/* Reverse pass from a scalar: loss->grad = 1, then every node's backward, last to first. */
int ef_backward(ef_ctx *ctx, ef_tensor *loss);
/* Reverse pass from any tensor with a given output gradient (copied into out->grad). */
int ef_backward_from(ef_ctx *ctx, ef_tensor *out, const float *out_grad);

#endif
