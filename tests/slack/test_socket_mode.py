"""The Slack app in Socket Mode against the fake's websocket, and `articlebot serve
slack` as a real process, over HTTP and in Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.chat.service import ChatService
from bot.chat.slack.app import create_slack_app
from bot.cli import main
from bot.process.launcher import socket_mode_connected, start_ops
from bot.settings import Settings
from tests.conftest import FIXTURES
from tests.fakes.background import free_port
from tests.fakes.slack_server import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
)
from tests.slack.app_client import (
    LAUNCH,
    all_text,
    ask,
    command_fields,
)

# --- Socket Mode and the real command -----------------------------------------------------


@contextlib.contextmanager
def socket_mode_app(
    fake: FakeSlack, service: ChatService
) -> Iterator[tuple[AsyncSocketModeHandler, asyncio.AbstractEventLoop]]:
    """The app connected in Socket Mode, on its own loop and thread, for the block."""
    app = create_slack_app(service)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def connect() -> AsyncSocketModeHandler:
        handler = AsyncSocketModeHandler(app, APP_TOKEN)  # needs a running loop
        await handler.connect_async()
        return handler

    handler = asyncio.run_coroutine_threadsafe(connect(), loop).result(20)
    try:
        fake.wait_for(lambda: fake.sockets)
        yield handler, loop
    finally:
        asyncio.run_coroutine_threadsafe(handler.close_async(), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_socket_mode_round_trip(
    fake: FakeSlack, service: ChatService, slack_settings: Settings
) -> None:
    with socket_mode_app(fake, service):
        fields, name = command_fields(fake, LAUNCH)
        fake.send_envelope(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "payload": fields,
                "accepts_response_payload": True,
            }
        )
        reply = fake.wait_for(lambda: fake.calls(f"response/{name}"))[0]
        assert "1998" in reply["text"]
        assert any(ack.get("envelope_id") == "env-1" for ack in fake.socket_acks)
        # a dropped websocket, then Slack's own "disconnect" messages: each time slack_sdk
        # opens a new connection (a new URL from apps.connections.open) and carries on
        reconnects = [fake.drop_connections] + [
            functools.partial(fake.ask_to_reconnect, reason)
            for reason in ("refresh_requested", "link_disabled")
        ]
        for n, reconnect in enumerate(reconnects, start=2):
            before = list(fake.sockets)
            reconnect()
            # the new connection alone: until the app closes the one it is leaving, an
            # envelope goes down both, and the old one may close without answering it
            fake.wait_for(
                lambda before=before: len(fake.sockets) == 1 and fake.sockets[0] not in before,
                60,
            )
            fields, name = command_fields(fake, "How long has Mir been in orbit?")
            fake.send_envelope(
                {
                    "envelope_id": f"env-{n}",
                    "type": "slash_commands",
                    "payload": fields,
                    "accepts_response_payload": True,
                }
            )
            reply = fake.wait_for(lambda name=name: fake.calls(f"response/{name}"))[0]
            assert "15 years" in reply["text"]
        assert not fake.awaiting_ack()  # every envelope acknowledged, within 3 s


def test_socket_mode_health_follows_the_connection(
    fake: FakeSlack,
    service: ChatService,
    slack_settings: Settings,
) -> None:
    """/healthz from the launcher's ops server over the real websocket: up while
    connected, 503 while Slack's socket cannot be reached, up once slack_sdk is back."""
    port = free_port()
    settings = slack_settings.model_copy(update={"ops_port": port, "ops_host": "127.0.0.1"})
    health = lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)  # noqa: E731
    with socket_mode_app(fake, service) as (handler, loop):
        connected = functools.partial(socket_mode_connected, handler)
        ops = asyncio.run_coroutine_threadsafe(start_ops(settings, service, connected), loop)
        ops = ops.result(10)
        try:
            assert health().status_code == 200 and health().json()["platform_connected"]
            fake.socket_down = True
            fake.drop_connections()
            fake.wait_for(lambda: health().status_code == 503, 30)
            assert health().json()["platform_connected"] is False
            fake.socket_down = False
            fake.wait_for(lambda: health().status_code == 200, 60)
        finally:
            asyncio.run_coroutine_threadsafe(ops.stop(), loop).result(10)


