"""Shared text helpers for the dataset builders: one normaliser, one writer of aligned splits.

Every builder passes each side of each pair through `clean_line` and writes with `write_splits`,
so all datasets share the same guarantees: UTF-8 (NFC), one segment per line, no tabs, no empty
lines, single ASCII spaces. Never use anything random here that is not seeded by the caller.
"""
import os
import unicodedata

# Characters that carry no text but would survive a whitespace split (zero-width marks, BOM).
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)

SPLITS = ("train", "valid", "test")


def clean_line(text):
    """NFC-normalise, drop invisible characters and control characters, collapse all Unicode
    whitespace (tabs, newlines, NBSP, ...) to single spaces and strip the ends."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())


def write_splits(out_dir, pairs_by_split):
    """Write train/valid/test .src/.tgt files. pairs_by_split: {split: [(src, tgt), ...]}.
    Pairs whose sides are empty after cleaning are dropped (and counted). Returns
    {split: number of pairs written}."""
    counts = {}
    for split in SPLITS:
        n = 0
        with open(os.path.join(out_dir, split + ".src"), "w", encoding="utf-8", newline="\n") as fs, \
                open(os.path.join(out_dir, split + ".tgt"), "w", encoding="utf-8", newline="\n") as ft:
            for src, tgt in pairs_by_split.get(split, ()):
                src, tgt = clean_line(src), clean_line(tgt)
                if not src or not tgt:
                    continue
                fs.write(src + "\n")
                ft.write(tgt + "\n")
                n += 1
        counts[split] = n
    return counts


def write_stats(out_dir, task, counts, notes):
    """stats.txt: machine-readable counts (`split pairs`), then free-form notes as comments.
    Deterministic: no timestamps, so it is identical on every rebuild."""
    with open(os.path.join(out_dir, "stats.txt"), "w", encoding="utf-8") as f:
        f.write("# task %s: pairs per split\n" % task)
        for split in SPLITS:
            f.write("%s %d\n" % (split, counts.get(split, 0)))
        f.write("total %d\n" % sum(counts.values()))
        for line in notes:
            f.write("# %s\n" % line)
