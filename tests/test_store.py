"""The FAISS store on disk: manifest, atomic versions, clear errors on damage."""

from __future__ import annotations

import gc
import json
import mmap
import os
import threading
import weakref
from pathlib import Path

import faiss
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.collection import watch_index
from bot.settings import Settings, bundled_dir
from bot.wiring import load_index, make_answerer
from index.build.publish import BuildLock, build_index, chunk_articles, chunking_config
from index.config import IndexConfig, RetrievalConfig
from index.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexIncompatibleError,
    IndexMissingError,
    NoArticlesError,
)
from index.retrieval import Retriever, Terms
from index.sources.articles import load_articles
from index.storage.article_index import READ_AHEAD, ArticleIndex
from index.storage.files import FileBytes, FileRows, read_through, save_array
from index.storage.layout import MANIFEST, TERM_STATS, VECTORS, jsonl, read_pointer
from index.storage.tables import ARTICLE_OFFSETS, CHUNK_INDEX, CHUNK_TEXT, ArticleTable, ChunkTable
from index.storage.terms import TermStats, term_key
from index.storage.vectors import (
    EXACT_VECTORS,
    RescoredVectors,
    VectorIndexConfig,
    build_vector_index,
)
from tests.fakes.hashing import HashingEmbedder

FIXTURES = Path(__file__).parent / "fixtures"


def current_dir(index_dir: Path) -> Path:
    return index_dir / "versions" / read_pointer(index_dir)


def test_manifest_records_how_the_index_was_built(
    fast_index_dir: Path, fast_embedder: HashingEmbedder
) -> None:
    index = ArticleIndex.load(fast_index_dir, fast_embedder)
    manifest = json.loads((current_dir(fast_index_dir) / MANIFEST).read_text())
    assert manifest["format"] == 1
    assert manifest["model_name"] == fast_embedder.model_name
    assert manifest["dimension"] == fast_embedder.dimension
    assert manifest["chunking"]["max_tokens"] == 254
    assert {a["id"] for a in manifest["articles"]} == set(index.articles) and len(
        index.articles
    ) == 4
    assert len(manifest["articles"][0]["content_hash"]) == 64
    assert manifest["chunk_count"] == len(index.chunks) == index.vectors.ntotal
    assert manifest["built_at"] and manifest["build_seconds"] >= 0


def test_vectors_are_normalised_inner_product(
    fast_index_dir: Path, fast_embedder: HashingEmbedder
) -> None:
    raw = faiss.read_index(str(current_dir(fast_index_dir) / VECTORS))
    assert raw.metric_type == faiss.METRIC_INNER_PRODUCT
    vectors = raw.reconstruct_n(0, raw.ntotal)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # the stored vector of a chunk is the embedder's vector of its text
    index = ArticleIndex.load(fast_index_dir, fast_embedder)
    again = fast_embedder.encode([index.chunks[0].text])[0]
    assert float(vectors[0] @ again) > 0.9999


def test_rebuild_switches_version_and_keeps_a_few(
    fast_index_copy: Path, fast_embedder: HashingEmbedder
) -> None:
    articles, _ = load_articles([str(FIXTURES)])
    before = read_pointer(fast_index_copy)
    for _ in range(4):
        build_index(articles, fast_embedder, fast_index_copy, IndexConfig(keep_versions=2))
    after = read_pointer(fast_index_copy)
    assert after != before
    versions = sorted(p.name for p in (fast_index_copy / "versions").iterdir())
    assert len(versions) == 2 and after in versions
    assert {a for a in ArticleIndex.load(fast_index_copy, fast_embedder).articles} == {
        "harbour-bridge",
        "observatory",
        "orchard-festival",
    }


