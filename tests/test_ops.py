"""Health, metrics and JSON logs, with the real service and a real HTTP server."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest

from bot.answer.answerer import Answerer
from bot.chat.service import ChatService
from bot.logs import JsonFormatter, configure_logging
from bot.ops import OpsServer
from bot.settings import Settings
from index.embedding.embedder import Embedder
from tests.fakes.background import free_port
from tests.fakes.hashing import HashingEmbedder


async def test_metrics_and_index_health(
    answerer: Answerer, embedder: Embedder, settings: Settings
) -> None:
    """What /metrics counts and what /healthz says of the index, from real answers. The
    connection state in /healthz is tested against the real platforms' connections
    (test_discord, tests/slack)."""
    service = ChatService(answerer, embedder, settings, "discord")
    port = free_port()
    server = OpsServer(service.metrics, lambda: service.health(True), "127.0.0.1", port)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await service.answer("When was the International Space Station launched?")
            await service.answer("Who won the 2022 World Cup?")
            health = (await client.get("/healthz")).json()
            assert health["index_version"] == answerer.index.version
            assert health["articles"] == len(answerer.index.articles) == 1
            metrics = (await client.get("/metrics")).text
            assert 'articlebot_questions_total{platform="discord"} 2.0' in metrics
            assert 'articlebot_abstentions_total{platform="discord"} 1.0' in metrics
            assert f'articlebot_index_info{{version="{answerer.index.version}"}} 1.0' in metrics
    finally:
        await server.stop()
        service.close()


def test_json_log_lines_carry_extra_fields() -> None:
    record = logging.makeLogRecord(
        {
            "name": "bot.chat.service",
            "levelno": 20,
            "levelname": "INFO",
            "msg": "answered %s",
            "args": ("ok",),
        }
    )
    record.request_id = "abc123"
    line = json.loads(JsonFormatter().format(record))
    assert (
        line["message"] == "answered ok"
        and line["request_id"] == "abc123"
        and line["level"] == "INFO"
    )


async def test_every_answer_is_logged_with_a_request_id_of_its_own(
    fast_answerer: Answerer,
    fast_embedder: HashingEmbedder,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The service gives each question its own request id, in the "answered" line that
    the JSON log writes out with it (an operator follows one question by it)."""
    caplog.set_level("INFO", logger="bot.chat.service")
    service = ChatService(fast_answerer, fast_embedder, settings)
    try:
        await service.answer("When was the International Space Station launched?")
        await service.answer("Who won the 2022 World Cup?")
    finally:
        service.close()
    answered = [r for r in caplog.records if r.getMessage() == "answered"]
    ids = [getattr(r, "request_id", None) for r in answered]
    assert len(ids) == 2 and len(set(ids)) == 2, ids
    assert all(re.fullmatch(r"[0-9a-f]{12}", str(i)) for i in ids), ids
    lines = [json.loads(JsonFormatter().format(r)) for r in answered]
    assert [line["request_id"] for line in lines] == ids
    assert [line["abstained"] for line in lines] == [False, True]


@pytest.mark.parametrize("json_format", [False, True])
def test_the_log_shows_no_secret_of_a_source_url(
    json_format: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever logs a source's URL (ours or a library's), the line on stderr carries
    no token or key, in plain and in JSON logs."""
    configure_logging(debug=False, json_format=json_format)
    url = "https://news.example/feed.xml?api_key=SEKRET&page=2"
    logging.getLogger("index.sources.fetch").warning("not indexed: %s: HTTP 404", url)
    logging.getLogger("httpx").warning('HTTP Request: GET %s "HTTP/1.1 404"', url)
    err = capsys.readouterr().err
    assert "SEKRET" not in err
    assert err.count("https://news.example/feed.xml?api_key=REDACTED&page=2") == 2
