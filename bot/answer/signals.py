"""Evidence that a sentence answers a question, beyond word overlap.

Each candidate sentence (of the best retrieved passages) gets a few features:
how close its passage and the sentence itself are to the question in meaning,
how much of the question's (IDF-weighted) wording it holds, whether it holds
something of the kind asked for (a date, a number, a person, a place) that the
question does not, and two signs that the articles do not answer the question at
all: names in the question that no article mentions ("Bill Nelson"), and numbers
in the question its passage does not hold. A sentence is also read with the one
before it, which often names what its "it" is ("Around 40,000 vehicles a day are
expected to cross it", after a sentence about the bridge). The evidence is their weighted sum
(AnswerConfig); bench/answer_features.py measures each and fits the weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from bot.answer.highlight import asked_kind, typed_spans
from bot.answer.records import Passage
from index.retrieval import Retriever, Sentence, share
from index.storage.lexicon import ABBREVIATION, ROMAN, Lexicon

FEATURES = (
    "passage_cosine",
    "sentence_cosine",
    "coverage",
    "kind_found",
    "unknown_names",
    "missing_numbers",
    "context_coverage",
)
NAME = re.compile(r"\b[A-Z][\w\u2019'&-]*")
NUMBER = re.compile(r"\b\d[\d,.]*\d\b|\b\d\b")
# the endings that make a people, a language or a plural of a name: "Crimean",
# "Egyptians", "Americans", "Japanese"
DERIVED_ENDINGS = ("s", "n", "ns", "an", "ans", "ian", "ians", "ese", "ish")
POSSESSIVE = re.compile(r"['\u2019]s?$")
# "who is yuri borisov": a question that is only "who is/was" and one to three words
# names someone, however it is typed; a stop word ("the", "of") makes it a description
WHO_IS = re.compile(
    r"^\s*(?i:who(?:\s+is|\s+was|\s+are|\s+were|['\u2019]s))\s+"
    r"([a-z][a-z'\u2019-]*(?:\s+[a-z][a-z'\u2019-]*){0,2})\s*\??\s*$"
)


def question_names(question: str) -> list[str]:
    """Names a question is about: capitalised words past its first, without a
    possessive, each part of a hyphenated name; not single letters or numerals. In a
    bare "who is …" question typed in lower case, the words it asks about."""
    names = []
    for match in NAME.finditer(question.lstrip()):
        word = POSSESSIVE.sub("", match.group(0))
        if match.start() == 0 and not word.isupper():
            continue  # capitalised as the question's first word, not as a name
        names += [part for part in word.split("-") if len(part) >= 3 and not ROMAN.match(part)]
    return names + lower_case_name(question)


def lower_case_name(question: str) -> list[str]:
    """The words of "who is yuri borisov": the parts of a name typed in lower case,
    when the question is only "who is" and that name (no possessive, no "the")."""
    match = WHO_IS.match(question)  # the name in lower case: capitalised ones are found above
    if match is None:
        return []
    words = match.group(1).split()
    if any(w in STOPWORDS_EN or POSSESSIVE.search(w) for w in words):
        return []
    return [part for w in words for part in w.split("-") if len(part) >= 3]


def unknown_names(question: str, lexicon: Lexicon) -> int:
    """Names of the question that no article mentions, as written or in a form of its
    own: an abbreviation (the articles may spell it out another way: "USSR", "WWII")
    or a word made from one of the articles' names ("Crimean", "Italians")."""
    if not lexicon.words:
        return 0
    return sum(not _mentioned(name, lexicon) for name in question_names(question))


def _mentioned(name: str, lexicon: Lexicon) -> bool:
    folded = name.casefold()
    if folded in lexicon.words or ABBREVIATION.match(name):
        return True
    stems = (folded.removesuffix(end) for end in DERIVED_ENDINGS if folded.endswith(end))
    return any(len(stem) >= 4 and stem in lexicon.names for stem in stems)


@dataclass(frozen=True)
class Question:
    """What the features need of the question, worked out once per question."""

    text: str
    vector: np.ndarray
    weights: dict[int, float]  # by term key
    kind: str | None
    numbers: frozenset[str]
    unknown_names: int

    @classmethod
    def of(cls, text: str, vector: np.ndarray, retriever: Retriever) -> Question:
        return cls(
            text,
            vector,
            retriever.weights(text),
            asked_kind(text),
            frozenset(n.rstrip(".,") for n in NUMBER.findall(text)),
            unknown_names(text, retriever.index.lexicon),
        )


def features(
    question: Question, passage: Passage, sentence: Sentence, previous: Sentence | None = None
) -> tuple[float, ...]:
    """The FEATURES of one candidate sentence (`previous`: the sentence before it in
    its passage, if any)."""
    text = passage.chunk.text[sentence.start : sentence.end]
    similar = float(sentence.vector @ question.vector) if sentence.vector is not None else 0.0
    kinds = typed_spans(question.text, text) if question.kind else None
    missing = sum(n not in passage.chunk.text for n in question.numbers)
    coverage = share(sentence.terms, question.weights)
    with_previous = share(sentence.terms | previous.terms, question.weights) if previous else 0.0
    return (
        passage.score,
        similar,
        coverage,
        float(bool(kinds)),
        float(question.unknown_names),
        float(missing),
        max(with_previous - coverage, 0.0),
    )
