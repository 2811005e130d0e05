"""Which FAISS index holds the vectors: exact (flat) up to a size, HNSW beyond it,
with HNSW's recall against exact search measured at build time.

HNSW keeps its vectors as 8-bit scalar codes by default (a quarter of float32's
memory: at a million passages the index is about 0.65 GB instead of 1.8 GB, and a
serving process touches all of it); `float32` keeps them whole."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RECALL_K = 5


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
    recall = measure_recall(hnsw, vectors, config.recall_sample)
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
