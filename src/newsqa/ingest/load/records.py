"""JSON records: ``.json`` (an object, a list of objects, or an object with an
articles/items/data list) and ``.jsonl`` / ``.jsonl.gz`` (one object per line, streamed)."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from newsqa.ingest.clean import decode_bytes
from newsqa.ingest.load.article import build_article
from newsqa.ingest.load.base import Fields, LoadLimits, Result, format_of
from newsqa.ingest.load.reading import read_lines, read_text
from newsqa.records import LoadProblem

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


def load_json(path: Path, limits: LoadLimits) -> Iterator[Result]:
    """The articles of a ``.json`` file, read whole: one object, or each object of its list."""
    name = str(path)
    max_bytes = limits.max_article_bytes
    try:
        doc = json.loads(read_text(path, limits))
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


def load_jsonl(path: Path, limits: LoadLimits) -> Iterator[Result]:
    """The articles of a ``.jsonl`` or ``.jsonl.gz`` file, streamed one line at a time; a bad
    line is a problem with its line number and the rest of the file is still read."""
    name = str(path)
    gzipped = format_of(path) == ".jsonl.gz"
    n = found = 0
    with gzip.open(path, "rb") if gzipped else path.open("rb") as stream:
        try:
            for n, raw in read_lines(stream, limits):
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
