"""The reranker's training (training/rerank.py): a question's group is the
evidence's best candidates as the answerer sees them, with the ones that hold a
gold answer marked; the listwise loss is low when the gold sentence scores highest
and high when another does; the fold figures compare the evidence's choice with
the reranked one. Fast tier: the answerer over the hashing-embedder index."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from training.rerank import Group, groups_of, validate

ROWS = [
    {"article": "iss", "question": "How long was Mir in orbit?", "answers": ["15 years"]},
    {"article": "iss", "question": "When was the station launched?", "answers": ["1998"]},
    {"article": "iss", "question": "Who is the mayor of Paris?", "answers": []},
    {"article": "iss", "question": "What colour is it?", "answers": ["mauve"]},
]


def test_a_group_is_the_evidences_best_candidates_with_the_gold_ones_marked(
    fast_answerer,
) -> None:
    groups = groups_of(fast_answerer, ROWS, top=4)
    assert [g.question for g in groups] == [row["question"] for row in ROWS]
    assert [g.kind for g in groups] == ["answer", "answer", "unanswerable", "answer"]
    for group, answer in zip(groups, ("15 years", "1998", "", "mauve"), strict=True):
        assert len(group.sentences) == len(group.gold) == len(group.evidence) == 4
        assert list(group.evidence) == sorted(group.evidence, reverse=True)
        assert group.gold == tuple(bool(answer) and answer in s for s in group.sentences)
    # no candidate holds "mauve": that one teaches nothing; the unanswerable one does
    assert [g.teaches for g in groups] == [True, True, True, False]
    assert [g.answerable for g in groups] == [True, True, False, True]


def test_the_listwise_loss_is_low_when_the_gold_sentence_scores_highest() -> None:
    import torch

    from training.rerank import listwise_loss

    none = torch.tensor(-10.0)  # "none of them" all but ruled out
    group = Group("a", "q", ("x", "y", "z"), (1.0, 0.9, 0.8), (False, True, False))
    right = listwise_loss(torch.tensor([0.0, 3.0, 0.0]), [group], none)
    wrong = listwise_loss(torch.tensor([3.0, 0.0, 0.0]), [group], none)
    assert float(right) < 0.2 < 2.0 < float(wrong)
    two = Group("a", "q", ("x", "y"), (1.0, 0.9), (True, True))  # both hold it
    assert float(listwise_loss(torch.tensor([5.0, 5.0]), [two], none)) == pytest.approx(
        0.6931, 1e-3
    )


def test_for_a_question_the_articles_do_not_answer_the_loss_wants_none() -> None:
    import torch

    from training.rerank import listwise_loss

    unanswerable = Group("a", "q", ("x", "y"), (1.0, 0.9), (False, False), "swapped")
    sure = listwise_loss(torch.tensor([0.0, 0.0]), [unanswerable], torch.tensor(5.0))
    fooled = listwise_loss(torch.tensor([5.0, 0.0]), [unanswerable], torch.tensor(0.0))
    assert float(sure) < 0.02 < 5.0 < float(fooled)
    answerable = Group("a", "q", ("x", "y"), (1.0, 0.9), (True, False))
    # an answerable question wants its sentence above "none" as well as above the rest
    above = listwise_loss(torch.tensor([5.0, 0.0]), [answerable], torch.tensor(0.0))
    below = listwise_loss(torch.tensor([5.0, 0.0]), [answerable], torch.tensor(8.0))
    assert float(above) < 0.02 < 3.0 < float(below)


def test_each_answerable_question_comes_with_what_is_made_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chat-style copy keeps its answers; one with a swapped name or asked otherwise
    has none; SQuAD 2.0's unanswerable questions come as they are."""
    from tests.test_training_data import COMET, HARBOUR, question
    from training.rerank import MADE_SHARES, questions_to_ask

    folder = tmp_path / "squad-v1.1-dev"
    (folder / "articles").mkdir(parents=True)
    (folder / "articles" / "001-Harbour.txt").write_text(HARBOUR)
    (folder / "articles" / "002-Comet.txt").write_text(COMET)
    rows = [
        question("h1", "001-Harbour", "When did the harbour bridge open?", "1932", HARBOUR, 0),
        question("h2", "001-Harbour", "What job did Paul Hogan do on it?", "rigger", HARBOUR, 1),
        question("h3", "001-Harbour", "How much did the bridge cost?", "", HARBOUR, 0),
        question("c1", "002-Comet", "Where was Comet Tsuchinshan seen?", "Chile", COMET, 0),
    ]
    (folder / "questions-all.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for kind in MADE_SHARES:
        monkeypatch.setitem(MADE_SHARES, kind, 1.0)
    asked = questions_to_ask(
        folder, "squad-v1.1-dev", {"001-Harbour", "002-Comet"}, random.Random(0)
    )
    kinds = [(row["article"], row.get("kind"), row["answers"]) for row in asked]
    assert kinds == [
        ("001-Harbour", None, ["1932"]),
        ("001-Harbour", "chat", ["1932"]),
        ("001-Harbour", "asked", []),  # no name or year of its own to swap
        ("001-Harbour", None, ["rigger"]),
        ("001-Harbour", "chat", ["rigger"]),
        ("001-Harbour", "swapped", []),  # no plain word of four letters to swap
        ("001-Harbour", None, []),  # unanswerable: nothing made of it
        ("002-Comet", None, ["Chile"]),
        ("002-Comet", "chat", ["Chile"]),
        ("002-Comet", "swapped", []),
        ("002-Comet", "asked", []),
    ]
    made = {row["question"] for row in asked if row.get("kind")}
    assert len(made) == 7 and not made & {row["question"] for row in rows}
    assert "Comet" in asked[5]["question"] or "Tsuchinshan" in asked[5]["question"]
    monkeypatch.setitem(MADE_SHARES, "chat", 0.0)
    again = questions_to_ask(folder, "squad-v1.1-dev", {"001-Harbour"}, random.Random(0))
    # one article alone: no foreign name or word to swap in, and no chat copies asked for
    assert [row.get("kind") for row in again] == [None, None, None]


def test_the_fold_figures_compare_the_evidence_with_the_reranked_choice() -> None:
    import numpy as np

    groups = [
        Group("a", "q1", ("x", "y"), (1.0, 0.9), (False, True)),
        Group("a", "q2", ("x", "y"), (1.0, 0.9), (True, False)),
    ]
    scores = [np.array([0.0, 1.0]), np.array([0.0, 1.0])]  # prefers y both times
    report = validate(groups, scores)
    assert report["evidence"] == 0.5 and report["questions"] == 2
    assert report["weight 0.05"] == 0.5  # 0.05 does not overturn a 0.1 lead
    assert report["weight 0.2"] == 0.5 and report["weight 1.0"] == 0.5
    scores = [np.array([0.0, 1.0]), np.array([1.0, 0.0])]  # right both times
    assert validate(groups, scores)["weight 0.2"] == 1.0


def test_the_doubt_weight_and_threshold_are_fitted_to_abstain_most_within_the_wrongly_allowed() -> (
    None
):
    """Unanswerable questions whose evidence looks as good as the answerable ones',
    but whose sentences the reranker scores far below "none": only its doubt can
    tell them apart, so a weight above zero is chosen, with the threshold that
    abstains on no more of the answerable ones than allowed."""
    import numpy as np

    from bot.answer.rerank import doubt
    from training.rerank import fit_abstention

    def row(kind: str, evidence: float, score: float) -> dict:
        return {"kind": kind, "evidence": [evidence, evidence - 0.1], "gold": [kind == "answer",
                False], "scores": [score, score - 1.0], "none": 0.0}  # fmt: skip

    answerable = [row("answer", 1.0 + i / 100, 2.0) for i in range(100)]
    unanswerable = [row("swapped", 1.0 + i / 100, -3.0) for i in range(50)]
    asked = [row("asked", 1.0 + i / 100, 3.0) for i in range(50)]  # it is fooled by these
    fitted = fit_abstention(answerable + unanswerable + asked, wrongly=0.05)
    assert fitted["doubt_weight"] > 0 and fitted["swapped"] == 1.0 and fitted["asked"] <= 0.1
    assert fitted["abstained"] == pytest.approx((fitted["swapped"] + fitted["asked"]) / 2)
    evidence_alone = fitted["tried"][0]
    assert (
        evidence_alone["doubt_weight"] == 0.0 and evidence_alone["abstained"] == 0.1
    )  # 5 + 5 of 100
    assert evidence_alone["threshold"] == pytest.approx(1.05)  # 5 of 100 below it
    for tried in fitted["tried"]:  # each threshold keeps to the answerable questions allowed
        confidences = [
            max(r["evidence"]) - tried["doubt_weight"] * doubt(np.array(r["scores"]), r["none"])
            for r in answerable
        ]
        assert sum(c < tried["threshold"] for c in confidences) <= 5
