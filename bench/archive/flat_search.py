"""What exact (flat) search costs per question as a version grows, to place
`faiss_flat_max`: below it every search reads every vector.

    python bench/archive/flat_search.py [--sizes 25000 50000 100000 200000] [--queries 200]

One query at a time on one thread (as answers search, `search_threads = 1`), the
30 best (`retrieval_candidates`) of N random unit vectors of the model's 384
dimensions: the cost depends on N and the dimension, not on what the vectors
mean. Writes bench/archive/results/flat-search.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

RESULTS = Path(__file__).parent / "results"
DIMENSION = 384
DEPTH = 30


def unit_vectors(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIMENSION)).astype(np.float32)
    faiss.normalize_L2(vectors)
    return vectors


def search_ms(size: int, queries: np.ndarray, rng: np.random.Generator) -> dict:
    """p50 and p99 of one exact search over `size` vectors, in milliseconds."""
    index = faiss.IndexFlatIP(DIMENSION)
    index.add(unit_vectors(rng, size))
    index.search(queries[:5], DEPTH)  # warm: the vectors are in memory before timing
    times = []
    for row in range(len(queries)):
        started = time.perf_counter()
        index.search(queries[row : row + 1], DEPTH)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "vectors": size,
        "search_ms_p50": round(float(np.percentile(times, 50)), 2),
        "search_ms_p99": round(float(np.percentile(times, 99)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 50_000, 100_000, 200_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    queries = unit_vectors(rng, args.queries)
    rows = [search_ms(size, queries, rng) for size in args.sizes]
    for row in rows:
        print(json.dumps(row))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "flat-search.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
