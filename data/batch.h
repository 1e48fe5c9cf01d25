/* data/batch.h: length-bucketed batches over a loaded dataset, with fairseq's semantics
 * (fairseq/data/language_pair_dataset.py and data_utils_fast.pyx batch_by_size_vec):
 *
 * - Filtering: a pair whose source (with </s>) is longer than max_source_positions or whose
 *   target is longer than max_target_positions is skipped and counted; with truncate_source the
 *   source is cut to max_source_positions - 1 tokens plus </s> instead (fairseq
 *   --truncate-source). A pair whose max(src_len, tgt_len) alone exceeds max_tokens is skipped
 *   and counted too (fairseq would stop with an assertion).
 * - Order: pairs sorted by (source length, target length); ties broken by a permutation drawn
 *   from the seed when shuffle is on (fairseq's np.random.permutation + mergesort), else by
 *   dataset order.
 * - Batches: filled in that order while (sentences × longest max(src_len, tgt_len)) <=
 *   max_tokens and sentences <= batch_size, sizes kept to multiples of
 *   required_batch_size_multiple where possible (fairseq's exact algorithm). The batches are
 *   built once; every epoch visits all of them, in an order shuffled from (seed, epoch) when
 *   shuffle is on, in length order otherwise.
 * - Layout of one batch (collate with left_pad_source=True, left_pad_target=False): rows sorted
 *   by descending source length (stable); src_tokens [B, S] left-padded with <pad> = 1;
 *   target [B, T] right-padded; prev_output_tokens [B, T] = target with its final </s> moved to
 *   the front (`</s> y1 .. y_{n-1}`), right-padded; ntokens = number of target tokens.
 *
 * Position: (epoch, index of the next batch in that epoch's order) plus a fingerprint of the
 * batch boundaries, all integers; ef_batch_iter_seek to a saved position makes the iterator
 * yield exactly the batches it would have yielded (checkpoint resume).
 *
 * Memory: the iterator owns all its buffers, allocated once in ef_batch_iter_new and sized to
 * the largest batch; ef_batch_iter_next never allocates. The ef_batch it fills points into
 * those buffers and is valid until the next call. The dataset must outlive the iterator.
 * Errors: non-zero + one line in err.
 */
#ifndef EF_DATA_BATCH_H
#define EF_DATA_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"

#define EF_BATCH_DEFAULT_MAX_POSITIONS 1024 /* fairseq --max-source/target-positions */
#define EF_BATCH_DEFAULT_MULTIPLE 8         /* fairseq --required-batch-size-multiple */
#define EF_BATCH_DEFAULT_SEED 1             /* fairseq --seed */

typedef struct ef_batch_config {
  int64_t max_tokens;               /* <= 0: no limit (then batch_size must be > 0) */
  int64_t batch_size;               /* max sentences per batch; <= 0: no limit */
  int required_batch_size_multiple; /* >= 1 */
  int64_t max_source_positions;     /* > 1 */
  int64_t max_target_positions;     /* > 0 */
  int truncate_source;              /* cut long sources instead of skipping the pair */
  int shuffle;                      /* seeded tie-breaking and per-epoch batch shuffling */
  uint64_t seed;
} ef_batch_config;

/* One batch. Arrays are row-major and point into the iterator. */
typedef struct ef_batch {
  int64_t bsz;                 /* B */
  int64_t src_len, tgt_len;    /* S, T: longest source / target in the batch */
  int32_t *src_tokens;         /* [B, S] left-padded */
  int32_t *src_lengths;        /* [B] */
  int32_t *prev_output_tokens; /* [B, T] */
  int32_t *target;             /* [B, T] */
  int64_t *ids;                /* [B] index of each row's pair in the dataset */
  int64_t ntokens;             /* target tokens (with </s>) in the batch */
  int64_t nsrc_tokens;         /* source tokens (with </s>) */
} ef_batch;

/* Where an iterator stands; save all four fields, restore with ef_batch_iter_seek. */
typedef struct ef_batch_pos {
  int64_t epoch;       /* 1-based, as fairseq */
  int64_t index;       /* batches of this epoch already yielded */
  int64_t n_batches;   /* for validation on restore */
  int64_t fingerprint; /* hash of the batch boundaries, for validation on restore */
} ef_batch_pos;

typedef struct ef_batch_stats {
  int64_t n_pairs;           /* pairs in the dataset */
  int64_t n_used;            /* pairs in some batch */
  int64_t n_too_long;        /* skipped: longer than max source/target positions */
  int64_t n_over_max_tokens; /* skipped: alone longer than max_tokens */
  int64_t n_truncated;       /* sources cut by truncate_source */
  int64_t n_batches;
  int64_t max_bsz, max_src_len, max_tgt_len; /* sizes of the buffers */
} ef_batch_stats;

typedef struct ef_batch_iter ef_batch_iter;

void ef_batch_config_default(ef_batch_config *c);
/* Build the batches of ds under cfg and position the iterator at epoch 1, index 0. */
int ef_batch_iter_new(const ef_dataset *ds, const ef_batch_config *cfg, ef_batch_iter **out,
                      char *err, size_t errlen);
void ef_batch_iter_free(ef_batch_iter *it); /* NULL is fine */
void ef_batch_iter_stats(const ef_batch_iter *it, ef_batch_stats *st);
/* Start an epoch (>= 1): index 0 of that epoch's batch order. */
void ef_batch_iter_set_epoch(ef_batch_iter *it, int64_t epoch);
/* Fill b with the next batch of the current epoch and return 1, or return 0 at the end of the
 * epoch (then call ef_batch_iter_set_epoch(it, epoch + 1) to go on). */
int ef_batch_iter_next(ef_batch_iter *it, ef_batch *b);
ef_batch_pos ef_batch_iter_tell(const ef_batch_iter *it);
/* Return to a position from ef_batch_iter_tell (possibly of another process). Fails when the
 * position does not belong to these batches (other dataset or batching options). */
int ef_batch_iter_seek(ef_batch_iter *it, ef_batch_pos pos, char *err, size_t errlen);
/* fairseq's batch_by_size_vec over per-pair sizes ntok[0..n) taken in the given order: writes
 * the end of each batch to ends (n + 1 entries) and returns the number of batches; a limit <= 0
 * is no limit. Empty batches are never produced when every ntok <= max_tokens. */
int64_t ef_batch_by_size(const int64_t *ntok, int64_t n, int64_t max_tokens, int64_t max_sentences,
                         int64_t bsz_mult, int64_t *ends);
/* Pair indices of batch k (in length order, before the epoch shuffle), for tests and tools. */
const int64_t *ef_batch_iter_members(const ef_batch_iter *it, int64_t k, int64_t *n);

#endif
