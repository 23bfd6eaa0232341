"""``/api/watches``: watched questions, their notices, their event stream and their Atom feeds.

A watch is a question answered now and again whenever news arrives that could change its answer
(:mod:`newsqa.watch`); a notice says what changed. Each watch has an owner, and a request sees
only its owner's watches. The owner of a request is:

* ``key:`` and the first 16 hex digits of the key's SHA-256, when the server has an API key and
  the request gives it (``Authorization: Bearer``; a wrong key is 401);
* else ``client:<id>`` for the client id in the ``X-Newsqa-Client`` header or, failing that,
  the ``newsqa_client`` cookie (16 to 64 of ``A-Z a-z 0-9 _ -``; a malformed one is 422): the
  chat page's id of its browser, kept server-side so unread marks follow it;
* else ``local``, the owner of the command line's watches (``newsqa watch``).

Every route here is a read (it needs the key only with ``NEWSQA_API__KEY_READS``), so watches
work wherever questions can be asked; giving a watch a webhook also needs what a write needs
(the key when one is set; refused with 403 on a keyless server listening on a non-loopback
address), because the server will send requests to it. A webhook URL goes through the feeds'
address guard: one on a loopback, private or link-local address is refused with 422 unless
``NEWSQA_WATCH__WEBHOOK_ALLOW_HOSTS`` lists it. Past ``max_per_owner`` or ``max_total`` watches a
new one is refused with 409 (no ``Retry-After``: remove a watch first).

``GET /api/watches/events`` answers a poll (the notices after ``after``, as JSON), or with
``Accept: text/event-stream`` stays open as Server-Sent Events, looking for new notices in the
store about once a second (so it sees those of other processes and nodes too).
``GET /api/watches/{id}/feed.xml`` is the one route without an owner check: a watch's id is 128
random bits, and knowing it is what lets a feed reader subscribe.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import anyio
from fastapi import (
    APIRouter,
    Cookie,
    Depends,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
)
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from newsqa.api import schemas as s
from newsqa.api.dependencies import (
    READS,
    Credentials,
    ReadCredentials,
    Service,
    check_question,
    key_owner,
    require_write,
)
from newsqa.api.derive import response_model
from newsqa.api.middleware import failure, request_id
from newsqa.api.routes.feeds import HttpURL
from newsqa.api.sse import SSE_HEADERS, sse
from newsqa.feeds.guard import FeedURLError
from newsqa.feeds.redact import redact_text
from newsqa.records import Filters
from newsqa.service import NewsQA
from newsqa.watch.deliver import check_webhook
from newsqa.watch.feed import MEDIA_TYPE, atom
from newsqa.watch.records import Notice
from newsqa.watch.watches import WatchLimitError

CLIENT_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
#: Seconds between looks for new notices in the event stream, and between keep-alive comments.
POLL_S, KEEP_ALIVE_S = 1.0, 15.0
#: How far back each look reaches again (a notice another process committed late is not lost).
LOOKBACK_S = 60.0
#: Notices listed at most (a watch's detail, a poll, each look of the stream, a feed).
LIMIT = 100


class WatchIn(BaseModel):
    """A question to watch, within optional filters (``as_of`` has no meaning for a watch)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"question": "Who will lead the Main Street bridge repair?"},
        {"question": "What did the central bank decide on rates?", "since": "2023-01-01",
         "sources": ["money.example.com"], "webhook": "https://hooks.example.com/newsqa"},
    ]})
    question: str = Field(min_length=1, json_schema_extra={"pattern": s.NOT_BLANK},
                          description="The question: not blank, at most max_question_chars")
    since: s.IsoDate | None = Field(None, description="Only articles published on or after "
                                    f"this day ({s.DATE_ORDER})")
    until: s.IsoDate | None = Field(None, description="Only articles published on or before "
                                    f"this day ({s.DATE_ORDER})")
    sources: list[s.Outlet] | None = Field(None, min_length=1, max_length=50,
                                           description="Only these outlets (domains)")
    webhook: HttpURL | None = Field(None, description=(
        "Where each notice is POSTed as JSON ({watch, notice, answer_url}), retried with "
        "back-off; needs write access (the key when the server has one), and one on a "
        "loopback, private or link-local address is refused (422) unless the server allows it"))

    @model_validator(mode="after")
    def _range(self) -> WatchIn:
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"since ({self.since}) is after until ({self.until})")
        return self


