#!/bin/bash
# tests/experiments/test_experiments.sh: the experiment suite end to end on the tiny fixture
# table (experiments/tables/fixture.ini: 250 pairs of tests/fixtures/data, a d = 32 model,
# 6 updates): run writes a result JSON, a rerun skips it, check re-trains the first
# validation interval and finds the recorded loss bit for bit (and fails on a tampered one),
# and the report is byte-for-byte reproducible, including the committed docs/experiments.md.
# usage: test_experiments.sh BIN_DIR SOURCE_DIR
set -u
BIN=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
RUN="$SRC/experiments/run.py"
fail=0
die() { echo "FAIL $*"; fail=1; }

$PY "$RUN" run "$SRC/experiments/tables/fixture.ini" --bin "$BIN" --results "$T/res" \
  --work "$T/work" >"$T/run.log" 2>&1 || { cat "$T/run.log"; die "run"; }
J="$T/res/fixture/tiny-fixture-kjv-web-s1.json"
[ -f "$J" ] || die "no result $J"
$PY - "$J" <<'PY' || die "result fields"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["updates"] == 6 and j["threads"] == 2 and j["run"]["seed"] == 1, j
assert [u for u, _, _ in j["valid_curve"]] == [3, 6], j["valid_curve"]
assert j["counts"]["params_without_embeddings"] > 0 and j["counts"]["macs_30_30"] > 0
assert j["check"]["updates"] == 3 and float(j["check"]["valid_loss"]) > 0
assert 0 <= j["test"]["bleu"] <= 100 and "gec_f05" in j["test"] and j["tokens_per_second"] > 0
PY
out=$($PY "$RUN" run "$SRC/experiments/tables/fixture.ini" --bin "$BIN" --results "$T/res" \
  --work "$T/work" 2>&1)
case "$out" in *"skip "*"(done)"*) ;; *) die "rerun did not skip: $out" ;; esac

out=$($PY "$RUN" check "$J" --bin "$BIN" --work "$T/work" 2>&1) || die "check: $out"
case "$out" in *": identical"*) ;; *) die "check output: $out" ;; esac
sed 's/"valid_loss": "\([0-9]\)/"valid_loss": "1\1/' "$J" >"$T/tampered.json"
if $PY "$RUN" check "$T/tampered.json" --bin "$BIN" --work "$T/work" >"$T/t.log" 2>&1; then
  die "check accepted a tampered loss"
fi
grep -q DIFFERENT "$T/t.log" || die "tampered check output: $(cat "$T/t.log")"

# the report: twice on the same files -> identical bytes; the committed page is current
for k in 1 2; do
  mkdir -p "$T/r$k"
  $PY "$RUN" report --results "$SRC/experiments/results" --out "$T/r$k/experiments.md" \
    --plots "$T/r$k/experiments" >/dev/null || die "report $k"
done
diff -r "$T/r1" "$T/r2" >/dev/null || die "report not reproducible"
if [ -f "$SRC/docs/experiments.md" ]; then
  mkdir -p "$T/docs"
  $PY "$RUN" report --out "$T/docs/experiments.md" --plots "$T/docs/experiments" >/dev/null
  cmp -s "$T/docs/experiments.md" "$SRC/docs/experiments.md" ||
    die "docs/experiments.md differs from the report of experiments/results (rerun the report)"
  for f in "$T"/docs/experiments/*.svg; do
    cmp -s "$f" "$SRC/docs/experiments/$(basename "$f")" || die "docs/experiments/$(basename "$f") is stale"
  done
fi
exit $fail
