"""The content words lexical matching compares (lower-cased, stemmed, without stop
and question words), and how many chunks of a version hold each one: counted once,
when the version is built, and stored in it, so opening a version counts nothing."""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

WORD = re.compile(r"\w+", re.UNICODE)
# Words that say what kind of answer is wanted, not what it is about.
QUESTION_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "does",
        "did",
        "do",
        "is",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "much",
        "many",
        "about",
        "according",
        # words about the articles themselves, not what they report
        "mentioned",
        "mention",
        "mentions",
        "named",
        "called",
        "described",
        "refers",
        "referred",
    ]
)


def term_key(term: str) -> int:
    """A term as a stable 64-bit number: what a version stores of each sentence's
    words (index/storage/sentences.py), and what questions' words are compared as."""
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class Terms:
    """Content words for lexical matching: lower-cased, stemmed, no stop or question words."""

    def __init__(self) -> None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN

        self._stemmer = Stemmer.Stemmer("english")
        self._skip = frozenset(STOPWORDS_EN) | QUESTION_WORDS
        self._lock = threading.Lock()

    def __call__(self, text: str) -> set[str]:
        words = [w for w in WORD.findall(text.lower()) if w not in self._skip]
        words = [w[:-2] if w.endswith("'s") else w for w in words]
        with self._lock:  # PyStemmer objects are not thread-safe
            return set(self._stemmer.stemWords(words))

    def keys(self, text: str) -> frozenset[int]:
        """The text's terms, as `term_key`s."""
        return frozenset(term_key(t) for t in self(text))


@dataclass(frozen=True)
class TermStats:
    """Document frequencies over a version's chunks, and the inverse document
    frequency each gives (a term no chunk holds weighs most)."""

    chunks: int
    df: dict[str, int]

    @classmethod
    def of(cls, texts: Iterable[str], terms: Terms) -> TermStats:
        counts: Counter[str] = Counter()
        chunks = 0
        for text in texts:
            counts.update(terms(text))
            chunks += 1
        return cls(chunks, dict(counts))

    def idf(self, term: str) -> float:
        n = max(1, self.chunks)
        count = self.df.get(term)
        if count is None:
            return math.log(1 + 2 * n)
        return math.log(1 + (n - count + 0.5) / (count + 0.5))

    def to_json(self) -> str:
        return json.dumps({"chunks": self.chunks, "df": self.df}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> TermStats:
        data = json.loads(text)
        if not isinstance(data.get("chunks"), int) or not isinstance(data.get("df"), dict):
            raise ValueError("term statistics need chunks and df")
        return cls(data["chunks"], data["df"])
