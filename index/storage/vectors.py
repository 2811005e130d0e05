"""Which FAISS index holds the vectors: exact (flat) up to a size, HNSW beyond it,
with HNSW's recall against exact search measured at build time.

HNSW keeps its vectors as 8-bit scalar codes by default (a quarter of float32's
memory: at a million passages the index is about 0.65 GB instead of 1.8 GB, and a
serving process touches all of it); `float32` keeps them whole. Over codes, the
version also holds the float32 vectors in a file, and the candidates HNSW finds
are re-scored with them (`RescoredVectors`): the cosines and their order are the
exact ones, and the file is read a few rows a question, never held in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from index.storage.files import FileRows

RECALL_K = 5
EXACT_VECTORS = "chunk-vectors.npy"  # float32, beside an HNSW over 8-bit codes
OVERSAMPLE = 2  # candidates taken from the codes, per result wanted, to re-score


@dataclass(frozen=True)
class VectorIndexConfig:
    """`flat_max` vectors or fewer: exact inner product; more: HNSW with these parameters
    (the settings are IndexConfig's faiss_flat_max and hnsw_*)."""

    flat_max: int
    hnsw_m: int
    ef_construction: int
    ef_search: int
    quantized: bool = True  # HNSW over 8-bit scalar codes (IndexHNSWSQ), not float32
    recall_sample: int = 500  # vectors whose HNSW neighbours are checked at build


def build_vector_index(vectors: np.ndarray, config: VectorIndexConfig) -> tuple[object, dict]:
    """The FAISS index for `vectors` and what the manifest records about it."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dimension = vectors.shape
    if n <= config.flat_max:
        flat = faiss.IndexFlatIP(dimension)
        flat.add(vectors)
        return flat, {"type": "IndexFlatIP", "recall_at_5": 1.0}
    hnsw = _empty_hnsw(dimension, config)
    hnsw.hnsw.efConstruction = config.ef_construction
    hnsw.train(vectors)
    hnsw.add(vectors)
    hnsw.hnsw.efSearch = config.ef_search
    searched = RescoredVectors(hnsw, vectors) if config.quantized else hnsw
    recall = measure_recall(searched, vectors, config.recall_sample)
    return hnsw, {
        "type": type(hnsw).__name__,
        "recall_at_5": round(recall, 4),
        "hnsw_m": config.hnsw_m,
        "ef_construction": config.ef_construction,
        "ef_search": config.ef_search,
    }


def _empty_hnsw(dimension: int, config: VectorIndexConfig) -> object:
    import faiss

    metric = faiss.METRIC_INNER_PRODUCT
    if config.quantized:
        return faiss.IndexHNSWSQ(dimension, faiss.ScalarQuantizer.QT_8bit, config.hnsw_m, metric)
    return faiss.IndexHNSWFlat(dimension, config.hnsw_m, metric)


class RescoredVectors:
    """An HNSW index over 8-bit codes whose results are re-scored with the exact
    vectors (`exact`: rows by slice, a `FileRows` when serving). It answers
    `search`, `reconstruct_batch` and `ntotal` as a FAISS index does."""

    def __init__(self, index: object, exact: np.ndarray | FileRows) -> None:
        if len(exact) != index.ntotal:
            raise ValueError(f"{len(exact)} exact vectors for an index of {index.ntotal}")
        self.index = index
        self.exact = exact

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    @property
    def hnsw(self) -> object:
        return self.index.hnsw

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        """The stored float32 vectors at `ids`."""
        return self.exact.take(np.asarray(ids, dtype=np.int64), axis=0)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best of the codes' `OVERSAMPLE * k` candidates by exact inner
        product, best first; -1 where fewer were found."""
        _, found = self.index.search(queries, OVERSAMPLE * k)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, (query, candidates) in enumerate(zip(queries, found, strict=True)):
            candidates = candidates[candidates >= 0]
            exact = self.reconstruct_batch(candidates) @ query
            best = np.lexsort((candidates, -exact))[:k]
            scores[row, : len(best)], ids[row, : len(best)] = exact[best], candidates[best]
        return scores, ids


def measure_recall(index: object, vectors: np.ndarray, sample: int, seed: int = 0) -> float:
    """Share of the exact top-5 that `index` also returns, for queries near stored vectors."""
    import faiss

    rng = np.random.default_rng(seed)
    picks = rng.choice(len(vectors), size=min(sample, len(vectors)), replace=False)
    queries = vectors[picks] + rng.normal(0, 0.05, size=(len(picks), vectors.shape[1]))
    queries = np.ascontiguousarray(
        queries / np.linalg.norm(queries, axis=1, keepdims=True), dtype=np.float32
    )
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, RECALL_K)
    _, found = index.search(queries, RECALL_K)
    hits = sum(len(set(t) & set(f)) for t, f in zip(truth.tolist(), found.tolist(), strict=True))
    return hits / (RECALL_K * len(picks))
