#!/usr/bin/env bash
# tests/convert/test_finetune_cli.sh EDGEFORMER SOURCE_DIR WORK_DIR: the docs/finetune.md recipe
# end to end on the committed EdgeLM-layout fixture: `prepare` with the model's dictionary and
# SentencePiece model, `import --fairseq`, `train --restore-file` for 4 updates (the loss must be
# finite and the checkpoints written), and the command line's exit codes and one-line errors
# for bad input. Everything is written under WORK_DIR (emptied first).
set -euo pipefail
E=$1 SRC=$2 W=$3
F=$SRC/tests/fixtures
rm -rf "$W" && mkdir -p "$W" && cd "$W"
fail() { echo "FAIL: $*" >&2; exit 1; }

head -200 "$F/data/kjv-web.src" > train.src; head -200 "$F/data/kjv-web.tgt" > train.tgt
sed -n 201,220p "$F/data/kjv-web.src" > valid.src; sed -n 201,220p "$F/data/kjv-web.tgt" > valid.tgt
"$E" prepare --trainpref train --validpref valid --srcdict "$F/import/dict.src.txt" \
  --tgtdict "$F/import/dict.src.txt" --spm "$F/import/spm.model" --destdir bin > prepare.log
cmp -s bin/dict.src.txt "$F/import/dict.src.txt" || fail "prepare changed the dictionary"

"$E" import --fairseq "$F/import/edgelm_tiny.pt" --dict bin/dict.src.txt --spm bin/spm.model \
  -o edgelm.h5 > import.log
grep -q "138 duplicates bit-identical" import.log || fail "import summary: $(cat import.log)"

{ grep -v '^;' "$F/import/edgelm_tiny.ini"; cat <<'INI'

[data]
data = bin
max_tokens = 2000

[optim]
optimizer = adam
lr = 0.00015
adam_beta1 = 0.9
adam_beta2 = 0.98
adam_eps = 1e-6
clip_norm = 1.0
lr_scheduler = polynomial_decay
warmup_updates = 2
total_num_update = 4

[train]
save_dir = ck
max_update = 4
validate_interval_updates = 2
no_progress_bar = true
INI
} > finetune.ini
"$E" train finetune.ini --restore-file edgelm.h5 --reset-lr-scheduler true \
  --reset-dataloader true --max-source-positions 1024 --max-target-positions 1024 > train.log
grep -q "restored edgelm.h5: update 0" train.log || fail "not restored: $(cat train.log)"
grep -q "^done: 4 updates" train.log || fail "training: $(tail -3 train.log)"
grep -q "nan" train.log && fail "non-finite loss: $(cat train.log)"
[ -f ck/checkpoint_last.h5 ] || fail "no checkpoint written"

# bad input: exit 1, one line on stderr naming the file, no output file
expect_error() { # expected-substring args...
  local want=$1 rc=0; shift
  "$E" import "$@" -o bad.h5 > /dev/null 2> err.txt || rc=$?
  [ "$rc" = 1 ] || fail "import $*: exit $rc, expected 1"
  [ "$(wc -l < err.txt)" = 1 ] || fail "import $*: $(cat err.txt)"
  grep -qF "$want" err.txt || fail "import $*: '$(cat err.txt)' lacks '$want'"
  [ ! -e bad.h5 ] || fail "import $*: wrote bad.h5"
}
expect_error "micro_missing.pt: model key encoder.layers.1.self_attn.k_proj.bias is missing" \
  --fairseq "$F/import/micro_missing.pt" --dict "$F/import/micro.dict.txt"
expect_error "evil_zip.pt: no 'model' state_dict" \
  --fairseq "$F/import/evil_zip.pt" --dict "$F/import/micro.dict.txt"
expect_error "the dictionary has 8 symbols" \
  --fairseq "$F/import/edgelm_tiny.pt" --dict "$F/import/micro.dict.txt"
rc=0; "$E" import --fairseq x.pt 2> err.txt || rc=$?
[ "$rc" = 2 ] || fail "usage error: exit $rc"
echo "finetune recipe: prepare, import, 4 fine-tuning updates, 3 refused imports: ok"
