#!/usr/bin/python3
"""Builds the SentencePiece parity fixtures in tests/fixtures/spm/ (run with /usr/bin/python3).

Real text comes from Debian packages (see ../shared/DATA.md): the World English Bible, the King
James Bible and the Reina-Valera 1909 (sword-text-web, sword-text-kjv, sword-text-sparv, read with
mod2imp from libsword-utils), German gettext catalogs (/usr/share/locale/de, msgunfmt from
gettext), the FreeDict English-German dictionary (dict-freedict-eng-deu) and fortunes. Models are
trained with Debian's `spm_train` (package sentencepiece) with fixed options and seed; the expected
output comes from Debian's python3-sentencepiece (the same 0.1.97 C++ core).

Writes:
  lines.txt            the test input, one line per line (UTF-8, no CR/LF inside)
  <name>.model         the trained model
  <name>.pieces        expected `spm_encode --output_format=piece` of every line
  <name>.ids           expected ids of the first IDS_LINES lines
  <name>.decode        lines whose decoding is not the input itself:
                       "<index>\t<decode(ids)>\t<decode(pieces)>", with \\ \t \n escaped;
                       the third field is "=" when it equals the second
Usage: spm_fixtures.py [--only NAME,NAME]   (--only retrains just those models)
Every line's ids are also checked here to equal piece_to_id of its pieces, so the C test may
derive ids for the lines past IDS_LINES from the pieces.

Needs: apt-get install -y sentencepiece python3-sentencepiece sword-text-web sword-text-kjv
       sword-text-sparv libsword-utils gettext dict-freedict-eng-deu fortunes
"""
import glob
import gzip
import os
import random
import re
import subprocess
import sys
import tempfile

import sentencepiece as spm

SEED = 20261124
IDS_LINES = 500
FREEDICT_LINES = 100000
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "spm")

# name -> spm_train options (all trained on the same corpus)
USER = "<sep>,<mask>,[CLS],Yahweh,Je,Jesus,ñ,http://,@@,1st"
MODELS = {
    "uni2k_nfkc": "--model_type=unigram --vocab_size=2000",
    "uni8k_nfkc": "--model_type=unigram --vocab_size=8000",
    "bpe8k_nfkc": "--model_type=bpe --vocab_size=8000",
    "uni8k_identity": "--model_type=unigram --vocab_size=8000 --normalization_rule_name=identity"
                      " --remove_extra_whitespaces=false",
    "uni4k_bytes_user": "--model_type=unigram --vocab_size=4000 --byte_fallback=true"
                        " --control_symbols=<ctl> --user_defined_symbols=" + USER,
    "bpe4k_bytes_user_suffix": "--model_type=bpe --vocab_size=4000 --byte_fallback=true"
                               " --normalization_rule_name=identity --treat_whitespace_as_suffix=true"
                               " --user_defined_symbols=" + USER,
    "word2k_identity": "--model_type=word --vocab_size=2000 --normalization_rule_name=identity",
    "char_identity": "--model_type=char --vocab_size=300 --normalization_rule_name=identity"
                     " --user_defined_symbols=" + USER,
}
# the WORD and CHAR models are checked on the first lines only, to keep the fixtures small
LINE_LIMIT = {"word2k_identity": 250, "char_identity": 250}
COMMON = ("--character_coverage=0.9995 --input_sentence_size=400000 --shuffle_input_sentence=true"
          " --num_threads=1 --minloglevel=2 --pad_id=3")

# Lines that pin down edge cases of normalisation, whitespace and unknown characters.
EDGE = [
    "", " ", "   ", "\t", "  leading and trailing spaces  ", "many    inner     spaces",
    "tab\tseparated\tfields", "\tleading tab", "trailing tab\t", "no\u00a0break\u00a0space",
    "ideographic\u3000space", "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ １２３ ！？", "ligatures ﬁ ﬂ ﬃ", "Ⅻ ① ½ x² H₂O",
    "combining e\u0301 vs é", "zero\u200bwidth\u200bspace", "\ufeffbyte order mark",
    "soft\u00adhyphen", "control\x01chars\x7fhere", "emoji 😀 👍🏽 🇩🇪", "日本語のテキスト",
    "한국어 문장입니다", "العربية نص", "עברית טקסט", "ภาษาไทย", "हिन्दी पाठ", "Ελληνικά κείμενο",
    "Русский текст", "<s> </s> <unk> <pad> <ctl>", "<sep>text<mask>more [CLS] Yahweh",
    "JeJesusJe Jesus' ñandú", "http://example.org/path?x=1&y=2", "@@@@ 1st 21st 1stly",
    "literal \u2581 lower block and \u2581\u2581 double", "<0x41> <0xZZ>", "\u2047 question marks",
    "0123456789 3.14159 1,000,000 2026-11-24 12:34:56", "e-mail: user@example.com, +49 (0)30 1234",
    "Straße, Größe, Ärger, Öl, Übermut, ß ẞ", "¿Qué pasó? ¡Ay! Niño, año, corazón.",
    "“curly quotes” ‘single’ «guillemets» „German“ ‚low‘", "dashes – — ‒ and ellipsis …",
    "a" * 300, "ab " * 400, "x", "X Y Z", "..." * 50, "ǅ ǈ ǋ Ǳ", "ℌ ℍ ℎ ℏ ℐ ℑ", "㍱ ㍲ ㎏ ㎓",
    "ﷺ ﷻ", "ｶﾀｶﾅ ﾊﾝｶｸ", "Ω Ω K K Å Å", "\u0300leading combining", "end with combining a\u0308",
]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, **kw).stdout


