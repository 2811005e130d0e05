"""Announcements of new articles, end to end on Discord: the real client against the
fake Discord, over a real index its tests publish new versions of (/reindex, a
scheduled refresh's sync, a build by another process). And the record that makes
each announcement once (bot/chat/announced.py) on its own."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chat import announced
from bot.chat.announce import Announcement, NewArticle
from bot.chat.announced import AnnouncedArticles
from bot.chat.discord.client import ArticleBot
from bot.chat.feedback import SCHEMA, SqliteDatabase
from bot.chat.service import ChatService
from bot.settings import Settings, bundled_dir, load_settings
from bot.wiring import build_from_sources
from tests.fakes.chat import chat_service, running, with_settings
from tests.fakes.discord_server import GUILD_ID, MANAGE_GUILD, FakeDiscord
from tests.fakes.hashing import HashingEmbedder
from tests.fakes.pages import serve_pages
from tests.test_discord import callbacks, followups, slash, started_bot

NEWS_ID, SKY_NEWS_ID = 920000000000000055, 920000000000000056
QUIET = 3600.0  # seconds between checks: only a publish (or a test) makes one


def article(title: str, body: str, date: str | None = None) -> str:
    front = f"---\ntitle: {title}\ndate: {date}\n---\n\n" if date else f"{title}\n\n"
    return front + body + "\n"


COMET = article(
    "Amateur astronomers spot a new comet",
    "Two amateur astronomers in Chile spotted a new comet on Monday, the first found from "
    "their backyard observatory. The comet will be visible with binoculars in March.",
    "2026-12-01",
)
FERRY = article(
    "Harbour ferry gets a new name",
    "The city's oldest harbour ferry will be renamed the Marguerite Wells on Saturday, after "
    "the engineer who designed its hull in 1931, the port authority said.",
    "2026-12-03",
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDiscord]:
    with running(FakeDiscord()) as server:
        server.channels |= {str(NEWS_ID), str(SKY_NEWS_ID)}
        yield server


@pytest.fixture(autouse=True)
def nothing_unexpected_or_refused(fake: FakeDiscord) -> Iterator[None]:
    """Each test starts with nothing posted, and ends with nothing refused."""
    fake.sent.clear()
    yield
    assert fake.unexpected == []
    assert fake.take_refused() == []


def sources(tmp_path: Path, name: str) -> Path:
    """A sources folder holding the bundled article."""
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(bundled_dir() / "articles" / "russia-leaves-iss.txt", folder)
    return folder


def news_settings(fake: FakeDiscord, tmp_path: Path, **changed: object) -> Settings:
    """A bot on `fake` announcing its default collection's news in NEWS_ID."""
    values: dict = {
        "data_dir": tmp_path / "data",
        "index_dir": tmp_path / "index",
        "sources": [str(sources(tmp_path, "sources"))],
        "discord_api_base_url": fake.api_base,
        "discord_gateway_url": fake.gateway_url,
        "discord_guild_id": GUILD_ID,
        "reindex_cooldown_seconds": 0,
        "announce_channels": [str(NEWS_ID)],
        "announce_check_seconds": QUIET,
    }
    return load_settings(**(values | changed))


@pytest.fixture
def news_bot(
    fake: FakeDiscord, tmp_path: Path, fast_embedder: HashingEmbedder
) -> Iterator[ArticleBot]:
    with (
        chat_service(news_settings(fake, tmp_path), fast_embedder, "discord") as service,
        started_bot(fake, service) as bot,
    ):
        yield bot


def posted_in(fake: FakeDiscord, channel_id: int) -> list[dict]:
    return [m for m in fake.sent if m["channel_id"] == str(channel_id)]


def settle(bot: ArticleBot) -> None:
    """A barrier: every check that was due (one a publish asked for included) has
    posted all it had. Two checks on the bot's loop: checks take turns, so the second
    ends after any that was waiting when the first began."""
    assert bot.loop is not None
    for _ in range(2):
        asyncio.run_coroutine_threadsafe(bot.announcer.check(), bot.loop).result(60)


def titles(messages: list[dict]) -> list[str]:
    return [embed["title"] for m in messages for embed in m["embeds"]]


def sources_dir(service: ChatService) -> Path:
    return Path(service.settings.resolved_sources[0])


