"""``newsqa stats`` and ``newsqa delete``: what the index holds, and removing an article."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from newsqa.cli.exits import EXIT_NOT_FOUND


def add_stats(sub: Any, common: argparse.ArgumentParser) -> None:
    """``stats``."""
    p = sub.add_parser("stats", parents=[common], help="what the index holds")
    p.add_argument("--json", action="store_true")


def add_delete(sub: Any, common: argparse.ArgumentParser) -> None:
    """``delete``."""
    p = sub.add_parser("delete", parents=[common], help="remove an article by id or URL")
    p.add_argument("article", metavar="ARTICLE_ID_OR_URL")


def run_stats(args: argparse.Namespace, service: Any) -> int:
    """Print the index's counts and model."""
    st = service.stats()
    if args.json:
        print(json.dumps(st, indent=2))
    else:
        for key in ("index", "articles", "stories", "chunks", "sources", "earliest", "latest"):
            print(f"{key:>9}: {st[key]}")
        print(f"{'model':>9}: {st['manifest']['model']}")
    return 0


def run_delete(args: argparse.Namespace, service: Any) -> int:
    """Delete one article; 1 when there is no such article."""
    if service.delete(args.article):
        print(f"deleted {args.article}")
        return 0
    print(f"error: no article {args.article!r}", file=sys.stderr)
    return EXIT_NOT_FOUND
