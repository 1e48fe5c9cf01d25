"""Synthetic grammatical errors for the gec task: turns a clean English sentence into a noisy one.

Deterministic: `corrupt(sentence, seed)` draws from random.Random(sha256(seed, sentence)), so a
sentence always gets the same errors, whatever order or process builds the data set.

Per sentence: with probability P_CLEAN nothing changes (the model must learn to copy); otherwise
the number of edits is drawn from EDIT_COUNTS and each edit is one of these rules (weights in
RULES), applied to a random word where the rule fits (a rule that fits nowhere is skipped):
  spelling     a word with a real misspelling in codespell's dictionary becomes that misspelling
               (codespell lists wrong->right; reversed, right -> [wrong...], single-target lines)
  article      drop a/an/the, or swap a<->the, or a<->an (wrong indefinite article)
  preposition  replace one of PREPOSITIONS by another
  agreement    is<->are, was<->were, has<->have, does<->do, doesn't<->don't; or drop/add the
               third-person -s after he/she/it (he walks -> he walk) or I/we/they/you
  verb form    irregular past/participle/base swaps (went->go, taken->took) from IRREGULAR, or a
               regular past tense loses its ending (walked -> walk, carried -> carry) when the
               result is a word of the corpus vocabulary
Words keep their capitalisation and surrounding punctuation.
"""
import hashlib
import random
import re

P_CLEAN = 0.1
EDIT_COUNTS = (1, 1, 1, 2, 2, 3)
RULES = (("spelling", 3), ("article", 2), ("preposition", 2), ("agreement", 2), ("verb", 2))
PREPOSITIONS = ("in", "on", "at", "to", "for", "of", "with", "by", "from", "about", "into",
                "over", "under", "through")
AGREEMENT = {"is": "are", "are": "is", "was": "were", "were": "was", "has": "have",
             "have": "has", "does": "do", "do": "does", "doesn't": "don't", "don't": "doesn't",
             "isn't": "aren't", "aren't": "isn't", "wasn't": "weren't", "weren't": "wasn't"}
THIRD_PERSON = {"he", "she", "it"}
OTHER_PERSON = {"i", "we", "they", "you"}
# never given a third-person -s ("I wills"): modals and words that are not verbs after a pronoun
NO_S = {"will", "shall", "can", "may", "must", "might", "could", "would", "should", "ought",
        "am", "also", "only", "then", "now", "too", "all", "both", "never", "always", "this"}
# base, past, past participle
IRREGULAR = [("go", "went", "gone"), ("see", "saw", "seen"), ("take", "took", "taken"),
             ("give", "gave", "given"), ("come", "came", "come"), ("know", "knew", "known"),
             ("speak", "spoke", "spoken"), ("write", "wrote", "written"), ("eat", "ate", "eaten"),
             ("do", "did", "done"), ("begin", "began", "begun"), ("break", "broke", "broken"),
             ("choose", "chose", "chosen"), ("drink", "drank", "drunk"), ("drive", "drove", "driven"),
             ("fall", "fell", "fallen"), ("forget", "forgot", "forgotten"), ("get", "got", "gotten"),
             ("grow", "grew", "grown"), ("hide", "hid", "hidden"), ("ride", "rode", "ridden"),
             ("rise", "rose", "risen"), ("run", "ran", "run"), ("sing", "sang", "sung"),
             ("stand", "stood", "stood"), ("steal", "stole", "stolen"), ("swim", "swam", "swum"),
             ("throw", "threw", "thrown"), ("wear", "wore", "worn"), ("bring", "brought", "brought"),
             ("buy", "bought", "bought"), ("think", "thought", "thought"), ("teach", "taught", "taught"),
             ("find", "found", "found"), ("tell", "told", "told"), ("say", "said", "said"),
             ("make", "made", "made"), ("leave", "left", "left"), ("feel", "felt", "felt"),
             ("keep", "kept", "kept"), ("sleep", "slept", "slept"), ("send", "sent", "sent"),
             ("build", "built", "built"), ("hear", "heard", "heard"), ("hold", "held", "held"),
             ("lose", "lost", "lost"), ("meet", "met", "met"), ("pay", "paid", "paid"),
             ("sell", "sold", "sold"), ("sit", "sat", "sat"), ("understand", "understood", "understood"),
             ("become", "became", "become"), ("bear", "bore", "born"), ("fly", "flew", "flown"),
             ("shake", "shook", "shaken"), ("strike", "struck", "struck"), ("win", "won", "won")]
