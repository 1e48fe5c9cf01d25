/* options.h: the [data], [optim] and [train] sections of a training config (configs/NAME.ini),
 * with fairseq's names and defaults where fairseq has them. Every key can be overridden on
 * the command line (`--lr 5e-4`, `--max-update 300`). */
#ifndef EF_TRAIN_OPTIONS_H
#define EF_TRAIN_OPTIONS_H

#include "model/config.h"

#define EF_PATH_MAX 512

typedef enum { EF_OPT_ADAM = 0, EF_OPT_ADAMW, EF_OPT_ADAM_L2 } ef_optimizer_kind;
typedef enum { EF_SCHED_INVERSE_SQRT = 0, EF_SCHED_POLYNOMIAL, EF_SCHED_FIXED } ef_sched_kind;
typedef enum { EF_BEST_LOSS = 0, EF_BEST_BLEU } ef_best_metric;
typedef enum { EF_PRECISION_FP32 = 0, EF_PRECISION_BF16 } ef_precision;

typedef struct ef_train_options {
  /* [data] */
  char data[EF_PATH_MAX]; /* directory written by `edgeformer prepare` */
  char source_lang[32], target_lang[32];
  int max_tokens, batch_size, required_batch_size_multiple;
  int truncate_source;
  /* [optim] */
  int optimizer; /* ef_optimizer_kind */
  float lr, adam_beta1, adam_beta2, adam_eps, weight_decay, clip_norm;
  int lr_scheduler; /* ef_sched_kind */
  int warmup_updates;
  float warmup_init_lr, end_learning_rate, power;
  int total_num_update, update_freq;
  int precision; /* ef_precision: bf16 = bf16 products, fp32 master weights (fairseq --bf16) */
  /* [train] */
  char save_dir[EF_PATH_MAX], restore_file[EF_PATH_MAX];
  int max_update, max_epoch, validate_interval_updates, save_interval_updates;
  int keep_interval_updates, patience, log_interval, seed, threads, max_nonfinite;
  int reset_optimizer, reset_lr_scheduler, reset_dataloader, no_progress_bar;
  int best_checkpoint_metric; /* ef_best_metric */
  /* validation BLEU (fairseq --eval-bleu): beam search over the valid split at every
   * validation; on by itself with best_checkpoint_metric = bleu */
  int eval_bleu, eval_bleu_beam, eval_bleu_max_len_b, eval_bleu_max_sentences;
  float eval_bleu_max_len_a, eval_bleu_lenpen;
} ef_train_options;

extern const ef_key ef_train_keys[];
extern const int ef_train_n_keys;

void ef_train_options_default(ef_train_options *o);
/* Consistency checks (paths present, warmup <= total for polynomial_decay, ...). */
int ef_train_options_check(const ef_train_options *o, char *err, size_t errlen);

#endif
