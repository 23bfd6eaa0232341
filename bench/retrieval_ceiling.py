"""How far retrieval can reach on this archive: gold-article ages and candidate recall by depth.

For each answerable question, asked as of its own date, it reports

* the age of its newest gold article published on or before the question date (0–7 days,
  8–60 days, over 60 days, or none: every gold article was published after the question);
* whether a gold passage holding the answer is among the first N candidates of the dense
  (MiniLM + FAISS) or the lexical (BM25) retriever, for N = 10, 50, 100 and 400: no reranking of
  those candidates can place a passage it never sees, so this bounds what any reranker on top
  of these retrievers can reach;
* with ``--rows`` (an eval ``--out`` file asked as of the question date), the Hit@10 reached.

    .venv/bin/python -m bench.ceiling [--index bench/.cache/full-2023] [--rows RESULTS.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

from tqdm import tqdm

from bench.slice import CACHE, answerable, read_archive, require_data, slice_questions
from newsqa.eval import passage_hit_ranks
from newsqa.records import Filters
from newsqa.service import NewsQA
from newsqa.settings import get_settings
from newsqa.text import query_terms

DEPTHS = (10, 50, 100, 400)
BUCKETS = ("0-7 days", "8-60 days", "over 60 days", "all after the question")


def age_bucket(question_date: str, gold_dates: list[str]) -> str:
    """Bucket of the newest gold article on or before the question date."""
    asked = date.fromisoformat(question_date[:10])
    ages = [(asked - date.fromisoformat(d[:10])).days for d in gold_dates if d]
    ages = [a for a in ages if a >= 0]
    if not ages:
        return BUCKETS[3]
    newest = min(ages)
    return BUCKETS[0] if newest <= 7 else BUCKETS[1] if newest <= 60 else BUCKETS[2]


def main(argv: list[str] | None = None) -> int:
    """Print gold-age buckets, candidate recall at each depth, and Hit@10 per bucket."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=CACHE / "full-2023")
    ap.add_argument("--rows", type=Path, default=None, help="eval --out file (as of date)")
    args = ap.parse_args(argv)
    require_data()
    questions = answerable(slice_questions())
    published = {a["url"]: a.get("published_at") or "" for a in read_archive()}
    svc = NewsQA.open(get_settings(index__path=str(args.index)))
    hits: dict[str, bool] = {}
    if args.rows:
        rows_out = json.loads(args.rows.read_text())["rows"]
        hits = {r["id"]: r["hit_rank"] is not None for r in rows_out}
    depth = max(DEPTHS)
    table: dict[str, Counter[str]] = defaultdict(Counter)
    vectors = svc.embedder.encode([q["question"] for q in questions])
    pairs = zip(questions, vectors, strict=True)
    for q, qvec in tqdm(pairs, total=len(questions), desc="questions", file=sys.stderr):
        bucket = age_bucket(q["date"], [published.get(u, "") for u in q["gold_urls"]])
        f = Filters(as_of=q["date"])
        allowed = svc.index.allowed_chunk_ids(f)
        dense = [c for c, _ in svc.index.vectors.search(qvec, depth, allowed)]
        terms = query_terms(q["question"])
        lexical = [c for c, _ in svc.index.lexical(terms, depth, 0.5, allowed)]
        rows = svc.index.chunks(list(dict.fromkeys(dense + lexical)))
        ranks = [
            r
            for ids in (dense, lexical)
            if (r := passage_hit_ranks([rows[c] for c in ids], q["gold_urls"], q["answer"]))
        ]
        for key in (bucket, "all"):
            table[key]["n"] += 1
            table[key]["hit@10"] += hits.get(q["id"], False)
            for n in DEPTHS:
                table[key][f"@{n}"] += bool(ranks and min(ranks) <= n)
    head = "| newest gold article before the question | n | " + " | ".join(
        f"candidates @{n}" for n in DEPTHS
    )
    print(head + (" | Hit@10 reached |" if hits else " |"))
    print("|---|---:|" + "---:|" * (len(DEPTHS) + bool(hits)))
    for key in (*BUCKETS, "all"):
        c = table[key]
        if not c["n"]:
            continue
        cells = [f"{c[f'@{n}'] / c['n']:.3f}" for n in DEPTHS]
        if hits:
            cells.append(f"{c['hit@10'] / c['n']:.3f}")
        print(f"| {key} | {c['n']} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
