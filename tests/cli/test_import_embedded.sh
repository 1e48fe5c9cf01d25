#!/usr/bin/env bash
# tests/cli/test_import_embedded.sh EDGEFORMER SOURCE_DIR WORK_DIR: `import` stores the
# dictionary and SentencePiece model in the checkpoint (docs/import.md), so that `translate`,
# `generate` and `export` need only the checkpoint; --spm / --src-dict / --tgt-dict still
# override; a checkpoint imported without --spm says what is missing.
set -euo pipefail
E=$1 SRC=$2 W=$3
F=$SRC/tests/fixtures/import
rm -rf "$W" && mkdir -p "$W" && cd "$W"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$E" import --fairseq "$F/edgelm_tiny.pt" --dict "$F/dict.src.txt" --spm "$F/spm.model" \
  -o m.h5 > import.log
printf 'In the beginning God created the heaven and the earth.\nAnd the earth was without form.\n' > in.txt

# translate with nothing but the checkpoint = translate with the files given explicitly
"$E" translate m.h5 --beam 3 < in.txt > embedded.txt 2> embedded.err ||
  fail "translate from the checkpoint alone: $(cat embedded.err)"
"$E" translate m.h5 --beam 3 --spm "$F/spm.model" --src-dict "$F/dict.src.txt" \
  --tgt-dict "$F/dict.src.txt" < in.txt > explicit.txt
[ "$(wc -l < embedded.txt)" = 2 ] || fail "expected 2 lines: $(cat embedded.txt)"
cmp -s embedded.txt explicit.txt || fail "embedded and explicit tokenizer differ"

# the options still override: a missing --spm is reported by name, exit 1
rc=0
"$E" translate m.h5 --spm nope.model < in.txt > /dev/null 2> err.txt || rc=$?
[ "$rc" = 1 ] || fail "translate --spm nope.model: exit $rc"
grep -qF "nope.model: cannot read the SentencePiece model (--spm)" err.txt ||
  fail "override not used: $(cat err.txt)"
rc=0
"$E" translate m.h5 --src-dict nope.txt < in.txt > /dev/null 2> err.txt || rc=$?
[ "$rc" = 1 ] && grep -qF "nope.txt" err.txt || fail "--src-dict override: $(cat err.txt)"

# generate without --data: an imported checkpoint has no data folder to default to
rc=0
"$E" generate m.h5 > /dev/null 2> err.txt || rc=$?
[ "$rc" = 1 ] && grep -qF "m.h5 has no [data] data folder: pass --data DIR" err.txt ||
  fail "generate without --data: exit $rc: $(cat err.txt)"

# generate on a prepared split: the embedded tokenizer decodes it like the explicit one
head -20 "$SRC/tests/fixtures/data/kjv-web.src" > t.src
head -20 "$SRC/tests/fixtures/data/kjv-web.tgt" > t.tgt
"$E" prepare --testpref t --srcdict "$F/dict.src.txt" --tgtdict "$F/dict.src.txt" \
  --spm "$F/spm.model" --destdir bin > prepare.log
"$E" generate m.h5 --data bin --beam 2 --max-len-b 20 --truncate-source > gen1.txt
rm bin/spm.model
"$E" generate m.h5 --data bin --beam 2 --max-len-b 20 --truncate-source > gen2.txt ||
  fail "generate without bin/spm.model"
diff <(grep '^H-' gen1.txt) <(grep '^H-' gen2.txt) > /dev/null || fail "generate differs"
[ "$(grep -c '^H-' gen2.txt)" = 20 ] || fail "generate: $(tail -3 gen2.txt)"

# export: the .efm built from the checkpoint alone equals the one from explicit files
"$E" export m.h5 -o a.efm > export.log || fail "export: $(cat export.log)"
"$E" export m.h5 -o b.efm --dict "$F/dict.src.txt" --spm "$F/spm.model" > /dev/null
cmp -s a.efm b.efm || fail "export from the checkpoint differs from export with --dict/--spm"
grep -qF "dict m.h5:/tokenizer/src_dict, spm m.h5:/tokenizer/spm_model" export.log ||
  fail "export log: $(cat export.log)"

# without --spm only the dictionary is stored: translate names the missing model
"$E" import --fairseq "$F/edgelm_tiny.pt" --dict "$F/dict.src.txt" -o nospm.h5 > /dev/null
rc=0
"$E" translate nospm.h5 < in.txt > /dev/null 2> err.txt || rc=$?
[ "$rc" = 1 ] && grep -qF "cannot read the SentencePiece model (--spm)" err.txt ||
  fail "no spm: exit $rc: $(cat err.txt)"
"$E" translate nospm.h5 --beam 3 --spm "$F/spm.model" < in.txt > nospm.txt
cmp -s nospm.txt explicit.txt || fail "nospm.h5 + --spm differs"
echo "ok: translate, generate and export from the checkpoint alone; overrides; missing spm"
