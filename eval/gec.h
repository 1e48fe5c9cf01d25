/* eval/gec.h: grammatical error correction scoring over token-level edits, as ERRANT
 * scores a system (span-based correction, F0.5) but with edits extracted without linguistic
 * classification: whitespace tokens, a Levenshtein alignment of the source with the
 * hypothesis and with the reference (fixed tie-break), maximal runs of non-matching
 * operations merged into one edit. Definitions and worked examples: docs/metrics.md, "GEC". */
#ifndef EF_EVAL_GEC_H
#define EF_EVAL_GEC_H

#include <stddef.h>
#include <stdint.h>

/* Alignment tables above this many cells ((n+1) x (m+1) tokens) are refused. */
#define EF_GEC_MAX_CELLS ((size_t)1 << 26)

/* One edit: source tokens [start, end) are replaced by the target tokens [tstart, tend)
 * (start == end: an insertion before source token start; tstart == tend: a deletion). */
typedef struct {
  size_t start, end, tstart, tend;
} ef_gec_edit;

typedef struct {
  int64_t tp, fp, fn;
} ef_gec_stats;

typedef struct {
  double p, r, f05; /* fractions 0..1 */
} ef_gec_score;

/* Edits turning src into tgt (UTF-8 with lengths, split on ASCII whitespace), in source
 * order, into *edits (malloc'd, caller frees; NULL when there are none) and *n. 0, or -1
 * with a message in err (alignment too large, out of memory). */
int ef_gec_edits(const char *src, size_t src_len, const char *tgt, size_t tgt_len,
                 ef_gec_edit **edits, size_t *n, char *err, size_t errlen);

/* Adds one sentence to st: TP = edits in both the hypothesis's and the reference's edit set
 * (same source span, same replacement tokens), FP = hypothesis edits not in the reference's,
 * FN = reference edits not in the hypothesis's. 0, or -1 with a message in err. */
int ef_gec_segment(const char *src, size_t src_len, const char *hyp, size_t hyp_len,
                   const char *ref, size_t ref_len, ef_gec_stats *st, char *err, size_t errlen);

/* P = TP/(TP+FP), R = TP/(TP+FN), F0.5 = 1.25·P·R/(0.25·P + R); each 0/0 is 0. */
ef_gec_score ef_gec_compute(const ef_gec_stats *st);

#endif
