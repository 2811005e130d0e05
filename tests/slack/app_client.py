"""What the Slack tests send the app (signed slash commands, events, button
clicks) and read back from the fake Slack."""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.chat.service import ChatService
from bot.chat.slack.app import create_slack_app
from bot.settings import Settings, bundled_dir
from tests.fakes.background import AppServer, all_handled
from tests.fakes.chat import (
    chat_settings,
    with_settings,
)
from tests.fakes.slack_server import (
    BOT_TOKEN,
    BOT_USER_ID,
    SIGNING_SECRET,
    TEAM_ID,
    FakeSlack,
    Recorded,
)

LAUNCH = "When was the International Space Station launched?"
BUNDLED_ARTICLE = bundled_dir() / "articles" / "russia-leaves-iss.txt"
PING_ARTICLE = """Newsroom notice about <!channel> alerts

The editor wrote <!channel> and <!here> and <@U999> in a memo & asked staff to stop pinging \
everyone about the broken coffee machine on the third floor.
"""
numbers = itertools.count(1)


def settings_for(
    tmp_path_factory: pytest.TempPathFactory,
    fake: FakeSlack,
    sources_dir: Path,
    sky_dir: Path,
    name: str,
) -> Settings:
    return chat_settings(
        tmp_path_factory,
        name,
        sources_dir,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_base_url=fake.api_base,
        slack_admin_user_ids=["UADMIN"],
        slack_answer_channels=["CANSWER"],
        collections={
            "sky": {"sources": [str(sky_dir)], "channels": ["CSKY"]},
            "station": {"sources": [str(BUNDLED_ARTICLE)], "channels": ["CSTATION"]},
        },
        rate_limit_questions=1000,
        rate_limit_channel_questions=100_000,
    )


SERVERS: dict[str, AppServer] = {}  # each served app's events URL → its server


@contextlib.contextmanager
def serving(service: ChatService, granted_scopes: str | None = None) -> Iterator[str]:
    """The Bolt app of `service` (its token granted `granted_scopes`, when given)
    served over HTTP: its events URL."""
    app = create_slack_app(service, granted_scopes)
    server = AppServer(app.web_app(path="/slack/events")).start()
    url = f"http://127.0.0.1:{server.port}/slack/events"
    SERVERS[url] = server
    try:
        yield url
    finally:
        del SERVERS[url]
        server.stop()


@contextlib.contextmanager
def served_under(service: ChatService, data_dir: Path, **changed: object) -> Iterator[str]:
    """An app of `service`'s indexes under its settings with `changed`, and a state of
    its own made from them (as at start: no earlier question, rebuild or thread),
    served over HTTP: its events URL."""
    settings = service.settings.model_copy(update={**changed, "data_dir": data_dir})
    with with_settings(service, settings, own_state=True) as other, serving(other) as url:
        yield url


def handled(app_url: str) -> contextlib.AbstractContextManager[None]:
    """On leaving the block, the app at `app_url` has finished with every request it
    acknowledged in it (tests/fakes/background.all_handled)."""
    return all_handled(SERVERS[app_url].loop)


def signed(body: str, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    ts = str(timestamp or int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def post_form(url: str, fields: dict, **sign: object) -> httpx.Response:
    body = urlencode(fields)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(body, **sign)}
    return httpx.post(url, content=body, headers=headers, timeout=10)


def post_json(url: str, payload: dict, extra: dict | None = None) -> httpx.Response:
    body = json.dumps(payload)
    headers = {"Content-Type": "application/json", **signed(body), **(extra or {})}
    return httpx.post(url, content=body, headers=headers, timeout=10)


def command_fields(
    fake: FakeSlack,
    text: str,
    command: str = "/ask",
    user: str = "U1",
    channel: str = "C1",
    channel_name: str = "general",
) -> tuple[dict, str]:
    name = f"cmd{next(numbers)}"
    fields = {
        "token": "legacy",
        "team_id": TEAM_ID,
        "team_domain": "newsroom",
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": "asker",
        "command": command,
        "text": text,
        "api_app_id": "A1",
        "response_url": fake.response_url_for(name),
        "trigger_id": f"trigger{next(numbers)}",
    }
    return fields, name


def ask(fake: FakeSlack, app_url: str, text: str, **options: str) -> dict:
    fields, name = command_fields(fake, text, **options)
    response = post_form(app_url, fields)
    assert response.status_code == 200
    return fake.wait_for(lambda: fake.calls(f"response/{name}"))[0]


def event(
    kind: str,
    text: str,
    *,
    channel: str = "C1",
    channel_type: str = "channel",
    user: str = "U1",
    **extra: object,
) -> dict:
    ts = f"{time.time():.0f}.{next(numbers):06d}"
    return {
        "token": "legacy",
        "team_id": TEAM_ID,
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": f"Ev{next(numbers):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        "event": {
            "type": kind,
            "user": user,
            "text": text,
            "ts": ts,
            "channel": channel,
            "channel_type": channel_type,
            "event_ts": ts,
            **extra,
        },
    }


def posts_in_thread(fake: FakeSlack, thread_ts: str) -> list[dict]:
    return [b for b in fake.calls("chat.postMessage") if b.get("thread_ts") == thread_ts]


def all_text(message: dict) -> str:
    return json.dumps(message.get("blocks", [])) + message.get("text", "")


def click(fake: FakeSlack, app_url: str, action_id: str, answer_id: str) -> dict:
    """A click on a feedback button of an answer; the note the app sends back."""
    name = f"click{next(numbers)}"
    payload = {
        "type": "block_actions",
        "user": {"id": "U7"},
        "team": {"id": TEAM_ID},
        "api_app_id": "A1",
        "channel": {"id": "C1"},
        "container": {"type": "message"},
        "trigger_id": "t1",
        "response_url": fake.response_url_for(name),
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "feedback",
                "value": answer_id,
                "action_ts": "1",
            }
        ],
    }
    assert post_form(app_url, {"payload": json.dumps(payload)}).status_code == 200
    return fake.wait_for(lambda: fake.calls(f"response/{name}"))[0]


def thread_posts(fake: FakeSlack, thread_ts: str) -> list[Recorded]:
    return [
        r
        for r in fake.requests
        if r.path == "chat.postMessage" and r.body.get("thread_ts") == thread_ts
    ]
