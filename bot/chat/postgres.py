"""The state replicas share, in PostgreSQL (`state_url = "postgresql://…"`).

One connection pool per process (psycopg 3). The tables are made by numbered
migrations, applied once under a lock so replicas that start together do not race.
Windows and expiry are read on the database's clock, so replicas whose clocks
differ still agree on them. Rate limits and the rebuild lock use advisory locks:
a replica that dies lets go of its lock with its connection.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from psycopg import Connection, Error, OperationalError
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.answer.followup import Conversation
from bot.answer.records import Answer
from bot.chat import announced
from bot.chat.announced import AnnouncedArticles
from bot.chat.config import ChatConfig
from bot.chat.feedback import FeedbackStore, Run
from bot.chat.state import EVENTS_KEPT_SECONDS, State
from bot.errors import LaunchError
from bot.settings import Settings

log = logging.getLogger(__name__)

CONNECT_SECONDS = 10.0
NOW = "extract(epoch from clock_timestamp())::float8"
MIGRATIONS = [
    """
    CREATE TABLE answers (
        id TEXT PRIMARY KEY, question TEXT NOT NULL, answer TEXT NOT NULL,
        abstained INTEGER NOT NULL, sources TEXT NOT NULL, platform TEXT NOT NULL,
        user_id TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
        channel TEXT NOT NULL DEFAULT '', thread TEXT NOT NULL DEFAULT '',
        collection TEXT NOT NULL DEFAULT 'default'
    );
    CREATE INDEX answers_created_at ON answers (created_at);
    CREATE TABLE votes (
        answer_id TEXT NOT NULL REFERENCES answers(id), user_id TEXT NOT NULL,
        helpful INTEGER NOT NULL, created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (answer_id, user_id)
    );
    CREATE TABLE seen_events (event_id TEXT PRIMARY KEY, seen_at DOUBLE PRECISION NOT NULL);
    CREATE TABLE rate_events (
        name TEXT NOT NULL, key TEXT NOT NULL, at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX rate_events_by_key ON rate_events (name, key, at);
    CREATE TABLE threads (
        key TEXT PRIMARY KEY, questions JSONB NOT NULL, article_ids JSONB NOT NULL,
        last_active DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX threads_last_active ON threads (last_active);
    """,
    """
    CREATE TABLE rebuilds (name TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL);
    """,
    announced.TABLES,
]


def lock_key(text_sql: str) -> str:
    """SQL for the advisory lock id of a text, given as SQL (a placeholder): a 64-bit
    hash, so two names sharing a lock is not a concern."""
    return f"hashtextextended({text_sql}, 0)"


def migrate(pool: ConnectionPool) -> None:
    """Apply the migrations this database has not had yet."""
    with pool.connection() as conn, conn.transaction():
        conn.execute(f"SELECT pg_advisory_xact_lock({lock_key('%s')})", ("articlebot:migrate",))
        conn.execute("CREATE TABLE IF NOT EXISTS articlebot_schema (version INTEGER NOT NULL)")
        done = conn.execute("SELECT COALESCE(MAX(version), 0) FROM articlebot_schema").fetchone()
        for version, sql in enumerate(MIGRATIONS[done[0] :], start=done[0] + 1):
            conn.execute(sql)
            conn.execute("INSERT INTO articlebot_schema VALUES (%s)", (version,))
            log.info("state database: applied migration %d", version)


class PostgresDatabase:
    """The feedback tables (bot/chat/feedback.py writes SQL with `?` placeholders)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    @contextmanager
    def transaction(self) -> Iterator[Run]:
        with self.pool.connection() as conn, conn.transaction():

            def run(sql: str, params: Sequence[Any]) -> Any:
                return conn.execute(sql.replace("?", "%s"), params)

            yield run

    def close(self) -> None:
        """The pool is the state's to close."""


class Sweep:
    """When this replica last cleaned a table of rows past their time: at most once a
    `period` (every replica sweeps, so none has to be the one that does)."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._last = float("-inf")

    def due(self) -> bool:
        """Is a sweep due now (and counted as done)?"""
        now = time.monotonic()
        if now - self._last < self.period:
            return False
        self._last = now
        return True


class SeenEvents:
    """Event ids delivered in the last `ttl` seconds, whichever replica they reached."""

    def __init__(self, pool: ConnectionPool, ttl: float = EVENTS_KEPT_SECONDS) -> None:
        self.pool, self.ttl = pool, ttl
        self._sweep = Sweep(ttl)

    def first_time(self, event_id: str) -> bool:
        with self.pool.connection() as conn:
            if self._sweep.due():
                conn.execute(f"DELETE FROM seen_events WHERE seen_at < {NOW} - %s", (self.ttl,))
            # an expired id not yet swept counts as new again
            row = conn.execute(
                f"INSERT INTO seen_events VALUES (%s, {NOW}) ON CONFLICT (event_id) DO UPDATE "
                f"SET seen_at = excluded.seen_at WHERE seen_events.seen_at < {NOW} - %s "
                "RETURNING 1",
                (event_id, self.ttl),
            ).fetchone()
        return row is not None


class SharedRateLimit:
    """A sliding window per key, counted over every replica: each check runs under
    the key's advisory lock, so two replicas never both admit the last question."""

    def __init__(self, pool: ConnectionPool, name: str, limit: int, window: float) -> None:
        self.pool, self.name, self.limit, self.window = pool, name, limit, window
        self._sweep = Sweep(window)

    def retry_after(self, key: str) -> float:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(f"SELECT pg_advisory_xact_lock({lock_key('%s')})", (f"{self.name}:{key}",))
            now = conn.execute(f"SELECT {NOW}").fetchone()[0]
            cutoff = now - self.window
            self._forget_idle(conn, cutoff)
            conn.execute(
                "DELETE FROM rate_events WHERE name = %s AND key = %s AND at <= %s",
                (self.name, key, cutoff),
            )
            count, first = conn.execute(
                "SELECT COUNT(*), MIN(at) FROM rate_events WHERE name = %s AND key = %s",
                (self.name, key),
            ).fetchone()
            if count >= self.limit:
                return first - cutoff  # > 0: every event left is newer than the cutoff
            conn.execute("INSERT INTO rate_events VALUES (%s, %s, %s)", (self.name, key, now))
            return 0.0

    def _forget_idle(self, conn: Connection, cutoff: float) -> None:
        """Drop every key's events that left the window (at most once a window)."""
        if self._sweep.due():
            conn.execute(
                "DELETE FROM rate_events WHERE name = %s AND at <= %s", (self.name, cutoff)
            )


class SharedRebuilds:
    """When any replica last rebuilt each collection, on the database's clock: the
    /reindex cooldown holds across replicas."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def seconds_since(self, name: str) -> float | None:
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT {NOW} - at FROM rebuilds WHERE name = %s", (name,))
            found = row.fetchone()
        return None if found is None else found[0]

    def rebuilt(self, name: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                f"INSERT INTO rebuilds VALUES (%s, {NOW}) "
                "ON CONFLICT (name) DO UPDATE SET at = EXCLUDED.at",
                (name,),
            )


class SharedThreads:
    """The threads the bots answered in, by key, with their conversations; one idle
    for `idle_seconds` goes quiet (and is swept)."""

    def __init__(self, pool: ConnectionPool, idle_seconds: float) -> None:
        self.pool, self.idle_seconds = pool, idle_seconds
        self._sweep = Sweep(idle_seconds)

    def conversation(self, key: str) -> Conversation | None:
        with self.pool.connection() as conn:
            return self._read(conn, key)

    def _read(self, conn: Connection, key: str) -> Conversation | None:
        row = conn.execute(
            f"SELECT questions, article_ids FROM threads WHERE key = %s "
            f"AND last_active >= {NOW} - %s",
            (key, self.idle_seconds),
        ).fetchone()
        return None if row is None else Conversation(tuple(row[0]), frozenset(row[1]))

    def remember(
        self, keys: list[str], answer: Answer, earlier: Conversation | None = None
    ) -> None:
        with self.pool.connection() as conn, conn.transaction():
            if earlier is None:
                found = (self._read(conn, key) for key in keys)
                earlier = next((c for c in found if c is not None), Conversation())
            self._write(conn, keys, earlier.after(answer))

    def keep(self, keys: list[str], conversation: Conversation) -> None:
        with self.pool.connection() as conn, conn.transaction():
            self._write(conn, keys, conversation)

    def _write(self, conn: Connection, keys: list[str], conversation: Conversation) -> None:
        questions = json.dumps(conversation.questions)
        article_ids = json.dumps(sorted(conversation.article_ids))
        for key in keys:
            conn.execute(
                f"INSERT INTO threads VALUES (%s, %s, %s, {NOW}) ON CONFLICT (key) DO UPDATE "
                "SET questions = excluded.questions, article_ids = excluded.article_ids, "
                "last_active = excluded.last_active",
                (key, questions, article_ids),
            )
        if self._sweep.due():
            conn.execute(
                f"DELETE FROM threads WHERE last_active < {NOW} - %s", (self.idle_seconds,)
            )


class AdvisoryLocks:
    """Locks held by one replica at a time, for as long as a block runs."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    @contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        with self.pool.connection() as conn:
            key = lock_key("%s")
            held = conn.execute(f"SELECT pg_try_advisory_lock({key})", (name,)).fetchone()[0]
            try:
                yield held
            finally:
                if held:
                    self._unlock(conn, name)

    @staticmethod
    def _unlock(conn: Connection, name: str) -> None:
        try:
            conn.execute(f"SELECT pg_advisory_unlock({lock_key('%s')})", (name,))
        except OperationalError:  # the connection is gone, and its lock with it
            log.warning("lost the connection that held lock %s", name)


def where(url: str) -> str:
    """The database a URL names and its host, and nothing else, for messages."""
    try:
        parts = conninfo_to_dict(url)
    except Error:
        return "named in state_url"
    host = parts.get("host") or "localhost"
    return f"{parts.get('dbname') or parts.get('user') or '?'} on {host}"


def secrets_of(url: str) -> list[str]:
    """The URL's password as written and as decoded, and the URL itself: what no
    message may show."""
    try:
        decoded = conninfo_to_dict(url).get("password")
    except Error:
        decoded = None
    written = urlsplit(url).password
    return [s for s in {url, written, decoded} if s]


class HideSecrets(logging.Filter):
    """Takes the state database's password out of what psycopg's pool logs (it logs
    each failed connection's error, which can quote the conninfo)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = sorted(secrets, key=len, reverse=True)  # the URL before its password

    def hide(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            record.msg, record.args = self.hide(message), None
        return True


def postgres_state(settings: Settings) -> State:
    """The shared state at `state_url`: connected, its tables made or brought up to
    date; LaunchError when the database cannot be reached."""
    assert settings.state_url is not None
    url = settings.state_url.get_secret_value()
    hidden = HideSecrets(secrets_of(url))
    pool_log = logging.getLogger("psycopg.pool")
    pool_log.addFilter(hidden)
    config = settings.section(ChatConfig)
    # answer threads, the /reindex and refresh locks, the loop's own calls
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=config.answer_threads + 4,
        kwargs={"autocommit": True},
        open=False,
        name="articlebot-state",
    )
    try:
        pool.open(wait=True, timeout=CONNECT_SECONDS)
        migrate(pool)
    except (PoolTimeout, Error) as exc:
        pool.close()
        pool_log.removeFilter(hidden)
        reason = "no connection" if isinstance(exc, PoolTimeout) else hidden.hide(str(exc).strip())
        raise LaunchError(f"cannot use the state database {where(url)} ({reason})") from None
    window = config.rate_limit_seconds

    def close() -> None:
        pool.close()
        pool_log.removeFilter(hidden)

    database = PostgresDatabase(pool)
    return State(
        feedback=FeedbackStore(database),
        events=SeenEvents(pool),
        threads=SharedThreads(pool, config.thread_idle_minutes * 60),
        locks=AdvisoryLocks(pool),
        user_limit=SharedRateLimit(pool, "user", config.rate_limit_questions, window),
        channel_limit=SharedRateLimit(pool, "channel", config.rate_limit_channel_questions, window),
        rebuilds=SharedRebuilds(pool),
        announced=AnnouncedArticles(database),
        close=close,
        shared=True,
    )
