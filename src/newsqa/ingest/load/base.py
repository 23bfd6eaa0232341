"""What every loader shares: the supported suffixes, the limits on one input, the whole-file
problem and the result types.

The bottom of the ``newsqa.ingest.load`` package: it imports nothing else from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsqa.records import Article, LoadProblem

SUPPORTED_SUFFIXES: tuple[str, ...] = (
    ".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".jsonl.gz", ".xml", ".rss", ".atom",
)

Result = Article | LoadProblem
Fields = dict[str, Any]


@dataclass(frozen=True)
class LoadLimits:
    """Bounds on what one input may cost (settings ``NEWSQA_INGEST__MAX_ARTICLE_BYTES`` and so
    on)."""

    max_article_bytes: int = 1_000_000
    """Article text longer than this (UTF-8 bytes) is truncated with a warning; <= 0: no limit."""
    max_file_bytes: int = 1 << 30
    """Bytes read from one file, after decompression; reading stops with a problem past it."""
    max_line_bytes: int = 8 << 20
    """Longest ``.jsonl`` line; a longer one is reported and skipped without being kept."""


Loader = Callable[[Path, LoadLimits], Iterator[Result]]
"""Reads one file of a format: yields its articles, warnings and problems."""


class FileProblem(Exception):
    """A whole file cannot be read; the message is the reason reported."""


def format_of(path: Path) -> str | None:
    """The supported suffix that ``path`` ends with (lower-case), or None."""
    name = path.name.lower()
    if name.endswith(".jsonl.gz"):
        return ".jsonl.gz"
    suffix = path.suffix.lower()
    return suffix if suffix in SUPPORTED_SUFFIXES else None
