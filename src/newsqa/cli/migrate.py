"""``newsqa migrate --to URL``: copy this SQLite index into a PostgreSQL catalogue."""

from __future__ import annotations

import argparse
import json
from typing import Any

from newsqa.cli.exits import INDEX_ERRORS, index_problem


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``migrate``."""
    p = sub.add_parser(
        "migrate", parents=[common], help="copy this SQLite index into a PostgreSQL catalogue",
        description="Copy the index (articles, chunks, vectors) into the catalogue at --to and "
        "the search backend configured; verifies the counts; running it again is harmless.",
    )
    p.add_argument("--to", required=True, metavar="URL", help="postgresql://...?schema=NAME")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: Any, settings: Any) -> int:
    """``newsqa migrate --to URL``: copy the SQLite index of ``settings`` into the PostgreSQL
    catalogue at ``args.to`` and print what was copied; the exit status (2: no such index or
    a mismatch, 4: the target is busy, 7: its server cannot be reached)."""
    from newsqa.index.migrate import migrate

    try:
        report = migrate(settings.index.path, args.to, settings.milvus.uri,
                         settings.milvus.token)
    except INDEX_ERRORS as exc:
        return index_problem(exc)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        src, dst = report["source"], report["target"]
        print(f"copied {report['copied']} articles, {report['skipped']} already there; "
              f"source {src['articles']} articles / {src['chunks']} chunks, target "
              f"{dst['articles']} / {dst['chunks']}")
    return 0
