"""``newsqa ingest`` and ``newsqa sentences``: their options, ``ingest``'s summary and its one
line when interrupted, and the removal of an index directory that a first ingest created and
wrote nothing to."""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from newsqa.cli.exits import EXIT_INTERRUPTED, EXIT_SKIPPED
from newsqa.cli.output import print_problems, progress_bar


def add_ingest(sub: Any, common: argparse.ArgumentParser) -> None:
    """``ingest``."""
    p = sub.add_parser(
        "ingest",
        parents=[common],
        help="add articles from files and folders to the index",
        description="Read .txt/.md (optional key: value header), .html, .json, .jsonl, "
        ".jsonl.gz and RSS/Atom (.xml/.rss/.atom) files, recursively for folders. Unreadable "
        "files or lines are reported and skipped; the exit status is 3 when any were skipped. "
        "In a folder, files of other types, hidden files and folders, and .txt/.md files that "
        "are not news are passed over and counted by kind on one line (-v lists them; the exit "
        "status is not changed): not news is a project document by name (README, LICENSE, "
        "CHANGELOG, ...) or a file without a date that has two or more Markdown headings or a "
        "code block. A file named explicitly is always read. Articles are saved every few "
        "seconds (NEWSQA_INGEST__COMMIT_SECONDS): after Ctrl-C (exit status 130) the same "
        "command goes on, skipping what was saved.",
    )
    p.add_argument("paths", nargs="+", help="files or folders")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--include-all", action="store_true",
                   help="also index a folder's .txt/.md files that are not news (README, ...)")
    p.add_argument(
        "--ray", metavar="auto|ADDRESS", default=None,
        help="embed with Ray Data: auto (the Ray cluster on this machine, or a local one) or a "
        "cluster address (ray://host:10001); needs pip install 'newsqa[scale]'",
    )
    p.add_argument("--ray-workers", type=int, default=None, metavar="N",
                   help="embedding worker actors (default: the cluster's CPUs)")


def add_sentences(sub: Any, common: argparse.ArgumentParser) -> None:
    """``sentences``."""
    p = sub.add_parser(
        "sentences", parents=[common],
        help="store sentence vectors for the chunks of an index made without them",
        description="Answers compare every sentence of their passages with the question using "
        "vectors stored at ingest. An index made before them (or with "
        "NEWSQA_EMBEDDING__SENTENCE_VECTORS=false) answers by embedding a shortlist per "
        "question; this "
        "adds the vectors, newest chunks first (about 35 minutes for a year of news, 94,290 "
        "chunks, on 2 cores). It can be stopped and run again: it goes on where it stopped.",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_sentences(args: argparse.Namespace, service: Any) -> int:
    """Store the missing sentence vectors, with a progress bar unless ``--no-progress``."""
    from newsqa.ingest.pipeline import IngestProgress

    bar = progress_bar(not args.no_progress, desc="sentence vectors")
    total = 0

    def tick(done: int, missing: int) -> None:
        nonlocal total
        total = missing
        bar(IngestProgress("embed", 0, done, missing))

    n = service.add_sentence_vectors(tick)
    bar(IngestProgress("done", 0, n, max(total, n)))
    print(f"sentence vectors stored for {n} chunks -> {service.index.path}")
    return 0


def run_ingest(args: Any, service: Any) -> int:
    """``newsqa ingest``: ingest ``args.paths``, print the problems and a summary; 3 when any
    input was skipped. Ctrl-C prints one line (what was saved, what to run to go on) and
    returns 130."""
    from newsqa.ingest.pipeline import IngestInterrupted

    try:
        report = service.ingest(
            args.paths, progress_bar(not args.no_progress and not args.json),
            ray=args.ray, ray_workers=args.ray_workers, include_all=args.include_all,
        )
    except KeyboardInterrupt as stop:  # before the first article too (loading the model)
        done = stop.report if isinstance(stop, IngestInterrupted) else None
        print_interrupted(done.saved if done else 0, done.unchanged if done else 0,
                          service.index.path, getattr(args, "argv", None))
        return EXIT_INTERRUPTED
    d = report.to_dict()
    if args.json:
        d.pop("items")
        d["not_read"] = report.not_read
        print(json.dumps(d, indent=2))
    else:
        print_problems(d)
        print_not_read(report.not_read, report.not_read_listed, args.verbose)
        warned = f", {d['warnings']} with warnings" if d["warnings"] else ""
        print(
            f"{d['added']} added, {d['updated']} updated, {d['unchanged']} unchanged, "
            f"{d['skipped']} skipped{warned}; {d['chunks']} chunks in {d['seconds']:.1f}s "
            f"-> {service.index.path}"
        )
    return EXIT_SKIPPED if report.skipped else 0


def print_not_read(counts: dict[str, int], listed: list[Any], verbose: bool) -> None:
    """What the walk of a folder passed over, on stderr: one line counting each kind and, with
    ``verbose``, one line per file or folder."""
    if not counts:
        return
    if verbose:
        for item in listed:
            print(f"not read {item.path}: {item.reason}", file=sys.stderr)
    kinds = ", ".join(f"{n:,} {_kind(k, n)}" for k, n in sorted(counts.items(),
                                                                key=lambda kv: -kv[1]))
    hints = [] if verbose else ["-v lists them"]
    if "not news" in counts:
        hints.append("--include-all indexes the text files that are not news")
    hint = f" ({'; '.join(hints)})" if hints else ""
    print(f"not read in folders: {kinds}{hint}", file=sys.stderr)


def _kind(kind: str, n: int) -> str:
    if kind.startswith("."):
        return f"{kind} file" + ("s" if n != 1 else "")
    if kind == "no extension":
        return "file" + ("s" if n != 1 else "") + " without an extension"
    if kind == "not news":
        return "text file" + ("s" if n != 1 else "") + " not news"
    return kind + ("s" if n != 1 else "")


def print_interrupted(saved: int, unchanged: int, index: Path, argv: list[str] | None) -> None:
    """The one line an interrupted ingest prints on stderr: what it saved, what to run next."""
    again = "newsqa " + shlex.join(argv) if argv else "the same newsqa ingest command"
    kept = f" ({unchanged:,} were already there)" if unchanged else ""
    print(f"\ninterrupted: {saved:,} articles saved to {index} in this run{kept}; run "
          f"`{again}` again to go on (articles already saved are skipped)", file=sys.stderr)


def discard_if_empty(service: Any, path: Path) -> bool:
    """Remove the index directory ``path`` that this run created when nothing was written to
    it (a failed or interrupted first ingest); the service is closed first. True if removed."""
    try:
        empty = service.settings.index.catalog_url is None and service.stats()["articles"] == 0
    except Exception:  # noqa: BLE001 - whatever broke the run, an unreadable index is kept
        empty = False
    service.close()
    if empty:
        shutil.rmtree(path, ignore_errors=True)
    return empty
