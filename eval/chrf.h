/* eval/chrf.h: chrF exactly as sacreBLEU 2.x's CHRF() default (chrF2: character n-grams
 * of order 1..6, no word n-grams, beta 2, whitespace removed, statistics summed over the
 * corpus, the average of precision and recall taken over the orders that have both
 * hypothesis and reference n-grams: sacreBLEU's "effective order", eps_smoothing off), with
 * its signature. Several references: per segment the one with the best sentence chrF wins
 * (the first on ties). It must never look at words: chrF here is characters only. */
#ifndef EF_EVAL_CHRF_H
#define EF_EVAL_CHRF_H

#include <stddef.h>
#include <stdint.h>

#define EF_CHRF_CHAR_ORDER 6
#define EF_CHRF_BETA 2
#define EF_CHRF_MAX_REFS 64
#define EF_CHRF_NSTATS (3 * EF_CHRF_CHAR_ORDER)

typedef struct {
  int lowercase; /* sacreBLEU --chrf-lowercase */
} ef_chrf_opts;

/* Per order n (0-based): v[3n] hypothesis n-grams (0 when the reference has none),
 * v[3n+1] reference n-grams, v[3n+2] matches. */
typedef struct {
  int64_t v[EF_CHRF_NSTATS];
} ef_chrf_stats;

typedef struct ef_chrf ef_chrf;

ef_chrf *ef_chrf_new(const ef_chrf_opts *opts);
void ef_chrf_free(ef_chrf *c);
/* Statistics of one segment (UTF-8 strings with lengths). 0, or -1 with a message. */
int ef_chrf_segment(ef_chrf *c, const char *hyp, size_t hyp_len, const char *const *refs,
                    const size_t *ref_lens, int nrefs, ef_chrf_stats *out, char *err,
                    size_t errlen);
void ef_chrf_stats_add(ef_chrf_stats *acc, const ef_chrf_stats *s);
/* The chrF score (0..100) of summed statistics, as CHRF._compute_f_score. */
double ef_chrf_compute(const ef_chrf_stats *s);
/* "chrF2 = 52.35" */
void ef_chrf_format(double score, char *buf, size_t n);
/* "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0" */
void ef_chrf_signature(const ef_chrf_opts *opts, int nrefs, char *buf, size_t n);

#endif
