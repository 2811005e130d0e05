"""A disk that fails at every step of a build and of a publish, one step at a time:
after each failure the index still opens at a complete version and answers, no
temporary file is left behind, and the next build succeeds. (Killing the process
at random moments, tests/lifecycle/test_publishing.py, mostly lands in interpreter
start-up; this reaches every write and rename deterministically.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.settings import bundled_dir, load_settings
from bot.wiring import make_answerer
from index.build.directory import IndexDirectory
from index.embedding.embedder import Embedder
from index.records import Article
from index.sources.articles import load_articles
from index.storage.article_index import ArticleIndex
from index.storage.layout import read_pointer
from tests.fakes.faulty_disk import FaultyDisk
from tests.fakes.hashing import HashingEmbedder

FIXTURES = Path(__file__).parent / "fixtures"
BUNDLED = bundled_dir() / "articles" / "russia-leaves-iss.txt"
LAUNCH = "When was the International Space Station launched?"
CRANE = (
    "Harbour crane replaced\n\nThe harbour crane at Port Elsworth was replaced after forty years."
)


@pytest.fixture
def crane(tmp_path: Path) -> list[Article]:
    story = tmp_path / "crane.txt"
    story.write_text(CRANE)
    articles, failures = load_articles([str(story)])
    assert not failures
    return articles


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def leftovers(folder: Path, before: set[str]) -> set[str]:
    """What a build left that is neither a complete version nor the index's own state."""
    current = read_pointer(folder)
    kept_version = f"versions/{current}"
    return {
        name
        for name in files_under(folder) - before
        if not name.startswith(kept_version) and name not in ("CURRENT", "versions")
    }


def add_failing_at(step: int | None, index: Path, articles: list[Article], embedder) -> list[str]:
    """Add `articles` with the disk failing at `step` (None: never); the steps taken."""
    with FaultyDisk(index, fail_at=step) as disk:
        try:
            IndexDirectory(index, embedder).add(articles)
        except OSError as error:
            assert "No space left on device" in str(error)
    return disk.steps


def test_a_disk_failing_at_any_step_of_an_add_leaves_the_index_whole(
    fast_index_dir: Path, tmp_path: Path, crane: list[Article], fast_embedder: HashingEmbedder
) -> None:
    probe = tmp_path / "probe"
    shutil.copytree(fast_index_dir, probe)
    steps = add_failing_at(None, probe, crane, fast_embedder)
    renames = [s for s in steps if s.startswith(("os.rename", "os.replace"))]
    assert len(steps) >= 20 and len(renames) >= 2, steps  # the version and the pointer
    old_version = read_pointer(fast_index_dir)
    for step in range(1, len(steps) + 1):
        index = tmp_path / f"index-{step}"
        shutil.copytree(fast_index_dir, index)
        before = files_under(index)
        taken = add_failing_at(step, index, crane, fast_embedder)
        assert len(taken) == step, f"step {step}: the build went on after the failure"
        where = f"failing at step {step} ({taken[-1]})"
        loaded = ArticleIndex.load(index, fast_embedder)  # a complete version
        assert loaded.version == old_version or "crane" in loaded.articles, where
        assert "russia-leaves-iss" in loaded.articles, where
        assert leftovers(index, before) == set(), where
        IndexDirectory(index, fast_embedder).add(crane)  # the next build succeeds
        assert "crane" in ArticleIndex.load(index, fast_embedder).articles, where
        shutil.rmtree(index)


def test_a_disk_failing_at_any_step_of_a_first_build_leaves_nothing_half_made(
    tmp_path: Path, crane: list[Article], fast_embedder: HashingEmbedder
) -> None:
    steps = add_failing_at(None, tmp_path / "probe", crane, fast_embedder)
    for step in range(1, len(steps) + 1):
        index = tmp_path / f"index-{step}"
        add_failing_at(step, index, crane, fast_embedder)
        where = f"failing at step {step} ({steps[step - 1]})"
        if read_pointer(index) is not None:  # failed after the switch: complete
            assert "crane" in ArticleIndex.load(index, fast_embedder).articles, where
        assert leftovers(index, set()) <= {".lock", "embeddings.sqlite3"}, where
        IndexDirectory(index, fast_embedder).add(crane)
        assert "crane" in ArticleIndex.load(index, fast_embedder).articles, where
        shutil.rmtree(index)


def test_a_disk_failing_at_any_step_of_a_first_build_with_the_model(
    bundled_index_dir: Path, embedder: Embedder, tmp_path: Path
) -> None:
    """The real model's first build of a new index directory also places the ONNX export
    and the model's tokenizer files (linked or copied from the export this process
    opened): a failure at any of those steps, or of the version's, leaves no
    temporary file, and the next build answers."""
    ArticleIndex.load(bundled_index_dir, embedder)  # the export this process has open
    articles, _ = load_articles([str(BUNDLED)])
    steps = add_failing_at(None, tmp_path / "probe", articles, embedder)
    assert any("models/" in s for s in steps), steps  # the export's steps are counted
    for step in range(1, len(steps) + 1):
        index = tmp_path / f"index-{step}"
        add_failing_at(step, index, articles, embedder)
        where = f"failing at step {step} ({steps[step - 1]})"
        assert not [n for n in files_under(index) if ".tmp" in n or ".CURRENT." in n], where
        IndexDirectory(index, embedder).add(articles)
        answerer = make_answerer(
            load_settings(data_dir=tmp_path), ArticleIndex.load(index, embedder)
        )
        assert "1998" in answerer.answer(LAUNCH).text, where
        shutil.rmtree(index)
