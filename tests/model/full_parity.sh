#!/usr/bin/env bash
# Full edgelm-size parity with the PyTorch reference. Needs Debian's python3-torch for
# /usr/bin/python3; without it, says so and exits 77 (ctest shows the test as skipped).
# Usage: full_parity.sh SOURCE_DIR OUT_DIR TEST_BINARY
set -euo pipefail
src=$1 out=$2 bin=$3
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "SKIPPED: full edgelm-size parity needs python3-torch (bash scripts/setup.sh --references)"
  exit 77
fi
mkdir -p "$out"
cp "$src/configs/edgelm.ini" "$out/edgelm.ini"
/usr/bin/python3 "$src/tests/reference/model_fixtures.py" --config "$out/edgelm.ini" --out "$out"
EF_PARITY_DIR="$out" "$bin"
