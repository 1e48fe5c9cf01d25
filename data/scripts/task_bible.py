"""Verse-aligned Bible pairs: kjv-web (KJV -> WEB rewriting) and web-es (WEB -> Reina-Valera 1909).

Split rule (shared by both tasks, so their held-out chapters are the same): chapters are numbered
0..1188 in KJV canonical order (Genesis 1 = 0, Revelation 22 = 1188); chapter n goes to valid if
n % 30 == 10, to test if n % 30 == 20, else to train. Whole chapters are held out, never random
verses, because neighbouring verses repeat phrases. Only verses present and non-empty in both
modules become pairs; the WEB's deuterocanon has no KJV/RV counterpart and is ignored.
"""
import math
import re
import statistics

import osis
from textnorm import clean_line, write_splits, write_stats

KJV, WEB, RV1909 = "engKJV2006eb", "engWEB2015eb", "spaRV1909eb"
HOLDOUT_PERIOD, VALID_PHASE, TEST_PHASE = 30, 10, 20

# web-es chapter filter: RV1909 numbers verses differently in a few chapters (one verse shifted,
# verses moved to the next chapter). A chapter is dropped when
#  - RV1909 is empty at a verse where WEB is not (its text moved elsewhere), or
#  - at least OUTLIER_FRAC of its verses have a length ratio off the global median by more than
#    a factor OUTLIER_FACTOR, or
#  - aligning verse i with verse i+-1 fits the lengths better than i with i (SHIFT_GAIN), or
#  - part of it is shifted: SHIFT_RUN consecutive verses each fit a neighbour's length better
#    (deviation smaller by NEIGHBOUR_GAIN in log ratio), or one verse whose lengths differ by
#    more than MAX_LENGTH_FACTOR fits a neighbour better.
OUTLIER_FACTOR, OUTLIER_FRAC, SHIFT_GAIN = 1.6, 0.2, 0.8
SHIFT_RUN, NEIGHBOUR_GAIN = 3, 0.25
# Both tasks: a pair whose lengths differ by more than this factor is a textual difference, not
# a rewrite (1 John 5:7's Comma Johanneum is in the KJV only; the WEB puts Romans 16:25-27 at
# the end of Romans 14:23), and is dropped.
MAX_LENGTH_FACTOR = math.e


def split_of(chapter_index):
    phase = chapter_index % HOLDOUT_PERIOD
    return "valid" if phase == VALID_PHASE else "test" if phase == TEST_PHASE else "train"


def chapter_indices(kjv_verses):
    index = {}
    for (book, chap, _), _text in kjv_verses:
        index.setdefault((book, chap), len(index))
    return index


_ALLCAPS = re.compile(r"\b[A-ZÁÉÍÓÚÑÜ]{2,}\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+)[¡¿(\"“‘«]*$")
_RV1909_NAMES = {"JEHOVÁ", "DIOS", "JAH", "JESÚS", "JESUS", "CRISTO", "SEÑOR"}


def rv1909_fix_caps(text):
    """RV1909 prints a chapter's first word in capitals ("EN el principio", "Y VISITÓ Jehová");
    give it ordinary case: capitalised at a sentence start or for a divine name, else lower case.
    Applied to the first verse of each chapter only (elsewhere capitals are deliberate)."""
    def fix(m):
        word = m.group(0)
        if word in _RV1909_NAMES or _SENTENCE_START.search(text, 0, m.start()):
            return word.capitalize()
        return word.lower()
    return _ALLCAPS.sub(fix, text)


