"""What the shipped reranker gives and costs on one question set: answer accuracy and
warm answer latency without it, with it (int8, as shipped), and with the fp32
export it was quantized from, to show that quantizing does not change the answers.

    python bench/reranker.py QUESTIONS.jsonl INDEX_DIR [--fp32 FOLDER] [--questions N]

QUESTIONS is in the eval format (`articlebot eval`'s), INDEX_DIR an index of its
articles (`articlebot index build ARTICLES --index-dir INDEX_DIR`). FOLDER holds an
fp32 reranker.onnx beside the shipped tokenizer.json and reranker.json
(`python -m training.rerank … --keep-fp32` writes one). Each setting answers every
question once unmeasured, then once measured. Appends to
bench/results/reranker.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bot.answer.evaluation import contains_gold, read_questions
from bot.answer.rerank import SHIPPED, Reranker
from bot.settings import load_settings
from bot.wiring import load_index, make_answerer, make_embedder

RESULTS = Path(__file__).parent / "results" / "reranker.json"


def measure(answerer, questions) -> dict[str, float]:
    """Answer accuracy, abstention and warm latency over the questions."""
    for question in questions:  # warm: caches, the arena, the thread pools
        answerer.answer(question.question)
    took, right, abstained, unanswerable = [], 0, 0, 0
    for question in questions:
        started = time.perf_counter()
        answer = answerer.answer(question.question)
        took.append((time.perf_counter() - started) * 1000)
        if question.answerable:
            right += not answer.abstained and contains_gold(answer.text, question.answers)
        else:
            unanswerable += 1
            abstained += answer.abstained
    answerable = len(questions) - unanswerable
    took.sort()
    return {
        "answer_accuracy": round(right / max(1, answerable), 3),
        "unanswerable_abstained": round(abstained / max(1, unanswerable), 3),
        "p50_ms": round(statistics.median(took), 1),
        "p99_ms": round(took[int(0.99 * (len(took) - 1))], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--fp32", type=Path, default=None)
    parser.add_argument("--questions", dest="most", type=int, default=None)
    args = parser.parse_args()
    questions = read_questions(args.questions)[: args.most]
    settings = load_settings()
    index = load_index(settings, make_embedder(settings), args.index_dir)
    answerer = make_answerer(settings, index)
    shipped = answerer.reranker
    report = {"questions": str(args.questions), "count": len(questions)}
    answerer.reranker = None
    report["without"] = measure(answerer, questions)
    answerer.reranker = shipped
    report["int8 (shipped)"] = measure(answerer, questions)
    if args.fp32:
        answerer.reranker = Reranker(args.fp32, settings.onnx_threads)
        report["fp32"] = measure(answerer, questions)
    print(json.dumps(report, indent=1))
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"model": str(SHIPPED), **report}) + "\n")


if __name__ == "__main__":
    main()
