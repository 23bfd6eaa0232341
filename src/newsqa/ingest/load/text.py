"""``.txt`` and ``.md`` articles: optional ``key: value`` header lines (or YAML-style front
matter), a title line, then the text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from newsqa.ingest.load.article import build_article
from newsqa.ingest.load.base import Fields, LoadLimits, Result
from newsqa.ingest.load.reading import read_text
from newsqa.records import NotRead

_HEADER = re.compile(
    r"\s*(title|date|published_at|source|url|author|authors|id)\s*:\s*(.*?)\s*", re.IGNORECASE
)
_FRONT_MATTER_KEY = re.compile(r"\s*([\w-]+)\s*:\s*(.*?)\s*")
NOT_NEWS_NAMES = frozenset({
    "README", "LICENSE", "LICENCE", "COPYING", "CHANGELOG", "CHANGES", "HISTORY",
    "CONTRIBUTING", "CODE_OF_CONDUCT", "SECURITY", "AUTHORS", "NOTICE", "TODO", "INSTALL",
})
"""File names (before the first dot, any case) of a project's documents, never news."""
_DOC_HEADING = re.compile(r"^#{1,6}\s+\S", re.MULTILINE)
_CODE_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)


def parse_text_file(text: str) -> Fields:
    """Split a plain-text article into canonical fields.

    Leading ``key: value`` header lines (keys title, date, published_at, source, url, author,
    authors, id; case-insensitive) run until the first blank or non-header line. A title line may
    also come first, with the headers right below it. YAML-style front matter between ``---``
    lines is read the same way. The title is the ``title:`` header, else the first non-empty
    non-header line (a Markdown ``#`` is dropped), which is removed from the body.
    """
    lines = text.splitlines()
    i = _skip_blank(lines, 0)
    headers: dict[str, str] = {}
    title_line: str | None = None
    if i < len(lines) and lines[i].strip() == "---":
        i = _read_front_matter(lines, i + 1, headers)
    else:
        i = _read_headers(lines, i, headers)
        if not headers and i < len(lines):
            title_line = lines[i]
            i = _read_headers(lines, i + 1, headers)
    body = lines[i:]
    if title_line is not None and "title" in headers:
        body.insert(0, title_line)
    elif title_line is None and "title" not in headers:
        start = _skip_blank(body, 0)
        if start < len(body):
            title_line = body[start]
            body = body[start + 1:]
    title = headers.get("title") or re.sub(r"^\s*#+\s+", "", title_line or "")
    return {
        "title": title,
        "text": "\n".join(body),
        "url": headers.get("url"),
        "source": headers.get("source"),
        "date": headers.get("published_at") or headers.get("date"),
        "authors": headers.get("authors") or headers.get("author"),
        "id": headers.get("id"),
    }


def _skip_blank(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _read_headers(lines: list[str], i: int, headers: dict[str, str]) -> int:
    """Read consecutive header lines from ``i``; return the index after them."""
    while i < len(lines) and (match := _HEADER.fullmatch(lines[i])):
        headers.setdefault(match.group(1).lower(), match.group(2))
        i += 1
    return i


def _read_front_matter(lines: list[str], i: int, headers: dict[str, str]) -> int:
    """Read ``key: value`` lines up to the closing ``---``; return the index after it."""
    while i < len(lines) and lines[i].strip() != "---":
        match = _FRONT_MATTER_KEY.fullmatch(lines[i])
        if match:
            headers.setdefault(match.group(1).lower(), match.group(2).strip("\"'"))
        i += 1
    return i + 1


def not_news(name: str, text: str | None = None) -> str | None:
    """Why a ``.txt``/``.md`` file found in a folder is not a news article, or None.

    The rule: its name before the first dot is a project document's (``NOT_NEWS_NAMES``:
    README, LICENSE, CHANGELOG, ...), or it has no date (no ``date:`` header or front matter)
    and a document's shape: two or more Markdown headings, or a fenced code block."""
    if name.split(".", 1)[0].upper() in NOT_NEWS_NAMES:
        return "a project document (README, LICENSE, ...), not news"
    if text is None or parse_text_file(text)["date"]:
        return None
    if len(_DOC_HEADING.findall(text)) >= 2 or _CODE_FENCE.search(text):
        return "no date, and shaped as a document (headings or code blocks), not news"
    return None


def load_text(path: Path, limits: LoadLimits, news_only: bool = False) -> Iterator[Result]:
    """The article of a ``.txt`` or ``.md`` file (see :func:`parse_text_file`); with
    ``news_only`` a file that is not news (:func:`not_news`) is one :class:`NotRead`."""
    text = read_text(path, limits)
    if news_only and (why := not_news(path.name, text)):
        yield NotRead(str(path), why, kind="not news")
        return
    fields = parse_text_file(text)
    yield from build_article(
        fields, path=str(path), origin=str(path), max_bytes=limits.max_article_bytes
    )
