/* schedule.c: fairseq's step_update formulas (see schedule.h). Must stay a pure function of
 * (schedule, num_updates) and follow fairseq's branch order literally, off-by-ones included. */
#include "optim/schedule.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[] = {"fixed", "inverse_sqrt", "polynomial_decay"};
#define EF_LR_KINDS ((int)(sizeof kind_names / sizeof kind_names[0]))

ef_lr_schedule ef_lr_schedule_default(ef_lr_kind kind, double lr) {
  ef_lr_schedule s = {.kind = kind,
                      .lr = lr,
                      .warmup_updates =
                          kind == EF_LR_INVERSE_SQRT ? EF_LR_INVERSE_SQRT_DEFAULT_WARMUP : 0,
                      .warmup_init_lr = EF_LR_WARMUP_INIT_DEFAULT,
                      .end_learning_rate = EF_LR_POLY_DEFAULT_END,
                      .power = EF_LR_POLY_DEFAULT_POWER,
                      .total_num_update = EF_LR_POLY_DEFAULT_TOTAL};
  return s;
}

int ef_lr_kind_parse(const char *name, ef_lr_kind *kind, char *err, size_t errlen) {
  for (int k = 0; name && k < EF_LR_KINDS; k++)
    if (!strcmp(name, kind_names[k])) return *kind = (ef_lr_kind)k, 0;
  snprintf(err, errlen,
           "unknown lr scheduler '%s' (expected fixed, inverse_sqrt or "
           "polynomial_decay)",
           name ? name : "(null)");
  return -1;
}

const char *ef_lr_kind_name(ef_lr_kind kind) {
  return (int)kind >= 0 && (int)kind < EF_LR_KINDS ? kind_names[kind] : "unknown";
}

int ef_lr_schedule_check(const ef_lr_schedule *s, char *err, size_t errlen) {
  if ((int)s->kind < 0 || (int)s->kind >= EF_LR_KINDS)
    return snprintf(err, errlen, "lr scheduler: unknown kind %d", (int)s->kind), -1;
  if (!(s->lr >= 0 && isfinite(s->lr)))
    return snprintf(err, errlen, "--lr must be finite and >= 0, got %g", s->lr), -1;
  if (s->warmup_updates < 0)
    return snprintf(err, errlen, "--warmup-updates must be >= 0, got %lld",
                    (long long)s->warmup_updates),
           -1;
  if (s->kind == EF_LR_INVERSE_SQRT) {
    if (s->warmup_updates == 0)
      return snprintf(err, errlen,
                      "inverse_sqrt needs --warmup-updates > 0 (its decay "
                      "factor is lr*sqrt(warmup_updates))"),
             -1;
    if (!isfinite(s->warmup_init_lr))
      return snprintf(err, errlen, "--warmup-init-lr must be finite"), -1;
  }
  if (s->kind == EF_LR_POLYNOMIAL_DECAY) {
    if (s->total_num_update <= 0)
      return snprintf(err, errlen, "polynomial_decay needs --total-num-update > 0, got %lld",
                      (long long)s->total_num_update),
             -1;
    if (!isfinite(s->power) || !isfinite(s->end_learning_rate))
      return snprintf(err, errlen, "--power and --end-learning-rate must be finite"), -1;
  }
  return 0;
}

double ef_lr_at(const ef_lr_schedule *s, int64_t num_updates) {
  double n = (double)(num_updates < 0 ? 0 : num_updates);
  double w = (double)s->warmup_updates, lr = s->lr;
  switch (s->kind) {
  case EF_LR_FIXED:
    if (s->warmup_updates > 0 && n < w) return (n + 1) / w * lr;
    return lr;
  case EF_LR_INVERSE_SQRT: {
    double init = s->warmup_init_lr < 0 ? (s->warmup_updates > 0 ? 0.0 : lr) : s->warmup_init_lr;
    if (n < w) return init + n * ((lr - init) / w);
    return lr * pow(w, 0.5) * pow(n, -0.5); /* decay_factor * num_updates**-0.5 */
  }
  case EF_LR_POLYNOMIAL_DECAY: {
    double t = (double)s->total_num_update, end = s->end_learning_rate;
    if (s->warmup_updates > 0 && n <= w) return n / w * lr;
    if (n >= t) return end;
    double pct_remaining = 1 - (n - w) / (t - w);
    return (lr - end) * pow(pct_remaining, s->power) + end;
  }
  }
  return 0.0;
}
