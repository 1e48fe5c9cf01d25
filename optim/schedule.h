/* schedule.h: learning-rate schedules exactly as fairseq defines them (lr_scheduler/
 * fixed_schedule.py, inverse_square_root_schedule.py, polynomial_decay_schedule.py,
 * step_update only). A schedule is a pure function of the number of COMPLETED updates; the
 * only state is that count, so a checkpoint stores `num_updates` and recomputes the rate.
 * Never allocates; never reads a clock or any global.
 *
 * Which update gets which rate (fairseq's trainer calls step_update(num_updates) at the
 * start of training with 0, and after every update with the new count): the k-th update
 * (1-based) runs with ef_lr_at(s, k - 1). Hence, with warmup W and base rate lr:
 *   fixed:            lr_at(n) = lr·(n+1)/W for n < W, else lr       (first update: lr/W)
 *   inverse_sqrt:     lr_at(n) = init + n·(lr-init)/W for n < W, else lr·sqrt(W/n)
 *                     (first update: init, 0 by default; update W+1: exactly lr)
 *   polynomial_decay: lr_at(n) = lr·n/W for n <= W (if W > 0);
 *                     end for n >= T (total_num_update; checked after the warmup branch);
 *                     else (lr-end)·(1 - (n-W)/(T-W))^power + end
 *                     (first update: 0 when W > 0; the rate stays `end` past T)
 * All arithmetic is in double as Python does it.
 *
 * Not supported (epoch-level fairseq features): multiple --lr values per epoch,
 * --force-anneal / --lr-shrink.
 */
#ifndef EF_OPTIM_SCHEDULE_H
#define EF_OPTIM_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

/* fairseq's defaults. */
#define EF_LR_INVERSE_SQRT_DEFAULT_WARMUP 4000
#define EF_LR_POLY_DEFAULT_TOTAL 1000000
#define EF_LR_POLY_DEFAULT_POWER 1.0
#define EF_LR_POLY_DEFAULT_END 0.0
/* warmup_init_lr below 0 means fairseq's default: 0 when warmup_updates > 0, else lr. */
#define EF_LR_WARMUP_INIT_DEFAULT (-1.0)

typedef enum { EF_LR_FIXED = 0, EF_LR_INVERSE_SQRT = 1, EF_LR_POLYNOMIAL_DECAY = 2 } ef_lr_kind;

typedef struct {
  ef_lr_kind kind;
  double lr;                /* --lr */
  int64_t warmup_updates;   /* --warmup-updates (all kinds) */
  double warmup_init_lr;    /* --warmup-init-lr (inverse_sqrt only) */
  double end_learning_rate; /* --end-learning-rate (polynomial_decay) */
  double power;             /* --power (polynomial_decay) */
  int64_t total_num_update; /* --total-num-update (polynomial_decay) */
} ef_lr_schedule;

/* The checkpointed state: updates completed so far. */
typedef struct {
  int64_t num_updates;
} ef_lr_state;

/* fairseq's defaults for kind with base rate lr (warmup 0 for fixed and polynomial_decay,
 * 4000 for inverse_sqrt). */
ef_lr_schedule ef_lr_schedule_default(ef_lr_kind kind, double lr);
/* "fixed", "inverse_sqrt", "polynomial_decay" -> kind; -1 with a message if unknown. */
int ef_lr_kind_parse(const char *name, ef_lr_kind *kind, char *err, size_t errlen);
const char *ef_lr_kind_name(ef_lr_kind kind);
/* Checks the values (lr finite and >= 0, warmup >= 0, inverse_sqrt needs warmup > 0 as
 * fairseq divides by it, polynomial_decay needs total_num_update > 0 and power finite).
 * Returns 0, or -1 with a message naming the option. */
int ef_lr_schedule_check(const ef_lr_schedule *s, char *err, size_t errlen);
/* The rate fairseq's step_update(num_updates) sets, i.e. the rate of update num_updates + 1.
 * num_updates < 0 is treated as 0. The schedule must have passed ef_lr_schedule_check. */
double ef_lr_at(const ef_lr_schedule *s, int64_t num_updates);

#endif