def test_crash_mid_build_leaves_the_previous_index_whole(
    fast_index_copy: Path, fast_embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = read_pointer(fast_index_copy)
    held = set(ArticleIndex.load(fast_index_copy, fast_embedder).articles)
    articles, _ = load_articles([str(FIXTURES)])

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", disk_full)
    with pytest.raises(OSError, match="No space left"):
        build_index(articles, fast_embedder, fast_index_copy)
    assert read_pointer(fast_index_copy) == before
    index = ArticleIndex.load(fast_index_copy, fast_embedder)
    assert set(index.articles) == held
    assert not [p for p in (fast_index_copy / "versions").iterdir() if p.name.startswith(".tmp")]


def test_missing_index_is_a_clear_error(tmp_path: Path, fast_embedder: HashingEmbedder) -> None:
    with pytest.raises(IndexMissingError, match="articlebot index build"):
        ArticleIndex.load(tmp_path / "nowhere", fast_embedder)


@pytest.mark.parametrize(
    "name",
    ["vectors.faiss", CHUNK_TEXT, CHUNK_INDEX, "articles.jsonl", ARTICLE_OFFSETS],
)
def test_truncated_file_is_named_in_the_error(
    fast_index_copy: Path, fast_embedder: HashingEmbedder, name: str
) -> None:
    path = current_dir(fast_index_copy) / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorruptError) as info:
        ArticleIndex.load(fast_index_copy, fast_embedder)
    assert name in str(info.value) and "articlebot index build" in str(info.value)


def test_chunks_and_articles_read_from_their_tables_are_the_ones_built(
    fast_index_dir: Path, fast_embedder: HashingEmbedder
) -> None:
    """Opening a version maps its chunk and article tables (no object per row):
    each chunk and article read from them is the one the build chunked and stored."""
    articles, _ = load_articles([str(bundled_dir() / "articles"), str(FIXTURES)])
    built = chunk_articles(articles, fast_embedder, chunking_config(IndexConfig(), fast_embedder))
    index = ArticleIndex.load(fast_index_dir, fast_embedder)
    assert isinstance(index.chunks, ChunkTable) and isinstance(index.articles, ArticleTable)
    assert list(index.chunks) == built and len(index.chunks) == len(built)
    assert [c.position for c in index.chunks] == list(range(len(built)))
    assert index.chunks[-1] == built[-1] and index.chunks[-1].position == len(built) - 1
    assert index.chunks[1:3] == built[1:3]
    assert dict(index.articles) == {a.id: a for a in articles}
    assert "no-such-article" not in index.articles
    with pytest.raises(KeyError):
        index.articles["no-such-article"]


def test_a_version_with_chunk_and_article_lines_still_loads(
    fast_index_dir: Path, fast_index_copy: Path, fast_embedder: HashingEmbedder
) -> None:
    """Versions built before the tables (chunks.jsonl, articles.jsonl unindexed) load
    as they did, every row in memory, with the same chunks and articles."""
    version = current_dir(fast_index_copy)
    newer = ArticleIndex.load(fast_index_dir, fast_embedder)
    (version / "chunks.jsonl").write_text(jsonl([c.to_dict() for c in newer.chunks]))
    manifest = json.loads((version / MANIFEST).read_text())
    for name in (CHUNK_TEXT, CHUNK_INDEX, ARTICLE_OFFSETS):
        (version / name).unlink()
        del manifest["files"][name]
    manifest["files"]["chunks.jsonl"] = (version / "chunks.jsonl").stat().st_size
    (version / MANIFEST).write_text(json.dumps(manifest))
    older = ArticleIndex.load(fast_index_copy, fast_embedder)
    assert isinstance(older.chunks, list) and older.chunks == list(newer.chunks)
    assert [c.position for c in older.chunks] == list(range(len(older.chunks)))
    assert older.articles == dict(newer.articles)


def test_same_size_damage_to_the_chunk_table_is_caught(
    fast_index_copy: Path, fast_embedder: HashingEmbedder
) -> None:
    path = current_dir(fast_index_copy) / CHUNK_INDEX
    table = np.load(path)
    table[-1, 1] += 1  # the last chunk's text ends past the text file
    with open(path, "wb") as handle:
        np.save(handle, table)
    with pytest.raises(IndexCorruptError, match=r"chunks and articles.*articlebot index build"):
        ArticleIndex.load(fast_index_copy, fast_embedder)


@pytest.mark.parametrize("article_row", [10**6, -1])
def test_a_chunk_naming_no_article_is_refused_when_read(
    fast_index_copy: Path, fast_embedder: HashingEmbedder, article_row: int
) -> None:
    """Same-size damage to a chunk's article column: that chunk is refused with the
    fix when read (the column is not read whole at open); the others still read."""
    path = current_dir(fast_index_copy) / CHUNK_INDEX
    table = np.load(path)
    table[1, 2] = article_row
    with open(path, "wb") as handle:
        np.save(handle, table)
    index = ArticleIndex.load(fast_index_copy, fast_embedder)
    assert index.chunks[0].article_id in index.articles
    with pytest.raises(IndexCorruptError, match=r"chunk 1 .*articlebot index build"):
        index.chunks[1]


