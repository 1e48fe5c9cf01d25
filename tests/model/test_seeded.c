/* Seeded weights (tests/common/seeded.c) are bit-identical to the Python side
 * (tests/reference/seeded.py): for every model in tests/fixtures/generate/seeded.txt (written
 * by tests/reference/generate_fixtures.py) every unique parameter's element count, the uint64
 * sum of its float32 bit patterns and its first four values' bits must match exactly, as must
 * the embedding's pad row (zero) and </s> row (x3). Also pins the generator itself: FNV-1a 64
 * of a known string, and independence from the visiting order (a parameter's values depend on
 * its key only). */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/edgeformer.h"
#include "tests/common/seeded.h"

#define LINE_MAX_LEN 1024

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static ef_model *load_model(const char *ini) {
  char path[1024], err[EF_CONFIG_ERR_LEN];
  ef_model_config cfg;
  ef_model_config_default(&cfg);
  ef_config_table tb = {ef_model_keys, ef_model_n_keys, &cfg};
  snprintf(path, sizeof path, "%s/generate/%s", EF_FIXTURES, ini);
  ck_assert_msg(!ef_config_load(&tb, 1, path, err, sizeof err), "%s", err);
  ef_model *m = NULL;
  ck_assert_msg(!ef_model_new(&cfg, &m, err, sizeof err), "%s: %s", ini, err);
  return m;
}

START_TEST(fnv1a64_matches_reference_values) {
  ck_assert_uint_eq(fx_fnv1a64(""), 0xcbf29ce484222325ULL);
  ck_assert_uint_eq(fx_fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  ck_assert_uint_eq(fx_fnv1a64("foobar"), 0x85944171f73967e8ULL);
}
END_TEST

START_TEST(values_match_python_bit_for_bit) {
  char path[1024], line[LINE_MAX_LEN];
  snprintf(path, sizeof path, "%s/generate/seeded.txt", EF_FIXTURES);
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "cannot open %s (regenerate: tests/reference/generate_fixtures.py)",
                path);
  ef_model *m = NULL;
  int models = 0, tensors = 0, checked_in_model = 0;
  ef_tensor *embed = NULL;
  while (fgets(line, sizeof line, f)) {
    char ini[256], key[EF_PARAM_NAME_MAX];
    uint64_t seed, sum;
    long long numel;
    unsigned b[4];
    int row;
    if (sscanf(line, "config %255s seed %" SCNu64, ini, &seed) == 2) {
      if (m) {
        ck_assert_int_eq(checked_in_model, ef_params_count(m->params));
        ef_model_free(m);
      }
      m = load_model(ini);
      ck_assert_int_eq(fx_seeded_fill(m, seed), 0);
      embed = ef_params_tensor(m->params, m->embed);
      checked_in_model = 0;
      models++;
    } else if (sscanf(line, "T %199s %lld %" SCNu64 " %x %x %x %x", key, &numel, &sum, &b[0], &b[1],
                      &b[2], &b[3]) == 7) {
      ck_assert_msg(m != NULL, "T line before config line");
      int idx = ef_params_find(m->params, key);
      ck_assert_msg(idx >= 0 && !strcmp(ef_params_name(m->params, idx), key),
                    "%s is not a canonical parameter here", key);
      ef_tensor *t = ef_params_tensor(m->params, idx);
      ck_assert_msg(t->numel == numel, "%s: %lld values, Python %lld", key, (long long)t->numel,
                    numel);
      uint64_t s = 0;
      for (int64_t i = 0; i < t->numel; i++) s += bits_of(t->data[i]);
      for (int i = 0; i < 4 && i < t->numel; i++)
        ck_assert_msg(bits_of(t->data[i]) == b[i], "%s[%d]: bits %08x, Python %08x (%.9g)", key, i,
                      bits_of(t->data[i]), b[i], (double)t->data[i]);
      ck_assert_msg(s == sum, "%s: bit-pattern sum %" PRIu64 ", Python %" PRIu64, key, s, sum);
      checked_in_model++;
      tensors++;
    } else if (sscanf(line, "R %d %x %x %x %x", &row, &b[0], &b[1], &b[2], &b[3]) == 5) {
      ck_assert(embed != NULL);
      for (int i = 0; i < 4; i++)
        ck_assert_msg(bits_of(embed->data[(int64_t)row * embed->shape[1] + i]) == b[i],
                      "embedding row %d [%d]: bits differ", row, i);
    } else {
      ck_abort_msg("%s: unreadable line: %s", path, line);
    }
  }
  fclose(f);
  ck_assert(m != NULL);
  ck_assert_int_eq(checked_in_model, ef_params_count(m->params));
  ef_model_free(m);
  ck_assert_int_ge(models, 2);
  printf("seeded: %d models, %d tensors bit-identical to Python\n", models, tensors);
}
END_TEST

START_TEST(values_depend_on_key_only) {
  float a[8], b[8], c[8];
  fx_seeded_values(7, "encoder.layers.0.fc1.weight", 0.5f, a, 8);
  fx_seeded_values(7, "encoder.layers.0.fc1.weight", 0.5f, b, 8);
  fx_seeded_values(7, "encoder.layers.0.fc2.weight", 0.5f, c, 8);
  ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
  ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
  for (int i = 0; i < 8; i++) ck_assert(a[i] >= -0.5f && a[i] < 0.5f);
}
END_TEST

int main(void) {
  Suite *s = suite_create("seeded");
  TCase *tc = tcase_create("bits");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, fnv1a64_matches_reference_values);
  tcase_add_test(tc, values_match_python_bit_for_bit);
  tcase_add_test(tc, values_depend_on_key_only);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
