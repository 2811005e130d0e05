"""Wiring shared by every entry point: from the settings to the embedder, the
collection, the loaded index and the answerer.

`open_answerer` is the one way to get an answerer from settings; the command
line, the bot launcher, the benchmarks and the tests all call it. Each layer
gets its own section of the settings (a RetrievalConfig, an AnswerConfig...).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from bot.answer.answerer import Answerer
from bot.answer.config import AnswerConfig, GenerationConfig
from bot.answer.reader import Reader
from bot.answer.rerank import SHIPPED, Reranker
from bot.chat.state import State, local_state
from bot.settings import Settings
from index.build.directory import ChangeReport, IndexDirectory
from index.build.freshness import RefreshReport, refresh
from index.build.publish import build_index
from index.config import EmbeddingConfig, FetchConfig, IndexConfig, RetrievalConfig
from index.embedding.embedder import Embedder
from index.errors import BuildFailedError, NoArticlesError
from index.progress import SILENT, Progress
from index.records import Article, LoadFailure
from index.sources.articles import load_articles
from index.sources.fetch import Fetcher
from index.storage.article_index import ArticleIndex, set_search_threads
from index.storage.layout import Manifest, has_index, stored_model_dir
from index.storage.milvus import MilvusConfig

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did, for the summary line and the exit status."""

    manifest: Manifest | None
    failures: list[LoadFailure] = field(default_factory=list)
    seconds: float = 0.0


def make_embedder(settings: Settings) -> Embedder:
    """The embedder; in the serving install, with the model files an index stored."""
    index_dirs = [settings.resolved_index_dir]
    index_dirs += [settings.collection_index_dir(name) for name in settings.collections]
    stored = (stored_model_dir(d) for d in index_dirs)  # read only when no model is installed
    return Embedder(settings.section(EmbeddingConfig), stored)


def load_sources(
    settings: Settings, sources: list[str], *, progress: Progress = SILENT
) -> tuple[list[Article], list[LoadFailure]]:
    fetcher = Fetcher(settings.section(FetchConfig))
    articles, failures = load_articles(sources, fetcher=fetcher, progress=progress)
    log_failures(failures)
    return articles, failures


def log_failures(failures: list[LoadFailure]) -> None:
    """Each source that could not be loaded, for the operator's log."""
    for failure in failures:
        log.warning("not indexed: %s: %s", failure.source, failure.reason)


def make_index_directory(
    settings: Settings, embedder: Embedder, index_dir: Path, *, progress: Progress = SILENT
) -> IndexDirectory:
    return IndexDirectory(index_dir, embedder, settings.section(IndexConfig), progress=progress)


def refresh_sources(
    settings: Settings,
    embedder: Embedder,
    index_dir: Path,
    sources: list[str],
    *,
    fresh: bool,
    now: float | None = None,
    next_run: float | None = None,
    progress: Progress = SILENT,
) -> RefreshReport:
    """Bring the index at `index_dir` up to `sources` (`fresh`: each fetched afresh,
    else only what is due, conditionally); each source that failed is logged."""
    report = refresh(
        index_dir,
        sources,
        embedder,
        Fetcher(settings.section(FetchConfig)),
        time.time() if now is None else now,
        config=settings.section(IndexConfig),
        next_run=next_run,
        fresh=fresh,
        progress=progress,
    )
    log_failures(report.gathered.failures)
    return report


def sync_from_sources(
    settings: Settings,
    embedder: Embedder,
    index_dir: Path,
    sources: list[str],
    *,
    progress: Progress = SILENT,
) -> tuple[ChangeReport, list[LoadFailure]]:
    """Make the index hold what `sources` give now (and the articles added by hand),
    every source fetched afresh. What a failing source gave last time (a feed: its
    entries' articles) is kept, not dropped, and the failure is reported."""
    report = refresh_sources(settings, embedder, index_dir, sources, fresh=True, progress=progress)
    return report.change, report.gathered.failures


def build_from_sources(
    settings: Settings,
    embedder: Embedder,
    index_dir: Path,
    sources: list[str],
    *,
    progress: Progress = SILENT,
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
        settings.section(IndexConfig),
        progress=progress,
        lock_wait_seconds=lock_wait_seconds,
    )
    return BuildReport(manifest, failures, time.perf_counter() - started)


def open_index(settings: Settings, embedder: Embedder, *, bootstrap: bool) -> ArticleIndex:
    """Load the index; with `bootstrap`, first build it from the configured
    sources (by default the bundled article) when there is none yet."""
    index_dir = settings.resolved_index_dir
    if bootstrap and not has_index(index_dir):
        log.info("no index at %s yet; building it from %s", index_dir, settings.resolved_sources)
        build_in_child_process(settings, index_dir)
    return load_index(settings, embedder, index_dir)


def load_index(settings: Settings, embedder: Embedder, index_dir: Path) -> ArticleIndex:
    """The current version at `index_dir`, its Milvus collection (if it has one)
    opened where the settings say."""
    preload = settings.section(IndexConfig).preload_mb
    index = ArticleIndex.load(index_dir, embedder, milvus_for(settings, index_dir), preload)
    return settled(index)


def settled(index: ArticleIndex) -> ArticleIndex:
    """`index`, with what the process holds so far out of the garbage collector's
    way (gc.freeze): a version lives as long as it serves, and a full collection
    walked all of it, at a million passages 76 to 105 ms, in the middle of an
    answer. A version swapped out is still freed, by reference counting (its
    objects hold no cycles); what the freeze can keep is cyclic garbage made of
    objects alive at a swap, a few per swap."""
    gc.freeze()
    return index


def milvus_for(settings: Settings, index_dir: Path) -> MilvusConfig:
    return MilvusConfig.of(settings.section(IndexConfig), index_dir)


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


def make_reranker(settings: Settings) -> Reranker | None:
    """The shipped reranker, opened once per process and shared by every answerer
    in it; None when the settings turn it off."""
    return Reranker(SHIPPED, settings.onnx_threads) if settings.reranker else None


def make_answerer(
    settings: Settings, index: ArticleIndex, reranker: Reranker | None = None
) -> Answerer:
    """The answerer for a loaded index: extractive, or, with answer_backend =
    "openai", reworded by a chat model (checked, the extractive answer as fallback)."""
    answer = settings.section(AnswerConfig)
    writer = None
    if settings.answer_backend == "openai":
        from bot.answer.generation import GeneratedWriter

        writer = GeneratedWriter(settings.section(GenerationConfig), answer.answer_max_chars)
    retrieval = settings.section(RetrievalConfig)
    set_search_threads(retrieval.search_threads)
    reader = Reader.open(answer.reader_dir, settings.onnx_threads) if answer.reader_dir else None
    reranker = (reranker or make_reranker(settings)) if answer.reranker else None
    return Answerer(index, answer, retrieval, writer, reader, reranker)


def open_answerer(
    settings: Settings,
    embedder: Embedder | None = None,
    *,
    bootstrap: bool = False,
    reranker: Reranker | None = None,
) -> Answerer:
    """The answerer for the configured index: the one way from settings to answers.
    With `bootstrap`, the index is first built if there is none yet; `reranker`, one
    already open, else the settings' own is opened."""
    embedder = embedder or make_embedder(settings)
    index = open_index(settings, embedder, bootstrap=bootstrap)
    return make_answerer(settings, index, reranker)


def open_state(settings: Settings) -> State:
    """The state `state_url` points at: PostgreSQL, shared by every replica that
    points there; else this process's own. psycopg is imported only for the first."""
    if settings.state_url is None:
        return local_state(settings)
    from bot.chat.postgres import postgres_state

    return postgres_state(settings)
