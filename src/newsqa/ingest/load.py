"""Read news articles from files and folders in several formats.

``iter_articles`` walks the given paths and yields an ``Article`` for each readable article and a
``LoadProblem`` for each file or line that cannot be read; it never raises for bad input.

Formats, chosen by suffix (case-insensitive):

* ``.txt`` / ``.md``: optional ``key: value`` header lines, then the text (see ``parse_text_file``);
* ``.html`` / ``.htm``: main text and metadata extracted with trafilatura;
* ``.json``: an object, a list of objects, or an object with an articles/items/data list;
* ``.jsonl`` / ``.jsonl.gz``: one object per line, streamed;
* ``.xml`` / ``.rss`` / ``.atom``: RSS or Atom feeds, one article per entry.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import feedparser
import trafilatura

from newsqa.ingest.clean import (
    clean_text,
    decode_bytes,
    html_to_text,
    normalize_date,
    one_line,
    source_from_url,
    split_authors,
    truncate_text,
)
from newsqa.models import Article, LoadProblem

log = logging.getLogger("newsqa.ingest")

SUPPORTED_SUFFIXES: tuple[str, ...] = (
    ".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".jsonl.gz", ".xml", ".rss", ".atom",
)
MAX_FILE_BYTES = 256 * 1024 * 1024
"""Whole-file formats (all but ``.jsonl``/``.jsonl.gz``) larger than this are refused."""

TITLE_WORDS = 12
"""Words of the text used as the title when an article has none."""

Result = Article | LoadProblem
Fields = dict[str, Any]


class _FileProblem(Exception):
    """A whole file cannot be read; the message is the reason reported."""


def iter_articles(paths: Sequence[str | Path], max_bytes: int = 1_000_000) -> Iterator[Result]:
    """Walk files and folders and yield one Article per readable article, or one LoadProblem.

    Folders are walked recursively in sorted order, skipping hidden files and folders and files
    whose suffix is not in ``SUPPORTED_SUFFIXES``; a file named explicitly with an unsupported
    suffix, or a path that does not exist, yields a LoadProblem. Article text longer than
    ``max_bytes`` UTF-8 bytes is truncated (a warning names the origin); ``max_bytes <= 0``
    disables the limit. Never raises for bad input.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in _walk(path, {path.resolve()}):
                if isinstance(found, LoadProblem):
                    yield found
                else:
                    yield from _load_file(found, max_bytes)
        elif not path.exists():
            yield LoadProblem(str(path), "no such file or directory")
        elif _format_of(path) is None:
            supported = ", ".join(SUPPORTED_SUFFIXES)
            yield LoadProblem(str(path), f"unsupported file type (supported: {supported})")
        else:
            yield from _load_file(path, max_bytes)


def _format_of(path: Path) -> str | None:
    """The supported suffix that ``path`` ends with (lower-case), or None."""
    name = path.name.lower()
    if name.endswith(".jsonl.gz"):
        return ".jsonl.gz"
    suffix = path.suffix.lower()
    return suffix if suffix in SUPPORTED_SUFFIXES else None


