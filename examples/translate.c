/* examples/translate.c: the smallest app using the device C API (runtime/edgeformer_rt.h):
 * `translate MODEL.efm "text" ["more text" ...]` prints one translation per argument, greedy
 * (beam 1) to show how options are set. Built by CMake against libef_runtime.a only and run by a
 * test; docs/device.md shows how to build it by hand. */
#include <stdio.h>
#include <stdlib.h>

#include "runtime/edgeformer_rt.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: translate MODEL.efm TEXT [TEXT ...]\n");
    return 2;
  }
  char err[512];
  ef_rt_model *model = NULL;
  ef_rt_status s = ef_rt_load(argv[1], &model, err, sizeof err);
  if (s != EF_RT_OK) {
    fprintf(stderr, "error (%s): %s\n", ef_rt_strerror(s), err);
    return 1;
  }
  ef_rt_options opts;
  ef_rt_options_default(&opts);
  opts.beam = 1;
  for (int i = 2; i < argc; i++) {
    char *out = NULL;
    s = ef_rt_translate(model, argv[i], &opts, &out, err, sizeof err);
    if (s != EF_RT_OK) {
      fprintf(stderr, "error (%s): %s\n", ef_rt_strerror(s), err);
      ef_rt_free(model);
      return 1;
    }
    printf("%s\n", out);
    free(out);
  }
  ef_rt_free(model);
  return 0;
}
