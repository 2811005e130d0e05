"""Milvus as the vector store (index/storage/milvus.py), against Milvus Lite: the real
engine, in this process, serving on 127.0.0.1. A version built into Milvus is
found, fused, cited and switched exactly as one built into FAISS files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.collection import IndexWatcher
from bot.settings import Settings, bundled_dir
from bot.wiring import make_answerer
from index.build.directory import IndexDirectory, rollback
from index.build.publish import build_index
from index.config import IndexConfig, RetrievalConfig, RetrievalMode
from index.embedding.embedder import Embedder
from index.errors import IndexCorruptError, VectorStoreError
from index.records import Article
from index.retrieval import Retriever, Terms
from index.sources.articles import load_articles
from index.storage.article_index import ArticleIndex
from index.storage.layout import LEXICAL, MANIFEST, VECTORS, VERSIONS, read_pointer, versions
from index.storage.milvus import LITE_FILE, MilvusConfig, collection_name, connect
from tests.conftest import FIXTURES
from tests.fakes.hashing import HashingEmbedder

MILVUS = IndexConfig(vector_store="milvus")
QUESTIONS = [
    "Mara Lindqvist",
    "When was the International Space Station launched?",
    "How long is the harbour bridge?",
    "What fruit does the orchard festival celebrate?",
    "Who runs the observatory?",
    "Why is Russia leaving the space station?",
]


def library() -> list[Article]:
    articles, failures = load_articles([str(bundled_dir() / "articles"), str(FIXTURES)])
    assert len(articles) == 4 and not failures
    return articles


def milvus_collections(index_dir: Path) -> list[str]:
    return sorted(connect(MilvusConfig(str(index_dir / LITE_FILE))).list_collections())


@pytest.fixture(scope="module")
def fast_milvus_dir(
    tmp_path_factory: pytest.TempPathFactory, fast_embedder: HashingEmbedder
) -> Path:
    index_dir = tmp_path_factory.mktemp("milvus") / "index"
    build_index(library(), fast_embedder, index_dir, MILVUS)
    return index_dir


def test_a_milvus_version_holds_no_faiss_files_and_names_its_collection(
    fast_milvus_dir: Path,
) -> None:
    version_dir = fast_milvus_dir / VERSIONS / read_pointer(fast_milvus_dir)
    manifest = json.loads((version_dir / MANIFEST).read_text())
    about = manifest["extra"]["vector_index"]
    assert about["type"] == "milvus" and about["dense_index"] == "FLAT"
    assert about["collection"] == collection_name(version_dir.name)
    assert not (version_dir / VECTORS).exists() and not (version_dir / LEXICAL).exists()
    assert milvus_collections(fast_milvus_dir) == [about["collection"]]
    client = connect(MilvusConfig(str(fast_milvus_dir / LITE_FILE)))
    rows = client.query(about["collection"], ids=[0], output_fields=["chunk_id", "text"])
    first = ArticleIndex.load(fast_milvus_dir, HashingEmbedder()).chunks[0]
    assert (rows[0]["chunk_id"], rows[0]["text"]) == (first.id, first.text)


@pytest.fixture(scope="module")
def both_stores(
    fast_milvus_dir: Path, fast_index_dir: Path, fast_embedder: HashingEmbedder, settings: Settings
) -> tuple[Retriever, Retriever]:
    """Retrievers over the same articles: FAISS and bm25s files, and Milvus."""
    config = settings.section(RetrievalConfig)
    in_files = Retriever(ArticleIndex.load(fast_index_dir, fast_embedder), config, Terms())
    in_milvus = Retriever(ArticleIndex.load(fast_milvus_dir, fast_embedder), config, Terms())
    assert in_milvus.index.vectors.ntotal == in_files.index.vectors.ntotal
    return in_files, in_milvus


@pytest.mark.parametrize("mode", list(RetrievalMode))
def test_milvus_ranks_and_scores_as_faiss_and_bm25s_do(
    mode: RetrievalMode, both_stores: tuple[Retriever, Retriever]
) -> None:
    """The same articles in both stores: in every mode, the same passages in the same
    order with the same cosines and scores (Milvus's BM25, with the same k1 and b
    over the same terms, is bm25s's)."""
    in_files, in_milvus = both_stores
    for question in QUESTIONS:
        expected = in_files.index.lexical.search(question, 30)
        found = in_milvus.index.lexical.search(question, 30)
        assert [i for i, _ in found] == [i for i, _ in expected], question
        assert [s for _, s in found] == pytest.approx([s for _, s in expected], rel=1e-5)
        expected, _ = in_files.search(question, 5, mode=mode)
        found, _ = in_milvus.search(question, 5, mode=mode)
        assert [h.chunk.id for h in found] == [h.chunk.id for h in expected], question
        assert [h.score for h in found] == pytest.approx([h.score for h in expected], abs=1e-5)
        assert [h.cosine for h in found] == pytest.approx([h.cosine for h in expected], abs=1e-5)


def test_bm25_in_milvus_matches_stems_and_skips_stop_words(fast_milvus_dir: Path) -> None:
    client = connect(MilvusConfig(str(fast_milvus_dir / LITE_FILE)))
    index = ArticleIndex.load(fast_milvus_dir, HashingEmbedder())
    assert index.lexical.search("the of and", 5) == []  # stop words only: nothing to match
    launched = index.lexical.search("launches", 5)  # the texts say "launched", "launch"
    assert len(launched) >= 2 and all(score > 0 for _, score in launched)
    assert all("launch" in index.chunks[i].text.lower() for i, _ in launched)
    assert client.has_collection(index.manifest.extra["vector_index"]["collection"])


def test_each_build_is_a_new_collection_and_pruning_drops_the_old_ones(
    tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    index_dir = tmp_path / "index"
    config = IndexConfig(vector_store="milvus", keep_versions=2)
    articles = library()
    for n in range(3):
        changed = Article(**{**articles[0].to_dict(), "text": articles[0].text + f" Edit {n}."})
        build_index([changed, *articles[1:]], fast_embedder, index_dir, config)
    kept = versions(index_dir)
    assert len(kept) == 2
    assert milvus_collections(index_dir) == sorted(collection_name(v) for v in kept)
    index = ArticleIndex.load(index_dir, fast_embedder)
    assert index.version == kept[-1] and "Edit 2." in " ".join(c.text for c in index.chunks)


def test_back_on_faiss_the_milvus_versions_collections_go_as_they_are_pruned(
    tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    """Switching `vector_store` back to FAISS rebuilds the same articles into files (the
    store is part of a version's recipe), and pruning the Milvus version drops its
    collection rather than leaving it in Milvus for good."""
    index_dir = tmp_path / "index"
    articles = library()
    IndexDirectory(
        index_dir, fast_embedder, IndexConfig(vector_store="milvus", keep_versions=1)
    ).add(articles)
    assert len(milvus_collections(index_dir)) == 1
    report = IndexDirectory(index_dir, fast_embedder, IndexConfig(keep_versions=1)).add(articles)
    assert report.settings_changed and versions(index_dir) == [report.manifest.version]
    assert report.manifest.faiss_index == "IndexFlatIP"
    assert milvus_collections(index_dir) == []


def test_a_failed_build_leaves_no_collection_and_the_current_version_serving(
    tmp_path: Path, fast_embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    build_index(library(), fast_embedder, index_dir, MILVUS)
    before = read_pointer(index_dir), milvus_collections(index_dir)

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(
        "index.build.publish.write_text", disk_full
    )  # after the collection is written
    with pytest.raises(OSError):
        build_index(library()[:2], fast_embedder, index_dir, MILVUS)
    assert (read_pointer(index_dir), milvus_collections(index_dir)) == before
    assert ArticleIndex.load(index_dir, fast_embedder).manifest.chunk_count > 0


def test_a_running_answerer_follows_milvus_versions_and_a_rollback(
    tmp_path: Path, fast_embedder: HashingEmbedder, settings: Settings
) -> None:
    index_dir = tmp_path / "index"
    articles = library()
    bridge = next(a for a in articles if a.id == "harbour-bridge")
    config = IndexConfig(vector_store="milvus", milvus_uri=str(tmp_path / "elsewhere.db"))
    milvus = MilvusConfig.of(config, index_dir)
    collection = IndexDirectory(index_dir, fast_embedder, config)
    collection.add([a for a in articles if a is not bridge])
    answerer = make_answerer(settings, ArticleIndex.load(index_dir, fast_embedder, milvus))
    watcher = IndexWatcher(answerer, index_dir, fast_embedder, milvus)
    assert not (index_dir / LITE_FILE).exists()
    first = answerer.index.version
    assert not answerer.index.lexical.search("harbour bridge", 5)
    collection.add([bridge])
    assert watcher.refresh() and answerer.index.version != first
    found = answerer.index.lexical.search("harbour bridge", 5)
    assert answerer.index.chunks[found[0][0]].article_id == "harbour-bridge"
    assert rollback(index_dir) == first
    assert watcher.refresh() and answerer.index.version == first
    assert not answerer.index.lexical.search("harbour bridge", 5)


def test_a_version_whose_collection_is_gone_is_refused_by_name(
    tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    index_dir = tmp_path / "index"
    build_index(library()[:1], fast_embedder, index_dir, MILVUS)
    name = collection_name(read_pointer(index_dir))
    connect(MilvusConfig(str(index_dir / LITE_FILE))).drop_collection(name)
    with pytest.raises(IndexCorruptError, match=f"Milvus collection '{name}'.*rebuild"):
        ArticleIndex.load(index_dir, fast_embedder)


def test_a_collection_missing_chunks_is_refused(
    tmp_path: Path, fast_embedder: HashingEmbedder
) -> None:
    index_dir = tmp_path / "index"
    build_index(library(), fast_embedder, index_dir, MILVUS)
    name = collection_name(read_pointer(index_dir))
    client = connect(MilvusConfig(str(index_dir / LITE_FILE)))
    client.delete(name, ids=[0])
    client.flush(name)
    with pytest.raises(IndexCorruptError, match=f"{name} holds 5 chunks.*has 6"):
        ArticleIndex.load(index_dir, fast_embedder)


def test_past_flat_max_the_dense_index_is_hnsw(
    tmp_path: Path, fast_embedder: HashingEmbedder, settings: Settings
) -> None:
    index_dir = tmp_path / "index"
    config = IndexConfig(vector_store="milvus", faiss_flat_max=2, hnsw_ef_search=64)
    build_index(library(), fast_embedder, index_dir, config)
    index = ArticleIndex.load(index_dir, fast_embedder)
    about = index.manifest.extra["vector_index"]
    assert about["dense_index"] == "HNSW" and about["ef_search"] == 64
    client = connect(MilvusConfig(str(index_dir / LITE_FILE)))
    built = client.describe_index(about["collection"], "dense")
    assert built["index_type"] == "HNSW" and built["params"]["M"] == 32, built
    retriever = Retriever(index, settings.section(RetrievalConfig), Terms())
    hit = retriever.search("Mara Lindqvist", 1, mode="dense")[0][0]
    assert "Mara Lindqvist" in hit.chunk.text
    stored = index.vectors.reconstruct_batch(np.array([0, 1]))
    assert stored.shape == (2, fast_embedder.dimension)
    assert np.allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-4)


def test_a_lite_file_held_by_another_process_gets_a_short_message(tmp_path: Path) -> None:
    uri = str(tmp_path / LITE_FILE)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pymilvus import MilvusClient; "
            f"MilvusClient({uri!r}); print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        started = time.monotonic()
        with pytest.raises(VectorStoreError, match="one process") as refused:
            connect(MilvusConfig(uri))
        assert uri in str(refused.value) and time.monotonic() - started < 30
    finally:
        holder.kill()
        holder.wait()


# --- the real model, end to end ------------------------------------------------------------


def test_answers_and_citations_from_milvus_are_those_from_faiss(
    fixture_index_dir: Path,
    embedder: Embedder,
    settings: Settings,
    tmp_path: Path,
) -> None:
    index_dir = tmp_path / "index"
    build_index(library(), embedder, index_dir, MILVUS)
    from_files = make_answerer(settings, ArticleIndex.load(fixture_index_dir, embedder))
    from_milvus = make_answerer(settings, ArticleIndex.load(index_dir, embedder))
    gold = (FIXTURES.parent / "questions" / "bundled-article.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in gold]
    for question in [*QUESTIONS, *questions, "What is the capital of Peru?"]:
        a, b = from_files.answer(question), from_milvus.answer(question)
        assert (b.text, b.abstained) == (a.text, a.abstained), question
        assert [(p.chunk.id, p.article.id, p.cited) for p in b.sources] == [
            (p.chunk.id, p.article.id, p.cited) for p in a.sources
        ], question


def test_the_command_line_builds_into_milvus_and_answers_from_it(
    tmp_path: Path, embedder: Embedder
) -> None:
    """`index build` then `ask` with ARTICLEBOT_VECTOR_STORE=milvus, as an operator
    runs them: the settings alone send the build to Milvus (Lite, at milvus_uri)
    and the questions to it."""
    env = {
        "ARTICLEBOT_VECTOR_STORE": "milvus",
        "ARTICLEBOT_MILVUS_URI": str(tmp_path / "shared.db"),
        "ARTICLEBOT_DATA_DIR": str(tmp_path),
    }
    index_dir = tmp_path / "index"
    runner = CliRunner()
    built = runner.invoke(
        app,
        ["index", "build", str(bundled_dir() / "articles"), "--index-dir", str(index_dir)],
        env=env,
    )
    assert built.exit_code == 0, built.output
    assert (tmp_path / "shared.db").exists() and not (index_dir / LITE_FILE).exists()
    asked = runner.invoke(
        app,
        [
            "ask",
            "When was the International Space Station launched?",
            "--index-dir",
            str(index_dir),
        ],
        env=env,
    )
    assert asked.exit_code == 0, asked.output
    assert "1998" in asked.output and "Russia plans to leave" in asked.output


def test_without_pymilvus_the_message_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pymilvus", None)  # import pymilvus: ImportError
    with pytest.raises(VectorStoreError, match=r"pip install 'articlebot\[milvus\]'"):
        connect(MilvusConfig(str(tmp_path / LITE_FILE)))
