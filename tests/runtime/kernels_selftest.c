/* tests/runtime/kernels_selftest.c: the kernel checks (kernels_checks.c) as a plain program,
 * for targets without the Check framework (aarch64 under qemu, scripts/test_aarch64.sh).
 * Exits non-zero when any check fails. */
#include <stdio.h>

#include "kernels_checks.h"

int main(void) {
  int fails = kc_run_all();
  fprintf(stderr, "kernels_selftest: %s (%d failures)\n", fails ? "FAILED" : "passed", fails);
  return fails ? 1 : 0;
}
