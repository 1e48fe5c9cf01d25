#!/usr/bin/python3
"""Fixtures of `edgeformer import --fairseq` (convert/): torch.save checkpoints laid out exactly
as fairseq saves EdgeLM, the numbers the imported model must reproduce, PyTorch files that
exercise the reader (dtypes, strides, offsets, legacy and deflated layouts) and hostile files.

Re-running rewrites the zip fixtures byte for byte; the legacy-format ones differ in their
storage keys (torch names legacy storages after memory addresses), not in content.

`--full DIR` writes an EdgeLM-size checkpoint (d 512, V 2004, ~100 MB) to DIR instead (not
committed; for timing the import at the real scale).

It must never import fairseq or anything from the C side: the layout below was re-derived from
reading fairseq's checkpoint_utils.save_state / utils.move_to_cpu and EdgeLM's transformer_edge
(unilm/edgelm, late 2021). Deterministic; ~1 min of CPU:  /usr/bin/python3 tests/reference/fairseq_checkpoint.py

Written to tests/fixtures/import/:

  edgelm_tiny.pt        EdgeLM's transformer_edge (model_param_type edgeformer: 12 + 2 layers,
                        4 attention sets, 2 FFN sets, interleaved decoder tied to encoder
                        attention, LoRA) shrunk to d 16, 4 heads, FFN 32 / 8, LoRA r 4, V 142.
                        zip format (torch 1.13, _use_new_zipfile_serialization). The dict is
                        fairseq's: {"cfg": {..., "model": argparse.Namespace(arch=
                        "transformer_edge", ...), "criterion": {...}, ...}, "model":
                        OrderedDict of EVERY state_dict key in fairseq's module order, each a
                        separate float32 copy (fairseq's move_to_cpu converts fp16 training
                        weights to float32 one key at a time), with the buffers
                        encoder.version / decoder.version / *.embed_positions._float_tensor,
                        "optimizer_history": [...], "task_state": {}, "extra_state": {...
                        fairseq.logging.meters objects as placeholders ...},
                        "last_optimizer_state": {...}}.
  edgelm_tiny.ini       the same model as our [model] config (what import must produce).
  dict.src.txt          fairseq dictionary: the pieces of spm.model but <unk> <s> </s> <pad>.
  spm.model             copy of tests/fixtures/spm/char_identity.model (142 pieces).
  edgelm_tiny.efx       (EFX1, tests/reference/efx.py) src_tokens, prev_output_tokens, target
                        (int32 [4,S]/[4,T]) of 4 kjv-web sentences tokenised with spm.model and
                        the dictionary, and lprobs [4,T,V]: edgeformer_ref.forward, teacher
                        forced, dropout 0, float32 (pad positions included).
  edgelm_tiny.search.txt  (when tests/reference/search_ref.py exists) greedy and beam-5
                        outputs of search_ref.generate for the 4 sources. Format, one line
                        per hypothesis, tab-separated:
                          # parameters: lenpen=1.0 max_len_a=0 max_len_b=30 min_len=1 nbest=1
                          # beam <B>: smallest decision gap <g> over <n> decisions
                          <beam>\t<sentence index>\t<score %.9g>\t<token ids, space-separated,
                          ending in 2>\t<positional scores %.9g, space-separated>
                        Sources are the rows of src_tokens in edgelm_tiny.efx without padding.
  micro_*.pt            the same architecture at d 4, 1 head, FFN 6 / 2, LoRA r 1, V 8
                        (micro.dict.txt), in the LEGACY format with fairseq 0.10's top-level
                        `args` Namespace: micro_ok (imports); deflated zips whose shared keys
                        are one tensor (written once): micro_fp16 (every tensor float16),
                        micro_ut (model_param_type ut), micro_dup_mismatch
                        (decoder.layers.0.self_attn.q_proj.weight element 5 differs),
                        micro_missing (no encoder.layers.1.self_attn.k_proj.bias),
                        micro_extra (an encoder.layers.12.fc1.weight), micro_shape
                        (encoder.layers.0.fc1.weight transposed), micro_prenorm
                        (encoder_normalize_before = True), micro_nested (zip, cfg["model"] a
                        dict with nested encoder/decoder dicts as newer fairseq's dataclass
                        config, gelu, dropout 0.2; only the embedding key).
  tensors.pt            reader cases: float32/float16/bfloat16/float64 tensors, a transposed
                        view, a slice with an offset, two views of one storage, a 0-dim and an
                        empty tensor, an int64 tensor, an nn.Parameter, and plain values (a
                        Namespace, an OrderedDict, a set, 2**70, -5, bytes, a float, nesting);
  tensors_legacy.pt     the same saved in the legacy format;
  tensors_deflated.pt   tensors.pt re-zipped with deflate;
  tensors.efx           the expected float32 values of every float tensor of tensors.pt.
  evil_zip.pt           torch.save of a dict whose "model" reduces to os.system("touch
                        <marker>") and "cfg" to builtins.eval: must load as inert objects.
  evil_raw.pkl          the same os.system pickle alone (protocol 2), as a "legacy" file.
"""
import argparse
import collections
import io
import os
import shutil
import sys
import types
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import edgeformer_ref as ref  # noqa: E402
import efx  # noqa: E402
import model_fixtures as mf  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "import")
SPM_SRC = os.path.join(ROOT, "tests", "fixtures", "spm", "char_identity.model")
SEED = 20220207
EVIL_MARKER = "/tmp/edgeformer-evil-pickle-ran"
ROWS = [(0, 20, 11), (3, 15, 16), (7, 9, 13), (12, 5, 7)]  # line, source len, target len
SEARCH = dict(lenpen=1.0, max_len_a=0, max_len_b=30, min_len=1, nbest=1)
TRAIN_STEPS = 300  # Adam steps on other kjv-web pairs before saving (train_briefly)

