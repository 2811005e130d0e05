"""The articles of one index directory, and the changes an operator makes
to it: add, remove, sync, rollback. Each change publishes a new version (or
none, when nothing changed) under the build lock."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from index.build.publish import BuildLock, build_recipe, built_by_newer, publish
from index.config import IndexConfig
from index.embedding.embedder import Embedder
from index.errors import (
    IndexMissingError,
    NewerBuildError,
    NoOlderVersionError,
    UnknownArticleError,
)
from index.progress import SILENT, Progress
from index.records import Article
from index.storage.layout import Manifest, read_current, read_pointer, switch_current, versions


@dataclass
class ChangeReport:
    """What a change did, for the summary line."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    # rebuilt though no article changed: the build settings differ from the version's
    settings_changed: bool = False
    # articles added by hand now given by a source (or the reverse): marked anew
    by_hand_changed: bool = False
    manifest: Manifest | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """A new version was published."""
        return bool(
            self.added
            or self.updated
            or self.removed
            or self.settings_changed
            or self.by_hand_changed
        )


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


class IndexDirectory:
    """One index directory's articles, changed safely one version at a time."""

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        config: IndexConfig | None = None,
        *,
        progress: Progress = SILENT,
        lock_wait_seconds: float = 0.0,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.config = config or IndexConfig()
        self.progress = progress
        self.lock_wait_seconds = lock_wait_seconds

    def articles(self) -> list[Article]:
        current = read_current(self.index_dir)
        return current[1] if current else []

    def add(self, articles: list[Article], *, by_hand: bool = False) -> ChangeReport:
        """Add new articles and replace changed ones; the others stay. `by_hand`: the
        operator's own (`index add`), which a sync keeps until they are removed by hand."""
        ids = {a.id for a in articles}
        return self._change(
            lambda old, _: {**old, **{a.id: a for a in articles}},
            lambda was: was | ids if by_hand else was,
        )

    def remove(self, article_ids: list[str]) -> ChangeReport:
        def without(old: dict[str, Article], _: set[str]) -> dict[str, Article]:
            unknown = [i for i in article_ids if i not in old]
            if unknown:
                raise UnknownArticleError(
                    f"no such article: {', '.join(unknown)} (see `articlebot index list`)"
                )
            return {k: v for k, v in old.items() if k not in article_ids}

        return self._change(without, lambda was: was - set(article_ids))

    def sync(
        self,
        articles: list[Article],
        keep_sources: set[str] = frozenset(),
        keep_ids: set[str] = frozenset(),
        *,
        locked: bool = False,
    ) -> ChangeReport:
        """Hold exactly `articles` and the articles added by hand; old articles whose
        source is in `keep_sources` (it failed to load this time) or whose id is in
        `keep_ids` (its source is unchanged or held back) are kept rather than dropped.
        An article added by hand that the sources give is theirs from now on.
        `locked`: the caller already holds the build lock."""
        given = {a.id for a in articles}

        def exactly(old: dict[str, Article], by_hand: set[str]) -> dict[str, Article]:
            kept = {
                k: v
                for k, v in old.items()
                if v.source in keep_sources or k in keep_ids or k in by_hand
            }
            return {**kept, **{a.id: a for a in articles}}

        return self._change(exactly, lambda was: was - given, locked)

    def _change(
        self,
        new_set: Callable[[dict[str, Article], set[str]], dict[str, Article]],
        by_hand_after: Callable[[set[str]], set[str]],
        locked: bool = False,
    ) -> ChangeReport:
        """Publish the articles `new_set` makes of the current ones (and of those added
        by hand), with the ones `by_hand_after` marks as added by hand."""
        started = time.perf_counter()
        lock = nullcontext() if locked else BuildLock(self.index_dir, self.lock_wait_seconds)
        with lock:
            current = read_current(self.index_dir)
            old_manifest, old_list = current if current else (None, [])
            if old_manifest and (newer := built_by_newer(old_manifest.recipe)):
                raise NewerBuildError(
                    f"{self.index_dir} was built by a newer ArticleBot (build version "
                    f"{newer}); it is left as it is: upgrade this one to change it"
                )
            old = {a.id: a for a in old_list}
            was_by_hand = added_by_hand(old_manifest)
            new = new_set(dict(old), was_by_hand)
            by_hand = by_hand_after(was_by_hand) & new.keys()
            report = ChangeReport(
                added=[i for i in new if i not in old],
                updated=[i for i in new if i in old and new[i].content_hash != old[i].content_hash],
                removed=[i for i in old if i not in new],
            )
            report.unchanged = len(new) - len(report.added) - len(report.updated)
            recipe = build_recipe(self.config, self.embedder)
            report.settings_changed = old_manifest is not None and old_manifest.recipe != recipe
            report.by_hand_changed = by_hand != was_by_hand & new.keys()
            if report.changed or current is None:
                added_at = (
                    {a["id"]: a["added_at"] for a in old_manifest.articles} if old_manifest else {}
                )
                report.manifest = publish(
                    list(new.values()),
                    self.embedder,
                    self.index_dir,
                    self.config,
                    progress=self.progress,
                    added_at=added_at,
                    by_hand=by_hand,
                )
            else:
                report.manifest = old_manifest
        report.seconds = time.perf_counter() - started
        return report


def added_by_hand(manifest: Manifest | None) -> set[str]:
    """The ids of a version's articles the operator added by hand (`index add`)."""
    return {a["id"] for a in manifest.articles if a.get("by_hand")} if manifest else set()


def rollback(index_dir: Path) -> str:
    """Make the version before the current one current again; returns its name."""
    index_dir = Path(index_dir)
    with BuildLock(index_dir):
        current = read_pointer(index_dir)
        if current is None:
            raise IndexMissingError(f"no index at {index_dir}")
        older = [n for n in versions(index_dir) if n < current]
        if not older:
            raise NoOlderVersionError("there is no older version to roll back to")
        switch_current(index_dir, older[-1])
        return older[-1]


def index_status(index_dir: Path) -> dict:
    """Counts, model, size on disk, build time and version, from the manifest."""
    index_dir = Path(index_dir)
    current = read_current(index_dir)
    if current is None:
        raise IndexMissingError(f"no index at {index_dir}; build one with `articlebot index build`")
    manifest, articles = current
    return {
        "index_dir": str(index_dir),
        "version": manifest.version,
        "versions": versions(index_dir),
        "articles": len(articles),
        "chunks": manifest.chunk_count,
        "model": manifest.model_name,
        "dimension": manifest.dimension,
        "query_embedding": f"onnx ({manifest.onnx['file']})" if manifest.onnx else "torch",
        "vector_index": manifest.faiss_index,
        "built_at": manifest.built_at,
        "build_seconds": manifest.build_seconds,
        "disk_bytes": disk_bytes(index_dir),
        "format": manifest.format,
    }
