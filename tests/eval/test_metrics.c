/* tests/eval/test_metrics.c: eval/'s BLEU, chrF, ROUGE, 13a tokenizer and Porter stemmer
 * against the numbers sacreBLEU 2.6.0, rouge-score 0.1.2 and NLTK 3.8 give on the real and
 * perturbed sentence pairs of tests/fixtures/metrics/ (written by
 * tests/reference/metric_fixtures.py), plus hand-checked corner cases. Scores printed with
 * 2 decimals must match exactly; the others within the tolerances below. */
#include <check.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/bleu.h"
#include "eval/chrf.h"
#include "eval/porter.h"
#include "eval/rouge.h"
#include "eval/unicode.h"

#define FIX EF_FIXTURES "/metrics/"
#define TOL_EXACT 1e-9 /* same arithmetic in the same order: only libm may differ */
#define TOL_ROUGE 1e-6 /* fixture values carry 7 decimals */
#define N_PAIRS 1000
#define N_REAL 700
#define N_MULTI 300
#define ERR_LEN 256
#define LINE_LEN 512

/* ---- fixture files ---------------------------------------------------------------- */

typedef struct {
  char *buf;
  char **line;
  size_t *len;
  size_t n;
} lines_t;

static void lines_load(lines_t *L, const char *name) {
  char path[LINE_LEN];
  snprintf(path, sizeof path, "%s%s", FIX, name);
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  L->buf = malloc((size_t)sz + 1);
  ck_assert(L->buf && fread(L->buf, 1, (size_t)sz, f) == (size_t)sz);
  fclose(f);
  L->buf[sz] = 0;
  size_t n = 0;
  for (long i = 0; i < sz; i++) n += L->buf[i] == '\n';
  L->line = malloc((n + 1) * sizeof *L->line);
  L->len = malloc((n + 1) * sizeof *L->len);
  L->n = 0;
  char *p = L->buf, *end = L->buf + sz;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    ck_assert_msg(nl != NULL, "%s: last line has no newline", name);
    *nl = 0;
    L->line[L->n] = p;
    L->len[L->n++] = (size_t)(nl - p);
    p = nl + 1;
  }
}

static void lines_free(lines_t *L) {
  free(L->buf);
  free(L->line);
  free(L->len);
}

/* TAB stands for '\n' in the Lsum fixtures */
static void tabs_to_newlines(lines_t *L) {
  for (size_t i = 0; i < L->n; i++)
    for (size_t k = 0; k < L->len[i]; k++)
      if (L->line[i][k] == '\t') L->line[i][k] = '\n';
}

static lines_t expected;