def _walk(folder: Path, seen: set[Path]) -> Iterator[Path | LoadProblem]:
    """Supported files under ``folder``, sorted by name, skipping hidden entries and link loops."""
    try:
        entries = sorted(folder.iterdir(), key=lambda entry: entry.name)
    except OSError as exc:
        yield LoadProblem(str(folder), f"cannot list folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            real = entry.resolve()
            if real not in seen:
                seen.add(real)
                yield from _walk(entry, seen)
        elif entry.is_file() and _format_of(entry) is not None:
            yield entry


def _load_file(path: Path, max_bytes: int) -> Iterator[Result]:
    """Dispatch on the suffix; turn any failure into a LoadProblem for the file."""
    loader = _LOADERS[_format_of(path) or ""]
    try:
        yield from loader(path, max_bytes)
    except _FileProblem as exc:
        yield LoadProblem(str(path), str(exc))
    except OSError as exc:
        yield LoadProblem(str(path), f"cannot read file: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - bad input must never stop the walk
        log.debug("unexpected error reading %s", path, exc_info=True)
        yield LoadProblem(str(path), f"cannot read file: {type(exc).__name__}: {exc}")


def _read_bytes(path: Path) -> bytes:
    """The whole file, refusing files above ``MAX_FILE_BYTES``."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise _FileProblem(
            f"file is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit for this format "
            "(split it, or use .jsonl/.jsonl.gz, which are streamed)"
        )
    return path.read_bytes()


# --- building articles -----------------------------------------------------------------------


def _as_text(value: object) -> str:
    """A field value as a string: lists of strings are joined as paragraphs, others give ''."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "\n\n".join(value)
    return ""


def _build(
    fields: Mapping[str, Any],
    *,
    path: str,
    origin: str,
    max_bytes: int,
    line: int | None = None,
    item: int | None = None,
) -> Result:
    """Clean the canonical fields (title, text, url, source, date, authors, id) into an Article.

    An article without text is a LoadProblem (``item`` numbers it within its file); a missing
    title is made from the first words of the text.
    """
    title = one_line(_as_text(fields.get("title")))
    text = clean_text(_as_text(fields.get("text")))
    if not text:
        reason = f"article {title[:60]!r} has no text" if title else "no title and no text"
        if item is not None:
            reason = f"item {item}: {reason}"
        return LoadProblem(path, reason, line)
    if not title:
        words = text.split()
        title = " ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else "")
    if max_bytes > 0:
        short = truncate_text(text, max_bytes)
        if short != text:
            log.warning(
                "%s: text is %d bytes, truncated to %d (max_bytes=%d)",
                origin, len(text.encode("utf-8")), len(short.encode("utf-8")), max_bytes,
            )
            text = short
    url = one_line(_as_text(fields.get("url"))) or None
    return Article(
        title=title,
        text=text,
        url=url,
        source=one_line(_as_text(fields.get("source"))) or source_from_url(url),
        published_at=normalize_date(fields.get("date")),
        authors=split_authors(fields.get("authors")),
        id=one_line(_as_text(fields.get("id"))) or None,
        origin=origin,
    )


# --- .txt / .md --------------------------------------------------------------------------------

_HEADER = re.compile(
    r"\s*(title|date|published_at|source|url|author|authors|id)\s*:\s*(.*?)\s*", re.IGNORECASE
)
_FRONT_MATTER_KEY = re.compile(r"\s*([\w-]+)\s*:\s*(.*?)\s*")


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


def _load_text(path: Path, max_bytes: int) -> Iterator[Result]:
    fields = parse_text_file(decode_bytes(_read_bytes(path)))
    yield _build(fields, path=str(path), origin=str(path), max_bytes=max_bytes)


# --- .html / .htm ------------------------------------------------------------------------------

_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _load_html(path: Path, max_bytes: int) -> Iterator[Result]:
    markup = decode_bytes(_read_bytes(path))
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
    fields = {
        "title": title,
        "text": text,
        "url": meta.get("url"),
        "source": meta.get("sitename"),
        "date": meta.get("date"),
        "authors": meta.get("author"),
        "id": None,
    }
    yield _build(fields, path=str(path), origin=str(path), max_bytes=max_bytes)


# --- .json / .jsonl / .jsonl.gz ----------------------------------------------------------------

_RECORD_KEYS = {
    "id": ("id",),
    "url": ("url", "link"),
    "title": ("title", "headline"),
    "text": ("text", "content", "body"),
    "date": ("published_at", "publish_date", "date", "published"),
    "source": ("source", "outlet"),
    "authors": ("authors", "author"),
}
_LIST_KEYS = ("articles", "items", "data")


def fields_from_record(record: Mapping[str, Any]) -> Fields:
    """Canonical fields from a JSON object, taking the first non-empty of each field's aliases."""
    fields: Fields = {}
    for name, keys in _RECORD_KEYS.items():
        fields[name] = next((record[k] for k in keys if record.get(k) not in (None, "", [])), None)
    return fields


def _load_json(path: Path, max_bytes: int) -> Iterator[Result]:
    name = str(path)
    try:
        doc = json.loads(decode_bytes(_read_bytes(path)))
    except json.JSONDecodeError as exc:
        yield LoadProblem(name, f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno)
        return
    if isinstance(doc, dict):
        listed = next((doc[k] for k in _LIST_KEYS if isinstance(doc.get(k), list)), None)
        if listed is None:
            yield _build(fields_from_record(doc), path=name, origin=name, max_bytes=max_bytes)
            return
        doc = listed
    if not isinstance(doc, list):
        yield LoadProblem(name, "expected a JSON object or a list of objects")
        return
    if not doc:
        yield LoadProblem(name, "no articles in file (empty list)")
    for n, record in enumerate(doc, 1):
        if not isinstance(record, dict):
            yield LoadProblem(name, f"item {n}: not a JSON object")
            continue
        yield _build(fields_from_record(record), path=name, origin=f"{name}#{n}", item=n,
                     max_bytes=max_bytes)


def _load_jsonl(path: Path, max_bytes: int) -> Iterator[Result]:
    name = str(path)
    gzipped = _format_of(path) == ".jsonl.gz"
    n = found = 0
    with gzip.open(path, "rb") if gzipped else path.open("rb") as stream:
        try:
            for n, raw in enumerate(stream, 1):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(decode_bytes(raw))
                except json.JSONDecodeError as exc:
                    yield LoadProblem(name, f"invalid JSON: {exc.msg} (column {exc.colno})", n)
                    continue
                if not isinstance(record, dict):
                    yield LoadProblem(name, "not a JSON object", n)
                    continue
                found += 1
                yield _build(fields_from_record(record), path=name, origin=f"{name}:{n}", line=n,
                             max_bytes=max_bytes)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            yield LoadProblem(name, f"corrupt or truncated gzip stream after line {n}: {exc}")
            return
    if not found:
        yield LoadProblem(name, "no articles in file")


# --- RSS / Atom --------------------------------------------------------------------------------

_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _feed_text(detail: Mapping[str, Any] | None) -> str:
    """Plain text of a feedparser text construct (HTML is converted, plain text kept)."""
    if not detail or not detail.get("value"):
        return ""
    value = str(detail["value"])
    return html_to_text(value) if detail.get("type") in _HTML_TYPES else value


def _load_feed(path: Path, max_bytes: int) -> Iterator[Result]:
    name = str(path)
    parsed = feedparser.parse(io.BytesIO(_read_bytes(path)))
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
        contents = [c for c in entry.get("content", []) if c.get("value")]
        authors = [a for a in entry.get("authors", []) if a.get("name")] or entry.get("author")
        fields = {
            "title": _feed_text(entry.get("title_detail")) or entry.get("title"),
            "text": _feed_text(contents[0] if contents else entry.get("summary_detail")),
            "url": entry.get("link"),
            "source": feed_source,
            "date": _entry_date(entry),
            "authors": authors,
            "id": entry.get("id"),
        }
        yield _build(fields, path=name, origin=f"{name}#{n}", item=n, max_bytes=max_bytes)


def _entry_date(entry: Mapping[str, Any]) -> str | None:
    """Publication (else update) date, preferring the date as written over feedparser's UTC."""
    for key in ("published", "updated"):
        found = normalize_date(entry.get(key)) or normalize_date(entry.get(f"{key}_parsed"))
        if found:
            return found
    return None


_LOADERS: dict[str, Callable[[Path, int], Iterator[Result]]] = {
    ".txt": _load_text,
    ".md": _load_text,
    ".html": _load_html,
    ".htm": _load_html,
    ".json": _load_json,
    ".jsonl": _load_jsonl,
    ".jsonl.gz": _load_jsonl,
    ".xml": _load_feed,
    ".rss": _load_feed,
    ".atom": _load_feed,
}
