/* tests/eval/test_gec.c: eval/gec.h, the GEC edit extraction and P/R/F0.5 of
 * docs/metrics.md ("GEC"), on the hand-worked cases of that section. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/gec.h"

#define ERR_LEN 256
#define BUF_LEN 512
#define TOL 1e-12

/* The edits of src -> tgt as "start,end,replacement;" with the replacement's tokens joined
 * by single spaces. */
static void edits_str(const char *src, const char *tgt, char *out) {
  ef_gec_edit *e;
  size_t n;
  char err[ERR_LEN];
  ck_assert_int_eq(ef_gec_edits(src, strlen(src), tgt, strlen(tgt), &e, &n, err, ERR_LEN), 0);
  /* target token k, counted the way eval/gec.c splits (runs of ASCII whitespace) */
  const char *toks[64];
  size_t lens[64], nt = 0;
  for (const char *p = tgt; *p;) {
    while (*p && strchr(" \t", *p)) p++;
    if (!*p) break;
    const char *b = p;
    while (*p && !strchr(" \t", *p)) p++;
    ck_assert(nt < 64);
    toks[nt] = b;
    lens[nt++] = (size_t)(p - b);
  }
  out[0] = 0;
  for (size_t i = 0; i < n; i++) {
    char one[BUF_LEN];
    int o = snprintf(one, sizeof one, "%zu,%zu,", e[i].start, e[i].end);
    for (size_t k = e[i].tstart; k < e[i].tend; k++)
      o += snprintf(one + o, sizeof one - (size_t)o, "%s%.*s", k > e[i].tstart ? " " : "",
                    (int)lens[k], toks[k]);
    strcat(out, one);
    strcat(out, ";");
  }
  free(e);
}

#define EDITS(src, tgt, want)                                                                      \
  do {                                                                                             \
    char got_[BUF_LEN];                                                                            \
    edits_str(src, tgt, got_);                                                                     \
    ck_assert_str_eq(got_, want);                                                                  \
  } while (0)

START_TEST(test_edit_extraction) {
  EDITS("He go to school .", "He goes to school .", "1,2,goes;");
  EDITS("I like cat .", "I like the cat .", "2,2,the;"); /* insertion */
  EDITS("the the cat sat", "the cat sat", "0,1,;");      /* the later "the" matches */
  EDITS("a b c d", "a x y d", "1,3,x y;");               /* adjacent subs merge */
  EDITS("A B", "B A", "0,2,B A;");                       /* substitution before del/ins */
  EDITS("a b", "c d e", "0,2,c d e;");
  EDITS("a b c", "a b c", "");             /* copy: no edits */
  EDITS("a  b\tc", "a b c", "");           /* whitespace runs */
  EDITS("The cat", "the cat", "0,1,the;"); /* case-sensitive */
  EDITS("a b", "", "0,2,;");
  EDITS("", "x y", "0,0,x y;");
  EDITS("", "", "");
  EDITS("x a y b z", "x A y B z", "1,2,A;3,4,B;"); /* a match separates */
  EDITS("He walk to the store at Monday .", "He walks to the store on Monday .",
        "1,2,walks;5,6,on;");
}
END_TEST

/* The worked corpus of docs/metrics.md: TP 2, FP 2, FN 1. */
static const char *SRC[] = {"He go to school .", "I like cat .", "She is here .",
                            "They was happy at home ."};
static const char *HYP[] = {"He goes to school .", "I like cats .", "She is here .",
                            "They were happy in home ."};
static const char *REF[] = {"He goes to school .", "I like the cat .", "She is here .",
                            "They were happy at home ."};

static ef_gec_stats corpus(const char **hyp) {
  ef_gec_stats st = {0, 0, 0};
  char err[ERR_LEN];
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(ef_gec_segment(SRC[i], strlen(SRC[i]), hyp[i], strlen(hyp[i]), REF[i],
                                    strlen(REF[i]), &st, err, ERR_LEN),
                     0);
  return st;
}

START_TEST(test_corpus_counts) {
  ef_gec_stats st = corpus(HYP);
  ck_assert_int_eq(st.tp, 2);
  ck_assert_int_eq(st.fp, 2);
  ck_assert_int_eq(st.fn, 1);
  ef_gec_score s = ef_gec_compute(&st);
  ck_assert_double_eq_tol(s.p, 0.5, TOL);
  ck_assert_double_eq_tol(s.r, 2.0 / 3.0, TOL);
  ck_assert_double_eq_tol(s.f05, 10.0 / 19.0, TOL);
}
END_TEST

START_TEST(test_copy_baseline_is_zero) {
  ef_gec_stats st = corpus(SRC); /* the hypothesis copies the source */
  ck_assert_int_eq(st.tp, 0);
  ck_assert_int_eq(st.fp, 0);
  ck_assert_int_eq(st.fn, 3);
  ef_gec_score s = ef_gec_compute(&st);
  ck_assert_double_eq(s.p, 0.0); /* 0/0 is 0 */
  ck_assert_double_eq(s.r, 0.0);
  ck_assert_double_eq(s.f05, 0.0);
  ef_gec_stats none = {0, 0, 0}; /* nothing to correct, nothing corrected */
  s = ef_gec_compute(&none);
  ck_assert_double_eq(s.p + s.r + s.f05, 0.0);
  ef_gec_stats perfect = {7, 0, 0};
  s = ef_gec_compute(&perfect);
  ck_assert_double_eq_tol(s.f05, 1.0, TOL);
}
END_TEST

START_TEST(test_partial_span_is_no_match) {
  ef_gec_stats st = {0, 0, 0};
  char err[ERR_LEN];
  /* hyp fixes both words in one edit (1,3); ref has two separate edits: 0 TP, 1 FP, 2 FN */
  const char *s = "a b c d e", *h = "a B C d e", *r = "a B c D e";
  ck_assert_int_eq(ef_gec_segment(s, strlen(s), h, strlen(h), r, strlen(r), &st, err, ERR_LEN), 0);
  ck_assert_int_eq(st.tp, 0);
  ck_assert_int_eq(st.fp, 1);
  ck_assert_int_eq(st.fn, 2);
}
END_TEST

START_TEST(test_too_long_is_an_error) {
  size_t n = 10000;
  char *a = malloc(2 * n + 1);
  for (size_t i = 0; i < n; i++) a[2 * i] = 'x', a[2 * i + 1] = ' ';
  a[2 * n] = 0;
  ef_gec_edit *e = NULL;
  size_t ne = 7;
  char err[ERR_LEN] = "";
  ck_assert_int_eq(ef_gec_edits(a, 2 * n, a, 2 * n, &e, &ne, err, ERR_LEN), -1);
  ck_assert_ptr_null(e);
  ck_assert_msg(strstr(err, "too long") != NULL, "%s", err);
  free(a);
}
END_TEST

int main(void) {
  Suite *s = suite_create("gec");
  TCase *tc = tcase_create("gec");
  tcase_add_test(tc, test_edit_extraction);
  tcase_add_test(tc, test_corpus_counts);
  tcase_add_test(tc, test_copy_baseline_is_zero);
  tcase_add_test(tc, test_partial_span_is_no_match);
  tcase_add_test(tc, test_too_long_is_an_error);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf ? 1 : 0;
}
