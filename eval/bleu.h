/* eval/bleu.h: corpus and sentence BLEU exactly as sacreBLEU 2.x computes them by default
 * (BLEU(): tokenizer 13a, max order 4, smooth "exp", closest reference length, statistics
 * summed over the corpus, any number of references), with its score line and signature.
 * It must never round or clip an intermediate value sacreBLEU keeps exact: the statistics
 * are integers and the final arithmetic follows sacreBLEU's order of operations.
 *
 * Usage: b = ef_bleu_new(&opts); for each segment ef_bleu_segment(b, ..., &seg) and
 * ef_bleu_stats_add(&corpus, &seg); then ef_bleu_compute(&corpus, opts.effective_order,
 * &score); ef_bleu_format / ef_bleu_signature; ef_bleu_free(b). */
#ifndef EF_EVAL_BLEU_H
#define EF_EVAL_BLEU_H

#include <stddef.h>
#include <stdint.h>

#define EF_BLEU_MAX_ORDER 4
#define EF_BLEU_MAX_REFS 64
/* The sacreBLEU release whose definitions and signature format this file reproduces and
 * against which tests/fixtures/metrics/ was generated; it goes into the signature. */
#define EF_SACREBLEU_VERSION "2.6.0"
#define EF_BLEU_LINE_MAX 256 /* bytes for a score line or a signature */

typedef struct {
  int lowercase;       /* sacreBLEU -lc: Python str.lower() before tokenizing */
  int effective_order; /* sacreBLEU's effective order: off for corpus BLEU (the default),
                          on for sentence BLEU (sacrebleu.sentence_bleu) */
} ef_bleu_opts;

/* Sufficient statistics of one segment or of a corpus (sums). */
typedef struct {
  int64_t hyp_len, ref_len; /* tokens; ref_len is the closest reference length */
  int64_t correct[EF_BLEU_MAX_ORDER], total[EF_BLEU_MAX_ORDER];
} ef_bleu_stats;

typedef struct {
  double score;                         /* 0..100 */
  double precisions[EF_BLEU_MAX_ORDER]; /* 0..100, smoothed as sacreBLEU reports them */
  double bp, ratio;
  ef_bleu_stats stats;
} ef_bleu_score;

typedef struct ef_bleu ef_bleu;

/* NULL when out of memory. */
ef_bleu *ef_bleu_new(const ef_bleu_opts *opts);
void ef_bleu_free(ef_bleu *b);

/* Statistics of one hypothesis against nrefs references (1..EF_BLEU_MAX_REFS), each a
 * UTF-8 string with explicit length (it may hold any bytes but must be valid UTF-8; an
 * empty string is a valid, empty segment). Returns 0, or -1 with a one-line message in err
 * (invalid UTF-8, too many references, out of memory). */
int ef_bleu_segment(ef_bleu *b, const char *hyp, size_t hyp_len, const char *const *refs,
                    const size_t *ref_lens, int nrefs, ef_bleu_stats *out, char *err,
                    size_t errlen);
/* The 13a tokenization (after optional lowercasing and rstrip) of s, for tests and
 * debugging; the returned string belongs to b and is valid until the next call. NULL on
 * error. */
const char *ef_bleu_tokenize(ef_bleu *b, const char *s, size_t len);

void ef_bleu_stats_add(ef_bleu_stats *acc, const ef_bleu_stats *s);
/* sacreBLEU's BLEU.compute_bleu with smooth_method="exp". */
void ef_bleu_compute(const ef_bleu_stats *s, int effective_order, ef_bleu_score *out);
/* "BLEU = 25.31 58.7/31.6/18.9/11.4 (BP = 1.000 ratio = 1.010 hyp_len = 1234 ref_len =
 * 1222)", as sacreBLEU's BLEUScore.format() with width 2 and no signature. */
void ef_bleu_format(const ef_bleu_score *s, char *buf, size_t n);
/* "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0" */
void ef_bleu_signature(const ef_bleu_opts *opts, int nrefs, char *buf, size_t n);

#endif
