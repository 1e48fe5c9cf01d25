/* checkpoint_model.c: a model ready to use from a checkpoint file: the stored config builds
 * the layout, then the parameters are loaded (optimizer state ignored). Shared by generate,
 * translate and export so that every command reads checkpoints the same way. */
#include <stdio.h>
#include <stdlib.h>

#include "train/checkpoint.h"
#include "model/edgeformer.h"
#include "train/options.h"

int ef_ckpt_load_model(const char *path, ef_model **out, ef_train_options *to, char *err,
                       size_t errlen) {
  *out = NULL;
  char *ini = NULL, msg[512];
  ef_model_config mcfg;
  ef_model_config_default(&mcfg);
  ef_train_options_default(to);
  ef_config_table t[2] = {{ef_model_keys, ef_model_n_keys, &mcfg},
                          {ef_train_keys, ef_train_n_keys, to}};
  if (ef_ckpt_read_config(path, &ini, err, errlen)) return -1;
  if (ef_config_load_text(t, 2, ini, path, msg, sizeof msg) ||
      ef_model_config_check(&mcfg, msg, sizeof msg)) {
    free(ini);
    return snprintf(err, errlen, "%s: /config: %s", path, msg), -1;
  }
  free(ini);
  ef_model *m = NULL;
  if (ef_model_new(&mcfg, &m, msg, sizeof msg))
    return snprintf(err, errlen, "%s: /config: %s", path, msg), -1;
  if (ef_ckpt_load(path, m->params, NULL, NULL, EF_CKPT_PARAMS_ONLY, err, errlen)) {
    ef_model_free(m);
    return -1;
  }
  *out = m;
  return 0;
}
