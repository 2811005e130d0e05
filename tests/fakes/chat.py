"""What the Discord and Slack end-to-end tests set up alike: a sources folder with
the bundled article and one made-up article, the platform's fake server, and a
chat service over a real index built from those sources."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.answer.answerer import Answerer
from bot.answer.records import Answer
from bot.chat.service import ChatService
from bot.settings import DEFAULT_COLLECTION, Settings, bundled_dir, load_settings
from bot.wiring import build_from_sources, make_answerer
from index.embedding.embedder import Embedder
from index.storage.article_index import ArticleIndex


def sources_with(
    tmp_path_factory: pytest.TempPathFactory, platform: str, name: str, article: str
) -> Path:
    """A sources folder: the bundled article, and `article` (title first) as `name`."""
    folder = tmp_path_factory.mktemp(f"{platform}-sources")
    shutil.copy(bundled_dir() / "articles" / "russia-leaves-iss.txt", folder)
    (folder / name).write_text(article)
    return folder


@contextmanager
def running(server: Any) -> Iterator[Any]:
    """A fake platform server, started for the block and stopped after it."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


def chat_settings(
    tmp_path_factory: pytest.TempPathFactory, platform: str, sources: Path, **values: object
) -> Settings:
    """Settings for one platform's tests: their own data and index folders, those
    sources, no /reindex cooldown, and the platform's own `values`."""
    return load_settings(
        data_dir=tmp_path_factory.mktemp(f"{platform}-data"),
        index_dir=tmp_path_factory.mktemp(f"{platform}-index") / "index",
        sources=[str(sources)],
        reindex_cooldown_seconds=0,
        **values,
    )


def built_answerer(settings: Settings, embedder: Embedder) -> Answerer:
    """An answerer over an index built from the settings' sources, in their index folder."""
    index_dir = settings.resolved_index_dir
    build_from_sources(settings, embedder, index_dir, settings.resolved_sources)
    return make_answerer(settings, ArticleIndex.load(index_dir, embedder))


# Not a question, though the bundled article answers it: answer channels let it pass
STATEMENT = "The International Space Station was launched in 1998 by the five agencies."


def asked(service: ChatService) -> float:
    """How many questions reached the service's answerer."""
    counted = service.metrics.registry.get_sample_value(
        "articlebot_questions_total", {"platform": service.metrics.platform}
    )
    return counted or 0.0


@contextmanager
def chat_service(settings: Settings, embedder: Embedder, platform: str) -> Iterator[ChatService]:
    """The chat service over indexes built from the settings' sources: the default
    collection's and each [collections.NAME]'s."""
    answerer = built_answerer(settings, embedder)
    collections = {
        name: built_answerer(settings.for_collection(name), embedder)
        for name in settings.collections
    }
    service = ChatService(answerer, embedder, settings, platform, collections)
    try:
        yield service
    finally:
        service.close()


@contextmanager
def with_settings(
    service: ChatService, settings: Settings, own_state: bool = False
) -> Iterator[ChatService]:
    """A chat service over `service`'s loaded indexes, under other settings: a platform
    run with a setting changed, without building its indexes again (a platform takes
    its settings from its service). It shares `service`'s state (threads, limits,
    votes) unless `own_state`: then the state is made from `settings`, as a bot's is
    at start, so the settings of the state (thread_idle_minutes, rate limits) count."""
    collections = {
        name: served.answerer
        for name, served in service.collections.items()
        if name != DEFAULT_COLLECTION
    }
    platform = service.metrics.platform
    state = None if own_state else service.state
    other = ChatService(service.answerer, service.embedder, settings, platform, collections, state)
    try:
        yield other
    finally:
        other.close()
        if own_state:
            other.state.close()


def from_a_url(answer: Answer, url: str, published: str) -> Answer:
    """`answer` citing only its first source, as if that article came from `url` with a
    publication date (what an article loaded from a page or a feed has)."""
    passage = answer.sources[0]
    online = dataclasses.replace(passage.article, source=url, published=published)
    return dataclasses.replace(answer, sources=[dataclasses.replace(passage, article=online)])
