"""Sources kept fresh by the running bot: every `sync_interval_minutes` (give or
take 10 %, so restarts and replicas spread out), each collection's configured
sources are refreshed in a background thread (index/build/freshness.py: conditional
requests, Retry-After honoured, a version published only when an article
changed). The bot answers from the new version without a restart.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.chat.service import ChatService
from bot.collection import ServedCollection
from index.errors import ArticleBotError, IndexBusyError

log = logging.getLogger(__name__)

JITTER = 0.1


@dataclass
class RefreshJob:
    """One collection's schedule."""

    collection: ServedCollection
    next_run: float


class Refresher:
    """Refreshes each collection of a chat service when it is due."""

    def __init__(
        self,
        service: ChatService,
        interval_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.service = service
        self.interval = interval_seconds
        self.clock = clock
        self.jitter = jitter
        now = clock()
        self.jobs = [RefreshJob(c, self._next(now)) for c in service.collections.values()]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _next(self, now: float) -> float:
        return now + self.interval * self.jitter(1 - JITTER, 1 + JITTER)

    def run_due(self) -> float:
        """Refresh every collection that is due; seconds until the next one is."""
        for job in self.jobs:
            now = self.clock()
            if job.next_run <= now:
                job.next_run = self._next(now)
                self._refresh(job.collection, now, job.next_run)
        return self._until_next()

    def _until_next(self) -> float:
        return max(0.0, min(job.next_run for job in self.jobs) - self.clock())

    def _refresh(self, served: ServedCollection, now: float, next_run: float) -> None:
        try:
            change = served.sync(fresh=False, now=now, next_run=next_run).change
        except IndexBusyError as exc:
            log.info("collection %s: %s; skipped", served.name, exc)
            return
        except ArticleBotError as exc:
            log.warning("collection %s: refreshing its sources failed: %s", served.name, exc)
            return
        except Exception:  # a bug must not stop the schedule; the log has the traceback
            log.exception("collection %s: refreshing its sources failed", served.name)
            return
        if change.settings_changed:  # once per change; on every run if replicas disagree
            log.warning(
                "collection %s: rebuilt, its build settings differ from the last version's "
                "(every replica that refreshes it needs the same ones)",
                served.name,
            )
        if change.changed:
            log.info(
                "collection %s: sources refreshed, version %s (added %d, updated %d, removed %d)",
                served.name,
                change.manifest.version if change.manifest else "?",
                len(change.added),
                len(change.updated),
                len(change.removed),
            )

    def start(self) -> Refresher:
        self._thread = threading.Thread(target=self._loop, name="refresher", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        wait = self._until_next()
        while not self._stop.wait(wait):
            wait = self.run_due()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def start_refresher(service: ChatService) -> Refresher | None:
    """The refresher, running, when `sync_interval_minutes` is set."""
    minutes = service.settings.sync_interval_minutes
    if not minutes:
        return None
    log.info("refreshing the sources every %g minutes", minutes)
    return Refresher(service, minutes * 60).start()
