"""One index version, loaded: its articles, chunks, vectors, BM25 index and the
encoder that embeds questions for it. Loading checks everything it reads and
refuses a damaged version, or one built for another model, naming the file and
the fix. Finding passages in it is index/retrieval.py's work."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from index.embedding.embedder import FULL_INSTALL_HINT, Embedder, TextEncoder
from index.errors import (
    IndexCorruptError,
    IndexIncompatibleError,
    IndexMissingError,
    ModelMissingError,
)
from index.records import Article, Chunk
from index.storage.bm25 import LexicalIndex
from index.storage.files import mapped, read_through
from index.storage.layout import (
    ARTICLES,
    CHUNKS,
    FORMAT_VERSION,
    LEXICAL,
    LEXICON,
    MANIFEST,
    REBUILD_HINT,
    TERM_STATS,
    VECTORS,
    VERSIONS,
    Manifest,
    read_jsonl,
    read_manifest,
    read_pointer,
)
from index.storage.lexicon import Lexicon
from index.storage.milvus import MilvusConfig
from index.storage.sentences import (
    CHUNK_ROWS,
    SPANS,
    SUMMARY_SENTENCES,
    SUMMARY_SPANS,
    TERM_KEYS,
    TERM_OFFSETS,
    SentenceSpan,
    SentenceTable,
    SummaryTable,
)
from index.storage.sentences import VECTORS as SENTENCE_VECTORS
from index.storage.tables import ARTICLE_OFFSETS, CHUNK_INDEX, CHUNK_TEXT, ArticleTable, ChunkTable
from index.storage.terms import TermStats
from index.storage.vector_store import store_of
from index.storage.vectors import EXACT_VECTORS

log = logging.getLogger(__name__)

# A version's files as questions read them, most of each file first (index/storage/files.py,
# read_through). The vector index and OPEN_READS are read before the version serves,
# the kernel reading ahead: every question reads some of BM25's postings and of the
# per-row indexes, and from a cold disk they made a million-passage version's first
# answers take 50 to 260 ms. READ_AHEAD is read while it serves, a read at a time:
# the sentence terms and chunk texts first (the rerank reads every candidate's),
# then the float32 vectors. The vectors first made the first seconds' answers
# slower (p99 64-100 ms against 46, a million passages, the cache dropped).
OPEN_READS = (
    f"{LEXICAL}/data.csc.index.npy",
    f"{LEXICAL}/indices.csc.index.npy",
    f"{LEXICAL}/indptr.csc.index.npy",
    CHUNK_INDEX,
    CHUNK_ROWS,
    SPANS,
    TERM_OFFSETS,
    ARTICLE_OFFSETS,
)
READ_AHEAD = (TERM_KEYS, CHUNK_TEXT, EXACT_VECTORS, ARTICLES, SENTENCE_VECTORS)


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


def query_encoder(index_dir: Path, manifest: Manifest, embedder: Embedder) -> TextEncoder:
    """What embeds questions for this version: its ONNX export if it is intact;
    otherwise (none recorded, missing, checksum differs) torch, saying why."""
    path = index_dir / manifest.onnx["file"] if manifest.onnx else None
    onnx = None
    if embedder.onnx_wanted and path and path.is_file():
        onnx = embedder.open_export(path, manifest.onnx["sha256"])
    if onnx is None and not embedder.runs_model:
        why = "has no ONNX export" if path is None else f"cannot use its ONNX export {path}"
        raise ModelMissingError(
            f"the index at {index_dir} {why}, and this install has no torch; {FULL_INSTALL_HINT}"
        )
    if onnx is None and path is not None and embedder.onnx_wanted:
        log.warning("the ONNX model %s is missing or damaged; embedding with torch", path)
    return embedder.encoder(onnx)


def read_lexicon(version_dir: Path, manifest: Manifest) -> Lexicon:
    """The version's words and abbreviations; empty for versions built before them."""
    if LEXICON not in manifest.files:
        return Lexicon()
    try:
        return Lexicon.from_json((version_dir / LEXICON).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        raise IndexCorruptError(
            f"cannot read {version_dir / LEXICON} ({exc}); {REBUILD_HINT}"
        ) from None


def read_term_stats(version_dir: Path, manifest: Manifest) -> TermStats | None:
    """The version's term statistics; None for versions built before them (the
    retriever then counts them when it opens the version: rebuild to skip that)."""
    if TERM_STATS not in manifest.files:
        log.warning("index version %s has no term statistics; rebuild it", manifest.version)
        return None
    try:
        stats = TermStats.from_json((version_dir / TERM_STATS).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"cannot read {version_dir / TERM_STATS} ({exc}); {REBUILD_HINT}"
        ) from None
    if stats.chunks != manifest.chunk_count:
        raise IndexCorruptError(
            f"{version_dir / TERM_STATS} counts {stats.chunks} chunks, the version has "
            f"{manifest.chunk_count}; {REBUILD_HINT}"
        )
    return stats


def read_sentences(version_dir: Path, manifest: Manifest) -> SentenceTable | None:
    """The version's sentences and their vectors; None for versions built before them
    (answers then go without question-to-sentence similarity: rebuild to get it)."""
    if SENTENCE_VECTORS not in manifest.files:
        log.warning("index version %s has no sentence vectors; rebuild it", manifest.version)
        return None
    try:
        return SentenceTable.load(version_dir, manifest.chunk_count, manifest.dimension)
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"cannot read the sentence table in {version_dir} ({exc}); {REBUILD_HINT}"
        ) from None


