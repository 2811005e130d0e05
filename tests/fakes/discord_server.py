"""A small fake Discord (REST API + gateway websocket) on 127.0.0.1, for end-to-end
tests of the real discord.py client. It runs in its own thread and event loop,
records every request, lists the ones it did not expect, and refuses (and records)
what real Discord refuses, with Discord's error codes: a missing or wrong token,
content, embeds and buttons over their limits or of the wrong shape, command
definitions Discord would not take, posts to channels it never told the client of,
replies to messages that do not exist, interaction responses out of order, late or
on a path naming another application or interaction, a stale RESUME, a client that
stops heartbeating. Tests assert that nothing was refused unless they meant it."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
EPHEMERAL = 1 << 6
# Discord's limits on a message (https://discord.com/developers/docs/resources/message)
CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_LIMITS = {"title": 256, "description": 4096, "footer": 2048, "author": 256}
EMBED_FIELDS = 25
EMBEDS_TOTAL = 6000
CUSTOM_ID_LIMIT = 100
BUTTON_LABEL_LIMIT = 80
ACTION_ROWS = 5
BUTTONS_PER_ROW = 5
BUTTON_STYLES = {1, 2, 3, 4, 5}
LINK_STYLE = 5
# application commands (https://discord.com/developers/docs/interactions/application-commands)
COMMANDS_LIMIT = 100
OPTIONS_LIMIT = 25
DESCRIPTION_LIMIT = 100
COMMAND_NAME = re.compile(r"[-_\w]{1,32}")  # lower case too; Python's \w ≈ \p{L}\p{N}
INITIAL_RESPONSE_SECONDS = 3.0
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
    at: float = field(default_factory=time.monotonic)


@dataclass
class Refusal:
    """A request or gateway message the fake refused, with what Discord answers."""

    what: str  # "POST /channels/…" or "gateway IDENTIFY"
    status: int  # HTTP status, or the gateway close code
    code: int  # Discord's JSON error code (0 for close codes)
    message: str


@dataclass
class Interaction:
    """What Discord keeps of an interaction: its id, when it arrived and how it was
    answered."""

    id: str
    created: float
    response_type: int | None = None
    response_flags: int = 0
    deferred_message_pending: bool = False  # a deferred "thinking" message not yet filled
    messages: list[dict] = field(default_factory=list)  # follow-ups and edits, as shown


def too_long(limit: int) -> dict:
    return {
        "_errors": [
            {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}
        ]
    }


def message_errors(body: dict) -> dict:
    """Discord's "Invalid Form Body" errors for a message body, by field ({} when valid)."""
    errors: dict = {}
    if len(body.get("content") or "") > CONTENT_LIMIT:
        errors["content"] = too_long(CONTENT_LIMIT)
    embeds = body.get("embeds") or []
    if len(embeds) > EMBEDS_PER_MESSAGE:
        errors["embeds"] = too_long(EMBEDS_PER_MESSAGE)
    total = 0
    for i, embed in enumerate(embeds):
        texts = {
            "title": embed.get("title") or "",
            "description": embed.get("description") or "",
            "footer": (embed.get("footer") or {}).get("text") or "",
            "author": (embed.get("author") or {}).get("name") or "",
        }
        fields = embed.get("fields") or []
        total += sum(map(len, texts.values()))
        total += sum(len(f.get("name", "")) + len(f.get("value", "")) for f in fields)
        wrong = {
            key: too_long(EMBED_LIMITS[key])
            for key, text in texts.items()
            if len(text) > EMBED_LIMITS[key]
        }
        if len(fields) > EMBED_FIELDS:
            wrong["fields"] = too_long(EMBED_FIELDS)
        if "url" in embed and not str(embed["url"]).startswith(("http://", "https://")):
            wrong["url"] = error("URL_TYPE_INVALID_URL", "Not a well formed URL.")
        if wrong:
            errors.setdefault("embeds", {})[str(i)] = wrong
    if total > EMBEDS_TOTAL:
        errors.setdefault("embeds", {})["_errors"] = [
            {
                "code": "MAX_EMBED_SIZE_EXCEEDED",
                "message": "Embed size exceeds maximum size of 6000",
            }
        ]
    if wrong_components := component_errors(body.get("components") or []):
        errors["components"] = wrong_components
    return errors


