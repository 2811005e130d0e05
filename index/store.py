"""The index on disk: FAISS vectors, chunk texts, articles and a manifest.

Layout of an index directory:

    CURRENT              name of the version in use (replaced atomically)
    versions/<name>/     manifest.json, vectors.faiss, chunks.jsonl, articles.jsonl, bm25/
    models/<model>.onnx  the embedding model as ONNX, named by its weights; the
                         manifest holds its checksum (index/onnx_model.py)
    embeddings.sqlite3   embedding cache shared by all versions (index/cache.py)
    .lock                held while a build runs

A build writes a new version directory under a temporary name, renames it
into place, then switches CURRENT with an atomic rename. A crash at any point
leaves CURRENT naming the previous, complete version.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from index.articles import Article
from index.cache import EmbeddingCache, embed_with_cache
from index.chunking import Chunk, ChunkingConfig, chunk_article
from index.embedding import Embedder
from index.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexIncompatibleError,
    IndexMissingError,
    NoArticlesError,
)
from index.files import private_dirs
from index.lexical import LexicalIndex, cosines, normalise, reciprocal_rank_fusion
from index.vectors import VectorIndexConfig, build_vector_index

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
POINTER = "CURRENT"
VERSIONS = "versions"
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
CHUNKS = "chunks.jsonl"
ARTICLES = "articles.jsonl"
LEXICAL = "bm25"
CACHE = "embeddings.sqlite3"
MODELS = "models"
REBUILD_HINT = "rebuild it with `articlebot index build`"
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Manifest:
    """What an index version holds and how it was made; checked on every load."""

    version: str
    model_name: str
    dimension: int
    max_tokens: int
    chunking: dict
    articles: list[dict]
    chunk_count: int
    files: dict[str, int]
    built_at: str
    build_seconds: float
    format: int = FORMAT_VERSION
    faiss_index: str = "IndexFlatIP"
    onnx: dict | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls(**json.loads(text))


# --- building --------------------------------------------------------------------------


def chunk_articles(
    articles: list[Article], embedder: Embedder, config: ChunkingConfig
) -> list[Chunk]:
    return [
        chunk
        for article in articles
        for chunk in chunk_article(article, config, embedder.count_tokens, embedder.token_offsets)
    ]


def new_version_name() -> str:
    """Sortable by build time (microseconds), so pruning keeps the newest."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"


