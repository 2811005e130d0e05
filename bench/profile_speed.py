"""Where the time goes: pyinstrument profiles of a cold `articlebot ask` on the
bundled article and of 1,000 warm answers on the 48-article SQuAD index.

    make bench-peers   # or: .venv/bin/pip install -e ".[bench]"
    .venv/bin/python bench/profile_speed.py

Writes bench/results/profile-cold-start.txt and bench/results/profile-warm-answers.txt.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from pathlib import Path

from pyinstrument import Profiler

from bot.answer.evaluation import read_questions
from bot.settings import load_settings
from bot.wiring import build_from_sources, make_answerer, make_embedder
from index.storage.article_index import ArticleIndex

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"
QUESTION = "When was the International Space Station launched?"


def main() -> None:
    squad = EVAL / "squad-v1.1-dev"
    settings = load_settings()
    embedder = make_embedder(settings)
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        bundled = Path(tmp) / "bundled"
        build_from_sources(settings, embedder, bundled, settings.resolved_sources)
        ask = ["-m", "bot", "ask", "--index-dir", str(bundled), QUESTION]
        subprocess.run([sys.executable, *ask], check=True, capture_output=True)  # warm cache
        cold = RESULTS / "profile-cold-start.txt"
        profile = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(cold)]
        subprocess.run([*profile, *ask], check=True, capture_output=True)

        index_dir = Path(tmp) / "squad"
        build_from_sources(settings, embedder, index_dir, [str(squad / "articles")])
        answerer = make_answerer(settings, ArticleIndex.load(index_dir, embedder))
        questions = [q.question for q in read_questions(squad / "questions.jsonl")]
        random.Random(1).shuffle(questions)
        for question in questions[:10]:
            answerer.answer(question)
        profiler = Profiler(interval=0.0005)
        with profiler:
            for question in questions[:1000]:
                answerer.answer(question)
    warm = RESULTS / "profile-warm-answers.txt"
    warm.write_text(profiler.output_text(color=False, unicode=True))
    print(f"wrote {cold} and {warm}")


if __name__ == "__main__":
    main()
