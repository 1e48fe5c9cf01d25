/* train/checkpoint_blob.h: files stored inside a checkpoint, byte for byte, as uint8 datasets
 * of the group /tokenizer (docs/checkpoints.md "Embedded tokenizer"): the SentencePiece model
 * and the fairseq dictionaries an imported model needs, so that `translate`, `generate` and
 * `export` need nothing but the checkpoint. Each dataset is chunked with the Fletcher-32
 * filter like the parameters, so damage is detected on read.
 *
 * Errors: non-zero return + one line in err naming the file and the dataset. */
#ifndef EF_TRAIN_CHECKPOINT_BLOB_H
#define EF_TRAIN_CHECKPOINT_BLOB_H

#include <hdf5.h>
#include <stddef.h>

#include "autograd/params.h"

#define EF_CKPT_BLOB_GROUP "tokenizer"
#define EF_CKPT_BLOB_SPM "spm_model"     /* the SentencePiece model (spm.model) */
#define EF_CKPT_BLOB_SRC_DICT "src_dict" /* the source dictionary (dict.<src>.txt) */
#define EF_CKPT_BLOB_TGT_DICT "tgt_dict" /* the target one; absent = the source dictionary */
#define EF_CKPT_MAX_BLOBS 8
#define EF_CKPT_MAX_BLOB_BYTES ((size_t)1 << 30)

typedef struct {
  const char *name; /* dataset name under /tokenizer (no '/') */
  const void *data;
  size_t len;
} ef_ckpt_blob;

struct ef_train_state;

/* ef_ckpt_save that also stores the n blobs (n <= EF_CKPT_MAX_BLOBS) under /tokenizer. */
int ef_ckpt_save_blobs(const char *path, const ef_params *p, const char *config_ini_text,
                       const struct ef_train_state *st, int with_optimizer,
                       const ef_ckpt_blob *blobs, int n, char *err, size_t errlen);

/* Reads /tokenizer/<name> of path into *data (malloc'd, NUL-terminated after len bytes).
 * Returns 0 when read, 1 when the checkpoint has no such dataset (*data = NULL), -1 on error
 * (not HDF5, corrupt, too large). */
int ef_ckpt_read_blob(const char *path, const char *name, void **data, size_t *len, char *err,
                      size_t errlen);

/* Every blob of path, for copying into another checkpoint (ef_ckpt_average): names and data
 * malloc'd; free with ef_ckpt_blobs_free. 0 (n may be 0) or -1. */
int ef_ckpt_read_blobs(const char *path, ef_ckpt_blob *blobs, int *n, char *err, size_t errlen);
void ef_ckpt_blobs_free(ef_ckpt_blob *blobs, int n);

/* For checkpoint.c: writes the blobs into the open file f (0 or 1). */
int ef_ckpt_write_blobs(hid_t f, const ef_ckpt_blob *blobs, int n);

#endif
