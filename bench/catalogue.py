"""The catalogue in SQLite against PostgreSQL, side by side in one run on one machine.

Starts a PostgreSQL server of its own (Debian's ``initdb`` + ``pg_ctl``, durable but with
``synchronous_commit=off``, which like SQLite's WAL + ``synchronous=NORMAL`` may lose the last
commits in a power cut but never corrupts), then for each catalogue, with the hash embedder
(no model: the figures are the catalogue's):

- ingests ``--articles`` synthetic articles and reports seconds, articles/s, and bytes per
  article on disk (``news.sqlite`` and its WAL; the schema's tables and indexes in PostgreSQL);
- times ``--queries`` searches and answers (p50/p95 ms) through the service;
- ingests the first ``--archive`` articles of the RealTime QA 2023 archive and compares the
  BM25 top ``--top`` of ``--questions`` questions' words: identical lists, and the overlap.

    .venv/bin/python -m bench.catalogue [--articles 3000] [--archive 5000] [--questions 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from newsqa.records import AnswerRequest, Article
from newsqa.service import NewsQA
from newsqa.settings import get_settings
from newsqa.testing.paths import ARCHIVE, QUESTIONS
from newsqa.testing.servers import postgres_server
from newsqa.testing.synthetic import synthetic_articles
from newsqa.text import query_terms

DURABLE = {"synchronous_commit": "off"}


def _open(index: Path, url: str | None) -> NewsQA:
    return NewsQA.open(get_settings(index__path=str(index), embedding__embedder="hash",
                                     index__catalog_url=url))


def _bytes(svc: NewsQA) -> int:
    """Bytes the catalogue takes: SQLite's files, or the schema's relations."""
    cat: Any = svc.index.catalogue
    if cat.name == "sqlite":
        return sum(p.stat().st_size for p in svc.index.path.glob("news.sqlite*"))
    return int(cat.one(
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
        "ON n.oid=c.relnamespace WHERE n.nspname=%s AND c.relkind IN ('r', 'm')",
        [cat.url.schema],
    ))


def _articles(records: list[dict]) -> list[Article]:
    return [Article(origin="bench", **{k: r[k] for k in (
        "title", "text", "url", "source", "published_at")}) for r in records]


def _pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


def measure(svc: NewsQA, records: list[dict], queries: list[str]) -> dict[str, float]:
    """Ingest ``records`` in batches of 128, then time searches and answers."""
    arts = _articles(records)
    t0 = time.perf_counter()
    for start in range(0, len(arts), 128):
        svc.ingest_records(arts[start:start + 128])
    ingest = time.perf_counter() - t0
    n = svc.stats()["articles"]
    search, ask = [], []
    for q in queries:
        t = time.perf_counter()
        svc.search(q, 8)
        search.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        svc.answer(AnswerRequest(q)).to_dict()
        ask.append((time.perf_counter() - t) * 1000)
    return {
        "articles": n, "ingest_s": round(ingest, 2), "articles_per_s": round(n / ingest, 1),
        "bytes_per_article": round(_bytes(svc) / max(n, 1)),
        "search_p50_ms": round(statistics.median(search), 1),
        "search_p95_ms": round(_pct(search, 0.95), 1),
        "ask_p50_ms": round(statistics.median(ask), 1), "ask_p95_ms": round(_pct(ask, 0.95), 1),
    }


def agreement(a: NewsQA, b: NewsQA, questions: list[str], top: int) -> dict[str, float]:
    """How often the two catalogues' BM25 top ``top`` are the same list, and their overlap."""
    same = 0
    overlap: list[float] = []
    for q in questions:
        terms = query_terms(q)
        x = [i for i, _ in a.index.lexical(terms, top, 0.5)]
        y = [i for i, _ in b.index.lexical(terms, top, 0.5)]
        same += x == y
        overlap.append(len(set(x) & set(y)) / max(len(x), 1))
    return {"questions": len(questions), "identical_top": same,
            "mean_overlap": round(statistics.mean(overlap), 4)}


def main() -> None:
    """Run the comparison and print one JSON object."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=3000)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--archive", type=int, default=5000)
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--top", type=int, default=50)
    args = ap.parse_args()
    import gzip

    questions = [json.loads(line)["question"]
                 for line in QUESTIONS.read_text().splitlines()[:args.questions]]
    with gzip.open(ARCHIVE, "rt", encoding="utf-8") as fh:
        archive = [json.loads(line) for _, line in zip(range(args.archive), fh, strict=False)]
    synthetic = synthetic_articles(args.articles)
    words = [" ".join(r["text"].split()[5:12]) for r in synthetic[:: max(1, args.articles
                                                                         // args.queries)]]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, postgres_server(DURABLE) as pg:
        root = Path(tmp)
        svcs = {}
        for name, url in (("sqlite", None), ("postgres", f"{pg}?schema=bench_synthetic")):
            svc = _open(root / f"{name}-syn", url)
            out[name] = measure(svc, synthetic, words[:args.queries])
            svc.close()
        for name, url in (("sqlite", None), ("postgres", f"{pg}?schema=bench_archive")):
            svcs[name] = _open(root / f"{name}-arc", url)
            t0 = time.perf_counter()
            arts = _articles(archive)
            for start in range(0, len(arts), 128):
                svcs[name].ingest_records(arts[start:start + 128])
            out[name]["archive_ingest_s"] = round(time.perf_counter() - t0, 2)
            out[name]["archive_bytes_per_article"] = round(
                _bytes(svcs[name]) / max(svcs[name].stats()["articles"], 1))
        out["bm25_agreement"] = agreement(svcs["sqlite"], svcs["postgres"], questions, args.top)
        for svc in svcs.values():
            svc.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
