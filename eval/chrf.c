/* eval/chrf.c: sacreBLEU-compatible chrF (see chrf.h). Characters are Unicode code points
 * of the string with every Python-whitespace code point removed. It must never print or
 * exit: errors go back as status + message. */
#include "eval/chrf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/bleu.h" /* EF_SACREBLEU_VERSION */
#include "eval/buf.h"
#include "eval/ngram.h"
#include "eval/unicode.h"

#define CHRF_EPS 1e-16

struct ef_chrf {
  ef_chrf_opts opts;
  ef_bytes lower;
  ef_u32s hyp, ref, tmp;
  ef_ngram *keys;
  size_t cap_keys;
  ef_ngram_count *hcounts[EF_CHRF_CHAR_ORDER], *rcount;
  size_t cap_h[EF_CHRF_CHAR_ORDER], cap_r, nh[EF_CHRF_CHAR_ORDER];
};

ef_chrf *ef_chrf_new(const ef_chrf_opts *opts) {
  ef_chrf *c = calloc(1, sizeof *c);
  if (c) c->opts = *opts;
  return c;
}

void ef_chrf_free(ef_chrf *c) {
  if (!c) return;
  ef_bytes_free(&c->lower);
  ef_u32s_free(&c->hyp);
  ef_u32s_free(&c->ref);
  ef_u32s_free(&c->tmp);
  free(c->keys);
  for (int n = 0; n < EF_CHRF_CHAR_ORDER; n++) free(c->hcounts[n]);
  free(c->rcount);
  free(c);
}

/* Code points of s (optionally lowercased) without whitespace, into out. */
static int prepare(ef_chrf *c, const char *s, size_t len, ef_u32s *out) {
  if (c->opts.lowercase) {
    if (ef_py_lower(s, len, &c->lower)) return -1;
    s = c->lower.p;
    len = c->lower.len;
  }
  if (ef_utf8_to_cps(s, len, out)) return -1;
  size_t k = 0;
  for (size_t i = 0; i < out->len; i++)
    if (!ef_py_isspace(out->p[i])) out->p[k++] = out->p[i];
  out->len = k;
  return 0;
}

/* CHRF._compute_f_score with eps_smoothing=False. */
static double f_score(const int64_t *v) {
  const double factor = (double)EF_CHRF_BETA * EF_CHRF_BETA;
  double avg_prec = 0.0, avg_rec = 0.0;
  int eff = 0;
  for (int i = 0; i < EF_CHRF_CHAR_ORDER; i++) {
    int64_t n_hyp = v[3 * i], n_ref = v[3 * i + 1], n_match = v[3 * i + 2];
    double prec = n_hyp > 0 ? (double)n_match / (double)n_hyp : CHRF_EPS;
    double rec = n_ref > 0 ? (double)n_match / (double)n_ref : CHRF_EPS;
    if (n_hyp > 0 && n_ref > 0) {
      avg_prec += prec;
      avg_rec += rec;
      eff++;
    }
  }
  if (eff == 0) {
    avg_prec = avg_rec = 0.0;
  } else {
    avg_prec /= eff;
    avg_rec /= eff;
  }
  if (avg_prec + avg_rec != 0.0) {
    double score = (1 + factor) * avg_prec * avg_rec;
    score /= (factor * avg_prec) + avg_rec;
    return 100 * score;
  }
  return 0.0;
}

double ef_chrf_compute(const ef_chrf_stats *s) { return f_score(s->v); }

int ef_chrf_segment(ef_chrf *c, const char *hyp, size_t hyp_len, const char *const *refs,
                    const size_t *ref_lens, int nrefs, ef_chrf_stats *out, char *err,
                    size_t errlen) {
  memset(out, 0, sizeof *out);
  if (ef_segment_check(hyp, hyp_len, refs, ref_lens, nrefs, EF_CHRF_MAX_REFS, err, errlen))
    return -1;
  if (prepare(c, hyp, hyp_len, &c->hyp)) goto oom;
  size_t need = c->hyp.len + 1;
  for (int n = 0; n < EF_CHRF_CHAR_ORDER; n++) {
    if (ef_grow((void **)&c->keys, &c->cap_keys, need, sizeof *c->keys) ||
        ef_grow((void **)&c->hcounts[n], &c->cap_h[n], need, sizeof *c->hcounts[n]))
      goto oom;
    size_t m = ef_ngram_chars(c->hyp.p, c->hyp.len, n + 1, c->keys);
    c->nh[n] = ef_ngram_tally(c->keys, m, c->hcounts[n]);
  }
  double best = -1.0;
  for (int r = 0; r < nrefs; r++) {
    if (prepare(c, refs[r], ref_lens[r], &c->ref)) goto oom;
    ef_chrf_stats st;
    size_t rneed = c->ref.len + 1;
    if (ef_grow((void **)&c->keys, &c->cap_keys, rneed, sizeof *c->keys) ||
        ef_grow((void **)&c->rcount, &c->cap_r, rneed, sizeof *c->rcount))
      goto oom;
    for (int n = 0; n < EF_CHRF_CHAR_ORDER; n++) {
      size_t m = ef_ngram_chars(c->ref.p, c->ref.len, n + 1, c->keys);
      size_t nr = ef_ngram_tally(c->keys, m, c->rcount);
      int64_t hyp_total = c->hyp.len >= (size_t)(n + 1) ? (int64_t)(c->hyp.len - (size_t)n) : 0;
      st.v[3 * n] = nr ? hyp_total : 0;
      st.v[3 * n + 1] = (int64_t)m;
      st.v[3 * n + 2] = (int64_t)ef_ngram_clipped(c->hcounts[n], c->nh[n], c->rcount, nr);
    }
    double f = f_score(st.v);
    if (f > best) {
      best = f;
      *out = st;
    }
  }
  return 0;
oom:
  snprintf(err, errlen, "out of memory");
  return -1;
}

void ef_chrf_stats_add(ef_chrf_stats *acc, const ef_chrf_stats *s) {
  for (int i = 0; i < EF_CHRF_NSTATS; i++) acc->v[i] += s->v[i];
}

void ef_chrf_format(double score, char *buf, size_t n) {
  snprintf(buf, n, "chrF%d = %.2f", EF_CHRF_BETA, score);
}

void ef_chrf_signature(const ef_chrf_opts *opts, int nrefs, char *buf, size_t n) {
  snprintf(buf, n, "nrefs:%d|case:%s|eff:yes|nc:%d|nw:0|space:no|version:%s", nrefs,
           opts->lowercase ? "lc" : "mixed", EF_CHRF_CHAR_ORDER, EF_SACREBLEU_VERSION);
}
