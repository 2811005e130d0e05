"""An index directory's articles changed one version at a time (index/build/directory.py),
with the hashing embedder: the fast tier's view of add, remove, sync and rollback."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.settings import bundled_dir
from index.build.cache import embed_with_cache
from index.build.directory import IndexDirectory, added_by_hand, index_status, rollback
from index.build.publish import open_cache
from index.config import IndexConfig
from index.errors import NewerBuildError, NoOlderVersionError, UnknownArticleError
from index.records import Article
from index.sources.articles import load_articles
from index.storage.article_index import ArticleIndex
from index.storage.files import scratch_array
from index.storage.layout import read_current, read_pointer, versions
from index.storage.sentences import SentenceTable
from tests.fakes.hashing import HashingEmbedder

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def library() -> list[Article]:
    articles, failures = load_articles([str(bundled_dir() / "articles"), str(FIXTURES)])
    assert len(articles) == 4 and not failures
    return articles


def by_id(articles: list[Article], article_id: str) -> Article:
    return next(a for a in articles if a.id == article_id)


def test_add_embeds_only_new_text(
    tmp_path: Path, fast_embedder: HashingEmbedder, library: list[Article]
) -> None:
    collection = IndexDirectory(tmp_path / "index", fast_embedder)
    first = collection.add(library[:3])
    assert sorted(first.added) == sorted(a.id for a in library[:3]) and first.changed
    chunks_before = first.manifest.chunk_count
    second = collection.add(library[3:])
    assert second.added == [library[3].id] and second.unchanged == 3
    embedded = second.manifest.extra["chunks_embedded"]
    assert embedded == second.manifest.chunk_count - chunks_before  # only the new article's
    # and only its sentences: the others' sentence vectors come from the cache
    loaded = ArticleIndex.load(tmp_path / "index", fast_embedder)
    new_chunks = [c for c in loaded.chunks if c.article_id == library[3].id]
    new_sentences = len(SentenceTable.split(new_chunks)[1])
    assert 0 < second.manifest.extra["sentences_embedded"] <= new_sentences


def test_nothing_changed_publishes_nothing(
    tmp_path: Path, fast_embedder: HashingEmbedder, library: list[Article]
) -> None:
    collection = IndexDirectory(tmp_path / "index", fast_embedder)
    collection.add(library)
    version = read_pointer(tmp_path / "index")
    again = collection.add(library)
    assert not again.changed and read_pointer(tmp_path / "index") == version
    assert len(versions(tmp_path / "index")) == 1


def test_changed_build_settings_rebuild_unchanged_articles(
    tmp_path: Path, fast_embedder: HashingEmbedder, library: list[Article]
) -> None:
    """A version made with other build settings (here, chunk size) is rebuilt by the
    next change even when no article changed; then it stands until they change again."""
    index_dir = tmp_path / "index"
    old = IndexDirectory(index_dir, fast_embedder).add(library).manifest
    smaller = IndexDirectory(index_dir, fast_embedder, IndexConfig(chunk_target_tokens=64))
    report = smaller.add(library)
    assert report.settings_changed and report.changed and report.unchanged == len(library)
    assert report.manifest.chunking["target_tokens"] == 64
    assert report.manifest.chunk_count > old.chunk_count
    assert read_current(index_dir)[0].version == report.manifest.version
    again = smaller.add(library)
    assert not again.changed and again.manifest.version == report.manifest.version


def test_a_version_without_a_recipe_is_rebuilt(
    tmp_path: Path, fast_embedder: HashingEmbedder, library: list[Article]
) -> None:
    """A version built before recipes were recorded cannot vouch for its settings."""
    index_dir = tmp_path / "index"
    collection = IndexDirectory(index_dir, fast_embedder)
    old = collection.add(library).manifest
    path = index_dir / "versions" / old.version / "manifest.json"
    path.write_text(replace(old, recipe={}).to_json())
    assert collection.add(library).settings_changed
    assert read_pointer(index_dir) != old.version


def test_an_older_articlebot_leaves_a_newer_ones_version_alone(
    tmp_path: Path,
    fast_embedder: HashingEmbedder,
    library: list[Article],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a rolling upgrade, a replica not yet upgraded must not rebuild what an
    upgraded one built, or each would rebuild the index back on every refresh."""
    index_dir = tmp_path / "index"
    monkeypatch.setattr("index.build.publish.BUILD_VERSION", 2)  # the upgraded ArticleBot
    newer = IndexDirectory(index_dir, fast_embedder).add(library[:3]).manifest
    monkeypatch.setattr("index.build.publish.BUILD_VERSION", 1)
    older = IndexDirectory(index_dir, fast_embedder)
    with pytest.raises(NewerBuildError, match=r"newer ArticleBot \(build version 2\)"):
        older.add(library)
    assert read_pointer(index_dir) == newer.version and len(versions(index_dir)) == 1
    monkeypatch.setattr("index.build.publish.BUILD_VERSION", 3)  # upgraded past it: rebuilt
    assert older.add(library).settings_changed and read_pointer(index_dir) != newer.version


