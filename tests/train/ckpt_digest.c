/* ckpt_digest: prints "<num_updates> <sha256 of all parameters> <sha256 of the Adam moments>"
 * for a checkpoint, so tests can compare two checkpoints bit for bit (HDF5 files themselves
 * carry timestamps). Test tool only. */
#include <stdio.h>
#include <stdlib.h>

#include "data/sha256.h"
#include "model/edgeformer.h"
#include "optim/adam.h"
#include "train/checkpoint.h"
#include "train/options.h"

int main(int argc, char **argv) {
  if (argc != 2) return fprintf(stderr, "usage: ckpt_digest CHECKPOINT\n"), 2;
  char err[512], *text = NULL;
  ef_model_config mc;
  ef_train_options to;
  ef_model_config_default(&mc);
  ef_train_options_default(&to);
  ef_config_table t[2] = {{ef_model_keys, ef_model_n_keys, &mc}, {ef_train_keys, ef_train_n_keys, &to}};
  ef_model *m = NULL;
  ef_adam adam;
  ef_adam_config ac = ef_adam_default_config();
  if (ef_ckpt_read_config(argv[1], &text, err, sizeof err) ||
      ef_config_load_text(t, 2, text, argv[1], err, sizeof err) ||
      ef_model_new(&mc, &m, err, sizeof err) || ef_adam_init(&adam, m->params, &ac, err, sizeof err))
    return fprintf(stderr, "error: %s\n", err), 1;
  free(text);
  ef_train_state st;
  ef_ckpt_state_init(&st, 0);
  if (ef_ckpt_load(argv[1], m->params, &st, NULL, 0, err, sizeof err))
    return fprintf(stderr, "error: %s\n", err), 1;
  size_t n = (size_t)ef_params_flat_len(m->params) * sizeof(float);
  char a[EF_SHA256_HEX_LEN + 1], b[EF_SHA256_HEX_LEN + 1], c[EF_SHA256_HEX_LEN + 1];
  ef_sha256_hex(ef_params_data(m->params), n, a);
  ef_sha256_hex(ef_params_state(m->params, 0), n, b);
  ef_sha256_hex(ef_params_state(m->params, 1), n, c);
  printf("%lld %s %s %s\n", (long long)st.num_updates, a, b, c);
  ef_model_free(m);
  return 0;
}