def read_summaries(
    version_dir: Path, manifest: Manifest, articles: Mapping[str, Article]
) -> SummaryTable | None:
    """The version's summaries (index/build/summaries.py), mapped; None for versions
    built before them (a summary is then asked for in vain: rebuild to get them)."""
    if SUMMARY_SPANS not in manifest.files or not isinstance(articles, ArticleTable):
        log.warning("index version %s has no summaries; rebuild it", manifest.version)
        return None
    try:
        spans = mapped(version_dir / SUMMARY_SPANS)
    except (OSError, ValueError) as exc:
        spans, problem = None, str(exc)
    else:
        problem = "it does not match the articles"
    if spans is None or spans.shape != (len(manifest.articles), SUMMARY_SENTENCES, 3):
        raise IndexCorruptError(
            f"cannot read {version_dir / SUMMARY_SPANS} ({problem}); {REBUILD_HINT}"
        )
    return SummaryTable(spans, articles.row)


def set_search_threads(threads: int) -> None:
    """The threads each FAISS search may use, for the whole process (OpenMP's)."""
    import faiss

    faiss.omp_set_num_threads(threads)


def _open_tables(
    version_dir: Path, manifest: Manifest
) -> tuple[Sequence[Chunk], Mapping[str, Article]]:
    """The version's chunks and articles: mapped tables, or, in versions built
    before them, every row read into memory."""
    if CHUNK_INDEX not in manifest.files:
        rows = read_jsonl(version_dir / CHUNKS)
        chunks = [Chunk.from_dict(row, position) for position, row in enumerate(rows)]
        return chunks, {r["id"]: Article.from_dict(r) for r in read_jsonl(version_dir / ARTICLES)}
    article_ids = [a["id"] for a in manifest.articles]
    try:
        return (
            ChunkTable(version_dir, article_ids),
            ArticleTable(version_dir, ARTICLES, article_ids),
        )
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"cannot read the chunks and articles in {version_dir} ({exc}); {REBUILD_HINT}"
        ) from None


class ArticleIndex:
    """One loaded, read-only version of the index."""

    def __init__(
        self,
        manifest: Manifest,
        articles: Mapping[str, Article],
        chunks: Sequence[Chunk],
        vectors: object,
        lexical: LexicalIndex,
        encoder: TextEncoder,
    ) -> None:
        self.manifest = manifest
        self.articles = articles
        self.chunks = chunks
        self.vectors = vectors
        self.lexical = lexical
        self.encoder = encoder
        self.lexicon = Lexicon()
        self.sentences: SentenceTable | None = None
        self.term_stats: TermStats | None = None
        self.summaries: SummaryTable | None = None

    @property
    def version(self) -> str:
        return self.manifest.version

    def summary(self, article_id: str) -> list[SentenceSpan]:
        """The spans of an article's summary's sentences; [] in versions built before
        summaries."""
        if self.summaries is None or article_id not in self.articles:
            return []
        return self.summaries.of(article_id)

    @classmethod
    def load(
        cls,
        index_dir: Path,
        embedder: Embedder,
        milvus: MilvusConfig | None = None,
        preload_mb: int = 0,
    ) -> ArticleIndex:
        """Load the current version, refusing anything damaged or built for another
        model. A version stored in Milvus is opened at `milvus` (default: the Milvus
        Lite file in the index directory). Up to `preload_mb` of its files are read
        into the page cache (the vector index and OPEN_READS before it serves,
        READ_AHEAD on a thread afterwards), so its first questions wait less on the
        disk."""
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
        # the model and the search indexes load on threads of their own while the
        # tables open: reading the HNSW graph waits on the disk, not on Python
        with ThreadPoolExecutor(2) as pool:
            encoder = pool.submit(query_encoder, index_dir, manifest, embedder)
            preload = preload_mb << 20
            store = store_of(manifest, index_dir, milvus)  # where the version was written
            search = pool.submit(store.open, version_dir, manifest, preload)
            vectors_size = manifest.files.get(VECTORS, 0)  # read on the other thread
            left = preload - vectors_size if vectors_size <= preload else preload
            opening = [version_dir / name for name in OPEN_READS if name in manifest.files]
            read = read_through(opening, left, sequential=True)
            left -= sum(path.stat().st_size for path in read)
            chunks, articles = _open_tables(version_dir, manifest)
            lexicon = read_lexicon(version_dir, manifest)
            sentences = read_sentences(version_dir, manifest)
            term_stats = read_term_stats(version_dir, manifest)
            summaries = read_summaries(version_dir, manifest, articles)
            vectors, lexical = search.result()
            if vectors.ntotal != len(chunks) or len(chunks) != manifest.chunk_count:
                raise IndexCorruptError(
                    f"the index at {version_dir} is inconsistent ({vectors.ntotal} vectors, "
                    f"{len(chunks)} chunks); {REBUILD_HINT}"
                )
            index = cls(manifest, articles, chunks, vectors, lexical, encoder.result())
        index.lexicon, index.sentences, index.term_stats = lexicon, sentences, term_stats
        index.summaries = summaries
        if left > 0:
            paths = [version_dir / name for name in READ_AHEAD if name in manifest.files]
            # a read at a time, not the kernel's read-ahead: questions are being answered
            ahead = partial(read_through, paths, left, sequential=False)
            threading.Thread(target=ahead, name="articlebot-preload", daemon=True).start()
        return index
