"""How often the part of an answer shown in bold is the gold answer.

    python bench/highlight.py QUESTIONS.jsonl --index-dir DIR

Answers every answerable question of the set (the format of ../shared/eval) from
the index at DIR with the shipped settings, and counts the answers given, those
with a highlight, and those whose highlight is a gold answer or lies within one
(after SQuAD's normalisation). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.answer.evaluation import normalise_answer, read_questions
from bot.settings import load_settings
from bot.wiring import load_index, make_answerer, make_embedder


def highlight_is_gold(highlight: str, answers: list[str]) -> bool:
    """Whether the highlight is one of the gold answers, or part of one, or holds one."""
    shown = normalise_answer(highlight)
    golds = [normalise_answer(a) for a in answers]
    return any(g and shown and (g in shown or shown in g) for g in golds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index-dir", type=Path, required=True)
    args = parser.parse_args()
    settings = load_settings()
    index = load_index(settings, make_embedder(settings), args.index_dir)
    answerer = make_answerer(settings, index)
    answered = highlighted = right = 0
    for question in read_questions(args.questions):
        if not question.answerable:
            continue
        answer = answerer.answer(question.question)
        if answer.abstained:
            continue
        answered += 1
        if answer.highlight is not None:
            highlighted += 1
            start, end = answer.highlight
            right += highlight_is_gold(answer.text[start:end], question.answers)
    precision = round(right / highlighted, 3) if highlighted else None
    print(
        json.dumps(
            {
                "answered": answered,
                "highlighted": highlighted,
                "highlight_is_gold": right,
                "precision": precision,
            }
        )
    )


if __name__ == "__main__":
    main()
