"""The HTTP API and the web chat: ``create_app(service)`` builds the FastAPI app, ``serve`` runs it.

Routes parse their input (see :mod:`newsqa.api.schemas`), call the :class:`NewsQA` service and
format its output; streaming routes speak Server-Sent Events (``event:`` name, ``data:`` JSON).
"""

from __future__ import annotations

import base64
import copy
import fcntl
import hashlib
import hmac
import json
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Any, BinaryIO

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    StreamingResponse,
)
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.routing import Match, Mount

from newsqa import __version__
from newsqa.api import schemas as s
from newsqa.api.feeds import install as install_feeds
from newsqa.api.metrics import CONTENT_TYPE, Metrics, MetricsMiddleware
from newsqa.api.middleware import (
    CSP,
    RETRY_AFTER_S,
    RequestContextMiddleware,
    error_body,
    failure,
    request_id,
)
from newsqa.api.openai_compat import make_router
from newsqa.index.store import IndexBusyError
from newsqa.ingest.pipeline import IngestProgress, IngestReport
from newsqa.models import Article, Filters, LoadProblem
from newsqa.service import NewsQA, RequestError

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
Records = list[Article | LoadProblem]
IngestWork = Callable[[Callable[[IngestProgress], None] | None], IngestReport]

DESCRIPTION = """Question answering over a news archive, with cited answers.

* **Ask** a question (`/api/ask`, or `/api/ask/stream` as Server-Sent Events): the answer's
  sentences carry `[n]` markers pointing at `citations`, each quoting the article passage it comes
  from. When no article answers, `abstained` is true and `passages` lists the closest ones.
* **Search** passages, **browse**, **add** (JSON or an uploaded file) and **delete** articles.
* An **OpenAI-compatible** `/v1/chat/completions` lets chat clients get cited answers.

When the server has an API key (`NEWSQA_API_KEY`), writes need `Authorization: Bearer <key>`;
reads need it too only when `NEWSQA_API_KEY_READS=1` (each operation's security says which).
Errors are JSON: `{"detail": "..."}`. A write that meets another process writing to the index
gets 409 with a `Retry-After` header. Every response carries an `X-Request-ID` header (a client's
own is kept when it is plain); a 500 says only "internal error" with that id, which the server
log lists with the details.
"""

KEY_DOC = "The server's NEWSQA_API_KEY"
bearer = HTTPBearer(auto_error=False, description=KEY_DOC)
# The same key, for reads: a scheme of its own only so that the OpenAPI page can tell which
# operations are reads (_document_auth folds it back into HTTPBearer).
READ_SCHEME = "HTTPBearerRead"
read_bearer = HTTPBearer(auto_error=False, scheme_name=READ_SCHEME, description=KEY_DOC)
ERRORS = s.ERRORS
MAX_OFFSET = 1_000_000_000  # far past any archive, well inside SQLite's integers
BUSY: dict[int | str, dict[str, Any]] = {409: {
    "model": s.ErrorBody,
    "description": "Another process is writing to the index: retry after `Retry-After` seconds",
    "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
}}


# ---------------------------------------------------------------------------- dependencies
def get_service(request: Request) -> NewsQA:
    """The app's service object."""
    svc: NewsQA = request.app.state.service
    return svc


Service = Annotated[NewsQA, Depends(get_service)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
ReadCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(read_bearer)]


def _check_key(svc: NewsQA, creds: HTTPAuthorizationCredentials | None) -> None:
    key = svc.settings.api_key
    token = creds.credentials if creds else ""
    if key and not hmac.compare_digest(token.encode(), key.encode()):
        raise HTTPException(
            401,
            "missing or wrong API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": 'Bearer realm="newsqa"'},
        )


def require_write(svc: Service, creds: Credentials) -> None:
    """Writes need the API key when one is configured."""
    _check_key(svc, creds)


def require_read(svc: Service, creds: ReadCredentials) -> None:
    """Reads need the API key only when ``api_key_reads`` is set."""
    if svc.settings.api_key_reads:
        _check_key(svc, creds)


def check_question(svc: NewsQA, question: str) -> str:
    """The question stripped; 422 when it is blank or longer than ``max_question_chars``."""
    q = question.strip()
    if not q:
        raise HTTPException(422, "question must not be empty")
    limit = svc.settings.max_question_chars
    if len(q) > limit:
        raise HTTPException(422, f"question is {len(q)} characters long; the limit is {limit}")
    return q


