"""URLs as people may see them: without user names, passwords or secret-looking
query values. Sources can carry credentials (`https://user:pass@…`,
`?api_key=…`); they are used where the URL is fetched and nowhere else, so
logs, citations, `index list` and the feedback database never hold them.
Kept free of heavy imports: the log set-up of every command uses it."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_PARAMS = (
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "auth",
    "signature",
    "sig",
    "credential",
    "session",
    "code",
)
REDACTED = "REDACTED"
URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE)


def _is_secret_param(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    return any(part in lowered for part in SECRET_PARAMS)


def redact_url(url: str) -> str:
    """The URL without user name, password or secret-looking query values."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return url
    if parts.scheme.lower() not in {"http", "https"} or host is None:
        return url
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_is_secret_param(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if _is_secret_param(k) else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_urls(text: str) -> str:
    """Every http(s) URL in `text` redacted (for log lines, whoever wrote them)."""
    if "://" not in text:
        return text
    return URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
