"""Keeping an index directory's sources fresh: each configured source fetched
again, conditionally, so an unchanged one costs a 304 and embeds nothing.

Per source (and per feed entry) the ETag and Last-Modified of the last fetch are
kept, with the articles it gave, when it last succeeded and failed, and when it
may be asked next: a 429 or 503 holds it back for its Retry-After. A source that
is unchanged, failing or held back keeps its articles; a feed entry that failed is
asked again next time, even when the feed answers 304. All of it lives in
`sources.json` in the index directory, replaced whole (so /healthz, which reads it
unlocked, never sees it half-written) and only under the build lock, which a refresh
holds from the first request to the published version: only one process refreshes an
index directory at a time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from index.build.directory import ChangeReport, IndexDirectory
from index.build.publish import BuildLock
from index.config import IndexConfig
from index.embedding.embedder import Embedder
from index.errors import (
    ArticleBotError,
    NoArticlesError,
    RetryLaterError,
    SourceError,
    unexpected_failure,
)
from index.progress import SILENT, Progress
from index.records import Article, LoadFailure
from index.sources.articles import (
    decode_bytes,
    feed_entries,
    is_url,
    iter_load,
    looks_like_feed,
    parse_page,
    unique_ids,
)
from index.sources.fetch import MAX_RETRY_AFTER_SECONDS, Fetcher, Validators, clamp_retry_after
from index.sources.redact import redact_url
from index.storage.files import replace_text

log = logging.getLogger(__name__)

STATE_FILE = "sources.json"
# A 429 or 503 without Retry-After holds the source back this long.
DEFAULT_BACKOFF_SECONDS = 600.0


@dataclass
class EntryState:
    """What the last fetch of one URL (a source or a feed entry) left to compare with."""

    etag: str | None = None
    last_modified: str | None = None
    article_ids: list[str] = field(default_factory=list)

    @property
    def validators(self) -> Validators:
        return Validators(self.etag, self.last_modified)

    def remember(self, validators: Validators) -> None:
        self.etag, self.last_modified = validators.etag, validators.last_modified


@dataclass
class SourceState(EntryState):
    """One configured source: its last fetch, its feed's entries, and its record."""

    entries: dict[str, EntryState] = field(default_factory=dict)
    # feed entries whose last fetch failed (link -> the feed's date for it): asked again
    # next time even when the feed itself answers 304
    failed_entries: dict[str, str | None] = field(default_factory=dict)
    last_success: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    not_before: float | None = None  # no request before this (its Retry-After)
    next_run: float | None = None  # when the running bot plans to refresh it

    def hold_at_most(self, now: float) -> None:
        """No hold past `MAX_RETRY_AFTER_SECONDS` from now, whatever `sources.json`
        says (one written before the limit, or edited by hand)."""
        if self.not_before is not None and not (self.not_before <= now + MAX_RETRY_AFTER_SECONDS):
            self.not_before = now + MAX_RETRY_AFTER_SECONDS

    def entries_article_ids(self) -> list[str]:
        """The articles a feed's entries hold, in the feed's order."""
        return [i for entry in self.entries.values() for i in entry.article_ids]

    @classmethod
    def from_dict(cls, data: dict) -> SourceState:
        entries = {k: EntryState(**v) for k, v in data.pop("entries", {}).items()}
        return cls(**data, entries=entries)

    def report(self) -> dict:
        """Its record for /healthz and `index status`: times as ISO 8601 (UTC)."""
        next_run = max(filter(None, (self.next_run, self.not_before)), default=None)
        return {
            "last_success": iso(self.last_success),
            "last_error": self.last_error,
            "last_error_at": iso(self.last_error_at),
            "next_run": iso(next_run),
        }


def iso(timestamp: float | None) -> str | None:
    """The time as ISO 8601 (UTC); any number at all gives a date (one past year 9999,
    or not finite, reads as the latest there is), so a record never fails to show."""
    if timestamp is None:
        return None
    try:
        moment = datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        moment = (
            datetime.max.replace(tzinfo=UTC)
            if not timestamp < 0
            else datetime.min.replace(tzinfo=UTC)
        )
    return moment.isoformat(timespec="seconds")


