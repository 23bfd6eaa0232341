"""The reader on the full 2023 index: answer quality and cost by depth, and abstention curves.

Every 2023 question (answerable or not) is searched once as of its own date, through the
service's public ``search`` (the passages an answer reads). Then, on those passages:

- **depth curve**: the reader reads the first 1, 2, 3, 5 or 10 passages' sentences; answer hit,
  citation hit and abstention on the answerable questions of each half, and the reader's time
  per question (p50/p95 ms), against today's composer (``NEWSQA_READER__MODE=off``) on the same
  passages;
- **abstention curve** at the configured depth: for thresholds on the reader's calibrated
  probability, the share of answerable questions that abstain (and answer hit) against the
  share of RealTime QA's ``answerable: false`` questions that abstain, per half.

January–June is the half the reader's training years include; July–December is held out.

    .venv/bin/python -m bench.reader_curve [--index bench/.cache/full-2023] [--limit N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.serving_backend import cpu_flags
from bench.slice import CACHE, QUESTIONS, command_line, git_commit, now
from newsqa.eval import (
    answer_hit,
    choice_by_evidence,
    citation_hit,
    first_rank,
    is_answerable,
    load_questions,
    normalize,
)
from newsqa.query.read import ReadConfig, read_passages
from newsqa.reader.runtime import load_reader
from newsqa.records import AnswerRequest, Filters
from newsqa.service import NewsQA
from newsqa.settings import get_settings

DEPTHS = (1, 2, 3, 5, 10)
THRESHOLDS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
HALVES = (("Jan–Jun", ("2023-01", "2023-06")), ("Jul–Dec (held out)", ("2023-07", "2023-12")))


def half_of(q: dict[str, Any]) -> str:
    """Which half of 2023 a question's date falls in."""
    return HALVES[0][0] if str(q["date"])[:7] <= "2023-06" else HALVES[1][0]


def scored(q: dict[str, Any], composed: Any) -> dict[str, Any]:
    """One question's figures for one composed answer."""
    segs = [{"text": s.text} for s in composed.segments]
    return {"half": half_of(q), "abstained": composed.abstained, "evidence": composed.evidence,
            "hit": answer_hit(segs, q["answer"]) if not composed.abstained else False,
            "cite": citation_hit(composed.citations, q.get("gold_urls") or [], q["answer"]),
            "words": sum(len(s.text.split()) for s in composed.segments)}


def rank_figures(q: dict[str, Any], passages: Any) -> dict[str, Any]:
    """Reciprocal rank of the first gold passage and the multiple-choice pick by evidence."""
    gold = set(q.get("gold_urls") or [])
    rank = first_rank(passages[:10], lambda p: p.url in gold)
    pick = choice_by_evidence(passages, q.get("choices") or [])
    return {"rr": 1 / rank if rank else 0.0, "hit": rank is not None,
            "mc": normalize(pick) == normalize(q["answer"]) if pick else False}


def rate(rows: list[dict[str, Any]], key: str) -> float:
    """The share of ``rows`` where ``key`` holds."""
    return sum(bool(r[key]) for r in rows) / max(len(rows), 1)


def words(rows: list[dict[str, Any]]) -> float:
    """Mean words of the answers among ``rows`` that did not abstain."""
    said = [r["words"] for r in rows if not r["abstained"]]
    return statistics.mean(said) if said else 0.0


