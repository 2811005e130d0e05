"""Operations: Prometheus metrics and a /healthz endpoint (JSON logs: bot/logs.py).

The metrics and health server is off by default (`ops_port`); when on, it
listens on `ops_host` (127.0.0.1) inside the bot's own event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    generate_latest,
)

log = logging.getLogger(__name__)


class Metrics:
    """The bot's counters, in a registry of its own (so tests can make several)."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.registry = CollectorRegistry()
        labels = ["platform"]
        self.questions = Counter(
            "articlebot_questions", "Questions answered", labels, registry=self.registry
        )
        self.abstentions = Counter(
            "articlebot_abstentions", "Answers that abstained", labels, registry=self.registry
        )
        self.errors = Counter(
            "articlebot_errors", "Questions that failed", labels, registry=self.registry
        )
        self.refused_busy = Counter(
            "articlebot_busy_refusals",
            "Questions turned away because answer_queue_max were waiting",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "articlebot_answer_seconds",
            "Question to answer",
            labels,
            registry=self.registry,
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.index = Info(
            "articlebot_index", "Index version being answered from", registry=self.registry
        )

    def answered(self, seconds: float, abstained: bool, index_version: str) -> None:
        self.questions.labels(self.platform).inc()
        self.latency.labels(self.platform).observe(seconds)
        if abstained:
            self.abstentions.labels(self.platform).inc()
        self.index.info({"version": index_version})

    def failed(self) -> None:
        self.errors.labels(self.platform).inc()

    def busy(self) -> None:
        self.refused_busy.labels(self.platform).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class OpsServer:
    """/healthz (index version, platform connected) and /metrics, on a local port."""

    def __init__(self, metrics: Metrics, health: Callable[[], dict], host: str, port: int) -> None:
        self.metrics, self.health, self.host, self.port = metrics, health, host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        status = self.health()
        return web.json_response(status, status=200 if status.get("ok") else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
