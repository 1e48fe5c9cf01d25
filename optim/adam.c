/* adam.c: the Adam update loops (see adam.h). Must never allocate, never touch the
 * gradients, and never reorder the float operations that make it match its references.
 * Compiled with -ffp-contract=off: the only fused multiply-adds are the explicit fmaf calls,
 * standing exactly where torch 1.13's CPU kernels fuse (measured op by op against
 * python3-torch): add(alpha=) is fma(other, alpha, self) (m's update, the L2 term,
 * fairseq's p.add_(p, alpha=-wd·lr)); addcmul is fma(value·t1, t2, self) (v's update);
 * addcdiv is self + (value·t1)/t2, unfused; division by a scalar is a true division. */
#include "optim/adam.h"

#include <math.h>
#include <stdio.h>

#include "autograd/parallel.h"

/* Floats per work item of the parallel loop (a multiple of 16: whole cache lines). */
#define EF_ADAM_CHUNK 8192
/* Rough flops per element, for ef_parallel_for_cost. */
#define EF_ADAM_COST 12.0

ef_adam_config ef_adam_default_config(void) {
  ef_adam_config c = {EF_ADAM_DEFAULT_BETA1, EF_ADAM_DEFAULT_BETA2, EF_ADAM_DEFAULT_EPS, 0.0,
                      EF_ADAM_TORCH};
  return c;
}

int ef_adam_init(ef_adam *opt, ef_params *p, const ef_adam_config *cfg, char *err, size_t errlen) {
  if (!opt || !p || !cfg) return snprintf(err, errlen, "adam: NULL argument"), -1;
  if (!(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1))
    return snprintf(err, errlen, "adam: betas must be in [0, 1), got (%g, %g)", cfg->beta1,
                    cfg->beta2),
           -1;
  if (!(cfg->eps >= 0 && isfinite(cfg->eps)))
    return snprintf(err, errlen, "adam: eps must be finite and >= 0, got %g", cfg->eps), -1;
  if (!(cfg->weight_decay >= 0 && isfinite(cfg->weight_decay)))
    return snprintf(err, errlen, "adam: weight decay must be finite and >= 0, got %g",
                    cfg->weight_decay),
           -1;
  if (cfg->variant != EF_ADAM_TORCH && cfg->variant != EF_ADAMW_TORCH &&
      cfg->variant != EF_ADAM_FAIRSEQ)
    return snprintf(err, errlen, "adam: unknown variant %d", (int)cfg->variant), -1;
  /* The slots Adam gets are the next free ones. */
  int first = 0;
  while (first < EF_PARAM_MAX_STATES && ef_params_state(p, first)) first++;
  if (ef_params_alloc_states(p, EF_ADAM_STATE_SLOTS, err, errlen)) return -1;
  opt->cfg = *cfg;
  opt->params = p;
  opt->slot_m = first;
  opt->step = 0;
  return 0;
}

/* Loop variants; weight decay 0 takes the plain loops, as torch and fairseq skip the term. */
enum { LOOP_TORCH, LOOP_TORCH_L2, LOOP_TORCH_DECOUPLED, LOOP_FAIRSEQ, LOOP_FAIRSEQ_DECAY };

typedef struct {
  float *p, *g, *m, *v;
  int64_t n;
  int loop;
  float wd;    /* LOOP_TORCH_L2: the L2 coefficient */
  float decay; /* LOOP_TORCH_DECOUPLED: 1 - lr·wd; LOOP_FAIRSEQ_DECAY: -wd·lr */
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float bc2_sqrt; /* torch variants: sqrt(1 - β2^t) */
  float eps;
  float neg_step; /* torch: -lr/bc1; fairseq: -(lr·sqrt(bc2)/bc1) */
} adam_args;

