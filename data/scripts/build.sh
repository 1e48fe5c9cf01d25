#!/usr/bin/env bash
# Build one real dataset from Debian packages: bash data/scripts/build.sh TASK [options]
#
# Tasks: kjv-web (default task of the project), web-es, desc-sum, en-de, gec; see
# docs/datasets.md. Output: DIR/{train,valid,test}.{src,tgt} (aligned, one segment per line),
# DIR/stats.txt (pair counts) and DIR/README. The sha256 of every split file is checked against
# data/checksums/TASK.sha256 after each build, so a changed Debian package is noticed.
#
# It installs the packages it needs (apt-get, only when something is missing), never touches
# anything outside DIR, its temporary directory and work/cache/, and is idempotent: when DIR
# already holds files matching the recorded checksums it does nothing.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bash data/scripts/build.sh TASK [--out DIR] [--update-checksums] [--force]
  TASK                kjv-web | web-es | desc-sum | en-de | gec
  --out DIR           output directory (default: work/data/TASK under the repository root)
  --update-checksums  accept the built files: rewrite data/checksums/TASK.sha256
  --force             rebuild even when DIR already matches the recorded checksums
EOF
}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3 # Debian's interpreter on purpose: the python3 on PATH may be another one
export PYTHONHASHSEED=0 # belt and braces: the builders never depend on set/dict hash order
SPLIT_FILES="train.src train.tgt valid.src valid.tgt test.src test.tgt"

TASK="" OUT="" UPDATE=0 FORCE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || { usage >&2; exit 2; }; OUT=$2; shift 2 ;;
    --out=*) OUT=${1#--out=}; shift ;;
    --update-checksums) UPDATE=1; shift ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "error: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) [ -z "$TASK" ] || { echo "error: more than one TASK given ($TASK, $1)" >&2; exit 2; }
       TASK=$1; shift ;;
  esac
done

# Debian packages each task reads. JANEAUSTEN_DEB is unpacked, not installed (see below).
case "$TASK" in
  kjv-web)  PACKAGES="libsword-utils sword-text-kjv sword-text-web" ;;
  web-es)   PACKAGES="libsword-utils sword-text-web sword-text-sparv" ;;
  desc-sum) PACKAGES="apt" ;;
  en-de)    PACKAGES="gettext dict-freedict-eng-deu dict-freedict-deu-eng $(grep -v '^#' "$ROOT/data/scripts/en_de_catalogs.txt" | tr '\n' ' ')" ;;
  gec)      PACKAGES="libsword-utils sword-text-kjv sword-text-web codespell" ;;
  "") usage >&2; exit 2 ;;
  *) echo "error: unknown task '$TASK' (expected kjv-web, web-es, desc-sum, en-de or gec)" >&2; exit 2 ;;
esac
JANEAUSTEN_DEB=r-cran-janeaustenr
# desc-sum and gec read package descriptions from apt's English translation index
case "$TASK" in desc-sum|gec) USES_TRANSLATIONS=1 ;; *) USES_TRANSLATIONS=0 ;; esac

OUT=${OUT:-$ROOT/work/data/$TASK}
CHECKSUMS=$ROOT/data/checksums/$TASK.sha256
CACHE=$ROOT/work/cache

# --- checksums -------------------------------------------------------------------------------

# Print the names of split files whose sha256 differs from (or is missing in) the record.
# Exit status 0 when everything matches.
checksum_mismatches() {
  local f want got bad=0
  for f in $SPLIT_FILES; do
    want=$(awk -v f="$f" '$1 !~ /^#/ && $2 == f {print $1}' "$CHECKSUMS")
    got=$( [ -f "$OUT/$f" ] && sha256sum "$OUT/$f" | cut -d' ' -f1 || echo missing)
    if [ -z "$want" ] || [ "$want" != "$got" ]; then echo "$f"; bad=1; fi
  done
  return $bad
}

