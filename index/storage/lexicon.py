"""What the articles call things, gathered once per version at build time: their
words (to correct a misspelt question word to one the articles use) and the
abbreviations they use or imply ("Intergovernmental Panel on Climate Change
(IPCC)", or "International Space Station" for a question that says "ISS").

A question is rewritten with both before it is answered: "When was the ISS
lanched?" is asked as "When was the ISS (International Space Station)
launched?". Only words the articles do not hold are touched, and a word is
corrected only when it is not an English word the model knows and exactly one
close article word fits.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

WORD = re.compile(r"[^\W\d_][^\W\d_'\u2019-]*", re.UNICODE)
CONNECTORS = {"of", "and", "for", "on", "the", "de", "du", "la", "van", "von", "&"}
NAME_WORD = r"[A-Z][\w'\u2019-]*"
NAME_LINK = r"\s+(?:(?:of|and|for|on|the|de|du|la|van|von|&)\s+)?"
CAPITAL_RUN = re.compile(rf"\b{NAME_WORD}(?:{NAME_LINK}{NAME_WORD})+")
NAME_BEFORE = re.compile(rf"{NAME_WORD}(?:{NAME_LINK}{NAME_WORD})*\s*$")  # before a bracket
DEFINED = re.compile(r"([A-Z][\w'\u2019 &-]{3,80}?)\s+\(([A-Z][A-Za-z&]{1,9})\)")
ABBREVIATION = re.compile(r"^(?:[A-Z][A-Z&]{1,8}|[A-Z]&[A-Z])$")
ROMAN = re.compile(r"^[IVXLC]+$")  # "World War II": a numeral, not initials
ABBREVIATION_WORD = re.compile(r"(?<![\w&])[A-Z][A-Z&]+(?![\w&])")
DEFINED_WEIGHT = 3  # a phrase the articles define the abbreviation as counts three times
MIN_LENGTH = 3


LEADING = {"the", "a", "an", "this", "that", "in", "on", "at", "by", "for", "from", "after"}


def initial(word: str) -> str:
    """What a word gives an abbreviation: its first letter, or a numeral whole
    ("World War II": WWII)."""
    return word if ROMAN.match(word) else word[0]


def initials(phrase: str) -> set[str]:
    """Abbreviations a capitalised phrase may go by: ISS, IPCC, V&A (a sentence's
    capitalised first word, such as "The", is not part of the name)."""
    words = name_part(phrase).split()
    capitals = [w for w in words if w not in CONNECTORS and w[:1].isupper()]
    found = {"".join(map(initial, capitals))}
    if len(words) >= 3 and words[1] == "and":  # Victoria and Albert Museum: V&A
        found.add(f"{words[0][0]}&{words[2][0]}")
    return {a for a in found if len(a) >= 2}


PREFIXES = ("re", "un", "dis", "pre", "over", "under", "non")
SUFFIXES = ("ing", "ed", "es", "s", "ers", "er", "ly", "ness", "ment", "ation")


def is_english(word: str, known: frozenset[str] | set[str]) -> bool:
    """A word the model knows, or one made from such a word with a common prefix or
    suffix ("rethinking", "besiegers"): right as it is, whatever the articles say."""
    if word in known:
        return True
    stems = [word[len(p) :] for p in PREFIXES if word.startswith(p)] + [word]
    for stem in stems:
        if stem in known:
            return True
        for suffix in SUFFIXES:
            base = stem[: -len(suffix)]
            if stem.endswith(suffix) and len(base) >= 3 and (base in known or base + "e" in known):
                return True
    return False


def defined_phrase(abbreviation: str, before: str) -> str | None:
    """The phrase a bracketed abbreviation defines, from the words before the bracket:
    the last words whose initials spell it ("defeated the National Football Conference
    (NFC)", "Synthetic aperture radar (SAR)"); else the capitalised name just before the
    bracket, if a word of it begins with its first letter ("Home Army (AK)", for Armia
    Krajowa). None otherwise ("Royal Society (UK)": the bracket says which country)."""
    letters = abbreviation.replace("&", "").upper()
    words = before.split()[-len(letters) - 2 :]
    for start in (i for i, w in enumerate(words) if w not in CONNECTORS):
        spelt = "".join(initial(w) for w in words[start:] if w not in CONNECTORS)
        if spelt.upper() == letters:
            return " ".join(words[start:])
    match = NAME_BEFORE.search(before)
    name = name_part(match.group(0)).split() if match else []
    while name and ABBREVIATION.match(name[0]):  # "NFL Most Valuable Player (MVP)"
        name = name[1:]
    if any(w[:1].upper() == letters[0] for w in name):
        return " ".join(name)
    return None


def name_part(phrase: str) -> str:
    words = phrase.split()
    while words and words[0].casefold() in LEADING:
        words = words[1:]
    return " ".join(words)


@dataclass
class Lexicon:
    """The articles' words (lower-cased, with counts) and abbreviations
    (upper-case form: the phrases that spell them out, with counts)."""

    words: dict[str, int] = field(default_factory=dict)
    aliases: dict[str, dict[str, int]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # words written capitalised most of the time
    # abbreviations the articles write and never define ("TV", "V&A" written bare);
    # None in lexicons made before it was kept
    written: set[str] | None = None

    @classmethod
    def of(cls, texts: Iterable[str]) -> Lexicon:
        words: Counter[str] = Counter()
        capitalised: Counter[str] = Counter()
        aliases: dict[str, Counter[str]] = {}
        written: set[str] = set()
        defined: set[str] = set()
        for text in texts:
            found = [w for w in WORD.findall(text) if len(w) >= MIN_LENGTH]
            words.update(w.casefold() for w in found)
            capitalised.update(w.casefold() for w in found if w[0].isupper())
            written.update(w for w in ABBREVIATION_WORD.findall(text) if ABBREVIATION.match(w))
            for match in CAPITAL_RUN.finditer(text):
                phrase = name_part(match.group(0))
                for abbreviation in initials(phrase):
                    aliases.setdefault(abbreviation, Counter())[phrase] += 1
            for before, short in DEFINED.findall(text):
                phrase = defined_phrase(short, before)
                if phrase:
                    aliases.setdefault(short, Counter())[phrase] += DEFINED_WEIGHT
                    defined.add(short)
        names = {w for w, n in capitalised.items() if 2 * n > words[w]}
        found_aliases = {k: dict(v) for k, v in aliases.items()}
        return cls(dict(words), found_aliases, names, written - defined)

    def to_json(self) -> str:
        data = {"words": self.words, "aliases": self.aliases, "names": sorted(self.names)}
        if self.written is not None:
            data["written"] = sorted(self.written)
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Lexicon:
        data = json.loads(text)
        written = set(data["written"]) if "written" in data else None
        return cls(data["words"], data["aliases"], set(data["names"]), written)

    def expansion(self, token: str) -> str | None:
        """The phrase an abbreviation in a question stands for, when the articles
        spell it out (the most frequent phrase wins). A phrase only guessed from its
        initials, never defined, is not used for an abbreviation the articles write
        themselves: there it means what they mean by it ("TV" is not "Treaty of
        Versailles" where the articles write "TV"). Nor is a numeral ("II") expanded."""
        if not ABBREVIATION.match(token) or ROMAN.match(token):
            return None
        phrases = self.aliases.get(token)
        if not phrases:
            return None
        if self.written is not None and token in self.written:
            return None
        return max(phrases.items(), key=lambda item: (item[1], -len(item[0])))[0]

    def correction(self, word: str, known: frozenset[str] | set[str]) -> str | None:
        """The article word a misspelt question word most likely means, or None.

        `known` holds words that are right as they are (English words the model
        knows); they are never corrected. One edit is allowed (a transposition
        counts as one), two from eight letters on. A capitalised word is corrected
        only to a name of the articles with the same first letter, from five
        letters on, and keeps its capital: a name the articles do not hold is more
        often a different name than a misspelt one."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        folded = word.casefold()
        if len(folded) < MIN_LENGTH or folded in self.words or is_english(folded, known):
            return None
        name = word[0].isupper()
        if name and len(folded) < 5:
            return None
        pool = [w for w in self.names if w[0] == folded[0]] if name else self.words.keys()
        allowed = 1 if len(folded) < 8 else 2
        found = process.extract(folded, pool, scorer=OSA.distance, score_cutoff=allowed, limit=8)
        found = [f for f in found if f[1] < 2 or OSA.normalized_similarity(folded, f[0]) >= 0.8]
        if not found:
            return None
        best = max(
            (w for w, _, _ in found),
            key=lambda w: (OSA.normalized_similarity(folded, w), self.words.get(w, 0)),
        )
        return best[:1].upper() + best[1:] if name else best


@dataclass(frozen=True)
class Rewrite:
    """A question as asked, and as answered (abbreviations spelled out, typos fixed)."""

    text: str
    expanded: list[tuple[str, str]]
    corrected: list[tuple[str, str]]


def rewrite(question: str, lexicon: Lexicon, known: frozenset[str] | set[str]) -> Rewrite:
    """Spell out abbreviations and correct misspelt words, leaving the rest as it was."""
    expanded: list[tuple[str, str]] = []
    corrected: list[tuple[str, str]] = []

    def fix(match: re.Match[str]) -> str:
        token = match.group(0)
        if phrase := lexicon.expansion(token):
            if phrase.casefold() != token.casefold():
                expanded.append((token, phrase))
                return f"{token} ({phrase})"
            return token
        if WORD.fullmatch(token) and (word := lexicon.correction(token, known)):
            corrected.append((token, word))
            return word
        return token

    text = re.sub(r"[\w&'\u2019-]+", fix, question)
    return Rewrite(text, expanded, corrected)
