"""Announcements of new articles, end to end on Slack: the Bolt app's client posting
to the fake Slack, with the announcer running on the app's loop as `serve slack`
runs it, over a real index that a scheduled refresh publishes new versions of."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.chat.announce import Announcement, Announcer, NewArticle
from bot.chat.service import ChatService
from bot.chat.slack.announce import slack_announcer
from bot.chat.slack.app import create_slack_app
from bot.process.refresher import Refresher
from bot.settings import Settings, bundled_dir, load_settings
from tests.fakes.background import AppServer
from tests.fakes.chat import chat_service
from tests.fakes.hashing import HashingEmbedder
from tests.fakes.pages import serve_pages
from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.slack.app_client import command_fields, post_form
from tests.test_announce import COMET, FERRY

NEWS = "CNEWS"
FERRY_PAGE = (
    "<html><head><title>Harbour ferry gets a new name</title></head><body><article>"
    "<h1>Harbour ferry gets a new name</h1><p>The city's oldest harbour ferry will be "
    "renamed the Marguerite Wells on Saturday, after the engineer who designed its hull "
    "in 1931, the port authority said.</p></article></body></html>"
)


@pytest.fixture(autouse=True)
def nothing_unexpected_or_refused(fake: FakeSlack) -> Iterator[None]:
    yield
    assert fake.unexpected == []
    assert fake.take_refused() == []


@contextmanager
def announcing(service: ChatService) -> Iterator[tuple[Announcer, AppServer]]:
    """The app of `service` served, and its announcer running on the app's loop."""
    app = create_slack_app(service)
    server = AppServer(app.web_app(path="/slack/events")).start()
    announcer = slack_announcer(service, app.client)

    async def start() -> asyncio.Task:
        return asyncio.create_task(announcer.run())

    task = server.call(start())
    try:
        yield announcer, server
    finally:
        server.loop.call_soon_threadsafe(task.cancel)
        server.stop()


def news_settings(fake: FakeSlack, tmp_path: Path, *web_sources: str) -> Settings:
    """An app on `fake` announcing in NEWS the news of a folder holding the bundled
    article (and of `web_sources`)."""
    folder = tmp_path / "sources"
    folder.mkdir()
    shutil.copy(bundled_dir() / "articles" / "russia-leaves-iss.txt", folder)
    return load_settings(
        data_dir=tmp_path / "data",
        index_dir=tmp_path / "index",
        sources=[str(folder), *web_sources],
        fetch_allowed_networks=["127.0.0.0/8"],  # where the test's sites are
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_base_url=fake.api_base,
        slack_admin_user_ids=["UADMIN"],
        announce_channels=[NEWS, "920000000000000055"],  # and a Discord one: not Slack's
        announce_check_seconds=3600,
        reindex_cooldown_seconds=0,
    )


@pytest.fixture
def news_service(
    fake: FakeSlack, tmp_path: Path, fast_embedder: HashingEmbedder
) -> Iterator[ChatService]:
    with chat_service(news_settings(fake, tmp_path), fast_embedder, "slack") as service:
        yield service


def settle(announcer: Announcer, server: AppServer) -> None:
    """Every check that was due has posted all it had (two checks take turns)."""
    for _ in range(2):
        server.call(announcer.check(), timeout=60)


def posted_in(fake: FakeSlack, channel: str, since: int = 0) -> list[dict]:
    return [m for m in fake.calls("chat.postMessage")[since:] if m.get("channel") == channel]


