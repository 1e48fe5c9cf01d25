#!/usr/bin/python3
"""Independent PyTorch reference of sequence generation: fairseq's SequenceGenerator with
BeamSearch, re-implemented on top of edgeformer_ref.py's model with an incremental decoder.

What it is for: the numbers runtime/decode.c (the C decoder) is checked against, through the
fixtures of generate_fixtures.py, and the PyTorch peer of the decoding benchmark. It must never
import fairseq or anything from the C side; the semantics below were re-derived from reading
fairseq's sequence_generator.py / search.py / ngram_repeat_block.py (the version of EdgeLM's
fork, late 2021), not copied.

Surface (keep stable: tests/reference/fairseq_checkpoint.py imports it):
  RefModel(params, cfg)        params: {canonical key: tensor} (dtype taken from the embedding),
                               cfg: edgeformer_ref.load_config(...)
  generate(model, sources, beam=5, lenpen=1.0, max_len_a=0, max_len_b=200, min_len=1, nbest=1,
           no_repeat_ngram_size=0, unkpen=0.0, temperature=1.0, trace=None)
      sources: list of id lists, each ending in </s> (2), no padding, no <s>.
      -> per sentence a list of nbest dicts {"tokens": [ids ending in 2], "score": float,
         "positional_scores": [floats]}, best first.
      trace: optional list; every search step appends the sorted candidate scores (see
      decision_gaps) so callers can measure how close the decisions were.
  incremental_lprobs(model, sources, prevs) / check_incremental(...): the incremental decoder
      against edgeformer_ref.forward (teacher-forced), max |diff| over real positions.

Semantics (fairseq, exactly; N = sentences still running, B = beam):
  - Sources are left-padded to the batch's width S; max_len = min(int(a·S + b),
    max_target_positions - 1) (S is the padded width, fairseq's src_tokens.size(1)).
  - tokens[:, 0] = </s>; decoding step t (t = 0..max_len) feeds tokens[:, t] at position t + 2
    and gets log_softmax(logits / temperature).
  - lprobs edits, in fairseq's order: t < min_len: </s> = -inf; NaN -> -inf; pad = -inf;
    unk -= unkpen; t >= max_len: everything but </s> = -inf; then no-repeat-ngram blocking:
    n-grams of the whole tokens buffer row (the leading </s>, the tokens so far and the pad
    filler up to max_len + 2) map their first n-1 ids to their last id; when t + 2 - n >= 0 the
    ids following the last n-1 tokens (tokens[t+2-n .. t]) are banned (-inf).
  - Step 0 uses beam 0 only; later steps add each beam's cumulative score. The 2B best of B·V
    (torch.topk, k = min(2B, B·V - 1)) are candidates; </s> candidates with a finite score
    among the first B are finalised (per sentence at most B in all, first come first kept):
    tokens = the hypothesis + </s>, positional_scores = differences of the cumulative scores,
    score = cumulative / (t + 1)^lenpen. A sentence is done when it has B finalised hypotheses
    or t == max_len; done sentences leave the batch. The B best non-</s> candidates continue
    (ranked by candidate order); the decoder cache is reordered with index_select.
  - Finalised hypotheses are sorted by score (descending); the first nbest are returned.
"""
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import edgeformer_ref as ref  # noqa: E402

PAD, EOS, UNK = ref.PAD, ref.EOS, 3
NEG_INF = float("-inf")


