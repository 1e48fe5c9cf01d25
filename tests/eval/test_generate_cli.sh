#!/usr/bin/env bash
# `edgeformer generate` / `translate` / validation BLEU end to end on a tiny model trained here:
# fairseq-generate line format, the BLEU line equals `edgeformer score` on the printed D-/T-
# lines, nbest ordering, translate == generate on the same sentences, and clear errors for bad
# input (invalid UTF-8, over-long lines, bad options, missing files).
# Usage: test_generate_cli.sh EDGEFORMER SOURCE_DIR WORK_DIR
set -euo pipefail
bin=$1 src=$2 work=$3
rm -rf "$work"
mkdir -p "$work/text"
fx="$src/tests/fixtures/data"
fail() { echo "FAIL: $*"; exit 1; }
head -n 200 "$fx/kjv-web.src" > "$work/text/train.src"
head -n 200 "$fx/kjv-web.tgt" > "$work/text/train.tgt"
sed -n 201,225p "$fx/kjv-web.src" > "$work/text/valid.src"
sed -n 201,225p "$fx/kjv-web.tgt" > "$work/text/valid.tgt"
sed -n 226,250p "$fx/kjv-web.src" > "$work/text/test.src"
sed -n 226,250p "$fx/kjv-web.tgt" > "$work/text/test.tgt"
"$bin" prepare --trainpref "$work/text/train" --validpref "$work/text/valid" \
  --testpref "$work/text/test" --spm "$src/tests/fixtures/spm/uni2k_nfkc.model" \
  --joined-dictionary --destdir "$work/bin" > "$work/prepare.log"
cp "$src/tests/fixtures/spm/uni2k_nfkc.model" "$work/bin/spm.model" 2>/dev/null || true

cat > "$work/tiny.ini" <<INI
[model]
encoder_layers = 2
decoder_layers = 2
embed_dim = 32
attention_heads = 4
encoder_ffn_dim = 64
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
data = $work/bin
max_tokens = 800
[optim]
lr = 0.003
warmup_updates = 5
[train]
max_update = 200
validate_interval_updates = 100
save_interval_updates = 100
log_interval = 20
threads = 2
no_progress_bar = true
best_checkpoint_metric = bleu
eval_bleu_max_sentences = 10
eval_bleu_max_len_b = 20
INI
"$bin" train "$work/tiny.ini" --save-dir "$work/ck" > "$work/train.log"
grep -q "valid on 'valid' subset .* | bleu [0-9.]* | chrf [0-9.]* |.*best_bleu" "$work/train.log" ||
  fail "no validation BLEU in the train log: $(grep valid "$work/train.log" | head -2)"
grep -q '"bleu": ' "$work/ck/metrics.jsonl" || fail "no bleu in metrics.jsonl"
ck="$work/ck/checkpoint_best.h5"
# fine-tuning from it with fairseq's bare reset flags (the optimizer restarts; saving works)
"$bin" train "$work/tiny.ini" --save-dir "$work/ft" --restore-file "$ck" --reset-optimizer \
  --reset-dataloader --max-update 5 --best-checkpoint-metric loss > "$work/ft.log" ||
  fail "fine-tune with --reset-optimizer: $(tail -2 "$work/ft.log")"
grep -q "optimizer reset" "$work/ft.log" || fail "no 'optimizer reset' in the fine-tune log"
[ -f "$work/ft/checkpoint_last.h5" ] || fail "fine-tune saved no checkpoint"

# generate: line format and counts
"$bin" generate "$ck" --beam 4 --max-len-b 30 --no-repeat-ngram-size 2 --batch-size 7 > "$work/gen.txt" 2> "$work/gen.err"
for tag in S T H D P; do
  n=$(grep -c "^$tag-[0-9]*	" "$work/gen.txt" || true)
  [ "$n" = 25 ] || fail "$n $tag- lines, want 25"
