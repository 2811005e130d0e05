"""How long a question's reads wait while a version's files are read ahead.

When a version opens, a thread reads its files into the page cache (`preload_mb`).
Questions asked meanwhile read rows of other files from the disk, and queue behind
it. This writes two files (the one read ahead, the one questions read), drops the
page cache (root only), and while the first is read through, with the kernel's
read-ahead ("sequential") or a read at a time ("one_at_a_time"), "asks" a question
every few milliseconds: `--rows` random 4 KiB reads of the second. It reports each
question's read time (p50, p90, p99) and how long the read-through took, for both
ways and with none ("none", for as long), alternating. Run as root on Linux:
`python bench/archive/read_ahead.py --dir /path/on/the/data/disk`."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np

from index.storage.files import read_through

RESULTS = Path(__file__).parent / "results"
BLOCK = 4096


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="scratch folder on the data disk")
    parser.add_argument("--ahead-mb", type=int, default=3072, help="size of the file read ahead")
    parser.add_argument("--rows-mb", type=int, default=2048, help="size of the file questions read")
    parser.add_argument("--rows", type=int, default=8, help="random 4 KiB reads per question")
    parser.add_argument("--gap-ms", type=float, default=5.0, help="pause between questions")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each way")
    parser.add_argument("--none-s", type=float, default=2.5, help="length of runs without one")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: each run starts from a dropped page cache")
    args.dir.mkdir(parents=True, exist_ok=True)
    ahead, rows = args.dir / "ahead.bin", args.dir / "rows.bin"
    for path, size in ((ahead, args.ahead_mb), (rows, args.rows_mb)):
        _write(path, size << 20)
    runs = [
        _run(ahead, rows, mode, args)
        for _ in range(args.rounds)
        for mode in ("none", "sequential", "one_at_a_time")
    ]
    result = {"settings": vars(args) | {"dir": str(args.dir)}, "runs": runs}
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "read-ahead.json").write_text(json.dumps(result, indent=2) + "\n")
    ahead.unlink()
    rows.unlink()


def _write(path: Path, size: int) -> None:
    """A file of `size` random bytes (random, so nothing below can shrink it)."""
    if path.exists() and path.stat().st_size == size:
        return
    rng = np.random.default_rng(0)
    with open(path, "wb") as handle:
        for _ in range(size >> 24):
            handle.write(rng.integers(0, 256, 1 << 24, dtype=np.uint8).tobytes())
        os.fsync(handle.fileno())


def _drop_cache() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def _run(ahead: Path, rows: Path, mode: str, args: argparse.Namespace) -> dict:
    """One read-through from a cold cache (for "none", a pause as long as one takes),
    with questions' reads timed until it ends."""
    _drop_cache()
    sequential = mode == "sequential"
    work = (
        partial(time.sleep, args.none_s)
        if mode == "none"
        else partial(read_through, [ahead], 1 << 62, sequential=sequential)
    )
    started = time.perf_counter()
    thread = threading.Thread(target=work)
    thread.start()
    rng = np.random.default_rng(1)
    times = []
    fd = os.open(rows, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)  # as FileRows reads rows
    try:
        blocks = os.fstat(fd).st_size // BLOCK
        while thread.is_alive():
            asked = time.perf_counter()
            for block in rng.integers(0, blocks, args.rows).tolist():
                os.pread(fd, BLOCK, block * BLOCK)
            times.append(1000 * (time.perf_counter() - asked))
            time.sleep(args.gap_ms / 1000)
    finally:
        os.close(fd)
    thread.join()
    return {
        "mode": mode,
        "read_through_s": round(time.perf_counter() - started, 2),
        "questions": len(times),
        "question_reads_ms_p50": round(statistics.median(times), 2),
        "question_reads_ms_p90": round(statistics.quantiles(times, n=10)[8], 2),
        "question_reads_ms_p99": round(statistics.quantiles(times, n=100)[98], 2),
        "question_reads_ms_max": round(max(times), 2),
    }


if __name__ == "__main__":
    main()
