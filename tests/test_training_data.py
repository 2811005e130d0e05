"""The reader's training data (training/data.py), on a hand-made copy of the shared
folder's layout: labels come from where the gold answers start, held-out articles
give nothing, and questions made unanswerable have no positive. Fast tier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.data import build, fold_of, main

HARBOUR = (
    "The harbour bridge opened in 1932. It took eight years to build.\n\n"
    "Its arch is made of steel. Paul Hogan worked on it as a rigger."
)
COMET = "Comet Tsuchinshan was seen in 2024. Astronomers in Chile photographed it."
HELD_OUT = "The orchard festival drew a record crowd. Apples sold out by noon."


def question(qid: str, article: str, text: str, answer: str, body: str, paragraph: int) -> dict:
    start = body.index(answer) if answer else None
    return {
        "id": qid,
        "article": article,
        "question": text,
        "answers": [answer] if answer else [],
        "answer_starts": [start] if answer else [],
        "context_paragraph_index": paragraph,
        "is_impossible": not answer,
    }


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """train/split.json and eval/squad-v1.1-dev as the shared folder lays them out."""
    root = tmp_path / "a-copy-of-its-layout"
    (root / "train").mkdir(parents=True)
    split = {"squad-v1.1-dev": {"train": ["001-Harbour", "002-Comet"], "held_out": ["003-Orchard"]}}
    (root / "train" / "split.json").write_text(json.dumps(split))
    folder = root / "eval" / "squad-v1.1-dev"
    (folder / "articles").mkdir(parents=True)
    bodies = {"001-Harbour": HARBOUR, "002-Comet": COMET, "003-Orchard": HELD_OUT}
    for name, body in bodies.items():
        (folder / "articles" / f"{name}.txt").write_text(body)
    rows = [
        question("h1", "001-Harbour", "When did the harbour bridge open?", "1932", HARBOUR, 0),
        question("h2", "001-Harbour", "What job did Paul Hogan do on it?", "rigger", HARBOUR, 1),
        question("h3", "001-Harbour", "How much did the bridge cost?", "", HARBOUR, 0),
        question(
            "c1",
            "002-Comet",
            "Where did astronomers photograph Comet Tsuchinshan?",
            "Chile",
            COMET,
            0,
        ),
        question("o1", "003-Orchard", "When did apples sell out?", "noon", HELD_OUT, 0),
    ]
    (folder / "questions-all.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_positives_are_the_sentences_holding_the_answer(shared: Path) -> None:
    pairs = [p for p in build(shared) if p.question_id == "h1"]
    assert [(p.sentence, p.label, p.kind) for p in pairs] == [
        ("The harbour bridge opened in 1932.", 1, "answer"),
        ("It took eight years to build.", 0, "paragraph"),
    ]
    assert pairs[1].previous == "The harbour bridge opened in 1932."
    assert {p.title for p in pairs} == {"Harbour"}
    second = [p for p in build(shared) if p.question_id == "h2"]
    assert [p.label for p in second] == [0, 1]  # in its own paragraph, the second


def test_an_unanswerable_question_has_no_positive(shared: Path) -> None:
    pairs = [p for p in build(shared) if p.question_id == "h3"]
    assert len(pairs) == 2 and {(p.label, p.kind) for p in pairs} == {(0, "unanswerable")}


def test_a_swapped_name_question_has_no_positive_and_a_name_the_article_lacks(
    shared: Path,
) -> None:
    """Comet's question names Tsuchinshan and Chile; swapped for a name asked about in
    another training article (Paul Hogan's), it is unanswerable from its paragraph."""
    made = [p for p in build(shared) if p.question_id == "c1:swapped"]
    assert made and {(p.label, p.kind) for p in made} == {(0, "swapped")}
    text = made[0].question
    assert text != "Where did astronomers photograph Comet Tsuchinshan?"
    assert any(name in text for name in ("Paul", "Hogan"))
    assert not any(name in COMET for name in ("Paul", "Hogan"))


def test_each_answerable_question_comes_again_as_people_type_it(shared: Path) -> None:
    pairs = list(build(shared))
    original = [p for p in pairs if p.question_id == "c1"]
    typed = [p for p in pairs if p.question_id == "c1:chat"]
    assert [p.label for p in typed] == [p.label for p in original]
    assert {p.wording for p in typed} == {"chat"} and {p.wording for p in original} == {"squad"}
    question = typed[0].question
    assert question == question.lower() and not question.endswith("?")
    assert len(question.split()) < len(original[0].question.split())  # shared words dropped
    assert not [p for p in pairs if p.question_id == "h3:chat"]  # unanswerable: as it is


def test_held_out_articles_give_nothing_and_folds_are_by_article(shared: Path) -> None:
    pairs = list(build(shared))
    assert {p.article for p in pairs} == {"001-Harbour", "002-Comet"}
    assert all(p.fold == fold_of(p.article) for p in pairs)
    assert [p.question for p in build(shared, seed=0)] == [p.question for p in pairs]


def test_the_command_writes_one_pair_a_line(shared: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "pairs.jsonl"
    assert main([str(out), "--shared", str(shared)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    counts = json.loads(capsys.readouterr().out)
    assert len(rows) == sum(counts.values()) and counts["answer"] == 6  # 3, and as typed
    assert {"question", "sentence", "previous", "title", "label", "kind", "fold"} <= set(rows[0])


def test_models_are_fitted_on_training_questions_and_their_chat_copies(
    shared: Path,
) -> None:
    from training.data import training_questions

    rows = training_questions(shared)["squad-v1.1-dev"]
    assert {r["article"] for r in rows} == {"001-Harbour", "002-Comet"}  # never 003
    by_id: dict[str, list[dict]] = {}
    for row in rows:
        by_id.setdefault(row["id"], []).append(row)
    assert {k: len(v) for k, v in by_id.items()} == {"h1": 2, "h2": 2, "h3": 1, "c1": 2}
    squad, chat = by_id["h1"]
    assert squad["question"] == "When did the harbour bridge open?"
    assert chat["question"] != squad["question"] and chat["answers"] == ["1932"]
    assert chat["answerable"] and not by_id["h3"][0]["answerable"]
    assert chat["wording"] == "chat" and "wording" not in squad


def test_a_sample_of_the_training_questions_keeps_each_with_its_chat_copy(
    shared: Path,
) -> None:
    from training.data import training_questions
    from training.weighing import evenly_spaced

    rows = training_questions(shared)["squad-v1.1-dev"]  # h1 h1' h2 h2' h3 c1 c1'
    sample = evenly_spaced(rows, 4)  # 7 rows: every second question
    assert [r["id"] for r in sample] == ["h1", "h1", "h3"]
    assert evenly_spaced(rows, None) == rows
