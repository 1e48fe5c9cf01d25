/* tests/eval/test_sacrebleu_options.c: eval/'s BLEU and chrF options against sacreBLEU 2.6.0
 * itself (tests/fixtures/sacrebleu/, written by tests/reference/sacrebleu_options.py):
 * sacreBLEU's own test cases (test_bleu.py, test_chrf.py, test_sentence_bleu.py) re-expressed
 * as library calls, and its intl / zh / char / 13a tokenizers on corner-case lines and on code
 * points around every border of eval/tok_tables.h. Scores must agree to 1e-9 (same arithmetic
 * in the same order), score lines and signatures byte for byte, tokens exactly. The command
 * line's options are checked by tests/eval/test_score_options.sh. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/bleu.h"
#include "eval/chrf.h"
#include "eval/tok13a.h"

#define FIX EF_FIXTURES "/sacrebleu/"
#define TOL_SCORE 1e-9
#define MAX_FIELDS 64
#define ERR_LEN 256
#define N_FAMILIES 3

/* ---- TSV with escaped fields ---------------------------------------------------------- */

static char *slurp(const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s%s", FIX, name);
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)sz + 1);
  ck_assert(b && fread(b, 1, (size_t)sz, f) == (size_t)sz);
  fclose(f);
  b[sz] = 0;
  *len = (size_t)sz;
  return b;
}

/* Splits the line at p (NUL-terminated, no newline) on TABs in place, unescaping \\ \t \n \r;
 * returns the number of fields, each with its length. */
static int split_fields(char *p, char **f, size_t *fl, int max) {
  int n = 0;
  for (;;) {
    ck_assert(n < max);
    f[n] = p;
    char *o = p;
    while (*p && *p != '\t') {
      if (*p == '\\' && p[1]) {
        p++;
        *o++ = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p == 'r' ? '\r' : *p;
        p++;
      } else {
        *o++ = *p++;
      }
    }
    int end = !*p;
    *o = 0;
    fl[n] = (size_t)(o - f[n]);
    n++;
    if (end) return n;
    p++;
  }
}

/* Iterates the lines of buf: returns the next line (NUL-terminated) or NULL. */
static char *next_line(char **cur, char *end) {
  if (*cur >= end) return NULL;
  char *l = *cur, *nl = memchr(l, '\n', (size_t)(end - l));
  ck_assert(nl != NULL);
  *nl = 0;
  *cur = nl + 1;
  return l;
}

/* "key=value,..." of the fixture into the options. */
static void parse_opts(const char *s, ef_bleu_opts *bo, ef_chrf_opts *co) {
  memset(bo, 0, sizeof *bo);
  memset(co, 0, sizeof *co);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", s);
  for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
    char *v = strchr(kv, '=');
    ck_assert(v != NULL);
    *v++ = 0;
    if (!strcmp(kv, "tok")) {
      bo->tokenize = ef_bleu_tok_from_name(v);
      ck_assert_int_ge(bo->tokenize, 0);
    } else if (!strcmp(kv, "smooth")) {
      bo->smooth_method = ef_bleu_smooth_from_name(v);
      ck_assert_int_ge(bo->smooth_method, 0);
    } else if (!strcmp(kv, "smooth_value")) {
      bo->smooth_value = strtod(v, NULL);
      bo->has_smooth_value = 1;
    } else if (!strcmp(kv, "eff")) {
      bo->effective_order = atoi(v);
    } else if (!strcmp(kv, "lc")) {
      bo->lowercase = atoi(v);
    } else if (!strcmp(kv, "order")) {
      bo->max_ngram_order = atoi(v);
    } else if (!strcmp(kv, "nc")) {
      co->char_order = atoi(v);
      co->no_chars = co->char_order == 0;
    } else if (!strcmp(kv, "nw")) {
      co->word_order = atoi(v);
    } else if (!strcmp(kv, "beta")) {
      co->beta = atoi(v);
      co->beta_zero = co->beta == 0;
    } else if (!strcmp(kv, "space")) {
      co->whitespace = atoi(v);
    } else if (!strcmp(kv, "eps")) {
      co->eps_smoothing = atoi(v);
    } else {
      ck_abort_msg("unknown option %s", kv);
    }
  }
}

static int close_enough(double a, double b) {
  return fabs(a - b) <= TOL_SCORE * (fabs(b) > 1 ? fabs(b) : 1);
}

/* ---- sacreBLEU's own test cases --------------------------------------------------------- */

