/* export/efm_write.h: the `.efm` writer (format: runtime/efm.h, docs/efm.md). Takes a runtime
 * model (rt_model, e.g. from ef_model_to_runtime), the SentencePiece `.model` bytes and the
 * fairseq dictionary, quantises the weight matrices when asked, and produces the file's bytes
 * (CRC by zlib) or writes them durably (temporary file, fsync, rename: train/durable.h).
 *
 * What becomes int8 with EF_EFM_INT8: every matrix the runtime uses as a linear layer, found
 * through the layer table (not by name): attention q/k/v/out weights, FFN fc1/fc2 weights,
 * Adapter-LA (LoRA) u/v weights and the tied embedding / output projection (one scale per
 * vocabulary row). LayerNorm weights and biases, all linear biases, Bias-LA and Prefix-LA keys
 * and values stay float32. Quantisation: rt_quantize_rows (one symmetric scale per row).
 *
 * Memory: the model is only read. ef_efm_serialize returns a malloc'd buffer (caller frees).
 * Errors: non-zero return + one line in err.
 */
#ifndef EF_EXPORT_EFM_WRITE_H
#define EF_EXPORT_EFM_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "data/dictionary.h"
#include "runtime/model.h"

typedef enum { EF_EFM_FP32 = 0, EF_EFM_INT8 = 1 } ef_efm_dtype;

typedef struct ef_efm_stats {
  uint64_t file_bytes;   /* the whole file */
  uint64_t tensor_bytes; /* data section (weights, scales, row sums, alignment padding) */
  int n_tensors, n_int8; /* tensors written, of which int8 */
  int64_t n_values;      /* weights stored (sum of rows*cols) */
} ef_efm_stats;

/* 1 when tensor t of m is used as a linear-layer weight (becomes int8 under EF_EFM_INT8). */
int ef_efm_is_linear_weight(const rt_model *m, int t);

/* The bytes of an .efm file for m. m->names must be set (canonical keys); tensors may be f32 or
 * int8 (int8 ones are copied as they are under EF_EFM_INT8 and dequantised under EF_EFM_FP32).
 * The dictionary must have exactly m->cfg.vocab_size symbols. stats may be NULL. */
int ef_efm_serialize(const rt_model *m, ef_efm_dtype dtype, const void *spm, size_t spm_len,
                     const ef_dict *dict, uint8_t **out, size_t *out_len, ef_efm_stats *stats,
                     char *err, size_t errlen);

/* ef_efm_serialize, then written to path atomically and durably. */
int ef_efm_write(const char *path, const rt_model *m, ef_efm_dtype dtype, const void *spm,
                 size_t spm_len, const ef_dict *dict, ef_efm_stats *stats, char *err,
                 size_t errlen);

#endif
