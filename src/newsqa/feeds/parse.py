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
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import feedparser

from newsqa.ingest.clean import clean_text, html_to_text, source_from_url
from newsqa.ingest.load import feed_entry_fields, fields_from_record

FULL_TEXT_WORDS = 120
"""An item whose feed text is shorter than this (a teaser) has its article page fetched."""
JSON_FEED_PREFIX = "https://jsonfeed.org/version/"
OUTLET_CHARS = 200
_SURROGATE = re.compile("[\ud800-\udfff]")
_CHARREF = re.compile(rb"&#([xX][0-9a-fA-F]{1,8}|[0-9]{1,10});")


class FeedError(ValueError):
    """A document that is not a readable RSS, Atom or JSON feed."""


@dataclass
class FeedItem:
    """One feed entry: canonical fields, stable key, fingerprint, whether its text is full,
    and what was wrong with it (``note``: a link that is not http(s), dropped)."""

    key: str
    fields: dict[str, Any]
    fingerprint: str
    full_text: bool
    note: str | None = None

    @property
    def url(self) -> str | None:
        """The article's link."""
        url = self.fields.get("url")
        return str(url) if url else None


@dataclass
class ParsedFeed:
    """A feed's title and items, in document order (duplicate keys dropped: the first wins),
    and the items that could not be read (left out)."""

    title: str | None
    items: list[FeedItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _fingerprint(fields: dict[str, Any], *extra: object) -> str:
    parts = [str(fields.get(k) or "") for k in ("id", "url", "title", "text", "date", "authors")]
    parts += [str(e or "") for e in extra]
    return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def clean_value(value: Any) -> Any:
    """``value`` with every string in it (in lists and dicts too) safe to encode and store: a
    lone surrogate (``\\ud800``, ``&#xD800;``) becomes U+FFFD and NUL characters are dropped."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value).replace("\x00", "")
    if isinstance(value, list | tuple):
        return [clean_value(v) for v in value]
    if isinstance(value, dict):
        return {clean_value(k): clean_value(v) for k, v in value.items()}
    return value


def web_url(value: Any) -> str | None:
    """``value`` when it is an absolute http(s) URL with a host, else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def outlet(title: Any, link: Any) -> str | None:
    """The outlet a feed's items are credited to: its title, else its site's host."""
    name = " ".join(str(clean_value(title)).split())[:OUTLET_CHARS] if title else ""
    return name or source_from_url(link if isinstance(link, str) else None)


def _item(fields: dict[str, Any], updated: object = None) -> FeedItem | None:
    fields = {k: clean_value(v) for k, v in fields.items()}
    updated = clean_value(updated)
    link, note = fields.get("url"), None
    if link not in (None, "") and web_url(link) is None:
        note = (f"item {str(fields.get('title') or '')[:60]!r}: link {str(link)[:60]!r} is not "
                "an http(s) URL; kept without it")
    fields["url"] = web_url(link)
    key = str(fields.get("id") or fields.get("url") or "").strip()
    text = clean_text(str(fields.get("text") or ""))
    if not key:
        if not (fields.get("title") or text):
            return None
        key = "sha1:" + _fingerprint(fields)
    full = len(text.split()) >= FULL_TEXT_WORDS or not fields.get("url")
    return FeedItem(key, fields, _fingerprint(fields, updated), full, note)


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
    try:
        parsed = feedparser.parse(io.BytesIO(_CHARREF.sub(_charref, data)))
    except Exception as exc:  # noqa: BLE001 - feedparser's loose parser raises on odd input
        raise FeedError(f"not a readable RSS or Atom feed ({type(exc).__name__})") from None
    if not parsed.get("version") and not parsed.entries:
        reason = "not an RSS, Atom or JSON feed"
        if parsed.get("bozo_exception"):
            reason += f" ({parsed.bozo_exception})"
        raise FeedError(reason)
    title = clean_value(parsed.feed.get("title")) or None
    source = outlet(title, parsed.feed.get("link"))
    problems: list[str] = []
    # dict.get: feedparser's own get maps a missing "updated" to "published", with a warning
    items = _each(parsed.entries, lambda e: _item(
        feed_entry_fields(e, source), dict.get(e, "updated")), problems)
    return ParsedFeed(title, _unique(items), problems)


def _charref(m: re.Match[bytes]) -> bytes:
    """A numeric character reference, or U+FFFD's where it names no character (a surrogate,
    NUL, past U+10FFFF), which feedparser cannot encode."""
    ref = m.group(1)
    code = int(ref[1:], 16) if ref[:1] in b"xX" else int(ref)
    return m.group() if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else b"&#xFFFD;"


def _each(entries: Iterable[Any], read: Callable[[Any], FeedItem | None],
          problems: list[str]) -> list[FeedItem | None]:
    """``read`` of each entry; one that raises is left out and reported, the others kept."""
    out: list[FeedItem | None] = []
    for n, entry in enumerate(entries, 1):
        try:
            out.append(read(entry))
        except Exception as exc:  # noqa: BLE001 - one hostile item must not sink its feed
            problems.append(f"item {n} left out: cannot be read ({type(exc).__name__})")
    return out


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
    title = clean_value(doc["title"]) if isinstance(doc.get("title"), str) else None
    source = outlet(title, doc.get("home_page_url"))
    problems: list[str] = []
    items = _each((e for e in entries if isinstance(e, dict)), lambda e: _item(
        _json_item_fields(e, source), e.get("date_modified")), problems)
    return ParsedFeed(title or None, _unique(items), problems)


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
        "url": next((u for u in (entry.get("url"), entry.get("external_url"))
                     if isinstance(u, str) and u.strip()), None),
        "title": entry.get("title") if isinstance(entry.get("title"), str) else None,
        "text": text,
        "date": next((d for d in (entry.get("date_published"), entry.get("date_modified"))
                      if isinstance(d, str) and d.strip()), None),
        "authors": names,
    })
    fields["source"] = source
    return fields
