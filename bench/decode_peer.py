#!/usr/bin/python3
"""Peer of the C decoding benchmark (bench/bench_decode.c): generation with the PyTorch
reference (tests/reference/search_ref.py: fairseq's beam search with incremental decoding, a
self-attention K/V cache per decoder layer, cross-attention K/V projected once per source,
caches reordered with index_select; torch.inference_mode, no per-token Python loops over the
vocabulary) on the same seeded weights (tests/reference/seeded.py, bit-identical to
tests/common/seeded.c) and the same sentences.

Sentences: the first --sentences lines of --source that have at least --src-tokens - 1 bytes,
as byte ids (4 + byte), cut to --src-tokens - 1 ids + </s> (the C side's load_sources).
Every hypothesis has exactly --out-tokens tokens + </s>: min_len = max_len_b = --out-tokens,
max_len_a = 0, so both sides run out-tokens + 1 decoder steps.

Modes (as bench_decode):
  greedy_b1       batch 1, beam 1: per-sentence latency
  beam5_b1        batch 1, beam 5: per-sentence latency
  beam5_batch16   batches of 16, beam 5: throughput
For each mode and thread count: one untimed warm-up call, then --reps passes over all
sentences; median_ms = the median over generate calls of (call time / sentences in the call),
sent_per_s = sentences / pass time; the pass with the smallest median is reported (the machine
is shared).

With --quantize-dynamic every linear layer (attention q/k/v/out, FFN, LoRA, the tied output
projection; not the embedding lookup) runs through torch.quantization.quantize_dynamic's int8
nn.Linear (per-tensor weight scale, activations quantised per call), the PyTorch counterpart of
an int8 .efm (bench/bench_device.c). The reference calls torch.nn.functional.linear with
weight tensors, not modules, so the script wraps each weight in an nn.Linear, quantises it, and
routes F.linear calls on that weight to the quantised module (see quantize_linears).

Output (machine-readable; other lines start with '#'):
  peer <mode> threads=<n> median_ms=<ms> sent_per_s=<x> beam=<b> batch=<n> sentences=<n>
       out_tokens=<n> weights=fp32|qint8

Usage: bench/decode_peer.py [--config configs/edgelm.ini] [--seed 20220207] [--sentences 24]
         [--threads 1|2|both|N] [--reps 3] [--modes greedy_b1,beam5_b1,beam5_batch16]
         [--source tests/fixtures/data/kjv-web.src] [--src-tokens 30] [--out-tokens 30]
         [--quantize-dynamic]
BLAS: like bench/model_peer.py, OPENBLAS_CORETYPE=SkylakeX on AVX-512 CPUs when unset.
"""
import argparse
import os
import statistics
import sys
import time


def cpu_has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return "avx512f" in line.split()
    except OSError:
        pass
    return False


if cpu_has_avx512() and "OPENBLAS_CORETYPE" not in os.environ:
    os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import edgeformer_ref as ref  # noqa: E402
import search_ref as sr  # noqa: E402
import seeded  # noqa: E402

MODES = {"greedy_b1": (1, 1), "beam5_b1": (5, 1), "beam5_batch16": (5, 16)}


def quantize_linears(params):
    """Routes torch.nn.functional.linear(x, W, b) for every 2-D parameter W of params through a
    quantize_dynamic int8 nn.Linear built from W and b (built on first use, so the warm-up pass
    pays for it). Other calls (none in the reference) fall through to the float function."""
    float_linear = torch.nn.functional.linear
    weights = {id(w) for w in params.values() if w.dim() == 2}
    cache = {}

    def linear(x, w, b=None):
        if id(w) not in weights:
            return float_linear(x, w, b)
        key = (id(w), None if b is None else id(b))
        q = cache.get(key)
        if q is None:
            lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
            with torch.no_grad():
                lin.weight.copy_(w)
                if b is not None:
                    lin.bias.copy_(b)
            q = torch.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear},
                                                    dtype=torch.qint8)
            cache[key] = q
        return q(x)

    torch.nn.functional.linear = linear
    return cache


