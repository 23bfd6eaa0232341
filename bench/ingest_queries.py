"""Queries while the server ingests (issue 39, finding 4): how long do questions wait while
``newsqa serve`` embeds an upload with the same model?

A CLI ingest builds a small index of real articles (the RealTime QA 2023 archive) with the real
embedding model; ``newsqa serve`` starts on a free 127.0.0.1 port; ``--clients`` threads ask
``/api/ask`` real questions (as of each question's date) without pause; after ``--quiet-s``
seconds one client uploads ``--upload-articles`` further articles (``POST /api/articles``) and,
once it is done, the askers go on ``--after-s`` seconds more. Reported: query p50/p95/p99 of the
questions whose time overlapped the upload ("during") and of the others ("outside", the first
seconds of warm-up left out), the upload's duration, errors, and the CPU the run saw.

Everything runs in a temporary folder, bounded in time, and stops by itself. To measure another
checkout's code with this script, put its ``src`` first on ``PYTHONPATH`` (the server runs the
same ``newsqa`` the script imports; the script prints which).

    PYTHONPATH=src .venv/bin/python -m bench.ingest_queries [--base-articles 60]
        [--upload-articles 90] [--clients 8] [--quiet-s 20] [--after-s 8] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

import newsqa
from bench.serving_backend import cpu_flags
from newsqa.index.manifest import read_manifest
from newsqa.testing.paths import ARCHIVE, QUESTIONS
from newsqa.testing.servers import newsqa_command, running_server

DEADLINE_S = 900  # the whole script, whatever the arguments
WARMUP_S = 4.0  # first questions load models and fill caches: not counted


def read_articles(path: Path, n: int) -> list[dict[str, Any]]:
    """The first ``n`` articles with text in the archive at ``path``."""
    out: list[dict[str, Any]] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            art = json.loads(line)
            if art.get("text") and art.get("url"):
                out.append(art)
                if len(out) == n:
                    break
    return out


def read_questions(path: Path, n: int) -> list[tuple[str, str]]:
    """(question, as-of date) of the first ``n`` questions at ``path``."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines()[:n]:
        q = json.loads(line)
        out.append((q["question"], q["date"]))
    return out


def _write(path: Path, articles: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
    return path


def _asker(url: str, n: int, questions: list[tuple[str, str]], stop: threading.Event,
           out: list[tuple[float, float, int]]) -> None:
    i = n
    with httpx.Client(base_url=url, timeout=120) as client:
        while not stop.is_set():
            question, as_of = questions[i % len(questions)]
            i += 8
            t0 = time.monotonic()
            try:
                status = client.post(
                    "/api/ask", json={"question": question, "as_of": as_of}).status_code
            except httpx.HTTPError:
                status = -1
            out.append((t0, time.monotonic(), status))


def pcts(times: list[float]) -> dict[str, float | int]:
    """Count and p50/p95/p99 (nearest rank) of ``times``, in seconds."""
    if not times:
        return {"n": 0}
    s = sorted(times)

    def at(p: float) -> float:
        return round(s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))], 3)

    return {"n": len(s), "p50_s": at(50), "p95_s": at(95), "p99_s": at(99),
            "max_s": round(s[-1], 3), "over_1s": sum(t > 1.0 for t in s)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The drill; its figures."""
    articles = read_articles(args.archive, args.base_articles + args.upload_articles)
    questions = read_questions(args.questions, 400)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for name in ("NEWSQA_API__KEY", "NEWSQA_API_KEY", "NEWSQA_EMBEDDING__EMBEDDER"):
        env.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="newsqa-ingest-queries-") as tmp:
        work = Path(tmp)
        index = work / "index"
        base = _write(work / "base.jsonl", articles[: args.base_articles])
        upload = _write(work / "upload.jsonl", articles[args.base_articles:])
        t = time.perf_counter()
        subprocess.run(newsqa_command(index, "ingest", str(base), "--no-progress"),
                       env=env, check=True, capture_output=True, timeout=DEADLINE_S / 2)
        base_s = time.perf_counter() - t
        records: list[tuple[float, float, int]] = []
        stop = threading.Event()
        with running_server(index, env=env, log_path=work / "server.log") as (_proc, url):
            threads = [threading.Thread(target=_asker, args=(url, n, questions, stop, records))
                       for n in range(args.clients)]
            t_start = time.monotonic()
            for th in threads:
                th.start()
            time.sleep(WARMUP_S + args.quiet_s)
            up0 = time.monotonic()
            with upload.open("rb") as fh:
                r = httpx.post(f"{url}/api/articles", files={"file": ("up.jsonl", fh)},
                               timeout=DEADLINE_S / 2)
            up1 = time.monotonic()
            added = r.json().get("added") if r.status_code == 200 else r.text[:200]
            time.sleep(args.after_s)
            stop.set()
            for th in threads:
                th.join(timeout=120)
        manifest = read_manifest(index)
    counted = [x for x in records if x[0] >= t_start + WARMUP_S]
    during = [b - a for a, b, st in counted if st == 200 and b > up0 and a < up1]
    outside = [b - a for a, b, st in counted if st == 200 and not (b > up0 and a < up1)]
    return {
        "newsqa": str(Path(newsqa.__file__).parent),
        "cpu": cpu_flags(),
        "cores": os.cpu_count(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "embed_backend": manifest and manifest.embed_backend,
        "base_articles": args.base_articles,
        "base_ingest_s": round(base_s, 1),
        "upload_articles": args.upload_articles,
        "upload_status": r.status_code,
        "upload_added": added,
        "upload_s": round(up1 - up0, 1),
        "clients": args.clients,
        "errors": sum(st != 200 for _, _, st in counted),
        "during": pcts(during),
        "outside": pcts(outside),
    }


def main() -> None:
    """Run the drill and print its figures (``--json``: one JSON object)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-articles", type=int, default=60)
    ap.add_argument("--upload-articles", type=int, default=90)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--quiet-s", type=float, default=20.0)
    ap.add_argument("--after-s", type=float, default=8.0)
    ap.add_argument("--archive", type=Path, default=ARCHIVE)
    ap.add_argument("--questions", type=Path, default=QUESTIONS)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    got = run(args)
    if args.json:
        print(json.dumps(got))
        return
    print(f"newsqa from {got['newsqa']}; CPU: {got['cpu']}; {got['cores']} cores, "
          f"load average {got['load_avg']}")
    print(f"index of {got['base_articles']} articles ({got['base_ingest_s']} s); upload of "
          f"{got['upload_articles']}: status {got['upload_status']}, added "
          f"{got['upload_added']}, {got['upload_s']} s; {got['clients']} clients, "
          f"{got['errors']} errors")
    for phase in ("during", "outside"):
        p = got[phase]
        print(f"  {phase:8} the upload: {p['n']:4} questions, p50 {p.get('p50_s')} s, "
              f"p95 {p.get('p95_s')} s, p99 {p.get('p99_s')} s, max {p.get('max_s')} s, "
              f"{p.get('over_1s')} over 1 s")


if __name__ == "__main__":
    main()
