/* adam.h: Adam over the parameter store in three variants, each bit-for-bit the float32
 * update rule of its reference (amsgrad off, maximize off):
 *   EF_ADAM_TORCH    torch.optim.Adam (PyTorch 1.13 single-tensor path): weight_decay is an
 *                    L2 term added to the gradient.
 *   EF_ADAMW_TORCH   torch.optim.AdamW: decoupled decay p *= 1 - lr·wd.
 *   EF_ADAM_FAIRSEQ  fairseq's `--optimizer adam` (fairseq/optim/adam.py, class Adam; on CPU
 *                    FairseqAdam always uses it): decoupled decay like AdamW, but eps added to
 *                    sqrt(v) BEFORE the bias correction, which is folded into the step size.
 * Never allocates after ef_adam_init, never touches the gradients, never reads or writes
 * anything but the store's flat buffers.
 *
 * Per element of the flat buffers (one loop over ef_params_flat_len floats; the zero padding
 * between parameters has g = p = m = v = 0 and stays zero), with t = step count after +1,
 * bc1 = 1 - β1^t, bc2 = 1 - β2^t:
 *     TORCH:   g = g + wd·p                       (only when wd != 0)
 *     ADAMW:   p = p·(1 - lr·wd)
 *     all:     m = β1·m + (1-β1)·g ;  v = β2·v + ((1-β2)·g)·g
 *     TORCH, ADAMW: p = p - (lr/bc1) · m / (sqrt(v)/sqrt(bc2) + eps)
 *     FAIRSEQ:      p = p - wd·lr·p  (only when wd != 0);
 *                   p = p - (lr·sqrt(bc2)/bc1) · m / (sqrt(v) + eps)
 * Scalars are computed in double as Python does and rounded to float once, as torch does
 * when it hands them to its kernels. The two eps placements differ by a factor sqrt(bc2) on
 * eps: with eps 1e-6 and β2 0.98 the variants differ visibly only while sqrt(v) is within a
 * few orders of magnitude of eps (early updates, rarely-used rows).
 *
 * Differences from the references, by design: every unique parameter is stepped on every
 * update, even one whose gradient is all zero (torch skips a parameter whose .grad is None,
 * i.e. one no loss has used yet); the step count is one number for the store, not one per
 * parameter (the same thing when every parameter is stepped every update).
 *
 * The update contract with the trainer (gradient accumulation, fairseq's --update-freq N):
 *     ef_params_zero_grad(p)                        once per update
 *     N x (forward, ef_backward)                    every backward ADDS into the gradients
 *     ef_grad_scale(p, 1 / target_tokens)           optim/clip.h; fairseq's multiply_grads,
 *                                                   target_tokens summed over the N batches
 *     ef_clip_grad_norm(p, max_norm, &norm)         optim/clip.h; if it reports a non-finite
 *                                                   norm, skip the step (zero grads, go on)
 *     ef_adam_step(&opt, ef_lr_at(&sched, n_done))  optim/schedule.h; n_done = updates
 *                                                   completed before this one
 * Nothing here knows about N: the sum over the N backward passes is the gradient.
 *
 * Memory: m and v are two optimizer state slots of the store (ef_params_alloc_states), owned
 * by the store and freed with it. A checkpoint saves `step` and the two slots
 * (ef_params_state(p, opt.slot_m), ef_params_state(p, opt.slot_m + 1)); restoring writes them
 * back and sets `step`.
 */
#ifndef EF_OPTIM_ADAM_H
#define EF_OPTIM_ADAM_H

#include <stddef.h>
#include <stdint.h>

#include "autograd/params.h"

/* torch.optim.Adam's defaults (fairseq's FairseqAdamConfig uses the same numbers; the
 * EdgeLM recipe sets betas (0.9, 0.98) and eps 1e-6). */
#define EF_ADAM_DEFAULT_BETA1 0.9
#define EF_ADAM_DEFAULT_BETA2 0.999
#define EF_ADAM_DEFAULT_EPS 1e-8
/* Number of store state slots Adam uses (m, v). */
#define EF_ADAM_STATE_SLOTS 2

typedef enum {
  EF_ADAM_TORCH = 0,   /* torch.optim.Adam: weight_decay added to the gradient as wd·p */
  EF_ADAMW_TORCH = 1,  /* torch.optim.AdamW: decoupled weight decay */
  EF_ADAM_FAIRSEQ = 2, /* fairseq --optimizer adam: decoupled decay, eps outside correction */
} ef_adam_variant;

typedef struct {
  double beta1, beta2, eps;
  double weight_decay; /* 0 disables weight decay in every variant */
  ef_adam_variant variant;
} ef_adam_config;

typedef struct {
  ef_adam_config cfg;
  ef_params *params; /* not owned */
  int slot_m;        /* m is state slot slot_m, v is slot_m + 1 */
  int64_t step;      /* completed steps; the next ef_adam_step uses step + 1 */
} ef_adam;

/* torch's defaults: betas (0.9, 0.999), eps 1e-8, no weight decay, EF_ADAM_TORCH. */
ef_adam_config ef_adam_default_config(void);
/* Check the config (0 <= beta < 1, eps >= 0, weight_decay >= 0, all finite), add the two
 * state slots to the finalized store p (zeroed) and set step = 0. Returns 0, or -1 with a
 * message in err (bad config, store not finalized, no free state slots, out of memory). */
int ef_adam_init(ef_adam *opt, ef_params *p, const ef_adam_config *cfg, char *err, size_t errlen);
/* One update with learning rate lr, reading the store's gradients. Returns 0, or -1 with a
 * message (lr negative or not finite); on error nothing is changed. Splits the flat buffers
 * into fixed chunks over the worker pool; the update is elementwise, so results are
 * bit-identical for any thread count. */
int ef_adam_step(ef_adam *opt, double lr, char *err, size_t errlen);

#endif
