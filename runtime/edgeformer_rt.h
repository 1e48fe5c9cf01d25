/* runtime/edgeformer_rt.h: the public C API for apps that translate with an EdgeFormer model on
 * a device. One header, libc + libm + pthreads only (link libef_runtime.a). A model is an `.efm`
 * file written by `edgeformer export` (docs/efm.md); it carries its tokenizer and dictionary, so
 * text goes in and text comes out:
 *
 *   ef_rt_model *m;
 *   char err[512], *out;
 *   if (ef_rt_load("model.efm", &m, err, sizeof err)) { fprintf(stderr, "%s\n", err); ... }
 *   ef_rt_options o;
 *   ef_rt_options_default(&o);        // fairseq-generate's: beam 5, lenpen 1, max_len 0·n+200
 *   if (ef_rt_translate(m, "In the beginning ...", &o, &out, err, sizeof err) == EF_RT_OK) {
 *     puts(out);
 *     free(out);
 *   }
 *   ef_rt_free(m);
 *
 * Steps of ef_rt_translate: SentencePiece-encode with the embedded model, map pieces to fairseq
 * ids with the embedded dictionary (absent pieces -> <unk>), append </s>, beam search
 * (runtime/decode.h, fairseq semantics), map the best hypothesis back to pieces and decode them.
 *
 * Memory: ef_rt_load maps the file read-only (ef_rt_load_memory uses the caller's buffer in
 * place when it is 64-byte aligned, which must then outlive the model; otherwise it copies);
 * the decoder's buffers grow to the longest sentence seen and are reused. Output strings are
 * malloc'd; the caller frees them with free().
 * Threads: a model is not thread-safe; use one ef_rt_model per thread, or set
 * ef_rt_options.threads to spread each call's matrix products over that many threads.
 * Errors: every call returns an ef_rt_status; err (may be NULL) receives one line naming the
 * file or input and the problem; ef_rt_strerror gives a fixed text for a status.
 */
#ifndef EF_RUNTIME_EDGEFORMER_RT_H
#define EF_RUNTIME_EDGEFORMER_RT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ef_rt_status {
  EF_RT_OK = 0,
  EF_RT_ERR_IO = 1,       /* the file cannot be opened or read */
  EF_RT_ERR_FORMAT = 2,   /* not a valid .efm file (corrupt, truncated, unsupported version) */
  EF_RT_ERR_NOMEM = 3,    /* out of memory */
  EF_RT_ERR_ARGUMENT = 4, /* invalid options or NULL arguments */
  EF_RT_ERR_INPUT = 5     /* the text cannot be translated (invalid UTF-8, too many tokens) */
} ef_rt_status;

typedef struct ef_rt_options {
  int beam;         /* beam size, 1 = greedy (default 5) */
  float lenpen;     /* length penalty: score = sum log p / len^lenpen (default 1) */
  double max_len_a; /* the output has at most max_len_a * source_tokens + max_len_b tokens */
  int max_len_b;    /* (defaults 0 and 200; always capped by the model's max positions) */
  int threads;      /* threads for the matrix products, >= 1 (default 1) */
  int no_repeat_ngram_size; /* ban repeating any n-gram of this size, 0 = off (default 0;
                             * fairseq's --no-repeat-ngram-size) */
} ef_rt_options;

typedef struct ef_rt_model ef_rt_model;

void ef_rt_options_default(ef_rt_options *o);
const char *ef_rt_strerror(ef_rt_status s);

ef_rt_status ef_rt_load(const char *path, ef_rt_model **out, char *err, size_t errlen);
/* name is used in messages (may be NULL). */
ef_rt_status ef_rt_load_memory(const void *buf, size_t len, const char *name, ef_rt_model **out,
                               char *err, size_t errlen);
void ef_rt_free(ef_rt_model *m); /* NULL is fine */

/* Translate one line of UTF-8 text (NUL-terminated; a trailing newline is not stripped). o may
 * be NULL (defaults). On success *out is a malloc'd NUL-terminated string; on failure NULL. */
ef_rt_status ef_rt_translate(ef_rt_model *m, const char *text, const ef_rt_options *o, char **out,
                             char *err, size_t errlen);

/* Model facts for an app's about box: vocabulary size, layers, whether weights are int8. */
typedef struct ef_rt_info {
  int vocab_size, encoder_layers, decoder_layers, embed_dim;
  int max_source_tokens; /* longest source accepted, including </s> */
  int int8;              /* 1 when the linear layers are int8 */
  unsigned long long file_bytes;
} ef_rt_info;
void ef_rt_model_info(const ef_rt_model *m, ef_rt_info *info);

#ifdef __cplusplus
}
#endif
#endif
