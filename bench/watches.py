"""Watched questions over the full 2023 archive: which threshold tells a new article that
answers a watch from one that does not, and what 1,000 watches add to an ingest.

``--calibrate`` (January–June questions only, the tuning half; July–December reported beside
it): per answerable question, the cosine between the question and the nearest chunk of each
gold article (what a new gold article would bring) and of 200 other articles drawn at random
(what unrelated news brings); for thresholds 0.30–0.60, the share of gold articles that would
wake the watch and the share of other articles that would.

The cost run: two copies of the cached index; the same 100 articles (half of them gold articles
of July–December questions, half drawn at random) are deleted from both, 1,000 questions are
watched in one, and then the 100 are ingested into each in turn (twice, alternating), timing
each ingest; asking is timed on both copies, questions interleaved. CPU flags are printed.

    .venv/bin/python -m bench.watches --calibrate
    .venv/bin/python -m bench.watches
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.serving_backend import cpu_flags
from bench.slice import CACHE, read_archive, slice_questions, to_article
from newsqa.records import AnswerRequest, Filters
from newsqa.service import NewsQA
from newsqa.settings import get_settings
from newsqa.text import query_terms, stems

HELD_OUT = ("202307", "202308", "202309", "202310", "202311", "202312")


def _half(q: dict[str, Any]) -> str:
    return "jul-dec" if str(q["date"]).replace("-", "").startswith(HELD_OUT) else "jan-jun"


def _open(path: Path, **settings: Any) -> NewsQA:
    return NewsQA.open(get_settings(index__path=str(path), **settings), create=False)


def _chunks_by_url(svc: NewsQA) -> dict[str, list[int]]:
    rows = svc.index.catalogue.read(  # type: ignore[attr-defined]
        "SELECT a.url, c.id FROM chunks c JOIN articles a ON a.id=c.article_id", [])
    out: dict[str, list[int]] = {}
    for url, cid in rows:
        out.setdefault(url, []).append(int(cid))
    return out


def _rare(svc: NewsQA, question: str, n: int) -> frozenset[str]:
    terms = query_terms(question)
    idf = svc.index.term_idf(terms)
    return stems(sorted(terms, key=lambda t: -idf.get(t, 0.0))[:n])


def calibrate(index: Path, seed: int = 7, rare: int = 2) -> dict[str, Any]:
    """Cosines of questions to gold and to other articles' nearest chunks, by half; and the
    same with the lexical gate (the article shares one of the question's ``rare`` rarest
    words)."""
    svc = _open(index)
    rng = random.Random(seed)
    by_url = _chunks_by_url(svc)
    urls = sorted(by_url)
    words: dict[str, frozenset[str]] = {}

    def words_of(url: str) -> frozenset[str]:
        if url not in words:
            rows = svc.index.chunks(by_url[url])
            words[url] = stems(query_terms(" ".join(
                f"{r['title']} {r['text']}" for r in rows.values())))
        return words[url]

    out: dict[str, Any] = {}
    try:
        for half in ("jan-jun", "jul-dec"):
            gold, other = [], []
            qs = [q for q in slice_questions(None) if q.get("answerable") is not False
                  and _half(q) == half and q.get("gold_urls")]
            for q in qs:
                qv = svc.pipeline().embed_query(q["question"])
                key = _rare(svc, q["question"], rare)
                golds = set(q["gold_urls"])
                for url in q["gold_urls"]:
                    if by_url.get(url):
                        gold.append((float((svc.index.vectors_of(by_url[url]) @ qv).max()),
                                     bool(key & words_of(url))))
                for url in rng.sample(urls, 200):
                    if url not in golds:
                        cos = float((svc.index.vectors_of(by_url[url]) @ qv).max())
                        other.append((cos, cos >= 0.3 and bool(key & words_of(url))))
            g, o = np.array(gold), np.array(other)
            table = {}
            for t in np.arange(0.30, 0.61, 0.05):
                table[f"{t:.2f}"] = {
                    "gold_wakes": round(float((g[:, 0] >= t).mean()), 3),
                    "other_wakes": round(float((o[:, 0] >= t).mean()), 4),
                    "gold_wakes_gated": round(float(((g[:, 0] >= t) & (g[:, 1] > 0)).mean()), 3),
                    "other_wakes_gated": round(float(((o[:, 0] >= t) & (o[:, 1] > 0)).mean()), 4),
                }
            out[half] = {"questions": len(qs), "gold_articles": len(g),
                         "other_articles": len(o), "by_threshold": table}
            print(half, json.dumps(out[half]), flush=True)
    finally:
        svc.close()
    return out


def _ingest(svc: NewsQA, records: list[dict[str, Any]]) -> tuple[float, int]:
    started = time.perf_counter()
    report = svc.ingest_records([to_article(d) for d in records])
    return time.perf_counter() - started, report.added


def cost(index: Path, watches: int, articles: int, seed: int = 7) -> dict[str, Any]:
    """Ingest time and ask latency with and without ``watches`` watches."""
    rng = random.Random(seed)
    questions = slice_questions(None)
    late = [q for q in questions if _half(q) == "jul-dec" and q.get("gold_urls")]
    gold_urls = sorted({u for q in late for u in q["gold_urls"]})
    archive = {d["url"]: d for d in read_archive()}
    picked = rng.sample([u for u in gold_urls if u in archive], articles // 2)
    rest = [u for u in archive if u not in set(picked)]
    picked += rng.sample(rest, articles - len(picked))
    records = [archive[u] for u in picked]
    copies = {name: CACHE / f"watch-{name}" for name in ("plain", "watched")}
    for path in copies.values():
        if path.exists():
            shutil.rmtree(path)
        shutil.copytree(index, path)
    svcs = {name: _open(path) for name, path in copies.items()}
    for svc in svcs.values():  # as a server has them: the common words' postings resident
        svc.warm(after_first_answer=0)
    result: dict[str, Any] = {"cpu": cpu_flags(), "watches": watches, "articles": articles}
    try:
        for svc in svcs.values():
            for d in records:
                svc.delete(d["url"])
        asked = [q["question"] for q in rng.sample(questions, watches)]
        started = time.perf_counter()
        for i, q in enumerate(asked):  # 100 owners of 10 watches each
            svcs["watched"].watches.add(q, owner=f"bench:{i % 100}")
        result["watch_add_s"] = round(time.perf_counter() - started, 1)
        rounds = []
        for n in range(2):
            order = ["plain", "watched"] if n == 0 else ["watched", "plain"]
            times: dict[str, float] = {}
            for name in order:
                before = len(svcs[name].watches.notices(limit=100_000))
                times[name], added = _ingest(svcs[name], records)
                assert added == len(records), f"{name}: {added} of {len(records)} added"
                if name == "watched":
                    times["notices"] = len(svcs[name].watches.notices(limit=100_000)) - before
                    times["searched"] = svcs[name].watches.last_check.get("searched", 0)
                    times["asked"] = svcs[name].watches.last_check.get("asked", 0)
                    times["check_s"] = svcs[name].watches.last_check.get("ms", 0) / 1000
            rounds.append({k: round(v, 2) for k, v in times.items()})
            print("round", n + 1, rounds[-1], flush=True)
            if n == 0:
                for svc in svcs.values():
                    for d in records:
                        svc.delete(d["url"])
        result["rounds"] = rounds
        plain = sum(r["plain"] for r in rounds)
        watched = sum(r["watched"] for r in rounds)
        result["overhead"] = round(watched / plain - 1, 3)
        lat: dict[str, list[float]] = {"plain": [], "watched": []}
        for q in rng.sample(questions, 100):
            for name in ("plain", "watched"):
                t = time.perf_counter()
                svcs[name].answer(AnswerRequest(q["question"], filters=Filters()))
                lat[name].append(1000 * (time.perf_counter() - t))
        for name, xs in lat.items():
            xs.sort()
            result[f"ask_{name}_ms"] = {"p50": round(statistics.median(xs), 1),
                                        "p95": round(xs[int(0.95 * len(xs)) - 1], 1)}
    finally:
        for svc in svcs.values():
            svc.close()
        for path in copies.values():
            shutil.rmtree(path, ignore_errors=True)
    print(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> None:
    """Run the calibration or the cost run."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=CACHE / "full-2023")
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--watches", type=int, default=1000)
    ap.add_argument("--articles", type=int, default=100)
    args = ap.parse_args(argv)
    print("cpu:", cpu_flags())
    if args.calibrate:
        calibrate(args.index)
    else:
        cost(args.index, args.watches, args.articles)


if __name__ == "__main__":
    main()
