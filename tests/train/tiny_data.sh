# tiny_data.sh: sourced by the training tests. tiny_data BIN SRC WORK: a fresh WORK holding
# 200 KJV->WEB training and 50 validation pairs from the committed fixture, binarised with the
# committed 2k SentencePiece model into WORK/bin.
tiny_data() {
  local bin=$1 src=$2 work=$3 fx="$2/tests/fixtures/data"
  rm -rf "$work"
  mkdir -p "$work/text"
  head -n 200 "$fx/kjv-web.src" > "$work/text/train.src"
  head -n 200 "$fx/kjv-web.tgt" > "$work/text/train.tgt"
  tail -n 50 "$fx/kjv-web.src" > "$work/text/valid.src"
  tail -n 50 "$fx/kjv-web.tgt" > "$work/text/valid.tgt"
  "$bin" prepare --trainpref "$work/text/train" --validpref "$work/text/valid" \
    --spm "$src/tests/fixtures/spm/uni2k_nfkc.model" --joined-dictionary \
    --destdir "$work/bin" > "$work/prepare.log"
}
