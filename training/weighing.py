"""Fits how the answerer weighs its evidence with the trained sentence reader: a
logistic regression from each candidate sentence's features (the hand-made ones
of bot/answer/signals.py and the reader's two readings) to whether it holds a gold
answer, and the probability below which the bot abstains. Fitted on the questions
of the `train` articles only (each answerable one also as typed in chat), over
an index of those articles, so the candidates are the ones the answerer really
sees; the threshold and the ablation come from article-level folds.

    python -m training.weighing READER_DIR [--shared ../shared] [--work-dir DIR]
        [--max-wrongly-abstained 0.05]

Writes READER_DIR/weighing.json and prints the folds' figures, with each feature
left out in turn.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answer.reader import READINGS, SentenceReader
from bot.answer.signals import FEATURES
from training.data import FOLDS, command_line, fold_of, training_questions
from training.train_index import asked_questions, train_set_answerers

ALL_FEATURES = FEATURES + READINGS


@dataclass(frozen=True)
class Scored:
    """One question's candidates: their features (a row each), which hold a gold
    answer, and whether the question has one."""

    article: str
    answerable: bool
    values: np.ndarray
    gold: np.ndarray


def question_rows(answerer, reader: SentenceReader, rows: list[dict]) -> list[Scored]:
    """The candidates of each question (`rows`: the eval format) as the answerer
    chooses among them, with the reader's readings beside their features."""
    out = []
    for row, found, gold in asked_questions(answerer, rows):
        readings = reader.read(found.question.text, found.texts())
        answerable = bool(row["answers"]) and row.get("answerable", True)
        out.append(Scored(row["article"], answerable, np.hstack([found.values, readings]), gold))
    return out


def save_rows(rows: list[Scored], path: Path) -> None:
    with open(path, "wb") as handle:
        pickle.dump([(r.article, r.answerable, r.values, r.gold) for r in rows], handle)


def load_rows(path: Path) -> list[Scored]:
    with open(path, "rb") as handle:
        return [Scored(*row) for row in pickle.load(handle)]


def fit(rows: list[Scored], columns: list[int]):
    """Logistic regression over the given feature columns of every candidate."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x = np.vstack([r.values[:, columns] for r in rows])
    y = np.concatenate([r.gold for r in rows])
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=1.0, max_iter=5000).fit(scaler.transform(x), y)
    weights = model.coef_[0] / scaler.scale_
    bias = float(model.intercept_[0] - np.sum(model.coef_[0] * scaler.mean_ / scaler.scale_))
    return weights, bias


def decide(rows: list[Scored], columns: list[int], weights, bias) -> list[tuple[bool, float, bool]]:
    """(answerable, confidence, the chosen sentence holds a gold answer) per question."""
    out = []
    for r in rows:
        p = 1.0 / (1.0 + np.exp(-(r.values[:, columns] @ weights + bias)))
        best = int(np.argmax(p))
        out.append((r.answerable, float(p[best]), bool(r.gold[best])))
    return out


def folded(rows: list[Scored], columns: list[int]) -> list[tuple[bool, float, bool]]:
    """Decisions for every question from a fit that never saw its article."""
    out = []
    for fold in range(FOLDS):
        train = [r for r in rows if fold_of(r.article) != fold]
        held = [r for r in rows if fold_of(r.article) == fold]
        if train and held:
            out += decide(held, columns, *fit(train, columns))
    return out


def threshold_at(decisions: list[tuple[bool, float, bool]], max_wrong: float) -> float:
    """The highest threshold that abstains on at most `max_wrong` of the answerable."""
    scores = sorted(c for a, c, _ in decisions if a)
    return scores[int(max_wrong * len(scores))] if scores else 0.0


def figures(decisions: list[tuple[bool, float, bool]], threshold: float) -> dict[str, float]:
    ans = [(c, ok) for a, c, ok in decisions if a]
    una = [c for a, c, _ in decisions if not a]
    return {
        "questions": len(decisions),
        "best_sentence_right": round(sum(ok for _, ok in ans) / max(1, len(ans)), 3),
        "answer_accuracy": round(sum(ok and c >= threshold for c, ok in ans) / max(1, len(ans)), 3),
        "answerable_wrongly_abstained": round(
            sum(c < threshold for c, _ in ans) / max(1, len(ans)), 3
        ),
        "unanswerable_abstained": round(sum(c < threshold for c in una) / max(1, len(una)), 3),
    }


def evenly_spaced(questions: list[dict], most: int | None) -> list[dict]:
    """At most about `most` of the rows, evenly spaced by question, each question
    with its chat copy (the rows that share its id); all of them without `most`."""
    ids = list(dict.fromkeys(q["id"] for q in questions))
    step = -(-len(questions) // most) if most else 1
    kept = set(ids[:: max(1, step)])
    return [q for q in questions if q["id"] in kept]


def scored_training_rows(
    shared: Path, reader_dir: Path, work: Path, most: int | None = None
) -> list[Scored]:
    """The training questions' candidates, over an index of each set's train
    articles: every question, or at most `most` of each set, evenly spaced."""
    reader = SentenceReader(reader_dir)
    questions = training_questions(shared)
    rows: list[Scored] = []
    for name, answerer in train_set_answerers(shared, work):
        rows += question_rows(answerer, reader, evenly_spaced(questions[name], most))
        print(json.dumps({"set": name, "questions": len(rows)}), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = command_line(__doc__)
    parser.add_argument("reader", type=Path)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--max-wrongly-abstained", type=float, default=0.05)
    parser.add_argument("--most", type=int, default=3000, help="questions per set, at most")
    options = parser.parse_args(argv)
    work = options.work_dir or Path(tempfile.mkdtemp(prefix="articlebot-weighing-"))
    rows = scored_training_rows(options.shared, options.reader, work, options.most)
    save_rows(rows, work / "rows.pickle")  # for bench/reader.py's ablation
    every = list(range(len(ALL_FEATURES)))
    decisions = folded(rows, every)
    threshold = threshold_at(decisions, options.max_wrongly_abstained)
    report = {"folds, all features": figures(decisions, threshold)}
    for left_out, name in enumerate(ALL_FEATURES):
        columns = [c for c in every if c != left_out]
        found = folded(rows, columns)
        report[f"folds, without {name}"] = figures(
            found, threshold_at(found, options.max_wrongly_abstained)
        )
    weights, bias = fit(rows, every)
    weighing = {
        "features": list(ALL_FEATURES),
        "weights": [round(float(w), 6) for w in weights],
        "bias": round(bias, 6),
        "threshold": round(threshold, 4),
        "max_wrongly_abstained": options.max_wrongly_abstained,
        "fitted_on": "the train articles of split.json (SQuAD v1.1 dev and SQuAD 2.0 dev half)",
        "folds": report,
    }
    (options.reader / "weighing.json").write_text(json.dumps(weighing, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