static int cmp_line(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void expected_load(void) {
  lines_load(&expected, "expected.tsv");
  qsort(expected.line, expected.n, sizeof *expected.line, cmp_line);
}

/* The value of key in expected.tsv (aborts the test if missing). */
static const char *ex(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *ex(const char *fmt, ...) {
  char key[LINE_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(key, sizeof key, fmt, ap);
  va_end(ap);
  size_t k = strlen(key), lo = 0, hi = expected.n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strncmp(expected.line[mid], key, k);
    if (c == 0 && expected.line[mid][k] == '\t') return expected.line[mid] + k + 1;
    if (c == 0) c = (unsigned char)expected.line[mid][k] - '\t';
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  ck_abort_msg("expected.tsv has no key %s", key);
  return NULL;
}

static double exd(const char *key) { return strtod(ex("%s", key), NULL); }

static void check_close(const char *what, double got, double want, double tol, double *maxdev) {
  double d = fabs(got - want);
  if (d > *maxdev) *maxdev = d;
  ck_assert_msg(d <= tol, "%s: got %.17g, sacreBLEU/rouge-score %.17g", what, got, want);
}

/* ---- BLEU ------------------------------------------------------------------------- */

static lines_t hyp, ref, ref2;

static void pairs_setup(void) {
  expected_load();
  lines_load(&hyp, "bleu_hyp.txt");
  lines_load(&ref, "bleu_ref.txt");
  lines_load(&ref2, "bleu_ref2.txt");
  ck_assert_uint_eq(hyp.n, N_PAIRS);
  ck_assert_uint_eq(ref.n, N_PAIRS);
  ck_assert_uint_eq(ref2.n, N_PAIRS);
}

static void pairs_teardown(void) {
  lines_free(&expected);
  lines_free(&hyp);
  lines_free(&ref);
  lines_free(&ref2);
}

static const struct {
  const char *name;
  size_t a, b;
} sets[] = {{"real", 0, N_REAL}, {"pert", N_REAL, N_PAIRS}, {"all", 0, N_PAIRS}};

START_TEST(corpus_bleu_matches_sacrebleu) {
  double maxdev = 0;
  char err[ERR_LEN], buf[EF_BLEU_LINE_MAX], what[LINE_LEN];
  for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++)
    for (int nrefs = 1; nrefs <= 2; nrefs++)
      for (int lc = 0; lc <= 1; lc++) {
        ef_bleu_opts o = {.lowercase = lc, .effective_order = 0};
        ef_bleu *b = ef_bleu_new(&o);
        ef_bleu_stats corpus = {0}, seg;
        for (size_t i = sets[si].a; i < sets[si].b; i++) {
          const char *rs[2] = {ref.line[i], ref2.line[i]};
          size_t rl[2] = {ref.len[i], ref2.len[i]};
          ck_assert_msg(
              !ef_bleu_segment(b, hyp.line[i], hyp.len[i], rs, rl, nrefs, &seg, err, sizeof err),
              "%s", err);
          ef_bleu_stats_add(&corpus, &seg);
        }
        ef_bleu_score s;
        ef_bleu_compute(&corpus, 0, &s);
        char tag[64];
        snprintf(tag, sizeof tag, "%s.r%d.%s", sets[si].name, nrefs, lc ? "lc" : "mixed");
        snprintf(what, sizeof what, "BLEU %s", tag);
        /* integer statistics: exact */
        char counts[LINE_LEN];
        snprintf(counts, sizeof counts, "%lld %lld %lld %lld %lld %lld %lld %lld",
                 (long long)corpus.correct[0], (long long)corpus.correct[1],
                 (long long)corpus.correct[2], (long long)corpus.correct[3],
                 (long long)corpus.total[0], (long long)corpus.total[1], (long long)corpus.total[2],
                 (long long)corpus.total[3]);
        ck_assert_str_eq(counts, ex("bleu.%s.counts", tag));
        char lens[LINE_LEN];
        snprintf(lens, sizeof lens, "%lld %lld", (long long)corpus.hyp_len,
                 (long long)corpus.ref_len);
        ck_assert_str_eq(lens, ex("bleu.%s.lens", tag));
        check_close(what, s.score, strtod(ex("bleu.%s.score", tag), NULL), TOL_EXACT, &maxdev);
        check_close(what, s.bp, strtod(ex("bleu.%s.bp", tag), NULL), TOL_EXACT, &maxdev);
        char *p = (char *)ex("bleu.%s.precisions", tag);
        for (int n = 0; n < EF_BLEU_MAX_ORDER; n++)
          check_close(what, s.precisions[n], strtod(p, &p), TOL_EXACT, &maxdev);
        ef_bleu_format(&s, buf, sizeof buf);
        ck_assert_str_eq(buf, ex("bleu.%s.line", tag));
        ef_bleu_signature(&o, nrefs, buf, sizeof buf);
        ck_assert_str_eq(buf, ex("bleu.%s.sig", tag));
        ef_bleu_free(b);
      }
  printf("corpus BLEU: 12 configurations x up to %d pairs, max |dev| %.3g\n", N_PAIRS, maxdev);
}
END_TEST

START_TEST(sentence_bleu_matches_sacrebleu) {
  double maxdev = 0;
  char err[ERR_LEN], key[64], buf[EF_BLEU_LINE_MAX];
  ef_bleu_opts o = {.lowercase = 0, .effective_order = 1};
  ef_bleu *b = ef_bleu_new(&o);
  for (size_t i = 0; i < N_PAIRS; i++)
    for (int nrefs = 1; nrefs <= 2; nrefs++) {
      const char *rs[2] = {ref.line[i], ref2.line[i]};
      size_t rl[2] = {ref.len[i], ref2.len[i]};
      ef_bleu_stats seg;
      ck_assert(!ef_bleu_segment(b, hyp.line[i], hyp.len[i], rs, rl, nrefs, &seg, err, sizeof err));
      ef_bleu_score s;
      ef_bleu_compute(&seg, 1, &s);
      snprintf(key, sizeof key, "%s.%zu", nrefs == 1 ? "sbleu" : "sbleu2", i);
      check_close(key, s.score, exd(key), TOL_EXACT, &maxdev);
    }
  ef_bleu_signature(&o, 2, buf, sizeof buf); /* sacreBLEU's last call had 2 references */
  ck_assert_str_eq(buf, ex("sbleu.sig"));
  ef_bleu_free(b);
  printf("sentence BLEU: %d pairs x 1 and 2 references, max |dev| %.3g\n", N_PAIRS, maxdev);
}
END_TEST

START_TEST(tok13a_matches_sacrebleu) {
  for (int lc = 0; lc <= 1; lc++) {
    ef_bleu_opts o = {.lowercase = lc};
    ef_bleu *b = ef_bleu_new(&o);
    for (size_t i = N_REAL; i < N_PAIRS; i++) {
      const char *t = ef_bleu_tokenize(b, hyp.line[i], hyp.len[i]);
      ck_assert(t != NULL);
      ck_assert_str_eq(t, ex("%s.%zu", lc ? "tok13a_lc" : "tok13a", i));
    }
    ef_bleu_free(b);
  }
}
END_TEST

/* ---- chrF ------------------------------------------------------------------------- */

START_TEST(chrf_matches_sacrebleu) {
  double maxdev = 0;
  char err[ERR_LEN], buf[EF_BLEU_LINE_MAX], key[64];
  for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++)
    for (int nrefs = 1; nrefs <= 2; nrefs++)
      for (int lc = 0; lc <= 1; lc++) {
        ef_chrf_opts o = {.lowercase = lc};
        ef_chrf *c = ef_chrf_new(&o);
        ef_chrf_stats corpus = {{0}}, seg;
        for (size_t i = sets[si].a; i < sets[si].b; i++) {
          const char *rs[2] = {ref.line[i], ref2.line[i]};
          size_t rl[2] = {ref.len[i], ref2.len[i]};
          ck_assert_msg(
              !ef_chrf_segment(c, hyp.line[i], hyp.len[i], rs, rl, nrefs, &seg, err, sizeof err),
              "%s", err);
          ef_chrf_stats_add(&corpus, &seg);
        }
        char tag[64];
        snprintf(tag, sizeof tag, "%s.r%d.%s", sets[si].name, nrefs, lc ? "lc" : "mixed");
        double sc = ef_chrf_compute(&corpus);
        check_close(tag, sc, strtod(ex("chrf.%s.score", tag), NULL), TOL_EXACT, &maxdev);
        ef_chrf_format(sc, buf, sizeof buf);
        ck_assert_str_eq(buf, ex("chrf.%s.line", tag));
        ef_chrf_signature(&o, nrefs, buf, sizeof buf);
        ck_assert_str_eq(buf, ex("chrf.%s.sig", tag));
        ef_chrf_free(c);
      }
  ef_chrf_opts o = {0};
  ef_chrf *c = ef_chrf_new(&o);
  for (size_t i = 0; i < N_PAIRS; i++) {
    const char *rs[1] = {ref.line[i]};
    ef_chrf_stats seg;
    ck_assert(
        !ef_chrf_segment(c, hyp.line[i], hyp.len[i], rs, &ref.len[i], 1, &seg, err, sizeof err));
    snprintf(key, sizeof key, "schrf.%zu", i);
    check_close(key, ef_chrf_compute(&seg), exd(key), TOL_EXACT, &maxdev);
  }
  ef_chrf_free(c);
  printf("chrF: 12 corpus configurations + %d sentences, max |dev| %.3g\n", N_PAIRS, maxdev);
}
END_TEST

/* ---- ROUGE ------------------------------------------------------------------------ */

static void check_rouge(const ef_rouge_score *s, const char *key, double *maxdev) {
  const char *p = ex("%s", key);
  char *q = (char *)p;
  for (int t = 0; t < EF_ROUGE_NTYPES; t++) {
    char what[LINE_LEN];
    snprintf(what, sizeof what, "%s %s", key, ef_rouge_type_name(t));
    check_close(what, s->s[t].p, strtod(q, &q), TOL_ROUGE, maxdev);
    check_close(what, s->s[t].r, strtod(q, &q), TOL_ROUGE, maxdev);
    check_close(what, s->s[t].f, strtod(q, &q), TOL_ROUGE, maxdev);
  }
}

static size_t rouge_set(ef_rouge *r, const char *st, const char *set, const lines_t *pred,
                        const lines_t *tgt, double *maxdev) {
  char err[ERR_LEN], key[64];
  for (size_t i = 0; i < pred->n; i++) {
    ef_rouge_score s;
    const char *t[1] = {tgt->line[i]};
    ck_assert_msg(!ef_rouge_score_pair(r, pred->line[i], pred->len[i], t, &tgt->len[i], 1, &s, err,
                                       sizeof err),
                  "%s", err);
    snprintf(key, sizeof key, "rouge.%s.%s.%zu", st, set, i);
    check_rouge(&s, key, maxdev);
  }
  return pred->n;
}

START_TEST(rouge_matches_rouge_score) {
  double maxdev = 0;
  size_t n = 0;
  lines_t dp, dt, lp, lt;
  lines_load(&dp, "desc_pred.txt");
  lines_load(&dt, "desc_target.txt");
  lines_load(&lp, "lsum_pred.txt");
  lines_load(&lt, "lsum_target.txt");
  tabs_to_newlines(&lp);
  tabs_to_newlines(&lt);
  for (int stem = 0; stem <= 1; stem++) {
    ef_rouge *r = ef_rouge_new(stem);
    const char *st = stem ? "stem" : "nostem";
    n += rouge_set(r, st, "bleu", &hyp, &ref, &maxdev);
    n += rouge_set(r, st, "desc", &dp, &dt, &maxdev);
    n += rouge_set(r, st, "lsum", &lp, &lt, &maxdev);
    ef_rouge_free(r);
  }
  ef_rouge *r = ef_rouge_new(1);
  char err[ERR_LEN], key[64];
  for (size_t i = N_REAL; i < N_REAL + N_MULTI; i++, n++) {
    const char *t[2] = {ref.line[i], ref2.line[i]};
    size_t tl[2] = {ref.len[i], ref2.len[i]};
    ef_rouge_score s;
    ck_assert(!ef_rouge_score_pair(r, hyp.line[i], hyp.len[i], t, tl, 2, &s, err, sizeof err));
    snprintf(key, sizeof key, "rouge.multi.%zu", i);
    check_rouge(&s, key, &maxdev);
  }
  ef_rouge_free(r);
  lines_free(&dp);
  lines_free(&dt);
  lines_free(&lp);
  lines_free(&lt);
  printf("ROUGE: %zu scored pairs (P/R/F of 4 types each), max |dev| %.3g\n", n, maxdev);
}
END_TEST

START_TEST(porter_matches_nltk) {
  lines_t w;
  lines_load(&w, "porter.txt");
  char out[LINE_LEN + EF_PORTER_GROWTH];
  for (size_t i = 0; i < w.n; i++) {
    char *tab = memchr(w.line[i], '\t', w.len[i]);
    ck_assert(tab && tab - w.line[i] < LINE_LEN);
    size_t k = ef_porter_stem(w.line[i], (size_t)(tab - w.line[i]), out);
    out[k] = 0;
    ck_assert_msg(!strcmp(out, tab + 1), "stem(%.*s) = %s, NLTK %s", (int)(tab - w.line[i]),
                  w.line[i], out, tab + 1);
  }
  printf("Porter: %zu words identical to NLTK\n", w.n);
  lines_free(&w);
}
END_TEST

/* ---- hand-checked corner cases ---------------------------------------------------- */

static const char *tok(ef_bleu *b, const char *s) { return ef_bleu_tokenize(b, s, strlen(s)); }

START_TEST(tok13a_corner_cases) {
  ef_bleu_opts o = {0};
  ef_bleu *b = ef_bleu_new(&o);
  ck_assert_str_eq(tok(b, ""), "");
  ck_assert_str_eq(tok(b, "   \t "), "");
  ck_assert_str_eq(tok(b, "Hello, world."), "Hello , world .");
  ck_assert_str_eq(tok(b, "1,000.50 and 3.14"), "1,000.50 and 3.14");
  ck_assert_str_eq(tok(b, "pages 12-15"), "pages 12 - 15");
  ck_assert_str_eq(tok(b, "well-known"), "well-known");
  ck_assert_str_eq(tok(b, "&quot;hi&quot; &amp;lt; &amp;amp;"), "\" hi \" < & amp ;");
  ck_assert_str_eq(tok(b, "a<skipped>b"), "ab");
  ck_assert_str_eq(tok(b, "don't"), "don't");
  ck_assert_str_eq(tok(b, "e.g. U.S.A."), "e . g . U . S . A .");
  ck_assert_str_eq(tok(b, "\xc2\xa0x\xe3\x80\x80y\xc2\x85"), "x y"); /* NBSP, U+3000, NEL */
  ck_assert_str_eq(tok(b, "caf\xc3\xa9."), "caf\xc3\xa9 .");
  ck_assert(ef_bleu_tokenize(b, "\xff", 1) == NULL);
  ef_bleu_free(b);
  ef_bleu_opts lc = {.lowercase = 1};
  b = ef_bleu_new(&lc);
  /* Python lower(): final sigma, dotted capital I -> i + U+0307, Kelvin sign -> k */
  ck_assert_str_eq(tok(b, "\xce\xa3\xce\x9f\xce\xa3 \xc4\xb0 \xe2\x84\xaa"),
                   "\xcf\x83\xce\xbf\xcf\x82 i\xcc\x87 k");
  ef_bleu_free(b);
}
END_TEST

START_TEST(porter_corner_cases) {
  static const char *const cases[][2] = {{"caresses", "caress"},
                                         {"ponies", "poni"},
                                         {"ties", "tie"},
                                         {"dying", "die"},
                                         {"hopping", "hop"},
                                         {"filing", "file"},
                                         {"generalization", "gener"},
                                         {"happy", "happi"},
                                         {"sky", "sky"},
                                         {"conditional", "condit"},
                                         {"radicalli", "radic"},
                                         {"archaeology", "archaeolog"},
                                         {"agreed", "agre"},
                                         {"feed", "feed"},
                                         {"controll", "control"},
                                         {"at", "at"},
                                         {"1990s", "1990"}};
  char out[64];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t k = ef_porter_stem(cases[i][0], strlen(cases[i][0]), out);
    out[k] = 0;
    ck_assert_msg(!strcmp(out, cases[i][1]), "stem(%s) = %s, want %s", cases[i][0], out,
                  cases[i][1]);
  }
}
END_TEST