def test_garbage_files_are_corrupt_not_crashes(
    fast_index_copy: Path, fast_embedder: HashingEmbedder
) -> None:
    version = current_dir(fast_index_copy)
    (version / MANIFEST).write_text("{not json")
    with pytest.raises(IndexCorruptError, match=r"manifest\.json"):
        ArticleIndex.load(fast_index_copy, fast_embedder)


def test_same_size_garbage_in_vectors_is_caught(
    fast_index_copy: Path, fast_embedder: HashingEmbedder
) -> None:
    path = current_dir(fast_index_copy) / VECTORS
    path.write_bytes(b"\0" * path.stat().st_size)
    with pytest.raises(IndexCorruptError, match=r"vectors\.faiss"):
        ArticleIndex.load(fast_index_copy, fast_embedder)


def test_index_from_another_model_is_refused(
    fast_index_copy: Path, fast_embedder: HashingEmbedder
) -> None:
    path = current_dir(fast_index_copy) / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["model_name"], manifest["dimension"] = "intfloat/e5-large", 1024
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexIncompatibleError, match="e5-large"):
        ArticleIndex.load(fast_index_copy, fast_embedder)


def test_build_with_no_articles_changes_nothing(
    fast_index_copy: Path, fast_embedder: HashingEmbedder
) -> None:
    before = read_pointer(fast_index_copy)
    with pytest.raises(NoArticlesError):
        build_index([], fast_embedder, fast_index_copy)
    assert read_pointer(fast_index_copy) == before


def test_a_second_build_waits_or_fails_clearly(
    fast_index_copy: Path, fast_embedder: HashingEmbedder
) -> None:
    articles, _ = load_articles([str(bundled_dir() / "articles")])
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with BuildLock(fast_index_copy):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(5)
    try:
        with pytest.raises(IndexBusyError, match="another build"):
            build_index(articles, fast_embedder, fast_index_copy)
    finally:
        release.set()
        thread.join()
    build_index(articles, fast_embedder, fast_index_copy)
    assert ArticleIndex.load(fast_index_copy, fast_embedder).chunks


@pytest.mark.parametrize(
    ("kept_as", "faiss_type"), [("sq8", faiss.IndexHNSWSQ), ("float32", faiss.IndexHNSWFlat)]
)
def test_large_indexes_use_hnsw_with_measured_recall(
    tmp_path: Path, fast_embedder: HashingEmbedder, kept_as: str, faiss_type: type
) -> None:
    """Above faiss_flat_max, HNSW: over 8-bit codes by default, its candidates
    re-scored from the float32 vectors kept beside it, or over float32 vectors.
    Either way the cosines are the exact ones."""
    articles, _ = load_articles([str(FIXTURES), str(bundled_dir() / "articles")])
    # faiss_flat_max 2, so these few chunks count as "large"
    config = IndexConfig(faiss_flat_max=2, hnsw_vectors=kept_as)
    manifest = build_index(articles, fast_embedder, tmp_path / "hnsw", config)
    about = manifest.extra["vector_index"]
    assert manifest.faiss_index == about["type"] == faiss_type.__name__
    assert about["recall_at_5"] >= 0.95 and about["ef_search"] == config.hnsw_ef_search
    assert (EXACT_VECTORS in manifest.files) == (kept_as == "sq8")
    index = ArticleIndex.load(tmp_path / "hnsw", fast_embedder)
    hnsw = index.vectors.index if kept_as == "sq8" else index.vectors
    assert isinstance(hnsw, faiss_type) and hnsw.hnsw.efSearch == config.hnsw_ef_search
    assert isinstance(index.vectors, RescoredVectors) == (kept_as == "sq8")
    question = "How much did the harbour bridge cost?"
    found, _ = Retriever(index, RetrievalConfig(), Terms()).search(
        question, 3, "dense", rerank=False
    )
    assert found[0].chunk.article_id == "harbour-bridge"
    query = fast_embedder.encode([question])[0]
    exact = (fast_embedder.encode([c.text for c in index.chunks]) @ query).tolist()
    assert [h.cosine for h in found] == pytest.approx(
        [exact[h.chunk.position] for h in found], abs=1e-5
    )
    small = build_index(articles, fast_embedder, tmp_path / "flat")
    assert small.faiss_index == "IndexFlatIP" and small.extra["vector_index"]["recall_at_5"] == 1.0
    assert EXACT_VECTORS not in small.files


