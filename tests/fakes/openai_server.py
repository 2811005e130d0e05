"""A fake OpenAI-compatible chat endpoint on 127.0.0.1, whose behaviour a test sets.
It refuses (and records) what the API refuses: a missing or wrong bearer key (401)
and a body that is not a chat completion request (400), with OpenAI's error body."""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.fakes.background import BackgroundServer

ROLES = {"system", "user", "assistant"}


def request_error(body: object) -> str | None:
    """Why the API would refuse this chat completion body, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return "each message needs a role of system, user or assistant"
        if not isinstance(message.get("content"), str):
            return "each message needs its content as a string"
    return None


class FakeOpenAI(BackgroundServer):
    def __init__(self, api_key: str = "sk-test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.reply = "The station was launched in 1998 [1]."
        self.status = 200
        self.delay = 0.0
        self.requests: list[dict] = []
        self.refused: list[tuple[int, str]] = []

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.complete)
        return app

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def complete(self, request: web.Request) -> web.Response:
        body, auth = await request.json(), request.headers.get("Authorization")
        self.requests.append({"body": body, "auth": auth})
        if auth != f"Bearer {self.api_key}":
            return self.refuse(401, "Incorrect API key provided", "invalid_api_key")
        if error := request_error(body):
            return self.refuse(400, error, "invalid_request_error")
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

    def refuse(self, status: int, message: str, kind: str) -> web.Response:
        self.refused.append((status, message))
        return web.json_response({"error": {"message": message, "type": kind}}, status=status)
