"""``/api/feeds``: the followed feeds, their status, and adding and removing them.

``GET`` lists every feed with its last poll, last error and counts, whether a follower is
running, and how fresh the archive is; ``POST`` (a URL, optionally an interval) and ``DELETE``
are writes and need the API key when one is set. A URL given here goes through the address
guard (:mod:`newsqa.feeds.guard`): one on a loopback, link-local or private address is refused
with 422 unless ``NEWSQA_FEEDS__ALLOW_HOSTS`` lists it (or ``NEWSQA_FEEDS__ALLOW_PRIVATE`` turns
the guard off). Polling is done by ``serve --follow`` (or a separate ``newsqa follow``), which
picks up a feed added here within seconds. :func:`collect_metrics` adds the feeds' series to
``/metrics``. A feed URL is shown redacted everywhere here
(:func:`~newsqa.feeds.redact.redact_url`: no userinfo, no token-like query values).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from newsqa.api import schemas as s
from newsqa.api.dependencies import READS, WRITES, Service
from newsqa.api.metrics import family
from newsqa.feeds.guard import FeedURLError, check_public, check_url
from newsqa.feeds.redact import redact_text, redact_url
from newsqa.feeds.status import feeds_status, follower_state
from newsqa.feeds.store import Feed, FeedStore

_PORT = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
URL_PATTERN = rf"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._~%-]+(:{_PORT})?([/?#][!-~]*)?$"
"""What a feed URL looks like: http(s), a host name or IPv4 address, a port that is one, and
printable ASCII (non-ASCII percent-encoded)."""
_URL = re.compile(URL_PATTERN[1:-1])


def _http_url(value: str) -> str:
    """The URL when it matches :data:`URL_PATTERN` (the page's pattern, with a readable
    refusal)."""
    if not _URL.fullmatch(value):
        raise ValueError("must be an http:// or https:// URL with a host name or IPv4 address, "
                         "in printable ASCII")
    return value


#: A URL the server will request (a feed's, a webhook's), as the page states it.
HttpURL = Annotated[str, AfterValidator(_http_url), Field(
    min_length=1, max_length=2000, json_schema_extra={"pattern": URL_PATTERN})]


class FeedIn(BaseModel):
    """A feed to follow."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"url": "https://example.com/news/rss.xml", "interval": 900},
    ]})
    url: HttpURL = Field(
        ...,
        description="An RSS 2.0, Atom or JSON Feed URL (http or https); one on a loopback, "
        "link-local or private address is refused (422) unless the server allows them",
    )
    interval: float | None = Field(
        None, ge=1, le=7 * 86400, strict=True,
        description="Seconds between polls (default NEWSQA_FEEDS__INTERVAL, 900)",
    )


class GivenUpOut(BaseModel):
    """An item of a feed given up: its page failed too often, or can never be read."""

    item: str = Field(description="The item's link (else its id in the feed)")
    error: str = Field(description="Why its last fetch failed")
    failures: int
    at: str | None = Field(None, description="When it was given up")


class FeedOut(BaseModel):
    """A followed feed and the outcome of its polls (times ISO 8601, UTC)."""

    id: str = Field(description="Short stable id (DELETE /api/feeds/{id})")
    url: str = Field(description="The feed's URL, its userinfo and token-like query values "
                     "shown as ***")
    added_by: str = Field(description="cli (command line, file) or api")
    added_at: str | None
    interval: float
    title: str | None = None
    last_poll: str | None = None
    last_success: str | None = None
    last_status: str | None = Field(None, description="ok, not modified, partial or error")
    last_error: str | None = None
    polls: int = 0
    errors: int = 0
    items_added: int = 0
    items_updated: int = 0
    items_seen: int = 0
    items_pending: int = Field(0, description="Items still to do (a page that failed, waiting "
                               "its back-off, or left over by a poll past its budget)")
    items_given_up: int = Field(0, description="Items given up (see given_up)")
    given_up: list[GivenUpOut] = Field(default_factory=list,
                                       description="The latest items given up")


class FollowerOut(BaseModel):
    """The process polling the feeds, if one is running."""

    active: bool
    last_seen: str | None = None
    who: str | None = None


class FeedList(BaseModel):
    """Every followed feed, the follower, and the archive's freshness."""

    feeds: list[FeedOut]
    follower: FollowerOut
    last_success: str | None = Field(None, description="The latest successful poll of any feed")
    articles: int | None = None
    latest_published: str | None = Field(None, description="Newest publication date held")


class FeedDeleted(BaseModel):
    """The URL of the feed no longer followed."""

    deleted: str


def store_of(app: FastAPI, svc: Any) -> FeedStore:
    """The app's feed store (opened on first use, in the service's index directory)."""
    store: FeedStore | None = getattr(app.state, "feed_store", None)
    if store is None:
        store = app.state.feed_store = FeedStore(svc.index.path)
    return store


