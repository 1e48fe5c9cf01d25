#!/bin/bash
# tests/eval/test_score_options.sh: `edgeformer score` with sacreBLEU's options, end to end,
# against what sacreBLEU 2.6.0 prints (tests/fixtures/sacrebleu/, written by
# tests/reference/sacrebleu_options.py): 70 corpus configurations (BLEU tokenizers, smoothing,
# max order; chrF orders, beta, whitespace, eps smoothing, chrF++), each line and signature
# byte for byte; three `sacrebleu -sl` outputs line for line; the tokenized-input warning and
# --force; usage errors.
# usage: test_score_options.sh EDGEFORMER FIXTURES_DIR
set -u
E=$1
F=$2/metrics
S=$2/sacrebleu
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
n=0
while IFS=$'\t' read -r name flags _score line sig; do
  refs=(--ref "$F/bleu_ref.txt")
  case $name in *.r2) refs+=(--ref "$F/bleu_ref2.txt") ;; esac
  # shellcheck disable=SC2086 # flags is a word list
  out=$("$E" score $flags --hyp "$F/bleu_hyp.txt" "${refs[@]}" 2>&1)
  n=$((n + 1))
  if [ "$out" != "$line"$'\n'"signature: $sig" ]; then
    echo "FAIL $name: got '$out', want '$line' / '$sig'"
    fail=1
  fi
done <"$S/corpus.tsv"
[ $n -eq 70 ] || { echo "FAIL: $n corpus configurations, want 70"; fail=1; }

sl() { # sl FIXTURE ARGS...: sentence-level output identical to sacrebleu -sl
  local want=$1
  shift
  if ! "$E" score --hyp "$F/bleu_hyp.txt" "$@" | cmp -s - "$S/$want"; then
    echo "FAIL sentence-level $want"
    fail=1
  fi
}
sl sentence_bleu_intl.txt --sentence-level --tokenize intl --smooth-method floor \
  --ref "$F/bleu_ref.txt" --ref "$F/bleu_ref2.txt"
sl sentence_chrfpp.txt --metric chrf -sl --chrf-word-order 2 --ref "$F/bleu_ref.txt"
sl sentence_bleu_zh_w3.txt -sl -tok zh -w 3 --ref "$F/bleu_ref.txt" --ref "$F/bleu_ref2.txt"

# 100 hypotheses ending in " ." warn (as sacreBLEU does) unless --force
for i in $(seq 100); do echo "the word $i is here ."; done >"$T/tok"
err=$("$E" score --hyp "$T/tok" --ref "$T/tok" 2>&1 >/dev/null)
case $err in "warning: $T/tok: 100 lines end in a tokenized period"*) ;; *)
  echo "FAIL no tokenized warning: '$err'"
  fail=1
  ;;
esac
err=$("$E" score --force --hyp "$T/tok" --ref "$T/tok" 2>&1 >/dev/null)
[ -z "$err" ] || { echo "FAIL --force still warns: '$err'"; fail=1; }
err=$("$E" score -sl --hyp "$T/tok" --ref "$T/tok" 2>&1 >/dev/null)
[ -z "$err" ] || { echo "FAIL -sl warns (sacreBLEU scores -sl line by line): '$err'"; fail=1; }
out=$("$E" score -sl --json --metric chrf --chrf-lowercase --hyp "$T/tok" --ref "$T/tok" | head -1)
[ "$out" = '{"name": "chrF2", "score": 100, "line": "chrF2 = 100.00", "signature": "nrefs:1|case:lc|eff:yes|nc:6|nw:0|space:no|version:2.6.0"}' ] ||
  { echo "FAIL -sl --json: $out"; fail=1; }
out=$("$E" score --width 4 --hyp "$T/tok" --ref "$T/tok" --force | head -1)
case $out in "BLEU = 100.0000 100.0/100.0/100.0/100.0 (BP = 1.000 ratio = 1.000 hyp_len = 600 ref_len = 600)") ;; *) echo "FAIL width: $out"; fail=1 ;; esac

usage_err() { # usage_err WANT ARGS...: exit status 2 and this message
  local want=$1 err rc
  shift
  err=$("$E" score "$@" --hyp "$T/tok" --ref "$T/tok" 2>&1 >/dev/null)
  rc=$?
  if [ $rc -ne 2 ] || [ "$err" != "$want" ]; then
    echo "FAIL usage '$*': status $rc, '$err', want '$want'"
    fail=1
  fi
}
usage_err "error: --tokenize spm: expected none, 13a, intl, char or zh" --tokenize spm
usage_err "error: -s add-j: expected exp, floor, add-k or none" -s add-j
usage_err "error: --smooth-value -1: expected a number from 0 to 1e9" --smooth-value -1
usage_err "error: --max-ngram-order 0: expected an integer from 1 to 32" --max-ngram-order 0
usage_err "error: --chrf-word-order is a chrF option (--metric chrf)" --chrf-word-order 2
usage_err "error: --tokenize is a BLEU option (--metric bleu)" --metric chrf --tokenize intl
usage_err "error: --sentence-level is for --metric bleu and chrf" --metric rouge -sl
usage_err "error: --chrf-char-order + --chrf-word-order must be 1 to 32" --metric chrf -cc 0
err=$("$E" score --hyp "$T/tok" --ref "$T/tok" --width 2>&1)
[ "$err" = "error: --width needs a value (run \`edgeformer score --help\`)" ] || {
  echo "FAIL --width without value: '$err'"
  fail=1
}
# ROUGE-Lsum with the rule-based sentence splitter: two sentences in swapped order
printf 'The cat sat on the mat. The dog ran away.\n' >"$T/h"
printf 'The dog ran away. The cat sat on the mat.\n' >"$T/r"
out=$("$E" score --metric rouge --split-sentences --hyp "$T/h" --ref "$T/r")
[ "$(echo "$out" | sed -n 3p)" = "rougeL    P = 60.00 R = 60.00 F = 60.00" ] &&
  [ "$(echo "$out" | sed -n 4p)" = "rougeLsum P = 100.00 R = 100.00 F = 100.00" ] &&
  [ "$(echo "$out" | sed -n 5p)" = "signature: nrefs:1|stem:yes|split:rules|agg:mean|version:rouge-score-0.1.2" ] ||
  { echo "FAIL --split-sentences: $out"; fail=1; }
out=$("$E" score --metric rouge --hyp "$T/h" --ref "$T/r" | sed -n 4p)
[ "$out" = "rougeLsum P = 60.00 R = 60.00 F = 60.00" ] || { echo "FAIL no split: $out"; fail=1; }
usage_err "error: --split-sentences and --sent-sep exclude each other" --metric rouge \
  --sent-sep '<n>' --split-sentences
usage_err "error: --no-stem, --sent-sep and --split-sentences are for --metric rouge" \
  --split-sentences
exit $fail
