#!/usr/bin/python3
"""The experiment suite (docs/experiments.md): trains and evaluates the rows of a table,
writes one JSON file per run, renders docs/experiments.md and the SVG plots from those files,
and re-checks a recorded run bit for bit.

  experiments/run.py run TABLE.ini [--bin DIR] [--threads 2] [--rows A,B] [--tasks T]
                                   [--seeds 1,2] [--dry-run]
  experiments/run.py report [--results DIR] [--out docs/experiments.md]
  experiments/run.py check RESULT.json [--bin DIR] [--work DIR]

Debian's Python with the standard library only; paths are relative to the repository root.
"""
import argparse
import configparser
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "experiments", "results")
WORK = os.path.join(ROOT, "work", "experiments")
SCHEMA = 1
BUILD_COMMIT = ""
SPM_VOCAB = 2000  # SentencePiece vocabulary of every task, as scripts/main.sh


def die(msg):
    print("error: " + msg, file=sys.stderr)
    sys.exit(1)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_json(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


# ---- tables ---------------------------------------------------------------------------

def split_words(s):
    return [w for w in re.split(r"[\s,]+", s.strip()) if w]


def parse_set(s):
    """'key=value key2=value2' -> ordered list of [key, value]."""
    out = []
    for w in split_words(s):
        if "=" not in w:
            raise ValueError("expected key=value, got '%s'" % w)
        k, v = w.split("=", 1)
        out.append([k.strip(), v.strip()])
    return out


def load_table(path):
    cp = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",))
    cp.optionxform = str
    if not cp.read(path):
        die("%s: cannot read" % path)
    try:
        t = cp["table"]
        table = {
            "id": t["id"],
            "title": t["title"],
            "scale": t.get("scale", "mini"),
            "about": " ".join(t.get("about", "").split()),
            "tasks": split_words(t["tasks"]),
            "seeds": [int(s) for s in split_words(t["seeds"])],
            "recipe": [[k, v] for k, v in cp["recipe"].items()],
            "decode": {k: v for k, v in cp["decode"].items()},
            "decode_task": {},
            "recipe_task": {},
            "rows": [],
            "claims": [],
        }
        for sec in cp.sections():
            if sec.startswith("row "):
                r = cp[sec]
                table["rows"].append({
                    "id": sec[4:].strip(),
                    "label": r["label"],
                    "config": r["config"],
                    "set": parse_set(r.get("set", "")),
                    "group": r.get("group", ""),
                })
            elif sec.startswith("recipe "):  # per-task changes to [recipe]
                table["recipe_task"][sec[7:].strip()] = [[k, v] for k, v in cp[sec].items()]
            elif sec.startswith("decode "):  # per-task changes to [decode]
                table["decode_task"][sec[7:].strip()] = {k: v for k, v in cp[sec].items()}
            elif sec.startswith("claim "):
                c = cp[sec]
                table["claims"].append({
                    "id": sec[6:].strip(),
                    "text": " ".join(c["text"].split()),
                    "better": c["better"].strip(),
                    "worse": split_words(c["worse"]),
                    "task": c.get("task", "").strip(),
                })
    except (KeyError, ValueError) as e:
        die("%s: %s" % (path, e))
    if not table["rows"]:
        die("%s: no [row NAME] sections" % path)
    return table


# ---- data -----------------------------------------------------------------------------

def prepare_task(task, edgeformer, work_dir):
    """Builds work/data/TASK (data/scripts/build.sh) and work/bin/TASK (edgeformer prepare with
    a SentencePiece vocabulary), returns (bin dir, text dir, text checksum). A task
    fixture-NAME is made from tests/fixtures/data/NAME.{src,tgt} under work_dir instead."""
    text = os.path.join(ROOT, "work", "data", task)
    binary = os.path.join(ROOT, "work", "bin", task)
    fixture_spm = os.path.join(ROOT, "tests", "fixtures", "spm", "uni2k_nfkc.model")
    if task.startswith("fixture-"):  # tests: a tiny task from tests/fixtures/data
        name = task[len("fixture-"):]
        text = os.path.join(work_dir, "data", task)
        binary = os.path.join(work_dir, "bin", task)
        fx = os.path.join(ROOT, "tests", "fixtures", "data", name)
        os.makedirs(text, exist_ok=True)
        for side in ("src", "tgt"):
            with open(fx + "." + side, encoding="utf-8") as f:
                lines = f.read().splitlines()
            for split, part in (("train", lines[:200]), ("valid", lines[200:225]),
                                ("test", lines[225:250])):
                with open(os.path.join(text, split + "." + side), "w", encoding="utf-8") as f:
                    f.write("\n".join(part) + "\n")
    else:
        subprocess.run(["bash", os.path.join(ROOT, "data/scripts/build.sh"), task], check=True,
                       cwd=ROOT)
    if not os.path.exists(os.path.join(binary, "test.h5")):
        cmd = [edgeformer, "prepare", "--trainpref", text + "/train", "--validpref",
               text + "/valid", "--testpref", text + "/test", "--joined-dictionary",
               "--destdir", binary]
        if task.startswith("fixture-"):
            cmd[2:2] = ["--spm", fixture_spm]
        else:
            cmd[2:2] = ["--spm-train", str(SPM_VOCAB)]
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        if task.startswith("fixture-"):
            shutil.copyfile(fixture_spm, os.path.join(binary, "spm.model"))
    sums = {}
    for split in ("train", "valid", "test"):
        for side in ("src", "tgt"):
            sums[split + "." + side] = sha256_file(os.path.join(text, split + "." + side))
    return binary, text, sha256_json(sums)


# ---- one run ----------------------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit():
    r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "unknown"


def args_of(pairs):
    out = []
    for k, v in pairs:
        out += ["--" + k, v]
    return out


def run_key(table, row, task, seed, data_sha):
    """Everything that determines a run's numbers (besides the build and thread count)."""
    with open(os.path.join(ROOT, row["config"]), "rb") as f:
        config_text = f.read().decode()
    return {
        "config": row["config"],
        "config_sha256": hashlib.sha256(config_text.encode()).hexdigest(),
        "set": row["set"],
        "recipe": recipe_of(table, task),
        "decode": decode_of(table, task),
        "task": task,
        "seed": seed,
        "data_sha256": data_sha,
    }


def read_metrics(path):
    out = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    out.append(json.loads(line))
    return out


def exact_valid_loss(ckpt):
    """best_metric of a checkpoint (float64) as repr() digits, read with h5dump."""
    r = subprocess.run(["h5dump", "-m", "%.17g", "-a", "/state/best_metric", ckpt],
                       capture_output=True, text=True, check=True)
    m = re.search(r"\(0\): (\S+)", r.stdout)
    if not m:
        die("%s: no /state/best_metric" % ckpt)
    return repr(float(m.group(1)))


def count_model(edgeformer, row, vocab):
    r = subprocess.run([edgeformer, "info", "--config", os.path.join(ROOT, row["config"])] +
                       args_of(row["set"]) + ["--vocab_size", str(vocab)],
                       capture_output=True, text=True, check=True, cwd=ROOT)
    num = lambda pat: int(re.search(pat, r.stdout).group(1))
    return {
        "params": num(r"unique parameters with embeddings: *(\d+)"),
        "params_without_embeddings": num(r"unique parameters without embeddings: *(\d+)"),
        "macs_30_30": num(r"multiply-adds, 30-token source \+ 30-token target: *(\d+)"),
    }


def train_cmd(edgeformer, table, row, task_bin, seed, threads, save_dir, max_update=None,
              task=None):
    cmd = [edgeformer, "train", os.path.join(ROOT, row["config"]), "--data", task_bin,
           "--save-dir", save_dir, "--seed", str(seed), "--threads", str(threads),
           "--no-progress-bar", "true"]
    cmd += args_of(recipe_of(table, task)) + args_of(row["set"])
    if max_update is not None:
        cmd += ["--max-update", str(max_update)]
    return cmd


def recipe_get(table, key, default=None, task=None):
    for k, v in recipe_of(table, task):
        if k.replace("-", "_") == key:
            return v
    return default


def recipe_of(table, task):
    """[recipe] with the table's [recipe TASK] keys replaced or appended, in order."""
    out = [list(kv) for kv in table["recipe"]]
    for k, v in table.get("recipe_task", {}).get(task, []):
        for kv in out:
            if kv[0] == k:
                kv[1] = v
                break
        else:
            out.append([k, v])
    return out


def decode_of(table, task):
    d = dict(table["decode"])
    d.update(table.get("decode_task", {}).get(task, {}))
    return d


def evaluate(edgeformer, table, task, task_bin, text, save_dir, threads):
    d = decode_of(table, task)
    out = os.path.join(save_dir, "generate-test.txt")
    cmd = [edgeformer, "generate", os.path.join(save_dir, "checkpoint_best.h5"), "--data",
           task_bin, "--gen-subset", "test", "--batch-size", "64", "--threads", str(threads),
           "--results-path", out] + args_of([(k.replace("_", "-"), v) for k, v in sorted(d.items())])
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        die("generate failed: %s" % r.stderr.strip())
    seconds = time.time() - t0
    res = {"generate_seconds": round(seconds, 1)}
    m = re.search(r"BLEU = ([0-9.]+)", r.stdout)
    res["bleu"] = float(m.group(1))
    res["chrf2"] = float(re.search(r"chrF2 = ([0-9.]+)", r.stdout).group(1))
    m = re.search(r"copy-source baseline on test: BLEU = ([0-9.]+).*chrF2 = ([0-9.]+)", r.stdout)
    if m:
        res["copy_bleu"], res["copy_chrf2"] = float(m.group(1)), float(m.group(2))
    if task == "gec" or task.startswith("fixture-"):
        hyps = {}
        with open(out, encoding="utf-8") as f:
            for line in f:
                if line.startswith("D-"):
                    i, _, h = line.rstrip("\n").split("\t", 2)
                    hyps[int(i[2:])] = h
        n = len(hyps)
        hyp_path = os.path.join(save_dir, "test.hyp")
        with open(hyp_path, "w", encoding="utf-8") as f:
            f.write("".join(hyps[i] + "\n" for i in range(n)))
        r = subprocess.run([edgeformer, "score", "--metric", "gec", "--json", "--src",
                            text + "/test.src", "--hyp", hyp_path, "--ref", text + "/test.tgt"],
                           capture_output=True, text=True, check=True, cwd=ROOT)
        g = json.loads(r.stdout)
        res.update({"gec_p": g["precision"], "gec_r": g["recall"], "gec_f05": g["f0.5"],
                    "gec_tp": g["tp"], "gec_fp": g["fp"], "gec_fn": g["fn"]})
    return res


def result_path(table, row, task, seed, results_dir):
    return os.path.join(results_dir, table["id"], "%s-%s-s%d.json" % (row["id"], task, seed))


def find_same_run(key_sha, results_dir):
    for p in sorted(glob.glob(os.path.join(results_dir, "*", "*.json"))):
        try:
            with open(p) as f:
                j = json.load(f)
        except (OSError, ValueError):
            continue
        if j.get("run_sha256") == key_sha and "reused_from" not in j:
            return p, j
    return None, None


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def run_one(edgeformer, table, row, task, seed, threads, results_dir, work_dir, task_data):
    task_bin, text, data_sha = task_data
    key = run_key(table, row, task, seed, data_sha)
    key_sha = sha256_json(key)
    path = result_path(table, row, task, seed, results_dir)
    if os.path.exists(path):
        with open(path) as f:
            if json.load(f).get("run_sha256") == key_sha:
                print("skip %s (done)" % os.path.relpath(path, ROOT), flush=True)
                return path
    src, same = find_same_run(key_sha, results_dir)
    if same:  # the same run in another table: share it
        same = dict(same)
        same["reused_from"] = os.path.relpath(src, ROOT)
        same["table"] = table_meta(table)
        same["row"] = row
        write_json(path, same)
        print("reuse %s -> %s" % (os.path.relpath(src, ROOT), os.path.relpath(path, ROOT)))
        return path
    save_dir = os.path.join(work_dir, key_sha[:16])
    os.makedirs(save_dir, exist_ok=True)
    state_path = os.path.join(save_dir, "runner-state.json")
    state = {"wall_seconds": 0.0}
    if os.path.exists(state_path):
        with open(state_path) as f:
            state = json.load(f)
    log = open(os.path.join(save_dir, "train.log"), "a")

    def train(max_update=None):
        t0 = time.time()
        cmd = train_cmd(edgeformer, table, row, task_bin, seed, threads, save_dir, max_update,
                        task)
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        r = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        state["wall_seconds"] += time.time() - t0
        write_json(state_path, state)
        if r.returncode:
            die("training failed (%d): see %s/train.log" % (r.returncode, save_dir))

    print("run %s: %s on %s, seed %d -> %s" % (table["id"], row["id"], task, seed, save_dir),
          flush=True)
    # Part 1: up to the first validation, whose exact loss the check mode reproduces.
    first = int(recipe_get(table, "validate_interval_updates", "0", task))
    if first <= 0:
        die("%s: the recipe needs validate_interval_updates > 0" % table["id"])
    if "check_loss" not in state:
        train(first)
        state["check_loss"] = exact_valid_loss(os.path.join(save_dir, "checkpoint_last.h5"))
        write_json(state_path, state)
    train()
    metrics = read_metrics(os.path.join(save_dir, "metrics.jsonl"))
    vocab = None
    with open(os.path.join(save_dir, "train.log")) as f:
        for line in f:
            m = re.match(r"model: .* V=(\d+)", line)
            if m:
                vocab = int(m.group(1))
    counts = count_model(edgeformer, row, vocab)
    ev = evaluate(edgeformer, table, task, task_bin, text, save_dir, threads)
    trains = [m for m in metrics if m["type"] == "train"]
    valids = [m for m in metrics if m["type"] == "valid"]
    tokens, prev, train_wall = 0.0, 0, 0.0
    for m in trains:
        tokens += m["wpb"] * (m["num_updates"] - prev)
        prev = m["num_updates"]
    # train_wall restarts when a run resumes: add up the segments
    last = 0.0
    for m in trains:
        if m["train_wall"] < last:
            train_wall += last
        last = m["train_wall"]
    train_wall += last
    result = {
        "schema": SCHEMA,
        "run_sha256": key_sha,
        "run": key,
        "table": table_meta(table),
        "row": row,
        "git_commit": BUILD_COMMIT or git_commit(),
        "cpu": cpu_model(),
        "threads": threads,
        "updates": valids[-1]["num_updates"] if valids else 0,
        "epochs": valids[-1]["epoch"] if valids else 0,
        "wall_seconds": round(state["wall_seconds"], 1),
        "train_wall_seconds": round(train_wall, 1),
        "target_tokens": int(round(tokens)),
        "tokens_per_second": round(tokens / train_wall, 1) if train_wall > 0 else 0,
        "vocab": vocab,
        "counts": counts,
        "check": {"updates": first, "valid_loss": state["check_loss"]},
        "valid_curve": [[m["num_updates"], m["loss"], m["nll_loss"]] for m in valids],
        "final_valid_loss": valids[-1]["loss"] if valids else None,
        "best_valid_loss": min(m["loss"] for m in valids) if valids else None,
        "test": ev,
    }
    write_json(path, result)
    print("wrote %s: %s" % (os.path.relpath(path, ROOT), json.dumps(ev)), flush=True)
    return path


def table_meta(table):
    return {k: table[k] for k in ("id", "title", "scale", "about", "tasks", "seeds", "recipe",
                                  "decode", "decode_task", "recipe_task", "claims")} | {
        "row_order": [r["id"] for r in table["rows"]]}


def cmd_run(a):
    table = load_table(a.table)
    edgeformer = os.path.abspath(os.path.join(a.bin, "edgeformer"))
    if not os.access(edgeformer, os.X_OK):
        die("%s: not an executable (build first, or pass --bin DIR)" % edgeformer)
    rows = [r for r in table["rows"] if not a.rows or r["id"] in a.rows.split(",")]
    tasks = a.tasks.split(",") if a.tasks else table["tasks"]
    seeds = [int(s) for s in a.seeds.split(",")] if a.seeds else table["seeds"]
    for task in tasks:
        if a.dry_run:
            for row in rows:
                for seed in seeds:
                    print(" ".join(train_cmd(edgeformer, table, row, "work/bin/" + task, seed,
                                             a.threads, "SAVE_DIR", task=task)))
            continue
        data = prepare_task(task, edgeformer, a.work)
        for row in rows:
            for seed in seeds:
                run_one(edgeformer, table, row, task, seed, a.threads, a.results, a.work, data)


# ---- check ------------------------------------------------------------------------------

def cmd_check(a):
    with open(a.result) as f:
        res = json.load(f)
    edgeformer = os.path.abspath(os.path.join(a.bin, "edgeformer"))
    key = res["run"]
    row = res["row"]
    table = {"recipe": key["recipe"], "decode": key["decode"], "decode_task": {},
             "recipe_task": {}}
    n = res["check"]["updates"]
    task_bin, _, data_sha = prepare_task(key["task"], edgeformer, a.work)
    if data_sha != key["data_sha256"]:
        die("%s: the data of %s differ from the recorded run" % (a.result, key["task"]))
    with open(os.path.join(ROOT, key["config"]), "rb") as f:
        if hashlib.sha256(f.read()).hexdigest() != key["config_sha256"]:
            die("%s: %s changed since the run" % (a.result, key["config"]))
    save_dir = os.path.join(a.work, "check-" + res["run_sha256"][:16])
    shutil.rmtree(save_dir, ignore_errors=True)
    os.makedirs(save_dir)
    cmd = train_cmd(edgeformer, table, row, task_bin, key["seed"], res["threads"], save_dir, n)
    with open(os.path.join(save_dir, "train.log"), "w") as log:
        r = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    if r.returncode:
        die("training failed: see %s/train.log" % save_dir)
    got = exact_valid_loss(os.path.join(save_dir, "checkpoint_last.h5"))
    want = res["check"]["valid_loss"]
    same_cpu = res["cpu"] == cpu_model()
    print("check %s: %d updates, %d threads: valid loss %s, recorded %s: %s%s" % (
        os.path.relpath(os.path.abspath(a.result), ROOT), n, res["threads"], got, want,
        "identical" if got == want else "DIFFERENT",
        "" if same_cpu else " (recorded on another CPU: %s)" % res["cpu"]))
    shutil.rmtree(save_dir, ignore_errors=True)
    sys.exit(0 if got == want else 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train and evaluate the rows of a table")
    r.add_argument("table")
    r.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--rows", default="")
    r.add_argument("--tasks", default="")
    r.add_argument("--seeds", default="")
    r.add_argument("--results", default=RESULTS)
    r.add_argument("--work", default=WORK)
    r.add_argument("--dry-run", action="store_true")
    r.add_argument("--build-commit", default="",
                   help="the commit the binary was built from (default: HEAD)")
    c = sub.add_parser("check", help="re-train the first validation interval of a recorded run")
    c.add_argument("result")
    c.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    c.add_argument("--work", default=WORK)
    p = sub.add_parser("report", help="render docs/experiments.md and the SVG plots")
    p.add_argument("--results", default=RESULTS)
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "experiments.md"))
    p.add_argument("--plots", default=os.path.join(ROOT, "docs", "experiments"))
    a = ap.parse_args()
    if a.cmd == "run":
        global BUILD_COMMIT
        BUILD_COMMIT = a.build_commit
        cmd_run(a)
    elif a.cmd == "check":
        cmd_check(a)
    else:
        import report
        report.main(a.results, a.out, a.plots)


if __name__ == "__main__":
    main()
