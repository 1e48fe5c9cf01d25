#!/usr/bin/python3
"""Generation fixtures: search_ref.py (fairseq's beam search) on seeded weights and real sentences.

Regenerate (deterministic, ~1 min): /usr/bin/python3 tests/reference/generate_fixtures.py
Writes into tests/fixtures/generate/:
  <name>.ini          the model config (edgelm.ini: a copy of configs/edgelm.ini, so the
                      fixture does not follow later preset edits; gen_small.ini is the source)
  <name>.gen.txt      the generation cases (format below)
  seeded.txt          bit-identity check of the seeded weights (format below)

Weights: tests/reference/seeded.py (C: tests/common/seeded.c), seed on the `seed` line.
Sentences: lines of tests/fixtures/data/kjv-web.src, UTF-8 bytes b -> id 4 + b (a config with
V < 260 folds to 4 + b mod (V-4)), the first n-1 bytes + </s> (n = 5..40): from a pool of
POOL such sentences, the first N_SENT (in pool order) for which every search decision of every
case (see choose_sentences) is decided by more than MIN_GAP = 1e-3 in log-probability, so
another float32 implementation cannot flip one (float32 noise is ~1e-5 per step). They are
generated in batches of `batch` consecutive sentences (different lengths in one batch: left padding);
max_len depends on the batch's padded width S (fairseq: min(int(a·S + b), max_target_positions
- 1)), given on the B line.

<name>.gen.txt, one record per line, fields separated by one space:
  config <file.ini>
  seed <uint64>
  sentences <count>
  S <i> <n> <id_1 .. id_n>                          source i (ends with 2)
  case <case> beam <int> nbest <int> lenpen <g> max_len_a <g> max_len_b <int> min_len <int>
       no_repeat_ngram_size <int> unkpen <g> temperature <g> batch <int>      (one line)
  B <first sentence> <count> <S> <max_len>          one line per batch of the case
  H <i> <rank> <score> <len> <id_1 .. id_len>       hypothesis rank (0 = best) of sentence i;
                                                    ends with 2; score = fairseq's hypo score
  P <i> <rank> <positional score_1 .. _len>         fairseq's positional_scores
  end                                               end of the case
Floats are printed with %.9g (float32 round-trips). A case's H/P lines come sentence by
sentence, nbest hypotheses each, best first. Scores are natural-log; score = Σ log p /
len^lenpen computed in float32 as torch does (cumulative float32 sum of the step log-probs,
positional scores = differences of that cumulative sum).

seeded.txt:
  config <file.ini> seed <uint64>                   then per unique parameter (sorted keys):
  T <canonical key> <numel> <sum of the float32 bit patterns as uint64, mod 2^64>
    <bit patterns of the first 4 values, hex 8 digits>
and for the embedding additionally `R <row> <bit patterns of the first 4 values of the row>`
for rows 1 (pad, zero) and 2 (</s>, x3).

Self-checks (the script fails if one does not hold): the incremental decoder's log-probs equal
edgeformer_ref.forward's teacher-forced log-probs on every generated hypothesis (all V entries
of every position) within 1e-5 in float32 (|diff| / max(1, |log-prob|)) and 1e-10 in float64;
a float64 run (the same float32 weights in float64) produces the same tokens for every
hypothesis of every case; max_len is the same with max_len_a rounded to float32. It prints the
smallest gap between adjacent candidate scores at the search's decision points.
"""
import argparse
import math
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import edgeformer_ref as ref  # noqa: E402
import search_ref as sr  # noqa: E402
import seeded  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "generate")
DATA = os.path.join(ROOT, "tests", "fixtures", "data", "kjv-web.src")

# (fixture name, config source, seed)
CONFIGS = [
    ("gen_small", os.path.join(OUT, "gen_small.ini"), 1),  # lives with its fixtures
    ("edgelm", os.path.join(ROOT, "configs", "edgelm.ini"), 1),
]
N_SENT = 24
BATCH = 8
POOL = 96
MIN_GAP = 1e-3
CASES = [
    ("greedy", dict(beam=1, nbest=1, max_len_b=40)),
    ("beam5", dict(beam=5, nbest=5, max_len_b=40)),
    ("constrained", dict(beam=5, nbest=2, lenpen=0.6, min_len=5, max_len_a=1.2, max_len_b=3,
                         no_repeat_ngram_size=3, unkpen=0.5)),
    ("temperature", dict(beam=5, nbest=2, max_len_b=40, temperature=0.7)),
]
DEFAULTS = dict(beam=5, nbest=1, lenpen=1.0, max_len_a=0, max_len_b=200, min_len=1,
                no_repeat_ngram_size=0, unkpen=0.0, temperature=1.0)
INC_TOL32 = 1e-5  # max |diff| / max(1, |log-prob|), float32
INC_TOL64 = 1e-10  # max |diff|, float64


