/* tests/runtime/efm_fixture_main.c: `efm_fixture CONFIG.ini SPM.model DIR [SEED]` writes a
 * seeded model's checkpoint.h5, dict.src.txt and spm.model into DIR (for test_export.sh and for
 * measuring file sizes of a preset: `edgeformer export DIR/checkpoint.h5 -o m.efm`). */
#include <stdio.h>
#include <stdlib.h>

#include "tests/runtime/efm_fixture.h"

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: efm_fixture CONFIG.ini SPM.model DIR [SEED]\n");
    return 2;
  }
  char err[1024];
  efm_fixture fx;
  uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
  if (efm_fixture_make(argv[1], argv[2], seed, &fx, err, sizeof err) ||
      efm_fixture_save(&fx, argv[3], err, sizeof err)) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  printf("%s: V=%d\n", argv[3], ef_dict_size(fx.dict));
  efm_fixture_free(&fx);
  return 0;
}