TINY = dict(d=16, heads=4, ffn=32, dffn=8, lora=4)
MICRO = dict(d=4, heads=1, ffn=6, dffn=2, lora=1)


def our_config(size, vocab, ptype="edgeformer"):
    """Our [model] config of fairseq's transformer_edge / ut with these sizes."""
    c = ref.default_config()
    c.update(embed_dim=size["d"], attention_heads=size["heads"], encoder_ffn_dim=size["ffn"],
             decoder_ffn_dim=size["dffn"], lora_rank=size["lora"], layer_adaptation="adapter",
             dropout=0.0, label_smoothing=0.1, max_source_positions=64, max_target_positions=64,
             vocab_size=vocab, share_layer_norm=False, activation="relu")
    if ptype == "edgeformer":
        c.update(encoder_layers=12, decoder_layers=2, encoder_attn_sets=4, encoder_ffn_sets=2,
                 decoder_layer_sets=2, decoder_layout="interleaved", decoder_attn="encoder")
    else:  # fairseq's "ut": every layer shares the first one's blocks, LayerNorms per layer
        c.update(encoder_layers=6, decoder_layers=2, encoder_attn_sets=1, encoder_ffn_sets=1,
                 decoder_layer_sets=1, decoder_layout="standard", decoder_attn="own")
    return c


def fairseq_args(size, ptype="edgeformer", layers=(12, 2)):
    """The argparse.Namespace fairseq keeps as cfg["model"] (and as `args` in 0.10): the
    fine-tuning command of the EdgeLM README run through transformer_edge's defaults."""
    a = argparse.Namespace()
    v = dict(
        _name="transformer_edge", arch="transformer_edge", task="translation",
        criterion="label_smoothed_cross_entropy", label_smoothing=0.1, optimizer="adam",
        adam_betas="(0.9,0.98)", adam_eps=1e-06, clip_norm=1.0, lr=[0.00015],
        lr_scheduler="polynomial_decay", warmup_updates=8000, total_num_update=100000,
        max_update=100000, max_tokens=20000, update_freq=[1], seed=1, fp16=True,
        data="/path/to/binarized/data", source_lang="src", target_lang="tgt",
        encoder_embed_path=None, encoder_embed_dim=size["d"],
        encoder_ffn_embed_dim=size["ffn"], encoder_layers=layers[0],
        encoder_attention_heads=size["heads"], encoder_normalize_before=False,
        encoder_learned_pos=False, decoder_embed_path=None, decoder_embed_dim=size["d"],
        decoder_ffn_embed_dim=size["dffn"], decoder_layers=layers[1],
        decoder_attention_heads=size["heads"], decoder_normalize_before=False,
        decoder_learned_pos=False, attention_dropout=0.0, activation_dropout=0.0,
        activation_fn="relu", dropout=0.1, adaptive_softmax_cutoff=None,
        adaptive_softmax_dropout=0, share_decoder_input_output_embed=True,
        share_all_embeddings=True, no_token_positional_embeddings=False, adaptive_input=False,
        no_cross_attention=False, cross_self_attention=False, decoder_output_dim=size["d"],
        decoder_input_dim=size["d"], model_param_type=ptype, no_scale_embedding=False,
        layernorm_embedding=False, tie_adaptive_weights=False, checkpoint_activations=False,
        offload_activations=False, encoder_layers_to_keep=None, decoder_layers_to_keep=None,
        encoder_layerdrop=0, decoder_layerdrop=0, quant_noise_pq=0,
        quant_noise_pq_block_size=8, quant_noise_scalar=0, lora_r=size["lora"],
        lora_r_shape=0, max_source_positions=64, max_target_positions=64,
        left_pad_source=True, left_pad_target=False, required_batch_size_multiple=8)
    for k, x in v.items():
        setattr(a, k, x)
    return a