def pool(vocab):
    """The candidate sentences, in order: line (7k + 1) mod lines, cut to n = 5 + 13k mod 36."""
    with open(DATA, encoding="utf-8") as f:
        lines = [x for x in f.read().split("\n") if x]
    out = []
    for k in range(POOL):
        b = lines[(k * 7 + 1) % len(lines)].encode("utf-8")[:4 + (k * 13) % 36]
        ids = [4 + x for x in b] if vocab >= 260 else [4 + x % (vocab - 4) for x in b]
        out.append(ids + [ref.EOS])
    return out


def sentence_gaps(model, srcs):
    """Per sentence, the smallest gap at a decision point (search_ref.decision_gaps) or between
    the scores of consecutive returned hypotheses, over every case, in batches of BATCH."""
    gaps = [math.inf] * len(srcs)
    for _, o in CASES:
        opts = dict(DEFAULTS, **o)
        for b0 in range(0, len(srcs), BATCH):
            trace, per = [], {}
            hyps = sr.generate(model, srcs[b0:b0 + BATCH], trace=trace, **opts)
            sr.decision_gaps(trace, opts["beam"], per)
            for k, h in enumerate(hyps):
                sc = [x["score"] for x in h]
                g = min([sc[r] - sc[r + 1] for r in range(len(sc) - 1)] + [per.get(k, math.inf)])
                gaps[b0 + k] = min(gaps[b0 + k], g)
    return gaps


def choose_sentences(model, vocab):
    """N_SENT sentences of the pool, in pool order, whose every decision in every case is
    decided by more than MIN_GAP (float32 noise of another implementation is ~1e-5 per step):
    screen the pool, then re-check in the final batches (padding and max_len change with the
    batch) and replace offenders until none is left."""
    cands = pool(vocab)
    screen = sentence_gaps(model, cands)
    order = [k for k in range(len(cands)) if screen[k] > MIN_GAP]
    for _ in range(8):
        if len(order) < N_SENT:
            raise SystemExit("only %d of %d pool sentences have every gap > %g"
                             % (len(order), len(cands), MIN_GAP))
        pick = order[:N_SENT]
        gaps = sentence_gaps(model, [cands[k] for k in pick])
        bad = {pick[i] for i, g in enumerate(gaps) if g <= MIN_GAP}
        if not bad:
            return [cands[k] for k in pick], min(gaps), sum(g <= MIN_GAP for g in screen)
        order = [k for k in order if k not in bad]
    raise SystemExit("sentence selection did not settle")


def run_case(model, srcs, opts, trace=None):
    hyps, batches = [], []
    for b0 in range(0, len(srcs), BATCH):
        part = srcs[b0:b0 + BATCH]
        S = max(len(s) for s in part)
        max_len = sr.max_len_of(model, S, opts["max_len_a"], opts["max_len_b"])
        a32 = float(np.float32(opts["max_len_a"]))
        if sr.max_len_of(model, S, a32, opts["max_len_b"]) != max_len:
            raise SystemExit("max_len differs with max_len_a in float32 (S=%d)" % S)
        batches.append((b0, len(part), S, max_len))
        hyps += sr.generate(model, part, trace=trace, **opts)
    return hyps, batches


def g(x):
    return "%.9g" % x


def write_seeded(f, name, cfg, seed):
    p = seeded.seeded_params(cfg, seed)
    f.write("config %s.ini seed %d\n" % (name, seed))
    for k, t in p.items():
        bits = t.reshape(-1).numpy().view(np.uint32)
        total = int(bits.astype(np.uint64).sum()) & 0xFFFFFFFFFFFFFFFF
        f.write("T %s %d %d %s\n" % (k, bits.size, total, " ".join("%08x" % x for x in bits[:4])))
        if k == "encoder.embed_tokens.weight":
            rows = t.numpy().view(np.uint32)
            for r in (ref.PAD, ref.EOS):
                f.write("R %d %s\n" % (r, " ".join("%08x" % x for x in rows[r, :4])))


