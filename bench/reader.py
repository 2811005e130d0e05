"""How well a reader trained by training/reader.py picks the answering sentence and
tells answerable questions from unanswerable ones, beside the shipped evidence, on
the candidates the answerer really sees (the sentences of its best passages).

    python bench/reader.py READER_DIR [--eval-dir ../shared/eval] [--work-dir DIR]

Sets: ontopic-dev (all of it: never trained on) and the held-out articles of SQuAD
2.0 dev half (split.json). Per set: the share of answerable questions whose
best-scored sentence holds a gold answer, and the area under the ROC curve of the
best score for answerable against unanswerable questions (0.5 is chance), for the
shipped evidence and for the reader. Writes bench/results/reader.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from answer_features import EVAL, GRID, RESULTS, SIGNS, candidates, ontopic_articles

from bot.answer.core import Answerer
from bot.answer.evaluation import contains_gold
from bot.answer.signals import features
from bot.runtime import make_answerer, make_embedder, sync_from_sources
from bot.settings import load_settings
from index.store import ArticleIndex
from training.reader import Example, encode, load, reader_context


def scored(answerer: Answerer, row: dict) -> dict | None:
    """The question's candidate sentences as the reader reads them (with title and
    previous sentence), their shipped evidence and whether each holds a gold answer."""
    found = candidates(answerer, row["question"])
    if found is None or not found[1]:
        return None
    question, sentences = found
    config = answerer.config
    weights = SIGNS * np.array((1.0, *(getattr(config, name) for name in GRID)))
    examples, previous, chunk = [], "", None
    for passage, _, text in sentences:
        if passage.chunk is not chunk:  # a passage's first sentence has none before it
            previous, chunk = "", passage.chunk
        examples.append(
            Example(question.text, reader_context(passage.article.title, previous, text), 0.0, 0)
        )
        previous = text
    return {
        "examples": examples,
        "evidence": [float(np.array(features(question, p, s)) @ weights) for p, s, _ in sentences],
        "gold": [contains_gold(text, row["answers"]) for _, _, text in sentences],
        "answerable": bool(row["answers"]) and row.get("answerable", True),
    }


@torch.no_grad()
def reader_scores(reader, tokenizer, examples: list[Example]) -> list[float]:
    reader.eval()
    return [float(x) for x in torch.sigmoid(reader(**encode(tokenizer, examples)))]


def auc(positive: list[float], negative: list[float]) -> float | None:
    """P(a random answerable question's best score beats an unanswerable one's)."""
    if not positive or not negative:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return round(wins / (len(positive) * len(negative)), 3)


def summary(rows: list[dict], key: str) -> dict:
    best = [int(np.argmax(r[key])) for r in rows]
    answerable = [(r, b) for r, b in zip(rows, best, strict=True) if r["answerable"]]
    right = sum(r["gold"][b] for r, b in answerable) / max(1, len(answerable))
    top = [max(r[key]) for r in rows]
    return {
        "best_sentence_right": round(right, 3),
        "auc_answerable_vs_not": auc(
            [t for t, r in zip(top, rows, strict=True) if r["answerable"]],
            [t for t, r in zip(top, rows, strict=True) if not r["answerable"]],
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reader", type=Path)
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ab-reader")
    args = parser.parse_args()
    split = json.loads((args.eval_dir.parent / "train" / "split.json").read_text())
    held_out = set(split["squad-v2.0-dev-half"]["held_out"])
    sets = {
        "ontopic-dev": ("ontopic-dev/questions.jsonl", None, None),
        "squad-v2.0-dev-half held-out": (
            "squad-v2.0-dev-half/questions.jsonl",
            "squad-v2.0-dev-half/articles",
            held_out,
        ),
    }
    settings, reader_dir = load_settings(), args.reader
    embedder = make_embedder(settings)
    reader, tokenizer = load(reader_dir)
    result: dict = {"reader": str(reader_dir)}
    for name, (questions, articles, only) in sets.items():
        folder = (
            args.eval_dir / articles if articles else ontopic_articles(args.eval_dir, args.work_dir)
        )
        index_dir = args.work_dir / name.replace(" ", "-")
        sync_from_sources(settings, embedder, index_dir, [str(folder)])
        answerer = make_answerer(settings, ArticleIndex.load(index_dir, embedder))
        rows = []
        started = time.perf_counter()
        for line in (args.eval_dir / questions).open():
            row = json.loads(line)
            if only is not None and row["article"] not in only:
                continue
            if (found := scored(answerer, row)) is not None:
                found["reader"] = reader_scores(reader, tokenizer, found.pop("examples"))
                rows.append(found)
        result[name] = {
            "questions": len(rows),
            "shipped evidence": summary(rows, "evidence"),
            "reader": summary(rows, "reader"),
            "reader seconds per question": round((time.perf_counter() - started) / len(rows), 3),
        }
        print(name, json.dumps(result[name]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reader.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