START_TEST(test_sacrebleu_cases) {
  static const char *const families[N_FAMILIES] = {"test_bleu.", "test_chrf.",
                                                   "test_sentence_bleu."};
  int checked[N_FAMILIES] = {0}, total = 0;
  size_t len;
  char *buf = slurp("cases.tsv", &len), *cur = buf, *end = buf + len, *l;
  char *f[MAX_FIELDS];
  size_t fl[MAX_FIELDS];
  while ((l = next_line(&cur, end))) {
    int nf = split_fields(l, f, fl, MAX_FIELDS);
    const char *id = f[0], *metric = f[1], *kind = f[2];
    int nhyp = atoi(f[4]), nref = atoi(f[5]);
    ck_assert_int_eq(nf, 6 + nhyp * (1 + nref) + 5);
    char **h = f + 6, **r = f + 6 + nhyp;
    size_t *hl = fl + 6, *rl = fl + 6 + nhyp;
    double want = strtod(f[nf - 5], NULL), test_want = strtod(f[nf - 2], NULL),
           test_eps = strtod(f[nf - 1], NULL);
    const char *want_line = f[nf - 4], *want_sig = f[nf - 3];
    ef_bleu_opts bo;
    ef_chrf_opts co;
    parse_opts(f[3], &bo, &co);
    char line[EF_BLEU_LINE_MAX], sig[EF_BLEU_LINE_MAX] = "", err[ERR_LEN];
    double got;
    if (!strcmp(kind, "stats")) {
      ef_bleu_stats st = {0};
      int order = bo.max_ngram_order;
      ck_assert_int_eq(nhyp, 2 + 2 * order);
      st.hyp_len = atoll(h[0]);
      st.ref_len = atoll(h[1]);
      for (int n = 0; n < order; n++) {
        st.correct[n] = atoll(h[2 + n]);
        st.total[n] = atoll(h[2 + order + n]);
      }
      ef_bleu_score s;
      ef_bleu_compute_opts(&st, &bo, &s);
      got = s.score;
      ef_bleu_format_width(&s, 2, NULL, line, sizeof line);
    } else if (!strcmp(metric, "bleu")) {
      ef_bleu *b = ef_bleu_new(&bo);
      ef_bleu_stats corpus = {0}, seg;
      for (int i = 0; i < nhyp; i++) {
        const char *rs[MAX_FIELDS];
        size_t rls[MAX_FIELDS];
        for (int k = 0; k < nref; k++) rs[k] = r[k * nhyp + i], rls[k] = rl[k * nhyp + i];
        ck_assert_msg(!ef_bleu_segment(b, h[i], hl[i], rs, rls, nref, &seg, err, sizeof err),
                      "%s: %s", id, err);
        ef_bleu_stats_add(&corpus, &seg);
      }
      ef_bleu_free(b);
      ef_bleu_score s;
      ef_bleu_compute_opts(&corpus, &bo, &s);
      got = s.score;
      ef_bleu_format_width(&s, 2, NULL, line, sizeof line);
      ef_bleu_signature(&bo, nref, sig, sizeof sig);
    } else {
      ef_chrf *c = ef_chrf_new(&co);
      ck_assert(c != NULL);
      ef_chrf_stats corpus, seg;
      memset(&corpus, 0, sizeof corpus);
      for (int i = 0; i < nhyp; i++) {
        const char *rs[MAX_FIELDS];
        size_t rls[MAX_FIELDS];
        for (int k = 0; k < nref; k++) rs[k] = r[k * nhyp + i], rls[k] = rl[k * nhyp + i];
        ck_assert_msg(!ef_chrf_segment(c, h[i], hl[i], rs, rls, nref, &seg, err, sizeof err),
                      "%s: %s", id, err);
        ef_chrf_stats_add(&corpus, &seg);
      }
      ef_chrf_free(c);
      got = ef_chrf_compute_opts(&corpus, &co);
      ef_chrf_format_opts(got, &co, 2, NULL, line, sizeof line);
      ef_chrf_signature(&co, nref, sig, sizeof sig);
    }
    ck_assert_msg(close_enough(got, want), "%s: score %.17g, sacreBLEU %.17g", id, got, want);
    if (test_want >= 0)
      ck_assert_msg(fabs(got - test_want) <= test_eps, "%s: score %.17g, the test wants %.17g", id,
                    got, test_want);
    ck_assert_msg(!strcmp(line, want_line), "%s: line '%s', sacreBLEU '%s'", id, line, want_line);
    ck_assert_msg(!strcmp(sig, want_sig), "%s: signature '%s', sacreBLEU '%s'", id, sig, want_sig);
    for (int k = 0; k < N_FAMILIES; k++)
      checked[k] += !strncmp(id, families[k], strlen(families[k]));
    total++;
  }
  free(buf);
  printf("sacreBLEU's own cases: %s %d, %s %d, %s %d (%d records)\n", families[0], checked[0],
         families[1], checked[1], families[2], checked[2], total);
  ck_assert_int_eq(checked[0], 28); /* 27 tests; test_offset's two assertions are 2 records */
  ck_assert_int_eq(checked[1], 25);
  ck_assert_int_eq(checked[2], 30);
}
END_TEST

