#!/usr/bin/python3
"""Writes tests/fixtures/sacrebleu/: what sacreBLEU 2.6.0 itself answers for every BLEU and
chrF option `edgeformer score` offers. tests/eval/test_sacrebleu_options.c and
tests/eval/test_score_options.sh compare eval/ and the command line against these files.

sacreBLEU is not vendored. Run with Debian's Python, its source on sys.path from a directory
outside the repository (github mjpost/sacrebleu, tag v2.6.0, plus sacrebleu/version.py with
`__version__ = "2.6.0"`):

  apt-get install python3-regex python3-portalocker python3-tabulate python3-colorama \\
      python3-lxml python3-pytest
  /usr/bin/python3 tests/reference/sacrebleu_options.py --refpath /tmp/sacrebleu

Outputs (UTF-8, one record per line; text fields escape backslash, TAB, LF and CR as \\\\, \\t,
\\n, \\r):

  cases.tsv    sacreBLEU's own metric tests (test/test_bleu.py, test_chrf.py,
               test_sentence_bleu.py of the v2.6.0 tag: 82 cases), re-expressed as calls:
               ID TAB KIND TAB OPTIONS TAB NHYP TAB NREFS TAB hyps... TAB refs (stream by
               stream)... TAB SCORE TAB LINE TAB SIGNATURE TAB TEST_EXPECTED TAB TEST_EPS
               KIND is corpus (Metric.corpus_score), sentence (sentence_score) or stats
               (BLEU.compute_bleu on NHYP = 2 + 2 * order numbers: sys_len ref_len correct...
               total...). OPTIONS is key=value,... with the eval/ option names. SCORE is
               sacreBLEU's score (repr), LINE its score.format(width=2) without signature,
               SIGNATURE get_signature().format(); TEST_EXPECTED and TEST_EPS are the numbers
               the sacreBLEU test asserts (so the fixture proves sacreBLEU passed them).
  corpus.tsv   options on the 1,000 metric pairs of tests/fixtures/metrics (700 real KJV/WEB
               pairs, 300 Unicode/punctuation/number corner cases, second reference):
               NAME TAB CLI-FLAGS TAB SCORE TAB LINE TAB SIGNATURE (LINE as score.format(2))
  sentence_*.txt  `sacrebleu REF -i HYP -sl -w 2 [flags]` output for the 1,000 pairs
  tok.tsv      TOKENIZER TAB INPUT TAB OUTPUT: sacreBLEU's tokenizers (13a, intl, zh, char) on
               the 1,000 hypotheses and 400 lines of code points drawn around the borders of
               the tables in eval/tok_tables.h
"""
import argparse
import os
import random
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "sacrebleu")
MET = os.path.join(ROOT, "tests", "fixtures", "metrics")
SEED = 20261204

ap = argparse.ArgumentParser()
ap.add_argument("--refpath", action="append", default=[])
args = ap.parse_args()
sys.path[:0] = args.refpath

import sacrebleu  # noqa: E402
from sacrebleu.metrics import BLEU, CHRF  # noqa: E402

assert sacrebleu.__version__ == "2.6.0", sacrebleu.__version__
SRC = os.path.dirname(os.path.dirname(os.path.abspath(sacrebleu.__file__)))
sys.path.insert(0, os.path.join(SRC, "test"))
import test_bleu  # noqa: E402
import test_chrf  # noqa: E402
import test_sentence_bleu  # noqa: E402


