"""Shared fixtures: the real model, loaded once per test session, and real indexes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.core import Answerer
from bot.runtime import make_answerer
from bot.settings import Settings, bundled_dir, load_settings
from index.articles import load_articles
from index.embedding import Embedder
from index.store import ArticleIndex, build_index

FIXTURES = Path(__file__).parent / "fixtures"
EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(data_dir=tmp_path_factory.mktemp("data"))


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
    return make_answerer(settings, embedder, ArticleIndex.load(bundled_index_dir, embedder))


@pytest.fixture(scope="session")
def fixture_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The bundled article plus the made-up fixture articles."""
    index_dir = tmp_path_factory.mktemp("fixtures") / "index"
    articles, failures = load_articles([str(bundled_dir() / "articles"), str(FIXTURES)])
    assert len(articles) == 4 and not failures
    build_index(articles, embedder, index_dir)
    return index_dir


@pytest.fixture
def index_copy(bundled_index_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the bundled index that a test may damage."""
    target = tmp_path / "index"
    shutil.copytree(bundled_index_dir, target)
    return target