class WatchFilters(BaseModel):
    """The filters a watch's question is answered within (only those set)."""

    since: str | None = None
    until: str | None = None
    sources: list[str] | None = None


class WatchOut(BaseModel):
    """A watched question (times ISO 8601, UTC)."""

    id: str = Field(description="The watch's id (128 random bits: its feed's URL holds it)")
    question: str
    filters: WatchFilters
    created_at: str | None
    webhook: str | None = Field(description="Where its notices are POSTed, if anywhere")
    notices: int = Field(description="Notices given")
    unread: int = Field(description="Notices not marked read")
    answered: bool = Field(description="Whether the answer shown last answers (no abstention)")
    shown_at: str | None = Field(description="When the answer shown last was given")


class WatchAnswered(WatchOut):
    """A watched question and the answer shown for it now (null before the first)."""

    answer: s.Answer | None


# A notice as the API writes it, derived from the record (mypy sees a model of its own).
if TYPE_CHECKING:
    class NoticeOut(BaseModel):
        """A notice."""
else:
    NoticeOut = response_model(Notice, "NoticeOut", all_required=True)


class NoticeEvent(NoticeOut):
    """A notice with its watch's question (the event stream's ``notice`` event)."""

    question: str


class WatchList(BaseModel):
    """The caller's watches, oldest first."""

    watches: list[WatchOut]


class WatchDetail(BaseModel):
    """A watch with its answer, and its notices newest first (the latest 100)."""

    watch: WatchAnswered
    notices: list[NoticeOut]


class NoticeList(BaseModel):
    """The caller's notices created after ``after``, newest first (the latest 100)."""

    notices: list[NoticeEvent]


class ReadOut(BaseModel):
    """How many notices were unread."""

    read: int


CLIENT_DOC = ("The caller's client id (the chat page's id of its browser): whose watches "
              "these are when no API key is given")


def watch_owner(
    svc: Service, creds: ReadCredentials,
    # typed str, default None: the page shows a string (a header is never null)
    client: str = Header(None, alias="X-Newsqa-Client", pattern=CLIENT_PATTERN,
                         description=CLIENT_DOC),
    cookie: str = Cookie(None, alias="newsqa_client", pattern=CLIENT_PATTERN,
                         description=CLIENT_DOC + " (when X-Newsqa-Client is not sent)"),
) -> str:
    """The owner of a request (see the module's docstring)."""
    by_key = key_owner(svc, creds)
    if by_key is not None:
        return by_key
    given = client or cookie
    return f"client:{given}" if given else "local"


Owner = Annotated[str, Depends(watch_owner)]
#: A watch's id: 32 hex digits (128 random bits), also taken in the dashed UUID form.
WatchId = Annotated[UUID, Path(description="The watch's id (32 hex digits)")]
router = APIRouter(tags=["Watches"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": s.ErrorBody, "description": "No such watch of the caller's"},
}
ADD_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": s.ErrorBody, "description": "A webhook on a server that refuses writes"},
    409: {"model": s.ErrorBody, "description": "The caller (or the index) keeps as many "
          "watches as allowed: remove one first"},
    **s.ERRORS,
}
EVENTS_DOC: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": {
    "example": 'retry: 3000\n\nid: 1717000000.25\nevent: notice\ndata: {"id": "…", '
    '"watch_id": "…", "seq": 2, "kind": "new", "text": "… [1]", "question": "…", …}\n\n'
    ": keep-alive\n\n"}}, "description": "The notices (JSON), or with Accept: "
    "text/event-stream, Server-Sent Events"}}
FEED_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
          "description": "An Atom 1.0 feed"},
    304: {"description": "Not modified since the ETag given in If-None-Match"},
    **NOT_FOUND,
}


def _webhook(svc: NewsQA, url: str) -> str:
    """``url`` checked by :func:`~newsqa.watch.deliver.check_webhook`; 422 when refused."""
    try:
        return check_webhook(url, svc.settings.watch.webhook_allow_hosts)
    except FeedURLError as exc:
        raise HTTPException(422, redact_text(str(exc))) from None


