#!/usr/bin/python3
"""tests/reference/make_dict_fixtures.py: expected fairseq dictionaries for tests/data.

Builds dictionaries from tests/fixtures/data/dictcorpus.{src,tgt} with fairseq's OWN
Dictionary code (imported from a fairseq checkout given on the command line; nothing of fairseq
is copied into this repository) and writes the results as fixtures:

  dictcorpus.dict.<case>.txt   fairseq-preprocess's dict.txt for each case below
  dictcorpus.enc.<side>.txt    per line: "<ids...>\t<replaced>" from encode_line against the
                               default dictionary of that side (add_if_not_exist=False)

Usage: /usr/bin/python3 tests/reference/make_dict_fixtures.py --fairseq PATH_TO_FAIRSEQ_CHECKOUT
(PATH contains fairseq/data/dictionary.py). Needs torch (Debian's python3-torch).
It must never write anywhere but tests/fixtures/data/.
"""
import argparse
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures", "data")

# name -> (files, threshold, nwords, padding_factor); mirrors fairseq_cli/preprocess.py
CASES = {
    "src": (["src"], 0, -1, 8),
    "tgt": (["tgt"], 0, -1, 8),
    "src_threshold3": (["src"], 3, -1, 8),
    "src_nwords12": (["src"], 0, 12, 8),
    "src_nopad": (["src"], 0, -1, 1),
    "joined": (["src", "tgt"], 0, -1, 8),
    "joined_threshold2_nwords20": (["src", "tgt"], 2, 20, 8),
}


def import_fairseq_dictionary(root):
    """Import fairseq/data/dictionary.py without importing the whole fairseq package (which
    needs hydra, omegaconf...): copy the few real modules it uses into a temporary package and
    stub the rest (PathManager, utils.item, data_utils.post_process)."""
    tmp = tempfile.mkdtemp(prefix="fsdict")
    pkg = os.path.join(tmp, "fairseq")
    os.makedirs(os.path.join(pkg, "data"))
    for rel in ["data/dictionary.py", "file_chunker_utils.py", "tokenizer.py"]:
        shutil.copy(os.path.join(root, "fairseq", rel), os.path.join(pkg, rel))
    stubs = {
        "__init__.py": "",
        "data/__init__.py": "",
        "utils.py": "def item(x):\n    return x.item() if hasattr(x, 'item') else x\n",
        "data/data_utils.py": "def post_process(s, sym):\n    return s\n",
        "file_io.py": "import os\nclass PathManager:\n"
        "    get_local_path = staticmethod(lambda p: p)\n"
        "    open = staticmethod(open)\n"
        "    mkdirs = staticmethod(lambda p: os.makedirs(p, exist_ok=True) if p else None)\n",
    }
    for rel, text in stubs.items():
        with open(os.path.join(pkg, rel), "w") as f:
            f.write(text)
    sys.path.insert(0, tmp)
    from fairseq.data.dictionary import Dictionary  # noqa: E402
    from fairseq.tokenizer import tokenize_line  # noqa: E402

    return Dictionary, tokenize_line, tmp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fairseq", required=True, help="fairseq checkout (holds fairseq/data)")
    args = ap.parse_args()
    Dictionary, tokenize_line, tmp = import_fairseq_dictionary(args.fairseq)
    try:
        for name, (sides, threshold, nwords, pad) in CASES.items():
            d = Dictionary()
            for side in sides:
                path = os.path.join(FIX, "dictcorpus." + side)
                Dictionary.add_file_to_dictionary(path, d, tokenize_line, 1)
            d.finalize(threshold=threshold, nwords=nwords, padding_factor=pad)
            d.save(os.path.join(FIX, "dictcorpus.dict.%s.txt" % name))
        for side in ["src", "tgt"]:
            d = Dictionary.load(os.path.join(FIX, "dictcorpus.dict.%s.txt" % side))
            out = []
            with open(os.path.join(FIX, "dictcorpus." + side), encoding="utf-8") as f:
                for line in f:
                    rep = [0]

                    def consumer(word, idx):
                        if idx == d.unk_index and word != d.unk_word:
                            rep[0] += 1

                    ids = d.encode_line(line, add_if_not_exist=False, consumer=consumer)
                    out.append(" ".join(str(int(i)) for i in ids) + "\t%d" % rep[0])
            with open(os.path.join(FIX, "dictcorpus.enc.%s.txt" % side), "w") as f:
                f.write("\n".join(out) + "\n")
        # unknown-heavy encoding: target lines through the source dictionary
        d = Dictionary.load(os.path.join(FIX, "dictcorpus.dict.src_threshold3.txt"))
        out = []
        with open(os.path.join(FIX, "dictcorpus.tgt"), encoding="utf-8") as f:
            for line in f:
                rep = [0]

                def consumer(word, idx):
                    if idx == d.unk_index and word != d.unk_word:
                        rep[0] += 1

                ids = d.encode_line(line, add_if_not_exist=False, consumer=consumer)
                out.append(" ".join(str(int(i)) for i in ids) + "\t%d" % rep[0])
        with open(os.path.join(FIX, "dictcorpus.enc.tgt_by_src_threshold3.txt"), "w") as f:
            f.write("\n".join(out) + "\n")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
