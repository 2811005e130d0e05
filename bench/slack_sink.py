"""The least of Slack a benchmark needs, on 127.0.0.1: `auth.test` for the app's
start-up check, and `response_url`s that keep what the app posts to them.

Deliberately not the tests' fake (tests/fakes/slack_server.py checks every request
as strictly as Slack does); this one only collects answers, fast, for bench/soak.py.
"""

from __future__ import annotations

import asyncio
import socket
import threading

from aiohttp import web

BOT_TOKEN = "xoxb-bench-token"
SIGNING_SECRET = "bench-signing-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SlackSink:
    """Start with `start()`; `responses[name]` holds what was posted to `response_url_for(name)`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.responses: dict[str, dict] = {}
        self._loop = asyncio.new_event_loop()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url_for(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def start(self) -> SlackSink:
        app = web.Application()
        app.router.add_post("/api/auth.test", self._auth_test)
        app.router.add_post("/response/{name}", self._response)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._runner = runner
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _auth_test(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "user_id": "UBENCH", "team_id": "TBENCH"})

    async def _response(self, request: web.Request) -> web.Response:
        self.responses[request.match_info["name"]] = await request.json()
        return web.Response(text="ok")
