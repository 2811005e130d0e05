"""Answers given and the votes on them: in a SQLite file in the data directory, or
in the PostgreSQL database that replicas share (bot/chat/postgres.py).

Every answer a chat bot sends is recorded with an id; the "Helpful" / "Not
helpful" buttons carry that id, so a vote is stored against the exact
question, answer and sources the user saw. The queries are written once, in SQL
both databases read (`?` placeholders; the PostgreSQL side turns them into `%s`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from bot.answer.records import Answer
from bot.settings import DEFAULT_COLLECTION
from index.storage.files import private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY, question TEXT NOT NULL, answer TEXT NOT NULL,
    abstained INTEGER NOT NULL, sources TEXT NOT NULL, platform TEXT NOT NULL,
    user_id TEXT NOT NULL, created_at REAL NOT NULL,
    channel TEXT NOT NULL DEFAULT '', thread TEXT NOT NULL DEFAULT '',
    collection TEXT NOT NULL DEFAULT 'default'
);
CREATE TABLE IF NOT EXISTS votes (
    answer_id TEXT NOT NULL REFERENCES answers(id), user_id TEXT NOT NULL,
    helpful INTEGER NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (answer_id, user_id)
);
"""
# One collection, or every one when the parameter is NULL (typed, as PostgreSQL needs).
IN_SCOPE = "(CAST(? AS TEXT) IS NULL OR {} = ?)"
# Columns added since the first schema, for databases made before them.
ADDED_COLUMNS = {
    "channel": "TEXT NOT NULL DEFAULT ''",
    "thread": "TEXT NOT NULL DEFAULT ''",
    "collection": "TEXT NOT NULL DEFAULT 'default'",
}


@dataclass(frozen=True)
class FeedbackSummary:
    answers: int
    votes: int
    helpful: int
    not_helpful: int
    recent_not_helpful: list[tuple[str, str]]


@dataclass(frozen=True)
class VotedDown:
    """An answer users voted not helpful: what was asked, said and cited."""

    question: str
    answer: str
    sources: list[str]  # "title <source>" of each cited passage
    votes: int


@dataclass(frozen=True)
class FeedbackReport:
    """What an operator reads on Monday: how much was asked, what the articles did
    not answer, and which answers users did not find helpful."""

    since: float | None  # epoch seconds; None: everything recorded
    questions: int
    not_answered: int
    helpful: int
    not_helpful: int
    unanswered: list[tuple[str, int]]  # most asked questions not answered, with counts
    voted_down: list[VotedDown]
    collection: str | None = None  # None: every collection

    @property
    def abstention_rate(self) -> float | None:
        return self.not_answered / self.questions if self.questions else None

    def to_dict(self) -> dict:
        return {**asdict(self), "abstention_rate": self.abstention_rate}


def question_key(question: str) -> str:
    """The same question asked twice, told apart from case, spacing and end marks."""
    return " ".join(question.casefold().split()).rstrip("?!. ")


def cited(sources_json: str) -> list[str]:
    return [f"{s['title']} <{s['source']}>" for s in json.loads(sources_json)]


Run = Callable[[str, Sequence[Any]], Any]  # runs one statement, returns its cursor


class Database(Protocol):
    """Where the feedback tables are."""

    def transaction(self) -> AbstractContextManager[Run]:
        """A block whose statements commit together (or not at all)."""
        ...

    def close(self) -> None: ...


