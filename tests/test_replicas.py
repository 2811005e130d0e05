"""Two replicas of `articlebot serve slack`, as a team runs them behind one address:
two processes on two ports, one PostgreSQL (state_url), one index directory, each
with a data_dir of its own (nothing is shared through it). End to end, against the
fake Slack and a real PostgreSQL cluster on a Unix socket."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from bot.chat import messages
from bot.cli import main
from bot.settings import load_settings
from bot.wiring import open_state
from index.storage.layout import read_pointer
from tests.fakes.background import free_port
from tests.fakes.chat import running
from tests.fakes.slack_server import (
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    SIGNING_SECRET,
    FakeSlack,
)
from tests.slack.app_client import (
    LAUNCH,
    ask,
    click,
    command_fields,
    event,
    post_form,
    post_json,
    posts_in_thread,
)

NEW_ARTICLE = """Harbour ferry gets a new name

The city's oldest harbour ferry will be renamed the Marguerite Wells on Saturday,
after the engineer who designed its hull in 1931, the port authority said.
"""


NEWS = "CNEWS"  # the replicas' announce channel


@dataclass
class Replica:
    process: subprocess.Popen[str]
    url: str  # where Slack sends events and commands
    ops: str  # /healthz and /metrics

    def health(self) -> dict:
        return httpx.get(f"{self.ops}/healthz", timeout=5).json()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    with running(FakeSlack()) as server:
        yield server


@pytest.fixture(scope="module")
def shared_index(bundled_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("shared-volume") / "index"
    shutil.copytree(bundled_index_dir, target)
    return target


@pytest.fixture(scope="module")
def shared_url(postgres_server: str) -> str:
    """The replicas' database (a new one in the session's cluster)."""
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "replicas"')
    return postgres_server.replace("/articlebot?", "/replicas?")


def start(
    fake: FakeSlack, index_dir: Path, data_dir: Path, state_url: str, socket_mode: bool = False
) -> Replica:
    port, ops_port = free_port(), free_port()
    mode = (
        {"SLACK_APP_TOKEN": APP_TOKEN} if socket_mode else {"SLACK_SIGNING_SECRET": SIGNING_SECRET}
    )
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")
        },
        **mode,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_BASE_URL": fake.api_base,
        "ARTICLEBOT_DATA_DIR": str(data_dir),
        "ARTICLEBOT_STATE_URL": state_url,
        "ARTICLEBOT_OPS_PORT": str(ops_port),
        "ARTICLEBOT_SLACK_ADMIN_USER_IDS": '["UADMIN"]',
        "ARTICLEBOT_ANNOUNCE_CHANNELS": f'["{NEWS}"]',
        "ARTICLEBOT_ANNOUNCE_CHECK_SECONDS": "0.3",
        "NO_PROXY": "127.0.0.1",
    }
    exe = Path(sys.executable).parent / "articlebot"
    command = [str(exe), "serve", "slack", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--index-dir", str(index_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Replica(process, f"http://127.0.0.1:{port}/slack/events", f"http://127.0.0.1:{ops_port}")


def serving(replica: Replica) -> bool:
    if replica.process.poll() is not None:
        return True  # exited: the assertion below says so
    try:
        return httpx.get(f"{replica.ops}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def two_replicas(
    fake: FakeSlack, index_dir: Path, state_url: str, folder: Path, socket_mode: bool = False
) -> Iterator[tuple[Replica, Replica]]:
    pair = tuple(start(fake, index_dir, folder / n, state_url, socket_mode) for n in "ab")
    try:
        for replica in pair:
            fake.wait_for(lambda r=replica: serving(r), 180)
            assert replica.process.poll() is None, replica.process.communicate()[1][-3000:]
        yield pair  # type: ignore[misc]
    finally:
        for replica in pair:
            replica.process.send_signal(signal.SIGTERM)
        for replica in pair:
            _, err = replica.process.communicate(timeout=30)
            assert replica.process.returncode == 0, err[-3000:]


@pytest.fixture(scope="module")
def replicas(
    fake: FakeSlack,
    shared_index: Path,
    shared_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Replica, Replica]]:
    with two_replicas(fake, shared_index, shared_url, tmp_path_factory.mktemp("http")) as pair:
        yield pair


# Each test asks as users of its own: the replicas share one rate limit (5 a minute).


@pytest.fixture(autouse=True)
def nothing_unexpected_or_refused(fake: FakeSlack) -> Iterator[None]:
    yield
    assert fake.unexpected == []
    assert fake.take_refused() == []


def test_a_retry_that_reaches_the_other_replica_is_not_answered_again(
    fake: FakeSlack, replicas: tuple[Replica, Replica]
) -> None:
    a, b = replicas
    mention = event("app_mention", f"<@UBOT> {LAUNCH}", user="URETRY")
    assert post_json(a.url, mention).status_code == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert post_json(b.url, mention, retry).status_code == 200
    thread = mention["event"]["ts"]
    [answer] = fake.wait_for(lambda: posts_in_thread(fake, thread))
    assert "1998" in answer["text"]
    # a marker B answers after the retry: by then a second answer would be there too
    marker = event("message", LAUNCH, channel="D1", channel_type="im", user="URETRY")
    post_json(b.url, marker)
    fake.wait_for(lambda: posts_in_thread(fake, marker["event"]["ts"]))
    assert len(posts_in_thread(fake, thread)) == 1


def test_the_rate_limit_counts_questions_on_both_replicas(
    fake: FakeSlack, replicas: tuple[Replica, Replica]
) -> None:
    """Five questions through A and one through B within a minute: the sixth gets the
    "asking quickly" note (the default limit, 5 a minute)."""
    a, b = replicas
    for _ in range(5):
        assert "1998" in ask(fake, a.url, LAUNCH, user="URATE")["text"]
    sixth = ask(fake, b.url, LAUNCH, user="URATE")
    assert sixth["text"].startswith("You're asking quickly")
    assert "1998" in ask(fake, b.url, LAUNCH, user="UOTHER")["text"]


def test_a_vote_is_stored_once_and_reported_from_either_replica(
    fake: FakeSlack,
    replicas: tuple[Replica, Replica],
    shared_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = replicas
    reply = ask(fake, a.url, "Which countries built the space station?", user="UVOTE")
    [helpful, not_helpful] = reply["blocks"][-1]["elements"]
    answer_id = not_helpful["value"]
    assert click(fake, b.url, helpful["action_id"], answer_id)["text"] == messages.THANKS_FOR_VOTE
    assert click(fake, a.url, not_helpful["action_id"], answer_id)["text"] == (
        messages.THANKS_FOR_VOTE
    )  # the same user changes their vote: still one vote
    monkeypatch.setenv("ARTICLEBOT_STATE_URL", shared_url)
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path))
    capsys.readouterr()
    assert main(["report", "--json", "--since", "1h"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert (found["helpful"], found["not_helpful"]) == (0, 1)
    assert [v["question"] for v in found["voted_down"]] == [
        "Which countries built the space station?"
    ]


def test_a_thread_answered_by_one_replica_is_followed_by_the_other(
    fake: FakeSlack, replicas: tuple[Replica, Replica]
) -> None:
    a, b = replicas
    mention = event("app_mention", f"<@UBOT> {LAUNCH}", channel="CFOLLOW", user="UFOLLOW")
    post_json(a.url, mention)
    thread = mention["event"]["ts"]
    fake.wait_for(lambda: posts_in_thread(fake, thread))
    follow_up = event(
        "message", "which countries built it?", channel="CFOLLOW", thread_ts=thread, user="UFOLLOW"
    )
    post_json(b.url, follow_up)
    replies = fake.wait_for(lambda: posts_in_thread(fake, thread)[1:])
    assert "Russia" in replies[0]["text"]  # read as a question about the station


def followed(state_url: str, key: str) -> bool:
    """Does the shared database follow this thread?"""
    with psycopg.connect(state_url) as conn:
        return conn.execute("SELECT 1 FROM threads WHERE key = %s", (key,)).fetchone() is not None


def test_the_thread_of_an_ask_answer_is_followed_whichever_replica_sees_it(
    fake: FakeSlack, replicas: tuple[Replica, Replica], shared_url: str
) -> None:
    """/ask through A; Slack shows the bot its own answer through B (only then is its
    thread known); a follow-up in that thread, through A, is read in context."""
    a, b = replicas
    answer = ask(fake, a.url, LAUNCH, channel="CASK", user="UASK")
    own = event(
        "message",
        answer["text"],
        channel="CASK",
        user=BOT_USER_ID,
        bot_id=BOT_ID,
        blocks=answer["blocks"],
    )
    post_json(b.url, own)
    thread = own["event"]["ts"]
    fake.wait_for(lambda: followed(shared_url, f"slack:CASK:{thread}"))  # B has seen it
    post_json(
        a.url,
        event(
            "message", "which countries built it?", channel="CASK", thread_ts=thread, user="UASK"
        ),
    )
    [reply] = fake.wait_for(lambda: posts_in_thread(fake, thread))
    assert "Russia" in reply["text"]


def test_a_rebuild_held_by_another_replica_is_not_started_twice(
    fake: FakeSlack, replicas: tuple[Replica, Replica], shared_url: str, tmp_path: Path
) -> None:
    """While one process holds a collection's rebuild lock, /reindex on a replica says a
    rebuild is running (and builds nothing)."""
    _, b = replicas
    holder = open_state(load_settings(data_dir=tmp_path, state_url=shared_url))
    try:
        with holder.locks.hold("rebuild:default") as held:
            assert held
            fields, name = command_fields(fake, "", command="/reindex", user="UADMIN")
            assert post_form(b.url, fields).status_code == 200
            [note] = fake.wait_for(lambda: fake.calls(f"response/{name}"))
            assert note["text"] == messages.REBUILD_RUNNING
    finally:
        holder.close()


def test_a_version_published_by_the_builder_is_picked_up_by_both(
    fake: FakeSlack, replicas: tuple[Replica, Replica], shared_index: Path, tmp_path: Path
) -> None:
    """One builder (here `articlebot index add`) publishes into the shared index
    directory; each replica answers from the new version at its next question. Both
    check it for news: the new article is announced once, by one of them; the
    archive they started with, never."""
    article = tmp_path / "ferry.txt"
    article.write_text(NEW_ARTICLE)
    before = read_pointer(shared_index)
    fake.wait_for(lambda: all(r.health()["announced"] == {"default": before} for r in replicas))
    assert main(["index", "add", str(article), "--index-dir", str(shared_index)]) == 0
    after = read_pointer(shared_index)
    assert after != before
    for replica in replicas:
        reply = ask(fake, replica.url, "What will the harbour ferry be renamed?", user="UNEW")
        assert "Marguerite Wells" in reply["text"]
        assert replica.health()["index_version"] == after
    fake.wait_for(lambda: all(r.health()["announced"] == {"default": after} for r in replicas))
    news = [m for m in fake.calls("chat.postMessage") if m.get("channel") == NEWS]
    assert [m["text"] for m in news] == ["New article: Harbour ferry gets a new name"]


def test_socket_mode_replicas_answer_an_event_once_whichever_connection_it_reaches(
    fake: FakeSlack,
    shared_index: Path,
    shared_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Two replicas in Socket Mode, each with its own connection: Slack sends an event
    down one, and its retry down the other. One answer."""
    folder = tmp_path_factory.mktemp("socket")
    opened = len(fake.sockets)
    with two_replicas(fake, shared_index, shared_url, folder, socket_mode=True):
        fake.wait_for(lambda: len(fake.sockets) == opened + 2)
        mention = event("app_mention", f"<@UBOT> {LAUNCH}", channel="CSOCKET", user="USOCKET")
        envelope = {"type": "events_api", "payload": mention, "accepts_response_payload": False}
        first, retry = opened, opened + 1
        fake.send_envelope(envelope | {"envelope_id": "sock-1", "retry_attempt": 0}, first)
        fake.send_envelope(envelope | {"envelope_id": "sock-2", "retry_attempt": 1}, retry)
        thread = mention["event"]["ts"]
        [answer] = fake.wait_for(lambda: posts_in_thread(fake, thread))
        assert "1998" in answer["text"]
        marker = event("message", LAUNCH, channel="D1", channel_type="im", user="USOCKET")
        fake.send_envelope(
            {"type": "events_api", "payload": marker, "envelope_id": "sock-3"}, retry
        )
        fake.wait_for(lambda: posts_in_thread(fake, marker["event"]["ts"]))
        assert len(posts_in_thread(fake, thread)) == 1
        fake.wait_for(lambda: not fake.awaiting_ack())  # each envelope acknowledged
