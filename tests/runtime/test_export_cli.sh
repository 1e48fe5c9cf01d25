#!/usr/bin/env bash
# tests/runtime/test_export_cli.sh EDGEFORMER EDGEFORMER_RUN TRANSLATE EFM_FIXTURE SOURCE_DIR WORK_DIR
# `edgeformer export` and the device binaries end to end on a seeded small model: export int8
# and fp32, translate with edgeformer-run and examples/translate (same output), bad arguments,
# and malformed .efm files (truncated at many lengths, flipped bytes, each header field broken
# with the CRC fixed), each of which must give exit 1 and exactly one "error: " line on stderr,
# never a crash or a sanitizer report. Everything is written under WORK_DIR (recreated).
set -euo pipefail
[ $# -eq 6 ] || { echo "usage: $0 EDGEFORMER EDGEFORMER_RUN TRANSLATE EFM_FIXTURE SOURCE_DIR WORK_DIR" >&2; exit 2; }
ef=$1 run=$2 translate=$3 fixture=$4 src=$5 w=$6
rm -rf "$w"
mkdir -p "$w/bad"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect_error EXIT_CODE CMD...: stderr one "error: " line, no sanitizer report, given exit code
expect_error() {
  local want=$1; shift
  local rc=0
  "$@" >"$w/out" 2>"$w/err" </dev/null || rc=$?
  if [ "$rc" != "$want" ]; then fail "exit $rc (want $want): $* :: $(head -c 300 "$w/err")"; return; fi
  if [ "$(wc -l <"$w/err")" != 1 ] || ! grep -q '^error: ' "$w/err"; then
    fail "not one error line: $* :: $(head -c 600 "$w/err")"
  fi
  if grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$w/err"; then fail "sanitizer: $*"; fi
}

"$fixture" "$src/tests/fixtures/model/edgelm_small.ini" "$src/tests/fixtures/spm/char_identity.model" "$w" 7 >/dev/null
"$ef" export "$w/checkpoint.h5" -o "$w/m.efm" >"$w/export.txt" || fail "export int8"
grep -q "^wrote $w/m.efm: [0-9]* bytes (int8" "$w/export.txt" || fail "export line: $(cat "$w/export.txt")"
grep -q "^verified $w/m.efm" "$w/export.txt" || fail "no verification line"
"$ef" export "$w/checkpoint.h5" -o "$w/m32.efm" --dtype fp32 >/dev/null || fail "export fp32"
[ "$(stat -c %s "$w/m32.efm")" -gt "$(stat -c %s "$w/m.efm")" ] || fail "fp32 file not larger"
ls "$w" | grep -q '\.tmp-' && fail "temporary file left behind"

# translation: edgeformer-run (greedy) equals the example program, threads do not matter
printf 'In the beginning\nGod said\n\nLet there be light.\n' >"$w/in.txt"
"$run" "$w/m.efm" --beam 1 <"$w/in.txt" >"$w/run1.txt" || fail "edgeformer-run"
[ "$(wc -l <"$w/run1.txt")" = 4 ] || fail "edgeformer-run printed $(wc -l <"$w/run1.txt") lines for 4"
"$translate" "$w/m.efm" "In the beginning" "God said" "" "Let there be light." >"$w/tr.txt" || fail "translate"
cmp -s "$w/run1.txt" "$w/tr.txt" || fail "edgeformer-run and examples/translate differ"
"$run" "$w/m.efm" --beam 1 --threads 2 <"$w/in.txt" >"$w/run2.txt" || fail "--threads 2"
cmp -s "$w/run1.txt" "$w/run2.txt" || fail "--threads 2 changed the output"
# fp32: the device path gives exactly what the training side's translate gives on the checkpoint
"$ef" translate "$w/checkpoint.h5" --spm "$w/spm.model" --src-dict "$w/dict.src.txt" \
  --tgt-dict "$w/dict.src.txt" --beam 3 --batch-size 1 <"$w/in.txt" >"$w/ckpt.txt" 2>/dev/null ||
  fail "edgeformer translate"
"$run" "$w/m32.efm" --beam 3 <"$w/in.txt" >"$w/run32.txt" || fail "edgeformer-run fp32"
cmp -s "$w/ckpt.txt" "$w/run32.txt" || fail "fp32 .efm and the checkpoint translate differently"
"$run" "$w/m32.efm" --beam 4 --lenpen 0.8 --max-len-a 1.2 --max-len-b 5 <"$w/in.txt" >/dev/null || fail "fp32 beam"
head -c 400 /dev/zero | tr '\0' 'x' | sed 's/x/x /g' >"$w/long.txt"; echo >>"$w/long.txt"
"$run" "$w/m.efm" <"$w/long.txt" >/dev/null 2>"$w/err" && fail "over-long line accepted"
grep -q '^error: stdin:1: ' "$w/err" || fail "over-long line message: $(cat "$w/err")"

# the device binary links nothing of the training side
if command -v ldd >/dev/null; then
  ldd "$run" | grep -qiE 'hdf5|openblas|libz\.|inih|check' && fail "edgeformer-run links: $(ldd "$run")"
fi

# bad arguments and inputs
expect_error 2 "$ef" export "$w/checkpoint.h5"
expect_error 2 "$ef" export "$w/checkpoint.h5" -o "$w/x.efm" --dtype int4
expect_error 1 "$ef" export "$w/nope.h5" -o "$w/x.efm"
expect_error 1 "$ef" export "$w/checkpoint.h5" -o "$w/x.efm" --dict "$w/nope.txt"
expect_error 1 "$ef" export "$w/checkpoint.h5" -o "$w/x.efm" --spm "$w/dict.src.txt"
expect_error 1 "$ef" export "$w/checkpoint.h5" -o "$w/no/such/dir/x.efm"
expect_error 1 "$ef" export "$w/checkpoint.h5" -o "$w/checkpoint.h5"
[ -s "$w/checkpoint.h5" ] && "$ef" export "$w/checkpoint.h5" -o "$w/m2.efm" >/dev/null || fail "checkpoint damaged"
expect_error 1 "$run" "$w/nope.efm"
expect_error 1 "$run" "$w"
expect_error 2 "$run" "$w/m.efm" --beam 0
expect_error 2 "$run" "$w/m.efm" --threads x

# malformed files (python3 only for byte surgery; zlib's crc32 fixes the checksum)
python3 - "$w/m.efm" "$w/bad" <<'PY'
import struct, sys, zlib
src, out = sys.argv[1], sys.argv[2]
good = open(src, 'rb').read()
n = len(good)
def save(name, b, fix=True):
    b = bytearray(b)
    if fix and len(b) >= 4:
        b[-4:] = struct.pack('<I', zlib.crc32(bytes(b[:-4])) & 0xffffffff)
    open('%s/%s.efm' % (out, name), 'wb').write(bytes(b))
for k in list(range(0, 300, 7)) + list(range(300, n, max(1, n // 60))):
    save('trunc_%07d' % k, good[:k], fix=False)
for i, pos in enumerate(range(24, n, max(1, n // 40))):
    b = bytearray(good); b[pos] ^= 0x10; save('flip_%03d' % i, b, fix=False)
def patched(off, fmt, val):
    b = bytearray(good); struct.pack_into(fmt, b, off, val); return b
sec = lambda s: struct.unpack_from('<QQ', good, 96 + 16 * s)
save('magic', b'EFM9' + good[4:])
save('version', patched(4, '<I', 2))
save('header_size', patched(12, '<I', 64))
save('file_size', patched(16, '<Q', n * 2))
save('offset_past_end', patched(96 + 16 * 5 + 8, '<Q', n))
save('spm_offset_huge', patched(96 + 16 * 3, '<Q', 1 << 60))
save('data_misaligned', patched(96 + 16 * 5, '<Q', sec(5)[0] + 8))
toff = sec(1)[0]
ent = lambda t: toff + 64 * t
save('tensor_misaligned', patched(ent(0) + 24, '<Q', struct.unpack_from('<Q', good, ent(0) + 24)[0] + 4))
save('tensor_past_end', patched(ent(0) + 24, '<Q', (n - 4) // 64 * 64))
# a LayerNorm/bias vector whose length disagrees with the config
ntens = struct.unpack_from('<i', good, 80)[0]
vec = next(t for t in range(ntens) if struct.unpack_from('<Iii', good, ent(t) + 8)[1] == 1)
cols = struct.unpack_from('<i', good, ent(vec) + 16)[0]
save('shape_vs_config', patched(ent(vec) + 16, '<i', cols - 1))
save('config_heads', patched(24 + 12, '<i', 5))
save('empty', b'', fix=False)
PY
nbad=0
for f in "$w"/bad/*.efm; do
  expect_error 1 "$ef" export --verify "$f"
  expect_error 1 "$run" "$f"
  nbad=$((nbad + 1))
done
for name in magic version header_size file_size offset_past_end data_misaligned tensor_misaligned \
  tensor_past_end shape_vs_config; do
  { "$ef" export --verify "$w/bad/$name.efm" 2>&1 || true; } | sed "s|^|  $name: |"
done
echo "test_export_cli: $nbad malformed files, $fails failures"
[ "$fails" = 0 ]
