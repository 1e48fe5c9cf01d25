/* runtime/search.c: generation on top of the network in forward.c: fairseq's SequenceGenerator
 * with BeamSearch (greedy = beam 1) and Sampling, step for step (docs/generation.md):
 *  - every hypothesis starts with </s>; step t feeds the last token at position t + 2;
 *  - log-probs: NaN -> -inf, pad -inf, unk -= unkpen, at step >= max_len only </s> allowed,
 *    before min_len </s> forbidden, then n-gram blocking over the whole token buffer;
 *  - beam: the top 2·beam of (cumulative score + log-prob) over beam × V (step 0: first beam
 *    only); </s> candidates among the first `beam` finish (score / (step+1)^lenpen) unless
 *    their slot is ignored; a sentence is done with `beam` finished hypotheses or at max_len;
 *    the next beam is the first `beam` non-</s> candidates, then </s> ones (ignored slots);
 *  - finished sentences leave the batch (their rows are no longer computed).
 * Must never read outside the token buffer of a row, and never return more than nbest
 * hypotheses per sentence. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/decode_internal.h"

void rt_search_opts_default(rt_search_opts *o) {
  memset(o, 0, sizeof *o);
  o->beam = 5;
  o->lenpen = 1.0f;
  o->max_len_a = 0.0;
  o->max_len_b = 200;
  o->min_len = 1;
  o->nbest = 1;
  o->temperature = 1.0f;
  o->topk = -1;
  o->topp = -1.0f;
}

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

int rt_decoder_new(const rt_model *m, rt_kernels *k, rt_decoder **out, char *err, size_t errlen) {
  *out = NULL;
  if (rt_model_check(m, err, errlen)) return -1;
  const rt_config *c = &m->cfg;
  if (c->embed_dim / c->attention_heads > RT_MAX_HEAD_DIM || c->embed_dim % 2)
    return fail(err, errlen, "model: head dimension %d (max %d) / odd embed_dim %d",
                c->embed_dim / c->attention_heads, RT_MAX_HEAD_DIM, c->embed_dim);
  rt_decoder *d = calloc(1, sizeof *d);
  if (!d) return fail(err, errlen, "decoder: out of memory");
  d->m = m;
  d->d = c->embed_dim;
  d->H = c->attention_heads;
  d->dh = d->d / d->H;
  d->L = c->decoder_layers;
  d->k = k;
  if (!k) {
    d->k = rt_kernels_new(rt_isa_detect());
    d->own_k = 1;
  }
  d->freq = malloc((size_t)(d->d / 2) * sizeof *d->freq);
  d->xk = calloc((size_t)d->L, sizeof *d->xk);
  d->xv = calloc((size_t)d->L, sizeof *d->xv);
  d->sk = calloc((size_t)d->L, sizeof *d->sk);
  d->sv = calloc((size_t)d->L, sizeof *d->sv);
  if (!d->k || !d->freq || !d->xk || !d->xv || !d->sk || !d->sv) {
    rt_decoder_free(d);
    return fail(err, errlen, "decoder: out of memory");
  }
  int half = d->d / 2;
  float step = half > 1 ? (float)(log(10000.0) / (double)(half - 1)) : 0.0f;
  for (int i = 0; i < half; i++) d->freq[i] = expf((float)i * -step);
  *out = d;
  return 0;
}

void rt_decoder_free(rt_decoder *d) {
  if (!d) return;
  if (d->own_k) rt_kernels_free(d->k);
  rt_fbuf *bufs[] = {&d->ex, &d->eq, &d->ek, &d->ev, &d->ea, &d->et, &d->eh, &d->escore,
                     &d->row_tmp, &d->y, &d->q, &d->kk, &d->vv, &d->a, &d->t,
                     &d->h, &d->logits};
  for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]->p);
  rt_buf *raw[] = {&d->src_off, &d->src_len, &d->row_sent, &d->tokens, &d->scores,
                   &d->cand, &d->fin, &d->hypos, &d->work, &d->reorder};
  for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) free(raw[i]->p);
  for (int j = 0; j < d->L; j++) {
    if (d->xk) free(d->xk[j].p);
    if (d->xv) free(d->xv[j].p);
    if (d->sk) free(d->sk[j].p);
    if (d->sv) free(d->sv[j].p);
  }
  free(d->xk);
  free(d->xv);
  free(d->sk);
  free(d->sv);
  free(d->freq);
  free(d);
}

/* ---- candidates ------------------------------------------------------------------------- */

typedef struct {
  float score;
  int tok, beam;
} cand;

