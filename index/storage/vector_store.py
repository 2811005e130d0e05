"""Where a version keeps its passage vectors and its BM25 index: FAISS and bm25s
files in the version's own folder, or a Milvus collection of its own. Both sit
behind one interface, so building, opening and pruning a version never ask
which one it is.

A version's manifest records which store holds it (`extra.vector_index.type`),
so it is opened and dropped where it was written, whatever the settings say now.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from index.config import IndexConfig
from index.errors import IndexCorruptError
from index.records import Chunk
from index.storage.bm25 import LexicalIndex
from index.storage.files import FileRows, read_through, save_array, write_file
from index.storage.layout import LEXICAL, MANIFEST, REBUILD_HINT, VECTORS, Manifest, read_manifest
from index.storage.milvus import (
    MILVUS,
    MilvusConfig,
    collection_name,
    connect,
    drop_collection,
    open_collection,
    write_collection,
)
from index.storage.vectors import (
    EXACT_VECTORS,
    RescoredVectors,
    VectorIndexConfig,
    build_vector_index,
)

log = logging.getLogger(__name__)


class VectorStore(Protocol):
    """Where one index directory's versions keep their dense and BM25 indexes."""

    def write(
        self,
        staging: Path,
        version: str,
        chunks: list[Chunk],
        vectors: np.ndarray,
        config: VectorIndexConfig,
    ) -> dict:
        """Store a new version's indexes (its files go in `staging`, its folder until
        it is complete); what the manifest records about them."""
        ...

    def open(self, version_dir: Path, manifest: Manifest, preload: int) -> tuple[object, object]:
        """The version's (dense, BM25) indexes, ready to search; IndexCorruptError
        when they cannot be read."""
        ...

    def drop(self, version: str) -> None:
        """Remove what the version keeps outside its folder. Best effort: the version
        is gone whatever the store says."""
        ...


class FileStore:
    """FAISS and bm25s files in the version's folder: they go with the folder."""

    def write(
        self,
        staging: Path,
        version: str,
        chunks: list[Chunk],
        vectors: np.ndarray,
        config: VectorIndexConfig,
    ) -> dict:
        import faiss

        vector_index, about = build_vector_index(vectors, config)
        write_file(staging / VECTORS, lambda p: faiss.write_index(vector_index, str(p)))
        if about["type"] == "IndexHNSWSQ":  # its candidates are re-scored from these
            write_file(staging / EXACT_VECTORS, lambda p: save_array(p, vectors))
        LexicalIndex.build([c.text for c in chunks]).save(staging / LEXICAL)
        return about

    def open(self, version_dir: Path, manifest: Manifest, preload: int) -> tuple[object, object]:
        """The FAISS index, mapped (opening reads only the graph; pages come in as
        searches touch them; first the whole file in order, if it fits in `preload`
        bytes), re-scored from its float32 vectors when it holds codes, and the
        bm25s index."""
        vectors = _read_faiss(version_dir, manifest.extra.get("vector_index", {}), preload)
        vectors = _rescored(vectors, version_dir, manifest.files)
        try:
            return vectors, LexicalIndex.load(version_dir / LEXICAL, manifest.chunk_count)
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(
                f"cannot read {version_dir / LEXICAL} ({exc}); {REBUILD_HINT}"
            ) from None

    def drop(self, version: str) -> None:
        return None


def _read_faiss(version_dir: Path, about: dict, preload: int) -> object:
    import faiss

    read_through([version_dir / VECTORS], preload, sequential=True)  # the open waits on it
    try:
        mapped = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY
        vectors = faiss.read_index(str(version_dir / VECTORS), mapped)
    except RuntimeError as exc:
        message = str(exc).strip().splitlines()[-1]
        raise IndexCorruptError(
            f"cannot read {version_dir / VECTORS} ({message}); {REBUILD_HINT}"
        ) from None
    if about.get("type") in ("IndexHNSWFlat", "IndexHNSWSQ"):
        vectors.hnsw.efSearch = about["ef_search"]
    return vectors


def _rescored(vectors: object, version_dir: Path, files: Mapping[str, int]) -> object:
    if EXACT_VECTORS not in files:
        return vectors
    try:
        return RescoredVectors(vectors, FileRows(version_dir / EXACT_VECTORS))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"cannot read {version_dir / EXACT_VECTORS} ({exc}); {REBUILD_HINT}"
        ) from None


@dataclass(frozen=True)
class MilvusStore:
    """A Milvus collection per version (Milvus Lite in the index directory by default)."""

    milvus: MilvusConfig

    def write(
        self,
        staging: Path,
        version: str,
        chunks: list[Chunk],
        vectors: np.ndarray,
        config: VectorIndexConfig,
    ) -> dict:
        client = connect(self.milvus)
        return write_collection(client, collection_name(version), chunks, vectors, config)

    def open(self, version_dir: Path, manifest: Manifest, preload: int) -> tuple[object, object]:
        about = manifest.extra.get("vector_index", {})
        return open_collection(connect(self.milvus), about, manifest.chunk_count, version_dir)

    def drop(self, version: str) -> None:
        name = collection_name(version)
        try:
            drop_collection(connect(self.milvus), name)
        except Exception:  # Milvus down or the file busy: leave it, say so
            log.warning("could not drop Milvus collection %s", name, exc_info=True)


def store_for_builds(config: IndexConfig, index_dir: Path) -> VectorStore:
    """Where new versions of `index_dir` go, as the settings say (`vector_store`)."""
    if config.vector_store == MILVUS:
        return MilvusStore(MilvusConfig.of(config, index_dir))
    return FileStore()


def store_of(
    manifest: Manifest, index_dir: Path, milvus: MilvusConfig | None = None
) -> VectorStore:
    """Where a version was written, as its manifest says; a Milvus one is opened at
    `milvus` (by default the Milvus Lite file in the index directory)."""
    if manifest.extra.get("vector_index", {}).get("type") != MILVUS:
        return FileStore()
    return MilvusStore(milvus or MilvusConfig.of(IndexConfig(), index_dir))


def store_of_folder(version_dir: Path, index_dir: Path, config: IndexConfig) -> VectorStore:
    """Where a version folder's indexes are, to drop them: as its manifest says, or,
    for a folder without a readable one (a crashed build's staging directory), as
    the settings say."""
    try:
        manifest = read_manifest(version_dir / MANIFEST)
    except IndexCorruptError:
        return store_for_builds(config, index_dir)
    return store_of(manifest, index_dir, MilvusConfig.of(config, index_dir))
