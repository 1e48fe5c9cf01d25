#!/bin/bash
# tests/eval/test_gec_cli.sh: `edgeformer score --metric gec` end to end on the worked corpus
# of docs/metrics.md ("GEC"), the copy baseline, and bad input (one `error:` line, exit 1).
# usage: test_gec_cli.sh EDGEFORMER
set -u
E=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
expect() { # expect NAME GOT WANT
  if [ "$2" != "$3" ]; then
    echo "FAIL $1: got '$2', want '$3'"
    fail=1
  fi
}
printf '%s\n' 'He go to school .' 'I like cat .' 'She is here .' 'They was happy at home .' >"$T/src"
printf '%s\n' 'He goes to school .' 'I like cats .' 'She is here .' 'They were happy in home .' >"$T/hyp"
printf '%s\n' 'He goes to school .' 'I like the cat .' 'She is here .' 'They were happy at home .' >"$T/ref"
sig='signature: tok:whitespace|align:levenshtein|merge:adjacent|beta:0.5'
out=$("$E" score --metric gec --src "$T/src" --hyp "$T/hyp" --ref "$T/ref")
expect "gec" "$out" "GEC P = 50.00 R = 66.67 F0.5 = 52.63 (tp = 2 fp = 2 fn = 1)
$sig"
out=$("$E" score --metric gec --src "$T/src" --hyp "$T/src" --ref "$T/ref")
expect "copy" "$out" "GEC P = 0.00 R = 0.00 F0.5 = 0.00 (tp = 0 fp = 0 fn = 3)
$sig"
out=$("$E" score --metric gec --json --src "$T/src" --hyp "$T/hyp" --ref "$T/ref")
case "$out" in '{"name": "GEC", "precision": 0.5, "recall": 0.66666666666666663, "f0.5": 0.52631578947368'*'"tp": 2, "fp": 2, "fn": 1,'*'"lines": 4}') ;;
  *) echo "FAIL json: $out"; fail=1 ;; esac

head -n 3 "$T/src" >"$T/src3"
printf 'ok\nbad \xc3(\nx\ny\n' >"$T/bad"
bad_input() { # bad_input NAME STATUS WANT_STDERR ARGS...
  local name=$1 st=$2 want=$3
  shift 3
  local err rc
  err=$("$E" score "$@" 2>&1 >/dev/null)
  rc=$?
  expect "$name status" "$rc" "$st"
  expect "$name message" "$err" "$want"
}
bad_input "missing src" 1 "error: $T/nope: cannot open: No such file or directory" \
  --metric gec --src "$T/nope" --hyp "$T/hyp" --ref "$T/ref"
bad_input "src lines" 1 "error: $T/src3: 3 lines, but the hypothesis file $T/hyp has 4" \
  --metric gec --src "$T/src3" --hyp "$T/hyp" --ref "$T/ref"
bad_input "ref lines" 1 "error: $T/src3: 3 lines, but the hypothesis file $T/hyp has 4" \
  --metric gec --src "$T/src" --hyp "$T/hyp" --ref "$T/src3"
bad_input "src utf8" 1 "error: $T/bad: line 2: invalid UTF-8 at byte 5 of the line" \
  --metric gec --src "$T/bad" --hyp "$T/hyp" --ref "$T/ref"
bad_input "no src" 2 "error: --metric gec needs --src FILE and exactly one --ref (and --src is only for gec)" \
  --metric gec --hyp "$T/hyp" --ref "$T/ref"
bad_input "src without gec" 2 "error: --metric gec needs --src FILE and exactly one --ref (and --src is only for gec)" \
  --src "$T/src" --hyp "$T/hyp" --ref "$T/ref"
exit $fail
