"""The fakes refuse what Discord and Slack refuse. A fake that accepted anything would
let a broken bot pass; these tests drive the fakes with a plain HTTP and websocket
client and check each refusal, with the error Discord or Slack answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.chat import running
from tests.fakes.discord_server import APP_ID, CHANNEL_ID, VALID_TOKEN, FakeDiscord

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
        text = await response.text()
        return response.status, json.loads(text) if text else None


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