class SourceStates:
    """Every source's state in one index directory (`sources.json`)."""

    def __init__(self, states: dict[str, SourceState] | None = None) -> None:
        self.states = states or {}

    @classmethod
    def load(cls, index_dir: Path) -> SourceStates:
        """The saved states; none (every source fetched afresh) when unreadable."""
        path = Path(index_dir) / STATE_FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls({k: SourceState.from_dict(v) for k, v in data.items()})
        except (OSError, ValueError, TypeError) as exc:
            log.warning("cannot read %s (%s); fetching every source afresh", path, exc)
            return cls()

    def save(self, index_dir: Path) -> None:
        data = {source: asdict(state) for source, state in self.states.items()}
        # private: source and feed entry URLs may carry credentials, and a failed entry
        # is asked again by its real URL
        text = json.dumps(data, indent=1) + "\n"
        replace_text(Path(index_dir) / STATE_FILE, text, private=True)

    def get(self, source: str) -> SourceState:
        return self.states.setdefault(source, SourceState())

    def keep_only(self, sources: Iterable[str]) -> None:
        """Forget sources no longer configured."""
        wanted = set(sources)
        self.states = {k: v for k, v in self.states.items() if k in wanted}

    def forget_missing(self, indexed: set[str]) -> None:
        """Fetch afresh (no validators) whatever gave an article the index no longer
        holds (removed, or replaced by another build): a 304 must not keep it out."""
        for entry in self._entries():
            if not set(entry.article_ids) <= indexed:
                entry.remember(Validators())

    def not_published(self, sources: Iterable[str], exc: BaseException, now: float) -> None:
        """Each source's record says the refresh could not publish what it fetched (for
        /healthz and `index status`); the next refresh that succeeds clears it."""
        reason = (
            str(exc) if isinstance(exc, ArticleBotError) else f"{type(exc).__name__}, see the log"
        )
        for source in sources:
            state = self.get(source)
            state.last_error, state.last_error_at = f"not published: {reason}", now

    def forget_validators(self) -> None:
        """Fetch every source and entry afresh next time."""
        for entry in self._entries():
            entry.remember(Validators())

    def _entries(self) -> list[EntryState]:
        return [e for state in self.states.values() for e in [state, *state.entries.values()]]

    def report(self) -> dict[str, dict]:
        """Each source's record, under its redacted name."""
        return {redact_url(k): v.report() for k, v in self.states.items()}


@dataclass
class Gathered:
    """What one round of fetching found: new text, failures, and the articles to keep."""

    articles: list[Article] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)
    keep_ids: set[str] = field(default_factory=set)


@dataclass
class RefreshReport:
    """What a refresh did: the change it published (if any) and what it fetched."""

    change: ChangeReport
    gathered: Gathered


def gather(
    sources: list[str], fetcher: Fetcher, states: SourceStates, now: float, *, fresh: bool = False
) -> Gathered:
    """Fetch each source that is due (`fresh`: every source, unconditionally); one
    failing source never stops the others."""
    found = Gathered()
    if fresh:
        states.forget_validators()
    for source in sources:
        state = states.get(source)
        state.hold_at_most(now)
        if not fresh and state.not_before is not None and now < state.not_before:
            found.keep_ids.update(state.article_ids)
            continue
        try:
            state.article_ids = _fetch_source(source, fetcher, state, found)
        except Exception as exc:  # whatever one source raises stops that source alone
            exc = unexpected_failure(redact_url(source), exc)
            _failed(state, exc, now)
            found.keep_ids.update(state.article_ids)
            found.failures.append(LoadFailure(exc.source, exc.reason))
            continue
        state.last_success, state.last_error, state.not_before = now, None, None
    found.articles = unique_ids(found.articles)
    return found


def _failed(state: SourceState, exc: SourceError, now: float) -> None:
    state.last_error, state.last_error_at = exc.reason, now
    if isinstance(exc, RetryLaterError):
        wait = DEFAULT_BACKOFF_SECONDS if exc.seconds is None else exc.seconds
        state.not_before = now + clamp_retry_after(wait)
    log.warning("source %s failed: %s", exc.source, exc.reason)


