"""Process-level wiring shared by every entry point: model, index, answerer.

Entry points (the command line now, the Discord and Slack launchers later)
build these once from the settings and hand them down.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from bot.answer.core import Answerer, Retrieval
from bot.settings import Settings
from index.articles import Article, LoadFailure, load_articles
from index.chunking import ChunkingConfig
from index.collection import ChangeReport, Collection
from index.embedding import Embedder
from index.errors import ArticleBotError, BuildFailedError, NoArticlesError
from index.fetch import Fetcher, FetchPolicy
from index.store import ArticleIndex, Manifest, build_index, has_index, read_pointer
from index.vectors import VectorIndexConfig

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did, for the summary line and the exit status."""

    manifest: Manifest | None
    failures: list[LoadFailure] = field(default_factory=list)
    seconds: float = 0.0


def make_embedder(settings: Settings) -> Embedder:
    return Embedder(
        settings.model_path,
        model_name=settings.model_name,
        batch_size=settings.embed_batch_size,
        backend=settings.embedding_backend,
        onnx_threads=settings.onnx_threads,
    )


def chunking_config(settings: Settings, embedder: Embedder) -> ChunkingConfig:
    return ChunkingConfig(
        target_tokens=settings.chunk_target_tokens,
        max_tokens=embedder.max_tokens - 2,
        overlap_tokens=settings.chunk_overlap_tokens,
    )


def load_sources(
    settings: Settings, sources: list[str], *, progress: bool = False
) -> tuple[list[Article], list[LoadFailure]]:
    articles, failures = load_articles(
        sources, fetcher=Fetcher(fetch_policy(settings)), progress=progress
    )
    for failure in failures:
        log.warning("not indexed: %s: %s", failure.source, failure.reason)
    return articles, failures


def fetch_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        timeout_seconds=settings.fetch_timeout_seconds,
        deadline_seconds=settings.fetch_deadline_seconds,
        max_bytes=settings.fetch_max_bytes,
        allow_private_networks=settings.fetch_allow_private_networks,
        feed_entry_hosts=tuple(settings.fetch_feed_entry_hosts),
        feed_max_entries=settings.feed_max_entries,
    )


def vector_config(settings: Settings) -> VectorIndexConfig:
    return VectorIndexConfig(
        flat_max=settings.faiss_flat_max,
        hnsw_m=settings.hnsw_m,
        ef_construction=settings.hnsw_ef_construction,
        ef_search=settings.hnsw_ef_search,
    )


def make_collection(
    settings: Settings, embedder: Embedder, index_dir: Path, *, progress: bool = False
) -> Collection:
    return Collection(
        index_dir,
        embedder,
        chunking=chunking_config(settings, embedder),
        keep_versions=settings.keep_versions,
        progress=progress,
        vector_config=vector_config(settings),
    )


def sync_from_sources(
    settings: Settings,
    embedder: Embedder,
    index_dir: Path,
    sources: list[str],
    *,
    progress: bool = False,
) -> tuple[ChangeReport, list[LoadFailure]]:
    """Make the index hold exactly what `sources` give now. An article whose source
    failed to load this time is kept, not dropped (the failure is reported)."""
    articles, failures = load_sources(settings, sources, progress=progress)
    if not articles and not failures:
        raise NoArticlesError("the sources hold no articles; the index is unchanged")
    collection = make_collection(settings, embedder, index_dir, progress=progress)
    report = collection.sync(articles, keep_sources={f.source for f in failures})
    return report, failures


def build_from_sources(
    settings: Settings,
    embedder: Embedder,
    index_dir: Path,
    sources: list[str],
    *,
    progress: bool = False,
    lock_wait_seconds: float = 0.0,
) -> BuildReport:
    """Load every source and build a new index version of those that loaded."""
    started = time.perf_counter()
    articles, failures = load_sources(settings, sources, progress=progress)
    if not articles:
        reasons = "; ".join(f"{f.source}: {f.reason}" for f in failures) or "no sources given"
        raise NoArticlesError(f"nothing to index, the index is unchanged ({reasons})")
    manifest = build_index(
        articles,
        embedder,
        index_dir,
        chunking=chunking_config(settings, embedder),
        keep_versions=settings.keep_versions,
        progress=progress,
        lock_wait_seconds=lock_wait_seconds,
        vector_config=vector_config(settings),
    )
    return BuildReport(manifest, failures, time.perf_counter() - started)


