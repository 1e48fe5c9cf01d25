#!/usr/bin/env bash
# The main job on the built-in default: sets up (idempotent), then runs it.
# Until the trainer lands this is the autograd engine demo (a Transformer block fitted to a
# fixed target, printing the falling loss).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-asan
exec build/bin/edgeformer demo "$@"
