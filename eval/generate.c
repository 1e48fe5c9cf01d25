/* eval/generate.c: dataset generation and scoring (see generate.h). Must never print a
 * hypothesis under the wrong sample id nor score a subset silently: every sentence of the
 * requested range is generated, printed and scored, or the call fails. */
#include "eval/generate.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval/chrf.h"

#define G(f) offsetof(ef_gen_opts, f)
const ef_key ef_gen_keys[] = {
    {"generate", "beam", EF_KEY_INT, G(beam), 1, RT_MAX_BEAM, NULL, "beam size (1 = greedy)"},
    {"generate", "nbest", EF_KEY_INT, G(nbest), 1, RT_MAX_BEAM, NULL, "hypotheses printed per sentence"},
    {"generate", "lenpen", EF_KEY_FLOAT, G(lenpen), -100, 100, NULL,
     "length penalty: score / length^lenpen"},
    {"generate", "max_len_a", EF_KEY_FLOAT, G(max_len_a), 0, 1e6, NULL,
     "max length = a * source length + b"},
    {"generate", "max_len_b", EF_KEY_INT, G(max_len_b), 0, 1 << 20, NULL, "see max_len_a"},
    {"generate", "min_len", EF_KEY_INT, G(min_len), 0, 1 << 20, NULL, "minimum generated length"},
    {"generate", "no_repeat_ngram_size", EF_KEY_INT, G(no_repeat_ngram_size), 0, 64, NULL,
     "block repeated n-grams of this size (0 = off)"},
    {"generate", "unkpen", EF_KEY_FLOAT, G(unkpen), -1e6, 1e6, NULL, "unknown-word penalty"},
    {"generate", "temperature", EF_KEY_FLOAT, G(temperature), 1e-6, 1e6, NULL,
     "divide logits by this before softmax"},
    {"generate", "sampling", EF_KEY_BOOL, G(sampling), 0, 1, NULL, "sample instead of beam search"},
    {"generate", "sampling_topk", EF_KEY_INT, G(sampling_topk), -1, 1 << 22, NULL,
     "sample from the k most likely tokens (-1 = off)"},
    {"generate", "sampling_topp", EF_KEY_FLOAT, G(sampling_topp), -1, 1, NULL,
     "sample from the smallest set of mass p (-1 = off)"},
    {"generate", "seed", EF_KEY_INT, G(seed), 0, 2147483647, NULL, "sampling seed"},
    {"generate", "batch_size", EF_KEY_INT, G(batch_size), 1, 4096, NULL,
     "sentences per decoder call"},
    {"generate", "max_sentences", EF_KEY_INT, G(max_sentences), 0, 2147483647, NULL,
     "generate only the first N sentences (0 = all)"},
    {"generate", "truncate_source", EF_KEY_BOOL, G(truncate_source), 0, 1, NULL,
     "cut over-long sources to max_source_positions instead of failing"},
    {"generate", "threads", EF_KEY_INT, G(threads), 1, 64, NULL, "runtime threads"},
    {"generate", "quiet", EF_KEY_BOOL, G(quiet), 0, 1, NULL, "only print the scores"},
};
const int ef_gen_n_keys = (int)(sizeof ef_gen_keys / sizeof *ef_gen_keys);

void ef_gen_opts_default(ef_gen_opts *o) {
  memset(o, 0, sizeof *o);
  rt_search_opts s;
  rt_search_opts_default(&s);
  o->beam = s.beam;
  o->nbest = s.nbest;
  o->lenpen = s.lenpen;
  o->max_len_a = (float)s.max_len_a;
  o->max_len_b = s.max_len_b;
  o->min_len = s.min_len;
  o->temperature = 1.0f;
  o->sampling_topk = -1;
  o->sampling_topp = -1.0f;
  o->batch_size = 32;
  o->threads = 1;
}