def test_serve_slack_over_http(fake: FakeSlack, bundled_index_dir: Path, tmp_path: Path) -> None:
    """`articlebot serve slack --host 127.0.0.1 --port P`, as an operator runs it, with
    health, metrics and JSON logs on."""
    port, ops_port = free_port(), free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_BASE_URL": fake.api_base,
        "ARTICLEBOT_DATA_DIR": str(tmp_path),
        "NO_PROXY": "127.0.0.1",
        "ARTICLEBOT_OPS_PORT": str(ops_port),
        "ARTICLEBOT_LOG_FORMAT": "json",
        # a second collection, built at start like the default one
        "ARTICLEBOT_COLLECTIONS": json.dumps(
            {"sky": {"sources": [str(FIXTURES / "observatory.html")], "channels": ["CSKY"]}}
        ),
    }
    env.pop("SLACK_APP_TOKEN", None)
    exe = Path(sys.executable).parent / "articlebot"
    process = subprocess.Popen(
        [
            str(exe),
            "--debug",
            "serve",
            "slack",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--index-dir",
            str(bundled_index_dir),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/slack/events"
    try:

        def listening() -> bool:
            if process.poll() is not None:
                return True
            try:
                return httpx.get(url, timeout=1).status_code > 0
            except httpx.HTTPError:
                return False

        fake.wait_for(listening, 120)
        assert process.poll() is None
        reply = ask(fake, url, LAUNCH)
        assert "1998" in reply["text"] and "launched in 1998" in all_text(reply)
        assert (
            "C/2023 H2" in ask(fake, url, "What is the new comet called?", channel="CSKY")["text"]
        )
        health = httpx.get(f"http://127.0.0.1:{ops_port}/healthz", timeout=5).json()
        assert health["ok"] and health["platform_connected"] and health["index_version"]
        assert set(health["collections"]) == {"default", "sky"}
        metrics = httpx.get(f"http://127.0.0.1:{ops_port}/metrics", timeout=5).text
        assert 'articlebot_questions_total{platform="slack"} 2.0' in metrics
        assert (
            "articlebot_answer_seconds_bucket" in metrics
            and "articlebot_index_info{version=" in metrics
        )
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "DEBUG" in err  # --debug logging was on, and still no secret in it
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    answered = [r for r in records if r["message"] == "answered"]
    assert answered and answered[0]["request_id"] and answered[0]["abstained"] is False
    for secret in (BOT_TOKEN, SIGNING_SECRET):
        assert secret not in out + err


def test_serve_slack_uses_socket_mode_when_the_app_token_is_set(
    fake: FakeSlack, bundled_index_dir: Path, tmp_path: Path
) -> None:
    """`articlebot serve slack` with SLACK_APP_TOKEN (and no signing secret): it opens a
    Socket Mode connection with that token and answers a command sent over it."""
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_BASE_URL": fake.api_base,
        "ARTICLEBOT_DATA_DIR": str(tmp_path),
    }
    env.pop("SLACK_SIGNING_SECRET", None)
    exe = Path(sys.executable).parent / "articlebot"
    opened = len(fake.calls("apps.connections.open"))
    process = subprocess.Popen(
        [str(exe), "serve", "slack", "--index-dir", str(bundled_index_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        fake.wait_for(lambda: fake.sockets or process.poll() is not None, 120)
        assert process.poll() is None
        assert len(fake.calls("apps.connections.open")) == opened + 1
        fields, name = command_fields(fake, LAUNCH)
        envelope = {"envelope_id": "env-serve", "type": "slash_commands", "payload": fields}
        fake.send_envelope(envelope | {"accepts_response_payload": True})
        assert "1998" in fake.wait_for(lambda: fake.calls(f"response/{name}"))[0]["text"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "connected to Slack in Socket Mode" in err


def test_invalid_bot_token_is_a_clear_error(
    fake: FakeSlack,
    bundled_index_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_BASE_URL", fake.api_base)
    code = main(
        ["serve", "slack", "--port", str(free_port()), "--index-dir", str(bundled_index_dir)]
    )
    err = capsys.readouterr().err
    assert code == 1 and "Slack rejected SLACK_BOT_TOKEN (invalid_auth)" in err
    assert "xoxb-wrong" not in err
    assert [(r.what, r.error) for r in fake.take_refused()] == [("auth.test", "invalid_auth")]
