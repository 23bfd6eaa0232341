"""Feed documents into items: RSS 2.0 and Atom (through feedparser, the same entry reading as
``newsqa ingest`` of a .rss/.atom file) and JSON Feed 1.0/1.1.

Each :class:`FeedItem` carries the canonical article fields (see
:func:`newsqa.ingest.load.build_article`), a stable ``key`` (the item's id, else its link) and a
``fingerprint`` of what the feed says about it, so a poll can tell new and changed items from
those already ingested without fetching anything.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

import feedparser

from newsqa.ingest.clean import clean_text, html_to_text, source_from_url
from newsqa.ingest.load import feed_entry_fields, fields_from_record

FULL_TEXT_WORDS = 120
"""An item whose feed text is shorter than this (a teaser) has its article page fetched."""
JSON_FEED_PREFIX = "https://jsonfeed.org/version/"


class FeedError(ValueError):
    """A document that is not a readable RSS, Atom or JSON feed."""


@dataclass
class FeedItem:
    """One feed entry: canonical fields, stable key, fingerprint, whether its text is full."""

    key: str
    fields: dict[str, Any]
    fingerprint: str
    full_text: bool

    @property
    def url(self) -> str | None:
        """The article's link."""
        url = self.fields.get("url")
        return str(url) if url else None


@dataclass
class ParsedFeed:
    """A feed's title and items, in document order (duplicate keys dropped: the first wins)."""

    title: str | None
    items: list[FeedItem] = field(default_factory=list)


def _fingerprint(fields: dict[str, Any], *extra: object) -> str:
    parts = [str(fields.get(k) or "") for k in ("id", "url", "title", "text", "date", "authors")]
    parts += [str(e or "") for e in extra]
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()


def _item(fields: dict[str, Any], updated: object = None) -> FeedItem | None:
    key = str(fields.get("id") or fields.get("url") or "").strip()
    text = clean_text(str(fields.get("text") or ""))
    if not key:
        if not (fields.get("title") or text):
            return None
        key = "sha1:" + _fingerprint(fields)
    full = len(text.split()) >= FULL_TEXT_WORDS or not fields.get("url")
    return FeedItem(key, fields, _fingerprint(fields, updated), full)


def _unique(items: list[FeedItem | None]) -> list[FeedItem]:
    out: dict[str, FeedItem] = {}
    for it in items:
        if it is not None and it.key not in out:
            out[it.key] = it
    return list(out.values())


def parse_feed(data: bytes, content_type: str = "") -> ParsedFeed:
    """The items of an RSS, Atom or JSON Feed document; FeedError when it is none of them."""
    head = data.lstrip()[:1]
    if "json" in content_type.lower() or head in (b"{", b"["):
        return _json_feed(data)
    parsed = feedparser.parse(io.BytesIO(data))
    if not parsed.get("version") and not parsed.entries:
        reason = "not an RSS, Atom or JSON feed"
        if parsed.get("bozo_exception"):
            reason += f" ({parsed.bozo_exception})"
        raise FeedError(reason)
    source = source_from_url(parsed.feed.get("link"))
    # dict.get: feedparser's own get maps a missing "updated" to "published", with a warning
    items = [_item(feed_entry_fields(e, source), dict.get(e, "updated")) for e in parsed.entries]
    return ParsedFeed(parsed.feed.get("title") or None, _unique(items))


def _json_feed(data: bytes) -> ParsedFeed:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FeedError(f"not a JSON feed: invalid JSON ({exc})") from None
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(JSON_FEED_PREFIX):
        raise FeedError(f"not a JSON feed: no \"version\" starting {JSON_FEED_PREFIX}")
    entries = doc.get("items")
    if not isinstance(entries, list):
        raise FeedError("JSON feed has no \"items\" list")
    source = source_from_url(doc.get("home_page_url") if isinstance(doc.get("home_page_url"), str)
                             else None)
    items: list[FeedItem | None] = []
    for entry in entries:
        if isinstance(entry, dict):
            items.append(_item(_json_item_fields(entry, source), entry.get("date_modified")))
    title = doc.get("title")
    return ParsedFeed(title if isinstance(title, str) else None, _unique(items))


def _json_item_fields(entry: dict[str, Any], source: str | None) -> dict[str, Any]:
    """Canonical fields of a JSON Feed item (``content_html`` as text, else ``content_text``,
    else ``summary``; ``authors`` of 1.1 or ``author`` of 1.0)."""
    html = entry.get("content_html")
    text = html_to_text(html) if isinstance(html, str) and html.strip() else ""
    if not text:
        text = next((str(entry[k]) for k in ("content_text", "summary")
                     if isinstance(entry.get(k), str) and entry[k].strip()), "")
    people = entry.get("authors") or ([entry["author"]] if entry.get("author") else [])
    names = [p["name"] for p in people if isinstance(p, dict) and isinstance(p.get("name"), str)]
    fields = fields_from_record({
        "id": entry.get("id") if isinstance(entry.get("id"), str | int) else None,
        "url": entry.get("url") or entry.get("external_url"),
        "title": entry.get("title"),
        "text": text,
        "date": entry.get("date_published") or entry.get("date_modified"),
        "authors": names,
    })
    fields["source"] = source
    return fields