# ---------------------------------------------------------------------------- helpers
def sse(event: str, data: Any) -> str:
    """One Server-Sent Event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _answer_events(events: Iterator[tuple[str, dict[str, Any]]], rid: str) -> Iterator[str]:
    try:
        for event, data in events:
            yield sse(event, data)
    except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
        yield sse("error", failure(exc, rid))


def _msg(error: Any) -> str:
    """A pydantic error message without pydantic's "Value error, " prefix."""
    return str(error.get("msg", "")).removeprefix("Value error, ")


def _history(body: s.AskRequest) -> list[dict[str, str]]:
    return [t.model_dump() for t in body.history]


def _wants_stream(request: Request, stream: bool) -> bool:
    return stream or "text/event-stream" in request.headers.get("accept", "")


# ---------------------------------------------------------------------------- ingest over HTTP
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


def json_records(doc: Any, max_bytes: int) -> Records:
    """Articles (validated) and problems (``item[i]``) from a JSON list of article objects."""
    if isinstance(doc, dict) and isinstance(doc.get("articles"), list):
        doc = doc["articles"]
    if not isinstance(doc, list) or not doc:
        raise HTTPException(422, "expected a non-empty JSON list of article objects")
    out: Records = []
    for i, item in enumerate(doc):
        where = f"item[{i}]"
        try:
            out.extend(s.ArticleIn.model_validate(item).to_article(where, max_bytes))
        except ValidationError as exc:
            reason = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'item'}: {_msg(e)}" for e in exc.errors()
            )
            out.append(LoadProblem(where, reason))
    return out


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


#: Upload folders live under this folder of the index directory, each with a lock file held
#: while its upload is in use, so a server that starts can tell (and remove) what a killed one
#: left behind.
UPLOADS_DIR = "uploads"
UPLOAD_PREFIX = "newsqa-upload-"
_UPLOAD_LOCK = ".lock"


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


async def _read_ingest_input(request: Request, svc: NewsQA) -> IngestJob:
    """Parse a JSON list of articles or a multipart file upload into ingest work."""
    limit = svc.settings.max_upload_bytes
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        raw = b"".join([c async for c in _limited_body(request, limit)])
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"invalid JSON body: {exc}") from None
        except RecursionError:
            raise HTTPException(400, "invalid JSON body: nested too deeply") from None
        records = json_records(doc, svc.settings.max_article_bytes)
        return IngestJob(lambda progress: svc.ingest_records(records, progress))
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
    job = IngestJob(lambda progress: svc.ingest([path], progress), tmp, lock)
    try:
        await run_in_threadpool(_save, upload.file, path)
    except BaseException:
        job.discard()
        raise
    finally:
        await upload.close()
    return job


_INGEST_LOCK = threading.Lock()


def _run_ingest(
    request: Request, job: IngestJob, progress: Callable[[IngestProgress], None] | None = None
) -> dict[str, Any]:
    """Run one ingest at a time; report paths name the uploaded file, not its temp copy."""
    try:
        with _INGEST_LOCK:
            d = job.work(progress).to_dict()
    finally:
        job.discard()
    if job.tmp is not None:
        prefix = f"{job.tmp}{os.sep}"
        for p in d["problems"]:
            p["path"] = p["path"].removeprefix(prefix)
        for item in d["items"]:
            item["origin"] = item["origin"].removeprefix(prefix)
        for omitted in d["omitted"]:
            if omitted["path"]:
                omitted["path"] = omitted["path"].removeprefix(prefix)
    request.app.state.metrics.record_ingest(d)
    return d


