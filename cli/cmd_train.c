/* cmd_train.c: `edgeformer train CONFIG [--key value ...]`: reads the [model], [data],
 * [optim] and [train] sections of CONFIG (a path or a preset name), applies command-line
 * overrides and runs the trainer. All the work is in train/. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "train/trainer.h"

int cmd_train(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    printf("usage: edgeformer train CONFIG [--key value ...]\n"
           "CONFIG is an INI file or a preset name (configs/<name>.ini) with [model], [data],\n"
           "[optim] and [train] sections; every key can be overridden, e.g. --max-update 100\n"
           "--lr 5e-4 --save-dir checkpoints/run1. Resumes from SAVE_DIR/checkpoint_last.h5\n"
           "when it exists (or --restore-file, with --reset-optimizer, --reset-lr-scheduler,\n"
           "--reset-dataloader to start fine-tuning). --bf16 is --precision bf16 (bf16 products,\n"
           "fp32 weights and optimizer; fp32 with a note on CPUs without bf16). See\n"
           "docs/training.md.\n");
    return argc < 2 ? 2 : 0;
  }
  char err[EF_CONFIG_ERR_LEN], path[1024];
  ef_model_config mcfg;
  ef_train_options o;
  ef_model_config_default(&mcfg);
  ef_train_options_default(&o);
  ef_config_table t[2] = {{ef_model_keys, ef_model_n_keys, &mcfg},
                          {ef_train_keys, ef_train_n_keys, &o}};
  for (int i = 2; i < argc; i++) /* fairseq's flag */
    if (!strcmp(argv[i], "--bf16")) argv[i] = (char *)"--precision=bf16";
  if (ef_config_resolve(argv[1], path, sizeof path, err, sizeof err) ||
      ef_config_load(t, 2, path, err, sizeof err) ||
      ef_config_apply_args(t, 2, argc, argv, 2, err, sizeof err) ||
      ef_train_options_check(&o, err, sizeof err)) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  ef_train_result r;
  if (ef_train_run(&mcfg, &o, &r, err, sizeof err)) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  const char *best = o.best_checkpoint_metric == EF_BEST_BLEU ? "BLEU" : "loss";
  if (isnan(r.first_train_loss) && !r.interrupted)
    printf("done: nothing to train, the checkpoint is already at update %lld (max_update %d); "
           "best valid %s %.3f\n",
           r.num_updates, o.max_update, best, r.best_valid_loss);
  else
    printf("done: %lld updates (epoch %lld); train loss %.3f -> %.3f; valid loss %.3f, nll_loss "
           "%.3f, ppl %.2f; best valid %s %.3f (losses in bits per target token)\n",
           r.num_updates, r.epoch, r.first_train_loss, r.last_train_loss, r.last_valid_loss,
           r.last_valid_nll, pow(2.0, r.last_valid_nll), best, r.best_valid_loss);
  printf("checkpoints: %s/checkpoint_{last,best}.h5  log: %s/metrics.jsonl  plot: %s/curves.svg\n",
         o.save_dir, o.save_dir, o.save_dir);
  return r.interrupted ? 130 : 0;
}
