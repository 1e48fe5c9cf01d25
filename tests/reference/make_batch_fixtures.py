#!/usr/bin/python3
"""tests/reference/make_batch_fixtures.py: expected batch boundaries from fairseq's own
batch_by_size_vec (fairseq/data/data_utils_fast.pyx), for tests/data/test_batch.c.

Cython is not available here, so the function's source is read from a fairseq checkout given on
the command line and turned into plain Python mechanically (type declarations dropped; the
algorithm's lines are untouched), then run on seeded random cases. Nothing of fairseq is copied
into this repository: only the resulting numbers in tests/fixtures/data/batch_by_size.txt.

Fixture format, one case per line:
  max_tokens max_sentences bsz_mult | ntok_0 ... ntok_{n-1} | size_0 ... size_{b-1}
Usage: /usr/bin/python3 tests/reference/make_batch_fixtures.py --fairseq PATH (needs numpy).
It must never write anywhere but tests/fixtures/data/.
"""
import argparse
import os
import random
import re

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "data", "batch_by_size.txt")


def load_batch_by_size_vec(root):
    src = open(os.path.join(root, "fairseq", "data", "data_utils_fast.pyx")).read()
    src = src.replace("\\\n", " ")  # join continuation lines
    start = src.index("cpdef list batch_by_size_vec(")
    end = src.index("@cython", start)
    lines = []
    for line in src[start:end].splitlines():
        s = line.strip()
        if s.startswith("cpdef list batch_by_size_vec("):
            line = "def batch_by_size_vec("
        elif re.match(r"^(np\.ndarray\[[^\]]*\]|int64_t|int32_t)\s+\w+,$", s):
            line = "    " + re.sub(r"^(np\.ndarray\[[^\]]*\]|int64_t|int32_t)\s+", "", s)
        elif s.startswith("cdef "):
            m = re.match(r"^(\s*)cdef\s+.*?(\w+)\s=\s(.*)$", line)
            line = "%s%s = %s" % (m.group(1), m.group(2), m.group(3))
        lines.append(line)
    ns = {"np": np}
    exec("\n".join(lines), ns)
    return ns["batch_by_size_vec"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fairseq", required=True)
    args = ap.parse_args()
    f = load_batch_by_size_vec(args.fairseq)
    rng = random.Random(1234)
    cases = [(100, 0, 8, [10] * 20), (100, 0, 1, [10] * 20), (64, 5, 1, [3] * 17),
             (0, 6, 4, [7] * 25), (30, 0, 8, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 30])]
    for _ in range(40):
        n = rng.randint(1, 300)
        max_tok = rng.choice([0, 64, 100, 256, 1000, 4096])
        max_sent = rng.choice([0, 0, 3, 16, 50])
        if max_tok == 0 and max_sent == 0:
            max_sent = 10
        mult = rng.choice([1, 1, 2, 8])
        hi = max_tok if max_tok > 0 else 200
        ntok = sorted(rng.randint(1, min(hi, 120)) for _ in range(n))
        if rng.random() < 0.3:
            rng.shuffle(ntok)
        cases.append((max_tok, max_sent, mult, ntok))
    with open(OUT, "w") as out:
        for max_tok, max_sent, mult, ntok in cases:
            idx = np.arange(len(ntok), dtype=np.int64)
            batches = f(idx, np.array(ntok, dtype=np.int64), max_tok, max_sent, mult)
            sizes = [len(b) for b in batches]
            assert sum(sizes) == len(ntok)
            out.write("%d %d %d | %s | %s\n" % (max_tok, max_sent, mult,
                                                " ".join(map(str, ntok)),
                                                " ".join(map(str, sizes))))


if __name__ == "__main__":
    main()
