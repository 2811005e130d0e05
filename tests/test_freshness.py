"""Sources kept fresh by the bot: conditional requests to a fake site on 127.0.0.1
(a 304 publishes nothing and embeds nothing), Retry-After on a fake clock, one
failing source beside a good one, the build lock, and the record each source
leaves for /healthz and `index status`. The fast tier (hashing embedder) holds
the logic; the last test runs the real Slack app and model."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.cli import main
from bot.settings import Settings
from index.build.directory import IndexDirectory
from index.build.freshness import SourceStates, iso, refresh
from index.build.publish import BuildLock
from index.config import FetchConfig
from index.embedding.embedder import Embedder
from index.errors import IndexBusyError, NewerBuildError
from index.sources.articles import article_id_for_url, load_articles
from index.sources.fetch import Fetcher
from index.storage.layout import read_current, read_pointer
from tests.fakes.chat import chat_service, chat_settings, running
from tests.fakes.hashing import HashingEmbedder
from tests.fakes.pages import Page, serve_pages

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]  # where the fake sites are

FIXTURES = Path(__file__).parent / "fixtures"
T0 = 1_000_000.0  # the fake clock's start: seconds since the epoch
STORIES = {
    "crane": (
        "Harbour crane replaced",
        "The harbour crane was replaced after forty years of service.",
    ),
    "ferry": (
        "Night ferry returns",
        "The night ferry to the island returns on Friday after repairs.",
    ),
    "comet": (
        "Comet seen over the valley",
        "Astronomers in the valley saw the comet Tsuchinshan at dawn.",
    ),
}


def feed(base: str, names: list[str]) -> bytes:
    items = "".join(
        f"<item><title>{STORIES[n][0]}</title><link>{base}/{n}</link>"
        f"<pubDate>Tue, 0{i + 1} Sep 2026 08:00:00 GMT</pubDate></item>"
        for i, n in enumerate(names)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Town news</title>{items}</channel></rss>'.encode()


class Site:
    """A fake news site: a feed whose entries can be added, every request recorded."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.base = ""

    def publish(self, *names: str) -> None:
        for n in names:
            title, text = STORIES[n]
            body = f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1><p>{text}</p></article></body></html>"
            self.pages[f"/{n}"] = Page(body.encode(), headers={"ETag": f'"{n}-1"'})
        self.pages["/feed.xml"] = Page(
            feed(self.base, list(names)),
            "application/rss+xml",
            headers={"ETag": f'"feed-{len(names)}"'},
        )

    def paths(self) -> list[str]:
        return [path for path, _ in self.seen]

    def ids(self, *names: str) -> list[str]:
        """The article ids the stories get (made from their URLs)."""
        return [article_id_for_url(f"{self.base}/{n}") for n in names]


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site()
    with serve_pages(site.pages, seen=site.seen) as base:
        site.base = base
        yield site


def fetcher() -> Fetcher:
    return Fetcher(FetchConfig(fetch_allowed_networks=LOOPBACK))


def run(index_dir: Path, sources: list[str], embedder: HashingEmbedder, now: float):
    return refresh(index_dir, sources, embedder, fetcher(), now, next_run=now + 1800)


