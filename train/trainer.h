/* trainer.h: `edgeformer train`: the training loop (forward, loss, backward, gradient
 * accumulation, clipping, Adam, schedule), validation, early stopping, HDF5 checkpoints
 * with exact resume, SIGINT/SIGTERM handling, and the logs of train/log.h. */
#ifndef EF_TRAIN_TRAINER_H
#define EF_TRAIN_TRAINER_H

#include <stddef.h>

#include "model/config.h"
#include "train/options.h"

typedef struct ef_train_result {
  long long num_updates, epoch;
  double best_valid_loss, last_valid_loss; /* base 2 per target token; NAN if never validated */
  double last_valid_nll;                    /* plain NLL of the last validation (ppl = 2^nll) */
  double last_valid_bleu;                   /* with eval_bleu; NAN otherwise */
  /* best_valid_loss holds the best BLEU when best_checkpoint_metric = bleu */
  double first_train_loss, last_train_loss;
  int interrupted; /* stopped by a signal (checkpoint_last.h5 was written) */
} ef_train_result;

/* Runs training. mcfg: the model section (vocab_size is replaced by the dictionary's size);
 * o: the options. Returns 0, or -1 with a one-line message in err. */
int ef_train_run(ef_model_config *mcfg, const ef_train_options *o, ef_train_result *res,
                 char *err, size_t errlen);

#endif