def error(code: str, message: str) -> dict:
    return {"_errors": [{"code": code, "message": message}]}


def component_errors(rows: list) -> dict:
    """Discord's errors for a message's components: at most 5 action rows (type 1) of 1
    to 5 buttons (type 2); a link button (style 5) has a url and no custom_id, the
    others a custom_id of 1 to 100 characters, unique in the message; each has a label
    (at most 80) or an emoji."""
    if len(rows) > ACTION_ROWS:
        return error("BASE_TYPE_MAX_LENGTH", f"Must be {ACTION_ROWS} or fewer in length.")
    errors: dict = {}
    seen: set[str] = set()
    for r, row in enumerate(rows):
        items = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(items) <= BUTTONS_PER_ROW:
            errors[str(r)] = error("COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Invalid action row")
            continue
        for b, button in enumerate(items):
            if wrong := button_errors(button, seen):
                errors.setdefault(str(r), {}).setdefault("components", {})[str(b)] = wrong
    return errors


def button_errors(button: dict, seen: set[str]) -> dict:
    wrong: dict = {}
    if button.get("type") != 2 or button.get("style") not in BUTTON_STYLES:
        wrong["style"] = error("BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4, 5).")
        return wrong
    custom_id, link = button.get("custom_id"), button.get("style") == LINK_STYLE
    if link and (custom_id or not button.get("url")):
        wrong["url"] = error("BUTTON_COMPONENT_INVALID_URL", "A link button needs a url only.")
    elif not link and not 1 <= len(custom_id or "") <= CUSTOM_ID_LIMIT:
        wrong["custom_id"] = too_long(CUSTOM_ID_LIMIT) if custom_id else required()
    elif not link and custom_id in seen:
        wrong["custom_id"] = error("COMPONENT_CUSTOM_ID_DUPLICATED", "Custom id is duplicated")
    seen.add(custom_id or "")
    label = button.get("label") or ""
    if len(label) > BUTTON_LABEL_LIMIT:
        wrong["label"] = too_long(BUTTON_LABEL_LIMIT)
    elif not label and not button.get("emoji"):
        wrong["label"] = required()
    return wrong


def required() -> dict:
    return error("BASE_TYPE_REQUIRED", "This field is required")