/* ---- tokenizers ------------------------------------------------------------------------- */

START_TEST(test_sacrebleu_tokenizers) {
  size_t len;
  char *buf = slurp("tok.tsv", &len), *cur = buf, *end = buf + len, *l;
  char *f[MAX_FIELDS];
  size_t fl[MAX_FIELDS];
  int n = 0, per[5] = {0};
  ef_bytes want = {0};
  ef_bleu *b[5];
  for (int t = 0; t < 5; t++) {
    ef_bleu_opts o = {.tokenize = t};
    b[t] = ef_bleu_new(&o);
  }
  while ((l = next_line(&cur, end))) {
    ck_assert_int_eq(split_fields(l, f, fl, MAX_FIELDS), 3);
    int t = ef_bleu_tok_from_name(f[0]);
    ck_assert_int_ge(t, 0);
    const char *got = ef_bleu_tokenize(b[t], f[1], fl[1]);
    ck_assert(got != NULL);
    /* BLEU reads a tokenizer's output with str.split(): compare those tokens (char's raw
     * output keeps the spaces between characters) */
    ck_assert(!ef_tok_split_join(f[2], fl[2], &want));
    ck_assert_msg(!strcmp(got, want.p), "%s tokenizer, line %d: got '%s', sacreBLEU '%s'", f[0],
                  n + 1, got, want.p);
    per[t]++;
    n++;
  }
  for (int t = 0; t < 5; t++) ef_bleu_free(b[t]);
  ef_bytes_free(&want);
  free(buf);
  printf("tokenizer lines identical to sacreBLEU: 13a %d, intl %d, zh %d, char %d\n",
         per[EF_BLEU_TOK_13A], per[EF_BLEU_TOK_INTL], per[EF_BLEU_TOK_ZH], per[EF_BLEU_TOK_CHAR]);
  ck_assert_int_gt(per[EF_BLEU_TOK_INTL], 700);
  ck_assert_int_gt(per[EF_BLEU_TOK_ZH], 700);
  ck_assert_int_gt(per[EF_BLEU_TOK_CHAR], 700);
}
END_TEST

/* Hand-checked corners: the zh ranges as the reference's code really tests them, and a
 * max order above what packed keys hold. */
START_TEST(test_options_corners) {
  ef_bleu_opts zh = {.tokenize = EF_BLEU_TOK_ZH};
  ef_bleu *b = ef_bleu_new(&zh);
  /* '\u20000'..'\u2a6d6' in tokenizer_zh.py are 2-character strings: U+2A6D is spaced out,
   * U+2A6E is not */
  ck_assert_str_eq(ef_bleu_tokenize(b,
                                    "a\xe2\xa9\xad"
                                    "b\xe2\xa9\xae"
                                    "c",
                                    9),
                   "a \xe2\xa9\xad b\xe2\xa9\xae"
                   "c");
  ck_assert_str_eq(ef_bleu_tokenize(b, " 3. ", 4), "3."); /* strip, no padding (13a: "3 .") */
  ef_bleu_free(b);
  ef_bleu_opts o9 = {.max_ngram_order = 9, .tokenize = EF_BLEU_TOK_NONE};
  b = ef_bleu_new(&o9);
  const char *ref = "a b c d e f g h i j";
  size_t rl = strlen(ref);
  ef_bleu_stats st;
  char err[ERR_LEN];
  ck_assert(!ef_bleu_segment(b, "a b c d e f g h i x", 19, &ref, &rl, 1, &st, err, sizeof err));
  ck_assert_int_eq(st.correct[8], 1); /* "a..i" */
  ck_assert_int_eq(st.total[8], 2);
  ef_bleu_free(b);
  ef_bleu_opts sig = {.smooth_method = EF_BLEU_SMOOTH_ADDK, .tokenize = EF_BLEU_TOK_INTL};
  char s[EF_BLEU_LINE_MAX];
  ef_bleu_signature(&sig, 3, s, sizeof s);
  ck_assert_str_eq(s, "nrefs:3|case:mixed|eff:no|tok:intl|smooth:add-k[1.00]|version:2.6.0");
}
END_TEST

int main(void) {
  Suite *s = suite_create("sacrebleu_options");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_sacrebleu_cases);
  tcase_add_test(tc, test_sacrebleu_tokenizers);
  tcase_add_test(tc, test_options_corners);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
