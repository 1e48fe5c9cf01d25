#!/bin/bash
# tests/eval/test_score_cli.sh: `edgeformer score` end to end: the printed lines equal
# sacreBLEU's on the fixtures, and bad input gives one `error:` line and exit status 1.
# usage: test_score_cli.sh EDGEFORMER FIXTURES_DIR
set -u
E=$1
F=$2/metrics
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
expect() { # expect NAME GOT WANT
  if [ "$2" != "$3" ]; then
    echo "FAIL $1: got '$2', want '$3'"
    fail=1
  fi
}
ex() { grep -P "^$1\t" "$F/expected.tsv" | cut -f2-; }

out=$("$E" score --hyp "$F/bleu_hyp.txt" --ref "$F/bleu_ref.txt")
expect "bleu line" "$(echo "$out" | sed -n 1p)" "$(ex 'bleu\.all\.r1\.mixed\.line')"
expect "bleu sig" "$(echo "$out" | sed -n 2p)" "signature: $(ex 'bleu\.all\.r1\.mixed\.sig')"
out=$("$E" score --lowercase --hyp "$F/bleu_hyp.txt" --ref "$F/bleu_ref.txt" --ref "$F/bleu_ref2.txt")
expect "bleu 2 refs lc" "$(echo "$out" | sed -n 1p)" "$(ex 'bleu\.all\.r2\.lc\.line')"
out=$("$E" score --metric chrf --hyp "$F/bleu_hyp.txt" --ref "$F/bleu_ref.txt")
expect "chrf line" "$(echo "$out" | sed -n 1p)" "$(ex 'chrf\.all\.r1\.mixed\.line')"
expect "chrf sig" "$(echo "$out" | sed -n 2p)" "signature: $(ex 'chrf\.all\.r1\.mixed\.sig')"
out=$("$E" score --metric rouge --json --hyp "$F/desc_pred.txt" --ref "$F/desc_target.txt")
case "$out" in '{"name": "ROUGE", "rouge1": {"precision": '*) ;; *) echo "FAIL rouge json: $out"; fail=1 ;; esac

printf 'a\nb\n' >"$T/two"
printf 'a\n' >"$T/one"
printf 'ok\nbad \xc3(\n' >"$T/bad"
: >"$T/empty"
bad_input() { # bad_input NAME WANT_STDERR ARGS...
  local name=$1 want=$2
  shift 2
  local err rc
  err=$("$E" score "$@" 2>&1 >/dev/null)
  rc=$?
  expect "$name status" "$rc" 1
  expect "$name message" "$err" "$want"
}
bad_input "line counts" "error: $T/one: 1 lines, but the hypothesis file $T/two has 2" \
  --hyp "$T/two" --ref "$T/one"
bad_input "utf8" "error: $T/bad: line 2: invalid UTF-8 at byte 5 of the line" \
  --hyp "$T/bad" --ref "$T/two"
bad_input "missing" "error: $T/nope: cannot open: No such file or directory" \
  --hyp "$T/nope" --ref "$T/one"
bad_input "empty" "error: $T/empty: no lines to score" --hyp "$T/empty" --ref "$T/empty"
bad_input "directory" "error: $T: cannot read: Is a directory" --hyp "$T" --ref "$T/one"
"$E" score --hyp "$T/two" >/dev/null 2>&1
expect "no ref status" "$?" 2
exit $fail
