"""Read a SWORD Bible module as plain verses: `mod2imp MODULE` (libsword-utils) prints
`$$$Book Chapter:Verse` lines each followed by the verse in OSIS markup; this strips the markup.

Rules (see docs/datasets.md):
- verse 0 entries (book and chapter introductions, headings) are skipped;
- element contents dropped: <note> (footnotes, cross references), <speaker> (Song of Songs
  labels), and <title> unless canonical="true" (psalm superscriptions are canonical and appear
  in every module, so they stay); a dropped element becomes one space, so words never fuse
  ("God<note>..</note>created" -> "God created");
- every other tag is removed; empty (self-closing) tags and line/paragraph tags become a space;
- text after a book's end marker (<div type="book" eID=...>) is not verse text (the WEB hangs
  its glossary on Revelation 22:21) and is cut;
- the KJV paragraph sign, stray USFM markers (`\\nd LORD`) and character entities are resolved;
  whitespace is normalised later.
It never reorders verses: the result keeps the module's order.
"""
import html
import re
import subprocess

_TOKEN = re.compile(r"<(/?)([A-Za-z]+)([^>]*?)(/?)>|([^<]+)")
_USFM = re.compile(r"\\[a-z]+[0-9]*\*?")
_DROP = {"note", "speaker"}
_SPACE_TAGS = {"l", "lg", "lb", "div", "p", "chapter", "milestone", "verse", "item", "list"}
_KEY = re.compile(r"^(.+) (\d+):(\d+)$")
# Psalm 119 is an acrostic: every 8th verse opens with a Hebrew letter name ("ALEPH", "SIN AND
# SHIN"), a heading that KJV marks as non-canonical but WEB and RV1909 put in the verse text.
_PS119_LETTER = re.compile(r"^[A-Z]+(?: AND [A-Z]+)?\.?\s+(?=\S)")


def strip_osis(markup):
    out = []
    skip = []  # stack of element names whose content is being dropped
    for m in _TOKEN.finditer(markup):
        closing, name, attrs, selfclose, text = m.groups()
        if text is not None:
            if not skip:
                out.append(text)
            continue
        if selfclose:
            if name == "div" and 'type="book"' in attrs and "eID=" in attrs:
                break
            out.append(" ")
            continue
        if closing:
            if skip and skip[-1] == name:
                skip.pop()
                if not skip:
                    out.append(" ")
            elif name in _SPACE_TAGS:
                out.append(" ")
            continue
        drop = name in _DROP or (name == "title" and 'canonical="true"' not in attrs)
        if skip or drop:
            # nested elements inside a dropped one are tracked only if they are dropped kinds;
            # anything else inside is simply not emitted.
            if drop:
                skip.append(name)
            continue
        if name in _SPACE_TAGS:
            out.append(" ")
    text = html.unescape("".join(out)).replace("\u00b6", " ")
    text = _USFM.sub(" ", text)
    # a removed tag between a word and its punctuation leaves "word ," behind
    text = re.sub(r"\s+([,.;:!?\u2019\u201d)\]])", r"\1", " ".join(text.split()))
    return text


def read_module(module):
    """Return [((book, chapter, verse), text), ...] in module order, verse >= 1 only."""
    raw = subprocess.run(["mod2imp", module], check=True, stdout=subprocess.PIPE).stdout
    lines = raw.decode("utf-8").split("\n")
    verses = []
    key = None
    body = []

    def flush():
        if key is not None:
            text = strip_osis(" ".join(body))
            if key[0] == "Psalms" and key[1] == 119 and key[2] % 8 == 1:
                text = _PS119_LETTER.sub("", text)
            verses.append((key, text))

    for line in lines:
        if line.startswith("$$$"):
            flush()
            key, body = None, []
            m = _KEY.match(line[3:])
            if m and int(m.group(3)) >= 1:
                key = (m.group(1), int(m.group(2)), int(m.group(3)))
        elif key is not None:
            body.append(line)
    flush()
    if not verses:
        raise RuntimeError("mod2imp %s printed no verses: is the module installed?" % module)
    return verses
