"""en-de: English -> German sentences from two Debian sources.

1. gettext catalogs: the German .mo files of the packages in en_de_catalogs.txt (dpkg -L), read
   with msgunfmt and filtered by gettext_pairs.good_pair. Split by catalog (text domain): the
   domains in TEST_DOMAINS go to test, VALID_DOMAINS to valid, all others to train.
2. Ding/FreeDict example sentences (dict-freedict-eng-deu, and dict-freedict-deu-eng reversed):
   dictd lines `   "English example"  - German example`, kept when the English side has at least
   MIN_WORDS words, ends in . ! or ? and has no placeholder (sth., jdn.); of alternative German
   translations ("Satz eins., Satz zwei.") the first is kept. Split by sha256(English) mod PERIOD: 0 valid, 1 test.

Held-out sides win duplicates: test pairs are collected first, then valid, then train, and an
English sentence seen before (case-insensitive) is skipped, so no English text of valid/test
occurs in train.
"""
import gzip
import hashlib
import os
import re
import subprocess

import gettext_pairs
from textnorm import clean_line, write_splits, write_stats

CATALOG_LIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "en_de_catalogs.txt")
LOCALE_DIR = "/usr/share/locale/de/LC_MESSAGES/"
TEST_DOMAINS = {"libc", "coreutils", "dpkg"}
VALID_DOMAINS = {"e2fsprogs", "tar", "procps-ng"}
DICTS = ("/usr/share/dictd/freedict-eng-deu.dict.dz", "/usr/share/dictd/freedict-deu-eng.dict.dz")
MIN_WORDS, PERIOD = 4, 50
_EXAMPLE = re.compile(r'^\s+"(.+?)"\s+-\s+(.+)$')
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]?$")
# dictionary placeholders mark a phrase pattern, not a sentence ("write about sth.")
_PLACEHOLDER = re.compile(r"\b(sth|sb|etw|jd|jdm|jdn|jds)\.", re.I)
# Ding lists alternative translations of one example as "Satz eins., Satz zwei."
_ALTERNATIVES = re.compile(r"(?<=[.!?“\"]), (?=[A-ZÄÖÜ„\"])")


def catalog_files():
    """German .mo files of the listed packages, sorted; fails if a package is not installed."""
    files = []
    with open(CATALOG_LIST, encoding="utf-8") as f:
        packages = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    for pkg in packages:
        listing = subprocess.run(["dpkg", "-L", pkg], check=True, stdout=subprocess.PIPE,
                                 universal_newlines=True).stdout.split("\n")
        files += [p for p in listing if p.startswith(LOCALE_DIR) and p.endswith(".mo")]
    return sorted(set(files))


def dict_examples():
    """(english, german) example sentences from both FreeDict directions, sorted, unique."""
    pairs = set()
    for path in DICTS:
        english_first = "eng-deu" in path
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                m = _EXAMPLE.match(line.rstrip("\n"))
                if not m:
                    continue
                en, de = (m.group(1), m.group(2)) if english_first else (m.group(2), m.group(1))
                en, de = clean_line(en), _ALTERNATIVES.split(clean_line(de))[0]
                if (len(en.split()) >= MIN_WORDS and _SENTENCE_END.search(en) and de
                        and not _PLACEHOLDER.search(en + " " + de)):
                    pairs.add((en, de))
    return sorted(pairs)


def hashed_split(text):
    h = int(hashlib.sha256(text.lower().encode("utf-8")).hexdigest()[:8], 16) % PERIOD
    return "valid" if h == 0 else "test" if h == 1 else "train"


def build(task, out_dir):
    candidates = []  # (split, origin, en, de)
    per_domain = {}
    for path in catalog_files():
        domain = os.path.basename(path)[:-3]
        split = "test" if domain in TEST_DOMAINS else "valid" if domain in VALID_DOMAINS else "train"
        kept = [(clean_line(en), clean_line(de)) for en, de in gettext_pairs.read_mo(path)
                if gettext_pairs.good_pair(en, de)]
        per_domain[domain] = len(kept)
        candidates += [(split, "gettext", en, de) for en, de in kept]
    candidates += [(hashed_split(en), "dict", en, de) for en, de in dict_examples()]

    pairs = {"train": [], "valid": [], "test": []}
    origin_counts = {}
    seen = set()
    for split in ("test", "valid", "train"):
        for s, origin, en, de in candidates:
            if s != split or en.lower() in seen:
                continue
            seen.add(en.lower())
            pairs[split].append((en, de))
            key = (split, origin)
            origin_counts[key] = origin_counts.get(key, 0) + 1
    counts = write_splits(out_dir, pairs)
    notes = ["gettext catalogs (pairs kept after filtering, before de-duplication):"]
    notes += ["  %s %d%s" % (d, n, " (test)" if d in TEST_DOMAINS else
                             " (valid)" if d in VALID_DOMAINS else "")
              for d, n in sorted(per_domain.items())]
    notes += ["%s from %s: %d" % (s, o, n) for (s, o), n in sorted(origin_counts.items())]
    notes.append("dict examples split: sha256(lowercased English) mod %d: 0 valid, 1 test" % PERIOD)
    write_stats(out_dir, task, counts, notes)
    return counts
