"""Hostile feed servers against the feed fetcher (issue 39, findings 1-3 and the follower's exit
on SIGTERM): what each costs in time and memory, and how it ends.

Each case starts its own server on 127.0.0.1 (``newsqa.testing.hostile``) and runs the fetch in
a fresh process, whose address space is capped (``--cap-mib`` over its size once imports are
done) so that a bomb the code under test does not stop ends as "killed at the cap" instead of
taking the machine. Reported per case: the outcome, wall time, and the fetching process's RSS
after its imports and at its peak (``ru_maxrss``). Cases:

- a stacked gzip bomb (``Content-Encoding: gzip, gzip``, a few KB expanding to 4 GiB);
- a one-layer gzip bomb (1 MB expanding to 1 GiB);
- a response head trickled one byte every 0.2 s, and endless ``102 Processing`` (the server
  gives up after ``--hold`` seconds);
- a feed given on the command line (``newsqa follow URL --once``) whose item links to a fake
  cloud metadata path on 127.0.0.1: was it fetched, did the fake key reach the index;
- ``newsqa follow`` sent SIGTERM one second into a trickled request: seconds to exit.

Requests have ``NEWSQA_FEEDS__TIMEOUT=3`` and the default 5 MB body cap; the fetches' guard
allow-list names 127.0.0.1 (the feed server; the private-link case lists only ``localhost``,
the name its feed is given by). To measure another checkout, name its ``src`` with ``--src``
(the children run that ``newsqa``; the servers and this script stay the same)::

    .venv/bin/python -m bench.hostile_feeds [--src /tmp/base/src] [--hold 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.serving_backend import cpu_flags
from bench.slice import REPO, command_line, git_commit, now
from newsqa.testing.hostile import (
    METADATA_PATH,
    HostileServer,
    bomb,
    fake_credentials,
    flood_102,
    private_link_feed,
    trickle,
)

PROBE = r"""
import contextlib, io, json, os, resource, sys, time

def vm_bytes():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0

def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

cap, case, url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
import newsqa
from newsqa.cli import main
from newsqa.feeds.fetch import Fetcher, FetchError
from newsqa.settings import get_settings
start_rss = rss_mib()
limit = vm_bytes() + cap
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
t0 = time.perf_counter()
try:
    if case == "follow":
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = main(["--index", sys.argv[4], "follow", url, "--once", "--json"])
        results = json.loads(out.getvalue() or "[]")
        problems = [p for r in results for p in r.get("problems", [])]
        outcome = f"exit {rc}; " + ("; ".join(problems) or "no problem reported")
    else:
        r = Fetcher(get_settings()).get(url)
        outcome = f"fetched: HTTP {r.status}, {len(r.body):,} bytes"
except MemoryError:
    outcome = "killed at the cap (MemoryError)"
except FetchError as exc:
    outcome = f"refused: {exc}"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {exc}"
wall = time.perf_counter() - t0
print(json.dumps({"outcome": outcome, "wall_s": wall, "start_rss_mib": start_rss,
                  "peak_rss_mib": rss_mib(), "newsqa": newsqa.__file__}))