ATTN = ("k_proj", "v_proj", "q_proj", "out_proj")


def fairseq_key_order(cfg):
    """Every state_dict key in fairseq's module registration order (buffers included)."""
    keys = ["encoder.version", "encoder.embed_tokens.weight", "encoder.embed_positions._float_tensor"]
    wb = ("weight", "bias")
    for i in range(cfg["encoder_layers"]):
        p = "encoder.layers.%d." % i
        keys += [p + "self_attn.%s.%s" % (a, w) for a in ATTN for w in wb]
        keys += [p + "self_attn_layer_norm." + w for w in wb]
        keys += [p + "%s.%s" % (fc, w) for fc in ("fc1", "fc2") for w in wb]
        keys += [p + "final_layer_norm." + w for w in wb]
        keys += [p + "%s.%s.%s" % (qv, lin, w) for qv in ("q_lora", "v_lora")
                 for lin in ("linear_u", "linear_v") for w in wb]
    keys += ["decoder.version", "decoder.embed_tokens.weight",
             "decoder.embed_positions._float_tensor"]
    for j in range(cfg["decoder_layers"]):
        p = "decoder.layers.%d." % j
        keys += [p + "self_attn.%s.%s" % (a, w) for a in ATTN for w in wb]
        keys += [p + "self_attn_layer_norm." + w for w in wb]
        keys += [p + "encoder_attn.%s.%s" % (a, w) for a in ATTN for w in wb]
        keys += [p + "encoder_attn_layer_norm." + w for w in wb]
        keys += [p + "%s.%s" % (fc, w) for fc in ("fc1", "fc2") for w in wb]
        keys += [p + "final_layer_norm." + w for w in wb]
    keys += ["decoder.output_projection.weight"]
    amap = ref.alias_map(cfg)
    params = [k for k in keys if k in amap]
    assert sorted(params) == sorted(amap), set(amap) ^ set(params)
    return keys


def state_dict(cfg, params, dtype=torch.float32, share=False):
    """fairseq's model state_dict after utils.move_to_cpu: one separate copy per key (share:
    every key of a shared parameter is the same tensor, so torch.save writes it once; used
    for the small error fixtures)."""
    amap = ref.alias_map(cfg)
    sd = collections.OrderedDict()
    for k in fairseq_key_order(cfg):
        if k.endswith(".version"):
            sd[k] = torch.Tensor([3])
        elif k.endswith("._float_tensor"):
            sd[k] = torch.FloatTensor(1).zero_()
        else:
            sd[k] = params[amap[k]].detach() if share else params[amap[k]].detach().clone().to(dtype)
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("encoder", {"version": 1})])
    return sd


class Meter:
    """Stands for fairseq.logging.meters.AverageMeter in extra_state (pickled by class name)."""

    def __init__(self, val):
        self.val, self.sum, self.count, self.round = val, val, 1, 3


Meter.__module__ = "fairseq.logging.meters"
Meter.__qualname__ = Meter.__name__ = "AverageMeter"
# pickle checks that a class can be found again by name: a stand-in module (never saved)
for _name in ("fairseq", "fairseq.logging", "fairseq.logging.meters"):
    sys.modules.setdefault(_name, types.ModuleType(_name))
