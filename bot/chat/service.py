"""What every chat platform needs from the core, without knowing the platform.

Answers run in worker threads so a slow question never blocks a bot's event
loop (Discord's gateway heartbeat, Slack's 3-second ack). A rebuild also runs
in a thread and swaps the new index in when it is complete: questions keep
being answered from the old one until then. Each collection (an article set
with its own index, settings `[collections.NAME]`) has its own answerer, watcher
and rebuild lock; the platform says which collection a channel asks.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum

from bot.answer.answerer import Answerer
from bot.answer.followup import Conversation
from bot.answer.records import Answer
from bot.answer.summary import newest_first
from bot.chat import messages
from bot.chat.config import ChatConfig
from bot.chat.state import State, local_state
from bot.collection import ReindexReport, ServedCollection
from bot.errors import BusyError, QuestionError
from bot.ops import Metrics
from bot.settings import DEFAULT_COLLECTION, Settings
from index.build.freshness import SourceStates
from index.embedding.embedder import Embedder
from index.errors import IndexBusyError

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What became of a question, for the platform to render."""

    ANSWERED = "answered"
    REFUSED = "refused"  # not here, or asking too quickly: `text` says which
    HELP = "help"  # nothing that could be asked: `text` says how to ask
    BUSY = "busy"
    FAILED = "failed"


@dataclass(frozen=True)
class Reply:
    """What to show for a question: the answer, or the note in place of one."""

    outcome: Outcome
    text: str = ""
    answer: Answer | None = None


