"""Scale, end to end: a version of N passages built with the real pipeline, then
opened and answered from as a bot does.

    python bench/scale_end_to_end.py [--passages 1000000] [--questions 1000]

Articles are synthetic but sentence-shaped: each is 25 sentences drawn from the
SQuAD v1.1 dev articles plus one sentence of its own (names and numbers), so no
two are alike. Chunking (the model's tokenizer), the sentence table, BM25, the
term statistics, the lexicon, the HNSW index and every file of the version are
the real build's (index.build.write_version). Only the embedding is stood in
for, as it would be a cache hit: a sentence that recurs (the SQuAD ones) is
embedded once by the real model, an article's own sentence gets its words' hashed
bag, and a chunk's vector is the normalised sum of its sentences'. So chunk and
question vectors share the model's space, and the HNSW search works as hard as on
a real index. Questions are embedded by the real model (the index's ONNX export).

The serving half runs in a fresh process (`--serve`): time to open the version
and make the answerer, answer p50/p99 over SQuAD questions one at a time (with
the mean of each of the first seconds, and the garbage collector's pauses), the
resident memory then (VmRSS, mapped pages included), and the peak while a second
version is swapped in under it (VmHWM after resetting it), as IndexWatcher does.
Writes bench/results/scale-end-to-end.json.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from bot.answer.evaluation import read_questions
from bot.collection import watch_index
from bot.settings import load_settings
from bot.wiring import load_index, make_answerer, make_embedder
from index.build.publish import (
    chunk_articles,
    chunking_config,
    manifest_fields,
    prepare_onnx,
    vector_config,
    write_version,
)
from index.config import IndexConfig
from index.embedding.embedder import Embedder
from index.progress import Progress
from index.sources.articles import load_articles, make_article
from index.storage.files import scratch_array
from index.storage.layout import VERSIONS, new_version_name, read_pointer, switch_current
from index.storage.sentences import SentenceTable

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"
WORD = re.compile(r"\w+")
DIMENSION = 384
SENTENCES_PER_ARTICLE = 25
FIRST_SECONDS = 10  # the cold start's answers, second by second
BUILT_AT = "2026-11-26T00:00:00+00:00"


def word_vector(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest())
    return np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)


class SentenceVectors:
    """A vector per sentence: the model's for the sentences that recur (embedded
    once each), the normalised sum of its words' hashed vectors for the rest."""

    def __init__(self, embedder: Embedder, texts: list[str]) -> None:
        recurring = [t for t, n in Counter(texts).items() if n > 1]
        vectors = embedder.encode(recurring, progress=Progress(shown=True))
        self._sentences = dict(zip(recurring, vectors, strict=True))
        self._words: dict[str, np.ndarray] = {}

    def __call__(self, text: str) -> np.ndarray:
        found = self._sentences.get(text)
        if found is not None:
            return found
        total = np.zeros(DIMENSION, dtype=np.float32)
        for word in WORD.findall(text.lower()):
            vector = self._words.get(word)
            if vector is None:
                vector = self._words[word] = word_vector(word)
            total += vector
        return total / (np.linalg.norm(total) or 1.0)


def sentence_pool(squad: Path) -> list[str]:
    articles, _ = load_articles([str(squad / "articles")])
    pool = []
    for article in articles:
        pool += [s.strip() for s in re.split(r"(?<=[.!?])\s+", article.text) if len(s) > 40]
    return pool


def synthetic_articles(pool: list[str], count: int) -> list:
    rng = random.Random(0)
    towns = ["Brookfield", "Ashby", "Marlow", "Dunmore", "Kelso", "Rivington", "Tallis"]
    articles = []
    for n in range(count):
        own = (
            f"The {rng.choice(towns)} council approved plan {n} on {rng.randint(1, 28)} "
            f"March {rng.randint(1990, 2025)}, with {rng.randint(2, 900)} votes in favour."
        )
        body = " ".join([own, *rng.sample(pool, SENTENCES_PER_ARTICLE)])
        articles.append(
            make_article(article_id=f"a{n}", title=f"Report {n}", body=body, source=f"a{n}.txt")
        )
    return articles


