"""Measuring retrieval and answers on question sets with gold answers
(format: ../shared/eval/README.md), for `articlebot eval` and the benchmarks.

A passage or an answer "contains" a gold answer when the normalised gold
string is a substring of the normalised text (the SQuAD normalisation).
"""

from __future__ import annotations

import copy
import json
import math
import re
import string
import time
from dataclasses import dataclass
from pathlib import Path

from bot.answer.answerer import Answerer
from bot.errors import QuestionError

# (row name, retrieval mode, rerank): plain baselines, fusion alone, and what answers use
RETRIEVERS = (
    ("bm25", "bm25", False),
    ("dense", "dense", False),
    ("hybrid", "hybrid", False),
    ("hybrid+rerank", "hybrid", True),
)
PUNCTUATION = str.maketrans("", "", string.punctuation)
ARTICLES = re.compile(r"\b(a|an|the)\b")


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    answers: list[str]
    answerable: bool


def normalise_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation or articles, single spaces."""
    text = ARTICLES.sub(" ", text.lower().translate(PUNCTUATION))
    return " ".join(text.split())


def contains_gold(text: str, answers: list[str]) -> bool:
    haystack = normalise_answer(text)
    return any(normalise_answer(a) and normalise_answer(a) in haystack for a in answers)


def read_questions(path: Path) -> list[GoldQuestion]:
    questions = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answers = [a for a in row.get("answers", []) if a]
            answerable = bool(row.get("answerable", bool(answers))) and bool(answers)
            questions.append(
                GoldQuestion(str(row.get("id", n)), row["question"], answers, answerable)
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}, line {n}: not a question record ({exc})") from None
    if not questions:
        raise ValueError(f"{path} holds no questions")
    return questions


def retrieval_metrics(
    answerer: Answerer, questions: list[GoldQuestion], mode: str, k: int, rerank: bool = True
) -> dict:
    """hit@1/3/5 and MRR (over the top max(k, 5)) for the answerable questions."""
    depth = max(k, 5)
    ranks = []
    for q in questions:
        passages = answerer.search(q.question, depth, mode, rerank)
        ranks.append(
            next((p.rank for p in passages if contains_gold(p.chunk.text, q.answers)), None)
        )
    n = max(1, len(ranks))
    return {
        "hit@1": sum(r is not None and r <= 1 for r in ranks) / n,
        "hit@3": sum(r is not None and r <= 3 for r in ranks) / n,
        "hit@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "mrr": sum(1 / r for r in ranks if r) / n,
    }


@dataclass(frozen=True)
class GoldResult:
    """One question, answered without a threshold: what abstention decides on."""

    answerable: bool
    confidence: float
    correct: bool  # the answer, had it been given, holds a gold answer
    chars: int


def outcomes(answerer: Answerer, questions: list[GoldQuestion], k: int) -> list[GoldResult]:
    """Every question answered as if min_score were -inf (abstention is a threshold on
    the confidence, so every threshold's results follow from this one run)."""
    never_abstains = copy.copy(answerer)
    never_abstains.config = answerer.config.model_copy(update={"min_score": -math.inf})
    found = []
    for q in questions:
        try:
            answer = never_abstains.answer(q.question, k)
        except QuestionError:
            continue
        correct = q.answerable and contains_gold(answer.text, q.answers)
        found.append(GoldResult(q.answerable, answer.confidence, correct, len(answer.text)))
    return found


def at_threshold(found: list[GoldResult], min_score: float) -> dict:
    """The answer metrics had abstention been `confidence < min_score`."""
    answerable = [o for o in found if o.answerable]
    unanswerable = [o for o in found if not o.answerable]
    answered = [o for o in found if o.confidence >= min_score]
    wrongly = sum(o.confidence < min_score for o in answerable)
    rightly = sum(o.confidence < min_score for o in unanswerable)
    return {
        "answer_accuracy": sum(o.correct for o in answered) / max(1, len(answerable)),
        "mean_answer_chars": sum(o.chars for o in answered) / max(1, len(answered)),
        "unanswerable_abstained": rightly / len(unanswerable) if unanswerable else None,
        "answerable_wrongly_abstained": wrongly / max(1, len(answerable)),
        "abstention_precision": rightly / (rightly + wrongly) if rightly + wrongly else None,
    }


def abstention_curve(found: list[GoldResult], points: int = 9) -> list[dict]:
    """The trade-off an operator chooses `min_score` on: unanswerable questions
    abstained against answerable ones wrongly abstained, at thresholds that wrongly
    abstain on 0 %, 1 %, 2 %, 5 %, 10 %... of the answerable questions (each threshold
    once: on a small set several shares fall on the same one)."""
    scores = sorted(o.confidence for o in found if o.answerable)
    shares = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7)[:points]
    if not scores:
        return []
    thresholds = sorted({scores[min(len(scores) - 1, int(s * len(scores)))] for s in shares})
    return [{"min_score": round(t, 4), **at_threshold(found, t)} for t in thresholds]


def answer_metrics(answerer: Answerer, questions: list[GoldQuestion], k: int) -> dict:
    started = time.perf_counter()
    found = outcomes(answerer, questions, k)
    seconds = time.perf_counter() - started
    return {
        **at_threshold(found, answerer.threshold),
        "ms_per_question": 1000 * seconds / max(1, len(questions)),
        "abstention_curve": abstention_curve(found),
    }


def evaluate(answerer: Answerer, questions: list[GoldQuestion], k: int = 5) -> dict:
    """Retrieval for each mode side by side, and answers with the configured mode."""
    answerable = [q for q in questions if q.answerable]
    return {
        "questions": len(questions),
        "answerable": len(answerable),
        "retrieval_mode": answerer.retrieval.retrieval_mode.value
        + ("+rerank" if answerer.retrieval.rerank_weight else ""),
        "retrieval": {
            name: retrieval_metrics(answerer, answerable, mode, k, rerank)
            for name, mode, rerank in RETRIEVERS
        },
        **answer_metrics(answerer, questions, k),
    }


def format_report(result: dict) -> str:
    lines = [
        f"{result['questions']} questions ({result['answerable']} answerable)",
        "",
        f"{'retrieval':<14} {'hit@1':>7} {'hit@3':>7} {'hit@5':>7} {'MRR':>7}",
    ]
    for mode, m in result["retrieval"].items():
        mark = " *" if mode == result["retrieval_mode"] else ""
        figures = " ".join(f"{m[key]:>7.3f}" for key in ("hit@1", "hit@3", "hit@5", "mrr"))
        lines.append(f"{mode:<14} {figures}{mark}")

    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines += [
        "",
        f"answer accuracy              {result['answer_accuracy']:.3f}",
        f"mean answer length           {result['mean_answer_chars']:.0f} characters",
        f"unanswerable abstained       {share(result['unanswerable_abstained'])}",
        f"answerable wrongly abstained {result['answerable_wrongly_abstained']:.3f}",
        f"abstention precision         {share(result['abstention_precision'])}",
        f"time per question            {result['ms_per_question']:.1f} ms",
        "",
        "abstention trade-off (set min_score to choose a point)",
        f"{'min_score':>9} {'unanswerable abstained':>23} {'answerable wrongly abstained':>29}"
        f" {'accuracy':>9}",
    ]
    for row in result["abstention_curve"]:
        lines.append(
            f"{row['min_score']:>9.3f} {share(row['unanswerable_abstained']):>23}"
            f" {row['answerable_wrongly_abstained']:>29.3f} {row['answer_accuracy']:>9.3f}"
        )
    return "\n".join(lines)
