#!/usr/bin/env bash
# Runs every test suite: sets up (idempotent), then ctest in the Release build and in the
# ASan+UBSan build. Exits non-zero if any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for tree in build build-asan; do
  echo "== ctest in $tree =="
  ctest --test-dir "$tree" --output-on-failure -j 2 || status=1
done
# runtime/ cross-built for aarch64 and run under qemu (installs the cross toolchain if missing)
echo "== runtime on aarch64 (qemu) =="
bash scripts/test_aarch64.sh || status=1
exit $status