class RefModel:
    """The reference model with an incremental decoder. State between steps lives in a
    DecoderState (self-attention K/V per decoder layer, cross-attention K/V per decoder layer,
    the source pad mask), whose rows are reordered with index_select."""

    def __init__(self, params, cfg):
        self.params, self.cfg = params, cfg
        self.amap = ref.alias_map(cfg)
        self.E = params["encoder.embed_tokens.weight"]
        self.dtype = self.E.dtype
        self.d, self.H = cfg["embed_dim"], cfg["attention_heads"]
        self.dh = self.d // self.H
        self.V = cfg["vocab_size"]
        self.max_target_positions = cfg["max_target_positions"]
        self.pos_table = ref.sinusoidal_table(self.max_target_positions + 2, self.d, self.dtype)

    def P(self, key):
        return self.params[self.amap[key]]

    def encode(self, src):
        """src [N,S] left-padded -> encoder_out [N,S,d] (ref.forward's encoder; the one-token
        decoder pass it also runs is discarded)."""
        prev = torch.full((src.shape[0], 1), EOS, dtype=torch.long)
        enc, _ = ref.forward(self.params, self.cfg, src, prev)
        return enc

    def _heads(self, x):  # [N,T,d] -> [N,H,T,dh]
        N, T, _ = x.shape
        return x.view(N, T, self.H, self.dh).transpose(1, 2)

    def start(self, enc, src_pad):
        """Decoder state for encoder_out [N,S,d]: cross-attention keys/values projected once."""
        st = {"pad": src_pad, "self_k": [], "self_v": [], "cross_k": [], "cross_v": []}
        for j in range(self.cfg["decoder_layers"]):
            att = "decoder.layers.%d.encoder_attn" % j
            st["cross_k"].append(self._heads(ref._linear(self.P, att + ".k_proj", enc)))
            st["cross_v"].append(self._heads(ref._linear(self.P, att + ".v_proj", enc)))
            st["self_k"].append(None)
            st["self_v"].append(None)
        return st

    @staticmethod
    def reorder(st, order):
        for name in ("self_k", "self_v", "cross_k", "cross_v"):
            st[name] = [None if t is None else t.index_select(0, order) for t in st[name]]
        st["pad"] = st["pad"].index_select(0, order)

    def _attend(self, q, k, v, key_pad):
        """q [N,H,1,dh] (scaled), k/v [N,H,T,dh], key_pad [N,T] or None -> [N,1,d]."""
        s = q @ k.transpose(-1, -2)
        if key_pad is not None:
            s = s.masked_fill(key_pad[:, None, None, :], NEG_INF)
        p = torch.softmax(s, dim=-1)
        o = p @ v
        return o.transpose(1, 2).reshape(q.shape[0], 1, self.d)

    def step(self, tok, t, st, temperature=1.0):
        """tok [N] (the token at position t of every row) -> lprobs [N,V]; appends to the
        self-attention cache."""
        P, cfg = self.P, self.cfg
        y = math.sqrt(self.d) * self.E[tok].unsqueeze(1) + self.pos_table[t + 2]
        scale = self.dh ** -0.5
        for j in range(cfg["decoder_layers"]):
            pre = "decoder.layers.%d." % j
            sa = pre + "self_attn"
            q = self._heads(ref._linear(P, sa + ".q_proj", y)) * scale
            k = self._heads(ref._linear(P, sa + ".k_proj", y))
            v = self._heads(ref._linear(P, sa + ".v_proj", y))
            if st["self_k"][j] is not None:
                k = torch.cat([st["self_k"][j], k], dim=2)
                v = torch.cat([st["self_v"][j], v], dim=2)
            st["self_k"][j], st["self_v"][j] = k, v
            a = ref._linear(P, sa + ".out_proj", self._attend(q, k, v, None))
            y = ref._ln(P, pre + "self_attn_layer_norm", y + a)
            if cfg["decoder_layout"] == "interleaved":
                y = ref._ln(P, pre + "final_layer_norm", y + ref._ffn(P, pre, y, cfg["activation"]))
            ca = pre + "encoder_attn"
            q = self._heads(ref._linear(P, ca + ".q_proj", y)) * scale
            a = self._attend(q, st["cross_k"][j], st["cross_v"][j], st["pad"])
            y = ref._ln(P, pre + "encoder_attn_layer_norm", y + ref._linear(P, ca + ".out_proj", a))
            y = ref._ln(P, pre + "final_layer_norm", y + ref._ffn(P, pre, y, cfg["activation"]))
        logits = torch.nn.functional.linear(y[:, 0], P("decoder.output_projection.weight"))
        if temperature != 1.0:
            logits = logits / temperature
        return torch.log_softmax(logits, dim=-1)


def left_pad(sources):
    for s in sources:
        if not s or s[-1] != EOS:
            raise ValueError("every source must end with </s> (2)")
    S = max(len(s) for s in sources)
    src = torch.full((len(sources), S), PAD, dtype=torch.long)
    for i, s in enumerate(sources):
        src[i, S - len(s):] = torch.tensor(s, dtype=torch.long)
    return src


def max_len_of(model, S, max_len_a, max_len_b):
    return min(int(max_len_a * S + max_len_b), model.max_target_positions - 1)


def _block_ngrams(tokens, lprobs, step, n):
    """fairseq's no_repeat_ngram over the whole tokens buffer of each row."""
    if step + 2 - n < 0:
        return
    rows = tokens.tolist()
    for r, row in enumerate(rows):
        seen = {}
        for i in range(len(row) - n + 1):
            seen.setdefault(tuple(row[i:i + n - 1]), []).append(row[i + n - 1])
        banned = seen.get(tuple(row[step + 2 - n:step + 1]))
        if banned:
            lprobs[r, banned] = NEG_INF


