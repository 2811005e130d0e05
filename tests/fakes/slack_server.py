"""A small fake Slack on 127.0.0.1: the Web API methods the app calls, a receiver
for `response_url` posts, and a Socket Mode websocket. Runs in its own thread
and event loop, records every request, and lists the ones it did not expect."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
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


@dataclass
class Recorded:
    path: str
    body: Any
    headers: dict[str, str]


class FakeSlack(BackgroundServer):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Recorded] = []
        self.unexpected: list[Recorded] = []
        self.socket_acks: list[dict] = []
        self.failures: list[tuple[int, dict[str, str]]] = []  # next chat.postMessage answers
        self._ts = itertools.count(1)
        self.scopes = SCOPES  # what auth.test says the token was granted (x-oauth-scopes)

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
        self.requests.append(record)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or body.get(
            "token", ""
        )
        if method == "apps.connections.open":
            if token != APP_TOKEN:
                return web.json_response({"ok": False, "error": "invalid_auth"})
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"})
        if token != BOT_TOKEN:
            return web.json_response({"ok": False, "error": "invalid_auth"})
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
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=status, headers=headers
            )
        if method == "chat.postMessage":
            ts = f"{time.time():.0f}.{next(self._ts):06d}"
            return web.json_response({"ok": True, "channel": body.get("channel"), "ts": ts})
        self.unexpected.append(record)
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)

    async def response_url(self, request: web.Request) -> web.Response:
        self.requests.append(
            Recorded(f"response/{request.match_info['id']}", await request.json(), {})
        )
        return web.Response(text="ok")

    # --- Socket Mode ----------------------------------------------------------------------

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        )
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            self.socket_acks.append(json.loads(msg.data))
        self.sockets.remove(ws)
        return ws

    def send_envelope(self, envelope: dict) -> None:
        self.broadcast(json.dumps(envelope))

    # --- what tests look at ----------------------------------------------------------------

    def calls(self, path: str) -> list[dict]:
        return [r.body for r in self.requests if r.path == path]
