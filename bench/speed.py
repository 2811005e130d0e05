"""Speed against the peer (a LangChain FAISS pipeline on the same model files):
cold start, warm latency, build throughput and a serving bot's memory.

    make bench-peers                 # once: the peer's own environment, .venv-peers
    .venv/bin/python bench/speed.py  # about 5 minutes

Cold start: process start to printed answer for one question about the bundled
article, each side with its index already built (median of --cold-runs, after
one unmeasured run so both read from a warm page cache). Warm latency: the
same 1,000 SQuAD v1.1 questions on each side's index of the 48 articles, in
one process. Build: chunks/s for the 48 articles, against the bare model's
`encode` of the same chunks. Memory: `articlebot serve slack` with the
48-article index after answering for 20 s (bench/soak.py). Writes
bench/results/speed.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.answer.evaluation import read_questions
from bot.settings import Settings, bundled_dir, load_settings
from bot.wiring import build_from_sources, make_answerer, make_embedder
from index.embedding.embedder import Embedder, TextEncoder
from index.storage.article_index import ArticleIndex

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"
PEER_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
PEER = ROOT / "bench" / "peers" / "langchain_qa.py"
QUESTION = "When was the International Space Station launched?"


def run(command: list[str], env: dict | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:3])}… failed:\n{done.stderr[-2000:]}")
    return done.stdout


def cold_starts(command: list[str], runs: int, env: dict | None = None) -> list[float]:
    """Seconds from process start to exit (the answer printed), after one unmeasured run."""
    run(command, env)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run(command, env)
        times.append(time.perf_counter() - started)
    return times


def gold_in(text: str, answers: list[str]) -> bool:
    return any(a.lower() in text.lower() for a in answers)


def our_latency(settings: Settings, embedder: Embedder, index_dir: Path, questions: list) -> dict:
    answerer = make_answerer(settings, ArticleIndex.load(index_dir, embedder))
    for question in questions[:10]:
        answerer.answer(question.question)
    times, found = [], 0
    for question in questions:
        started = time.perf_counter()
        answer = answerer.answer(question.question)
        times.append(1000 * (time.perf_counter() - started))
        top = answer.sources[0].chunk.text if answer.sources else ""
        found += gold_in(top, question.answers)
    return {
        "ms_p50": round(statistics.median(times), 2),
        "ms_p99": round(statistics.quantiles(times, n=100)[98], 2),
        "top_passage_holds_gold": round(found / len(questions), 3),
    }


def peer_gold(index_dir: Path, questions: list) -> float:
    """Share of questions whose first LangChain passage holds a gold answer."""
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(PEER.parent)!r})\n"
        "from langchain_qa import load\n"
        "store = load(sys.argv[1])\n"
        "for q in json.load(open(sys.argv[2])):\n"
        "    print(json.dumps(store.similarity_search(q, k=1)[0].page_content))\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump([q.question for q in questions], handle)
        handle.flush()
        lines = run([str(PEER_PYTHON), "-c", script, str(index_dir), handle.name]).splitlines()
    texts = [json.loads(line) for line in lines]
    hits = sum(gold_in(t, q.answers) for t, q in zip(texts, questions, strict=True))
    return round(hits / len(questions), 3)


def batching(encoder: TextEncoder, questions: list) -> dict:
    """ms per question embedded alone and in batches (with the index's question
    encoder): what batching concurrent questions' embeddings could save."""
    texts = [q.question for q in questions[:320]]
    encoder.encode(texts[:20])
    result = {}
    for size in (1, 2, 4, 8, 16):
        started = time.perf_counter()
        for i in range(0, len(texts), size):
            encoder.encode(texts[i : i + size])
        result[f"batch_{size}"] = round(1000 * (time.perf_counter() - started) / len(texts), 2)
    return result