def test_a_reindex_that_adds_two_articles_announces_each_once(
    fake: FakeDiscord, news_bot: ArticleBot
) -> None:
    """The archive there at start is not announced; /reindex adds two articles: two
    announcements (a linked embed each, with the summary, newest first), posted as soon
    as the rebuild published; a check with nothing new posts nothing."""
    settle(news_bot)
    assert posted_in(fake, NEWS_ID) == []
    folder = sources_dir(news_bot.service)
    (folder / "comet.md").write_text(COMET)
    (folder / "ferry.md").write_text(FERRY)
    token = slash(fake, "reindex", permissions=MANAGE_GUILD)
    assert (
        "Index rebuilt: 3 article(s)" in fake.wait_for(lambda: followups(fake, token))[0]["content"]
    )
    posts = fake.wait_for(lambda: posted_in(fake, NEWS_ID)[1:] and posted_in(fake, NEWS_ID))
    assert titles(posts) == [
        "Harbour ferry gets a new name",
        "Amateur astronomers spot a new comet",
    ]
    ferry = posts[0]["embeds"][0]
    assert ferry["author"]["name"] == "New article"
    assert ferry["footer"]["text"] == "2026-12-03"
    assert "renamed the Marguerite Wells on Saturday" in ferry["description"]
    news_bot.service.collection().sync(fresh=False)  # a scheduled refresh: nothing new
    settle(news_bot)
    assert len(posted_in(fake, NEWS_ID)) == 2


def test_removed_or_changed_articles_are_not_announced(
    fake: FakeDiscord, news_bot: ArticleBot
) -> None:
    """A sync that removes one article and changes another publishes a version with
    nothing new in it: no announcement. The changed one was announced once, when new."""
    folder = sources_dir(news_bot.service)
    (folder / "ferry.md").write_text(FERRY)
    news_bot.service.collection().sync(fresh=True)
    settle(news_bot)
    assert titles(posted_in(fake, NEWS_ID)) == ["Harbour ferry gets a new name"]
    (folder / "ferry.md").write_text(FERRY.replace("Saturday", "Sunday"))
    (folder / "russia-leaves-iss.txt").unlink()
    before = news_bot.service.answerer.index.version
    news_bot.service.collection().sync(fresh=True)
    assert news_bot.service.answerer.index.version != before
    settle(news_bot)
    assert titles(posted_in(fake, NEWS_ID)) == ["Harbour ferry gets a new name"]


def test_eight_new_articles_post_five_and_how_many_more(
    fake: FakeDiscord, news_bot: ArticleBot
) -> None:
    folder = sources_dir(news_bot.service)
    for n in range(8):
        text = f"Council notice number {n} is published. The council met for meeting {n}."
        (folder / f"notice-{n}.md").write_text(article(f"Notice {n}", text, f"2026-11-0{n + 1}"))
    news_bot.service.collection().sync(fresh=True)
    settle(news_bot)
    posts = posted_in(fake, NEWS_ID)
    assert titles(posts) == [f"Notice {n}" for n in (7, 6, 5, 4, 3)]
    assert posts[-1]["content"] == "and 3 more new article(s): /sources lists them."
    assert len(posts) == 6


