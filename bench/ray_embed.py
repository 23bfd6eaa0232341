"""Embedding throughput with Ray Data workers against the in-process embedder, side by side.

Embeds the same chunks (the first ``--chunks`` of the Jan–Mar slice index, as the ingest
embeds them: title and chunk text) three ways on this machine: in process (torch, all cores),
then through a local Ray with 1 and with 2 worker actors of one CPU each. For Ray it reports the
whole call (actors start and load the model) and the steady rate (from the first block back to
the last), which is what a long-running ingest sees per worker. Starts and stops its own Ray on
127.0.0.1.

    .venv/bin/python -m bench.ray_embed [--chunks 600]
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from pathlib import Path

from bench.slice import CACHE
from newsqa.embedding.factory import load_embedder
from newsqa.ingest.chunk import embed_text


def chunk_texts(index: Path, n: int) -> list[str]:
    """The first ``n`` chunks of ``index`` as the ingest embeds them."""
    db = sqlite3.connect(index / "news.sqlite")
    try:
        rows = db.execute(
            "SELECT a.title, c.text FROM chunks c JOIN articles a ON a.id=c.article_id "
            "ORDER BY c.id LIMIT ?", (n,)
        ).fetchall()
    finally:
        db.close()
    return [embed_text(t, c) for t, c in rows]


def ray_rate(base: object, texts: list[str], workers: int) -> tuple[float, float]:
    """(chunks/s of the whole call, steady chunks/s from the first block back to the last)."""
    from newsqa.ingest.distributed import RayEmbedder

    emb = RayEmbedder(base, workers=workers)  # type: ignore[arg-type]
    stamps: list[tuple[float, int]] = []
    t0 = time.perf_counter()
    emb.encode(texts, progress=lambda n: stamps.append((time.perf_counter(), n)))
    total = time.perf_counter() - t0
    steady_n = sum(n for _, n in stamps[1:])
    steady_s = stamps[-1][0] - stamps[0][0]
    return len(texts) / total, steady_n / steady_s if steady_s > 0 else float("nan")


def main() -> None:
    """Print the three rates."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chunks", type=int, default=600)
    ap.add_argument("--index", type=Path, default=CACHE / "slice-q1-fp32")
    args = ap.parse_args()
    texts = chunk_texts(args.index, args.chunks)
    base = load_embedder()
    base.encode(texts[:16])  # warm
    t0 = time.perf_counter()
    base.encode(texts)
    local = len(texts) / (time.perf_counter() - t0)
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rows = [(w, *ray_rate(base, texts, w)) for w in (1, 2)]
    finally:
        ray.shutdown()
    print(f"{len(texts)} chunks; in process (torch, {base.precision}): {local:.1f} chunks/s")
    print("| Ray workers | whole call chunks/s | steady chunks/s |")
    print("|---:|---:|---:|")
    for w, whole, steady in rows:
        print(f"| {w} | {whole:.1f} | {steady:.1f} |")


if __name__ == "__main__":
    main()
