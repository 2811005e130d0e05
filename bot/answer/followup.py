"""Follow-up questions in a conversation: "which countries built it?" is read with
the question before it, and the articles already cited are preferred.

A question leans on the one before it when it refers back ("it", "they", "that
year") or has too few words of its own to be searched alone. Then the topic of
the earlier question (its names, "the International Space Station", else its
content words) takes the place of the first pronoun ("which countries built the
International Space Station?"), or is appended when there is none to replace, for
retrieval and for the evidence. Only the topic: the earlier question's own ask
("when ... launched") would pull the follow-up back to the earlier answer. The
answer is still a verified quote, and abstention still applies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.answer.records import Answer
from bot.answer.signals import question_names

PRONOUNS = ("it", "they", "them", "this", "that", "these", "those", "he", "him", "she")
POSSESSIVES = ("its", "their", "his", "her")
# Words that refer back without standing for the topic themselves.
OTHER_BACK_REFERENCES = (
    "theirs",
    "there",
    "then",
    "the same",
    "the other",
    "also",
    "else",
    "instead",
)


def any_of(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"\b({'|'.join(words)})\b", re.IGNORECASE)


PRONOUN = any_of(PRONOUNS)
POSSESSIVE = any_of(POSSESSIVES)
REFERS_BACK = any_of(PRONOUNS + POSSESSIVES + OTHER_BACK_REFERENCES)
WORD = re.compile(r"[\w'\u2019-]+")
OWN_TERMS_MIN = 2  # fewer content words than this cannot stand alone
EARLIER_QUESTIONS_KEPT = 3
CONTEXT_CHARS_MAX = 300


@dataclass(frozen=True)
class Conversation:
    """What a thread asked (as read) and cited before, to read a follow-up by."""

    questions: tuple[str, ...] = ()
    article_ids: frozenset[str] = frozenset()

    def after(self, answer: Answer) -> Conversation:
        """This conversation with one more question and the articles its answer cited."""
        asked = answer.read_as or answer.question
        return Conversation(
            (*self.questions, asked)[-EARLIER_QUESTIONS_KEPT:],
            self.article_ids | {p.article.id for p in answer.sources},
        )


def leans_on_earlier(question: str, terms: Callable[[str], set[str]]) -> bool:
    """Does the question refer back, or have too few words of its own to be searched alone?"""
    return bool(REFERS_BACK.search(question)) or len(terms(question)) < OWN_TERMS_MIN


def read_in_context(
    question: str, conversation: Conversation | None, terms: Callable[[str], set[str]]
) -> str:
    """The question as retrieval reads it: in a follow-up, the topic of the latest
    earlier question (itself already read in its context) stands for the first
    pronoun, or is appended."""
    if not conversation or not conversation.questions or not leans_on_earlier(question, terms):
        return question
    about = topic(conversation.questions[-1], terms)
    for pattern, replacement in ((PRONOUN, f"the {about}"), (POSSESSIVE, f"the {about}'s")):
        read, replaced = pattern.subn(replacement, question, count=1)
        if replaced:
            return read
    return f"{question} {about}"


def topic(question: str, terms: Callable[[str], set[str]]) -> str:
    """What a question is about: its names, in order and once each, else its content
    words ("harbour bridge cost"); at most CONTEXT_CHARS_MAX characters."""
    words = question_names(question) or [w for w in WORD.findall(question) if terms(w)]
    return " ".join(dict.fromkeys(words))[:CONTEXT_CHARS_MAX]
