"""A collection as the bots serve it: its answerer, the watcher that keeps the
answerer on the current version, and the one way to bring it up to its sources.

`/reindex` and the scheduled refresher both call `ServedCollection.sync`: it
takes the lock that stops two replicas rebuilding one collection, refreshes the
index from the sources, and swaps the new version in.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from bot.answer.answerer import Answerer
from bot.settings import Settings
from bot.wiring import milvus_for, refresh_sources, settled
from index.build.freshness import RefreshReport
from index.config import IndexConfig
from index.embedding.embedder import Embedder
from index.errors import ArticleBotError, IndexBusyError
from index.storage.article_index import ArticleIndex
from index.storage.layout import Manifest, read_pointer
from index.storage.milvus import MilvusConfig

log = logging.getLogger(__name__)

HoldLock = Callable[[str], AbstractContextManager[bool]]
"""Takes a named lock shared by the replicas for a block; yields False when another holds it."""


@dataclass(frozen=True)
class ReindexReport:
    """What a /reindex did: the version it published, and the sources that failed."""

    manifest: Manifest
    failed: list[str]


def rebuild_lock(collection: str) -> str:
    """The lock a replica holds while it rebuilds or refreshes a collection."""
    return f"rebuild:{collection}"


@dataclass
class ServedCollection:
    """One collection as the bots serve it: its settings (sources and index
    directory), the answerer, the watcher that keeps it on the current version,
    and, for /reindex, its own in-process lock and claim."""

    name: str
    settings: Settings
    answerer: Answerer
    watcher: IndexWatcher
    embedder: Embedder
    hold: HoldLock
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    claimed: bool = False  # a /reindex passed its checks and has not ended yet
    # called (from the syncing thread) after a sync published a version: the announcer
    published: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def open(
        cls, name: str, settings: Settings, answerer: Answerer, embedder: Embedder, hold: HoldLock
    ) -> ServedCollection:
        return cls(
            name, settings, answerer, watch_index(answerer, settings, embedder), embedder, hold
        )

    def sync(
        self, *, fresh: bool, now: float | None = None, next_run: float | None = None
    ) -> RefreshReport:
        """Bring the index up to the sources (`fresh`: every source fetched afresh,
        as /reindex does; else only what is due, conditionally) and answer from the
        result. IndexBusyError when another replica or process is rebuilding it."""
        settings = self.settings
        with self.hold(rebuild_lock(self.name)) as held:
            if not held:
                raise IndexBusyError("another replica is refreshing it")
            report = refresh_sources(
                settings,
                self.embedder,
                settings.resolved_index_dir,
                settings.resolved_sources,
                fresh=fresh,
                now=now,
                next_run=next_run,
            )
        self.watcher.refresh()
        if report.change.changed:
            for listener in self.published:
                listener()
        return report


def watch_index(answerer: Answerer, settings: Settings, embedder: Embedder) -> IndexWatcher:
    """What swaps the versions published at the settings' index directory in."""
    index_dir = settings.resolved_index_dir
    preload = settings.section(IndexConfig).preload_mb
    return IndexWatcher(answerer, index_dir, embedder, milvus_for(settings, index_dir), preload)


class IndexWatcher:
    """Keeps an answerer on the current version of its index directory: a check
    of the pointer file before each question (a few microseconds), a load when
    another process or this one published a new version."""

    def __init__(
        self,
        answerer: Answerer,
        index_dir: Path,
        embedder: Embedder,
        milvus: MilvusConfig | None = None,
        preload_mb: int = 0,
    ) -> None:
        self.answerer = answerer
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.milvus = milvus
        self.preload_mb = preload_mb
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Swap in the current version if it changed; True if it did. A version that
        cannot be loaded (pruned meanwhile, damaged, a bad pointer) is logged and the
        one in use keeps serving."""
        try:
            if read_pointer(self.index_dir) in (None, self.answerer.index.version):
                return False
            with self._lock:
                name = read_pointer(self.index_dir)
                if name in (None, self.answerer.index.version):
                    return False
                index = ArticleIndex.load(
                    self.index_dir, self.embedder, self.milvus, self.preload_mb
                )
                settled(index)
        except ArticleBotError:
            log.warning(
                "could not load the current index version; still serving %s",
                self.answerer.index.version,
                exc_info=True,
            )
            return False
        self.answerer.use_index(index)
        log.info("now answering from index version %s", index.version)
        return True
