"""Lifecycle benchmark: adding one article to the 48-article SQuAD index against a
full rebuild from scratch, and a `sync` in which nothing changed.

    python bench/lifecycle.py

Writes bench/results/lifecycle.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.settings import bundled_dir, load_settings
from bot.wiring import load_sources, make_embedder, make_index_directory

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    args = parser.parse_args()
    squad = str(args.eval_dir / "squad-v1.1-dev" / "articles")
    new_article = str(bundled_dir() / "articles" / "russia-leaves-iss.txt")
    settings = load_settings()
    embedder = make_embedder(settings)
    embedder.encode(["warm up"])  # model load is not part of either figure
    exe = str(Path(sys.executable).parent / "articlebot")

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        articles, _ = load_sources(settings, [squad])
        collection = make_index_directory(settings, embedder, index_dir)
        started = time.perf_counter()
        full = collection.add(articles)
        full_seconds = time.perf_counter() - started

        extra, _ = load_sources(settings, [new_article])
        started = time.perf_counter()
        added = collection.add(extra)
        add_seconds = time.perf_counter() - started

        # as an operator runs it: one process, with an article never embedded before,
        # so the process has to import and load the model
        env = {**os.environ, "ARTICLEBOT_DATA_DIR": tmp}
        fresh = Path(tmp) / "fresh-article.txt"
        closing = "\n\nA fresh closing line for the benchmark.\n"
        fresh.write_text(Path(new_article).read_text() + closing)
        add_cli = timed([exe, "index", "add", str(fresh), "--index-dir", str(index_dir)], env)
        sync_dir = Path(tmp) / "sources"
        shutil.copytree(squad, sync_dir)
        shutil.copy(new_article, sync_dir)
        shutil.copy(fresh, sync_dir)
        timed([exe, "index", "sync", str(sync_dir), "--index-dir", str(index_dir)], env)
        sync_cli = [
            timed([exe, "index", "sync", str(sync_dir), "--index-dir", str(index_dir)], env)
            for _ in range(3)
        ]

    result = {
        "articles": len(articles),
        "chunks": full.manifest.chunk_count,
        "full_build_s": round(full_seconds, 2),
        "add_one_article_s": round(add_seconds, 3),
        "add_one_article_chunks_embedded": added.manifest.extra["chunks_embedded"],
        "add_vs_full_pct": round(100 * add_seconds / full_seconds, 2),
        "add_one_article_cli_process_s": round(add_cli, 2),
        "add_cli_vs_full_pct": round(100 * add_cli / full_seconds, 2),
        "sync_nothing_changed_cli_s": [round(t, 2) for t in sync_cli],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lifecycle.json").write_text(json.dumps(result, indent=2) + "\n")
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
