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
from dataclasses import dataclass, field
from enum import StrEnum

from bot.answer.answerer import Answerer
from bot.answer.followup import Conversation
from bot.answer.records import Answer
from bot.chat import messages
from bot.chat.config import ChatConfig
from bot.chat.state import State, local_state
from bot.errors import BusyError, QuestionError
from bot.ops import Metrics
from bot.settings import DEFAULT_COLLECTION, Settings
from bot.wiring import IndexWatcher, sync_from_sources, watch_index
from index.embedding import Embedder
from index.errors import IndexBusyError
from index.freshness import SourceStates
from index.layout import Manifest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReindexReport:
    manifest: Manifest
    failed: list[str]

    def summary(self, bullet: str, escape: Callable[[str], str]) -> str:
        """What the rebuild did, in words for the admin who asked for it."""
        manifest = self.manifest
        text = (
            f"Index rebuilt: {len(manifest.articles)} article(s), {manifest.chunk_count} "
            f"passages, version `{manifest.version}`."
        )
        if self.failed:
            text += "\nNot indexed:\n" + "\n".join(f"{bullet} {escape(f)}" for f in self.failed)
        return text


def rebuild_lock(collection: str) -> str:
    """The lock a replica holds while it rebuilds or refreshes a collection."""
    return f"rebuild:{collection}"


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


@dataclass
class Desk:
    """One collection as the bots serve it: its settings (sources and index directory
    for /reindex), the answerer, the watcher that keeps it on the current version,
    and its own rebuild lock and cooldown."""

    name: str
    settings: Settings
    answerer: Answerer
    watcher: IndexWatcher
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    claimed: bool = False  # a /reindex passed its checks and has not ended yet