/* Insert (s, tok, beam) into the descending list c[0..*n) of capacity k. Scanning in index
 * order, a later equal score never displaces an earlier one: ties go to the lower index. */
static inline void topk_push(cand *c, int *n, int k, float s, int tok, int beam) {
  if (*n == k && !(s > c[k - 1].score)) return;
  int i = *n < k ? (*n)++ : k - 1;
  while (i > 0 && s > c[i - 1].score) {
    c[i] = c[i - 1];
    i--;
  }
  c[i] = (cand){s, tok, beam};
}

/* Push row[v] + pv for every v: most values lose to the current k-th best, so the scan first
 * finds, 16 at a time, the blocks holding any value above it. */
RT_HOT static void scan_row(const float *row, int V, float pv, int beam, cand *c, int *n, int k) {
  int v = 0;
  for (; v + 16 <= V; v += 16) {
    float lim = *n == k ? c[k - 1].score : -INFINITY;
    int any = *n < k;
    for (int i = 0; i < 16; i++) any |= row[v + i] + pv > lim;
    if (!any) continue;
    for (int i = 0; i < 16; i++) topk_push(c, n, k, row[v + i] + pv, v + i, beam);
  }
  for (; v < V; v++) topk_push(c, n, k, row[v] + pv, v, beam);
}

/* xoshiro256** for sampling (seeded per call from opts.seed) */
typedef struct { uint64_t s[4]; } rng;
static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static double rng_uniform(rng *r) {
  uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return (double)(res >> 11) * 0x1.0p-53;
}

typedef struct {
  float p;
  int tok;
} prob_tok;
static int by_prob_desc(const void *a, const void *b) {
  const prob_tok *x = a, *y = b;
  if (x->p != y->p) return x->p > y->p ? -1 : 1;
  return x->tok - y->tok;
}

/* Draw one token from a log-prob row under top-k / top-p (fairseq's Sampling: top-p keeps the
 * most probable tokens while their cumulative mass stays below p, plus the one crossing it).
 * Returns the token; *lp its log-probability. pt: scratch [V]. */
static int sample_row(const float *lp, int V, const rt_search_opts *o, rng *r, prob_tok *pt,
                      float *lp_out) {
  int n = 0;
  if (o->topp > 0.0f || o->topk > 0) {
    for (int v = 0; v < V; v++) pt[v] = (prob_tok){expf(lp[v]), v};
    qsort(pt, (size_t)V, sizeof *pt, by_prob_desc);
    if (o->topp > 0.0f) {
      double cum = 0.0;
      int keep = 0;
      while (keep < V && cum + pt[keep].p < o->topp) cum += pt[keep++].p;
      n = keep < V ? keep + 1 : V;
    } else {
      n = o->topk < V ? o->topk : V;
    }
  } else {
    n = V;
    for (int v = 0; v < V; v++) pt[v] = (prob_tok){expf(lp[v]), v};
  }
  double total = 0.0;
  for (int i = 0; i < n; i++) total += pt[i].p;
  int pick = -1;
  if (total > 0.0) {
    double u = rng_uniform(r) * total, cum = 0.0;
    for (int i = 0; i < n && pick < 0; i++) {
      cum += pt[i].p;
      if (pt[i].p > 0.0f && u < cum) pick = i;
    }
    for (int i = n - 1; pick < 0 && i >= 0; i--) /* rounding at the very end of the mass */
      if (pt[i].p > 0.0f) pick = i;
  }
  if (pick < 0) { /* every token is impossible: keep -inf, as multinomial would fail */
    *lp_out = -INFINITY;
    return RT_EOS;
  }
  *lp_out = lp[pt[pick].tok];
  return pt[pick].tok;
}

/* ---- log-prob adjustments (fairseq's order) ---------------------------------------------- */

RT_HOT static void adjust_row(float *lp, int V, const rt_search_opts *o, int step, int max_len,
                       const int *toks, int tlen) {
  for (int v = 0; v < V; v++)
    if (lp[v] != lp[v]) lp[v] = -INFINITY;
  lp[RT_PAD] = -INFINITY;
  lp[RT_UNK] -= o->unkpen;
  if (step >= max_len) {
    for (int v = 0; v < V; v++)
      if (v != RT_EOS) lp[v] = -INFINITY;
  } else if (step < o->min_len) {
    lp[RT_EOS] = -INFINITY;
  }
  int n = o->no_repeat_ngram_size;
  if (n > 0 && step + 2 - n >= 0) {
    /* the last n-1 tokens (positions step+2-n .. step) as the key; every window of the
     * whole buffer (pads included, as fairseq) whose first n-1 tokens equal it bans its last */
    const int *key = toks + step + 2 - n;
    for (int i = 0; i + n <= tlen; i++) {
      if (memcmp(toks + i, key, (size_t)(n - 1) * sizeof(int))) continue;
      int ban = toks[i + n - 1];
      if (ban >= 0 && ban < V) lp[ban] = -INFINITY;
    }
  }
}