def generate(model, sources, beam=5, lenpen=1.0, max_len_a=0, max_len_b=200, min_len=1,
             nbest=1, no_repeat_ngram_size=0, unkpen=0.0, temperature=1.0, trace=None):
    if isinstance(model, tuple):
        model = RefModel(*model)
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    V = model.V
    beam = min(beam, V - 1)
    if not 1 <= nbest <= beam:
        raise ValueError("nbest must be in 1..beam")
    with torch.inference_mode():
        src = left_pad(sources)
        bsz, S = src.shape
        max_len = max_len_of(model, S, max_len_a, max_len_b)
        if min_len > max_len:
            raise ValueError("min_len %d > max_len %d" % (min_len, max_len))
        enc = model.encode(src)
        expand = torch.arange(bsz).repeat_interleave(beam)
        st = model.start(enc.index_select(0, expand), src.eq(PAD).index_select(0, expand))

        dt = model.dtype
        scores = torch.zeros(bsz * beam, max_len + 1, dtype=dt)
        tokens = torch.full((bsz * beam, max_len + 2), PAD, dtype=torch.long)
        tokens[:, 0] = EOS
        finalized = [[] for _ in range(bsz)]
        finished = [False] * bsz
        remaining = bsz
        cand_size = 2 * beam
        offsets = (torch.arange(bsz) * beam).unsqueeze(1)
        cand_offsets = torch.arange(cand_size)
        ignore = torch.zeros(bsz, beam, dtype=torch.bool)
        reorder, batch_idxs = None, None

        for step in range(max_len + 1):
            if reorder is not None:
                if batch_idxs is not None:
                    shift = batch_idxs - torch.arange(batch_idxs.numel())
                    reorder = (reorder.view(-1, beam) + shift.unsqueeze(-1) * beam).view(-1)
                model.reorder(st, reorder)
            lprobs = model.step(tokens[:, step], step, st, temperature)
            if step < min_len:
                lprobs[:, EOS] = NEG_INF
            lprobs[lprobs != lprobs] = NEG_INF
            lprobs[:, PAD] = NEG_INF
            lprobs[:, UNK] -= unkpen
            if step >= max_len:
                lprobs[:, :EOS] = NEG_INF
                lprobs[:, EOS + 1:] = NEG_INF
            if no_repeat_ngram_size > 0:
                _block_ngrams(tokens, lprobs, step, no_repeat_ngram_size)

            # BeamSearch.step
            lp = lprobs.view(bsz, beam, V)
            if step == 0:
                lp = lp[:, :1, :]
            else:
                lp = lp + scores.view(bsz, beam, -1)[:, :, step - 1].unsqueeze(-1)
            flat = lp.reshape(bsz, -1)
            k = min(cand_size, flat.shape[1] - 1)
            if trace is not None:
                ts, ti = torch.topk(flat, min(k + 1, flat.shape[1]))
                running = [i for i, f in enumerate(finished) if not f]
                trace.append((ts.double().clone(), ti.fmod(V), running))
            cand_scores, cand_idx = torch.topk(flat, k)
            cand_beams = torch.div(cand_idx, V, rounding_mode="trunc")
            cand_tok = cand_idx.fmod(V)
            cand_bbsz = cand_beams + offsets

            eos_mask = cand_tok.eq(EOS) & cand_scores.ne(NEG_INF)
            eos_mask[:, :beam][ignore] = False
            eos_bbsz = torch.masked_select(cand_bbsz[:, :beam], eos_mask[:, :beam])
            done_now = []
            if eos_bbsz.numel() > 0:
                eos_scores = torch.masked_select(cand_scores[:, :beam], eos_mask[:, :beam])
                done_now = _finalize(step, eos_bbsz, eos_scores, tokens, scores, finalized,
                                     finished, beam, lenpen, max_len)
                remaining -= len(done_now)
            if remaining == 0:
                break
            assert step < max_len

            if done_now:
                new_bsz = bsz - len(done_now)
                keep = torch.ones(bsz, dtype=torch.bool)
                keep[done_now] = False
                batch_idxs = torch.arange(bsz).masked_select(keep)
                eos_mask = eos_mask[batch_idxs]
                cand_beams = cand_beams[batch_idxs]
                offsets = offsets[:new_bsz]
                cand_bbsz = cand_beams + offsets
                cand_scores = cand_scores[batch_idxs]
                cand_tok = cand_tok[batch_idxs]
                ignore = ignore[batch_idxs]
                scores = scores.view(bsz, -1)[batch_idxs].view(new_bsz * beam, -1)
                tokens = tokens.view(bsz, -1)[batch_idxs].view(new_bsz * beam, -1)
                bsz = new_bsz
            else:
                batch_idxs = None

            # the B first candidates that are neither </s> nor ignored continue
            eos_mask[:, :beam] = ignore | eos_mask[:, :beam]
            rank = eos_mask.long() * cand_size + cand_offsets[:eos_mask.shape[1]]
            new_ignore, active = torch.topk(rank, k=beam, dim=1, largest=False)
            ignore = new_ignore.ge(cand_size)[:, :beam]
            assert (~ignore).any(dim=1).all()
            active_bbsz = torch.gather(cand_bbsz, 1, active).view(-1)

            tokens[:, :step + 1] = tokens[:, :step + 1].index_select(0, active_bbsz)
            tokens.view(bsz, beam, -1)[:, :, step + 1] = torch.gather(cand_tok, 1, active)
            if step > 0:
                scores[:, :step] = scores[:, :step].index_select(0, active_bbsz)
            scores.view(bsz, beam, -1)[:, :, step] = torch.gather(cand_scores, 1, active)
            reorder = active_bbsz

    out = []
    for hyps in finalized:
        hyps = sorted(hyps, key=lambda h: -h["score"])  # stable; fixtures have no ties
        out.append(hyps[:nbest])
    return out


