"""What a trained sentence reader costs a question: warm answer latency with it
(`reader_dir`) and without it, a cold `articlebot ask` each way, and the peak
resident memory of a process that has answered with it.

    python bench/reader_speed.py READER_DIR [--eval-dir ../shared/eval] [--questions 1000]
        [--index-dir DIR]

Warm: the same SQuAD v1.1 dev questions (shuffled with seed 1) over an index of its
48 articles, one process per setting. Cold: process start to printed answer on
the bundled article (median of 5 after one unmeasured run). Writes
bench/results/reader-speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
from pathlib import Path

from speed import EVAL, QUESTION, RESULTS, cold_starts, our_latency, run

from bot.answer.evaluation import read_questions
from bot.settings import load_settings
from bot.wiring import build_from_sources, make_embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reader", type=Path)
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--index-dir", type=Path, default=None, help="reuse this index of the 48")
    parser.add_argument("--latency-only", choices=("on", "off"), default=None)
    args = parser.parse_args()
    squad = args.eval_dir / "squad-v1.1-dev"
    questions = read_questions(squad / "questions.jsonl")
    random.Random(1).shuffle(questions)
    questions = questions[: args.questions]
    work = Path(tempfile.mkdtemp(prefix="articlebot-reader-speed-"))
    index_dir = args.index_dir or work / "squad"
    if args.latency_only:  # one setting, in a process of its own (memory is per process)
        settings = load_settings(reader_dir=args.reader if args.latency_only == "on" else None)
        latency = our_latency(settings, make_embedder(settings), index_dir, questions)
        latency["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(latency))
        return
    settings = load_settings()
    embedder = make_embedder(settings)
    if args.index_dir is None:
        build_from_sources(settings, embedder, index_dir, [str(squad / "articles")])
    build_from_sources(settings, embedder, work / "bundled", settings.resolved_sources)
    me = [sys.executable, __file__, str(args.reader), "--eval-dir", str(args.eval_dir)]
    me += ["--index-dir", str(index_dir)]
    me += ["--questions", str(args.questions)]
    result: dict = {"questions": len(questions)}
    ask = [str(Path(sys.executable).parent / "articlebot"), "ask", "--index-dir"]
    ask += [str(work / "bundled"), QUESTION]
    for setting in ("on", "off"):
        result[f"reader {setting}"] = json.loads(run([*me, "--latency-only", setting]))
        env = {k: v for k, v in os.environ.items() if k != "ARTICLEBOT_READER_DIR"}
        if setting == "on":
            env["ARTICLEBOT_READER_DIR"] = str(args.reader)
        cold = cold_starts(ask, 5, env)
        result[f"reader {setting}"]["cold_ask_median_s"] = round(statistics.median(cold), 3)
    print(json.dumps(result, indent=1))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reader-speed.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
