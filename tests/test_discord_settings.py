"""End to end: settings that change what the Discord bot does, each reaching it as it
would at start (the bot made from a service under those settings, with the state
made from them), never patched into a running bot. Every test starts its own bot, so
none shares a connection with another that would answer too."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chat import messages
from bot.chat.discord.client import ArticleBot
from bot.chat.service import ChatService
from bot.settings import Settings
from tests.fakes.chat import chat_service, running, sources_with, with_settings
from tests.fakes.discord_server import CHANNEL_ID, GUILD_ID, MANAGE_GUILD, FakeDiscord
from tests.fakes.hashing import HashingEmbedder
from tests.test_discord import (
    LAUNCH,
    PING_ARTICLE,
    callbacks,
    followups,
    guild_payload,
    mention,
    new_user,
    replies_to,
    settings_for,
    slash,
    started_bot,
    wait_reply,
)

ASK_LAUNCH = [{"name": "question", "type": 3, "value": LAUNCH}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDiscord]:
    with running(FakeDiscord()) as server:
        yield server


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, fake: FakeDiscord) -> Settings:
    sources = sources_with(tmp_path_factory, "discord-settings", "town-hall.txt", PING_ARTICLE)
    return settings_for(tmp_path_factory, fake, "discord-settings", sources)


@pytest.fixture(scope="module")
def service(settings: Settings, fast_embedder: HashingEmbedder) -> Iterator[ChatService]:
    with chat_service(settings, fast_embedder, "discord") as chat:
        yield chat


@pytest.fixture(autouse=True)
def nothing_unexpected_or_refused(fake: FakeDiscord) -> Iterator[None]:
    yield
    assert fake.unexpected == []
    assert fake.take_refused() == []


@contextlib.contextmanager
def bot_under(
    fake: FakeDiscord, service: ChatService, tmp_path: Path, **changed: object
) -> Iterator[ArticleBot]:
    """A bot of `service`'s indexes under its settings with `changed`, and a state of
    its own made from them (no earlier rebuild, no earlier question)."""
    settings = service.settings.model_copy(update={**changed, "data_dir": tmp_path})
    with with_settings(service, settings, own_state=True) as other, started_bot(fake, other) as bot:
        yield bot


def test_reindex_has_a_cooldown(fake: FakeDiscord, service: ChatService, tmp_path: Path) -> None:
    """reindex_cooldown_seconds: the first /reindex rebuilds, the next is told when to
    try again, and rebuilds nothing."""
    with bot_under(fake, service, tmp_path, reindex_cooldown_seconds=3600) as bot:
        first = slash(fake, "reindex", permissions=MANAGE_GUILD)
        done = fake.wait_for(lambda: followups(fake, first), timeout=60)[0]
        assert "Index rebuilt" in done["content"]
        version = bot.service.answerer.index.version
        second = slash(fake, "reindex", permissions=MANAGE_GUILD)
        (callback,) = fake.wait_for(lambda: callbacks(fake, second))
        assert callback["type"] == 4 and callback["data"]["flags"] & 64
        assert "rebuilt recently. Try again in about 60 min" in callback["data"]["content"]
        assert followups(fake, second) == []
        assert bot.service.answerer.index.version == version


def test_reindex_commands_fired_together_rebuild_once(
    fake: FakeDiscord, service: ChatService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three /reindex at once with a one-hour cooldown: one rebuilds, the other two are
    told a rebuild is running (the claim is taken before the first await)."""
    with bot_under(fake, service, tmp_path, reindex_cooldown_seconds=3600):
        monkeypatch.setattr(fake, "latency", 0.3)  # each command's defer() takes a while
        tokens = [slash(fake, "reindex", permissions=MANAGE_GUILD) for _ in range(3)]

        def reply(token: str) -> list[str]:
            sent = [c["data"]["content"] for c in callbacks(fake, token) if c["type"] == 4]
            return sent + [f["content"] for f in followups(fake, token)]

        replies = [fake.wait_for(lambda t=token: reply(t), timeout=60)[0] for token in tokens]
        assert sum(r.startswith("Index rebuilt") for r in replies) == 1, replies
        assert replies.count(messages.REBUILD_RUNNING) == 2, replies
        later = slash(fake, "reindex", permissions=MANAGE_GUILD)
        assert "Try again in about 60 min" in fake.wait_for(lambda: reply(later))[0]


def test_channel_allowlist(fake: FakeDiscord, service: ChatService, tmp_path: Path) -> None:
    """discord_channel_allowlist without this channel: mentions get nothing, commands a
    private note; DMs still work. With it: answered."""
    with bot_under(fake, service, tmp_path / "out", discord_channel_allowlist=[CHANNEL_ID + 1]):
        outside = mention(fake, LAUNCH)
        token = slash(fake, "ask", ASK_LAUNCH)
        (callback,) = fake.wait_for(lambda: callbacks(fake, token))
        assert callback["type"] == 4 and callback["data"]["flags"] & 64
        assert "don't answer in this channel" in callback["data"]["content"]
        assert "1998" in wait_reply(fake, mention(fake, LAUNCH, dm=True))["content"]
        assert replies_to(fake, outside) == []
        listing = slash(fake, "sources", user_id=new_user())
        (callback,) = fake.wait_for(lambda: callbacks(fake, listing))
        assert callback["data"]["content"] == "I don't answer in this channel."
    with bot_under(fake, service, tmp_path / "in", discord_channel_allowlist=[CHANNEL_ID]):
        listed = slash(fake, "sources", user_id=new_user())
        (callback,) = fake.wait_for(lambda: callbacks(fake, listed))
        assert "Russia plans to leave" in callback["data"]["content"]
        assert "1998" in wait_reply(fake, mention(fake, LAUNCH))["content"]


def role(role_id: int, name: str) -> dict:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "hoist": False,
        "position": 1,
        "permissions": "0",
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def test_reindex_is_open_to_a_configured_admin_role(
    fake: FakeDiscord, service: ChatService, tmp_path: Path
) -> None:
    """`discord_admin_role_ids`: a member with such a role (without Manage Server) may
    /reindex; a member without it may not."""
    editors = 940000000000000001
    with bot_under(fake, service, tmp_path, discord_admin_role_ids=[editors]) as bot:
        guild = guild_payload(GUILD_ID, "Newsroom")
        guild["roles"] = [role(GUILD_ID, "@everyone"), role(editors, "Editors")]
        fake.dispatch("GUILD_CREATE", guild)
        fake.wait_for(lambda: (g := bot.get_guild(GUILD_ID)) is not None and g.get_role(editors))
        allowed = slash(fake, "reindex", permissions=0, roles=(editors,))
        done = fake.wait_for(lambda: followups(fake, allowed), timeout=60)[0]
        assert "Index rebuilt" in done["content"]
        refused = slash(fake, "reindex", permissions=0)
        (callback,) = fake.wait_for(lambda: callbacks(fake, refused))
        assert "Only server managers" in callback["data"]["content"]
