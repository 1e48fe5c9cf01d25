/* eval/bleu.c: sacreBLEU-compatible BLEU (see bleu.h). Tokens are interned to ids and
 * n-grams compared as packed integer keys, so counting is exact. It must never print or
 * exit: errors go back as status + message. */
#include "eval/bleu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/buf.h"
#include "eval/intern.h"
#include "eval/ngram.h"
#include "eval/ngram_any.h"
#include "eval/tok13a.h"
#include "eval/tok_intl.h"
#include "eval/unicode.h"

/* sacreBLEU's my_log(0): the floor used for zero precisions */
#define BLEU_LOG_ZERO (-9999999999.0)
#define BLEU_FLOOR_DEFAULT 0.1 /* BLEU.SMOOTH_DEFAULTS */
#define BLEU_ADDK_DEFAULT 1.0

static const char *const tok_names[] = {"13a", "none", "intl", "char", "zh"};
static const char *const smooth_names[] = {"exp", "none", "floor", "add-k"};

static int name_index(const char *const *names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(names[i], name)) return i;
  return -1;
}

int ef_bleu_tok_from_name(const char *name) { return name_index(tok_names, 5, name); }
const char *ef_bleu_tok_name(int tok) { return tok >= 0 && tok < 5 ? tok_names[tok] : NULL; }
int ef_bleu_smooth_from_name(const char *name) { return name_index(smooth_names, 4, name); }
const char *ef_bleu_smooth_name(int m) { return m >= 0 && m < 4 ? smooth_names[m] : NULL; }

static int max_order(const ef_bleu_opts *o) {
  return o->max_ngram_order > 0 && o->max_ngram_order <= EF_BLEU_ORDER_CAP ? o->max_ngram_order
                                                                           : EF_BLEU_MAX_ORDER;
}

typedef struct {
  ef_ngram *keys;
  ef_ngram_count *counts;
  size_t cap_keys, cap_counts, n;
} ngram_list;

struct ef_bleu {
  ef_bleu_opts opts;
  ef_intern vocab, long_ngrams; /* tokens; n-grams longer than ngram.h packs */
  ef_tok13a tok;
  ef_bytes lower, toks;
  ef_u32s hyp_ids, ref_ids;
  ngram_list hyp, ref;
  uint32_t *ref_max; /* per distinct hypothesis n-gram: max count over references */
  size_t cap_ref_max;
};

ef_bleu *ef_bleu_new(const ef_bleu_opts *opts) {
  ef_bleu *b = calloc(1, sizeof *b);
  if (b) b->opts = *opts;
  return b;
}

static void list_free(ngram_list *l) {
  free(l->keys);
  free(l->counts);
}

void ef_bleu_free(ef_bleu *b) {
  if (!b) return;
  ef_intern_free(&b->vocab);
  ef_intern_free(&b->long_ngrams);
  ef_tok13a_free(&b->tok);
  ef_bytes_free(&b->lower);
  ef_bytes_free(&b->toks);
  ef_u32s_free(&b->hyp_ids);
  ef_u32s_free(&b->ref_ids);
  list_free(&b->hyp);
  list_free(&b->ref);
  free(b->ref_max);
  free(b);
}

const char *ef_bleu_tokenize(ef_bleu *b, const char *s, size_t len) {
  if (ef_utf8_check(s, len, NULL)) return NULL;
  if (b->opts.lowercase) {
    if (ef_py_lower(s, len, &b->lower)) return NULL;
    s = b->lower.p;
    len = b->lower.len;
  }
  len = ef_py_rstrip_len(s, len);
  int rc;
  switch (b->opts.tokenize) {
  case EF_BLEU_TOK_NONE:
    rc = ef_tok_split_join(s, len, &b->toks);
    break;
  case EF_BLEU_TOK_INTL:
    rc = ef_tok_intl_run(&b->tok, s, len, &b->toks);
    break;
  case EF_BLEU_TOK_CHAR:
    rc = ef_tok_char_run(&b->tok, s, len, &b->toks);
    break;
  case EF_BLEU_TOK_ZH:
    rc = ef_tok_zh_run(&b->tok, s, len, &b->toks);
    break;
  default:
    rc = ef_tok13a_run(&b->tok, s, len, &b->toks);
    break;
  }
  return rc ? NULL : b->toks.p;
}