def open_index(settings: Settings, embedder: Embedder, *, bootstrap: bool) -> ArticleIndex:
    """Load the index; with `bootstrap`, first build it from the configured
    sources (by default the bundled article) when there is none yet."""
    index_dir = settings.resolved_index_dir
    if bootstrap and not has_index(index_dir):
        log.info("no index at %s yet; building it from %s", index_dir, settings.resolved_sources)
        build_in_child_process(settings, index_dir)
    return ArticleIndex.load(index_dir, embedder)


def build_in_child_process(settings: Settings, index_dir: Path) -> None:
    """Build from the configured sources in a child process. The first build loads
    torch to export the model; done here, torch would stay in this process (a
    serving bot) for good, doubling its memory."""
    context = multiprocessing.get_context("spawn")
    portable = Settings.model_construct(**dict(settings))  # the file-reading subclass is local
    try:
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            pool.submit(_first_build, portable, index_dir).result()
    except BrokenProcessPool as exc:
        raise BuildFailedError(
            f"the first build of the index stopped unexpectedly ({exc}); "
            "run `articlebot index build` to see why"
        ) from None


def _first_build(settings: Settings, index_dir: Path) -> None:
    # Another process doing the same first-use build makes this one wait, not fail.
    embedder = make_embedder(settings)
    build_from_sources(
        settings, embedder, index_dir, settings.resolved_sources, lock_wait_seconds=600
    )


def make_answerer(settings: Settings, embedder: Embedder, index: ArticleIndex) -> Answerer:
    """The extractive answerer, or, with answer_backend = "openai", one whose
    wording comes from a chat model (checked, with the extractive answer as fallback)."""
    answerer = make_extractive_answerer(settings, embedder, index)
    if settings.answer_backend == "openai":
        from bot.answer.generation import GeneratedAnswerer

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return GeneratedAnswerer(  # type: ignore[return-value]
            answerer,
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            api_key=key,
            timeout_seconds=settings.openai_timeout_seconds,
            passages=settings.top_k,
        )
    return answerer


def make_extractive_answerer(
    settings: Settings, embedder: Embedder, index: ArticleIndex
) -> Answerer:
    return Answerer(
        index,
        embedder,
        top_k=settings.top_k,
        min_score=settings.min_score,
        lexical_weight=settings.lexical_weight,
        recency_weight=settings.recency_weight,
        retrieval=Retrieval(
            settings.retrieval_mode,
            settings.retrieval_fusion,
            settings.dense_weight,
            settings.retrieval_candidates,
            settings.rerank_weight,
            settings.rerank_depth,
        ),
        answer_max_chars=settings.answer_max_chars,
        question_max_chars=settings.question_max_chars,
    )


class IndexWatcher:
    """Keeps an answerer on the current version of its index directory: a check
    of the pointer file before each question (a few microseconds), a load when
    another process or this one published a new version."""

    def __init__(self, answerer: Answerer, index_dir: Path) -> None:
        self.answerer = answerer
        self.index_dir = Path(index_dir)
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Swap in the current version if it changed; True if it did. A version that
        cannot be loaded (pruned meanwhile, damaged, a bad pointer) is logged and the
        one in use keeps serving."""
        try:
            if read_pointer(self.index_dir) in (None, self.answerer.index.version):
                return False
            with self._lock:
                name = read_pointer(self.index_dir)
                if name in (None, self.answerer.index.version):
                    return False
                index = ArticleIndex.load(self.index_dir, self.answerer.embedder)
        except ArticleBotError:
            log.warning(
                "could not load the current index version; still serving %s",
                self.answerer.index.version,
                exc_info=True,
            )
            return False
        self.answerer.use_index(index)
        log.info("now answering from index version %s", index.version)
        return True
