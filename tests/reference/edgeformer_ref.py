#!/usr/bin/python3
"""Independent PyTorch reference of the EdgeFormer / EdgeLM model, written from docs/model.md.

What it is for: the numbers the C model (model/) is checked against. It must never import
anything from the C side or from fairseq; it is plain torch (F.linear, F.layer_norm, explicit
masked attention, fairseq's make_positions + sinusoidal table, fairseq's
label_smoothed_nll_loss), so that a shared misreading of the contract cannot hide.

Surface (all functions take the config dict returned by load_config):
  load_config(path)                 INI `[model]` keys of docs/model.md; unknown keys are errors
  alias_map(cfg)                    every fairseq state_dict key -> its canonical key
  state_dict_keys(cfg)              sorted list of every fairseq state_dict key (parameters)
  param_shapes(cfg)                 canonical key -> shape (unique parameters only)
  init_params(cfg, seed, dtype)     canonical key -> tensor, fairseq initialisation
  forward(params, cfg, src, prev, training=False, generator=None)
                                    -> (encoder_out [B,S,d], lprobs [B,T,V])
  loss(lprobs, target, eps)         -> (label-smoothed loss sum, nll sum); pad targets count 0

Run as a script (`/usr/bin/python3 tests/reference/edgeformer_ref.py CONFIG`) to print the
parameter count and the state_dict keys with their canonical keys.
"""
import configparser
import math
import os
import sys

import torch
import torch.nn.functional as F

PAD, EOS = 1, 2
LN_EPS = 1e-5

# name -> (kind, default (EdgeLM), lo, hi or choices). Mirrors model/config.c's table.
KEYS = {
    "encoder_layers": ("int", 12, 1, 256),
    "decoder_layers": ("int", 2, 1, 256),
    "embed_dim": ("int", 512, 2, 65536),
    "attention_heads": ("int", 8, 1, 1024),
    "encoder_ffn_dim": ("int", 2048, 1, 65536),
    "decoder_ffn_dim": ("int", 128, 1, 65536),
    "encoder_attn_sets": ("int", 4, 1, 256),
    "encoder_ffn_sets": ("int", 2, 1, 256),
    "decoder_layer_sets": ("int", 2, 1, 256),
    "decoder_layout": ("enum", "interleaved", ("interleaved", "standard")),
    "decoder_attn": ("enum", "encoder", ("encoder", "own")),
    "share_layer_norm": ("bool", False),
    "layer_adaptation": ("enum", "adapter", ("none", "bias", "adapter", "prefix")),
    "lora_rank": ("int", 32, 1, 65536),
    "prefix_length": ("int", 8, 1, 4096),
    "activation": ("enum", "relu", ("relu", "gelu")),
    "dropout": ("float", 0.1, 0.0, 0.99),
    "label_smoothing": ("float", 0.1, 0.0, 0.99),
    "max_source_positions": ("int", 1024, 2, 65536),
    "max_target_positions": ("int", 1024, 2, 65536),
    "vocab_size": ("int", 2048, 5, 4000000),
}
_YES, _NO = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


class ConfigError(ValueError):
    pass


def default_config():
    return {k: v[1] for k, v in KEYS.items()}


def _parse(name, text):
    spec = KEYS[name]
    kind = spec[0]
    text = text.strip()
    if kind == "int":
        try:
            v = int(text, 10)
        except ValueError:
            raise ConfigError("[model] %s = '%s' is not an integer" % (name, text)) from None
        if not spec[2] <= v <= spec[3]:
            raise ConfigError("[model] %s = %d is outside [%g, %g]" % (name, v, spec[2], spec[3]))
        return v
    if kind == "float":
        try:
            v = float(text)
        except ValueError:
            raise ConfigError("[model] %s = '%s' is not a number" % (name, text)) from None
        if not math.isfinite(v) or not spec[2] <= v <= spec[3]:
            raise ConfigError("[model] %s = %g is outside [%g, %g]" % (name, v, spec[2], spec[3]))
        return v
    if kind == "bool":
        if text.lower() in _YES:
            return True
        if text.lower() in _NO:
            return False
        raise ConfigError("[model] %s = '%s' is not a boolean (true/false)" % (name, text))
    if text not in spec[2]:
        raise ConfigError("[model] %s = '%s' is not one of %s" % (name, text, " | ".join(spec[2])))
    return text


