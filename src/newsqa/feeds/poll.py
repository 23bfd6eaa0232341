"""Polling followed feeds into the archive.

A poll of one feed: a conditional GET (the ETag and Last-Modified of its last poll; a 304
means no parsing), the document's items compared with those already ingested (by key and
fingerprint) and the new and changed ones kept as pending in the feed store together with the
validators; then the pending items that are due, in batches of ``NEWSQA_FEEDS__BATCH_ITEMS``: an
item without full text has its article page fetched (when robots.txt allows) and its main text
extracted, and the batch goes through the service's ingest (the writer lock, idempotent by URL
and id, wire copies collapsed). Only after a batch is committed are its items recorded as seen,
so a poll killed at any moment is done again by the next one, which finds what was committed
unchanged (nothing lost, nothing twice).

A poll is bounded (``NEWSQA_FEEDS__POLL_SECONDS``, ``__POLL_PAGES``): past its budget no page
is fetched and the items left wait for the next poll. An item whose page cannot be fetched now
(timeout, size cap, a 5xx) is reported and tried again after a back-off that doubles
(``__ITEM_BACKOFF``), and given up after ``__ITEM_ATTEMPTS`` failures; a page that can never be
read (404, 410, another 4xx, not HTML) is given up at once. A given-up item, like one whose
page robots.txt refuses, is ingested from the text the feed gives, if any, and reported. Up to
``__PARALLEL`` feeds are polled at once, so a feed whose server hangs holds up no other, and a
feed with items left over for lack of budget is polled again within a minute.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any

from newsqa.feeds.fetch import Blocked, Fetcher, FetchError, NotHTML, Stopped
from newsqa.feeds.parse import FeedError, FeedItem, ParsedFeed, parse_feed
from newsqa.feeds.redact import redact_text, redact_url
from newsqa.feeds.result import PollResult, summary
from newsqa.feeds.store import Feed, FeedStore
from newsqa.index.store import IndexBusyError
from newsqa.ingest.clean import clean_text, decode_text
from newsqa.ingest.load import build_article, html_fields
from newsqa.records import Article, LoadProblem

log = logging.getLogger("newsqa.feeds")

BUSY_WAIT_S = 60.0  # how long a batch waits for another writer (an upload) before giving up
SNAPSHOT_EVERY_S = 600.0  # the vector snapshot is written at most this often while following
TICK_S = 5.0  # the follow loop looks for due and newly added feeds this often
BACKLOG_S = 60.0  # a feed whose last poll left items for lack of budget is due again this soon
RETRY_4XX = (408, 425, 429)  # client errors that may pass: the others are given up at once
NEVER = (Blocked, NotHTML)  # with Unreadable: fetch errors that trying again cannot mend

__all__ = ["Poller", "PollResult", "Unreadable"]


class Unreadable(FetchError):
    """An article page that will never be read (gone, refused, not HTML): given up at once."""


def _batched(items: Sequence[FeedItem], n: int) -> Iterator[list[FeedItem]]:
    it = iter(items)
    while batch := list(islice(it, n)):
        yield batch


class Poller:
    """Polls the feeds of a :class:`FeedStore` into a service's index, up to
    ``NEWSQA_FEEDS__PARALLEL`` feeds at a time (their ingests one after another).

    ``interval`` overrides every feed's own interval (``newsqa follow --interval``). ``stop``
    ends waits and the follow loop; a batch being ingested is finished first. ``clock`` (Unix
    seconds) times items' back-off; tests may replace it.
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
        self._write_lock = threading.Lock()  # one ingest or snapshot at a time
        self._running: dict[str, Future[PollResult]] = {}
        self._backlog: set[str] = set()  # feeds whose last poll ran out of budget
        self.clock: Callable[[], float] = time.time

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
        """Poll every followed feed (or those of ``urls``) once, several at a time; the
        results in the order the feeds were added (none for a feed not polled once stopped)."""
        feeds = [f for f in self.store.list() if urls is None or f.url in urls]
        if not feeds:
            return []
        with ThreadPoolExecutor(min(len(feeds), self.settings.feeds.parallel),
                                thread_name_prefix="newsqa-poll") as pool:
            futures = [pool.submit(self._poll_unless_stopped, f) for f in feeds]
            results = [f.result() for f in futures]
        return [r for r in results if r is not None]

    def _poll_unless_stopped(self, feed: Feed) -> PollResult | None:
        return None if self.stop.is_set() else self.poll(feed)

    def run(self) -> None:
        """Poll each feed whenever it is due, until stopped (feeds added meanwhile, by another
        process too, are picked up within a few seconds); a feed still being polled is not
        started again, and up to ``NEWSQA_FEEDS__PARALLEL`` are polled at once."""
        self._following = True
        pool = ThreadPoolExecutor(self.settings.feeds.parallel, thread_name_prefix="newsqa-poll")
        try:
            self._loop(pool)
        finally:
            pool.shutdown(wait=True)  # stop is set: the polls under way end their batch
            self._running.clear()
            self._following = False
            self.store.beat(self.who, stopped=True)

    def _loop(self, pool: ThreadPoolExecutor) -> None:
        while not self.stop.is_set():
            try:
                self._tick(pool)
            except Exception:  # noqa: BLE001 - the follower outlives a bad moment (a locked file)
                log.exception("feed follower: a round of polls failed; trying again")
            self.stop.wait(TICK_S)

    def _tick(self, pool: ThreadPoolExecutor) -> None:
        self.store.beat(self.who)
        self._running = {url: f for url, f in self._running.items() if not f.done()}
        now = time.time()
        for feed in self.store.list():
            if self.stop.is_set() or len(self._running) >= self.settings.feeds.parallel:
                break
            wait = self.interval_of(feed)
            if feed.url in self._backlog:
                wait = min(wait, BACKLOG_S)
            due = (feed.last_poll or 0) + wait <= now
            if due and feed.url not in self._running:
                self._running[feed.url] = pool.submit(self.poll, feed)
        self.snapshot()

    def snapshot(self, force: bool = False) -> None:
        """Write the vector snapshot if something was written since the last one and
        ``SNAPSHOT_EVERY_S`` passed (``force``: whenever something was written)."""
        if not self._written_since_snapshot:
            return
        if not force and time.monotonic() - self._last_snapshot < SNAPSHOT_EVERY_S:
            return
        with self._write_lock:
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
        # every feed, whoever added it: its items' links are written by others
        guarded = not self.settings.feeds.allow_private
        result = PollResult(feed.url, "ok")
        shown = redact_url(feed.url)
        try:
            self._poll(feed, guarded, result)
        except Stopped:
            result.status, result.error = "stopped", "stopped before the poll ended"
        except IndexBusyError as exc:
            self._fail(result, f"index busy: {exc}")
        except Exception as exc:  # noqa: BLE001 - one bad feed must not stop the others
            trace = "".join(traceback.format_exception(exc))
            log.error("poll of %s failed\n%s", shown, redact_text(trace.rstrip()))
            self._fail(result, f"{type(exc).__name__}: {exc}")
        result.seconds = time.perf_counter() - t0
        if result.deferred:
            self._backlog.add(feed.url)
        else:
            self._backlog.discard(feed.url)
        level = logging.WARNING if result.status == "error" else logging.INFO
        log.log(level, "%s", result.line(), extra={"feed": shown, "status": result.status})
        return result

    def _fail(self, result: PollResult, error: str) -> None:
        result.fail(error)
        self.store.record_poll(result.url, "error", result.error)

    def _poll(self, feed: Feed, guarded: bool, result: PollResult) -> None:
        s = self.settings.feeds
        budget = _Budget(time.monotonic() + s.poll_seconds, s.poll_pages)
        headers = {}
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
        try:
            resp = self.fetcher.get(feed.url, headers, guarded=guarded)
        except FetchError as exc:
            return self._fail(result, str(exc))
        title = None
        if resp.status != 304:
            if not 200 <= resp.status < 300:
                return self._fail(result, f"HTTP {resp.status} from {resp.url}")
            try:
                parsed = parse_feed(resp.body, resp.headers.get("content-type", ""))
            except FeedError as exc:
                return self._fail(result, str(exc))
            title = parsed.title
            self._queue(feed, parsed, (resp.headers.get("etag"), resp.headers.get("last-modified")),
                        result)
        due, result.pending = self.store.due(feed.url, self.clock())
        items = [FeedItem(key, data["fields"], fp, data["full"]) for key, fp, data in due]
        for n, batch in enumerate(_batched(items, s.batch_items)):
            if budget.spent():
                left = len(items) - n * s.batch_items
                result.pending, result.deferred = result.pending + left, result.deferred + left
                break
            self._ingest_batch(feed, batch, guarded, result, budget)
            if self._following:
                self.store.beat(self.who)
        worked = bool(items or result.problems)
        if resp.status == 304 and not worked:
            result.status = "not modified"
        else:
            result.status = "ok" if not result.problems else "partial"
        self.store.record_poll(feed.url, result.status, summary(result.problems), title=title)
        return None

    def _queue(
        self, feed: Feed, parsed: ParsedFeed, validators: tuple[str | None, str | None],
        result: PollResult,
    ) -> None:
        """Keep the document's new and changed items to do, with its validators (so the next
        poll may get a 304 and still find what this one leaves)."""
        for text in parsed.problems:
            result.problem(text)
        seen, given_up = self.store.seen(feed.url), self.store.given_up_keys(feed.url)
        todo = [it for it in parsed.items
                if seen.get(it.key) != it.fingerprint and given_up.get(it.key) != it.fingerprint]
        result.items, result.new_items = len(parsed.items), len(todo)
        for it in todo:
            if it.note:
                result.problem(it.note)
        self.store.queue(feed.url, [
            (it.key, it.fingerprint, {"fields": it.fields, "full": it.full_text}) for it in todo
        ], validators)

    def _ingest_batch(
        self, feed: Feed, batch: list[FeedItem], guarded: bool, result: PollResult,
        budget: _Budget,
    ) -> None:
        records: list[Article | LoadProblem] = []
        handled: list[FeedItem] = []
        for item in batch:
            got = self._records(feed, item, guarded, result, budget)
            if got is not None:
                records.extend(got)
                handled.append(item)
        if not handled:
            return
        with self._write_lock:
            report = self._ingest(records)
            self._written_since_snapshot = True
        ids = {row["origin"]: row["id"] for row in report.items}
        for p in report.problems:
            result.problem(f"{p.reason} ({p.path})")
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
        return f"{redact_url(feed.url)} [{item.key}]"

    def _records(
        self, feed: Feed, item: FeedItem, guarded: bool, result: PollResult, budget: _Budget
    ) -> list[Article | LoadProblem] | None:
        """The item as ingest records (its page fetched when it has no full text); None when
        it is left for a later poll (its page failed, or the poll's budget is spent) or given
        up with no text of the feed's to use."""
        fields = dict(item.fields)
        has_text = bool(clean_text(str(fields.get("text") or "")))
        used = "; the feed's text is used" if has_text else ""
        if not item.full_text and item.url:
            if budget.spent():
                result.pending += 1
                result.deferred += 1
                return None
            try:
                page = self._page(item.url, guarded, result, budget)
            except FetchError as exc:
                s = self.settings.feeds
                failures, gone = self.store.failed_item(
                    feed.url, item.key, redact_text(str(exc)), backoff=s.item_backoff,
                    attempts=s.item_attempts, permanent=isinstance(exc, (Unreadable, *NEVER)),
                    now=self.clock())
                if not gone:
                    result.pending += 1
                    result.problem(f"{item.url}: {exc} (try {failures} of {s.item_attempts})")
                    return None
                result.given_up += 1
                result.problem(f"{item.url}: {exc}; given up after {failures} "
                               f"tr{'y' if failures == 1 else 'ies'}{used}")
                if not has_text:
                    return None
                page = {}
            if page is None:
                result.problem(f"{item.url}: robots.txt disallows fetching the page{used}")
            else:
                fields = _merge(fields, page)
        try:
            return list(build_article(
                fields, path=redact_url(feed.url), origin=self._origin(feed, item),
                max_bytes=self.settings.ingest.max_article_bytes,
            ))
        except Exception as exc:  # noqa: BLE001 - one hostile item must not sink its feed
            why = f"cannot be read ({type(exc).__name__})"
            self.store.failed_item(feed.url, item.key, why, backoff=0, attempts=1,
                                   permanent=True, now=self.clock())
            result.given_up += 1
            result.problem(f"item {item.key[:80]!r}: {why}; given up")
            return None

    def _page(
        self, url: str, guarded: bool, result: PollResult, budget: _Budget
    ) -> dict[str, Any] | None:
        """The canonical fields of an article page; None when robots.txt refuses it;
        :class:`Unreadable` for a page that will never be read."""
        if not self.fetcher.allowed(url, guarded):
            return None
        budget.pages -= 1
        resp = self.fetcher.get(url, guarded=guarded, page=True)
        result.pages += 1
        if not 200 <= resp.status < 300:
            gone = 400 <= resp.status < 500 and resp.status not in RETRY_4XX
            raise (Unreadable if gone else FetchError)(f"HTTP {resp.status}")
        try:
            return html_fields(decode_text(resp.body))
        except Exception as exc:  # noqa: BLE001 - any unreadable page is one item's problem
            raise Unreadable(f"cannot read the page: {exc}") from None


@dataclass
class _Budget:
    """What is left of one poll's time (a ``time.monotonic`` deadline) and pages."""

    deadline: float
    pages: int

    def spent(self) -> bool:
        """Whether no more pages may be fetched in this poll."""
        return self.pages <= 0 or time.monotonic() >= self.deadline


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