router = APIRouter(tags=["Feeds"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": s.ErrorBody, "description": "No such feed"},
}


@router.get("/api/feeds", response_model=FeedList, dependencies=READS,
            summary="Followed feeds and their status", responses=s.ERRORS)
def list_feeds(svc: Service, request: Request) -> dict[str, Any]:
    """Every followed feed: last poll, last success, last status and error, items added
    and updated; whether a follower is polling them; the archive's newest date."""
    return feeds_status(store_of(request.app, svc), svc.settings.feeds.interval, svc.stats())


@router.post("/api/feeds", response_model=FeedOut, status_code=201, dependencies=WRITES,
             summary="Follow a feed",
             responses={200: {"model": FeedOut, "description": "Already followed"}, **s.ERRORS})
def add_feed(body: FeedIn, response: Response, svc: Service, request: Request) -> dict[str, Any]:
    """Add an RSS, Atom or JSON Feed URL to the list (201; 200 if it was there, its
    interval updated when given). 422 for a URL that is not http(s), or whose host is a
    loopback, link-local or private address (unless the server allows them)."""
    try:
        url = check_url(body.url)
        if not svc.settings.feeds.allow_private:
            check_public(url, svc.settings.feeds.allow_hosts)
    except FeedURLError as exc:
        raise HTTPException(422, redact_text(str(exc))) from None
    feed, new = store_of(request.app, svc).add(url, "api", body.interval)
    if not new:
        response.status_code = 200
    return feed.to_dict(svc.settings.feeds.interval)


@router.delete("/api/feeds/{feed:path}", response_model=FeedDeleted, dependencies=WRITES,
               summary="Stop following a feed", responses={**NOT_FOUND, **s.ERRORS})
def delete_feed(feed: str, svc: Service, request: Request) -> dict[str, str]:
    """Remove a feed (by id or URL) from the list; its articles stay in the archive."""
    url = store_of(request.app, svc).remove(feed)
    if url is None:
        raise HTTPException(404, f"no feed {feed!r}")
    return {"deleted": redact_url(url)}


def _labels(feeds: list[Feed]) -> list[dict[str, str]]:
    """Each feed's label: its redacted URL, with its id where two would read the same."""
    shown = [redact_url(f.url) for f in feeds]
    return [{"feed": name if shown.count(name) == 1 else f"{name} ({f.id})"}
            for name, f in zip(shown, feeds, strict=True)]


def feed_metrics(store: FeedStore) -> list[str]:
    """The feeds' Prometheus series (URLs redacted): counts, last poll and success times, up,
    totals, items pending and given up."""
    feeds = store.list()
    lab = _labels(feeds)
    out = family("newsqa_feeds", "gauge", "Feeds followed.", [({}, len(feeds))])
    out += family("newsqa_feed_follower_up", "gauge",
                  "1 while a follower (serve --follow, newsqa follow) polls the feeds.",
                  [({}, int(follower_state(store)["active"]))])
    out += family("newsqa_feed_up", "gauge", "1 when the feed's last poll did not fail.",
                  [(la, int(f.last_status != "error")) for la, f in zip(lab, feeds, strict=True)
                   if f.last_poll])
    out += family("newsqa_feed_last_poll_timestamp_seconds", "gauge",
                  "Unix time of the feed's last poll.",
                  [(la, f.last_poll) for la, f in zip(lab, feeds, strict=True) if f.last_poll])
    out += family("newsqa_feed_last_success_timestamp_seconds", "gauge",
                  "Unix time of the feed's last poll that did not fail.",
                  [(la, f.last_success) for la, f in zip(lab, feeds, strict=True)
                   if f.last_success])
    out += family("newsqa_feed_polls_total", "counter", "Polls of the feed.",
                  [(la, f.polls) for la, f in zip(lab, feeds, strict=True)])
    out += family("newsqa_feed_errors_total", "counter", "Failed polls of the feed.",
                  [(la, f.errors) for la, f in zip(lab, feeds, strict=True)])
    out += family("newsqa_feed_items_total", "counter", "Articles the feed added or updated.",
                  [({**la, "status": st}, n) for la, f in zip(lab, feeds, strict=True)
                   for st, n in (("added", f.items_added), ("updated", f.items_updated))])
    out += family("newsqa_feed_pending_items", "gauge",
                  "Items of the feed still to do (pending) or given up.",
                  [({**la, "state": st}, n) for la, f in zip(lab, feeds, strict=True)
                   for st, n in (("pending", f.items_pending), ("given_up", f.items_given_up))])
    return out


def collect_metrics(app: FastAPI) -> None:
    """Add the feeds' series to ``app``'s ``/metrics``."""
    app.state.metrics.add_collector(lambda: feed_metrics(store_of(app, app.state.service)))
