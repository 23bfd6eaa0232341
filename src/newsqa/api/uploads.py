"""What ``POST /api/articles`` reads: a JSON list of articles or one uploaded file (multipart),
parsed into an :class:`IngestJob`, with the body size capped while it arrives and the records
read from it capped too (:func:`bounded_records`, which also ends it when the server stops).

An uploaded file is saved in a folder of its own under the index directory's ``uploads/``,
locked while its ingest runs, so that a server that starts can tell (and remove) what a killed
one left behind (:func:`clean_stale_uploads`).
"""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from fastapi import HTTPException, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.formparsers import MultiPartException, MultiPartParser

from newsqa.api import schemas as s
from newsqa.api.errors import message
from newsqa.ingest.pipeline import IngestProgress, IngestReport
from newsqa.records import Article, LoadProblem
from newsqa.service import NewsQA

Records = list[Article | LoadProblem]
IngestWork = Callable[[Callable[[IngestProgress], None] | None], IngestReport]

#: Upload folders live under this folder of the index directory, each with a lock file held
#: while its upload is in use, so a server that starts can tell (and remove) what a killed one
#: left behind.
UPLOADS_DIR = "uploads"
UPLOAD_PREFIX = "newsqa-upload-"
_UPLOAD_LOCK = ".lock"

# What POST /api/articles reads as JSON: a non-empty list (or {"articles": [...]}) whose items
# are articles; an item that is not one is reported in `problems` and skipped, not refused.
_ARTICLE_ITEMS = {
    "type": "array", "minItems": 1,
    "items": {"anyOf": [s.ArticleIn.model_json_schema(), {
        "description": "Anything else: reported in problems (item[i]) and skipped",
    }]},
}
ARTICLES_BODY = {"anyOf": [_ARTICLE_ITEMS, {
    "type": "object", "required": ["articles"], "properties": {"articles": _ARTICLE_ITEMS},
}]}
UPLOAD_NAME_PATTERN = (
    r'filename="[^"]*\.(txt|md|html|htm|json|jsonl|jsonl\.gz|xml|rss|atom)"'
)
#: The ``openapi_extra`` of ``POST /api/articles``: its request body, as :func:`read_ingest_input`
#: reads it (FastAPI cannot tell, since the route parses the body itself).
INGEST_OPENAPI: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {
        "schema": ARTICLES_BODY,
        "example": [s.ArticleIn.model_config["json_schema_extra"]["examples"][0]],  # type: ignore[index]
    },
    "multipart/form-data": {
        "schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {
                "type": "string", "format": "binary",
                "description": "A .txt/.md/.html/.json/.jsonl/.jsonl.gz/.xml/.rss/.atom file",
            }},
        },
        "encoding": {"file": {"headers": {"Content-Disposition": {
            "description": "The file's name picks its format: it ends in one of the "
            "suffixes above (any other gets 415)",
            "schema": {"type": "string", "pattern": UPLOAD_NAME_PATTERN,
                       "example": 'form-data; name="file"; filename="news.jsonl"'},
        }}}},
    },
}}}


async def _limited_body(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"upload is {int(declared):,} bytes; the limit is {limit:,}")
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise HTTPException(413, f"upload is over the {limit:,}-byte limit")
        yield chunk


def json_records(doc: Any, max_bytes: int, max_records: int | None = None) -> Records:
    """Articles (validated) and problems (``item[i]``) from a JSON list of article objects;
    past ``max_records`` items, one problem says the rest was not read."""
    if isinstance(doc, dict) and isinstance(doc.get("articles"), list):
        doc = doc["articles"]
    if not isinstance(doc, list) or not doc:
        raise HTTPException(422, "expected a non-empty JSON list of article objects")
    out: Records = []
    if max_records is not None and len(doc) > max_records:
        out.append(LoadProblem("upload", _over(max_records)))
        doc = doc[:max_records]
    for i, item in enumerate(doc):
        where = f"item[{i}]"
        try:
            out.extend(s.ArticleIn.model_validate(item).to_article(where, max_bytes))
        except ValidationError as exc:
            reason = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'item'}: {message(e)}" for e in exc.errors()
            )
            out.append(LoadProblem(where, reason))
    return out


def _over(limit: int) -> str:
    return (f"the upload holds more than {limit:,} records (articles and unreadable items), "
            "the limit per upload (NEWSQA_API__MAX_UPLOAD_RECORDS): the rest was not read")