def _ingest_events(
    run: Callable[[Callable[[IngestProgress], None]], dict[str, Any]], rid: str
) -> Iterator[str]:
    """Run ``run`` in a thread; yield ``progress`` events (at most 5 a second), then ``done``
    (or ``error``)."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
            q.put(("done", run(lambda ev: q.put(("progress", ev.to_dict())))))
        except Exception as exc:  # noqa: BLE001 - reported to the client
            q.put(("error", failure(exc, rid)))

    threading.Thread(target=work, name="newsqa-ingest", daemon=True).start()
    last = 0.0
    while True:
        event, data = q.get()
        if event == "progress":
            now = time.monotonic()
            if now - last < 0.2 and data["stage"] != "done":
                continue
            last = now
        yield sse(event, data)
        if event in ("done", "error"):
            return


# ---------------------------------------------------------------------------- routes
router = APIRouter()
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
reads = [Depends(require_read)]
ASK_EXAMPLES = {
    "seed": {"summary": "A question the bundled corpus answers",
             "value": {"question": s.SEED_QUESTION}},
    "filtered": {"summary": "With filters",
                 "value": {"question": "Who won the 2022 FIFA World Cup?", "k": 5,
                           "since": "2022-11-01", "until": "2022-12-31"}},
    "follow-up": {"summary": "A follow-up carrying the conversation",
                  "value": {"question": "What does the US say about it?",
                            "history": [{"role": "user", "content": s.SEED_QUESTION},
                                        {"role": "assistant", "content": "… [1]"}]}},
}
AskBody = Annotated[s.AskRequest, Body(openapi_examples=ASK_EXAMPLES)]
SSE_DOC: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": {"example": (
    'event: sources\ndata: {"passages": [...]}\n\n'
    'event: delta\ndata: {"text": "Under the circumstances, … [1]", "segment": {"text": '
    '"Under the circumstances, …", "citations": [1], "lead": "", "span": null}}\n\n'
    'event: done\ndata: {"question": "...", "answer": "...", "citations": [...], ...}\n\n'
)}}, "description": "Server-Sent Events"}}


@router.post("/api/ask", response_model=s.Answer, tags=["Questions"], dependencies=reads,
             summary="Answer a question with cited sources", responses=ERRORS)
def ask(body: AskBody, svc: Service) -> dict[str, Any]:
    """Answer from the archive: sentences with `[n]` markers and the citations they point to,
    or an abstention (`abstained: true`) with the closest passages."""
    q = check_question(svc, body.question)
    return svc.ask(q, body.k, body.filters(), _history(body), body.view, body.mode)


@router.post("/api/ask/stream", tags=["Questions"], dependencies=reads,
             response_class=StreamingResponse, summary="Answer as Server-Sent Events",
             responses={**ERRORS, **SSE_DOC})
def ask_stream(body: AskBody, svc: Service, request: Request) -> StreamingResponse:
    """Same as `/api/ask`, streamed: a `sources` event (the passages), `delta` events (one per
    answer segment: `text` rendered, `segment` as data) and a final `done` event with the full
    answer JSON; `error` (`detail`, `status`) if it fails midway.

    With `mode: "generate"` the language model's text arrives as `token` events while it is
    written; each finished sentence then gets a `claim` event (`status`: kept, flagged,
    dropped or abstain, with the `reason`), and a kept or flagged one its `delta`. A `note`
    event means the generated answer is withdrawn and the extractive answer's deltas follow."""
    q = check_question(svc, body.question)
    events = svc.ask_stream(q, body.k, body.filters(), _history(body), body.view, body.mode)
    return StreamingResponse(
        _answer_events(events, request_id(request)), media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


@router.post("/api/search", response_model=s.SearchResponse, tags=["Questions"], dependencies=reads,
             summary="Search passages", responses=ERRORS)
def search(body: s.SearchRequest, svc: Service) -> dict[str, Any]:
    """Ranked passages (hybrid lexical + vector retrieval with a recency prior), no answer."""
    q = body.query.strip()
    if not q:
        raise HTTPException(422, "query must not be empty")
    return {"passages": [p.to_dict() for p in svc.search(q, body.k, body.filters())]}


@router.get("/api/articles", response_model=s.ArticlePage, tags=["Articles"], dependencies=reads,
            summary="List articles, newest first", responses=ERRORS)
def list_articles(
    svc: Service,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size (at most 100)")] = 20,
    source: Annotated[list[s.Outlet], Query(
        max_length=50, description="Only this outlet (repeatable, at most 50)")] = [],  # noqa: B006 - FastAPI copies it
    since: Annotated[s.IsoDate | None, Query(description="YYYY-MM-DD",
                                             examples=["2013-01-01"])] = None,
    until: Annotated[s.IsoDate | None, Query(description="YYYY-MM-DD, not before since",
                                             examples=["2023-12-31"])] = None,
) -> dict[str, Any]:
    """A page of article metadata (`total`, `offset`, `limit`, `items`), filterable by outlet and
    publication date."""
    f = _list_filters(since, until, source)
    return svc.list_articles(f, offset, limit)


def _list_filters(since: str | None, until: str | None, source: list[str] | None) -> Filters:
    try:
        fields = s.FilterFields.model_validate(
            {"since": since, "until": until, "sources": source or None}
        )
        return fields.filters()
    except ValidationError as exc:
        raise HTTPException(422, "; ".join(_msg(e) for e in exc.errors())) from None


@router.get("/api/articles/{article_id:path}", response_model=s.ArticleDetail, tags=["Articles"],
            dependencies=reads, summary="One article with its text",
            responses={404: {"model": s.ErrorBody, "description": "No such article"}, **ERRORS})
def get_article(article_id: str, svc: Service) -> dict[str, Any]:
    """Metadata and full text of an article, by id or URL."""
    found = svc.article(article_id)
    if found is None:
        raise HTTPException(404, f"no article {article_id!r}")
    return found


@router.post(
    "/api/articles", response_model=s.IngestResult, tags=["Articles"],
    dependencies=[Depends(require_write)], summary="Add articles (JSON list or file upload)",
    responses={413: {"model": s.ErrorBody, "description": "Upload too large"},
               415: {"model": s.ErrorBody, "description": "Unsupported content or file type"},
               **BUSY, **ERRORS, **SSE_DOC},
    openapi_extra={"requestBody": {"required": True, "content": {
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
    }}},
)
async def add_articles(
    request: Request, svc: Service,
    stream: Annotated[bool, Query(description="Stream progress events (SSE)")] = False,
) -> Any:
    """Ingest a JSON list of articles or one uploaded file in any format the loaders read. The
    result lists each article (added / updated / unchanged) and each rejected input with its
    reason. With `?stream=true` (or `Accept: text/event-stream`) the reply is `progress` events
    and a final `done` event carrying the same result, or an `error` event (`detail`, `status`:
    409 when another process is writing, 500 otherwise)."""
    job = await _read_ingest_input(request, svc)
    if _wants_stream(request, stream):
        events = _ingest_events(
            lambda progress: _run_ingest(request, job, progress), request_id(request)
        )
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    return await run_in_threadpool(_run_ingest, request, job)


@router.delete("/api/articles/{article_id:path}", response_model=s.Deleted, tags=["Articles"],
               dependencies=[Depends(require_write)], summary="Delete an article",
               responses={404: {"model": s.ErrorBody, "description": "No such article"},
                          **BUSY, **ERRORS})
def delete_article(article_id: str, svc: Service) -> dict[str, str]:
    """Remove an article (by id or URL) with its passages."""
    if not svc.delete(article_id):
        raise HTTPException(404, f"no article {article_id!r}")
    return {"deleted": article_id}


@router.get("/api/health", response_model=s.Health, tags=["Operations"], summary="Health")
def health(svc: Service) -> dict[str, Any]:
    """Liveness, index size (articles, chunks), model and version. Never needs a key."""
    return svc.health()


@router.get("/metrics", response_class=PlainTextResponse, tags=["Operations"],
            summary="Prometheus metrics",
            responses={200: {"content": {"text/plain": {}}, "description": "Exposition text"}})
def metrics(request: Request, svc: Service) -> PlainTextResponse:
    """Request counts and latency per route and status, index gauges, ingest counters."""
    st = svc.stats()
    text = request.app.state.metrics.render({
        "newsqa_index_articles": ("Articles in the index.", st["articles"]),
        "newsqa_index_chunks": ("Passages (chunks) in the index.", st["chunks"]),
    })
    return PlainTextResponse(text, media_type=CONTENT_TYPE)


@router.get("/", response_class=FileResponse, tags=["Web"], summary="Web chat page")
def index_page() -> FileResponse:
    """The chat page (its assets are under `/static/`)."""
    return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


# ---------------------------------------------------------------------------- errors
def _error(request: Request, status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse(error_body(request.url.path, status, detail, **extra), status)


def _install_error_handlers(app: FastAPI) -> None:
    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": _msg(e), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0] if e['loc'] else 'body'}: "
            f"{e['msg']}"
            for e in errors
        )
        return _error(request, 422, detail or "invalid request", errors=errors)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        resp = _error(request, exc.status_code, str(exc.detail))
        resp.headers.update(exc.headers or {})
        if exc.status_code == 405:
            resp.headers["Allow"] = allowed_methods(request, resp.headers.get("Allow", ""))
        return resp

    async def busy(request: Request, exc: Exception) -> JSONResponse:
        resp = _error(request, 409, str(exc))
        resp.headers["Retry-After"] = str(RETRY_AFTER_S)
        return resp

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    async def refused(request: Request, exc: Exception) -> JSONResponse:
        return _error(request, 422, str(exc))

    app.add_exception_handler(IndexBusyError, busy)
    app.add_exception_handler(RequestError, refused)
    # any other exception becomes a 500 in RequestContextMiddleware (logged, never shown)


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request, given: str = "") -> str:
    """The ``Allow`` header of a 405: every method some route takes at the request's path
    (starlette names only the first route's: GET of ``/api/articles``, not its POST), else
    ``given``."""
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    methods = [
        m for m in _METHODS
        if any(r.matches({**request.scope, "method": m})[0] is Match.FULL for r in routes)
    ]
    return ", ".join(methods) or given