sys.modules["fairseq.logging.meters"].AverageMeter = Meter


def fairseq_state(cfg, params, args, style="cfg", dtype=torch.float32, share=False):
    sd = state_dict(cfg, params, dtype, share)
    n = sum(v.numel() for v in params.values())
    last_opt = {"state": {0: {"step": 250000, "exp_avg": torch.zeros(8), "exp_avg_sq": torch.ones(8)}},
                "param_groups": [{"lr": 1.5e-4, "betas": (0.9, 0.98), "eps": 1e-6,
                                  "weight_decay": 0.0, "amsgrad": False, "params": [0]}],
                "loss_scale": 4.0, "n_flat_params": n}
    extra = {"epoch": 3, "val_loss": 3.25, "best": 3.1, "previous_training_time": 1234.5,
             "train_iterator": {"epoch": 3, "iterations_in_epoch": 17, "shuffle": True},
             "metrics": [("train", 0, collections.OrderedDict([("loss", Meter(3.3))]))]}
    hist = [{"criterion_name": "LabelSmoothedCrossEntropyCriterion",
             "optimizer_name": "FP16Optimizer", "lr_scheduler_state": {"best": 3.1},
             "num_updates": 250000}]
    st = {}
    if style == "cfg":
        st["cfg"] = {"_name": None,
                     "common": {"_name": None, "fp16": True, "seed": 1, "log_format": "simple"},
                     "checkpoint": {"_name": None, "save_dir": "checkpoints", "restore_file":
                                    "checkpoint_last.pt", "save_interval_updates": 5000},
                     "model": args,
                     "task": {"_name": "translation", "data": "/path/to/binarized/data",
                              "source_lang": "src", "target_lang": "tgt"},
                     "criterion": {"_name": "label_smoothed_cross_entropy",
                                   "label_smoothing": 0.1, "ignore_prefix_size": 0},
                     "optimizer": {"_name": "adam", "adam_betas": "(0.9,0.98)", "adam_eps": 1e-6,
                                   "lr": [0.00015]},
                     "lr_scheduler": {"_name": "polynomial_decay", "warmup_updates": 8000,
                                      "total_num_update": 100000.0},
                     "bpe": None, "tokenizer": None}
        st["args"] = None
    else:  # fairseq 0.10
        st["args"] = args
    st.update({"model": sd, "optimizer_history": hist, "extra_state": extra,
               "last_optimizer_state": last_opt})
    if style == "cfg":
        st["task_state"] = {}
    return st


def write_dict(path, pieces):
    with open(path, "w", encoding="utf-8") as f:
        for i, p in enumerate(pieces):
            f.write("%s %d\n" % (p, 1000 - i))


def tokenise(sp, sym2id, text, n):
    ids = [sym2id.get(p, 3) for p in sp.encode(text, out_type=str)][:n - 1]
    return ids + [ref.EOS]


def make_batch(sp, sym2id):
    with open(mf.DATA + ".src", encoding="utf-8") as f:
        src_lines = f.read().split("\n")
    with open(mf.DATA + ".tgt", encoding="utf-8") as f:
        tgt_lines = f.read().split("\n")
    srcs = [tokenise(sp, sym2id, src_lines[i], s) for i, s, _ in ROWS]
    tgts = [tokenise(sp, sym2id, tgt_lines[i], t) for i, _, t in ROWS]
    S, T = max(map(len, srcs)), max(map(len, tgts))
    src = torch.full((len(ROWS), S), ref.PAD, dtype=torch.long)
    prev = torch.full((len(ROWS), T), ref.PAD, dtype=torch.long)
    tgt = torch.full((len(ROWS), T), ref.PAD, dtype=torch.long)
    for r, (s, t) in enumerate(zip(srcs, tgts)):
        src[r, S - len(s):] = torch.tensor(s)
        tgt[r, :len(t)] = torch.tensor(t)
        prev[r, :len(t)] = torch.tensor([ref.EOS] + t[:-1])
    return srcs, src, prev, tgt


