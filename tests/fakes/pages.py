"""A tiny web site on 127.0.0.1 serving fixed pages, for loader and feed tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serve_pages(
    pages: dict[str, tuple[str, bytes]], slow: dict[str, float] | None = None, port: int = 0
) -> Iterator[str]:
    """Serve `pages` ({path: (content type, body)}); paths in `slow` wait that many
    seconds first. Yields the base URL; any other path is a 404."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep((slow or {}).get(self.path, 0))
            if self.path not in pages:
                self.send_error(404)
                return
            content_type, body = pages[self.path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
