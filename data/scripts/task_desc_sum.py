"""desc-sum: Debian package long description -> short description (one-line summarisation).

Source: apt's English translation index of bookworm main (`*_dists_bookworm_main_i18n_Translation-en*`,
fetched by `apt-get update -o Acquire::Languages=en`), one stanza per package with
`Description-en:` = short description, then the long description as continuation lines
(` .` = paragraph break). Only the stable `bookworm` suite is read, not -updates/-security, so the
data changes only at point releases.

Document = long description with paragraphs and list items joined into one line. Filters: the
document has MIN_DOC_WORDS..MAX_DOC_WORDS words, the summary MIN_SUM_WORDS or more; transitional /
dummy packages are dropped (their text is boilerplate); a document seen before (sorted by package
name) is dropped, so identical texts never straddle splits.
Split by source-package family (binary packages of one source share text: lib*, *-dev, *-doc):
family = `Source:` from the amd64 Packages index (else the binary name); sha256(family) mod
PERIOD == 0 -> valid, == 1 -> test, else train.
"""
import glob
import hashlib
import re
import subprocess

from textnorm import clean_line, write_splits, write_stats

LISTS = "/var/lib/apt/lists"
TRANSLATION_GLOB = LISTS + "/*_dists_bookworm_main_i18n_Translation-en*"
# amd64's index names the source packages; another architecture's is a close second best
PACKAGES_GLOB = (LISTS + "/*_dists_bookworm_main_binary-amd64_Packages*",
                 LISTS + "/*_dists_bookworm_main_binary-*_Packages*")
MIN_DOC_WORDS, MAX_DOC_WORDS, MIN_SUM_WORDS = 8, 400, 2
PERIOD = 50
_BOILERPLATE = re.compile(r"\b(transitional|dummy) package\b", re.I)


def read_index(patterns):
    """Decompress the first apt list file matching one of PATTERNS (tried in order) with
    apt-helper (it knows lz4, xz, gz) and return its text."""
    patterns = (patterns,) if isinstance(patterns, str) else patterns
    files = []
    for pattern in patterns:
        files = files or sorted(f for f in glob.glob(pattern) if not f.endswith(".diff"))
    if not files:
        raise RuntimeError("no apt index matches %s: run apt-get update -o Acquire::Languages=en"
                           % " or ".join(patterns))
    out = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", files[0]], check=True,
                         stdout=subprocess.PIPE).stdout
    return out.decode("utf-8", "replace")


def stanzas(text):
    for block in text.split("\n\n"):
        fields, last = {}, None
        for line in block.split("\n"):
            if line.startswith((" ", "\t")) and last:
                fields[last] += "\n" + line
            elif ":" in line:
                last, _, value = line.partition(":")
                fields[last] = value.strip()
        if fields:
            yield fields


def source_families():
    family = {}
    for st in stanzas(read_index(PACKAGES_GLOB)):
        if "Package" in st:
            family[st["Package"]] = st.get("Source", st["Package"]).split(" ")[0]
    return family


def document(long_lines):
    """Join the long description: ' .' lines are paragraph breaks; bullets keep their marker."""
    parts = []
    for line in long_lines:
        line = line.strip()
        if line and line != ".":
            parts.append(line)
    return " ".join(parts)


def split_of(family):
    h = int(hashlib.sha256(family.encode("utf-8")).hexdigest()[:8], 16) % PERIOD
    return "valid" if h == 0 else "test" if h == 1 else "train"


def build(task, out_dir):
    family = source_families()
    pairs = {"train": [], "valid": [], "test": []}
    seen = set()
    stats = {"stanzas": 0, "short": 0, "long": 0, "boilerplate": 0, "duplicate": 0}
    entries = []
    for st in stanzas(read_index(TRANSLATION_GLOB)):
        if "Package" in st and "Description-en" in st:
            entries.append((st["Package"], st["Description-en"]))
    for name, desc in sorted(entries):
        stats["stanzas"] += 1
        lines = desc.split("\n")
        summary, doc = clean_line(lines[0]), clean_line(document(lines[1:]))
        n = len(doc.split())
        if len(summary.split()) < MIN_SUM_WORDS:
            stats["short"] += 1
        elif n < MIN_DOC_WORDS or n > MAX_DOC_WORDS:
            stats["long"] += 1
        elif _BOILERPLATE.search(summary) or _BOILERPLATE.search(doc):
            stats["boilerplate"] += 1
        elif doc in seen:
            stats["duplicate"] += 1
        else:
            seen.add(doc)
            pairs[split_of(family.get(name, name))].append((doc, summary))
    counts = write_splits(out_dir, pairs)
    notes = ["source: %s (apt-get update -o Acquire::Languages=en)" % TRANSLATION_GLOB,
             "stanzas read: %d" % stats["stanzas"],
             "dropped: summary < %d words: %d; document outside %d..%d words: %d; "
             "transitional/dummy: %d; duplicate document: %d"
             % (MIN_SUM_WORDS, stats["short"], MIN_DOC_WORDS, MAX_DOC_WORDS, stats["long"],
                stats["boilerplate"], stats["duplicate"]),
             "split: sha256(source package) mod %d: 0 -> valid, 1 -> test" % PERIOD]
    write_stats(out_dir, task, counts, notes)
    return counts