def build(index_dir: Path, passages: int, squad: Path) -> dict:
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    embedder = make_embedder(settings)
    config = settings.section(IndexConfig)
    pool = sentence_pool(squad)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        timings[name] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()

    # about 4.4 passages an article at the default chunk size: overshoot, then trim
    articles = synthetic_articles(pool, max(1, passages * 10 // 44 + 50))
    lap("articles")
    chunks = chunk_articles(articles, embedder, chunking_config(config, embedder))
    kept = {c.article_id for c in chunks[:passages]}
    articles = [a for a in articles if a.id in kept]
    chunks = [c for c in chunks if c.article_id in kept]
    lap("chunking")
    spans, texts = SentenceTable.split(chunks)
    lap("sentence_split")
    count = len(texts)
    # on disk, not in memory: a million passages have 5.5 million sentence vectors (8 GB)
    with scratch_array(index_dir / VERSIONS, count, DIMENSION) as sentence_vectors:
        vector_of = SentenceVectors(embedder, texts)
        for row, text in enumerate(texts):
            sentence_vectors[row] = vector_of(text)
        lap("stand_in_embedding")
        sentences = SentenceTable.of(spans, sentence_vectors, texts, len(chunks))
        del texts
        lap("sentence_terms")
        starts = np.flatnonzero(np.r_[True, spans[1:, 0] != spans[:-1, 0]])
        vectors = np.add.reduceat(sentence_vectors, starts, axis=0)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        lap("chunk_vectors")
        onnx, _ = prepare_onnx(index_dir, embedder)
        chunking = chunking_config(config, embedder)
        fields = {
            **manifest_fields(embedder, chunking, articles, chunks, {}, BUILT_AT),
            "build_seconds": 0.0,
            "extra": {"embedding": "stand-in: cached model vectors (bench/scale_end_to_end.py)"},
            "onnx": onnx,
        }
        lap("onnx_export")
        write_version(
            index_dir,
            articles,
            chunks,
            np.ascontiguousarray(vectors, dtype=np.float32),
            sentences,
            fields,
            vector_config(config),
        )
        lap("write_version")
        del sentences
    size = sum(p.stat().st_size for p in (index_dir / VERSIONS).rglob("*") if p.is_file())
    return {
        "passages": len(chunks),
        "articles": len(articles),
        "sentences": count,
        "build_seconds": timings,
        "build_seconds_total": round(sum(timings.values()), 1),
        "build_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "version_mb_on_disk": round(size / 2**20),
    }


def memory_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


@contextmanager
def collector_pauses() -> Iterator[list[float]]:
    """The garbage collector's pauses (ms) while the block runs."""
    pauses: list[float] = []
    started = 0.0

    def track(phase: str, _: dict) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            pauses.append(1000 * (time.perf_counter() - started))

    gc.callbacks.append(track)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(track)


def by_second(times: list[float], seconds: list[int], first: int) -> list[float | None]:
    """The mean of `times` started in each of the `first` seconds (by `seconds`),
    None for a second in which none started, up to the last."""
    means: list[float | None] = []
    for second in range(min(first, max(seconds, default=-1) + 1)):
        during = [t for t, s in zip(times, seconds, strict=True) if s == second]
        means.append(round(statistics.fmean(during), 1) if during else None)
    return means


def serve(index_dir: Path, questions: list[str]) -> dict:
    settings = load_settings()
    embedder = make_embedder(settings)
    started = time.perf_counter()
    answerer = make_answerer(settings, load_index(settings, embedder, index_dir))
    open_seconds = time.perf_counter() - started
    opened = time.perf_counter()
    answerer.answer("warm-up question about the council plan?")
    times, seconds = [], []
    with collector_pauses() as pauses:
        for question in questions:
            started = time.perf_counter()
            answerer.answer(question)
            times.append(1000 * (time.perf_counter() - started))
            seconds.append(int(started - opened))
    serving_rss = memory_mb("VmRSS")
    serving_anon, serving_file = memory_mb("RssAnon"), memory_mb("RssFile")
    # a hot swap: another version published beside it, loaded while this one serves
    current = read_pointer(index_dir)
    copy = new_version_name()
    shutil.copytree(index_dir / VERSIONS / current, index_dir / VERSIONS / copy)
    switch_current(index_dir, copy)
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    watcher = watch_index(answerer, settings.model_copy(update={"index_dir": index_dir}), embedder)
    started = time.perf_counter()
    assert watcher.refresh()
    swap_seconds = time.perf_counter() - started
    for question in questions[:100]:
        answerer.answer(question)
    swap_peak = memory_mb("VmHWM")
    return {
        "open_seconds": round(open_seconds, 2),
        "answer_ms_p50": round(statistics.median(times), 1),
        "answer_ms_p99": round(statistics.quantiles(times, n=100)[98], 1),
        # how long the page cache takes to fill: the first hundred against the rest
        "answer_ms_mean_first_100": round(statistics.fmean(times[:100]), 1),
        "answer_ms_p99_after_100": round(statistics.quantiles(times[100:], n=100)[98], 1),
        # the cold start's shape: answers' mean time in each of the first seconds after
        # the open, and the garbage collector's pauses among them
        "answer_ms_mean_by_second": by_second(times, seconds, FIRST_SECONDS),
        "collector_pauses": len(pauses),
        "collector_pause_ms_max": round(max(pauses, default=0.0), 1),
        "serving_rss_mb": round(serving_rss),
        "serving_rss_anon_mb": round(serving_anon),
        "serving_rss_file_mb": round(serving_file),
        "hot_swap_seconds": round(swap_seconds, 2),
        "hot_swap_peak_rss_mb": round(swap_peak),
        "hot_swap_peak_over_serving": round(swap_peak / serving_rss, 2),
    }


def drop_page_cache() -> bool:
    """Empty the page cache (root only), so serving starts from the disk; whether it could."""
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # the serving half
    parser.add_argument("--keep", type=Path, help="build into this directory and keep it")
    parser.add_argument(
        "--warm",
        action="store_true",
        help="serve with the version still in the page cache (default: dropped first, "
        "when running as root, as a replica on another machine would find it)",
    )
    args = parser.parse_args()
    squad = args.eval_dir / "squad-v1.1-dev"
    questions = [q.question for q in read_questions(squad / "questions.jsonl")][: args.questions]
    if args.serve:
        print(json.dumps(serve(args.serve, questions)))
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="articlebot-scale-"))
    index_dir = work / "index"
    try:
        result = build(index_dir, args.passages, squad)
        print(json.dumps(result, indent=2), flush=True)
        result["page_cache"] = "warm" if args.warm or not drop_page_cache() else "dropped"
        serving = subprocess.run(
            [
                sys.executable,
                __file__,
                "--serve",
                str(index_dir),
                "--questions",
                str(args.questions),
                "--eval-dir",
                str(args.eval_dir),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        result |= json.loads(serving.stdout.strip().splitlines()[-1])
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result["goals"] = {
        "open_seconds<=5": result["open_seconds"] <= 5,
        "answer_ms_p50<=20": result["answer_ms_p50"] <= 20,
        "answer_ms_p99<=60": result["answer_ms_p99"] <= 60,
        "serving_rss_mb<=2560": result["serving_rss_mb"] <= 2560,
        "hot_swap_peak<=1.5x": result["hot_swap_peak_over_serving"] <= 1.5,
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    name = (
        "scale-end-to-end.json"
        if args.passages >= 1_000_000
        else f"scale-end-to-end-{args.passages}.json"
    )
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
