/* convert/fairseq_import.h: `edgeformer import --fairseq`: a fairseq checkpoint (EdgeLM's
 * transformer_edge, the universal-transformer variant or a plain transformer) read with
 * pt_reader.h, mapped onto our parameter store and written as a regular HDF5 checkpoint
 * (train/checkpoint.h) that `train --restore-file` and `generate` load.
 *
 * What is checked (docs/import.md):
 *   - the model config from cfg["model"] (an argparse.Namespace or a dict; fairseq 0.10's
 *     top-level `args` when there is no cfg): arch, model_param_type, dims, heads, FFN widths,
 *     layers, lora_r, activation, dropout, positions; options we do not implement
 *     (pre-LN, learned positions, layernorm_embedding, unshared embeddings, lora_r_shape...)
 *     are errors naming the option;
 *   - every `model` key maps to a parameter of that model (canonical key or alias): an unknown
 *     key is an error, buffers (`*.version`, `*._float_tensor`) are skipped; every parameter
 *     and every alias must be present with the expected shape;
 *   - each alias is bit-identical to its canonical key (after conversion to float32); the
 *     first mismatch is named with its element index and both values;
 *   - V (rows of the embedding) equals the dictionary's size; with a SentencePiece model,
 *     dictionary symbols that are not pieces of it are counted (a warning, not an error).
 *
 * Nothing is written unless every check passes; the output is written atomically, with the
 * config (our [model] section), zero Adam moments and update 0, so that
 * `train --restore-file OUT.h5` starts fine-tuning with a fresh optimizer.
 * Errors: non-zero + one line naming the file and the key or field.
 */
#ifndef EF_CONVERT_FAIRSEQ_IMPORT_H
#define EF_CONVERT_FAIRSEQ_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "convert/pt_reader.h"
#include "model/config.h"

typedef struct ef_import_opts {
  const char *checkpoint; /* fairseq .pt */
  const char *dict;       /* dict.src.txt (required) */
  const char *spm;        /* SentencePiece model (optional: checked against the dictionary) */
  const char *output;     /* HDF5 checkpoint to write; NULL = check only */
  FILE *log;              /* summary lines; NULL = quiet */
} ef_import_opts;

typedef struct ef_import_report {
  ef_model_config cfg;
  char arch[64], param_type[32], format[8];
  int64_t n_keys;      /* keys of the state_dict */
  int64_t n_canonical; /* unique parameters read */
  int64_t n_aliases;   /* duplicate keys checked bit-identical */
  int64_t n_buffers;   /* skipped buffers */
  int64_t n_params;    /* floats in unique parameters */
  int64_t
      n_dict_not_in_spm; /* dictionary symbols that are no piece of the spm model (-1: no spm) */
  char first_stored_dtype[16];
} ef_import_report;

/* The model config described by a fairseq args Namespace / cfg["model"] (V left at vocab). */
int ef_fairseq_config(const ef_pt_val *ns, const char *file, int64_t vocab, ef_model_config *cfg,
                      char *arch, size_t archlen, char *ptype, size_t ptypelen, char *err,
                      size_t errlen);

/* The whole import. rep may be NULL. */
int ef_fairseq_import(const ef_import_opts *o, ef_import_report *rep, char *err, size_t errlen);

#endif
