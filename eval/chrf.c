/* eval/chrf.c: sacreBLEU-compatible chrF / chrF++ (see chrf.h). Characters are Unicode code
 * points of the string (every Python-whitespace code point removed unless whitespace is
 * kept); words are interned to ids. It must never print or exit: errors go back as status +
 * message. */
#include "eval/chrf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/bleu.h" /* EF_SACREBLEU_VERSION */
#include "eval/buf.h"
#include "eval/intern.h"
#include "eval/ngram.h"
#include "eval/ngram_any.h"
#include "eval/unicode.h"

#define CHRF_EPS 1e-16

/* n-gram counts of one side for every order */
typedef struct {
  ef_ngram_count *c[EF_CHRF_MAX_ORDERS];
  size_t cap[EF_CHRF_MAX_ORDERS], n[EF_CHRF_MAX_ORDERS];
  int64_t total[EF_CHRF_MAX_ORDERS];
} side_counts;

struct ef_chrf {
  ef_chrf_opts opts;
  ef_bytes lower;
  ef_u32s cps, words;
  ef_intern vocab, long_ngrams;
  ef_ngram *keys;
  size_t cap_keys;
  side_counts hyp, ref;
};

int ef_chrf_char_order(const ef_chrf_opts *o) {
  return o->no_chars ? 0 : o->char_order > 0 ? o->char_order : EF_CHRF_CHAR_ORDER;
}
int ef_chrf_beta(const ef_chrf_opts *o) {
  return o->beta_zero ? 0 : o->beta > 0 ? o->beta : EF_CHRF_BETA;
}
static int n_orders(const ef_chrf_opts *o) { return ef_chrf_char_order(o) + o->word_order; }
int ef_chrf_nstats(const ef_chrf_opts *o) { return 3 * n_orders(o); }

ef_chrf *ef_chrf_new(const ef_chrf_opts *opts) {
  if (n_orders(opts) < 1 || n_orders(opts) > EF_CHRF_MAX_ORDERS || opts->word_order < 0 ||
      opts->char_order < 0 || opts->beta < 0)
    return NULL;
  ef_chrf *c = calloc(1, sizeof *c);
  if (c) c->opts = *opts;
  return c;
}

static void side_free(side_counts *s) {
  for (int n = 0; n < EF_CHRF_MAX_ORDERS; n++) free(s->c[n]);
}

void ef_chrf_free(ef_chrf *c) {
  if (!c) return;
  ef_bytes_free(&c->lower);
  ef_u32s_free(&c->cps);
  ef_u32s_free(&c->words);
  ef_intern_free(&c->vocab);
  ef_intern_free(&c->long_ngrams);
  free(c->keys);
  side_free(&c->hyp);
  side_free(&c->ref);
  free(c);
}

static int is_punct(uint32_t cp) { /* CHRF._PUNCTS: ASCII punctuation */
  return cp < 0x80 && ((cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) ||
                       (cp >= 0x5B && cp <= 0x60) || (cp >= 0x7B && cp <= 0x7E));
}

