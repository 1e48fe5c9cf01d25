#!/usr/bin/env bash
# Exact resume: a run killed with SIGKILL at random moments and resumed until it finishes
# ends with parameters and Adam moments bit-identical to an uninterrupted run of the same
# config; SIGTERM saves checkpoint_last.h5 and exits cleanly (status 130).
# Usage: test_resume.sh EDGEFORMER CKPT_DIGEST SOURCE_DIR WORK_DIR [PRECISION]
# PRECISION (fp32 or bf16, default fp32) is the config's [optim] precision: exact resume must
# hold for bf16 training too (on a CPU without bf16 the run trains in fp32 and says so).
set -euo pipefail
bin=$1 digest=$2 src=$3 work=$4 precision=${5:-fp32}
. "$(dirname "$0")/tiny_data.sh"
tiny_data "$bin" "$src" "$work"

cat > "$work/tiny.ini" <<INI
[model]
encoder_layers = 4
decoder_layers = 2
embed_dim = 32
attention_heads = 4
encoder_ffn_dim = 64
decoder_ffn_dim = 16
encoder_attn_sets = 2
encoder_ffn_sets = 2
decoder_layer_sets = 2
layer_adaptation = adapter
lora_rank = 4
dropout = 0.1
[data]
data = $work/bin
max_tokens = 600
[optim]
precision = $precision
lr = 0.002
warmup_updates = 5
clip_norm = 1.0
[train]
max_update = 150
max_epoch = 0
validate_interval_updates = 10
save_interval_updates = 2
keep_interval_updates = 3
log_interval = 10
threads = 2
no_progress_bar = true
INI

# A: uninterrupted (its duration scales the kill times, so slow builds such as ASan work too)
t0=$(date +%s%N)
"$bin" train "$work/tiny.ini" --save-dir "$work/a" > "$work/a.log"
full_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
want=$("$digest" "$work/a/checkpoint_last.h5")

# B: SIGTERM once (clean save), then SIGKILL at random moments until it finishes
set +e
"$bin" train "$work/tiny.ini" --save-dir "$work/b" > "$work/b0.log" 2>&1 &
pid=$!
sleep "$(awk -v ms="$full_ms" 'BEGIN { printf "%.3f", ms / 4000 }')"
kill -TERM $pid
wait $pid 2>/dev/null
rc=$?
set -e
if [ $rc -ne 130 ] && [ $rc -ne 0 ]; then
  echo "FAIL: SIGTERM run exited with $rc"; cat "$work/b0.log"; exit 1
fi
[ $rc -eq 0 ] || grep -q "stopped by signal 15" "$work/b0.log" || { echo "FAIL: no clean stop"; exit 1; }
RANDOM=7
kills=0
for attempt in $(seq 1 80); do
  set +e
  "$bin" train "$work/tiny.ini" --save-dir "$work/b" > "$work/b$attempt.log" 2>&1 &
  pid=$!
  delay=$(( full_ms / 20 + RANDOM % (full_ms / 8 + 1) ))
  for ((ms = 0; ms < delay; ms += 20)); do
    kill -0 $pid 2>/dev/null || break
    sleep 0.02
  done
  if kill -0 $pid 2>/dev/null; then
    kill -KILL $pid
    kills=$((kills + 1))
  fi
  wait $pid 2>/dev/null
  rc=$?
  set -e
  if grep -q "^done:" "$work/b$attempt.log"; then break; fi
  if [ $rc -ne 137 ] && [ $rc -ne 0 ]; then echo "FAIL: run $attempt exited $rc"; cat "$work/b$attempt.log"; exit 1; fi
done
grep -q "^done:" "$work/b$attempt.log" || { echo "FAIL: resumed run never finished"; exit 1; }
got=$("$digest" "$work/b/checkpoint_last.h5")
echo "uninterrupted: $want"
echo "resumed ($kills SIGKILLs, 1 SIGTERM, $attempt restarts): $got"
[ "$want" = "$got" ] || { echo "FAIL: resumed run differs"; exit 1; }
