"""The two installs: the size of each virtual environment, and a build of the 48
SQuAD v1.1 dev articles on each path (the full install embeds with torch, the
serving install with onnxruntime), with each build's wall time and peak memory.

    python bench/installs.py                      # makes both installs under bench/out/
    python bench/installs.py --serve-venv V --build-venv W   # or measures these

Both builds start from a copy of one index of the bundled article that the full
install built (so both have the ONNX export and neither has the 48 articles in its
embedding cache). Writes bench/results/installs.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"
OUT = ROOT / "bench" / "out" / "installs"
RESULTS = ROOT / "bench" / "results"


def install(kind: str, venv: Path) -> Path:
    shutil.rmtree(venv, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([str(ROOT / "deploy" / "install.sh"), kind, str(venv)], check=True)
    print(f"{kind} install: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return venv


def size_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one command in a child process."""
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - started
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def build(venv: Path, base: Path, index: Path, articles: Path) -> dict:
    """Build the 48 articles into a copy of `base` with `venv`'s articlebot. Each build
    runs in a fresh `python bench/installs.py --child` so its peak RSS is its own."""
    shutil.rmtree(index, ignore_errors=True)
    shutil.copytree(base, index)
    command = [
        sys.executable,
        __file__,
        "--child",
        str(venv / "bin" / "articlebot"),
        "index",
        "build",
        str(articles),
        "--index-dir",
        str(index),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def child(command: list[str]) -> None:
    wall, peak = run(command, {**os.environ})
    print(json.dumps({"seconds": round(wall, 1), "peak_rss_mb": round(peak)}))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve-venv", type=Path)
    parser.add_argument("--build-venv", type=Path)
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    args = parser.parse_args()
    serve = args.serve_venv or install("serve", OUT / "serve-venv")
    full = args.build_venv or install("build", OUT / "build-venv")
    articles = args.eval_dir / "squad-v1.1-dev" / "articles"
    base = OUT / "base-index"
    shutil.rmtree(base, ignore_errors=True)
    subprocess.run(
        [str(full / "bin" / "articlebot"), "index", "build", "--index-dir", str(base)],
        check=True,
        capture_output=True,
    )
    result = {
        "serve_venv_mb": round(size_bytes(serve) / 1e6),
        "build_venv_mb": round(size_bytes(full) / 1e6),
        "articles": len(list(articles.glob("*.txt"))),
        "build_torch": build(full, base, OUT / "index-torch", articles),
        "build_onnx": build(serve, base, OUT / "index-onnx", articles),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "installs.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"serving install {result['serve_venv_mb']} MB, full {result['build_venv_mb']} MB")
    for path in ("torch", "onnx"):
        b = result[f"build_{path}"]
        print(f"{result['articles']} articles, {path}: {b['seconds']} s, max {b['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
