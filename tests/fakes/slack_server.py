"""A small fake Slack on 127.0.0.1: the Web API methods the app calls, a receiver
for `response_url` posts, and a Socket Mode websocket. Runs in its own thread
and event loop, records every request, lists the ones it did not expect, and
refuses (and records) what Slack refuses, with Slack's error codes: Block Kit over
its limits or with mrkdwn where only plain_text goes (buttons, headers), a post in a
channel the bot was removed from (`not_member_of`: not_in_channel), a
`response_url` used more than 5 times or with a wrong field, a Socket Mode
connection without a fresh ticket, an envelope not acknowledged within 3 s."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.fakes.background import BackgroundServer

BOT_TOKEN = "xoxb-fake-bot-token-for-tests"
APP_TOKEN = "xapp-fake-app-token-for-tests"
SIGNING_SECRET = "fake-signing-secret-for-tests"
BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0000001"
SCOPES = "app_mentions:read,chat:write,commands,im:history,channels:history,groups:history"
# Slack's limits (https://api.slack.com/reference/block-kit/blocks)
BLOCKS_PER_MESSAGE = 50
SECTION_TEXT_LIMIT = 3000
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
MESSAGE_TEXT_LIMIT = 40_000
BLOCK_TYPES = {"section", "context", "actions", "divider", "header", "image", "rich_text"}
TEXT_KINDS = ("mrkdwn", "plain_text")
PLAIN = ("plain_text",)
HEADER_TEXT_LIMIT = 150
RESPONSE_URL_POSTS = 5  # each response_url takes 5 posts within 30 minutes
RESPONSE_URL_SECONDS = 30 * 60
ACK_SECONDS = 3.0
DROP = 0  # in `failures`: drop the connection instead of answering


@dataclass
class Recorded:
    path: str
    body: Any
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Refusal:
    """What the fake refused, and the error Slack answers."""

    what: str  # a Web API method, "response/<name>" or "socket"
    error: str


def bad_text(text_object: Any, limit: int, kinds: tuple[str, ...] = TEXT_KINDS) -> bool:
    """True when Slack would refuse this text object (`kinds`: the types allowed where
    it is; a button's and a header's text are plain_text only)."""
    return (
        not isinstance(text_object, dict)
        or text_object.get("type") not in kinds
        or not 1 <= len(text_object.get("text") or "") <= limit
    )


def bad_block(block: dict) -> bool:
    """True when Slack would refuse this block."""
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        return True
    if kind == "section":
        return bad_text(block.get("text"), SECTION_TEXT_LIMIT)
    if kind == "header":
        return bad_text(block.get("text"), HEADER_TEXT_LIMIT, PLAIN)
    if kind == "context":
        elements = block.get("elements") or []
        too_many = not 1 <= len(elements) <= CONTEXT_ELEMENTS
        return too_many or any(bad_text(e, SECTION_TEXT_LIMIT) for e in elements)
    if kind == "actions":
        elements = block.get("elements") or []
        return not 1 <= len(elements) <= ACTIONS_ELEMENTS or any(
            e.get("type") != "button"
            or bad_text(e.get("text"), BUTTON_TEXT_LIMIT, PLAIN)
            or len(str(e.get("value", ""))) > BUTTON_VALUE_LIMIT
            for e in elements
        )
    return False


def message_error(body: dict) -> str | None:
    """The error Slack answers for a message body (text and blocks), or None."""
    blocks = body.get("blocks")
    if isinstance(blocks, str):  # form-encoded bodies carry blocks as JSON text
        blocks = json.loads(blocks)
    if not body.get("text") and not blocks:
        return "no_text"
    if len(body.get("text") or "") > MESSAGE_TEXT_LIMIT:
        return "msg_too_long"
    if blocks is not None and (
        not isinstance(blocks, list)
        or len(blocks) > BLOCKS_PER_MESSAGE
        or any(bad_block(b) for b in blocks)
    ):
        return "invalid_blocks"
    return None


class FakeSlack(BackgroundServer):
    def __init__(self, ack_seconds: float = ACK_SECONDS) -> None:
        super().__init__()
        self.ack_seconds = ack_seconds
        self.socket_down = False
        self.requests: list[Recorded] = []
        self.unexpected: list[Recorded] = []
        self.socket_acks: list[dict] = []
        # what the next chat.postMessage calls get instead: (status, headers), or DROP
        self.failures: list[tuple[int, dict[str, str]]] = []
        self.refused: list[Refusal] = []
        self._ts = itertools.count(1)
        self.scopes = SCOPES  # what auth.test says the token was granted (x-oauth-scopes)
        self.not_member_of: set[str] = set()  # channels the bot was removed from
        self._tickets: set[str] = set()  # Socket Mode URLs handed out and not yet used
        self._unacked: dict[str, float] = {}  # envelope id -> when it was sent
        self._response_posts: dict[str, list[float]] = {}
        self._on_post: dict[str, Callable[[], object]] = {}  # thread ts -> called before reply

    def on_next_post(self, thread_ts: str, before_reply: Callable[[], object]) -> None:
        """Call `before_reply` (off the loop) once the bot's next message in the thread is
        stored, before chat.postMessage answers: someone who replies the instant it shows,
        as Slack's event may reach an app before its own post returns."""
        self._on_post[thread_ts] = before_reply

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/{method}", self.api)
        app.router.add_post("/response/{id}", self.response_url)
        app.router.add_get("/socket", self.socket)
        return app

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url_for(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    # --- Web API -------------------------------------------------------------------------

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.read()
        body = (
            json.loads(raw)
            if request.content_type == "application/json" and raw
            else dict(parse_qsl(raw.decode()))
        )
        record = Recorded(method, body, dict(request.headers))
        try:
            response = self._api(request, method, body, record)
            ok = json.loads(response.body or b"{}").get("ok")  # a dropped answer has no body
            posted = method == "chat.postMessage" and ok
            if posted and (before_reply := self._on_post.pop(body.get("thread_ts"), None)):
                await asyncio.to_thread(before_reply)
            return response
        finally:
            # recorded once handled: what it changed here is in place when a test sees it
            self.requests.append(record)

    def _api(self, request: web.Request, method: str, body: dict, record: Recorded) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or body.get(
            "token", ""
        )
        if method == "apps.connections.open":
            if token != APP_TOKEN:
                return self.refuse(method, "invalid_auth")
            ticket = uuid.uuid4().hex
            self._tickets.add(ticket)
            url = f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}"
            return web.json_response({"ok": True, "url": url})
        if token != BOT_TOKEN:
            return self.refuse(method, "invalid_auth")
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID,
                    "team_id": TEAM_ID,
                    "user": "articlebot",
                    "team": "Newsroom",
                    "url": "https://newsroom.slack.com/",
                },
                headers={"x-oauth-scopes": self.scopes},
            )
        if method == "chat.postMessage" and self.failures:
            status, headers = self.failures.pop(0)
            if status == DROP:  # the connection dies before an answer: no status at all
                assert request.transport is not None
                request.transport.abort()
                return web.Response()
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=status, headers=headers
            )
        if method in ("chat.postMessage", "chat.update"):
            return self.chat_message(method, body)
        self.unexpected.append(record)
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)

    def chat_message(self, method: str, body: dict) -> web.Response:
        if not body.get("channel"):
            return self.refuse(method, "channel_not_found")
        if body["channel"] in self.not_member_of:
            return self.refuse(method, "not_in_channel")
        if method == "chat.update" and not body.get("ts"):
            return self.refuse(method, "message_not_found")
        if error := message_error(body):
            return self.refuse(method, error)
        ts = body.get("ts") or f"{time.time():.0f}.{next(self._ts):06d}"
        return web.json_response({"ok": True, "channel": body["channel"], "ts": ts})

    def refuse(self, what: str, error: str, status: int = 200) -> web.Response:
        """Slack's error answer (the Web API answers HTTP 200 with ok: false), recorded."""
        self.refused.append(Refusal(what, error))
        return web.json_response({"ok": False, "error": error}, status=status)

    def take_refused(self) -> list[Refusal]:
        """What was refused so far (for a test that meant it), cleared."""
        refused, self.refused = self.refused, []
        return refused

    async def response_url(self, request: web.Request) -> web.Response:
        """A slash command's or a button's `response_url`: 5 posts within 30 minutes,
        each with a known `response_type`, boolean `replace_original` and valid blocks."""
        what = f"response/{request.match_info['id']}"
        body = await request.json()
        try:
            return self._response_post(what, body)
        finally:
            self.requests.append(Recorded(what, body, dict(request.headers)))

    def _response_post(self, what: str, body: dict) -> web.Response:
        now = time.monotonic()
        posts = [t for t in self._response_posts.get(what, []) if now - t < RESPONSE_URL_SECONDS]
        if len(posts) >= RESPONSE_URL_POSTS:
            return self.refuse(what, "used_url", 404)
        self._response_posts[what] = [*posts, now]
        if body.get("response_type", "ephemeral") not in ("ephemeral", "in_channel"):
            return self.refuse(what, "invalid_response_type", 400)
        flags = ("replace_original", "delete_original")
        if any(not isinstance(body.get(flag, False), bool) for flag in flags):
            return self.refuse(what, "invalid_payload", 400)
        if error := message_error(body):
            return self.refuse(what, error, 400)
        return web.Response(text="ok")

    # --- Socket Mode ----------------------------------------------------------------------

    async def socket(self, request: web.Request) -> web.StreamResponse:
        """A Socket Mode connection, on a URL from apps.connections.open (used once)."""
        if self.socket_down:  # an outage (a fault the test injects, not a refusal)
            return web.Response(status=503)
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            self.refused.append(Refusal("socket", "invalid_ticket"))
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        )
        watchdog = asyncio.ensure_future(self._watch_acks(ws))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                self._acknowledged(json.loads(msg.data))
        finally:
            watchdog.cancel()
            self.sockets.remove(ws)
        return ws

    def _acknowledged(self, ack: dict) -> None:
        self.socket_acks.append(ack)
        sent = self._unacked.pop(str(ack.get("envelope_id")), None)
        if sent is None:
            self.refused.append(Refusal("socket", f"ack of an unknown envelope {ack}"))
        elif time.monotonic() - sent > self.ack_seconds:
            self.refused.append(Refusal("socket", f"ack after {self.ack_seconds} s"))

    async def _watch_acks(self, ws: web.WebSocketResponse) -> None:
        """An envelope not acknowledged within 3 s is a failure (Slack retries it)."""
        while not ws.closed:
            await asyncio.sleep(self.ack_seconds / 10)
            now = time.monotonic()
            for envelope_id, sent in list(self._unacked.items()):
                if now - sent > self.ack_seconds:
                    del self._unacked[envelope_id]
                    self.refused.append(Refusal("socket", f"no ack within {self.ack_seconds} s"))

    def send_envelope(self, envelope: dict, connection: int | None = None) -> None:
        """Send an envelope down every open connection, or (as Slack does when an app
        holds several) down one: `connection`, by the order they were opened."""
        if "envelope_id" in envelope:
            self._unacked[envelope["envelope_id"]] = time.monotonic()
        if connection is None:
            self.broadcast(json.dumps(envelope))
            return
        self.call(self.sockets[connection].send_str(json.dumps(envelope)), 5)

    def awaiting_ack(self) -> set[str]:
        """Envelopes sent and neither acknowledged nor given up on yet."""
        return set(self._unacked)

    def ask_to_reconnect(self, reason: str) -> None:
        """Slack's `disconnect` message (e.g. `refresh_requested` before a server goes
        away, `link_disabled`): the app must open a new connection."""
        self.broadcast(
            json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}})
        )

    # --- what tests look at ----------------------------------------------------------------

    def calls(self, path: str) -> list[dict]:
        return [r.body for r in self.requests if r.path == path]
