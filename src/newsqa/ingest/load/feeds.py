"""``.xml`` / ``.rss`` / ``.atom`` files: RSS or Atom feeds read with feedparser, one article
per entry."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import feedparser

from newsqa.ingest.clean import decode_text, html_to_text, normalize_date, source_from_url
from newsqa.ingest.load.article import build_article
from newsqa.ingest.load.base import Fields, LoadLimits, Result
from newsqa.ingest.load.reading import read_bytes
from newsqa.records import LoadProblem

_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _feed_text(detail: Mapping[str, Any] | None) -> str:
    """Plain text of a feedparser text construct (HTML is converted, plain text kept)."""
    if not detail or not detail.get("value"):
        return ""
    value = str(detail["value"])
    return html_to_text(value) if detail.get("type") in _HTML_TYPES else value


def load_feed(path: Path, limits: LoadLimits) -> Iterator[Result]:
    """The articles of an RSS or Atom feed file, one per entry, numbered ``#n`` in origins."""
    name = str(path)
    data = read_bytes(path, limits)
    decode_text(data)  # refuses binary content; feedparser reads the XML's own encoding
    parsed = feedparser.parse(io.BytesIO(data))
    if not parsed.get("version") and not parsed.entries:
        reason = "not an RSS or Atom feed"
        if parsed.get("bozo_exception"):
            reason += f" ({parsed.bozo_exception})"
        yield LoadProblem(name, reason)
        return
    if not parsed.entries:
        yield LoadProblem(name, "feed has no entries")
        return
    feed_source = source_from_url(parsed.feed.get("link"))
    for n, entry in enumerate(parsed.entries, 1):
        yield from build_article(
            feed_entry_fields(entry, feed_source), path=name, origin=f"{name}#{n}", item=n,
            max_bytes=limits.max_article_bytes,
        )


def feed_entry_fields(entry: Mapping[str, Any], feed_source: str | None) -> Fields:
    """Canonical fields of a feedparser entry (RSS item or Atom entry): its full content when
    it has one, else its summary, as plain text; ``feed_source`` is the outlet of the feed."""
    contents = [c for c in entry.get("content", []) if c.get("value")]
    authors = [a for a in entry.get("authors", []) if a.get("name")] or entry.get("author")
    return {
        "title": _feed_text(entry.get("title_detail")) or entry.get("title"),
        "text": _feed_text(contents[0] if contents else entry.get("summary_detail")),
        "url": entry.get("link"),
        "source": feed_source,
        "date": _entry_date(entry) or entry.get("published") or entry.get("updated"),
        "authors": authors,
        "id": entry.get("id"),
    }


def _entry_date(entry: Mapping[str, Any]) -> str | None:
    """Publication (else update) date, preferring the date as written over feedparser's UTC."""
    for key in ("published", "updated"):
        found = normalize_date(entry.get(key)) or normalize_date(entry.get(f"{key}_parsed"))
        if found:
            return found
    return None
