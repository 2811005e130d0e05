"""The reranker's training (training/rerank.py): a question's group is the
evidence's best candidates as the answerer sees them, with the ones that hold a
gold answer marked; the listwise loss is low when the gold sentence scores highest
and high when another does; the fold figures compare the evidence's choice with
the reranked one, on a fold held out of training whole. Fast tier: the answerer
over the hashing-embedder index."""

from __future__ import annotations

import pytest

from training.data import fold_of
from training.rerank import Group, groups_of, split_by_fold, validate

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
    # the unanswerable question and the one whose answer no candidate holds teach nothing
    assert [g.question for g in groups] == [ROWS[0]["question"], ROWS[1]["question"]]
    for group, answer in zip(groups, ("15 years", "1998"), strict=True):
        assert len(group.sentences) == len(group.gold) == len(group.evidence) == 4
        assert list(group.evidence) == sorted(group.evidence, reverse=True)
        assert group.gold == tuple(answer in s for s in group.sentences) and any(group.gold)
        assert group.wording == "squad"
    typed = groups_of(fast_answerer, [{**ROWS[1], "wording": "chat"}], top=4)
    assert [g.wording for g in typed] == ["chat"]  # its figures are given apart


def test_the_listwise_loss_is_low_when_the_gold_sentence_scores_highest() -> None:
    import torch

    from training.rerank import listwise_loss

    group = Group("a", "q", ("x", "y", "z"), (1.0, 0.9, 0.8), (False, True, False))
    right = listwise_loss(torch.tensor([0.0, 3.0, 0.0]), [group])
    wrong = listwise_loss(torch.tensor([3.0, 0.0, 0.0]), [group])
    assert float(right) < 0.2 < 2.0 < float(wrong)
    two = Group("a", "q", ("x", "y"), (1.0, 0.9), (True, True))  # both hold it
    assert float(listwise_loss(torch.tensor([5.0, 5.0]), [two])) == pytest.approx(0.6931, 1e-3)


def test_the_fold_figures_compare_the_evidence_with_the_reranked_choice() -> None:
    import numpy as np

    groups = [
        Group("a", "q1", ("x", "y"), (1.0, 0.9), (False, True)),
        Group("a", "q2", ("x", "y"), (1.0, 0.9), (True, False)),
    ]
    scores = [np.array([0.0, 1.0]), np.array([0.0, 1.0])]  # prefers y both times
    report = validate(groups, scores)["squad"]
    assert report["evidence"] == 0.5 and report["questions"] == 2
    assert report["weight 0.05"] == 0.5  # 0.05 does not overturn a 0.1 lead
    assert report["weight 0.2"] == 0.5 and report["weight 1.0"] == 0.5
    scores = [np.array([0.0, 1.0]), np.array([1.0, 0.0])]  # right both times
    assert validate(groups, scores)["squad"]["weight 0.2"] == 1.0


def test_the_fold_figures_are_given_for_each_wording_apart() -> None:
    import numpy as np

    squad = Group("a", "q1", ("x", "y"), (1.0, 0.9), (False, True))
    chat = Group("a", "q1 typed", ("x", "y"), (1.0, 0.9), (True, False), "chat")
    report = validate([squad, chat], [np.array([0.0, 1.0])] * 2)  # prefers y both times
    assert report["squad"] == {**report["squad"], "questions": 1, "weight 1.0": 1.0}
    assert report["chat"] == {**report["chat"], "questions": 1, "weight 1.0": 0.0}
    assert report["squad"]["evidence"] == 0.0 and report["chat"]["evidence"] == 1.0


def test_a_held_out_fold_is_never_trained_on() -> None:
    articles = [f"{n:03d}-Article" for n in range(20)]
    groups = [Group(a, f"q{i}", ("x",), (1.0,), (True,)) for a in articles for i in range(2)]
    trained_on, held = split_by_fold(groups, 0)
    assert held and trained_on and len(held) + len(trained_on) == len(groups)
    assert {fold_of(g.article) for g in held} == {0}
    assert 0 not in {fold_of(g.article) for g in trained_on}
    assert split_by_fold(groups, None) == (groups, [])


@pytest.mark.model
def test_a_few_training_steps_lower_the_loss() -> None:
    """Trained a few steps from the shipped encoder (a fixed seed, no warm-up), the
    model reads these groups better than it did before: the loss falls."""
    import torch

    from training.rerank import cross_encoder, encode, listwise_loss, tokenizer, train

    sentences = (
        "Mir was a modular space station that stayed in orbit for 15 years.",
        "The station was launched in 1998 by five partners.",
        "Roscosmos has begun work on the first base unit.",
        "The weather in Moscow was cold that week.",
    )
    asked = ("How long was Mir in orbit?", "When was the station launched?",
             "What has Roscosmos begun work on?", "What was the weather like?")  # fmt: skip
    groups = [
        Group("iss", q, sentences, (1.0, 0.9, 0.8, 0.7), tuple(i == n for i in range(4)))
        for n, q in enumerate(asked)
    ]
    tokens = tokenizer()

    def loss_of(model) -> float:
        with torch.no_grad():
            return float(listwise_loss(model(**encode(tokens, groups)), groups))

    torch.manual_seed(0)  # as train() starts: the same head before training
    before = loss_of(cross_encoder().eval())
    trained, _ = train(groups, epochs=3, seed=0, warmup=1)  # three steps of four groups
    assert loss_of(trained) < 0.95 * before
