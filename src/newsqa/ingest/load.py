"""Read news articles from files and folders in several formats.

``iter_articles`` walks the given paths and yields an ``Article`` for each readable article and a
``LoadProblem`` for each file or line that cannot be read; it never raises for bad input.

Formats, chosen by suffix (case-insensitive):

* ``.txt`` / ``.md``: optional ``key: value`` header lines, then the text (see ``parse_text_file``);
* ``.html`` / ``.htm``: main text and metadata extracted with trafilatura;
* ``.json``: an object, a list of objects, or an object with an articles/items/data list;
* ``.jsonl`` / ``.jsonl.gz``: one object per line, streamed;
* ``.xml`` / ``.rss`` / ``.atom``: RSS or Atom feeds, one article per entry.

Hostile input is bounded (:class:`LoadLimits`): binary content is reported as "binary file", a
file stops being read past ``max_file_bytes`` (counted after decompression, while streaming) and a
line over ``max_line_bytes`` is reported without being held in memory. Something wrong that does
not cost the article (an unreadable date, text cut to ``max_article_bytes``) is a ``LoadWarning``
yielded before the article.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import feedparser
import trafilatura

from newsqa.ingest.clean import (
    BinaryContentError,
    binary_reason,
    clean_text,
    decode_bytes,
    decode_text,
    html_to_text,
    normalize_date,
    one_line,
    source_from_url,
    split_authors,
    truncate_text,
)
from newsqa.models import Article, LoadProblem, LoadWarning

log = logging.getLogger("newsqa.ingest")

SUPPORTED_SUFFIXES: tuple[str, ...] = (
    ".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".jsonl.gz", ".xml", ".rss", ".atom",
)
MAX_WHOLE_FILE_BYTES = 256 * 1024 * 1024
"""Whole-file formats (all but ``.jsonl``/``.jsonl.gz``) larger than this are refused."""
MAX_HTML_DEPTH = 255
"""Deeper HTML nesting than this is beyond the HTML parser (libxml2 stops at 256 levels)."""

TITLE_WORDS = 12
"""Words of the text used as the title when an article has none."""

Result = Article | LoadProblem
Fields = dict[str, Any]


@dataclass(frozen=True)
class LoadLimits:
    """Bounds on what one input may cost (settings ``NEWSQA_MAX_ARTICLE_BYTES`` and so on)."""

    max_article_bytes: int = 1_000_000
    """Article text longer than this (UTF-8 bytes) is truncated with a warning; <= 0: no limit."""
    max_file_bytes: int = 1 << 30
    """Bytes read from one file, after decompression; reading stops with a problem past it."""
    max_line_bytes: int = 8 << 20
    """Longest ``.jsonl`` line; a longer one is reported and skipped without being kept."""


class _FileProblem(Exception):
    """A whole file cannot be read; the message is the reason reported."""


def iter_articles(
    paths: Sequence[str | Path],
    max_bytes: int = 1_000_000,
    *,
    max_file_bytes: int = LoadLimits.max_file_bytes,
    max_line_bytes: int = LoadLimits.max_line_bytes,
) -> Iterator[Result]:
    """Walk files and folders and yield one Article per readable article, or one LoadProblem.

    Folders are walked recursively in sorted order, skipping hidden files and folders and files
    whose suffix is not in ``SUPPORTED_SUFFIXES``; a file named explicitly with an unsupported
    suffix, or a path that does not exist, yields a LoadProblem. Article text longer than
    ``max_bytes`` UTF-8 bytes is truncated (a ``LoadWarning`` names the origin); ``max_bytes <=
    0`` disables the limit. ``max_file_bytes`` and ``max_line_bytes`` bound what one file and
    one line may cost (see :class:`LoadLimits`). Never raises for bad input.
    """
    limits = LoadLimits(max_bytes, max_file_bytes, max_line_bytes)
    if isinstance(paths, str | Path):
        paths = [paths]
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in _walk(path, {path.resolve()}):
                if isinstance(found, LoadProblem):
                    yield found
                else:
                    yield from _load_file(found, limits)
        elif not path.exists():
            yield LoadProblem(str(path), "no such file or directory")
        elif _format_of(path) is None:
            supported = ", ".join(SUPPORTED_SUFFIXES)
            yield LoadProblem(str(path), f"unsupported file type (supported: {supported})")
        else:
            yield from _load_file(path, limits)


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


def _load_file(path: Path, limits: LoadLimits) -> Iterator[Result]:
    """Dispatch on the suffix; turn any failure into a LoadProblem for the file."""
    loader = _LOADERS[_format_of(path) or ""]
    try:
        yield from loader(path, limits)
    except (_FileProblem, BinaryContentError) as exc:
        yield LoadProblem(str(path), str(exc))
    except RecursionError:
        yield LoadProblem(str(path), "cannot read file: nested too deeply")
    except OSError as exc:
        yield LoadProblem(str(path), f"cannot read file: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - bad input must never stop the walk
        log.debug("unexpected error reading %s", path, exc_info=True)
        yield LoadProblem(str(path), f"cannot read file: {type(exc).__name__}: {exc}")


def _read_text(path: Path, limits: LoadLimits) -> str:
    """The whole file decoded, refusing binary content and files above the size limits."""
    return decode_text(_read_bytes(path, limits))


def _read_bytes(path: Path, limits: LoadLimits) -> bytes:
    """The whole file, refusing files above the size limits (never reading more)."""
    limit = min(limits.max_file_bytes, MAX_WHOLE_FILE_BYTES)
    blocks: list[bytes] = []
    size = 0
    with path.open("rb") as fh:  # block by block: read(limit) would reserve the whole limit
        while size <= limit and (block := fh.read(min(_BLOCK_BYTES, limit + 1 - size))):
            blocks.append(block)
            size += len(block)
    if size > limit:
        raise _FileProblem(
            f"file is over the {limit:,}-byte limit for this format "
            "(split it, or use .jsonl/.jsonl.gz, which are streamed)"
        )
    return b"".join(blocks)


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


def _load_text(path: Path, limits: LoadLimits) -> Iterator[Result]:
    fields = parse_text_file(_read_text(path, limits))
    yield from build_article(
        fields, path=str(path), origin=str(path), max_bytes=limits.max_article_bytes
    )


# --- .html / .htm ------------------------------------------------------------------------------

_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _load_html(path: Path, limits: LoadLimits) -> Iterator[Result]:
    yield from build_article(
        html_fields(_read_text(path, limits)), path=str(path), origin=str(path),
        max_bytes=limits.max_article_bytes,
    )


def html_fields(markup: str) -> Fields:
    """Canonical fields of an HTML article page: its main text and metadata (title, canonical
    URL, site name, date, author) extracted with trafilatura, the ``<title>`` and the whole
    page's text as fallbacks. Raises ``_FileProblem`` for markup nested too deeply to read."""
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
        raise _FileProblem(
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


def _load_json(path: Path, limits: LoadLimits) -> Iterator[Result]:
    name = str(path)
    max_bytes = limits.max_article_bytes
    try:
        doc = json.loads(_read_text(path, limits))
    except json.JSONDecodeError as exc:
        yield LoadProblem(name, f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno)
        return
    if isinstance(doc, dict):
        listed = next((doc[k] for k in _LIST_KEYS if isinstance(doc.get(k), list)), None)
        if listed is None:
            yield from build_article(
                fields_from_record(doc), path=name, origin=name, max_bytes=max_bytes
            )
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
        yield from build_article(
            fields_from_record(record), path=name, origin=f"{name}#{n}", item=n,
            max_bytes=max_bytes,
        )


def _load_jsonl(path: Path, limits: LoadLimits) -> Iterator[Result]:
    name = str(path)
    gzipped = _format_of(path) == ".jsonl.gz"
    n = found = 0
    with gzip.open(path, "rb") if gzipped else path.open("rb") as stream:
        try:
            for n, raw in _lines(stream, limits):
                if raw is None:
                    yield LoadProblem(
                        name, f"line is over the {limits.max_line_bytes:,}-byte limit", n
                    )
                    continue
                try:
                    record = json.loads(decode_bytes(raw))
                except json.JSONDecodeError as exc:
                    yield LoadProblem(name, f"invalid JSON: {exc.msg} (column {exc.colno})", n)
                    continue
                except RecursionError:
                    yield LoadProblem(name, "invalid JSON: nested too deeply", n)
                    continue
                if not isinstance(record, dict):
                    yield LoadProblem(name, "not a JSON object", n)
                    continue
                found += 1
                yield from build_article(
                    fields_from_record(record), path=name, origin=f"{name}:{n}", line=n,
                    max_bytes=limits.max_article_bytes,
                )
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            yield LoadProblem(name, f"corrupt or truncated gzip stream after line {n}: {exc}")
            return
    if not found:
        yield LoadProblem(name, "no articles in file")


_BLOCK_BYTES = 1 << 20
_NOT_BLANK = re.compile(rb"[^ \t\r\n\f\v]")


def _lines(
    stream: IO[bytes] | gzip.GzipFile, limits: LoadLimits
) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) for each non-blank line of ``stream``, read in bounded blocks.

    A line longer than ``limits.max_line_bytes`` comes as ``(n, None)`` and its bytes are
    dropped as they arrive, so memory stays within one line limit and one block. Runs of blank
    lines are skipped at C speed. Raises ``_FileProblem`` once more than ``max_file_bytes`` were
    read, and ``BinaryContentError`` when the stream starts with binary content.
    """
    n = 1  # number of the line that starts at ``pos`` / that ``pending`` belongs to
    pending: list[bytes] = []
    pending_len = 0
    dropping = False  # inside an over-long line, already reported
    total = 0
    read = getattr(stream, "read1", stream.read)  # a cut gzip stream still gives what it has
    while block := read(_BLOCK_BYTES):
        if total == 0 and (reason := binary_reason(block)):
            raise BinaryContentError(reason)
        total += len(block)
        if total > limits.max_file_bytes:
            raise _FileProblem(
                f"stopped at line {n}: the file holds more than {limits.max_file_bytes:,} bytes "
                "(after decompression), the limit per file"
            )
        if not dropping and not pending_len and block.isspace():
            n += block.count(b"\n")  # a run of blank lines, skipped whole
            continue
        pos, size = 0, len(block)
        while pos < size:
            if not dropping and not pending_len:
                found = _NOT_BLANK.search(block, pos)
                start = size if found is None else found.start()
                n += block.count(b"\n", pos, start)
                pos = start
                if pos == size:
                    break
            end = block.find(b"\n", pos)
            stop = size if end < 0 else end
            if not dropping:
                if pending_len + stop - pos > limits.max_line_bytes:
                    yield n, None
                    pending, pending_len, dropping = [], 0, True
                else:
                    pending.append(block[pos:stop])
                    pending_len += stop - pos
            if end < 0:
                break
            if not dropping:
                yield n, b"".join(pending)
            pending, pending_len, dropping = [], 0, False
            n += 1
            pos = end + 1
    if pending_len and not dropping:
        yield n, b"".join(pending)


# --- RSS / Atom --------------------------------------------------------------------------------

_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _feed_text(detail: Mapping[str, Any] | None) -> str:
    """Plain text of a feedparser text construct (HTML is converted, plain text kept)."""
    if not detail or not detail.get("value"):
        return ""
    value = str(detail["value"])
    return html_to_text(value) if detail.get("type") in _HTML_TYPES else value


def _load_feed(path: Path, limits: LoadLimits) -> Iterator[Result]:
    name = str(path)
    data = _read_bytes(path, limits)
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


_LOADERS: dict[str, Callable[[Path, LoadLimits], Iterator[Result]]] = {
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
