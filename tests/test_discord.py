"""End to end: the real discord.py client against a fake Discord on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import discord
import httpx
import pytest

from bot.answer.records import Answer, Passage
from bot.chat import messages
from bot.chat.discord.client import ArticleBot, create_discord_bot, invite_url
from bot.chat.discord.render import (
    EMBED_DESCRIPTION_LIMIT,
    EMBEDS_TOTAL_LIMIT,
    TEXT_LIMIT,
    format_answer,
    split_text,
)
from bot.chat.service import ChatService
from bot.cli import main
from bot.process.launcher import start_ops
from bot.settings import Settings
from index.records import Chunk
from index.sources.articles import make_article
from tests.fakes.background import all_handled, free_port
from tests.fakes.chat import (
    chat_service,
    chat_settings,
    from_a_url,
    running,
    sources_with,
    with_settings,
)
from tests.fakes.discord_server import (
    APP_ID,
    BOT_ID,
    BOT_USER,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    MANAGE_GUILD,
    OTHER_GUILD_ID,
    VALID_TOKEN,
    FakeDiscord,
    Recorded,
    user,
)
from tests.fakes.hashing import HashingEmbedder

FIXTURES = Path(__file__).parent / "fixtures"
LAUNCH = "When was the International Space Station launched?"
# Discord ids are snowflakes of 17 to 20 digits; mentions only ping with ids of that shape
ROLE_ID, TAGGED_USER_ID = 912345678901234567, 81234567890123456
PING_ARTICLE = f"""Town hall row over @everyone notice

A notice addressed to @everyone and @here was pinned in the town hall by the caretaker, \
who also tagged <@&{ROLE_ID}> and <@{TAGGED_USER_ID}> in the message about the broken boiler.
"""
PINGS = re.compile(r"@everyone|@here|<@[!&]?\d{17,20}>")
ids = itertools.count(800000000000000001)
user_ids = itertools.count(700000000000000001)


@pytest.fixture(scope="module")
def sources_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sources_with(tmp_path_factory, "discord", "town-hall.txt", PING_ARTICLE)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDiscord]:
    with running(FakeDiscord()) as server:
        yield server


@pytest.fixture(scope="module")
def discord_settings(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeDiscord, sources_dir: Path
) -> Settings:
    return settings_for(
        tmp_path_factory,
        fake,
        "discord",
        sources_dir,
        rate_limit_questions=3,
        rate_limit_seconds=60,
    )


def settings_for(
    tmp_path_factory: pytest.TempPathFactory,
    fake: FakeDiscord,
    name: str,
    sources_dir: Path,
    **changed: object,
) -> Settings:
    """A Discord test module's settings: the bot on `fake`, in its server, answering
    `sources_dir`'s articles, rate limits out of the way unless `changed` sets them."""
    options: dict = {
        "discord_api_base_url": fake.api_base,
        "discord_gateway_url": fake.gateway_url,
        "discord_guild_id": GUILD_ID,
        "rate_limit_questions": 1000,
        "rate_limit_channel_questions": 100_000,
    }
    return chat_settings(tmp_path_factory, name, sources_dir, **(options | changed))


@pytest.fixture(scope="module")
def service(discord_settings: Settings, fast_embedder: HashingEmbedder) -> Iterator[ChatService]:
    with chat_service(discord_settings, fast_embedder, "discord") as chat:
        yield chat


