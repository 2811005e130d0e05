"""A deterministic stand-in for the embedding model, for the fast test tier.

It hashes each word (lower-cased) into one of DIMENSION buckets and returns the
normalised counts: texts that share words get similar vectors, the same text
always gets the same one, and no torch, no ONNX and no model weights are needed.
It keeps the real model's tokenizer (light: `tokenizers` only), so chunking is
measured exactly as in production. What depends on the model's meaning (answer
quality, abstention thresholds) is tested with the real model instead.
"""

from __future__ import annotations

import hashlib
import re
from functools import cached_property

import numpy as np

from index.config import EmbeddingConfig
from index.embedding.embedder import Embedder
from index.progress import SILENT, Progress

DIMENSION = 256
WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder(Embedder):
    """The Embedder interface, with bag-of-hashed-words vectors instead of a model."""

    def __init__(self, model_name: str = "test/hashing-embedder", salt: bytes = b"") -> None:
        """`model_name` and `salt`: another "model" of the same dimension, whose
        vectors differ (each word hashed with the salt)."""
        super().__init__(EmbeddingConfig(model_name=model_name))
        self.onnx_wanted = False  # nothing to export: every index embeds with `encode`
        self.salt = salt
        self.calls = 0

    @cached_property
    def dimension(self) -> int:
        return DIMENSION

    @property
    def model(self) -> object:
        raise AssertionError("the fast tier must never load the real model")

    def encode(self, texts: list[str], *, progress: Progress = SILENT) -> np.ndarray:
        self.calls += 1
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in WORD.findall(text.lower()):
                digest = hashlib.blake2b(self.salt + word.encode(), digest_size=4).digest()
                bucket = int.from_bytes(digest)
                vectors[row, bucket % DIMENSION] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors /= np.where(norms == 0, 1.0, norms)
        return np.ascontiguousarray(vectors)
