/* data/dataset.h: binarised seq2seq datasets, one HDF5 file per split (train.h5, valid.h5, ...),
 * the output of `edgeformer prepare` and the input of training and generation.
 *
 * File layout (readable with h5dump / h5py; docs/data.md has the full table):
 *   /                 attrs format="edgeformer-dataset", version=1, split, n_sentences,
 *                           source_lang, target_lang, spm_sha256, spm_model
 *   /src/tokens       int32 [n_tokens]   every sentence's ids back to back, each ending in </s>
 *   /src/offsets      int64 [n_sentences + 1]  sentence i = tokens[offsets[i] .. offsets[i+1])
 *   /src              attrs lang, dict_sha256, dict_size, n_tokens, n_unk
 *   /tgt/...          the same for the target side
 *   /line             int64 [n_sentences]  1-based line of each pair in the input text
 *
 * Memory: an ef_dataset is a caller-owned struct whose arrays it owns; ef_dataset_release frees
 * the arrays. The builder (ef_dataset_append) grows them geometrically; the reader allocates
 * each array exactly once, sized from the file after checking the sizes against the limits.
 *
 * Errors: non-zero return + one line in err naming the file and the problem, e.g.
 * "train.h5: dataset /src/offsets is not increasing at row 1841". The reader validates
 * everything before returning (see ef_dataset_read), so users of a loaded dataset may index it
 * without further checks. HDF5's own error stack printing is silenced during these calls.
 */
#ifndef EF_DATA_DATASET_H
#define EF_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "data/dictionary.h"
#include "data/sha256.h"

#define EF_DATASET_FORMAT "edgeformer-dataset"
#define EF_DATASET_VERSION 1
#define EF_DATASET_MAX_SENTENCES ((int64_t)INT32_MAX) /* pairs per file */
#define EF_DATASET_MAX_TOKENS ((int64_t)1 << 34)      /* tokens per side per file */
#define EF_DATASET_NAME_BYTES 64                      /* languages, split names */
#define EF_DATASET_PATH_BYTES 512                     /* spm_model attribute */

typedef struct ef_dataset_side {
  int32_t *tokens;  /* [n_tokens] */
  int64_t *offsets; /* [n + 1], offsets[0] = 0 */
  int64_t n_tokens; /* including one </s> per sentence */
  int64_t n_unk;    /* tokens replaced by <unk> (fairseq's "replaced") */
  int64_t dict_size;
  char lang[EF_DATASET_NAME_BYTES];
  char dict_sha256[EF_SHA256_HEX_LEN + 1];
  int64_t cap_tokens; /* builder capacity */
} ef_dataset_side;

typedef struct ef_dataset {
  int64_t n; /* sentence pairs */
  ef_dataset_side src, tgt;
  int64_t *line; /* [n] */
  char split[EF_DATASET_NAME_BYTES];
  char spm_sha256[EF_SHA256_HEX_LEN + 1]; /* "" when the text came pre-tokenised */
  char spm_model[EF_DATASET_PATH_BYTES];  /* file name of the model, "" when none */
  int64_t cap;                            /* builder capacity (pairs) */
} ef_dataset;

/* What the reader checks a file against; any field may be NULL/empty to skip that check. */
typedef struct ef_dataset_expect {
  const ef_dict *src_dict, *tgt_dict;        /* sizes and checksums must match */
  const char *src_dict_name, *tgt_dict_name; /* for messages (e.g. "dict.en.txt") */
  const char *spm_sha256;                    /* must match when both sides have one */
} ef_dataset_expect;

/* Zero the struct (no allocation). */
void ef_dataset_init(ef_dataset *ds);
/* Free the arrays and zero the struct. */
void ef_dataset_release(ef_dataset *ds);
/* Append one pair (ids already end with </s>); line is its 1-based input line. */
int ef_dataset_append(ef_dataset *ds, const int32_t *src, int ns, const int32_t *tgt, int nt,
                      int64_t line, char *err, size_t errlen);

/* Write ds to path through a temporary file in the same folder, fsync'ed then renamed. */
int ef_dataset_write(const ef_dataset *ds, const char *path, char *err, size_t errlen);

/* Read and validate a file into *out (which is initialised here; release it even on failure is
 * not needed: on failure *out is left empty). Checks: format and version attributes; ranks,
 * integer types and lengths of every dataset; offsets start at 0, strictly increase and end at
 * the token count; every sentence ends with </s> and holds no <pad>; every id is below the
 * dictionary size; attribute counts agree with the data; and, per expect, the dictionary and
 * SentencePiece checksums. */
int ef_dataset_read(const char *path, const ef_dataset_expect *expect, ef_dataset *out, char *err,
                    size_t errlen);

/* Length in tokens (with </s>) of sentence i of a side. */
static inline int64_t ef_dataset_len(const ef_dataset_side *s, int64_t i) {
  return s->offsets[i + 1] - s->offsets[i];
}

#endif