def _finalize(step, bbsz, eos_scores, tokens, scores, finalized, finished, beam, lenpen,
              max_len):
    """Store the hypotheses ending in </s> at this step; return the (current-batch) indices
    of the sentences that are now done."""
    toks = tokens.index_select(0, bbsz)[:, 1:step + 2].clone()
    toks[:, step] = EOS
    pos = scores.index_select(0, bbsz)[:, :step + 1].clone()
    pos[:, step] = eos_scores
    pos[:, 1:] = pos[:, 1:] - pos[:, :-1]
    eos_scores = eos_scores / (step + 1) ** lenpen
    # current-batch index -> original sentence index
    orig = [i for i, f in enumerate(finished) if not f]
    unfin = (bbsz // beam).tolist()
    seen = set()
    for i, u in enumerate(unfin):
        sent = orig[u]
        seen.add((sent, u))
        if len(finalized[sent]) < beam:
            finalized[sent].append({"tokens": toks[i].tolist(), "score": float(eos_scores[i]),
                                    "positional_scores": pos[i].tolist()})
    done = []
    for sent, u in sorted(seen):
        if not finished[sent] and (len(finalized[sent]) == beam or step == max_len):
            finished[sent] = True
            done.append(u)
    return done


def decision_gaps(trace, beam, per_sentence=None):
    """From generate(..., trace=t): the smallest gap between candidate scores at the search's
    decision points, per sentence and step: the cut between rank beam-1 and rank beam of all
    candidates (which </s> candidates are finalised; for beam 1 the top-2 gap) and the cut
    between the beam-th and the next candidate that is not </s> (which hypotheses continue).
    Gaps involving -inf are not counted. Returns (smallest gap, number of gaps looked at);
    per_sentence (a dict), if given, gets the smallest gap of every sentence (batch index)."""
    best, n = math.inf, 0
    for scores, toks, running in trace:
        for row, tok, sent in zip(scores.tolist(), toks.tolist(), running):
            cuts = []
            if len(row) > beam:
                cuts.append((row[beam - 1], row[beam]))
            cont = [x for x, t in zip(row, tok) if t != EOS]
            if len(cont) > beam:
                cuts.append((cont[beam - 1], cont[beam]))
            for a, b in cuts:
                if a != NEG_INF and b != NEG_INF:
                    best = min(best, a - b)
                    n += 1
                    if per_sentence is not None:
                        per_sentence[sent] = min(per_sentence.get(sent, math.inf), a - b)
    return best, n


def trace_error(t32, t64):
    """Largest |float32 - float64| candidate score over two traces of the same search."""
    worst = 0.0
    for (a, _, _), (b, _, _) in zip(t32, t64):
        fin = torch.isfinite(b)
        if fin.any():
            worst = max(worst, (a[fin] - b[fin]).abs().max().item())
    return worst


def incremental_lprobs(model, sources, prevs):
    """lprobs [N, T, V] of the incremental decoder fed prevs (lists starting with </s>, right-
    padded with pad where shorter), for comparison with the teacher-forced graph."""
    with torch.inference_mode():
        src = left_pad(sources)
        T = max(len(p) for p in prevs)
        prev = torch.full((len(prevs), T), PAD, dtype=torch.long)
        for i, p in enumerate(prevs):
            prev[i, :len(p)] = torch.tensor(p, dtype=torch.long)
        st = model.start(model.encode(src), src.eq(PAD))
        out = [model.step(prev[:, t], t, st) for t in range(T)]
        return torch.stack(out, dim=1), src, prev


def check_incremental(model, sources, prevs):
    """Incremental decoder vs the teacher-forced graph (edgeformer_ref.forward) over the real
    (non-pad) decoder positions and every vocabulary entry: (max |diff|, max |diff| /
    max(1, |log-prob|)). The second is the float32 criterion: log-probs of unlikely tokens are
    large negative numbers whose rounding error grows with them."""
    inc, src, prev = incremental_lprobs(model, sources, prevs)
    with torch.inference_mode():
        _, full = ref.forward(model.params, model.cfg, src, prev)
    real = prev.ne(PAD)
    d, f = (inc - full)[real].abs(), full[real].abs()
    return d.max().item(), (d / f.clamp_min(1.0)).max().item()