@router.post("/api/watches", response_model=WatchAnswered, status_code=201, dependencies=READS,
             summary="Watch a question", responses=ADD_ERRORS)
def add_watch(body: WatchIn, svc: Service, owner: Owner, request: Request,
              creds: Credentials) -> dict[str, Any]:
    """Answer the question now and keep watching it: when articles are added, updated or
    deleted, it is asked again if the new passages could answer it, and a notice is recorded
    when the answer changed (201, with the answer shown now). A `webhook` needs write access
    (the key when the server has one) and a public address (422 otherwise, unless the server
    allows it); 409 past the number of watches allowed."""
    webhook = None
    if body.webhook is not None:
        require_write(request, svc, creds)
        webhook = _webhook(svc, body.webhook)
    question = check_question(svc, body.question)
    filters = Filters(since=body.since, until=body.until, sources=body.sources)
    try:
        watch = svc.watches.add(question, filters, owner, webhook)
    except WatchLimitError as exc:
        raise HTTPException(409, str(exc)) from None
    return watch.to_dict(answer=True)


@router.get("/api/watches", response_model=WatchList, dependencies=READS,
            summary="The caller's watches", responses=s.ERRORS)
def list_watches(svc: Service, owner: Owner) -> dict[str, Any]:
    """The caller's watched questions, oldest first, each with its count of unread notices."""
    return {"watches": [w.to_dict() for w in svc.watches.all(owner)]}


def _timestamp(value: float | datetime) -> float:
    """Unix seconds of ``value`` (a naive time is UTC); 422 for one out of range."""
    if isinstance(value, float):
        return value
    try:
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    except (OverflowError, ValueError, OSError):
        raise HTTPException(422, f"after is out of range: {value}") from None


def _resume(last_event_id: str | None) -> float | None:
    try:
        return float(last_event_id) if last_event_id else None
    except ValueError:
        return None


class _Questions:
    """The questions of an owner's watches, looked up again when a notice names a new one."""

    def __init__(self, svc: NewsQA, owner: str) -> None:
        self.svc, self.owner = svc, owner
        self.known: dict[str, str] = {}

    def of(self, notices: list[Notice]) -> dict[str, str]:
        """Watch id → question, covering the watches of ``notices``."""
        if any(n.watch_id not in self.known for n in notices):
            self.known = {w.id: w.question for w in self.svc.watches.all(self.owner)}
        return self.known


def _event(notice: Notice, questions: dict[str, str]) -> dict[str, Any]:
    return {**notice.to_dict(), "question": questions.get(notice.watch_id, "")}


async def _stream(request: Request, svc: NewsQA, owner: str, start: float) -> AsyncIterator[str]:
    """The ``notice`` events of ``owner``'s notices created after ``start``, as they appear
    (in this process or any other), until the client leaves or the server stops."""
    stopping = request.app.state.stopping
    seen: dict[str, float] = {}
    cursor = start
    questions = _Questions(svc, owner)
    yield "retry: 3000\n\n"
    quiet_since = time.monotonic()
    try:
        while not stopping.is_set() and not await request.is_disconnected():
            found = await run_in_threadpool(
                svc.watches.notices, None, owner, max(start, cursor - LOOKBACK_S), LIMIT)
            fresh = [n for n in reversed(found) if n.id not in seen]
            if fresh:
                names = await run_in_threadpool(questions.of, fresh)
                for n in fresh:
                    seen[n.id] = n.created_at
                    cursor = max(cursor, n.created_at)
                    yield f"id: {n.created_at!r}\n" + sse("notice", _event(n, names))
                quiet_since = time.monotonic()
                seen = {k: t for k, t in seen.items() if t > cursor - LOOKBACK_S}
            elif time.monotonic() - quiet_since >= KEEP_ALIVE_S:
                yield ": keep-alive\n\n"
                quiet_since = time.monotonic()
            await anyio.sleep(POLL_S)
    except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
        yield sse("error", failure(exc, request_id(request)))


@router.get("/api/watches/events", response_model=NoticeList, dependencies=READS,
            summary="New notices, polled or as Server-Sent Events",
            responses={**EVENTS_DOC, **s.ERRORS})
