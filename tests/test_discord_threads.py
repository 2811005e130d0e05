"""End to end: conversations on Discord, the real discord.py client with the Message
Content intent against a fake Discord on 127.0.0.1: follow-ups in reply to an answer
and in the threads the bot opens, answer channels."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chat.discord.client import ArticleBot
from bot.chat.discord.keys import message_key, thread_key
from bot.chat.service import ChatService
from bot.settings import Settings, bundled_dir
from index.sentence_split import sentence_spans
from tests.fakes.background import BackgroundServer
from tests.fakes.chat import (
    STATEMENT,
    asked,
    chat_service,
    running,
    sources_with,
    with_settings,
)
from tests.fakes.discord_server import (
    CHANNEL_ID,
    GUILD_ID,
    OTHER_GUILD_ID,
    FakeDiscord,
    thread_payload,
)
from tests.fakes.hashing import HashingEmbedder
from tests.test_discord import (
    LAUNCH,
    PING_ARTICLE,
    guild_payload,
    handled,
    ids,
    mention,
    replies_to,
    sent_message,
    settings_for,
    slash,
    started_bot,
    text_of,
    wait_reply,
)

ANSWER_CHANNEL_ID = 920000000000000002
SKY_CHANNEL_ID = 920000000000000003
STATION_CHANNEL_ID = 920000000000000004  # its collection: the bundled article alone
FIXTURES = Path(__file__).parent / "fixtures"
FOLLOW_UP = "which countries built it?"
UNANSWERABLE = "Who won the 1966 World Cup final?"
ARTICLE_TITLE = "Russia plans to leave the International Space Station"
BUNDLED_ARTICLE = bundled_dir() / "articles" / "russia-leaves-iss.txt"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDiscord]:
    with running(FakeDiscord(message_content=True)) as server:
        yield server


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, fake: FakeDiscord) -> Settings:
    sources = sources_with(tmp_path_factory, "discord-threads", "town-hall.txt", PING_ARTICLE)
    sky = {"sources": [str(FIXTURES / "observatory.html")], "channels": [SKY_CHANNEL_ID]}
    station = {"sources": [str(BUNDLED_ARTICLE)], "channels": [STATION_CHANNEL_ID]}
    return settings_for(
        tmp_path_factory,
        fake,
        "discord-threads",
        sources,
        discord_message_content=True,
        discord_answer_channels=[ANSWER_CHANNEL_ID],
        collections={"sky": sky, "station": station},
        # The hashing embedder reads no meaning: which of the article's station
        # sentences answers "which countries built it?" turns on word counts alone, and
        # the share of words a sentence's predecessor adds tips it to a Rogozin one.
        # These tests are about Discord's follow-ups; the real model's answer to the
        # same follow-up is test_core's (model tier), with every default weight.
        context_weight=0.0,
    )


@pytest.fixture(scope="module")
def service(settings: Settings, fast_embedder: HashingEmbedder) -> Iterator[ChatService]:
    with chat_service(settings, fast_embedder, "discord") as chat:
        yield chat


def text_channel(channel_id: int, name: str, guild_id: int = GUILD_ID) -> dict:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }


@pytest.fixture(scope="module")
def bot(fake: FakeDiscord, service: ChatService, settings: Settings) -> Iterator[ArticleBot]:
    with started_bot(fake, service) as client:
        guild = guild_payload(GUILD_ID, "Newsroom")
        guild["channels"] = [
            text_channel(CHANNEL_ID, "general"),
            text_channel(ANSWER_CHANNEL_ID, "ask-the-articles"),
            text_channel(SKY_CHANNEL_ID, "astronomy"),
            text_channel(STATION_CHANNEL_ID, "space"),
        ]
        fake.dispatch("GUILD_CREATE", guild)
        fake.wait_for(lambda: client.get_channel(ANSWER_CHANNEL_ID) is not None)
        yield client


IDLE_MINUTES = 0.02  # 1.2 s: threads of the forgetful bot go quiet soon
OTHER_CHANNEL_ID = 920000000000000071
OTHER_ANSWER_CHANNEL_ID = 920000000000000072
IN_THE_OTHER_SERVER = {"guild_id": OTHER_GUILD_ID, "channel_id": OTHER_CHANNEL_ID}
IN_ITS_ANSWER_CHANNEL = {"guild_id": OTHER_GUILD_ID, "channel_id": OTHER_ANSWER_CHANNEL_ID}


@contextlib.contextmanager
def second_bot(
    fake: FakeDiscord, service: ChatService, tmp_path: Path, **changed: object
) -> Iterator[ArticleBot]:
    """A second bot, in the other server (the first bot answers nothing there), under
    the settings with `changed` and with its own state made from them, as at start.
    (discord.py's API address is global: one fake serves both.)"""
    update = {
        "discord_guild_id": OTHER_GUILD_ID,
        "discord_answer_channels": [OTHER_ANSWER_CHANNEL_ID],
        "data_dir": tmp_path,
        **changed,
    }
    settings = service.settings.model_copy(update=update)
    with with_settings(service, settings, own_state=True) as other, started_bot(fake, other) as bot:
        guild = guild_payload(OTHER_GUILD_ID, "Other newsroom")
        guild["channels"] = [
            text_channel(OTHER_CHANNEL_ID, "general", OTHER_GUILD_ID),
            text_channel(OTHER_ANSWER_CHANNEL_ID, "ask-the-articles", OTHER_GUILD_ID),
        ]
        fake.dispatch("GUILD_CREATE", guild)
        fake.wait_for(lambda: bot.get_channel(OTHER_ANSWER_CHANNEL_ID) is not None)
        yield bot


@pytest.fixture
def forgetful(fake: FakeDiscord, service: ChatService, tmp_path: Path) -> Iterator[ArticleBot]:
    """For one test, a second bot whose threads go quiet after IDLE_MINUTES."""
    with second_bot(fake, service, tmp_path, thread_idle_minutes=IDLE_MINUTES) as bot:
        yield bot


def gone_quiet(service: ChatService, key: str) -> None:
    """Wait until the thread under `key` has gone quiet (bounded)."""
    BackgroundServer.wait_for(lambda: service.state.threads.conversation(key) is None, 10)


@pytest.fixture(autouse=True)
def nothing_unexpected_or_refused(fake: FakeDiscord) -> Iterator[None]:
    yield
    assert fake.unexpected == []
    assert fake.take_refused() == []


def posts_in(fake: FakeDiscord, channel_id: int | str) -> list[dict]:
    path = f"/channels/{channel_id}/messages"
    return [r.body for r in fake.requests if r.method == "POST" and r.path == path]


def test_follow_ups_are_off_without_message_content(
    fake: FakeDiscord,
    service: ChatService,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """Without the intent the bot cannot read a follow-up: it says so once at start,
    and a reply to its answer without a mention gets nothing. (First in the module,
    before the shared bot connects: only this client may answer.)"""
    assert not fake.connected
    without = settings.model_copy(update={"discord_message_content": False, "data_dir": tmp_path})
    caplog.set_level("INFO", logger="bot.chat.discord.client")
    with with_settings(service, without) as other, started_bot(fake, other) as client:
        answer = sent_message(fake, wait_reply(fake, mention(fake, LAUNCH)))
        with handled(client, fake) as sent:
            sent.append(mention(fake, FOLLOW_UP, at_bot=False, reply_to=answer))
        assert not [r for r in fake.requests if sent[0] in str(r.body)]
    assert caplog.text.count("follow-ups in threads and answer channels are off") == 1


def test_a_reply_to_an_answer_is_a_follow_up(
    bot: ArticleBot, fake: FakeDiscord, service: ChatService
) -> None:
    answer = sent_message(fake, wait_reply(fake, mention(fake, LAUNCH)))
    # the answer's id exists only once its post returns, and the bot follows it then;
    # a person replies later than that, this test at once unless it waits
    fake.wait_for(lambda: service.state.threads.conversation(message_key(int(answer["id"]))))
    follow_up = mention(fake, FOLLOW_UP, at_bot=False, reply_to=answer)
    reply = wait_reply(fake, follow_up)
    assert "Canada" in text_of(reply) and ARTICLE_TITLE in text_of(reply)
    # the same words, not addressed to the bot and not in reply to it: nothing
    with handled(bot, fake) as sent:
        sent.append(mention(fake, FOLLOW_UP, at_bot=False))
    assert replies_to(fake, sent[0]) == []


def test_a_reply_to_an_answer_gone_quiet_is_a_new_question(
    forgetful: ArticleBot, fake: FakeDiscord
) -> None:
    """After thread_idle_minutes a reply to the bot is still answered, as a new question."""
    answer = sent_message(fake, wait_reply(fake, mention(fake, LAUNCH, **IN_THE_OTHER_SERVER)))
    key = message_key(int(answer["id"]))
    fake.wait_for(lambda: forgetful.service.state.threads.conversation(key))
    gone_quiet(forgetful.service, key)
    late = "How long has Mir been in orbit?"
    late_id = mention(fake, late, at_bot=False, reply_to=answer, **IN_THE_OTHER_SERVER)
    assert "15 years" in text_of(wait_reply(fake, late_id))


def test_answer_channel_answers_in_a_new_thread_and_follows_it(
    bot: ArticleBot, fake: FakeDiscord, settings: Settings
) -> None:
    question = mention(fake, LAUNCH, at_bot=False, channel_id=ANSWER_CHANNEL_ID)
    fake.wait_for(lambda: posts_in(fake, question))  # the thread takes the question's id
    [thread] = [t for t in fake.threads if t["id"] == question]
    assert thread["parent_id"] == str(ANSWER_CHANNEL_ID) and thread["name"] == LAUNCH
    assert "1998" in text_of(posts_in(fake, question)[0])
    assert posts_in(fake, ANSWER_CHANNEL_ID) == []  # nothing in the channel itself
    mention(fake, FOLLOW_UP, at_bot=False, channel_id=question)
    _, reply = fake.wait_for(lambda: posts_in(fake, question)[1:] and posts_in(fake, question))
    assert "Canada" in text_of(reply) and ARTICLE_TITLE in text_of(reply)
    with sqlite3.connect(settings.feedback_path) as db:  # recorded with where it was asked
        where = db.execute(
            "SELECT platform, channel, thread FROM answers WHERE question = ?", (FOLLOW_UP,)
        ).fetchall()
    assert ("discord", str(ANSWER_CHANNEL_ID), question) in where


def test_an_answer_channels_thread_goes_quiet(forgetful: ArticleBot, fake: FakeDiscord) -> None:
    """After thread_idle_minutes without a question, the thread is quiet."""
    question = mention(fake, LAUNCH, at_bot=False, **IN_ITS_ANSWER_CHANNEL)
    fake.wait_for(lambda: posts_in(fake, question))
    gone_quiet(forgetful.service, thread_key(int(question)))
    with handled(forgetful, fake) as sent:
        sent.append(
            mention(fake, FOLLOW_UP, at_bot=False, guild_id=OTHER_GUILD_ID, channel_id=question)
        )
    assert len(posts_in(fake, question)) == 1


def test_a_follow_up_the_instant_an_answer_in_a_users_thread_shows_is_answered(
    bot: ArticleBot, fake: FakeDiscord
) -> None:
    """Asked with a mention in a thread someone else started: the bot follows that
    thread before its answer shows there, so an unaddressed message the gateway
    delivers before the answer's post returns is a follow-up."""
    thread = str(next(ids))
    fake.dispatch("THREAD_CREATE", thread_payload(thread, str(CHANNEL_ID), "ISS talk", "4242"))
    fake.wait_for(lambda: bot.get_channel(int(thread)) is not None)
    quick = mention(fake, FOLLOW_UP, at_bot=False, channel_id=thread, when_bot_posts_in=thread)
    mention(fake, LAUNCH, channel_id=thread)
    answer, reply = fake.wait_for(lambda: posts_in(fake, thread)[1:] and posts_in(fake, thread))
    assert "1998" in text_of(answer) and "Canada" in text_of(reply)
    assert str(reply["message_reference"]["message_id"]) == quick


def test_a_follow_up_the_instant_the_thread_answer_shows_is_answered(
    bot: ArticleBot, fake: FakeDiscord
) -> None:
    """The gateway may deliver a message before the answer's post returns: the bot
    follows the thread before it answers there, so that message is a follow-up."""
    question = str(next(ids))  # the thread the bot opens takes the question's id
    quick = mention(fake, FOLLOW_UP, at_bot=False, channel_id=question, when_bot_posts_in=question)
    mention(fake, LAUNCH, at_bot=False, channel_id=ANSWER_CHANNEL_ID, message_id=question)
    answer, reply = fake.wait_for(lambda: posts_in(fake, question)[1:] and posts_in(fake, question))
    assert "1998" in text_of(answer) and "Canada" in text_of(reply)
    assert str(reply["message_reference"]["message_id"]) == quick


def test_without_the_thread_permission_the_answer_goes_in_the_channel(
    bot: ArticleBot, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    fake.thread_refusals = 1
    threads_before = len(fake.threads)
    question = mention(fake, LAUNCH, at_bot=False, channel_id=ANSWER_CHANNEL_ID)
    assert "1998" in text_of(wait_reply(fake, question))
    assert len(fake.threads) == threads_before and fake.thread_refusals == 0
    assert "give the bot Create Public Threads" in caplog.text
    assert [(r.status, r.code) for r in fake.take_refused()] == [(403, 50013)]


def test_what_answer_channels_leave_alone(
    bot: ArticleBot, fake: FakeDiscord, service: ChatService
) -> None:
    """ "thanks all", a link, a statement and a question the articles do not answer get
    nothing in an answer channel; without a mention, a question elsewhere gets
    nothing either."""
    threads_before = len(fake.threads)
    silent = [
        ("thanks all", ANSWER_CHANNEL_ID),
        ("https://example.com/story", ANSWER_CHANNEL_ID),
        (UNANSWERABLE, ANSWER_CHANNEL_ID),
        (LAUNCH, CHANNEL_ID),
        (FOLLOW_UP, 930000000000099999),  # a thread the bot never answered in
        (STATEMENT, ANSWER_CHANNEL_ID),
    ]
    questions = asked(service)
    before = len(posts_in(fake, CHANNEL_ID))
    with handled(bot, fake) as sent:
        sent += [mention(fake, text, at_bot=False, channel_id=channel) for text, channel in silent]
    assert len(fake.threads) == threads_before
    assert all(posts_in(fake, message_id) == [] for message_id in sent)
    assert len(posts_in(fake, CHANNEL_ID)) == before
    # the answerer was never asked: not even the statement, which it answers
    assert asked(service) == questions + 1  # the unanswerable question only
    assert not service.answerer.answer(STATEMENT).abstained


def test_answer_channel_can_say_not_found(
    fake: FakeDiscord, service: ChatService, tmp_path: Path
) -> None:
    """With answer_channel_silent_abstain off: "not in the articles", and still
    nothing for what is not a question."""
    with second_bot(fake, service, tmp_path, answer_channel_silent_abstain=False) as bot:
        with handled(bot, fake) as sent:
            sent += [
                mention(fake, "thanks all", at_bot=False, **IN_ITS_ANSWER_CHANNEL),
                mention(fake, UNANSWERABLE, at_bot=False, **IN_ITS_ANSWER_CHANNEL),
            ]
        thanks, question = sent
        [reply] = posts_in(fake, question)
        assert "couldn't find" in reply["content"]
        assert posts_in(fake, thanks) == []


def test_each_channel_answers_from_its_collection(bot: ArticleBot, fake: FakeDiscord) -> None:
    """Only the "sky" collection holds the comet article: its channel answers, and a
    reply there is read from it too; the default channel does not answer."""
    comet = "What is the new comet called?"
    assert "couldn't find" in wait_reply(fake, mention(fake, comet))["content"]
    reply = wait_reply(fake, mention(fake, comet, channel_id=SKY_CHANNEL_ID))
    assert "C/2023 H2" in text_of(reply)
    follow_up = mention(
        fake,
        "when was it discovered?",
        at_bot=False,
        channel_id=SKY_CHANNEL_ID,
        reply_to=sent_message(fake, reply),
    )
    assert "observatory" in text_of(wait_reply(fake, follow_up)).lower()
    # a thread inside the collection's channel counts as that channel
    thread = str(next(ids))
    fake.dispatch(
        "THREAD_CREATE", thread_payload(thread, str(SKY_CHANNEL_ID), "comet talk", "4242")
    )
    fake.wait_for(lambda: bot.get_channel(int(thread)) is not None)
    assert "C/2023 H2" in text_of(wait_reply(fake, mention(fake, comet, channel_id=thread)))


def test_a_summary_in_discord_is_of_the_channels_collection(
    bot: ArticleBot, fake: FakeDiscord
) -> None:
    """The "sky" channel's collection holds one article: "tl;dr" there is its summary,
    cited in an embed; in the default channel, with several, the bot asks which."""
    reply = wait_reply(fake, mention(fake, "tl;dr", channel_id=SKY_CHANNEL_ID))
    assert reply["content"].startswith("Mountain observatory discovers a new comet: ")
    assert "C/2023 H2" in reply["content"] and reply["embeds"]
    assert wait_reply(fake, mention(fake, "what is this article about?"))["content"].startswith(
        "Which article? I have "
    )


def test_the_bundled_articles_gist_in_discord(bot: ArticleBot, fake: FakeDiscord) -> None:
    """Where the bundled article is the only one: "What is this article about?", "tl;dr"
    and /summary each give its title and sentences of its own, cited in an embed, the
    one about Russia's own station among them."""
    replies = [
        wait_reply(fake, mention(fake, message, channel_id=STATION_CHANNEL_ID))
        for message in ("What is this article about?", "tl;dr")
    ]
    token = slash(fake, "summary", channel_id=STATION_CHANNEL_ID)
    replies += fake.wait_for(lambda: fake.shown(token))
    article = BUNDLED_ARTICLE.read_text()
    for reply in replies:
        title, _, body = reply["content"].partition(": ")
        assert title == ARTICLE_TITLE and reply["embeds"]
        assert "Russia planning to build its own orbiting space station in 2025" in body
        quoted = [body[span.start : span.end] for span in sentence_spans(body)]
        assert len(quoted) >= 2 and all(sentence in article for sentence in quoted)


def test_a_thread_where_the_bot_was_mentioned_is_followed(
    bot: ArticleBot, fake: FakeDiscord
) -> None:
    """A thread someone else started: after a mention there, the thread's questions
    are follow-ups; its parent channel's are not."""
    thread_id = "930000000000000555"
    thread = thread_payload(thread_id, str(CHANNEL_ID), "space news", "42")
    fake.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
    fake.wait_for(lambda: bot.get_channel(int(thread_id)) is not None)
    wait_reply(fake, mention(fake, LAUNCH, channel_id=thread_id))
    follow_up = mention(fake, FOLLOW_UP, at_bot=False, channel_id=thread_id)
    assert "Canada" in text_of(wait_reply(fake, follow_up))
    with handled(bot, fake) as sent:
        sent.append(mention(fake, FOLLOW_UP, at_bot=False))
    assert not [r for r in fake.requests if sent[0] in str(r.body)]
