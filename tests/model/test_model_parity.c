/* Parity with the independent PyTorch reference (tests/reference/edgeformer_ref.py): for
 * every fixture tests/fixtures/model/<name>.efx (+ <name>.ini, <name>.aliases.txt), load the
 * reference's weights by canonical key, run the teacher-forced graph on its batch of real
 * sentences (padding on both sides) and compare encoder output, log-probs, the loss with
 * eps = 0.1 and eps = 0, the NLL, and the gradient of every unique parameter.
 * Tolerances (docs/model.md): encoder output and log-probs 1e-4 absolute; losses 1e-5
 * relative; gradients 1e-3 relative to the gradient's largest magnitude per tensor, plus
 * 1e-5 absolute.
 * EF_PARITY_DIR=<dir> points it at other fixtures (the full edgelm-size check). */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/ops.h"
#include "model/edgeformer.h"
#include "tests/common/fixture.h"

#define OUT_ATOL 1e-4
#define LOSS_RTOL 1e-5
#define GRAD_RTOL 1e-3
#define GRAD_ATOL 1e-5
#define MAX_FIXTURES 64

static char names[MAX_FIXTURES][256];
static int n_names;
static const char *dir;

static void list_fixtures(void) {
  dir = getenv("EF_PARITY_DIR");
  if (!dir) dir = EF_FIXTURES "/model";
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) && n_names < MAX_FIXTURES) {
    size_t n = strlen(e->d_name);
    if (n > 4 && !strcmp(e->d_name + n - 4, ".efx") && n - 4 < sizeof names[0]) {
      memcpy(names[n_names], e->d_name, n - 4);
      names[n_names++][n - 4] = 0;
    }
  }
  closedir(d);
  qsort(names, (size_t)n_names, sizeof names[0], (int (*)(const void *, const void *))strcmp);
}

static ef_tensor *wrap_ids(ef_ctx *c, fx_file *fx, const char *name) {
  fx_tensor *t = fx_need(fx, name);
  ck_assert(t->is_int);
  return ef_tensor_wrap(c, EF_I32, t->ndim, t->shape, t->i, NULL);
}