def test_articles_added_by_hand_stay_through_a_sync(
    tmp_path: Path, fast_embedder: HashingEmbedder, library: list[Article]
) -> None:
    """The operator's own articles (`index add`) are not the sources' to drop: a sync
    keeps them until they are removed by hand. One the sources give becomes theirs."""
    index_dir = tmp_path / "index"
    collection = IndexDirectory(index_dir, fast_embedder)
    collection.sync(library[:2])
    collection.add(library[2:3], by_hand=True)
    report = collection.sync(library[:1])  # the sources no longer give library[1]
    assert report.removed == [library[1].id]
    assert {a.id for a in collection.articles()} == {library[0].id, library[2].id}
    assert added_by_hand(report.manifest) == {library[2].id}
    claimed = collection.sync([library[0], library[2]])
    assert claimed.by_hand_changed and added_by_hand(claimed.manifest) == set()
    assert collection.sync(library[:1]).removed == [library[2].id]
    collection.add(library[3:], by_hand=True)
    assert collection.remove([library[3].id]).removed == [library[3].id]
    assert added_by_hand(read_current(index_dir)[0]) == set()


def test_changed_and_removed_articles_leave_the_index(
    tmp_path: Path, fast_embedder: HashingEmbedder, library: list[Article]
) -> None:
    collection = IndexDirectory(tmp_path / "index", fast_embedder)
    collection.add(library)
    bridge = by_id(library, "harbour-bridge")
    changed = replace(bridge, text=bridge.text + "\n\nThe toll was abolished.", content_hash="x")
    report = collection.add([changed])
    assert report.updated == ["harbour-bridge"]
    report = collection.remove(["observatory"])
    assert report.removed == ["observatory"]
    _manifest, held = read_current(tmp_path / "index")
    assert {a.id for a in held} == {"russia-leaves-iss", "harbour-bridge", "orchard-festival"}
    assert "toll was abolished" in by_id(held, "harbour-bridge").text
    with pytest.raises(UnknownArticleError, match="no such article: nope"):
        collection.remove(["nope"])


def test_sync_holds_exactly_the_given_articles_and_keeps_failed_sources(
    tmp_path: Path, fast_embedder: HashingEmbedder, library: list[Article]
) -> None:
    collection = IndexDirectory(tmp_path / "index", fast_embedder)
    collection.add(library)
    kept_source = by_id(library, "observatory").source
    report = collection.sync(library[:1], keep_sources={kept_source})
    _manifest, held = read_current(tmp_path / "index")
    assert {a.id for a in held} == {library[0].id, "observatory"}
    assert set(report.removed) == {a.id for a in library[1:]} - {"observatory"}


def test_rollback_and_versions_kept(
    tmp_path: Path, fast_embedder: HashingEmbedder, library: list[Article]
) -> None:
    index_dir = tmp_path / "index"
    IndexDirectory(index_dir, fast_embedder).add(library[:1])
    with pytest.raises(NoOlderVersionError):
        rollback(index_dir)
    collection = IndexDirectory(index_dir, fast_embedder, IndexConfig(keep_versions=2))
    names = [collection.add([article]).manifest.version for article in library[1:]]
    assert versions(index_dir) == names[-2:]  # the oldest were pruned
    assert rollback(index_dir) == names[-2] == read_pointer(index_dir)
    status = index_status(index_dir)
    assert status["version"] == names[-2] and status["query_embedding"] == "torch"


def test_embedding_in_batches_fills_the_given_array_and_embeds_each_text_once(
    tmp_path: Path, fast_embedder: HashingEmbedder, library: list[Article]
) -> None:
    """A large build embeds a batch at a time into a file-backed array: the vectors are
    those of embedding everything at once, and a text repeated in a later batch comes
    from the cache, not the model."""
    texts = [a.title for a in library] * 3 + ["only once"]
    encoder = fast_embedder.encoder()
    cache = open_cache(tmp_path, fast_embedder)
    with scratch_array(tmp_path, len(texts), fast_embedder.dimension) as out:
        vectors, embedded = embed_with_cache(texts, encoder, cache, out=out, batch=3)
        assert vectors is out and isinstance(out, np.memmap)
        np.testing.assert_array_equal(vectors, encoder.encode(texts))
    assert embedded == len(set(texts))
    assert list(tmp_path.glob(".tmp-*")) == []  # the scratch file is gone


def test_the_embedding_cache_keeps_each_models_vectors_apart(fast_index_copy: Path) -> None:
    """One index directory's cache, two models of the same dimension: the second
    model's vectors are its own, never the first one's found under the same text."""
    first, second = HashingEmbedder(), HashingEmbedder("test/other-model", salt=b"other")
    texts = ["The harbour crane at Port Elsworth was replaced after forty years."]
    assert not np.allclose(first.encode(texts), second.encode(texts))
    embed_with_cache(texts, first, open_cache(fast_index_copy, first))
    vectors, embedded = embed_with_cache(texts, second, open_cache(fast_index_copy, second))
    assert embedded == 1 and np.allclose(vectors, second.encode(texts))
    again, embedded = embed_with_cache(texts, first, open_cache(fast_index_copy, first))
    assert embedded == 0 and np.allclose(again, first.encode(texts))


def test_a_build_removes_the_scratch_file_a_killed_build_left(
    tmp_path: Path, fast_embedder: HashingEmbedder, library: list[Article]
) -> None:
    index_dir = tmp_path / "index"
    collection = IndexDirectory(index_dir, fast_embedder)
    collection.add(library[:1])
    left = index_dir / "versions" / ".tmp-0123456789ab.npy"
    left.write_bytes(b"\0" * 4096)
    collection.add(library[1:2])
    assert not left.exists()
    assert sorted(p.name for p in (index_dir / "versions").iterdir()) == versions(index_dir)
