#!/usr/bin/env bash
# bf16 training ends near fp32 training: the same small config (a 4+2-layer EdgeFormer with
# shared sets and LoRA, d = 64, 200 KJV->WEB pairs, 120 updates, dropout on) trained in fp32 and
# with --bf16 must end within 0.05 bits per token of each other in validation loss, and bf16 must
# really have run (the log says "precision: bf16 products"). Measured on an AMD EPYC
# (AVX512_BF16): 8.44571 (fp32) against 8.44632 (bf16), 0.0006 bits apart. On a CPU without bf16 the
# test checks the fallback line and exits 77 (skipped).
# Usage: test_bf16_train.sh EDGEFORMER SOURCE_DIR WORK_DIR
set -euo pipefail
bin=$1 src=$2 work=$3
. "$(dirname "$0")/tiny_data.sh"
tiny_data "$bin" "$src" "$work"
cat > "$work/small.ini" <<INI
[model]
encoder_layers = 4
decoder_layers = 2
embed_dim = 64
attention_heads = 4
encoder_ffn_dim = 256
decoder_ffn_dim = 32
encoder_attn_sets = 2
encoder_ffn_sets = 2
decoder_layer_sets = 2
layer_adaptation = adapter
lora_rank = 8
dropout = 0.1
label_smoothing = 0.1
[data]
data = $work/bin
max_tokens = 1200
[optim]
lr = 0.002
warmup_updates = 20
clip_norm = 1.0
[train]
max_update = 120
max_epoch = 0
validate_interval_updates = 120
log_interval = 40
threads = 2
no_progress_bar = true
INI
"$bin" train "$work/small.ini" --save-dir "$work/fp32" > "$work/fp32.log"
"$bin" train "$work/small.ini" --save-dir "$work/bf16" --bf16 > "$work/bf16.log"
if grep -q "^precision: bf16 unavailable" "$work/bf16.log"; then
  grep "^precision:" "$work/bf16.log"
  echo "SKIP: no bf16 instructions on this CPU (the fallback to fp32 was announced)"
  exit 77
fi
grep -q "^precision: bf16 products" "$work/bf16.log" || { echo "FAIL: bf16 not announced"; cat "$work/bf16.log"; exit 1; }
loss() { grep '"type": "valid"' "$1" | tail -1 | sed -n 's/.*"loss": \([0-9.]*\),.*/\1/p'; }
a=$(loss "$work/fp32/metrics.jsonl") b=$(loss "$work/bf16/metrics.jsonl")
echo "valid loss after 120 updates: fp32 $a, bf16 $b (bits per token)"
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d;
  if (a == "" || b == "" || d > 0.05) { printf "FAIL: |fp32 - bf16| = %s > 0.05\n", d; exit 1 }
  if (a == b) { print "FAIL: identical losses: was bf16 used?"; exit 1 }
  printf "ok: |fp32 - bf16| = %.4f <= 0.05\n", d }'
