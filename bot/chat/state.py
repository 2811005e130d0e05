"""What every replica of a bot must agree on, behind one object: the answers and
the votes on them, the Slack events already answered, rate limits, the threads it
follows, which process may rebuild a collection and when one was last rebuilt (the
/reindex cooldown), and the articles each announce channel has had.

`state_url` says where it lives. Unset (the default), it is this process's memory
and a SQLite file under `data_dir`: right for one bot. `postgresql://…` shares it
between replicas (bot/chat/postgres.py), so an event retried to another replica is
still answered once and a user's rate limit counts every replica's questions.

Each part is a small interface with the in-process version here. They are called
from worker threads (a PostgreSQL round trip must not hold up an event loop), so
each in-process version takes its own lock.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

from bot.answer.followup import Conversation
from bot.answer.records import Answer
from bot.chat import announced
from bot.chat.announced import AnnouncedArticles
from bot.chat.config import ChatConfig
from bot.chat.feedback import SCHEMA, FeedbackStore, SqliteDatabase
from bot.chat.threads import ThreadMemory
from bot.settings import Settings

EVENTS_KEPT_SECONDS = 3600.0  # Slack retries an event for minutes, not hours


class RateLimit(Protocol):
    def retry_after(self, key: str) -> float:
        """0 if `key` may go ahead (and count it), else seconds until it may."""
        ...


class EventLog(Protocol):
    def first_time(self, event_id: str) -> bool:
        """Is this the first delivery of the event (and remember it)?"""
        ...


class Threads(Protocol):
    def conversation(self, key: str) -> Conversation | None: ...

    def remember(
        self, keys: list[str], answer: Answer, earlier: Conversation | None = None
    ) -> None: ...

    def keep(self, keys: list[str], conversation: Conversation) -> None: ...


class RebuildTimes(Protocol):
    def seconds_since(self, name: str) -> float | None:
        """Seconds since any replica last rebuilt collection `name`; None if never."""
        ...

    def rebuilt(self, name: str) -> None:
        """Record that collection `name` was rebuilt just now."""
        ...


class LastRebuilds:
    """When this process last rebuilt each collection."""

    def __init__(self) -> None:
        self._at: dict[str, float] = {}
        self._lock = threading.Lock()

    def seconds_since(self, name: str) -> float | None:
        with self._lock:
            at = self._at.get(name)
        return None if at is None else time.monotonic() - at

    def rebuilt(self, name: str) -> None:
        with self._lock:
            self._at[name] = time.monotonic()


class Locks(Protocol):
    def hold(self, name: str) -> AbstractContextManager[bool]:
        """Try to take the lock `name` for the block: True if this process holds it,
        False if another one does (the caller skips its work)."""
        ...


class RateLimiter:
    """At most `limit` events per `window` seconds for each key (a sliding window).
    Keys idle for a whole window are forgotten, so memory follows the active users,
    not everyone who ever asked."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[float]] = {}
        self._swept = 0.0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many keys are tracked now."""
        return len(self._events)

    def retry_after(self, key: str, now: float | None = None) -> float:
        """0 if `key` may go ahead (and count it), else seconds until it may."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if now - self._swept >= self.window:
                self._forget_idle(now)
            events = self._events.setdefault(key, deque())
            cutoff = now - self.window
            while events and events[0] <= cutoff:
                events.popleft()
            if len(events) >= self.limit:
                # events[0] > cutoff, so this is > 0 even in floating point (a refusal is
                # never reported as 0, "go ahead"; `events[0] + window - now` could be)
                return events[0] - cutoff
            events.append(now)
            return 0.0

    def _forget_idle(self, now: float) -> None:
        """Drop keys whose last event left the window (at most once a window)."""
        self._swept = now
        idle = [
            k for k, events in self._events.items() if not events or events[-1] <= now - self.window
        ]
        for key in idle:
            del self._events[key]


class RecentIds:
    """Event ids seen in the last `ttl` seconds, so a retried event is answered once."""

    def __init__(self, ttl: float = EVENTS_KEPT_SECONDS, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, event_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                len(self._seen) > self.size or next(iter(self._seen.values())) < now - self.ttl
            ):
                self._seen.popitem(last=False)
            if event_id in self._seen:
                return False
            self._seen[event_id] = now
            return True


class ProcessLocks:
    """One process is the only one: every lock is its own (the index directory's own
    lock file still keeps two builds on one machine apart)."""

    @contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        yield True


@dataclass
class State:
    """The shared parts, made once at the entry point and passed to the chat service
    and the platform."""

    feedback: FeedbackStore
    events: EventLog
    threads: Threads
    locks: Locks
    user_limit: RateLimit
    channel_limit: RateLimit
    rebuilds: RebuildTimes
    announced: AnnouncedArticles
    close: Callable[[], None]
    shared: bool = False  # False: this process's own (the SQLite file is still on disk)


def local_state(settings: Settings) -> State:
    """State kept by this process, with feedback and announcements in `data_dir`'s
    SQLite file."""
    config = settings.section(ChatConfig)
    database = SqliteDatabase(settings.feedback_path, SCHEMA + announced.TABLES)
    feedback = FeedbackStore(database)
    return State(
        feedback=feedback,
        events=RecentIds(),
        threads=ThreadMemory(config.thread_idle_minutes * 60),
        locks=ProcessLocks(),
        user_limit=RateLimiter(config.rate_limit_questions, config.rate_limit_seconds),
        channel_limit=RateLimiter(config.rate_limit_channel_questions, config.rate_limit_seconds),
        rebuilds=LastRebuilds(),
        announced=AnnouncedArticles(database),
        close=feedback.close,
    )
