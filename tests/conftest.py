"""Shared fixtures: the real model, loaded once per test session, and real indexes."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import ipaddress
import logging
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from bot.answer.answerer import Answerer
from bot.settings import Settings, bundled_dir, load_settings
from bot.wiring import make_answerer
from index.build.publish import build_index
from index.embedding.embedder import Embedder
from index.sources.articles import load_articles
from index.storage.article_index import ArticleIndex
from tests.fakes.hashing import HashingEmbedder
from tests.postgres_cluster import DATABASE, postgres_cluster

FIXTURES = Path(__file__).parent / "fixtures"

# Every property test: 300 cases a target by default, 10,000 under `make test`
# (ARTICLEBOT_HYPOTHESIS=thorough).
hypothesis_settings.register_profile(
    "thorough", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck)
)
hypothesis_settings.register_profile(
    "quick", max_examples=300, deadline=None, suppress_health_check=list(HealthCheck)
)
hypothesis_settings.load_profile(os.environ.get("ARTICLEBOT_HYPOTHESIS", "quick"))


# --- nothing leaves 127.0.0.0/8 ------------------------------------------------------------

OUTSIDE: list[str] = []  # every attempt to reach another address, for the check below
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _loopback(host: object) -> bool:
    if not isinstance(host, str):
        return True  # not an IP socket address (e.g. a Unix socket path)
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="session", autouse=True)
def loopback_only_network() -> Iterator[None]:
    """In this process, a connection or DNS lookup for anything outside loopback
    fails, whatever the code under test does, and the test that tried is failed."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def refuse(what: str) -> OSError:
        OUTSIDE.append(what)
        return ConnectionRefusedError(f"tests may only reach 127.0.0.0/8, not {what}")

    def connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if not _loopback(host):
            raise refuse(str(host))
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        host = address[0] if isinstance(address, tuple) else None
        if not _loopback(host):
            raise refuse(str(host))
        return real_connect_ex(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not _loopback(name):
            raise socket.gaierror(socket.EAI_NONAME, f"{refuse(str(name))}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = real_connect, real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo


# glibc keeps the memory a test freed for the process's next allocations; a worker that
# ran model tests before the ONNX export tests would otherwise pass 2 GB.
LIBC_PATH = ctypes.util.find_library("c")
MALLOC_TRIM = getattr(ctypes.CDLL(LIBC_PATH), "malloc_trim", None) if LIBC_PATH else None  # glibc


@pytest.fixture(autouse=True)
def collector_unfrozen() -> Iterator[None]:
    """Loading a version to serve freezes what the process holds (bot/wiring.py,
    `settled`); after each test nothing is, and what the test froze is collected, so
    no test's garbage (its models and indexes, 100 MB and more) outlives it."""
    yield
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
    if MALLOC_TRIM is not None:
        MALLOC_TRIM(0)  # what a test freed goes back to the system, not kept by malloc


@pytest.fixture(autouse=True)
def root_logging_restored() -> Iterator[None]:
    """A CLI run in a test points the root logger at that test's captured stderr; after
    it the logger is put back, so a line logged later (a bot's thread winding down, the
    next test) is not written to a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture(autouse=True)
def no_traffic_outside_loopback(loopback_only_network: None) -> Iterator[None]:
    before = len(OUTSIDE)
    yield
    tried = OUTSIDE[before:]
    assert not tried, f"the test tried to reach addresses outside 127.0.0.0/8: {tried}"


# --- tiers --------------------------------------------------------------------------------
# A test that uses the real model (the `embedder` fixture, directly or through an
# index, an answerer or a bot built on it) is in the "model" tier; every other test
# is in the fast tier (`make test-fast` = pytest -m "not model"), which must run in
# well under a minute. A test that starts the model another way (a subprocess, its
# own Embedder) says so with @pytest.mark.model.
MODEL_FIXTURES = {"embedder"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2 model: the end-to-end tier."""
    return Embedder()


@pytest.fixture(scope="session")
def fast_embedder() -> HashingEmbedder:
    """A deterministic hashing embedder with the real tokenizer: the fast tier."""
    return HashingEmbedder()


def library_index(index_dir: Path, embedder: Embedder) -> Path:
    """An index of the bundled article and the three made-up fixture articles."""
    articles, failures = load_articles([str(bundled_dir() / "articles"), str(FIXTURES)])
    assert len(articles) == 4 and not failures
    build_index(articles, embedder, index_dir)
    return index_dir


@pytest.fixture(scope="session")
def fast_index_dir(
    tmp_path_factory: pytest.TempPathFactory, fast_embedder: HashingEmbedder
) -> Path:
    """The bundled article and the fixture articles, indexed with the hashing embedder."""
    return library_index(tmp_path_factory.mktemp("fast") / "index", fast_embedder)


@pytest.fixture
def fast_index_copy(fast_index_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the fast index that a test may change or damage."""
    target = tmp_path / "fast-index"
    shutil.copytree(fast_index_dir, target)
    return target


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(data_dir=tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def fast_answerer(
    fast_index_dir: Path, fast_embedder: HashingEmbedder, settings: Settings
) -> Answerer:
    """An answerer over the fast index: every step of answering, without the model."""
    return make_answerer(settings, ArticleIndex.load(fast_index_dir, fast_embedder))


@pytest.fixture(scope="session")
def bundled_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The bundled article, indexed once for the session; tests copy it to change it."""
    index_dir = tmp_path_factory.mktemp("bundled") / "index"
    articles, failures = load_articles([str(bundled_dir() / "articles")])
    assert articles and not failures
    build_index(articles, embedder, index_dir)
    return index_dir


@pytest.fixture(scope="session")
def answerer(bundled_index_dir: Path, embedder: Embedder, settings: Settings) -> Answerer:
    return make_answerer(settings, ArticleIndex.load(bundled_index_dir, embedder))


@pytest.fixture(scope="session")
def fixture_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The bundled article plus the made-up fixture articles."""
    return library_index(tmp_path_factory.mktemp("fixtures") / "index", embedder)


@pytest.fixture
def index_copy(bundled_index_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the bundled index that a test may damage."""
    target = tmp_path / "index"
    shutil.copytree(bundled_index_dir, target)
    return target


# --- a real PostgreSQL, for the state replicas share ----------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a Unix socket, for the whole session."""
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def state_url(postgres_server: str) -> str:
    """A new, empty database in that cluster: each test starts with no tables."""
    import psycopg

    name = f"t{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_server.replace(f"/{DATABASE}?", f"/{name}?")
