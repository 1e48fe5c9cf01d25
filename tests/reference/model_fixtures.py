#!/usr/bin/python3
"""Model parity fixtures: the reference model (edgeformer_ref.py) on real sentences.

Default run (committed fixtures, deterministic):
    /usr/bin/python3 tests/reference/model_fixtures.py
  For every tests/fixtures/model/<name>.ini writes <name>.efx (EFX1, see efx.py) and
  <name>.aliases.txt (`<fairseq key> <canonical key>` per line, sorted).

Full-size check (not committed; a ctest runs it when torch is present):
    /usr/bin/python3 tests/reference/model_fixtures.py --config configs/edgelm.ini --out DIR [--batch N]
  writes DIR/<config stem>.efx and DIR/<config stem>.aliases.txt for that preset.

Batch: lines of tests/fixtures/data/kjv-web.src/.tgt, tokenised as UTF-8 bytes, byte b ->
id 4 + b (ids 4..259, so V >= 260; a smaller V folds bytes to 4 + b mod (V - 4)). Source
rows: bytes[:n-1] + </s>, left-padded; target rows: bytes[:m-1] + </s>, right-padded;
prev_output_tokens = </s> + target[:-1], right-padded; pad = 1. Row lengths differ so both
kinds of padding occur. Dropout is off (the graph is the deterministic training graph).

Weights: init_params(cfg, seed) (fairseq initialisation), then every tensor whose
initialisation is a constant (LayerNorm 1/0, out_proj bias 0, Bias-LA 0, the embedding pad
row 0) gets N(0, 0.1^2) noise added, so that the fixtures also pin down the paths those
constants would hide (a missing bias, a zeroed decoder pad row).

Tensors in each .efx: src_tokens, prev_output_tokens, target (int32); encoder_out [B,S,d],
lprobs [B,T,V]; loss_eps0.1, nll_eps0.1, loss_eps0, nll_eps0 ([1], sums over non-pad
targets); param.<canonical key>; grad.<canonical key> = d(loss_eps0.1, summed)/d(param).
All values come from a float32 run; a float64 run of the same weights is the self-check.
"""
import argparse
import glob
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import edgeformer_ref as ref  # noqa: E402
import efx  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
FIXDIR = os.path.join(ROOT, "tests", "fixtures", "model")
DATA = os.path.join(ROOT, "tests", "fixtures", "data", "kjv-web")
SEED = 20220207  # arXiv 2202.07959

# (line index, source length incl. </s>, target length incl. </s>) of the committed batch
SMALL_ROWS = [(0, 20, 11), (3, 15, 16), (7, 9, 13), (12, 5, 7)]


def byte_ids(text, n, vocab):
    """First n-1 UTF-8 bytes of text as ids, then </s>."""
    b = text.encode("utf-8")[:n - 1]
    if vocab >= 260:
        ids = [4 + x for x in b]
    else:
        ids = [4 + x % (vocab - 4) for x in b]
    return ids + [ref.EOS]


def make_batch(rows, vocab):
    with open(DATA + ".src", encoding="utf-8") as f:
        src_lines = f.read().split("\n")
    with open(DATA + ".tgt", encoding="utf-8") as f:
        tgt_lines = f.read().split("\n")
    srcs = [byte_ids(src_lines[i], s, vocab) for i, s, _ in rows]
    tgts = [byte_ids(tgt_lines[i], t, vocab) for i, _, t in rows]
    S, T = max(map(len, srcs)), max(map(len, tgts))
    src = torch.full((len(rows), S), ref.PAD, dtype=torch.long)
    prev = torch.full((len(rows), T), ref.PAD, dtype=torch.long)
    tgt = torch.full((len(rows), T), ref.PAD, dtype=torch.long)
    for r, (s, t) in enumerate(zip(srcs, tgts)):
        src[r, S - len(s):] = torch.tensor(s)
        tgt[r, :len(t)] = torch.tensor(t)
        prev[r, :len(t)] = torch.tensor([ref.EOS] + t[:-1])
    return src, prev, tgt


def fixture_params(cfg, seed):
    p = ref.init_params(cfg, seed, torch.float32)
    g = torch.Generator().manual_seed(seed + 1)
    for k in sorted(p):
        leaf = k.split(".")
        if (k.endswith("layer_norm.weight") or k.endswith("layer_norm.bias")
                or k.endswith("out_proj.bias") or leaf[-1] == "la_bias"):
            p[k] = p[k] + 0.1 * torch.randn(p[k].shape, generator=g)
        elif k == "encoder.embed_tokens.weight":
            p[k][ref.PAD] = 0.1 * torch.randn(p[k].shape[1], generator=g)
    return p


