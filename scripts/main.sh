#!/usr/bin/env bash
# The main job on the built-in default, end to end on real data:
#   1. set up (idempotent): Debian packages, Release build;
#   2. build the KJV -> WEB dataset from Debian's Bible modules (data/scripts/build.sh);
#   3. learn a 2k SentencePiece vocabulary and binarise it (`edgeformer prepare`);
#   4. train a small EdgeFormer from configs/demo.ini (2,000 updates with bf16 products: about
#      20 minutes on 2 cores with AVX512_BF16 or AMX; fp32 elsewhere, about twice as long);
#   5. report validation loss and perplexity, and where the checkpoints, log and plot are;
#   6. beam-search the test set with the best checkpoint (`edgeformer generate`, beam 5) and
#      report BLEU and chrF2 (sacreBLEU-compatible, with signatures) next to the trivial
#      baselines: copying the source unchanged, and the most frequent training target line
#      for every sentence; then a few test sentences with reference and hypothesis; the full
#      S-/T-/H-/D-/P- output goes to work/checkpoints/demo/generate-test.txt;
#   7. export the best checkpoint to fp32 and int8 `.efm` files (`edgeformer export`), translate
#      the raw test source with the device binary (`edgeformer-run`, beam 5) for both, score
#      BLEU and chrF2 against the raw references, print fp32 vs int8 with file sizes, warn when
#      int8 loses more than 0.5 BLEU, and check that the fp32 file translates exactly as
#      `edgeformer translate` on the checkpoint (docs/device.md). Files in work/device/.
# Re-running resumes from work/checkpoints/demo/checkpoint_last.h5; delete that folder to start
# over. Options (`bash scripts/main.sh --help`):
#   --max-update N   training budget in updates (default 2000, from configs/demo.ini)
#   --threads N      compute threads (default: all cores)
#   --fp32           train in fp32 even where bf16 runs natively
# Any other argument goes to `edgeformer train` (e.g. --lr 5e-4).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2
train_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    --threads) threads=$2; train_args+=(--threads "$2"); shift 2 ;;
    --fp32) train_args+=(--precision fp32); shift ;;
    *) train_args+=("$1"); shift ;;
  esac
done
bash scripts/setup.sh --no-asan
bash data/scripts/build.sh kjv-web
bin=build/bin/edgeformer
if [ ! -f work/bin/kjv-web/valid.h5 ]; then
  "$bin" prepare --trainpref work/data/kjv-web/train --validpref work/data/kjv-web/valid \
    --testpref work/data/kjv-web/test --spm-train 2000 --joined-dictionary \
    --destdir work/bin/kjv-web
fi
"$bin" train configs/demo.ini ${train_args[@]+"${train_args[@]}"}
ckpt=work/checkpoints/demo/checkpoint_best.h5
echo "== test set: beam 5 with $ckpt (hypotheses in work/checkpoints/demo/generate-test.txt)"
"$bin" generate "$ckpt" --gen-subset test --beam 5 --batch-size 64 --threads "$threads" \
  --results-path work/checkpoints/demo/generate-test.txt

# the model against the trivial baselines, all scored on the raw test references
data=work/data/kjv-web
gen=work/checkpoints/demo
sed -n 's/^H-\([0-9]*\)\t[^\t]*\t\(.*\)$/\1\t\2/p' "$gen/generate-test.txt" | sort -n -k1,1 |
  cut -f2- > "$gen/test-hyp.txt"
# the most frequent training target line (ties: the first in byte order)
frequent=$(LC_ALL=C sort "$data/train.tgt" | LC_ALL=C uniq -c |
  awk '{ n = $1; sub(/^ *[0-9]+ /, ""); if (n > best) { best = n; line = $0 } } END { print line }')
awk -v l="$frequent" '{ print l }' "$data/test.tgt" > "$gen/test-frequent.txt"
score_line() { # NAME HYP: "NAME  BLEU  chrF2"
  local b c
  b=$("$bin" score --metric bleu --hyp "$2" --ref "$data/test.tgt" | sed -n 's/^BLEU = \([0-9.]*\).*/\1/p')
  c=$("$bin" score --metric chrf --hyp "$2" --ref "$data/test.tgt" | sed -n 's/^chrF2 = \([0-9.]*\).*/\1/p')
  printf "%-34s %7s %7s\n" "$1" "$b" "$c"
}
echo "== test set ($(wc -l <"$data/test.tgt") sentences): the model against the trivial baselines"
printf "%-34s %7s %7s\n" "system" "BLEU" "chrF2"
{
  score_line "edgeformer (beam 5)" "$gen/test-hyp.txt"
  score_line "copy the source" "$data/test.src"
  score_line "most frequent train target line" "$gen/test-frequent.txt"
} | tee "$gen/test-scores.txt"
awk 'NR == 1 { b = $(NF-1); c = $NF; next } { if ($(NF-1) + 0 >= b + 0 || $NF + 0 >= c + 0) lose = 1 }
     END { if (lose) print "WARNING: the model does not beat every baseline on both metrics";
           else print "ok: the model beats every baseline on BLEU and chrF2" }' "$gen/test-scores.txt"
