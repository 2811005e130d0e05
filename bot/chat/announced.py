"""Which articles each announce channel has had: the record that makes every
announcement happen once, across replicas (they share it in PostgreSQL) and
restarts (the SQLite file in data_dir survives them).

A channel's first check records the articles already there as had, so turning
announcements on for an existing archive posts nothing until a later publish adds
an article (unless the operator asks for the archive with announce_existing).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from bot.chat.feedback import Database

# Plain SQL both databases read (and a PostgreSQL migration applies).
TABLES = """
CREATE TABLE IF NOT EXISTS announce_channels (
    collection TEXT NOT NULL, channel TEXT NOT NULL, since DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (collection, channel)
);
CREATE TABLE IF NOT EXISTS announced (
    collection TEXT NOT NULL, channel TEXT NOT NULL, article_id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, PRIMARY KEY (collection, channel, article_id)
);
"""
ROWS_PER_INSERT = 200


class AnnouncedArticles:
    """The articles each (collection, channel) has had. Callers hold the collection's
    announce lock, so two replicas never record the same article as new."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def news(
        self, collection: str, channel: str, current: Sequence[str], existing: bool = False
    ) -> list[str]:
        """Those of the `current` article ids the channel has not had, in their order,
        now recorded as had. On the channel's first call, none of them (all are
        recorded), unless `existing`."""
        key = (collection, channel)
        with self._db.transaction() as run:
            started = run(
                "SELECT 1 FROM announce_channels WHERE collection = ? AND channel = ?", key
            ).fetchone()
            had = {
                row[0]
                for row in run(
                    "SELECT article_id FROM announced WHERE collection = ? AND channel = ?", key
                ).fetchall()
            }
            new = [article_id for article_id in dict.fromkeys(current) if article_id not in had]
            now = time.time()
            if not started:
                run(
                    "INSERT INTO announce_channels (collection, channel, since) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (*key, now),
                )
            for first in range(0, len(new), ROWS_PER_INSERT):
                rows = new[first : first + ROWS_PER_INSERT]
                run(
                    "INSERT INTO announced (collection, channel, article_id, at) VALUES "
                    + ", ".join(["(?, ?, ?, ?)"] * len(rows))
                    + " ON CONFLICT DO NOTHING",
                    [value for article_id in rows for value in (*key, article_id, now)],
                )
        return new if started or existing else []
