"""English -> German message pairs from compiled gettext catalogs (.mo), via `msgunfmt`.

A message is kept when it reads like a sentence of prose, not a UI fragment or a template:
- msgid (singular form only) has at least MIN_WORDS words and at most MAX_WORDS;
- neither side has a format directive (%s, %1$d, %(name)s, {x}, ${x}, $1), markup (<b>, &amp;),
  a keyboard accelerator (_File, &Open), a tab, a backslash, or an internal newline;
- neither side is a command-line option table ("--help") or mostly non-letters;
- msgstr is non-empty and differs from msgid.
"""
import re
import subprocess

MIN_WORDS, MAX_WORDS = 4, 80
_DIRECTIVE = re.compile(r"%[-+ #0-9.*$()a-zA-Z]*[a-zA-Z%]|\{[^}]*\}|\$\{|\$[0-9A-Za-z]|<[^>]*>|"
                        r"&[a-zA-Z#]|_[a-zA-Z]|\t|\\|--[a-z]|``|\|")


def _unquote(quoted):
    """Decode one PO string literal ("..." with C escapes)."""
    body, out, i = quoted[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(body[i + 1], "\\" + body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


_FIELD = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr|msgstr\[\d+\]) (".*")$')


def read_mo(path):
    """Yield (msgid, msgstr) for every message of a .mo file except the header (plural forms:
    the singular msgid with msgstr[0]; a msgctxt is ignored). msgunfmt separates entries by
    blank lines."""
    po = subprocess.run(["msgunfmt", "--no-wrap", path], check=True,
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode("utf-8", "replace")
    entry, field = {}, None
    for line in po.split("\n") + [""]:
        m = _FIELD.match(line)
        if m:
            field = "msgstr" if m.group(1) == "msgstr[0]" else m.group(1)
            entry[field] = _unquote(m.group(2))
        elif line.startswith('"') and field:
            entry[field] += _unquote(line)
        elif not line.strip():
            if entry.get("msgid") and "msgstr" in entry:
                yield entry["msgid"], entry["msgstr"]
            entry, field = {}, None


def good_pair(en, de):
    en, de = en.strip(), de.strip()
    if not en or not de or en == de:
        return False
    if "\n" in en or "\n" in de or "\ufffd" in en + de:
        return False
    if _DIRECTIVE.search(en) or _DIRECTIVE.search(de):
        return False
    words = en.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return False
    letters = sum(ch.isalpha() for ch in en)
    return letters >= 0.6 * len(en.replace(" ", ""))
