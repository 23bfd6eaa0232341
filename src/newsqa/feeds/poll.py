"""Polling followed feeds into the archive.

A poll of one feed: a conditional GET (the ETag and Last-Modified of its last complete poll;
a 304 ends it there, with no parsing and no write), the document's items compared with those
already ingested (by key and fingerprint), then the new and changed ones in batches of
``NEWSQA_FEEDS__BATCH_ITEMS``: an item without full text has its article page fetched (when
robots.txt allows) and its main text extracted, and the batch goes through the service's ingest
(the writer lock, idempotent by URL and id, wire copies collapsed). Only after a batch is
committed are its items recorded in the feed store, and only after every item of the document
was handled are its validators; so a poll killed at any moment is done again by the next one,
which finds what was committed unchanged (nothing lost, nothing twice).

An item that cannot be fetched now (timeout, size cap, a 5xx) stays pending: it is reported and
tried again at the next poll. An item whose page robots.txt refuses is ingested from the text
the feed gives, if any, and reported.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any

from newsqa.feeds.fetch import Fetcher, FetchError, Stopped
from newsqa.feeds.parse import FeedError, FeedItem, parse_feed
from newsqa.feeds.store import Feed, FeedStore
from newsqa.index.store import IndexBusyError
from newsqa.ingest.clean import clean_text, decode_text
from newsqa.ingest.load import build_article, html_fields
from newsqa.models import Article, LoadProblem

log = logging.getLogger("newsqa.feeds")

PROBLEMS_KEPT = 20
BUSY_WAIT_S = 60.0  # how long a batch waits for another writer (an upload) before giving up
SNAPSHOT_EVERY_S = 600.0  # the vector snapshot is written at most this often while following
TICK_S = 5.0  # the follow loop looks for due and newly added feeds this often
HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")


@dataclass
class PollResult:
    """What one poll of one feed did."""

    url: str
    status: str  # ok | not modified | partial | error | stopped
    error: str | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    items: int = 0  # items in the document
    new_items: int = 0  # of them new or changed since the last poll
    pending: int = 0  # of those not handled (fetch failed): tried again next poll
    pages: int = 0  # article pages fetched
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """Whether anything was reported (an error or item problems)."""
        return self.status in ("error", "partial", "stopped")

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``newsqa follow --once --json``)."""
        d = asdict(self)
        d["seconds"] = round(self.seconds, 3)
        return d

    def line(self) -> str:
        """One readable line."""
        if self.status == "error":
            return f"{self.url}: error: {self.error}"
        if self.status == "not modified":
            return f"{self.url}: not modified"
        text = (f"{self.url}: {self.added} added, {self.updated} updated, {self.unchanged} "
                f"unchanged of {self.new_items} new or changed items ({self.items} in the feed)")
        if self.pending:
            text += f", {self.pending} pending"
        if self.problems:
            text += f"; {len(self.problems)} problem(s): {self.problems[0]}"
        return text


def _summary(problems: Sequence[str]) -> str | None:
    if not problems:
        return None
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more


def _batched(items: Sequence[FeedItem], n: int) -> Iterator[list[FeedItem]]:
    it = iter(items)
    while batch := list(islice(it, n)):
        yield batch


