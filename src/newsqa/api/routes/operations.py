"""Operations: writes to the archive (``POST /api/articles`` adds articles from JSON or an
uploaded file, optionally streaming progress; ``DELETE /api/articles/{id}``) and the server's
own state (``/api/health``, ``/metrics``).

Ingests run one at a time in this process (:data:`_INGEST_LOCK`); the request body is parsed by
:mod:`newsqa.api.uploads`.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from newsqa.api import schemas as s
from newsqa.api.dependencies import READS, WRITES, Service
from newsqa.api.errors import BUSY
from newsqa.api.exposure import shows_details
from newsqa.api.metrics import CONTENT_TYPE
from newsqa.api.middleware import failure, request_id
from newsqa.api.sse import SSE_DOC, SSE_HEADERS, sse, wants_stream
from newsqa.api.uploads import INGEST_OPENAPI, IngestJob, read_ingest_input
from newsqa.index.errors import CatalogueUnavailableError
from newsqa.ingest.pipeline import IngestProgress

router = APIRouter()
ERRORS = s.ERRORS
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


@router.post(
    "/api/articles", response_model=s.IngestResult, tags=["Articles"],
    dependencies=WRITES, summary="Add articles (JSON list or file upload)",
    responses={413: {"model": s.ErrorBody, "description": "Upload too large"},
               415: {"model": s.ErrorBody, "description": "Unsupported content or file type"},
               **BUSY, **ERRORS, **SSE_DOC},
    openapi_extra=INGEST_OPENAPI,
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
    job = await read_ingest_input(request, svc)
    if wants_stream(request, stream):
        events = _ingest_events(
            lambda progress: _run_ingest(request, job, progress), request_id(request)
        )
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    return await run_in_threadpool(_run_ingest, request, job)


@router.delete("/api/articles/{article_id:path}", response_model=s.Deleted, tags=["Articles"],
               dependencies=WRITES, summary="Delete an article",
               responses={404: {"model": s.ErrorBody, "description": "No such article"},
                          **BUSY, **ERRORS})
def delete_article(article_id: str, svc: Service) -> dict[str, str]:
    """Remove an article (by id or URL) with its passages."""
    if not svc.delete(article_id):
        raise HTTPException(404, f"no article {article_id!r}")
    return {"deleted": article_id}


@router.get("/api/health", response_model=s.Health, tags=["Operations"], summary="Health")
def health(request: Request, svc: Service) -> dict[str, Any]:
    """Liveness, index size (articles, chunks), model and version. Never needs a key; the
    index directory is shown only to a caller with the key, or on a loopback server whose
    reads are open (else `index` is null)."""
    found = svc.health()
    if not shows_details(request, svc.settings.api):
        found["index"] = None
    return found


@router.get("/metrics", response_class=PlainTextResponse, tags=["Operations"],
            summary="Prometheus metrics", dependencies=READS,
            responses={200: {"content": {"text/plain": {}}, "description": "Exposition text"},
                       401: {"description": s.ERRORS[401]["description"], "content": {
                           "application/json": {
                               "schema": {"$ref": "#/components/schemas/ErrorBody"}}}}})
def metrics(request: Request, svc: Service) -> PlainTextResponse:
    """Request counts and latency per route and status, index gauges, ingest counters; while
    the catalogue database is unavailable, the rest without the index gauges."""
    try:
        st = svc.stats()
    except CatalogueUnavailableError:
        st = None
    gauges: dict[str, tuple[str, float]] = {}
    if st:
        gauges["newsqa_index_articles"] = ("Articles in the index.", st["articles"])
        gauges["newsqa_index_chunks"] = ("Passages (chunks) in the index.", st["chunks"])
    gauges["newsqa_catalogue_up"] = (
        "Whether the catalogue database answered this scrape (1) or not (0).", int(bool(st)))
    text = request.app.state.metrics.render(gauges)
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
