/* tests/runtime/efm_fixture.c: see efm_fixture.h. */
#define _POSIX_C_SOURCE 200809L
#include "tests/runtime/efm_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/spm.h"
#include "train/checkpoint.h"
#include "train/options.h"

#define FIXTURE_CONFIG_BYTES 16384

static int read_all(const char *path, void **out, size_t *len, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) return snprintf(err, errlen, "%s: cannot open", path), -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *b = malloc(n > 0 ? (size_t)n : 1);
  if (n < 0 || !b || fread(b, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(b);
    return snprintf(err, errlen, "%s: cannot read", path), -1;
  }
  fclose(f);
  *out = b, *len = (size_t)n;
  return 0;
}

int efm_fixture_make(const char *ini, const char *spm_path, uint64_t seed, efm_fixture *fx,
                     char *err, size_t errlen) {
  memset(fx, 0, sizeof *fx);
  rt_spm *spm = NULL;
  if (read_all(spm_path, &fx->spm, &fx->spm_len, err, errlen) ||
      rt_spm_load_memory(fx->spm, fx->spm_len, spm_path, &spm, err, errlen))
    goto fail;
  fx->dict = ef_dict_new();
  if (!fx->dict) goto fail;
  for (int i = 0; i < rt_spm_vocab_size(spm); i++) {
    rt_spm_piece_type k = rt_spm_piece_kind(spm, i);
    if (k == RT_SPM_CONTROL || k == RT_SPM_UNKNOWN || k == RT_SPM_UNUSED) continue;
    const char *p = rt_spm_id_to_piece(spm, i);
    if (ef_dict_add(fx->dict, p, strlen(p), 1 + i % 7, 0, err, errlen) < 0) goto fail;
  }
  rt_spm_free(spm);
  spm = NULL;
  if (ef_dict_finalize(fx->dict, 0, -1, EF_DICT_PADDING_FACTOR, err, errlen)) goto fail;
  ef_model_config mc;
  ef_train_options *to = malloc(sizeof *to);
  if (!to) goto fail;
  ef_model_config_default(&mc);
  ef_train_options_default(to);
  ef_config_table t[2] = {{ef_model_keys, ef_model_n_keys, &mc},
                          {ef_train_keys, ef_train_n_keys, to}};
  int rc = ef_config_load(t, 2, ini, err, errlen);
  free(to);
  if (rc) goto fail;
  mc.vocab_size = ef_dict_size(fx->dict);
  if (ef_model_new(&mc, &fx->model, err, errlen)) goto fail;
  ef_model_init(fx->model, seed);
  return 0;
fail:
  rt_spm_free(spm);
  efm_fixture_free(fx);
  return -1;
}

void efm_fixture_free(efm_fixture *fx) {
  ef_model_free(fx->model);
  ef_dict_free(fx->dict);
  free(fx->spm);
  memset(fx, 0, sizeof *fx);
}

int efm_fixture_save(const efm_fixture *fx, const char *dir, char *err, size_t errlen) {
  char path[1024];
  ef_train_options *to = malloc(sizeof *to);
  char *cfg = malloc(FIXTURE_CONFIG_BYTES);
  int rc = -1;
  if (!to || !cfg) goto done;
  ef_train_options_default(to);
  snprintf(to->data, sizeof to->data, "%s", dir);
  ef_model_config mc = fx->model->cfg;
  ef_config_table t[2] = {{ef_model_keys, ef_model_n_keys, &mc},
                          {ef_train_keys, ef_train_n_keys, to}};
  if (ef_config_format(t, 2, cfg, FIXTURE_CONFIG_BYTES)) {
    snprintf(err, errlen, "config too long");
    goto done;
  }
  ef_train_state st;
  ef_ckpt_state_init(&st, 1);
  snprintf(path, sizeof path, "%s/checkpoint.h5", dir);
  if (ef_ckpt_save(path, fx->model->params, cfg, &st, 0, err, errlen)) goto done;
  snprintf(path, sizeof path, "%s/dict.src.txt", dir);
  if (ef_dict_save(fx->dict, path, err, errlen)) goto done;
  snprintf(path, sizeof path, "%s/spm.model", dir);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(fx->spm, 1, fx->spm_len, f) != fx->spm_len) {
    if (f) fclose(f);
    snprintf(err, errlen, "%s: cannot write", path);
    goto done;
  }
  if (fclose(f)) goto done;
  rc = 0;
done:
  free(to);
  free(cfg);
  return rc;
}
