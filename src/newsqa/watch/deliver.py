"""Webhook delivery of notices, and the server's background round of watching.

:func:`deliver` POSTs each due notice of a watch that has a webhook as JSON (``watch``,
``notice``, ``answer_url``). A delivery is first taken in the store for a lease
(:meth:`~newsqa.watch.store.WatchStore.take_delivery`), so two deliverers (threads, processes,
query nodes on one PostgreSQL) never both post one notice. Requests go through the feeds' address
guard (:mod:`newsqa.feeds.guard`: no loopback, private or link-local address unless
``NEWSQA_WATCH__WEBHOOK_ALLOW_HOSTS`` lists it), follow no redirect, take at most
``webhook_timeout`` seconds in all and read at most :data:`MAX_REPLY_BYTES` of the reply. A 2xx
answer delivers the notice; anything else is tried again after ``webhook_backoff`` seconds,
doubled after each further failure, until ``webhook_attempts`` tries have failed (then it is
marked failed); an address the guard refuses, or a URL that is no http(s) URL, fails at once.

:func:`start_watching` is the thread a server runs: every ``check_seconds`` it asks the watches
again that changes made elsewhere concern (an ingest by another process or node) and delivers
what is due.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx

from newsqa import __version__
from newsqa.feeds.fetch import bounded_transport
from newsqa.feeds.guard import (
    AllowList,
    BlockedAddress,
    FeedURLError,
    GuardedBackend,
    check_public,
    check_url,
)
from newsqa.feeds.net import Interrupted, limits
from newsqa.watch.feed import answer_url
from newsqa.watch.records import Notice, Watch
from newsqa.watch.store import WatchStore

if TYPE_CHECKING:
    from newsqa.service import NewsQA
    from newsqa.settings.sections import WatchSettings

log = logging.getLogger("newsqa.watch")

#: The most of a receiver's reply read (for the error a failed delivery records).
MAX_REPLY_BYTES = 2048
#: Seconds a taken delivery is held beyond its timeout before another deliverer may retry it.
LEASE_MARGIN_S = 30.0
#: Deliveries taken per round.
BATCH = 20


#: The setting that lists the hosts webhooks may reach although the address guard refuses them.
WEBHOOK_SETTING = "NEWSQA_WATCH__WEBHOOK_ALLOW_HOSTS"


def webhook_allow(allow_hosts: str) -> AllowList:
    """The webhooks' allow-list (``NEWSQA_WATCH__WEBHOOK_ALLOW_HOSTS``); ValueError for an entry
    that is neither a host name nor an address or network."""
    return AllowList.parse(allow_hosts, "webhook", WEBHOOK_SETTING)


def check_webhook(url: str, allow_hosts: str) -> str:
    """``url`` stripped, when it is an http(s) URL whose host the address guard (with the
    webhooks' allow-list) does not refuse outright; FeedURLError saying why otherwise. A host
    name is checked again, on the addresses it resolves to, at each delivery."""
    url = check_url(url, "webhook URL")
    check_public(url, webhook_allow(allow_hosts))
    return url


def webhook_body(watch: Watch, notice: Notice, base_url: str = "") -> dict[str, Any]:
    """What a webhook receives: the watch, the notice, and the chat page showing the answer
    (``answer_url``; null when the server's address is not configured)."""
    return {"watch": watch.to_dict(), "notice": notice.to_dict(),
            "answer_url": answer_url(base_url, watch.id) if base_url else None}


def _client(allow: AllowList) -> httpx.Client:
    return httpx.Client(
        transport=bounded_transport(GuardedBackend(allow)), trust_env=False,
        follow_redirects=False,
        headers={"User-Agent": f"newsqa/{__version__} (watch webhook)",
                 "Content-Type": "application/json"},
    )


def post(
    client: httpx.Client, url: str, body: bytes, timeout: float, stop: threading.Event | None,
) -> tuple[bool, str | None, bool]:
    """POST ``body`` to ``url``: (delivered, the error, whether trying again is pointless)."""
    try:
        check_url(url, "webhook URL")
    except FeedURLError as exc:
        return False, str(exc), True
    try:
        with limits(time.monotonic() + timeout, stop), client.stream(
            "POST", url, content=body, timeout=httpx.Timeout(timeout),
            headers={"X-Newsqa-Event": "notice"},
        ) as r:
            reply = b""
            for block in r.iter_raw():
                reply += block
                if len(reply) >= MAX_REPLY_BYTES:
                    break
            if 200 <= r.status_code < 300:
                return True, None, False
            said = reply[:200].decode("utf-8", "replace").strip()
            return False, f"HTTP {r.status_code}" + (f": {said}" if said else ""), False
    except httpx.HTTPError as exc:
        cause = exc.__cause__
        if isinstance(cause, BlockedAddress):
            return False, str(cause), True
        if isinstance(cause, Interrupted):
            return False, "stopped", False
        if isinstance(exc, httpx.TimeoutException):
            return False, f"timed out after {timeout:g} s", False
        return False, f"{type(exc).__name__}: {exc}"[:500], False


def deliver(
    store: WatchStore, settings: WatchSettings, now: float | None = None, base_url: str = "",
    stop: threading.Event | None = None,
) -> int:
    """Deliver the notices due by ``now`` (default: the time) to their watches' webhooks;
    returns how many were delivered. Never raises for a receiver that fails: its failure is
    recorded, and tried again or given up."""
    now = time.time() if now is None else now
    due = store.due_deliveries(now, BATCH)
    if not due:
        return 0
    allow = webhook_allow(settings.webhook_allow_hosts)  # the settings checked its entries
    lease = settings.webhook_timeout + LEASE_MARGIN_S
    delivered = 0
    with _client(allow) as client:
        for notice, url, attempts in due:
            if stop is not None and stop.is_set():
                break
            if not store.take_delivery(notice.id, attempts, lease):
                continue  # another deliverer has it
            watch = store.get(notice.watch_id)
            if watch is None:
                store.delivered(notice.id, False, "the watch was removed")
                continue
            body = json.dumps(webhook_body(watch, notice, base_url), ensure_ascii=False)
            ok, error, final = post(client, url, body.encode(), settings.webhook_timeout, stop)
            tries = attempts + 1
            if ok:
                store.delivered(notice.id, True)
                delivered += 1
            elif final or tries >= settings.webhook_attempts:
                log.warning("watch %s: webhook delivery of notice %d failed for good after %d "
                            "tries: %s", watch.id, notice.seq, tries, error)
                store.delivered(notice.id, False, error)
            else:
                retry = now + settings.webhook_backoff * 2 ** (tries - 1)
                log.info("watch %s: webhook delivery of notice %d failed (%s); try %d of %d "
                         "in %.0f s", watch.id, notice.seq, error, tries + 1,
                         settings.webhook_attempts, retry - now)
                store.delivered(notice.id, False, error, retry_at=retry)
    return delivered


def deliver_due(service: NewsQA, now: float | None = None,
                stop: threading.Event | None = None) -> int:
    """:func:`deliver` over ``service``'s watch store and settings (the links in the bodies
    use ``NEWSQA_WATCH__PUBLIC_URL``)."""
    settings = service.settings.watch
    return deliver(service.watches.store, settings, now, settings.public_url, stop)


def watch_round(service: NewsQA, stop: threading.Event | None = None) -> int:
    """One round of the background work: ask again the watches that changes made elsewhere
    concern, then deliver what is due; the notices delivered. Never raises."""
    service.check_watches()
    try:
        return deliver_due(service, stop=stop)
    except Exception:  # noqa: BLE001 - the next round tries again
        log.exception("delivering the watches' webhooks failed")
        return 0


def start_watching(service: NewsQA, stop: threading.Event) -> threading.Thread:
    """Run :func:`watch_round` every ``NEWSQA_WATCH__CHECK_SECONDS`` in a daemon thread until
    ``stop`` is set (the app's ``stopping`` event) or the service is closed; the thread."""
    seconds = service.settings.watch.check_seconds

    def loop() -> None:
        while not stop.wait(seconds) and not service.closed:
            watch_round(service, stop)

    thread = threading.Thread(target=loop, name="newsqa-watch", daemon=True)
    thread.start()
    return thread
