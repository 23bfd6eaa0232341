"""The command-line side of following: ``newsqa follow``, ``newsqa feeds`` and
``serve --follow`` (the parser is in :mod:`newsqa.cli`; this runs them and prints)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from newsqa.feeds.guard import FeedURLError, check_url
from newsqa.feeds.poll import Poller, PollResult
from newsqa.feeds.redact import redact_text, redact_url
from newsqa.feeds.status import feed_state, follower_state
from newsqa.feeds.store import Feed, FeedStore

EXIT_SKIPPED = 3
EXIT_USAGE = 5


def read_url_file(path: str) -> list[str]:
    """Feed URLs from a file: one a line; blank lines and lines starting ``#`` are skipped."""
    lines = (line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def given_urls(urls: Sequence[str], files: Sequence[str] | None) -> list[str]:
    """The URLs of the command line and of ``files``, checked; FeedURLError or OSError."""
    found = list(urls)
    for f in files or []:
        found += read_url_file(f)
    return [check_url(u) for u in found]


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (the poll in progress ends its batch); a second
    SIGINT interrupts at once."""
    def handler(signum: int, frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def _summary(results: Sequence[PollResult]) -> str:
    failed = sum(1 for r in results if r.failed)
    added = sum(r.added for r in results)
    updated = sum(r.updated for r in results)
    unchanged = sum(1 for r in results if r.status == "not modified")
    return (f"{len(results)} feed(s) polled: {added} added, {updated} updated, "
            f"{unchanged} not modified, {failed} with problems")


def run_follow(args: argparse.Namespace, service: Any) -> int:
    """``newsqa follow``: add the given URLs, then poll (once, or until stopped)."""
    try:
        urls = given_urls(args.urls, args.file)
    except (FeedURLError, OSError) as exc:
        print(f"error: {redact_text(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    logging.getLogger("newsqa.feeds").setLevel(logging.INFO)  # one line per poll, on stderr
    store = FeedStore(service.index.path)
    try:
        for url in urls:
            store.add(url, "cli", args.interval)
        if not store.list():
            print("error: no feeds to follow: give URLs or --file, or add some with "
                  "`newsqa feeds --add URL` or POST /api/feeds", file=sys.stderr)
            return EXIT_USAGE
        poller = Poller(service, store, interval=args.interval)
        try:
            with stop_on_signals(poller.stop):
                if not args.once:
                    poller.run()
                    return 0
                results = poller.poll_all()
        finally:
            poller.close()
    finally:
        store.close()
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(_summary(results))
    return EXIT_SKIPPED if any(r.failed for r in results) else 0


def start_follower(service: Any, urls: Sequence[str]) -> tuple[Poller, threading.Thread]:
    """``serve --follow``: add ``urls`` and poll in a background thread of this process."""
    store = FeedStore(service.index.path)
    for url in urls:
        store.add(check_url(url), "cli")
    poller = Poller(service, store)
    thread = threading.Thread(target=poller.run, name="newsqa-follow", daemon=True)
    thread.start()
    return poller, thread


def stop_follower(poller: Poller, thread: threading.Thread, wait_s: float = 60.0) -> None:
    """Stop a :func:`start_follower` thread (its batch in progress finishes) and close it."""
    poller.stop.set()
    thread.join(wait_s)
    poller.close()
    poller.store.close()


def _print_feed(feed: Feed, d: dict[str, Any]) -> None:
    """Print one feed's state (``d``: its :func:`feed_state`)."""
    print(f"{d['url']}  (id {feed.id}, every {d['interval']:g} s, added by {feed.added_by})")
    if feed.last_poll is None:
        print("  not polled yet")
        return
    print(f"  last poll {d['last_poll']}: {feed.last_status}; last success "
          f"{d['last_success'] or 'never'}")
    print(f"  {feed.items_added} added, {feed.items_updated} updated, {feed.items_seen} items "
          f"seen; {feed.errors} failed of {feed.polls} polls")
    if feed.last_error:
        print(f"  last error: {redact_text(feed.last_error)}")
    if feed.items_pending or feed.items_given_up:
        print(f"  {feed.items_pending} item(s) pending, {feed.items_given_up} given up")
    for g in d["given_up"]:
        print(f"  given up {g['at']}: {g['item']}: {g['error']} ({g['failures']} tries)")


def run_feeds(args: argparse.Namespace, index: Path, default_interval: float) -> int:
    """``newsqa feeds``: add or remove feeds, then list them with their status."""
    if not index.is_dir() and not args.add:
        print(f"error: no index at {index}", file=sys.stderr)
        return 2
    try:
        urls = given_urls(args.add or [], None)
    except FeedURLError as exc:
        print(f"error: {redact_text(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    store = FeedStore(index)
    try:
        for url in urls:
            store.add(url, "cli", args.interval)
        missing = [r for r in args.remove or [] if store.remove(r) is None]
        feeds = store.list()
        states = [feed_state(store, f, default_interval) for f in feeds]
        follower = follower_state(store)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"feeds": states, "follower": follower}, indent=2))
    else:
        for feed, shown in zip(feeds, states, strict=True):
            _print_feed(feed, shown)
        if not feeds:
            print("no feeds followed (newsqa feeds --add URL, newsqa follow URL)")
        state = "running" if follower["active"] else "not running"
        seen = f" ({follower['who']}, last seen {follower['last_seen']})" if follower["who"] else ""
        print(f"follower: {state}{seen}")
    for r in missing:
        print(f"error: no feed {redact_url(r)!r}", file=sys.stderr)
    return 1 if missing else 0