def strip_osis(text):
    text = re.sub(r"<note\b.*?</note>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]*>", "", text)
    return re.sub(r"\s+", " ", text).strip()


def bible(module):
    out, key, buf = {}, None, []
    for line in run(["mod2imp", module]).decode("utf-8", "replace").split("\n"):
        if line.startswith("$$$"):
            if key and buf:
                out[key] = strip_osis(" ".join(buf))
            key, buf = line[3:], []
        else:
            buf.append(line)
    if key and buf:
        out[key] = strip_osis(" ".join(buf))
    return [v for k, v in sorted(out.items()) if v and re.match(r".* \d+:[1-9]", k)]


def po_unescape(s):
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s)


def gettext_de():
    lines = []
    for mo in sorted(glob.glob("/usr/share/locale/de/LC_MESSAGES/*.mo")):
        try:
            po = run(["msgunfmt", mo], stderr=subprocess.DEVNULL).decode("utf-8")
        except (subprocess.CalledProcessError, UnicodeDecodeError):
            continue
        cur, field = [], None
        for line in po.split("\n") + ['msgid ""']:
            m = re.match(r'^(msgid|msgstr|msgid_plural|msgstr\[\d+\]|msgctxt) "(.*)"$', line)
            if m:
                if field and field.startswith("msgstr"):
                    lines.extend(po_unescape("".join(cur)).split("\n"))
                field, cur = m.group(1), [m.group(2)]
            elif line.startswith('"') and line.endswith('"'):
                cur.append(line[1:-1])
    return [l for l in lines if l.strip() and "\r" not in l and len(l) < 2000]


def freedict():
    with gzip.open("/usr/share/dictd/freedict-eng-deu.dict.dz", "rt", encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f if re.search(r"\w", l) and "\r" not in l]


def fortunes():
    lines = []
    for path in sorted(glob.glob("/usr/share/games/fortunes/*")):
        if path.endswith((".dat", ".u8")) or os.path.isdir(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                lines.extend(l.rstrip("\n") for l in f if l.strip() != "%" and "\r" not in l)
        except UnicodeDecodeError:
            continue
    return [l for l in lines if l]


def escape(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def main():
    only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(SEED)
    web, kjv, rv = bible("engWEB2015eb"), bible("engKJV2006eb"), bible("spaRV1909eb")
    de, fd, fo = gettext_de(), freedict(), fortunes()
    fd = rng.sample(fd, FREEDICT_LINES)  # the whole dictionary would only slow training down
    print(f"web {len(web)} kjv {len(kjv)} rv {len(rv)} gettext-de {len(de)} freedict {len(fd)}"
          f" fortunes {len(fo)}", file=sys.stderr)
    test = (rng.sample(web, 450) + rng.sample(kjv, 100) + rng.sample(rv, 400) + rng.sample(de, 500)
            + rng.sample(fd, 200) + rng.sample(fo, 290) + EDGE)
    for line in test:
        assert "\n" not in line and "\r" not in line, line
    with open(os.path.join(OUT, "lines.txt"), "w", encoding="utf-8", newline="\n") as f:
        for line in test:
            f.write(line + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            for line in web + kjv + rv + de + fd + fo:
                f.write(line + "\n")
        for name, opts in MODELS.items():
            if only and name not in only:
                continue
            prefix = os.path.join(tmp, name)
            cmd = (["spm_train", f"--input={corpus}", f"--model_prefix={prefix}",
                    f"--random_seed={SEED}"] + COMMON.split() + opts.split())
            run(cmd, stderr=subprocess.DEVNULL)
            with open(prefix + ".model", "rb") as f:
                blob = f.read()
            with open(os.path.join(OUT, name + ".model"), "wb") as f:
                f.write(blob)
            write_expected(name, blob, test[:LINE_LIMIT.get(name, len(test))])


def write_expected(name, blob, test):
    sp = spm.SentencePieceProcessor(model_proto=blob)
    pieces = sp.encode(test, out_type=str)
    ids = sp.encode(test, out_type=int)
    ndiff = 0
    with open(os.path.join(OUT, name + ".pieces"), "w", encoding="utf-8", newline="\n") as fp, \
            open(os.path.join(OUT, name + ".ids"), "w", newline="\n") as fi, \
            open(os.path.join(OUT, name + ".decode"), "w", encoding="utf-8", newline="\n") as fd:
        for i, (line, p, d) in enumerate(zip(test, pieces, ids)):
            assert all(" " not in x and x for x in p), (name, i, p)
            derived = [sp.piece_to_id(x) for x in p]
            assert derived == d, (name, i, p, d, derived)  # ids follow from pieces
            fp.write(" ".join(p) + "\n")
            if i < IDS_LINES:
                fi.write(" ".join(map(str, d)) + "\n")
            dec_ids, dec_pcs = sp.decode(d), sp.decode_pieces(p)
            if dec_ids != line or dec_pcs != line:
                third = "=" if dec_pcs == dec_ids else escape(dec_pcs)
                fd.write(f"{i}\t{escape(dec_ids)}\t{third}\n")
                ndiff += 1
    print(f"{name}: {len(test)} lines, {sum(map(len, ids))} pieces, {ndiff} lossy decodes",
          file=sys.stderr)


if __name__ == "__main__":
    main()