def bounded_records(
    records: Iterable[Article | LoadProblem], limit: int, stopping: threading.Event, name: str
) -> Iterator[Article | LoadProblem]:
    """``records`` up to ``limit`` of them, ending early (with a problem that says why) past
    it or once ``stopping`` is set, so that an ingest reading them commits what it holds and
    ends instead of reading a bomb of lines, or holding a server that was told to stop. The
    problem is the upload's (``name``), not one file's, so it is listed past the file's own."""
    for n, record in enumerate(records):
        if stopping.is_set():
            yield LoadProblem(name, "the server is stopping: the rest of the upload was not read")
            return
        if n >= limit:
            yield LoadProblem(name, _over(limit))
            return
        yield record


def _safe_name(filename: str) -> str:
    """The upload's base name, reduced to safe characters (never hidden, never "..")."""
    name = Path(filename.replace("\\", "/")).name
    return re.sub(r"[^\w.-]", "_", name)[-120:].lstrip(".") or "upload"


@dataclass
class IngestJob:
    """Ingest work parsed from a request; ``tmp`` holds an uploaded file until it has run, and
    ``lock`` (open while it does) marks that folder as in use."""

    work: IngestWork
    tmp: Path | None = None
    lock: IO[bytes] | None = None

    def discard(self) -> None:
        """Remove the uploaded file's folder and release its lock."""
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if self.lock is not None:
            self.lock.close()


def upload_folder(index: Path) -> tuple[Path, IO[bytes]]:
    """A new folder for one uploaded file under ``index``/uploads, and its lock file, locked
    (the lock lasts until the file object is closed or the process ends)."""
    root = index / UPLOADS_DIR
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=UPLOAD_PREFIX, dir=root))
    lock = (tmp / _UPLOAD_LOCK).open("wb")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else holds it
    return tmp, lock


def _upload_in_use(folder: Path, grace_s: float) -> bool:
    """Whether a live upload (in any process) holds ``folder``'s lock; a folder without a lock
    file is taken for one being made for ``grace_s`` seconds."""
    try:
        fh = (folder / _UPLOAD_LOCK).open("rb")
    except FileNotFoundError:
        try:
            return time.time() - folder.stat().st_mtime < grace_s
        except FileNotFoundError:
            return True  # gone already
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def clean_stale_uploads(index: Path, grace_s: float = 60.0) -> int:
    """Remove the upload folders under ``index`` that no live upload holds (left by a server
    that was killed while it held them); returns how many were removed. Every server start
    (each of ``--workers N``) calls it: a folder another process is using stays."""
    root = index / UPLOADS_DIR
    if not root.is_dir():
        return 0
    removed = 0
    for folder in root.glob(f"{UPLOAD_PREFIX}*"):
        if folder.is_dir() and not _upload_in_use(folder, grace_s):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _save(src: BinaryIO, dest: Path) -> None:
    with dest.open("wb") as fh:
        shutil.copyfileobj(src, fh)


async def read_ingest_input(request: Request, svc: NewsQA) -> IngestJob:
    """Parse a JSON list of articles or a multipart file upload into ingest work."""
    limit = svc.settings.api.max_upload_bytes
    stopping: threading.Event = request.app.state.stopping
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        raw = b"".join([c async for c in _limited_body(request, limit)])
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"invalid JSON body: {exc}") from None
        except RecursionError:
            raise HTTPException(400, "invalid JSON body: nested too deeply") from None
        records = json_records(
            doc, svc.settings.ingest.max_article_bytes, svc.settings.api.max_upload_records
        )
        return IngestJob(lambda progress: svc.ingest_records(
            bounded_records(records, len(records), stopping, "upload"), progress))
    if ctype != "multipart/form-data":
        raise HTTPException(
            415, "send a JSON list of articles (application/json) or a file (multipart/form-data)"
        )
    from newsqa.ingest.load import SUPPORTED_SUFFIXES

    try:
        parser = MultiPartParser(request.headers, _limited_body(request, limit), max_files=1)
        form = await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(400, f"bad multipart upload: {exc.message}") from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise HTTPException(422, "multipart upload needs a 'file' field")
    name = _safe_name(upload.filename or "")
    if not name.lower().endswith(SUPPORTED_SUFFIXES):
        raise HTTPException(
            415, f"unsupported file type {name!r}; supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    tmp, lock = upload_folder(svc.index.path)
    path = tmp / name  # the loaders pick the format by suffix; reports name the file
    job = IngestJob(lambda progress: svc.ingest_records(bounded_records(
        svc.load([path]), svc.settings.api.max_upload_records, stopping, "upload"), progress,
    ), tmp, lock)
    try:
        await run_in_threadpool(_save, upload.file, path)
    except BaseException:
        job.discard()
        raise
    finally:
        await upload.close()
    return job
