/* cmd_info.c: `edgeformer info --config FILE|PRESET [--key value ...]`: the sharing table,
 * unique parameters with and without embeddings, multiply-adds for a 30+30-token sentence
 * pair, and the resolved config. Reads nothing but the config. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "model/edgeformer.h"

int cmd_info(int argc, char **argv) {
  const char *config = NULL;
  int first_override = argc;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: edgeformer info --config FILE|PRESET [--key value ...]\n"
             "Prints the sharing table, unique parameters (with and without embeddings) and\n"
             "multiply-adds for a 30-token source and 30-token target. Presets: edgelm, ut,\n"
             "ut-wide, transformer-base (configs/*.ini); any [model] key can be overridden.\n");
      return 0;
    }
    if (!strcmp(argv[i], "--config") && i + 1 < argc && !config) {
      config = argv[++i];
      continue;
    }
    first_override = i;
    break;
  }
  if (!config) {
    fprintf(stderr, "error: info: --config FILE|PRESET is required (see --help)\n");
    return 2;
  }
  char err[EF_CONFIG_ERR_LEN], path[1024];
  ef_model_config cfg;
  ef_model_config_default(&cfg);
  ef_config_table t = {ef_model_keys, ef_model_n_keys, &cfg};
  /* --config may also come after overrides: collect the rest as overrides */
  if (ef_config_resolve(config, path, sizeof path, err, sizeof err) ||
      ef_config_load(&t, 1, path, err, sizeof err) ||
      ef_config_apply_args(&t, 1, argc, argv, first_override, err, sizeof err)) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  ef_model *m = NULL;
  if (ef_model_new(&cfg, &m, err, sizeof err)) {
    fprintf(stderr, "error: %s: %s\n", path, err);
    return 1;
  }
  printf("config: %s\n", path);
  ef_model_describe(m, stdout);
  ef_model_free(m);
  return 0;
}
