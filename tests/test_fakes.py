"""The fakes refuse what Discord and Slack refuse. A fake that accepted anything would
let a broken bot pass; these tests drive the fakes with a plain HTTP and websocket
client and check each refusal, with the error Discord or Slack answers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import faiss
import numpy as np
import pytest

from tests.fakes.chat import running
from tests.fakes.discord_server import APP_ID, CHANNEL_ID, GUILD_ID, VALID_TOKEN, FakeDiscord
from tests.fakes.faulty_disk import FaultyDisk
from tests.fakes.slack_server import APP_TOKEN, BOT_TOKEN, FakeSlack

BOT_AUTH = {"Authorization": f"Bot {VALID_TOKEN}"}


@pytest.fixture
def discord_fake() -> Iterator[FakeDiscord]:
    with running(FakeDiscord(heartbeat_interval_ms=400)) as server:
        yield server


async def http(
    method: str, url: str, body: Any = None, headers: dict | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, json=body, headers=headers) as response,
    ):
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


def call(method: str, url: str, body: Any = None, headers: dict | None = None) -> tuple[int, Any]:
    return asyncio.run(http(method, url, body, headers))


# --- Discord REST --------------------------------------------------------------------------


def test_discord_rest_needs_the_bot_token(discord_fake: FakeDiscord) -> None:
    url = f"{discord_fake.api_base}/channels/{CHANNEL_ID}/messages"
    for headers in (None, {"Authorization": "Bot wrong"}, {"Authorization": VALID_TOKEN}):
        assert call("POST", url, {"content": "hi"}, headers)[0] == 401
    assert call("POST", url, {"content": "hi"}, BOT_AUTH)[0] == 200
    assert [r.status for r in discord_fake.take_refused()] == [401, 401, 401]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "x" * 2001}, "content"),
        ({"embeds": [{"title": "t"}] * 11}, "embeds"),
        ({"embeds": [{"title": "t" * 257}]}, "embeds"),
        ({"embeds": [{"description": "d" * 4097}]}, "embeds"),
        ({"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]}, "embeds"),
        ({"embeds": [{"footer": {"text": "f" * 2049}}]}, "embeds"),
        (
            {"components": [{"type": 1, "components": [{"type": 2, "custom_id": "c" * 101}]}]},
            "components",
        ),
    ],
)
def test_discord_refuses_messages_over_its_limits(
    discord_fake: FakeDiscord, body: dict, field: str
) -> None:
    url = f"{discord_fake.api_base}/channels/{CHANNEL_ID}/messages"
    status, answer = call("POST", url, body, BOT_AUTH)
    assert status == 400 and answer["code"] == 50035 and field in answer["errors"]
    assert call("POST", url, {"content": "x" * 2000}, BOT_AUTH)[0] == 200  # at the limit
    assert [(r.status, r.code) for r in discord_fake.take_refused()] == [(400, 50035)]


BUTTON = {"type": 2, "style": 2, "label": "Helpful", "custom_id": "vote:1"}


def row(*buttons: dict) -> dict:
    return {"type": 1, "components": list(buttons)}


@pytest.mark.parametrize(
    "components",
    [
        [row(BUTTON)] + [row({**BUTTON, "custom_id": f"r{n}"}) for n in range(5)],  # 6 rows
        [row(*({**BUTTON, "custom_id": f"b{n}"} for n in range(6)))],  # 6 in a row
        [row()],  # an empty row
        [BUTTON],  # a button outside a row
        [row({**BUTTON, "style": 7})],
        [row({k: v for k, v in BUTTON.items() if k != "custom_id"})],
        [row({**BUTTON, "style": 5})],  # a link button with a custom id and no url
        [row(BUTTON, BUTTON)],  # the same custom id twice
        [row({**BUTTON, "label": ""})],  # neither label nor emoji
    ],
)
def test_discord_refuses_components_of_the_wrong_shape(
    discord_fake: FakeDiscord, components: list
) -> None:
    url = f"{discord_fake.api_base}/channels/{CHANNEL_ID}/messages"
    status, answer = call("POST", url, {"content": "x", "components": components}, BOT_AUTH)
    assert status == 400 and answer["code"] == 50035 and "components" in answer["errors"]
    link = {"type": 2, "style": 5, "label": "Read", "url": "https://news.example/a"}
    fine = [row(BUTTON, {**BUTTON, "custom_id": "vote:0", "label": "Not helpful"}, link)]
    assert call("POST", url, {"content": "x", "components": fine}, BOT_AUTH)[0] == 200
    assert [(r.status, r.code) for r in discord_fake.take_refused()] == [(400, 50035)]


ASK = {"name": "ask", "description": "Ask a question", "type": 1}
QUESTION = {"name": "question", "description": "Your question", "type": 3, "required": True}


@pytest.mark.parametrize(
    "commands",
    [
        [{**ASK, "name": "Ask"}],  # upper case
        [{**ASK, "name": "ask me"}],
        [{**ASK, "name": "a" * 33}],
        [{**ASK, "description": ""}],
        [{**ASK, "description": "d" * 101}],
        [ASK, {**ASK, "description": "again"}],  # the same name twice
        [{**ASK, "options": [{**QUESTION, "name": f"q{n}"} for n in range(26)]}],
        [{**ASK, "options": [{**QUESTION, "name": "private", "required": False}, QUESTION]}],
        [{**ASK, "options": [{**QUESTION, "type": 99}]}],
        [{**ASK, "options": [{**QUESTION, "description": ""}]}],
    ],
)
def test_discord_refuses_command_definitions_it_would_not_take(
    discord_fake: FakeDiscord, commands: list
) -> None:
    url = f"{discord_fake.api_base}/applications/{APP_ID}/commands"
    status, answer = call("PUT", url, commands, BOT_AUTH)
    assert status == 400 and answer["code"] == 50035 and answer["errors"]
    assert discord_fake.synced_commands == []
    assert call("PUT", url, [{**ASK, "options": [QUESTION]}], BOT_AUTH)[0] == 200
    other_app = f"{discord_fake.api_base}/applications/1234/commands"
    assert call("PUT", other_app, [ASK], BOT_AUTH)[0] == 403
    assert [(r.status, r.code) for r in discord_fake.take_refused()] == [
        (400, 50035),
        (403, 50001),
    ]


def test_discord_refuses_unknown_channels_and_messages(discord_fake: FakeDiscord) -> None:
    """A post to a channel the bot was never told of is 404 Unknown Channel; a reply to
    a message that does not exist is refused (or sent plain when fail_if_not_exists is
    false); a thread on one is 404 Unknown Message."""
    base = discord_fake.api_base
    nowhere = f"{base}/channels/920000000000000555/messages"
    status, answer = call("POST", nowhere, {"content": "hi"}, BOT_AUTH)
    assert (status, answer["code"]) == (404, 10003)
    url = f"{base}/channels/{CHANNEL_ID}/messages"
    reply = {"content": "hi", "message_reference": {"message_id": "940000000000000001"}}
    status, answer = call("POST", url, reply, BOT_AUTH)
    assert (status, answer["code"]) == (400, 50035) and "message_reference" in answer["errors"]
    lenient = {**reply, "message_reference": {**reply["message_reference"]}}
    lenient["message_reference"]["fail_if_not_exists"] = False
    assert call("POST", url, lenient, BOT_AUTH)[0] == 200
    thread = f"{base}/channels/{CHANNEL_ID}/messages/940000000000000001/threads"
    assert call("POST", thread, {"name": "talk"}, BOT_AUTH)[0] == 404
    said = {"id": "940000000000000001", "channel_id": str(CHANNEL_ID), "content": "hello"}
    discord_fake.dispatch("MESSAGE_CREATE", said)  # now it exists
    assert call("POST", url, reply, BOT_AUTH)[0] == 200
    assert call("POST", thread, {"name": "talk"}, BOT_AUTH)[0] == 201
    discord_fake.dispatch("CHANNEL_CREATE", {"id": "920000000000000555", "type": 0})
    assert call("POST", nowhere, {"content": "hi"}, BOT_AUTH)[0] == 200
    refused = [(r.status, r.code) for r in discord_fake.take_refused()]
    assert refused == [(404, 10003), (400, 50035), (404, 10008)]


def test_discord_interaction_paths_name_the_application_and_the_interaction(
    discord_fake: FakeDiscord,
) -> None:
    token = "interaction-token-paths"
    base = discord_fake.api_base
    discord_fake.dispatch("INTERACTION_CREATE", interaction_payload(token))
    other = f"{base}/interactions/930000000000000111/{token}/callback"
    assert call("POST", other, {"type": 5})[0] == 404  # another interaction's id
    assert (
        call("POST", f"{base}/interactions/930000000000000999/{token}/callback", {"type": 5})[0]
        == 200
    )
    assert call("POST", f"{base}/webhooks/1234/{token}", {"content": "x"})[0] == 404
    assert call("POST", f"{base}/webhooks/{APP_ID}/{token}", {"content": "x"})[0] == 200
    assert [r.code for r in discord_fake.take_refused()] == [10062, 10015]


def interaction_payload(token: str) -> dict:
    return {"id": "930000000000000999", "token": token, "type": 2, "application_id": str(APP_ID)}


def test_discord_interaction_rules(discord_fake: FakeDiscord) -> None:
    """One initial response; follow-ups only after it; the first follow-up after a
    defer keeps the defer's visibility; a second initial response is 40060."""
    token = "interaction-token-rules"
    base = discord_fake.api_base
    callback = f"{base}/interactions/930000000000000999/{token}/callback"
    followup = f"{base}/webhooks/{APP_ID}/{token}"
    discord_fake.dispatch("INTERACTION_CREATE", interaction_payload(token))
    assert call("POST", followup, {"content": "too early"})[0] == 404  # Unknown Webhook
    assert call("POST", callback, {"type": 5})[0] == 200  # a public defer
    status, answer = call("POST", callback, {"type": 4, "data": {"content": "again"}})
    assert (status, answer["code"]) == (400, 40060)
    assert call("POST", followup, {"content": "first", "flags": 64})[0] == 200
    assert call("POST", followup, {"content": "second", "flags": 64})[0] == 200
    first, second = discord_fake.shown(token)
    assert not first["flags"] & 64  # fixed by the public defer
    assert second["flags"] & 64
    assert [r.code for r in discord_fake.take_refused()] == [10015, 40060]


