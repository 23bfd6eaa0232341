"""Latency benchmark of ``POST /api/ask``: sequential requests, then concurrent clients.

Starts ``newsqa serve`` itself on a free local port (on ``--index``, ingesting ``--bootstrap``
first when that index is empty), or measures a running server given by ``--url`` (only
127.0.0.1 / localhost). Both phases are bounded by a request count and a time limit, and the
script stops the server it started. Prints p50 / p95 / mean / max latency and throughput.

    .venv/bin/python bench/latency.py [--index DIR] [--requests 40] [--clients 8]
        [--concurrent-requests 80] [--time-limit 60] [--url http://127.0.0.1:8000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import REPO, local_server, wait_healthy  # noqa: E402

QUESTIONS = [
    "What does the Korean government fear about Japan's right of collective self-defense?",
    "Who won the 2022 FIFA World Cup?",
    "Why is the ROK-US alliance different from the US-Japan alliance?",
    "What does the US government say about Japan's military role?",
    "How does China see Japan's expansion of its military role?",
]


def _ask(client: httpx.Client, url: str, question: str) -> float:
    t0 = time.perf_counter()
    r = client.post(f"{url}/api/ask", json={"question": question}, timeout=60)
    r.raise_for_status()
    return time.perf_counter() - t0


def summary(latencies: list[float], wall: float, errors: int) -> dict[str, Any]:
    """Percentiles (ms), mean, max and throughput of one phase."""
    ms = sorted(x * 1000 for x in latencies)
    if not ms:
        return {"requests": 0, "errors": errors}

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, max(0, round(p / 100 * len(ms) + 0.5) - 1))]

    return {
        "requests": len(ms), "errors": errors, "p50_ms": round(pct(50), 1),
        "p95_ms": round(pct(95), 1), "mean_ms": round(statistics.fmean(ms), 1),
        "max_ms": round(ms[-1], 1), "wall_s": round(wall, 2),
        "throughput_rps": round(len(ms) / wall, 2) if wall > 0 else 0.0,
    }


def sequential(url: str, n: int, limit: float) -> dict[str, Any]:
    """``n`` requests one after another (stops early at ``limit`` seconds)."""
    lat: list[float] = []
    errors = 0
    t0 = time.perf_counter()
    with httpx.Client() as client:
        for i in range(n):
            if time.perf_counter() - t0 > limit:
                break
            try:
                lat.append(_ask(client, url, QUESTIONS[i % len(QUESTIONS)]))
            except httpx.HTTPError:
                errors += 1
    return summary(lat, time.perf_counter() - t0, errors)


def concurrent(url: str, clients: int, n: int, limit: float) -> dict[str, Any]:
    """``clients`` threads sharing ``n`` requests (stops early at ``limit`` seconds)."""
    lat: list[float] = []
    errors = 0
    issued = 0
    lock = threading.Lock()
    t0 = time.perf_counter()

    def worker() -> None:
        nonlocal issued, errors
        with httpx.Client() as client:
            while True:
                with lock:
                    if issued >= n or time.perf_counter() - t0 > limit:
                        return
                    i = issued
                    issued += 1
                try:
                    took = _ask(client, url, QUESTIONS[i % len(QUESTIONS)])
                    with lock:
                        lat.append(took)
                except httpx.HTTPError:
                    with lock:
                        errors += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"clients": clients, **summary(lat, time.perf_counter() - t0, errors)}


def _check_local(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit("--url must be http://127.0.0.1:PORT or http://localhost:PORT")
    return url.rstrip("/")


def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then both phases."""
    health = wait_healthy(url, None, 30)
    with httpx.Client() as client:
        for q in QUESTIONS[:2]:
            _ask(client, url, q)
    return {
        "url": url, "articles": health["articles"], "chunks": health["chunks"],
        "cpus": os.cpu_count(),
        "sequential": sequential(url, args.requests, args.time_limit),
        "concurrent": concurrent(url, args.clients, args.concurrent_requests, args.time_limit),
    }


def main() -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="measure this running server (127.0.0.1/localhost only)")
    ap.add_argument("--index", default=str(REPO / "bench" / ".cache" / "latency-index"),
                    help="index for the server this script starts")
    ap.add_argument("--bootstrap", action="append", default=None,
                    help="ingest this path when the index is empty (default: corpus/)")
    ap.add_argument("--requests", type=int, default=40, help="sequential requests")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients")
    ap.add_argument("--concurrent-requests", type=int, default=80)
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per phase, at most")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()

    if args.url:
        result = run(_check_local(args.url), args)
    else:
        with local_server(Path(args.index), args.bootstrap or [str(REPO / "corpus")]) as url:
            result = run(url, args)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"/api/ask on {result['url']} ({result['articles']} articles, {result['chunks']} "
          f"chunks, {result['cpus']} CPUs)")
    for name in ("sequential", "concurrent"):
        r = result[name]
        label = name if name == "sequential" else f"concurrent ({r['clients']} clients)"
        if not r["requests"]:
            print(f"{label:>24}: no successful requests ({r['errors']} errors)")
            continue
        print(f"{label:>24}: n={r['requests']} p50={r['p50_ms']} ms p95={r['p95_ms']} ms "
              f"mean={r['mean_ms']} ms max={r['max_ms']} ms  {r['throughput_rps']} req/s "
              f"errors={r['errors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
