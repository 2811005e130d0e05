"""A small fake Discord (REST API + gateway websocket) on 127.0.0.1, for end-to-end
tests of the real discord.py client. It runs in its own thread and event loop,
records every request, and lists the ones it did not expect."""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.background import BackgroundServer

APP_ID = 900000000000000001
BOT_ID = 900000000000000002
GUILD_ID = 910000000000000001
OTHER_GUILD_ID = 910000000000000077
CHANNEL_ID = 920000000000000001
DM_CHANNEL_ID = 920000000000000009
VALID_TOKEN = "fake.discord.token-for-tests"
MANAGE_GUILD = 1 << 5
BOT_USER = {
    "id": str(BOT_ID),
    "username": "articlebot",
    "discriminator": "0",
    "bot": True,
    "avatar": None,
}


def user(user_id: int, name: str = "asker", bot: bool = False) -> dict:
    return {"id": str(user_id), "username": name, "discriminator": "0", "bot": bot, "avatar": None}


def json_response(data: Any, status: int = 200, headers: dict | None = None) -> web.Response:
    # exactly application/json: discord.py reads "...; charset=utf-8" as text
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


@dataclass
class Recorded:
    method: str
    path: str
    body: Any


class FakeDiscord(BackgroundServer):
    def __init__(self, token: str = VALID_TOKEN, message_content: bool = False) -> None:
        super().__init__()
        self.token = token
        self.message_content = message_content  # the privileged intent, enabled for the app
        self.threads: list[dict] = []  # threads the bot started
        self.thread_refusals = 0  # the next thread starts answer 403, as without the permission
        self.requests: list[Recorded] = []
        self.unexpected: list[Recorded] = []
        self.synced_commands: list[dict] = []
        self.sync_path = ""
        self.resumes = 0
        self.left_guilds: list[str] = []
        self.sent: list[dict] = []  # every message the bot posted, as Discord returned it
        # the next channel-message posts answer these: (status, body, headers)
        self.failures: list[tuple[int, dict, dict]] = []
        self._ids = itertools.count(930000000000000001)
        self._seq = itertools.count(1)

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/gateway", self.gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self.rest)
        return app

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # --- gateway -------------------------------------------------------------------------

    async def gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            payload = json.loads(msg.data)
            if payload["op"] == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif payload["op"] == 2:
                asks_content = payload["d"]["intents"] & (1 << 15)
                if asks_content and not self.message_content:  # not enabled for the app
                    await ws.close(code=4014)
                    break
                ready = {
                    "v": 10,
                    "user": BOT_USER,
                    "guilds": [],
                    "session_id": "fake-session",
                    "resume_gateway_url": self.gateway_url,
                    "application": {"id": str(APP_ID), "flags": 0},
                }
                await self._send(ws, "READY", ready)
            elif payload["op"] == 6:  # RESUME after a dropped connection
                self.resumes += 1
                await self._send(ws, "RESUMED", {})
        self.sockets.remove(ws)
        return ws

    async def _send(self, ws: web.WebSocketResponse, event: str, data: dict) -> None:
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    def dispatch(self, event: str, data: dict) -> None:
        """Send a gateway event to every connected client (from the test's thread)."""
        self.broadcast(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    @property
    def connected(self) -> bool:
        return bool(self.sockets)

    # --- REST ----------------------------------------------------------------------------

    def message_payload(self, channel_id: str, body: dict, author: dict = BOT_USER) -> dict:
        return {
            "id": str(next(self._ids)),
            "channel_id": channel_id,
            "type": 0,
            "content": body.get("content") or "",
            "author": author,
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": "2026-11-25T12:00:00+00:00",
            "edited_timestamp": None,
            "flags": body.get("flags") or 0,
            "components": body.get("components") or [],
        }

    async def rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        raw = await request.read()
        body = self._body(request, raw)
        record = Recorded(request.method, path, body)
        self.requests.append(record)
        if request.headers.get("Authorization") not in (f"Bot {self.token}", None):
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        route = self._route(request.method, path)
        if route is None:
            self.unexpected.append(record)
            return json_response({"message": "Unknown route", "code": 0}, 404)
        response = route(path, body)
        return await response if inspect.isawaitable(response) else response

    @staticmethod
    def _body(request: web.Request, raw: bytes) -> Any:
        if not raw:
            return None
        if request.content_type == "multipart/form-data":
            # discord.py sends JSON in a "payload_json" part when there are files
            text = raw.decode(errors="replace")
            start = text.find("{")
            return json.loads(text[start : text.rfind("}") + 1])
        return json.loads(raw)

    def _route(self, method: str, path: str) -> Callable[[str, Any], Any] | None:
        parts = path.strip("/").split("/")
        table: list[tuple[str, list[str], Callable[[str, Any], Any]]] = [
            ("GET", ["users", "@me"], lambda p, b: json_response(BOT_USER)),
            ("GET", ["oauth2", "applications", "@me"], self._application),
            ("PUT", ["applications", "*", "commands"], self._sync),
            ("PUT", ["applications", "*", "guilds", "*", "commands"], self._sync),
            ("POST", ["channels", "*", "messages"], self._channel_message),
            ("POST", ["channels", "*", "messages", "*", "threads"], self._start_thread),
            ("POST", ["channels", "*", "typing"], lambda p, b: web.Response(status=204)),
            ("POST", ["interactions", "*", "*", "callback"], self._callback),
            ("POST", ["webhooks", "*", "*"], self._followup),
            ("PATCH", ["webhooks", "*", "*", "messages", "@original"], self._followup),
            ("DELETE", ["users", "@me", "guilds", "*"], self._leave_guild),
        ]
        for verb, pattern, handler in table:
            same_shape = verb == method and len(pattern) == len(parts)
            if same_shape and all(a in ("*", b) for a, b in zip(pattern, parts, strict=True)):
                return handler
        return None

    def _application(self, path: str, body: Any) -> web.Response:
        return json_response(
            {
                "id": str(APP_ID),
                "name": "ArticleBot",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user(1, "owner"),
                "verify_key": "00",
                # GATEWAY_MESSAGE_CONTENT: the privileged intent is enabled for the app
                "flags": (1 << 18) if self.message_content else 0,
            }
        )

    def _sync(self, path: str, body: Any) -> web.Response:
        self.sync_path = path
        self.synced_commands = [
            {**cmd, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1"}
            for cmd in body
        ]
        return json_response(self.synced_commands)

    def _channel_message(self, path: str, body: Any) -> web.Response:
        if self.failures:
            status, payload, headers = self.failures.pop(0)
            return json_response(payload, status, headers)
        return self._sent(self.message_payload(path.split("/")[2], body))

    async def _start_thread(self, path: str, body: Any) -> web.Response:
        """A public thread on a message, announced with THREAD_CREATE as Discord does."""
        _, parent_id, _, message_id, _ = path.strip("/").split("/")
        if self.thread_refusals:
            self.thread_refusals -= 1
            return json_response({"message": "Missing Permissions", "code": 50013}, 403)
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            return json_response({"message": "Invalid Form Body", "code": 50035}, 400)
        thread = {
            "id": message_id,  # a thread started on a message takes the message's id
            "type": 11,
            "guild_id": str(GUILD_ID),
            "parent_id": parent_id,
            "name": name,
            "owner_id": str(BOT_ID),
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration") or 1440,
                "archive_timestamp": "2026-11-25T12:00:00+00:00",
                "locked": False,
            },
        }
        self.threads.append(thread)
        for ws in self.sockets:
            await self._send(ws, "THREAD_CREATE", {**thread, "newly_created": True})
        return json_response(thread, 201)

    def _leave_guild(self, path: str, body: Any) -> web.Response:
        self.left_guilds.append(path.rsplit("/", 1)[1])
        return web.Response(status=204)

    def _callback(self, path: str, body: Any) -> web.Response:
        interaction_id = path.split("/")[2]
        return json_response(
            {"interaction": {"id": interaction_id, "type": 2}, "resource": {"type": body["type"]}}
        )

    def _followup(self, path: str, body: Any) -> web.Response:
        return self._sent(self.message_payload(str(CHANNEL_ID), body or {}))

    def _sent(self, message: dict) -> web.Response:
        self.sent.append(message)
        return json_response(message)

    # --- what tests look at ----------------------------------------------------------------

    def posts(self, prefix: str) -> list[Recorded]:
        return [
            r for r in self.requests if r.method in ("POST", "PATCH") and r.path.startswith(prefix)
        ]
