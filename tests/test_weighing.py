"""Fitting the reader's weighing (training/weighing.py) on rows made here: the fit
finds the feature that marks the answering sentence on articles left out of it,
and the threshold is the point that abstains on the asked share of answerable
questions. Fast tier."""

from __future__ import annotations

import random

import numpy as np

from training.weighing import Scored, decide, figures, fit, folded, threshold_at


def rows(count: int, seed: int = 0) -> list[Scored]:
    """Questions of 5 candidates each over 20 articles; column 0 is high on the
    answering sentence, column 1 is noise; every fourth question has no answer."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        answerable = n % 4 != 0
        gold = np.zeros(5, dtype=bool)
        if answerable:
            gold[rng.randrange(5)] = True
        marked = np.where(gold, 1.0, 0.0) + np.array([rng.gauss(0, 0.2) for _ in range(5)])
        noise = np.array([rng.gauss(0, 1) for _ in range(5)])
        out.append(Scored(f"article-{n % 20}", answerable, np.column_stack([marked, noise]), gold))
    return out


def test_the_fit_finds_the_answering_sentence_on_unseen_articles() -> None:
    found = folded(rows(400), [0, 1])
    assert len(found) == 400
    assert figures(found, threshold_at(found, 0.05))["best_sentence_right"] > 0.95
    weights, _ = fit(rows(400), [0, 1])
    assert weights[0] > 5 * abs(weights[1])
    only_noise = folded(rows(400), [1])  # without the marking feature: about chance
    assert figures(only_noise, 0.0)["best_sentence_right"] < 0.4


def test_the_threshold_abstains_on_the_asked_share_of_answerable_questions() -> None:
    decisions = [(True, c / 100, True) for c in range(100)] + [(False, 0.001, False)] * 10
    threshold = threshold_at(decisions, 0.05)
    assert threshold == 0.05
    result = figures(decisions, threshold)
    assert result["answerable_wrongly_abstained"] == 0.05
    assert result["unanswerable_abstained"] == 1.0
    assert result["answer_accuracy"] == 0.95


def test_a_decision_is_the_best_candidate_and_its_probability() -> None:
    row = Scored("a", True, np.array([[0.0], [2.0], [1.0]]), np.array([False, True, False]))
    ((answerable, confidence, right),) = decide([row], [0], np.array([1.0]), 0.0)
    assert answerable and right and confidence == 1 / (1 + np.exp(-2.0))