/* ---- the generator ------------------------------------------------------------------------ */

typedef struct {
  int count;
  int *len;      /* [beam] */
  float *score;  /* [beam] */
  int *tokens;   /* [beam][TL] */
  float *pos;    /* [beam][TL] */
} finals;

static int check_opts(const rt_decoder *d, const rt_search_opts *o, char *err, size_t errlen) {
  if (o->beam < 1 || o->beam > RT_MAX_BEAM)
    return fail(err, errlen, "generate: beam %d out of range [1, %d]", o->beam, RT_MAX_BEAM);
  if (o->nbest < 1 || o->nbest > o->beam)
    return fail(err, errlen, "generate: nbest %d must be in [1, beam = %d]", o->nbest, o->beam);
  if (!isfinite(o->lenpen) || !isfinite(o->unkpen) || !isfinite(o->max_len_a) || o->max_len_a < 0)
    return fail(err, errlen, "generate: lenpen, unkpen and max_len_a must be finite "
                "(max_len_a >= 0)");
  if (o->max_len_b < 0 || o->min_len < 0 || o->no_repeat_ngram_size < 0)
    return fail(err, errlen, "generate: max_len_b, min_len and no_repeat_ngram_size must be >= 0");
  if (!(o->temperature > 0.0f) || !isfinite(o->temperature))
    return fail(err, errlen, "generate: temperature must be > 0");
  if (o->topp > 1.0f) return fail(err, errlen, "generate: topp %g must be <= 1", o->topp);
  if (o->topk > d->m->cfg.vocab_size)
    return fail(err, errlen, "generate: topk %d is larger than the vocabulary", o->topk);
  return 0;
}