package_versions() {
  local p
  for p in $PACKAGES; do
    printf '# package %s %s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo '?')"
  done
  if [ "$TASK" = gec ]; then
    printf '# package %s %s (unpacked, not installed)\n' "$JANEAUSTEN_DEB" \
      "$(cat "$CACHE/$JANEAUSTEN_DEB.version" 2>/dev/null || echo '?')"
  fi
  if [ "$USES_TRANSLATIONS" = 1 ]; then
    local f
    for f in /var/lib/apt/lists/*_dists_bookworm_InRelease; do
      [ -f "$f" ] && printf '# index %s %s\n' "$(basename "$f")" "$(grep -m1 '^Date:' "$f")"
    done
  fi
}

write_checksums() {
  {
    echo "# sha256 of the files built by: bash data/scripts/build.sh $TASK"
    echo "# A mismatch means the Debian packages below changed; rebuild with --update-checksums"
    echo "# to accept the new data (and commit this file)."
    package_versions
    (cd "$OUT" && sha256sum $SPLIT_FILES)
  } >"$CHECKSUMS.tmp"
  mv "$CHECKSUMS.tmp" "$CHECKSUMS"
}

if [ "$FORCE" = 0 ] && [ "$UPDATE" = 0 ] && [ -f "$CHECKSUMS" ] && checksum_mismatches >/dev/null; then
  echo "$TASK: up to date in $OUT (checksums match $CHECKSUMS)"
  exit 0
fi

# --- packages --------------------------------------------------------------------------------

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "error: need root to run: $*" >&2; exit 1
  fi
}

# apt-get update keeps the English translation index (desc-sum needs it; this image's apt
# config drops it otherwise). Another engineer's apt may hold the lock: wait and retry.
apt_update() {
  local i
  for i in 1 2 3 4 5; do
    as_root apt-get update -qq -o Acquire::Languages=en && return 0
    echo "apt-get update failed (lock held?); retrying in 20 s" >&2; sleep 20
  done
  echo "error: apt-get update failed 5 times" >&2; exit 1
}

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

missing=""
for p in $PACKAGES; do installed "$p" || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  apt_update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 $missing
fi

if [ "$USES_TRANSLATIONS" = 1 ] && ! ls /var/lib/apt/lists/*_dists_bookworm_main_i18n_Translation-en* >/dev/null 2>&1; then
  echo "fetching apt's English translation index (apt-get update -o Acquire::Languages=en)"
  apt_update
fi

# r-cran-janeaustenr depends on the whole of R; its novels are plain R data, so the .deb is
# downloaded and unpacked into work/cache/ instead of installed.
if [ "$TASK" = gec ]; then
  want=$(apt-cache policy "$JANEAUSTEN_DEB" | awk '/Candidate:/ {print $2}')
  if [ -z "$want" ] || [ "$want" = "(none)" ]; then apt_update; want=$(apt-cache policy "$JANEAUSTEN_DEB" | awk '/Candidate:/ {print $2}'); fi
  if [ "$(cat "$CACHE/$JANEAUSTEN_DEB.version" 2>/dev/null)" != "$want" ]; then
    mkdir -p "$CACHE/deb"
    rm -rf "$CACHE/$JANEAUSTEN_DEB"
    (cd "$CACHE/deb" && rm -f "$JANEAUSTEN_DEB"_*.deb && apt-get download -qq -o APT::Sandbox::User=root "$JANEAUSTEN_DEB=$want")
    dpkg-deb -x "$CACHE/deb/$JANEAUSTEN_DEB"_*.deb "$CACHE/$JANEAUSTEN_DEB"
    echo "$want" >"$CACHE/$JANEAUSTEN_DEB.version"
  fi
  export EF_JANEAUSTEN_DIR=$CACHE/$JANEAUSTEN_DEB
fi

# --- build -----------------------------------------------------------------------------------

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TMP=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
start=$EPOCHREALTIME
"$PY" "$ROOT/data/scripts/build.py" "$TASK" "$TMP"
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')

for f in $SPLIT_FILES stats.txt; do mv "$TMP/$f" "$OUT/$f"; done
{
  echo "Dataset $TASK, built by: bash data/scripts/build.sh $TASK"
  echo "Documentation: docs/datasets.md in the edgeformer repository."
  echo "Files: {train,valid,test}.{src,tgt}, aligned line by line (UTF-8, one segment per line)."
  echo "Built $(date -u +%Y-%m-%dT%H:%M:%SZ) in ${elapsed} s from these Debian packages:"
  package_versions | sed 's/^# /  /'
  echo
  cat "$OUT/stats.txt"
} >"$OUT/README"

if [ "$UPDATE" = 1 ] || [ ! -f "$CHECKSUMS" ]; then
  write_checksums
  echo "$TASK: recorded checksums in ${CHECKSUMS#"$ROOT"/} (commit it)"
elif ! bad=$(checksum_mismatches); then
  for f in $bad; do
    echo "error: $TASK/$f: sha256 differs from ${CHECKSUMS#"$ROOT"/}: the contents of the Debian" \
      "packages it is built from changed (recorded versions below, current ones in $OUT/README)." >&2
  done
  grep '^# package\|^# index' "$CHECKSUMS" | sed 's/^# /  recorded: /' >&2
  echo "If the new data is intended, rerun with --update-checksums and commit the file." >&2
  exit 1
fi
echo "$TASK: $(grep -E '^(train|valid|test) ' "$OUT/stats.txt" | tr '\n' ' ')in $OUT (${elapsed} s)"
