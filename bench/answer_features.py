"""What tells the answering sentence from the others, and an answer from a
near miss? Sentence-level features over the passages the bot retrieves, and the
weights of the bot's evidence fitted on them under article-level cross-validation.

    python bench/answer_features.py [--eval-dir ../shared/eval] [--work-dir DIR] [--reuse]

For every question of SQuAD v1.1 dev, SQuAD 2.0 dev half and ontopic-dev, the
sentences of the best three retrieved passages get features (bot/answer/
signals.py); a sentence is a positive when it holds a gold answer. Four scorers
are compared: the evidence before issue 13, the shipped defaults, the evidence
with weights chosen on a grid, and logistic regression on the same features. The
best-scored sentence is the answer and its score the confidence abstention
thresholds. Weights are fitted only on the articles ../shared/train/split.json
marks `train` (figures from article-level folds inside them), and measured on the
held-out articles and on ontopic-dev, which nothing is fitted on. `--reuse`
scores the features saved in the work dir by an earlier run. Writes
bench/results/answer-features.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.answer.answerer import Answerer
from bot.answer.config import AnswerConfig
from bot.answer.signals import FEATURES
from bot.settings import load_settings
from bot.wiring import make_answerer, make_embedder, sync_from_sources
from index.storage.article_index import ArticleIndex
from training.data import train_articles
from training.train_index import asked_questions

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"
SETS = {
    "squad-v1.1-dev": ("squad-v1.1-dev/questions.jsonl", "squad-v1.1-dev/articles"),
    "squad-v2.0-dev-half": ("squad-v2.0-dev-half/questions.jsonl", "squad-v2.0-dev-half/articles"),
    "ontopic-dev": ("ontopic-dev/questions.jsonl", None),
}


def ontopic_articles(eval_dir: Path, work: Path) -> Path:
    """ontopic-dev's 11 articles in one folder (10 SQuAD v1.1 articles and the seed article)."""
    folder = work / "ontopic-articles"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in (eval_dir / SETS["ontopic-dev"][0]).open()]
    for name in sorted({r["article"] for r in rows}):
        source = eval_dir / "squad-v1.1-dev" / "articles" / f"{name}.txt"
        if not source.exists():
            source = eval_dir / "seed" / f"{name}.txt"
        (folder / source.name).write_bytes(source.read_bytes())
    return folder


def question_rows(answerer: Answerer, rows: list[dict]) -> list[dict]:
    """Per question: the feature matrix of its candidate sentences (the sentences of
    the passages the answer chooses from, as the Answerer sees them) and labels."""
    out = []
    for row, found, y in asked_questions(answerer, rows):
        x = found.values
        out.append(
            {
                "article": row.get("article") or row["id"].split("-")[0],
                "answerable": bool(row["answers"]) and row.get("answerable", True),
                "kind": row.get("kind", ""),
                "x": np.array(x, dtype=np.float32),
                "y": y,
            }
        )
    return out


def fit(rows: list[dict]):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x = np.vstack([r["x"] for r in rows])
    y = np.concatenate([r["y"] for r in rows])
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")
    model.fit(scaler.transform(x), y)
    return scaler, model


def decide(rows: list[dict], scaler, model) -> list[tuple[bool, float, bool]]:
    """(answerable, confidence, correct) per question: the best-scored sentence."""
    out = []
    for r in rows:
        scores = model.decision_function(scaler.transform(r["x"]))
        best = int(np.argmax(scores))
        out.append((r["answerable"], float(scores[best]), bool(r["y"][best])))
    return out


def summarise(decisions: list[tuple[bool, float, bool]], max_wrong: float = 0.05) -> dict:
    answerable = sorted(c for a, c, _ in decisions if a)
    threshold = answerable[int(max_wrong * len(answerable))] if answerable else 0.0
    return summarise_at(decisions, threshold)


def summarise_at(decisions: list[tuple[bool, float, bool]], threshold: float) -> dict:
    ans = [(c, ok) for a, c, ok in decisions if a]
    una = [c for a, c, _ in decisions if not a]
    return {
        "threshold": round(threshold, 3),
        "answer_accuracy": round(sum(ok and c >= threshold for c, ok in ans) / max(1, len(ans)), 3),
        "best_sentence_right": round(sum(ok for _, ok in ans) / max(1, len(ans)), 3),
        "answerable_wrongly_abstained": round(
            sum(c < threshold for c, _ in ans) / max(1, len(ans)), 3
        ),
        "unanswerable_abstained": round(sum(c < threshold for c in una) / len(una), 3)
        if una
        else None,
    }


def cross_validated(
    rows: list[dict], fitter=None, decider=None, folds: int = 5
) -> dict[int, tuple[bool, float, bool]]:
    """Decisions for every question (by position in `rows`) from a model that never
    saw its article."""
    fitter, decider = fitter or fit, decider or (lambda r, m: decide(r, *m))
    articles = sorted({r["article"] for r in rows})
    decisions: dict[int, tuple[bool, float, bool]] = {}
    for fold in range(folds):
        held = {a for i, a in enumerate(articles) if i % folds == fold}
        model = fitter([r for r in rows if r["article"] not in held])
        positions = [i for i, r in enumerate(rows) if r["article"] in held]
        found = decider([rows[i] for i in positions], model)
        decisions.update(zip(positions, found, strict=True))
    return decisions


# The product's own evidence (Answerer.evidence): passage cosine + these weights times
# the other features, the name and number ones subtracted.
GRID = {
    "sentence_weight": (0.0, 0.5, 1.0, 1.5),
    "lexical_weight": (0.5, 0.75, 1.0, 1.5),
    "answer_kind_weight": (0.0, 0.1, 0.2, 0.3, 0.5),
    "unknown_name_penalty": (0.0, 0.2, 0.4, 0.6),
    "missing_number_penalty": (0.0, 0.2, 0.4),
    "context_weight": (0.0, 0.3),
}
BEFORE = (0.0, 0.75, 0.0, 0.0, 0.0, 0.0)
SIGNS = np.array([1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0])


