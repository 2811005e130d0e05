"""Measuring answers on gold questions (bot/answer/evaluation.py, `articlebot eval`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.answer.evaluation import contains_gold, normalise_answer
from bot.cli import main
from index.storage.layout import read_current

FIXTURES = Path(__file__).parent / "fixtures"


def test_squad_normalisation() -> None:
    assert normalise_answer("The  Cold-War!") == "coldwar"
    assert contains_gold("after the Cold War, they", ["cold war"])
    assert not contains_gold("anything", [""])


@pytest.mark.model  # runs the command line, which loads the real model
def test_eval_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path))
    questions = tmp_path / "q.jsonl"
    rows = [
        {
            "id": "1",
            "question": "How much did the harbour bridge cost?",
            "answers": ["412 million"],
            "answerable": True,
        },
        {
            "id": "2",
            "question": "What is the new comet called?",
            "answers": ["C/2023 H2"],
            "answerable": True,
        },
        {"id": "3", "question": "Who won the 2022 World Cup?", "answers": [], "answerable": False},
    ]
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["eval", str(questions), "--articles", str(FIXTURES), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["questions"] == 3 and result["answerable"] == 2
    assert set(result["retrieval"]) == {"bm25", "dense", "hybrid", "hybrid+rerank"}
    assert result["retrieval"]["hybrid+rerank"]["hit@1"] == 1.0
    assert result["answer_accuracy"] == 1.0 and result["unanswerable_abstained"] == 1.0
    assert result["answerable_wrongly_abstained"] == 0.0 and result["ms_per_question"] > 0
    curve = result["abstention_curve"]  # the trade-off, over thresholds, from the same run
    wrongly = [row["answerable_wrongly_abstained"] for row in curve]
    thresholds = [row["min_score"] for row in curve]
    assert len(curve) == 2 and thresholds == sorted(set(thresholds))  # each point once
    assert wrongly == sorted(wrongly) and wrongly[0] == 0 and wrongly[-1] > 0
    assert all(0 <= row["unanswerable_abstained"] <= 1 for row in curve)
    assert main(["eval", str(questions), "--articles", str(FIXTURES)]) == 0
    table = capsys.readouterr().out
    assert "hybrid+rerank" in table and "answer accuracy" in table
    assert "abstention trade-off" in table
    # other build settings: the kept index is rebuilt with them, not reused
    monkeypatch.setenv("ARTICLEBOT_CHUNK_TARGET_TOKENS", "64")
    assert main(["eval", str(questions), "--articles", str(FIXTURES), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["questions"] == 3
    [kept] = (tmp_path / "eval").iterdir()
    assert read_current(kept)[0].chunking["target_tokens"] == 64
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    assert main(["eval", str(bad)]) == 2
    assert "line 1" in capsys.readouterr().err
