"""Process-level wiring shared by every entry point: model, index, answerer.

Entry points (the command line now, the Discord and Slack launchers later)
build these once from the settings and hand them down.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.core import Answerer
from bot.settings import Settings
from index.articles import LoadFailure, load_articles
from index.chunking import ChunkingConfig
from index.embedding import Embedder
from index.errors import NoArticlesError
from index.store import ArticleIndex, Manifest, build_index, has_index

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did, for the summary line and the exit status."""

    manifest: Manifest | None
    failures: list[LoadFailure] = field(default_factory=list)
    seconds: float = 0.0


def make_embedder(settings: Settings) -> Embedder:
    return Embedder(
        settings.model_path, model_name=settings.model_name, batch_size=settings.embed_batch_size
    )


def chunking_config(settings: Settings, embedder: Embedder) -> ChunkingConfig:
    return ChunkingConfig(
        target_tokens=settings.chunk_target_tokens,
        max_tokens=embedder.max_tokens - 2,
        overlap_tokens=settings.chunk_overlap_tokens,
    )


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
    articles, failures = load_articles(
        sources, timeout=settings.fetch_timeout_seconds, max_bytes=settings.fetch_max_bytes
    )
    for failure in failures:
        log.warning("not indexed: %s: %s", failure.source, failure.reason)
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
    )
    return BuildReport(manifest, failures, time.perf_counter() - started)


def open_index(settings: Settings, embedder: Embedder, *, bootstrap: bool) -> ArticleIndex:
    """Load the index; with `bootstrap`, first build it from the configured
    sources (by default the bundled article) when there is none yet."""
    index_dir = settings.resolved_index_dir
    if bootstrap and not has_index(index_dir):
        log.info("no index at %s yet; building it from %s", index_dir, settings.resolved_sources)
        # Another process doing the same first-use build makes this one wait, not fail.
        build_from_sources(
            settings, embedder, index_dir, settings.resolved_sources, lock_wait_seconds=600
        )
    return ArticleIndex.load(index_dir, embedder)


def make_answerer(settings: Settings, embedder: Embedder, index: ArticleIndex) -> Answerer:
    return Answerer(
        index,
        embedder,
        top_k=settings.top_k,
        min_score=settings.min_score,
        lexical_weight=settings.lexical_weight,
        answer_max_chars=settings.answer_max_chars,
        question_max_chars=settings.question_max_chars,
    )