@contextlib.contextmanager
def started_bot(fake: FakeDiscord, service: ChatService) -> Iterator[ArticleBot]:
    """A real discord.py client of `service` connected to the fake, on its own loop and
    thread, closed (as `asyncio.run` would close it) on the way out."""
    client = create_discord_bot(service, guild_ready_timeout=0.05)
    loop = asyncio.new_event_loop()
    failure: list[BaseException] = []

    def died(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception():
            failure.append(task.exception())

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.create_task(client.start(VALID_TOKEN)).add_done_callback(died)
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    others = len(fake.sockets)  # other clients' connections
    thread.start()
    fake.wait_for(lambda: client.is_ready() or failure, timeout=30)
    assert not failure, failure
    try:
        yield client
    finally:

        async def shut_down() -> None:
            await client.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()  # e.g. discord.py's 15-minute timeout of an ephemeral answer's view

        asyncio.run_coroutine_threadsafe(shut_down(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        fake.wait_for(lambda: len(fake.sockets) <= others, timeout=10)


@pytest.fixture(scope="module")
def bot(
    fake: FakeDiscord, service: ChatService, discord_settings: Settings
) -> Iterator[ArticleBot]:
    with started_bot(fake, service) as client:
        yield client


@pytest.fixture(autouse=True)
def nothing_unexpected_or_refused(fake: FakeDiscord) -> Iterator[None]:
    """Every test: the bot called only routes the fake knows, and Discord refused
    nothing it sent (a test that means a refusal takes it with `take_refused`)."""
    yield
    assert fake.unexpected == []
    assert fake.take_refused() == []


def new_user() -> int:
    return next(user_ids)


def mention(
    fake: FakeDiscord,
    text: str,
    *,
    author: dict | None = None,
    dm: bool = False,
    at_bot: bool = True,
    guild_id: int = GUILD_ID,
    channel_id: int | str = CHANNEL_ID,
    reply_to: dict | None = None,
    when_bot_posts_in: str | None = None,
    message_id: str | None = None,
) -> str:
    """Send a message (by default one that @-mentions the bot), in reply to the
    message `reply_to` when given, the moment the bot's next message in channel
    `when_bot_posts_in` is stored when that is given; returns its id."""
    message_id = message_id or str(next(ids))
    at_bot = at_bot and not dm
    data = {
        "id": message_id,
        "channel_id": str(DM_CHANNEL_ID if dm else channel_id),
        "type": 0,
        "content": f"<@{BOT_ID}> {text}" if at_bot else text,
        "author": author or user(new_user()),
        "mentions": [BOT_USER] if at_bot else [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "mention_everyone": False,
        "tts": False,
        "timestamp": "2026-11-25T12:00:00+00:00",
        "edited_timestamp": None,
        "flags": 0,
    }
    if not dm:
        data["guild_id"] = str(guild_id)
    if reply_to is not None:
        data["type"] = 19  # a reply
        data["message_reference"] = {
            "message_id": reply_to["id"],
            "channel_id": reply_to["channel_id"],
            "guild_id": str(guild_id),
        }
        data["referenced_message"] = reply_to
    if when_bot_posts_in is None:
        fake.dispatch("MESSAGE_CREATE", data)
    else:
        fake.dispatch_on_next_post(when_bot_posts_in, "MESSAGE_CREATE", data)
    return message_id


def reply_requests(fake: FakeDiscord, message_id: str) -> list[Recorded]:
    """The bot's posts in reply to a message, as the fake received them."""
    return [
        r
        for r in fake.posts("/channels/")
        if r.path.endswith("/messages")
        and str((r.body.get("message_reference") or {}).get("message_id")) == message_id
    ]


def replies_to(fake: FakeDiscord, message_id: str) -> list[dict]:
    return [r.body for r in reply_requests(fake, message_id)]


def wait_reply(fake: FakeDiscord, message_id: str) -> dict:
    return fake.wait_for(lambda: replies_to(fake, message_id))[0]


@contextlib.contextmanager
def handled(bot: ArticleBot, fake: FakeDiscord) -> Iterator[list[str]]:
    """A barrier for "nothing was posted": the messages whose ids the block adds to the
    list it is given have reached the client when the block ends, and every task the
    client started for them (and for anything else meanwhile) has finished."""
    sent: list[str] = []
    with all_handled(bot.loop):
        yield sent
        fake.wait_for(lambda: set(sent) <= {str(m.id) for m in bot.cached_messages})


def interact(
    fake: FakeDiscord,
    kind: int,
    data: dict,
    *,
    permissions: int = 0,
    user_id: int | None = None,
    guild_id: int = GUILD_ID,
    message: dict | None = None,
    roles: tuple[int, ...] = (),
    dm: bool = False,
    channel_id: int = CHANNEL_ID,
) -> str:
    """Dispatch an interaction as Discord does (2: a slash command, 3: a button
    click on `message`), in a server or in a DM with the bot (`dm`: no server, no
    member, only the user); returns its token."""
    interaction_id = str(next(ids))
    token = f"interaction-token-{interaction_id}"
    payload = {
        "id": interaction_id,
        "application_id": str(APP_ID),
        "type": kind,
        "token": token,
        "version": 1,
        "attachment_size_limit": 8388608,
        "channel_id": str(channel_id),
        # the partial channel Discord sends with every interaction (discord.py reads the
        # channel, and so its id, from this object, not from channel_id)
        "channel": {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": "general",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        },
        "guild_id": str(guild_id),
        "app_permissions": "0",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "context": 0,
        "data": data,
        "member": {
            "user": user(user_id or new_user()),
            "roles": [str(r) for r in roles],
            "permissions": str(permissions),
            "flags": 0,
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
        },
    }
    if message is not None:
        payload["message"] = message
    if dm:
        payload["user"] = payload.pop("member")["user"]
        del payload["guild_id"], payload["guild_locale"]
        payload["channel_id"] = str(DM_CHANNEL_ID)
        payload["channel"] = {"id": str(DM_CHANNEL_ID), "type": 1, "recipients": [payload["user"]]}
        payload["context"] = 1  # BOT_DM
    fake.dispatch("INTERACTION_CREATE", payload)
    return token


def slash(
    fake: FakeDiscord,
    name: str,
    options: list[dict] | None = None,
    **who: object,
) -> str:
    command = next(c for c in fake.synced_commands if c["name"] == name)
    data = {"id": command["id"], "name": name, "type": 1, "options": options or []}
    return interact(fake, 2, data, **who)


def click(fake: FakeDiscord, message: dict, label: str, user_id: int) -> str:
    """A click on the button labelled `label` of a message the bot sent."""
    button = next(
        b for row in message["components"] for b in row["components"] if b["label"] == label
    )
    data = {"custom_id": button["custom_id"], "component_type": 2}
    return interact(fake, 3, data, user_id=user_id, message=message)


def callbacks(fake: FakeDiscord, token: str) -> list[dict]:
    return [r.body for r in fake.posts("/interactions/") if token in r.path]


def followups(fake: FakeDiscord, token: str) -> list[dict]:
    return [r.body for r in fake.posts("/webhooks/") if token in r.path]


def text_of(message: dict) -> str:
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [
            embed.get("title", ""),
            embed.get("description", ""),
            (embed.get("footer") or {}).get("text", ""),
        ]
    return "\n".join(parts)


# --- start-up --------------------------------------------------------------------------


def test_a_button_sent_before_a_restart_still_votes(
    fake: FakeDiscord, service: ChatService, discord_settings: Settings
) -> None:
    """An answer's buttons keep working after the bot restarts: the new client has
    never seen the message, and reads the vote from the button's custom id. (First in
    the module, before the shared bot connects: only the restarted client may answer.)"""
    assert not fake.connected
    asker, voter = new_user(), new_user()
    with started_bot(fake, service):
        reply = wait_reply(fake, mention(fake, LAUNCH, author=user(asker)))
    message = sent_message(fake, reply)
    with started_bot(fake, service):  # the restart
        token = click(fake, message, "Helpful", voter)
        [done] = fake.wait_for(lambda: callbacks(fake, token))
        assert done["data"]["content"] == messages.THANKS_FOR_VOTE
        assert ("discord", LAUNCH, str(asker), str(voter), 1) in stored_votes(discord_settings)
        gone = {**message, "components": [{**message["components"][0]}]}
        gone["components"][0]["components"] = [
            {**b, "custom_id": b["custom_id"].rsplit(":", 2)[0] + ":" + "f" * 32 + ":0"}
            for b in message["components"][0]["components"]
        ]
        token = click(fake, gone, "Not helpful", voter)  # an answer no longer recorded
        [late] = fake.wait_for(lambda: callbacks(fake, token))
        assert late["data"]["content"] == messages.VOTE_TOO_LATE


def test_the_bot_heartbeats_in_time(
    service: ChatService, discord_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a Discord that asks for a beat every 0.5 s and closes with 4009 after
    0.75 s without one, the session stays up (no refusal, no new session)."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)
    with running(FakeDiscord(heartbeat_interval_ms=500)) as quick:
        settings = discord_settings.model_copy(
            update={
                "discord_api_base_url": quick.api_base,
                "discord_gateway_url": quick.gateway_url,
            }
        )
        with with_settings(service, settings) as other, started_bot(quick, other):
            quick.wait_for(lambda: quick.heartbeats >= 5)
            assert quick.connected and list(quick.sessions) == ["fake-session-1"]
        assert quick.take_refused() == [] and quick.resumes == 0


def test_start_syncs_commands_to_the_guild(bot: ArticleBot, fake: FakeDiscord) -> None:
    assert fake.sync_path == f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands"
    by_name = {c["name"]: c for c in fake.synced_commands}
    registered = {c.name for c in bot.tree.get_commands(guild=discord.Object(GUILD_ID))}
    assert set(by_name) == registered == {"ask", "summary", "reindex", "sources"}
    options = {o["name"]: o for o in by_name["ask"]["options"]}
    assert options["question"]["required"] is True and options["private"]["required"] is False
    options = {o["name"]: o for o in by_name["summary"]["options"]}
    assert options["words"]["required"] is False and options["private"]["required"] is False
    assert all(1 <= len(c["description"]) <= 100 for c in fake.synced_commands)


def test_no_privileged_intent(bot: ArticleBot) -> None:
    assert not bot.intents.message_content and not bot.intents.members and not bot.intents.presences


# --- mentions and DMs --------------------------------------------------------------------


def test_mention_gets_a_cited_reply(bot: ArticleBot, fake: FakeDiscord) -> None:
    message_id = mention(fake, LAUNCH)
    reply = wait_reply(fake, message_id)
    assert "1998" in reply["content"]
    (embed,) = reply["embeds"]
    assert "Russia plans to leave the International Space Station" in embed["title"]
    assert "launched in 1998" in embed["description"]
    assert reply["allowed_mentions"]["parse"] == []
    assert not reply["allowed_mentions"].get("replied_user")
    # the typing indicator was shown while answering
    assert any(r.path == f"/channels/{CHANNEL_ID}/typing" for r in fake.requests)


def test_direct_message_is_answered(bot: ArticleBot, fake: FakeDiscord) -> None:
    message_id = mention(fake, "How long has Mir been in orbit?", dm=True)
    reply = wait_reply(fake, message_id)
    assert "15 years" in reply["content"]
    assert any(r.path == f"/channels/{DM_CHANNEL_ID}/messages" for r in fake.posts("/channels/"))


def test_guild_message_without_mention_is_ignored(bot: ArticleBot, fake: FakeDiscord) -> None:
    with handled(bot, fake) as sent:
        sent.append(mention(fake, LAUNCH, at_bot=False))
    assert replies_to(fake, sent[0]) == []


def test_a_channel_the_bot_may_not_post_in_is_named_in_the_log(
    bot: ArticleBot, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    """Discord answers 403 Missing Permissions to the reply: one warning names the
    channel and the permissions to give, no traceback; the next question is answered."""
    fake.failures.append((403, {"message": "Missing Permissions", "code": 50013}, {}))
    with handled(bot, fake) as sent:
        sent.append(mention(fake, LAUNCH))
    [warning] = [r for r in caplog.records if "refused a post" in r.getMessage()]
    assert warning.levelname == "WARNING" and warning.exc_info is None
    assert str(CHANNEL_ID) in warning.getMessage() and "Send Messages" in warning.getMessage()
    assert "1998" in wait_reply(fake, mention(fake, LAUNCH))["content"]


async def test_an_event_handler_failing_in_our_code_is_logged_with_its_traceback(
    bot: ArticleBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Not a refusal by Discord: on_error leaves the whole traceback, as discord.py would."""
    try:
        raise KeyError("channel")
    except KeyError:
        await bot.on_error("on_message")
    [record] = [r for r in caplog.records if r.name == "bot.chat.discord.client"]
    assert record.levelname == "ERROR" and record.exc_info is not None
    assert record.getMessage() == "on_message failed"


def test_bots_are_never_answered(bot: ArticleBot, fake: FakeDiscord) -> None:
    with handled(bot, fake) as sent:
        sent.append(mention(fake, LAUNCH, author=user(new_user(), "otherbot", bot=True)))
        sent.append(mention(fake, LAUNCH, author=BOT_USER))
    assert [replies_to(fake, message) for message in sent] == [[], []]


def test_abstention_is_said_plainly(bot: ArticleBot, fake: FakeDiscord) -> None:
    reply = wait_reply(fake, mention(fake, "Who won the 2022 World Cup?"))
    assert "couldn't find that in the articles" in reply["content"]
    assert "rephrasing" in reply["content"]
    assert not reply.get("embeds")


def test_everyone_in_article_and_question_pings_nobody(bot: ArticleBot, fake: FakeDiscord) -> None:
    reply = wait_reply(
        fake, mention(fake, "What did the caretaker pin in the town hall for @everyone?")
    )
    body = text_of(reply)
    assert f"<@\u200b&{ROLE_ID}>" in body and f"<@\u200b{TAGGED_USER_ID}>" in body
    assert reply["allowed_mentions"]["parse"] == []
    assert not PINGS.findall(body)  # each defused with a zero-width space after the @
    assert "@\u200beveryone" in body


def test_empty_mention_gets_help(bot: ArticleBot, fake: FakeDiscord) -> None:
    reply = wait_reply(fake, mention(fake, "   "))
    assert "/ask" in reply["content"]


def test_rate_limit_gives_a_friendly_note(bot: ArticleBot, fake: FakeDiscord) -> None:
    asker = user(new_user())
    sent = [mention(fake, "How long has Mir been in orbit?", author=asker) for _ in range(4)]
    replies = [wait_reply(fake, m)["content"] for m in sent]
    assert sum("15 years" in r for r in replies) == 3
    assert sum("asking quickly" in r for r in replies) == 1


def test_core_exception_reaches_the_user(
    bot: ArticleBot,
    fake: FakeDiscord,
    service: ChatService,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(question: str, **options: object) -> Answer:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(service.answerer, "answer", broken)
    reply = wait_reply(fake, mention(fake, LAUNCH))
    assert reply["content"] == "Sorry, something went wrong; the operator has been told."
    assert "index exploded" in caplog.text


def test_long_answer_is_split_within_limits(
    bot: ArticleBot, fake: FakeDiscord, service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = service.answerer.answer(LAUNCH)
    sentence = real.text + " "
    long_answer = dataclasses.replace(
        real, text=(sentence * (5000 // len(sentence) + 1))[:5000], sources=real.sources * 12
    )
    monkeypatch.setattr(service.answerer, "answer", lambda question, **_: long_answer)
    marker = len(fake.requests)
    mention(fake, LAUNCH)

    def all_sent() -> list[dict] | None:
        path = f"/channels/{CHANNEL_ID}/messages"
        bodies = [r.body for r in fake.requests[marker:] if r.method == "POST" and r.path == path]
        embeds = sum(len(b.get("embeds") or []) for b in bodies)
        return bodies if embeds == 12 else None

    messages = fake.wait_for(all_sent)
    text = "".join(m.get("content") or "" for m in messages)
    assert len(text) >= 4950 and text.startswith("The International Space Station was launched")
    assert len(messages) >= 4  # 5,000 characters of text need three messages, 12 embeds two
    for message in messages:
        embeds = message.get("embeds") or []
        assert len(message.get("content") or "") <= TEXT_LIMIT
        assert len(embeds) <= 10
        assert (
            sum(len(e["title"]) + len(e["description"]) + len(e["footer"]["text"]) for e in embeds)
            <= EMBEDS_TOTAL_LIMIT
        )
        assert all(len(e["description"]) <= EMBED_DESCRIPTION_LIMIT for e in embeds)


# --- slash commands ----------------------------------------------------------------------


def test_ask_defers_then_follows_up(bot: ArticleBot, fake: FakeDiscord) -> None:
    token = slash(fake, "ask", [{"name": "question", "type": 3, "value": LAUNCH}])
    followup = fake.wait_for(lambda: followups(fake, token))[0]
    (callback,) = callbacks(fake, token)
    assert callback["type"] == 5  # deferred, "thinking"
    assert not (callback.get("data") or {}).get("flags", 0) & 64
    assert not fake.shown(token)[0]["flags"] & 64  # everyone sees it
    assert "1998" in followup["content"]
    assert followup["embeds"] and "launched in 1998" in followup["embeds"][0]["description"]
    assert followup["allowed_mentions"]["parse"] == []


def test_private_ask_is_ephemeral(bot: ArticleBot, fake: FakeDiscord) -> None:
    token = slash(
        fake,
        "ask",
        [
            {"name": "question", "type": 3, "value": "How long has Mir been in orbit?"},
            {"name": "private", "type": 5, "value": True},
        ],
    )
    followup = fake.wait_for(lambda: followups(fake, token))[0]
    (callback,) = callbacks(fake, token)
    assert callback["type"] == 5 and callback["data"]["flags"] & 64
    assert "15 years" in followup["content"]
    assert all(m["flags"] & 64 for m in fake.shown(token))


def test_a_private_answer_in_several_messages_is_private_in_each(
    bot: ArticleBot, fake: FakeDiscord, service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private /ask whose answer takes several follow-ups: every one is ephemeral, not
    only the first (which the private defer fixes whatever it asks)."""
    real = service.answerer.answer(LAUNCH)
    sentence = real.text + " "
    long_answer = dataclasses.replace(real, text=(sentence * (5000 // len(sentence) + 1))[:5000])
    monkeypatch.setattr(service.answerer, "answer", lambda question, **_: long_answer)
    asked = [
        {"name": "question", "type": 3, "value": LAUNCH},
        {"name": "private", "type": 5, "value": True},
    ]
    token = slash(fake, "ask", asked)
    shown = fake.wait_for(lambda: (s := fake.shown(token))[2:] and s)  # 5,000 characters: 3
    assert len(shown) >= 3 and all(m["flags"] & 64 for m in shown)
    assert all(f.get("flags", 0) & 64 for f in followups(fake, token)[1:])


def test_what_articles_there_are_is_a_list(bot: ArticleBot, fake: FakeDiscord) -> None:
    reply = wait_reply(fake, mention(fake, "what articles do you have?"))
    assert re.match(r"\d+ article\(s\), newest first:\n\\?- ", reply["content"])  # "-" escaped
    assert "Russia plans to leave the International Space Station: " in reply["content"]


def test_summary_command(bot: ArticleBot, fake: FakeDiscord) -> None:
    """/summary with words names the article; without, with two articles here, the
    bot asks which."""
    named = slash(fake, "summary", [{"name": "words", "type": 3, "value": "town hall"}])
    (shown,) = fake.wait_for(lambda: fake.shown(named))
    assert shown["content"].startswith("Town hall row over @\u200beveryone notice: ")  # defused
    assert shown["embeds"] and not shown["flags"] & 64
    which = slash(fake, "summary")
    (note,) = fake.wait_for(lambda: fake.shown(which))
    assert note["content"].startswith("Which article? I have 2: ")


def test_a_long_text_is_cut_between_lines_where_it_can() -> None:
    """A list longer than a message: each piece within Discord's limit, every line
    whole (a line cut at a space would break a linked title in two)."""
    lines = [
        f"- [Article {n} " + "word " * 30 + f"](<https://news.example/{n}>)" for n in range(20)
    ]
    pieces = split_text("\n".join(lines))
    assert len(pieces) > 1 and all(len(p) <= TEXT_LIMIT for p in pieces)
    assert [line for piece in pieces for line in piece.splitlines()] == lines


def test_sources_lists_articles(bot: ArticleBot, fake: FakeDiscord) -> None:
    token = slash(fake, "sources")
    (callback,) = fake.wait_for(lambda: callbacks(fake, token))
    assert callback["type"] == 4 and callback["data"]["flags"] & 64
    assert "Russia plans to leave the International Space Station" in callback["data"]["content"]
    assert "Town hall row" in callback["data"]["content"]


def test_reindex_refused_without_manage_server(
    bot: ArticleBot, fake: FakeDiscord, service: ChatService
) -> None:
    """In the server without Manage Server, and in a DM (no server, so no one manages
    it): refused, and nothing rebuilt (the reply comes after whatever the command did)."""
    version = service.answerer.index.version
    for token in (slash(fake, "reindex", permissions=0), slash(fake, "reindex", dm=True)):
        (callback,) = fake.wait_for(lambda token=token: callbacks(fake, token))
        assert callback["type"] == 4 and callback["data"]["flags"] & 64
        assert "Only server managers" in callback["data"]["content"]
        assert followups(fake, token) == []
    assert service.answerer.index.version == version and not service.reindexing


def test_admin_reindex_swaps_while_answering(
    bot: ArticleBot, fake: FakeDiscord, service: ChatService, sources_dir: Path
) -> None:
    before = service.answerer.index.version
    bridge = "How much did the harbour bridge cost?"
    assert wait_reply(fake, mention(fake, bridge))["content"].startswith("I couldn't find")
    shutil.copy(FIXTURES / "harbour-bridge.txt", sources_dir)
    token = slash(fake, "reindex", permissions=MANAGE_GUILD)
    during = [mention(fake, LAUNCH) for _ in range(2)]  # answered from the old or new index
    done = fake.wait_for(lambda: followups(fake, token), timeout=60)[0]
    assert "Index rebuilt: 3 article(s)" in done["content"] and done["flags"] & 64
    assert all("1998" in wait_reply(fake, m)["content"] for m in during)
    assert service.answerer.index.version != before
    assert "412 million" in wait_reply(fake, mention(fake, bridge))["content"]


def guild_payload(guild_id: int, name: str) -> dict:
    return {
        "id": str(guild_id),
        "name": name,
        "unavailable": False,
        "owner_id": "1",
        "member_count": 2,
        "large": False,
        "roles": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "channels": [],
        "threads": [],
        "members": [],
        "voice_states": [],
        "presences": [],
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "joined_at": "2026-11-25T12:00:00+00:00",
    }


def test_bot_leaves_servers_it_is_not_allowed_in(bot: ArticleBot, fake: FakeDiscord) -> None:
    fake.dispatch("GUILD_CREATE", guild_payload(GUILD_ID, "Newsroom"))
    fake.dispatch("GUILD_CREATE", guild_payload(OTHER_GUILD_ID, "Somebody else's server"))
    fake.wait_for(lambda: str(OTHER_GUILD_ID) in fake.left_guilds)
    assert fake.left_guilds == [str(OTHER_GUILD_ID)]


def test_commands_and_mentions_are_refused_in_other_servers(
    bot: ArticleBot, fake: FakeDiscord, service: ChatService
) -> None:
    version = service.answerer.index.version
    ask = [{"name": "question", "type": 3, "value": LAUNCH}]
    tokens = [
        slash(fake, "reindex", permissions=MANAGE_GUILD, guild_id=OTHER_GUILD_ID),
        slash(fake, "ask", ask, guild_id=OTHER_GUILD_ID),
        slash(fake, "sources", guild_id=OTHER_GUILD_ID),
    ]
    # The same asker's quota (3 a minute) would be spent by the three outside mentions if
    # they were answered, and the control, sent after them, would be refused.
    asker = user(new_user())
    outside = [mention(fake, LAUNCH, author=asker, guild_id=OTHER_GUILD_ID) for _ in range(3)]
    control = mention(fake, LAUNCH, author=asker)
    for token in tokens:
        (callback,) = fake.wait_for(lambda token=token: callbacks(fake, token))
        assert callback["type"] == 4 and callback["data"]["flags"] & 64
        assert callback["data"]["content"] == "ArticleBot is not enabled in this server."
    assert "1998" in wait_reply(fake, control)["content"]
    assert all(replies_to(fake, m) == [] for m in outside)
    assert all(followups(fake, t) == [] for t in tokens)
    assert service.answerer.index.version == version and not service.reindexing


def test_sources_is_rate_limited(bot: ArticleBot, fake: FakeDiscord) -> None:
    asker = new_user()
    tokens = [slash(fake, "sources", user_id=asker) for _ in range(4)]
    contents = [
        fake.wait_for(lambda token=token: callbacks(fake, token))[0]["data"]["content"]
        for token in tokens
    ]
    assert sum("Russia plans to leave" in c for c in contents) == 3
    assert sum("asking quickly" in c for c in contents) == 1


# --- set-up commands ---------------------------------------------------------------------


def test_invite_url_has_exactly_the_needed_scopes_and_permissions() -> None:
    url = invite_url(APP_ID)
    assert f"client_id={APP_ID}" in url and "scope=bot+applications.commands" in url
    permissions = discord.Permissions(int(url.split("permissions=")[1].split("&")[0]))
    granted = {name for name, value in permissions if value}
    # discord.py names View Channel "read_messages"
    assert granted == {
        "read_messages",
        "send_messages",
        "send_messages_in_threads",
        "create_public_threads",
        "embed_links",
        "read_message_history",
    }


def test_invalid_token_is_a_clear_error(
    fake: FakeDiscord,
    bundled_index_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "not-the-right-token")
    monkeypatch.setenv("DISCORD_API_BASE_URL", fake.api_base)
    monkeypatch.setenv("DISCORD_GATEWAY_URL", fake.gateway_url)
    code = main(["serve", "discord", "--index-dir", str(bundled_index_dir)])
    err = capsys.readouterr().err
    assert code == 1
    assert "Discord rejected the token" in err and "not-the-right-token" not in err
    assert "Traceback" not in err
    assert [(r.what, r.status) for r in fake.take_refused()] == [("GET /users/@me", 401)]


def test_missing_token_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert main(["serve", "discord"]) == 2
    assert "set DISCORD_TOKEN" in capsys.readouterr().err


# --- concurrency, channel allow-list, slash-command errors ---------------------------------


def test_slow_question_does_not_block_others(
    bot: ArticleBot, fake: FakeDiscord, service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = service.answerer.answer
    release = threading.Event()

    def slow_for_one(question: str, **options: object) -> Answer:
        if "Mir" in question:  # the slow one
            release.wait(20)
        return real(question, **options)

    monkeypatch.setattr(service.answerer, "answer", slow_for_one)
    slow = mention(fake, "How long has Mir been in orbit?")
    fast = mention(fake, LAUNCH)
    assert "1998" in wait_reply(fake, fast)["content"]  # answered while the slow one still runs
    assert replies_to(fake, slow) == []
    release.set()
    assert "15 years" in wait_reply(fake, slow)["content"]


def test_slash_command_error_reaches_the_user(
    bot: ArticleBot, fake: FakeDiscord, service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(question: str, **options: object) -> Answer:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(service.answerer, "answer", broken)
    token = slash(fake, "ask", [{"name": "question", "type": 3, "value": LAUNCH}])
    [shown] = fake.wait_for(lambda: fake.shown(token))
    assert shown["content"] == "Sorry, something went wrong; the operator has been told."
    # the defer was public (the answer would have been): the note must not be
    assert shown["flags"] & 64
    assert any(r.method == "DELETE" and token in r.path for r in fake.requests)


def test_serve_discord_command_answers(bundled_index_dir: Path, tmp_path: Path) -> None:
    """`articlebot serve discord`, as an operator runs it, against its own fake Discord."""
    server = FakeDiscord().start()
    env = {
        **os.environ,
        "DISCORD_TOKEN": VALID_TOKEN,
        "DISCORD_API_BASE_URL": server.api_base,
        "DISCORD_GATEWAY_URL": server.gateway_url,
        "ARTICLEBOT_DATA_DIR": str(tmp_path),
    }
    exe = Path(sys.executable).parent / "articlebot"
    process = subprocess.Popen(
        [str(exe), "--debug", "serve", "discord", "--index-dir", str(bundled_index_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        server.wait_for(
            lambda: (server.connected and server.synced_commands) or process.poll() is not None, 120
        )
        assert process.poll() is None, process.communicate()
        message_id = mention(server, LAUNCH)
        reply = server.wait_for(lambda: replies_to(server, message_id))[0]
        assert "1998" in reply["content"]
        assert "launched in 1998" in reply["embeds"][0]["description"]
        assert server.sync_path == f"/applications/{APP_ID}/commands"
        assert server.unexpected == [] and server.take_refused() == []
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        server.stop()
    assert process.returncode == 0, err
    assert "DEBUG" in err  # --debug logging was on, and still no token in it
    assert VALID_TOKEN not in out + err


def test_shards_in_two_processes_each_answer_their_own_servers(
    bundled_index_dir: Path, tmp_path: Path, state_url: str
) -> None:
    """`serve discord` twice, shard 0 and shard 1 of 2, against a fake that (like
    Discord) sends each server's events to its shard only and refuses an IDENTIFY
    without a valid shard. A question in each server is answered once, by its shard."""
    server = FakeDiscord(shard_count=2).start()
    guilds = (GUILD_ID, GUILD_ID + (1 << 22))  # (id >> 22) % 2: one on each shard
    processes = []
    for shard_id in (0, 1):
        env = {
            **os.environ,
            "DISCORD_TOKEN": VALID_TOKEN,
            "DISCORD_API_BASE_URL": server.api_base,
            "DISCORD_GATEWAY_URL": server.gateway_url,
            "ARTICLEBOT_DATA_DIR": str(tmp_path / f"shard{shard_id}"),
            "ARTICLEBOT_STATE_URL": state_url,
            "ARTICLEBOT_DISCORD_SHARD_COUNT": "2",
            "ARTICLEBOT_DISCORD_SHARD_IDS": f"[{shard_id}]",
            "ARTICLEBOT_LOG_FORMAT": "json",
        }
        exe = Path(sys.executable).parent / "articlebot"
        command = [str(exe), "serve", "discord", "--index-dir", str(bundled_index_dir)]
        processes.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    try:
        server.wait_for(
            lambda: (
                len(server.shard_of_session) == 2 or any(p.poll() is not None for p in processes)
            ),
            120,
        )
        assert all(p.poll() is None for p in processes)
        assert sorted(server.shard_of_session.values()) == [(0, 2), (1, 2)]
        for n, guild_id in enumerate(guilds):
            server.dispatch("GUILD_CREATE", guild_payload(guild_id, f"Newsroom {n}"))
        asked = [
            mention(server, LAUNCH, guild_id=guild_id, channel_id=CHANNEL_ID + n)
            for n, guild_id in enumerate(guilds)
        ]
        for message_id in asked:
            assert "1998" in wait_reply(server, message_id)["content"]
        assert server.unexpected == [] and server.take_refused() == []
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        errors = [process.communicate(timeout=30)[1] for process in processes]
        server.stop()
    for process, err in zip(processes, errors, strict=True):
        assert process.returncode == 0, err[-3000:]
        answered = [line for line in err.splitlines() if '"message": "answered"' in line]
        assert len(answered) == 1  # its own server's question, not the other's
    assert all(len(replies_to(server, m)) == 1 for m in asked)


def test_message_content_intent_not_enabled_is_a_clear_error(
    bundled_index_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fake that, like Discord, closes with 4014 when an intent the app lacks is asked for."""
    server = FakeDiscord().start()
    # the endpoints are discord.py class attributes: give the module's bot its fake back after
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)
    monkeypatch.setenv("DISCORD_TOKEN", VALID_TOKEN)
    monkeypatch.setenv("DISCORD_API_BASE_URL", server.api_base)
    monkeypatch.setenv("DISCORD_GATEWAY_URL", server.gateway_url)
    monkeypatch.setenv("ARTICLEBOT_DISCORD_MESSAGE_CONTENT", "true")
    try:
        code = main(["serve", "discord", "--index-dir", str(bundled_index_dir)])
    finally:
        server.stop()
    assert code == 1
    assert "privileged intent" in capsys.readouterr().err
    assert [(r.what, r.status) for r in server.take_refused()] == [("gateway IDENTIFY", 4014)]


def test_rate_limited_send_is_retried_by_discord_py(bot: ArticleBot, fake: FakeDiscord) -> None:
    """A real 429 (with Discord's `Via` mark; discord.py raises on one without it): the
    same reply is sent again, not before retry_after, and then accepted."""
    fake.rate_limit_next_send(retry_after=0.5)
    message_id = mention(fake, LAUNCH)
    first, retry = fake.wait_for(
        lambda: len(reply_requests(fake, message_id)) == 2 and reply_requests(fake, message_id)
    )
    assert first.body == retry.body and "1998" in retry.body["content"]
    assert retry.at - first.at >= 0.5  # the fake's own clock: when each arrived
    assert fake.failures == [] and fake.sent[-1]["content"] == retry.body["content"]


def test_dropped_gateway_connection_is_resumed(bot: ArticleBot, fake: FakeDiscord) -> None:
    fake.drop_connections()
    fake.wait_for(lambda: fake.resumes >= 1 and fake.connected, timeout=60)  # discord.py reconnects
    reply = wait_reply(fake, mention(fake, LAUNCH))
    assert "1998" in reply["content"]


def test_server_error_on_send_is_retried_by_discord_py(bot: ArticleBot, fake: FakeDiscord) -> None:
    fake.failures.append((500, {"message": "500: Internal Server Error", "code": 0}, {}))
    message_id = mention(fake, LAUNCH)
    first, retry = fake.wait_for(
        lambda: len(replies_to(fake, message_id)) == 2 and replies_to(fake, message_id)
    )
    assert first == retry and "1998" in retry["content"]


# --- votes ---------------------------------------------------------------------------------------


def stored_votes(settings: Settings) -> list[tuple]:
    with sqlite3.connect(settings.feedback_path) as db:
        return db.execute(
            "SELECT a.platform, a.question, a.user_id, v.user_id, v.helpful "
            "FROM votes v JOIN answers a ON a.id = v.answer_id"
        ).fetchall()


def sent_message(fake: FakeDiscord, body: dict) -> dict:
    """The message as Discord returned it for a body the bot posted."""
    return next(m for m in fake.sent if m["components"] == body["components"])


def test_votes_on_an_answer_are_stored(
    bot: ArticleBot, fake: FakeDiscord, discord_settings: Settings
) -> None:
    asker, voter = new_user(), new_user()
    reply = wait_reply(fake, mention(fake, LAUNCH, author=user(asker)))
    [row] = reply["components"]
    assert row["type"] == 1 and [b["label"] for b in row["components"]] == [
        "Helpful",
        "Not helpful",
    ]
    token = click(fake, sent_message(fake, reply), "Not helpful", voter)
    [done] = fake.wait_for(lambda: callbacks(fake, token))
    assert done["type"] == 4 and done["data"]["flags"] & 64
    assert done["data"]["content"] == messages.THANKS_FOR_VOTE
    assert ("discord", LAUNCH, str(asker), str(voter), 0) in stored_votes(discord_settings)

    # /ask: the buttons come with the answer's last message
    asked = slash(fake, "ask", [{"name": "question", "type": 3, "value": LAUNCH}], user_id=asker)
    last = fake.wait_for(lambda: followups(fake, asked))[-1]
    token = click(fake, sent_message(fake, last), "Helpful", voter)
    fake.wait_for(lambda: callbacks(fake, token))
    assert ("discord", LAUNCH, str(asker), str(voter), 1) in stored_votes(discord_settings)


# --- health, from the real connection state ------------------------------------------------


def metric(port: int, name: str) -> float:
    """A counter's value on /metrics (0 before its first count: it is not listed yet)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    prefix = f'{name}{{platform="discord"}} '
    return sum(float(x.removeprefix(prefix)) for x in text.splitlines() if x.startswith(prefix))


def test_health_follows_the_gateway_reindex_and_errors(
    bot: ArticleBot,
    fake: FakeDiscord,
    service: ChatService,
    discord_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The launcher's ops server, on the bot's loop, over the bot's real state: up while
    on the gateway, 503 while Discord is unreachable, up again once it resumes;
    `reindexing` during a /reindex; `errors_total` after a failed question."""
    port = free_port()
    settings = discord_settings.model_copy(update={"ops_port": port, "ops_host": "127.0.0.1"})
    ops = asyncio.run_coroutine_threadsafe(
        start_ops(settings, service, lambda: bot.connected), bot.loop
    ).result(10)
    health = lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)  # noqa: E731
    try:
        up = health()
        assert up.status_code == 200 and up.json()["platform_connected"] is True
        assert up.json()["reindexing"] is False

        served = service.collection()
        sync, release = served.sync, threading.Event()

        def held_sync(**options: object) -> object:
            assert release.wait(30)
            return sync(**options)  # type: ignore[arg-type]

        monkeypatch.setattr(served, "sync", held_sync)
        token = slash(fake, "reindex", permissions=MANAGE_GUILD)
        fake.wait_for(lambda: health().json()["reindexing"])
        release.set()
        fake.wait_for(lambda: followups(fake, token), timeout=60)
        assert health().json()["reindexing"] is False

        errors = metric(port, "articlebot_errors_total")

        def broken(question: str, **options: object) -> Answer:
            raise RuntimeError("index exploded")

        monkeypatch.setattr(service.answerer, "answer", broken)
        assert "Sorry" in wait_reply(fake, mention(fake, LAUNCH))["content"]
        assert metric(port, "articlebot_errors_total") == errors + 1
        monkeypatch.undo()

        fake.gateway_down = True
        fake.drop_connections()
        fake.wait_for(lambda: health().status_code == 503, timeout=30)
        assert health().json()["platform_connected"] is False
        fake.gateway_down = False
        fake.wait_for(lambda: health().status_code == 200, timeout=60)
        assert fake.resumes >= 1 and "1998" in wait_reply(fake, mention(fake, LAUNCH))["content"]
    finally:
        asyncio.run_coroutine_threadsafe(ops.stop(), bot.loop).result(10)


def test_a_source_from_a_url_links_its_embed_and_shows_its_date(
    bot: ArticleBot, fake: FakeDiscord, service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = from_a_url(service.answerer.answer(LAUNCH), "https://news.example/iss", "2026-11-20")
    monkeypatch.setattr(service.answerer, "answer", lambda question, **_: answer)
    (embed,) = wait_reply(fake, mention(fake, LAUNCH))["embeds"]
    assert embed["url"] == "https://news.example/iss"
    assert embed["footer"]["text"].startswith("2026-11-20 · score")


def test_a_bot_open_to_every_server_warns_at_start(
    service: ChatService,
    discord_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No DISCORD_GUILD_ID and no discord_guild_allowlist: one warning at start, and the
    commands are synced globally (against a fake of its own)."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)
    with running(FakeDiscord()) as own:
        open_to_all = discord_settings.model_copy(
            update={
                "discord_guild_id": None,
                "discord_guild_allowlist": [],
                "discord_api_base_url": own.api_base,
                "discord_gateway_url": own.gateway_url,
            }
        )
        with (
            caplog.at_level("WARNING"),
            with_settings(service, open_to_all) as other,
            started_bot(own, other),
        ):
            own.wait_for(lambda: own.sync_path == f"/applications/{APP_ID}/commands")
        assert own.take_refused() == [] and own.unexpected == []
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("discord_guild_allowlist is empty" in w for w in warnings)


# --- article text is shown as written (security review II, finding 10) ----------------------

HOSTILE_TITLE = "[Your bank](https://evil.example/login) ||spoiler||"
HOSTILE_BODY = "# Breaking\n**Act now** at [the bank](https://evil.example) @everyone today."


def test_markdown_in_article_text_is_shown_not_rendered() -> None:
    """A masked link, a spoiler, a heading or emphasis in an article reaches Discord
    escaped, in the answer and in the source's embed alike; its mentions stay defused."""
    article = make_article(
        article_id="x", title=HOSTILE_TITLE, body=HOSTILE_BODY, source="https://news.example/x"
    )
    chunk = Chunk("x-0", "x", 0, len(article.text), article.text)
    answer = Answer("q", HOSTILE_BODY, False, [Passage(1, chunk, article, 0.8)], [], "v1", 1.0)
    [reply] = format_answer(answer)
    assert reply.content.startswith(r"\# Breaking" + "\n" + r"\*\*Act now\*\* at \[the bank]")
    assert "@\u200beveryone" in reply.content
    embed = reply.embeds[0]
    assert embed.title == r"[1] \[Your bank](https://evil.example/login) \|\|spoiler\|\|"
    assert r"\[the bank](https://evil.example)" in embed.description
    assert embed.url == "https://news.example/x"