def evidence_decide(rows: list[dict], weights: tuple[float, ...]) -> list[tuple[bool, float, bool]]:
    """(answerable, evidence, correct) per question, with the product's evidence."""
    w = SIGNS * np.array((1.0, *weights))
    out = []
    for r in rows:
        scores = r["x"] @ w
        best = int(np.argmax(scores))
        out.append((r["answerable"], float(scores[best]), bool(r["y"][best])))
    return out


def grid_fit(rows: list[dict]) -> tuple[float, ...]:
    """The grid's weights that do best on `rows` at their own 5 % threshold: the mean
    of answer accuracy and unanswerable abstained (accuracy alone where no question
    is unanswerable)."""

    def objective(weights: tuple[float, ...]) -> float:
        found = summarise(evidence_decide(rows, weights))
        abstained = found["unanswerable_abstained"]
        return found["answer_accuracy"] + (abstained if abstained is not None else 0.0)

    return max(itertools.product(*GRID.values()), key=objective)


def features_per_set(eval_dir: Path, work: Path) -> tuple[dict[str, list[dict]], dict]:
    """Builds each set's index under `work` and computes every question's features."""
    settings = load_settings()
    embedder = make_embedder(settings)
    per_set, builds = {}, {}
    for name, (questions, articles) in SETS.items():
        folder = eval_dir / articles if articles else ontopic_articles(eval_dir, work)
        index_dir = work / name
        built = time.perf_counter()
        sync_from_sources(settings, embedder, index_dir, [str(folder)])
        builds[name] = round(time.perf_counter() - built, 1)
        answerer = make_answerer(settings, ArticleIndex.load(index_dir, embedder))
        rows = [json.loads(line) for line in (eval_dir / questions).open()]
        per_set[name] = question_rows(answerer, rows)
        print(f"{name}: {len(per_set[name])} questions", flush=True)
    return per_set, builds


def split_rows(per_set: dict[str, list[dict]], allowed: dict[str, set[str]]) -> tuple[dict, dict]:
    """Each SQuAD set's questions on the articles split.json marks `train` (`allowed`,
    training.data.train_articles), and on those it holds out."""
    train, held = {}, {}
    for name in ("squad-v1.1-dev", "squad-v2.0-dev-half"):
        chosen = allowed[name]
        train[name] = [r for r in per_set[name] if r["article"] in chosen]
        held[name] = [r for r in per_set[name] if r["article"] not in chosen]
    return train, held


def report(per_set: dict[str, list[dict]], split: dict[str, set[str]], fitter, decider) -> dict:
    """Figures from the `train` articles' folds, then the model fitted on all the
    `train` articles at their SQuAD 2.0 questions' 5 % threshold, measured on the
    held-out articles and on ontopic-dev, which nothing is fitted on."""
    train, held = split_rows(per_set, split)
    squad = train["squad-v1.1-dev"] + train["squad-v2.0-dev-half"]
    decisions = cross_validated(squad, fitter, decider)
    first = len(train["squad-v1.1-dev"])
    v2 = summarise([decisions[i] for i in range(first, len(squad))])
    v1 = summarise_at([decisions[i] for i in range(first)], v2["threshold"])
    model = fitter(squad)
    threshold = summarise(decider(train["squad-v2.0-dev-half"], model))["threshold"]
    return {
        "squad-v2.0-dev-half train articles (folds)": v2,
        "squad-v1.1-dev train articles (folds, at the v2.0 threshold)": v1,
        "squad-v2.0-dev-half held out": summarise_at(
            decider(held["squad-v2.0-dev-half"], model), threshold
        ),
        "squad-v1.1-dev held out": summarise_at(decider(held["squad-v1.1-dev"], model), threshold),
        "ontopic-dev": summarise_at(decider(per_set["ontopic-dev"], model), threshold),
        "threshold (5 % of the train articles' SQuAD 2.0 answerable questions)": threshold,
        "model": model,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ab-feat2")
    parser.add_argument("--reuse", action="store_true", help="reuse the work dir's features")
    args = parser.parse_args()
    saved = args.work_dir / "features.pickle"
    started = time.perf_counter()
    if args.reuse:
        with open(saved, "rb") as handle:
            per_set, builds = pickle.load(handle)
    else:
        per_set, builds = features_per_set(args.eval_dir, args.work_dir)
        with open(saved, "wb") as handle:  # for trying other models
            pickle.dump((per_set, builds), handle)
    split = train_articles(args.eval_dir.parent)
    result: dict = {"features": list(FEATURES), "build_seconds": builds}
    for name, weights in (
        ("evidence before issue 13 (cosine + 0.75 x coverage)", BEFORE),
        ("the shipped defaults", tuple(AnswerConfig.model_fields[k].default for k in GRID)),
    ):
        result[name] = report(per_set, split, lambda rows, w=weights: w, evidence_decide)
    grid = report(per_set, split, grid_fit, evidence_decide)
    grid["model"] = dict(zip(GRID, grid["model"], strict=True))
    result["evidence weights fitted on a grid"] = grid
    logistic = report(per_set, split, fit, lambda rows, m: decide(rows, *m))
    scaler, model = logistic.pop("model")
    weights = model.coef_[0] / scaler.scale_
    logistic["weights"] = dict(zip(FEATURES, map(float, np.round(weights, 4)), strict=True))
    result["logistic regression"] = logistic
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "answer-features.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
