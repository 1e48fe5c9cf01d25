/* eval/chrf.h: chrF and chrF++ exactly as sacreBLEU 2.6.0's CHRF(char_order, word_order,
 * beta, lowercase, whitespace, eps_smoothing). Zero-initialised options are its default,
 * chrF2: character n-grams of order 1..6, no word n-grams, beta 2, whitespace removed,
 * statistics summed over the corpus, the average of precision and recall taken over the
 * orders that have both hypothesis and reference n-grams ("effective order"). Word n-grams
 * (word_order 2 = chrF++) are taken over sacreBLEU's _remove_punctuation words. Several
 * references: per segment the one with the best sentence chrF wins (the first on ties). It
 * must never mix the statistics of different options in one sum. */
#ifndef EF_EVAL_CHRF_H
#define EF_EVAL_CHRF_H

#include <stddef.h>
#include <stdint.h>

#define EF_CHRF_CHAR_ORDER 6 /* defaults */
#define EF_CHRF_BETA 2
#define EF_CHRF_MAX_REFS 64
#define EF_CHRF_NSTATS (3 * EF_CHRF_CHAR_ORDER) /* statistics of the default */
#define EF_CHRF_MAX_ORDERS 32                   /* char_order + word_order at most */
#define EF_CHRF_MAX_BETA 1000

typedef struct {
  int lowercase;     /* sacreBLEU --chrf-lowercase */
  int char_order;    /* --chrf-char-order; 0 = 6 (set no_chars for 0 character orders) */
  int no_chars;      /* char_order is really 0 */
  int word_order;    /* --chrf-word-order (2 = chrF++) */
  int beta;          /* --chrf-beta; 0 = 2 (set beta_zero for a real 0) */
  int beta_zero;     /* beta is really 0 */
  int whitespace;    /* --chrf-whitespace: keep whitespace in character n-grams */
  int eps_smoothing; /* --chrf-eps-smoothing */
} ef_chrf_opts;

/* Per order n (0-based; character orders first, then word orders): v[3n] hypothesis n-grams
 * (0 when the reference has none), v[3n+1] reference n-grams, v[3n+2] matches. */
typedef struct {
  int64_t v[3 * EF_CHRF_MAX_ORDERS];
} ef_chrf_stats;

/* The effective orders and beta of opts (defaults resolved). */
int ef_chrf_char_order(const ef_chrf_opts *o);
int ef_chrf_beta(const ef_chrf_opts *o);
/* 3 * (char orders + word orders): the statistics used. */
int ef_chrf_nstats(const ef_chrf_opts *o);

typedef struct ef_chrf ef_chrf;

ef_chrf *ef_chrf_new(const ef_chrf_opts *opts);
void ef_chrf_free(ef_chrf *c);
/* Statistics of one segment (UTF-8 strings with lengths). 0, or -1 with a message. */
int ef_chrf_segment(ef_chrf *c, const char *hyp, size_t hyp_len, const char *const *refs,
                    const size_t *ref_lens, int nrefs, ef_chrf_stats *out, char *err,
                    size_t errlen);
void ef_chrf_stats_add(ef_chrf_stats *acc, const ef_chrf_stats *s);
/* The chrF score (0..100) of summed statistics of the default options. */
double ef_chrf_compute(const ef_chrf_stats *s);
/* CHRF._compute_f_score with the options' orders, beta and smoothing. */
double ef_chrf_compute_opts(const ef_chrf_stats *s, const ef_chrf_opts *opts);
/* "chrF2 = 52.35" */
void ef_chrf_format(double score, char *buf, size_t n);
/* CHRFScore.format(width, signature=sig): "chrF2++ = 52.4" or "chrF2++|<sig> = 52.4". */
void ef_chrf_format_opts(double score, const ef_chrf_opts *opts, int width, const char *sig,
                         char *buf, size_t n);
/* "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0" (eff:no with eps smoothing) */
void ef_chrf_signature(const ef_chrf_opts *opts, int nrefs, char *buf, size_t n);

#endif
