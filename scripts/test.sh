#!/usr/bin/env bash
# Runs every test suite: sets up (idempotent), then ctest in the Release build and in the
# ASan+UBSan build. Exits non-zero if any test fails.
# --web (or EF_TEST_WEB=1): also install what the browser test needs (emscripten, chromium,
# playwright-core; about 2 minutes and 250 MB of packages) so that ctest web_browser runs
# (another 2-5 minutes) instead of being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
setup_args=()
for arg in "$@"; do
  case "$arg" in
    --web) EF_TEST_WEB=1 ;;
    *) echo "error: test.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done
[ "${EF_TEST_WEB:-0}" = 1 ] && setup_args+=(--web)
bash scripts/setup.sh "${setup_args[@]}"
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