def test_unchanged_feed_costs_one_304(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    site.publish("crane", "ferry")
    index_dir, sources = tmp_path / "index", [f"{site.base}/feed.xml"]
    first = run(index_dir, sources, fast_embedder, T0)
    assert sorted(first.change.added) == site.ids("crane", "ferry")
    version, calls, requests = read_pointer(index_dir), fast_embedder.calls, len(site.seen)
    second = run(index_dir, sources, fast_embedder, T0 + 1800)
    assert not second.change.changed and read_pointer(index_dir) == version
    assert fast_embedder.calls == calls  # nothing embedded
    assert site.paths()[requests:] == ["/feed.xml"]  # one request, answered 304
    assert site.seen[-1][1]["If-None-Match"] == '"feed-2"'
    assert len(read_current(index_dir)[1]) == 2  # both articles kept


def test_a_new_entry_is_fetched_alone(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    site.publish("crane", "ferry")
    index_dir, sources = tmp_path / "index", [f"{site.base}/feed.xml"]
    run(index_dir, sources, fast_embedder, T0)
    site.publish("crane", "ferry", "comet")
    requests = len(site.seen)
    report = run(index_dir, sources, fast_embedder, T0 + 1800)
    assert report.change.added == site.ids("comet") and report.change.unchanged == 2
    fetched = site.seen[requests:]
    assert [p for p, _ in fetched] == ["/feed.xml", "/crane", "/ferry", "/comet"]
    assert [h.get("If-None-Match") for _, h in fetched[1:]] == ['"crane-1"', '"ferry-1"', None]
    assert all(h["User-Agent"].startswith("ArticleBot/") for _, h in site.seen)


def test_an_article_removed_meanwhile_is_fetched_again(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """`index remove` (or a build from other sources) took an article out: its
    unchanged source must not answer 304 and keep it out for good."""
    site.publish("crane", "ferry")
    index_dir, sources = tmp_path / "index", [f"{site.base}/feed.xml"]
    run(index_dir, sources, fast_embedder, T0)
    IndexDirectory(index_dir, fast_embedder).remove(site.ids("ferry"))
    requests = len(site.seen)
    report = run(index_dir, sources, fast_embedder, T0 + 1800)
    assert report.change.added == site.ids("ferry")
    fetched = site.seen[requests:]
    assert [p for p, _ in fetched] == ["/feed.xml", "/crane", "/ferry"]
    assert [h.get("If-None-Match") for _, h in fetched] == [None, '"crane-1"', None]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_holds_the_source_back(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder, status: int
) -> None:
    site.publish("crane")
    index_dir, sources = tmp_path / "index", [f"{site.base}/feed.xml"]
    run(index_dir, sources, fast_embedder, T0)
    site.pages["/feed.xml"] = Page(b"slow down", "text/plain", status, {"Retry-After": "120"})
    busy = run(index_dir, sources, fast_embedder, T0 + 10)
    assert busy.gathered.failures and f"HTTP {status}" in busy.gathered.failures[0].reason
    assert not busy.change.changed and len(read_current(index_dir)[1]) == 1  # kept
    requests = len(site.seen)
    run(index_dir, sources, fast_embedder, T0 + 10 + 119)
    assert len(site.seen) == requests  # not asked before Retry-After expired
    site.publish("crane")
    run(index_dir, sources, fast_embedder, T0 + 10 + 121)
    assert site.paths()[requests:] == ["/feed.xml"]
    record = SourceStates.load(index_dir).report()[sources[0]]
    assert record["last_error"] is None and record["last_success"] is not None


def test_a_huge_retry_after_holds_a_source_back_a_day_at_most(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    site.publish("crane")
    index_dir, sources = tmp_path / "index", [f"{site.base}/feed.xml"]
    run(index_dir, sources, fast_embedder, T0)
    busy = Page(b"slow down", "text/plain", 429, {"Retry-After": "99999999999999"})
    site.pages["/feed.xml"] = busy
    run(index_dir, sources, fast_embedder, T0 + 10)
    assert SourceStates.load(index_dir).get(sources[0]).not_before == T0 + 10 + 86_400
    assert SourceStates.load(index_dir).report()[sources[0]]["next_run"].startswith("1970-01-")
    site.publish("crane")
    requests = len(site.seen)
    run(index_dir, sources, fast_embedder, T0 + 10 + 86_401)
    assert site.paths()[requests:] == ["/feed.xml"]  # asked again after a day


@pytest.mark.parametrize("timestamp", [1e20, float("inf"), float("nan"), -1e20, -float("inf")])
def test_any_timestamp_formats(timestamp: float) -> None:
    assert iso(timestamp) in ("9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00")


@pytest.mark.parametrize("held_until", [1e20, float("inf"), float("nan")])
def test_a_record_held_past_any_date_still_reports_and_is_asked_within_a_day(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder, held_until: float
) -> None:
    """A sources.json from before the limit (or edited by hand) with an absurd hold:
    /healthz and `index status` still show every record, and the hold shrinks to a day."""
    site.publish("crane")
    index_dir, sources = tmp_path / "index", [f"{site.base}/feed.xml"]
    run(index_dir, sources, fast_embedder, T0)
    states = SourceStates.load(index_dir)
    states.get(sources[0]).not_before = held_until
    states.save(index_dir)
    record = SourceStates.load(index_dir).report()[sources[0]]
    assert record["last_success"] is not None and record["next_run"] is not None
    requests = len(site.seen)
    run(index_dir, sources, fast_embedder, T0 + 10)
    run(index_dir, sources, fast_embedder, T0 + 10 + 86_401)
    assert site.paths()[requests:] == ["/feed.xml"]


def test_a_hostile_retry_after_on_an_entry_fails_that_entry_alone(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    site.publish("crane", "ferry")
    site.pages["/ferry"] = Page(b"later", "text/plain", 429, {"Retry-After": "²"})
    index_dir, sources = tmp_path / "index", [f"{site.base}/feed.xml"]
    report = run(index_dir, sources, fast_embedder, T0)
    assert report.change.added == site.ids("crane")
    assert [f.reason for f in report.gathered.failures] == ["HTTP 429"]


def test_sources_json_is_private_to_its_owner(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """It holds source and entry URLs as fetched, credentials included (a failed entry
    is asked again by its real URL): only the bot's own user may read it."""
    old = os.umask(0o022)  # the usual umask, under which a new file would be 0644
    try:
        site.publish("crane")
        index_dir = tmp_path / "index"
        run(index_dir, [f"{site.base}/feed.xml?token=S3CRET"], fast_embedder, T0)
    finally:
        os.umask(old)
    assert stat.S_IMODE((index_dir / "sources.json").stat().st_mode) == 0o600
    assert "S3CRET" not in json.dumps(SourceStates.load(index_dir).report())


def test_one_failing_source_never_stops_the_others(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    site.publish("crane")
    index_dir = tmp_path / "index"
    good, gone = f"{site.base}/feed.xml", f"{site.base}/gone.xml"
    site.pages["/gone.xml"] = Page(feed(site.base, ["ferry"]), "application/rss+xml")
    site.pages["/ferry"] = Page(
        b"<html><title>Night ferry returns</title><body><p>The night ferry to the island returns on Friday after repairs.</p></body></html>"
    )
    run(index_dir, [gone, good], fast_embedder, T0)
    del site.pages["/gone.xml"]
    site.publish("crane", "comet")
    report = run(index_dir, [gone, good], fast_embedder, T0 + 1800)
    assert report.change.added == site.ids("comet")
    assert {a.id for a in read_current(index_dir)[1]} == set(site.ids("crane", "comet", "ferry"))
    records = SourceStates.load(index_dir).report()
    assert records[gone]["last_error"] == "HTTP 404" and records[good]["last_error"] is None


def test_a_refresh_that_cannot_publish_leaves_the_next_one_to_fetch_afresh(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica not yet upgraded fetches an updated story but may not publish over the
    upgraded one's version; the upgraded replica must still get the new text, not a 304
    for what never reached the index."""
    site.publish("crane")
    index_dir, sources = tmp_path / "index", [f"{site.base}/feed.xml"]
    monkeypatch.setattr("index.build.publish.BUILD_VERSION", 2)
    run(index_dir, sources, fast_embedder, T0)
    updated = site.pages["/crane"].body.replace(b"forty", b"fifty")
    site.pages["/crane"] = Page(updated, headers={"ETag": '"crane-2"'})
    site.pages["/feed.xml"] = Page(
        feed(site.base, ["crane"]), "application/rss+xml", headers={"ETag": '"feed-1b"'}
    )
    monkeypatch.setattr("index.build.publish.BUILD_VERSION", 1)
    with pytest.raises(NewerBuildError):
        run(index_dir, sources, fast_embedder, T0 + 1800)
    record = SourceStates.load(index_dir).report()[sources[0]]  # what /healthz shows
    assert record["last_error"].startswith("not published: ") and "newer" in record["last_error"]
    monkeypatch.setattr("index.build.publish.BUILD_VERSION", 2)
    report = run(index_dir, sources, fast_embedder, T0 + 3600)
    assert report.change.updated == site.ids("crane")
    assert "fifty years" in read_current(index_dir)[1][0].text
    assert SourceStates.load(index_dir).report()[sources[0]]["last_error"] is None


def test_health_never_reads_the_sources_state_half_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """/healthz reads sources.json without the build lock while a refresh saves it:
    every read finds the whole state, never an empty or cut-off file."""
    states = SourceStates()
    for n in range(40):
        states.get(f"https://news.example/feed-{n}.xml").last_success = T0 + n
    states.save(tmp_path)
    saving = threading.Event()
    saving.set()

    def save_repeatedly() -> None:
        for _ in range(100):
            states.save(tmp_path)
        saving.clear()

    writer = threading.Thread(target=save_repeatedly)
    writer.start()
    reads = 0
    with caplog.at_level(logging.WARNING, logger="index.build.freshness"):
        while saving.is_set():
            assert len(SourceStates.load(tmp_path).report()) == 40
            reads += 1
    writer.join()
    assert reads > 0 and not caplog.records


def test_an_entry_that_failed_is_fetched_again_though_the_feed_is_unchanged(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """A new story's page fails once (a 503 without Retry-After, say): the next refresh
    asks again even though the feed has not changed since, or the story never arrives."""
    site.publish("crane")
    index_dir, sources = tmp_path / "index", [f"{site.base}/feed.xml"]
    run(index_dir, sources, fast_embedder, T0)
    site.publish("crane", "ferry")
    ferry = site.pages["/ferry"]
    site.pages["/ferry"] = Page(b"busy", "text/plain", 500)
    failed = run(index_dir, sources, fast_embedder, T0 + 1800)
    assert [f.reason for f in failed.gathered.failures] == ["HTTP 500"]
    site.pages["/ferry"] = ferry
    requests = len(site.seen)
    report = run(index_dir, sources, fast_embedder, T0 + 3600)
    assert report.change.added == site.ids("ferry")
    assert site.paths()[requests:] == ["/feed.xml", "/ferry"]  # the feed answers 304
    assert site.seen[requests][1]["If-None-Match"] == '"feed-2"'
    assert not run(index_dir, sources, fast_embedder, T0 + 5400).gathered.failures
    assert site.paths()[requests + 2 :] == ["/feed.xml"]  # nothing left to retry


def test_an_entry_without_article_text_fails_alone(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """An entry whose page holds no article text is that entry's failure: the entries
    after it still arrive, and it is asked again next time."""
    site.publish("crane")
    index_dir, sources = tmp_path / "index", [f"{site.base}/feed.xml"]
    run(index_dir, sources, fast_embedder, T0)
    site.publish("crane", "ferry", "comet")
    ferry = site.pages["/ferry"]
    site.pages["/ferry"] = Page(b"<html><body></body></html>")
    first = run(index_dir, sources, fast_embedder, T0 + 1800)
    assert [f.reason for f in first.gathered.failures] == ["no article text found in the page"]
    assert first.change.added == site.ids("comet") and not first.change.removed
    site.pages["/ferry"] = ferry
    assert run(index_dir, sources, fast_embedder, T0 + 3600).change.added == site.ids("ferry")


def test_a_refresh_keeps_the_articles_added_by_hand(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """An article the operator added with `index add` is not a configured source's:
    the scheduled refresh leaves it in while it adds and drops the feed's stories."""
    site.publish("crane", "ferry")
    index_dir, sources = tmp_path / "index", [f"{site.base}/feed.xml"]
    run(index_dir, sources, fast_embedder, T0)
    [own] = load_articles([str(FIXTURES / "harbour-bridge.txt")])[0]
    IndexDirectory(index_dir, fast_embedder).add([own], by_hand=True)
    site.publish("crane", "comet")
    site.pages["/feed.xml"].headers["ETag"] = '"feed-2b"'  # not the first feed's
    report = run(index_dir, sources, fast_embedder, T0 + 1800)
    assert report.change.added == site.ids("comet") and report.change.removed == site.ids("ferry")
    held = {a.id for a in read_current(index_dir)[1]}
    assert held == {own.id, *site.ids("crane", "comet")}


def test_index_sync_keeps_a_failing_feeds_entries(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder, settings: Settings
) -> None:
    """`index sync` and /reindex fetch every source afresh (no If-None-Match); when a
    feed fails, the articles its entries gave last time stay, as a file's do."""
    from bot.wiring import sync_from_sources

    site.publish("crane", "ferry")
    index_dir, source = tmp_path / "index", f"{site.base}/feed.xml"
    allowed = settings.model_copy(update={"fetch_allowed_networks": LOOPBACK})
    sync_from_sources(allowed, fast_embedder, index_dir, [source])
    requests = len(site.seen)
    report, failures = sync_from_sources(allowed, fast_embedder, index_dir, [source])
    assert not report.changed and failures == []
    assert all("If-None-Match" not in h for _, h in site.seen[requests:])
    assert len(site.seen) - requests == 3  # the feed and both entries, fetched again
    del site.pages["/feed.xml"]
    report, failures = sync_from_sources(allowed, fast_embedder, index_dir, [source])
    assert [f.reason for f in failures] == ["HTTP 404"] and not report.changed
    assert {a.id for a in read_current(index_dir)[1]} == set(site.ids("crane", "ferry"))


def test_only_one_process_refreshes_an_index(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    site.publish("crane")
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    with BuildLock(index_dir), pytest.raises(IndexBusyError):
        run(index_dir, [f"{site.base}/feed.xml"], fast_embedder, T0)
    assert site.seen == []


def test_status_shows_each_source(
    site: Site, tmp_path: Path, fast_embedder: HashingEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    site.publish("crane")
    index_dir, source = tmp_path / "index", f"{site.base}/feed.xml"
    run(index_dir, [source], fast_embedder, T0)
    del site.pages["/feed.xml"]
    run(index_dir, [source], fast_embedder, T0 + 60)
    assert main(["index", "status", "--index-dir", str(index_dir), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)["sources"][source]
    assert record == {
        "last_success": "1970-01-12T13:46:40+00:00",
        "last_error": "HTTP 404",
        "last_error_at": "1970-01-12T13:47:40+00:00",
        "next_run": "1970-01-12T14:17:40+00:00",
    }
    assert main(["index", "status", "--index-dir", str(index_dir)]) == 0
    assert (
        f"{source}: last success 1970-01-12T13:46:40+00:00, last error HTTP 404"
        in capsys.readouterr().out
    )


def test_the_refresher_runs_when_due(
    site: Site, fast_index_copy: Path, fast_embedder: HashingEmbedder, settings: Settings
) -> None:
    """On a fake clock: nothing before the interval (with its jitter), then one
    refresh, swapped into the service, and the next run recorded."""
    from bot.chat.service import ChatService
    from bot.process.refresher import Refresher
    from bot.wiring import make_answerer
    from index.build.freshness import iso
    from index.storage.article_index import ArticleIndex

    site.publish("crane")
    source = f"{site.base}/feed.xml"
    changes = {"index_dir": fast_index_copy, "sources": [source]}
    seen = settings.model_copy(update={**changes, "fetch_allowed_networks": LOOPBACK})
    answerer = make_answerer(seen, ArticleIndex.load(fast_index_copy, fast_embedder))
    service = ChatService(answerer, fast_embedder, seen)
    clock = [T0]
    refresher = Refresher(service, 600, clock=lambda: clock[0], jitter=lambda low, high: high)
    try:
        assert refresher.run_due() == pytest.approx(660) and site.seen == []
        clock[0] = T0 + 660
        assert refresher.run_due() == pytest.approx(660)
        assert site.paths() == ["/feed.xml", "/crane"]
        assert list(service.answerer.index.articles) == site.ids("crane")
        record = SourceStates.load(fast_index_copy).report()[source]
        assert record["next_run"] == iso(T0 + 1320)
    finally:
        service.close()


def test_a_refresh_under_other_build_settings_rebuilds_and_says_so(
    site: Site,
    fast_index_copy: Path,
    fast_embedder: HashingEmbedder,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The feed unchanged, but the chunk size changed since the last version: the
    refresh rebuilds with the new one, serves it, and warns (replicas that refresh
    one index with different settings would rebuild it on every run)."""
    from bot.chat.service import ChatService
    from bot.process.refresher import Refresher
    from bot.wiring import make_answerer
    from index.storage.article_index import ArticleIndex

    site.publish("crane")
    changes = {"index_dir": fast_index_copy, "sources": [f"{site.base}/feed.xml"]}
    seen = settings.model_copy(update={**changes, "fetch_allowed_networks": LOOPBACK})
    caplog.set_level(logging.INFO, "bot.process.refresher")
    clock = [T0]
    for chunk_tokens in (200, 64):
        config = seen.model_copy(update={"chunk_target_tokens": chunk_tokens})
        answerer = make_answerer(config, ArticleIndex.load(fast_index_copy, fast_embedder))
        service = ChatService(answerer, fast_embedder, config)
        clock[0] = T0
        refresher = Refresher(service, 600, clock=lambda: clock[0], jitter=lambda low, high: high)
        try:
            clock[0] = T0 + 660
            refresher.run_due()
            served = service.answerer.index
        finally:
            service.close()
        assert list(served.articles) == site.ids("crane")
        assert served.manifest.chunking["target_tokens"] == chunk_tokens
    assert caplog.text.count("its build settings differ") == 1


def test_only_the_replica_holding_the_lock_refreshes(
    site: Site,
    fast_index_copy: Path,
    fast_embedder: HashingEmbedder,
    settings: Settings,
    state_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Replicas sharing a database: while another holds the collection's rebuild lock,
    a due refresh is skipped (nothing fetched, the version kept); then it runs."""
    from bot.chat.service import ChatService
    from bot.collection import rebuild_lock
    from bot.process.refresher import Refresher
    from bot.wiring import make_answerer, open_state
    from index.storage.article_index import ArticleIndex
    from index.storage.layout import read_pointer

    site.publish("crane")
    changes = {"index_dir": fast_index_copy, "sources": [f"{site.base}/feed.xml"]}
    shared = settings.model_copy(
        update={**changes, "fetch_allowed_networks": LOOPBACK, "state_url": SecretStr(state_url)}
    )
    caplog.set_level(logging.INFO, "bot.process.refresher")
    mine, other = open_state(shared), open_state(shared)
    answerer = make_answerer(shared, ArticleIndex.load(fast_index_copy, fast_embedder))
    service = ChatService(answerer, fast_embedder, shared, state=mine)
    clock = [T0]
    refresher = Refresher(service, 600, clock=lambda: clock[0], jitter=lambda low, high: high)
    version = read_pointer(fast_index_copy)
    try:
        with other.locks.hold(rebuild_lock("default")) as held:
            assert held
            clock[0] = T0 + 660
            refresher.run_due()
        assert site.seen == [] and read_pointer(fast_index_copy) == version
        assert "another replica is refreshing it; skipped" in caplog.text
        clock[0] = T0 + 1320
        refresher.run_due()
        assert list(service.answerer.index.articles) == site.ids("crane")
    finally:
        service.close()
        mine.close()
        other.close()


# --- the running bot ----------------------------------------------------------------------


def test_the_running_bot_answers_a_new_entry_without_a_restart(
    site: Site,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The real Slack app on a chat service whose refresher runs every 0.3 s: a story
    added to the feed is answered by the same process, and /healthz shows the source."""
    from bot.chat.slack.app import create_slack_app
    from bot.process.refresher import Refresher
    from tests.fakes.background import AppServer
    from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, FakeSlack
    from tests.slack.app_client import ask

    site.publish("crane")
    source = f"{site.base}/feed.xml"
    with running(FakeSlack()) as slack:
        settings = chat_settings(
            tmp_path_factory,
            "fresh",
            source,
            fetch_allowed_networks=LOOPBACK,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_base_url=slack.api_base,
        )
        with chat_service(settings, embedder, "slack") as service:
            app = create_slack_app(service)
            server = AppServer(app.web_app(path="/slack/events")).start()
            url = f"http://127.0.0.1:{server.port}/slack/events"
            refresher = Refresher(service, 0.3).start()
            try:
                question = "When does the night ferry return?"
                assert "couldn't find" in ask(slack, url, question)["text"]
                version = read_pointer(settings.resolved_index_dir)
                site.publish("crane", "ferry")
                slack.wait_for(lambda: read_pointer(settings.resolved_index_dir) != version, 60)
                assert "Friday" in ask(slack, url, question)["text"]
                # the refresh records its sources just after it publishes
                slack.wait_for(lambda: source in service.health(True)["sources"]["default"], 10)
                record = service.health(True)["sources"]["default"][source]
                assert record["last_success"] and record["next_run"] and not record["last_error"]
            finally:
                refresher.stop()
                server.stop()
        assert slack.unexpected == [] and slack.take_refused() == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_refresh_gives_a_slow_feed_its_source_deadline_at_most(
    tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """The build lock is held for the source's deadline, not for entries times the
    fetch deadline: entries not reached keep their place and are asked next time."""
    pages: dict[str, Page] = {}
    seen: list[tuple[str, dict[str, str]]] = []
    slow = {f"/{name}": 2.0 for name in STORIES}  # the feed and one story fit, loaded or not
    with serve_pages(pages, slow=slow, seen=seen) as base:
        for name, (title, text) in STORIES.items():
            body = f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1><p>{text}</p></article></body></html>"
            pages[f"/{name}"] = Page(body.encode())
        pages["/feed.xml"] = Page(feed(base, list(STORIES)), "application/rss+xml")
        fetcher = Fetcher(
            FetchConfig(fetch_allowed_networks=LOOPBACK, fetch_source_deadline_seconds=3.0)
        )
        report = refresh(tmp_path / "index", [f"{base}/feed.xml"], fast_embedder, fetcher, T0)
    assert len(report.change.added) == 1
    assert len(report.gathered.failures) == 2
    assert all("fetch_source_deadline_seconds" in f.reason for f in report.gathered.failures)
    assert f"/{list(STORIES)[2]}" not in [p for p, _ in seen]