def _write_file(path: Path, write: Callable[[Path], None]) -> None:
    write(path)
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _write_text(path: Path, text: str) -> None:
    _write_file(path, lambda p: p.write_text(text, encoding="utf-8"))


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_version(
    index_dir: Path,
    articles: list[Article],
    chunks: list[Chunk],
    vectors: np.ndarray,
    manifest_fields: dict,
    vector_config: VectorIndexConfig | None = None,
) -> Manifest:
    """Write one complete version next to the others and make it current."""
    import faiss

    versions = index_dir / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    name = new_version_name()
    staging = versions / f".tmp-{name}"
    staging.mkdir()
    try:
        vector_index, about = build_vector_index(vectors, vector_config or VectorIndexConfig())
        _write_file(staging / VECTORS, lambda p: faiss.write_index(vector_index, str(p)))
        _write_text(staging / CHUNKS, _jsonl([c.to_dict() for c in chunks]))
        _write_text(staging / ARTICLES, _jsonl([a.to_dict() for a in articles]))
        LexicalIndex.build([c.text for c in chunks]).save(staging / LEXICAL)
        sizes = {
            str(p.relative_to(staging)): p.stat().st_size for p in staging.rglob("*") if p.is_file()
        }
        fields = {**manifest_fields, "faiss_index": about["type"]}
        fields["extra"] = {**manifest_fields.get("extra", {}), "vector_index": about}
        manifest = Manifest(version=name, files=sizes, chunk_count=len(chunks), **fields)
        _write_text(staging / MANIFEST, manifest.to_json())
        _fsync_dir(staging)
        staging.rename(versions / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    switch_current(index_dir, name)
    return manifest


def switch_current(index_dir: Path, name: str) -> None:
    """Point CURRENT at version `name` with one atomic rename."""
    temporary = index_dir / f".{POINTER}.{secrets.token_hex(4)}"
    _write_text(temporary, name + "\n")
    os.replace(temporary, index_dir / POINTER)
    _fsync_dir(index_dir)


def prune_versions(index_dir: Path, keep: int) -> None:
    """Remove all but the newest `keep` versions (never the current one), and
    any staging directory a crashed build left behind."""
    versions = index_dir / VERSIONS
    current = read_pointer(index_dir)
    names = sorted(p.name for p in versions.iterdir() if p.is_dir() and not p.name.startswith("."))
    stale = [n for n in names[: max(0, len(names) - keep)] if n != current]
    stale += [p.name for p in versions.iterdir() if p.name.startswith(".tmp-")]
    for name in stale:
        shutil.rmtree(versions / name, ignore_errors=True)
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
        if f"{MODELS}/{path.name}" not in used:
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


def prepare_onnx(index_dir: Path, embedder: Embedder) -> dict | None:
    """Make the embedder use the index's ONNX export of its model, exporting it
    first if there is none yet; what the manifest records about it, or None
    (with a warning) when the export is not possible and torch embeds.

    An export already on disk is trusted only with the checksum the current
    version recorded for it; one that no manifest vouches for, or whose checksum
    differs (damaged or tampered with), is exported again."""
    if not embedder.onnx_wanted:
        return None
    path = index_dir / MODELS / embedder.onnx_file_name
    in_use = embedder.onnx_path
    try:
        if in_use == path:
            pass  # opened (and checked) by this process: its checksum is recorded below
        elif in_use and in_use.name == path.name and in_use.is_file():
            _share_file(in_use, path)  # this process already exported this model elsewhere
        elif not (path.is_file() and embedder.use_onnx(path, _recorded_sha256(index_dir, path))):
            if path.is_file():
                log.warning("the ONNX model %s is not the one recorded; exporting it again", path)
            embedder.export_onnx(path)
    except Exception as exc:  # torch.onnx raises many types; torch stays the fallback
        log.warning("no ONNX export of the model (%s); embedding with torch", exc)
        embedder.use_torch()
        return None
    if not embedder.use_onnx(path):
        return None
    return {"file": f"{MODELS}/{path.name}", "sha256": embedder.onnx_sha256}


def _recorded_sha256(index_dir: Path, export: Path) -> str:
    """The checksum the current version recorded for `export`; "" when none did
    (so no file on disk matches it)."""
    name = read_pointer(index_dir)
    if name is None:
        return ""
    try:
        onnx = read_manifest(index_dir / VERSIONS / name / MANIFEST).onnx
    except IndexCorruptError:
        return ""
    return onnx["sha256"] if onnx and onnx["file"] == f"{MODELS}/{export.name}" else ""


def _share_file(source: Path, target: Path) -> None:
    """Put `source` at `target` atomically: a hard link, or a copy across file systems."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".tmp-{secrets.token_hex(4)}-{target.name}")
    try:
        try:
            os.link(source, staging)
        except OSError:
            _write_file(staging, lambda p: shutil.copyfile(source, p))
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


def publish(
    articles: list[Article],
    embedder: Embedder,
    index_dir: Path,
    *,
    chunking: ChunkingConfig | None = None,
    keep_versions: int = 3,
    progress: bool = False,
    added_at: dict[str, str] | None = None,
    vector_config: VectorIndexConfig | None = None,
) -> Manifest:
    """Chunk, embed (through the cache) and store `articles` as the new current
    version. The caller holds the build lock."""
    if not articles:
        raise NoArticlesError("no articles to index")
    index_dir = Path(index_dir)
    config = chunking or ChunkingConfig(max_tokens=embedder.max_tokens - 2)
    started = time.perf_counter()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    onnx = prepare_onnx(index_dir, embedder)
    chunks = chunk_articles(articles, embedder, config)
    cache = open_cache(index_dir, embedder)
    try:
        vectors, embedded = embed_with_cache(
            [c.text for c in chunks], embedder, cache, progress=progress
        )
    finally:
        cache.close()
    counts = Counter(chunk.article_id for chunk in chunks)
    fields = {
        "model_name": embedder.model_name,
        "dimension": embedder.dimension,
        "max_tokens": embedder.max_tokens,
        "chunking": asdict(config),
        "articles": [
            {
                "id": a.id,
                "title": a.title,
                "source": a.source,
                "published": a.published,
                "content_hash": a.content_hash,
                "chunks": counts[a.id],
                "added_at": (added_at or {}).get(a.id, now),
            }
            for a in articles
        ],
        "built_at": now,
        "onnx": onnx,
        "extra": {"chunks_embedded": embedded},
        "build_seconds": round(time.perf_counter() - started, 3),
    }
    manifest = write_version(index_dir, articles, chunks, vectors, fields, vector_config)
    prune_versions(index_dir, keep_versions)
    return manifest


def build_index(
    articles: list[Article],
    embedder: Embedder,
    index_dir: Path,
    *,
    chunking: ChunkingConfig | None = None,
    keep_versions: int = 3,
    progress: bool = False,
    lock_wait_seconds: float = 0.0,
    vector_config: VectorIndexConfig | None = None,
) -> Manifest:
    """Build `articles` from scratch (unchanged text comes from the embedding cache)
    as a new current version, holding the build lock."""
    with BuildLock(Path(index_dir), lock_wait_seconds):
        return publish(
            articles,
            embedder,
            index_dir,
            chunking=chunking,
            keep_versions=keep_versions,
            progress=progress,
            vector_config=vector_config,
        )


# --- loading ---------------------------------------------------------------------------


def is_plain_path(name: str, parts: int = 1) -> bool:
    """A relative path of at most `parts` plain names: no absolute path, no `..`,
    nothing that could lead out of the index directory."""
    pieces = name.split("/")
    return 0 < len(pieces) <= parts and all(PLAIN_NAME.match(p) for p in pieces)


def read_pointer(index_dir: Path) -> str | None:
    """The current version's name, refused unless it is a plain name inside the index."""
    try:
        name = (index_dir / POINTER).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    if name is not None and not is_plain_path(name):
        raise IndexCorruptError(
            f"{index_dir / POINTER} names {name[:80]!r}, which is not a version; {REBUILD_HINT}"
        )
    return name


def has_index(index_dir: Path) -> bool:
    return read_pointer(Path(index_dir)) is not None


def read_jsonl(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"cannot read {path} ({exc}); {REBUILD_HINT}") from None


def read_manifest(path: Path) -> Manifest:
    try:
        manifest = Manifest.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(f"{path} is missing; {REBUILD_HINT}") from None
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorruptError(f"cannot read {path} ({exc}); {REBUILD_HINT}") from None
    export = manifest.onnx.get("file") if isinstance(manifest.onnx, dict) else f"{MODELS}/none"
    names = [*manifest.files, export]
    if not all(isinstance(n, str) and is_plain_path(n, parts=2) for n in names) or not str(
        export
    ).startswith(f"{MODELS}/"):
        raise IndexCorruptError(f"{path} names a file outside its index directory; {REBUILD_HINT}")
    return manifest


def _check_files(version_dir: Path, manifest: Manifest) -> None:
    for name, size in manifest.files.items():
        path = version_dir / name
        actual = path.stat().st_size if path.exists() else None
        if actual != size:
            found = "missing" if actual is None else f"{actual:,} bytes, expected {size:,}"
            raise IndexCorruptError(f"{path} is damaged ({found}); {REBUILD_HINT}")


def _check_compatible(manifest: Manifest, embedder: Embedder, version_dir: Path) -> None:
    if manifest.format != FORMAT_VERSION:
        raise IndexIncompatibleError(
            f"the index at {version_dir} has format {manifest.format}, this version reads "
            f"{FORMAT_VERSION}; {REBUILD_HINT}"
        )
    if (manifest.model_name, manifest.dimension) != (embedder.model_name, embedder.dimension):
        raise IndexIncompatibleError(
            f"the index at {version_dir} was built with {manifest.model_name} "
            f"({manifest.dimension} dimensions), but the configured model is "
            f"{embedder.model_name} ({embedder.dimension}); {REBUILD_HINT}"
        )


def attach_onnx(index_dir: Path, manifest: Manifest, embedder: Embedder) -> None:
    """Embed questions with the version's ONNX export if it is intact; otherwise
    (none recorded, missing, checksum differs) with torch, saying why."""
    if not embedder.onnx_wanted:
        return
    if not manifest.onnx:
        embedder.use_torch()
        return
    path = index_dir / manifest.onnx["file"]
    if not path.is_file() or not embedder.use_onnx(path, manifest.onnx["sha256"]):
        log.warning("the ONNX model %s is missing or damaged; embedding with torch", path)
        embedder.use_torch()


class ArticleIndex:
    """One loaded, read-only version of the index."""

    def __init__(
        self,
        manifest: Manifest,
        articles: dict[str, Article],
        chunks: list[Chunk],
        vectors: object,
        lexical: LexicalIndex,
    ) -> None:
        self.manifest = manifest
        self.articles = articles
        self.chunks = chunks
        self._vectors = vectors
        self.lexical = lexical

    @property
    def version(self) -> str:
        return self.manifest.version

    @classmethod
    def load(cls, index_dir: Path, embedder: Embedder) -> ArticleIndex:
        """Load the current version, refusing anything damaged or built for another model."""
        import faiss

        index_dir = Path(index_dir)
        name = read_pointer(index_dir)
        if name is None:
            raise IndexMissingError(
                f"no index at {index_dir}; build one with "
                f"`articlebot index build --index-dir {index_dir}`"
            )
        version_dir = index_dir / VERSIONS / name
        manifest = read_manifest(version_dir / MANIFEST)
        _check_compatible(manifest, embedder, version_dir)
        _check_files(version_dir, manifest)
        attach_onnx(index_dir, manifest, embedder)
        try:
            vectors = faiss.read_index(str(version_dir / VECTORS))
        except RuntimeError as exc:
            message = str(exc).strip().splitlines()[-1]
            raise IndexCorruptError(
                f"cannot read {version_dir / VECTORS} ({message}); {REBUILD_HINT}"
            ) from None
        about = manifest.extra.get("vector_index", {})
        if about.get("type") == "IndexHNSWFlat":
            vectors.hnsw.efSearch = about["ef_search"]
        chunks = [Chunk.from_dict(row) for row in read_jsonl(version_dir / CHUNKS)]
        articles = {row["id"]: Article.from_dict(row) for row in read_jsonl(version_dir / ARTICLES)}
        if vectors.ntotal != len(chunks) or len(chunks) != manifest.chunk_count:
            raise IndexCorruptError(
                f"the index at {version_dir} is inconsistent ({vectors.ntotal} vectors, "
                f"{len(chunks)} chunks); {REBUILD_HINT}"
            )
        try:
            lexical = LexicalIndex.load(version_dir / LEXICAL, len(chunks))
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(
                f"cannot read {version_dir / LEXICAL} ({exc}); {REBUILD_HINT}"
            ) from None
        return cls(manifest, articles, chunks, vectors, lexical)

    def retrieve(
        self,
        text: str,
        query: np.ndarray,
        k: int,
        mode: str = "hybrid",
        *,
        fusion: str = "weighted",
        dense_weight: float = 0.7,
        candidates: int = 30,
    ) -> list[tuple[int, float, float]]:
        """(chunk position, cosine, ranking score) of the best `k` chunks, best first.

        `dense` ranks by cosine, `bm25` by BM25, `hybrid` fuses both over the top
        `candidates` of each: `weighted` mixes the cosine with BM25 scaled to [0, 1],
        `rrf` sums reciprocal ranks. The cosine is always returned, as the evidence
        that abstention is calibrated on.
        """
        n = min(max(k, candidates), len(self.chunks))
        if n <= 0:
            return []
        dense: dict[int, float] = {}
        lexical: dict[int, float] = {}
        if mode in ("dense", "hybrid"):
            scores, ids = self._vectors.search(np.ascontiguousarray(query.reshape(1, -1)), n)
            dense = {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}
        if mode in ("bm25", "hybrid"):
            lexical = dict(self.lexical.search(text, n))
        if mode == "dense":
            ranking = dense
        elif mode == "bm25":
            ranking = lexical
        elif fusion == "rrf":
            ranking = reciprocal_rank_fusion([_ranked(dense), _ranked(lexical)])
        else:
            missing = [i for i in lexical if i not in dense]
            dense.update(cosines(self._vectors, missing, query))
            bm25 = normalise(lexical)
            ranking = {
                i: dense_weight * dense[i] + (1 - dense_weight) * bm25.get(i, 0.0) for i in dense
            }
        best = _ranked(ranking)[:k]
        exact = {**dense, **cosines(self._vectors, [i for i in best if i not in dense], query)}
        return [(i, exact[i], ranking[i]) for i in best]


def _ranked(scores: dict[int, float]) -> list[int]:
    return sorted(scores, key=scores.__getitem__, reverse=True)