def blocks_of(message: dict) -> list[dict]:
    blocks = message["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def test_a_scheduled_refresh_that_adds_two_articles_announces_each_once(
    fake: FakeSlack, news_service: ChatService
) -> None:
    """Nothing for the archive there at start; the refresher's sync adds two articles:
    a Block Kit message each (title, date, summary), posted once; the next refresh,
    with nothing new, posts nothing."""
    start = len(fake.calls("chat.postMessage"))
    clock = [1_000_000.0]
    refresher = Refresher(news_service, 600, clock=lambda: clock[0], jitter=lambda lo, hi: hi)
    with announcing(news_service) as (announcer, server):
        settle(announcer, server)
        assert posted_in(fake, NEWS, start) == []
        folder = Path(news_service.settings.resolved_sources[0])
        (folder / "comet.md").write_text(COMET)
        (folder / "ferry.md").write_text(FERRY)
        clock[0] += 700
        refresher.run_due()
        settle(announcer, server)
        posts = posted_in(fake, NEWS, start)
        assert [p["text"] for p in posts] == [
            "New article: Harbour ferry gets a new name",
            "New article: Amateur astronomers spot a new comet",
        ]
        ferry = json.dumps(blocks_of(posts[0]), ensure_ascii=False)
        assert "New article · 2026-12-03" in ferry and "renamed the Marguerite Wells" in ferry
        clock[0] += 700
        refresher.run_due()
        settle(announcer, server)
        assert len(posted_in(fake, NEWS, start)) == 2
    assert [m["channel"] for m in fake.calls("chat.postMessage")[start:]] == [NEWS, NEWS]


def test_an_article_from_the_web_is_linked_in_its_announcement_and_in_sources(
    fake: FakeSlack, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """A page that appears on a site in the sources (on 127.0.0.1) after the first
    build, then an admin's /reindex: its announcement links its title to it, and so
    does /sources."""
    start = len(fake.calls("chat.postMessage"))
    pages: dict[str, tuple[str, bytes]] = {}  # nothing there yet: a 404 at the first build
    with serve_pages(pages) as site:
        settings = news_settings(fake, tmp_path, f"{site}/ferry")
        with (
            chat_service(settings, fast_embedder, "slack") as service,
            announcing(service) as (announcer, server),
        ):
            settle(announcer, server)
            pages["/ferry"] = ("text/html", FERRY_PAGE.encode())
            url = f"http://127.0.0.1:{server.port}/slack/events"
            fields, name = command_fields(fake, "", command="/reindex", user="UADMIN")
            assert post_form(url, fields).status_code == 200
            [done] = fake.wait_for(lambda: fake.calls(f"response/{name}"), timeout=60)
            assert "Index rebuilt: 2 article(s)" in done["text"]
            settle(announcer, server)
            fields, name = command_fields(fake, "", command="/sources")
            assert post_form(url, fields).status_code == 200
            [listing] = fake.wait_for(lambda: fake.calls(f"response/{name}"))
    [post] = posted_in(fake, NEWS, start)
    linked = f"<{site}/ferry|Harbour ferry gets a new name>"
    assert f"*{linked}*" in json.dumps(blocks_of(post))
    assert f"• {linked}: The city" in listing["text"]


def test_a_web_article_links_its_title_and_pings_nobody(
    fake: FakeSlack, news_service: ChatService
) -> None:
    start = len(fake.calls("chat.postMessage"))
    news = Announcement(
        "default",
        NEWS,
        [
            NewArticle(
                "a1",
                "<!channel> Storm | warning",
                "https://news.example/storm?a=1&b=2",
                "2026-12-05",
                "Residents of <!here> were told to stay in. " * 40,
            )
        ],
        more=2,
    )
    with announcing(news_service) as (announcer, server):
        server.call(announcer.post(news))
    first, more = posted_in(fake, NEWS, start)
    shown = json.dumps(blocks_of(first))
    assert "<https://news.example/storm?a=1&amp;b=2|&lt;!channel&gt; Storm | warning>" in shown
    assert "<!here>" not in shown and "<!channel>" not in first["text"]
    assert more["text"] == "and 2 more new article(s): /sources lists them."


def test_a_channel_the_bot_is_not_in_is_named_in_the_log(
    fake: FakeSlack, news_service: ChatService, caplog: pytest.LogCaptureFixture
) -> None:
    news = Announcement("default", "CGONE", [NewArticle("a", "T", "t.txt", None, "S")])
    fake.not_member_of.add("CGONE")
    with announcing(news_service) as (announcer, server):
        server.call(announcer.post(news))
    [warning] = [r for r in caplog.records if "refused a post" in r.getMessage()]
    assert "CGONE: not_in_channel (invite the bot there" in warning.getMessage()
    assert [r.error for r in fake.take_refused()] == ["not_in_channel"]
