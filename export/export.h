/* export/export.h: `edgeformer export`'s work: a training checkpoint -> an `.efm` file. Reads the
 * checkpoint's /config, builds the ef_model it describes, loads the parameters, converts them
 * with ef_model_to_runtime and writes them with the dictionary and SentencePiece model (by
 * default the ones next to the training data: <[data] data>/dict.<source_lang>.txt and
 * <[data] data>/spm.model) through export/efm_write.h.
 *
 * Errors: non-zero return + one line in err naming the file and the problem.
 */
#ifndef EF_EXPORT_EXPORT_H
#define EF_EXPORT_EXPORT_H

#include <stddef.h>

#include "export/efm_write.h"

#define EF_EXPORT_PATH_MAX 1024

typedef struct ef_export_opts {
  const char *checkpoint; /* .h5 written by the trainer */
  const char *out;        /* .efm to write */
  const char *dict;       /* NULL: <data>/dict.<source_lang>.txt from the checkpoint's config */
  const char *spm;        /* NULL: <data>/spm.model */
  ef_efm_dtype dtype;
} ef_export_opts;

typedef struct ef_export_result {
  ef_efm_stats stats;
  char dict[EF_EXPORT_PATH_MAX], spm[EF_EXPORT_PATH_MAX]; /* the files embedded */
  int dict_not_in_spm; /* dictionary symbols that are not SentencePiece pieces (never produced) */
} ef_export_result;

int ef_export_checkpoint(const ef_export_opts *o, ef_export_result *res, char *err, size_t errlen);

#endif