class ChatService:
    """The answering core as a chat bot uses it: async, rate-limited, reindexable,
    with one desk per collection (`answerer` answers the default one)."""

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
        served = {DEFAULT_COLLECTION: answerer, **(collections or {})}
        self.desks = {name: self._open_desk(name, by) for name, by in served.items()}
        self.config = config = settings.section(ChatConfig)
        self.metrics = Metrics(platform)
        self.state = state or local_state(settings)
        self._pool = ThreadPoolExecutor(config.answer_threads, thread_name_prefix="answer")
        self._waiting = 0  # questions submitted and not yet answered (touched on the loop only)

    def _open_desk(self, name: str, answerer: Answerer) -> Desk:
        settings = self.settings.for_collection(name)
        return Desk(name, settings, answerer, watch_index(answerer, settings, self.embedder))

    @property
    def answerer(self) -> Answerer:
        """The default collection's answerer."""
        return self.desks[DEFAULT_COLLECTION].answerer

    def desk(self, collection: str = DEFAULT_COLLECTION) -> Desk:
        """A collection's desk; one the settings lost meanwhile falls back to the default."""
        return self.desks.get(collection) or self.desks[DEFAULT_COLLECTION]

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
            return await loop.run_in_executor(
                self._pool, self._answer_current, question, conversation, self.desk(collection)
            )
        finally:
            self._waiting -= 1

    def _answer_current(
        self, question: str, conversation: Conversation | None, desk: Desk
    ) -> Answer:
        """Pick up a version another process published, then answer; every question
        gets a request id in the logs and counts in the metrics."""
        request_id = uuid.uuid4().hex[:12]
        started = time.perf_counter()
        try:
            desk.watcher.refresh()
            answer = desk.answerer.answer(question, conversation=conversation)
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
                "collection": desk.name,
                "abstained": answer.abstained,
                "ms": round(1000 * seconds, 1),
                "index_version": answer.index_version,
                "sources": [p.article.id for p in answer.sources],
            },
        )
        return answer

    def health(self, connected: bool) -> dict:
        """For /healthz: healthy when the platform is connected and an index is loaded;
        with each source's last success, last error and next refresh."""
        index = self.answerer.index
        return {
            "ok": connected,
            "platform_connected": connected,
            "index_version": index.version,
            "articles": len(index.articles),
            "reindexing": self.reindexing,
            "collections": {name: desk.answerer.index.version for name, desk in self.desks.items()},
            "sources": {
                name: SourceStates.load(desk.settings.resolved_index_dir).report()
                for name, desk in self.desks.items()
            },
        }

    def articles(self, collection: str = DEFAULT_COLLECTION) -> list[dict]:
        """A collection's indexed articles (the manifest's entries: id, title, date,
        source), newest first where dated."""
        articles = self.desk(collection).answerer.index.manifest.articles
        return sorted(articles, key=lambda a: (a.get("published") or "", a["title"]), reverse=True)

    def sources_text(
        self, bullet: str, escape: Callable[[str], str], collection: str = DEFAULT_COLLECTION
    ) -> str:
        """A collection's articles, one line each with its date, for /sources."""
        lines = [
            f"{bullet} {escape(a['title'])}"
            + (f" ({a['published']})" if a.get("published") else "")
            for a in self.articles(collection)
        ]
        return "\n".join(lines) or messages.NO_ARTICLES

    @property
    def reindexing(self) -> bool:
        """Is any collection being rebuilt?"""
        return any(desk.lock.locked() or desk.claimed for desk in self.desks.values())

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
        claimed for the caller, who must then call `reindex_text`. The claim is taken
        before the first await, so commands fired together cannot all pass the check."""
        desk = self.desk(collection)
        if desk.claimed or desk.lock.locked():
            return messages.REBUILD_RUNNING
        desk.claimed = True
        try:
            wait = await asyncio.to_thread(self.reindex_wait, collection)
        except BaseException:
            desk.claimed = False
            raise
        if wait:
            desk.claimed = False
            return messages.cooldown_note(wait)
        return None

    async def reindex_text(
        self,
        bullet: str,
        escape: Callable[[str], str],
        collection: str = DEFAULT_COLLECTION,
        started: Callable[[], Awaitable[object]] | None = None,
    ) -> str:
        """Rebuild a collection claimed by `claim_reindex` (after `started`, e.g. telling
        the platform an answer is coming), and say what it did; "sorry" (the traceback
        goes to the log) when the rebuild fails. The same on every platform."""
        try:
            if started is not None:
                await started()
            report = await self.reindex(collection)
        except IndexBusyError:  # another process's build or refresh holds the index
            return messages.REBUILD_RUNNING
        except Exception:
            log.exception("reindex failed")
            return messages.SORRY
        finally:
            self.desk(collection).claimed = False
        return report.summary(bullet, escape)

    async def sources_text_for(
        self,
        user_key: str,
        bullet: str,
        escape: Callable[[str], str],
        collection: str = DEFAULT_COLLECTION,
    ) -> str:
        """/sources for one user: the list, or a note when they ask too often."""
        if wait := await asyncio.to_thread(self.retry_after, f"sources:{user_key}"):
            return messages.wait_note(wait)
        return self.sources_text(bullet, escape, collection)

    async def reindex(self, collection: str = DEFAULT_COLLECTION) -> ReindexReport:
        """Rebuild a collection from its sources in a thread, then swap the new index in;
        the cooldown starts when it ends (not after another process's rebuild, which
        fetched nothing here)."""
        desk = self.desk(collection)
        fetched = True
        async with desk.lock:
            try:
                return await asyncio.to_thread(self._rebuild, desk)
            except IndexBusyError:
                fetched = False
                raise
            finally:
                if fetched:
                    await asyncio.to_thread(self.state.rebuilds.rebuilt, desk.name)

    def _rebuild(self, desk: Desk) -> ReindexReport:
        """Sync with the collection's sources: unchanged text comes from the embedding
        cache, removed and changed articles are gone from the new version."""
        settings = desk.settings
        with self.state.locks.hold(rebuild_lock(desk.name)) as held:
            if not held:
                raise IndexBusyError(f"another replica is rebuilding collection {desk.name}")
            report, failures = sync_from_sources(
                settings, self.embedder, settings.resolved_index_dir, settings.resolved_sources
            )
        desk.watcher.refresh()
        assert report.manifest is not None
        log.info("reindexed %s: version %s", desk.name, report.manifest.version)
        return ReindexReport(report.manifest, [f"{f.source}: {f.reason}" for f in failures])

    def close(self) -> None:
        """Stop the answer threads; the state is the entry point's to close."""
        self._pool.shutdown(wait=False, cancel_futures=True)
