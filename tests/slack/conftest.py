"""The fixtures every Slack test module shares: a fake Slack on 127.0.0.1, the
settings and chat service over its own indexes (one per module), and the app
served over HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.chat.service import ChatService
from bot.settings import Settings
from index.embedding.embedder import Embedder
from tests.conftest import FIXTURES
from tests.fakes.chat import (
    chat_service,
    running,
    sources_with,
)
from tests.fakes.hashing import HashingEmbedder
from tests.fakes.slack_server import (
    FakeSlack,
)
from tests.slack.app_client import (
    PING_ARTICLE,
    serving,
    settings_for,
)


@pytest.fixture(scope="module")
def sources_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sources_with(tmp_path_factory, "slack", "newsroom-notice.txt", PING_ARTICLE)


@pytest.fixture(scope="module")
def sky_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sources of a second collection, "sky": one article the default one lacks."""
    folder = tmp_path_factory.mktemp("slack-sky-sources")
    shutil.copy(FIXTURES / "observatory.html", folder)
    return folder


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    with running(FakeSlack()) as server:
        yield server


@pytest.fixture(scope="module")
def slack_settings(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeSlack, sources_dir: Path, sky_dir: Path
) -> Settings:
    return settings_for(tmp_path_factory, fake, sources_dir, sky_dir, "slack")


@pytest.fixture(scope="module")
def service(slack_settings: Settings, fast_embedder: HashingEmbedder) -> Iterator[ChatService]:
    """The app's service on the hashing embedder: what every test but those of
    answer content needs."""
    with chat_service(slack_settings, fast_embedder, "slack") as chat:
        yield chat


@pytest.fixture(scope="module")
def app_url(service: ChatService, slack_settings: Settings) -> Iterator[str]:
    with serving(service) as url:
        yield url


@pytest.fixture(scope="module")
def model_settings(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeSlack, sources_dir: Path, sky_dir: Path
) -> Settings:
    return settings_for(tmp_path_factory, fake, sources_dir, sky_dir, "slack-model")


@pytest.fixture(scope="module")
def model_service(model_settings: Settings, embedder: Embedder) -> Iterator[ChatService]:
    """The app's service on the real model: for the tests of what a follow-up means."""
    with chat_service(model_settings, embedder, "slack") as chat:
        yield chat


@pytest.fixture(scope="module")
def model_app_url(model_service: ChatService, model_settings: Settings) -> Iterator[str]:
    with serving(model_service) as url:
        yield url


@pytest.fixture(autouse=True)
def nothing_unexpected_or_refused(fake: FakeSlack) -> Iterator[None]:
    """Every test: the app called only methods the fake knows, and Slack refused nothing
    it sent (a test that means a refusal takes it with `take_refused`)."""
    yield
    assert fake.unexpected == []
    assert fake.take_refused() == []
