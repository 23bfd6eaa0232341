"""The loaders' entry point: walk files and folders, read each file with the loader for its
suffix, and turn whatever goes wrong into a ``LoadProblem`` instead of raising."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from newsqa.ingest.clean import BinaryContentError
from newsqa.ingest.load.base import (
    SUPPORTED_SUFFIXES,
    FileProblem,
    Loader,
    LoadLimits,
    Result,
    format_of,
)
from newsqa.ingest.load.feeds import load_feed
from newsqa.ingest.load.html_pages import load_html
from newsqa.ingest.load.records import load_json, load_jsonl
from newsqa.ingest.load.text import load_text
from newsqa.records import LoadProblem, NotRead

log = logging.getLogger("newsqa.ingest")

_LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".md": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".json": load_json,
    ".jsonl": load_jsonl,
    ".jsonl.gz": load_jsonl,
    ".xml": load_feed,
    ".rss": load_feed,
    ".atom": load_feed,
}


def iter_articles(
    paths: Sequence[str | Path],
    max_bytes: int = 1_000_000,
    *,
    max_file_bytes: int = LoadLimits.max_file_bytes,
    max_line_bytes: int = LoadLimits.max_line_bytes,
    include_all: bool = False,
) -> Iterator[Result]:
    """Walk files and folders and yield one Article per readable article, or one LoadProblem.

    Folders are walked recursively in sorted order. What a walk passes over is one
    :class:`NotRead` each (counted, not an error): a hidden file or folder (its contents are not
    walked), a file whose suffix is not in ``SUPPORTED_SUFFIXES`` and, unless ``include_all``,
    a ``.txt``/``.md`` file that is not news (:func:`~newsqa.ingest.load.text.not_news`: a
    README, LICENSE, ...). A file named explicitly is read whatever its name; with an unsupported
    suffix, or a path that does not exist, it yields a LoadProblem. Article text longer than
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
                    yield from _load_file(found, limits, news_only=not include_all)
        elif not path.exists():
            yield LoadProblem(str(path), "no such file or directory")
        elif format_of(path) is None:
            supported = ", ".join(SUPPORTED_SUFFIXES)
            yield LoadProblem(str(path), f"unsupported file type (supported: {supported})")
        else:
            yield from _load_file(path, limits)


def _walk(folder: Path, seen: set[Path]) -> Iterator[Path | LoadProblem]:
    """Supported files under ``folder``, sorted by name, and a :class:`NotRead` for each
    hidden entry and unsupported file; link loops are walked once."""
    try:
        entries = sorted(folder.iterdir(), key=lambda entry: entry.name)
    except OSError as exc:
        yield LoadProblem(str(folder), f"cannot list folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            kind = "hidden folder" if entry.is_dir() else "hidden file"
            yield NotRead(str(entry), kind, kind=kind)
        elif entry.is_dir():
            real = entry.resolve()
            if real not in seen:
                seen.add(real)
                yield from _walk(entry, seen)
        elif not entry.is_file():
            continue
        elif format_of(entry) is not None:
            yield entry
        else:
            kind = entry.suffix.lower() or "no extension"
            yield NotRead(str(entry), f"unsupported file type ({kind})", kind=kind)


def _load_file(path: Path, limits: LoadLimits, news_only: bool = False) -> Iterator[Result]:
    """Dispatch on the suffix; turn any failure into a LoadProblem for the file. ``news_only``:
    a text file that is not news is one :class:`NotRead`."""
    loader = _LOADERS[format_of(path) or ""]
    try:
        if loader is load_text:
            yield from load_text(path, limits, news_only)
        else:
            yield from loader(path, limits)
    except (FileProblem, BinaryContentError) as exc:
        yield LoadProblem(str(path), str(exc))
    except RecursionError:
        yield LoadProblem(str(path), "cannot read file: nested too deeply")
    except OSError as exc:
        yield LoadProblem(str(path), f"cannot read file: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - bad input must never stop the walk
        log.debug("unexpected error reading %s", path, exc_info=True)
        yield LoadProblem(str(path), f"cannot read file: {type(exc).__name__}: {exc}")
