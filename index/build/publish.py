"""Building index versions: chunk and embed articles (through the embedding
cache), write a complete version beside the others, make it current, prune old
ones. Every build holds the index directory's lock.

A version is written under a temporary name, renamed into place, and then
CURRENT is switched with an atomic rename: a crash at any point leaves CURRENT
naming the previous, complete version.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from index.build.cache import EmbeddingCache, embed_with_cache
from index.build.chunking import ChunkingConfig, chunk_article
from index.build.summaries import Title, summaries
from index.config import IndexConfig
from index.embedding.embedder import FULL_INSTALL_HINT, Embedder, TextEncoder
from index.embedding.onnx_model import OnnxEncoder
from index.errors import IndexBusyError, IndexCorruptError, ModelMissingError, NoArticlesError
from index.progress import SILENT, Progress
from index.records import Article, Chunk
from index.storage.files import (
    fsync_dir,
    private_dirs,
    save_array,
    scratch_array,
    write_file,
    write_text,
)
from index.storage.layout import (
    ARTICLES,
    CACHE,
    LEXICON,
    MANIFEST,
    MODELS,
    TERM_STATS,
    VERSIONS,
    Manifest,
    new_version_name,
    read_manifest,
    read_pointer,
    switch_current,
)
from index.storage.lexicon import Lexicon
from index.storage.sentences import SUMMARY_SPANS, SentenceSpan, SentenceTable, summary_array
from index.storage.tables import write_articles, write_chunks
from index.storage.terms import Terms, TermStats
from index.storage.vector_store import FileStore, VectorStore, store_for_builds, store_of_folder
from index.storage.vectors import VectorIndexConfig

log = logging.getLogger(__name__)

# Raised when a build of the same articles with the same settings would hold
# something different (chunking, sentence splitting, what the files store), so
# that syncing rebuilds versions made before the change.
BUILD_VERSION = 1


def chunking_config(config: IndexConfig, embedder: Embedder) -> ChunkingConfig:
    return ChunkingConfig(
        target_tokens=config.chunk_target_tokens,
        max_tokens=embedder.max_tokens - 2,
        overlap_tokens=config.chunk_overlap_tokens,
    )


def build_recipe(config: IndexConfig, embedder: Embedder) -> dict:
    """Everything besides the articles that a version's contents follow from: the
    model, chunking, vector index and store settings, and the build code's version.
    A version whose recorded recipe differs is rebuilt even if no article changed."""
    return {
        "build_version": BUILD_VERSION,
        "model": embedder.model_name,
        "chunking": asdict(chunking_config(config, embedder)),
        "vectors": asdict(vector_config(config)),
        "store": config.vector_store,
        "milvus_uri": config.milvus_uri if config.vector_store == "milvus" else None,
    }


def built_by_newer(recipe: dict) -> int | None:
    """The build version of a newer ArticleBot that made a version, else None. An older
    one must leave such a version alone: rebuilding it in its own way would make the
    newer one rebuild it back, on every refresh of a rolling upgrade."""
    built_by = recipe.get("build_version", 0)
    return built_by if built_by > BUILD_VERSION else None


def vector_config(config: IndexConfig) -> VectorIndexConfig:
    return VectorIndexConfig(
        flat_max=config.faiss_flat_max,
        hnsw_m=config.hnsw_m,
        ef_construction=config.hnsw_ef_construction,
        ef_search=config.hnsw_ef_search,
        quantized=config.hnsw_vectors == "sq8",
    )


def chunk_articles(
    articles: list[Article], embedder: Embedder, config: ChunkingConfig
) -> list[Chunk]:
    return [
        chunk
        for article in articles
        for chunk in chunk_article(article, config, embedder.count_tokens, embedder.token_offsets)
    ]


def write_version(
    index_dir: Path,
    articles: list[Article],
    chunks: list[Chunk],
    vectors: np.ndarray,
    sentences: SentenceTable,
    manifest_fields: dict,
    vectors_config: VectorIndexConfig,
    store: VectorStore | None = None,
    summaries_of: dict[str, list[SentenceSpan]] | None = None,
) -> Manifest:
    """Write one complete version next to the others and make it current: its
    vectors and BM25 in `store` (by default FAISS and bm25s files in its folder),
    and each article's summary (`summaries_of`, by article id)."""
    store = store or FileStore()
    versions = index_dir / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    name = new_version_name()
    staging = versions / f".tmp-{name}"
    staging.mkdir()
    try:
        about = store.write(staging, name, chunks, vectors, vectors_config)
        write_chunks(staging, chunks, articles, write_file)
        write_articles(staging, articles, write_file, ARTICLES)
        sentences.save(staging, write_file)
        lexicon = Lexicon.of(f"{a.title}\n\n{a.text}" for a in articles)
        write_text(staging / LEXICON, lexicon.to_json())
        stats = TermStats.of((c.text for c in chunks), Terms())
        write_text(staging / TERM_STATS, stats.to_json())
        table = summary_array([a.id for a in articles], summaries_of or {})
        write_file(staging / SUMMARY_SPANS, lambda p: save_array(p, table))
        sizes = {
            str(p.relative_to(staging)): p.stat().st_size for p in staging.rglob("*") if p.is_file()
        }
        fields = {**manifest_fields, "faiss_index": about["type"]}
        fields["extra"] = {**manifest_fields.get("extra", {}), "vector_index": about}
        manifest = Manifest(version=name, files=sizes, chunk_count=len(chunks), **fields)
        write_text(staging / MANIFEST, manifest.to_json())
        fsync_dir(staging)
        staging.rename(versions / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        store.drop(name)
        raise
    try:
        switch_current(index_dir, name)
    except BaseException:
        if read_pointer(index_dir) != name:  # never became current: nothing may use it
            shutil.rmtree(versions / name, ignore_errors=True)
            store.drop(name)
        raise
    return manifest


def prune_versions(index_dir: Path, keep: int, config: IndexConfig) -> None:
    """Remove all but the newest `keep` versions (never the current one), and any
    staging directory a crashed build left behind, with their Milvus collections:
    a version's manifest says whether it has one, so it is dropped even after
    `vector_store` went back to FAISS."""
    versions = index_dir / VERSIONS
    current = read_pointer(index_dir)
    names = sorted(p.name for p in versions.iterdir() if p.is_dir() and not p.name.startswith("."))
    stale = [n for n in names[: max(0, len(names) - keep)] if n != current]
    stale += [p.name for p in versions.iterdir() if p.is_dir() and p.name.startswith(".tmp-")]
    for name in stale:
        store = store_of_folder(versions / name, index_dir, config)
        shutil.rmtree(versions / name, ignore_errors=True)
        store.drop(name.removeprefix(".tmp-"))
    for scratch in versions.glob(".tmp-*.npy"):  # a killed build's (index/storage/files.py)
        scratch.unlink(missing_ok=True)
    _prune_models(index_dir)


def _prune_models(index_dir: Path) -> None:
    """Remove ONNX exports that no remaining version uses (the model changed)."""
    folder = index_dir / MODELS
    if not folder.is_dir():
        return
    used = set()
    for manifest_path in (index_dir / VERSIONS).glob(f"*/{MANIFEST}"):
        try:
            onnx = read_manifest(manifest_path).onnx
        except IndexCorruptError:
            return  # cannot tell what that version uses: keep every export
        used.add(onnx["file"] if onnx else None)
    for path in folder.iterdir():
        if path.is_dir() and f"{MODELS}/{path.name}.onnx" not in used:
            shutil.rmtree(path, ignore_errors=True)
        elif not path.is_dir() and f"{MODELS}/{path.name}" not in used:
            path.unlink(missing_ok=True)


class BuildLock:
    """An exclusive lock on an index directory, so two builds never interleave."""

    def __init__(self, index_dir: Path, wait_seconds: float = 0.0) -> None:
        from filelock import FileLock

        private_dirs(index_dir)
        self._lock = FileLock(str(index_dir / ".lock"))
        self._wait = wait_seconds
        self._index_dir = index_dir

    def __enter__(self) -> BuildLock:
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=self._wait)
        except Timeout:
            raise IndexBusyError(
                f"another build is running on {self._index_dir}; try again when it has finished"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def open_cache(index_dir: Path, embedder: Embedder) -> EmbeddingCache:
    return EmbeddingCache(Path(index_dir) / CACHE, embedder.model_name, embedder.dimension)


# --- the ONNX export -------------------------------------------------------------------------


def prepare_onnx(index_dir: Path, embedder: Embedder) -> tuple[dict | None, OnnxEncoder | None]:
    """The index's ONNX export of the model, exported first if there is none yet:
    what the manifest records about it, and the opened export. (None, None), with
    a warning, when no export is possible and torch embeds; an error where torch
    cannot (the serving install), naming the fix.

    An export already on disk is trusted only with the checksum the current
    version recorded for it; one that no manifest vouches for, or whose checksum
    differs (damaged or tampered with), is exported again."""
    if not embedder.onnx_wanted:
        return None, None
    path = index_dir / MODELS / embedder.onnx_file_name
    try:
        onnx = _recorded_export(index_dir, path, embedder) or _shared_export(path, embedder)
        if onnx is None and embedder.runs_model:
            onnx = _export(path, embedder)
        if onnx is not None:
            embedder.save_model_files(path)
    except OSError as exc:
        log.warning("cannot store the ONNX export in %s (%s); embedding with torch", path, exc)
        onnx = None
    if onnx is None and not embedder.runs_model:
        raise ModelMissingError(
            f"{index_dir} holds no ONNX export of the model and this install cannot make "
            f"one (it has no torch); {FULL_INSTALL_HINT}"
        )
    if onnx is None:
        return None, None
    return {"file": f"{MODELS}/{path.name}", "sha256": onnx.sha256}, onnx


def _export(path: Path, embedder: Embedder) -> OnnxEncoder | None:
    """A fresh export at `path`; None, with a warning, when it fails (torch embeds)."""
    try:
        if path.is_file():
            log.warning("the ONNX model %s is not the one recorded; exporting it again", path)
        embedder.export_onnx(path)
        return embedder.open_export(path)
    except Exception as exc:  # torch.onnx raises many types; torch stays the fallback
        log.warning("no ONNX export of the model (%s); embedding with torch", exc)
        return None


def _recorded_export(index_dir: Path, path: Path, embedder: Embedder) -> OnnxEncoder | None:
    """The export at `path`, if the current version recorded its checksum and it matches."""
    name = read_pointer(index_dir)
    if name is None or not path.is_file():
        return None
    try:
        onnx = read_manifest(index_dir / VERSIONS / name / MANIFEST).onnx
    except IndexCorruptError:
        return None
    if not onnx or onnx["file"] != f"{MODELS}/{path.name}":
        return None
    return embedder.open_export(path, onnx["sha256"])


def _shared_export(path: Path, embedder: Embedder) -> OnnxEncoder | None:
    """The same export, already opened by this process for another index directory:
    linked (or copied) here and checked against the checksum it was opened with."""
    opened = embedder.opened_export(path.name) or _export_beside_model(path, embedder)
    if opened is None or opened[0] == path:
        return None
    source, sha256 = opened
    _share_file(source, path)
    return embedder.open_export(path, sha256)


def _export_beside_model(path: Path, embedder: Embedder) -> tuple[Path, str] | None:
    """Where the model's files came from another index (the serving install), that
    index's export, which lies beside them: its path and checksum, once opened."""
    beside = embedder.model_path.with_suffix(".onnx")
    if beside.name != path.name or beside == path or not beside.is_file():
        return None
    encoder = embedder.open_export(beside)
    return None if encoder is None else (beside, encoder.sha256)


def _share_file(source: Path, target: Path) -> None:
    """Put `source` at `target` atomically: a hard link, or a copy across file systems."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".tmp-{secrets.token_hex(4)}-{target.name}")
    try:
        try:
            os.link(source, staging)
        except OSError:
            write_file(staging, lambda p: shutil.copyfile(source, p))
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


# --- publishing ----------------------------------------------------------------------------


def manifest_fields(
    embedder: Embedder,
    chunking: ChunkingConfig,
    articles: list[Article],
    chunks: list[Chunk],
    added_at: dict[str, str],
    now: str,
    by_hand: AbstractSet[str] = frozenset(),
) -> dict:
    """What a version's manifest says of its model, its chunking and each article
    (`added_at`: when earlier versions first had an article, else `now`; `by_hand`:
    the articles the operator added by hand)."""
    counts = Counter(chunk.article_id for chunk in chunks)
    return {
        "model_name": embedder.model_name,
        "dimension": embedder.dimension,
        "max_tokens": embedder.max_tokens,
        "chunking": asdict(chunking),
        "articles": [
            {
                "id": a.id,
                "title": a.title,
                "source": a.source,
                "published": a.published,
                "content_hash": a.content_hash,
                "chunks": counts[a.id],
                "added_at": added_at.get(a.id, now),
                "by_hand": a.id in by_hand,
            }
            for a in articles
        ],
        "built_at": now,
    }


def publish(
    articles: list[Article],
    embedder: Embedder,
    index_dir: Path,
    config: IndexConfig,
    *,
    progress: Progress = SILENT,
    added_at: dict[str, str] | None = None,
    by_hand: AbstractSet[str] = frozenset(),
) -> Manifest:
    """Chunk, embed (through the cache) and store `articles` as the new current
    version. The caller holds the build lock."""
    if not articles:
        raise NoArticlesError("no articles to index")
    index_dir = Path(index_dir)
    chunking = chunking_config(config, embedder)
    started = time.perf_counter()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    onnx, export = prepare_onnx(index_dir, embedder)
    chunks = chunk_articles(articles, embedder, chunking)
    spans, sentence_texts = SentenceTable.split(chunks)
    store = store_for_builds(config, index_dir)
    encoder = embedder.encoder(export)
    with scratch_array(index_dir / VERSIONS, len(sentence_texts), embedder.dimension) as scratch:
        vectors, sentence_vectors, embedded = embed_version(
            index_dir, encoder, chunks, sentence_texts, scratch, progress
        )
        sentences = SentenceTable.of(spans, sentence_vectors, sentence_texts, len(chunks))
        titles = encoder.encode([a.title for a in articles]) if articles else []
        title_of = {a.id: Title(a.title, v) for a, v in zip(articles, titles, strict=True)}
        chosen = summaries(chunks, sentences, title_of)
        fields = {
            **manifest_fields(embedder, chunking, articles, chunks, added_at or {}, now, by_hand),
            "onnx": onnx,
            "extra": embedded,
            "recipe": build_recipe(config, embedder),
            "build_seconds": round(time.perf_counter() - started, 3),
        }
        manifest = write_version(
            index_dir,
            articles,
            chunks,
            vectors,
            sentences,
            fields,
            vector_config(config),
            store,
            chosen,
        )
    prune_versions(index_dir, config.keep_versions, config)
    return manifest


def embed_version(
    index_dir: Path,
    encoder: TextEncoder,
    chunks: list[Chunk],
    sentence_texts: list[str],
    sentence_vectors: np.ndarray,
    progress: Progress,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The chunks' vectors, and the sentences' filled into `sentence_vectors`, through
    the index's embedding cache; how many of each had to be embedded now."""
    cache = open_cache(index_dir, embedder=encoder.embedder)
    try:
        vectors, chunks_embedded = embed_with_cache(
            [c.text for c in chunks], encoder, cache, progress=progress
        )
        sentence_vectors, sentences_embedded = embed_with_cache(
            sentence_texts, encoder, cache, progress=progress, out=sentence_vectors
        )
    finally:
        cache.close()
    counts = {"chunks_embedded": chunks_embedded, "sentences_embedded": sentences_embedded}
    return vectors, sentence_vectors, counts


def build_index(
    articles: list[Article],
    embedder: Embedder,
    index_dir: Path,
    config: IndexConfig | None = None,
    *,
    progress: Progress = SILENT,
    lock_wait_seconds: float = 0.0,
) -> Manifest:
    """Build `articles` from scratch (unchanged text comes from the embedding cache)
    as a new current version, holding the build lock."""
    with BuildLock(Path(index_dir), lock_wait_seconds):
        return publish(articles, embedder, index_dir, config or IndexConfig(), progress=progress)
