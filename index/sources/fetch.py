"""Fetching pages and feeds to index, so that no source can turn the fetcher
against the host it runs on.

Operators choose the sources, but not where those sources lead: a feed entry,
a redirect or anyone in the middle of an `http://` link can point anywhere. So
every hop is checked the same way: http or https only, the host resolved once
and refused when any of its addresses is loopback, private, link-local,
carrier-grade NAT, reserved or multicast (IPv4-in-IPv6 forms included), and
the connection made to the address that was checked, never to a second DNS
answer. Redirects are followed here, at most `MAX_REDIRECTS`. Bodies are read
raw and decompressed with a bound, so a small compressed body cannot grow past
`max_bytes` in memory, and the whole fetch, redirects included, has one
deadline.

URLs are shown to people (logs, citations, `index list`) only through
`redact_url` (index/sources/redact.py); the real URL is used only to fetch.

A fetch may be conditional (the ETag and Last-Modified of the last one): an
unchanged source then costs one 304 and no body. A 429 or 503 is a
`RetryLaterError` carrying the source's Retry-After.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import ipaddress
import math
import re
import socket
import time
import zlib
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urljoin

import httpx

from index.config import FetchConfig
from index.errors import RetryLaterError, SourceError, unexpected_failure
from index.sources.redact import redact_url

MAX_REDIRECTS = 5
REDIRECTS = {301, 302, 303, 307, 308}
BUSY = {429, 503}  # "come back later", with a Retry-After the fetcher honours
MAX_RETRY_AFTER_SECONDS = 86_400.0  # a longer Retry-After is taken as this (24 hours)
ASCII_DIGITS = re.compile(r"[0-9]+")
SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated IPv6 site-local: private
USER_AGENT = "ArticleBot/0.1 (+https://github.com/articlebot)"

# A resolver maps (host, port) to IP address strings; the system one asks DNS.
Resolver = Callable[[str, int], list[str]]
T = TypeVar("T")


@dataclass(frozen=True)
class Validators:
    """What a conditional request sends back: the last response's ETag and Last-Modified."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    """A page as fetched: its final URL (after redirects), content type and body, and
    its validators; `not_modified` (an HTTP 304 to a conditional request) has no body."""

    url: str
    content_type: str
    body: bytes
    validators: Validators = Validators()
    not_modified: bool = False


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After in seconds from now (a number of seconds or an HTTP date), at most
    `MAX_RETRY_AFTER_SECONDS`: no server may hold a source back for longer. None when
    the value is neither (only ASCII digits count: "²" is a digit to `str.isdigit`)."""
    if not value:
        return None
    value = value.strip()
    if ASCII_DIGITS.fullmatch(value):  # a long run of digits is not even read as a number
        return MAX_RETRY_AFTER_SECONDS if len(value) > 9 else clamp_retry_after(int(value))
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return clamp_retry_after(when - (time.time() if now is None else now))


def clamp_retry_after(seconds: float) -> float:
    """A wait between 0 and `MAX_RETRY_AFTER_SECONDS`; anything not finite is the most."""
    if not math.isfinite(seconds):
        return MAX_RETRY_AFTER_SECONDS
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)


# --- checking addresses -----------------------------------------------------------------


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried by an IPv4-mapped, 6to4, Teredo or NAT64 address."""
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: str) -> str | None:
    """Why an address must not be fetched from, or None when it is a public one."""
    ip = plain_address(address)
    kinds = [
        ("loopback", ip.is_loopback),
        ("private", ip in SITE_LOCAL),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    ]
    kind = next((name for name, found in kinds if found), None)
    return f"{address} is a {kind} address" if kind else None


# What fetch_allow_private_networks opens: an intranet's own ranges, never loopback,
# link-local (cloud metadata lives there) or anything else; those only when named in
# fetch_allowed_networks
PRIVATE_NETWORKS = [
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
] + [SITE_LOCAL]


def plain_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address a connection to `address` reaches: the IPv4 one that an
    IPv4-in-IPv6 form carries, and no zone."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        return inner
    return ip


def allowed_address(address: str, config: FetchConfig) -> bool:
    """Fetched although not public: in a network the operator named, or in an
    intranet's ranges when fetch_allow_private_networks is on."""
    ip = plain_address(address)
    if any(ip in network for network in config.fetch_allowed_networks):
        return True
    return config.fetch_allow_private_networks and any(ip in n for n in PRIVATE_NETWORKS)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address DNS (or /etc/hosts) gives for `host`."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# --- reading bodies -------------------------------------------------------------------------