# ---------------------------------------------------------------------------- docs
def _document_auth(doc: dict[str, Any], settings: Any) -> None:
    """Each operation's security as this server asks for it: the key is required for writes
    when one is configured, and for reads only with ``api_key_reads``; otherwise it is optional
    (``security: [{}, {"HTTPBearer": []}]``). Reads are told apart by their own scheme, which
    is folded into ``HTTPBearer`` here."""
    writes_need_key = bool(settings.api_key)
    reads_need_key = writes_need_key and settings.api_key_reads
    for ops in doc.get("paths", {}).values():
        for op in ops.values():
            security = op.get("security") if isinstance(op, dict) else None
            if not security:
                continue
            read = any(READ_SCHEME in requirement for requirement in security)
            op["security"] = [{"HTTPBearer": []}]
            if not (reads_need_key if read else writes_need_key):
                op["security"].insert(0, {})
    schemes = doc.get("components", {}).get("securitySchemes", {})
    read_scheme = schemes.pop(READ_SCHEME, None)
    if read_scheme is not None:
        schemes.setdefault("HTTPBearer", read_scheme)


def _drop_generate(node: Any) -> None:
    """Remove "generate" from the enums under ``node`` (a mode field's schema)."""
    if isinstance(node, dict):
        if "generate" in node.get("enum", []):
            node["enum"] = [v for v in node["enum"] if v != "generate"]
        for value in node.values():
            _drop_generate(value)
    elif isinstance(node, list):
        for value in node:
            _drop_generate(value)