static void run_fixture(const char *name) {
  char path[1024], err[EF_CONFIG_ERR_LEN];
  ef_model_config cfg;
  ef_model_config_default(&cfg);
  ef_config_table tb = {ef_model_keys, ef_model_n_keys, &cfg};
  snprintf(path, sizeof path, "%s/%s.ini", dir, name);
  ck_assert_msg(!ef_config_load(&tb, 1, path, err, sizeof err), "%s", err);
  cfg.dropout = 0.0f;
  ef_model *m = NULL;
  ck_assert_msg(!ef_model_new(&cfg, &m, err, sizeof err), "%s: %s", name, err);
  fx_file fx;
  snprintf(path, sizeof path, "%s/%s.efx", dir, name);
  fx_load_efx(&fx, path);

  /* weights: every unique parameter exactly once, under its canonical key */
  int loaded = 0;
  for (int k = 0; k < fx.n; k++) {
    if (strncmp(fx.t[k].name, "param.", 6)) continue;
    const char *key = fx.t[k].name + 6;
    int idx = ef_params_find(m->params, key);
    ck_assert_msg(idx >= 0, "%s: reference parameter %s unknown here", name, key);
    ck_assert_msg(!strcmp(ef_params_name(m->params, idx), key),
                  "%s: reference canonical key %s is our alias of %s", name, key,
                  ef_params_name(m->params, idx));
    ef_tensor *t = ef_params_tensor(m->params, idx);
    ck_assert_msg(t->numel == fx.t[k].numel, "%s: %s has %lld values, reference %lld", name, key,
                  (long long)t->numel, (long long)fx.t[k].numel);
    memcpy(t->data, fx.t[k].f, (size_t)t->numel * sizeof(float));
    loaded++;
  }
  ck_assert_int_eq(loaded, ef_params_count(m->params));

  /* alias map: every fairseq key the reference lists resolves to the same canonical key */
  snprintf(path, sizeof path, "%s/%s.aliases.txt", dir, name);
  FILE *af = fopen(path, "r");
  if (af) {
    char key[256], canon[256];
    int lines = 0;
    while (fscanf(af, "%255s %255s", key, canon) == 2) {
      int idx = ef_params_find(m->params, key);
      ck_assert_msg(idx >= 0 && !strcmp(ef_params_name(m->params, idx), canon),
                    "%s: key %s should resolve to %s", name, key, canon);
      lines++;
    }
    fclose(af);
    ck_assert_int_eq(lines, ef_params_count(m->params) + ef_params_alias_count(m->params));
  }

  ef_ctx *c = ef_ctx_new(16u << 20, 8192);
  for (int pass = 0; pass < 2; pass++) {
    float eps = pass == 0 ? 0.1f : 0.0f;
    ef_ctx_reset(c);
    ef_ctx_set_grad(c, pass == 0);
    ef_params_zero_grad(m->params);
    ef_batch_tensors b = {wrap_ids(c, &fx, "src_tokens"), wrap_ids(c, &fx, "prev_output_tokens"),
                          wrap_ids(c, &fx, "target")};
    ef_model_out out;
    ck_assert_msg(!ef_model_forward(c, m, &b, eps, &out), "%s: %s", name, ef_ctx_error(c));
    char what[300];
    fx_tensor *el = fx_need(&fx, pass == 0 ? "loss_eps0.1" : "loss_eps0");
    fx_tensor *en = fx_need(&fx, pass == 0 ? "nll_eps0.1" : "nll_eps0");
    snprintf(what, sizeof what, "%s: loss eps=%g", name, eps);
    fx_assert_close(what, out.loss->data, el->f, 1, 1e-6, LOSS_RTOL);
    float nll = (float)out.nll_sum;
    snprintf(what, sizeof what, "%s: nll eps=%g", name, eps);
    fx_assert_close(what, &nll, en->f, 1, 1e-6, LOSS_RTOL);
    if (pass) continue;
    fx_tensor *eo = fx_need(&fx, "encoder_out"), *lp = fx_need(&fx, "lprobs");
    ck_assert_int_eq(out.encoder_out->numel, eo->numel);
    ck_assert_int_eq(out.lprobs->numel, lp->numel);
    snprintf(what, sizeof what, "%s: encoder_out", name);
    fx_assert_close(what, out.encoder_out->data, eo->f, eo->numel, OUT_ATOL, 0.0);
    snprintf(what, sizeof what, "%s: lprobs", name);
    fx_assert_close(what, out.lprobs->data, lp->f, lp->numel, OUT_ATOL, 0.0);
    ck_assert_int_eq(ef_backward(c, out.loss), 0);
    double worst_grad = 0.0;
    int grads = 0;
    for (int k = 0; k < fx.n; k++) {
      if (strncmp(fx.t[k].name, "grad.", 5)) continue;
      ef_tensor *t = ef_params_tensor(m->params, ef_params_find(m->params, fx.t[k].name + 5));
      double scale = 0.0;
      for (int64_t e = 0; e < fx.t[k].numel; e++)
        if (fabs(fx.t[k].f[e]) > scale) scale = fabs(fx.t[k].f[e]);
      snprintf(what, sizeof what, "%s: %s", name, fx.t[k].name);
      fx_assert_close(what, t->grad, fx.t[k].f, t->numel, GRAD_ATOL + GRAD_RTOL * scale, 0.0);
      /* report: difference relative to the tensor's largest gradient (tensors above 1e-3) */
      double e = fx_err(t->grad, fx.t[k].f, t->numel, scale, 0.0, NULL);
      if (scale > 1e-3 && e > worst_grad) worst_grad = e;
      grads++;
    }
    ck_assert_int_eq(grads, ef_params_count(m->params));
    printf("%s: max |diff| encoder_out %.2e, lprobs %.2e; max gradient diff / max |gradient| "
           "%.2e over %d parameters (those with max |gradient| > 1e-3)\n",
           name, fx_err(out.encoder_out->data, eo->f, eo->numel, 1.0, 0.0, NULL),
           fx_err(out.lprobs->data, lp->f, lp->numel, 1.0, 0.0, NULL), worst_grad, grads);
  }
  ef_ctx_free(c);
  fx_free(&fx);
  ef_model_free(m);
}

START_TEST(matches_pytorch_reference) { run_fixture(names[_i]); }
END_TEST

START_TEST(fixtures_present) {
  ck_assert_msg(n_names > 0, "no .efx fixtures in %s", dir);
}
END_TEST

int main(void) {
  list_fixtures();
  Suite *s = suite_create("model_parity");
  TCase *tc = tcase_create("torch");
  tcase_set_timeout(tc, 1200);
  tcase_add_test(tc, fixtures_present);
  if (n_names) tcase_add_loop_test(tc, matches_pytorch_reference, 0, n_names);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  for (int i = 0; i < n_names; i++) printf("fixture %d: %s\n", i, names[i]);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
