"""``.html`` and ``.htm`` article pages: main text and metadata extracted with trafilatura,
with markup nested beyond what the HTML parser can read reported instead of lost silently."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import trafilatura

from newsqa.ingest.clean import clean_text, html_to_text, one_line
from newsqa.ingest.load.article import build_article
from newsqa.ingest.load.base import Fields, FileProblem, LoadLimits, Result
from newsqa.ingest.load.reading import read_text

MAX_HTML_DEPTH = 255
"""Deeper HTML nesting than this is beyond the HTML parser (libxml2 stops at 256 levels)."""

_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def load_html(path: Path, limits: LoadLimits) -> Iterator[Result]:
    """The article of an HTML page file (see :func:`html_fields`)."""
    yield from build_article(
        html_fields(read_text(path, limits)), path=str(path), origin=str(path),
        max_bytes=limits.max_article_bytes,
    )


def html_fields(markup: str) -> Fields:
    """Canonical fields of an HTML article page: its main text and metadata (title, canonical
    URL, site name, date, author) extracted with trafilatura, the ``<title>`` and the whole
    page's text as fallbacks. Raises ``FileProblem`` for markup nested too deeply to read."""
    doc = trafilatura.bare_extraction(markup, with_metadata=True, include_comments=False)
    meta: dict[str, Any] = {}
    if doc is not None:
        meta = doc if isinstance(doc, dict) else doc.as_dict()
    title = one_line(meta.get("title") or "")
    if not title and (tag := _TITLE_TAG.search(markup)):
        title = html_to_text(tag.group(1))
    if doc is None:
        text = html_to_text(markup)
    else:
        paragraphs = [p for p in (meta.get("text") or "").splitlines() if p.strip()]
        if len(paragraphs) > 1 and one_line(paragraphs[0]) == title:
            paragraphs = paragraphs[1:]  # trafilatura repeats the headline as the first line
        text = "\n\n".join(paragraphs)
    if not clean_text(text) and _too_deep(markup):
        raise FileProblem(
            f"HTML nested more than {MAX_HTML_DEPTH} levels deep: its text cannot be read"
        )
    return {
        "title": title,
        "text": text,
        "url": meta.get("url"),
        "source": meta.get("sitename"),
        "date": meta.get("date"),
        "authors": meta.get("author"),
        "id": None,
    }


_TAG_EDGE = re.compile(r"<(/?)([A-Za-z][^\s/<>]*)[^<>]*?(/?)>")  # no "<" inside: linear time
# Void elements, and those whose end tag may be left out: neither is counted as nesting.
_FLAT = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th",
                   "option"))


def _too_deep(markup: str) -> bool:
    """Whether elements in ``markup`` nest deeper than ``MAX_HTML_DEPTH`` (tags counted)."""
    depth = 0
    for m in _TAG_EDGE.finditer(markup):
        if m.group(1):
            depth = max(depth - 1, 0)
        elif not m.group(3) and m.group(2).lower() not in _FLAT:
            depth += 1
            if depth > MAX_HTML_DEPTH:
                return True
    return False
