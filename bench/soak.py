"""Soak run: `articlebot serve slack` over real HTTP on loopback, 50 concurrent askers
for 60 s, answers collected at the response_url of a Slack stand-in (bench/slack_sink.py).

    python bench/soak.py [--askers 50] [--seconds 60] [--index-dir DIR] [--no-save]

Reports answered, failed, latency p50/p99 (signed request sent -> answer received)
and the server's resident memory over the run. Writes bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier
from slack_sink import BOT_TOKEN, SIGNING_SECRET, SlackSink, free_port

QUESTIONS = [
    "When was the International Space Station launched?",
    "How long was Mir in orbit?",
    "What now threatens to disrupt the work on the ISS?",
    "Who won the 2022 World Cup?",
]
RESULTS = Path(__file__).parent / "results"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def asker(
    n: int, url: str, fake: SlackSink, deadline: float, out: dict, ids: itertools.count
) -> None:
    verifier = SignatureVerifier(SIGNING_SECRET)
    async with httpx.AsyncClient(timeout=30) as client:
        for k in itertools.count():
            if time.monotonic() >= deadline:
                return
            name = f"soak{next(ids)}"
            body = urlencode(
                {
                    "command": "/ask",
                    "text": QUESTIONS[k % len(QUESTIONS)],
                    "user_id": f"U{n}",
                    "channel_id": f"C{n % 5}",
                    "team_id": "T1",
                    "response_url": fake.response_url_for(name),
                    "trigger_id": name,
                }
            )
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body),
            }
            started = time.monotonic()
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                out["failed"] += 1
                continue
            if response.status_code != 200:
                out["failed"] += 1
                continue
            while name not in fake.responses:
                if time.monotonic() - started > 30:
                    out["failed"] += 1
                    break
                await asyncio.sleep(0.005)
            else:
                text = fake.responses.pop(name)["text"]
                if "went wrong" in text:
                    out["failed"] += 1
                else:
                    out["latencies"].append(time.monotonic() - started)


async def soak(url: str, fake: SlackSink, pid: int, askers: int, seconds: float) -> dict:
    out: dict = {"failed": 0, "latencies": []}
    memory = [round(rss_mb(pid), 1)]
    deadline = time.monotonic() + seconds
    ids = itertools.count()
    tasks = [asyncio.create_task(asker(n, url, fake, deadline, out, ids)) for n in range(askers)]
    while time.monotonic() < deadline:
        await asyncio.sleep(min(10, max(0.1, deadline - time.monotonic())))
        memory.append(round(rss_mb(pid), 1))
    await asyncio.gather(*tasks)
    latencies = sorted(out["latencies"])
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "askers": askers,
        "seconds": seconds,
        "answered": len(latencies),
        "failed": out["failed"],
        "answers_per_s": round(len(latencies) / seconds, 1),
        "latency_ms_p50": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "latency_ms_p99": round(1000 * quantiles[98], 1),
        "rss_mb_every_10s": memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--askers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--index-dir", type=Path, help="serve this index (default: the bundled)")
    parser.add_argument("--no-save", action="store_true", help="print only, keep soak.json")
    args = parser.parse_args()
    fake = SlackSink().start()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_BASE_URL": fake.api_base,
            "ARTICLEBOT_DATA_DIR": tmp,
            "ARTICLEBOT_RATE_LIMIT_QUESTIONS": "1000000",
            "ARTICLEBOT_RATE_LIMIT_CHANNEL_QUESTIONS": "1000000",
        }
        if args.index_dir:
            env["ARTICLEBOT_INDEX_DIR"] = str(args.index_dir)
        env.pop("SLACK_APP_TOKEN", None)
        exe = str(Path(sys.executable).parent / "articlebot")
        server = subprocess.Popen(
            [exe, "serve", "slack", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # a line per answer: never a pipe nobody reads
        )
        url = f"http://127.0.0.1:{port}/slack/events"
        try:
            for _ in range(600):
                try:
                    httpx.get(url, timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            result = asyncio.run(soak(url, fake, server.pid, args.askers, args.seconds))
        finally:
            server.terminate()
            server.wait(30)
            fake.stop()
    print(json.dumps(result, indent=2))
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "soak.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