def check_config(c):
    """The consistency rules of model/config.c (ef_model_config_check)."""
    if c["embed_dim"] % c["attention_heads"]:
        raise ConfigError("[model] attention_heads = %d does not divide embed_dim = %d"
                          % (c["attention_heads"], c["embed_dim"]))
    for sets, layers in (("encoder_attn_sets", "encoder_layers"),
                         ("encoder_ffn_sets", "encoder_layers"),
                         ("decoder_layer_sets", "decoder_layers")):
        if c[sets] > c[layers]:
            raise ConfigError("[model] %s = %d is larger than %s = %d"
                              % (sets, c[sets], layers, c[layers]))
    if c["decoder_attn"] == "encoder" and c["encoder_attn_sets"] < 2:
        raise ConfigError("[model] decoder_attn = encoder needs encoder_attn_sets >= 2")
    if c["layer_adaptation"] == "adapter" and c["lora_rank"] > c["embed_dim"]:
        raise ConfigError("[model] lora_rank = %d is larger than embed_dim = %d"
                          % (c["lora_rank"], c["embed_dim"]))
    return c


def load_config(path, overrides=None):
    """Read `[model]` from an INI file (other sections belong to other layers and are left
    alone). Keys of [model] that docs/model.md does not define are errors."""
    cp = configparser.ConfigParser(inline_comment_prefixes=(";",), interpolation=None,
                                   strict=True, empty_lines_in_values=False)
    try:
        with open(path, encoding="utf-8") as f:
            cp.read_file(f)
    except (OSError, configparser.Error) as e:
        raise ConfigError("%s: %s" % (path, e)) from None
    c = default_config()
    if cp.has_section("model"):
        for name, text in cp.items("model", raw=True):
            if name not in KEYS:
                raise ConfigError("%s: unknown key '%s' in [model]" % (path, name))
            try:
                c[name] = _parse(name, text)
            except ConfigError as e:
                raise ConfigError("%s: %s" % (path, e)) from None
    for name, value in (overrides or {}).items():
        if name not in KEYS:
            raise ConfigError("unknown key '%s'" % name)
        c[name] = _parse(name, str(value))
    return check_config(c)


# --- parameters: canonical keys, aliases, shapes ----------------------------------------

ATTN_PARTS = ["%s_proj.%s" % (p, w) for p in ("q", "k", "v", "out") for w in ("weight", "bias")]
LN_PARTS = ("weight", "bias")


def _dec_attn_sets(c, j):
    """Encoder attention sets used by decoder layer j when decoder_attn = encoder."""
    a = c["encoder_attn_sets"]
    return (2 * j) % a, (2 * j + 1) % a


def alias_map(c):
    """Every parameter key of a fairseq state_dict of this model -> canonical key.
    Canonical keys map to themselves. Buffers (`*.embed_positions._float_tensor`,
    `*.version`) are not parameters and are not listed."""
    m = {}
    E = "encoder.embed_tokens.weight"
    for k in (E, "decoder.embed_tokens.weight", "decoder.output_projection.weight"):
        m[k] = E
    A, Fs = c["encoder_attn_sets"], c["encoder_ffn_sets"]
    for i in range(c["encoder_layers"]):
        a, f = i % A, i % Fs
        pre = "encoder.layers.%d." % i
        for p in ATTN_PARTS:
            m[pre + "self_attn." + p] = "encoder.layers.%d.self_attn.%s" % (a, p)
        for fc in ("fc1", "fc2"):
            for w in LN_PARTS:
                m[pre + "%s.%s" % (fc, w)] = "encoder.layers.%d.%s.%s" % (f, fc, w)
        ln_self = a if c["share_layer_norm"] else i
        ln_final = f if c["share_layer_norm"] else i
        for w in LN_PARTS:
            m[pre + "self_attn_layer_norm." + w] = "encoder.layers.%d.self_attn_layer_norm.%s" % (ln_self, w)
            m[pre + "final_layer_norm." + w] = "encoder.layers.%d.final_layer_norm.%s" % (ln_final, w)
        la = c["layer_adaptation"]
        own = []
        if la == "adapter":
            own = ["%s_lora.%s.%s" % (qv, lin, w) for qv in ("q", "v")
                   for lin in ("linear_u", "linear_v") for w in LN_PARTS]
        elif la == "bias":
            own = ["la_bias"]
        elif la == "prefix":
            own = ["prefix_k", "prefix_v"]
        for p in own:
            m[pre + p] = pre + p
    D = c["decoder_layer_sets"]
    for j in range(c["decoder_layers"]):
        s = j % D
        pre, spre = "decoder.layers.%d." % j, "decoder.layers.%d." % s
        for fc in ("fc1", "fc2"):
            for w in LN_PARTS:
                m[pre + "%s.%s" % (fc, w)] = spre + "%s.%s" % (fc, w)
        # Decoder LayerNorms: per layer unless share_layer_norm (then per decoder set).
        # docs/model.md lists them with the set; the two readings differ only when
        # decoder_layer_sets < decoder_layers and share_layer_norm = false (see the note there).
        lpre = spre if c["share_layer_norm"] else pre
        for ln in ("self_attn_layer_norm", "encoder_attn_layer_norm", "final_layer_norm"):
            for w in LN_PARTS:
                m[pre + "%s.%s" % (ln, w)] = lpre + "%s.%s" % (ln, w)
        if c["decoder_attn"] == "own":
            for att in ("self_attn", "encoder_attn"):
                for p in ATTN_PARTS:
                    m[pre + att + "." + p] = spre + att + "." + p
        else:
            sa, ca = _dec_attn_sets(c, j)
            for p in ATTN_PARTS:
                m[pre + "self_attn." + p] = "encoder.layers.%d.self_attn.%s" % (sa, p)
                m[pre + "encoder_attn." + p] = "encoder.layers.%d.self_attn.%s" % (ca, p)
    return m