def _document_limits(doc: dict[str, Any], service: NewsQA) -> None:
    """The limits this server's settings set: a question (and each user message of
    ``/v1/chat/completions``, each a question) is at most ``max_question_chars`` long; without
    a language model, ``mode`` is extractive only."""
    schemas = doc.get("components", {}).get("schemas", {})
    limit = service.settings.max_question_chars
    question = schemas.get("AskRequest", {}).get("properties", {}).get("question")
    if question is not None:
        question["maxLength"] = limit
    user = schemas.get("UserMessage", {}).get("properties", {}).get("content", {})
    for option in user.get("anyOf", []):
        if option.get("type") == "string":
            option["maxLength"] = min(option.get("maxLength", limit), limit)
    if service.generator is None:
        for name in ("AskRequest", "ChatRequest"):
            mode = schemas.get(name, {}).get("properties", {}).get("mode")
            if mode is not None:
                _drop_generate(mode)
                mode["description"] = "extractive (generate needs a language model server, "\
                    "which this one has not: NEWSQA_GENERATOR_URL)"


def _truthful_openapi(app: FastAPI, service: NewsQA) -> None:
    """Make ``/openapi.json`` say what this server's settings decide: which operations need
    the key, how long a question may be, whether ``mode: generate`` is there."""
    make = app.openapi
    done: list[dict[str, Any]] = []  # the document made truthful (FastAPI caches it)

    def openapi() -> dict[str, Any]:
        doc = make()  # FastAPI's, cached (and made again if routes are added)
        if not done or done[0] is not doc:
            _document_auth(doc, service.settings)
            _document_limits(doc, service)
            done[:] = [doc]
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _docs_assets() -> Path | None:
    """Local Swagger UI / ReDoc files (the ``fastapi-offline`` package), if installed."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    path = Path(fastapi_offline.__file__).parent / "static"
    return path if (path / "swagger-ui-bundle.js").is_file() else None


def docs_csp(html: str) -> str:
    """A Content-Security-Policy for a docs page: the site's own, plus exactly the page's inline
    scripts (by hash), inline styles (Swagger UI and ReDoc set them at run time), ``data:``
    images (their icons) and ``blob:`` workers (ReDoc)."""
    digests = [
        base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        for body in re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    ]
    hashes = [f"'sha256-{d}'" for d in digests]
    return (
        f"{CSP}; script-src 'self' {' '.join(hashes)}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:"
    )


def _with_own_csp(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = docs_csp(bytes(page.body).decode())
    return page


def _local_docs(app: FastAPI, assets: Path) -> None:
    """Serve ``/docs`` and ``/redoc`` from local files, so they work without internet."""
    app.mount("/docs-static", StaticFiles(directory=assets), name="docs-static")
    swagger_page = _with_own_csp(get_swagger_ui_html(
        openapi_url="/openapi.json", title="newsqa — API docs",
        swagger_js_url="/docs-static/swagger-ui-bundle.js",
        swagger_css_url="/docs-static/swagger-ui.css",
        swagger_favicon_url="/docs-static/favicon.png",
    ))
    redoc_page = _with_own_csp(get_redoc_html(
        openapi_url="/openapi.json", title="newsqa — API reference",
        redoc_js_url="/docs-static/redoc.standalone.js",
        redoc_favicon_url="/docs-static/favicon.png", with_google_fonts=False,
    ))

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return swagger_page

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return redoc_page


# ---------------------------------------------------------------------------- factory
def create_app(service: NewsQA) -> FastAPI:
    """The FastAPI app serving ``service``: the API, ``/v1`` (OpenAI), ``/metrics`` and the web
    chat (``/`` and ``/static``); ``/docs`` documents it (with local assets when the
    ``fastapi-offline`` package is installed, else FastAPI's CDN-hosted Swagger UI)."""
    assets = _docs_assets()
    app = FastAPI(
        title="newsqa", version=__version__, description=DESCRIPTION,
        docs_url=None if assets else "/docs", redoc_url=None if assets else "/redoc",
        openapi_tags=[
            {"name": "Questions", "description": "Ask and search"},
            {"name": "Articles", "description": "Browse, add and delete articles"},
            {"name": "Feeds", "description": "Followed news feeds and their status"},
            {"name": "OpenAI-compatible", "description": "For existing chat clients"},
            {"name": "Operations", "description": "Health and metrics"},
            {"name": "Web", "description": "The chat page"},
        ],
    )
    app.state.service = service
    app.state.metrics = Metrics()
    clean_stale_uploads(service.index.path)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestContextMiddleware)  # outermost: it also sees the metrics' 500s
    _install_error_handlers(app)
    app.include_router(router)
    app.include_router(make_router(get_service, check_question, require_read))
    install_feeds(app, get_service, require_read, require_write)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    if assets:
        _local_docs(app, assets)
    _truthful_openapi(app, service)
    return app


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with newsqa's own loggers (a 500's details) on its error stream."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["newsqa"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    from newsqa.logs import with_format
    from newsqa.settings import get_settings

    return with_format(config, get_settings().log_format)  # NEWSQA_LOG_FORMAT=json: JSON lines


