"""New articles, posted as they arrive: each article a publish adds to a collection
goes once to that collection's announce channels, with its title, link and summary
(chosen at build time), at most `announce_max_per_refresh` a publish and then how
many more.

The announcer runs beside a platform's client. It checks after each publish this
process makes (/reindex, the scheduled refresh) and every `announce_check_seconds`
for versions another process published (`articlebot build`, a replica). What each
channel has had is in the state (bot/chat/announced.py), written under the
collection's announce lock, so replicas and restarts post each article once. The
platform renders and posts (`Post`); a post that fails is logged, not retried, so a
channel the bot may not write in is never flooded on the next check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.answer.summary import by_date, summary_sentences
from bot.chat.config import ChatConfig
from index.sources.articles import is_url
from index.storage.article_index import ArticleIndex

if TYPE_CHECKING:
    from bot.chat.service import ChatService
    from bot.collection import ServedCollection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewArticle:
    """An article as its announcement shows it."""

    id: str
    title: str
    source: str
    published: str | None
    summary: str

    @property
    def link(self) -> str | None:
        """The article's web address; None for a file on the bot's disk."""
        return self.source if is_url(self.source) else None


@dataclass(frozen=True)
class Announcement:
    """What one publish added to a collection, for one channel: the newest articles
    (at most announce_max_per_refresh) and how many more there were."""

    collection: str
    channel: str
    articles: list[NewArticle]
    more: int = 0


Post = Callable[[Announcement], Awaitable[None]]


def new_article(index: ArticleIndex, entry: dict) -> NewArticle:
    """A manifest entry, with the summary the version holds for it."""
    summary = " ".join(summary_sentences(index, entry["id"]))
    return NewArticle(entry["id"], entry["title"], entry["source"], entry.get("published"), summary)


def announcement(
    index: ArticleIndex, collection: str, channel: str, new_ids: list[str], most: int
) -> Announcement:
    """The announcement of `new_ids` (articles of `index`), newest first."""
    wanted = set(new_ids)
    entries = by_date([e for e in index.manifest.articles if e["id"] in wanted])
    shown = [new_article(index, entry) for entry in entries[:most]]
    return Announcement(collection, channel, shown, len(entries) - len(shown))


class Announcer:
    """Posts each collection's new articles to its announce channels that this
    platform `owns` (Discord's are numbers, Slack's are not)."""

    def __init__(self, service: ChatService, post: Post, owns: Callable[[str], bool]) -> None:
        self.service = service
        self.post = post
        self.owns = owns
        self.config = service.settings.section(ChatConfig)
        self.checked = service.news_checked  # collection -> the version last checked in full
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def channels(self, served: ServedCollection) -> list[str]:
        return [c for c in served.settings.announce_channels if self.owns(c)]

    @property
    def wanted(self) -> bool:
        """Has any collection an announce channel of this platform?"""
        return any(self.channels(served) for served in self.service.collections.values())

    async def run(self) -> None:
        """Check now, after each publish of this process, and every announce_check_seconds."""
        self._loop = asyncio.get_running_loop()
        for served in self.service.collections.values():
            served.published.append(self.poke)
        try:
            while True:
                try:
                    await self.check()
                except Exception:  # the next check tries again; the log has the traceback
                    log.exception("checking for new articles to announce failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.announce_check_seconds)
                self._wake.clear()
        finally:
            for served in self.service.collections.values():
                served.published.remove(self.poke)

    def poke(self) -> None:
        """A version was published: check soon (safe from any thread)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def check(self) -> list[Announcement]:
        """Post what is new since the last check, and return it."""
        async with self._lock:
            due = await asyncio.to_thread(self.due)
            for news in due:
                try:
                    await self.post(news)
                except Exception:
                    log.exception("could not announce new articles in channel %s", news.channel)
            return due

    def due(self) -> list[Announcement]:
        """Every owned channel's announcement of what its collection's current version
        added, recorded as had (blocking: it reads the index and the state)."""
        found: list[Announcement] = []
        for served in self.service.collections.values():
            if channels := self.channels(served):
                found += self._collection_news(served, channels)
        return found

    def _collection_news(self, served: ServedCollection, channels: list[str]) -> list[Announcement]:
        served.watcher.refresh()  # a version another process published
        index = served.answerer.index
        if self.checked.get(served.name) == index.version:
            return []
        state = self.service.state
        with state.locks.hold(f"announce:{served.name}") as held:
            if not held:  # another replica is announcing this collection's news
                return []
            ids = [entry["id"] for entry in index.manifest.articles]
            found = []
            for channel in channels:
                new = state.announced.news(served.name, channel, ids, self.config.announce_existing)
                if new:
                    most = self.config.announce_max_per_refresh
                    found.append(announcement(index, served.name, channel, new, most))
        self.checked[served.name] = index.version
        return found
