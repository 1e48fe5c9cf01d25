#!/usr/bin/env bash
# tests/fuzz/run.sh TARGET SECONDS [libFuzzer options...]: builds one fuzz target
# (fuzz_spm_model, fuzz_spm_encode or fuzz_efm) with clang and libFuzzer (-fsanitize=fuzzer,address,undefined)
# outside the normal gcc build and runs it for SECONDS with a seed corpus copied at run time from
# the committed fixtures (tests/fixtures/spm/*.model for the model reader, one line of
# tests/fixtures/spm/lines.txt per file for the encoder) plus tests/fuzz/corpus_spm/<kind>/;
# the .efm reader's seeds are the small models in tests/fuzz/corpus_efm/; the torch.save
# reader's (fuzz_pt) the import fixtures tests/fixtures/import/*.pt and tests/fuzz/corpus_pt/.
# Everything (binary, grown corpus, crash artifacts, log) goes to a fresh temporary directory
# (or $FUZZ_WORKDIR), whose path is printed; nothing is written into the source tree.
# Needs clang (Debian 12: apt-get install -y clang). The normal build and CI never need it.
# Exit status: libFuzzer's (0 = no crash, leak or timeout found).
set -euo pipefail
usage() { echo "usage: tests/fuzz/run.sh fuzz_spm_model|fuzz_spm_encode|fuzz_efm|fuzz_pt SECONDS [libFuzzer options]" >&2; exit 2; }
[ $# -ge 2 ] || usage
target=$1 seconds=$2
shift 2
case "$target" in
  fuzz_spm_model) kind=model ;;
  fuzz_spm_encode) kind=encode ;;
  fuzz_efm) kind=efm ;;
  fuzz_pt) kind=pt ;;
  *) usage ;;
esac
[[ "$seconds" =~ ^[0-9]+$ ]] || usage
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v clang >/dev/null || { echo "error: run.sh: clang not found (apt-get install -y clang)" >&2; exit 2; }

TIMEOUT_S=10        # one input taking longer is reported as a hang
RSS_LIMIT_MB=2048   # one process above this is reported as out of memory
work=${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/ef-$target.XXXXXX")}
mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"

if [ "$kind" = efm ]; then
  # The whole runtime (reader, tokenizer, kernels, decoder), one object per file, two at a
  # time. kernels_x86*.c are compiled without coverage (its SIMD paths are not what this target
  # explores, and clang needs minutes for it even so); no NEON file on x86.
  flags="-std=gnu11 -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=all -Wall -Wextra"
  flags="$flags -Wno-unused-parameter -I$root -pthread"
  mkdir -p "$work/obj"
  { ls "$root"/runtime/*.c | grep -v kernels_neon; echo "$root/tests/fuzz/fuzz_efm.c"; } |
    xargs -P 2 -I{} sh -c 'f={}; b=$(basename "$f" .c); case "$b" in
        kernels_x86|kernels_x86_i8) s=address,undefined ;; *) s=fuzzer-no-link,address,undefined ;; esac
      clang '"$flags"' -fsanitize=$s -c "$f" -o "'"$work"'/obj/$b.o"'
  clang -fsanitize=fuzzer,address,undefined -pthread "$work"/obj/*.o -lm -o "$work/$target"
  cp "$root"/tests/fuzz/corpus_efm/* "$work/seeds/"
elif [ "$kind" = pt ]; then
  # the torch.save reader and the fairseq config mapping (convert/), with zlib and libinih
  clang -std=gnu11 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -Wall -Wextra -Wno-unused-parameter -I"$root" \
    "$root/tests/fuzz/fuzz_pt.c" "$root"/convert/pt_zip.c "$root"/convert/pickle.c \
    "$root"/convert/pickle_objects.c "$root"/convert/pt_reader.c \
    "$root"/convert/fairseq_config.c "$root"/model/config.c -lz -linih -lm -o "$work/$target"
  cp "$root"/tests/fixtures/import/*.pt "$root"/tests/fixtures/import/*.pkl \
    "$root"/tests/fuzz/corpus_pt/* "$work/seeds/"
else
clang -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=all -Wall -Wextra -Wno-unused-parameter -I"$root" \
  -DFUZZ_SPM_FIXTURES="\"$root/tests/fixtures/spm\"" \
  "$root/tests/fuzz/$target.c" "$root/tests/fuzz/fuzz_spm_check.c" \
  "$root"/runtime/protobuf.c "$root"/runtime/spm*.c -lm -o "$work/$target"

if [ "$kind" = model ]; then
  cp "$root"/tests/fixtures/spm/*.model "$work/seeds/"
else
  split -l 1 -a 4 -d "$root/tests/fixtures/spm/lines.txt" "$work/seeds/line"
  for f in "$work"/seeds/line*; do truncate -s -1 "$f"; done  # drop each line's newline
fi
cp "$root/tests/fuzz/corpus_spm/$kind"/* "$work/seeds/" 2>/dev/null || true
fi

echo "run.sh: $target for ${seconds}s in $work" >&2
cd "$work"
set +e
"./$target" -max_total_time="$seconds" -timeout="$TIMEOUT_S" -rss_limit_mb="$RSS_LIMIT_MB" \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$@" corpus seeds 2>&1 | tee fuzz.log
rc=${PIPESTATUS[0]}
set -e
echo "run.sh: $target exit $rc; log $work/fuzz.log, artifacts in $work/artifacts/" >&2
exit "$rc"