def train_briefly(cfg, params, sp, sym2id, steps=TRAIN_STEPS):
    """A few hundred Adam steps of the reference model on kjv-web pairs (lines 40-103, not the
    fixture batch), so that greedy and beam search make real decisions instead of repeating
    one token. Deterministic (fixed order, no dropout)."""
    with open(mf.DATA + ".src", encoding="utf-8") as f:
        src_lines = f.read().split("\n")
    with open(mf.DATA + ".tgt", encoding="utf-8") as f:
        tgt_lines = f.read().split("\n")
    rows = [(i, 24, 24) for i in range(40, 104)]
    srcs = [tokenise(sp, sym2id, src_lines[i], n) for i, n, _ in rows]
    tgts = [tokenise(sp, sym2id, tgt_lines[i], n) for i, _, n in rows]
    S, T = max(map(len, srcs)), max(map(len, tgts))
    src = torch.full((len(rows), S), ref.PAD, dtype=torch.long)
    prev = torch.full((len(rows), T), ref.PAD, dtype=torch.long)
    tgt = torch.full((len(rows), T), ref.PAD, dtype=torch.long)
    for r, (a, b) in enumerate(zip(srcs, tgts)):
        src[r, S - len(a):] = torch.tensor(a)
        tgt[r, :len(b)] = torch.tensor(b)
        prev[r, :len(b)] = torch.tensor([ref.EOS] + b[:-1])
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    opt = torch.optim.Adam(leaves.values(), lr=3e-3, betas=(0.9, 0.98), eps=1e-6)
    for step in range(steps):
        opt.zero_grad()
        _, lprobs = ref.forward(leaves, cfg, src, prev)
        loss, nll = ref.loss(lprobs, tgt, 0.1)
        (loss / tgt.ne(ref.PAD).sum()).backward()
        opt.step()
    print("train_briefly: %d steps, nll per token %.3f" % (steps, nll.item() / tgt.ne(ref.PAD).sum().item()))
    return {k: v.detach() for k, v in leaves.items()}


def write_ini(path, cfg, comment):
    with open(path, "w") as f:
        f.write("; %s\n; Written by tests/reference/fairseq_checkpoint.py.\n[model]\n" % comment)
        for k in ref.KEYS:
            v = cfg[k]
            f.write("%s = %s\n" % (k, ("true" if v else "false") if isinstance(v, bool) else v))


def save_legacy(obj, path):
    torch.save(obj, path, _use_new_zipfile_serialization=False)