def build_throughput(
    settings: Settings, embedder: Embedder, files: list[Path], index_dir: Path
) -> dict:
    started = time.perf_counter()
    build_from_sources(settings, embedder, index_dir, [str(f) for f in files])
    seconds = time.perf_counter() - started
    texts = [c.text for c in ArticleIndex.load(index_dir, embedder).chunks]
    started = time.perf_counter()
    embedder.model.encode(texts, batch_size=settings.embed_batch_size, normalize_embeddings=True)
    bare = time.perf_counter() - started
    return {
        "chunks": len(texts),
        "chunks_per_s": round(len(texts) / seconds, 2),
        "bare_encode_chunks_per_s": round(len(texts) / bare, 2),
        "share_of_bare_encode": round(bare / seconds, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--cold-runs", type=int, default=5)
    args = parser.parse_args()
    if not PEER_PYTHON.exists():
        sys.exit("the peer's environment is missing: run `make bench-peers` first")

    squad = args.eval_dir / "squad-v1.1-dev"
    files = sorted((squad / "articles").glob("*.txt"))
    questions = read_questions(squad / "questions.jsonl")
    random.Random(1).shuffle(questions)
    questions = questions[: args.questions]
    settings = load_settings()
    embedder = make_embedder(settings)
    ours_exe = str(Path(sys.executable).parent / "articlebot")
    peer = [str(PEER_PYTHON), str(PEER)]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()  # the first build also exports the model to ONNX
        build_from_sources(settings, embedder, work / "bundled", settings.resolved_sources)
        first_build = time.perf_counter() - started
        build = build_throughput(settings, embedder, files, work / "squad")
        peer_build = json.loads(run([*peer, "build", *map(str, files), "--out", f"{tmp}/lc"]))
        bundled = sorted(map(str, (bundled_dir() / "articles").glob("*.txt")))
        run([*peer, "build", *bundled, "--out", f"{tmp}/lc-bundled"])

        latency = our_latency(settings, embedder, work / "squad", questions)
        embedding_ms = batching(ArticleIndex.load(work / "squad", embedder).encoder, questions)
        asked = work / "questions.json"
        asked.write_text(json.dumps([q.question for q in questions]))
        peer_latency = json.loads(run([*peer, "latency", f"{tmp}/lc", str(asked)]))
        peer_latency["top_passage_holds_gold"] = peer_gold(work / "lc", questions)

        ask = [ours_exe, "ask", "--index-dir", str(work / "bundled"), QUESTION]
        cold = cold_starts(ask, args.cold_runs)
        torch_env = {**os.environ, "ARTICLEBOT_EMBEDDING_BACKEND": "torch"}
        cold_torch = cold_starts(ask, args.cold_runs, torch_env)
        peer_cold = cold_starts([*peer, "ask", f"{tmp}/lc-bundled", QUESTION], args.cold_runs)
        answer = run(ask)

        soak = ROOT / "bench" / "soak.py"
        memory_args = ["--index-dir", str(work / "squad"), "--askers", "4", "--seconds", "20"]
        memory = json.loads(run([sys.executable, str(soak), *memory_args, "--no-save"]))

    cold_ratio = statistics.median(peer_cold) / statistics.median(cold)
    peer_build["chunks_per_s"] = round(peer_build["chunks"] / peer_build["seconds"], 2)
    result = {
        "cold_start_s": {
            "ours_onnx_median": round(statistics.median(cold), 3),
            "ours_onnx_runs": [round(t, 3) for t in cold],
            "ours_torch_median": round(statistics.median(cold_torch), 3),
            "peer_median": round(statistics.median(peer_cold), 3),
            "peer_runs": [round(t, 3) for t in peer_cold],
            "ratio_peer_over_ours": round(cold_ratio, 1),
            "ours_answers_1998": "1998" in answer,
        },
        "warm_latency_ms": {
            "questions": len(questions),
            "ours": latency,
            "peer": peer_latency,
            "ratio_p50_peer_over_ours": round(peer_latency["ms_p50"] / latency["ms_p50"], 1),
            "ours_question_embedding_ms_by_batch": embedding_ms,
        },
        "build": {
            "ours": build,
            "peer": peer_build,
            "first_build_with_onnx_export_s": round(first_build, 2),
        },
        "serving_memory_mb": {
            "ours_serve_slack_48_articles": memory["rss_mb_every_10s"],
            "peer_after_latency_run": peer_latency["rss_mb"],
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "speed.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
