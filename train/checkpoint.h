/* train/checkpoint.h: HDF5 training checkpoints: parameters, Adam moments, the config and the
 * training state needed for an exact resume. Layout (docs/checkpoints.md has it in full):
 *
 *   /                           attrs format = "edgeformer-checkpoint", version = 1 (int64)
 *   /config                     scalar fixed-length UTF-8 string: the INI text; attr crc32
 *   /state                      group; attrs num_updates, epoch, best_update,
 *                               n_skipped_nonfinite, bad_validations, iter_epoch, iter_index, iter_n_batches,
 *                               iter_fingerprint (int64), seed (uint64), best_metric, lr
 *                               (float64), optimizer (fixed-length string)
 *   /aliases                    fixed-length UTF-8 strings [n_aliases, 2]: (alias, canonical key)
 *   /params/<canonical key>     float32 little-endian, the parameter's shape, Fletcher-32
 *   /optimizer/exp_avg/<key>    state slot 0, when saved with the optimizer
 *   /optimizer/exp_avg_sq/<key> state slot 1
 *
 * Writes are atomic and durable (temporary file, flush, fsync, rename, folder fsync): a failure
 * at any point leaves the previous file as it was and no temporary file behind. Loads validate
 * the whole file into scratch memory before the live parameters are touched: on any error the
 * store and the state are unchanged.
 *
 * Errors: non-zero return + one line in err naming the file and the problem, e.g.
 * "ckpt.h5: /params/encoder.layers.0.fc1.weight has shape [2048,512], the model expects
 * [1024,512]". HDF5's own error stack printing is silenced during these calls.
 */
#ifndef EF_TRAIN_CHECKPOINT_H
#define EF_TRAIN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "autograd/params.h"
#include "data/batch.h"

#define EF_CKPT_FORMAT "edgeformer-checkpoint"
#define EF_CKPT_VERSION 1
#define EF_CKPT_OPTIMIZER_NAME_BYTES 16
#define EF_CKPT_N_MOMENTS 2 /* Adam: state slot 0 = exp_avg, slot 1 = exp_avg_sq */
#define EF_CKPT_MAX_CONFIG_BYTES (1 << 20)
#define EF_CKPT_MAX_ALIASES (1 << 20)

/* Load flags (fairseq's --reset-* options). */
#define EF_CKPT_RESET_OPTIMIZER 1u    /* moments zeroed, num_updates = 0, best forgotten, lr = 0 */
#define EF_CKPT_RESET_LR_SCHEDULER 2u /* lr = 0 (recompute it from the schedule) */
#define EF_CKPT_RESET_DATALOADER 4u   /* epoch 1, iterator at the start, position unchecked */
#define EF_CKPT_PARAMS_ONLY 8u        /* parameters only: moments zeroed, *st left untouched */

/* Everything besides parameters and moments needed for an exact resume. Dropout masks are a
 * pure function of (seed, step) and the batch order of (seed, epoch), so no RNG state is
 * stored beyond the seed. */
typedef struct ef_train_state {
  int64_t num_updates;         /* optimizer steps taken (fairseq num_updates) */
  int64_t epoch;               /* 1-based */
  int64_t best_update;         /* update at which best_metric was reached; 0 = none yet */
  double best_metric;          /* best validation loss (or BLEU); NaN = none yet */
  uint64_t seed;               /* training seed */
  ef_batch_pos iter_pos;       /* data iterator position; n_batches = 0: start of epoch */
  double lr;                   /* learning rate of the last update; 0 = not known */
  int64_t n_skipped_nonfinite; /* updates skipped for a non-finite gradient */
  int64_t bad_validations;     /* validations since the best one (early-stopping patience) */
  char optimizer[EF_CKPT_OPTIMIZER_NAME_BYTES]; /* "adam" / "adamw" / "" (none saved) */
} ef_train_state;

/* A fresh state: everything 0, epoch 1, iterator at epoch 1 index 0, best_metric NaN. */
void ef_ckpt_state_init(ef_train_state *st, uint64_t seed);

/* Write a checkpoint of p (finalized) to path. config_ini_text is stored verbatim (NULL = "").
 * with_optimizer: also store state slots 0 and 1 (p must have them; st->optimizer names the
 * optimizer and must not be empty); without, st->optimizer is stored as "". Canonical names
 * must not contain '/'. */
int ef_ckpt_save(const char *path, const ef_params *p, const char *config_ini_text,
                 const ef_train_state *st, int with_optimizer, char *err, size_t errlen);

/* Validate path against the store p and load it. Checked before anything is copied: format and
 * version; every unique parameter present under /params with its shape as float32 and finite;
 * no other keys; /aliases identical to p's alias map (a different map means a different sharing
 * scheme: an error); the state's ranges; unless resetting the optimizer, p has state slots 0
 * and 1 and the file has finite moments (exp_avg_sq >= 0) for every parameter. Flags combine
 * EF_CKPT_RESET_*; EF_CKPT_PARAMS_ONLY implies all resets and leaves *st alone (st may be
 * NULL only then). config_ini_text (may be NULL) receives the stored INI text, malloc'd; it is
 * set only on success. Moments in the file are ignored when resetting the optimizer. */
int ef_ckpt_load(const char *path, ef_params *p, ef_train_state *st, char **config_ini_text,
                 unsigned flags, char *err, size_t errlen);

/* Read only the INI text (to build the model before loading). *config_ini_text is malloc'd. */
int ef_ckpt_read_config(const char *path, char **config_ini_text, char *err, size_t errlen);

/* A model built from the checkpoint's stored config with its parameters loaded (optimizer state
 * ignored); *to receives the stored [data]/[optim]/[train] options. 0, or -1 with a message
 * naming the file. Free with ef_model_free. (checkpoint_model.c) */
struct ef_train_options;
struct ef_model;
int ef_ckpt_load_model(const char *path, struct ef_model **out, struct ef_train_options *to, char *err,
                       size_t errlen);

/* ---- checkpoint folders (checkpoint_files.c) ------------------------------------------------ */

#define EF_CKPT_LAST_NAME "checkpoint_last.h5"
#define EF_CKPT_BEST_NAME "checkpoint_best.h5"
#define EF_CKPT_UPDATE_FMT "checkpoint_%lld.h5" /* the update number, no padding */

#define EF_CKPT_SAVE_UPDATE 1u /* checkpoint_<st->num_updates>.h5 */
#define EF_CKPT_SAVE_LAST 2u   /* checkpoint_last.h5 */
#define EF_CKPT_SAVE_BEST 4u   /* checkpoint_best.h5 */

/* Write the checkpoint once, to the first of the names `which` asks for (update, last, best
 * in that order) through ef_ckpt_save, then give it the other names by hard link (copy where
 * links are refused), each replaced atomically; the folder is fsync'ed at the end. On failure
 * names not yet replaced keep their previous files. The names are hard links to one inode:
 * never modify a checkpoint in place (h5py mode "r+"), it would change all of them. */
int ef_ckpt_save_set(const char *dir, unsigned which, const ef_params *p,
                     const char *config_ini_text, const ef_train_state *st, int with_optimizer,
                     char *err, size_t errlen);

/* Keep the keep_last newest checkpoint_<update>.h5 in dir (by update number) and delete the
 * older ones; keep_last <= 0 keeps everything. Other files (checkpoint_last.h5,
 * checkpoint_best.h5, temporary files) are never touched. *n_removed (may be NULL) counts the
 * deletions. */
int ef_ckpt_rotate(const char *dir, int keep_last, int *n_removed, char *err, size_t errlen);

#endif
