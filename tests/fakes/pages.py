"""A tiny web site on 127.0.0.1 serving fixed pages, for loader and feed tests. A
page with an ETag or Last-Modified header answers a matching conditional GET with
304, as real servers do; tests may change `pages` while it runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from index.records import Article
from index.sources.articles import iter_url
from index.sources.fetch import Fetcher


@dataclass(frozen=True)
class Page:
    """A response: status, headers and body; `drip` sends the body a byte at a time
    with that many seconds between bytes."""

    body: bytes = b""
    content_type: str = "text/html"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    drip: float = 0.0


def _unchanged(page: Page, request_headers: object) -> bool:
    """A conditional GET of an unchanged page, as a server that sends ETag or
    Last-Modified answers it (RFC 9110: If-None-Match wins over If-Modified-Since)."""
    if page.status != 200:
        return False
    etag, asked_etag = page.headers.get("ETag"), request_headers.get("If-None-Match")
    if asked_etag is not None:
        return etag is not None and asked_etag == etag
    modified, since = page.headers.get("Last-Modified"), request_headers.get("If-Modified-Since")
    return modified is not None and since == modified


def redirect(location: str, status: int = 302) -> Page:
    return Page(status=status, headers={"Location": location})


@contextmanager
def serve_pages(
    pages: dict[str, tuple[str, bytes] | Page],
    slow: dict[str, float] | None = None,
    port: int = 0,
    seen: list[tuple[str, dict[str, str]]] | None = None,
) -> Iterator[str]:
    """Serve `pages` ({path: (content type, body) or Page}); paths in `slow` wait that
    many seconds first. Every request's path (with query) and headers are appended to
    `seen`. Yields the base URL; any other path is a 404."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if seen is not None:
                seen.append((self.path, dict(self.headers)))
            time.sleep((slow or {}).get(self.path, 0))
            page = pages.get(self.path) or pages.get(self.path.split("?", 1)[0])
            if page is None:
                self.send_error(404)
                return
            if isinstance(page, tuple):
                page = Page(page[1], page[0])
            if _unchanged(page, self.headers):
                self.send_response(304)
                self.send_header("ETag", page.headers.get("ETag", ""))
                self.end_headers()
                return
            self.send_response(page.status)
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(page.body)))
            for name, value in page.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self._send_body(page)

        def _send_body(self, page: Page) -> None:
            try:
                if not page.drip:
                    self.wfile.write(page.body)
                    return
                for i in range(len(page.body)):
                    self.wfile.write(page.body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(page.drip)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    # shutdown() waits for the loop's next poll: 0.5 s by default, after every test
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def load_url(url: str, fetcher: Fetcher) -> Article:
    """The one article at `url`, as a build loads a source (index.articles.iter_url)."""
    (article,) = iter_url(url, fetcher)
    assert isinstance(article, Article)
    return article