def command_errors(commands: Any) -> dict:
    """Discord's errors for a bulk overwrite of application commands: at most 100; each
    a lower-case name of 1 to 32 letters, digits, - or _ (unique), a description of 1
    to 100 characters, at most 25 options, each named and described alike, of a known
    type, with the required ones first."""
    if not isinstance(commands, list) or len(commands) > COMMANDS_LIMIT:
        return error("BASE_TYPE_MAX_LENGTH", f"Must be {COMMANDS_LIMIT} or fewer in length.")
    errors: dict = {}
    names = [c.get("name") for c in commands if isinstance(c, dict)]
    for n, command in enumerate(commands):
        wrong = described_errors(command)
        options = command.get("options") or []
        if len(options) > OPTIONS_LIMIT:
            wrong["options"] = too_long(OPTIONS_LIMIT)
        for o, option in enumerate(options[:OPTIONS_LIMIT]):
            bad = described_errors(option)
            if option.get("type") not in range(1, 12):
                bad["type"] = error("BASE_TYPE_CHOICES", "Value must be a known option type.")
            if option.get("required") and any(not x.get("required") for x in options[:o]):
                bad["required"] = error(
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
            if bad:
                wrong.setdefault("options", {})[str(o)] = bad
        if names.count(command.get("name")) > 1:
            wrong["name"] = error(
                "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
            )
        if wrong:
            errors[str(n)] = wrong
    return errors


def described_errors(item: Any) -> dict:
    """A command's or an option's name and description, as Discord checks them."""
    if not isinstance(item, dict):
        return required()
    wrong: dict = {}
    name = item.get("name") or ""
    if not COMMAND_NAME.fullmatch(name) or name != name.lower():
        wrong["name"] = error("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    if not 1 <= len(item.get("description") or "") <= DESCRIPTION_LIMIT:
        wrong["description"] = too_long(DESCRIPTION_LIMIT)
    return wrong


def thread_payload(thread_id: str, parent_id: str, name: str, owner_id: str) -> dict:
    """A public thread as Discord describes it (in THREAD_CREATE and in answers)."""
    return {
        "id": thread_id,
        "type": 11,
        "guild_id": str(GUILD_ID),
        "parent_id": parent_id,
        "name": name,
        "owner_id": owner_id,
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2026-11-25T12:00:00+00:00",
            "locked": False,
        },
    }


GUILD_EVENTS = {"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"}  # the guild's id is "id"


class FakeDiscord(BackgroundServer):
    def __init__(
        self,
        token: str = VALID_TOKEN,
        message_content: bool = False,
        heartbeat_interval_ms: int = 45_000,
        shard_count: int | None = None,
    ) -> None:
        super().__init__()
        # a bot in this many shards: IDENTIFY must name one of them (else 4011 or 4010), and
        # each server's events go to its shard only, (guild_id >> 22) % shard_count
        self.shard_count = shard_count
        self.shard_of_session: dict[str, tuple[int, int]] = {}
        self.token = token
        self.message_content = message_content  # the privileged intent, enabled for the app
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.refused: list[Refusal] = []
        self.interactions: dict[str, Interaction] = {}  # by interaction token
        # the channels the bot has been told of (by gateway events, or made by it), and the
        # messages in each that exist: a post elsewhere, or a reply to another, is refused
        self.channels: set[str] = {str(CHANNEL_ID), str(DM_CHANNEL_ID)}
        self.messages: dict[str, set[str]] = {}
        self.heartbeats = 0
        self.gateway_down = False
        self.sessions: dict[str, int] = {}  # session id -> last sequence sent in it
        self._session_of: dict[int, str] = {}  # id(websocket) -> its session
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
        self.failures: list[tuple[int, dict, dict]] = []  # injected faults, not refusals
        self.latency = 0.0  # seconds each HTTP request takes, as over a real network
        self._on_post: dict[str, tuple[str, dict]] = {}  # channel id -> (event, data)
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

    async def gateway(self, request: web.Request) -> web.StreamResponse:
        if self.gateway_down:  # an outage (a fault the test injects, not a refusal)
            return web.Response(status=503)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        interval = self.heartbeat_interval_ms
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": interval}}))
        last_beat = [time.monotonic()]
        watchdog = asyncio.ensure_future(self._watch_heartbeats(ws, last_beat))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                if not await self._gateway_message(ws, json.loads(msg.data), last_beat):
                    break
        finally:
            watchdog.cancel()
            self.sockets.remove(ws)
        return ws

    async def _watch_heartbeats(self, ws: web.WebSocketResponse, last_beat: list[float]) -> None:
        """Discord closes a connection whose heartbeats stop (4009, session timed out);
        it allows some slack past the interval, as the first beat is jittered."""
        allowed = self.heartbeat_interval_ms / 1000 * 1.5
        while not ws.closed:
            await asyncio.sleep(allowed / 4)
            if time.monotonic() - last_beat[0] > allowed:
                self._refuse_gateway("heartbeat", 4009, "Session timed out")
                await ws.close(code=4009)
                return

    async def _gateway_message(
        self, ws: web.WebSocketResponse, payload: dict, last_beat: list[float]
    ) -> bool:
        """Answer one gateway message; False when the connection was closed."""
        op, data = payload["op"], payload.get("d")
        if op == 1:
            self.heartbeats += 1
            last_beat[0] = time.monotonic()
            await ws.send_str(json.dumps({"op": 11}))
        elif op == 2:
            return await self._identify(ws, data)
        elif op == 6:  # RESUME after a dropped connection
            await self._resume(ws, data)
        return True

    async def _identify(self, ws: web.WebSocketResponse, data: dict) -> bool:
        if data.get("token") != self.token:
            self._refuse_gateway("IDENTIFY", 4004, "Authentication failed")
            await ws.close(code=4004)
            return False
        asks_content = data["intents"] & (1 << 15)
        if asks_content and not self.message_content:  # not enabled for the app
            self._refuse_gateway("IDENTIFY", 4014, "Disallowed intent(s)")
            await ws.close(code=4014)
            return False
        shard = self._valid_shard(data.get("shard"))
        if shard is None:
            await ws.close(code=self.refused[-1].status)
            return False
        session = f"fake-session-{len(self.sessions) + 1}"
        self.sessions[session] = 0
        self.shard_of_session[session] = shard
        ready = {
            "v": 10,
            "user": BOT_USER,
            "guilds": [],
            "session_id": session,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APP_ID), "flags": 0},
            "shard": list(shard),
        }
        self._session_of[id(ws)] = session
        await self._send(ws, "READY", ready)
        return True

    def _valid_shard(self, shard: list[int] | None) -> tuple[int, int] | None:
        """The (shard id, count) an IDENTIFY names, (0, 1) for none; None if refused."""
        if shard is None and self.shard_count is None:
            return (0, 1)
        if shard is None:
            self._refuse_gateway("IDENTIFY", 4011, "Sharding required")
            return None
        shard_id, count = shard
        if count != (self.shard_count or 1) or not 0 <= shard_id < count:
            self._refuse_gateway("IDENTIFY", 4010, "Invalid shard")
            return None
        return (shard_id, count)

    def receives(self, ws: web.WebSocketResponse, guild_id: str | None) -> bool:
        """Does this connection get an event of this server (None: a DM, shard 0's)?"""
        session = self._session_of.get(id(ws))
        shard_id, count = self.shard_of_session.get(session or "", (0, 1))
        return shard_id == (int(guild_id) >> 22) % count if guild_id else shard_id == 0

    async def _resume(self, ws: web.WebSocketResponse, data: dict) -> None:
        """A RESUME names a session this fake started and a sequence it sent in it;
        anything else gets "invalid session" (op 9, not resumable), as Discord answers."""
        last = self.sessions.get(data.get("session_id") or "")
        seq = data.get("seq")
        if data.get("token") != self.token or last is None or seq is None or seq > last:
            self._refuse_gateway("RESUME", 9, "Invalid session")
            await ws.send_str(json.dumps({"op": 9, "d": False}))
            return
        self.resumes += 1
        self._session_of[id(ws)] = data["session_id"]
        await self._send(ws, "RESUMED", {})

    def _refuse_gateway(self, what: str, code: int, message: str) -> None:
        self.refused.append(Refusal(f"gateway {what}", code, 0, message))

    async def _send(self, ws: web.WebSocketResponse, event: str, data: dict) -> None:
        seq = next(self._seq)
        session = self._session_of.get(id(ws))
        if session is not None:
            self.sessions[session] = seq
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": seq, "d": data}))

    def dispatch(self, event: str, data: dict) -> None:
        """Send a gateway event to every connection that gets it (with shards, only the
        one of its server), from the test's thread. An interaction starts its clock
        here: its first response is due within 3 s."""
        if event == "INTERACTION_CREATE":
            self.interactions[data["token"]] = Interaction(data["id"], time.monotonic())
        self.learn(event, data)
        self.call(self._broadcast(event, data), 5)

    def learn(self, event: str, data: dict) -> None:
        """The channels and messages an event tells the bot of exist."""
        if event == "GUILD_CREATE":
            self.channels |= {
                c["id"] for c in [*data.get("channels", []), *data.get("threads", [])]
            }
        elif event in ("CHANNEL_CREATE", "THREAD_CREATE"):
            self.channels.add(data["id"])
        elif event in ("MESSAGE_CREATE", "INTERACTION_CREATE") and data.get("channel_id"):
            self.channels.add(data["channel_id"])
            if event == "MESSAGE_CREATE" and "id" in data:
                self.messages.setdefault(data["channel_id"], set()).add(data["id"])

    def dispatch_on_next_post(self, channel_id: str, event: str, data: dict) -> None:
        """Send a gateway event the moment the bot's next message in `channel_id` is
        stored, before the post's response: someone who answers the instant it shows
        (the gateway may deliver before the HTTP response returns)."""
        self.learn(event, data)
        self._on_post[str(channel_id)] = (event, data)

    async def _broadcast(self, event: str, data: dict) -> None:
        guild_id = data.get("guild_id") or (data.get("id") if event in GUILD_EVENTS else None)
        for ws in list(self.sockets):
            if self.receives(ws, guild_id):
                await self._send(ws, event, data)

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
        if self.latency:
            await asyncio.sleep(self.latency)
        try:
            return await self._handle(request, path, body, record)
        finally:
            # recorded once handled: what it changed here is in place when a test sees it
            self.requests.append(record)

    async def _handle(
        self, request: web.Request, path: str, body: Any, record: Recorded
    ) -> web.StreamResponse:
        by_interaction_token = path.startswith(("/interactions/", "/webhooks/"))
        if not by_interaction_token and request.headers.get("Authorization") != f"Bot {self.token}":
            return self.refuse(f"{request.method} {path}", 401, "401: Unauthorized", 0)
        route = self._route(request.method, path)
        if route is None:
            self.unexpected.append(record)
            return json_response({"message": "Unknown route", "code": 0}, 404)
        response = route(path, body)
        response = await response if inspect.isawaitable(response) else response
        posted = request.method == "POST" and response.status == 200 and path.endswith("/messages")
        if posted and (on_post := self._on_post.pop(path.split("/")[2], None)):
            await self._broadcast(*on_post)
        return response

    def refuse(
        self, what: str, status: int, message: str, code: int, errors: dict | None = None
    ) -> web.Response:
        """Discord's error answer to a request, recorded as refused."""
        self.refused.append(Refusal(what, status, code, message))
        body = {"message": message, "code": code} | ({"errors": errors} if errors else {})
        return json_response(body, status)

    def invalid_message(self, what: str, body: dict) -> web.Response | None:
        """Discord's 400 for a message over its limits, or None when it is valid."""
        errors = message_errors(body or {})
        return self.refuse(what, 400, "Invalid Form Body", 50035, errors) if errors else None

    def take_refused(self) -> list[Refusal]:
        """What was refused so far (for a test that meant it), cleared."""
        refused, self.refused = self.refused, []
        return refused

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
            ("PATCH", ["webhooks", "*", "*", "messages", "@original"], self._edit_original),
            ("DELETE", ["webhooks", "*", "*", "messages", "@original"], self._delete_original),
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
        if path.split("/")[2] != str(APP_ID):
            return self.refuse(f"PUT {path}", 403, "Missing Access", 50001)
        if errors := command_errors(body):
            return self.refuse(f"PUT {path}", 400, "Invalid Form Body", 50035, errors)
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
        channel_id, what = path.split("/")[2], f"POST {path}"
        if channel_id not in self.channels:
            return self.refuse(what, 404, "Unknown Channel", 10003)
        if invalid := self.invalid_message(what, body):
            return invalid
        reference = (body or {}).get("message_reference") or {}
        referenced = str(reference.get("message_id") or "")
        in_channel = str(reference.get("channel_id") or channel_id)
        if referenced and referenced not in self.messages.get(in_channel, set()):
            if reference.get("fail_if_not_exists", True):
                unknown = error("MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                errors = {"message_reference": unknown}
                return self.refuse(what, 400, "Invalid Form Body", 50035, errors)
            body = {k: v for k, v in body.items() if k != "message_reference"}
        return self._sent(self.message_payload(channel_id, body))

    def rate_limit_next_send(self, retry_after: float) -> None:
        """The next channel message gets the 429 Discord sends: marked with `Via` (Discord's
        own edge, which discord.py requires before it retries), the bucket headers and
        the JSON body."""
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "fake-channel-bucket",
            "X-RateLimit-Scope": "user",
        }
        body = {"message": "You are being rate limited.", "retry_after": retry_after}
        self.failures.append((429, body | {"global": False}, headers))

    async def _start_thread(self, path: str, body: Any) -> web.Response:
        """A public thread on a message, announced with THREAD_CREATE as Discord does."""
        _, parent_id, _, message_id, _ = path.strip("/").split("/")
        if parent_id not in self.channels:
            return self.refuse(f"POST {path}", 404, "Unknown Channel", 10003)
        if message_id not in self.messages.get(parent_id, set()):
            return self.refuse(f"POST {path}", 404, "Unknown Message", 10008)
        if self.thread_refusals:
            self.thread_refusals -= 1
            return self.refuse(f"POST {path}", 403, "Missing Permissions", 50013)
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            return self.refuse(f"POST {path}", 400, "Invalid Form Body", 50035, too_long(100))
        # a thread started on a message takes the message's id
        thread = thread_payload(message_id, parent_id, name, str(BOT_ID))
        thread["thread_metadata"]["auto_archive_duration"] = (
            body.get("auto_archive_duration") or 1440
        )
        self.threads.append(thread)
        self.channels.add(thread["id"])
        for ws in self.sockets:
            await self._send(ws, "THREAD_CREATE", {**thread, "newly_created": True})
        return json_response(thread, 201)

    def _leave_guild(self, path: str, body: Any) -> web.Response:
        self.left_guilds.append(path.rsplit("/", 1)[1])
        return web.Response(status=204)

    def _callback(self, path: str, body: Any) -> web.Response:
        """The initial response: one per interaction, within 3 s of it."""
        _, interaction_id, token, _ = path.strip("/").split("/")
        what = f"POST {path}"
        interaction = self.interactions.get(token)
        if interaction is not None and interaction.id != interaction_id:
            interaction = None  # a token with another interaction's id: no such interaction
        late = interaction and time.monotonic() - interaction.created > INITIAL_RESPONSE_SECONDS
        if interaction is None or late:
            return self.refuse(what, 404, "Unknown interaction", 10062)
        if interaction.response_type is not None:
            return self.refuse(what, 400, "Interaction has already been acknowledged.", 40060)
        data = body.get("data") or {}
        if invalid := self.invalid_message(what, data):
            return invalid
        interaction.response_type = body["type"]
        interaction.response_flags = (data.get("flags") or 0) & EPHEMERAL
        interaction.deferred_message_pending = body["type"] == 5
        return json_response(
            {"interaction": {"id": interaction_id, "type": 2}, "resource": {"type": body["type"]}}
        )

    def _answered(self, path: str) -> Interaction | None:
        """The interaction a webhook path's token names, once it has its initial response;
        the path must name this application (/webhooks/APPLICATION_ID/TOKEN)."""
        _, application_id, token, *_ = path.strip("/").split("/")
        interaction = self.interactions.get(token)
        if application_id != str(APP_ID) or interaction is None:
            return None
        return interaction if interaction.response_type is not None else None

    def _followup(self, path: str, body: Any) -> web.Response:
        """A follow-up message. The first one after a defer fills the "thinking" message,
        so it keeps the visibility the defer chose, whatever flags it asks for."""
        interaction = self._answered(path)
        if interaction is None:
            return self.refuse(f"POST {path}", 404, "Unknown Webhook", 10015)
        body = body or {}
        if invalid := self.invalid_message(f"POST {path}", body):
            return invalid
        flags = (body.get("flags") or 0) & EPHEMERAL
        if interaction.deferred_message_pending:
            interaction.deferred_message_pending = False
            flags = interaction.response_flags
        return self._shown(interaction, body | {"flags": flags})

    def _edit_original(self, path: str, body: Any) -> web.Response:
        interaction = self._answered(path)
        if interaction is None:
            return self.refuse(f"PATCH {path}", 404, "Unknown Webhook", 10015)
        if invalid := self.invalid_message(f"PATCH {path}", body or {}):
            return invalid
        interaction.deferred_message_pending = False
        return self._shown(interaction, (body or {}) | {"flags": interaction.response_flags})

    def _delete_original(self, path: str, body: Any) -> web.Response:
        interaction = self._answered(path)
        if interaction is None:
            return self.refuse(f"DELETE {path}", 404, "Unknown Webhook", 10015)
        interaction.deferred_message_pending = False
        return web.Response(status=204)

    def _shown(self, interaction: Interaction, body: dict) -> web.Response:
        message = self.message_payload(str(CHANNEL_ID), body)
        interaction.messages.append(message)
        return self._sent(message)

    def _sent(self, message: dict) -> web.Response:
        self.sent.append(message)
        self.messages.setdefault(message["channel_id"], set()).add(message["id"])
        return json_response(message)

    # --- what tests look at ----------------------------------------------------------------

    def shown(self, token: str) -> list[dict]:
        """The messages an interaction's follow-ups and edits became, as Discord shows
        them (with the visibility it gave them)."""
        interaction = self.interactions.get(token)
        return list(interaction.messages) if interaction else []

    def posts(self, prefix: str) -> list[Recorded]:
        return [
            r for r in self.requests if r.method in ("POST", "PATCH") and r.path.startswith(prefix)
        ]
