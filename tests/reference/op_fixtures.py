#!/usr/bin/python3
"""Reference values for the autograd ops, computed with PyTorch (Debian's python3-torch).

Writes tests/fixtures/ops/<case>.txt: for every case the inputs, an upstream gradient `dy`,
the forward output `y` and the gradient of every differentiable input, so the C tests can
check forward values and backward kernels against an independent implementation. The
fairseq-specific pieces (sinusoidal positions, label-smoothed NLL) are written here from
fairseq's published definitions, in torch.

Run: /usr/bin/python3 tests/reference/op_fixtures.py  (deterministic; seed fixed)

Fixture format (text): one tensor per two lines:
    <name> <f32|i32> <ndim> <d0> ... <dn-1>
    <values separated by spaces>
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "ops")
os.makedirs(OUT, exist_ok=True)


def write(case, tensors):
    path = os.path.join(OUT, case + ".txt")
    with open(path, "w") as f:
        for name, t in tensors:
            t = t.detach()
            kind = "i32" if t.dtype in (torch.int32, torch.int64) else "f32"
            shape = list(t.shape) if t.dim() else [1]
            f.write("%s %s %d %s\n" % (name, kind, len(shape), " ".join(map(str, shape))))
            flat = t.reshape(-1).tolist()
            if kind == "i32":
                f.write(" ".join(str(int(v)) for v in flat) + "\n")
            else:
                f.write(" ".join("%.9g" % v for v in flat) + "\n")
    print("wrote", path)


def leaf(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).requires_grad_(True)


def grads_of(y, dy, inputs):
    y.backward(dy)
    return [(n, t.grad) for n, t in inputs]


# linear: y = x W^T + b
x, w, b = leaf(3, 5, 7), leaf(4, 7), leaf(4)
y = F.linear(x, w, b)
dy = torch.randn_like(y)
write("linear", [("x", x), ("w", w), ("b", b), ("y", y), ("dy", dy)]
      + grads_of(y, dy, [("dx", x), ("dw", w), ("db", b)]))

# matmul, batched, every transpose combination
for ta in (0, 1):
    for tb in (0, 1):
        a = leaf(2, 6, 4) if ta else leaf(2, 4, 6)  # op(a) is [2, 4, 6]
        bb = leaf(2, 5, 6) if tb else leaf(2, 6, 5)  # op(b) is [2, 6, 5]
        y = torch.matmul(a.transpose(1, 2) if ta else a, bb.transpose(1, 2) if tb else bb)
        dy = torch.randn_like(y)
        write("matmul_t%d%d" % (ta, tb), [("a", a), ("b", bb), ("y", y), ("dy", dy)]
              + grads_of(y, dy, [("da", a), ("db", bb)]))

# add, scale, bias_add, relu, gelu
a, bb = leaf(4, 6), leaf(4, 6)
y = a + bb
dy = torch.randn_like(y)
write("add", [("a", a), ("b", bb), ("y", y), ("dy", dy)] + grads_of(y, dy, [("da", a), ("db", bb)]))

x = leaf(3, 7)
y = x * 0.125
dy = torch.randn_like(y)
write("scale", [("x", x), ("y", y), ("dy", dy)] + grads_of(y, dy, [("dx", x)]))

x, b = leaf(2, 3, 8), leaf(8)
y = x + b
dy = torch.randn_like(y)
write("bias_add", [("x", x), ("b", b), ("y", y), ("dy", dy)] + grads_of(y, dy, [("dx", x), ("db", b)]))

x = leaf(5, 9)
y = F.relu(x)
dy = torch.randn_like(y)
write("relu", [("x", x), ("y", y), ("dy", dy)] + grads_of(y, dy, [("dx", x)]))

x = leaf(5, 9, scale=2.0)
y = F.gelu(x)
dy = torch.randn_like(y)
write("gelu", [("x", x), ("y", y), ("dy", dy)] + grads_of(y, dy, [("dx", x)]))

# layernorm
x, w, b = leaf(2, 5, 16, scale=3.0), leaf(16), leaf(16)
y = F.layer_norm(x + 1.5, (16,), w, b, eps=1e-5)
dy = torch.randn_like(y)
xs = (x + 1.5).detach().requires_grad_(True)
y = F.layer_norm(xs, (16,), w, b, eps=1e-5)
write("layernorm", [("x", xs), ("w", w), ("b", b), ("y", y), ("dy", dy)]
      + grads_of(y, dy, [("dx", xs), ("dw", w), ("db", b)]))

# embedding with scale and padding_idx = 1 (nn.Embedding: no gradient into the pad row)
V, D, pad = 11, 8, 1
table = leaf(V, D)
ids = torch.tensor([[1, 1, 5, 7, 2], [4, 5, 5, 9, 2]], dtype=torch.int64)
y = F.embedding(ids, table, padding_idx=pad) * math.sqrt(D)
dy = torch.randn_like(y)
write("embedding", [("table", table), ("ids", ids), ("y", y), ("dy", dy)]
      + grads_of(y, dy, [("dtable", table)]))


# fairseq sinusoidal positions: make_positions + SinusoidalPositionalEmbedding.get_embedding
def fairseq_sinusoidal(ids, dim, pad):
    half = dim // 2
    emb = math.log(10000) / (half - 1)
    emb = torch.exp(torch.arange(half, dtype=torch.float) * -emb)
    n = int(ids.size(1)) + pad + 1
    emb = torch.arange(n, dtype=torch.float).unsqueeze(1) * emb.unsqueeze(0)
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=1).view(n, -1)
    if dim % 2 == 1:
        emb = torch.cat([emb, torch.zeros(n, 1)], dim=1)
    emb[pad, :] = 0
    mask = ids.ne(pad).int()
    positions = (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + pad
    return emb.index_select(0, positions.view(-1)).view(ids.size(0), ids.size(1), -1)


ids = torch.tensor([[1, 1, 1, 8, 9, 2], [4, 5, 6, 7, 8, 2], [1, 3, 3, 3, 3, 2]], dtype=torch.int64)
write("positions", [("ids", ids), ("y", fairseq_sinusoidal(ids, 16, 1))])
write("positions_odd", [("ids", ids), ("y", fairseq_sinusoidal(ids, 7, 1))])
ids_long = torch.randint(4, 50, (1, 200))
ids_long[0, :37] = 1
write("positions_long", [("ids", ids_long), ("y", fairseq_sinusoidal(ids_long, 128, 1))])
ids_wide = torch.randint(4, 50, (1, 40))
write("positions_512", [("ids", ids_wide), ("y", fairseq_sinusoidal(ids_wide, 512, 1))])

# mask_rows: zero the rows of pad tokens
x = leaf(2, 4, 6)
ids = torch.tensor([[1, 1, 5, 2], [4, 5, 6, 2]], dtype=torch.int64)
y = x * ids.ne(1).unsqueeze(-1).float()
dy = torch.randn_like(y)
write("mask_rows", [("x", x), ("ids", ids), ("y", y), ("dy", dy)] + grads_of(y, dy, [("dx", x)]))


# attention: fairseq MultiheadAttention's core on projected q, k, v
def attention(q, k, v, heads, scale, key_pad=None, causal=False, pk=None, pv=None):
    B, Tq, D = q.shape
    dh = D // heads
    if pk is not None:
        k = torch.cat([pk.unsqueeze(0).expand(B, -1, -1), k], dim=1)
        v = torch.cat([pv.unsqueeze(0).expand(B, -1, -1), v], dim=1)
    P = 0 if pk is None else pk.shape[0]
    S = k.shape[1]
    qh = (q * scale).view(B, Tq, heads, dh).transpose(1, 2)
    kh = k.view(B, S, heads, dh).transpose(1, 2)
    vh = v.view(B, S, heads, dh).transpose(1, 2)
    scores = torch.matmul(qh, kh.transpose(2, 3))  # B,H,Tq,S
    mask = torch.zeros(B, Tq, S, dtype=torch.bool)
    if key_pad is not None:
        mask[:, :, P:] |= key_pad.bool().unsqueeze(1)
    if causal:
        Tk = S - P
        off = Tk - Tq
        i = torch.arange(Tq).unsqueeze(1)
        j = torch.arange(Tk).unsqueeze(0)
        mask[:, :, P:] |= (j > i + off).unsqueeze(0)
    scores = scores.masked_fill(mask.unsqueeze(1), float("-inf"))
    p = torch.softmax(scores.float(), dim=-1)
    return torch.matmul(p, vh).transpose(1, 2).reshape(B, Tq, D)


def attn_case(name, B, Tq, Tk, D, H, key_pad=None, causal=False, P=0):
    q, k, v = leaf(B, Tq, D), leaf(B, Tk, D), leaf(B, Tk, D)
    pk = leaf(P, D) if P else None
    pv = leaf(P, D) if P else None
    y = attention(q, k, v, H, (D // H) ** -0.5, key_pad, causal, pk, pv)
    dy = torch.randn_like(y)
    ins = [("q", q), ("k", k), ("v", v)] + ([("pk", pk), ("pv", pv)] if P else [])
    tens = ins + ([("key_pad", key_pad)] if key_pad is not None else []) + [("y", y), ("dy", dy)]
    write(name, tens + grads_of(y, dy, [("d" + n, t) for n, t in ins]))


kp = torch.tensor([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.int64)  # left-padded source
attn_case("attention_pad", 2, 5, 5, 16, 4, key_pad=kp)
attn_case("attention_causal", 2, 5, 5, 16, 4, causal=True)
attn_case("attention_cross", 2, 3, 5, 16, 2, key_pad=kp)
attn_case("attention_prefix", 2, 5, 5, 16, 4, key_pad=kp, causal=True, P=3)


# fused log-softmax + label-smoothed NLL, fairseq's label_smoothed_nll_loss (reduce=True)
def label_smoothed_nll(logits, target, eps, ignore):
    lprobs = F.log_softmax(logits, dim=-1)
    target = target.unsqueeze(-1)
    nll = -lprobs.gather(dim=-1, index=target)
    smooth = -lprobs.sum(dim=-1, keepdim=True)
    pad = target.eq(ignore)
    nll = nll.masked_fill(pad, 0.0)
    smooth = smooth.masked_fill(pad, 0.0)
    nll, smooth = nll.sum(), smooth.sum()
    eps_i = eps / (lprobs.size(-1) - 1)
    return (1.0 - eps - eps_i) * nll + eps_i * smooth, nll, lprobs


for eps in (0.1, 0.0):
    logits = leaf(2, 4, 13, scale=2.0)
    target = torch.tensor([[5, 2, 1, 1], [0, 12, 7, 2]], dtype=torch.int64)
    loss, nll, lprobs = label_smoothed_nll(logits, target, eps, 1)
    dy = torch.tensor([0.75])
    write("xent_eps%g" % eps, [("logits", logits), ("target", target), ("y", loss.reshape(1)),
                               ("nll", nll.reshape(1)), ("lprobs", lprobs), ("dy", dy)]
          + grads_of(loss, dy[0], [("dlogits", logits)]))
