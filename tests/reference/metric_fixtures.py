#!/usr/bin/python3
"""Writes tests/fixtures/metrics/: real sentence pairs, corner-case variants of them, and the
scores sacreBLEU (BLEU, chrF), Google's rouge-score (ROUGE) and NLTK (Porter stemmer) give
them. tests/eval/test_metrics.c compares eval/ against these numbers.

The reference implementations are not vendored. Run with Debian's Python and put them on
sys.path from a directory outside the repository:

  apt-get install python3-nltk python3-regex python3-portalocker python3-tabulate \
      python3-colorama python3-lxml python3-numpy python3-six
  # sacreBLEU 2.6.0 source (github mjpost/sacrebleu, tag v2.6.0), with
  #   sacrebleu/version.py containing: __version__ = "2.6.0"
  # rouge-score 0.1.2 source (the rouge_score/ package directory)
  bash data/scripts/build.sh kjv-web && bash data/scripts/build.sh desc-sum
  /usr/bin/python3 tests/reference/metric_fixtures.py --refpath /tmp/sacrebleu-src \
      --refpath /tmp/rouge-src

Inputs: work/data/kjv-web/{test,valid}.{src,tgt} (KJV verses as hypotheses, WEB verses as
references) and work/data/desc-sum/test.{src,tgt} (long description -> short one).
Outputs (one text per line, UTF-8, '\\n' line ends):
  bleu_hyp.txt bleu_ref.txt bleu_ref2.txt  1000 pairs: 700 real + 300 perturbed variants
  desc_pred.txt desc_target.txt             ROUGE pairs from desc-sum
  lsum_pred.txt lsum_target.txt             multi-sentence texts, TAB stands for '\\n'
  porter.txt                                word TAB NLTK stem
  expected.tsv                              KEY TAB VALUE (see the keys written below)
"""
import argparse
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N_REAL = 700
N_PERTURBED = 300
N_DESC = 250
N_LSUM = 100
N_MULTI = 300  # multi-reference ROUGE: the perturbed pairs
DESC_PRED_WORDS = 30
SEED = 20261124


def read_lines(path):
    with open(path, encoding="utf-8", newline="\n") as f:
        return [line.rstrip("\n") for line in f]


def write_lines(path, lines):
    for line in lines:
        assert "\n" not in line and "\r" not in line, line
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")


def perturb(i, hyp, ref, rng):
    """Variant i of a (hyp, ref) pair, cycling through tokenizer corner cases."""
    words = hyp.split()
    kind = i % 12
    if kind == 0:  # dropped words
        keep = [w for w in words if rng.random() > 0.3]
        return " ".join(keep), ref
    if kind == 1:  # shuffled
        rng.shuffle(words)
        return " ".join(words), ref
    if kind == 2:  # empty hypothesis
        return "", ref
    if kind == 3:  # unicode punctuation
        h = hyp.replace(",", " \u2014").replace(".", "\u2026")
        return "\u201c" + h + "\u201d \u00ab\u2018quoted\u2019\u00bb \u2013 fin\u00a1", ref
    if kind == 4:  # numbers
        return hyp + " in 3.14 years, 1,000 men, chapters 12-15 and 2-3, v1.2.3 at $5.00 (50%)", \
            ref + " in 3.14 years, 1,000 men, chapters 12 - 15, 2-3, at $5 (50 %)"
    if kind == 5:  # HTML entities and sacreBLEU's special strings
        return hyp + " &quot;so&quot; &amp; &lt;b&gt;bold&lt;/b&gt; &amp;quot; &apos;x&apos; " \
            "&#39;y&#39; <skipped> a-\\nb tom&jerry", ref + ' "so" & <b>bold</b> \'x\' tom & jerry'
    if kind == 6:  # case: upper-case line, Greek final sigma, dotted I, Kelvin sign
        return hyp.upper() + " \u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3 \u03a3\u038a\u03a3" \
            "\u03a5\u03a6\u039f\u03a3. \u0130STANBUL \u212a \u01c5", \
            ref + " \u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03c5\u03c2 istanbul k"
    if kind == 7:  # whitespace: tabs, NBSP, ideographic space, form feed, trailing spaces
        return "\t" + hyp.replace(" ", "\u00a0", 3).replace(" ", "\t", 2) + \
            " \u3000end\x0c\u2003 \u0085  ", ref + "   "
    if kind == 8:  # identical
        return ref, ref
    if kind == 9:  # abbreviations and sentence-final dots
        return hyp.rstrip(".") + " e.g. U.S.A. a.b,c 3.a .5 x. ,y ...", ref + " e.g. U.S.A."
    if kind == 10:  # other scripts, combining marks, emoji
        return hyp + " \u00bfQu\u00e9? ni\u00f1o nin\u0303o \u4e2d\u6587\u5b57\u7b26 " \
            "\U0001f44d\U0001f3fd caf\u00e9 Stra\u00dfe", ref + " \u00bfQu\u00e9? ni\u00f1o \u4e2d\u6587"
    # kind 11: empty reference, punctuation-only hypothesis pieces
    return hyp + " . , ; -- ''", ""


