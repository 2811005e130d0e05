"""An embedding cache keyed by model and chunk-text hash, so unchanged text is
never embedded twice: adding one article to fifty costs one article's
embedding, and rebuilding unchanged articles costs almost nothing."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import numpy as np

from index.embedding.embedder import TextEncoder
from index.progress import SILENT, Progress
from index.storage.files import private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL, key TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, key)
)
"""
BATCH = 500


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class EmbeddingCache:
    """Vectors in SQLite (safe against a killed process: a write is a transaction)."""

    def __init__(self, path: Path, model_name: str, dimension: int) -> None:
        private_file(path)
        self.model_name = model_name
        self.dimension = dimension
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute(SCHEMA)

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), BATCH):
                batch = keys[i : i + BATCH]
                marks = ",".join("?" * len(batch))
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE model = ? AND key IN ({marks})",
                    [self.model_name, *batch],
                )
                for key, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (self.dimension,):
                        found[key] = vector
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        rows = [
            (self.model_name, k, np.asarray(v, dtype=np.float32).tobytes())
            for k, v in items.items()
        ]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        self._db.close()


EMBED_BATCH = 100_000  # texts looked up, embedded and stored at a time


def embed_with_cache(
    texts: list[str],
    encoder: TextEncoder,
    cache: EmbeddingCache | None,
    *,
    progress: Progress = SILENT,
    out: np.ndarray | None = None,
    batch: int = EMBED_BATCH,
) -> tuple[np.ndarray, int]:
    """Vectors for `texts` (one row each, filled into `out` when given) and how many
    had to be embedded now. A batch at a time, so that besides `out` only one batch's
    vectors are held: with a file-backed `out`, a million passages' five million
    sentence vectors (8 GB) need not fit in memory."""
    if out is None:
        out = np.empty((len(texts), encoder.dimension), dtype=np.float32)
    embedded = 0
    for start in range(0, len(texts), batch):
        part = texts[start : start + batch]
        vectors, fresh = _embed_batch(part, encoder, cache, progress)
        out[start : start + len(part)] = vectors
        embedded += fresh
    return out, embedded


def _embed_batch(
    texts: list[str], encoder: TextEncoder, cache: EmbeddingCache | None, progress: Progress
) -> tuple[np.ndarray, int]:
    """One batch's vectors: from the cache, or embedded now and stored in it (so a
    text repeated in a later batch is found there)."""
    if cache is None:
        return encoder.encode(texts, progress=progress), len(texts)
    keys = [text_key(t) for t in texts]
    known = cache.get_many(list(set(keys)))
    missing = list(dict.fromkeys(k for k in keys if k not in known))
    if missing:
        text_of = dict(zip(keys, texts, strict=True))
        fresh = encoder.encode([text_of[k] for k in missing], progress=progress)
        new = dict(zip(missing, fresh, strict=True))
        cache.put_many(new)
        known.update(new)
    return np.stack([known[k] for k in keys]), len(missing)
