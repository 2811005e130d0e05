"""Highlighting the part of an answer that was asked for (bot/answer/highlight.py)."""

from __future__ import annotations

import pytest

from bot.answer.answerer import Answerer
from bot.answer.highlight import answer_span, asked_kind


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When was the International Space Station launched?", "1998"),
        ("How long was Mir in orbit?", "15 years"),
        ("When does Russia plan to build its own orbiting station?", "2025"),
    ],
)
def test_the_asked_for_part_is_highlighted(
    answerer: Answerer, question: str, expected: str
) -> None:
    answer = answerer.answer(question)
    assert answer.highlight is not None
    start, end = answer.highlight
    assert answer.text[start:end] == expected
    assert answer.marked("**").count(f"**{expected}**") == 1
    assert answer.marked("**").replace("**", "") == answer.text  # nothing else changed


def test_no_highlight_when_ambiguous_or_not_asked() -> None:
    assert asked_kind("What now threatens the work?") is None
    assert (
        answer_span("Who criticised it?", "Officials said Biden and Putin both spoke.") is None
    )  # two names
    assert answer_span("How many stalls?", "It has sixty stalls.") is None  # no digit, no unit
    assert answer_span("How many visitors came?", "A record 18,000 visitors came.") == (9, 15)
    assert answer_span("Where did it open?", "It opened in Kettering Vale last week.") == (13, 27)
    assert answer_span("Where did it open?", "It opened in Kettering Vale on Monday.") is None
