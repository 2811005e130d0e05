"""How the trained sentence reader chooses sentences and abstains on articles it
was never fitted on, beside the hand-weighted evidence, and what each feature
adds (the weighing refitted on the training rows without it).

    python bench/reader.py READER_DIR TRAINING_ROWS [--eval-dir ../shared/eval]
        [--work-dir DIR]

READER_DIR holds reader.onnx, tokenizer.json and weighing.json (training/);
TRAINING_ROWS is the rows.pickle training/weighing.py left in its work dir. Sets:
the held-out articles of SQuAD v1.1 dev and SQuAD 2.0 dev half (split.json),
ontopic-dev and the bundled article's questions (never trained on). The
candidates are the ones the answerer chooses among (the sentences of its best
three passages); "right" means the chosen sentence holds a gold answer. Writes
bench/results/reader.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from answer_features import EVAL, RESULTS, ontopic_articles

from bot.answer.reader import SentenceReader, Weighing
from bot.settings import load_settings
from bot.wiring import make_answerer, make_embedder, sync_from_sources
from index.storage.article_index import ArticleIndex
from training.weighing import (
    ALL_FEATURES,
    Scored,
    decide,
    figures,
    fit,
    folded,
    load_rows,
    question_rows,
)
from training.weighing import threshold_at as fold_threshold

HAND = list(range(6))  # the hand-made features, in FEATURES order


def held_out_sets(eval_dir: Path, work: Path) -> dict[str, tuple[Path, list[dict]]]:
    """{set: (its articles' folder, its questions)}, held-out articles only for SQuAD."""
    split = json.loads((eval_dir.parent / "train" / "split.json").read_text())
    sets = {}
    for name in ("squad-v1.1-dev", "squad-v2.0-dev-half"):
        held = set(split[name]["held_out"])
        folder = work / f"{name}-held-out-articles"
        folder.mkdir(parents=True, exist_ok=True)
        for article in held:
            shutil.copy(eval_dir / name / "articles" / f"{article}.txt", folder)
        rows = [json.loads(line) for line in (eval_dir / name / "questions.jsonl").open()]
        sets[f"{name} held-out"] = (folder, [r for r in rows if r["article"] in held])
    rows = [json.loads(line) for line in (eval_dir / "ontopic-dev" / "questions.jsonl").open()]
    sets["ontopic-dev"] = (ontopic_articles(eval_dir, work), rows)
    seed = [json.loads(line) for line in (eval_dir / "seed" / "questions-dev.jsonl").open()]
    seed_folder = work / "seed-articles"
    seed_folder.mkdir(exist_ok=True)
    for path in (eval_dir / "seed").glob("*.txt"):
        shutil.copy(path, seed_folder)
    sets["seed"] = (seed_folder, [{**r, "article": r.get("article", "seed")} for r in seed])
    return sets


def evidence_decisions(rows: list[Scored], weights: np.ndarray) -> list[tuple[bool, float, bool]]:
    """(answerable, evidence, correct) per question, with the hand-weighted evidence."""
    out = []
    for r in rows:
        scores = r.values[:, HAND] @ weights
        best = int(np.argmax(scores))
        out.append((r.answerable, float(scores[best]), bool(r.gold[best])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reader", type=Path)
    parser.add_argument("training_rows", type=Path)
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ab-reader3")
    args = parser.parse_args()
    training = load_rows(args.training_rows)
    weighing = Weighing.read(args.reader / "weighing.json")
    every = list(range(len(ALL_FEATURES)))
    variants = {"all features": every} | {
        f"without {name}": [c for c in every if c != i] for i, name in enumerate(ALL_FEATURES)
    }
    variants["hand-made features only, refitted"] = HAND
    fitted = {}
    for name, columns in variants.items():
        fitted[name] = (
            columns,
            *fit(training, columns),
            fold_threshold(folded(training, columns), 0.05),
        )
    settings = load_settings(reader_dir=None)
    embedder = make_embedder(settings)
    model = SentenceReader(args.reader)
    result: dict = {"reader": str(args.reader), "threshold": weighing.threshold}
    for name, (folder, questions) in held_out_sets(args.eval_dir, args.work_dir).items():
        index_dir = args.work_dir / f"{name.replace(' ', '-')}-index"
        sync_from_sources(settings, embedder, index_dir, [str(folder)])
        answerer = make_answerer(settings, ArticleIndex.load(index_dir, embedder))
        started = time.perf_counter()
        rows = question_rows(answerer, model, questions)
        seconds = (time.perf_counter() - started) / max(1, len(rows))
        shipped = decide(rows, every, np.asarray(weighing.weights), weighing.bias)
        found = {
            "questions": len(rows),
            "ms per question (candidates and readings)": round(1000 * seconds, 1),
            "hand-weighted evidence (before)": figures(
                evidence_decisions(rows, answerer.evidence_weights()), answerer.threshold
            ),
            "shipped weighing, at its threshold": figures(shipped, weighing.threshold),
        }
        for variant, (columns, weights, bias, threshold) in fitted.items():
            found[variant] = figures(decide(rows, columns, weights, bias), threshold)
        result[name] = found
        print(name, json.dumps(found), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reader.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