class BoundedDecoder:
    """Content-Encoding undone a piece at a time, never holding more than `limit`
    decompressed bytes: a 600-byte bomb stops at the cap, not at 300 MB."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        codings = [
            c.strip().lower()
            for c in content_encoding.split(",")
            if c.strip().lower() not in ("", "identity")
        ]
        if len(codings) > 1:
            raise ValueError(f"stacked content encodings ({content_encoding}) are refused")
        wbits = {
            "gzip": 16 + zlib.MAX_WBITS,
            "x-gzip": 16 + zlib.MAX_WBITS,
            "deflate": zlib.MAX_WBITS,
        }
        if codings and codings[0] not in wbits:
            raise ValueError(f"content encoding {codings[0]} is not supported")
        self._zlib = zlib.decompressobj(wbits[codings[0]]) if codings else None
        self.limit = limit
        self.size = 0
        self.raw_size = 0

    @property
    def ended(self) -> bool:
        """The compressed stream is complete: any bytes after it are not read."""
        return self._zlib is not None and self._zlib.eof

    def feed(self, raw: bytes) -> bytes:
        # the raw bytes count too: after a stream's end zlib keeps them unread
        self.raw_size += len(raw)
        if self.raw_size > self.limit:
            raise OverflowError(f"larger than the {self.limit:,}-byte limit")
        if self._zlib is None:
            return self._count(raw)
        if self._zlib.eof:
            return b""
        # at most one byte past the cap: enough to know the body is too large
        return self._count(self._zlib.decompress(raw, self.limit - self.size + 1))

    def finish(self) -> bytes:
        return self._count(self._zlib.flush() if self._zlib else b"")

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self.limit:
            raise OverflowError(f"larger than the {self.limit:,}-byte limit")
        return data


# --- fetching ------------------------------------------------------------------------------


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from synchronous code, even from a thread
    that already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class Fetcher:
    """GETs URLs under a FetchConfig. `resolver` and `transport` are the network
    (tests pass a resolver with made-up names and a transport that only reaches
    127.0.0.1)."""

    def __init__(
        self,
        config: FetchConfig | None = None,
        *,
        resolver: Resolver = system_resolver,
        transport: Callable[[], httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self.config = config or FetchConfig()
        self._resolver = resolver
        self._transport = transport or (lambda: httpx.AsyncHTTPTransport(retries=0))
        self._source_ends: float | None = None  # monotonic time; see for_source

    def for_source(self) -> Fetcher:
        """This fetcher with one deadline for all that one source fetches (a feed and
        each of its entries), so one slow feed cannot hold a build for entries times
        `fetch_deadline_seconds`; what it does not reach in time fails, kept as before."""
        bound = copy.copy(self)
        bound._source_ends = time.monotonic() + self.config.fetch_source_deadline_seconds
        return bound

    def _source_deadline_note(self) -> str:
        seconds = self.config.fetch_source_deadline_seconds
        return f"the source's {seconds:g} s deadline (fetch_source_deadline_seconds) passed"

    def get(
        self, url: str, *, feed_entry: bool = False, validators: Validators | None = None
    ) -> Fetched:
        """The page at `url`, or a SourceError naming the (redacted) URL and why.
        Feed entries must also come from `fetch_feed_entry_hosts` when that is set.
        With `validators`, the request is conditional (a 304 is `not_modified`)."""
        shown = redact_url(url)
        deadline = self.config.fetch_deadline_seconds
        left = deadline if self._source_ends is None else self._source_ends - time.monotonic()
        if left <= 0:
            raise SourceError(shown, f"not fetched: {self._source_deadline_note()}")
        try:
            return _run(
                asyncio.wait_for(self._get(url, feed_entry, validators), min(deadline, left))
            )
        except TimeoutError:
            if left < deadline:
                raise SourceError(shown, f"stopped: {self._source_deadline_note()}") from None
            raise SourceError(
                shown, f"took longer than the {deadline:g} s fetch deadline"
            ) from None
        except httpx.TimeoutException:
            raise SourceError(
                shown, f"no answer within {self.config.fetch_timeout_seconds:g} s"
            ) from None
        except httpx.HTTPError as exc:
            reason = redact_url(str(exc)) if "://" in str(exc) else str(exc)
            raise SourceError(
                shown, f"could not fetch ({exc.__class__.__name__}: {reason})"
            ) from None
        except _Busy as exc:
            wait = "" if exc.seconds is None else f", retry after {exc.seconds:g} s"
            raise RetryLaterError(shown, f"HTTP {exc.status}{wait}", exc.seconds) from None
        except _Refused as exc:
            raise SourceError(shown, str(exc)) from None
        except Exception as exc:  # whatever a hostile server provokes stays this source's
            raise unexpected_failure(shown, exc) from None

    async def _get(self, url: str, feed_entry: bool, validators: Validators | None) -> Fetched:
        timeout = httpx.Timeout(self.config.fetch_timeout_seconds)
        async with httpx.AsyncClient(
            transport=self._transport(), timeout=timeout, trust_env=False
        ) as client:
            for hop in range(MAX_REDIRECTS + 1):
                try:
                    request = await self._request(url, feed_entry, validators)
                except _Refused as exc:
                    raise _Refused(
                        f"redirected to {redact_url(url)}; {exc}" if hop else str(exc)
                    ) from None
                response = await client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECTS and location:
                        url = urljoin(url, location)
                        continue
                    if response.status_code == 304 and validators:
                        return Fetched(url, "", b"", validators, not_modified=True)
                    if response.status_code in BUSY:
                        wait = retry_after_seconds(response.headers.get("retry-after"))
                        raise _Busy(response.status_code, wait)
                    if response.status_code >= 400:
                        raise _Refused(f"HTTP {response.status_code}")
                    return await self._read(url, response)
                finally:
                    await response.aclose()
        raise _Refused(f"more than {MAX_REDIRECTS} redirects")

    async def _request(
        self, url: str, feed_entry: bool, validators: Validators | None = None
    ) -> httpx.Request:
        """A request to the checked address of `url`'s host, carrying the host name
        in the Host header and TLS server name."""
        shown = redact_url(url)
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL:
            raise _Refused(f"{shown} is not a valid URL") from None
        if target.scheme not in ("http", "https"):
            raise _Refused(f"{shown}: only http and https URLs are fetched")
        host = target.host
        if not host:
            raise _Refused(f"{shown} has no host")
        self._check_entry_host(host, shown, feed_entry)
        address = await self._address(
            host, target.port or (443 if target.scheme == "https" else 80)
        )
        headers = {
            "Host": target.netloc.decode("ascii").rsplit("@", 1)[-1],
            "User-Agent": USER_AGENT,
            "Accept-Encoding": "gzip, deflate",
        }
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        if target.username or target.password:
            pair = f"{target.username}:{target.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        extensions = {"sni_hostname": host} if target.scheme == "https" else {}
        direct = target.copy_with(host=address, username=None, password=None)
        return httpx.Request("GET", direct, headers=headers, extensions=extensions)

    def _check_entry_host(self, host: str, shown: str, feed_entry: bool) -> None:
        allowed = self.config.fetch_feed_entry_hosts
        if not feed_entry or not allowed:
            return
        host = host.lower().rstrip(".")
        if not any(host == h.lower() or host.endswith("." + h.lower()) for h in allowed):
            raise _Refused(f"{shown}: host {host} is not in fetch_feed_entry_hosts")

    async def _address(self, host: str, port: int) -> str:
        """The one address to connect to, after every address of the host is checked."""
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                addresses = await asyncio.to_thread(self._resolver, host, port)
            except OSError as exc:
                raise _Refused(f"cannot resolve {host} ({exc})") from None
        if not addresses:
            raise _Refused(f"cannot resolve {host}")
        for address in addresses:
            if (reason := refusal(address)) and not allowed_address(address, self.config):
                raise _Refused(
                    f"refused {host}: {reason} (to index it on purpose, name its network "
                    "in fetch_allowed_networks)"
                )
        return addresses[0]

    async def _read(self, url: str, response: httpx.Response) -> Fetched:
        limit = self.config.fetch_max_bytes
        length = response.headers.get("content-length", "")
        encoding = response.headers.get("content-encoding", "")
        if length.isdigit() and int(length) > limit and not encoding:
            raise _Refused(f"larger than the {limit:,}-byte limit")
        try:
            decoder = BoundedDecoder(encoding, limit)
            parts = []
            async for raw in response.aiter_raw():
                parts.append(decoder.feed(raw))
                if decoder.ended:
                    break
            parts.append(decoder.finish())
        except (ValueError, OverflowError, zlib.error) as exc:
            raise _Refused(str(exc)) from None
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        validators = Validators(response.headers.get("etag"), response.headers.get("last-modified"))
        return Fetched(url, content_type, b"".join(parts), validators)


class _Refused(Exception):
    """A hop that must not be followed, or a response that must not be read."""


class _Busy(Exception):
    """The server said to come back later (429 or 503), perhaps saying when."""

    def __init__(self, status: int, seconds: float | None) -> None:
        super().__init__(status)
        self.status = status
        self.seconds = seconds
