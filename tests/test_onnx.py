"""The ONNX query path: exported at build, the same vectors as the model,
checked by checksum, torch as the fallback, and no torch where it serves."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bot.settings import Settings, bundled_dir
from bot.wiring import make_answerer
from index.build.publish import build_index
from index.config import EmbeddingConfig
from index.embedding.embedder import BULK_TEXTS_TORCH_LOADED, Embedder, TextEncoder
from index.embedding.onnx_model import MIN_COSINE, OnnxEncoder, file_sha256
from index.errors import IndexCorruptError
from index.sentence_split import sentence_spans
from index.sources.articles import load_articles
from index.storage.article_index import ArticleIndex
from index.storage.layout import MODELS, Manifest, read_current
from tests.fakes.towns import TOWNS, town_articles

# The export, its checks and its fallbacks: all about the real model.
pytestmark = pytest.mark.model

FIXTURES = Path(__file__).parent / "fixtures"
QUESTION = "When was the International Space Station launched?"


def with_model_of(embedder: Embedder, config: EmbeddingConfig | None = None) -> Embedder:
    """A new embedder, as a new process has it (no export opened), running the weights
    `embedder` has loaded already: a second copy of the model per test put a test
    worker over 2 GB."""
    fresh = Embedder(config)
    fresh.__dict__["model"] = embedder.model  # the cached_property, filled
    return fresh


@pytest.fixture
def fresh_embedder(embedder: Embedder) -> Embedder:
    return with_model_of(embedder)


@pytest.fixture(scope="module")
def torch_embedder(embedder: Embedder) -> Embedder:
    """The model run by torch alone (no export)."""
    return with_model_of(embedder, EmbeddingConfig(embedding_backend="torch"))


@pytest.fixture(scope="module")
def onnx_encoder(bundled_index_dir: Path) -> TextEncoder:
    """What embeds questions for the bundled index, loaded by a fresh embedder: the export."""
    encoder = ArticleIndex.load(bundled_index_dir, Embedder()).encoder
    assert encoder.backend == "onnx"
    return encoder


def current_manifest(index_dir: Path) -> Manifest:
    current = read_current(index_dir)
    assert current is not None
    return current[0]


def test_build_stores_the_export_with_its_checksum(bundled_index_dir: Path) -> None:
    manifest = current_manifest(bundled_index_dir)
    path = bundled_index_dir / manifest.onnx["file"]
    assert path.parent == bundled_index_dir / MODELS
    assert path.name.startswith("all-MiniLM-L6-v2-") and path.suffix == ".onnx"
    assert file_sha256(path) == manifest.onnx["sha256"]
    assert path.stat().st_size > 80_000_000  # the whole model, weights included


def test_export_gives_the_models_vectors(
    onnx_encoder: TextEncoder, torch_embedder: Embedder
) -> None:
    """Questions, sentences, whole chunks, text over the 256-piece limit and odd
    scripts, in one padded batch and one by one: cosine >= 0.999 against
    sentence-transformers. Needs nothing outside the repository."""
    article = (bundled_dir() / "articles" / "russia-leaves-iss.txt").read_text()
    sentences = [article[span.start : span.end] for span in sentence_spans(article)]
    texts = [  # fewer than BULK_TEXTS_TORCH_LOADED, so the export embeds them all
        QUESTION,
        "How long was Mir in orbit?",
        "Who leads Roscosmos?",
        "what's the weather like tomorrow",
        "Wann verlässt Russland die ISS?",
        *sentences[:40],
        article[:1200],
        article,  # far over the model's limit: both must truncate alike
        "ok",
        "?",
        "Zürich, 北京, São Paulo, Москва — 🚀🛰️ and ‮reversed‬ text",
    ]
    assert len(texts) < BULK_TEXTS_TORCH_LOADED
    fast = onnx_encoder.encode(texts)
    reference = torch_embedder.encode(texts)
    assert fast.dtype == np.float32 and fast.flags["C_CONTIGUOUS"]
    assert fast.shape == reference.shape == (len(texts), 384)
    assert float(np.min(np.sum(fast * reference, axis=1))) >= MIN_COSINE
    one_by_one = np.concatenate([onnx_encoder.encode([t]) for t in texts[-6:]])
    assert float(np.min(np.sum(one_by_one * reference[-6:], axis=1))) >= MIN_COSINE


def test_the_export_s_threads_sleep_between_questions(onnx_encoder: TextEncoder) -> None:
    """Spinning, they held the second core a question's BM25 runs on meanwhile."""
    assert onnx_encoder.onnx is not None
    options = onnx_encoder.onnx._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(min_size=1, max_size=400))
def test_any_text_gets_the_same_vector(
    onnx_encoder: TextEncoder, torch_embedder: Embedder, text: str
) -> None:
    fast, reference = onnx_encoder.encode([text]), torch_embedder.encode([text])
    assert float(np.sum(fast * reference)) >= MIN_COSINE


