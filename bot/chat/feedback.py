"""Answers given and the votes on them, in a local SQLite file in the data directory.

Every answer a chat bot sends is recorded with an id; the "Helpful" / "Not
helpful" buttons carry that id, so a vote is stored against the exact
question, answer and sources the user saw.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bot.answer.values import Answer
from index.files import private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY, question TEXT NOT NULL, answer TEXT NOT NULL,
    abstained INTEGER NOT NULL, sources TEXT NOT NULL, platform TEXT NOT NULL,
    user_id TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    answer_id TEXT NOT NULL REFERENCES answers(id), user_id TEXT NOT NULL,
    helpful INTEGER NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (answer_id, user_id)
);
"""


@dataclass(frozen=True)
class FeedbackSummary:
    answers: int
    votes: int
    helpful: int
    not_helpful: int
    recent_not_helpful: list[tuple[str, str]]


class FeedbackStore:
    """Thread-safe access to the feedback database."""

    def __init__(self, path: Path) -> None:
        private_file(path)  # questions and user ids: 0600, in a 0700 data_dir
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(SCHEMA)

    def record_answer(self, answer: Answer, *, platform: str, user_id: str) -> str:
        answer_id = uuid.uuid4().hex
        sources = json.dumps([s.to_dict() for s in answer.sources], ensure_ascii=False)
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    answer.question,
                    answer.text,
                    int(answer.abstained),
                    sources,
                    platform,
                    user_id,
                    time.time(),
                ),
            )
        return answer_id

    def vote(self, answer_id: str, *, user_id: str, helpful: bool) -> bool:
        """Store (or change) a user's vote; False if the answer is unknown."""
        with self._lock, self._db:
            known = self._db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone()
            if known:
                self._db.execute(
                    "INSERT OR REPLACE INTO votes VALUES (?, ?, ?, ?)",
                    (answer_id, user_id, int(helpful), time.time()),
                )
        return bool(known)

    def summary(self, recent: int = 5) -> FeedbackSummary:
        with self._lock:
            answers = self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            helpful, unhelpful = self._db.execute(
                "SELECT COALESCE(SUM(helpful), 0), COALESCE(SUM(1 - helpful), 0) FROM votes"
            ).fetchone()
            rows = self._db.execute(
                "SELECT a.question, a.answer FROM votes v JOIN answers a ON a.id = v.answer_id "
                "WHERE v.helpful = 0 ORDER BY v.created_at DESC LIMIT ?",
                (recent,),
            ).fetchall()
        return FeedbackSummary(answers, helpful + unhelpful, helpful, unhelpful, rows)

    def close(self) -> None:
        self._db.close()
