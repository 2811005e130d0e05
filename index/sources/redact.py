"""URLs as people may see them: without user names, passwords or secret-looking
query values. Sources can carry credentials (`https://user:pass@…`,
`?api_key=…`); they are used where the URL is fetched and nowhere else, so
logs, citations, `index list` and the feedback database never hold them.
Kept free of heavy imports: the log set-up of every command uses it."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

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
# one name=value of a query (after its start, & or ;) and of a path (after ;)
QUERY_PARAM = re.compile(r"(^|[&;])([^&;=]*)=([^&;]*)")
PATH_PARAM = re.compile(r"(;)([^;/=]*)=([^;/]*)")


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
    path, query = _redact(PATH_PARAM, parts.path), _redact(QUERY_PARAM, parts.query)
    return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def _redact(param: re.Pattern[str], text: str) -> str:
    """Secret-looking `name=value` values in a query or path, whether `&` or `;`
    separates them (`?a=1;token=…`, `/page;jsessionid=…`); the rest as written."""
    if "=" not in text:
        return text
    return param.sub(
        lambda m: m[1] + m[2] + "=" + (REDACTED if _is_secret_param(unquote(m[2])) else m[3]),
        text,
    )


def redact_urls(text: str) -> str:
    """Every http(s) URL in `text` redacted (for log lines, whoever wrote them)."""
    if "://" not in text:
        return text
    return URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
