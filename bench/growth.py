"""How ingest rate, query latency and memory grow with the archive.

For each size (default 10,000, 30,000 and every chunk of the full index) it builds an index of
the oldest articles of the cached full 2023 index up to that many chunks, copying their stored
chunks and vectors (no re-embedding), then measures on it:

- ingest rate: ``newsqa ingest`` of the same ``--ingest-articles`` held-back articles (the newest
  of the archive, embedded for real), end to end, in chunks/s;
- query latency: a real ``newsqa serve`` on 127.0.0.1 (``bench.latency``'s phases: cold start,
  sequential ``/api/ask`` and ``/api/search`` over real questions as of their dates);
- the server's peak resident memory.

It prints a table and writes ``docs/growth.png`` (needs matplotlib: ``pip install matplotlib``;
without it only the table is printed). Bounded: a fixed number of requests per size, a time limit
per phase, and the servers it starts are stopped.

    .venv/bin/python -m bench.growth [--sizes 10000 30000 0] [--requests 60]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.latency import cold_start, real_questions
from bench.slice import CACHE, REPO, command_line, git_commit, now
from newsqa.index.manifest import read_manifest
from newsqa.index.store import ArticleRow
from newsqa.service import NewsQA
from newsqa.settings import get_settings
from newsqa.testing.servers import newsqa_command

PNG = REPO / "docs" / "growth.png"


def article_rows(full: Path) -> list[tuple[dict[str, Any], list[tuple[str, bytes]]]]:
    """Every article of ``full`` (oldest first) with its chunks' texts and stored vectors."""
    db = sqlite3.connect(f"file:{full / 'news.sqlite'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        arts = [dict(r) for r in db.execute(
            "SELECT * FROM articles ORDER BY coalesce(published_at, ''), id")]
        chunks: dict[str, list[tuple[str, bytes]]] = {}
        for r in db.execute("SELECT article_id, text, vector FROM chunks ORDER BY article_id, ord"):
            chunks.setdefault(r[0], []).append((r[1], r[2]))
    finally:
        db.close()
    return [(a, chunks.get(a["id"], [])) for a in arts]


def build(dest: Path, rows: list[tuple[dict[str, Any], list[tuple[str, bytes]]]],
          full: Path) -> int:
    """An index at ``dest`` holding ``rows`` with their stored vectors; its chunk count."""
    manifest = read_manifest(full)
    svc = NewsQA.open(get_settings(index__path=str(dest),
                                   embedding__backend=manifest and manifest.embed_backend))
    total = 0
    try:
        with svc.index.writer():
            for start in range(0, len(rows), 256):
                batch = []
                for a, chunks in rows[start:start + 256]:
                    authors = json.loads(a["authors"]) if a.get("authors") else []
                    batch.append(ArticleRow(
                        id=a["id"], url=a["url"], title=a["title"], source=a["source"],
                        published_at=a["published_at"], authors=authors, text=a["text"],
                        content_hash=a["content_hash"], origin=a.get("origin") or "",
                        chunks=[t for t, _ in chunks],
                        vectors=np.stack([np.frombuffer(v, dtype=np.float32) for _, v in chunks]),
                        cluster_id=a.get("cluster_id"),
                    ))
                total += svc.index.write(batch)
            svc.index.save_snapshot()
    finally:
        svc.close()
    return total


def ingest_rate(index: Path, held: list[dict[str, Any]], work: Path) -> dict[str, float]:
    """``newsqa ingest`` of the held-back articles into ``index``: chunks and chunks/s."""
    src = work / "held.jsonl"
    src.write_text("".join(json.dumps(a) + "\n" for a in held), encoding="utf-8")
    before = _chunks(index)
    t0 = time.perf_counter()
    subprocess.run(newsqa_command(index, "ingest", str(src)), check=True,
                   capture_output=True, timeout=1800)
    seconds = time.perf_counter() - t0
    added = _chunks(index) - before
    return {"chunks": added, "seconds": seconds, "rate": added / seconds}