"""


def child_env(src: Path, **settings: str) -> dict[str, str]:
    """The environment of a fetching process: ``src`` first on the path, fast settings."""
    env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               HF_HUB_OFFLINE="1", NEWSQA_EMBEDDING__EMBEDDER="hash",
               NEWSQA_FEEDS__HOST_INTERVAL="0", NEWSQA_FEEDS__TIMEOUT="3")
    env.update({f"NEWSQA_FEEDS__{k.upper()}": v for k, v in settings.items()})
    return env


def probe(src: Path, case: str, url: str, cap: int, limit_s: float, *extra: str,
          **settings: str) -> dict[str, Any]:
    """One fetch in a fresh, capped process; its report (or how it died)."""
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", PROBE, str(cap), case, url, *extra], capture_output=True,
            text=True, timeout=limit_s, env=child_env(src, **settings), cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        return {"outcome": f"still running after {limit_s:.0f} s (stopped)",
                "wall_s": time.monotonic() - t0}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        how = (f"killed by signal {-proc.returncode}" if proc.returncode < 0
               else f"exit {proc.returncode}")
        tail = proc.stderr.strip().splitlines()[-1:] or [""]
        return {"outcome": f"{how} ({tail[0][:120]})", "wall_s": time.monotonic() - t0}
    return dict(json.loads(lines[-1]))


def fetch_case(src: Path, name: str, handler: Any, args: argparse.Namespace) -> dict[str, Any]:
    """A plain fetch of a feed URL the server answers with ``handler``."""
    with HostileServer({"/feed.xml": handler}, lifetime=args.hold + 60, hold=args.hold) as srv:
        row = probe(src, "fetch", srv.url("/feed.xml"), args.cap_mib << 20, args.hold + 60,
                    allow_hosts="127.0.0.1")
    return {"case": name, **row}


def private_link_case(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    """``newsqa follow URL --once`` of a feed whose item links to a fake metadata path."""
    routes = {METADATA_PATH: fake_credentials()}
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp, HostileServer(
            routes, lifetime=args.hold + 120) as srv:
        routes["/feed.xml"] = private_link_feed(srv.url(METADATA_PATH))
        url = srv.url("/feed.xml").replace("127.0.0.1", "localhost")
        row = probe(src, "follow", url, args.cap_mib << 20, args.hold + 120,
                    str(Path(tmp) / "idx"), allow_hosts="localhost")
        stored = any(b"AKIAFAKE" in p.read_bytes() for p in Path(tmp).rglob("*") if p.is_file())
        hits = srv.hits.get(METADATA_PATH, 0)
    row["outcome"] = (f"metadata fetched {hits}x, fake key in the index: "
                      f"{'yes' if stored else 'no'}; {row['outcome']}")
    return {"case": "private item link (command-line feed)", **row}


def sigterm_case(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    """``newsqa follow`` sent SIGTERM 1 s into a trickled request: seconds until it exits."""
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp, HostileServer(
            {"/feed.xml": trickle(0.2)}, lifetime=args.hold + 60, hold=args.hold) as srv:
        env = child_env(src, allow_hosts="127.0.0.1", timeout="60")
        cmd = [sys.executable, "-m", "newsqa.cli", "--index", str(Path(tmp) / "idx"), "follow",
               srv.url("/feed.xml")]
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        end = time.monotonic() + 120
        while not srv.hits.get("/feed.xml") and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(1.0)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=args.hold + 60)
            outcome = f"exited (status {rc})"
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            outcome = "still running (killed)"
    return {"case": "SIGTERM during a hung request", "outcome": outcome,
            "wall_s": time.monotonic() - t0}


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every case against the code in ``args.src``."""
    src = Path(args.src).resolve()
    rows = [
        fetch_case(src, "stacked gzip bomb (gzip, gzip; 4 GiB)", bomb(4 << 30, 2), args),
        fetch_case(src, "gzip bomb (one layer; 1 GiB)", bomb(1 << 30, 1), args),
        fetch_case(src, "header tarpit (1 byte / 0.2 s)", trickle(0.2), args),
        fetch_case(src, "102 Processing flood (10/s)", flood_102(0.1), args),
        private_link_case(src, args),
        sigterm_case(src, args),
    ]
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    def mib(v: Any) -> str:
        return "–" if v is None else f"{v:.0f}"
    out = ["| case | outcome | wall s | RSS after imports MiB | peak RSS MiB |",
           "|---|---|---:|---:|---:|"]
    for r in rows:
        outcome = str(r["outcome"]).replace("|", "/")[:300]
        out.append(f"| {r['case']} | {outcome} | {r['wall_s']:.1f} | "
                   f"{mib(r.get('start_rss_mib'))} | {mib(r.get('peak_rss_mib'))} |")
    return "\n".join(out)


def main() -> None:
    """Run the cases and print the table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", default=str(REPO / "src"), help="the newsqa source to measure")
    ap.add_argument("--hold", type=float, default=30.0,
                    help="seconds a tarpit server goes on before it gives up")
    ap.add_argument("--cap-mib", type=int, default=1024,
                    help="address space a fetching process may add after its imports")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = run(args)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"# hostile feeds: {now()}, commit {git_commit()}, src {args.src}")
    print(f"# {command_line()}")
    print(f"# python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"CPU flags: {cpu_flags()}; address-space cap {args.cap_mib} MiB over the size "
          "after imports")
    print(table(rows))


if __name__ == "__main__":
    main()