def save_deflated(obj, path):
    """torch.save's zip, re-zipped with deflate (small fixtures; the reader inflates)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        for info in zin.infolist():  # fixed timestamps: the same bytes on every run
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(zi, zin.read(info.filename))


def tiny(sp_pieces):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(OUT, "spm.model"))
    pieces = [p for p in sp_pieces if p not in ("<unk>", "<s>", "</s>", "<pad>")]
    write_dict(os.path.join(OUT, "dict.src.txt"), pieces)
    V = 4 + len(pieces)
    sym2id = {p: 4 + i for i, p in enumerate(pieces)}
    cfg = our_config(TINY, V)
    write_ini(os.path.join(OUT, "edgelm_tiny.ini"), cfg,
              "fairseq transformer_edge at d 16 (edgelm_tiny.pt): what import must produce")
    params = train_briefly(cfg, mf.fixture_params(cfg, SEED), sp, sym2id)
    torch.save(fairseq_state(cfg, params, fairseq_args(TINY)), os.path.join(OUT, "edgelm_tiny.pt"))
    srcs, src, prev, tgt = make_batch(sp, sym2id)
    with torch.no_grad():
        _, lprobs = ref.forward(params, cfg, src, prev)
        _, lp64 = ref.forward({k: v.double() for k, v in params.items()}, cfg, src, prev)
    err = (lprobs.double() - lp64).abs().max().item()
    efx.write(os.path.join(OUT, "edgelm_tiny.efx"),
              [("src_tokens", src), ("prev_output_tokens", prev), ("target", tgt),
               ("lprobs", lprobs.float())])
    print("edgelm_tiny: V %d, %d unique parameters, lprobs float32 vs float64 %.2e"
          % (V, sum(v.numel() for v in params.values()), err))
    try:
        import search_ref
    except ImportError:
        print("search_ref.py not found: no search fixture")
        return
    model = search_ref.RefModel(params, cfg)
    path = os.path.join(OUT, "edgelm_tiny.search.txt")
    with open(path, "w") as f:
        f.write("# parameters: " + " ".join("%s=%s" % kv for kv in SEARCH.items()) + "\n")
        for beam in (1, 5):
            trace = []
            outs = search_ref.generate(model, [list(s) for s in srcs], beam=beam, trace=trace,
                                       **SEARCH)
            gap, n = search_ref.decision_gaps(trace, beam)
            print("search beam %d: smallest decision gap %.3g over %d decisions" % (beam, gap, n))
            f.write("# beam %d: smallest decision gap %.3g over %d decisions\n" % (beam, gap, n))
            for i, hyps in enumerate(outs):
                for h in hyps:
                    f.write("%d\t%d\t%.9g\t%s\t%s\n" % (
                        beam, i, float(h["score"]), " ".join(str(int(t)) for t in h["tokens"]),
                        " ".join("%.9g" % float(x) for x in h["positional_scores"])))
    print("search: %s" % path)


def micro():
    pieces = ["a", "b", "c", "d"]
    write_dict(os.path.join(OUT, "micro.dict.txt"), pieces)
    V = 8
    cfg = our_config(MICRO, V)
    write_ini(os.path.join(OUT, "micro.ini"), cfg, "fairseq transformer_edge at d 4 (micro_*.pt)")
    params = mf.fixture_params(cfg, SEED + 7)
    args = fairseq_args(MICRO)
    st = fairseq_state(cfg, params, args, style="args")
    save_legacy(st, os.path.join(OUT, "micro_ok.pt"))
    save_deflated(fairseq_state(cfg, params, args, dtype=torch.float16),
                  os.path.join(OUT, "micro_fp16.pt"))

    def variant(name, edit):
        s = fairseq_state(cfg, params, fairseq_args(MICRO), style="args", share=True)
        edit(s)
        save_deflated(s, os.path.join(OUT, "micro_%s.pt" % name))

    def dup(s):
        w = s["model"]["decoder.layers.0.self_attn.q_proj.weight"].clone()
        w.view(-1)[5] += 1e-3
        s["model"]["decoder.layers.0.self_attn.q_proj.weight"] = w
    variant("dup_mismatch", dup)
    variant("missing", lambda s: s["model"].pop("encoder.layers.1.self_attn.k_proj.bias"))
    variant("extra", lambda s: s["model"].__setitem__("encoder.layers.12.fc1.weight",
                                                       torch.zeros(6, 4)))
    variant("shape", lambda s: s["model"].__setitem__(
        "encoder.layers.0.fc1.weight", s["model"]["encoder.layers.0.fc1.weight"].t().contiguous()))
    variant("prenorm", lambda s: setattr(s["args"], "encoder_normalize_before", True))
    # newer fairseq's dataclass config: cfg["model"] a dict with nested encoder / decoder
    # dicts; only the embedding (import reads the config, then stops at the first missing key)
    nested = {"_name": "transformer_edge", "model_param_type": "edgeformer", "lora_r": 1,
              "share_all_embeddings": True, "dropout": 0.2, "activation_fn": "gelu",
              "max_source_positions": 64, "max_target_positions": 64,
              "encoder": {"embed_dim": 4, "ffn_embed_dim": 6, "layers": 12, "attention_heads": 1,
                          "normalize_before": False, "learned_pos": False},
              "decoder": {"embed_dim": 4, "ffn_embed_dim": 2, "layers": 2, "attention_heads": 1,
                          "normalize_before": False, "input_dim": 4, "output_dim": 4}}
    torch.save({"cfg": {"model": nested, "criterion": {"label_smoothing": 0.2}},
                "model": collections.OrderedDict(
                    [("encoder.embed_tokens.weight", params["encoder.embed_tokens.weight"])])},
               os.path.join(OUT, "micro_nested.pt"))
    # universal transformer: 6 + 2 layers, all sharing the first one's blocks
    ucfg = our_config(MICRO, V, "ut")
    write_ini(os.path.join(OUT, "micro_ut.ini"), ucfg, "fairseq ut at d 4 (micro_ut.pt)")
    uparams = mf.fixture_params(ucfg, SEED + 8)
    uargs = fairseq_args(MICRO, "ut", (6, 2))
    amap = ref.alias_map(ucfg)
    sd = collections.OrderedDict()
    for k in ["encoder.version", "decoder.version"] + sorted(amap):
        sd[k] = torch.Tensor([3]) if k.endswith("version") else uparams[amap[k]].clone()
    save_legacy({"args": uargs, "model": sd, "optimizer_history": [], "extra_state": {}},
                os.path.join(OUT, "micro_ut.pt"))


def tensors():
    g = torch.Generator().manual_seed(SEED)
    base = torch.randn(6, 5, generator=g)
    shared = torch.randn(10, generator=g)
    t = collections.OrderedDict()
    t["f32"] = torch.randn(3, 4, generator=g)
    t["f16"] = torch.randn(2, 3, generator=g).half()
    t["bf16"] = torch.randn(2, 3, generator=g).bfloat16()
    t["f64"] = torch.randn(4, generator=g).double()
    t["transposed"] = torch.randn(3, 5, generator=g).t()
    t["slice"] = base[2:5, 1:4]
    t["shared_a"] = shared[:4]
    t["shared_b"] = shared[3:].view(7, 1)
    t["scalar"] = torch.tensor(3.5)
    t["empty"] = torch.zeros(0, 3)
    t["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    t["f16_special"] = torch.tensor([0.0, -0.0, 1e-7, 65504.0, float("inf"), -float("inf"),
                                     6.1e-5, 5.96e-8]).half()
    obj = {"tensors": t, "i64": torch.arange(5),
           "ns": argparse.Namespace(a=1, b="x", c=1.5, d=None, e=True, f=[1, 2], g=(3, 4)),
           "od": collections.OrderedDict([("k1", 1), ("k2", "v")]), "set": {1, 2},
           "big": 2 ** 70, "neg": -5, "bytes": b"abc", "float": 0.25, "nested": [[[1]]],
           "unicode": "Stra\u00dfe \u2581"}
    torch.save(obj, os.path.join(OUT, "tensors.pt"))
    save_legacy(obj, os.path.join(OUT, "tensors_legacy.pt"))
    save_deflated(obj, os.path.join(OUT, "tensors_deflated.pt"))
    efx.write(os.path.join(OUT, "tensors.efx"),
              [(k, v.detach().float()) for k, v in t.items()])


class Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def evil():
    import pickle
    touch = Evil(os.system, "touch " + EVIL_MARKER)
    torch.save({"model": touch, "cfg": Evil(eval, "__import__('os').system('touch %s')"
                                            % EVIL_MARKER)}, os.path.join(OUT, "evil_zip.pt"))
    with open(os.path.join(OUT, "evil_raw.pkl"), "wb") as f:
        pickle.dump(touch, f, protocol=2)


def full(out_dir):
    """EdgeLM at full size (d 512, V 2004, random fairseq initialisation, not committed): the
    import's time and memory at the real scale. Writes OUT_DIR/edgelm_full.pt, dict.src.txt."""
    os.makedirs(out_dir, exist_ok=True)
    write_dict(os.path.join(out_dir, "dict.src.txt"), ["tok%04d" % i for i in range(2000)])
    size = dict(d=512, heads=8, ffn=2048, dffn=128, lora=32)
    cfg = our_config(size, 2004)
    params = ref.init_params(cfg, SEED, torch.float32)
    st = fairseq_state(cfg, params, fairseq_args(size))
    torch.save(st, os.path.join(out_dir, "edgelm_full.pt"))
    print("%s: %d bytes" % (os.path.join(out_dir, "edgelm_full.pt"),
                            os.path.getsize(os.path.join(out_dir, "edgelm_full.pt"))))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--full":
        full(sys.argv[2])
        return 0
    os.makedirs(OUT, exist_ok=True)
    shutil.copyfile(SPM_SRC, os.path.join(OUT, "spm.model"))
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(OUT, "spm.model"))
    tiny([sp.id_to_piece(i) for i in range(sp.get_piece_size())])
    micro()
    tensors()
    evil()
    for name in sorted(os.listdir(OUT)):
        print("%8d  %s" % (os.path.getsize(os.path.join(OUT, name)), name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