def run(cfg, params, src, prev, tgt, dtype):
    """-> dict of outputs and grads computed in dtype (params cast from float32)."""
    leaves = {k: v.detach().to(dtype).requires_grad_(True) for k, v in params.items()}
    enc, lprobs = ref.forward(leaves, cfg, src, prev)
    l01, n01 = ref.loss(lprobs, tgt, 0.1)
    l0, n0 = ref.loss(lprobs, tgt, 0.0)
    l01.backward()
    out = {"encoder_out": enc.detach(), "lprobs": lprobs.detach(),
           "loss_eps0.1": l01.detach().reshape(1), "nll_eps0.1": n01.detach().reshape(1),
           "loss_eps0": l0.detach().reshape(1), "nll_eps0": n0.detach().reshape(1)}
    for k, v in leaves.items():
        out["grad." + k] = v.grad.detach() if v.grad is not None else torch.zeros_like(v)
    return out


def self_check(o32, o64):
    """Largest |float32 - float64| of each group, relative to the group's scale: the largest
    |float64| of the tensor, but for gradients at least 1e-3 of the largest gradient of the
    model (some gradients are zero analytically, e.g. self-attention k_proj.bias without a
    prefix: adding a constant to every score of a row does not change the softmax)."""
    def rel(a, b, floor=1e-30):
        return float((a.double() - b).abs().max() / b.abs().max().clamp_min(floor))
    gkeys = [k for k in o64 if k.startswith("grad.")]
    gmax = max(float(o64[k].abs().max()) for k in gkeys)
    grel = {k: rel(o32[k], o64[k], 1e-3 * gmax) for k in gkeys}
    worst = max(grel, key=grel.get)
    other = [v for k, v in grel.items() if not k.endswith("k_proj.bias")]
    return {"grad_no_kbias": max(other),
            "encoder_out": rel(o32["encoder_out"], o64["encoder_out"]),
            "lprobs": rel(o32["lprobs"], o64["lprobs"]),
            "loss": rel(o32["loss_eps0.1"], o64["loss_eps0.1"]),
            "grad": grel[worst], "worst_grad": worst}


def write_fixture(cfg, name, outdir, rows, seed):
    torch.manual_seed(seed)
    src, prev, tgt = make_batch(rows, cfg["vocab_size"])
    params = fixture_params(cfg, seed)
    o32 = run(cfg, params, src, prev, tgt, torch.float32)
    o64 = run(cfg, params, src, prev, tgt, torch.float64)
    chk = self_check(o32, o64)
    tensors = [("src_tokens", src), ("prev_output_tokens", prev), ("target", tgt)]
    for k in ("encoder_out", "lprobs", "loss_eps0.1", "nll_eps0.1", "loss_eps0", "nll_eps0"):
        tensors.append((k, o32[k]))
    for k in sorted(params):
        tensors.append(("param." + k, params[k]))
    for k in sorted(params):
        tensors.append(("grad." + k, o32["grad." + k]))
    path = os.path.join(outdir, name + ".efx")
    efx.write(path, tensors)
    back = efx.read(path)  # round trip: the file says what we meant
    assert torch.equal(back["lprobs"], o32["lprobs"].float()) and len(back) == len(tensors)
    amap = ref.alias_map(cfg)
    with open(os.path.join(outdir, name + ".aliases.txt"), "w") as f:
        for k in sorted(amap):
            f.write("%s %s\n" % (k, amap[k]))
    print("%s: B=%d S=%d T=%d params=%d keys=%d loss=%.6f nll=%.6f bytes=%d | f32 vs f64 rel: "
          "enc %.1e lprobs %.1e loss %.1e grad %.1e (%s), other grads %.1e"
          % (name, src.shape[0], src.shape[1], tgt.shape[1], ref.count_params(cfg), len(amap),
             float(o32["loss_eps0.1"]), float(o32["nll_eps0.1"]), os.path.getsize(path),
             chk["encoder_out"], chk["lprobs"], chk["loss"], chk["grad"], chk["worst_grad"],
             chk["grad_no_kbias"]))
    return chk


def full_rows(batch):
    """Rows for the full-size check: varied lengths up to 48 source / 40 target tokens."""
    return [(r * 7 % 250, 48 - (r * 11) % 37, 40 - (r * 13) % 31) for r in range(batch)]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", help="one config (full-size check); default: every "
                    "tests/fixtures/model/*.ini")
    ap.add_argument("--out", help="output directory (default tests/fixtures/model)")
    ap.add_argument("--batch", type=int, default=4, help="sentences (full-size check)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        if a.config:
            if not a.out:
                ap.error("--config needs --out DIR (full-size fixtures are not committed)")
            if a.batch < 1:
                ap.error("--batch must be >= 1")
            os.makedirs(a.out, exist_ok=True)
            cfg = ref.load_config(a.config)
            name = os.path.splitext(os.path.basename(a.config))[0]
            write_fixture(cfg, name, a.out, full_rows(a.batch), SEED)
            return 0
        out = a.out or FIXDIR
        os.makedirs(out, exist_ok=True)
        configs = sorted(glob.glob(os.path.join(FIXDIR, "*.ini")))
        if not configs:
            print("error: no configs in %s" % FIXDIR, file=sys.stderr)
            return 1
        for path in configs:
            name = os.path.splitext(os.path.basename(path))[0]
            write_fixture(ref.load_config(path), name, out, SMALL_ROWS, SEED)
        return 0
    except (ref.ConfigError, OSError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
