"""Passages reranked by the reader, by how many are read: Hit@10, MRR@10 and time per depth.

Every answerable 2023 question is searched once as of its own date for the deepest depth's
passages (10 at least). At each depth the reader reads the first ``depth`` passages' candidate
sentences (as an answer with ``NEWSQA_READER__PASSAGES=depth`` reads them, fused with the
composer) and the passages read are put in the order of their best sentence, the rest after
them. The first 10 are then scored as ``bench/quality.py`` scores an ask's passages: Hit@10 and
MRR@10 count a passage from a gold URL whose text contains the gold answer. The retrieval order
of a 10-passage search (what an ask shows today) is the baseline, per half.

    .venv/bin/python -m bench.reader_rerank [--reader DIR] [--depths 10 20 30] [--limit N]
        [--rank-penalty P]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.reader_curve import HALVES, half_of
from bench.serving_backend import cpu_flags
from bench.slice import CACHE, QUESTIONS, command_line, git_commit, now
from newsqa.eval import is_answerable, load_questions, passage_hit_ranks, percentile
from newsqa.models import Filters
from newsqa.query.read import ReadConfig, read_passages
from newsqa.reader.runtime import load_reader
from newsqa.service import NewsQA
from newsqa.settings import get_settings


def ranked(q: dict[str, Any], passages: Any) -> dict[str, float]:
    """Hit@10 and reciprocal rank@10 of ``passages`` for question ``q`` (quality.py's rule)."""
    rank = passage_hit_ranks(passages[:10], q.get("gold_urls") or [], q["answer"])
    return {"hit": float(rank is not None), "rr": 1.0 / rank if rank else 0.0}


def main(argv: list[str] | None = None) -> int:
    """Search once per question, rerank at every depth, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=CACHE / "full-2023")
    ap.add_argument("--reader", default=None, help="a reader folder (default: the shipped one)")
    ap.add_argument("--depths", type=int, nargs="+", default=[10, 20, 30])
    ap.add_argument("--limit", type=int, default=None, help="first N questions (smoke runs)")
    ap.add_argument("--rank-penalty", type=float, default=None,
                    help="the logit a candidate loses per place of its passage (default: the "
                    "reader's own, chosen on dev for reading 3 passages)")
    args = ap.parse_args(argv)
    if min(args.depths) < 1:
        ap.error("--depths must be positive")
    questions = [q for q in load_questions(QUESTIONS) if is_answerable(q)]
    questions = questions[: args.limit] if args.limit else questions
    svc = NewsQA.open(get_settings(index__path=str(args.index), reader__mode="off"), create=False)
    reader = load_reader(args.reader)
    info, cfg, pipe = reader.info, svc.composition, svc.pipeline()
    penalty = info.rank_penalty if args.rank_penalty is None else args.rank_penalty
    deepest = max(10, *args.depths)  # the first 10 are scored whatever is read
    rows: dict[Any, list[dict[str, Any]]] = {d: [] for d in ("retrieval", *args.depths)}
    times: dict[int, list[float]] = {d: [] for d in args.depths}
    search_ms: dict[int, list[float]] = {10: [], deepest: []}
    try:
        for q in questions:
            f = Filters(as_of=q["date"])
            t = time.perf_counter()
            _, _, shown = pipe.searched(q["question"], 10, f)
            search_ms[10].append((time.perf_counter() - t) * 1000)
            rows["retrieval"].append({"half": half_of(q), **ranked(q, shown)})
            t = time.perf_counter()
            plan, qvec, got = pipe.searched(q["question"], deepest, f)
            search_ms[deepest].append((time.perf_counter() - t) * 1000)
            for d in args.depths:
                t = time.perf_counter()
                reading = read_passages(
                    q["question"], got, reader, replace(cfg, passages_considered=d),
                    replace(ReadConfig.recorded(info, d, 0.0), rank_penalty=penalty),
                    pipe.scored(q["question"], plan, qvec, got, d))
                times[d].append((time.perf_counter() - t) * 1000)
                rows[d].append({"half": half_of(q), **ranked(q, reading.reranked(got))})
    finally:
        svc.close()
    print(f"command: {command_line()}\ncommit {git_commit()}, {now()}; CPU flags: {cpu_flags()}; "
          f"reader {info.kind} {info.layers} layers, context {info.context}, rank penalty "
          f"{penalty}; search p50 "
          + ", ".join(f"{statistics.median(v):.1f} ms for {k} passages"
                      for k, v in search_ms.items() if v) + "\n")
    print("| order | half | answerable | Hit@10 | MRR@10 | read ms p50 | read ms p95 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for d, got_rows in rows.items():
        ts = times.get(d, []) if d != "retrieval" else []
        cost = f"{percentile(ts, 50):.1f} | {percentile(ts, 95):.1f}" if ts else " | "
        for half, _ in HALVES:
            hr = [r for r in got_rows if r["half"] == half]
            n = max(len(hr), 1)
            name = "retrieval (10 searched)" if d == "retrieval" else f"reranked, {d} read"
            print(f"| {name} | {half} | {len(hr)} | {sum(r['hit'] for r in hr) / n:.3f} | "
                  f"{sum(r['rr'] for r in hr) / n:.3f} | {cost} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