def test_rescoring_puts_the_codes_candidates_in_exact_order() -> None:
    """Near-duplicates that 8-bit codes cannot tell apart, in groups of 8 (fewer
    than the 10 candidates re-scored for 5): the re-scored search returns the exact
    top 5 (up to float rounding among ties), in order, with exact scores; the codes
    alone do not."""
    rng = np.random.default_rng(3)
    bases = rng.normal(size=(250, 32))
    vectors = np.repeat(bases, 8, axis=0) + rng.normal(0, 0.002, size=(2000, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    config = VectorIndexConfig(flat_max=10, hnsw_m=16, ef_construction=100, ef_search=256)
    codes, _ = build_vector_index(vectors, config)
    queries = vectors[::50] + rng.normal(0, 0.001, size=(40, 32)).astype(np.float32)
    exact = faiss.IndexFlatIP(32)
    exact.add(vectors)
    truth_scores, _ = exact.search(queries, 5)
    approximate, _ = codes.search(queries, 5)
    scores, found = RescoredVectors(codes, vectors).search(queries, 5)
    assert np.abs(approximate - truth_scores).max() > 1e-4
    assert scores == pytest.approx(truth_scores, abs=1e-6)
    assert np.einsum("qkd,qd->qk", vectors[found], queries) == pytest.approx(scores, abs=1e-6)


def test_measured_recall_reflects_a_weak_index() -> None:
    from index.storage.vectors import measure_recall

    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(2000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = faiss.IndexFlatIP(32)
    exact.add(vectors)
    assert measure_recall(exact, vectors, 200) == 1.0
    weak = faiss.IndexHNSWFlat(32, 4, faiss.METRIC_INNER_PRODUCT)
    weak.add(vectors)
    weak.hnsw.efSearch = 1
    assert measure_recall(weak, vectors, 200) < 0.95


def test_opening_a_version_counts_no_terms(
    fast_index_copy: Path, fast_embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The document frequencies and each sentence's terms are worked out at build time
    and stored in the version: opening it and making its retriever reads them, and
    gives the IDFs that counting every chunk gives; a search analyses only the
    question, and finds each sentence's terms as analysing it would."""
    index = ArticleIndex.load(fast_index_copy, fast_embedder)
    counted = TermStats.of((c.text for c in index.chunks), Terms())
    assert index.term_stats == counted and counted.chunks == len(index.chunks) > 0
    analysed: list[str] = []
    real = Terms.__call__

    def spy(self: Terms, text: str) -> set[str]:
        analysed.append(text)
        return real(self, text)

    monkeypatch.setattr(Terms, "__call__", spy)
    retriever = Retriever(
        ArticleIndex.load(fast_index_copy, fast_embedder), RetrievalConfig(), Terms()
    )
    assert analysed == []  # no chunk's text was analysed to open it
    question = "When was the International Space Station launched?"
    weights = retriever.weights(question)
    raw = {t: counted.idf(t) for t in Terms()(question)}
    assert weights == {term_key(t): w / sum(raw.values()) for t, w in raw.items()}
    analysed.clear()
    hits, _ = retriever.search(question, 5)
    assert analysed == [question]
    for hit in hits:
        for sentence in retriever.sentences(hit.chunk):
            words = real(Terms(), hit.chunk.text[sentence.start : sentence.end])
            assert sentence.terms == {term_key(t) for t in words}


def test_a_version_without_term_statistics_is_counted_on_open(
    fast_index_copy: Path, fast_embedder: HashingEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    """A version built before them still opens (counted then, with a note to rebuild);
    damaged ones are refused, naming the file."""
    version = current_dir(fast_index_copy)
    stored = (version / TERM_STATS).read_text()
    manifest = json.loads((version / MANIFEST).read_text())
    del manifest["files"][TERM_STATS]
    (version / MANIFEST).write_text(json.dumps(manifest))
    old = ArticleIndex.load(fast_index_copy, fast_embedder)
    assert old.term_stats is None and "no term statistics; rebuild it" in caplog.text
    retriever = Retriever(old, RetrievalConfig(), Terms())
    assert retriever.stats == TermStats.from_json(stored)
    # damaged (the manifest records each file's size, so it matches them)
    for damaged in ('{"chunks": 3}', stored.replace('"chunks": ', '"chunks": 1')):
        (version / TERM_STATS).write_text(damaged)
        manifest["files"][TERM_STATS] = len(damaged.encode())
        (version / MANIFEST).write_text(json.dumps(manifest))
        with pytest.raises(IndexCorruptError, match=r"term-stats\.json"):
            ArticleIndex.load(fast_index_copy, fast_embedder)


def is_mapped(array: np.ndarray) -> bool:
    """Whether the array's memory is a file mapping (a np.memmap or mmap, or a view)."""
    while isinstance(array, np.ndarray) and not isinstance(array, np.memmap):
        array = array.base
    if isinstance(array, memoryview):
        array = array.obj
    return isinstance(array, np.memmap | mmap.mmap)


def mapped_files() -> set[str]:
    """The names of the files this process has mapped."""
    lines = Path("/proc/self/maps").read_text().splitlines()
    return {Path(line.split(maxsplit=5)[5]).name for line in lines if len(line.split()) == 6}


def test_a_versions_files_are_opened_not_read(
    fast_index_copy: Path, fast_embedder: HashingEmbedder
) -> None:
    """Opening a version reads none of its large files: the vectors and the BM25
    matrix are mapped; the sentence vectors and terms, the chunk text and the
    articles (the largest, and read a row at a time) are read with pread, so what
    questions read of them is never the process's memory, only the page cache's;
    only the small per-row indexes are mapped. A hot swap needs no second full copy
    (bench/scale_end_to_end.py measures it)."""
    index = ArticleIndex.load(fast_index_copy, fast_embedder)
    about = index.manifest.extra["vector_index"]["type"]
    flat = faiss.downcast_index(index.vectors)
    codes = flat.codes if about == "IndexFlatIP" else faiss.downcast_index(flat.storage).codes
    assert codes.is_owned is False
    table = index.sentences
    assert table is not None and table.terms is not None
    for array in (table.spans, table.chunk_rows, table.terms.offsets, index.chunks._index):
        assert is_mapped(array)
    assert is_mapped(index.articles._offsets)
    assert isinstance(table.vectors, FileRows) and isinstance(table.terms.keys, FileRows)
    assert isinstance(index.chunks._text, FileBytes)
    assert isinstance(index.articles._lines, FileBytes)
    scores = index.lexical._retriever.scores  # type: ignore[attr-defined]
    assert all(isinstance(scores[name], np.memmap) for name in ("data", "indices", "indptr"))
    found, _ = Retriever(index, RetrievalConfig(), Terms()).search(
        "When was the International Space Station launched?", 3
    )
    assert found and "1998" in found[0].chunk.text  # and searches work on the mapped arrays
    assert index.articles[found[0].chunk.article_id].text
    read_by_row = {"sentence-vectors.npy", "sentence-terms.npy", "chunk-text.bin", "articles.jsonl"}
    assert read_by_row.isdisjoint(mapped_files())


def test_a_served_version_is_out_of_the_collector_s_way_and_still_let_go(
    fast_index_copy: Path, fast_embedder: HashingEmbedder, settings: Settings
) -> None:
    """A version loaded to serve, and one swapped in, are frozen (gc.freeze): a full
    collection does not walk them. The one swapped out is freed all the same."""
    settings = settings.model_copy(update={"index_dir": fast_index_copy})
    answerer = make_answerer(settings, load_index(settings, fast_embedder, fast_index_copy))
    watcher = watch_index(answerer, settings, fast_embedder)
    assert not tracked(answerer.index.manifest, answerer.index.manifest.articles)
    old = weakref.ref(answerer.index)
    articles, _ = load_articles([str(FIXTURES)])
    build_index(articles, fast_embedder, fast_index_copy)
    assert watcher.refresh()
    assert not tracked(answerer.index.manifest, answerer.index.manifest.articles)
    assert old() is None
    untracked = answerer.index.manifest.articles
    gc.unfreeze()
    assert tracked(untracked)  # (the check can see a tracked object)


def tracked(*values: object) -> list[object]:
    """Which of `values` the garbage collector would walk in a collection."""
    ids = {id(value) for value in gc.get_objects()}
    return [value for value in values if id(value) in ids]


def test_a_swapped_out_version_is_let_go_as_soon_as_nothing_uses_it(
    fast_index_copy: Path, fast_embedder: HashingEmbedder, settings: Settings
) -> None:
    """Nothing in a loaded version refers back to itself (its caches included), so a
    version the answerer swaps out is unmapped when its last question ends, not when
    the garbage collector next runs: a hot swap holds two versions' pages only briefly."""
    answerer = make_answerer(settings, ArticleIndex.load(fast_index_copy, fast_embedder))
    answer = answerer.answer("When was the International Space Station launched?")
    assert answer.sources and answer.sources[0].article.title  # the caches hold something
    gc.collect()
    index = answerer.index
    parts = [index, index.chunks, index.articles, index.sentences, index.lexical]
    old = [weakref.ref(part) for part in parts]
    del index, parts
    gc.disable()
    try:
        answerer.use_index(ArticleIndex.load(fast_index_copy, fast_embedder))
        del answer
        assert [ref() for ref in old] == [None] * len(old)
    finally:
        gc.enable()


@pytest.fixture(scope="module")
def rows_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    array = np.arange(20 * 3, dtype=np.float32).reshape(20, 3)
    path = tmp_path_factory.mktemp("rows") / "rows.npy"
    save_array(path, array)
    return path, array


@given(start=st.integers(-25, 25) | st.none(), stop=st.integers(-25, 25) | st.none())
def test_rows_read_from_a_file_are_those_numpy_gives(
    rows_file: tuple[Path, np.ndarray], start: int | None, stop: int | None
) -> None:
    path, array = rows_file
    rows = FileRows(path)
    assert rows.shape == array.shape and rows.dtype == array.dtype and len(rows) == 20
    np.testing.assert_array_equal(rows[start:stop], array[start:stop])
    text = path.read_bytes()
    assert FileBytes(path)[start:stop] == text[start:stop]


@given(wanted=st.lists(st.integers(0, 19), max_size=30))
def test_rows_taken_from_a_file_are_those_numpy_takes(
    rows_file: tuple[Path, np.ndarray], wanted: list[int]
) -> None:
    path, array = rows_file
    taken = FileRows(path).take(wanted, axis=0)
    assert taken.shape == (len(wanted), 3) and taken.dtype == array.dtype
    np.testing.assert_array_equal(taken, array.take(wanted, axis=0))


@pytest.mark.parametrize("wanted", [[20], [-1], [3, 25]])
def test_rows_beyond_the_file_are_refused(
    rows_file: tuple[Path, np.ndarray], wanted: list[int]
) -> None:
    with pytest.raises(IndexError, match="not all within 20"):
        FileRows(rows_file[0]).take(wanted)


def test_rows_cut_off_after_opening_are_an_error_not_garbage(
    rows_file: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    """A file truncated under a reader (a damaged disk, a hand edit) is refused."""
    path = tmp_path / "rows.npy"
    path.write_bytes(rows_file[0].read_bytes())
    rows = FileRows(path)
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size - 4)
    for read in (lambda: rows[18:20], lambda: rows.take([2, 19])):
        with pytest.raises(ValueError, match="shorter than it was when opened"):
            read()
    np.testing.assert_array_equal(rows.take([2]), rows_file[1][2:3])


def test_a_file_shorter_than_its_header_is_refused(rows_file: tuple[Path, np.ndarray]) -> None:
    path, _ = rows_file
    short = path.with_name("short.npy")
    short.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ValueError, match="shorter than its header says"):
        FileRows(short)


def bytes_read() -> int:
    """What this process has read with read calls, from the page cache or the disk."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("/proc/self/io has no rchar")


@pytest.mark.parametrize(
    ("sequential", "advice"), [(True, "POSIX_FADV_SEQUENTIAL"), (False, "POSIX_FADV_RANDOM")]
)
def test_preloading_reads_each_file_that_fits_what_is_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sequential: bool, advice: str
) -> None:
    """Each file read whole, with the kernel told to read ahead of the reads or not."""
    mb = 1 << 20
    sizes = {"a": 1 * mb, "b": 3 * mb, "c": 2 * mb}
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b"x" * size)
    paths = [tmp_path / "a", tmp_path / "gone", tmp_path / "b", tmp_path / "c"]
    advised, fadvise = [], os.posix_fadvise
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, *a: advised.append(a) or fadvise(fd, *a))
    before = bytes_read()
    read = read_through(paths, budget=3 * mb + mb // 2, sequential=sequential)
    assert read == [tmp_path / "a", tmp_path / "c"]
    assert 3 * mb <= bytes_read() - before < 3 * mb + mb // 2
    assert advised == [(0, 0, getattr(os, advice))] * 2


def test_a_version_s_files_are_preloaded_as_it_opens(
    fast_index_dir: Path,
    fast_embedder: HashingEmbedder,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before the version serves, with the kernel reading ahead: the vector index
    (before it is opened), BM25's postings and the per-row indexes. Then on a thread
    of its own, a read at a time, the other files questions read. All within the
    settings' budget."""
    import index.storage.article_index as store
    import index.storage.vector_store as vector_store

    calls, done = [], threading.Event()

    def spy(paths: list[Path], budget: int, *, sequential: bool) -> list[Path]:
        relative = [p.relative_to(version) for p in paths]
        calls.append((relative, budget, threading.current_thread(), sequential))
        read = read_through(paths, budget, sequential=sequential)
        if len(calls) == 3:
            done.set()
        return read

    version = fast_index_dir / "versions" / read_pointer(fast_index_dir)
    monkeypatch.setattr(store, "read_through", spy)
    monkeypatch.setattr(vector_store, "read_through", spy)  # the vector index's
    settings = settings.model_copy(update={"index_dir": fast_index_dir, "preload_mb": 3})
    index = load_index(settings, fast_embedder, fast_index_dir)
    before_serving = [call for call in calls if call[3]]
    assert done.wait(10)
    sizes, budget = index.manifest.files, 3 << 20
    vectors, opening = sorted(before_serving, key=lambda call: len(call[0]))
    assert vectors[:2] == ([Path(VECTORS)], budget)
    assert opening[0][:4] == [
        Path("bm25/data.csc.index.npy"),
        Path("bm25/indices.csc.index.npy"),
        Path("bm25/indptr.csc.index.npy"),
        Path(CHUNK_INDEX),
    ]
    assert opening[1] == budget - sizes[VECTORS]
    files, left, thread, sequential = calls[-1]
    assert thread.name == "articlebot-preload" and not sequential
    assert files == [Path(name) for name in READ_AHEAD if name in sizes]  # all fit in 3 MB
    assert {Path(CHUNK_TEXT), Path("articles.jsonl")} <= set(files)
    assert not set(files) & set(opening[0])
    assert left == opening[1] - sum(sizes[str(name)] for name in opening[0])
    assert watch_index(make_answerer(settings, index), settings, fast_embedder).preload_mb == 3


def test_a_version_s_npy_headers_are_never_parsed_on_two_threads_at_once(
    fast_index_dir: Path, fast_embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """numpy parses .npy headers with ast.literal_eval, which Python 3.11.7 cannot run
    on two threads at once (python/cpython#106905); the tables and the search indexes
    open on two threads, so their headers are read one at a time."""
    import ast
    import time

    parse, lock = ast.literal_eval, threading.Lock()
    inside: list[threading.Thread] = []
    threads, overlaps = set(), []

    def slow_parse(text: str) -> object:
        with lock:
            inside.append(threading.current_thread())
            threads.add(threading.current_thread().name)
            overlaps.append(len(inside) > 1)
        time.sleep(0.02)  # long enough for the other thread to arrive
        with lock:
            inside.remove(threading.current_thread())
        return parse(text)

    monkeypatch.setattr(ast, "literal_eval", slow_parse)
    ArticleIndex.load(fast_index_dir, fast_embedder)
    assert len(threads) == 2 and len(overlaps) > 5
    assert not any(overlaps)