static void adam_body(void *arg, int64_t begin, int64_t end, int tid) {
  const adam_args *a = arg;
  int64_t lo = begin * EF_ADAM_CHUNK, hi = end * EF_ADAM_CHUNK;
  if (hi > a->n) hi = a->n;
  float *restrict p = a->p, *restrict m = a->m, *restrict v = a->v;
  const float *restrict g = a->g;
  const float wd = a->wd, dec = a->decay, b1 = a->beta1, omb1 = a->one_minus_beta1, b2 = a->beta2,
              omb2 = a->one_minus_beta2, bc2 = a->bc2_sqrt, eps = a->eps, ns = a->neg_step;
  switch (a->loop) {
  case LOOP_TORCH:
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) {
      float gi = g[i];
      float mi = fmaf(gi, omb1, m[i] * b1), vi = fmaf(omb2 * gi, gi, v[i] * b2);
      m[i] = mi, v[i] = vi;
      p[i] = p[i] + ns * mi / (sqrtf(vi) / bc2 + eps);
    }
    break;
  case LOOP_TORCH_L2:
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) {
      float gi = fmaf(p[i], wd, g[i]);
      float mi = fmaf(gi, omb1, m[i] * b1), vi = fmaf(omb2 * gi, gi, v[i] * b2);
      m[i] = mi, v[i] = vi;
      p[i] = p[i] + ns * mi / (sqrtf(vi) / bc2 + eps);
    }
    break;
  case LOOP_TORCH_DECOUPLED:
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) {
      float gi = g[i], pi = p[i] * dec;
      float mi = fmaf(gi, omb1, m[i] * b1), vi = fmaf(omb2 * gi, gi, v[i] * b2);
      m[i] = mi, v[i] = vi;
      p[i] = pi + ns * mi / (sqrtf(vi) / bc2 + eps);
    }
    break;
  case LOOP_FAIRSEQ:
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) {
      float gi = g[i];
      float mi = fmaf(gi, omb1, m[i] * b1), vi = fmaf(omb2 * gi, gi, v[i] * b2);
      m[i] = mi, v[i] = vi;
      p[i] = p[i] + ns * mi / (sqrtf(vi) + eps);
    }
    break;
  case LOOP_FAIRSEQ_DECAY:
#pragma omp simd
    for (int64_t i = lo; i < hi; i++) {
      float gi = g[i], pi = fmaf(p[i], dec, p[i]);
      float mi = fmaf(gi, omb1, m[i] * b1), vi = fmaf(omb2 * gi, gi, v[i] * b2);
      m[i] = mi, v[i] = vi;
      p[i] = pi + ns * mi / (sqrtf(vi) + eps);
    }
    break;
  }
  (void)tid;
}

int ef_adam_step(ef_adam *opt, double lr, char *err, size_t errlen) {
  if (!(lr >= 0 && isfinite(lr)))
    return snprintf(err, errlen, "adam: learning rate must be finite and >= 0, got %g", lr), -1;
  const ef_adam_config *c = &opt->cfg;
  int64_t t = opt->step + 1;
  double bc1 = 1.0 - pow(c->beta1, (double)t), bc2 = 1.0 - pow(c->beta2, (double)t);
  int decays = c->weight_decay != 0;
  adam_args a = {
      .p = ef_params_data(opt->params),
      .g = ef_params_grad(opt->params),
      .m = ef_params_state(opt->params, opt->slot_m),
      .v = ef_params_state(opt->params, opt->slot_m + 1),
      .n = ef_params_flat_len(opt->params),
      .wd = (float)c->weight_decay,
      .beta1 = (float)c->beta1,
      .one_minus_beta1 = (float)(1.0 - c->beta1),
      .beta2 = (float)c->beta2,
      .one_minus_beta2 = (float)(1.0 - c->beta2),
      .bc2_sqrt = (float)sqrt(bc2),
      .eps = (float)c->eps,
  };
  switch (c->variant) {
  case EF_ADAM_TORCH:
    a.loop = decays ? LOOP_TORCH_L2 : LOOP_TORCH;
    a.neg_step = (float)-(lr / bc1);
    break;
  case EF_ADAMW_TORCH:
    a.loop = decays ? LOOP_TORCH_DECOUPLED : LOOP_TORCH;
    a.decay = (float)(1.0 - lr * c->weight_decay);
    a.neg_step = (float)-(lr / bc1);
    break;
  case EF_ADAM_FAIRSEQ:
    a.loop = decays ? LOOP_FAIRSEQ_DECAY : LOOP_FAIRSEQ;
    a.decay = (float)(-c->weight_decay * lr);
    a.neg_step = (float)-(lr * sqrt(bc2) / bc1);
    break;
  }
  int64_t chunks = (a.n + EF_ADAM_CHUNK - 1) / EF_ADAM_CHUNK;
  ef_parallel_for_cost(chunks, EF_ADAM_COST * EF_ADAM_CHUNK, adam_body, &a);
  opt->step = t;
  return 0;
}