def state_dict_keys(c):
    return sorted(alias_map(c))


def _shape_of(c, key):
    d, V = c["embed_dim"], c["vocab_size"]
    last = key.split(".")
    leaf, w = last[-2] if len(last) >= 2 else "", last[-1]
    is_dec = key.startswith("decoder.")
    if key == "encoder.embed_tokens.weight":
        return (V, d)
    if w in ("la_bias",):
        return (d,)
    if w in ("prefix_k", "prefix_v"):
        return (c["prefix_length"], d)
    if leaf.endswith("_proj"):
        return (d, d) if w == "weight" else (d,)
    if leaf.endswith("layer_norm"):
        return (d,)
    if leaf in ("fc1", "fc2"):
        Fd = c["decoder_ffn_dim"] if is_dec else c["encoder_ffn_dim"]
        if leaf == "fc1":
            return (Fd, d) if w == "weight" else (Fd,)
        return (d, Fd) if w == "weight" else (d,)
    if leaf == "linear_u":
        return (c["lora_rank"], d) if w == "weight" else (c["lora_rank"],)
    if leaf == "linear_v":
        return (d, c["lora_rank"]) if w == "weight" else (d,)
    raise KeyError(key)


def param_shapes(c):
    """canonical key -> shape, for the unique parameters, sorted by key."""
    return {k: _shape_of(c, k) for k in sorted(set(alias_map(c).values()))}


def count_params(c, embeddings=True):
    n = 0
    for k, s in param_shapes(c).items():
        if embeddings or k != "encoder.embed_tokens.weight":
            n += math.prod(s)
    return n


# --- initialisation (fairseq) -----------------------------------------------------------

def _uniform(shape, bound, g, dtype):
    return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1).mul_(bound).to(dtype)


def init_params(c, seed=0, dtype=torch.float32):
    """fairseq initialisation (docs/model.md "Initialisation"), drawn from one seeded
    generator in sorted canonical-key order (the C side has its own RNG: only the
    distributions are the contract, not the values)."""
    g = torch.Generator().manual_seed(seed)
    d = c["embed_dim"]
    out = {}
    for key, shape in param_shapes(c).items():
        parts = key.split(".")
        leaf, w = parts[-2], parts[-1]
        if key == "encoder.embed_tokens.weight":
            t = (torch.randn(shape, generator=g, dtype=torch.float64) * d ** -0.5).to(dtype)
            t[PAD] = 0
        elif w == "la_bias":
            t = torch.zeros(shape, dtype=dtype)
        elif w in ("prefix_k", "prefix_v"):
            t = (torch.randn(shape, generator=g, dtype=torch.float64) * 0.02).to(dtype)
        elif leaf.endswith("layer_norm"):
            t = (torch.ones if w == "weight" else torch.zeros)(shape, dtype=dtype)
        elif leaf in ("q_proj", "k_proj", "v_proj") and w == "weight":
            # xavier_uniform, gain 1/sqrt(2): bound = gain * sqrt(6 / (fan_in + fan_out))
            t = _uniform(shape, (2 ** -0.5) * math.sqrt(6.0 / (shape[0] + shape[1])), g, dtype)
        elif leaf == "out_proj" and w == "weight":
            t = _uniform(shape, math.sqrt(6.0 / (shape[0] + shape[1])), g, dtype)
        elif leaf == "out_proj" and w == "bias":
            t = torch.zeros(shape, dtype=dtype)
        else:
            # PyTorch's nn.Linear default: weight kaiming_uniform(a=sqrt 5) = U(+-1/sqrt(fan_in)),
            # bias U(+-1/sqrt(fan_in)); fan_in = in features of the Linear.
            fan_in = shape[1] if w == "weight" else _shape_of(c, key[:-len("bias")] + "weight")[1]
            t = _uniform(shape, 1.0 / math.sqrt(fan_in), g, dtype)
        out[key] = t
    return out