static int push_word(ef_chrf *c, const uint32_t *w, size_t n) {
  char buf[4 * 64];
  ef_bytes big = {0};
  char *p = buf;
  if (n * 4 > sizeof buf) {
    if (ef_bytes_reserve(&big, n * 4)) return -1;
    p = big.p;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += (size_t)ef_utf8_encode(w[i], p + k);
  int64_t id = ef_intern_id(&c->vocab, p, k);
  ef_bytes_free(&big);
  return id < 0 ? -1 : ef_u32s_push(&c->words, (uint32_t)id);
}

/* CHRF._remove_punctuation over the code points cps: word ids into c->words. */
static int words_of(ef_chrf *c, const uint32_t *cps, size_t len) {
  c->words.len = 0;
  for (size_t i = 0; i < len;) {
    while (i < len && ef_py_isspace(cps[i])) i++;
    size_t st = i;
    while (i < len && !ef_py_isspace(cps[i])) i++;
    size_t n = i - st;
    if (!n) break;
    const uint32_t *w = cps + st;
    int rc;
    if (n == 1)
      rc = push_word(c, w, 1);
    else if (is_punct(w[n - 1]))
      rc = push_word(c, w, n - 1) || push_word(c, w + n - 1, 1);
    else if (is_punct(w[0]))
      rc = push_word(c, w, 1) || push_word(c, w + 1, n - 1);
    else
      rc = push_word(c, w, n);
    if (rc) return -1;
  }
  return 0;
}

/* All n-gram counts of s (optionally lowercased) into side. */
static int count_side(ef_chrf *c, const char *s, size_t len, side_counts *side) {
  if (c->opts.lowercase) {
    if (ef_py_lower(s, len, &c->lower)) return -1;
    s = c->lower.p;
    len = c->lower.len;
  }
  if (ef_utf8_to_cps(s, len, &c->cps)) return -1;
  int nc = ef_chrf_char_order(&c->opts), nw = c->opts.word_order;
  if (nw > 0 && words_of(c, c->cps.p, c->cps.len)) return -1;
  if (!c->opts.whitespace) {
    size_t k = 0;
    for (size_t i = 0; i < c->cps.len; i++)
      if (!ef_py_isspace(c->cps.p[i])) c->cps.p[k++] = c->cps.p[i];
    c->cps.len = k;
  }
  for (int o = 0; o < nc + nw; o++) {
    int chars = o < nc, n = chars ? o + 1 : o - nc + 1;
    const ef_u32s *seq = chars ? &c->cps : &c->words;
    size_t need = seq->len + 1;
    if (ef_grow((void **)&c->keys, &c->cap_keys, need, sizeof *c->keys) ||
        ef_grow((void **)&side->c[o], &side->cap[o], need, sizeof *side->c[o]))
      return -1;
    size_t m = ef_ngram_any(seq->p, seq->len, n, chars, &c->long_ngrams, c->keys);
    if (m == (size_t)-1) return -1;
    side->total[o] = (int64_t)m;
    side->n[o] = ef_ngram_tally(c->keys, m, side->c[o]);
  }
  return 0;
}

/* CHRF._compute_f_score. */
static double f_score(const int64_t *v, const ef_chrf_opts *o) {
  int beta = ef_chrf_beta(o), order = n_orders(o);
  const double factor = (double)beta * beta;
  double avg_prec = 0.0, avg_rec = 0.0, score = 0.0;
  int eff = 0;
  for (int i = 0; i < order; i++) {
    int64_t n_hyp = v[3 * i], n_ref = v[3 * i + 1], n_match = v[3 * i + 2];
    double prec = n_hyp > 0 ? (double)n_match / (double)n_hyp : CHRF_EPS;
    double rec = n_ref > 0 ? (double)n_match / (double)n_ref : CHRF_EPS;
    double denom = factor * prec + rec;
    score += denom > 0 ? (1 + factor) * prec * rec / denom : CHRF_EPS;
    if (n_hyp > 0 && n_ref > 0) {
      avg_prec += prec;
      avg_rec += rec;
      eff++;
    }
  }
  if (o->eps_smoothing) return 100 * score / order;
  if (eff == 0) {
    avg_prec = avg_rec = 0.0;
  } else {
    avg_prec /= eff;
    avg_rec /= eff;
  }
  if (avg_prec + avg_rec != 0.0) {
    score = (1 + factor) * avg_prec * avg_rec;
    score /= (factor * avg_prec) + avg_rec;
    return 100 * score;
  }
  return 0.0;
}

double ef_chrf_compute_opts(const ef_chrf_stats *s, const ef_chrf_opts *o) {
  return f_score(s->v, o);
}

double ef_chrf_compute(const ef_chrf_stats *s) {
  ef_chrf_opts o = {0};
  return f_score(s->v, &o);
}

int ef_chrf_segment(ef_chrf *c, const char *hyp, size_t hyp_len, const char *const *refs,
                    const size_t *ref_lens, int nrefs, ef_chrf_stats *out, char *err,
                    size_t errlen) {
  memset(out, 0, sizeof *out);
  if (ef_segment_check(hyp, hyp_len, refs, ref_lens, nrefs, EF_CHRF_MAX_REFS, err, errlen))
    return -1;
  if (count_side(c, hyp, hyp_len, &c->hyp)) goto oom;
  int order = n_orders(&c->opts);
  double best = -1.0;
  for (int r = 0; r < nrefs; r++) {
    if (count_side(c, refs[r], ref_lens[r], &c->ref)) goto oom;
    ef_chrf_stats st;
    memset(&st, 0, sizeof st);
    for (int o = 0; o < order; o++) {
      st.v[3 * o] = c->ref.n[o] ? c->hyp.total[o] : 0;
      st.v[3 * o + 1] = c->ref.total[o];
      st.v[3 * o + 2] =
          (int64_t)ef_ngram_clipped(c->hyp.c[o], c->hyp.n[o], c->ref.c[o], c->ref.n[o]);
    }
    double f = f_score(st.v, &c->opts);
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
  for (int i = 0; i < 3 * EF_CHRF_MAX_ORDERS; i++) acc->v[i] += s->v[i];
}

void ef_chrf_format(double score, char *buf, size_t n) {
  ef_chrf_opts o = {0};
  ef_chrf_format_opts(score, &o, 2, NULL, buf, n);
}

void ef_chrf_format_opts(double score, const ef_chrf_opts *o, int width, const char *sig, char *buf,
                         size_t n) {
  char name[64];
  int k = snprintf(name, sizeof name, "chrF%d", ef_chrf_beta(o));
  for (int i = 0; i < o->word_order && k < (int)sizeof name - 1; i++) name[k++] = '+';
  name[k] = 0;
  if (sig)
    snprintf(buf, n, "%s|%s = %.*f", name, sig, width, score);
  else
    snprintf(buf, n, "%s = %.*f", name, width, score);
}

void ef_chrf_signature(const ef_chrf_opts *opts, int nrefs, char *buf, size_t n) {
  snprintf(buf, n, "nrefs:%d|case:%s|eff:%s|nc:%d|nw:%d|space:%s|version:%s", nrefs,
           opts->lowercase ? "lc" : "mixed", opts->eps_smoothing ? "no" : "yes",
           ef_chrf_char_order(opts), opts->word_order, opts->whitespace ? "yes" : "no",
           EF_SACREBLEU_VERSION);
}
