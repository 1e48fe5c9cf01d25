#!/usr/bin/env bash
# tests/runtime/test_device_quality.sh EDGEFORMER EDGEFORMER_RUN SOURCE_DIR WORK_DIR
# The device path on a tiny model trained here (so hypotheses are sentence-like and differ per
# line, not the repeats of a random model; the "test" lines are 25 of its training lines, which
# it has half memorised, so BLEU is ~20 rather than ~0 and the int8 bound means something):
# `edgeformer export --dtype fp32` + `edgeformer-run` translates
# byte-identically to `edgeformer translate` on the checkpoint, greedy and beam 4 with
# --no-repeat-ngram-size 2; the int8 export translates every line too and its BLEU is within
# INT8_BLEU_BOUND of fp32 (loose: 25 sentences of a 500-update model; the 0.5 BLEU check on
# the real test set is scripts/main.sh). Everything is written under WORK_DIR (recreated).
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 EDGEFORMER EDGEFORMER_RUN SOURCE_DIR WORK_DIR" >&2; exit 2; }
bin=$1 run=$2 src=$3 w=$4
INT8_BLEU_BOUND=5 # int8 measured 1.5 below fp32 here; a broken int8 path scores ~0
rm -rf "$w"
mkdir -p "$w/text"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

fx="$src/tests/fixtures/data"
head -n 200 "$fx/kjv-web.src" >"$w/text/train.src"
head -n 200 "$fx/kjv-web.tgt" >"$w/text/train.tgt"
sed -n 201,225p "$fx/kjv-web.src" >"$w/text/valid.src"
sed -n 201,225p "$fx/kjv-web.tgt" >"$w/text/valid.tgt"
head -n 25 "$fx/kjv-web.src" >"$w/text/test.src"
head -n 25 "$fx/kjv-web.tgt" >"$w/text/test.tgt"
"$bin" prepare --trainpref "$w/text/train" --validpref "$w/text/valid" \
  --testpref "$w/text/test" --spm "$src/tests/fixtures/spm/uni2k_nfkc.model" \
  --joined-dictionary --destdir "$w/bin" >"$w/prepare.log"

# the shape of edgelm (shared encoder sets, interleaved decoder, LoRA), tiny
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
ck="$w/ck/checkpoint_last.h5"
"$bin" export "$ck" -o "$w/m32.efm" --dtype fp32 >/dev/null || fail "export fp32"
"$bin" export "$ck" -o "$w/m8.efm" --dtype int8 >/dev/null || fail "export int8"

n=$(wc -l <"$w/text/test.src")
# label OPTIONS...: translate the test source with the checkpoint and both .efm files
translate_all() {
  local label=$1; shift
  "$bin" translate "$ck" "$@" --batch-size 1 <"$w/text/test.src" >"$w/$label.ckpt.txt" 2>"$w/err" ||
    fail "edgeformer translate $*: $(head -c 300 "$w/err")"
  "$run" "$w/m32.efm" "$@" <"$w/text/test.src" >"$w/$label.fp32.txt" 2>"$w/err" ||
    fail "edgeformer-run fp32 $*: $(head -c 300 "$w/err")"
  "$run" "$w/m8.efm" "$@" <"$w/text/test.src" >"$w/$label.int8.txt" 2>"$w/err" ||
    fail "edgeformer-run int8 $*: $(head -c 300 "$w/err")"
  [ "$(wc -l <"$w/$label.ckpt.txt")" = "$n" ] || fail "$label: translate gave $(wc -l <"$w/$label.ckpt.txt") lines for $n"
  [ "$(grep -c . "$w/$label.int8.txt" || true)" = "$n" ] || fail "$label: int8 gave empty or missing lines"
  if ! cmp -s "$w/$label.ckpt.txt" "$w/$label.fp32.txt"; then
    fail "$label: fp32 .efm and the checkpoint differ: $(diff "$w/$label.ckpt.txt" "$w/$label.fp32.txt" | head -4)"
  fi
}
translate_all greedy --beam 1 --max-len-b 30 --no-repeat-ngram-size 2
translate_all beam4 --beam 4 --max-len-b 30 --no-repeat-ngram-size 2
# blocking is applied on the device: without it the output must differ somewhere
"$run" "$w/m32.efm" --beam 4 --max-len-b 30 <"$w/text/test.src" >"$w/beam4.noblock.txt"
cmp -s "$w/beam4.noblock.txt" "$w/beam4.fp32.txt" &&
  fail "--no-repeat-ngram-size 2 changed nothing (is it passed to the decoder?)"
grep -q '[a-z]' "$w/beam4.fp32.txt" || fail "the trained model produced no words"

bleu() { "$bin" score --metric bleu --hyp "$1" --ref "$w/text/test.tgt" | sed -n 's/^BLEU = \([0-9.]*\).*/\1/p'; }
for label in greedy beam4; do
  b32=$(bleu "$w/$label.fp32.txt") b8=$(bleu "$w/$label.int8.txt")
  [ -n "$b32" ] && [ -n "$b8" ] || { fail "$label: no BLEU line"; continue; }
  echo "$label: BLEU fp32 $b32, int8 $b8"
  awk -v a="$b32" -v b="$b8" -v m="$INT8_BLEU_BOUND" 'BEGIN { d = a - b; exit !(d <= m && -d <= m) }' ||
    fail "$label: int8 BLEU $b8 is more than $INT8_BLEU_BOUND from fp32 $b32"
done
echo "test_device_quality: $fails failures"
[ "$fails" = 0 ]
