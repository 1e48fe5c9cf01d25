/* tests/runtime/kernels_selftest.c: the kernel checks (kernels_checks.c) as a plain program,
 * for targets without the Check framework (aarch64 under qemu, scripts/test_aarch64.sh) and for
 * the ThreadSanitizer build of the pool. Usage: kernels_selftest [part-of-a-check-name].
 * Exits non-zero when any check fails. */
#include <stdio.h>

#include "kernels_checks.h"

int main(int argc, char **argv) {
  int fails = kc_run_all(argc > 1 ? argv[1] : NULL);
  fprintf(stderr, "kernels_selftest: %s (%d failures)\n", fails ? "FAILED" : "passed", fails);
  return fails ? 1 : 0;
}