class Poller:
    """Polls the feeds of a :class:`FeedStore` into a service's index.

    ``interval`` overrides every feed's own interval (``newsqa follow --interval``). ``stop``
    ends waits and the follow loop; a batch being ingested is finished first.
    """

    def __init__(
        self,
        service: Any,
        store: FeedStore | None = None,
        interval: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.service = service
        self.settings = service.settings
        self.store = store or FeedStore(self.settings.index.path)
        self._own_store = store is None
        self.interval = interval
        self.stop = stop or threading.Event()
        self.fetcher = Fetcher(self.settings, self.stop)
        self.who = f"{socket.gethostname()} pid {os.getpid()}"
        self._written_since_snapshot = False
        self._last_snapshot = time.monotonic()
        self._following = False  # in run(): heartbeats tell /api/feeds a follower is on

    def close(self) -> None:
        """Write a pending vector snapshot and release the HTTP pools (and the store, if this
        poller opened it)."""
        self.snapshot(force=True)
        self.fetcher.close()
        if self._own_store:
            self.store.close()

    def interval_of(self, feed: Feed) -> float:
        """Seconds between polls of ``feed``."""
        return float(self.interval or feed.interval or self.settings.feeds.interval)

    # ------------------------------------------------------------------ loop
    def poll_all(self, urls: Sequence[str] | None = None) -> list[PollResult]:
        """Poll every followed feed (or those of ``urls``) once, in the order added."""
        out = []
        for feed in self.store.list():
            if self.stop.is_set():
                break
            if urls is None or feed.url in urls:
                out.append(self.poll(feed))
        return out

    def run(self) -> None:
        """Poll each feed whenever it is due, until stopped (feeds added meanwhile, by another
        process too, are picked up within a few seconds)."""
        self._following = True
        try:
            self._loop()
        finally:
            self._following = False
            self.store.beat(self.who, stopped=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - the follower outlives a bad moment (a locked file)
                log.exception("feed follower: a round of polls failed; trying again")
            self.stop.wait(TICK_S)

    def _tick(self) -> None:
        self.store.beat(self.who)
        now = time.time()
        for feed in self.store.list():
            if self.stop.is_set():
                break
            if (feed.last_poll or 0) + self.interval_of(feed) <= now:
                self.poll(feed)
                now = time.time()
        self.snapshot()

    def snapshot(self, force: bool = False) -> None:
        """Write the vector snapshot if something was written since the last one and
        ``SNAPSHOT_EVERY_S`` passed (``force``: whenever something was written)."""
        if not self._written_since_snapshot:
            return
        if not force and time.monotonic() - self._last_snapshot < SNAPSHOT_EVERY_S:
            return
        try:
            self.service.index.save_snapshot()
        except IndexBusyError:
            return  # the writer holding the lock writes its own
        self._written_since_snapshot = False
        self._last_snapshot = time.monotonic()

    # ------------------------------------------------------------------ one feed
    def poll(self, feed: Feed) -> PollResult:
        """Poll ``feed`` once; never raises for a network, feed or item problem."""
        t0 = time.perf_counter()
        guarded = feed.added_by == "api" and not self.settings.feeds.allow_private
        result = PollResult(feed.url, "ok")
        try:
            self._poll(feed, guarded, result)
        except Stopped:
            result.status, result.error = "stopped", "stopped before the poll ended"
        except IndexBusyError as exc:
            self._fail(result, f"index busy: {exc}")
        except Exception as exc:  # noqa: BLE001 - one bad feed must not stop the others
            log.exception("poll of %s failed", feed.url)
            self._fail(result, f"{type(exc).__name__}: {exc}")
        result.seconds = time.perf_counter() - t0
        level = logging.WARNING if result.status == "error" else logging.INFO
        log.log(level, "%s", result.line(), extra={"feed": feed.url, "status": result.status})
        return result

    def _fail(self, result: PollResult, error: str) -> None:
        result.status, result.error = "error", error
        self.store.record_poll(result.url, "error", error)

    def _poll(self, feed: Feed, guarded: bool, result: PollResult) -> None:
        headers = {}
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
        try:
            resp = self.fetcher.get(feed.url, headers, guarded=guarded)
        except FetchError as exc:
            return self._fail(result, str(exc))
        if resp.status == 304:
            result.status = "not modified"
            self.store.record_poll(feed.url, "not modified", None)
            return None
        if not 200 <= resp.status < 300:
            return self._fail(result, f"HTTP {resp.status} from {resp.url}")
        try:
            parsed = parse_feed(resp.body, resp.headers.get("content-type", ""))
        except FeedError as exc:
            return self._fail(result, str(exc))
        seen = self.store.seen(feed.url)
        todo = [it for it in parsed.items if seen.get(it.key) != it.fingerprint]
        result.items, result.new_items = len(parsed.items), len(todo)
        for batch in _batched(todo, self.settings.feeds.batch_items):
            self._ingest_batch(feed, batch, guarded, result)
            if self._following:
                self.store.beat(self.who)
        complete = result.pending == 0
        validators = (resp.headers.get("etag"), resp.headers.get("last-modified"))
        result.status = "ok" if not result.problems else "partial"
        self.store.record_poll(
            feed.url, result.status, _summary(result.problems), title=parsed.title,
            validators=validators if complete else (None, None),
        )
        return None

    def _ingest_batch(
        self, feed: Feed, batch: list[FeedItem], guarded: bool, result: PollResult
    ) -> None:
        records: list[Article | LoadProblem] = []
        handled: list[FeedItem] = []
        for item in batch:
            got = self._records(feed, item, guarded, result)
            if got is None:
                result.pending += 1
                continue
            records.extend(got)
            handled.append(item)
        if not handled:
            return
        report = self._ingest(records)
        self._written_since_snapshot = True
        ids = {row["origin"]: row["id"] for row in report.items}
        for p in report.problems:
            self._problem(result, f"{p.reason} ({p.path})")
        self.store.commit_items(
            feed.url,
            [(it.key, it.fingerprint, ids.get(self._origin(feed, it))) for it in handled],
            report.added, report.updated,
        )
        result.added += report.added
        result.updated += report.updated
        result.unchanged += report.unchanged

    def _ingest(self, records: list[Article | LoadProblem]) -> Any:
        deadline = time.monotonic() + BUSY_WAIT_S
        while True:
            try:
                return self.service.ingest_records(records, snapshot=False)
            except IndexBusyError:
                if time.monotonic() > deadline:
                    raise
                if self.stop.wait(2.0):
                    raise Stopped() from None

    @staticmethod
    def _origin(feed: Feed, item: FeedItem) -> str:
        return f"{feed.url} [{item.key}]"

    def _problem(self, result: PollResult, text: str) -> None:
        if len(result.problems) < PROBLEMS_KEPT:
            result.problems.append(text)

    def _records(
        self, feed: Feed, item: FeedItem, guarded: bool, result: PollResult
    ) -> list[Article | LoadProblem] | None:
        """The item as ingest records (its page fetched when it has no full text); None when
        its page cannot be fetched now (pending)."""
        fields = dict(item.fields)
        if not item.full_text and item.url:
            try:
                page = self._page(item.url, guarded, result)
            except FetchError as exc:
                self._problem(result, f"{item.url}: {exc}")
                return None
            if page is None:
                has_text = bool(clean_text(str(fields.get("text") or "")))
                used = "; the feed's text is used" if has_text else ""
                self._problem(result, f"{item.url}: robots.txt disallows fetching the page{used}")
            else:
                fields = _merge(fields, page)
        return list(build_article(
            fields, path=feed.url, origin=self._origin(feed, item),
            max_bytes=self.settings.ingest.max_article_bytes,
        ))

    def _page(self, url: str, guarded: bool, result: PollResult) -> dict[str, Any] | None:
        """The canonical fields of an article page; None when robots.txt refuses it."""
        if not self.fetcher.allowed(url, guarded):
            return None
        resp = self.fetcher.get(url, guarded=guarded, page=True)
        result.pages += 1
        if not 200 <= resp.status < 300:
            raise FetchError(f"HTTP {resp.status}")
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in HTML_TYPES:
            raise FetchError(f"not an HTML page ({ctype})")
        try:
            return html_fields(decode_text(resp.body))
        except Exception as exc:  # noqa: BLE001 - any unreadable page is one item's problem
            raise FetchError(f"cannot read the page: {exc}") from None


def _merge(feed_fields: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
    """The feed's fields, with the page's main text when it is longer and the page's title,
    date and authors where the feed has none."""
    out = dict(feed_fields)
    page_text = clean_text(str(page.get("text") or ""))
    if len(page_text) > len(clean_text(str(out.get("text") or ""))):
        out["text"] = page_text
    for key in ("title", "date", "authors"):
        if not out.get(key) and page.get(key):
            out[key] = page[key]
    return out
