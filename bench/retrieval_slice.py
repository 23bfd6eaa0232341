"""Retrieval and answer quality on the January–March 2023 slice (2,388 articles).

The slice is the questions whose id starts with 202301, 202302 or 202303 (200 answerable) and
every article gathered for them (their ``result_urls``: 2,388 articles). The slice is ingested
once into a cached index (``bench/.cache/slice-q1``), then every answerable question is asked
once with k=10 and no as-of date. Targets: Hit@10 >= 0.78 and MRR@10 >= 0.56.

    .venv/bin/python -m bench.retrieval_slice [--rebuild] [--index DIR] [--out FILE]

With ``--milvus-from LOCAL`` the index at ``--index`` is a copy of the local slice index
``LOCAL`` whose search backend is Milvus (milvus-lite, a file in the index directory): the
same chunks and vectors, written into the collection when it is first opened.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from bench.slice import (
    CACHE,
    Q1_PREFIXES,
    answerable,
    command_line,
    deep_ranks,
    failure_modes,
    git_commit,
    now,
    open_index,
    print_failure_modes,
    read_archive,
    require_data,
    result_urls,
    run_eval,
    slice_questions,
    write_json,
)
from newsqa.eval import format_summary, markdown_table
from newsqa.index.manifest import read_manifest
from newsqa.service import NewsQA
from newsqa.settings import get_settings

EXPECTED_ARTICLES = 2388
EXPECTED_ANSWERABLE = 200
TARGETS = {"hit@10": 0.78, "mrr@10": 0.56}


def derive(full: Path, dest: Path, urls: set[str]) -> None:
    """``dest`` as a copy of the index ``full`` holding only the articles whose URL is in
    ``urls`` (deleted through the index, so its lexical rows, vectors and log agree)."""
    import shutil
    import sqlite3

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(full, dest, ignore=shutil.ignore_patterns("*.lock"))
    db = sqlite3.connect(dest / "news.sqlite")
    try:
        gone = [r[0] for r in db.execute("SELECT id, url FROM articles") if r[1] not in urls]
    finally:
        db.close()
    svc = NewsQA.open(get_settings(index__path=str(dest)), create=False)
    try:
        with svc.index.writer():
            for aid in gone:
                svc.index.delete(aid)
            svc.index.save_snapshot()
    finally:
        svc.close()
    print(f"derived {dest} from {full}: {len(gone)} articles deleted", file=sys.stderr)


def to_milvus(local: Path, dest: Path) -> None:
    """``dest`` as a copy of the local index ``local`` that searches with Milvus."""
    import json
    import shutil
    import time
    import uuid

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(local, dest, ignore=shutil.ignore_patterns("*.lock", "vectors.*"))
    manifest = read_manifest(dest)
    assert manifest is not None, f"no index at {local}"
    manifest = replace(manifest, backend="milvus",
                       milvus_collection=f"newsqa_{uuid.uuid4().hex[:16]}")
    (dest / "manifest.json").write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=True))
    t0 = time.perf_counter()
    NewsQA.open(get_settings(index__path=str(dest)), create=False).close()  # writes the collection
    print(f"{dest}: Milvus collection written from {local} in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the slice index, evaluate, print the figures; 1 when a target is missed
    and ``--strict`` is given."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=CACHE / "slice-q1", help="cached index dir")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the index from scratch")
    ap.add_argument("--derive-from", type=Path, default=None, metavar="FULL",
                    help="make --index by copying the index FULL and deleting every article "
                         "outside the slice (same chunks and vectors, no embedding)")
    ap.add_argument("--milvus-from", type=Path, default=None, metavar="LOCAL",
                    help="make --index a copy of the local slice index LOCAL that searches "
                         "with Milvus (milvus-lite)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--out", type=Path, default=CACHE / "slice-q1-eval.json",
                    help="per-question rows and summary (JSON)")
    ap.add_argument("--no-analysis", action="store_true",
                    help="skip the failure analysis (a k=50 search per missed question)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    require_data()
    commit, started = git_commit(), now()  # the code that runs is the code at start

    questions = slice_questions(Q1_PREFIXES)
    urls = result_urls(questions)
    records = read_archive(urls)
    todo = answerable(questions)
    print(f"slice: {len(questions)} questions, {len(todo)} answerable, {len(urls)} result URLs, "
          f"{len(records)} articles found in the archive")
    assert len(records) == EXPECTED_ARTICLES, f"expected {EXPECTED_ARTICLES} articles"
    assert len(todo) == EXPECTED_ANSWERABLE, f"expected {EXPECTED_ANSWERABLE} answerable"

    if args.derive_from is not None:
        derive(args.derive_from, args.index, {r["url"] for r in records})
    if args.milvus_from is not None:
        to_milvus(args.milvus_from, args.index)
    svc = open_index(args.index, records, args.rebuild)
    try:
        stats = svc.stats()
        summary, rows = run_eval(svc, todo, k=args.k, as_of=False, desc="slice-q1")
        deep = None if args.no_analysis else deep_ranks(svc, rows, todo, as_of=False)
    finally:
        svc.close()

    write_json(args.out, {"config": {"k": args.k, "as_of_question_date": False,
                                     "index": str(args.index), "commit": commit},
                          "summary": summary, "rows": rows, "deep_ranks": deep})
    print()
    print(f"command: {command_line()}")
    print(f"commit {commit}, {started}; index {args.index}: {stats['articles']} articles, "
          f"{stats['chunks']} chunks, model {stats['manifest']['model']}")
    print()
    print(markdown_table([(f"Jan–Mar slice, k={args.k}, no as-of", summary)]))
    print()
    print(format_summary(summary))
    print()
    missed = []
    for key, target in TARGETS.items():
        ok = summary[key] is not None and summary[key] >= target
        print(f"target {key} >= {target}: {summary[key]:.3f} {'PASS' if ok else 'MISS'}")
        if not ok:
            missed.append(key)
    if deep is not None:
        print()
        print_failure_modes("failure modes", failure_modes(rows, deep), len(rows))
    print(f"rows -> {args.out}")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
