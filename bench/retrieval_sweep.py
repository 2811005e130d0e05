"""Retrieval sweep: BM25, dense and hybrid fusion settings on one question set.

    python bench/retrieval_sweep.py --articles ../shared/eval/squad-v1.1-dev/articles \\
        --questions ../shared/eval/squad-v1.1-dev/questions.jsonl [--chunk-tokens 200]

Builds (or reuses, through the embedding cache) an index of the articles with the
given chunk size, embeds every question once, and prints hit@1/3/5 and MRR for
each setting, so fusion and chunking are chosen by measurement.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bot.answer.evaluation import contains_gold, read_questions
from bot.settings import load_settings
from bot.wiring import make_embedder, sync_from_sources
from index.config import RetrievalConfig
from index.retrieval import Retriever, Terms
from index.storage.article_index import ArticleIndex

RESULTS = Path(__file__).parent / "results"


def metrics(index: ArticleIndex, questions: list, mode: str, **settings: object) -> dict:
    retriever = Retriever(index, RetrievalConfig(**settings), Terms())  # type: ignore[arg-type]
    ranks = []
    for q in questions:
        hits, _ = retriever.search(q.question, 5, mode, rerank=False)
        texts = [hit.chunk.text for hit in hits]
        ranks.append(next((r for r, t in enumerate(texts, 1) if contains_gold(t, q.answers)), None))
    n = len(ranks)
    return {
        "hit@1": round(sum(r == 1 for r in ranks) / n, 4),
        "hit@3": round(sum(r is not None and r <= 3 for r in ranks) / n, 4),
        "hit@5": round(sum(r is not None for r in ranks) / n, 4),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--chunk-tokens", type=int, default=200)
    parser.add_argument("--overlap-tokens", type=int, default=48)
    default_work = Path(tempfile.gettempdir()) / "articlebot-sweep"
    parser.add_argument("--work-dir", type=Path, default=default_work)
    args = parser.parse_args()

    settings = load_settings(
        chunk_target_tokens=args.chunk_tokens, chunk_overlap_tokens=args.overlap_tokens
    )
    embedder = make_embedder(settings)
    index_dir = args.work_dir / f"chunks-{args.chunk_tokens}-{args.overlap_tokens}"
    sync_from_sources(settings, embedder, index_dir, [str(args.articles)])
    index = ArticleIndex.load(index_dir, embedder)
    questions = [q for q in read_questions(args.questions) if q.answerable]
    rows = {mode: metrics(index, questions, mode) for mode in ("bm25", "dense")}
    rows["hybrid rrf"] = metrics(index, questions, "hybrid", retrieval_fusion="rrf")
    for weight in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        rows[f"hybrid weighted {weight}"] = metrics(
            index, questions, "hybrid", retrieval_fusion="weighted", dense_weight=weight
        )
    result = {
        "chunk_tokens": args.chunk_tokens,
        "overlap_tokens": args.overlap_tokens,
        "chunks": len(index.chunks),
        "questions": len(questions),
        "rows": rows,
    }
    print(json.dumps(result, indent=1))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"retrieval-{args.questions.parent.name}-chunks{args.chunk_tokens}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
