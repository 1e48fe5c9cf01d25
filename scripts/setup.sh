#!/usr/bin/env bash
# Installs the Debian packages edgeformer needs (only those missing), then configures and
# builds two trees: build/ (Release; binaries in build/bin/) and build-asan/ (ASan+UBSan).
# Idempotent and non-interactive. Options:
#   --references   also install the test-only references (PyTorch, numpy, h5py,
#                  sentencepiece for /usr/bin/python3) and the Debian text packages
#                  (Bibles, gettext, FreeDict, fortunes) used to regenerate fixtures
#   --no-asan      build only the Release tree
#   --web          also what the browser test (ctest web_browser) needs: Debian's emscripten and
#                  chromium, and playwright-core in tests/web/node_modules (npm ci)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config libopenblas-dev libhdf5-dev hdf5-tools zlib1g-dev
      check libinih-dev sentencepiece python3 libdnnl-dev)
REFS=(python3-torch python3-numpy python3-h5py python3-sentencepiece sword-text-kjv sword-text-web
      sword-text-sparv libsword-utils gettext dict-freedict-eng-deu fortunes)
asan=1
web=0
for arg in "$@"; do
  case "$arg" in
    --references) PKGS+=("${REFS[@]}") ;;
    --web) web=1; PKGS+=(emscripten chromium); command -v npm >/dev/null || PKGS+=(npm) ;;
    --no-asan) asan=0 ;;
    *) echo "error: setup.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$web" = 1 ] && [ ! -d tests/web/node_modules/playwright-core ]; then
  (cd tests/web && npm ci --no-audit --no-fund --loglevel=error)
fi

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
if [ "$asan" = 1 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEF_SANITIZE=ON >/dev/null
  cmake --build build-asan -j "$jobs"
fi