# --- forward ----------------------------------------------------------------------------

def make_positions(tokens, pad=PAD):
    """fairseq.utils.make_positions: pads get `pad`, real tokens pad+1, pad+2, ... counted
    over real tokens only (so a left-padded row also starts at 2)."""
    mask = tokens.ne(pad).long()
    return torch.cumsum(mask, dim=1) * mask + pad


def sinusoidal_table(num, dim, dtype, pad=PAD):
    """fairseq SinusoidalPositionalEmbedding.get_embedding: [sin block | cos block], row pad
    is zero. Computed in `dtype` (fairseq uses float32)."""
    half = dim // 2
    step = math.log(10000) / (half - 1)
    freq = torch.exp(torch.arange(half, dtype=dtype) * -step)
    ang = torch.arange(num, dtype=dtype).unsqueeze(1) * freq.unsqueeze(0)
    emb = torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros(num, 1, dtype=dtype)], dim=1)
    emb[pad] = 0
    return emb


def _embed(E, tokens, d):
    pos = make_positions(tokens)
    table = sinusoidal_table(int(pos.max()) + 1, d, E.dtype)
    # F.embedding with padding_idx: like fairseq's nn.Embedding(padding_idx=1), the lookup
    # sends no gradient to the pad row (the output projection still does).
    return math.sqrt(d) * F.embedding(tokens, E, padding_idx=PAD) + table[pos]


def _dropout(x, p, training, generator):
    if not training or p == 0:
        return x
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p
    return x * keep.to(x.dtype) / (1 - p)


def _linear(P, pre, x):
    return F.linear(x, P(pre + ".weight"), P(pre + ".bias"))