echo "== a few test sentences (source / reference / edgeformer)"
paste "$data/test.src" "$data/test.tgt" "$gen/test-hyp.txt" |
  awk -F '\t' 'length($1) <= 90 && length($2) <= 90 && n < 5 { n++
    printf "  source:     %s\n  reference:  %s\n  edgeformer: %s\n\n", $1, $2, $3 }'
echo "loss curves: $gen/curves.svg"

# 7. the device runtime: fp32 and int8 .efm against each other and against the checkpoint
dev=work/device run=build/bin/edgeformer-run
src=work/data/kjv-web/test.src ref=work/data/kjv-web/test.tgt
mkdir -p "$dev"
echo "== device runtime: export $ckpt to fp32 and int8 .efm, edgeformer-run --beam 5 on $src"
for dt in fp32 int8; do
  "$bin" export "$ckpt" -o "$dev/demo-$dt.efm" --dtype "$dt" | grep '^wrote'
  t0=$(date +%s%N)
  "$run" "$dev/demo-$dt.efm" --beam 5 --threads "$threads" <"$src" >"$dev/test-$dt.txt"
  echo "$dt: $(wc -l <"$dev/test-$dt.txt") lines translated in $((($(date +%s%N) - t0) / 1000000)) ms"
  "$bin" score --metric bleu --hyp "$dev/test-$dt.txt" --ref "$ref" >"$dev/score-$dt.txt"
  "$bin" score --metric chrf --hyp "$dev/test-$dt.txt" --ref "$ref" >>"$dev/score-$dt.txt"
done
# metric VALUE from a score file: "BLEU = 5.33 ..." / "chrF2 = 20.59"
metric() { sed -n "s/^$2 = \([0-9.]*\).*/\1/p" "$dev/score-$1.txt"; }
b32=$(metric fp32 BLEU) b8=$(metric int8 BLEU) c32=$(metric fp32 chrF2) c8=$(metric int8 chrF2)
s32=$(stat -c %s "$dev/demo-fp32.efm") s8=$(stat -c %s "$dev/demo-int8.efm")
awk -v b32="$b32" -v b8="$b8" -v c32="$c32" -v c8="$c8" -v s32="$s32" -v s8="$s8" 'BEGIN {
  printf "%-6s %12s %8s %8s\n", "model", "bytes", "BLEU", "chrF2"
  printf "%-6s %12d %8.2f %8.2f\n", "fp32", s32, b32, c32
  printf "%-6s %12d %8.2f %8.2f\n", "int8", s8, b8, c8
  d = b8 - b32
  printf "int8 - fp32: BLEU %+.2f, chrF2 %+.2f, size %.2fx smaller\n", d, c8 - c32, s32 / s8
  if (d < -0.5 || d > 0.5) printf "WARNING: |BLEU(int8) - BLEU(fp32)| = %.2f exceeds 0.5\n", (d < 0 ? -d : d)
  else printf "ok: |BLEU(int8) - BLEU(fp32)| = %.2f <= 0.5\n", (d < 0 ? -d : d)
}'
# fp32 on the device = the training side's translate on the checkpoint (same search options; batch 1
# as edgeformer-run: fp32 kernels may round the last bit differently for other batch shapes)
"$bin" translate "$ckpt" --beam 5 --threads "$threads" --batch-size 1 <"$src" >"$dev/test-checkpoint.txt"
ndiff=$(diff "$dev/test-fp32.txt" "$dev/test-checkpoint.txt" | grep -c '^<' || true)
if [ "$ndiff" = 0 ]; then
  echo "ok: the fp32 .efm translates all $(wc -l <"$src") test lines exactly as edgeformer translate"
else
  echo "WARNING: the fp32 .efm and edgeformer translate differ on $ndiff lines ($dev/test-{fp32,checkpoint}.txt)"
fi