def test_a_damaged_export_falls_back_to_torch(
    index_copy: Path,
    settings: Settings,
    fresh_embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    manifest = current_manifest(index_copy)
    path = index_copy / manifest.onnx["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # same size, different bytes
    path.unlink()  # the copy may share its inode with the session's export
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        index = ArticleIndex.load(index_copy, fresh_embedder)
    assert index.encoder.backend == "torch"
    assert "missing or damaged" in caplog.text and str(path) in caplog.text
    assert "1998" in make_answerer(settings, index).answer(QUESTION).text


def test_copies_of_one_export_share_one_session(
    bundled_index_dir: Path, embedder: Embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A session of the model costs about 90 MB: the copies of one export in many index
    folders (collections, rebuilt folders) are opened once per process, each copy
    checked first; a copy whose bytes differ is never served by the shared session."""
    shared = ArticleIndex.load(bundled_index_dir, embedder).encoder.onnx
    for n in range(3):
        shutil.copytree(bundled_index_dir, tmp_path / f"copy-{n}")
        assert ArticleIndex.load(tmp_path / f"copy-{n}", embedder).encoder.onnx is shared
    tampered = tmp_path / "tampered"
    shutil.copytree(bundled_index_dir, tampered)
    path = tampered / current_manifest(tampered).onnx["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    path.unlink()  # the copy may share its inode with the genuine export
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        assert ArticleIndex.load(tampered, embedder).encoder.backend == "torch"
    assert "checksum differs" in caplog.text


def test_an_index_without_an_export_is_served_with_torch(
    tmp_path: Path, torch_embedder: Embedder, settings: Settings
) -> None:
    """backend = "torch" exports nothing; such an index (or one built before
    exports existed) loads and answers, with torch."""
    articles, _ = load_articles([str(bundled_dir() / "articles")])
    build_index(articles, torch_embedder, tmp_path / "index")
    assert current_manifest(tmp_path / "index").onnx is None
    assert not (tmp_path / "index" / MODELS).exists()
    index = ArticleIndex.load(tmp_path / "index", with_model_of(torch_embedder))
    assert index.encoder.backend == "torch"
    assert "1998" in make_answerer(settings, index).answer(QUESTION).text


def test_a_failed_export_leaves_a_working_torch_index(
    tmp_path: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    (index_dir / MODELS).write_text("a file where the models folder should be")
    articles, _ = load_articles([str(bundled_dir() / "articles")])
    with caplog.at_level(logging.WARNING):
        manifest = build_index(articles, embedder, index_dir)
    assert manifest.onnx is None and "embedding with torch" in caplog.text
    assert ArticleIndex.load(index_dir, Embedder()).encoder.backend == "torch"


def test_exports_no_version_uses_are_pruned(index_copy: Path, embedder: Embedder) -> None:
    stale = index_copy / MODELS / "all-MiniLM-L6-v2-0000000000000000.onnx"
    stale.write_bytes(b"an export of weights no version uses any more")
    articles, _ = load_articles([str(bundled_dir() / "articles")])
    manifest = build_index(articles, embedder, index_copy)
    assert not stale.exists()
    assert (index_copy / manifest.onnx["file"]).is_file()


NO_TORCH = """
import json, sys
from bot.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["index", "list", "--index-dir", "{index}"],
        ["index", "status", "--index-dir", "{index}"],
        ["ask", "--index-dir", "{index}", QUESTION],
        ["index", "add", "{story}", "--index-dir", "{index}"],
    ],
    ids=["help", "index-list", "index-status", "ask", "index-add"],
)
def test_cli_on_the_onnx_path_never_imports_torch(
    index_copy: Path, tmp_path: Path, args: list
) -> None:
    story = tmp_path / "harbour.txt"
    story.write_text("Harbour crane replaced\n\nThe harbour crane was replaced after forty years.")
    args = [a.format(index=index_copy, story=story) for a in args]
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True, timeout=120
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}, done.stderr
    if args[0] == "ask":
        assert "1998" in done.stdout
    if args[:2] == ["index", "add"]:
        manifest = current_manifest(index_copy)
        assert "harbour" in {a["id"] for a in manifest.articles}
        assert manifest.onnx is not None


BOTS_START = """
import asyncio, json, sys
from bot.settings import load_settings
from bot.process.launcher import make_service
from bot.chat.discord.client import create_discord_bot
from bot.chat.slack.app import create_slack_app
from bot.wiring import open_state
settings = load_settings()
state = open_state(settings)
service = make_service(settings, "slack", state)
create_slack_app(service)
create_discord_bot(make_service(settings, "discord", state))
answer = service.answerer.answer("When was the International Space Station launched?")
report = asyncio.run(service.reindex())  # a bulk job, which the export embeds too
heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules)
print(json.dumps({"heavy": heavy, "answered": "1998" in answer.text, "articles": len(report.manifest.articles)}))
"""


