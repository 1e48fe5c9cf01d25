/* tests/eval/test_sentsplit.c: the rule-based sentence splitter of `score --split-sentences`
 * (eval/sentsplit.h) on hand-checked cases: each line of the table is the input and the output
 * with '|' where a boundary must be. The cases marked "punkt" are ones where NLTK's
 * sent_tokenize (the reference's splitter) gives the same answer; docs/metrics.md lists where
 * the two differ. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "eval/sentsplit.h"

static const char *const cases[][2] = {
    {"The cat sat. The dog ran.", "The cat sat.|The dog ran."}, /* punkt */
    {"Is it? Yes! Fine.", "Is it?|Yes!|Fine."},                 /* punkt */
    {"Mr. Smith met Dr. Jones at 5 p.m. today.", "Mr. Smith met Dr. Jones at 5 p.m. today."},
    {"It costs $3.50 now. Pay up.", "It costs $3.50 now.|Pay up."},         /* punkt */
    {"He said \"stop.\" Then he left.", "He said \"stop.\"|Then he left."}, /* punkt */
    {"(See fig. 3.) Next one.", "(See fig. 3.)|Next one."},
    {"J. R. R. Tolkien wrote it. Really.", "J. R. R. Tolkien wrote it.|Really."},
    {"Wait... what? No.", "Wait... what?|No."},
    {"Wait... Then go.", "Wait...|Then go."},
    {"apples, pears, etc. are fruit. Yes.", "apples, pears, etc. are fruit.|Yes."},
    {"Use e.g. this one. Or not.", "Use e.g. this one.|Or not."},
    {"In 1999. The year.", "In 1999.|The year."},
    {"line one\nline two. Next.", "line one line two.|Next."},
    {"end with spaces.   ", "end with spaces.   "},
    {"no end", "no end"},
    {"U.S.A. is big. ok then.", "U.S.A. is big.|ok then."},
    {"\xc2\xbfQu\xc3\xa9? \xc3\x89l vino.", "\xc2\xbfQu\xc3\xa9?|\xc3\x89l vino."},
    {"Hi!\xc2\xa0"
     "Bye.",
     "Hi!|Bye."},
    {"", ""},
};

START_TEST(splitter_cases) {
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    const char *in = cases[k][0];
    size_t n = strlen(in);
    char *out = malloc(n + 1);
    size_t m = ef_split_sentences(in, n, out);
    ck_assert_uint_le(m, n);
    out[m] = 0;
    char *want = strdup(cases[k][1]);
    for (char *p = want; *p; p++)
      if (*p == '|') *p = '\n';
    ck_assert_msg(!strcmp(out, want), "case %zu '%s': got '%s'", k, in, out);
    free(want);
    free(out);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("sentsplit");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, splitter_cases);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
