#!/usr/bin/python3
"""Peer of the C model benchmark: the PyTorch reference model (tests/reference/edgeformer_ref.py)
timing one training step on a fixed batch: forward + label-smoothed loss + backward, and with
--step also clip_grad_norm_(1.0) and a torch.optim.Adam step (0.9, 0.98, eps 1e-6).

With --autocast bf16 the forward and the loss run under torch.autocast("cpu",
dtype=torch.bfloat16), the one line a PyTorch user adds for bf16 on a CPU: autocast then casts
exactly the ops on its CPU lower-precision list (linear, matmul, bmm, addmm, ... : every dense
product of the model, attention products included) to bf16 and leaves the rest (LayerNorm,
softmax, the loss) as its policy says; parameters, gradients and Adam stay fp32. The backward
runs outside the context, as the PyTorch docs prescribe.

Batch: random token ids in [4, V), --tokens source and --tokens target tokens (including
</s>), as rows of --src-len / --tgt-len tokens (no padding). Dropout as in the config
(training mode). Runs --warmup untimed steps, then --runs timed ones; prints the median.

Output (one machine-readable line, after '#' comment lines):
  peer tokens_per_s=<(src+tgt tokens)/s> wps=<tgt tokens/s> median_ms=<ms> peak_rss_mb=<MB>
       threads=<n> src_tokens=<n> tgt_tokens=<n> batch=<rows> step=<0|1> params=<n>

BLAS: Debian's OpenBLAS misdetects AVX-512 CPUs and falls back to slow kernels, so when the
CPU has avx512f and OPENBLAS_CORETYPE is unset we set OPENBLAS_CORETYPE=SkylakeX before torch
is imported (the C side makes the same choice), and report which BLAS library torch loaded.

Usage: bench/model_peer.py --config configs/edgelm.ini [--tokens 4096] [--threads 2] [--step]
"""
import argparse
import os
import resource
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
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import edgeformer_ref as ref  # noqa: E402


def blas_summary():
    """Build-time BLAS_INFO from torch.__config__.show() and the BLAS library actually mapped."""
    info = "unknown"
    for part in torch.__config__.show().replace("\n", ",").split(","):
        if "BLAS_INFO" in part:
            info = part.strip()
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                base = os.path.basename(path)
                if "blas" in base or "mkl" in base or "lapack" in base:
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return info, sorted(libs)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--tokens", type=int, default=4096, help="source tokens = target tokens")
    ap.add_argument("--src-len", type=int, default=32)
    ap.add_argument("--tgt-len", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--step", action="store_true", help="also clip_grad_norm_ + Adam step")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--autocast", choices=["none", "bf16"], default="none",
                    help="bf16: forward + loss under torch.autocast('cpu', torch.bfloat16)")
    a = ap.parse_args(argv)
    if min(a.tokens, a.src_len, a.tgt_len, a.threads, a.runs) < 1 or a.warmup < 0:
        ap.error("sizes, --threads and --runs must be >= 1")
    try:
        cfg = ref.load_config(a.config)
    except ref.ConfigError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    V = cfg["vocab_size"]
    rows = max(1, a.tokens // max(a.src_len, a.tgt_len))
    src = torch.randint(4, V, (rows, a.src_len))
    src[:, -1] = ref.EOS
    tgt = torch.randint(4, V, (rows, a.tgt_len))
    tgt[:, -1] = ref.EOS
    prev = torch.cat([torch.full((rows, 1), ref.EOS), tgt[:, :-1]], dim=1)
    params = {k: v.requires_grad_(True) for k, v in ref.init_params(cfg, a.seed).items()}
    leaves = list(params.values())
    opt = torch.optim.Adam(leaves, lr=1e-4, betas=(0.9, 0.98), eps=1e-6) if a.step else None
    gen = torch.Generator().manual_seed(a.seed)

    def one_step():
        for p in leaves:
            p.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast == "bf16"):
            _, lprobs = ref.forward(params, cfg, src, prev, training=True, generator=gen)
            l, _ = ref.loss(lprobs, tgt, cfg["label_smoothing"])
        l.backward()
        if opt is not None:
            torch.nn.utils.clip_grad_norm_(leaves, 1.0)
            opt.step()

    info, libs = blas_summary()
    print("# torch %s, %s, OPENBLAS_CORETYPE=%s, threads=%d, autocast=%s" % (
        torch.__version__, info, os.environ.get("OPENBLAS_CORETYPE", "(unset)"), a.threads,
        a.autocast))
    for _ in range(a.warmup):
        one_step()
    info, libs = blas_summary()  # libraries are mapped once the first GEMM ran
    print("# blas libraries: %s" % (" ".join(libs) or "(none found in /proc/self/maps)"))
    times = []
    for _ in range(a.runs):
        t = time.perf_counter()
        one_step()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    ns, nt = src.numel(), tgt.numel()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("peer tokens_per_s=%.1f wps=%.1f median_ms=%.2f peak_rss_mb=%.1f threads=%d "
          "src_tokens=%d tgt_tokens=%d batch=%d step=%d params=%d"
          % ((ns + nt) / med, nt / med, med * 1e3, rss, a.threads, ns, nt, rows,
             int(a.step), ref.count_params(cfg)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
