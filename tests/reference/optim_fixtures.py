#!/usr/bin/python3
"""Reference values for optim/ (Adam variants, clipping, fairseq LR schedules), from PyTorch.

Writes tests/fixtures/optim/<run>.txt: for each run, 10 updates of a small model-like
parameter set trained the way fairseq's trainer does it, recording per update the loss, the
pre-clip gradient norm and the learning rate used, and the final parameters. Also
schedules.txt: fairseq's step_update(n) for several schedule configs and n = 0..SCHED_N-1.

The model (all float32; tests/optim/test_optim.c computes the same by hand):
    E [V=7, D=5] (used twice: embedding lookup and output projection), W1 [H=6, D], b1 [H],
    W2 [D, H], g [D];   for the tokens ids of one micro-batch:
    x = E[ids];  h = tanh(x W1^T + b1);  y = (h W2^T) * g;  logits = y E^T
    loss = sum_t 0.5 * ||logits_t - tgt_t||^2   (+ 0.5 * LAMBDA * ||W1 - C||^2 in micro-batch 0)
One update: zero grads; backward over UPDATE_FREQ micro-batches (gradients accumulate);
grads *= 1/ntokens (fairseq's multiply_grads(1/sample_size)); clip_grad_norm_(CLIP);
optimizer step with lr = schedule(number of updates completed so far), as fairseq's trainer
sets it. fairseq's own Adam (--optimizer adam) is written below from its published update
rule (fairseq/optim/adam.py): decoupled decay, eps added to sqrt(v) before bias correction.

Run: /usr/bin/python3 tests/reference/optim_fixtures.py  (deterministic; seed fixed)
Format: as tests/reference/op_fixtures.py (<name> f32 <ndim> <dims>, then the values).
"""
import math
import os

import torch

torch.manual_seed(20240611)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "optim")
os.makedirs(OUT, exist_ok=True)

V, D, H = 7, 5, 6
IDS = [[1, 4, 1], [6, 3]]  # two micro-batches (update_freq 2); token 1 twice
NTOK = sum(len(b) for b in IDS)
LAMBDA = 0.1
CLIP = 1.0
STEPS = 10
BETAS, EPS = (0.9, 0.98), 1e-6
SCHED_N = 40

INIT = {
    "E": torch.randn(V, D) * 0.5,
    "W1": torch.randn(H, D) * 0.5,
    "b1": torch.randn(H) * 0.5,
    "W2": torch.randn(D, H) * 0.4,
    "g": 1.0 + torch.randn(D) * 0.3,
}
NAMES = list(INIT)
TGT = [torch.randn(len(b), V) * 0.3 for b in IDS]
CENTER = torch.randn(H, D) * 0.3


def write(name, tensors):
    path = os.path.join(OUT, name + ".txt")
    with open(path, "w") as f:
        for key, t in tensors:
            t = torch.as_tensor(t).detach().to(torch.float32)
            shape = list(t.shape) if t.dim() else [1]
            f.write("%s f32 %d %s\n" % (key, len(shape), " ".join(map(str, shape))))
            f.write(" ".join("%.9g" % v for v in t.reshape(-1).tolist()) + "\n")
    print("wrote", path)


def micro_loss(P, b):
    ids = torch.tensor(IDS[b])
    x = P["E"][ids]
    h = torch.tanh(x @ P["W1"].t() + P["b1"])
    y = (h @ P["W2"].t()) * P["g"]
    logits = y @ P["E"].t()
    loss = 0.5 * ((logits - TGT[b]) ** 2).sum()
    if b == 0:
        loss = loss + 0.5 * LAMBDA * ((P["W1"] - CENTER) ** 2).sum()
    return loss


# fairseq's schedules: step_update(num_updates), in Python floats.
def lr_fixed(c, n):
    w = c["warmup"]
    if w > 0 and n < w:
        return (n + 1) / float(w) * c["lr"]
    return c["lr"]


