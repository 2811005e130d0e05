"""Scale: a million passages in the vector index the project builds above
`faiss_flat_max` (HNSW), against exact search.

    python bench/scale.py [--passages 1000000]

The vectors have real-embedding structure: the SQuAD v1.1 dev chunk embeddings
(from an index built by bench/foundation.py or built here), each repeated with
Gaussian noise and normalised. Queries are SQuAD questions, embedded by the model.
Reports build time, memory, search p50/p99 and recall@5 against exact search
(over 8-bit codes, the default, after re-scoring the candidates exactly, as served).
Writes bench/results/scale.json.

The whole version end to end (chunks, BM25, term statistics, sentence table,
opening, answering, a hot swap) is bench/scale_end_to_end.py.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np

from bot.answer.evaluation import read_questions
from bot.settings import load_settings
from bot.wiring import make_embedder, sync_from_sources
from index.build.publish import vector_config
from index.config import IndexConfig
from index.storage.article_index import ArticleIndex
from index.storage.vectors import RescoredVectors, build_vector_index

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[128, 256, 512, 1024])
    args = parser.parse_args()

    settings = load_settings()
    embedder = make_embedder(settings)
    squad = args.eval_dir / "squad-v1.1-dev"
    index_dir = Path(tempfile.gettempdir()) / "articlebot-scale-base"
    sync_from_sources(settings, embedder, index_dir, [str(squad / "articles")])
    base_index = ArticleIndex.load(index_dir, embedder)
    base = base_index.vectors.reconstruct_n(0, base_index.vectors.ntotal)

    rng = np.random.default_rng(0)
    repeats = -(-args.passages // len(base))
    vectors = np.concatenate(
        [base + rng.normal(0, 0.03, base.shape).astype(np.float32) for _ in range(repeats)]
    )
    vectors = vectors[: args.passages]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    questions = [q.question for q in read_questions(squad / "questions.jsonl")][: args.queries]
    queries = embedder.encode(questions)

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    config = replace(
        vector_config(settings.section(IndexConfig)),
        flat_max=min(100_000, args.passages - 1),
        recall_sample=1000,
    )
    index, about = build_vector_index(vectors, config)
    build_seconds = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 5)
    flat_times = [_timed_search(exact, query) for query in queries[:100]]
    faiss.omp_set_num_threads(1)  # one query at a time, as a bot answers
    if about["type"] == "IndexHNSWSQ":  # as served: candidates re-scored from float32
        index = RescoredVectors(index, vectors)  # (in memory here; a pread per row served)
    sweep = [_measure(index, queries, truth, ef) for ef in args.ef_search]

    result = {
        "passages": len(vectors),
        "index": about,
        "build_seconds": round(build_seconds, 1),
        "peak_rss_mb_before_build": round(rss_before),
        "peak_rss_mb_after_build": round(rss_after),
        "ef_search_sweep": sweep,
        "exact_flat_search_ms_p50": round(statistics.median(flat_times), 1),
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(result, indent=2) + "\n")


def _timed_search(index: faiss.Index, query: np.ndarray) -> float:
    started = time.perf_counter()
    index.search(query.reshape(1, -1), 5)
    return 1000 * (time.perf_counter() - started)


def _measure(index: faiss.Index, queries: np.ndarray, truth: np.ndarray, ef: int) -> dict:
    """Search p50/p99 (one query at a time) and recall@5 against exact search at one efSearch."""
    index.hnsw.efSearch = ef
    times = [_timed_search(index, query) for query in queries]
    _, found = index.search(queries, 5)
    recall = np.mean([len(set(t) & set(f)) / 5 for t, f in zip(truth, found, strict=True)])
    return {
        "ef_search": ef,
        "search_ms_p50": round(statistics.median(times), 3),
        "search_ms_p99": round(statistics.quantiles(times, n=100)[98], 3),
        "recall_at_5_question_queries": round(float(recall), 4),
    }


if __name__ == "__main__":
    main()
