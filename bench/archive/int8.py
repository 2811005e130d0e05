"""Would a dynamically quantised (int8) export do for questions? Retrieval on
SQuAD v1.1 dev (48 articles, 2,067 questions) with question vectors from the
fp32 export and from an int8 copy of it, against the same fp32 index.

    .venv/bin/python bench/archive/int8.py

The rule (issue 7): int8 may serve only if its hit@5 stays within 0.5 points
of fp32. Writes bench/archive/results/int8.json.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.answer.evaluation import read_questions, retrieval_metrics
from bot.settings import load_settings
from bot.wiring import make_answerer, make_embedder, sync_from_sources
from index.storage.article_index import ArticleIndex

EVAL = Path(__file__).resolve().parents[3] / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"


def query_ms(embed, texts: list[str]) -> float:
    times = []
    for text in texts:
        started = time.perf_counter()
        embed([text])
        times.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(times), 2)


def main() -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    squad = EVAL / "squad-v1.1-dev"
    settings = load_settings()
    embedder = make_embedder(settings)
    questions = [q for q in read_questions(squad / "questions.jsonl") if q.answerable]
    texts = [q.question for q in questions]
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "squad"
        sync_from_sources(settings, embedder, index_dir, [str(squad / "articles")])
        index = ArticleIndex.load(index_dir, embedder)
        answerer = make_answerer(settings, index)
        fp32_path = index.encoder.onnx.path
        int8_path = Path(tmp) / "int8.onnx"
        quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8)
        rows = {}
        vectors = {}
        for name, path in (("fp32", fp32_path), ("int8", int8_path)):
            encoder = embedder.encoder(embedder.open_export(path))
            assert encoder.backend == "onnx"
            index.encoder = encoder  # this bench's swap of the question encoder
            answerer.use_index(index)
            vectors[name] = encoder.encode(texts)
            rows[name] = {
                "dense": retrieval_metrics(answerer, questions, "dense", 5, rerank=False),
                "hybrid+rerank": retrieval_metrics(answerer, questions, "hybrid", 5, rerank=True),
                "query_ms_p50": query_ms(encoder.encode, texts[:300]),
                "file_mb": round(path.stat().st_size / 1e6, 1),
            }
        cosine = np.sum(vectors["fp32"] * vectors["int8"], axis=1)
    result = {
        "questions": len(questions),
        **rows,
        "int8_vs_fp32_cosine": {
            "min": round(float(cosine.min()), 4),
            "mean": round(float(cosine.mean()), 4),
        },
        "hit5_drop_points": {
            mode: round(100 * (rows["fp32"][mode]["hit@5"] - rows["int8"][mode]["hit@5"]), 2)
            for mode in ("dense", "hybrid+rerank")
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "int8.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
