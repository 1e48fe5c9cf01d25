#!/usr/bin/env bash
# Regenerate the small public-domain test fixtures in tests/fixtures/data/ from the built data:
#   kjv-web.{src,tgt}: the first KJV_PAIRS pairs of kjv-web's valid split (held-out chapters)
#   web-es.{src,tgt}:  the first ES_PAIRS pairs of web-es's valid split
# Both Bibles are public domain. Builds the datasets first if needed (build.sh is idempotent).
# Usage: bash data/scripts/make_fixture.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST=$ROOT/tests/fixtures/data
KJV_PAIRS=250 ES_PAIRS=40
MAX_BYTES=100000 # the fixture lives in git: keep it small

mkdir -p "$DEST"
for spec in "kjv-web $KJV_PAIRS" "web-es $ES_PAIRS"; do
  set -- $spec
  bash "$ROOT/data/scripts/build.sh" "$1" >/dev/null
  for side in src tgt; do
    head -n "$2" "$ROOT/work/data/$1/valid.$side" >"$DEST/$1.$side"
  done
done
FILES="$DEST/kjv-web.src $DEST/kjv-web.tgt $DEST/web-es.src $DEST/web-es.tgt"
total=$(cat $FILES | wc -c)
[ "$total" -le "$MAX_BYTES" ] || { echo "error: fixture is $total bytes (> $MAX_BYTES)" >&2; exit 1; }
wc -l $FILES | sed "s|$ROOT/||"
echo "fixture: $total bytes"
