"""Conversations in chat threads, shared by the platforms: which threads the bot
answered in, what was asked there, and which messages nobody addressed to the bot
are still questions for it.

Only threads the bot answered in are followed, and a thread idle for
`thread_idle_minutes` goes quiet. Kept in memory: after a restart, a thread is
picked up again by mentioning the bot in it.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from bot.answer.followup import Conversation
from bot.answer.records import Answer

THREADS_KEPT = 10_000
QUESTION_STARTS = frozenset(
    [
        "who",
        "whom",
        "whose",
        "what",
        "which",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "has",
        "have",
        "had",
        "any",
        "tell",
        "explain",
    ]
)
WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
NOT_WORDS = re.compile(r"<[^<>]*>|https?://\S+|:[a-z0-9_+-]+:")  # mentions, links, :emoji:


@dataclass
class Thread:
    conversation: Conversation
    last_active: float


class ThreadMemory:
    """The threads the bot answered in, by a platform's key for the thread, each
    with its conversation so far; the least recently active beyond THREADS_KEPT
    are forgotten, as is any idle for `idle_seconds`. Thread-safe: the answer
    threads read and write it."""

    def __init__(self, idle_seconds: float, size: int = THREADS_KEPT) -> None:
        self.idle_seconds = idle_seconds
        self.size = size
        self._threads: OrderedDict[str, Thread] = OrderedDict()
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._threads)

    def conversation(self, key: str, now: float | None = None) -> Conversation | None:
        """The conversation of a thread the bot answered in and that is not idle, else None."""
        now = time.monotonic() if now is None else now
        with self._lock:
            thread = self._threads.get(key)
            if thread is None:
                return None
            if now - thread.last_active > self.idle_seconds:
                del self._threads[key]
                return None
            return thread.conversation

    def remember(
        self,
        keys: list[str],
        answer: Answer,
        earlier: Conversation | None = None,
        now: float | None = None,
    ) -> None:
        """The bot answered in these threads (one thread may have several keys, e.g.
        each message of a reply chain): later messages there are follow-ups. The
        conversation goes on from `earlier`, by default the one under these keys."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if earlier is None:
                found = (self.conversation(key, now) for key in keys)
                earlier = next((c for c in found if c is not None), Conversation())
            self.keep(keys, earlier.after(answer), now)

    def keep(self, keys: list[str], conversation: Conversation, now: float | None = None) -> None:
        """These threads go on with `conversation` (e.g. one answered under another key)."""
        thread = Thread(conversation, time.monotonic() if now is None else now)
        with self._lock:
            for key in keys:
                self._threads[key] = thread
                self._threads.move_to_end(key)
            while len(self._threads) > self.size:
                self._threads.popitem(last=False)


def looks_like_question(text: str) -> bool:
    """Is a message nobody addressed to the bot a question for it? One that ends in
    a question mark, or starts like a question, with two words or more; not "thanks
    all", a link or an emoji."""
    words = WORD.findall(NOT_WORDS.sub(" ", text))
    if len(words) < 2:
        return False
    return text.rstrip().endswith("?") or words[0].lower() in QUESTION_STARTS


def unasked_answer(answer: Answer | None, silent_abstain: bool) -> Answer | None:
    """What to post for a question in an answer channel, which nobody addressed to the
    bot: only an answer, and with `silent_abstain` not even "not in the articles".
    Refusals, help and failures stay unposted (failures are in the log)."""
    if answer is None or (answer.abstained and silent_abstain):
        return None
    return answer
