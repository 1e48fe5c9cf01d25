"""gec: grammatical error correction on real English sentences with synthetic, seeded errors.

Clean sentences (the targets) come from three Debian sources:
- the World English Bible (sword-text-web): verses split into sentences; split by chapter with
  the same rule as kjv-web (task_bible.split_of), so held-out chapters agree across tasks;
- Jane Austen's six novels (r-cran-janeaustenr, read with rdata.py): paragraphs split into
  sentences; chapters numbered in order over all novels, chapter n -> valid if n % 30 == 10,
  test if n % 30 == 20;
- Debian long package descriptions (apt's Translation-en): sentences, split by source package
  (task_desc_sum.split_of), at most DESC_CAP of them, chosen by sha256 rank (seeded).
Sentences have MIN_WORDS..MAX_WORDS words, start with a capital letter, end in . ! ? (optionally
followed by a closing quote), and each distinct sentence appears once (first source wins).
Sources = gec_noise.Noiser(seed=SEED).corrupt(target); see gec_noise.py for the error rules.
"""
import collections
import hashlib
import os
import re

import gec_noise
import osis
import rdata
import task_bible
import task_desc_sum
from textnorm import clean_line, write_splits, write_stats

SEED = 20261124
MIN_WORDS, MAX_WORDS = 5, 40
DESC_CAP = 40000
CODESPELL_DICT = "/usr/lib/python3/dist-packages/codespell_lib/data/dictionary.txt"
AUSTEN_DATA = "usr/lib/R/site-library/janeaustenr/data/Rdata"  # inside the unpacked .deb
AUSTEN_NOVELS = ("sensesensibility", "prideprejudice", "mansfieldpark", "emma",
                 "northangerabbey", "persuasion")  # publication order
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "e.g", "i.e", "etc", "vs", "cf", "no", "vol"}
_BOUNDARY = re.compile(r"(?<=[.!?])([\"'”’)]*)\s+(?=[\"'“‘(]*[A-Z])")
_GOOD = re.compile(r"^[\"'“‘(]*[A-Z].*[.!?][\"'”’)]*$")


def sentences(text):
    """Split running text into sentences at . ! ? followed by a capitalised word, except after
    a known abbreviation (Mr. Knightley) or a single capital (J. Smith)."""
    out, start = [], 0
    for m in _BOUNDARY.finditer(text):
        head = text[start:m.start()]
        last = head.split(" ")[-1].rstrip(".").lower()
        if last in ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
            continue
        out.append(text[start:m.end(1)])
        start = m.end()
    out.append(text[start:])
    return [s.strip() for s in out if s.strip()]


def usable(sentence):
    n = len(sentence.split())
    return MIN_WORDS <= n <= MAX_WORDS and _GOOD.match(sentence) and "http" not in sentence \
        and "_" not in sentence and "[" not in sentence


def bible_sentences():
    verses = osis.read_module(task_bible.WEB)
    kjv = osis.read_module(task_bible.KJV)
    index = task_bible.chapter_indices(kjv)
    for (book, chap, _), text in verses:
        if (book, chap) in index:
            split = task_bible.split_of(index[(book, chap)])
            for s in sentences(clean_line(text)):
                yield split, s


def austen_sentences():
    base = os.environ.get("EF_JANEAUSTEN_DIR")
    if not base:
        raise RuntimeError("EF_JANEAUSTEN_DIR is not set: run through data/scripts/build.sh")
    novels = rdata.read_lazyload_db(os.path.join(base, AUSTEN_DATA))
    chapter = -1
    for name in AUSTEN_NOVELS:
        paragraph = []
        for line in novels[name] + [""]:
            line = line.strip()
            if re.match(r"^(CHAPTER|Chapter)\s+[0-9IVXLC]+\.?$", line):
                chapter += 1
                continue
            if line:
                paragraph.append(line)
                continue
            text = clean_line(" ".join(paragraph).replace("_", ""))  # _italics_
            paragraph = []
            if chapter < 0 or not text or text.isupper():
                continue  # front matter, headings
            split = task_bible.split_of(chapter)
            for s in sentences(text):
                yield split, s


def description_sentences():
    family = task_desc_sum.source_families()
    picked = []
    for st in task_desc_sum.stanzas(task_desc_sum.read_index(task_desc_sum.TRANSLATION_GLOB)):
        if "Package" not in st or "Description-en" not in st:
            continue
        split = task_desc_sum.split_of(family.get(st["Package"], st["Package"]))
        paragraph = []
        for line in st["Description-en"].split("\n")[1:] + [" ."]:
            if line.strip() != ".":
                paragraph.append(line)
                continue
            # bullet lists and preformatted (indented) lines are not prose
            prose = not any(ln[1:2] == " " or ln.strip()[:2] in ("* ", "- ", "+ ", "o ")
                            for ln in paragraph)
            if prose:
                picked += [(split, x) for x in sentences(clean_line(" ".join(paragraph)))]
            paragraph = []
    unique = {s: split for split, s in picked if usable(s)}
    return sorted(((sp, s) for s, sp in unique.items()), key=_seeded_rank)[:DESC_CAP]


def _seeded_rank(item):
    return hashlib.sha256(("%d %s" % (SEED, item[1])).encode("utf-8")).digest()


def build(task, out_dir):
    by_source = collections.OrderedDict()
    by_source["bible"] = list(bible_sentences())
    by_source["austen"] = list(austen_sentences())
    by_source["descriptions"] = description_sentences()
    seen = set()
    clean = {"train": [], "valid": [], "test": []}
    source_counts = collections.Counter()
    for source, items in by_source.items():
        for split, s in items:
            if not usable(s) or s in seen:
                continue
            seen.add(s)
            clean[split].append(s)
            source_counts[(split, source)] += 1
    vocabulary = {w.lower() for split in clean.values() for s in split
                  for w in re.findall(r"[A-Za-z']+", s)}
    noiser = gec_noise.Noiser(gec_noise.load_misspellings(CODESPELL_DICT), vocabulary, SEED)
    pairs = {split: [(noiser.corrupt(s), s) for s in items] for split, items in clean.items()}
    counts = write_splits(out_dir, pairs)
    changed = sum(src != tgt for items in pairs.values() for src, tgt in items)
    notes = ["seed %d; sentences changed by noise: %d of %d" % (SEED, changed, sum(counts.values()))]
    notes += ["%s from %s: %d" % (sp, so, n) for (sp, so), n in sorted(source_counts.items())]
    write_stats(out_dir, task, counts, notes)
    return counts
