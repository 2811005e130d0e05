"""Log set-up for every entry point: plain lines, or one JSON object a line for
log collectors (`log_format = "json"`). Kept light, as every command imports it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from index.sources.redact import redact_urls


class RedactingFormatter(logging.Formatter):
    """Credentials in URLs never reach a log line, tracebacks included, whichever
    library logs the URL."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact_urls(self.inner.format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with any `extra` fields (e.g. request_id) included."""

    STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self.STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(debug: bool, json_format: bool, serving: bool = False) -> None:
    """Log lines on stderr. ArticleBot's own loggers (named by module) show INFO when
    serving a bot (start-up, each answer) or with JSON logs, else warnings only;
    --debug shows everything, other libraries' too."""
    handler = logging.StreamHandler()
    formatter = (
        JsonFormatter() if json_format else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    handler.setFormatter(RedactingFormatter(formatter))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    level = logging.DEBUG if debug else logging.INFO if json_format or serving else logging.WARNING
    for ours in ("bot", "index"):
        logging.getLogger(ours).setLevel(level)
