/* options.c: the training keys and their defaults (see options.h). Must never accept a
 * combination that the trainer cannot honour. */
#include "train/options.h"

#include <stdio.h>
#include <string.h>

static const char *const opt_choices[] = {"adam", "adamw", "adam_l2", NULL};
static const char *const sched_choices[] = {"inverse_sqrt", "polynomial_decay", "fixed", NULL};
static const char *const best_choices[] = {"loss", "bleu", NULL};
static const char *const precision_choices[] = {"fp32", "bf16", NULL};

#define K(sec, name, type, lo, hi, choices, help)                                                  \
  { sec, #name, type, offsetof(ef_train_options, name), lo, hi, choices, help }
#define S(sec, name, help)                                                                         \
  {                                                                                                \
    sec, #name, EF_KEY_STRING, offsetof(ef_train_options, name), 0,                                \
        sizeof(((ef_train_options *)0)->name), NULL, help                                          \
  }

const ef_key ef_train_keys[] = {
    S("data", data, "directory written by edgeformer prepare"),
    S("data", source_lang, "source language suffix (dict.<lang>.txt)"),
    S("data", target_lang, "target language suffix"),
    K("data", max_tokens, EF_KEY_INT, 1, 1e9, NULL, "tokens per batch (fairseq --max-tokens)"),
    K("data", batch_size, EF_KEY_INT, 0, 1e9, NULL, "sentences per batch cap (0: none)"),
    K("data", required_batch_size_multiple, EF_KEY_INT, 1, 1024, NULL, "batch size multiple"),
    K("data", truncate_source, EF_KEY_BOOL, 0, 1, NULL,
      "cut over-long sources instead of skipping"),
    K("optim", optimizer, EF_KEY_ENUM, 0, 0, opt_choices,
      "adam (fairseq's), adamw (torch AdamW) or adam_l2 (torch Adam)"),
    K("optim", lr, EF_KEY_FLOAT, 0, 10, NULL, "peak learning rate"),
    K("optim", adam_beta1, EF_KEY_FLOAT, 0, 0.999999, NULL, "Adam beta1"),
    K("optim", adam_beta2, EF_KEY_FLOAT, 0, 0.999999, NULL, "Adam beta2"),
    K("optim", adam_eps, EF_KEY_FLOAT, 1e-12, 1, NULL, "Adam epsilon"),
    K("optim", weight_decay, EF_KEY_FLOAT, 0, 1, NULL, "weight decay"),
    K("optim", clip_norm, EF_KEY_FLOAT, 0, 1e6, NULL, "gradient norm clip (0: none)"),
    K("optim", lr_scheduler, EF_KEY_ENUM, 0, 0, sched_choices, "learning rate schedule"),
    K("optim", warmup_updates, EF_KEY_INT, 0, 1e9, NULL, "linear warmup updates"),
    K("optim", warmup_init_lr, EF_KEY_FLOAT, 0, 10, NULL, "lr at update 0 (inverse_sqrt)"),
    K("optim", end_learning_rate, EF_KEY_FLOAT, 0, 10, NULL, "final lr (polynomial_decay)"),
    K("optim", power, EF_KEY_FLOAT, 0, 10, NULL, "decay power (polynomial_decay)"),
    K("optim", total_num_update, EF_KEY_INT, 1, 1e9, NULL,
      "updates of the decay (polynomial_decay)"),
    K("optim", update_freq, EF_KEY_INT, 1, 1024, NULL, "batches accumulated per update"),
    K("optim", precision, EF_KEY_ENUM, 0, 0, precision_choices,
      "fp32, or bf16: bf16 products with fp32 accumulation, master weights and optimizer (--bf16)"),
    S("train", save_dir, "checkpoints, logs and plots go here"),
    S("train", restore_file, "checkpoint to start from (default: save_dir/checkpoint_last.h5)"),
    K("train", max_update, EF_KEY_INT, 0, 1e9, NULL, "stop after this many updates (0: no limit)"),
    K("train", max_epoch, EF_KEY_INT, 0, 1e9, NULL, "stop after this many epochs (0: no limit)"),
    K("train", validate_interval_updates, EF_KEY_INT, 0, 1e9, NULL,
      "validate every N updates (0: epoch ends only)"),
    K("train", save_interval_updates, EF_KEY_INT, 0, 1e9, NULL,
      "checkpoint every N updates (0: epoch ends only)"),
    K("train", keep_interval_updates, EF_KEY_INT, 0, 1e6, NULL,
      "keep the last N checkpoint_<update>.h5 (0: all)"),
    K("train", patience, EF_KEY_INT, 0, 1e6, NULL,
      "stop after N validations without improvement (0: off)"),
    K("train", log_interval, EF_KEY_INT, 1, 1e6, NULL, "log every N updates"),
    K("train", seed, EF_KEY_INT, 0, 2147483647, NULL,
      "seed of initialisation, dropout and batches"),
    K("train", threads, EF_KEY_INT, 0, 64, NULL, "compute threads (0: all cores)"),
    K("train", max_nonfinite, EF_KEY_INT, 1, 1e6, NULL,
      "stop after this many non-finite updates in a row"),
    K("train", reset_optimizer, EF_KEY_BOOL, 0, 1, NULL, "do not restore Adam moments"),
    K("train", reset_lr_scheduler, EF_KEY_BOOL, 0, 1, NULL, "do not restore the schedule"),
    K("train", reset_dataloader, EF_KEY_BOOL, 0, 1, NULL, "do not restore the data position"),
    K("train", no_progress_bar, EF_KEY_BOOL, 0, 1, NULL, "no progress bar even on a terminal"),
    K("train", best_checkpoint_metric, EF_KEY_ENUM, 0, 0, best_choices,
      "what checkpoint_best.h5 optimises"),
    K("train", eval_bleu, EF_KEY_BOOL, 0, 1, NULL,
      "BLEU of beam search on the valid split at every validation"),
    K("train", eval_bleu_beam, EF_KEY_INT, 1, 256, NULL, "beam of validation BLEU"),
    K("train", eval_bleu_max_len_a, EF_KEY_FLOAT, 0, 1e6, NULL, "max length a of validation BLEU"),
    K("train", eval_bleu_max_len_b, EF_KEY_INT, 0, 1e6, NULL, "max length b of validation BLEU"),
    K("train", eval_bleu_lenpen, EF_KEY_FLOAT, -100, 100, NULL,
      "length penalty of validation BLEU"),
    K("train", eval_bleu_max_sentences, EF_KEY_INT, 0, 2147483647, NULL,
      "validation BLEU on the first N valid sentences (0: all)"),
};
const int ef_train_n_keys = (int)(sizeof ef_train_keys / sizeof ef_train_keys[0]);

void ef_train_options_default(ef_train_options *o) {
  memset(o, 0, sizeof *o);
  snprintf(o->source_lang, sizeof o->source_lang, "src");
  snprintf(o->target_lang, sizeof o->target_lang, "tgt");
  snprintf(o->save_dir, sizeof o->save_dir, "checkpoints");
  o->max_tokens = 4096;
  o->required_batch_size_multiple = 8;
  o->optimizer = EF_OPT_ADAM;
  o->lr = 5e-4f;
  o->adam_beta1 = 0.9f;
  o->adam_beta2 = 0.98f;
  o->adam_eps = 1e-8f;
  o->lr_scheduler = EF_SCHED_INVERSE_SQRT;
  o->warmup_updates = 4000;
  o->power = 1.0f;
  o->total_num_update = 1000000;
  o->update_freq = 1;
  o->log_interval = 100;
  o->seed = 1;
  o->max_nonfinite = 10;
  o->eval_bleu_beam = 5;
  o->eval_bleu_max_len_a = 1.2f; /* fairseq's usual --eval-bleu-args */
  o->eval_bleu_max_len_b = 10;
  o->eval_bleu_lenpen = 1.0f;
}

int ef_train_options_check(const ef_train_options *o, char *err, size_t errlen) {
  if (!o->data[0])
    return snprintf(err, errlen, "[data] data is not set (the directory of `edgeformer prepare`)"),
           -1;
  if (!o->save_dir[0]) return snprintf(err, errlen, "[train] save_dir is empty"), -1;
  if (o->lr_scheduler == EF_SCHED_POLYNOMIAL && o->warmup_updates > o->total_num_update)
    return snprintf(err, errlen, "[optim] warmup_updates = %d exceeds total_num_update = %d",
                    o->warmup_updates, o->total_num_update),
           -1;
  if (!o->max_update && !o->max_epoch && !o->patience)
    return snprintf(err, errlen,
                    "[train] set max_update, max_epoch or patience: nothing would stop training"),
           -1;
  return 0;
}
