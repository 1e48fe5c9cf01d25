#!/usr/bin/env bash
# bench/rss_device.sh [BUILD_DIR] [LINES]: peak resident memory of the device translator.
# Writes the edgelm preset (seeded weights, V 2048; bench_device --write) as fp32 and int8 .efm
# into a temporary folder, then runs `edgeformer-run` on the first LINES (default 100) lines of
# tests/fixtures/data/kjv-web.src under /usr/bin/time -v and prints the peak RSS (what the
# kernel counts: the touched pages of the mapped model file, the binary and libc, the heap) and
# the wall time, for:
#   - loading only (no input), int8 and fp32;
#   - int8, beam 5 and greedy, fairseq-generate's default length limit (0·n + 200 tokens): the
#     seeded model is untrained and rarely emits </s>, so most hypotheses run to 200 tokens and
#     the self-attention caches reach their largest size;
#   - int8, beam 5 and greedy, the length limit of validation BLEU (1.2·n + 10), what a trained
#     model's translations of these lines come to.
# Needs bench_device and edgeformer-run built in BUILD_DIR (default build/). Never run by tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
lines=${2:-100}
[ -x /usr/bin/time ] || { echo "error: needs /usr/bin/time (Debian package time)" >&2; exit 1; }
for b in bench_device edgeformer-run; do
  [ -x "$build/bin/$b" ] || { echo "error: $build/bin/$b not built" >&2; exit 1; }
done
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
"$build/bin/bench_device" --write "$w" | grep '^size'
head -n "$lines" "$root/tests/fixtures/data/kjv-web.src" >"$w/in.txt"
echo "rss_device: edgeformer-run, $(wc -l <"$w/in.txt") lines of kjv-web.src, 1 thread; load average $(cut -d' ' -f1 /proc/loadavg)"
printf '%-6s %-36s %12s %10s %10s\n' model case "peak RSS KB" "wall s" "output"
# measure MODEL LABEL INPUT ARGS...
measure() {
  local model=$1 label=$2 input=$3; shift 3
  /usr/bin/time -v -o "$w/time.txt" "$build/bin/edgeformer-run" "$w/edgelm-$model.efm" "$@" \
    <"$input" >"$w/out.txt"
  local kb wall words
  kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$w/time.txt")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$w/time.txt")
  words=$(wc -w <"$w/out.txt")
  printf '%-6s %-36s %12s %10s %10s\n' "$model" "$label" "$kb" "$wall" "$words words"
}
measure int8 "load only" /dev/null
measure fp32 "load only" /dev/null
measure int8 "beam 5, max len 200 (default)" "$w/in.txt" --beam 5
measure int8 "greedy, max len 200 (default)" "$w/in.txt" --beam 1
measure int8 "beam 5, max len 1.2n+10" "$w/in.txt" --beam 5 --max-len-a 1.2 --max-len-b 10
measure int8 "greedy, max len 1.2n+10" "$w/in.txt" --beam 1 --max-len-a 1.2 --max-len-b 10
