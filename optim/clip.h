/* clip.h: whole-model gradient operations between backward and the optimizer step: scaling
 * (fairseq's multiply_grads), the global L2 norm, and clipping as torch.nn.utils.
 * clip_grad_norm_ / fairseq.utils.clip_grad_norm_. Over unique parameters only (the store's
 * flat gradient buffer; the zero padding between parameters adds nothing). Never allocates,
 * never touches parameter values or optimizer state.
 *
 * Determinism: the norm is a sum of squares accumulated in double over EF_GRAD_NORM_PARTS
 * fixed contiguous parts of the flat buffer (each part summed in a fixed order), the parts
 * then added in index order: the same bits for any thread count.
 */
#ifndef EF_OPTIM_CLIP_H
#define EF_OPTIM_CLIP_H

#include "autograd/params.h"

/* Number of fixed parts the norm is split into (independent of the thread count). */
#define EF_GRAD_NORM_PARTS 256
/* torch.nn.utils.clip_grad_norm_ and fairseq add this to the norm before dividing. */
#define EF_CLIP_NORM_EPS 1e-6

/* Status of ef_clip_grad_norm. */
typedef enum {
  EF_CLIP_OK = 0,        /* norm finite; gradients scaled if it exceeded max_norm */
  EF_CLIP_NONFINITE = 1, /* norm is inf or NaN; gradients left untouched: skip this update */
} ef_clip_status;

/* L2 norm of all gradients (double accumulation; +inf or NaN when a gradient is). */
double ef_grad_norm(ef_params *p);
/* Multiply every gradient by factor, in float (fairseq: multiply_grads(1 / sample_size)). */
void ef_grad_scale(ef_params *p, float factor);
/* torch.nn.utils.clip_grad_norm_(params, max_norm): computes the pre-clip norm into *norm,
 * then, if finite and max_norm > 0, coef = max_norm / (norm + 1e-6) in float32 as torch
 * does, and multiplies the gradients by coef only when coef < 1. max_norm <= 0 only measures
 * (fairseq's --clip-norm 0). Returns EF_CLIP_NONFINITE when the norm is not finite: fairseq
 * then skips the update, and so should the trainer (zero the gradients, do not step). */
ef_clip_status ef_clip_grad_norm(ef_params *p, double max_norm, double *norm);

#endif
