"""Summary and list requests (issue 32): how well bot/answer/intent.py tells a
request for an article's gist, or for the list of articles, from a question, and
what the summaries cost at build time.

    python bench/intent.py [--eval-dir ../shared/eval]

- precision and recall of each kind on the labelled messages of
  tests/questions/intents.jsonl (written with the classifier, so an optimistic
  figure), with each miss;
- how many questions of the evaluation sets (SQuAD v1.1 dev, SQuAD 2.0 dev half,
  ontopic-dev, the bundled article's) it would take for either: every one of those
  is a real question, so each is a false alarm;
- the build-time cost of the summaries on the 48 SQuAD v1.1 dev articles (the
  titles' embedding and the sentences' choice), with the real model.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bot.answer.intent import list_request, summary_request
from bot.settings import load_settings
from bot.wiring import make_embedder
from index.build.directory import IndexDirectory
from index.build.summaries import Title, summaries
from index.sources.articles import load_articles
from index.storage.article_index import ArticleIndex

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "questions" / "intents.jsonl"
SETS = {
    "squad-v1.1-dev": "squad-v1.1-dev/questions.jsonl",
    "squad-v2.0-dev-half": "squad-v2.0-dev-half/questions.jsonl",
    "ontopic-dev": "ontopic-dev/questions.jsonl",
    "seed": "seed/questions-dev.jsonl",
}


def said(message: str) -> str:
    """What the answerer takes the message for."""
    if list_request(message):
        return "list"
    return "summary" if summary_request(message) is not None else "question"


def labelled() -> dict:
    rows = [json.loads(line) for line in LABELLED.read_text().splitlines()]
    taken = [(r["intent"], said(r["message"])) for r in rows]
    figures = {"messages": len(rows)}
    for intent in ("summary", "list"):
        hits = sum(want == got == intent for want, got in taken)
        figures[intent] = {
            "labelled": sum(want == intent for want, _ in taken),
            "precision": round(hits / max(1, sum(got == intent for _, got in taken)), 3),
            "recall": round(hits / max(1, sum(want == intent for want, _ in taken)), 3),
        }
    figures["misses"] = [
        {"message": r["message"], "labelled": want, "taken_for": got}
        for r, (want, got) in zip(rows, taken, strict=True)
        if want != got
    ]
    return figures


def false_alarms(eval_dir: Path) -> dict:
    found = {}
    for name, path in SETS.items():
        rows = [json.loads(line) for line in (eval_dir / path).read_text().splitlines()]
        taken = [r["question"] for r in rows if said(r["question"]) != "question"]
        found[name] = {"questions": len(rows), "taken_for_summaries_or_lists": taken}
    return found


def build_cost(eval_dir: Path) -> dict:
    """The summaries' work in a build of the SQuAD v1.1 dev articles: the titles'
    embedding and the sentences' choice, timed on the version's own sentence table."""
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(data_dir=Path(folder))
        embedder = make_embedder(settings)
        articles, _ = load_articles([str(eval_dir / "squad-v1.1-dev" / "articles")])
        IndexDirectory(Path(folder) / "index", embedder).add(articles)
        index = ArticleIndex.load(Path(folder) / "index", embedder)
        assert index.sentences is not None
        started = time.perf_counter()
        titles = index.encoder.encode([a.title for a in articles])
        embedded = time.perf_counter()
        title_of = {a.id: Title(a.title, v) for a, v in zip(articles, titles, strict=True)}
        chosen = summaries(list(index.chunks), index.sentences, title_of)
        done = time.perf_counter()
    return {
        "articles": len(articles),
        "sentences": len(index.sentences.spans),
        "titles_embedded_s": round(embedded - started, 3),
        "sentences_chosen_s": round(done - embedded, 3),
        "ms_per_article": round(1000 * (done - started) / len(articles), 2),
        "summary_sentences": sum(len(v) for v in chosen.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--no-build", action="store_true", help="skip the build-time cost")
    options = parser.parse_args()
    results = {"labelled": labelled(), "eval_sets": false_alarms(options.eval_dir)}
    if not options.no_build:
        results["build_cost"] = build_cost(options.eval_dir)
    out = ROOT / "bench" / "results" / "intent.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