def watch_events(
    request: Request, svc: Service, owner: Owner,
    after: Annotated[float | datetime | None, Query(description=(
        "Only notices created after this time: Unix seconds or ISO 8601 (UTC when no offset "
        "is given). Default: all (a poll), now (a stream)"))] = None,
    last_event_id: str = Header(
        None, alias="Last-Event-ID", max_length=100,
        description="Where a reconnecting event stream resumes (the id of the last event "
        "received, as EventSource sends it); `after` wins when both are given"),
) -> Any:
    """The caller's notices created after `after`, newest first, each with its watch's
    question. With `Accept: text/event-stream` (as EventSource sends it) the stream stays open
    instead: a `notice` event (the notice and its `question`; the event's id is its time, for
    resuming) for each new notice of the caller's watches, whichever process or node recorded
    it, seen within about a second; a `: keep-alive` comment every 15 seconds of quiet; `error`
    (`detail`, `status`) if it fails. It ends when the client leaves or the server stops."""
    since = _timestamp(after) if after is not None else _resume(last_event_id)
    if "text/event-stream" in request.headers.get("accept", ""):
        start = time.time() if since is None else since
        return StreamingResponse(_stream(request, svc, owner, start),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    found = svc.watches.notices(owner=owner, after=since or 0.0, limit=LIMIT)
    names = _Questions(svc, owner).of(found)
    return {"notices": [_event(n, names) for n in found]}


def _missing(watch_id: str) -> HTTPException:
    return HTTPException(404, f"no watch {watch_id}")


@router.get("/api/watches/{watch_id:uuid}", response_model=WatchDetail, dependencies=READS,
            summary="A watch, its answer and its notices", responses={**NOT_FOUND, **s.ERRORS})
def get_watch(watch_id: WatchId, svc: Service, owner: Owner) -> dict[str, Any]:
    """One of the caller's watches with the answer shown for it, and its notices, newest
    first (the latest 100)."""
    watch = svc.watches.get(watch_id.hex, owner)
    if watch is None:
        raise _missing(watch_id.hex)
    notices = svc.watches.notices(watch.id, owner, limit=LIMIT)
    return {"watch": watch.to_dict(answer=True), "notices": [n.to_dict() for n in notices]}


@router.delete("/api/watches/{watch_id:uuid}", status_code=204, response_class=Response,
               dependencies=READS, summary="Stop watching a question",
               responses={**NOT_FOUND, **s.ERRORS})
def delete_watch(watch_id: WatchId, svc: Service, owner: Owner) -> Response:
    """Remove one of the caller's watches and its notices (204)."""
    if not svc.watches.remove(watch_id.hex, owner):
        raise _missing(watch_id.hex)
    return Response(status_code=204)


@router.post("/api/watches/{watch_id:uuid}/read", response_model=ReadOut, dependencies=READS,
             summary="Mark a watch's notices read", responses={**NOT_FOUND, **s.ERRORS})
def read_watch(watch_id: WatchId, svc: Service, owner: Owner) -> dict[str, int]:
    """Mark every notice of one of the caller's watches read; how many were unread."""
    if svc.watches.get(watch_id.hex, owner) is None:
        raise _missing(watch_id.hex)
    return {"read": svc.watches.mark_read(watch_id.hex, owner)}


@router.get("/api/watches/{watch_id:uuid}/feed.xml", response_class=Response, dependencies=READS,
            summary="A watch's notices as an Atom feed", responses={**FEED_DOC, **s.ERRORS})
def watch_feed(
    watch_id: WatchId, svc: Service, request: Request,
    if_none_match: str = Header(None, max_length=1000, description=(
        "The ETag of the feed last fetched: 304 when it is unchanged")),
) -> Response:
    """The watch's notices, newest first (the latest 100), as Atom 1.0 for a feed reader:
    each entry titled with what changed and the question, its content the notice's sentences
    with `[n]` and the articles they cite. Whoever knows the watch's id may read it (the id is
    128 random bits); the key is needed only as for every read."""
    watch = svc.watches.get(watch_id.hex)
    if watch is None:
        raise _missing(watch_id.hex)
    base = svc.settings.watch.public_url or str(request.base_url)
    body = atom(watch, svc.watches.notices(watch.id, limit=LIMIT), base)
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPE, headers=headers)
