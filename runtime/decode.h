/* runtime/decode.h: sequence generation with an rt_model: the encoder, the incremental decoder
 * (a self-attention K/V cache per decoder layer, cross-attention keys/values computed once per
 * source), and search: beam search with fairseq's semantics (greedy is beam 1, as in fairseq),
 * and sampling (temperature, top-k, top-p). docs/generation.md states the semantics exactly.
 *
 * Depends on libc and libm (runtime/kernels.h for the linear layers). Must never include the
 * training side.
 *
 * Memory: rt_decoder_new allocates a decoder for one model; its buffers grow on demand to the
 * largest batch / source / output seen and are then reused, so steady-state generation does not
 * allocate. Results (rt_hypo arrays) live in the decoder until the next rt_generate call or
 * rt_decoder_free. The model must outlive the decoder. A decoder is not thread-safe.
 */
#ifndef EF_RUNTIME_DECODE_H
#define EF_RUNTIME_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/kernels.h"
#include "runtime/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RT_MAX_BEAM 256

typedef struct rt_search_opts {
  int beam;                 /* 1 = greedy (fairseq: --beam 1) */
  float lenpen;             /* finished score = Σ log p / (length incl. </s>)^lenpen */
  double max_len_a;         /* max_len = min((int)(a·src_len + b), max_target_positions - 1), src_len =
                             * the longest source of the call incl. </s> (fairseq: the padded width) */
  int max_len_b;
  int min_len;              /* </s> forbidden before this many tokens */
  int nbest;                /* hypotheses returned per sentence (<= beam) */
  int no_repeat_ngram_size; /* 0 = off */
  float unkpen;             /* subtracted from <unk>'s log-probability */
  /* sampling (fairseq --sampling): replaces the top-2k beam candidates with draws */
  int sampling;
  float temperature; /* logits / temperature before log-softmax (also for beam search) */
  int topk;          /* 0/-1 = off */
  float topp;        /* -1 = off */
  uint64_t seed;
} rt_search_opts;

/* fairseq-generate's defaults: beam 5, lenpen 1, max_len_a 0, max_len_b 200, min_len 1,
 * nbest 1, no blocking, unkpen 0, no sampling, temperature 1. */
void rt_search_opts_default(rt_search_opts *o);

typedef struct rt_hypo {
  const int *tokens;          /* generated ids, ending with </s> (2) */
  int len;                    /* including the final </s> */
  float score;                /* Σ log p / len^lenpen (fairseq's hypo["score"], natural log) */
  const float *pos_scores;    /* [len] per-token log-probabilities (fairseq's positional_scores) */
} rt_hypo;

typedef struct rt_decoder rt_decoder;

/* A decoder for m using kernels k (not owned; NULL = a private context of the best ISA).
 * Checks the model (rt_model_check). 0, or -1 with a message. */
int rt_decoder_new(const rt_model *m, rt_kernels *k, rt_decoder **out, char *err, size_t errlen);
void rt_decoder_free(rt_decoder *d);

/* Generate for n sentences at once. src[i] holds src_len[i] ids (fairseq source: ending with
 * </s>, no <s>, no padding). Sources longer than max_source_positions are an error (the message
 * names the sentence), as are ids outside the vocabulary and invalid options. 0, or -1 with a
 * message; on success rt_decoder_hypos gives the results. */
int rt_generate(rt_decoder *d, int n, const int *const *src, const int *src_len,
                const rt_search_opts *o, char *err, size_t errlen);
/* The hypotheses of sentence i of the last rt_generate call, best first; *count = nbest. */
const rt_hypo *rt_decoder_hypos(const rt_decoder *d, int i, int *count);

#ifdef __cplusplus
}
#endif
#endif
