"""An aiohttp application served on 127.0.0.1 from its own thread and event loop,
so synchronous tests can drive real clients that run elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web


class BackgroundServer:
    """Subclasses build their application in `make_app`; open websockets go in `self.sockets`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.sockets: list[web.WebSocketResponse] = []

    def make_app(self) -> web.Application:
        raise NotImplementedError

    def start(self) -> Any:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(10), f"{type(self).__name__} did not start"
        return self

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self._runner = web.AppRunner(self.make_app())
        self.loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        async def shutdown() -> None:
            for ws in list(self.sockets):
                await ws.close()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def call(self, coroutine: Any, timeout: float = 10) -> Any:
        """Run a coroutine on the server's loop from the test's thread."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def drop_connections(self) -> None:
        """Close every websocket abruptly, as a network fault would."""

        async def drop() -> None:
            for ws in list(self.sockets):
                await ws.close(code=1006)

        self.call(drop())

    def broadcast(self, text: str) -> None:
        async def send() -> None:
            for ws in self.sockets:
                await ws.send_str(text)

        self.call(send(), 5)

    @staticmethod
    def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError("timed out waiting for the bot")


class AppServer(BackgroundServer):
    """Serves a given aiohttp application (e.g. a Bolt app's `web_app()`)."""

    def __init__(self, app: web.Application) -> None:
        super().__init__()
        self._app = app

    def make_app(self) -> web.Application:
        return self._app


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tasks_on(loop: asyncio.AbstractEventLoop) -> set[asyncio.Task]:
    """The tasks not yet done on `loop` (another thread's), read on that loop."""

    async def pending() -> set[asyncio.Task]:
        return asyncio.all_tasks() - {asyncio.current_task()}

    return asyncio.run_coroutine_threadsafe(pending(), loop).result(10)


def waits_out_a_timeout(task: asyncio.Task) -> bool:
    """A task that only waits out a long timeout (discord.py's view timeouts), not work."""
    return "timeout" in task.get_coro().__qualname__.lower()


@contextlib.contextmanager
def all_handled(loop: asyncio.AbstractEventLoop, timeout: float = 30.0) -> Iterator[None]:
    """A barrier for "nothing happened": on leaving the block, every task `loop`
    started during it (a request's handler, a listener, what they spawned) has
    finished, so whatever they were going to send has been sent. Start inside the
    block only what reaches the loop before the block ends (an HTTP request the app
    has acknowledged; a gateway message once the client has it)."""
    before = tasks_on(loop)
    yield
    deadline = time.monotonic() + timeout
    while True:
        working = {t for t in tasks_on(loop) - before if not waits_out_a_timeout(t)}
        if not working:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still handling after {timeout} s: {working}")
        time.sleep(0.02)
