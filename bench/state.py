"""What the shared state costs a question: each state operation's latency, kept in
this process (the default) and in PostgreSQL (`state_url`, replicas), one call
at a time as a bot makes them.

    python bench/state.py [--calls 2000]

PostgreSQL is a throw-away local cluster on a Unix socket (tests/postgres_cluster.py):
the latencies are the round trips of a database on the same machine; add the
network's round trip for one elsewhere. Writes bench/results/state.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.answer.records import NOT_FOUND, Answer
from bot.chat.state import State, local_state
from bot.settings import load_settings
from bot.wiring import open_state
from tests.postgres_cluster import postgres_cluster

RESULTS = Path(__file__).parent / "results"


def timed(operation: Callable[[int], object], calls: int) -> dict:
    times = []
    for n in range(calls):
        started = time.perf_counter()
        operation(n)
        times.append(1000 * (time.perf_counter() - started))
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p99_ms": round(statistics.quantiles(times, n=100)[98], 3),
    }


def measure(state: State, calls: int) -> dict:
    answer = Answer("Who will replace the ISS?", NOT_FOUND, True, [], [], "v1", 0.3)
    return {
        "rate_limit_check (user, then channel)": timed(
            lambda n: (
                state.user_limit.retry_after(f"u{n % 50}"),
                state.channel_limit.retry_after(f"c{n % 5}"),
            ),
            calls,
        ),
        "slack_event_dedupe": timed(lambda n: state.events.first_time(f"Ev{n}"), calls),
        "thread_read": timed(lambda n: state.threads.conversation(f"t{n % 100}"), calls),
        "thread_write": timed(lambda n: state.threads.remember([f"t{n % 100}"], answer), calls),
        "record_answer": timed(
            lambda n: state.feedback.record_answer(answer, platform="slack", user_id="U1"), calls
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    limits = {"rate_limit_questions": 10**9, "rate_limit_channel_questions": 10**9}
    result = {}
    with tempfile.TemporaryDirectory() as data, postgres_cluster() as url:
        local = local_state(load_settings(data_dir=Path(data) / "local", **limits))
        shared = open_state(load_settings(data_dir=Path(data) / "pg", state_url=url, **limits))
        try:
            result["in_process_and_sqlite"] = measure(local, args.calls)
            result["postgresql_unix_socket"] = measure(shared, args.calls)
        finally:
            local.close()
            shared.close()
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "state.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
