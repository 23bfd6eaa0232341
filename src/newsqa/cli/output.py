"""What the command line prints: answers, passages, ingest problems and progress, and the
message for an index directory it may not write."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any


def unwritable(index: Path, exc: OSError) -> str:
    """The message for an index directory this process may not create or write: what failed,
    who owns the nearest existing directory and who this process runs as (a container's volume
    mounted from a directory its user cannot write is the usual cause)."""
    where = index.absolute()
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        st = where.stat()
        owner = f"owned by uid {st.st_uid}, mode {st.st_mode & 0o777:o}"
    except OSError:
        owner = "not readable"
    me = f"uid {os.getuid()}" if hasattr(os, "getuid") else "this user"
    reason = "read-only file system" if exc.errno == errno.EROFS else "permission denied"
    return (
        f"cannot write the index at {index} ({reason}: {exc.filename or where}); {where} is "
        f"{owner} and newsqa runs as {me}. Give that user a writable directory (NEWSQA_INDEX__PATH "
        "or --index), or in a container mount a named volume at /data "
        "(-v newsqa-data:/data) or a directory that user owns"
    )


def _where(item: dict[str, Any]) -> str:
    return f"{item['source'] or 'unknown outlet'}, {item['published_at'] or 'undated'}"


def print_answer(res: dict[str, Any]) -> None:
    """An answer as text: the answer, a note, the claim counts, then its sources (or, when it
    abstains, the closest articles)."""
    print(res["answer"])
    print()
    if res.get("note"):
        print(f"Note: {res['note']}\n")
    claims = res.get("claims")
    if claims and res.get("mode") == "generate":
        print(f"Claims: {claims['checked']} checked, {claims['kept']} supported, "
              f"{claims['flagged']} flagged, {claims['dropped']} dropped\n")
    if res["abstained"]:
        print("Closest articles:")
        seen: set[str] = set()
        for p in res["passages"]:
            if p["article_id"] in seen or len(seen) == 5:
                continue
            seen.add(p["article_id"])
            print(f"  - {p['title']} ({_where(p)})")
            if p["url"]:
                print(f"    {p['url']}")
        return
    print("Sources:")
    for c in res["citations"]:
        print(f"  [{c['n']}] {c['title']} — {_where(c)}")
        if c["url"]:
            print(f"      {c['url']}")
        print(f"      “{c['quote']}”")


def print_passages(passages: list[dict[str, Any]]) -> None:
    """Search results as text, in rank order, each passage cut at 400 characters."""
    for i, p in enumerate(passages, 1):
        print(f"{i}. {p['title']} — {_where(p)} (score {p['score']:.4f})")
        if p["url"]:
            print(f"   {p['url']}")
        text = p["text"] if len(p["text"]) < 400 else p["text"][:400] + " …"
        print(f"   {text}")


def progress_bar(enabled: bool = True, desc: str = "embedding"):  # type: ignore[no-untyped-def]
    """Ingest progress on stderr: a redrawn bar (with ETA) on a terminal, else one line per
    ``NEWSQA_LOG__PROGRESS_INTERVAL`` seconds and one at the end (see :mod:`newsqa.progress`)."""
    from newsqa.progress import ingest_progress

    return ingest_progress(enabled, desc)


def print_problems(report: dict[str, Any]) -> None:
    """The listed problems of an ingest report on stderr, once each, then per file the count of
    those not listed ("… and 199,980 more problems in news.jsonl")."""
    for p in report["problems"]:
        where = f"{p['path']}:{p['line']}" if p["line"] is not None else p["path"]
        label = "warning" if p.get("kind") == "warning" else "skipped"
        print(f"{label} {where}: {p['reason']}", file=sys.stderr)
    for o in report["omitted"]:
        where = o["path"] if o["path"] is not None else "other files"
        noun = "problem" if o["count"] == 1 else "problems"
        print(f"… and {o['count']:,} more {noun} in {where}", file=sys.stderr)
