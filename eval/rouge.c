/* eval/rouge.c: rouge-score-compatible ROUGE (see rouge.h). Tokens are interned to ids;
 * LCS tables are kept in one growing buffer. It must never print or exit. */
#include "eval/rouge.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/buf.h"
#include "eval/intern.h"
#include "eval/ngram.h"
#include "eval/porter.h"
#include "eval/unicode.h"

#define ROUGE_STEM_MIN_LEN 4 /* rouge-score stems tokens longer than 3 characters */
#define ROUGE_MAX_SENTS ((size_t)1 << 20)

struct ef_rouge {
  int stem;
  ef_intern vocab;
  ef_bytes lower, stemmed, joined;
  ef_u32s tp, pp;       /* whole-text token ids: prediction, target */
  ef_u32s ps, ts;       /* Lsum: token ids of all sentences, concatenated */
  ef_u32s poff, toff;   /* Lsum: sentence offsets into ps / ts (n+1 entries) */
  ef_u32s table;        /* LCS DP table */
  ef_u32s in_union;     /* Lsum: per target-sentence token, mark */
  ef_u32s cnt_r, cnt_c; /* Lsum: per vocabulary id counts */
  ef_ngram *keys;
  ef_ngram_count *pc, *tc;
  size_t cap_keys, cap_pc, cap_tc;
};

const char *ef_rouge_type_name(int type) {
  static const char *const names[EF_ROUGE_NTYPES] = {"rouge1", "rouge2", "rougeL", "rougeLsum"};
  return type >= 0 && type < EF_ROUGE_NTYPES ? names[type] : "?";
}

ef_rouge *ef_rouge_new(int use_stemmer) {
  ef_rouge *r = calloc(1, sizeof *r);
  if (r) r->stem = use_stemmer;
  return r;
}

void ef_rouge_free(ef_rouge *r) {
  if (!r) return;
  ef_intern_free(&r->vocab);
  ef_bytes_free(&r->lower);
  ef_bytes_free(&r->stemmed);
  ef_bytes_free(&r->joined);
  ef_u32s *arrs[] = {&r->tp,   &r->pp,    &r->ps,       &r->ts,    &r->poff,
                     &r->toff, &r->table, &r->in_union, &r->cnt_r, &r->cnt_c};
  for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) ef_u32s_free(arrs[i]);
  free(r->keys);
  free(r->pc);
  free(r->tc);
  free(r);
}

