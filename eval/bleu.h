/* eval/bleu.h: corpus and sentence BLEU exactly as sacreBLEU 2.6.0's BLEU() computes them
 * (tokenizers none/13a/intl/char/zh, any max n-gram order, smoothing exp/floor/add-k/none,
 * effective order, closest reference length, statistics summed over the corpus, any number of
 * references), with its score line and signature. Zero-initialised options are sacreBLEU's
 * defaults (13a, exp, order 4, corpus BLEU).
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

#define EF_BLEU_MAX_ORDER 4  /* the default max n-gram order (sacreBLEU's MAX_NGRAM_ORDER) */
#define EF_BLEU_ORDER_CAP 32 /* largest --max-ngram-order accepted */
#define EF_BLEU_MAX_REFS 64
/* The sacreBLEU release whose definitions and signature format this file reproduces and
 * against which tests/fixtures/metrics/ was generated; it goes into the signature. */
#define EF_SACREBLEU_VERSION "2.6.0"
#define EF_BLEU_LINE_MAX 640 /* bytes for a score line or a signature */

enum ef_bleu_tok {
  EF_BLEU_TOK_13A,
  EF_BLEU_TOK_NONE,
  EF_BLEU_TOK_INTL,
  EF_BLEU_TOK_CHAR,
  EF_BLEU_TOK_ZH
};
enum ef_bleu_smooth {
  EF_BLEU_SMOOTH_EXP,
  EF_BLEU_SMOOTH_NONE,
  EF_BLEU_SMOOTH_FLOOR,
  EF_BLEU_SMOOTH_ADDK
};

typedef struct {
  int lowercase;        /* sacreBLEU -lc: Python str.lower() before tokenizing */
  int effective_order;  /* sacreBLEU's effective order: off for corpus BLEU (the default),
                           on for sentence BLEU (sacrebleu.sentence_bleu, sacrebleu -sl) */
  int tokenize;         /* enum ef_bleu_tok (--tokenize) */
  int smooth_method;    /* enum ef_bleu_smooth (--smooth-method) */
  int has_smooth_value; /* 0: the method's default (floor 0.1, add-k 1) */
  double smooth_value;  /* --smooth-value */
  int max_ngram_order;  /* --max-ngram-order, 1..EF_BLEU_ORDER_CAP; 0 = 4 */
} ef_bleu_opts;

/* Sufficient statistics of one segment or of a corpus (sums); orders past the max are 0. */
typedef struct {
  int64_t hyp_len, ref_len; /* tokens; ref_len is the closest reference length */
  int64_t correct[EF_BLEU_ORDER_CAP], total[EF_BLEU_ORDER_CAP];
} ef_bleu_stats;

typedef struct {
  double score;                         /* 0..100 */
  double precisions[EF_BLEU_ORDER_CAP]; /* 0..100, smoothed as sacreBLEU reports them */
  double bp, ratio;
  int order; /* the max n-gram order: precisions[0..order) */
  ef_bleu_stats stats;
} ef_bleu_score;

/* Names <-> enums ("13a", "exp", ...); -1 / NULL when unknown. */
int ef_bleu_tok_from_name(const char *name);
const char *ef_bleu_tok_name(int tok);
int ef_bleu_smooth_from_name(const char *name);
const char *ef_bleu_smooth_name(int smooth);

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
/* The tokenization (opts.tokenize, after optional lowercasing and rstrip) of s, for tests and
 * debugging; the returned string belongs to b and is valid until the next call. NULL on
 * error. */
const char *ef_bleu_tokenize(ef_bleu *b, const char *s, size_t len);

void ef_bleu_stats_add(ef_bleu_stats *acc, const ef_bleu_stats *s);
/* sacreBLEU's BLEU.compute_bleu with smooth_method="exp" and order 4. */
void ef_bleu_compute(const ef_bleu_stats *s, int effective_order, ef_bleu_score *out);
/* BLEU.compute_bleu with every option of opts (smoothing, its value, max order, effective
 * order). */
void ef_bleu_compute_opts(const ef_bleu_stats *s, const ef_bleu_opts *opts, ef_bleu_score *out);
/* "BLEU = 25.31 58.7/31.6/18.9/11.4 (BP = 1.000 ratio = 1.010 hyp_len = 1234 ref_len =
 * 1222)", as sacreBLEU's BLEUScore.format() with width 2 and no signature. */
void ef_bleu_format(const ef_bleu_score *s, char *buf, size_t n);
/* BLEUScore.format(width, signature=sig): with sig NULL "BLEU = 25.3 ...", else
 * "BLEU|<sig> = 25.3 ..." (sacreBLEU's command-line line). width 0..17. */
void ef_bleu_format_width(const ef_bleu_score *s, int width, const char *sig, char *buf, size_t n);
/* "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"; floor and add-k carry their
 * value as sacreBLEU prints it: "smooth:floor[0.10]". */
void ef_bleu_signature(const ef_bleu_opts *opts, int nrefs, char *buf, size_t n);

#endif