TRICKY_WORDS = """caresses ponies ties caress cats feed agreed disabled matting mating meeting
milling messing meetings happy sky skies dying lying tying news innings inning outings
outing cannings canning howe proceed exceed succeed relational conditional rational
valenci hesitanci digitizer conformabli radicalli differentli vileli analogousli
vietnamization predication operator feudalism decisiveness hopefulness callousness
formaliti sensitiviti sensibiliti triplicate formative formalize electriciti electrical
hopeful goodness revival allowance inference airliner gyroscopic adjustable defensible
irritant replacement adjustment dependent adoption homologou communism activate
angulariti homologous effective bowdlerize probate rate cease controll roll generously
generalization oscillators happiness flying dies died cried spied ied tied lied
hoping hopping filing filling fizzed fizzing bled blessed troubled sized siz kneeling
hope's 1990s abc123 ab cats' bookkeeping rally sally ally conclusion logi analogi
archaeology ecology apology apologies conveniently syzygy yyyy yaye quayside toy toys
agreement agreeably emphatically ionization oed ied bies dies series""".split()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--refpath", action="append", default=[],
                    help="directory to put on sys.path (sacrebleu / rouge_score sources)")
    ap.add_argument("--data", default=os.path.join(ROOT, "work", "data"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "metrics"))
    args = ap.parse_args()
    sys.path[:0] = args.refpath
    import sacrebleu
    from sacrebleu.metrics import BLEU, CHRF
    from rouge_score import rouge_scorer
    from nltk.stem import porter
    import nltk
    assert sacrebleu.__version__ == "2.6.0", sacrebleu.__version__

    kjv = os.path.join(args.data, "kjv-web")
    test_src, test_tgt = read_lines(f"{kjv}/test.src"), read_lines(f"{kjv}/test.tgt")
    valid_src, valid_tgt = read_lines(f"{kjv}/valid.src"), read_lines(f"{kjv}/valid.tgt")
    rng = random.Random(SEED)
    hyps, refs = test_src[:N_REAL], test_tgt[:N_REAL]
    for i in range(N_PERTURBED):
        h, r = perturb(i, valid_src[i], valid_tgt[i], rng)
        hyps.append(h)
        refs.append(r)
    refs2 = []
    for i, r in enumerate(refs):  # a second reference: every 5th word dropped, some empty
        w = r.split()
        refs2.append("" if i % 17 == 5 else " ".join(x for k, x in enumerate(w) if k % 5 != 4))

    os.makedirs(args.out, exist_ok=True)
    write_lines(f"{args.out}/bleu_hyp.txt", hyps)
    write_lines(f"{args.out}/bleu_ref.txt", refs)
    write_lines(f"{args.out}/bleu_ref2.txt", refs2)
    exp = []

    def put(key, value):
        if isinstance(value, float):
            value = repr(value)
        value = str(value)
        assert "\t" not in value and "\n" not in value, (key, value)
        exp.append(f"{key}\t{value}")

    exp_n = {"real": (0, N_REAL), "pert": (N_REAL, N_REAL + N_PERTURBED),
             "all": (0, N_REAL + N_PERTURBED)}
    for name, (a, b) in exp_n.items():
        for nrefs, rs in ((1, [refs[a:b]]), (2, [refs[a:b], refs2[a:b]])):
            for lc in (False, True):
                tag = f"{name}.r{nrefs}.{'lc' if lc else 'mixed'}"
                bleu = BLEU(lowercase=lc)
                s = bleu.corpus_score(hyps[a:b], rs)
                put(f"bleu.{tag}.score", s.score)
                put(f"bleu.{tag}.precisions", " ".join(repr(p) for p in s.precisions))
                put(f"bleu.{tag}.bp", s.bp)
                put(f"bleu.{tag}.lens", f"{s.sys_len} {s.ref_len}")
                put(f"bleu.{tag}.counts", " ".join(map(str, s.counts + s.totals)))
                put(f"bleu.{tag}.line", s.format())
                put(f"bleu.{tag}.sig", bleu.get_signature().format())
                chrf = CHRF(lowercase=lc)
                c = chrf.corpus_score(hyps[a:b], rs)
                put(f"chrf.{tag}.score", c.score)
                put(f"chrf.{tag}.line", c.format())
                put(f"chrf.{tag}.sig", chrf.get_signature().format())
    sbleu, schrf = BLEU(effective_order=True), CHRF()
    for i, (h, r, r2) in enumerate(zip(hyps, refs, refs2)):
        put(f"sbleu.{i}", sbleu.sentence_score(h, [r]).score)
        put(f"sbleu2.{i}", sbleu.sentence_score(h, [r, r2]).score)
        put(f"schrf.{i}", schrf.sentence_score(h, [r]).score)
    put("sbleu.sig", sbleu.get_signature().format())
    tok = BLEU().tokenizer
    tok_lc = BLEU(lowercase=True)
    for i in range(N_REAL, N_REAL + N_PERTURBED):
        put(f"tok13a.{i}", tok(hyps[i].rstrip()))
        put(f"tok13a_lc.{i}", tok_lc._preprocess_segment(hyps[i]))

    # ROUGE: the BLEU pairs (prediction = hypothesis) plus desc-sum pairs.
    ds = os.path.join(args.data, "desc-sum")
    dsrc, dtgt = read_lines(f"{ds}/test.src"), read_lines(f"{ds}/test.tgt")
    dpred = [" ".join(s.split()[:DESC_PRED_WORDS]) for s in dsrc[:N_DESC]]
    write_lines(f"{args.out}/desc_pred.txt", dpred)
    write_lines(f"{args.out}/desc_target.txt", dtgt[:N_DESC])
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]

    def num(x):  # 7 decimals (error <= 5e-8), trailing zeros dropped
        return f"{x:.7f}".rstrip("0").rstrip(".")

    def rouge_vals(score):
        return " ".join(f"{num(score[t].precision)} {num(score[t].recall)} {num(score[t].fmeasure)}"
                        for t in types)

    for stem in (False, True):
        scorer = rouge_scorer.RougeScorer(types, use_stemmer=stem)
        st = "stem" if stem else "nostem"
        for i, (h, r) in enumerate(zip(hyps, refs)):
            put(f"rouge.{st}.bleu.{i}", rouge_vals(scorer.score(r, h)))
        for i, (h, r) in enumerate(zip(dpred, dtgt)):
            put(f"rouge.{st}.desc.{i}", rouge_vals(scorer.score(r, h)))
    # multi-reference ROUGE (score_multi: per type the reference with the best F)
    scorer = rouge_scorer.RougeScorer(types, use_stemmer=True)
    for i in range(N_REAL, N_REAL + N_MULTI):
        h, r, r2 = hyps[i], refs[i], refs2[i]
        ss = [scorer.score(r, h), scorer.score(r2, h)]
        best = {}
        for t in types:
            k = max(range(2), key=lambda j: (ss[j][t].fmeasure, -j))
            best[t] = ss[k][t]
        put(f"rouge.multi.{i}", rouge_vals(best))

    # ROUGE-Lsum on multi-sentence texts: 3 verses each (KJV vs WEB), TAB = newline in files.
    lp, lt = [], []
    for i in range(N_LSUM):
        k = 3 * i
        if i % 2:
            lp.append("\t".join(test_src[N_REAL + k:N_REAL + k + 3]))
        else:  # sentences in another order than the target's
            lp.append("\t".join(reversed(test_src[N_REAL + k:N_REAL + k + 3])))
        lt.append("\t".join(test_tgt[N_REAL + k:N_REAL + k + 3]) + ("\t\t" if i % 5 == 0 else ""))
    write_lines(f"{args.out}/lsum_pred.txt", lp)
    write_lines(f"{args.out}/lsum_target.txt", lt)
    for stem in (False, True):
        scorer = rouge_scorer.RougeScorer(types, use_stemmer=stem)
        st = "stem" if stem else "nostem"
        for i, (p, t) in enumerate(zip(lp, lt)):
            put(f"rouge.{st}.lsum.{i}",
                rouge_vals(scorer.score(t.replace("\t", "\n"), p.replace("\t", "\n"))))

    # Porter stemmer (NLTK_EXTENSIONS, as rouge-score uses it): every distinct token longer
    # than 3 characters of the ROUGE texts, plus words that exercise each rule.
    from rouge_score import tokenize as rtok
    words = set(TRICKY_WORDS)
    for text in hyps + refs + dpred + dtgt[:N_DESC]:
        words.update(w for w in rtok.tokenize(text, None) if len(w) > 3)
    stemmer = porter.PorterStemmer()
    assert stemmer.mode == porter.PorterStemmer.NLTK_EXTENSIONS
    write_lines(f"{args.out}/porter.txt", [f"{w}\t{stemmer.stem(w)}" for w in sorted(words)])

    put("versions", f"sacrebleu {sacrebleu.__version__} nltk {nltk.__version__} "
                    f"python {sys.version.split()[0]}")
    write_lines(f"{args.out}/expected.tsv", exp)


if __name__ == "__main__":
    main()
