"""Calibrate the abstention threshold (`min_score`) and the lexical weight on data.

Positives: questions asked of an index that holds their article (SQuAD v1.1
dev articles, plus the bundled article's answerable seed questions).
Negatives: questions about other articles asked of that same index (the
off-topic case: "that is not in the articles"), plus the seed set's plainly
off-topic question. For each lexical weight, the threshold is the one that
keeps `--recall` of the positives answered; the script prints how many
negatives that threshold rejects.

    python bench/calibrate_threshold.py --articles 12 --out bench/results/calibration.json
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.settings import bundled_dir, load_settings
from bot.wiring import build_from_sources, make_answerer, make_embedder
from index.storage.article_index import ArticleIndex

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--articles", type=int, default=12, help="SQuAD articles to use")
    parser.add_argument("--questions", type=int, default=25, help="questions per article")
    parser.add_argument("--recall", type=float, default=0.97)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    rng = random.Random(7)
    squad = args.eval_dir / "squad-v1.1-dev"
    files = sorted((squad / "articles").glob("*.txt"))[: args.articles]
    by_article: dict[str, list[dict]] = {}
    for q in read_jsonl(squad / "questions.jsonl"):
        by_article.setdefault(q["article"], []).append(q)

    settings = load_settings()
    embedder = make_embedder(settings)
    weights = [0.0, 0.5, 0.75, 1.0, 1.5]
    pos: dict[float, list[float]] = {w: [] for w in weights}
    neg: dict[float, list[float]] = {w: [] for w in weights}
    corpora = [
        (str(f), rng.sample(by_article[f.stem], min(args.questions, len(by_article[f.stem]))))
        for f in files
    ]
    seed_q = read_jsonl(args.eval_dir / "seed" / "questions-dev.jsonl")
    seed_pos = [q for q in seed_q if q["answerable"]]
    corpora.append((str(bundled_dir() / "articles"), seed_pos))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for n, (source, questions) in enumerate(corpora):
            index_dir = Path(tmp) / str(n)
            build_from_sources(settings, embedder, index_dir, [source])
            answerer = make_answerer(settings, ArticleIndex.load(index_dir, embedder))
            others = [q for m, (_, qs) in enumerate(corpora) if m != n for q in qs]
            negatives = rng.sample(others, min(len(questions), len(others)))
            if source.endswith("articles"):
                negatives += [q for q in seed_q if q["id"] == "d07"]
            for w in weights:
                answerer.config = answerer.config.model_copy(
                    update={"lexical_weight": w, "min_score": -10}
                )
                pos[w] += [answerer.answer(q["question"]).confidence for q in questions]
                neg[w] += [answerer.answer(q["question"]).confidence for q in negatives]
    rows = []
    for w in weights:
        threshold = float(np.quantile(pos[w], 1 - args.recall))
        rejected = float(np.mean(np.array(neg[w]) < threshold))
        rows.append(
            {
                "lexical_weight": w,
                "min_score": round(threshold, 3),
                "positives_answered": args.recall,
                "negatives_abstained": round(rejected, 3),
            }
        )
        print(
            f"lexical_weight={w:<5} min_score={threshold:.3f}  off-topic abstained={rejected:.1%}"
        )
    w = settings.lexical_weight
    configured = {
        "lexical_weight": w,
        "min_score": settings.min_score,
        "positives_answered": round(float(np.mean(np.array(pos[w]) >= settings.min_score)), 3),
        "negatives_abstained": round(float(np.mean(np.array(neg[w]) < settings.min_score)), 3),
    }
    print(f"configured: {configured}")
    result = {
        "configured": configured,
        "positives": len(pos[weights[0]]),
        "negatives": len(neg[weights[0]]),
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
