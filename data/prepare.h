/* data/prepare.h: `edgeformer prepare`, fairseq-preprocess for edgeformer: reads aligned text
 * (PREFIX.SRC / PREFIX.TGT files or source<TAB>target TSVs), optionally learns a SentencePiece
 * model with the `spm_train` program and/or tokenises with runtime/spm, builds or reuses fairseq
 * dictionaries, and writes one validated HDF5 dataset per split plus dict.SRC.txt,
 * dict.TGT.txt and spm.model into destdir (layout: data/dataset.h, docs/data.md).
 *
 * Splits: train, valid (valid1, valid2... for further comma-separated prefixes, as fairseq),
 * test (test1...). A pair whose source or target has no token is dropped and counted (unless
 * keep_empty); source and target files with different line counts are an error.
 *
 * Memory: all text of all splits is held in memory while preparing (fine up to a few GB).
 * Errors: non-zero + one line in err naming the file and the problem; statistics go to log.
 */
#ifndef EF_DATA_PREPARE_H
#define EF_DATA_PREPARE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EF_PREPARE_MAX_SPLITS 16             /* train + valid* + test* */
#define EF_PREPARE_MAX_LINE_TOKENS (1 << 20) /* tokens in one tokenised line */
#define EF_PREPARE_SPM_NAME "spm.model"      /* the model's name inside destdir */

typedef struct ef_prepare_opts {
  const char *source_lang, *target_lang;        /* default "src", "tgt" */
  const char *trainpref, *validpref, *testpref; /* text prefixes; valid/test comma lists */
  const char *train_tsv, *valid_tsv, *test_tsv; /* TSV inputs; valid/test comma lists */
  const char *srcdict, *tgtdict;                /* reuse these dictionaries */
  int joined_dictionary;
  const char *destdir;                /* default "data-bin" */
  int64_t thresholdsrc, thresholdtgt; /* default 0 */
  int64_t nwordssrc, nwordstgt;       /* default -1 (all) */
  int padding_factor;                 /* default 8 */
  const char *spm_model;              /* tokenise with this model */
  int64_t spm_train_vocab;            /* > 0: learn a model of this size first */
  const char *spm_type;               /* "unigram" (default) or "bpe" */
  const char *spm_train_bin;          /* default "spm_train" (from PATH) */
  int dict_only;                      /* stop after writing the dictionaries */
  int keep_empty;                     /* keep pairs with an empty side */
  FILE *log;                          /* statistics; NULL = stdout */
} ef_prepare_opts;

void ef_prepare_opts_default(ef_prepare_opts *o);
int ef_prepare_run(const ef_prepare_opts *o, char *err, size_t errlen);

#endif
