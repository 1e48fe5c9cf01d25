/* eval/generate.h: generation over a prepared dataset with the runtime decoder, printed the way
 * fairseq-generate prints it (S-/T-/H-/D-/P- lines, scores in base 2) and scored the way the
 * field reports it (sacreBLEU BLEU and chrF2 of the detokenised hypotheses against the
 * detokenised references), next to the copy-the-source baseline. Used by `edgeformer generate`,
 * by validation BLEU in the trainer and by the main job.
 *
 * Memory: everything is allocated per call and freed before return.
 * Errors: -1 and one line naming the sentence (dataset index) and the problem.
 */
#ifndef EF_EVAL_GENERATE_H
#define EF_EVAL_GENERATE_H

#include <stdint.h>
#include <stdio.h>

#include "data/dataset.h"
#include "eval/bleu.h"
#include "eval/codec.h"
#include "model/config.h"
#include "runtime/decode.h"

/* [generate] options (fairseq-generate's names); the table below reads them from the command
 * line (`--beam 5 --lenpen 0.6`) or an INI section. */
typedef struct ef_gen_opts {
  int beam, nbest, max_len_b, min_len, no_repeat_ngram_size, sampling, sampling_topk, seed;
  float lenpen, max_len_a, unkpen, temperature, sampling_topp;
  int batch_size;      /* sentences per decoder call */
  int max_sentences;   /* stop after this many (0 = all) */
  int truncate_source; /* over-long sources are cut to max_source_positions (keeping </s>)
                          instead of failing */
  int threads;         /* runtime kernel threads (1 or 2) */
  int quiet;           /* no per-sentence lines */
} ef_gen_opts;

extern const ef_key ef_gen_keys[];
extern const int ef_gen_n_keys;

void ef_gen_opts_default(ef_gen_opts *o);
void ef_gen_search_opts(const ef_gen_opts *o, rt_search_opts *s);

typedef struct ef_gen_result {
  int64_t n_sent, n_tokens, n_truncated; /* n_tokens: generated tokens of the best hypotheses */
  double seconds;
  ef_bleu_score bleu, copy_bleu;
  double chrf, copy_chrf;
  char bleu_sig[EF_BLEU_LINE_MAX], chrf_sig[EF_BLEU_LINE_MAX];
} ef_gen_result;

/* Generate for the dataset's sentences (in dataset order, batch_size at a time) with model m;
 * print fairseq-generate lines to out unless o->quiet (out may be NULL: nothing printed);
 * fill res. 0, or -1 with a message. */
int ef_generate_dataset(const rt_model *m, const ef_codec *codec, const ef_dataset *ds,
                        const ef_gen_opts *o, FILE *out, ef_gen_result *res, char *err,
                        size_t errlen);

/* The two score lines: "BLEU = ... (signature)" and "chrF2 = ... ", with the copy baseline. */
void ef_gen_print_scores(FILE *f, const char *subset, const ef_gen_opts *o, const ef_gen_result *r);

#endif