int rt_generate(rt_decoder *d, int n, const int *const *src, const int *src_len,
                const rt_search_opts *o, char *err, size_t errlen) {
  const rt_config *c = &d->m->cfg;
  int V = c->vocab_size, B = o->beam;
  d->n_sent = 0;
  if (n < 1) return fail(err, errlen, "generate: no sentences");
  if (check_opts(d, o, err, errlen)) return -1;
  int src_w = 0;
  for (int i = 0; i < n; i++) {
    if (src_len[i] < 1 || !src[i])
      return fail(err, errlen, "generate: sentence %d is empty (a source ends with </s>)", i);
    if (src_len[i] > c->max_source_positions)
      return fail(err, errlen, "generate: sentence %d has %d tokens, the model allows %d", i,
                  src_len[i], c->max_source_positions);
    for (int t = 0; t < src_len[i]; t++)
      if (src[i][t] < 0 || src[i][t] >= V || src[i][t] == RT_PAD)
        return fail(err, errlen, "generate: sentence %d token %d: id %d is not a source symbol",
                    i, t, src[i][t]);
    if (src_len[i] > src_w) src_w = src_len[i];
  }
  /* fairseq: max_len = min(int(a·src_len + b), max_positions - 1), src_len = padded width */
  double ml = o->max_len_a * (double)src_w + (double)o->max_len_b;
  int max_len = ml > (double)(c->max_target_positions - 1) ? c->max_target_positions - 1 : (int)ml;
  if (max_len < 1) max_len = 1;
  int TL = max_len + 2, R0 = n * B, cs = o->sampling ? B : 2 * B;
  if (!o->sampling && cs > V - 1) cs = V - 1; /* topk over V - 1 at most (never pad) */

  /* buffers: tokens/scores (two generations for reordering), candidates, finals, results */
  size_t tok_b = (size_t)R0 * TL * sizeof(int), sc_b = (size_t)R0 * TL * sizeof(float);
  if (rt_buf_reserve(&d->tokens, 2 * tok_b) || rt_buf_reserve(&d->scores, 2 * sc_b) ||
      rt_buf_reserve(&d->cand, (size_t)n * cs * sizeof(cand) + (size_t)V * sizeof(prob_tok)) ||
      rt_buf_reserve(&d->fin, (size_t)n * sizeof(finals) +
                                  (size_t)n * B * (2 * sizeof(int) + sizeof(float)) +
                                  (size_t)n * B * TL * (sizeof(int) + sizeof(float))) ||
      rt_buf_reserve(&d->work, (size_t)R0 * 3 * sizeof(int) + (size_t)n * (3 + B) * sizeof(int) +
                                   (size_t)R0 * sizeof(float)) ||
      rt_buf_reserve(&d->hypos, (size_t)n * o->nbest * sizeof(rt_hypo)))
    return fail(err, errlen, "generate: out of memory");
  int *tokens = d->tokens.p, *tokens2 = tokens + (size_t)R0 * TL;
  float *scores = d->scores.p, *scores2 = scores + (size_t)R0 * TL;
  cand *cands = d->cand.p;
  prob_tok *pt = (prob_tok *)(cands + (size_t)n * cs);
  finals *fin = d->fin.p;
  {
    char *p = (char *)(fin + n);
    for (int i = 0; i < n; i++) {
      fin[i].count = 0;
      fin[i].len = (int *)p, p += (size_t)B * sizeof(int);
      fin[i].score = (float *)p, p += (size_t)B * sizeof(float);
      fin[i].tokens = (int *)p, p += (size_t)B * TL * sizeof(int);
      fin[i].pos = (float *)p, p += (size_t)B * TL * sizeof(float);
    }
  }
  int *from = d->work.p, *step_tok = from + R0, *eos_any = step_tok + R0;
  int *active = eos_any + R0;        /* [n] original index of each active sentence */
  int *finished = active + n;        /* [n] by original index */
  unsigned char *ignore = (unsigned char *)(finished + n); /* [n][B] by active position */

  for (int r = 0; r < R0; r++) {
    for (int t = 0; t < TL; t++) tokens[(size_t)r * TL + t] = RT_PAD;
    tokens[(size_t)r * TL] = RT_EOS;
  }
  memset(scores, 0, sc_b);
  for (int i = 0; i < n; i++) active[i] = i, finished[i] = 0;
  memset(ignore, 0, (size_t)n * B);
  int n_active = n;

  if (rt_encode(d, n, src, src_len) || rt_decoder_reserve(d, R0, max_len + 1))
    return fail(err, errlen, "generate: out of memory");
  rng rg;
  {
    uint64_t x = o->seed;
    for (int i = 0; i < 4; i++) rg.s[i] = splitmix(&x);
  }
  int lp_ok = 1;
  for (int step = 0; step <= max_len; step++) {
    int R = n_active * B;
    int *row_sent = d->row_sent.p;
    for (int r = 0; r < R; r++) {
      row_sent[r] = active[r / B];
      step_tok[r] = tokens[(size_t)r * TL + step];
    }
    if (rt_decoder_step(d, R, step_tok, step, o->temperature)) {
      lp_ok = 0;
      break;
    }
    float *lp = d->logits.p;
    for (int r = 0; r < R; r++)
      adjust_row(lp + (size_t)r * V, V, o, step, max_len, tokens + (size_t)r * TL, TL);

    /* candidates per active sentence */
    int ncand = 0;
    for (int a = 0; a < n_active; a++) {
      cand *cd = cands + (size_t)a * cs;
      int cnt = 0;
      if (!o->sampling) {
        int beams = step == 0 ? 1 : B;
        for (int b = 0; b < beams; b++) {
          float pv = step == 0 ? 0.0f : scores[(size_t)(a * B + b) * TL + step - 1];
          scan_row(lp + (size_t)(a * B + b) * V, V, pv, b, cd, &cnt, cs);
        }
      } else {
        for (int b = 0; b < B; b++) {
          int rb = step == 0 ? 0 : b;
          float l;
          int tok = sample_row(lp + (size_t)(a * B + rb) * V, V, o, &rg, pt, &l);
          float pv = step == 0 ? 0.0f : scores[(size_t)(a * B + b) * TL + step - 1];
          cd[cnt++] = (cand){step == 0 ? l : l + pv, tok, rb};
        }
      }
      ncand = cnt;
    }

    /* finalize </s> candidates among the first B (not in ignored slots) */
    int n_done_now = 0;
    for (int a = 0; a < n_active; a++) {
      int s = active[a];
      cand *cd = cands + (size_t)a * cs;
      eos_any[a] = 0;
      for (int j = 0; j < B && j < ncand; j++) {
        if (cd[j].tok != RT_EOS || cd[j].score == -INFINITY || ignore[(size_t)a * B + j]) continue;
        eos_any[a] = 1;
        finals *f = &fin[s];
        if (f->count >= B) continue;
        int row = a * B + cd[j].beam, k = f->count++;
        int *ft = f->tokens + (size_t)k * TL;
        float *fp = f->pos + (size_t)k * TL;
        memcpy(ft, tokens + (size_t)row * TL + 1, (size_t)step * sizeof(int));
        ft[step] = RT_EOS;
        const float *rs = scores + (size_t)row * TL;
        for (int t = 0; t < step; t++) fp[t] = rs[t];
        fp[step] = cd[j].score;
        for (int t = step; t > 0; t--) fp[t] = fp[t] - fp[t - 1];
        f->len[k] = step + 1;
        f->score[k] = cd[j].score / (float)pow((double)(step + 1), (double)o->lenpen);
      }
    }
    for (int a = 0; a < n_active; a++) {
      int s = active[a];
      if (eos_any[a] && !finished[s] && (fin[s].count == B || step == max_len)) {
        finished[s] = 1;
        n_done_now++;
      }
    }
    int remaining = 0;
    for (int a = 0; a < n_active; a++) remaining += !finished[active[a]];
    if (remaining == 0 || step >= max_len) break;

    /* the next beam of every unfinished sentence; finished ones leave the batch */
    int na = 0;
    for (int a = 0; a < n_active; a++) {
      int s = active[a];
      if (finished[s]) continue;
      cand *cd = cands + (size_t)a * cs;
      /* active_mask = is_eos·cs + j; take the B smallest */
      int sel[RT_MAX_BEAM * 2], ns = 0;
      unsigned char sel_ign[RT_MAX_BEAM * 2];
      for (int pass = 0; pass < 2 && ns < B; pass++)
        for (int j = 0; j < ncand && ns < B; j++) {
          int is_eos = cd[j].tok == RT_EOS && cd[j].score != -INFINITY;
          if (j < B) is_eos = is_eos || ignore[(size_t)a * B + j];
          if (is_eos == pass) {
            sel_ign[ns] = (unsigned char)pass;
            sel[ns++] = j;
          }
        }
      for (int i = 0; i < B; i++) {
        int nr = na * B + i;
        const cand *ch = &cd[sel[i < ns ? i : ns - 1]];
        from[nr] = a * B + ch->beam;
        int *dt = tokens2 + (size_t)nr * TL;
        float *dsc = scores2 + (size_t)nr * TL;
        memcpy(dt, tokens + (size_t)from[nr] * TL, (size_t)TL * sizeof(int));
        memcpy(dsc, scores + (size_t)from[nr] * TL, (size_t)TL * sizeof(float));
        dt[step + 1] = ch->tok;
        dsc[step] = ch->score;
        ignore[(size_t)na * B + i] = sel_ign[i < ns ? i : ns - 1];
      }
      active[na++] = s;
    }
    n_active = na;
    if (rt_decoder_reorder(d, n_active * B, from, step + 1)) {
      lp_ok = 0;
      break;
    }
    int *tt = tokens;
    tokens = tokens2, tokens2 = tt;
    float *ts = scores;
    scores = scores2, scores2 = ts;
  }
  if (!lp_ok) return fail(err, errlen, "generate: out of memory");

  /* results: finalized hypotheses sorted by score (stable, descending) */
  rt_hypo *hy = d->hypos.p;
  int nb = o->nbest;
  for (int i = 0; i < n; i++) {
    finals *f = &fin[i];
    int order[RT_MAX_BEAM];
    for (int k = 0; k < f->count; k++) order[k] = k;
    for (int k = 1; k < f->count; k++) {
      int x = order[k], j = k;
      while (j > 0 && f->score[order[j - 1]] < f->score[x]) order[j] = order[j - 1], j--;
      order[j] = x;
    }
    for (int k = 0; k < nb; k++) {
      rt_hypo *h = &hy[(size_t)i * nb + k];
      if (k < f->count) {
        int q = order[k];
        *h = (rt_hypo){f->tokens + (size_t)q * TL, f->len[q], f->score[q], f->pos + (size_t)q * TL};
      } else {
        *h = (rt_hypo){NULL, 0, -INFINITY, NULL};
      }
    }
  }
  d->n_sent = n;
  d->nbest = nb;
  return 0;
}

const rt_hypo *rt_decoder_hypos(const rt_decoder *d, int i, int *count) {
  if (i < 0 || i >= d->n_sent) {
    if (count) *count = 0;
    return NULL;
  }
  if (count) *count = d->nbest;
  return (const rt_hypo *)d->hypos.p + (size_t)i * d->nbest;
}
