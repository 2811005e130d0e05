"""An answerer over an index of one article written in the test, for tests that need
a passage of exactly their own wording (highlighting, the reranker)."""

from __future__ import annotations

from pathlib import Path

from bot.answer.answerer import Answerer
from bot.settings import load_settings
from bot.wiring import make_answerer
from index.build.publish import build_index
from index.sources.articles import load_articles
from index.storage.article_index import ArticleIndex
from tests.fakes.hashing import HashingEmbedder


def answerer_of(tmp_path: Path, embedder: HashingEmbedder, article: str) -> Answerer:
    """An answerer over an index of the one article written here."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "article.txt").write_text(article, encoding="utf-8")
    articles, failures = load_articles([str(folder)])
    assert not failures
    build_index(articles, embedder, tmp_path / "index")
    index = ArticleIndex.load(tmp_path / "index", embedder)
    return make_answerer(load_settings(data_dir=tmp_path), index)
