#!/usr/bin/python3
"""Builds the 10k-line SentencePiece parity fixture tests/fixtures/spm/parity10k.gz (run with
/usr/bin/python3; retrains nothing: it uses the models spm_fixtures.py committed).

The lines are 10,000 distinct real lines drawn with a fixed seed from the same Debian sources as
spm_fixtures.py (World English Bible, King James Bible, Reina-Valera 1909, German gettext
catalogs, FreeDict eng-deu, fortunes), none of them already in lines.txt. To stay small the
expected output is stored as CRC-32s, not as text. One gzip file (mtime 0, so reruns give the
same bytes), UTF-8, tab-separated:

  # comment lines (only before the models row; input lines may start with '#')
  models<TAB><name><TAB><name>...                     the models checked, in column order
  <line><TAB><model 1 fields><TAB><model 2 fields>... one row per input line

where <line> is the input with \\ \t \n escaped and each model's fields are five tab-separated
values: the number of ids, crc32 of the ids as little-endian int32s, crc32 of the pieces joined
by single spaces (UTF-8), crc32 of decode(ids) or "=" when that equals the input, crc32 of
decode_pieces(pieces) or "=" when that equals decode(ids). CRCs are zlib's crc32, 8 hex digits.

Usage: spm_parity10k.py
Needs what spm_fixtures.py needs (see its docstring).
"""
import gzip
import io
import os
import random
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sentencepiece as spm  # noqa: E402
import spm_fixtures as fx  # noqa: E402

SEED = 20261125
# lines drawn per source (distinct within and across sources, none from lines.txt)
COUNTS = {"web": 2000, "kjv": 1000, "rv": 2300, "de": 2500, "freedict": 1100, "fortunes": 1100}
MODELS = ["uni8k_nfkc", "bpe8k_nfkc", "uni2k_nfkc", "uni8k_identity", "uni4k_bytes_user",
          "bpe4k_bytes_user_suffix"]
OUT = os.path.join(fx.OUT, "parity10k.gz")


def crc(b):
    return "%08x" % (zlib.crc32(b) & 0xFFFFFFFF)


def main():
    rng = random.Random(SEED)
    with open(os.path.join(fx.OUT, "lines.txt"), encoding="utf-8") as f:
        seen = set(f.read().split("\n"))
    sources = {"web": fx.bible("engWEB2015eb"), "kjv": fx.bible("engKJV2006eb"),
               "rv": fx.bible("spaRV1909eb"), "de": fx.gettext_de(), "freedict": fx.freedict(),
               "fortunes": fx.fortunes()}
    lines = []
    for name, want in COUNTS.items():
        pool = sorted(set(sources[name]) - seen)
        assert len(pool) >= want, (name, len(pool), want)
        pick = rng.sample(pool, want)
        seen.update(pick)
        lines += pick
        print(f"{name}: {want} of {len(pool)} distinct new lines", file=sys.stderr)
    assert len(set(lines)) == len(lines)
    for line in lines:
        assert "\n" not in line and "\r" not in line, line
    cols = []
    for name in MODELS:
        sp = spm.SentencePieceProcessor(model_file=os.path.join(fx.OUT, name + ".model"))
        ids, pieces = sp.encode(lines, out_type=int), sp.encode(lines, out_type=str)
        col, lossy = [], 0
        for line, d, p in zip(lines, ids, pieces):
            assert [sp.piece_to_id(x) for x in p] == d, (name, line)
            dec_ids, dec_pcs = sp.decode(d), sp.decode_pieces(p)
            lossy += dec_ids != line
            col.append("\t".join([str(len(d)), crc(struct.pack("<%di" % len(d), *d)),
                                  crc(" ".join(p).encode("utf-8")),
                                  "=" if dec_ids == line else crc(dec_ids.encode("utf-8")),
                                  "=" if dec_pcs == dec_ids else crc(dec_pcs.encode("utf-8"))]))
        cols.append(col)
        print(f"{name}: {len(lines)} lines, {sum(map(len, ids))} ids, {lossy} lossy decodes",
              file=sys.stderr)
    text = io.StringIO()
    text.write("# SentencePiece parity, 10k real lines: written by tests/reference/spm_parity10k.py"
               " with sentencepiece " + spm.__version__ + "\n")
    text.write("models\t" + "\t".join(MODELS) + "\n")
    for i, line in enumerate(lines):
        text.write(fx.escape(line) + "\t" + "\t".join(c[i] for c in cols) + "\n")
    with open(OUT, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=f, mtime=0) as g:
            g.write(text.getvalue().encode("utf-8"))
    print(f"wrote {OUT}: {os.path.getsize(OUT)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