def fixture(name, src_ini, seed, out):
    cfg = ref.load_config(src_ini)
    dst = os.path.join(out, name + ".ini")
    if not os.path.exists(dst) or not os.path.samefile(src_ini, dst):
        shutil.copyfile(src_ini, dst)
    p32 = seeded.seeded_params(cfg, seed)
    m32 = sr.RefModel(p32, cfg)
    m64 = sr.RefModel({k: v.double() for k, v in p32.items()}, cfg)
    srcs, sel_gap, rejected = choose_sentences(m32, cfg["vocab_size"])
    lines = ["config %s.ini" % name, "seed %d" % seed, "sentences %d" % len(srcs)]
    lines += ["S %d %d %s" % (i, len(s), " ".join(map(str, s))) for i, s in enumerate(srcs)]
    worst_gap, n_gaps, worst_inc, worst_sort = math.inf, 0, 0.0, math.inf
    worst_err, worst_rel, worst_inc64 = 0.0, 0.0, 0.0
    stats = []
    for case, o in CASES:
        opts = dict(DEFAULTS, **o)
        trace = []
        h32, batches = run_case(m32, srcs, opts, trace)
        trace64 = []
        h64, _ = run_case(m64, srcs, opts, trace64)
        gap, n = sr.decision_gaps(trace, opts["beam"])
        worst_gap, n_gaps = min(worst_gap, gap), n_gaps + n
        err = sr.trace_error(trace, trace64)
        worst_err = max(worst_err, err)
        for i, (a, b) in enumerate(zip(h32, h64)):
            if [x["tokens"] for x in a] != [x["tokens"] for x in b]:
                raise SystemExit("%s/%s: sentence %d: float32 and float64 tokens differ:\n%s\n%s"
                                 % (name, case, i, [x["tokens"] for x in a],
                                    [x["tokens"] for x in b]))
            sc = [x["score"] for x in a]
            if len(sc) > 1:
                worst_sort = min(worst_sort, min(sc[r] - sc[r + 1] for r in range(len(sc) - 1)))
        # incremental decoder == teacher-forced graph on every hypothesis (temperature 1 only)
        if opts["temperature"] == 1.0:
            for b0, cnt, _, _ in batches:
                for r in range(opts["nbest"]):
                    part = [i for i in range(b0, b0 + cnt) if len(h32[i]) > r]
                    prevs = [[ref.EOS] + h32[i][r]["tokens"][:-1] for i in part]
                    part_src = [srcs[i] for i in part]
                    d32, rel32 = sr.check_incremental(m32, part_src, prevs)
                    d64, _ = sr.check_incremental(m64, part_src, prevs)
                    worst_inc = max(worst_inc, d32)
                    worst_rel = max(worst_rel, rel32)
                    worst_inc64 = max(worst_inc64, d64)
        hdr = ("case %s beam %d nbest %d lenpen %s max_len_a %s max_len_b %d min_len %d "
               "no_repeat_ngram_size %d unkpen %s temperature %s batch %d"
               % (case, opts["beam"], opts["nbest"], g(opts["lenpen"]), g(opts["max_len_a"]),
                  opts["max_len_b"], opts["min_len"], opts["no_repeat_ngram_size"],
                  g(opts["unkpen"]), g(opts["temperature"]), BATCH))
        lines.append(hdr)
        lines += ["B %d %d %d %d" % b for b in batches]
        for i, hs in enumerate(h32):
            for r, h in enumerate(hs):
                lines.append("H %d %d %s %d %s" % (i, r, g(h["score"]), len(h["tokens"]),
                                                   " ".join(map(str, h["tokens"]))))
                lines.append("P %d %d %s" % (i, r, " ".join(g(x) for x in h["positional_scores"])))
        lines.append("end")
        best = [tuple(hs[0]["tokens"]) for hs in h32]
        lens = [len(t) for t in best]
        stats.append("%s: distinct %d/%d, len %d..%d, mean distinct-token ratio %.2f, gap %.2e, f32-f64 %.1e"
                     % (case, len(set(best)), len(best), min(lens), max(lens),
                        sum(len(set(t)) / len(t) for t in best) / len(best), gap, err))
    if worst_rel > INC_TOL32 or worst_inc64 > INC_TOL64:
        raise SystemExit("%s: incremental vs teacher-forced log-probs differ: float32 %.3g "
                         "(relative, > %g?), float64 %.3g (> %g?)"
                         % (name, worst_rel, INC_TOL32, worst_inc64, INC_TOL64))
    path = os.path.join(out, name + ".gen.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%s (seed %d): %d of %d pool sentences rejected (a gap <= %g); chosen: smallest gap "
          "%.3g" % (name, seed, rejected, POOL, MIN_GAP, sel_gap))
    print("%s (seed %d): %s bytes; smallest decision gap %.3g over %d, smallest nbest score gap "
          "%.3g, float32-float64 candidate scores %.2g; incremental vs full log-probs: float32 max "
          "|diff| %.2g (relative %.2g), float64 %.2g; float32 == float64 tokens"
          % (name, seed, os.path.getsize(path), worst_gap, n_gaps, worst_sort, worst_err,
             worst_inc, worst_rel, worst_inc64))
    for s in stats:
        print("  " + s)
    return cfg


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--only", help="one fixture name")
    ap.add_argument("--seed", type=int, help="override the seed (for choosing one)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    done = []
    for name, ini, seed in CONFIGS:
        if a.only and name != a.only:
            continue
        seed = a.seed if a.seed is not None else seed
        done.append((name, fixture(name, ini, seed, a.out), seed))
    if not a.only:
        with open(os.path.join(a.out, "seeded.txt"), "w") as f:
            for name, cfg, seed in done:
                write_seeded(f, name, cfg, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