static int is_alnum(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* Appends the token ids of s[0..len) (valid UTF-8) to ids. When joined is not NULL the
 * tokens are also written there, space-separated. */
static int tokenize(ef_rouge *r, const char *s, size_t len, ef_u32s *ids, ef_bytes *joined) {
  if (ef_py_lower(s, len, &r->lower)) return -1;
  const char *t = r->lower.p;
  size_t n = r->lower.len;
  if (ef_bytes_reserve(&r->stemmed, n + EF_PORTER_GROWTH + 1)) return -1;
  for (size_t i = 0; i < n;) {
    if (!is_alnum((unsigned char)t[i])) {
      i++;
      continue;
    }
    size_t st = i;
    while (i < n && is_alnum((unsigned char)t[i])) i++;
    const char *tok = t + st;
    size_t k = i - st;
    if (r->stem && k >= ROUGE_STEM_MIN_LEN) {
      k = ef_porter_stem(tok, k, r->stemmed.p);
      tok = r->stemmed.p;
      if (!k) continue; /* the final validity check drops empty tokens */
    }
    int64_t id = ef_intern_id(&r->vocab, tok, k);
    if (id < 0 || ef_u32s_push(ids, (uint32_t)id)) return -1;
    if (joined) {
      if (joined->len && ef_bytes_append(joined, " ", 1)) return -1;
      if (ef_bytes_append(joined, tok, k)) return -1;
    }
  }
  return 0;
}

const char *ef_rouge_tokenize(ef_rouge *r, const char *s, size_t len) {
  if (ef_utf8_check(s, len, NULL)) return NULL;
  r->joined.len = 0;
  r->pp.len = 0;
  if (ef_bytes_append(&r->joined, "", 0) || tokenize(r, s, len, &r->pp, &r->joined)) return NULL;
  return r->joined.p;
}

static double fmeasure(double p, double rc) { return p + rc > 0 ? 2 * p * rc / (p + rc) : 0.0; }

static ef_prf prf(double hits, double n_pred, double n_target) {
  ef_prf s;
  s.p = hits / n_pred;
  s.r = hits / n_target;
  s.f = fmeasure(s.p, s.r);
  return s;
}

static int ngram_score(ef_rouge *r, int n, ef_prf *out) {
  size_t need = (r->pp.len > r->tp.len ? r->pp.len : r->tp.len) + 1;
  if (ef_grow((void **)&r->keys, &r->cap_keys, need, sizeof *r->keys) ||
      ef_grow((void **)&r->pc, &r->cap_pc, need, sizeof *r->pc) ||
      ef_grow((void **)&r->tc, &r->cap_tc, need, sizeof *r->tc))
    return -1;
  size_t mp = ef_ngram_words(r->pp.p, r->pp.len, n, r->keys);
  size_t np = ef_ngram_tally(r->keys, mp, r->pc);
  size_t mt = ef_ngram_words(r->tp.p, r->tp.len, n, r->keys);
  size_t nt = ef_ngram_tally(r->keys, mt, r->tc);
  double hits = (double)ef_ngram_clipped(r->tc, nt, r->pc, np);
  *out = prf(hits, (double)(mp > 0 ? mp : 1), (double)(mt > 0 ? mt : 1));
  return 0;
}

/* Fills the (nr+1) x (nc+1) LCS table of ref[0..nr) and can[0..nc); returns the table. */
static uint32_t *lcs_table(ef_rouge *r, const uint32_t *ref, size_t nr, const uint32_t *can,
                           size_t nc) {
  size_t w = nc + 1;
  if ((nr + 1) > EF_ROUGE_MAX_LCS_CELLS / w) return NULL;
  if (ef_u32s_reserve(&r->table, (nr + 1) * w)) return NULL;
  uint32_t *t = r->table.p;
  memset(t, 0, w * sizeof *t);
  for (size_t i = 1; i <= nr; i++) {
    uint32_t *row = t + i * w, *up = row - w;
    row[0] = 0;
    for (size_t j = 1; j <= nc; j++) {
      if (ref[i - 1] == can[j - 1])
        row[j] = up[j - 1] + 1;
      else
        row[j] = up[j] > row[j - 1] ? up[j] : row[j - 1];
    }
  }
  return t;
}

static int lcs_score(ef_rouge *r, ef_prf *out) {
  memset(out, 0, sizeof *out);
  if (!r->tp.len || !r->pp.len) return 0;
  uint32_t *t = lcs_table(r, r->tp.p, r->tp.len, r->pp.p, r->pp.len);
  if (!t) return -1;
  double l = t[r->tp.len * (r->pp.len + 1) + r->pp.len];
  *out = prf(l, (double)r->pp.len, (double)r->tp.len);
  return 0;
}

/* Token ids of each '\n'-separated non-empty piece of s, concatenated, with offsets. */
static int sentences(ef_rouge *r, const char *s, size_t len, ef_u32s *ids, ef_u32s *off) {
  ids->len = 0;
  off->len = 0;
  if (ef_u32s_push(off, 0)) return -1;
  for (size_t i = 0; i <= len;) {
    const char *nl = memchr(s + i, '\n', len - i);
    size_t e = nl ? (size_t)(nl - s) : len;
    if (e > i) {
      if (off->len > ROUGE_MAX_SENTS) return -1;
      if (tokenize(r, s + i, e - i, ids, NULL) || ef_u32s_push(off, (uint32_t)ids->len)) return -1;
    }
    i = e + 1;
  }
  return 0;
}

/* rouge_scorer._summary_level_lcs */
static int lsum_score(ef_rouge *r, const char *pred, size_t pl, const char *tgt, size_t tl,
                      ef_prf *out) {
  memset(out, 0, sizeof *out);
  if (sentences(r, pred, pl, &r->ps, &r->poff) || sentences(r, tgt, tl, &r->ts, &r->toff))
    return -1;
  size_t ncs = r->poff.len - 1, nrs = r->toff.len - 1;
  if (!ncs || !nrs) return 0;
  size_t m = r->ts.len, n = r->ps.len;
  if (!m || !n) return 0;
  /* token counters over the vocabulary, reset after use */
  if (ef_u32s_reserve(&r->cnt_r, r->vocab.n) || ef_u32s_reserve(&r->cnt_c, r->vocab.n) ||
      ef_u32s_reserve(&r->in_union, m + 1))
    return -1;
  for (size_t i = 0; i < m; i++) r->cnt_r.p[r->ts.p[i]] = 0;
  for (size_t i = 0; i < n; i++) r->cnt_c.p[r->ps.p[i]] = 0;
  for (size_t i = 0; i < m; i++) r->cnt_r.p[r->ts.p[i]]++;
  for (size_t i = 0; i < n; i++) r->cnt_c.p[r->ps.p[i]]++;
  size_t hits = 0;
  for (size_t s = 0; s < nrs; s++) {
    const uint32_t *ref = r->ts.p + r->toff.p[s];
    size_t nr = r->toff.p[s + 1] - r->toff.p[s];
    uint32_t *mark = r->in_union.p;
    memset(mark, 0, (nr + 1) * sizeof *mark);
    for (size_t c = 0; c < ncs; c++) {
      const uint32_t *can = r->ps.p + r->poff.p[c];
      size_t nc = r->poff.p[c + 1] - r->poff.p[c];
      uint32_t *t = lcs_table(r, ref, nr, can, nc);
      if (!t) return -1;
      size_t w = nc + 1, i = nr, j = nc;
      while (i > 0 && j > 0) { /* _backtrack_norec, same tie-breaking */
        if (ref[i - 1] == can[j - 1]) {
          mark[i - 1] = 1;
          i--, j--;
        } else if (t[i * w + j - 1] > t[(i - 1) * w + j]) {
          j--;
        } else {
          i--;
        }
      }
    }
    for (size_t i = 0; i < nr; i++) {
      if (!mark[i]) continue;
      uint32_t tok = ref[i];
      if (r->cnt_c.p[tok] > 0 && r->cnt_r.p[tok] > 0) {
        hits++;
        r->cnt_c.p[tok]--;
        r->cnt_r.p[tok]--;
      }
    }
  }
  *out = prf((double)hits, (double)n, (double)m);
  return 0;
}

static int score_one(ef_rouge *r, const char *pred, size_t pl, const char *tgt, size_t tl,
                     ef_rouge_score *out) {
  r->pp.len = 0;
  r->tp.len = 0;
  if (tokenize(r, pred, pl, &r->pp, NULL) || tokenize(r, tgt, tl, &r->tp, NULL)) return -1;
  if (ngram_score(r, 1, &out->s[EF_ROUGE_1]) || ngram_score(r, 2, &out->s[EF_ROUGE_2]) ||
      lcs_score(r, &out->s[EF_ROUGE_L]) || lsum_score(r, pred, pl, tgt, tl, &out->s[EF_ROUGE_LSUM]))
    return -1;
  return 0;
}

int ef_rouge_score_pair(ef_rouge *r, const char *pred, size_t pred_len, const char *const *targets,
                        const size_t *target_lens, int nrefs, ef_rouge_score *out, char *err,
                        size_t errlen) {
  memset(out, 0, sizeof *out);
  if (ef_segment_check(pred, pred_len, targets, target_lens, nrefs, EF_ROUGE_MAX_REFS, err, errlen))
    return -1;
  for (int k = 0; k < nrefs; k++) {
    ef_rouge_score s;
    memset(&s, 0, sizeof s);
    if (score_one(r, pred, pred_len, targets[k], target_lens[k], &s)) {
      snprintf(err, errlen, "out of memory or text too long (LCS over %zu cells)",
               (size_t)EF_ROUGE_MAX_LCS_CELLS);
      return -1;
    }
    for (int t = 0; t < EF_ROUGE_NTYPES; t++) /* score_multi: np.argmax, first maximum */
      if (k == 0 || s.s[t].f > out->s[t].f) out->s[t] = s.s[t];
  }
  return 0;
}