def test_discord_initial_response_is_due_within_3_seconds(
    discord_fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "interaction-token-late"
    discord_fake.dispatch("INTERACTION_CREATE", interaction_payload(token))
    discord_fake.interactions[token].created -= 3.5  # as if it arrived 3.5 s ago
    url = f"{discord_fake.api_base}/interactions/930000000000000999/{token}/callback"
    status, answer = call("POST", url, {"type": 5})
    assert (status, answer["code"]) == (404, 10062)
    assert [r.code for r in discord_fake.take_refused()] == [10062]


# --- Discord gateway -------------------------------------------------------------------------


async def gateway_session(
    fake: FakeDiscord, first: dict, *, heartbeat: bool, seconds: float = 0.3
) -> tuple[list[dict], int | None]:
    """Connect, send `first`, heartbeat (every half interval) or not, and read what the
    fake sends (heartbeat acks aside) until it closes (its close code) or `seconds`
    have passed (None)."""
    received: list[dict] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(fake.gateway_url) as ws:
        hello = await ws.receive_json()
        interval = hello["d"]["heartbeat_interval"] / 1000
        await ws.send_json(first)

        async def beat() -> None:
            while heartbeat:
                await ws.send_json({"op": 1, "d": None})
                await asyncio.sleep(interval / 2)

        beating = asyncio.create_task(beat())
        try:
            async with asyncio.timeout(seconds):
                async for message in ws:
                    if (payload := json.loads(message.data))["op"] != 11:
                        received.append(payload)
                return received, ws.close_code
        except TimeoutError:
            return received, None
        finally:
            beating.cancel()


def identify(token: str = VALID_TOKEN) -> dict:
    return {"op": 2, "d": {"token": token, "intents": 0, "properties": {}}}


def test_discord_gateway_closes_when_heartbeats_stop(discord_fake: FakeDiscord) -> None:
    """The fake allows 1.5 intervals (0.6 s here) between beats."""
    quiet = gateway_session(discord_fake, identify(), heartbeat=False, seconds=5)
    received, code = asyncio.run(quiet)
    assert received[0]["t"] == "READY" and code == 4009
    refused = [(r.what, r.status) for r in discord_fake.take_refused()]
    assert refused == [("gateway heartbeat", 4009)]
    beating = gateway_session(discord_fake, identify(), heartbeat=True, seconds=1.5)
    received, code = asyncio.run(beating)
    assert code is None and discord_fake.take_refused() == []  # kept open while beating


def test_discord_gateway_checks_the_identify_token(discord_fake: FakeDiscord) -> None:
    received, code = asyncio.run(gateway_session(discord_fake, identify("wrong"), heartbeat=True))
    assert received == [] and code == 4004
    assert [r.status for r in discord_fake.take_refused()] == [4004]


@pytest.mark.parametrize(
    ("shard", "code"), [(None, 4011), ([2, 2], 4010), ([0, 3], 4010), ([1, 2], None)]
)
def test_discord_gateway_checks_the_shard_of_a_sharded_bot(
    shard: list[int] | None, code: int | None
) -> None:
    """A bot in 2 shards must name one of them: none is 4011, a wrong one 4010."""
    with running(FakeDiscord(shard_count=2)) as fake:
        first = identify()
        if shard is not None:
            first["d"]["shard"] = shard
        received, closed = asyncio.run(gateway_session(fake, first, heartbeat=True))
        assert closed == code
        if code is None:
            assert received[0]["d"]["shard"] == shard and fake.take_refused() == []
        else:
            assert [r.status for r in fake.take_refused()] == [code]


GUILDS_ON_TWO_SHARDS = (GUILD_ID, GUILD_ID + (1 << 22))


def test_discord_events_of_a_server_go_to_its_shard_only() -> None:
    """(guild_id >> 22) % shard_count picks the connection; a DM goes to shard 0."""

    async def two_shards(fake: FakeDiscord) -> tuple[list[dict], list[dict]]:
        async with aiohttp.ClientSession() as session:
            sockets = [await session.ws_connect(fake.gateway_url) for _ in range(2)]
            for shard_id, ws in enumerate(sockets):
                await ws.receive_json()  # hello
                await ws.send_json(identify() | {"d": identify()["d"] | {"shard": [shard_id, 2]}})
                assert (await ws.receive_json())["t"] == "READY"
            for guild_id in GUILDS_ON_TWO_SHARDS:
                await asyncio.to_thread(
                    fake.dispatch, "MESSAGE_CREATE", {"guild_id": str(guild_id)}
                )
            await asyncio.to_thread(fake.dispatch, "MESSAGE_CREATE", {"channel_id": "1"})
            got = [[], []]
            for shard_id, ws in enumerate(sockets):
                with contextlib.suppress(TimeoutError):
                    while True:
                        got[shard_id].append((await ws.receive_json(timeout=0.5))["d"])
                await ws.close()
            return got[0], got[1]

    with running(FakeDiscord(shard_count=2)) as fake:
        first, second = asyncio.run(two_shards(fake))
    expected: list[list[dict]] = [[], []]
    for guild_id in GUILDS_ON_TWO_SHARDS:  # one on each shard
        expected[(guild_id >> 22) % 2].append({"guild_id": str(guild_id)})
    expected[0].append({"channel_id": "1"})
    assert [first, second] == expected and len(first) == 2 and len(second) == 1


@pytest.mark.parametrize(
    ("session", "seq"),
    [("fake-session-99", 1), ("fake-session-1", 10_000), ("fake-session-1", None)],
)
def test_discord_gateway_refuses_a_stale_resume(
    discord_fake: FakeDiscord, session: str, seq: int | None
) -> None:
    ready, _ = asyncio.run(gateway_session(discord_fake, identify(), heartbeat=True))
    assert ready[0]["d"]["session_id"] == "fake-session-1"
    resume = {"op": 6, "d": {"token": VALID_TOKEN, "session_id": session, "seq": seq}}
    received, _ = asyncio.run(gateway_session(discord_fake, resume, heartbeat=True))
    assert received[0] == {"op": 9, "d": False} and discord_fake.resumes == 0
    assert [r.what for r in discord_fake.take_refused()] == ["gateway RESUME"]
    good = {"op": 6, "d": {"token": VALID_TOKEN, "session_id": "fake-session-1", "seq": 1}}
    received, _ = asyncio.run(gateway_session(discord_fake, good, heartbeat=True))
    assert received[0]["t"] == "RESUMED" and discord_fake.resumes == 1


# --- Slack -------------------------------------------------------------------------------------


@pytest.fixture
def slack_fake() -> Iterator[FakeSlack]:
    with running(FakeSlack(ack_seconds=0.5)) as server:
        yield server


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def actions(*buttons: dict) -> dict:
    return {"type": "actions", "elements": list(buttons)}


MRKDWN = {"type": "mrkdwn", "text": "*Helpful*"}
# a button's text is plain_text only (https://api.slack.com/reference/block-kit/block-elements)
mrkdwn_button = {"type": "button", "text": MRKDWN, "action_id": "a", "value": "v"}
plain_button = {**mrkdwn_button, "text": {"type": "plain_text", "text": "Helpful"}}


def test_slack_answers_not_in_channel_where_the_bot_is_not(slack_fake: FakeSlack) -> None:
    url = f"{slack_fake.api_base}chat.postMessage"
    auth = {"Authorization": f"Bearer {BOT_TOKEN}"}
    slack_fake.not_member_of.add("CGONE")
    message = {"channel": "CGONE", "text": "hi", "blocks": [actions(plain_button)]}
    assert call("POST", url, message, auth) == (200, {"ok": False, "error": "not_in_channel"})
    assert call("POST", url, {**message, "channel": "C1"}, auth)[1]["ok"] is True
    assert [r.error for r in slack_fake.take_refused()] == ["not_in_channel"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"text": "x" * 40_001}, "msg_too_long"),
        ({"text": "fallback", "blocks": [section("x" * 3001)]}, "invalid_blocks"),
        ({"text": "fallback", "blocks": [section("x")] * 51}, "invalid_blocks"),
        ({"text": "fallback", "blocks": [{"type": "table"}]}, "invalid_blocks"),
        ({"text": "fallback", "blocks": [{"type": "context", "elements": []}]}, "invalid_blocks"),
        ({"text": "fallback", "blocks": [actions(mrkdwn_button)]}, "invalid_blocks"),
        ({"text": "fallback", "blocks": [{"type": "header", "text": MRKDWN}]}, "invalid_blocks"),
        ({}, "no_text"),
    ],
)
@pytest.mark.parametrize("method", ["chat.postMessage", "chat.update"])
def test_slack_refuses_messages_over_its_limits(
    slack_fake: FakeSlack, method: str, body: dict, error: str
) -> None:
    url = f"{slack_fake.api_base}{method}"
    auth = {"Authorization": f"Bearer {BOT_TOKEN}"}
    message = {"channel": "C1", "ts": "1.000001", **body}
    assert call("POST", url, message, auth) == (200, {"ok": False, "error": error})
    fine = {"channel": "C1", "ts": "1.000001", "text": "x", "blocks": [section("x" * 3000)] * 50}
    assert call("POST", url, fine, auth)[1]["ok"] is True
    assert [(r.what, r.error) for r in slack_fake.take_refused()] == [(method, error)]


