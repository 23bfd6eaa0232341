"""Fixtures of the tests: tiny real indexes built with the real model, hand-written articles,
the shared archive's records as articles.

What the benchmarks need too (paths, server starters, synthetic articles, index counts) lives in
:mod:`newsqa.testing` and is imported here, so tests keep importing it from ``tests.support``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from newsqa.records import Article
from newsqa.service import NewsQA
from newsqa.settings import get_settings
from newsqa.testing.indexes import file_states, index_counts
from newsqa.testing.paths import ARCHIVE, QUESTIONS, REPO, SHARED
from newsqa.testing.servers import (
    free_port,
    hash_env,
    newsqa_command,
    running_server,
    stop,
    wait_healthy,
)
from newsqa.testing.synthetic import synthetic_articles, write_jsonl

__all__ = [
    "ARCHIVE", "NEWS", "QUESTIONS", "REPO", "SEED_QUESTION", "SHARED", "archive_articles",
    "article", "as_article", "file_states", "free_port", "hash_env", "index_counts",
    "local_server", "newsqa_command", "open_service", "running_server", "stop",
    "synthetic_articles", "wait_healthy", "write_jsonl",
]

SEED_QUESTION = (
    "What does the Korean government fear about Japan's right of collective self-defense?"
)


@contextmanager
def local_server(
    index: Path, bootstrap: list[str], limit: float = 300.0, env: dict[str, str] | None = None
) -> Iterator[str]:
    """``newsqa serve`` on a free 127.0.0.1 port for the duration of the block (its URL).

    ``bootstrap`` paths are ingested first when the index is empty; the server runs without an
    API key and is stopped (killed if need be) on exit. Its log is shown if it fails to start.
    """
    with running_server(index, bootstrap, limit, env) as (_, url):
        yield url


def open_service(index_dir: Path, **settings: Any) -> NewsQA:
    """A real service (real model, SQLite, FAISS) on a fresh index directory.

    With the hash embedder, answers abstain only under an evidence of 0.05 (unless a test sets
    its own threshold): the evidence model is fitted on the real model's signals, and a hash
    embedder's cosines mean nothing to it, so tests about logic do not ride on its calibration.
    """
    if settings.get("embedding__embedder") == "hash":
        settings.setdefault("composition__abstain_threshold", HASH_ABSTAIN_THRESHOLD)
    return NewsQA.open(get_settings(index__path=str(index_dir), **settings))


#: The abstention threshold of a hash-embedder service (:func:`open_service`).
HASH_ABSTAIN_THRESHOLD = 0.05


def article(title: str, text: str, **kw: Any) -> Article:
    """An Article with an origin, for ingest_records."""
    return Article(title=title, text=text, origin=kw.pop("origin", "test"), **kw)


def archive_articles(limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Articles of the shared RealTime QA archive, in file order."""
    with gzip.open(ARCHIVE, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit:
                return
            yield json.loads(line)


def as_article(d: dict[str, Any]) -> Article:
    """An archive record as an Article."""
    return Article(
        title=d["title"],
        text=d["text"],
        url=d["url"],
        source=d["source"],
        published_at=d["published_at"],
        authors=d.get("authors") or [],
        id=d["id"],
        origin=f"archive:{d['id']}",
    )


# Small hand-written articles with known dates, outlets and facts.
NEWS = [
    article(
        "Bills safety Damar Hamlin collapses during Monday Night Football",
        "Buffalo Bills safety Damar Hamlin collapsed on the field in Cincinnati after a tackle. "
        "Medical staff performed CPR before he was taken to the University of Cincinnati "
        "Medical Center, where he was listed in critical condition.",
        url="https://sports.example.com/2023/01/03/hamlin",
        source="sports.example.com",
        published_at="2023-01-03",
    ),
    article(
        "Central bank raises interest rates by a quarter point",
        "The central bank raised its benchmark interest rate by 0.25 percentage points on "
        "Wednesday, its eighth increase in a year, as inflation cooled to 6.4 percent.",
        url="https://money.example.com/2023/02/01/rates",
        source="money.example.com",
        published_at="2023-02-01",
    ),
    article(
        "Volcano erupts on remote island, forcing evacuations",
        "A volcano on the remote island of Tolva erupted on Friday, sending ash eight kilometres "
        "into the sky. Authorities evacuated 3,000 residents from villages on its slopes.",
        url="https://world.example.com/2023/03/10/volcano",
        source="world.example.com",
        published_at="2023-03-10",
    ),
]
