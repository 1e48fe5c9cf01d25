#!/usr/bin/env bash
# The main job on the built-in default, end to end on real data:
#   1. set up (idempotent): Debian packages, Release build;
#   2. build the KJV -> WEB dataset from Debian's Bible modules (data/scripts/build.sh);
#   3. learn a 2k SentencePiece vocabulary and binarise it (`edgeformer prepare`);
#   4. train a small EdgeFormer from configs/demo.ini (about 10 minutes on 2 cores);
#   5. report validation loss and perplexity, and where the checkpoints, log and plot are;
#   6. beam-search the test set with the best checkpoint (`edgeformer generate`, beam 5) and
#      report BLEU and chrF2 (sacreBLEU-compatible, with signatures) next to the score of
#      copying the source unchanged; the full S-/T-/H-/D-/P- output goes to
#      work/checkpoints/demo/generate-test.txt.
# Extra arguments go to `edgeformer train` (e.g. --max-update 100). Re-running resumes from
# work/checkpoints/demo/checkpoint_last.h5; delete that folder to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-asan
bash data/scripts/build.sh kjv-web
bin=build/bin/edgeformer
if [ ! -f work/bin/kjv-web/valid.h5 ]; then
  "$bin" prepare --trainpref work/data/kjv-web/train --validpref work/data/kjv-web/valid \
    --testpref work/data/kjv-web/test --spm-train 2000 --joined-dictionary \
    --destdir work/bin/kjv-web
fi
"$bin" train configs/demo.ini "$@"
ckpt=work/checkpoints/demo/checkpoint_best.h5
echo "== test set: beam 5 with $ckpt (hypotheses in work/checkpoints/demo/generate-test.txt)"
"$bin" generate "$ckpt" --gen-subset test --beam 5 --batch-size 64 \
  --results-path work/checkpoints/demo/generate-test.txt