def esc(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def opts_str(d):
    return ",".join(f"{k}={v}" for k, v in d.items())


cases = []


def bleu_opts(kw):
    o = {}
    for k, v in kw.items():
        if v is None:
            continue
        if k == "tokenize":
            o["tok"] = v
        elif k == "smooth_method":
            o["smooth"] = v
        elif k == "smooth_value":
            o["smooth_value"] = repr(float(v))
        elif k in ("effective_order", "use_effective_order"):
            o["eff"] = int(v)
        elif k == "lowercase":
            o["lc"] = int(v)
        elif k == "max_ngram_order":
            o["order"] = v
        elif k == "force":
            pass
        else:
            raise KeyError(k)
    return o


def add_bleu(cid, kind, kw, hyps, refs, expected, eps):
    m = BLEU(**kw)
    if kind == "sentence":
        s = m.sentence_score(hyps[0], refs)
        refs = [[r] for r in refs]
    else:
        s = m.corpus_score(hyps, refs)
    cases.append((cid, "bleu", kind, opts_str(bleu_opts(kw)), hyps, refs, s.score, s.format(width=2),
                  m.get_signature().format(), expected, eps))


def add_stats(cid, correct, total, sys_len, ref_len, kw, expected, eps):
    s = BLEU.compute_bleu(list(correct), list(total), sys_len, ref_len, **kw)
    nums = [str(sys_len), str(ref_len)] + [str(c) for c in correct] + [str(t) for t in total]
    o = bleu_opts({k: v for k, v in kw.items()})
    o.setdefault("smooth", "none")  # compute_bleu's own default (BLEU() defaults to exp)
    o["order"] = len(correct)
    cases.append((cid, "bleu", "stats", opts_str(o), nums, [], s.score, s.format(width=2), "",
                  expected, eps))


def add_chrf(cid, kind, kw, hyps, refs, expected, eps):
    m = CHRF(**kw)
    if kind == "sentence":
        s = m.sentence_score(hyps[0], refs)
        refs = [[r] for r in refs]
    else:
        s = m.corpus_score(hyps, refs)
    o = {"nc": kw.get("char_order", 6), "nw": kw.get("word_order", 0), "beta": kw.get("beta", 2),
         "space": int(kw.get("whitespace", False)), "eps": int(kw.get("eps_smoothing", False))}
    cases.append((cid, "chrf", kind, opts_str(o), hyps, refs, s.score, s.format(width=2),
                  m.get_signature().format(), expected, eps))


# ---- test_bleu.py (27 cases) --------------------------------------------------------------
E = test_bleu.EPSILON
raw = dict(smooth_method="floor", force=True, tokenize="none", effective_order=True)
for i, (h, r, exp) in enumerate(test_bleu.test_raw_bleu_cases):
    add_bleu(f"test_bleu.raw_bleu.{i}", "corpus", dict(raw, smooth_value=.01), h, r, exp * 100, E * 100)
for i, (h, r, kw, exp) in enumerate(test_bleu.test_corpus_bleu_cases):
    add_bleu(f"test_bleu.corpus_bleu.{i}", "corpus", dict(kw), list(h), r, exp, E)
for i, (h, r, exp) in enumerate(test_bleu.test_case_effective_order):
    add_bleu(f"test_bleu.effective_order.{i}", "corpus", dict(raw, smooth_value=.01), h, r,
             exp * 100, E * 100)
for i, (h, r, st) in enumerate(test_bleu.test_case_statistics):
    # asserts the counts and totals; the fixture's line carries them (checked in C)
    add_bleu(f"test_bleu.statistics.{i}", "corpus", dict(raw, smooth_value=.01), h, r, -1, 0)
for i, ((st, sys_len, ref_len), exp) in enumerate(test_bleu.test_case_scoring):
    add_stats(f"test_bleu.scoring.{i}", st.common, st.total, sys_len, ref_len, {}, exp * 100, E * 100)
for i, (h, r, with_off, without_off) in enumerate(test_bleu.test_case_offset):
    # one test, three assertions: offset 0.0, None (default 0.1) and omitted; we check the
    # first two (the third is the second)
    add_bleu(f"test_bleu.offset.{i}.zero", "corpus", dict(raw, smooth_value=0.0), h, r,
             without_off * 100, E * 100)
    add_bleu(f"test_bleu.offset.{i}.default", "corpus", dict(raw), h, r, with_off * 100, E * 100)
for i, ((st, sys_len, ref_len), off, exp) in enumerate(test_bleu.test_case_degenerate_stats):
    add_stats(f"test_bleu.degenerate.{i}", st.common, st.total, sys_len, ref_len,
              dict(smooth_method="floor", smooth_value=off), exp * 100, 0)
for i, (order, h, r, exp) in enumerate(test_bleu.test_bleu_max_order):
    add_bleu(f"test_bleu.max_ngram_order.{i}", "corpus", dict(max_ngram_order=order), h, r,
             float(exp), 0.005)

# ---- test_chrf.py (25 cases) ----------------------------------------------------------------
E = test_chrf.EPSILON
for i, (h, r, exp) in enumerate(test_chrf.test_cases):
    add_chrf(f"test_chrf.chrf.{i}", "corpus", dict(char_order=6, word_order=0, beta=3,
             eps_smoothing=True), h, [r], exp, E)
for i, (h, r, exp) in enumerate(test_chrf.test_cases_effective_order):
    add_chrf(f"test_chrf.eff_order.{i}", "corpus", dict(char_order=6, word_order=0, beta=3,
             eps_smoothing=False), h, [r], exp, E)
for i, (h, r, exp) in enumerate(test_chrf.test_cases_keep_whitespace):
    add_chrf(f"test_chrf.keep_whitespace.{i}", "corpus", dict(char_order=6, word_order=0, beta=3,
             whitespace=True), h, [r], exp, E)
for i, (h, r, exp) in enumerate(test_chrf.test_sentence_level_chrf):
    add_chrf(f"test_chrf.sentence_level.{i}", "sentence", dict(eps_smoothing=True), [h], r, exp, E)

# ---- test_sentence_bleu.py (30 cases: 12 compat + 12 API on the same inputs, 6 zero) --------
E = test_sentence_bleu.EPSILON
for api in ("compat", "api"):
    for i, (sm, sv, lc, tok, exp) in enumerate(test_sentence_bleu.test_cases):
        add_bleu(f"test_sentence_bleu.{api}.{i}", "sentence",
                 dict(lowercase=lc, tokenize=tok, smooth_method=sm, smooth_value=sv,
                      effective_order=True), [test_sentence_bleu.SYS], [test_sentence_bleu.REF],
                 exp, E)
for i, (sm, sv, lc, tok, exp) in enumerate(test_sentence_bleu.test_cases_zero_bleu):
    add_bleu(f"test_sentence_bleu.zero.{i}", "sentence",
             dict(lowercase=lc, tokenize=tok, smooth_method=sm, smooth_value=sv,
                  effective_order=True), [test_sentence_bleu.SYS_0], [test_sentence_bleu.REF_0],
             exp, E)

os.makedirs(OUT, exist_ok=True)
n_fail = 0
with open(os.path.join(OUT, "cases.tsv"), "w", encoding="utf-8", newline="\n") as f:
    for cid, metric, kind, o, hyps, refs, score, line, sig, exp, eps in cases:
        if exp >= 0 and abs(score - exp) > eps:
            n_fail += 1
            print(f"sacreBLEU fails its own case {cid}: {score} vs {exp}", file=sys.stderr)
        nref = len(refs)
        fields = [cid, metric, kind, o, str(len(hyps)), str(nref)] + [esc(h) for h in hyps]
        for stream in refs:
            assert len(stream) == len(hyps)
            fields += [esc(x) for x in stream]
        fields += [repr(float(score)), esc(line), sig, repr(float(exp)), repr(float(eps))]
        f.write("\t".join(fields) + "\n")
print(f"cases.tsv: {len(cases)} cases, sacreBLEU fails {n_fail} of its own", file=sys.stderr)


# ---- the 1,000 metric pairs under options ---------------------------------------------------
def read_lines(path):
    with open(path, encoding="utf-8", newline="\n") as f:
        return [line.rstrip("\n") for line in f]


hyp = read_lines(os.path.join(MET, "bleu_hyp.txt"))
ref1 = read_lines(os.path.join(MET, "bleu_ref.txt"))
ref2 = read_lines(os.path.join(MET, "bleu_ref2.txt"))
# the sacrebleu command line rstrips every line it reads; so does ours
hyp_r = [x.rstrip() for x in hyp]
ref1_r = [x.rstrip() for x in ref1]
ref2_r = [x.rstrip() for x in ref2]

corpus = []
bleu_cfgs = []
for tok in ("none", "13a", "intl", "char", "zh"):
    for lc in (0, 1):
        bleu_cfgs.append(dict(tokenize=tok, lowercase=bool(lc)))
for sm, sv in (("none", None), ("floor", None), ("floor", 0.5), ("add-k", None), ("add-k", 2.0),
               ("exp", None)):
    bleu_cfgs.append(dict(smooth_method=sm, smooth_value=sv))
for order in (1, 2, 3, 5, 6, 9):
    bleu_cfgs.append(dict(max_ngram_order=order))
bleu_cfgs.append(dict(tokenize="intl", smooth_method="floor", smooth_value=0.25, max_ngram_order=5,
                      lowercase=True))


def bleu_flags(kw):
    fl = []
    for k, v in kw.items():
        if v is None or v is False:
            continue
        if k == "tokenize":
            fl += ["--tokenize", v]
        elif k == "lowercase":
            fl += ["--lowercase"]
        elif k == "smooth_method":
            fl += ["--smooth-method", v]
        elif k == "smooth_value":
            fl += ["--smooth-value", repr(v)]
        elif k == "max_ngram_order":
            fl += ["--max-ngram-order", str(v)]
    return fl


for kw in bleu_cfgs:
    for nref, refs in ((1, [ref1_r]), (2, [ref1_r, ref2_r])):
        m = BLEU(**kw)
        s = m.corpus_score(hyp_r, refs)
        name = "bleu." + ".".join(f"{k}={v}" for k, v in kw.items()) + f".r{nref}"
        corpus.append((name, " ".join(bleu_flags(kw)), s, m))

chrf_cfgs = [dict(word_order=2), dict(word_order=1), dict(word_order=3), dict(beta=1),
             dict(beta=3), dict(char_order=3), dict(char_order=8), dict(whitespace=True),
             dict(eps_smoothing=True), dict(lowercase=True, word_order=2),
             dict(char_order=7, word_order=5, beta=0, whitespace=True, eps_smoothing=True),
             dict(char_order=0, word_order=2)]


def chrf_flags(kw):
    fl = ["--metric", "chrf"]
    for k, v in kw.items():
        if k == "word_order":
            fl += ["--chrf-word-order", str(v)]
        elif k == "char_order":
            fl += ["--chrf-char-order", str(v)]
        elif k == "beta":
            fl += ["--chrf-beta", str(v)]
        elif k == "whitespace":
            fl += ["--chrf-whitespace"]
        elif k == "eps_smoothing":
            fl += ["--chrf-eps-smoothing"]
        elif k == "lowercase":
            fl += ["--lowercase"]
    return fl


for kw in chrf_cfgs:
    for nref, refs in ((1, [ref1_r]), (2, [ref1_r, ref2_r])):
        m = CHRF(**kw)
        try:
            s = m.corpus_score(hyp_r, refs)
        except ZeroDivisionError:
            continue
        name = "chrf." + ".".join(f"{k}={v}" for k, v in kw.items()) + f".r{nref}"
        corpus.append((name, " ".join(chrf_flags(kw)), s, m))

with open(os.path.join(OUT, "corpus.tsv"), "w", encoding="utf-8", newline="\n") as f:
    for name, flags, s, m in corpus:
        f.write(f"{name}\t{flags}\t{s.score!r}\t{s.format(width=2)}\t{m.get_signature().format()}\n")
print(f"corpus.tsv: {len(corpus)} configurations", file=sys.stderr)

# ---- sentence level through sacreBLEU's own command line -----------------------------------
SL = [("sentence_bleu_intl.txt", ["-m", "bleu", "--tokenize", "intl", "-s", "floor"], 2),
      ("sentence_chrfpp.txt", ["-m", "chrf", "--chrf-word-order", "2"], 1),
      ("sentence_bleu_zh_w3.txt", ["-m", "bleu", "--tokenize", "zh", "-w", "3"], 2)]
for fname, flags, nref in SL:
    refs = [os.path.join(MET, "bleu_ref.txt"), os.path.join(MET, "bleu_ref2.txt")][:nref]
    cmd = [sys.executable, "-m", "sacrebleu"] + refs + ["-i", os.path.join(MET, "bleu_hyp.txt"),
                                                        "-sl", "-q"] + flags
    if "-w" not in flags:
        cmd += ["-w", "2"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(args.refpath))
    out = subprocess.run(cmd, check=True, capture_output=True, env=env).stdout
    with open(os.path.join(OUT, fname), "wb") as f:
        f.write(out)
    print(fname, out.count(b"\n"), "lines:", " ".join(flags), file=sys.stderr)

# ---- tokenizers -----------------------------------------------------------------------------
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a  # noqa: E402
from sacrebleu.tokenizers.tokenizer_char import TokenizerChar  # noqa: E402
from sacrebleu.tokenizers.tokenizer_intl import TokenizerV14International  # noqa: E402
from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
rng = random.Random(SEED)
tables = {}
hdr = open(os.path.join(ROOT, "eval", "tok_tables.h"), encoding="utf-8").read()
borders = set()
for part in hdr.split("{0x")[1:]:
    a, b = part.split("}", 1)[0].split(", 0x")
    for cp in (int(a, 16), int(b, 16)):
        for d in (-1, 0, 1):
            c = cp + d
            if 0 <= c < 0x110000 and not 0xD800 <= c <= 0xDFFF and c not in (0xA, 0xD):
                borders.add(c)
borders = sorted(borders)
ascii_mix = "ab1 2.,-&;:!?()$%'\"/ 3-4 5.6 x.y "
extra = []
for i in range(400):
    n = rng.randint(1, 24)
    s = "".join(chr(rng.choice(borders)) if rng.random() < 0.6 else rng.choice(ascii_mix)
                for _ in range(n))
    extra.append(s)
extra += ["3.", "a.", ".a", "1,000.", "\u4e2d\u6587,\u5b57.", "\u2000\u2001\u2a6d\u2a6e",
          "\u2f80\u2f81\u2fa1\u2fa2", "\uff01ab\uff0c", "2020.", "x\u00b2.", "\u00bd,\u00bd"]
toks = {"13a": Tokenizer13a(), "intl": TokenizerV14International(), "zh": TokenizerZh(),
        "char": TokenizerChar()}
n_tok = 0
with open(os.path.join(OUT, "tok.tsv"), "w", encoding="utf-8", newline="\n") as f:
    for name, t in toks.items():
        for line in hyp[700:] + extra:  # the 300 corner-case lines
            line = line.rstrip()  # sacreBLEU's _preprocess_segment
            f.write(f"{name}\t{esc(line)}\t{esc(t(line))}\n")
            n_tok += 1
print(f"tok.tsv: {n_tok} lines", file=sys.stderr)
