"""A question as the core takes it: cleaned, and refused or shortened with a note."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import QuestionError
from index.sources.articles import normalise_text

WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class PreparedQuestion:
    """A question as the answerer reads it: cleaned, perhaps shortened, with notes
    for the asker (signals.Question is what the evidence knows of it)."""

    text: str
    notes: list[str]


def prepare_question(raw: str, max_chars: int) -> PreparedQuestion:
    """Clean a question; an empty one is refused, an over-long one shortened with a note."""
    text = " ".join(normalise_text(raw).split())
    if not text or not WORD.search(text):
        raise QuestionError("the question is empty; ask something about the articles")
    notes = []
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] or text[:max_chars]
        notes.append(
            f"Your question was long, so only its first {len(text):,} characters were used."
        )
    return PreparedQuestion(text, notes)