def test_a_version_another_process_published_is_announced_by_the_next_check(
    fake: FakeDiscord, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """A build outside the bot (what `articlebot index build` runs, from the test's
    thread) publishes a version that nothing tells the bot of: its periodic check
    (announce_check_seconds) finds it and announces what it added. The replicas
    test does the same with separate processes."""
    settings = news_settings(fake, tmp_path, announce_check_seconds=0.2)
    with (
        chat_service(settings, fast_embedder, "discord") as service,
        started_bot(fake, service),
    ):
        fake.wait_for(lambda: service.news_checked)  # the archive at start: recorded
        (sources_dir(service) / "comet.md").write_text(COMET)
        build_from_sources(
            settings, fast_embedder, settings.resolved_index_dir, settings.resolved_sources
        )
        posts = fake.wait_for(lambda: posted_in(fake, NEWS_ID))
        assert titles(posts) == ["Amateur astronomers spot a new comet"]


def test_the_archive_is_announced_only_when_asked(
    fake: FakeDiscord, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """announce_existing: the first check announces the articles already there; after a
    restart (the same data_dir) nothing is announced again."""
    settings = news_settings(fake, tmp_path, announce_existing=True)
    with chat_service(settings, fast_embedder, "discord") as service:
        with started_bot(fake, service) as bot:
            settle(bot)
            assert titles(posted_in(fake, NEWS_ID)) == [
                "Russia plans to leave the International Space Station"
            ]
        with (
            with_settings(service, settings, own_state=True) as restarted,
            started_bot(fake, restarted) as again,
        ):
            settle(again)
    assert len(posted_in(fake, NEWS_ID)) == 1


def test_each_collection_announces_in_its_own_channels(
    fake: FakeDiscord, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    sky = sources(tmp_path, "sky")
    collections = {"sky": {"sources": [str(sky)], "announce_channels": [SKY_NEWS_ID]}}
    settings = news_settings(fake, tmp_path, collections=collections)
    with (
        chat_service(settings, fast_embedder, "discord") as service,
        started_bot(fake, service) as bot,
    ):
        settle(bot)
        (sky / "comet.md").write_text(COMET)
        service.collection("sky").sync(fresh=True)
        settle(bot)
    assert titles(posted_in(fake, SKY_NEWS_ID)) == ["Amateur astronomers spot a new comet"]
    assert posted_in(fake, NEWS_ID) == []


def test_an_article_from_the_web_is_linked_in_its_announcement_and_in_sources(
    fake: FakeDiscord, tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """A web page that appears on a site in the sources (on 127.0.0.1) after the
    first build: its announcement's title links to it, and /sources lists it linked,
    without a preview."""
    page = (
        "<html><head><title>Harbour ferry gets a new name</title></head><body><article>"
        "<h1>Harbour ferry gets a new name</h1><p>The city's oldest harbour ferry will be "
        "renamed the Marguerite Wells on Saturday, after the engineer who designed its hull "
        "in 1931, the port authority said.</p></article></body></html>"
    )
    pages: dict[str, tuple[str, bytes]] = {}  # nothing there yet: a 404 at the first build
    with serve_pages(pages) as site:
        local = sources(tmp_path, "local")
        settings = news_settings(
            fake,
            tmp_path,
            sources=[str(local), f"{site}/ferry"],
            fetch_allowed_networks=["127.0.0.0/8"],
        )
        with (
            chat_service(settings, fast_embedder, "discord") as service,
            started_bot(fake, service) as bot,
        ):
            settle(bot)
            pages["/ferry"] = ("text/html", page.encode())
            service.collection().sync(fresh=True)
            settle(bot)
            [post] = posted_in(fake, NEWS_ID)
            assert post["embeds"][0]["url"] == f"{site}/ferry"
            token = slash(fake, "sources")
            (listing,) = fake.wait_for(lambda: callbacks(fake, token))
    assert (
        f"- [Harbour ferry gets a new name](<{site}/ferry>): The city"
        in (listing["data"]["content"])
    )


def test_an_announcement_within_discords_limits_with_its_link_and_no_pings(
    fake: FakeDiscord, news_bot: ArticleBot
) -> None:
    """An article from the web: its title links to it. Article text with @everyone and
    markdown is shown as written, and the longest title and summary fit the embed."""
    news = Announcement(
        "default",
        str(NEWS_ID),
        [
            NewArticle(
                "a1",
                "@everyone **Storm** warning " + "x" * 400,
                "https://news.example/storm?id=1",
                None,
                "Residents of @here were told to stay in. " * 20,
            )
        ],
    )
    assert news_bot.loop is not None
    asyncio.run_coroutine_threadsafe(news_bot.announce(news), news_bot.loop).result(30)
    [post] = posted_in(fake, NEWS_ID)
    [embed] = post["embeds"]
    assert embed["url"] == "https://news.example/storm?id=1"
    assert "@everyone" not in embed["title"].replace("@\u200beveryone", "")
    assert "\\*\\*Storm\\*\\*" in embed["title"]
    assert "footer" not in embed


def test_a_channel_the_bot_may_not_post_in_is_named_in_the_log(
    fake: FakeDiscord, news_bot: ArticleBot, caplog: pytest.LogCaptureFixture
) -> None:
    """An announce channel Discord does not know: one warning with the channel and the
    fix, and the next check does not try again (nothing is posted twice or flooded)."""
    news = Announcement("default", "920000000000000999", [NewArticle("a", "T", "t.txt", None, "S")])
    assert news_bot.loop is not None
    asyncio.run_coroutine_threadsafe(news_bot.announce(news), news_bot.loop).result(30)
    [warning] = [r for r in caplog.records if "refused a post" in r.getMessage()]
    assert (
        "920000000000000999" in warning.getMessage()
        and "the channel is gone" in warning.getMessage()
    )
    [refusal] = fake.take_refused()
    assert refusal.code == 10003


# --- the record, on its own ---------------------------------------------------------------


@pytest.fixture
def record(tmp_path: Path) -> Iterator[AnnouncedArticles]:
    database = SqliteDatabase(tmp_path / "state.sqlite3", SCHEMA + announced.TABLES)
    yield AnnouncedArticles(database)
    database.close()


def test_a_channels_first_check_records_the_archive(record: AnnouncedArticles) -> None:
    assert record.news("default", "C1", ["a", "b"]) == []
    assert record.news("default", "C1", ["a", "b", "c", "c"]) == ["c"]
    assert record.news("default", "C1", ["a", "c"]) == []  # b removed: nothing
    assert record.news("default", "C1", ["a", "b", "c"]) == []  # b back: had it already
    assert record.news("default", "C2", ["a", "d"]) == []  # another channel: its own start
    assert record.news("sky", "C1", ["a"], existing=True) == ["a"]
    assert record.news("sky", "C1", ["a", "e"], existing=True) == ["e"]


def test_the_record_outlives_the_process(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = SqliteDatabase(path, SCHEMA + announced.TABLES)
    AnnouncedArticles(first).news("default", "C1", ["a"])
    AnnouncedArticles(first).news("default", "C1", ["a", "b"])
    first.close()
    again = SqliteDatabase(path, SCHEMA + announced.TABLES)
    try:
        assert AnnouncedArticles(again).news("default", "C1", ["a", "b", "c"]) == ["c"]
    finally:
        again.close()