_FORMS = {}
for _forms in IRREGULAR:
    for _f in _forms:
        _FORMS.setdefault(_f, set()).update(x for x in _forms if x != _f)
_VERB_FORMS = {w: sorted(alts) for w, alts in _FORMS.items()}
_TOKEN = re.compile(r"^([^\w']*)([\w']+(?:-[\w']+)*)([^\w']*)$")


def load_misspellings(path):
    """codespell dictionary.txt (`wrong->right` or `wrong->right1, right2,`), reversed:
    {right: [wrong, ...]} for lines with a single correction, lower-case words only."""
    table = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            wrong, sep, right = line.strip().partition("->")
            if not sep or "," in right or not wrong.isalpha() or not right.isalpha():
                continue
            if wrong.islower() and right.islower():
                table.setdefault(right, []).append(wrong)
    return {k: sorted(v) for k, v in table.items()}


def _match_case(template, word):
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


class Noiser:
    def __init__(self, misspellings, vocabulary, seed):
        self.misspellings = misspellings
        self.vocabulary = vocabulary
        self.seed = seed

    def _candidates(self, rule, words):
        """Indices of words the rule can change, with the replacement function for each."""
        out = []
        for i, (pre, core, post) in enumerate(words):
            if core is None:
                continue
            low = core.lower()
            prev = words[i - 1][1].lower() if i > 0 and words[i - 1][1] else ""
            if rule == "spelling" and low in self.misspellings:
                out.append((i, lambda rng, low=low: rng.choice(self.misspellings[low])))
            elif rule == "article" and low in ("a", "an", "the"):
                swaps = {"a": ["", "the", "an"], "an": ["", "the", "a"], "the": ["", "a"]}[low]
                out.append((i, lambda rng, s=swaps: rng.choice(s)))
            elif rule == "preposition" and low in PREPOSITIONS:
                others = [p for p in PREPOSITIONS if p != low]
                out.append((i, lambda rng, o=others: rng.choice(o)))
            elif rule == "agreement":
                if low in AGREEMENT:
                    out.append((i, lambda rng, w=AGREEMENT[low]: w))
                elif prev in THIRD_PERSON and len(low) > 3 and low.endswith("s") \
                        and low[:-1] in self.vocabulary and not low.endswith("ss"):
                    out.append((i, lambda rng, w=low[:-1]: w))
                elif prev in OTHER_PERSON and low in self.vocabulary and low + "s" in self.vocabulary \
                        and low not in AGREEMENT and low not in _VERB_FORMS and low not in NO_S:
                    out.append((i, lambda rng, w=low + "s": w))
            elif rule == "verb":
                if low in _VERB_FORMS:
                    out.append((i, lambda rng, a=_VERB_FORMS[low]: rng.choice(a)))
                elif low.endswith("ied") and len(low) > 4:
                    out.append((i, lambda rng, w=low[:-3] + "y": w))
                elif low.endswith("ed") and len(low) > 4:
                    for base in (low[:-2], low[:-1]):
                        if base in self.vocabulary:
                            out.append((i, lambda rng, w=base: w))
                            break
        return out

    def corrupt(self, sentence):
        digest = hashlib.sha256(("%s\n%s" % (self.seed, sentence)).encode("utf-8")).digest()
        rng = random.Random(digest)
        if rng.random() < P_CLEAN:
            return sentence
        words = []
        for tok in sentence.split(" "):
            m = _TOKEN.match(tok)
            words.append(m.groups() if m else (tok, None, ""))
        names = [r for r, _ in RULES]
        weights = [w for _, w in RULES]
        for _ in range(rng.choice(EDIT_COUNTS)):
            rule = rng.choices(names, weights)[0]
            cands = self._candidates(rule, words)
            if not cands:
                continue
            i, make = cands[rng.randrange(len(cands))]
            pre, core, post = words[i]
            new = make(rng)
            words[i] = (pre, _match_case(core, new) if new else None, post)
        out = []
        for pre, core, post in words:
            text = pre + (core or "") + post
            if text:
                out.append(text)
        noisy = " ".join(out)
        return noisy[:1].upper() + noisy[1:] if sentence[:1].isupper() else noisy
