"""What HNSW's efSearch costs and buys on a built version: for each value, the dense
search's recall against exact search, the answers, and their time.

    python bench/archive/ef_search.py DIR/index [--ef 1024 768 512] [--questions 1000]

DIR is a version `bench/scale_end_to_end.py --keep DIR` built (or any index above
`faiss_flat_max`, so HNSW). For SQuAD v1.1 dev questions, one at a time and warm:
recall@5 and @30 of the dense search (`retrieval_candidates` is 30) against an
exact inner product over the version's float32 vectors, the share of answers that
hold a gold answer, the share identical to the first value's answers, and the
answer p50 / p99 and the HNSW search's p50. Writes bench/archive/results/ef-search.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import faiss
import numpy as np

from bot.answer.evaluation import contains_gold, read_questions
from bot.settings import load_settings
from bot.wiring import load_index, make_answerer, make_embedder
from index.storage.layout import VERSIONS, read_pointer
from index.storage.vectors import EXACT_VECTORS

EVAL = Path(__file__).resolve().parents[3] / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"
DEPTH = 30  # the dense candidates an answer asks for (retrieval_candidates)


def exact_best(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Each query's DEPTH best vectors by inner product, equal scores in row order as
    the answering code orders them (a version holds many identical vectors)."""
    scores, ids = faiss.knn(queries, vectors, 2 * DEPTH, metric=faiss.METRIC_INNER_PRODUCT)
    order = np.lexsort((ids, -scores), axis=1)[:, :DEPTH]
    return np.take_along_axis(ids, order, axis=1)


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    """The share of each query's exact best `k` that was found among its first `k`."""
    hits = sum(len(set(f[:k]) & set(t[:k])) for f, t in zip(found, truth, strict=True))
    return hits / (k * len(truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--ef", type=int, nargs="+", default=[1024, 768, 512])
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    args = parser.parse_args()
    gold = read_questions(args.eval_dir / "squad-v1.1-dev" / "questions.jsonl")[: args.questions]
    settings = load_settings()
    embedder = make_embedder(settings)
    index = load_index(settings, embedder, args.index_dir)
    answerer = make_answerer(settings, index)
    queries = index.encoder.encode([g.question for g in gold])
    version = args.index_dir / VERSIONS / str(read_pointer(args.index_dir))
    exact = np.load(version / EXACT_VECTORS)
    truth = exact_best(exact, queries)
    del exact
    hnsw, rows, first = index.vectors.hnsw, [], None
    for ef in args.ef:
        hnsw.efSearch = ef
        found, searches = [], []
        for query in queries:
            started = time.perf_counter()
            found.append(index.vectors.search(query[None], DEPTH)[1][0])
            searches.append(1000 * (time.perf_counter() - started))
        answers, times = [], []
        for question in gold:
            started = time.perf_counter()
            answers.append(answerer.answer(question.question))
            times.append(1000 * (time.perf_counter() - started))
        texts = [a.text for a in answers]
        first = first or texts
        rows.append(
            {
                "ef_search": ef,
                "recall_at_5": round(recall(np.array(found), truth, 5), 3),
                "recall_at_30": round(recall(np.array(found), truth, DEPTH), 3),
                "gold_in_answer": round(
                    statistics.fmean(
                        not a.abstained and contains_gold(a.text, g.answers)
                        for a, g in zip(answers, gold, strict=True)
                    ),
                    3,
                ),
                "same_answer_as_first": round(
                    statistics.fmean(a == b for a, b in zip(texts, first, strict=True)), 3
                ),
                "search_ms_p50": round(statistics.median(searches), 2),
                "answer_ms_p50": round(statistics.median(times), 1),
                "answer_ms_p99": round(statistics.quantiles(times, n=100)[98], 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    result = {"passages": index.vectors.ntotal, "questions": len(gold), "runs": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ef-search.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