START_TEST(empty_and_invalid_inputs) {
  char err[ERR_LEN];
  ef_bleu_opts o = {0};
  ef_bleu *b = ef_bleu_new(&o);
  ef_bleu_stats s;
  const char *refs[1] = {""};
  size_t rl[1] = {0};
  ck_assert(!ef_bleu_segment(b, "", 0, refs, rl, 1, &s, err, sizeof err));
  ef_bleu_score sc;
  ef_bleu_compute(&s, 0, &sc);
  ck_assert(sc.score == 0.0 && sc.bp == 1.0 && sc.ratio == 0.0);
  refs[0] = "ok";
  rl[0] = 2;
  ck_assert(ef_bleu_segment(b, "a\xc3", 2, refs, rl, 1, &s, err, sizeof err) == -1);
  ck_assert_str_eq(err, "hypothesis is not valid UTF-8 at byte 2");
  ck_assert(ef_bleu_segment(b, "\xed\xa0\x80", 3, refs, rl, 1, &s, err, sizeof err) == -1);
  ck_assert(ef_bleu_segment(b, "ok", 2, refs, rl, 0, &s, err, sizeof err) == -1);
  ef_bleu_free(b);

  ef_rouge *r = ef_rouge_new(1);
  ef_rouge_score rs;
  ck_assert(!ef_rouge_score_pair(r, "", 0, refs, rl, 1, &rs, err, sizeof err));
  for (int t = 0; t < EF_ROUGE_NTYPES; t++) ck_assert(rs.s[t].f == 0.0);
  ck_assert(ef_rouge_score_pair(r, "x", 1, (const char *[]){"\xc0\xaf"}, (size_t[]){2}, 1, &rs, err,
                                sizeof err) == -1);
  ef_rouge_free(r);

  ef_chrf_opts co = {0};
  ef_chrf *c = ef_chrf_new(&co);
  ef_chrf_stats cs;
  ck_assert(!ef_chrf_segment(c, "", 0, refs, rl, 1, &cs, err, sizeof err));
  ck_assert(ef_chrf_compute(&cs) == 0.0);
  ef_chrf_free(c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("metrics");
  TCase *tc = tcase_create("reference");
  tcase_add_checked_fixture(tc, pairs_setup, pairs_teardown);
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, corpus_bleu_matches_sacrebleu);
  tcase_add_test(tc, sentence_bleu_matches_sacrebleu);
  tcase_add_test(tc, tok13a_matches_sacrebleu);
  tcase_add_test(tc, chrf_matches_sacrebleu);
  tcase_add_test(tc, rouge_matches_rouge_score);
  tcase_add_test(tc, porter_matches_nltk);
  suite_add_tcase(s, tc);
  TCase *unit = tcase_create("unit");
  tcase_add_test(unit, tok13a_corner_cases);
  tcase_add_test(unit, porter_corner_cases);
  tcase_add_test(unit, empty_and_invalid_inputs);
  suite_add_tcase(s, unit);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