@pytest.mark.parametrize("first_start", [False, True], ids=["index-built", "first-start"])
def test_bots_start_and_answer_without_torch(
    bundled_index_dir: Path, tmp_path: Path, first_start: bool
) -> None:
    """With the index built, and on a first start that builds it (in a child
    process, so the export's torch stays out of the bot). A /reindex of 21 articles
    (over BULK_TEXTS sentences) in the bot embeds with the export, not torch."""
    towns = town_articles(tmp_path / "towns")
    env = {
        **os.environ,
        "ARTICLEBOT_SOURCES": json.dumps([str(towns)]),
        "ARTICLEBOT_DATA_DIR": str(tmp_path / "data"),
        "DISCORD_TOKEN": "discord-token",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "secret",
    }
    env.pop("ARTICLEBOT_INDEX_DIR", None)
    if not first_start:
        env["ARTICLEBOT_INDEX_DIR"] = str(tmp_path / "index")
        shutil.copytree(bundled_index_dir, tmp_path / "index")
    done = subprocess.run(
        [sys.executable, "-c", BOTS_START], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"heavy": [], "answered": True, "articles": TOWNS + 1}
    if first_start:
        assert current_manifest(tmp_path / "data" / "index").onnx is not None


def test_an_unreadable_old_manifest_keeps_exports_and_the_build(
    index_copy: Path, embedder: Embedder
) -> None:
    """Pruning exports must not fail a build, nor guess what a damaged version uses."""
    damaged = index_copy / "versions" / "20000101T000000000000Z-000000"
    damaged.mkdir()
    (damaged / "manifest.json").write_text("{ not json")
    kept = index_copy / MODELS / "all-MiniLM-L6-v2-0000000000000000.onnx"
    kept.write_bytes(b"an export only the damaged version might use")
    articles, _ = load_articles([str(bundled_dir() / "articles")])
    manifest = build_index(articles, embedder, index_copy)
    assert current_manifest(index_copy).version == manifest.version
    assert kept.exists() and (index_copy / manifest.onnx["file"]).is_file()


def test_a_tampered_export_is_not_accepted_at_build(
    index_copy: Path, torch_embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    """An export on disk is trusted at build time only with the checksum the current
    version recorded; a changed one is exported again, never recorded as it is."""
    recorded = current_manifest(index_copy).onnx
    path = index_copy / recorded["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # still a valid model, other weights
    path.unlink()  # the copy may share its inode with the session's export
    path.write_bytes(bytes(data))
    tampered = file_sha256(path)
    articles, _ = load_articles([str(bundled_dir() / "articles"), str(FIXTURES)])
    with caplog.at_level(logging.WARNING):  # a new process's embedder: no export opened yet
        manifest = build_index(articles, with_model_of(torch_embedder), index_copy)
    assert "not the one recorded" in caplog.text
    assert manifest.onnx["sha256"] != tampered
    assert file_sha256(path) == manifest.onnx["sha256"]
    fresh = ArticleIndex.load(index_copy, Embedder()).encoder
    assert fresh.backend == "onnx"
    probe = ["When was the International Space Station launched?"]
    assert float(fresh.encode(probe)[0] @ torch_embedder.encode(probe)[0]) >= MIN_COSINE


def test_the_export_is_read_once(
    bundled_index_dir: Path, embedder: Embedder, tmp_path: Path
) -> None:
    """The bytes that are hashed are the bytes onnxruntime loads. A named pipe can be
    read only once: a second read of the file (a check-then-load race) would hang."""
    recorded = current_manifest(bundled_index_dir).onnx
    genuine = (bundled_index_dir / recorded["file"]).read_bytes()
    pipe = tmp_path / "model.onnx"
    os.mkfifo(pipe)

    def write_once() -> None:
        with open(pipe, "wb") as handle:
            handle.write(genuine)

    writer = threading.Thread(target=write_once, daemon=True)
    writer.start()
    opened: list[OnnxEncoder] = []
    reader = threading.Thread(
        target=lambda: opened.append(
            OnnxEncoder(pipe, embedder.tokenizer, embedder.max_tokens, 0, recorded["sha256"])
        ),
        daemon=True,
    )
    reader.start()
    reader.join(60)
    if reader.is_alive():  # unblock the second read so the thread can end
        with open(pipe, "wb"):
            pass
    assert opened, "the export was read more than once"
    assert opened[0].sha256 == recorded["sha256"]


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("CURRENT", "../../../etc"),
        ("CURRENT", "/etc/passwd"),
        ("onnx", "/etc/passwd"),
        ("onnx", "models/../../outside.onnx"),
        ("onnx", "versions/other.onnx"),
        ("files", "../outside.faiss"),
        ("files", "/etc/passwd"),
    ],
)
def test_index_file_names_must_stay_inside_the_index(
    index_copy: Path, embedder: Embedder, where: str, value: str
) -> None:
    if where == "CURRENT":
        (index_copy / "CURRENT").write_text(value + "\n")
    else:
        version = (index_copy / "CURRENT").read_text().strip()
        path = index_copy / "versions" / version / "manifest.json"
        manifest = json.loads(path.read_text())
        if where == "onnx":
            manifest["onnx"]["file"] = value
        else:
            manifest["files"][value] = 1
        path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match=r"not a version|outside its index directory"):
        ArticleIndex.load(index_copy, embedder)