def misaligned_chapters(src, tgt):
    """Chapters of tgt whose verse numbering disagrees with src (see the rule above)."""
    by_chap = {}
    for key, text in src.items():
        by_chap.setdefault(key[:2], {})[key[2]] = text
    logs = [math.log(len(tgt[k]) / len(s)) for k, s in src.items() if s and tgt.get(k)]
    median = statistics.median(logs)

    def dev(chap, verse, shift):
        """|log length ratio - median| of src verse against tgt verse+shift (None: no pair)."""
        s, t = by_chap[chap].get(verse), tgt.get(chap + (verse + shift,))
        return abs(math.log(len(t) / len(s)) - median) if s and t else None

    def cost(chap, shift):
        devs = [d for d in (dev(chap, v, shift) for v in by_chap[chap]) if d is not None]
        return (sum(devs) / len(devs), devs) if len(devs) >= 3 else (float("inf"), devs)

    def neighbour_fits(chap, verse):
        here = dev(chap, verse, 0)
        near = [d for d in (dev(chap, verse, 1), dev(chap, verse, -1)) if d is not None]
        return here is not None and near and min(near) < here - NEIGHBOUR_GAIN

    bad = {}
    for chap, verses in by_chap.items():
        if not any(chap + (v,) in tgt for v in verses):
            continue
        if any(s and chap + (v,) in tgt and not tgt[chap + (v,)] for v, s in verses.items()):
            bad[chap] = "verse empty in target"
            continue
        same, devs = cost(chap, 0)
        run = longest = 0
        for v in sorted(verses):
            run = run + 1 if neighbour_fits(chap, v) else 0
            longest = max(longest, run)
        extreme = [v for v in verses if (dev(chap, v, 0) or 0) > math.log(MAX_LENGTH_FACTOR)
                   and neighbour_fits(chap, v)]
        if devs and sum(d > math.log(OUTLIER_FACTOR) for d in devs) >= OUTLIER_FRAC * len(devs):
            bad[chap] = "length ratio outliers"
        elif min(cost(chap, 1)[0], cost(chap, -1)[0]) < SHIFT_GAIN * same:
            bad[chap] = "shifted verse numbering"
        elif longest >= SHIFT_RUN:
            bad[chap] = "%d consecutive verses fit a neighbour better" % longest
        elif extreme:
            bad[chap] = "verse %d fits a neighbour better" % extreme[0]
    return bad


def build(task, out_dir):
    kjv = osis.read_module(KJV)
    index = chapter_indices(kjv)
    web = dict(osis.read_module(WEB))
    notes = ["split: chapter n (KJV order, Genesis 1 = 0) -> valid if n %% %d == %d, test if == %d"
             % (HOLDOUT_PERIOD, VALID_PHASE, TEST_PHASE)]
    if task == "kjv-web":
        src_verses, tgt = kjv, web
        notes.append("source %s, target %s" % (KJV, WEB))
        dropped = {}
    else:
        src_verses = [(k, web[k]) for k, _ in kjv if k in web]
        tgt = dict(osis.read_module(RV1909))
        for key in tgt:
            if key[2] == 1:
                tgt[key] = rv1909_fix_caps(tgt[key])
        dropped = misaligned_chapters(dict(src_verses), tgt)
        notes.append("source %s, target %s" % (WEB, RV1909))
        for chap, why in sorted(dropped.items(), key=lambda kv: index[kv[0]]):
            notes.append("dropped chapter %s %d: %s" % (chap[0], chap[1], why))
    pairs = {"train": [], "valid": [], "test": []}
    skipped, unequal = 0, []
    for key, src in src_verses:
        t = tgt.get(key)
        if key[:2] in dropped:
            continue
        if not clean_line(src) or not t or not clean_line(t):
            skipped += 1
            continue
        if abs(math.log(len(t) / len(src))) > math.log(MAX_LENGTH_FACTOR):
            unequal.append("%s %d:%d" % key)
            continue
        pairs[split_of(index[key[:2]])].append((src, t))
    notes.append("verses skipped because empty on one side: %d" % skipped)
    notes.append("verses dropped, lengths differ by more than x%.2f: %d (%s)"
                 % (MAX_LENGTH_FACTOR, len(unequal), ", ".join(unequal)))
    counts = write_splits(out_dir, pairs)
    write_stats(out_dir, task, counts, notes)
    return counts