def _chunks(index: Path) -> int:
    db = sqlite3.connect(index / "news.sqlite")
    try:
        return int(db.execute("SELECT count(*) FROM chunks").fetchone()[0])
    finally:
        db.close()


def plot(rows: list[dict[str, Any]]) -> bool:
    """Write ``docs/growth.png``; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    x = [r["chunks"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(x, [r["ingest_rate"] for r in rows], "o-")
    axes[0].set(title="ingest (chunks/s)", xlabel="chunks in the index")
    for key, label in (("ask_p50", "ask p50"), ("ask_p95", "ask p95"),
                       ("search_p50", "search p50")):
        axes[1].plot(x, [r[key] for r in rows], "o-", label=label)
    axes[1].set(title="query latency (ms)", xlabel="chunks in the index")
    axes[1].legend()
    axes[2].plot(x, [r["rss_mb"] for r in rows], "o-")
    axes[2].set(title="server peak RSS (MiB)", xlabel="chunks in the index")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(PNG, dpi=110)
    return True


def main() -> int:
    """Build each size, measure it, print the table and write the plot."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", type=Path, default=CACHE / "full-2023")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 0],
                    help="chunk counts; 0 = every chunk of the full index")
    ap.add_argument("--ingest-articles", type=int, default=120)
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--questions", type=int, default=200)
    args = ap.parse_args()
    print(f"command: {command_line()}\ncommit: {git_commit()}\ndate: {now()}")
    every = article_rows(args.full)
    held = every[-args.ingest_articles:]
    base = every[:-args.ingest_articles]
    held_records = [{"title": a["title"], "text": a["text"], "url": a["url"],
                     "source": a["source"], "published_at": a["published_at"]}
                    for a, _ in held]
    bodies = real_questions(args.questions)
    lat_args = argparse.Namespace(requests=args.requests, clients=8,
                                  concurrent_requests=args.requests, time_limit=60.0)
    results = []
    for size in args.sizes:
        picked, n = [], 0
        for a, chunks in base:
            if size and n + len(chunks) > size:
                break
            picked.append((a, chunks))
            n += len(chunks)
        with tempfile.TemporaryDirectory(prefix="newsqa-growth-") as tmp:
            index = Path(tmp) / "index"
            chunks = build(index, picked, args.full)
            lat = cold_start(index, [], lat_args, bodies)
            ing = ingest_rate(index, held_records, Path(tmp))
            shutil.rmtree(index, ignore_errors=True)
        row = {"chunks": chunks, "articles": len(picked), "ingest_rate": round(ing["rate"], 1),
               "ask_p50": lat["sequential"]["p50_ms"], "ask_p95": lat["sequential"]["p95_ms"],
               "search_p50": lat["search"]["p50_ms"], "search_p95": lat["search"]["p95_ms"],
               "answers_per_s_8_clients": lat["concurrent"]["throughput_rps"],
               "cold_start_s": lat["cold_start_s"], "rss_mb": lat["rss_mb"]}
        results.append(row)
        print(json.dumps(row), flush=True)
    print("\n| chunks | articles | ingest chunks/s | ask p50 ms | ask p95 ms | search p50 ms | "
          "answers/s (8 clients) | cold start s | peak RSS MiB |\n|---:|---:|---:|---:|---:|---:|"
          "---:|---:|---:|")
    for r in results:
        print(f"| {r['chunks']:,} | {r['articles']:,} | {r['ingest_rate']} | {r['ask_p50']} | "
              f"{r['ask_p95']} | {r['search_p50']} | {r['answers_per_s_8_clients']} | "
              f"{r['cold_start_s']} | {r['rss_mb']} |")
    print(f"plot: {PNG}" if plot(results) else "plot: matplotlib missing, no PNG")
    return 0


if __name__ == "__main__":
    sys.exit(main())
