"""End to end: the real Bolt app, served over HTTP on 127.0.0.1, against a fake Slack."""

from __future__ import annotations

import dataclasses
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.answer.records import Answer, Passage
from bot.chat import messages
from bot.chat.service import ChatService
from bot.chat.slack.app import on_listener_error, with_granted_scopes
from bot.chat.slack.keys import thread_key
from bot.chat.slack.manifest import HISTORY_SCOPES
from bot.chat.slack.render import BLOCK_LIMIT, SECTION_LIMIT, TEXT_LIMIT, source_blocks
from bot.cli import main
from bot.settings import Settings, bundled_dir
from index.records import Chunk
from index.sentence_split import sentence_spans
from index.sources.articles import make_article
from index.storage.layout import read_pointer
from tests.conftest import FIXTURES
from tests.fakes.chat import (
    STATEMENT,
    asked,
    from_a_url,
    with_settings,
)
from tests.fakes.hashing import HashingEmbedder
from tests.fakes.slack_server import (
    BOT_ID,
    BOT_USER_ID,
    SCOPES,
    SIGNING_SECRET,
    FakeSlack,
)
from tests.slack.app_client import (
    BUNDLED_ARTICLE,
    LAUNCH,
    all_text,
    ask,
    click,
    command_fields,
    event,
    handled,
    post_form,
    post_json,
    posts_in_thread,
    served_under,
    serving,
)

# --- slash commands --------------------------------------------------------------------


