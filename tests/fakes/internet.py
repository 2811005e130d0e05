"""A pretend internet for fetching tests, in which nothing leaves 127.0.0.1.

Made-up host names resolve to whatever a test says. `PUBLIC` stands in for a
web host's public address: the fetcher checks it as public, and the transport
delivers what is sent to it to 127.0.0.1 instead. A connection to any other
address that is not loopback raises, so a broken address check fails the test
instead of sending a packet.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

import httpx

from index.config import FetchConfig
from index.sources.fetch import Fetcher

PUBLIC = "93.184.215.14"


class LoopbackOnlyTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, reaching 127.0.0.1 only."""

    def __init__(self, internet: FakeInternet) -> None:
        self._internet = internet
        self._inner = httpx.AsyncHTTPTransport(retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self._internet.connections.append(host)
        if host == PUBLIC:
            request.url = request.url.copy_with(host="127.0.0.1")
        elif not ipaddress.ip_address(host).is_loopback:
            # recorded as well as raised: the fetcher turns any error into one source's
            # failure, so the test's own check of `outside` is what fails loudly
            self._internet.outside.append(host)
            raise AssertionError(f"the fetcher tried to connect to {host}, outside 127.0.0.0/8")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class FakeInternet:
    """Names to addresses, and every address the fetcher connected to."""

    names: dict[str, list[str]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)  # tried and stopped: never a packet

    def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.names[host])

    def fetcher(self, **config: object) -> Fetcher:
        return Fetcher(
            FetchConfig(**config),  # type: ignore[arg-type]
            resolver=self.resolve,
            transport=lambda: LoopbackOnlyTransport(self),
        )