class SqliteDatabase:
    """One process's feedback file, thread-safe."""

    def __init__(self, path: Path, schema: str = SCHEMA) -> None:
        private_file(path)  # questions and user ids: 0600, in a 0700 data_dir
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(schema)
        self._add_columns()

    def _add_columns(self) -> None:
        """Bring a database made by an earlier version up to the current columns."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(answers)")}
        with self._db:
            for name, kind in ADDED_COLUMNS.items():
                if name not in have:
                    self._db.execute(f"ALTER TABLE answers ADD COLUMN {name} {kind}")

    @contextmanager
    def transaction(self) -> Iterator[Run]:
        with self._lock, self._db:
            yield self._db.execute

    def close(self) -> None:
        self._db.close()


class FeedbackStore:
    """The answers and votes, in a SQLite file (given its path) or another database."""

    def __init__(self, where: Path | Database) -> None:
        self._db = SqliteDatabase(where) if isinstance(where, Path) else where

    def record_answer(
        self,
        answer: Answer,
        *,
        platform: str,
        user_id: str,
        channel: str = "",
        thread: str = "",
        collection: str = DEFAULT_COLLECTION,
    ) -> str:
        """Store an answer the buttons under it can vote on; returns its id. `channel`
        and `thread` say where it was asked (empty in a DM or on the command line),
        `collection` which article set answered."""
        answer_id = uuid.uuid4().hex
        sources = json.dumps([s.to_dict() for s in answer.sources], ensure_ascii=False)
        with self._db.transaction() as run:
            run(
                "INSERT INTO answers (id, question, answer, abstained, sources, platform, "
                "user_id, created_at, channel, thread, collection) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    answer.question,
                    answer.text,
                    int(answer.abstained),
                    sources,
                    platform,
                    user_id,
                    time.time(),
                    channel,
                    thread,
                    collection,
                ),
            )
        return answer_id

    def vote(self, answer_id: str, *, user_id: str, helpful: bool) -> bool:
        """Store (or change) a user's vote; False if the answer is unknown."""
        with self._db.transaction() as run:
            known = run("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone()
            if known:
                run(
                    "INSERT INTO votes (answer_id, user_id, helpful, created_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (answer_id, user_id) DO UPDATE "
                    "SET helpful = excluded.helpful, created_at = excluded.created_at",
                    (answer_id, user_id, int(helpful), time.time()),
                )
        return bool(known)

    def summary(self, recent: int = 5) -> FeedbackSummary:
        with self._db.transaction() as run:
            answers = run("SELECT COUNT(*) FROM answers", ()).fetchone()[0]
            helpful, unhelpful = run(
                "SELECT COALESCE(SUM(helpful), 0), COALESCE(SUM(1 - helpful), 0) FROM votes", ()
            ).fetchone()
            rows = run(
                "SELECT a.question, a.answer FROM votes v JOIN answers a ON a.id = v.answer_id "
                "WHERE v.helpful = 0 ORDER BY v.created_at DESC LIMIT ?",
                (recent,),
            ).fetchall()
        return FeedbackSummary(answers, helpful + unhelpful, helpful, unhelpful, rows)

    def report(
        self, since: float | None = None, top: int = 10, collection: str | None = None
    ) -> FeedbackReport:
        """Questions, abstentions and votes recorded from `since` on (all if None), in
        one collection (all if None)."""
        start = since if since is not None else float("-inf")
        scope = (start, collection, collection)
        with self._db.transaction() as run:
            asked = run(
                "SELECT question, abstained FROM answers WHERE created_at >= ? "
                f"AND {IN_SCOPE.format('collection')} ORDER BY created_at DESC",
                scope,
            ).fetchall()
            helpful, unhelpful = run(
                "SELECT COALESCE(SUM(v.helpful), 0), COALESCE(SUM(1 - v.helpful), 0) "
                "FROM votes v JOIN answers a ON a.id = v.answer_id "
                f"WHERE v.created_at >= ? AND {IN_SCOPE.format('a.collection')}",
                scope,
            ).fetchone()
            down = run(
                "SELECT a.question, a.answer, a.sources, COUNT(*) AS n FROM votes v "
                "JOIN answers a ON a.id = v.answer_id WHERE v.helpful = 0 AND v.created_at >= ? "
                f"AND {IN_SCOPE.format('a.collection')} "
                "GROUP BY a.id ORDER BY n DESC, MAX(v.created_at) DESC LIMIT ?",
                (*scope, top),
            ).fetchall()
        missing = [question for question, abstained in asked if abstained]
        wording = {question_key(q): q for q in reversed(missing)}  # the latest wording
        counts = Counter(question_key(q) for q in missing)
        return FeedbackReport(
            since,
            len(asked),
            len(missing),
            helpful,
            unhelpful,
            [(wording[key], n) for key, n in counts.most_common(top)],
            [VotedDown(q, a, cited(sources), n) for q, a, sources, n in down],
            collection,
        )

    def close(self) -> None:
        self._db.close()
