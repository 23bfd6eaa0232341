"""Latency benchmark of ``POST /api/ask`` and ``POST /api/search`` over real HTTP.

Starts ``newsqa serve`` itself on a free local port (on ``--index``, ingesting ``--bootstrap``
first when that index is empty), or measures a running server given by ``--url`` (only
127.0.0.1 / localhost). Phases: cold start (process start to the first answer) and the
server's resident memory (when it started the server), sequential asks, sequential searches,
then concurrent clients asking. Every phase is bounded by a request count and a time limit, and
the script stops the server it started. Prints p50 / p95 / mean / max latency and throughput.

With ``--real-questions N`` the requests go through the first N questions of the benchmark
file (``../shared/data/realtimeqa-2023/questions.jsonl``), each asked as of its own date; each
phase takes the questions after the previous phase's, so with N at least 2 × requests +
concurrent requests + 2 no question is asked twice (the server's caches of word postings and
sentence vectors then help only as different questions about the same news do); otherwise
five questions about the bundled corpus.

Before starting a server, the index's postings file of common words is written when missing
(what the first server on an index does in its first minute, competing with the questions then
asked), so the figures are a running server's; ``--cold-postings`` leaves it as it is.

    .venv/bin/python -m bench.latency [--index DIR] [--requests 40] [--clients 8]
        [--concurrent-requests 80] [--time-limit 60] [--real-questions 200]
        [--url http://127.0.0.1:8000] [--workers N] [--cold-postings] [--json]

    # the full 2023 index, no question asked twice
    .venv/bin/python -m bench.latency --index bench/.cache/full-2023 --real-questions 400 \
        --requests 100 --concurrent-requests 160 [--workers 2]
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

from bench.slice import CACHE, REPO
from bench.slice import QUESTIONS as BENCH_QUESTIONS
from newsqa.testing.servers import running_server, wait_healthy

QUESTIONS = [
    "What does the Korean government fear about Japan's right of collective self-defense?",
    "Who won the 2022 FIFA World Cup?",
    "Why is the ROK-US alliance different from the US-Japan alliance?",
    "What does the US government say about Japan's military role?",
    "How does China see Japan's expansion of its military role?",
]


def real_questions(n: int) -> list[dict[str, Any]]:
    """The first ``n`` questions of the benchmark file as request bodies, as of their dates."""
    out = []
    with BENCH_QUESTIONS.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                q = json.loads(line)
                out.append({"question": q["question"], "as_of": q["date"][:10]})
            if len(out) >= n:
                break
    return out


def _post(client: httpx.Client, url: str, route: str, body: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    r = client.post(f"{url}{route}", json=body, timeout=60)
    r.raise_for_status()
    return time.perf_counter() - t0


def _ask(client: httpx.Client, url: str, body: dict[str, Any]) -> float:
    return _post(client, url, "/api/ask", body)


def _search(client: httpx.Client, url: str, body: dict[str, Any]) -> float:
    query = {"query": body["question"], **{k: v for k, v in body.items() if k != "question"}}
    return _post(client, url, "/api/search", query)


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


def sequential(
    url: str, bodies: list[dict[str, Any]], n: int, limit: float, call: Any = _ask,
    offset: int = 0,
) -> dict[str, Any]:
    """``n`` requests one after another, from question ``offset`` on (stops early at
    ``limit`` seconds)."""
    lat: list[float] = []
    errors = 0
    t0 = time.perf_counter()
    with httpx.Client() as client:
        for i in range(n):
            if time.perf_counter() - t0 > limit:
                break
            try:
                lat.append(call(client, url, bodies[(offset + i) % len(bodies)]))
            except httpx.HTTPError:
                errors += 1
    return summary(lat, time.perf_counter() - t0, errors)


def concurrent(
    url: str, bodies: list[dict[str, Any]], clients: int, n: int, limit: float, offset: int = 0
) -> dict[str, Any]:
    """``clients`` threads sharing ``n`` requests from question ``offset`` on (stops early at
    ``limit`` seconds)."""
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
                    took = _ask(client, url, bodies[(offset + i) % len(bodies)])
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


def _peak_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except OSError:
            continue
    return found


def rss_mb(pid: int) -> float | None:
    """Peak resident memory in MiB (Linux ``VmHWM``) of a process and all its descendants
    (a server with several workers), summed; None when unknown."""
    total, todo, seen = None, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        peak = _peak_mb(p)
        if peak is not None:
            total = (total or 0.0) + peak
        todo += _children(p)
    return total


def run(url: str, args: argparse.Namespace, bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """Warm up, then the phases. Each phase starts where the one before stopped in the question
    list, so no phase repeats a question another asked (given enough questions, see
    :func:`questions_needed`): the server's caches help only as much as different questions
    about the same news help them."""
    health = wait_healthy(url, None, 30)
    with httpx.Client() as client:
        for body in bodies[-2:]:
            _ask(client, url, body)
    n, m = args.requests, args.concurrent_requests
    return {
        "url": url, "articles": health["articles"], "chunks": health["chunks"],
        "cpus": os.cpu_count(), "questions": len(bodies),
        "sequential": sequential(url, bodies, n, args.time_limit),
        "search": sequential(url, bodies, n, args.time_limit, _search, offset=n),
        "concurrent": concurrent(
            url, bodies, args.clients, m, args.time_limit, offset=2 * n
        ),
    }


def questions_needed(args: argparse.Namespace) -> int:
    """Distinct questions for phases that never repeat one (and two for the warm-up)."""
    return 2 * args.requests + args.concurrent_requests + 2


def postings_file(index: Path, build: bool) -> str:
    """Whether ``index`` has the postings file of its common words that a server loads once
    its first answer is out (:mod:`newsqa.index.postings`); with ``build``, write it first
    when missing or outdated, as the first server on an index does over its first minute, so
    the phases measure a server in its steady state rather than one still reading it."""
    from newsqa.index.postings import POSTINGS_FILE

    if not build or not (index / "manifest.json").exists():
        return "present" if (index / POSTINGS_FILE).exists() else "absent"
    from newsqa.service import NewsQA
    from newsqa.settings import get_settings

    t = time.perf_counter()
    svc = NewsQA.open(get_settings(index__path=str(index)), create=False)
    try:
        words = svc.warm(after_first_answer=0)
    finally:
        svc.close()
    return f"{words} words, ready in {time.perf_counter() - t:.1f} s"


def cold_start(index: Path, bootstrap: list[str], args: argparse.Namespace,
               bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """Start the server, time process start to the first answer, then run the phases."""
    postings = postings_file(index, not getattr(args, "cold_postings", False))
    t0 = time.perf_counter()
    workers = getattr(args, "workers", 1)
    serve_args = ["--workers", str(workers)] if workers > 1 else []
    with running_server(index, bootstrap, serve_args=serve_args) as (proc, url):
        with httpx.Client() as client:
            _ask(client, url, bodies[0])
        first = time.perf_counter() - t0
        result = run(url, args, bodies)
        result["cold_start_s"] = round(first, 2)
        result["postings_file"] = postings
        rss = rss_mb(proc.pid)
        result["rss_mb"] = round(rss, 1) if rss is not None else None
    return result


def main() -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="measure this running server (127.0.0.1/localhost only)")
    ap.add_argument("--index", default=str(CACHE / "latency-index"),
                    help="index for the server this script starts")
    ap.add_argument("--bootstrap", action="append", default=None,
                    help="ingest this path when the index is empty (default: corpus/)")
    ap.add_argument("--workers", type=int, default=1,
                    help="serving processes of the server this script starts (serve --workers)")
    ap.add_argument("--requests", type=int, default=40, help="sequential requests")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients")
    ap.add_argument("--concurrent-requests", type=int, default=80)
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per phase, at most")
    ap.add_argument("--real-questions", type=int, default=0, metavar="N",
                    help="cycle through the first N benchmark questions, as of their dates")
    ap.add_argument("--cold-postings", action="store_true",
                    help="do not write the index's postings file before starting the server "
                    "(the phases then race the server reading it, as on a new index's first "
                    "minute)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()

    bodies = (real_questions(args.real_questions) if args.real_questions
              else [{"question": q} for q in QUESTIONS])
    if args.real_questions and len(bodies) < questions_needed(args):
        print(f"note: {len(bodies)} questions for {questions_needed(args)} requests: phases "
              "repeat questions (use --real-questions N for at least that many)", file=sys.stderr)
    if args.url:
        result = run(_check_local(args.url), args, bodies)
    else:
        bootstrap = args.bootstrap or [str(REPO / "corpus")]
        result = cold_start(Path(args.index), bootstrap, args, bodies)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['url']} ({result['articles']} articles, {result['chunks']} chunks, "
          f"{result['cpus']} CPUs, {result['questions']} distinct questions)")
    if "cold_start_s" in result:
        print(f"cold start (process start to first answer): {result['cold_start_s']} s; "
              f"server peak RSS: {result['rss_mb']} MiB; postings file: "
              f"{result['postings_file']}")
    labels = {"sequential": "/api/ask sequential", "search": "/api/search sequential"}
    for name in ("sequential", "search", "concurrent"):
        r = result[name]
        label = labels.get(name) or f"/api/ask, {r['clients']} clients"
        if not r["requests"]:
            print(f"{label:>24}: no successful requests ({r['errors']} errors)")
            continue
        print(f"{label:>24}: n={r['requests']} p50={r['p50_ms']} ms p95={r['p95_ms']} ms "
              f"mean={r['mean_ms']} ms max={r['max_ms']} ms  {r['throughput_rps']} req/s "
              f"errors={r['errors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
