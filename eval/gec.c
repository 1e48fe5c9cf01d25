/* eval/gec.c: GEC edit extraction and P/R/F0.5 (eval/gec.h, docs/metrics.md "GEC"). */
#include "eval/gec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *s;
  size_t len;
} tok;

static int is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Splits s on runs of ASCII whitespace into *out (malloc'd). -1 when out of memory. */
static int tokenize(const char *s, size_t len, tok **out, size_t *n) {
  size_t cnt = 0;
  for (size_t i = 0; i < len; i++)
    if (!is_space((unsigned char)s[i]) && (i == 0 || is_space((unsigned char)s[i - 1]))) cnt++;
  *out = NULL;
  *n = 0;
  if (!cnt) return 0;
  tok *t = malloc(cnt * sizeof *t);
  if (!t) return -1;
  size_t k = 0;
  for (size_t i = 0; i < len;) {
    while (i < len && is_space((unsigned char)s[i])) i++;
    if (i == len) break;
    size_t b = i;
    while (i < len && !is_space((unsigned char)s[i])) i++;
    t[k].s = s + b;
    t[k++].len = i - b;
  }
  *out = t;
  *n = k;
  return 0;
}

static int tok_eq(const tok *a, const tok *b) {
  return a->len == b->len && !memcmp(a->s, b->s, a->len);
}

enum { OP_MATCH, OP_SUB, OP_DEL, OP_INS };

/* Levenshtein alignment of a (n tokens) with b (m tokens), unit costs, backtraced from
 * (n, m) preferring match, then substitution, then deletion, then insertion; the merged
 * edits into *edits. */
static int align(const tok *a, size_t n, const tok *b, size_t m, ef_gec_edit **edits,
                 size_t *nedits, char *err, size_t errlen) {
  *edits = NULL;
  *nedits = 0;
  size_t w = m + 1;
  if ((n + 1) > EF_GEC_MAX_CELLS / w) {
    snprintf(err, errlen, "sentences too long to align (%zu x %zu tokens)", n, m);
    return -1;
  }
  unsigned *d = malloc((n + 1) * w * sizeof *d);
  unsigned char *ops = malloc(n + m + 1);
  ef_gec_edit *e = malloc((n + m + 1) * sizeof *e);
  if (!d || !ops || !e) {
    free(d), free(ops), free(e);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (size_t j = 0; j <= m; j++) d[j] = (unsigned)j;
  for (size_t i = 1; i <= n; i++) {
    d[i * w] = (unsigned)i;
    for (size_t j = 1; j <= m; j++) {
      unsigned best = d[(i - 1) * w + j - 1] + !tok_eq(&a[i - 1], &b[j - 1]);
      unsigned del = d[(i - 1) * w + j] + 1, ins = d[i * w + j - 1] + 1;
      if (del < best) best = del;
      if (ins < best) best = ins;
      d[i * w + j] = best;
    }
  }
  /* backtrace: ops[] in reverse order */
  size_t nops = 0, i = n, j = m;
  while (i > 0 || j > 0) {
    unsigned c = d[i * w + j];
    if (i > 0 && j > 0 && tok_eq(&a[i - 1], &b[j - 1]) && d[(i - 1) * w + j - 1] == c) {
      ops[nops++] = OP_MATCH, i--, j--;
    } else if (i > 0 && j > 0 && d[(i - 1) * w + j - 1] + 1 == c) {
      ops[nops++] = OP_SUB, i--, j--;
    } else if (i > 0 && d[(i - 1) * w + j] + 1 == c) {
      ops[nops++] = OP_DEL, i--;
    } else {
      ops[nops++] = OP_INS, j--;
    }
  }
  /* forward: maximal runs of non-match operations become one edit */
  size_t ne = 0;
  i = j = 0;
  for (size_t k = nops; k > 0;) {
    if (ops[k - 1] == OP_MATCH) {
      i++, j++, k--;
      continue;
    }
    ef_gec_edit ed = {i, i, j, j};
    while (k > 0 && ops[k - 1] != OP_MATCH) {
      unsigned char op = ops[--k];
      if (op != OP_INS) i++;
      if (op != OP_DEL) j++;
    }
    ed.end = i;
    ed.tend = j;
    e[ne++] = ed;
  }
  free(d);
  free(ops);
  if (!ne) {
    free(e);
    e = NULL;
  }
  *edits = e;
  *nedits = ne;
  return 0;
}

int ef_gec_edits(const char *src, size_t src_len, const char *tgt, size_t tgt_len,
                 ef_gec_edit **edits, size_t *n, char *err, size_t errlen) {
  tok *a = NULL, *b = NULL;
  size_t na, nb;
  *edits = NULL;
  *n = 0;
  if (tokenize(src, src_len, &a, &na) || tokenize(tgt, tgt_len, &b, &nb)) {
    free(a);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = align(a, na, b, nb, edits, n, err, errlen);
  free(a);
  free(b);
  return rc;
}

/* Same source span and the same replacement tokens. */
static int edit_eq(const ef_gec_edit *x, const tok *xt, const ef_gec_edit *y, const tok *yt) {
  if (x->start != y->start || x->end != y->end || x->tend - x->tstart != y->tend - y->tstart)
    return 0;
  for (size_t k = 0; k < x->tend - x->tstart; k++)
    if (!tok_eq(&xt[x->tstart + k], &yt[y->tstart + k])) return 0;
  return 1;
}

int ef_gec_segment(const char *src, size_t src_len, const char *hyp, size_t hyp_len,
                   const char *ref, size_t ref_len, ef_gec_stats *st, char *err, size_t errlen) {
  tok *s = NULL, *h = NULL, *r = NULL;
  size_t ns, nh, nr, neh = 0, ner = 0;
  ef_gec_edit *eh = NULL, *er = NULL;
  int rc = -1;
  if (tokenize(src, src_len, &s, &ns) || tokenize(hyp, hyp_len, &h, &nh) ||
      tokenize(ref, ref_len, &r, &nr)) {
    snprintf(err, errlen, "out of memory");
    goto done;
  }
  if (align(s, ns, h, nh, &eh, &neh, err, errlen) || align(s, ns, r, nr, &er, &ner, err, errlen))
    goto done;
  /* the edits of one alignment have distinct source spans, so matching is one-to-one */
  int64_t tp = 0;
  for (size_t x = 0; x < neh; x++)
    for (size_t y = 0; y < ner; y++)
      if (edit_eq(&eh[x], h, &er[y], r)) {
        tp++;
        break;
      }
  st->tp += tp;
  st->fp += (int64_t)neh - tp;
  st->fn += (int64_t)ner - tp;
  rc = 0;
done:
  free(s), free(h), free(r), free(eh), free(er);
  return rc;
}

ef_gec_score ef_gec_compute(const ef_gec_stats *st) {
  ef_gec_score o = {0, 0, 0};
  if (st->tp + st->fp > 0) o.p = (double)st->tp / (double)(st->tp + st->fp);
  if (st->tp + st->fn > 0) o.r = (double)st->tp / (double)(st->tp + st->fn);
  if (o.p + o.r > 0) o.f05 = 1.25 * o.p * o.r / (0.25 * o.p + o.r);
  return o;
}
