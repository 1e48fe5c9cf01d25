#!/usr/bin/python3
"""Seeded weights: a parameter generator that Python (this file) and C (tests/common/seeded.c)
compute bit-identically, so fixtures and benchmarks of any size need no committed weights.

What it is for: the generation fixtures (generate_fixtures.py), the decoding benchmark peer
(bench/decode_peer.py) and their C counterparts fill a model from (config, seed) alone. It must
never depend on torch's or numpy's random generators (those are not reproducible in C) and
never compute a value in anything but IEEE float32 (numpy float32 ops round like C floats).

Definition (the contract; tests/common/seeded.h repeats it):
  For every UNIQUE parameter, by its canonical key (docs/model.md), independently of the order
  in which parameters are visited:
    state_0 = seed XOR fnv1a64(key)          (FNV-1a 64 over the key's UTF-8 bytes:
                                              offset 0xcbf29ce484222325, prime 0x100000001b3)
    for element i = 0..numel-1 (row-major):
      state_{i+1} = state_i + 0x9E3779B97F4A7C15             (mod 2^64; splitmix64)
      z = state_{i+1}; z = (z ^ z>>30)·0xBF58476D1CE4E5B9; z = (z ^ z>>27)·0x94D049BB133111EB;
      z = z ^ z>>31
      r = (int)(z >> 40) - 2^23                                (an integer in [-2^23, 2^23))
      u = float32(r) · float32(2^-23)                          (exact: u in [-1, 1))
      value = float32(u · float32(bound))                      (one float32 rounding)
  bound is computed in double (only / and sqrt: correctly rounded on both sides), then
  rounded to float32 once. Afterwards the embedding's row 1 (pad) is set to 0 and its row 2
  (</s>) is multiplied by float32(EOS_GAIN) (one float32 rounding per value).

Bounds by kind (d = embed_dim, a Linear weight is [out, in]):
  encoder.embed_tokens.weight      EMBED_SCALE / sqrt(d)                  = 6 / sqrt(d)
  {q,k}_proj.weight                sqrt(QK_GAIN2 · 3 / (in + out))         = sqrt(12 / (in+out))
  v_proj.weight                    sqrt(3 / (in + out))   (xavier-uniform, gain 1/sqrt 2)
  out_proj.weight                  sqrt(6 / (in + out))   (xavier-uniform)
  any other Linear weight / bias   1 / sqrt(in)           (PyTorch's default; a bias uses the
                                                           in-features of its weight)
  *layer_norm.weight               LN_WEIGHT_BOUND = 1.7  (mean 0: signs are random)
  *layer_norm.bias                 LN_BIAS_BOUND = 0.1
  la_bias, prefix_k, prefix_v      LA_BOUND = 0.1
Why not fairseq's initialisation: with it, generation from random weights collapses into one
token repeated (the residual path carries the current token's embedding to the tied output
projection, which then predicts that token again). LayerNorm weights of random sign break that
identity path; 2x larger q/k make attention more peaked (the output depends on particular source
and history tokens, not their average, so sentences differ); a larger embedding makes the
next-token distributions peaked (mean top-1 probability ~0.7 for edgelm); the 3x </s> row
makes hypotheses end at varied lengths. generate_fixtures.py reports the resulting statistics.

Surface:
  seeded_params(cfg, seed, dtype=torch.float32) -> {canonical key: tensor}
  seeded_values(key, numel, bound, seed) -> numpy float32 array
  bound_of(cfg, key, shape) -> bound (float32)
Run as a script to print `<key> <first values>` lines (the small committed fixture of
tests/model/test_seeded.c is written by generate_fixtures.py).
"""
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import edgeformer_ref as ref  # noqa: E402

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3

EMBED_SCALE = 6.0      # embedding bound = EMBED_SCALE / sqrt(d)
QK_GAIN2 = 4.0         # (q/k bound gain)^2 over xavier(gain 1/sqrt 2)
LN_WEIGHT_BOUND = 1.7
LN_BIAS_BOUND = 0.1
LA_BOUND = 0.1
EOS_GAIN = 3.0


def fnv1a64(key):
    h = FNV_OFFSET
    for b in key.encode("utf-8"):
        h ^= b
        h = (h * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def seeded_values(key, numel, bound, seed):
    """The numel float32 values of parameter `key` (see the module docstring)."""
    s0 = np.uint64((seed ^ fnv1a64(key)) & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        z = s0 + np.arange(1, numel + 1, dtype=np.uint64) * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * M1
        z = (z ^ (z >> np.uint64(27))) * M2
        z = z ^ (z >> np.uint64(31))
    r = (z >> np.uint64(40)).astype(np.int64) - (1 << 23)
    u = r.astype(np.float32) * np.float32(2.0 ** -23)
    return u * np.float32(bound)


def _sqrt_ratio(num, den):
    return math.sqrt(float(num) / float(den))


def bound_of(cfg, key, shape):
    """The bound of a canonical key, as float32."""
    parts = key.split(".")
    leaf, w = (parts[-2] if len(parts) >= 2 else ""), parts[-1]
    if key == "encoder.embed_tokens.weight":
        b = EMBED_SCALE / math.sqrt(float(cfg["embed_dim"]))
    elif w in ("la_bias", "prefix_k", "prefix_v"):
        b = LA_BOUND
    elif leaf.endswith("layer_norm"):
        b = LN_WEIGHT_BOUND if w == "weight" else LN_BIAS_BOUND
    elif leaf in ("q_proj", "k_proj") and w == "weight":
        b = _sqrt_ratio(QK_GAIN2 * 3, shape[0] + shape[1])
    elif leaf == "v_proj" and w == "weight":
        b = _sqrt_ratio(3, shape[0] + shape[1])
    elif leaf == "out_proj" and w == "weight":
        b = _sqrt_ratio(6, shape[0] + shape[1])
    else:
        fan_in = shape[1] if w == "weight" else ref._shape_of(cfg, key[:-len("bias")] + "weight")[1]
        b = 1.0 / math.sqrt(float(fan_in))
    return np.float32(b)


def seeded_params(cfg, seed, dtype=None):
    """canonical key -> tensor (float32 values, then cast to dtype if given)."""
    import torch
    out = {}
    for key, shape in ref.param_shapes(cfg).items():
        n = math.prod(shape)
        v = seeded_values(key, n, bound_of(cfg, key, shape), seed).reshape(shape)
        if key == "encoder.embed_tokens.weight":
            v[ref.PAD] = 0.0
            v[ref.EOS] *= np.float32(EOS_GAIN)
        t = torch.from_numpy(v.copy())
        out[key] = t if dtype is None else t.to(dtype)
    return out


def main(argv):
    if len(argv) not in (2, 3):
        print("usage: seeded.py CONFIG.ini [SEED]", file=sys.stderr)
        return 2
    cfg = ref.load_config(argv[1])
    seed = int(argv[2], 0) if len(argv) == 3 else 1
    for k, t in seeded_params(cfg, seed).items():
        f = t.reshape(-1)[:4].tolist()
        print(k, " ".join("%.9g" % x for x in f))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
