#!/usr/bin/env bash
# tests/web/test_web.sh EDGEFORMER EDGEFORMER_RUN SOURCE_DIR WORK_DIR
# The device runtime in a browser: builds the WebAssembly modules and the page
# (scripts/build_wasm.sh --check: the kernel checks under node, SIMD128 == portable bits),
# trains a tiny model (the recipe of tests/runtime/test_device_quality.sh, ~30 s) and exports
# it as int8 and fp32, translates 25 lines with edgeformer-run, then with the page in headless
# Chromium (tests/web/test_web.js): each model with the SIMD128 and the portable module must
# give exactly edgeformer-run's lines (greedy and beam 5), and bad files (truncated, a flipped
# byte, not an .efm) dropped on the page must show exactly edgeformer-run's error line.
# Needs emcc (Debian's emscripten), /usr/bin/chromium, node and tests/web/node_modules
# (`npm ci` in tests/web; `bash scripts/setup.sh --web` installs all of them): without them it
# prints SKIPPED and exits 77, which ctest reports as skipped.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 EDGEFORMER EDGEFORMER_RUN SOURCE_DIR WORK_DIR" >&2; exit 2; }
bin=$(realpath "$1") run=$(realpath "$2") src=$(realpath "$3") w=$(realpath -m "$4")
chromium=${EF_CHROMIUM:-/usr/bin/chromium}
missing=()
command -v emcc >/dev/null || missing+=("emcc (apt-get install emscripten)")
[ -x "$chromium" ] || missing+=("$chromium (apt-get install chromium)")
command -v node >/dev/null || missing+=("node")
[ -d "$src/tests/web/node_modules/playwright-core" ] || missing+=("tests/web/node_modules (npm ci in tests/web)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "SKIPPED test_web: missing $(IFS=,; echo "${missing[*]}" | sed 's/,/, /g'); bash scripts/setup.sh --web installs them"
  exit 77
fi
rm -rf "$w"
mkdir -p "$w/text" "$w/bad"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

bash "$src/scripts/build_wasm.sh" "$w/wasm" --check >"$w/build.log" 2>&1 || { cat "$w/build.log"; echo "FAIL: build_wasm.sh"; exit 1; }
grep -E '\.wasm:|kernels_selftest:|wasm_kernels_identical:' "$w/build.log"

# a tiny trained model (sentence-like outputs that differ per line)
fx="$src/tests/fixtures/data"
head -n 200 "$fx/kjv-web.src" >"$w/text/train.src"
head -n 200 "$fx/kjv-web.tgt" >"$w/text/train.tgt"
sed -n 201,225p "$fx/kjv-web.src" >"$w/text/valid.src"
sed -n 201,225p "$fx/kjv-web.tgt" >"$w/text/valid.tgt"
head -n 25 "$fx/kjv-web.src" >"$w/lines.txt"
"$bin" prepare --trainpref "$w/text/train" --validpref "$w/text/valid" \
  --spm "$src/tests/fixtures/spm/uni2k_nfkc.model" --joined-dictionary --destdir "$w/bin" >"$w/prepare.log"
cat >"$w/tiny.ini" <<INI
[model]
encoder_layers = 2
decoder_layers = 2
embed_dim = 64
attention_heads = 4
encoder_ffn_dim = 128
decoder_ffn_dim = 16
encoder_attn_sets = 2
encoder_ffn_sets = 1
decoder_layer_sets = 2
layer_adaptation = adapter
lora_rank = 4
dropout = 0.0
max_source_positions = 128
max_target_positions = 128
[data]
data = $w/bin
max_tokens = 800
[optim]
lr = 0.003
warmup_updates = 5
[train]
max_update = 500
validate_interval_updates = 500
save_interval_updates = 500
log_interval = 50
threads = 2
no_progress_bar = true
INI
"$bin" train "$w/tiny.ini" --save-dir "$w/ck" >"$w/train.log"
"$bin" export "$w/ck/checkpoint_last.h5" -o "$w/tiny-int8.efm" >/dev/null
"$bin" export "$w/ck/checkpoint_last.h5" -o "$w/tiny-fp32.efm" --dtype fp32 >/dev/null

# bad files, with edgeformer-run's message for each (run from $w/bad so it names the file as
# the page does: by its name)
head -c 1000 "$w/tiny-int8.efm" >"$w/bad/truncated.efm"
cp "$w/tiny-int8.efm" "$w/bad/flipped.efm"
printf '\xff' | dd of="$w/bad/flipped.efm" bs=1 seek=5000 conv=notrunc status=none
printf 'this is not a model\n' >"$w/bad/notes.efm"
bad_json=""
for f in truncated flipped notes; do
  msg=$(cd "$w/bad" && "$run" "$f.efm" </dev/null 2>&1 >/dev/null || true)
  case $msg in error:\ *) ;; *) fail "edgeformer-run $f.efm did not fail with one error line: $msg"; continue ;; esac
  key=expected want=${msg#error: }
  # too short for a header: the memory loader words the rest of the line its own way
  [ $f = notes ] && key=expectedPrefix want="notes.efm: file is 20 bytes"
  bad_json+="${bad_json:+,}{\"file\": $(node -e 'console.log(JSON.stringify(process.argv[1]))' "$w/bad/$f.efm"), \"$key\": $(node -e 'console.log(JSON.stringify(process.argv[1]))' "$want")}"
done

cases=""
for m in int8 fp32; do
  for beam in 1 5; do
    "$run" "$w/tiny-$m.efm" --beam $beam --max-len-b 30 <"$w/lines.txt" >"$w/native-$m-$beam.txt"
    for k in simd portable; do
      exp=$(node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").split("\n");l.pop();console.log(JSON.stringify(l))' "$w/native-$m-$beam.txt")
      cases+="${cases:+,}{\"label\": \"$m beam $beam\", \"model\": \"$w/tiny-$m.efm\", \"kernels\": \"$k\", \"beam\": $beam, \"maxLenB\": 30, \"expected\": $exp}"
    done
  done
done
lines=$(node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").split("\n");l.pop();console.log(JSON.stringify(l))' "$w/lines.txt")
cat >"$w/config.json" <<JSON
{"site": "$w/wasm/site", "chromium": "$chromium", "profile": "$w/profile", "lines": $lines,
 "screenshot": "$w/page.png", "screenshotError": "$w/page-error.png", "results": "$w/results.json",
 "cases": [$cases], "bad": [$bad_json]}
JSON
NODE_PATH="$src/tests/web/node_modules" node "$src/tests/web/test_web.js" "$w/config.json" || fails=$((fails + 1))
echo "test_web: $fails failures"
[ "$fails" = 0 ]
