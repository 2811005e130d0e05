"""What the confidence should read: the whole evidence of the best candidate (its
passage's cosine and what the sentence before adds included) or the best sentence's
evidence by itself. Measured on the `train` articles of ../shared/train/split.json
only, each SQuAD set over an index of its own train articles
(training/train_index.py), every answerable question asked in SQuAD's wording and
once more as typed in chat (training/data.py's `chat_style`).

    python bench/confidence.py [--shared ../shared] [--work-dir DIR]

Questions the articles do not answer are SQuAD 2.0's unanswerable ones, and near
misses: each answerable SQuAD v1.1 question asked again with every candidate that
holds its answer taken out (an on-topic question whose subject is still there). For
each reading: unanswerable questions abstained on where 5 % and 10 % of answerable
ones are wrongly abstained on, the area under the curve, the same per article fold,
and the threshold at which the sentence by itself wrongly abstains on as many
answerable questions as the whole evidence did at `--reference` (0.95). The
missing-kind penalty is taken off as the answerer does, for the evidence's best
sentence (the reranker left out). Writes bench/results/confidence.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from bot.answer.answerer import COUNTED_KINDS, Answerer
from training.data import fold_of, training_questions
from training.train_index import asked_questions, train_set_answerers

RESULTS = Path(__file__).parent / "results" / "confidence.json"
SHARES = (0.05, 0.10)


def asked(answerer: Answerer, rows: list[dict]) -> list[dict]:
    """Each question's candidates: features, which hold a gold answer, and the penalty
    its answer would have."""
    found = []
    for row, candidates, gold in asked_questions(answerer, rows):
        found.append(
            {
                "answerable": row["answerable"],
                "fold": fold_of(row["article"]),
                "values": candidates.values,
                "gold": gold,
                "counted": candidates.question.kind in COUNTED_KINDS,
                "holds": candidates.holds_kind(),
            }
        )
    return found


def confidence(question: dict, weights: np.ndarray, ranking: np.ndarray, penalty: float,
               kept: np.ndarray | None = None) -> float:  # fmt: skip
    """The best candidate's evidence under `weights` (of those `kept`), less the
    penalty when a date or number is asked and the best-ranked candidate holds none."""
    kept = np.ones(len(question["gold"]), bool) if kept is None else kept
    values, holds = question["values"][kept], question["holds"][kept]
    lacks = question["counted"] and not holds[int(np.argmax(values @ ranking))]
    return float((values @ weights).max()) - (penalty if lacks else 0.0)


def curve(answerable: list[float], unanswerable: list[float]) -> dict:
    """Unanswerable abstained at each share of answerable wrongly abstained; the AUC."""
    yes, no = np.sort(answerable), np.asarray(unanswerable)
    figures = {f"at {s:.0%}": float(np.mean(no < yes[int(s * len(yes))])) for s in SHARES}
    figures["auc"] = float(np.mean(yes[:, None] > no[None, :]))
    return {k: round(v, 3) for k, v in figures.items()}


def measure(per_set: dict[str, list[dict]], weights: np.ndarray, answerer: Answerer,
            folds: set[int | None]) -> dict:  # fmt: skip
    """The curve per set (v1.1: answerable against near misses; 2.0: against its
    unanswerable questions), over the questions of `folds` (None: all)."""
    ranking, penalty = answerer.evidence_weights(), answerer.config.missing_kind_penalty
    report = {}
    for name, questions in per_set.items():
        chosen = [q for q in questions if None in folds or q["fold"] in folds]
        yes = [confidence(q, weights, ranking, penalty) for q in chosen if q["answerable"]]
        no = [confidence(q, weights, ranking, penalty) for q in chosen if not q["answerable"]]
        if "v1.1" in name:
            near = [q for q in chosen if q["gold"].any() and not q["gold"].all()]
            no = [confidence(q, weights, ranking, penalty, ~q["gold"]) for q in near]
        if yes and no:
            report[name] = curve(yes, no)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ab-conf")
    parser.add_argument("--reference", type=float, default=0.95)
    options = parser.parse_args()
    questions = training_questions(options.shared)
    per_set, answerer = {}, None
    for name, answerer in train_set_answerers(options.shared, options.work_dir):
        per_set[name] = asked(answerer, questions[name])
    readings = {
        "whole evidence": answerer.evidence_weights(),
        "sentence by itself": answerer.sentence_evidence_weights(),
    }
    result = {}
    for reading, weights in readings.items():
        result[reading] = {"all": measure(per_set, weights, answerer, {None})}
        for fold in range(5):
            result[reading][f"fold {fold}"] = measure(per_set, weights, answerer, {fold})
    ranking, penalty = answerer.evidence_weights(), answerer.config.missing_kind_penalty
    answerable = [q for qs in per_set.values() for q in qs if q["answerable"]]
    whole = np.array([confidence(q, ranking, ranking, penalty) for q in answerable])
    share = float(np.mean(whole < options.reference))
    own = readings["sentence by itself"]
    alone = np.array([confidence(q, own, ranking, penalty) for q in answerable])
    result["threshold"] = {
        "answerable wrongly abstained at the reference": round(share, 4),
        "sentence by itself, same share": round(float(np.quantile(alone, share)), 3),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