def _attention(P, att, xq, xkv, heads, key_pad, causal, lora=None, prefix=None):
    """Multi-head attention with the projections of `att` (a fairseq key prefix).
    xq [B,Tq,d], xkv [B,Tk,d]; key_pad [B,Tk] bool (True = masked); lora = layer prefix with
    q_lora/v_lora; prefix = (pk [L,d], pv [L,d]) prepended after projection, never masked."""
    B, Tq, d = xq.shape
    dh = d // heads
    q = _linear(P, att + ".q_proj", xq)
    k = _linear(P, att + ".k_proj", xkv)
    v = _linear(P, att + ".v_proj", xkv)
    if lora is not None:
        q = q + _linear(P, lora + "q_lora.linear_v", _linear(P, lora + "q_lora.linear_u", xq))
        v = v + _linear(P, lora + "v_lora.linear_v", _linear(P, lora + "v_lora.linear_u", xkv))
    q = q * dh ** -0.5
    mask = key_pad.clone()
    if prefix is not None:
        pk, pv = prefix
        L = pk.shape[0]
        k = torch.cat([pk.unsqueeze(0).expand(B, L, d), k], dim=1)
        v = torch.cat([pv.unsqueeze(0).expand(B, L, d), v], dim=1)
        mask = torch.cat([torch.zeros(B, L, dtype=torch.bool), mask], dim=1)
    Tk = k.shape[1]
    qh = q.view(B, Tq, heads, dh).transpose(1, 2)
    kh = k.view(B, Tk, heads, dh).transpose(1, 2)
    vh = v.view(B, Tk, heads, dh).transpose(1, 2)
    scores = qh @ kh.transpose(-1, -2)  # [B,H,Tq,Tk]
    full = mask[:, None, None, :].expand(B, 1, Tq, Tk)
    if causal:
        fut = torch.triu(torch.ones(Tq, Tk, dtype=torch.bool), diagonal=1)
        full = full | fut[None, None]
    scores = scores.masked_fill(full, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    out = (probs @ vh).transpose(1, 2).reshape(B, Tq, d)
    return _linear(P, att + ".out_proj", out)


def _ln(P, pre, x):
    return F.layer_norm(x, (x.shape[-1],), P(pre + ".weight"), P(pre + ".bias"), LN_EPS)


def _ffn(P, pre, x, act):
    h = _linear(P, pre + "fc1", x)
    h = torch.relu(h) if act == "relu" else F.gelu(h)  # fairseq gelu = exact erf form
    return _linear(P, pre + "fc2", h)


def forward(params, c, src_tokens, prev_output_tokens, training=False, generator=None):
    """Training graph of docs/model.md. Returns (encoder_out [B,S,d], lprobs [B,T,V])."""
    amap = alias_map(c)
    P = lambda key: params[amap[key]]  # noqa: E731 (fairseq key -> unique tensor)
    d, H, act = c["embed_dim"], c["attention_heads"], c["activation"]
    p = c["dropout"] if training else 0.0
    drop = lambda t: _dropout(t, p, training, generator)  # noqa: E731
    E = params["encoder.embed_tokens.weight"]

    # encoder
    src_pad = src_tokens.eq(PAD)
    x = drop(_embed(E, src_tokens, d))
    x = x * (~src_pad).unsqueeze(-1).to(x.dtype)
    la = c["layer_adaptation"]
    for i in range(c["encoder_layers"]):
        pre = "encoder.layers.%d." % i
        if la == "bias":
            x = x + P(pre + "la_bias")
        a = _attention(P, pre + "self_attn", x, x, H, src_pad, False,
                       lora=pre if la == "adapter" else None,
                       prefix=(P(pre + "prefix_k"), P(pre + "prefix_v")) if la == "prefix" else None)
        x = _ln(P, pre + "self_attn_layer_norm", x + drop(a))
        x = _ln(P, pre + "final_layer_norm", x + drop(_ffn(P, pre, x, act)))
    enc = x

    # decoder
    tgt_pad = prev_output_tokens.eq(PAD)
    y = drop(_embed(E, prev_output_tokens, d))
    for j in range(c["decoder_layers"]):
        pre = "decoder.layers.%d." % j
        y = _ln(P, pre + "self_attn_layer_norm",
                y + drop(_attention(P, pre + "self_attn", y, y, H, tgt_pad, True)))
        if c["decoder_layout"] == "interleaved":
            y = _ln(P, pre + "final_layer_norm", y + drop(_ffn(P, pre, y, act)))
        y = _ln(P, pre + "encoder_attn_layer_norm",
                y + drop(_attention(P, pre + "encoder_attn", y, enc, H, src_pad, False)))
        y = _ln(P, pre + "final_layer_norm", y + drop(_ffn(P, pre, y, act)))
    logits = F.linear(y, P("decoder.output_projection.weight"))
    return enc, F.log_softmax(logits, dim=-1)


def loss(lprobs, target, eps, pad=PAD):
    """fairseq label_smoothed_nll_loss, reduce=True: (loss sum, nll sum) over non-pad
    targets; eps_i = eps / (V - 1)."""
    t = target.unsqueeze(-1)
    nll = -lprobs.gather(dim=-1, index=t)
    smooth = -lprobs.sum(dim=-1, keepdim=True)
    padm = t.eq(pad)
    nll = nll.masked_fill(padm, 0.0).sum()
    smooth = smooth.masked_fill(padm, 0.0).sum()
    eps_i = eps / (lprobs.size(-1) - 1)
    return (1.0 - eps - eps_i) * nll + eps_i * smooth, nll


def main(argv):
    if len(argv) != 2:
        print("usage: edgeformer_ref.py CONFIG.ini", file=sys.stderr)
        return 2
    try:
        c = load_config(argv[1])
    except ConfigError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    amap = alias_map(c)
    lines = ["# params=%d non_embedding=%d unique_keys=%d state_dict_keys=%d"
             % (count_params(c), count_params(c, False), len(set(amap.values())), len(amap))]
    lines += ["%s %s" % (k, amap[k]) for k in sorted(amap)]
    try:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