/* Tokenizes and interns s, appending the ids to ids. */
static int to_ids(ef_bleu *b, const char *s, size_t len, ef_u32s *ids) {
  if (!ef_bleu_tokenize(b, s, len)) return -1;
  const char *t = b->toks.p, *end = t + b->toks.len;
  while (t < end) {
    const char *sp = memchr(t, ' ', (size_t)(end - t));
    size_t k = sp ? (size_t)(sp - t) : (size_t)(end - t);
    int64_t id = ef_intern_id(&b->vocab, t, k);
    if (id < 0 || ef_u32s_push(ids, (uint32_t)id)) return -1;
    t += k + 1;
  }
  return 0;
}

/* Counts the order-n n-grams of ids into l. */
static int count_ngrams(ef_bleu *b, ngram_list *l, const uint32_t *ids, size_t len, int n) {
  size_t need = len + 1;
  if (ef_grow((void **)&l->keys, &l->cap_keys, need, sizeof *l->keys) ||
      ef_grow((void **)&l->counts, &l->cap_counts, need, sizeof *l->counts))
    return -1;
  size_t m = ef_ngram_any(ids, len, n, 0, &b->long_ngrams, l->keys);
  if (m == (size_t)-1) return -1;
  l->n = ef_ngram_tally(l->keys, m, l->counts);
  return 0;
}

int ef_bleu_segment(ef_bleu *b, const char *hyp, size_t hyp_len, const char *const *refs,
                    const size_t *ref_lens, int nrefs, ef_bleu_stats *out, char *err,
                    size_t errlen) {
  memset(out, 0, sizeof *out);
  if (ef_segment_check(hyp, hyp_len, refs, ref_lens, nrefs, EF_BLEU_MAX_REFS, err, errlen))
    return -1;
  b->hyp_ids.len = 0;
  b->ref_ids.len = 0;
  if (ef_u32s_reserve(&b->hyp_ids, 1) || ef_u32s_reserve(&b->ref_ids, 1)) goto oom;
  if (to_ids(b, hyp, hyp_len, &b->hyp_ids)) goto oom;
  out->hyp_len = (int64_t)b->hyp_ids.len;
  /* closest reference length: smallest |hyp - ref|, ties to the shorter reference */
  int64_t best_diff = -1, best_len = -1;
  size_t off[EF_BLEU_MAX_REFS + 1];
  for (int r = 0; r < nrefs; r++) {
    off[r] = b->ref_ids.len;
    if (to_ids(b, refs[r], ref_lens[r], &b->ref_ids)) goto oom;
    off[r + 1] = b->ref_ids.len;
    int64_t rl = (int64_t)(off[r + 1] - off[r]), d = llabs(out->hyp_len - rl);
    if (best_diff == -1 || d < best_diff)
      best_diff = d, best_len = rl;
    else if (d == best_diff && rl < best_len)
      best_len = rl;
  }
  out->ref_len = best_len;
  int order = max_order(&b->opts);
  for (int n = 1; n <= order; n++) {
    if (count_ngrams(b, &b->hyp, b->hyp_ids.p, b->hyp_ids.len, n)) goto oom;
    if (ef_grow((void **)&b->ref_max, &b->cap_ref_max, b->hyp.n + 1, sizeof *b->ref_max)) goto oom;
    memset(b->ref_max, 0, (b->hyp.n + 1) * sizeof *b->ref_max);
    for (int r = 0; r < nrefs; r++) {
      if (count_ngrams(b, &b->ref, b->ref_ids.p + off[r], off[r + 1] - off[r], n)) goto oom;
      for (size_t i = 0; i < b->hyp.n; i++) {
        uint32_t c = ef_ngram_lookup(b->ref.counts, b->ref.n, b->hyp.counts[i].key);
        if (c > b->ref_max[i]) b->ref_max[i] = c;
      }
    }
    int64_t correct = 0, total = 0;
    for (size_t i = 0; i < b->hyp.n; i++) {
      uint32_t h = b->hyp.counts[i].count;
      total += h;
      correct += h < b->ref_max[i] ? h : b->ref_max[i];
    }
    out->correct[n - 1] = correct;
    out->total[n - 1] = total;
  }
  return 0;
oom:
  snprintf(err, errlen, "out of memory (or a line over %zu bytes)", (size_t)EF_BUF_MAX_ELEMS / 8);
  return -1;
}

void ef_bleu_stats_add(ef_bleu_stats *acc, const ef_bleu_stats *s) {
  acc->hyp_len += s->hyp_len;
  acc->ref_len += s->ref_len;
  for (int n = 0; n < EF_BLEU_ORDER_CAP; n++) {
    acc->correct[n] += s->correct[n];
    acc->total[n] += s->total[n];
  }
}