def lr_inverse_sqrt(c, n):
    lr, w = c["lr"], c["warmup"]
    init = c.get("init", -1)
    if init < 0:
        init = 0 if w > 0 else lr
    step = (lr - init) / w
    decay = lr * w ** 0.5
    if n < w:
        return init + n * step
    return decay * n ** -0.5


def lr_poly(c, n):
    lr, w, total = c["lr"], c["warmup"], c["total"]
    end, power = c.get("end", 0.0), c.get("power", 1.0)
    if w > 0 and n <= w:
        return n / float(w) * lr
    if n >= total:
        return end
    pct = 1 - (n - w) / (total - w)
    return (lr - end) * pct ** power + end


SCHEDULES = {
    "fixed": (lr_fixed, {"lr": 0.05, "warmup": 3}),
    "fixed_nowarm": (lr_fixed, {"lr": 0.05, "warmup": 0}),
    "inverse_sqrt": (lr_inverse_sqrt, {"lr": 0.05, "warmup": 4}),
    "inverse_sqrt_init": (lr_inverse_sqrt, {"lr": 5e-4, "warmup": 7, "init": 1e-7}),
    "polynomial": (lr_poly, {"lr": 0.05, "warmup": 3, "total": 8, "end": 1e-3}),
    "polynomial_pow2": (lr_poly, {"lr": 0.05, "warmup": 3, "total": 8, "end": 1e-3, "power": 2.0}),
    "polynomial_nowarm": (lr_poly, {"lr": 3e-4, "warmup": 0, "total": 25, "power": 1.5}),
}