void ef_gen_search_opts(const ef_gen_opts *o, rt_search_opts *s) {
  rt_search_opts_default(s);
  s->beam = o->beam;
  s->nbest = o->nbest;
  s->lenpen = o->lenpen;
  /* the decimal the user wrote, as Python's float would hold it */
  char buf[64];
  snprintf(buf, sizeof buf, "%.9g", o->max_len_a);
  s->max_len_a = strtod(buf, NULL);
  s->max_len_b = o->max_len_b;
  s->min_len = o->min_len;
  s->no_repeat_ngram_size = o->no_repeat_ngram_size;
  s->unkpen = o->unkpen;
  s->temperature = o->temperature;
  s->sampling = o->sampling;
  s->topk = o->sampling_topk;
  s->topp = o->sampling_topp;
  s->seed = (uint64_t)o->seed;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A growable copy of a decoded string (the codec buffer is reused per call). */
static char *dup_n(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (p) memcpy(p, s, n), p[n] = '\0';
  return p;
}

typedef struct {
  ef_bleu *bleu;
  ef_chrf *chrf;
  ef_bleu_stats bs, cbs;
  ef_chrf_stats cs, ccs;
} scorer;

static int score_pair(scorer *sc, const char *hyp, const char *src, const char *ref, char *err,
                      size_t errlen) {
  const char *refs[1] = {ref};
  size_t rl[1] = {strlen(ref)};
  ef_bleu_stats b;
  ef_chrf_stats c;
  if (ef_bleu_segment(sc->bleu, hyp, strlen(hyp), refs, rl, 1, &b, err, errlen) ||
      ef_chrf_segment(sc->chrf, hyp, strlen(hyp), refs, rl, 1, &c, err, errlen))
    return -1;
  ef_bleu_stats_add(&sc->bs, &b);
  ef_chrf_stats_add(&sc->cs, &c);
  if (ef_bleu_segment(sc->bleu, src, strlen(src), refs, rl, 1, &b, err, errlen) ||
      ef_chrf_segment(sc->chrf, src, strlen(src), refs, rl, 1, &c, err, errlen))
    return -1;
  ef_bleu_stats_add(&sc->cbs, &b);
  ef_chrf_stats_add(&sc->ccs, &c);
  return 0;
}

int ef_generate_dataset(const rt_model *m, const ef_codec *codec, const ef_dataset *ds,
                        const ef_gen_opts *o, FILE *out, ef_gen_result *res, char *err,
                        size_t errlen) {
  memset(res, 0, sizeof *res);
  char msg[512];
  rt_search_opts so;
  ef_gen_search_opts(o, &so);
  int64_t n = ds->n;
  if (o->max_sentences > 0 && o->max_sentences < n) n = o->max_sentences;
  int bs = o->batch_size > 0 ? o->batch_size : 1, maxS = m->cfg.max_source_positions;
  rt_kernels *k = rt_kernels_new(rt_isa_detect());
  rt_decoder *dec = NULL;
  ef_bleu_opts bo = {0};
  ef_chrf_opts co = {0};
  scorer sc = {ef_bleu_new(&bo), ef_chrf_new(&co)};
  ef_codec_buf cb = {0};
  const int **src = malloc((size_t)bs * sizeof *src);
  int *slen = malloc((size_t)bs * sizeof *slen);
  int32_t *trunc = malloc((size_t)bs * maxS * sizeof *trunc);
  int rc = -1;
  if (!k || !sc.bleu || !sc.chrf || !src || !slen || !trunc) {
    snprintf(err, errlen, "generate: out of memory");
    goto done;
  }
  if (o->threads > 1) rt_kernels_set_threads(k, o->threads);
  if (rt_decoder_new(m, k, &dec, err, errlen)) goto done;
  double t0 = now();
  for (int64_t b0 = 0; b0 < n; b0 += bs) {
    int nb = (int)(n - b0 < bs ? n - b0 : bs);
    for (int i = 0; i < nb; i++) {
      int64_t id = b0 + i;
      const int32_t *s = ds->src.tokens + ds->src.offsets[id];
      int len = (int)ef_dataset_len(&ds->src, id);
      if (len > maxS) {
        if (!o->truncate_source) {
          snprintf(err, errlen, "sentence %lld (line %lld) has %d source tokens, the model allows "
                   "%d (use --truncate-source to cut it)", (long long)id,
                   (long long)(ds->line ? ds->line[id] : id + 1), len, maxS);
          goto done;
        }
        /* fairseq's --truncate-source: the first maxS - 1 tokens, then </s> */
        int32_t *t = trunc + (size_t)i * maxS;
        memcpy(t, s, (size_t)(maxS - 1) * sizeof *t);
        t[maxS - 1] = EF_DICT_EOS;
        s = t;
        res->n_truncated++;
        len = maxS;
      }
      src[i] = s;
      slen[i] = len;
    }
    if (rt_generate(dec, nb, src, slen, &so, msg, sizeof msg)) {
      snprintf(err, errlen, "sentences %lld..%lld: %s", (long long)b0, (long long)(b0 + nb - 1),
               msg);
      goto done;
    }
    for (int i = 0; i < nb; i++) {
      int64_t id = b0 + i;
      char *stext = NULL, *ttext = NULL;
      int sl = ef_codec_decode(codec, 0, ds->src.tokens + ds->src.offsets[id],
                               (int)ef_dataset_len(&ds->src, id), &cb, msg, sizeof msg);
      if (sl >= 0) stext = dup_n(cb.text, (size_t)sl);
      int tl = ef_codec_decode(codec, 1, ds->tgt.tokens + ds->tgt.offsets[id],
                               (int)ef_dataset_len(&ds->tgt, id), &cb, msg, sizeof msg);
      if (tl >= 0) ttext = dup_n(cb.text, (size_t)tl);
      if (sl < 0 || tl < 0 || !stext || !ttext) {
        free(stext);
        free(ttext);
        snprintf(err, errlen, "sentence %lld: %s", (long long)id, sl < 0 || tl < 0 ? msg : "out of memory");
        goto done;
      }
      if (out && !o->quiet) fprintf(out, "S-%lld\t%s\nT-%lld\t%s\n", (long long)id, stext, (long long)id, ttext);
      int cnt = 0;
      const rt_hypo *h = rt_decoder_hypos(dec, i, &cnt);
      for (int k2 = 0; k2 < cnt; k2++) {
        if (!h[k2].tokens) continue;
        int hl = ef_codec_decode(codec, 1, h[k2].tokens, h[k2].len, &cb, msg, sizeof msg);
        if (hl < 0) {
          free(stext);
          free(ttext);
          snprintf(err, errlen, "sentence %lld: hypothesis: %s", (long long)id, msg);
          goto done;
        }
        if (k2 == 0) {
          res->n_tokens += h[k2].len;
          if (score_pair(&sc, cb.text, stext, ttext, msg, sizeof msg)) {
            free(stext);
            free(ttext);
            snprintf(err, errlen, "sentence %lld: %s", (long long)id, msg);
            goto done;
          }
        }
        if (out && !o->quiet) {
          double s2 = (double)h[k2].score / M_LN2;
          fprintf(out, "H-%lld\t%.9g\t%s\nD-%lld\t%.9g\t%s\nP-%lld\t", (long long)id, s2, cb.text,
                  (long long)id, s2, cb.text, (long long)id);
          for (int t = 0; t < h[k2].len; t++)
            fprintf(out, "%s%.4f", t ? " " : "", (double)h[k2].pos_scores[t] / M_LN2);
          fputc('\n', out);
        }
      }
      free(stext);
      free(ttext);
    }
  }
  res->seconds = now() - t0;
  res->n_sent = n;
  ef_bleu_compute(&sc.bs, 0, &res->bleu);
  ef_bleu_compute(&sc.cbs, 0, &res->copy_bleu);
  res->chrf = ef_chrf_compute(&sc.cs);
  res->copy_chrf = ef_chrf_compute(&sc.ccs);
  ef_bleu_signature(&bo, 1, res->bleu_sig, sizeof res->bleu_sig);
  ef_chrf_signature(&co, 1, res->chrf_sig, sizeof res->chrf_sig);
  rc = 0;
done:
  rt_decoder_free(dec);
  rt_kernels_free(k);
  ef_bleu_free(sc.bleu);
  ef_chrf_free(sc.chrf);
  ef_codec_buf_free(&cb);
  free(src);
  free(slen);
  free(trunc);
  return rc;
}

void ef_gen_print_scores(FILE *f, const char *subset, const ef_gen_opts *o, const ef_gen_result *r) {
  char line[EF_BLEU_LINE_MAX], cl[64], copy[EF_BLEU_LINE_MAX], ccl[64];
  ef_bleu_format(&r->bleu, line, sizeof line);
  ef_chrf_format(r->chrf, cl, sizeof cl);
  ef_bleu_format(&r->copy_bleu, copy, sizeof copy);
  ef_chrf_format(r->copy_chrf, ccl, sizeof ccl);
  fprintf(f, "Generate %s with beam=%d: %s\n", subset, o->beam, line);
  fprintf(f, "Generate %s with beam=%d: %s\n", subset, o->beam, cl);
  fprintf(f, "BLEU signature: %s\nchrF2 signature: %s\n", r->bleu_sig, r->chrf_sig);
  fprintf(f, "copy-source baseline on %s: %s | %s\n", subset, copy, ccl);
}
