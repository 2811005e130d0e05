"""Publishing while questions are answered (the hot swap), and robustness against
killed builds, a second build at once and failing disks."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import faiss
import pytest

from bot.collection import IndexWatcher
from bot.settings import Settings
from bot.wiring import make_answerer
from index.build.directory import IndexDirectory
from index.build.publish import BuildLock
from index.config import IndexConfig
from index.embedding.embedder import Embedder
from index.sources.articles import load_articles
from index.storage.article_index import ArticleIndex
from index.storage.layout import read_pointer
from tests.lifecycle.helpers import BRIDGE, BUNDLED, FIXTURES, ask_json, cli

# Every change here goes through the command line or a real build: the real model.
pytestmark = pytest.mark.model


# --- hot swap ------------------------------------------------------------------------------------


def test_running_answerer_picks_up_a_version_published_by_another_process(
    index_dir: Path, embedder: Embedder, settings: Settings, tmp_path: Path
) -> None:
    articles, _ = load_articles([str(BUNDLED)])
    IndexDirectory(index_dir, embedder).add(articles)
    answerer = make_answerer(settings, ArticleIndex.load(index_dir, embedder))
    watcher = IndexWatcher(answerer, index_dir, embedder)
    assert answerer.answer(BRIDGE).abstained
    exe = Path(sys.executable).parent / "articlebot"
    subprocess.run(
        [
            str(exe),
            "index",
            "add",
            str(FIXTURES / "harbour-bridge.txt"),
            "--index-dir",
            str(index_dir),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        env={**os.environ, "ARTICLEBOT_DATA_DIR": str(tmp_path)},
    )
    assert watcher.refresh() is True
    assert "412 million" in answerer.answer(BRIDGE).text
    assert watcher.refresh() is False  # nothing new: a pointer read, no reload


def test_questions_during_ten_publications_never_fail_or_tear(
    index_dir: Path, embedder: Embedder, settings: Settings, library: Path
) -> None:
    collection = IndexDirectory(index_dir, embedder)
    base, _ = load_articles([str(BUNDLED)])
    collection.add(base)
    answerer = make_answerer(settings, ArticleIndex.load(index_dir, embedder))
    watcher = IndexWatcher(answerer, index_dir, embedder)
    published: list[str] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def publish_ten() -> None:
        try:
            for n in range(10):
                story = library / f"story-{n}.txt"
                story.write_text(
                    f"Story {n}\n\nThe lighthouse number {n} was repainted in colour {n}."
                )
                articles, _ = load_articles([str(story)])
                report = IndexDirectory(index_dir, embedder, IndexConfig(keep_versions=2)).add(
                    articles
                )
                published.append(report.manifest.version)
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=publish_ten)
    thread.start()
    answered = 0
    while not done.is_set() or answered < 5:
        watcher.refresh()
        answer = answerer.answer("When was the International Space Station launched?")
        assert "1998" in answer.text
        # no torn read: every cited chunk is exactly its article's text in that version
        for source in answer.sources:
            assert source.article.text[source.chunk.start : source.chunk.end] == source.chunk.text
        answered += 1
    thread.join()
    assert failures == [] and len(published) == 10 and answered >= 10
    watcher.refresh()
    assert answerer.index.version == published[-1]


# --- robustness ----------------------------------------------------------------------------------


def test_killed_builds_never_break_the_index(
    tmp_path: Path, index_dir: Path, embedder: Embedder, settings: Settings
) -> None:
    """SIGKILL `articlebot index add` at random moments of its run, 20 rounds."""
    IndexDirectory(index_dir, embedder).add(load_articles([str(BUNDLED)])[0])
    exe = Path(sys.executable).parent / "articlebot"
    env = {**os.environ, "ARTICLEBOT_DATA_DIR": str(tmp_path)}
    rng = random.Random(20)
    killed_mid_way = 0
    whole_run = None  # seconds one unkilled `index add` takes; the kills fall within it
    for round_ in range(21):
        story = tmp_path / f"round-{round_}.txt"
        story.write_text(f"Round {round_}\n\nThe tide gauge recorded {round_} metres at the pier.")
        started = time.monotonic()
        process = subprocess.Popen(
            [str(exe), "index", "add", str(story), "--index-dir", str(index_dir)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if whole_run is None:
            assert process.wait(60) == 0
            whole_run = time.monotonic() - started
            continue
        time.sleep(rng.uniform(0.0, whole_run))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_mid_way += 1
        process.wait(30)
        index = ArticleIndex.load(index_dir, embedder)  # always loads ...
        answerer = make_answerer(settings, index)
        assert (
            "1998" in answerer.answer("When was the International Space Station launched?").text
        )  # ... and answers
    assert killed_mid_way >= 5
    final = tmp_path / "final.txt"
    final.write_text("Final\n\nThe harbour crane was replaced after forty years.")
    report = IndexDirectory(index_dir, embedder).add(
        load_articles([str(final)])[0]
    )  # the next build succeeds
    assert "final" in {a["id"] for a in report.manifest.articles}


def test_second_build_at_once_fails_clearly(
    capsys: pytest.CaptureFixture[str], index_dir: Path, library: Path
) -> None:
    cli(capsys, "index", "build", str(BUNDLED), "--index-dir", str(index_dir))
    before = read_pointer(index_dir)
    with BuildLock(index_dir):
        code, _, err = cli(capsys, "index", "add", str(library), "--index-dir", str(index_dir))
    assert code == 1 and "another build is running" in err
    assert read_pointer(index_dir) == before


@pytest.mark.parametrize(
    "error", [OSError(28, "No space left on device"), PermissionError(13, "Permission denied")]
)
def test_disk_errors_leave_the_old_index_serving(
    capsys: pytest.CaptureFixture[str],
    index_dir: Path,
    library: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: OSError,
) -> None:
    cli(capsys, "index", "build", str(BUNDLED), "--index-dir", str(index_dir))
    before = read_pointer(index_dir)

    def failing(*args: object) -> None:
        raise error

    monkeypatch.setattr(faiss, "write_index", failing)
    code, _, err = cli(capsys, "index", "add", str(library), "--index-dir", str(index_dir))
    assert code == 1 and error.strerror in err
    monkeypatch.undo()
    assert read_pointer(index_dir) == before
    assert (
        "1998"
        in ask_json(capsys, index_dir, "When was the International Space Station launched?")[
            "answer"
        ]
    )


def test_a_running_question_finishes_on_the_old_version(
    index_dir: Path, embedder: Embedder, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A question held mid-search while a new version is published and swapped in
    finishes on the version it started with; the next question uses the new one."""
    from index.retrieval import Retriever

    IndexDirectory(index_dir, embedder).add(load_articles([str(BUNDLED)])[0])
    answerer = make_answerer(settings, ArticleIndex.load(index_dir, embedder))
    watcher = IndexWatcher(answerer, index_dir, embedder)
    old = answerer.index.version
    search, entered, release = Retriever.search, threading.Event(), threading.Event()

    def held_on_the_old_version(self: Retriever, *args: object, **kwargs: object) -> object:
        if self.index.version == old and not entered.is_set():
            entered.set()
            assert release.wait(60)
        return search(self, *args, **kwargs)

    monkeypatch.setattr(Retriever, "search", held_on_the_old_version)
    running: list = []
    question = threading.Thread(
        target=lambda: running.append(
            answerer.answer("When was the International Space Station launched?")
        )
    )
    question.start()
    assert entered.wait(60)
    IndexDirectory(index_dir, embedder).add(
        load_articles([str(FIXTURES / "harbour-bridge.txt")])[0]
    )
    assert watcher.refresh()  # swapped while the first question is still running
    new = answerer.answer(BRIDGE)
    release.set()
    question.join(60)
    (first,) = running
    assert first.index_version == old and "1998" in first.text
    assert new.index_version == answerer.index.version != old and "412 million" in new.text