class ChatService:
    """The answering core as a chat bot uses it: async, rate-limited, reindexable,
    with each collection served (`answerer` answers the default one)."""

    def __init__(
        self,
        answerer: Answerer,
        embedder: Embedder,
        settings: Settings,
        platform: str = "chat",
        collections: dict[str, Answerer] | None = None,
        state: State | None = None,
    ) -> None:
        self.embedder = embedder
        self.settings = settings
        self.config = config = settings.section(ChatConfig)
        self.metrics = Metrics(platform)
        self.state = state or local_state(settings)
        served = {DEFAULT_COLLECTION: answerer, **(collections or {})}
        self.collections = {name: self._serve(name, by) for name, by in served.items()}
        self.news_checked: dict[str, str] = {}  # the version whose news each collection announced
        self._pool = ThreadPoolExecutor(config.answer_threads, thread_name_prefix="answer")
        self._waiting = 0  # questions submitted and not yet answered (touched on the loop only)

    def _serve(self, name: str, answerer: Answerer) -> ServedCollection:
        settings = self.settings.for_collection(name)
        return ServedCollection.open(name, settings, answerer, self.embedder, self.state.locks.hold)

    @property
    def answerer(self) -> Answerer:
        """The default collection's answerer."""
        return self.collections[DEFAULT_COLLECTION].answerer

    def collection(self, name: str = DEFAULT_COLLECTION) -> ServedCollection:
        """A served collection; one the settings lost meanwhile falls back to the default."""
        return self.collections.get(name) or self.collections[DEFAULT_COLLECTION]

    async def admit(
        self, user_key: str, channel_key: str | None, allowed: bool = True
    ) -> Reply | None:
        """None if this question may be answered now; else the refusal to show. Quick
        (one round trip to shared state), so a platform can refuse before it acknowledges."""
        if not allowed:
            return Reply(Outcome.REFUSED, messages.NOT_THIS_CHANNEL)
        if wait := await asyncio.to_thread(self.retry_after, user_key, channel_key):
            return Reply(Outcome.REFUSED, messages.wait_note(wait))
        return None

    async def conversation(self, keys: list[str]) -> Conversation | None:
        """The conversation of the first of these threads the bot answered in and that is
        not idle (shared state is read off the event loop)."""

        def first() -> Conversation | None:
            found = (self.state.threads.conversation(key) for key in keys)
            return next((c for c in found if c is not None), None)

        return await asyncio.to_thread(first)

    async def remember(
        self, keys: list[str], answer: Answer, earlier: Conversation | None = None
    ) -> None:
        """The bot answered in these threads: later messages there are follow-ups."""
        await asyncio.to_thread(self.state.threads.remember, keys, answer, earlier)

    async def keep(self, key: str, conversation: Conversation) -> None:
        """A thread goes on with a conversation followed under another key."""
        await asyncio.to_thread(self.state.threads.keep, [key], conversation)

    async def reply(
        self,
        question: str,
        how_to_ask: str,
        conversation: Conversation | None = None,
        collection: str = DEFAULT_COLLECTION,
    ) -> Reply:
        """The answer from a collection (a follow-up read in its `conversation`), or what
        to say instead: help for an empty question, "busy", or "sorry" when something
        failed (logged, with the traceback)."""
        try:
            answer = await self.answer(question, conversation, collection)
            return Reply(Outcome.ANSWERED, answer=answer)
        except QuestionError:
            return Reply(Outcome.HELP, how_to_ask)
        except BusyError:
            return Reply(Outcome.BUSY, messages.BUSY)
        except Exception:
            log.exception("failed to answer a question")
            return Reply(Outcome.FAILED, messages.SORRY)

    async def ask(
        self,
        question: str,
        user_key: str,
        channel_key: str | None,
        how_to_ask: str,
        conversation: Conversation | None = None,
        collection: str = DEFAULT_COLLECTION,
    ) -> Reply:
        """The one ask flow of every platform: admitted, then answered."""
        return await self.admit(user_key, channel_key) or await self.reply(
            question, how_to_ask, conversation, collection
        )

    def retry_after(self, user_key: str, channel_key: str | None = None) -> float:
        """0 if this user may ask now in this channel, else seconds to wait. A question
        refused for its user does not count against its channel, so one flooding user
        never uses up a channel's quota."""
        wait = self.state.user_limit.retry_after(user_key)
        if wait or channel_key is None:
            return wait
        return self.state.channel_limit.retry_after(channel_key)

    async def answer(
        self,
        question: str,
        conversation: Conversation | None = None,
        collection: str = DEFAULT_COLLECTION,
    ) -> Answer:
        """The answer, from a worker thread; BusyError when `answer_queue_max`
        questions are already waiting or being answered."""
        if self._waiting >= self.config.answer_queue_max:
            self.metrics.busy()
            raise BusyError(messages.BUSY)
        self._waiting += 1
        try:
            loop = asyncio.get_running_loop()
            served = self.collection(collection)
            return await loop.run_in_executor(
                self._pool, self._answer_current, question, conversation, served
            )
        finally:
            self._waiting -= 1

    def _answer_current(
        self, question: str, conversation: Conversation | None, served: ServedCollection
    ) -> Answer:
        """Pick up a version another process published, then answer; every question
        gets a request id in the logs and counts in the metrics."""
        request_id = uuid.uuid4().hex[:12]
        started = time.perf_counter()
        try:
            served.watcher.refresh()
            answer = served.answerer.answer(question, conversation=conversation)
        except QuestionError:
            raise
        except Exception:
            self.metrics.failed()
            log.exception("question failed", extra={"request_id": request_id})
            raise
        seconds = time.perf_counter() - started
        self.metrics.answered(seconds, answer.abstained, answer.index_version)
        log.info(
            "answered",
            extra={
                "request_id": request_id,
                "collection": served.name,
                "abstained": answer.abstained,
                "ms": round(1000 * seconds, 1),
                "index_version": answer.index_version,
                "sources": [p.article.id for p in answer.sources],
            },
        )
        return answer

    def health(self, connected: bool) -> dict:
        """For /healthz: healthy when the platform is connected and an index is loaded;
        with each source's last success, last error and next refresh, and the version
        each announcing collection's news was last checked in."""
        index = self.answerer.index
        return {
            "ok": connected,
            "platform_connected": connected,
            "index_version": index.version,
            "articles": len(index.articles),
            "reindexing": self.reindexing,
            "announced": dict(self.news_checked),
            "collections": {
                name: served.answerer.index.version for name, served in self.collections.items()
            },
            "sources": {
                name: SourceStates.load(served.settings.resolved_index_dir).report()
                for name, served in self.collections.items()
            },
        }

    def articles(self, collection: str = DEFAULT_COLLECTION) -> list[dict]:
        """A collection's indexed articles (the manifest's entries: id, title, date,
        source), newest first where dated, each with a line of its summary (`gist`)."""
        return newest_first(self.collection(collection).answerer.index)

    @property
    def reindexing(self) -> bool:
        """Is any collection being rebuilt?"""
        return any(c.lock.locked() or c.claimed for c in self.collections.values())

    def reindex_wait(self, collection: str = DEFAULT_COLLECTION) -> float:
        """0 if a /reindex may start now, else seconds until the cooldown after the last
        one (by any replica) ends: every rebuild refetches every source, so it is not
        for the asking. Blocking: it may ask the state database."""
        cooldown = self.config.reindex_cooldown_seconds
        if not cooldown:
            return 0.0
        since = self.state.rebuilds.seconds_since(collection)
        return 0.0 if since is None else max(0.0, cooldown - since)

    async def claim_reindex(self, collection: str = DEFAULT_COLLECTION) -> str | None:
        """What to say instead of starting a rebuild now, or None with the rebuild
        claimed for the caller, who must then call `run_reindex`. The claim is taken
        before the first await, so commands fired together cannot all pass the check."""
        served = self.collection(collection)
        if served.claimed or served.lock.locked():
            return messages.REBUILD_RUNNING
        served.claimed = True
        try:
            wait = await asyncio.to_thread(self.reindex_wait, collection)
        except BaseException:
            served.claimed = False
            raise
        if wait:
            served.claimed = False
            return messages.cooldown_note(wait)
        return None

    async def run_reindex(
        self,
        collection: str = DEFAULT_COLLECTION,
        started: Callable[[], Awaitable[object]] | None = None,
    ) -> ReindexReport | str:
        """Rebuild a collection claimed by `claim_reindex` (after `started`, e.g. telling
        the platform an answer is coming): what it did, or the note to show instead
        ("sorry" when the rebuild failed; the traceback goes to the log)."""
        try:
            if started is not None:
                await started()
            return await self.reindex(collection)
        except IndexBusyError:  # another replica or process is rebuilding it
            return messages.REBUILD_RUNNING
        except Exception:
            log.exception("reindex failed")
            return messages.SORRY
        finally:
            self.collection(collection).claimed = False

    async def sources_for(
        self, user_key: str, collection: str = DEFAULT_COLLECTION
    ) -> list[dict] | str:
        """/sources for one user: the collection's articles, or a note when they ask
        too often."""
        if wait := await asyncio.to_thread(self.retry_after, f"sources:{user_key}"):
            return messages.wait_note(wait)
        return self.articles(collection)

    async def reindex(self, collection: str = DEFAULT_COLLECTION) -> ReindexReport:
        """Rebuild a collection from its sources in a thread (every source fetched
        afresh), and answer from the new version; the cooldown starts when it ends
        (not after another replica's rebuild, which fetched nothing here)."""
        served = self.collection(collection)
        fetched = True
        async with served.lock:
            try:
                report = await asyncio.to_thread(served.sync, fresh=True)
            except IndexBusyError:
                fetched = False
                raise
            finally:
                if fetched:
                    await asyncio.to_thread(self.state.rebuilds.rebuilt, served.name)
        manifest = report.change.manifest
        assert manifest is not None
        log.info("reindexed %s: version %s", served.name, manifest.version)
        failed = [f"{f.source}: {f.reason}" for f in report.gathered.failures]
        return ReindexReport(manifest, failed)

    def close(self) -> None:
        """Stop the answer threads; the state is the entry point's to close."""
        self._pool.shutdown(wait=False, cancel_futures=True)