done
grep -q "^Generate test with beam=4: BLEU = [0-9.]* [0-9.]*/[0-9.]*/[0-9.]*/[0-9.]* (BP = " "$work/gen.txt" || fail "no BLEU line"
grep -q "^BLEU signature: nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0$" "$work/gen.txt" || fail "no BLEU signature"
grep -q "^Generate test with beam=4: chrF2 = " "$work/gen.txt" || fail "no chrF line"
grep -q "^copy-source baseline on test: BLEU = " "$work/gen.txt" || fail "no copy baseline"
grep -q "^Translated 25 sentences" "$work/gen.err" || fail "no timing line"
# H and D carry the same score; P has one value per token (as many as H scores' tokens + </s>)
awk -F'\t' '/^H-/{h[$1]=$2} /^D-/{k=$1; sub(/^D/,"H",k); if (h[k]!=$2) {print "score mismatch " $1; exit 1}}' "$work/gen.txt"
# the BLEU line equals `edgeformer score` over the printed D-/T- lines
grep "^D-" "$work/gen.txt" | sort -t- -k2 -n | cut -f3 > "$work/hyp.txt"
grep "^T-" "$work/gen.txt" | sort -t- -k2 -n | cut -f2 > "$work/ref.txt"
want=$("$bin" score --metric bleu --hyp "$work/hyp.txt" --ref "$work/ref.txt" | grep -o "BLEU = [0-9.]*" | head -1)
got=$(grep "^Generate test with beam=4: BLEU" "$work/gen.txt" | grep -o "BLEU = [0-9.]*")
[ "$want" = "$got" ] || fail "generate says '$got', score says '$want'"

# nbest: 3 hypotheses per sentence, best first
"$bin" generate "$ck" --beam 3 --nbest 3 --max-len-b 30 --max-sentences 6 --quiet false > "$work/nbest.txt" 2>/dev/null
[ "$(grep -c '^H-' "$work/nbest.txt")" = 18 ] || fail "nbest 3 x 6 sentences"
awk -F'\t' '/^H-/{ if ($1==p && $2>prev+1e-6) {print "not sorted: " $0; exit 1} p=$1; prev=$2 }' "$work/nbest.txt"

# translate == generate (same sentences, same options and batches: fp32 kernel rounding may
# depend on the number of rows, see runtime/kernels.h)
cut -f1 "$work/text/test.src" | "$bin" translate "$ck" --beam 4 --max-len-b 30 --no-repeat-ngram-size 2 --batch-size 7 > "$work/tr.txt"
[ "$(wc -l < "$work/tr.txt")" = 25 ] || fail "translate: $(wc -l < "$work/tr.txt") lines out for 25 in"
diff "$work/tr.txt" "$work/hyp.txt" > /dev/null || fail "translate differs from generate: $(diff "$work/tr.txt" "$work/hyp.txt" | head -4)"

# bad input
expect_fail() { # expect_fail PATTERN CMD...: non-zero exit and PATTERN in stderr
  local pat=$1; shift
  if "$@" > "$work/bad.out" 2> "$work/bad.err"; then fail "succeeded: $*"; fi
  grep -q -- "$pat" "$work/bad.err" || fail "want '$pat', got: $(cat "$work/bad.err")"
  [ "$(wc -l < "$work/bad.err")" -le 2 ] || fail "more than one error line: $(cat "$work/bad.err")"
}
printf 'good line\n\xff\xfe bad\n' > "$work/badutf8.txt"
expect_fail "<stdin>:2: " sh -c "'$bin' translate '$ck' < '$work/badutf8.txt'"
long=$(for i in 1 2 3 4 5 6; do head -n 3 "$work/text/test.src"; done | tr '\n' ' ')
expect_fail "the model allows 128" sh -c "echo '$long' | '$bin' translate '$ck'"
echo "$long" | "$bin" translate "$ck" --truncate-source --max-len-b 5 > "$work/trunc.txt" || fail "--truncate-source"
[ "$(wc -l < "$work/trunc.txt")" = 1 ] || fail "--truncate-source output"
expect_fail "nbest" "$bin" generate "$ck" --beam 2 --nbest 3
expect_fail "did you mean 'beam'" "$bin" generate "$ck" --beams 2
expect_fail "no-such.h5" "$bin" generate "$work/no-such.h5"
expect_fail "valid.h5\|test.h5\|nope" "$bin" generate "$ck" --gen-subset nope
expect_fail "spm" "$bin" generate "$ck" --spm "$work/missing.model"
echo "generate/translate CLI: all checks passed"