class FairseqAdam(torch.optim.Optimizer):
    """fairseq/optim/adam.py's update rule (non-amsgrad), written here from its definition."""

    def __init__(self, params, lr, betas, eps, weight_decay):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["m"] = torch.zeros_like(p)
                    st["v"] = torch.zeros_like(p)
                st["step"] += 1
                st["m"].mul_(b1).add_(p.grad, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                denom = st["v"].sqrt().add_(group["eps"])
                bc1 = 1 - b1 ** st["step"]
                bc2 = 1 - b2 ** st["step"]
                step_size = group["lr"] * math.sqrt(bc2) / bc1
                if group["weight_decay"] != 0:
                    p.add_(p, alpha=-group["weight_decay"] * group["lr"])
                p.addcdiv_(st["m"], denom, value=-step_size)


RUNS = {
    # name: (optimizer class, weight decay, schedule)
    "adam_poly": ("adam", 0.0, "polynomial"),
    "adam_l2_poly2": ("adam", 0.05, "polynomial_pow2"),
    "adamw_poly": ("adamw", 0.05, "polynomial"),
    "adamw_invsqrt": ("adamw", 0.01, "inverse_sqrt"),
    "fairseq_invsqrt": ("fairseq", 0.01, "inverse_sqrt"),
    "fairseq_fixed": ("fairseq", 0.0, "fixed"),
}
KINDS = {"adam": 0, "adamw": 1, "fairseq": 2}
SCHED_KINDS = {lr_fixed: 0, lr_inverse_sqrt: 1, lr_poly: 2}


def sched_tensor(fn, c):
    # kind, lr, warmup, warmup_init_lr, end, power, total (what the C test configures)
    return torch.tensor([SCHED_KINDS[fn], c["lr"], c["warmup"], c.get("init", -1),
                         c.get("end", 0.0), c.get("power", 1.0), c.get("total", 0)],
                        dtype=torch.float64)


def run(name, kind, wd, sched):
    P = {k: v.clone().requires_grad_(True) for k, v in INIT.items()}
    params = [P[k] for k in NAMES]
    if kind == "adam":
        opt = torch.optim.Adam(params, lr=0.0, betas=BETAS, eps=EPS, weight_decay=wd)
    elif kind == "adamw":
        opt = torch.optim.AdamW(params, lr=0.0, betas=BETAS, eps=EPS, weight_decay=wd)
    else:
        opt = FairseqAdam(params, lr=0.0, betas=BETAS, eps=EPS, weight_decay=wd)
    fn, cfg = SCHEDULES[sched]
    losses, norms, lrs = [], [], []
    for update in range(STEPS):
        opt.zero_grad(set_to_none=False)
        total = 0.0
        for b in range(len(IDS)):
            loss = micro_loss(P, b)
            loss.backward()
            total += loss.item()
        for p in params:
            p.grad.mul_(1.0 / NTOK)
        norm = torch.nn.utils.clip_grad_norm_(params, CLIP)
        lr = fn(cfg, update)
        for grp in opt.param_groups:
            grp["lr"] = lr
        opt.step()
        losses.append(total)
        norms.append(norm.item())
        lrs.append(lr)
    meta = torch.tensor([KINDS[kind], wd, BETAS[0], BETAS[1], EPS, CLIP, NTOK],
                        dtype=torch.float64)
    write(name, [("meta", meta), ("sched", sched_tensor(fn, cfg)), ("loss", torch.tensor(losses)),
                 ("grad_norm", torch.tensor(norms)), ("lr", torch.tensor(lrs))]
          + [("final." + k, P[k]) for k in NAMES])


write("model", [("init." + k, INIT[k]) for k in NAMES]
      + [("ids%d" % b, torch.tensor(IDS[b], dtype=torch.float32)) for b in range(len(IDS))]
      + [("tgt%d" % b, TGT[b]) for b in range(len(IDS))]
      + [("center", CENTER), ("lambda", torch.tensor([LAMBDA]))])
for name, (kind, wd, sched) in RUNS.items():
    run(name, kind, wd, sched)
sched_rows = []
for sname, (fn, cfg) in SCHEDULES.items():
    sched_rows.append(("cfg." + sname, sched_tensor(fn, cfg)))
    sched_rows.append(("lr." + sname,
                       torch.tensor([fn(cfg, n) for n in range(SCHED_N)], dtype=torch.float64)))
write("schedules", sched_rows)

# The update kernels alone: one 1000-element parameter (not a multiple of the SIMD width, so
# vector tails are exercised), 6 steps of given gradients and learning rates, no model, no
# clipping. The C test expects the same float32 bits, or a difference of a few ulps where
# its compiler and torch's vectorised kernels round differently.
KERNEL_N, KERNEL_STEPS = 1000, 6
for kind, wd in (("adam", 0.0), ("adam", 0.1), ("adamw", 0.1), ("fairseq", 0.0), ("fairseq", 0.1)):
    init = torch.randn(KERNEL_N)
    grads = [torch.randn(KERNEL_N) * (10.0 ** (k % 3 - 2)) for k in range(KERNEL_STEPS)]
    grads[0][:50] = 0.0  # elements with no gradient yet
    lrs = [1e-3 * (k + 1) for k in range(KERNEL_STEPS)]
    p = init.clone().requires_grad_(True)
    if kind == "adam":
        opt = torch.optim.Adam([p], lr=0.0, betas=BETAS, eps=EPS, weight_decay=wd)
    elif kind == "adamw":
        opt = torch.optim.AdamW([p], lr=0.0, betas=BETAS, eps=EPS, weight_decay=wd)
    else:
        opt = FairseqAdam([p], lr=0.0, betas=BETAS, eps=EPS, weight_decay=wd)
    for k in range(KERNEL_STEPS):
        p.grad = grads[k].clone()
        opt.param_groups[0]["lr"] = lrs[k]
        opt.step()
    meta = torch.tensor([KINDS[kind], wd, BETAS[0], BETAS[1], EPS], dtype=torch.float64)
    write("kernel_%s_wd%g" % (kind, wd),
          [("meta", meta), ("init", init), ("lr", torch.tensor(lrs, dtype=torch.float64))]
          + [("grad%d" % k, grads[k]) for k in range(KERNEL_STEPS)] + [("final", p)])