def _fetch_source(source: str, fetcher: Fetcher, state: SourceState, found: Gathered) -> list[str]:
    """The ids of the articles `source` holds now; new text goes into `found`."""
    if not is_url(source):
        return _load_local(source, fetcher, found)
    fetcher = fetcher.for_source()  # the feed and its entries share one deadline
    page = fetcher.get(source, validators=state.validators)
    if page.not_modified:
        found.keep_ids.update(state.article_ids)
        if not state.failed_entries:
            return state.article_ids
        for link, date in list(state.failed_entries.items()):
            _fetch_entry(link, date, state, fetcher, found)
        return state.entries_article_ids()
    state.remember(page.validators)
    text = decode_bytes(page.body)
    if not looks_like_feed(page.content_type, text):
        article = parse_page(source, page.content_type, text)
        found.articles.append(article)
        return [article.id]
    return _fetch_entries(source, page.body, fetcher, state, found)


def _load_local(source: str, fetcher: Fetcher, found: Gathered) -> list[str]:
    """Files and folders are read whole (cheap); unchanged text embeds nothing."""
    ids = []
    for item in iter_load([source], fetcher):
        if isinstance(item, LoadFailure):
            found.failures.append(item)
        else:
            found.articles.append(item)
            ids.append(item.id)
    return ids


def _fetch_entries(
    feed: str, body: bytes, fetcher: Fetcher, state: SourceState, found: Gathered
) -> list[str]:
    """Each entry of a feed, conditionally; an entry that fails keeps its article."""
    entries = feed_entries(body)[: fetcher.config.feed_max_entries]
    if not entries:
        raise SourceError(redact_url(feed), "the feed has no entries with links")
    known, state.entries, state.failed_entries = state.entries, {}, {}
    for link, date in entries:
        state.entries[link] = known.get(link, EntryState())
        _fetch_entry(link, date, state, fetcher, found)
    return state.entries_article_ids()


def _fetch_entry(
    link: str, date: str | None, state: SourceState, fetcher: Fetcher, found: Gathered
) -> None:
    """One entry of a feed, conditionally; one that fails keeps its article and is
    remembered, to be asked again next time."""
    entry = state.entries.setdefault(link, EntryState())
    try:
        page = fetcher.get(link, feed_entry=True, validators=entry.validators)
        if page.not_modified:
            found.keep_ids.update(entry.article_ids)
        else:
            article = parse_page(link, page.content_type, decode_bytes(page.body), date)
            found.articles.append(article)
            entry.remember(page.validators)
            entry.article_ids = [article.id]
        state.failed_entries.pop(link, None)
    except Exception as exc:  # unreachable, no article text, or anything else
        exc = unexpected_failure(redact_url(link), exc)
        found.failures.append(LoadFailure(exc.source, exc.reason))
        found.keep_ids.update(entry.article_ids)
        state.failed_entries[link] = date


def refresh(
    index_dir: Path,
    sources: list[str],
    embedder: Embedder,
    fetcher: Fetcher,
    now: float,
    *,
    config: IndexConfig | None = None,
    next_run: float | None = None,
    fresh: bool = False,
    progress: Progress = SILENT,
) -> RefreshReport:
    """Fetch what changed (`fresh`: everything, as `/reindex` and `index sync` do) and
    publish a version only if an article did. Raises IndexBusyError at once when
    another process holds the index directory, NoArticlesError when the sources
    hold nothing at all."""
    index_dir = Path(index_dir)
    with BuildLock(index_dir):
        collection = IndexDirectory(index_dir, embedder, config, progress=progress)
        states = SourceStates.load(index_dir)
        states.keep_only(sources)
        states.forget_missing({a.id for a in collection.articles()})
        found = gather(sources, fetcher, states, now, fresh=fresh)
        if not (found.articles or found.failures or found.keep_ids):
            raise NoArticlesError("the sources hold no articles; the index is unchanged")
        keep_sources = {f.source for f in found.failures}
        try:
            change = collection.sync(found.articles, keep_sources, found.keep_ids, locked=True)
        except BaseException as exc:
            # what was fetched is not in the index: asked again conditionally, an updated
            # article would answer 304 and its old text stay, so fetch all afresh next time
            states.forget_validators()
            states.not_published(sources, exc, now)
            raise
        finally:
            for source in sources:
                states.get(source).next_run = next_run
            states.save(index_dir)
    return RefreshReport(change, found)