static double my_log(double x) { return x == 0.0 ? BLEU_LOG_ZERO : log(x); }

static double smooth_value(const ef_bleu_opts *o) {
  if (o->has_smooth_value) return o->smooth_value;
  return o->smooth_method == EF_BLEU_SMOOTH_FLOOR  ? BLEU_FLOOR_DEFAULT
         : o->smooth_method == EF_BLEU_SMOOTH_ADDK ? BLEU_ADDK_DEFAULT
                                                   : 0.0;
}

void ef_bleu_compute_opts(const ef_bleu_stats *s, const ef_bleu_opts *o, ef_bleu_score *out) {
  memset(out, 0, sizeof *out);
  out->stats = *s;
  int order = max_order(o);
  out->order = order;
  double bp = 1.0;
  if (s->hyp_len < s->ref_len)
    bp = s->hyp_len > 0 ? exp(1.0 - (double)s->ref_len / (double)s->hyp_len) : 0.0;
  out->bp = bp;
  out->ratio = s->ref_len ? (double)s->hyp_len / (double)s->ref_len : 0.0;
  int any = 0;
  for (int n = 0; n < order; n++) any |= s->correct[n] != 0;
  if (!any) return; /* score 0, precisions 0 (#141) */
  double sv = smooth_value(o), smooth = 1.0;
  int eff = order;
  for (int n = 1; n <= order; n++) {
    double correct = (double)s->correct[n - 1], total = (double)s->total[n - 1];
    if (o->smooth_method == EF_BLEU_SMOOTH_ADDK && n > 1) correct += sv, total += sv;
    if (total == 0.0) break;
    if (o->effective_order) eff = n;
    if (correct == 0.0) {
      if (o->smooth_method == EF_BLEU_SMOOTH_EXP) {
        smooth *= 2;
        out->precisions[n - 1] = 100. / (smooth * total);
      } else if (o->smooth_method == EF_BLEU_SMOOTH_FLOOR) {
        out->precisions[n - 1] = 100. * sv / total;
      }
    } else {
      out->precisions[n - 1] = 100. * correct / total;
    }
  }
  double sum = 0.0;
  for (int n = 0; n < eff; n++) sum += my_log(out->precisions[n]);
  out->score = bp * exp(sum / eff);
}

void ef_bleu_compute(const ef_bleu_stats *s, int effective_order, ef_bleu_score *out) {
  ef_bleu_opts o = {.effective_order = effective_order};
  ef_bleu_compute_opts(s, &o, out);
}

void ef_bleu_format_width(const ef_bleu_score *s, int width, const char *sig, char *buf, size_t n) {
  size_t k = 0;
  int order = s->order > 0 ? s->order : EF_BLEU_MAX_ORDER;
#define PUT(...)                                                                                   \
  do {                                                                                             \
    int w_ = snprintf(buf + k, k < n ? n - k : 0, __VA_ARGS__);                                    \
    if (w_ > 0) k += (size_t)w_;                                                                   \
  } while (0)
  if (sig)
    PUT("BLEU|%s = %.*f ", sig, width, s->score);
  else
    PUT("BLEU = %.*f ", width, s->score);
  for (int i = 0; i < order; i++) PUT("%s%.1f", i ? "/" : "", s->precisions[i]);
  PUT(" (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = %lld)", s->bp, s->ratio,
      (long long)s->stats.hyp_len, (long long)s->stats.ref_len);
#undef PUT
}

void ef_bleu_format(const ef_bleu_score *s, char *buf, size_t n) {
  ef_bleu_format_width(s, 2, NULL, buf, n);
}

void ef_bleu_signature(const ef_bleu_opts *opts, int nrefs, char *buf, size_t n) {
  char smooth[64];
  const char *name = ef_bleu_smooth_name(opts->smooth_method);
  if (opts->smooth_method == EF_BLEU_SMOOTH_FLOOR || opts->smooth_method == EF_BLEU_SMOOTH_ADDK)
    snprintf(smooth, sizeof smooth, "%s[%.2f]", name, smooth_value(opts));
  else
    snprintf(smooth, sizeof smooth, "%s", name ? name : "exp");
  const char *tok = ef_bleu_tok_name(opts->tokenize);
  snprintf(buf, n, "nrefs:%d|case:%s|eff:%s|tok:%s|smooth:%s|version:%s", nrefs,
           opts->lowercase ? "lc" : "mixed", opts->effective_order ? "yes" : "no",
           tok ? tok : "13a", smooth, EF_SACREBLEU_VERSION);
}
