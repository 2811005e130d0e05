"""A fake OpenAI-compatible chat endpoint on 127.0.0.1, whose behaviour a test sets."""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.fakes.background import BackgroundServer


class FakeOpenAI(BackgroundServer):
    def __init__(self) -> None:
        super().__init__()
        self.reply = "The station was launched in 1998 [1]."
        self.status = 200
        self.delay = 0.0
        self.requests: list[dict] = []

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.complete)
        return app

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def complete(self, request: web.Request) -> web.Response:
        self.requests.append(
            {"body": await request.json(), "auth": request.headers.get("Authorization")}
        )
        await asyncio.sleep(self.delay)
        if self.status != 200:
            return web.json_response({"error": {"message": "boom"}}, status=self.status)
        message = {"role": "assistant", "content": self.reply}
        return web.json_response(
            {
                "id": "c1",
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            }
        )
