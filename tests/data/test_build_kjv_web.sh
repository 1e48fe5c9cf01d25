#!/usr/bin/env bash
# data_fixture_format: the committed Bible fixtures (made by data/scripts/make_fixture.sh) are
# well-formed aligned text: each .src/.tgt pair has the same number of lines (and at least
# MIN_PAIRS), every line is valid UTF-8, non-empty, tab-free, without leading, trailing or
# doubled spaces, and every file ends with a newline. Usage: test_build_kjv_web.sh FIXTURES_DIR
set -u
DIR=${1:?usage: test_build_kjv_web.sh FIXTURES_DIR}/data
MIN_PAIRS=20
fail=0
err() { echo "FAIL: $*" >&2; fail=1; }

for name in kjv-web web-es; do
  src=$DIR/$name.src tgt=$DIR/$name.tgt
  for f in "$src" "$tgt"; do
    [ -s "$f" ] || { err "$f: missing or empty"; continue 2; }
  done
  ns=$(wc -l <"$src") nt=$(wc -l <"$tgt")
  [ "$ns" = "$nt" ] || err "$name: $ns source lines but $nt target lines"
  [ "$ns" -ge "$MIN_PAIRS" ] || err "$name: only $ns pairs (expected >= $MIN_PAIRS)"
  for f in "$src" "$tgt"; do
    iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1 || err "$f: not valid UTF-8"
    [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ] || err "$f: last line has no newline"
    n=$(grep -c -E '^$' "$f"); [ "$n" = 0 ] || err "$f: $n empty lines (first: line $(grep -n -m1 -E '^$' "$f" | cut -d: -f1))"
    n=$(grep -c -P '\t' "$f"); [ "$n" = 0 ] || err "$f: $n lines contain a tab"
    n=$(grep -c -E '^ | $|  ' "$f"); [ "$n" = 0 ] || err "$f: $n lines with leading, trailing or doubled spaces"
    n=$(grep -c -P '\r' "$f"); [ "$n" = 0 ] || err "$f: $n lines with a carriage return"
  done
done
# The split rule puts chapter 10 (Genesis 11) first in valid, so the fixture starts at Gen 11:1.
first_src=$(head -n 1 "$DIR/kjv-web.src") first_tgt=$(head -n 1 "$DIR/kjv-web.tgt")
[ "$first_src" = "And the whole earth was of one language, and of one speech." ] ||
  err "kjv-web.src line 1 is not Genesis 11:1 (KJV): $first_src"
[ "$first_tgt" = "The whole earth was of one language and of one speech." ] ||
  err "kjv-web.tgt line 1 is not Genesis 11:1 (WEB): $first_tgt"
[ "$fail" = 0 ] && echo "data_fixture_format: ok ($DIR)"
exit $fail
