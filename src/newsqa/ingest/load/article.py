"""The one article builder of every input path (files, feeds, the HTTP JSON body): canonical
fields in, a cleaned ``Article`` (with its warnings) or a ``LoadProblem`` out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from newsqa.ingest.clean import (
    clean_text,
    normalize_date,
    one_line,
    source_from_url,
    split_authors,
    truncate_text,
)
from newsqa.ingest.load.base import Result
from newsqa.records import Article, LoadProblem, LoadWarning

TITLE_WORDS = 12
"""Words of the text used as the title when an article has none."""


def _as_text(value: object) -> str:
    """A field value as a string: lists of strings are joined as paragraphs, others give ''."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "\n\n".join(value)
    return ""


def build_article(
    fields: Mapping[str, Any],
    *,
    path: str,
    origin: str,
    max_bytes: int,
    line: int | None = None,
    item: int | None = None,
) -> list[Result]:
    """Clean the canonical fields (title, text, url, source, date, authors, id) into an Article.

    The one article builder of every input path (files, feeds, the HTTP JSON body). Returns the
    Article preceded by a ``LoadWarning`` for each thing kept despite a fault: a date that is
    present but unreadable (the article is kept undated: "not a date" and year 9999 alike) and
    text cut to ``max_bytes`` UTF-8 bytes (``<= 0``: no limit). An article without text is a
    single LoadProblem instead. A missing title is made from the first words of the text;
    ``item`` numbers the article within its file in reasons.
    """
    prefix = f"item {item}: " if item is not None else ""
    title = one_line(_as_text(fields.get("title")))
    text = clean_text(_as_text(fields.get("text")))
    if not text:
        reason = f"article {title[:60]!r} has no text" if title else "no title and no text"
        return [LoadProblem(path, prefix + reason, line)]
    if not title:
        words = text.split()
        title = " ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else "")
    out: list[Result] = []
    if max_bytes > 0:
        short = truncate_text(text, max_bytes)
        if short != text:
            out.append(LoadWarning(path, prefix + (
                f"text is {len(text.encode('utf-8')):,} bytes, truncated to "
                f"{len(short.encode('utf-8')):,} (max_article_bytes={max_bytes:,})"), line))
            text = short
    raw_date = fields.get("date")
    published = normalize_date(raw_date)
    if published is None and raw_date not in (None, "", []):
        shown = repr(raw_date) if len(repr(raw_date)) <= 60 else repr(raw_date)[:57] + "..."
        out.append(LoadWarning(
            path, f"{prefix}unreadable date {shown}: the article is kept without a date", line
        ))
    url = one_line(_as_text(fields.get("url"))) or None
    out.append(Article(
        title=title,
        text=text,
        url=url,
        source=one_line(_as_text(fields.get("source"))) or source_from_url(url),
        published_at=published,
        authors=split_authors(fields.get("authors")),
        id=one_line(_as_text(fields.get("id"))) or None,
        origin=origin,
    ))
    return out
