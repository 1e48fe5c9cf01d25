#!/usr/bin/python3
"""Peer of bench/bench_spm.c: Python sentencepiece's C++ core encoding the same lines to ids in
one batched call (so Python overhead is small), best of RUNS. Prints one line:
  peer lines=<n> bytes=<b> seconds=<best> threads=<t>
Usage: spm_peer.py MODEL TEXT REPEAT RUNS THREADS"""
import sys
import time

import sentencepiece as spm


def main():
    model, text, repeat, runs, threads = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    with open(text, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f] * repeat
    nbytes = sum(len(l.encode("utf-8")) for l in lines)
    sp = spm.SentencePieceProcessor(model_file=model)
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        sp.encode(lines, out_type=int, num_threads=threads)
        best = min(best, time.perf_counter() - t)
    print(f"peer lines={len(lines)} bytes={nbytes} seconds={best:.6f} threads={threads}")


if __name__ == "__main__":
    main()