def main(argv: list[str] | None = None) -> int:
    """Search once, read at every depth, print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=CACHE / "full-2023")
    ap.add_argument("--limit", type=int, default=None, help="first N questions (smoke runs)")
    ap.add_argument("--reader", default=None, help="a reader folder (default: the shipped one)")
    args = ap.parse_args(argv)
    questions = load_questions(QUESTIONS)[: args.limit] if args.limit else load_questions(
        QUESTIONS)
    svc = NewsQA.open(get_settings(index__path=str(args.index), reader__mode="off"), create=False)
    reader = load_reader(args.reader)
    cfg = svc.composition
    pipe = svc.pipeline()
    info = reader.info
    below = reader.info.abstain_below
    per_depth: dict[Any, list[dict[str, Any]]] = {d: [] for d in (*DEPTHS, "off")}
    times: dict[Any, list[float]] = {d: [] for d in per_depth}
    probs: list[tuple[dict[str, Any], float, bool]] = []
    ranking: list[dict[str, Any]] = []
    try:
        for q in questions:
            f = Filters(as_of=q["date"])
            plan, qvec, got = pipe.searched(q["question"], 10, f)
            answerable = is_answerable(q)
            for d in DEPTHS:
                t = time.perf_counter()
                fusion = pipe.scored(q["question"], plan, qvec, got, d)
                reading = read_passages(q["question"], got, reader, replace(
                    cfg, passages_considered=d), ReadConfig.recorded(info, d, 0.0), fusion)
                times[d].append((time.perf_counter() - t) * 1000)
                ans = reading.composed
                if d == 10 and answerable:
                    ranking.append({"half": half_of(q), **{
                        name: rank_figures(q, ps) for name, ps in
                        (("retrieval", got), ("reranked", reading.reranked(got)))}})
                if d == 3:
                    probs.append((q, ans.evidence, answerable and scored(q, ans)["hit"]))
                if answerable:
                    per_depth[d].append(scored(q, ans))
            if answerable:  # today's composer, through the product's own ask
                res = svc.answer(AnswerRequest(q["question"], k=10, filters=f)).to_dict()
                times["off"].append(float(res["timings_ms"]["compose"]))
                per_depth["off"].append({
                    "half": half_of(q), "abstained": res["abstained"],
                    "evidence": res["evidence"],
                    "hit": not res["abstained"] and answer_hit(res["segments"], q["answer"]),
                    "words": sum(len(str(s["text"]).split()) for s in res["segments"]),
                    "cite": citation_hit(res["citations"], q.get("gold_urls") or [],
                                         q["answer"])})
    finally:
        svc.close()
    print(f"command: {command_line()}\ncommit {git_commit()}, {now()}; CPU flags: {cpu_flags()}; "
          f"reader {info.kind} {info.layers} layers, context {info.context}, "
          f"composer weight {info.composer_weight}, evidence weight "
          f"{info.evidence_weight:.3f}; abstain_below {below}; keep share {info.keep_share}\n")
    print("| composer | depth (passages) | half | answerable | answer hit | citation hit | "
          "abstains | words | ms p50 | ms p95 |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for d, rows in per_depth.items():
        ts = sorted(times[d])
        p50, p95 = statistics.median(ts), ts[int(0.95 * (len(ts) - 1))]
        for half, _ in HALVES:
            hr = [r for r in rows if r["half"] == half]
            if d != "off":  # the reader's rows at its own abstention threshold
                hr = [{**r, "abstained": r["evidence"] < below,
                       "hit": r["hit"] and r["evidence"] >= below,
                       "cite": r["cite"] and r["evidence"] >= below} for r in hr]
            print(f"| {'today (reader off)' if d == 'off' else 'reader'} | "
                  f"{3 if d == 'off' else d} | {half} | {len(hr)} | {rate(hr, 'hit'):.3f} | "
                  f"{rate(hr, 'cite'):.3f} | {rate(hr, 'abstained'):.3f} | {words(hr):.0f} | "
                  f"{p50:.1f} | "
                  f"{p95:.1f} |")
    print("\nPassages reordered by the reader (all 10 read), answerable questions\n")
    print("| half | order | Hit@10 | MRR@10 | MC by evidence |")
    print("|---|---|---:|---:|---:|")
    for half, _ in HALVES:
        rows = [r for r in ranking if r["half"] == half]
        for name in ("retrieval", "reranked"):
            n = max(len(rows), 1)
            print(f"| {half} | {name} | {sum(r[name]['hit'] for r in rows) / n:.3f} | "
                  f"{sum(r[name]['rr'] for r in rows) / n:.3f} | "
                  f"{sum(r[name]['mc'] for r in rows) / n:.3f} |")
    print("\nAbstention curve (reader, 3 passages): threshold on the calibrated probability\n")
    print("| half | threshold | answerable abstain | answer hit | unanswerable abstain |")
    print("|---|---:|---:|---:|---:|")
    for half, _ in HALVES:
        got_half = [(q, p, h) for q, p, h in probs if half_of(q) == half]
        answered = [(p, h) for q, p, h in got_half if is_answerable(q)]
        una = [p for q, p, _ in got_half if not is_answerable(q)]
        n = max(len(answered), 1)
        for t in THRESHOLDS:
            print(f"| {half} | {t:.2f} | {sum(p < t for p, _ in answered) / n:.3f} | "
                  f"{sum(h and p >= t for p, h in answered) / n:.3f} | "
                  f"{sum(p < t for p in una) / max(len(una), 1):.3f} (of {len(una)}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
