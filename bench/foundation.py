"""Foundation benchmark: build throughput against bare `encode`, warm answer
latency, cold start of `articlebot ask`, and peak memory.

    python bench/foundation.py                      # all 48 SQuAD v1.1 dev articles
    python bench/foundation.py --articles 10        # quicker

Writes bench/results/foundation.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.settings import load_settings
from bot.wiring import build_from_sources, make_answerer, make_embedder
from index.storage.article_index import ArticleIndex

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"


def cold_start(index_dir: Path, runs: int) -> list[float]:
    """Wall time from process start to printed answer, with a built index."""
    exe = Path(sys.executable).parent / "articlebot"
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [
                str(exe),
                "ask",
                "--index-dir",
                str(index_dir),
                "When was the International Space Station launched?",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(time.perf_counter() - started)
        assert "1998" in done.stdout, done.stdout
    return times


# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child started
# from this large process would report the parent's peak.
ASK_WITH_PEAK_RSS = (
    "import re, sys\n"
    "from bot.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "status = open('/proc/self/status').read()\n"
    "print(re.search(r'VmHWM:\\s+(\\d+)', status).group(1), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def ask_peak_rss_mb(index_dir: Path) -> float:
    """Peak resident memory of one `articlebot ask` process, measured by itself."""
    done = subprocess.run(
        [sys.executable, "-c", ASK_WITH_PEAK_RSS, "ask", "--index-dir", str(index_dir), "Mir?"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--articles", type=int, default=48)
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--cold-runs", type=int, default=3)
    args = parser.parse_args()

    squad = args.eval_dir / "squad-v1.1-dev"
    files = sorted((squad / "articles").glob("*.txt"))[: args.articles]
    names = {f.stem for f in files}
    settings = load_settings()
    embedder = make_embedder(settings)
    embedder.encode(["warm up"])  # model load is not part of either throughput

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "squad"
        started = time.perf_counter()
        report = build_from_sources(settings, embedder, index_dir, [str(f) for f in files])
        build_seconds = time.perf_counter() - started
        index = ArticleIndex.load(index_dir, embedder)
        texts = [c.text for c in index.chunks]

        started = time.perf_counter()
        embedder.model.encode(
            texts, batch_size=settings.embed_batch_size, normalize_embeddings=True
        )
        bare_seconds = time.perf_counter() - started

        questions = [
            json.loads(line)["question"]
            for line in (squad / "questions.jsonl").read_text().splitlines()
            if json.loads(line)["article"] in names
        ]
        random.Random(1).shuffle(questions)
        questions = questions[: args.questions]
        answerer = make_answerer(settings, index)
        latencies = []
        for question in questions:
            started = time.perf_counter()
            answerer.answer(question)
            latencies.append((time.perf_counter() - started) * 1000)

        bundled = Path(tmp) / "bundled"
        build_from_sources(settings, embedder, bundled, settings.resolved_sources)
        cold = cold_start(bundled, args.cold_runs)
        ask_rss = ask_peak_rss_mb(bundled)

    chunks = len(texts)
    result = {
        "articles": len(files),
        "chunks": chunks,
        "build_seconds": round(build_seconds, 2),
        "build_chunks_per_s": round(chunks / build_seconds, 2),
        "bare_encode_seconds": round(bare_seconds, 2),
        "bare_encode_chunks_per_s": round(chunks / bare_seconds, 2),
        "pipeline_overhead_pct": round(100 * (build_seconds / bare_seconds - 1), 1),
        "questions": len(latencies),
        "answer_ms_p50": round(statistics.median(latencies), 2),
        "answer_ms_p99": round(statistics.quantiles(latencies, n=100)[98], 2),
        "cold_start_s_median": round(statistics.median(cold), 2),
        "cold_start_s_runs": [round(t, 2) for t in cold],
        "peak_rss_mb_bench": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_mb_cli_ask": round(ask_rss, 1),
        "failures": len(report.failures),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "foundation.json").write_text(json.dumps(result, indent=2) + "\n")
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