def test_signed_slash_command_answers_at_the_response_url(
    fake: FakeSlack, app_url: str, service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acked before the answer exists (Slack gives 3 s): the answer is held back until
    the ack has come, then goes to the response_url."""
    real, acked = service.answerer.answer, threading.Event()

    def after_the_ack(question: str, **options: object) -> Answer:
        assert acked.wait(30), "the command was not acked before answering finished"
        return real(question, **options)

    monkeypatch.setattr(service.answerer, "answer", after_the_ack)
    fields, name = command_fields(fake, LAUNCH)
    response = post_form(app_url, fields)
    assert response.status_code == 200 and fake.calls(f"response/{name}") == []
    acked.set()
    reply = fake.wait_for(lambda: fake.calls(f"response/{name}"))[0]
    assert reply["response_type"] == "in_channel"
    assert "1998" in reply["blocks"][0]["text"]["text"] and "1998" in reply["text"]
    context, quote = reply["blocks"][1], reply["blocks"][2]
    assert "Russia plans to leave the International Space Station" in context["elements"][0]["text"]
    assert "launched in 1998" in quote["text"]["text"]
    assert reply["blocks"][-1]["type"] == "actions"


@pytest.mark.parametrize(
    ("secret", "age"),
    [("wrong-secret", 0), (SIGNING_SECRET, 6 * 60)],
    ids=["bad signature", "older than 5 minutes"],
)
def test_bad_signature_or_old_timestamp_is_refused(
    fake: FakeSlack, app_url: str, secret: str, age: int
) -> None:
    fields, name = command_fields(fake, LAUNCH)
    timestamp = int(time.time()) - age  # when the test runs, not when it was collected
    assert post_form(app_url, fields, secret=secret, timestamp=timestamp).status_code == 401
    ask(fake, app_url, LAUNCH)  # a marker: answered after the refused one was dropped
    assert fake.calls(f"response/{name}") == []


def test_url_verification(app_url: str) -> None:
    response = post_json(
        app_url, {"type": "url_verification", "challenge": "c-123", "token": "legacy"}
    )
    assert response.status_code == 200 and "c-123" in response.text


def test_abstention(fake: FakeSlack, app_url: str) -> None:
    reply = ask(fake, app_url, "Who won the 2022 World Cup?")
    assert "couldn't find that in the articles" in reply["text"] and "rephrasing" in reply["text"]
    assert [b["type"] for b in reply["blocks"]] == ["section", "actions"]


def test_channel_broadcast_in_an_article_pings_nobody(fake: FakeSlack, app_url: str) -> None:
    reply = ask(fake, app_url, "What did the editor write about the coffee machine?")
    body = all_text(reply)
    assert "coffee machine" in body
    for ping in ("<!channel>", "<!here>", "<@U999>"):
        assert ping not in body
    assert "&lt;!channel&gt;" in body and "&amp;" in body


def test_empty_question_gets_help(fake: FakeSlack, app_url: str) -> None:
    assert "/ask" in ask(fake, app_url, "   ")["text"]


def test_core_exception_reaches_the_user(
    fake: FakeSlack,
    app_url: str,
    service: ChatService,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(question: str, **options: object) -> Answer:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(service.answerer, "answer", broken)
    reply = ask(fake, app_url, LAUNCH)
    assert reply["text"] == "Sorry, something went wrong; the operator has been told."
    assert reply["response_type"] == "ephemeral"
    assert "index exploded" in caplog.text


def test_long_answer_stays_within_block_limits(
    fake: FakeSlack, app_url: str, service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = service.answerer.answer(LAUNCH)
    long_answer = dataclasses.replace(real, text="1998 " * 2000, sources=real.sources * 40)
    monkeypatch.setattr(service.answerer, "answer", lambda question, **_: long_answer)
    reply = ask(fake, app_url, LAUNCH)
    assert len(reply["blocks"]) <= BLOCK_LIMIT and len(reply["text"]) <= TEXT_LIMIT
    for block in reply["blocks"]:
        texts = (
            [block["text"]["text"]]
            if "text" in block
            else [
                e.get("text", "")
                for e in block.get("elements", [])
                if isinstance(e.get("text"), str)
            ]
        )
        assert all(len(t) <= SECTION_LIMIT for t in texts)
    assert reply["blocks"][0]["text"]["text"].startswith("1998 1998")


def test_rate_limit(
    fake: FakeSlack, app_url: str, service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.state.user_limit, "limit", 2)
    replies = [
        ask(fake, app_url, "How long has Mir been in orbit?", user="URATE")["text"]
        for _ in range(3)
    ]
    assert sum("15 years" in r for r in replies) == 2 and "asking quickly" in replies[2]


# --- events --------------------------------------------------------------------------------


def test_mention_is_answered_in_its_thread(fake: FakeSlack, app_url: str) -> None:
    payload = event("app_mention", f"<@{BOT_USER_ID}> {LAUNCH}")
    assert post_json(app_url, payload).status_code == 200
    ts = payload["event"]["ts"]
    (reply,) = fake.wait_for(lambda: posts_in_thread(fake, ts))
    assert reply["channel"] == "C1" and "1998" in reply["text"]
    assert "launched in 1998" in all_text(reply)


def test_reply_in_an_existing_thread_stays_there(fake: FakeSlack, app_url: str) -> None:
    payload = event(
        "app_mention", f"<@{BOT_USER_ID}> How long has Mir been in orbit?", thread_ts="111.000001"
    )
    post_json(app_url, payload)
    (reply,) = fake.wait_for(lambda: posts_in_thread(fake, "111.000001"))
    assert "15 years" in reply["text"]


def test_direct_message(fake: FakeSlack, app_url: str) -> None:
    payload = event("message", "How long has Mir been in orbit?", channel="D1", channel_type="im")
    post_json(app_url, payload)
    (reply,) = fake.wait_for(lambda: posts_in_thread(fake, payload["event"]["ts"]))
    assert reply["channel"] == "D1" and "15 years" in reply["text"]


def test_retried_event_is_answered_once(fake: FakeSlack, app_url: str) -> None:
    payload = event("app_mention", f"<@{BOT_USER_ID}> {LAUNCH}")
    with handled(app_url):  # the event and both retries, each finished with
        post_json(app_url, payload)
        for attempt in (1, 2):
            retry = post_json(
                app_url,
                payload,
                {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"},
            )
            assert retry.status_code == 200
    assert len(posts_in_thread(fake, payload["event"]["ts"])) == 1


def test_a_channel_the_bot_was_removed_from_is_named_in_the_log(
    fake: FakeSlack, app_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack answers not_in_channel: one warning names the channel and the fix, no
    traceback; the next question elsewhere is answered."""
    fake.not_member_of.add("CGONE")
    gone = event("app_mention", f"<@{BOT_USER_ID}> {LAUNCH}", channel="CGONE")
    with handled(app_url):
        post_json(app_url, gone)
    assert [r.error for r in fake.take_refused()] == ["not_in_channel"]
    [warning] = [r for r in caplog.records if "not_in_channel" in r.getMessage()]
    assert warning.levelname == "WARNING" and warning.exc_info is None
    assert "CGONE" in warning.getMessage() and "/invite" in warning.getMessage()
    question = event("app_mention", f"<@{BOT_USER_ID}> {LAUNCH}", channel="C1")
    post_json(app_url, question)
    fake.wait_for(lambda: posts_in_thread(fake, question["event"]["ts"]))


async def test_a_listener_failing_in_our_code_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not a refusal by Slack: the error handler leaves the whole traceback."""
    try:
        raise KeyError("user_id")
    except KeyError as failure:
        await on_listener_error(failure, {"event": {"channel": "C1"}})
    [record] = [r for r in caplog.records if r.name == "bot.chat.slack.app"]
    assert record.levelname == "ERROR" and record.exc_info is not None
    assert "a Slack listener failed" in record.getMessage()


def test_a_summary_in_slack(fake: FakeSlack, app_url: str) -> None:
    """ "tl;dr" where the channel's collection holds several articles asks which; one
    that names the article gets its title and sentences, cited, in the thread."""
    which = event("app_mention", f"<@{BOT_USER_ID}> tl;dr", channel="C1")
    named = event("app_mention", f"<@{BOT_USER_ID}> summarize the space station article")
    (asked,), (summary,) = unanswered(fake, app_url, which, named)
    assert asked["text"].startswith("Which article? I have ")
    assert "Russia plans to leave the International Space Station" in asked["text"]
    assert summary["text"].startswith("Russia plans to leave the International Space Station: ")
    assert "launched in 1998" in summary["text"] and "Sources:" in summary["text"]


def test_the_bundled_articles_gist_in_slack(fake: FakeSlack, app_url: str) -> None:
    """Where the bundled article is the only one: "What is this article about?", "tl;dr"
    and /summary each give its title and sentences of its own, cited, the one about
    Russia's own station among them."""
    asked = [
        event("app_mention", f"<@{BOT_USER_ID}> {message}", channel="CSTATION")
        for message in ("What is this article about?", "tl;dr")
    ]
    replies = [reply for (reply,) in unanswered(fake, app_url, *asked)]
    replies.append(ask(fake, app_url, "", command="/summary", channel="CSTATION"))
    article = BUNDLED_ARTICLE.read_text()
    for reply in replies:
        summary, _, cited = reply["text"].partition("\nSources: ")
        title, _, body = summary.partition(": ")
        assert title == "Russia plans to leave the International Space Station"
        assert set(cited.split("; ")) == {title}  # the article, cited
        assert "Russia planning to build its own orbiting space station in 2025" in body
        quoted = [body[span.start : span.end] for span in sentence_spans(body)]
        assert len(quoted) >= 2 and all(sentence in article for sentence in quoted)


def test_what_s_new_lists_the_articles(fake: FakeSlack, app_url: str) -> None:
    asked = event("app_mention", f"<@{BOT_USER_ID}> what's new?", channel="C1")
    ((reply,),) = unanswered(fake, app_url, asked)
    assert re.match(r"\d+ article\(s\), newest first:\n- ", reply["text"])
    assert "Russia plans to leave the International Space Station: " in reply["text"]
    assert "Sources:" not in reply["text"]  # a list cites no passage


def test_the_summary_command(fake: FakeSlack, app_url: str) -> None:
    """/summary WORDS is the summary of the article they name, at the response_url as
    /ask's answers are; /summary alone, with several articles, asks which."""
    named = ask(fake, app_url, "space station", command="/summary")
    assert named["text"].startswith("Russia plans to leave the International Space Station: ")
    assert named["response_type"] == "in_channel" and "Sources:" in named["text"]
    assert ask(fake, app_url, "", command="/summary")["text"].startswith("Which article?")


def test_bot_messages_are_never_answered(fake: FakeSlack, app_url: str) -> None:
    from_bot = event("message", LAUNCH, channel="D1", channel_type="im", bot_id="BOTHER")
    from_self = event(
        "message", LAUNCH, channel="D1", channel_type="im", user=BOT_USER_ID, bot_id="BBOT0001"
    )
    assert unanswered(fake, app_url, from_bot, from_self) == [[], []]


# --- conversations: follow-ups in threads, answer channels -------------------------------

FOLLOW_UP = "which countries built it?"


def unanswered(fake: FakeSlack, app_url: str, *payloads: dict) -> list[list[dict]]:
    """Post `payloads`; once the app has finished with all of them, what was posted in
    each payload's thread (for "nothing was posted")."""
    with handled(app_url):
        for payload in payloads:
            post_json(app_url, payload)
    return [
        posts_in_thread(fake, p["event"].get("thread_ts") or p["event"]["ts"]) for p in payloads
    ]


def test_follow_up_in_the_thread_is_answered_without_a_mention(
    fake: FakeSlack,
    model_app_url: str,
    model_service: ChatService,
    model_settings: Settings,
) -> None:
    first = event("app_mention", f"<@{BOT_USER_ID}> {LAUNCH}", channel="C7")
    post_json(model_app_url, first)
    thread = first["event"]["ts"]
    fake.wait_for(lambda: posts_in_thread(fake, thread))
    follow_up = event("message", FOLLOW_UP, channel="C7", thread_ts=thread)
    post_json(model_app_url, follow_up)
    _, reply = fake.wait_for(
        lambda: posts_in_thread(fake, thread)[1:] and posts_in_thread(fake, thread)
    )
    assert "Canada" in reply["text"] and "Russia plans to leave" in all_text(reply)
    with sqlite3.connect(model_settings.feedback_path) as db:  # recorded with where it was asked
        where = db.execute(
            "SELECT platform, channel, thread FROM answers WHERE question = ?", (FOLLOW_UP,)
        ).fetchall()
    assert ("slack", "C7", thread) in where
    # the same text in a thread the bot never answered in, a mention that Slack also
    # delivers as a message (app_mention answers it), and "thanks" in the thread
    elsewhere = event("message", FOLLOW_UP, channel="C7", thread_ts="222.000001")
    doubled = event("message", f"<@{BOT_USER_ID}> {FOLLOW_UP}", channel="C7", thread_ts=thread)
    thanks = event("message", "thanks, that helps", channel="C7", thread_ts=thread)
    posted = unanswered(fake, model_app_url, elsewhere, doubled, thanks)
    assert posted[0] == [] and len(posted[1]) == 2


def test_a_thread_goes_quiet_after_the_idle_minutes(
    fake: FakeSlack, service: ChatService, slack_settings: Settings, tmp_path: Path
) -> None:
    """After thread_idle_minutes without a question (1.2 s here, set in the settings
    the app's state is made from, as at start), a thread's follow-up gets nothing."""
    quick = slack_settings.model_copy(update={"thread_idle_minutes": 0.02, "data_dir": tmp_path})
    with with_settings(service, quick, own_state=True) as forgetful, serving(forgetful) as url:
        first = event("app_mention", f"<@{BOT_USER_ID}> {LAUNCH}", channel="C8")
        post_json(url, first)
        thread = first["event"]["ts"]
        fake.wait_for(lambda: posts_in_thread(fake, thread))
        key = thread_key("C8", thread)
        assert forgetful.state.threads.conversation(key) is not None  # remembered before
        fake.wait_for(lambda: forgetful.state.threads.conversation(key) is None, 10)
        late = event("message", FOLLOW_UP, channel="C8", thread_ts=thread)
        assert len(unanswered(fake, url, late)[0]) == 1


def test_a_follow_up_the_instant_the_answer_shows_is_answered(
    fake: FakeSlack, model_app_url: str
) -> None:
    """Slack may deliver a reply before the answer's chat.postMessage returns: the bot
    follows the thread before it answers there, so that reply is a follow-up."""
    first = event("app_mention", f"<@{BOT_USER_ID}> {LAUNCH}", channel="C8")
    thread = first["event"]["ts"]
    quick = event("message", FOLLOW_UP, channel="C8", thread_ts=thread)
    fake.on_next_post(thread, lambda: post_json(model_app_url, quick).raise_for_status())
    post_json(model_app_url, first)
    answer, reply = fake.wait_for(
        lambda: posts_in_thread(fake, thread)[1:] and posts_in_thread(fake, thread)
    )
    assert "1998" in answer["text"] and "Canada" in reply["text"]


def test_follow_up_in_the_thread_of_an_ask_answer(
    fake: FakeSlack, model_app_url: str, model_service: ChatService
) -> None:
    """response_url gives no timestamp: the thread of an /ask answer is known when Slack
    shows the bot its own message (message.channels), as it does every message."""
    answer = ask(fake, model_app_url, LAUNCH, channel="C8")
    assert answer["response_type"] == "in_channel"

    def echo(bot_id: str) -> dict:
        return event(
            "message",
            answer["text"],
            channel="C8",
            user=BOT_USER_ID,
            bot_id=bot_id,
            blocks=answer["blocks"],
        )

    other_bot, own = echo("BOTHER"), echo(BOT_ID)
    follow_up_elsewhere = event(
        "message", FOLLOW_UP, channel="C8", thread_ts=other_bot["event"]["ts"]
    )
    assert unanswered(fake, model_app_url, other_bot, follow_up_elsewhere) == [[], []]
    post_json(model_app_url, own)
    thread = own["event"]["ts"]
    fake.wait_for(
        lambda: model_service.state.threads.conversation(f"slack:C8:{thread}") is not None
    )
    post_json(model_app_url, event("message", FOLLOW_UP, channel="C8", thread_ts=thread))
    (reply,) = fake.wait_for(lambda: posts_in_thread(fake, thread))
    assert "Canada" in reply["text"]


def test_answer_channel(fake: FakeSlack, app_url: str, service: ChatService) -> None:
    """A question in an answer channel is answered in its thread; "thanks all", a link,
    a statement and an unanswerable question get nothing; without a mention, other
    channels neither."""
    question = event("message", LAUNCH, channel="CANSWER")
    post_json(app_url, question)
    (reply,) = fake.wait_for(lambda: posts_in_thread(fake, question["event"]["ts"]))
    assert reply["channel"] == "CANSWER" and "1998" in reply["text"]
    silent = [
        event("message", "thanks all", channel="CANSWER"),
        event("message", "<https://example.com/story|story>", channel="CANSWER"),
        event("message", "Who won the 1966 World Cup final?", channel="CANSWER"),
        event("message", LAUNCH, channel="CELSEWHERE"),
        event("message", STATEMENT, channel="CANSWER"),
    ]
    questions = asked(service)
    assert unanswered(fake, app_url, *silent) == [[], [], [], [], []]
    # the unanswerable one alone reached the answerer: not the statement, which it answers
    assert asked(service) == questions + 1
    assert not service.answerer.answer(STATEMENT).abstained
    follow_up = event("message", FOLLOW_UP, channel="CANSWER", thread_ts=question["event"]["ts"])
    post_json(app_url, follow_up)
    fake.wait_for(lambda: len(posts_in_thread(fake, question["event"]["ts"])) == 2)


def test_answer_channel_can_say_not_found(
    fake: FakeSlack, service: ChatService, tmp_path: Path
) -> None:
    """With answer_channel_silent_abstain off: "not in the articles", and still
    nothing for what is not a question."""
    with served_under(service, tmp_path, answer_channel_silent_abstain=False) as url:
        question = event("message", "Who won the 1966 World Cup final?", channel="CANSWER")
        thanks = event("message", "thanks all", channel="CANSWER")
        (reply,), nothing = unanswered(fake, url, question, thanks)
        assert "couldn't find" in reply["text"] and nothing == []


def test_follow_ups_are_off_without_the_history_scopes(
    slack_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    granted = "app_mentions:read,chat:write,commands,im:history"
    off = with_granted_scopes(slack_settings, granted)
    assert not off.thread_followups and off.slack_answer_channels == []
    assert caplog.text.count("follow-ups in threads and answer channels are off") == 1
    assert with_granted_scopes(slack_settings, SCOPES) is slack_settings
    assert with_granted_scopes(slack_settings, None) is slack_settings
    public_only = with_granted_scopes(slack_settings, granted + ",channels:history")
    assert public_only.thread_followups and "private channels" in caplog.text


def test_an_app_whose_token_cannot_read_channels_answers_mentions_only(
    fake: FakeSlack, service: ChatService
) -> None:
    """The app made with auth.test's scopes, as `serve slack` makes it: without the
    history scopes, a message in the thread of its answer and a question in an answer
    channel get nothing, while a mention is still answered."""
    granted = "app_mentions:read,chat:write,commands,im:history"
    with serving(service, granted) as url:
        first = event("app_mention", f"<@{BOT_USER_ID}> {LAUNCH}", channel="C8")
        post_json(url, first)
        thread = first["event"]["ts"]
        fake.wait_for(lambda: posts_in_thread(fake, thread))
        follow_up = event("message", "And who else took part?", channel="C8", thread_ts=thread)
        in_answer_channel = event("message", "When was the station launched?", channel="CANSWER")
        follow_ups, asked = unanswered(fake, url, follow_up, in_answer_channel)
    assert len(follow_ups) == 1 and asked == []  # only the mention's answer


# --- collections ---------------------------------------------------------------------------

COMET = "What is the new comet called?"
COMET_NOTES = """Amateur astronomers track the new comet

Members of the Kettering Vale astronomy club have photographed the comet every clear night \
since May, using a telescope the club bought in 2019.
"""


def test_each_channel_answers_from_its_collection(
    fake: FakeSlack, app_url: str, service: ChatService, slack_settings: Settings
) -> None:
    """Only the "sky" collection holds the comet article: its channel answers, the
    default one does not; each channel lists its own articles; the answer is recorded
    under its collection."""
    assert "couldn't find" in ask(fake, app_url, COMET)["text"]
    answer = ask(fake, app_url, COMET, channel="CSKY")
    assert "C/2023 H2" in answer["text"]
    mention = event("app_mention", f"<@{BOT_USER_ID}> {COMET}", channel="CSKY")
    post_json(app_url, mention)
    (reply,) = fake.wait_for(lambda: posts_in_thread(fake, mention["event"]["ts"]))
    assert "C/2023 H2" in reply["text"]
    sky_sources = ask(fake, app_url, "", command="/sources", channel="CSKY")["text"]
    default_sources = ask(fake, app_url, "", command="/sources", user="U2")["text"]
    assert "comet" in sky_sources.lower() and "International Space Station" not in sky_sources
    assert "International Space Station" in default_sources and "comet" not in default_sources
    with sqlite3.connect(slack_settings.feedback_path) as db:
        stored = db.execute(
            "SELECT channel, collection FROM answers WHERE question = ?", (COMET,)
        ).fetchall()
    assert ("CSKY", "sky") in stored and ("C1", "default") in stored


def test_reindex_rebuilds_only_the_channels_collection(
    fake: FakeSlack, app_url: str, service: ChatService, sky_dir: Path
) -> None:
    default_before = service.collection("default").answerer.index.version
    sky_before = service.collection("sky").answerer.index.version
    (sky_dir / "comet-notes.txt").write_text(COMET_NOTES)
    fields, name = command_fields(fake, "", command="/reindex", user="UADMIN", channel="CSKY")
    post_form(app_url, fields)
    done = fake.wait_for(lambda: fake.calls(f"response/{name}"), 60)[0]
    assert "Index rebuilt: 2 article(s)" in done["text"]
    assert service.collection("sky").answerer.index.version != sky_before
    assert service.collection("default").answerer.index.version == default_before
    assert read_pointer(service.collection("default").settings.resolved_index_dir) == default_before
    reply = ask(fake, app_url, "Which club photographs the comet?", channel="CSKY")
    assert "Kettering Vale astronomy club" in reply["text"]


def test_a_version_published_for_a_collection_is_picked_up(
    fake: FakeSlack, app_url: str, slack_settings: Settings, fast_embedder: HashingEmbedder
) -> None:
    """`articlebot index add --collection sky` from another process: the running app
    answers from the new version in the collection's channel, and only there."""
    from bot.wiring import load_sources, make_index_directory

    question = "How much did the harbour bridge cost?"
    assert "couldn't find" in ask(fake, app_url, question, channel="CSKY")["text"]
    sky = slack_settings.for_collection("sky")
    articles, _ = load_sources(sky, [str(FIXTURES / "harbour-bridge.txt")])
    make_index_directory(sky, fast_embedder, sky.resolved_index_dir).add(articles)
    assert "412 million" in ask(fake, app_url, question, channel="CSKY")["text"]
    assert "couldn't find" in ask(fake, app_url, question, channel="C1", user="U3")["text"]


# --- feedback and admin commands ----------------------------------------------------------


def test_a_vote_on_an_answer_no_longer_recorded_is_too_late(fake: FakeSlack, app_url: str) -> None:
    reply = ask(fake, app_url, LAUNCH)
    [helpful, _] = reply["blocks"][-1]["elements"]
    assert helpful["text"]["text"] == "Helpful"
    note = click(fake, app_url, helpful["action_id"], "f" * 32)  # an answer id never recorded
    assert note["text"] == messages.VOTE_TOO_LATE and note["response_type"] == "ephemeral"


def test_feedback_click_is_stored(
    fake: FakeSlack,
    app_url: str,
    service: ChatService,
    slack_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reply = ask(fake, app_url, LAUNCH)
    answer_id = reply["blocks"][-1]["elements"][1]["value"]
    note = click(fake, app_url, "feedback_not_helpful", answer_id)
    assert note["text"] == "Thanks for the feedback." and note["response_type"] == "ephemeral"
    summary = service.state.feedback.summary()
    assert summary.not_helpful >= 1
    assert any("Space Station launched" in q for q, _ in summary.recent_not_helpful)
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(slack_settings.data_dir))
    capsys.readouterr()
    assert main(["feedback"]) == 0  # the operator's summary
    out = capsys.readouterr().out
    assert "not helpful" in out.lower() and "Space Station launched" in out


def test_sources_lists_articles(fake: FakeSlack, app_url: str) -> None:
    fields, name = command_fields(fake, "", command="/sources")
    post_form(app_url, fields)
    reply = fake.wait_for(lambda: fake.calls(f"response/{name}"))[0]
    assert "Russia plans to leave" in reply["text"] and reply["response_type"] == "ephemeral"
    assert "&lt;!channel&gt;" in reply["text"]


def test_reindex_refused_for_non_admins(
    fake: FakeSlack, app_url: str, service: ChatService
) -> None:
    """Refused, and nothing rebuilt: the one reply comes after whatever the command did."""
    version = service.answerer.index.version
    fields, name = command_fields(fake, "", command="/reindex", user="UNOBODY")
    post_form(app_url, fields)
    (reply,) = fake.wait_for(lambda: fake.calls(f"response/{name}"))
    assert (
        reply["text"] == "Only admins can rebuild the index."
        and reply["response_type"] == "ephemeral"
    )
    assert service.answerer.index.version == version and not service.reindexing


def test_admin_reindex_keeps_answering_then_swaps(
    fake: FakeSlack, app_url: str, service: ChatService, sources_dir: Path
) -> None:
    bridge = "How much did the harbour bridge cost?"
    assert "couldn't find" in ask(fake, app_url, bridge)["text"]
    before = service.answerer.index.version
    shutil.copy(FIXTURES / "harbour-bridge.txt", sources_dir)
    fields, name = command_fields(fake, "", command="/reindex", user="UADMIN")
    post_form(app_url, fields)
    during = [ask(fake, app_url, LAUNCH)["text"] for _ in range(2)]
    done = fake.wait_for(lambda: fake.calls(f"response/{name}"), 60)[0]
    assert "Index rebuilt: 3 article(s)" in done["text"]
    assert all("1998" in text for text in during)
    assert service.answerer.index.version != before
    assert "412 million" in ask(fake, app_url, bridge)["text"]


def test_reindex_has_a_cooldown(fake: FakeSlack, service: ChatService, tmp_path: Path) -> None:
    """reindex_cooldown_seconds: the first /reindex rebuilds, the next is told when to
    try again, and rebuilds nothing."""
    with served_under(service, tmp_path, reindex_cooldown_seconds=3600) as url:
        fields, name = command_fields(fake, "", command="/reindex", user="UADMIN")
        post_form(url, fields)
        done = fake.wait_for(lambda: fake.calls(f"response/{name}"), 60)[0]
        assert "Index rebuilt" in done["text"]
        version = service.answerer.index.version
        fields, name = command_fields(fake, "", command="/reindex", user="UADMIN")
        post_form(url, fields)
        (reply,) = fake.wait_for(lambda: fake.calls(f"response/{name}"))
        assert "rebuilt recently. Try again in about 60 min" in reply["text"]
        assert reply["response_type"] == "ephemeral"
        assert service.answerer.index.version == version


def test_sources_is_rate_limited(
    fake: FakeSlack, app_url: str, service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.state.user_limit, "limit", 3)
    texts = []
    for _ in range(4):
        fields, name = command_fields(fake, "", command="/sources", user="USOURCES")
        post_form(app_url, fields)
        texts.append(fake.wait_for(lambda name=name: fake.calls(f"response/{name}"))[0]["text"])
    assert sum("Russia plans to leave" in t for t in texts) == 3
    assert sum("asking quickly" in t for t in texts) == 1


def test_a_full_queue_tells_the_asker_the_bot_is_busy(
    fake: FakeSlack, service: ChatService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """answer_queue_max 1: while one question is being answered, the next is told the
    bot is busy; the first is answered once it is let through."""
    release, entered = threading.Event(), threading.Event()
    real = service.answerer.answer

    def held(question: str, **options: object) -> Answer:
        if "Mir" in question:  # the slow one
            entered.set()
            release.wait(20)
        return real(question, **options)

    monkeypatch.setattr(service.answerer, "answer", held)
    with served_under(service, tmp_path, answer_queue_max=1) as url:
        fields, slow = command_fields(fake, "How long has Mir been in orbit?")
        post_form(url, fields)
        try:
            assert entered.wait(20)  # the slow one is being answered: the queue is full
            busy = ask(fake, url, LAUNCH)
            assert busy["text"] == messages.BUSY
        finally:
            release.set()
        assert "15 years" in fake.wait_for(lambda: fake.calls(f"response/{slow}"))[0]["text"]


def test_mention_markup_is_stripped_in_linear_time() -> None:
    """`[^>]*` after each `<@U1|` rescanned to the end: 40k characters took 1.8 s on the
    event loop. 400k would take minutes; linear, it takes milliseconds."""
    code = "from bot.chat.slack.app import MENTION; print(len(MENTION.sub(' ', '<@U1|' * 80_000)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "400000"


def test_mentions_are_removed_from_questions() -> None:
    from bot.chat.slack.app import MENTION

    text = f"<@{BOT_USER_ID}> when was <@W12AB|someone> the <#C1|general> launch? <@U9|a&lt;b>"
    assert MENTION.sub(" ", text).split() == ["when", "was", "the", "<#C1|general>", "launch?"]


def test_a_dm_is_known_by_its_channel_id(
    fake: FakeSlack, service: ChatService, slack_settings: Settings
) -> None:
    allowlisted = slack_settings.model_copy(update={"slack_channel_allowlist": ["CALLOWED"]})
    with with_settings(service, allowlisted) as other, serving(other) as app_url:
        in_dm = ask(fake, app_url, LAUNCH, channel="D0DM", channel_name="whatever")
        assert "1998" in in_dm["text"]
        spoofed = ask(fake, app_url, LAUNCH, channel="CNOTALLOWED", channel_name="directmessage")
        assert spoofed["text"] == "I don't answer in this channel."


def test_text_from_articles_and_users_is_shown_verbatim(fake: FakeSlack, app_url: str) -> None:
    reply = ask(fake, app_url, LAUNCH)
    objects = [b["text"] for b in reply["blocks"] if b["type"] == "section"]
    objects += [e for b in reply["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert objects and all(o["type"] == "mrkdwn" and o["verbatim"] is True for o in objects)


def test_ephemeral_setting_and_channel_allowlist(
    fake: FakeSlack, service: ChatService, slack_settings: Settings
) -> None:
    ephemeral = slack_settings.model_copy(update={"slack_ephemeral_answers": True})
    with with_settings(service, ephemeral) as other, serving(other) as app_url:
        assert ask(fake, app_url, LAUNCH)["response_type"] == "ephemeral"
    allowlisted = ephemeral.model_copy(update={"slack_channel_allowlist": ["CALLOWED"]})
    with with_settings(service, allowlisted) as other, serving(other) as app_url:
        refused = ask(fake, app_url, LAUNCH, channel="COTHER")
        assert refused["text"] == "I don't answer in this channel."
        assert "1998" in ask(fake, app_url, LAUNCH, channel="CALLOWED")["text"]
        listing = ask(fake, app_url, "", command="/sources", channel="COTHER", user="ULIST")
        assert listing["text"] == "I don't answer in this channel."
        listed = ask(fake, app_url, "", command="/sources", channel="CALLOWED", user="ULIST")
        assert "Russia plans to leave" in listed["text"]
        outside = event("app_mention", f"<@{BOT_USER_ID}> {LAUNCH}", channel="COTHER")
        dm = event("message", LAUNCH, channel="D1", channel_type="im")  # DMs: answered
        nothing, (answer,) = unanswered(fake, app_url, outside, dm)
        assert nothing == [] and "1998" in answer["text"]


# The scope Slack requires for each bot event (api.slack.com/events).
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.im": "im:history",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
}


def test_manifest_matches_the_app(fake: FakeSlack, app_url: str) -> None:
    """The shipped manifest is `articlebot slack manifest`'s output, and every command
    and event it subscribes to is handled by the real app: Bolt answers 404 to what no
    listener takes (checked too, so this can fail)."""
    import yaml

    from bot.chat.slack.manifest import manifest_yaml

    text = (bundled_dir() / "slack-manifest.yml").read_text()
    assert text == manifest_yaml(), "run: articlebot slack manifest > config/slack-manifest.yml"
    manifest = yaml.safe_load(text)
    for command in manifest["features"]["slash_commands"]:
        assert len(command["description"]) <= 100
        fields, _ = command_fields(fake, "", command=command["command"])
        assert post_form(app_url, fields).status_code == 200, command["command"]
    fields, _ = command_fields(fake, "", command="/nosuch")
    assert post_form(app_url, fields).status_code == 404
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    for name in events:
        kind, _, channel_type = name.partition(".")
        payload = event(
            kind,
            "thanks",
            channel="D9" if channel_type == "im" else "C9",
            channel_type=channel_type or "channel",
        )
        assert post_json(app_url, payload).status_code == 200, name
    assert post_json(app_url, event("reaction_added", "x")).status_code == 404
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert scopes >= {EVENT_SCOPES[e] for e in events} | {"commands", "chat:write"}
    assert scopes >= set(HISTORY_SCOPES)
    assert set(SCOPES.split(",")) == scopes  # the fake grants what the manifest asks for


def test_version_published_by_another_process_is_picked_up(
    fake: FakeSlack, app_url: str, slack_settings: Settings, fast_embedder: HashingEmbedder
) -> None:
    """A cron job or the CLI publishes; the running app answers from it without a restart."""
    from bot.wiring import load_sources, make_index_directory

    question = "Which team won the cider pressing contest?"
    assert "couldn't find" in ask(fake, app_url, question)["text"]
    articles, _ = load_sources(slack_settings, [str(FIXTURES / "orchard-festival.md")])
    make_index_directory(slack_settings, fast_embedder, slack_settings.resolved_index_dir).add(
        articles
    )
    reply = ask(fake, app_url, question)
    assert "Lower Brook" in reply["text"] and "2024-09-14" in all_text(reply)


def test_a_source_from_a_url_links_its_title_and_shows_its_date(
    fake: FakeSlack, app_url: str, service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = from_a_url(
        service.answerer.answer(LAUNCH), "https://news.example/iss?id=7&x=1", "2026-11-20"
    )
    monkeypatch.setattr(service.answerer, "answer", lambda question, **_: answer)
    reply = ask(fake, app_url, LAUNCH)
    context = reply["blocks"][1]["elements"][0]["text"]
    title = "Russia plans to leave the International Space Station"
    assert f"<https://news.example/iss?id=7&amp;x=1|{title}>" in context
    assert "2026-11-20" in context


def test_a_source_url_cannot_take_over_its_link_text() -> None:
    """A `|` or `>` in a source URL would end Slack's `<url|text>` link early and put
    the URL's tail in as its text: they are percent-encoded in the link target."""
    hostile = "https://news.example/a|Your bank: log in here>?x=1&y=2"
    body = "The ferry runs again from Friday."
    article = make_article(article_id="x", title="Ferry <b>", body=body, source=hostile)
    chunk = Chunk("x-0", "x", 0, len(article.text), article.text)
    answer = Answer("q", body, False, [Passage(1, chunk, article, 0.8)], [], "v1", 1.0)
    meta = source_blocks(1, answer)[0]["elements"][0]["text"]
    link = "<https://news.example/a%7CYour bank: log in here%3E?x=1&amp;y=2|Ferry &lt;b&gt;>"
    assert meta.startswith(f"*[1] {link}*")
    assert meta.count("|") == 1 and meta.count(">") == 1