def load_sources(path, n, src_tokens, vocab):
    out = []
    with open(path, "rb") as f:
        for line in f:
            b = line.rstrip(b"\n")
            if len(b) < src_tokens - 1:
                continue
            ids = [4 + x if vocab >= 260 else 4 + x % (vocab - 4) for x in b[:src_tokens - 1]]
            out.append(ids + [ref.EOS])
            if len(out) == n:
                break
    return out


def one_pass(model, srcs, beam, batch, out_tokens):
    times = []
    t_all = time.perf_counter()
    for i in range(0, len(srcs), batch):
        part = srcs[i:i + batch]
        t0 = time.perf_counter()
        hyps = sr.generate(model, part, beam=beam, nbest=1, min_len=out_tokens, max_len_a=0,
                           max_len_b=out_tokens)
        times.append((time.perf_counter() - t0) * 1e3 / len(part))
        for h in hyps:
            if len(h[0]["tokens"]) != out_tokens + 1:
                raise SystemExit("error: a hypothesis has %d tokens, expected %d"
                                 % (len(h[0]["tokens"]), out_tokens + 1))
    t_all = time.perf_counter() - t_all
    return statistics.median(times), len(srcs) / t_all


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "edgelm.ini"))
    ap.add_argument("--seed", type=int, default=20220207)
    ap.add_argument("--sentences", type=int, default=24)
    ap.add_argument("--threads", default="both", help="1, 2, N or both (= 1 then 2)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--source", default=os.path.join(ROOT, "tests", "fixtures", "data",
                                                      "kjv-web.src"))
    ap.add_argument("--src-tokens", type=int, default=30)
    ap.add_argument("--out-tokens", type=int, default=30)
    ap.add_argument("--quantize-dynamic", action="store_true",
                    help="int8 linear layers (torch.quantization.quantize_dynamic)")
    a = ap.parse_args(argv)
    threads = [1, 2] if a.threads == "both" else [int(a.threads)] if a.threads.isdigit() else None
    modes = a.modes.split(",")
    if (not threads or min(threads) < 1 or a.sentences < 1 or a.reps < 1 or a.src_tokens < 2
            or a.out_tokens < 1 or any(m not in MODES for m in modes)):
        ap.error("bad arguments (modes: %s)" % ", ".join(MODES))
    try:
        cfg = ref.load_config(a.config)
    except ref.ConfigError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    srcs = load_sources(a.source, a.sentences, a.src_tokens, cfg["vocab_size"])
    if len(srcs) < a.sentences:
        print("error: %s: only %d lines of >= %d bytes" % (a.source, len(srcs), a.src_tokens - 1),
              file=sys.stderr)
        return 1
    params = seeded.seeded_params(cfg, a.seed)
    model = sr.RefModel(params, cfg)
    weights = "fp32"
    if a.quantize_dynamic:
        quantize_linears(params)
        weights = "qint8"
    print("# decode_peer: torch %s, %s, seed %d, %d sentences of %d tokens, %d output tokens, "
          "%s weights (engine %s)" % (torch.__version__, os.path.basename(a.config), a.seed,
                                      len(srcs), a.src_tokens, a.out_tokens, weights,
                                      torch.backends.quantized.engine))
    sys.stdout.flush()
    for th in threads:
        torch.set_num_threads(th)
        one_pass(model, srcs[:min(4, len(srcs))], 5, 1, a.out_tokens)  # warm-up
        for mode in modes:
            beam, batch = MODES[mode]
            best = min((one_pass(model, srcs, beam, batch, a.out_tokens) for _ in range(a.reps)),
                       key=lambda r: r[0])
            print("peer %s threads=%d median_ms=%.2f sent_per_s=%.2f beam=%d batch=%d "
                  "sentences=%d out_tokens=%d weights=%s" % (mode, th, best[0], best[1], beam,
                                                             batch, len(srcs), a.out_tokens,
                                                             weights))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