def test_slack_response_url_rules(slack_fake: FakeSlack) -> None:
    """Five posts within 30 minutes, a known response_type, boolean flags."""
    url = slack_fake.response_url_for("cmd")
    assert call("POST", url, {"text": "a", "response_type": "public"})[0] == 400
    assert call("POST", url, {"text": "a", "replace_original": "false"})[0] == 400
    assert call("POST", url, {"text": "a", "blocks": [section("x" * 3001)]})[0] == 400
    assert call("POST", url, {"text": "a", "response_type": "in_channel"})[0] == 200
    assert call("POST", url, {"text": "a"})[0] == 200
    assert call("POST", url, {"text": "a"})[0] == 404  # the sixth
    refused = [r.error for r in slack_fake.take_refused()]
    assert refused == ["invalid_response_type", "invalid_payload", "invalid_blocks", "used_url"]


async def socket_mode_session(fake: FakeSlack, url: str, ack: bool) -> str:
    """Connect to `url`, take one envelope and acknowledge it (or not); what came last."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        hello = await ws.receive_json()
        assert hello["type"] == "hello"
        await asyncio.to_thread(fake.send_envelope, {"envelope_id": "e1", "type": "events_api"})
        envelope = await ws.receive_json()
        if ack:
            await ws.send_json({"envelope_id": envelope["envelope_id"]})
        await asyncio.to_thread(fake.wait_for, lambda: not fake.awaiting_ack(), 10)
        return envelope["envelope_id"]


def test_slack_socket_mode_needs_a_fresh_url_and_timely_acks(
    slack_fake: FakeSlack,
) -> None:
    opened = f"{slack_fake.api_base}apps.connections.open"
    assert call("POST", opened, {}, {"Authorization": f"Bearer {BOT_TOKEN}"})[1] == {
        "ok": False,
        "error": "invalid_auth",
    }
    url = call("POST", opened, {}, {"Authorization": f"Bearer {APP_TOKEN}"})[1]["url"]
    assert asyncio.run(socket_mode_session(slack_fake, url, ack=True)) == "e1"
    with pytest.raises(aiohttp.WSServerHandshakeError):  # the URL was used
        asyncio.run(socket_mode_session(slack_fake, url, ack=True))
    url = call("POST", opened, {}, {"Authorization": f"Bearer {APP_TOKEN}"})[1]["url"]
    asyncio.run(socket_mode_session(slack_fake, url, ack=False))
    refused = [(r.what, r.error) for r in slack_fake.take_refused()]
    assert refused == [
        ("apps.connections.open", "invalid_auth"),
        ("socket", "invalid_ticket"),
        ("socket", "no ack within 0.5 s"),
    ]


# --- the session's network guard ------------------------------------------------------------


def test_the_session_refuses_every_address_outside_loopback() -> None:
    """conftest's guard: a connection or a DNS lookup outside 127.0.0.0/8 is refused
    (and would fail the test that tried; this one takes its record back)."""
    import socket

    from tests import conftest

    before = len(conftest.OUTSIDE)
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match=r"127\.0\.0\.0/8"):
        sock.connect(("10.255.255.1", 80))
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("example.com", 443)
    assert conftest.OUTSIDE[before:] == ["10.255.255.1", "example.com"]
    del conftest.OUTSIDE[before:]


def test_the_faulty_disk_tears_the_write_it_fails(tmp_path: Path) -> None:
    """The failing step of a write leaves the first half of its bytes, as a full disk
    does; a FAISS index is left truncated. Steps outside the root are not counted."""
    story = tmp_path / "story.txt"
    with FaultyDisk(tmp_path, fail_at=2) as disk, pytest.raises(OSError, match="No space"):
        story.write_text("0123456789")
    assert disk.steps == [f"open {story}", f"write {story}"]
    assert story.read_text() == "01234"
    vectors = faiss.IndexFlatIP(4)
    vectors.add(np.ones((8, 4), dtype=np.float32))
    whole = tmp_path / "whole.faiss"
    faiss.write_index(vectors, str(whole))
    torn = tmp_path / "torn.faiss"
    with FaultyDisk(tmp_path, fail_at=1), pytest.raises(OSError, match="No space"):
        faiss.write_index(vectors, str(torn))
    assert torn.stat().st_size == whole.stat().st_size // 2
    (tmp_path / "raw").touch()
    with FaultyDisk(tmp_path, fail_at=2) as disk:
        fd = os.open(tmp_path / "raw", os.O_WRONLY)
        with pytest.raises(OSError, match="No space"):
            os.write(fd, b"abcdef")
        os.close(fd)
        (tmp_path.parent / "elsewhere.txt").write_text("not counted")
    assert (tmp_path / "raw").read_bytes() == b"abc" and len(disk.steps) == 2