def worker_app() -> FastAPI:
    """The app of one of several serving processes (uvicorn's factory): each opens the index
    that the ``NEWSQA_*`` settings name (``newsqa serve --workers N`` sets ``NEWSQA_INDEX``)."""
    from newsqa.settings import get_settings

    service = NewsQA.open(get_settings(), create=False)
    start_warming(service)
    return create_app(service)


def start_warming(service: NewsQA) -> None:
    """Warm the service's caches in a background thread, and again after the archive changes
    (see :meth:`NewsQA.keep_warm`)."""
    threading.Thread(target=service.keep_warm, name="newsqa-warm", daemon=True).start()


def serve(service: NewsQA, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the app with uvicorn until interrupted, in ``workers`` processes.

    One process serves ``service`` itself. With more, this process closes it and supervises
    ``workers`` processes that each open the same index (readers see each other's and any
    writer's changes, issue 8) and share the port; each gets its share of the cores for the
    model (``OMP_NUM_THREADS``), so they do not oversubscribe them.
    """
    import uvicorn

    common: dict[str, Any] = {
        "host": host, "port": port, "log_level": "info", "access_log": False,
        "log_config": log_config(),
    }
    if workers <= 1:
        start_warming(service)
        uvicorn.run(create_app(service), **common)
        return
    os.environ["NEWSQA_INDEX"] = str(Path(service.settings.index).resolve())
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    service.close()
    release_models()
    uvicorn.run("newsqa.api.app:worker_app", factory=True, workers=workers, **common)


def release_models() -> None:
    """Drop this process's loaded models (a supervising process serves nothing)."""
    import gc

    from newsqa.ingest.embed import load_embedder

    load_embedder.cache_clear()
    gc.collect()
