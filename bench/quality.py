"""Retrieval and answer quality on the FULL RealTime QA 2023 archive (7,587 articles).

The archive is ingested once into a cached index (``bench/.cache/full-2023``; embedding takes
a long while on a laptop CPU: run it in the background). Then every answerable question (636)
is asked once without an as-of date and once as of its own date. Derived rows (no extra
questions asked, the same calls filtered by question id): the January–June questions (385, the
half that settings may be tuned on) and the July–December questions (251, held out), and the
January–March questions (200) to compare with the slice benchmark (``bench.retrieval_slice``).

    .venv/bin/python -m bench.quality [--rebuild] [--out-md docs/benchmarks.md] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

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
    run_eval,
    slice_questions,
    write_json,
)
from newsqa.eval import markdown_table, summarize

#: Question id prefixes of the half that settings may be tuned on, and of the held-out half.
TUNE_PREFIXES = tuple(f"2023{m:02d}" for m in range(1, 7))
HELD_OUT_PREFIXES = tuple(f"2023{m:02d}" for m in range(7, 13))
EXPECTED_ARTICLES = 7587
EXPECTED_ANSWERABLE = 636


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the full index, evaluate every configuration, print one table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=CACHE / "full-2023", help="cached index dir")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the index from scratch")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--limit", type=int, default=None,
                    help="only the first N answerable questions (smoke runs)")
    ap.add_argument("--out-dir", type=Path, default=CACHE,
                    help="folder for the per-question rows (quality-*.json)")
    ap.add_argument("--out-md", type=Path, default=None,
                    help="append the table, the commit and the date to this markdown file")
    ap.add_argument("--build-only", action="store_true", help="build the index and stop")
    ap.add_argument("--no-analysis", action="store_true",
                    help="skip the failure analysis (a k=50 search per missed question)")
    args = ap.parse_args(argv)
    require_data()
    commit, started = git_commit(), now()  # the code that runs is the code at start

    questions = slice_questions(None)
    todo = answerable(questions)
    records = read_archive()
    print(f"archive: {len(records)} articles; {len(questions)} questions, {len(todo)} answerable")
    assert len(records) == EXPECTED_ARTICLES, f"expected {EXPECTED_ARTICLES} articles"
    assert len(todo) == EXPECTED_ANSWERABLE, f"expected {EXPECTED_ANSWERABLE} answerable"
    if args.limit:
        todo = todo[: args.limit]

    svc = open_index(args.index, records, args.rebuild)
    results: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    deep: dict[str, dict[str, int | None]] = {}
    try:
        stats = svc.stats()
        if args.build_only:
            print(f"index {args.index}: {stats['articles']} articles, {stats['chunks']} chunks")
            return 0
        for name, as_of in (("no-as-of", False), ("as-of", True)):
            results[name] = run_eval(svc, todo, k=args.k, as_of=as_of, desc=name)
            if not args.no_analysis:
                deep[name] = deep_ranks(svc, results[name][1], todo, as_of=as_of)
    finally:
        svc.close()

    q1 = tuple(Q1_PREFIXES)
    table: list[tuple[str, dict[str, Any]]] = []
    for name, label in (("no-as-of", "no as-of"), ("as-of", "as of question date")):
        summary, rows = results[name]
        table.append((f"all 2023, full index, {label}", summary))
        write_json(args.out_dir / f"quality-{name}.json", {
            "config": {"k": args.k, "as_of_question_date": name == "as-of",
                       "index": str(args.index), "commit": commit},
            "summary": summary, "rows": rows, "deep_ranks": deep.get(name),
        })
    for name, label in (("as-of", "as of question date"), ("no-as-of", "no as-of")):
        for half, prefixes in (("Jan–Jun (tuning)", TUNE_PREFIXES),
                               ("Jul–Dec (held out)", HELD_OUT_PREFIXES)):
            rows = [r for r in results[name][1] if str(r["id"]).startswith(prefixes)]
            table.append((f"{half}, {label}", summarize(rows)))
        rows = [r for r in results[name][1] if str(r["id"]).startswith(q1)]
        table.append((f"Jan–Mar questions, full index, {label}", summarize(rows)))

    n_q1 = sum(1 for q in todo if str(q["id"]).startswith(q1))
    md = markdown_table(table)
    print()
    print(f"command: {command_line()}")
    header = (f"commit {commit}, {started}; index {args.index}: {stats['articles']} "
              f"articles, {stats['chunks']} chunks, model {stats['manifest']['model']}; "
              f"k={args.k}; {len(todo)} answerable questions ({n_q1} of them Jan–Mar)")
    print(header)
    print()
    print(md)
    for name in deep:
        print()
        rows = results[name][1]
        print_failure_modes(f"failure modes, {name}", failure_modes(rows, deep[name]), len(rows))
    print(f"\nrows -> {args.out_dir}/quality-*.json")
    if args.out_md:
        with open(args.out_md, "a", encoding="utf-8") as fh:
            fh.write(f"\n### Quality run — {started}, commit {commit}\n\n")
            fh.write(f"`{command_line()}`\n\n{header}\n\n{md}\n")
        print(f"table appended to {args.out_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
