"""The command-line side of following: ``newsqa follow``, ``newsqa feeds`` and
``serve --follow``: their options, what they run and what they print."""

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

from newsqa.cli.args import seconds
from newsqa.cli.exits import EXIT_INDEX, EXIT_NOT_FOUND, EXIT_SKIPPED, EXIT_USAGE
from newsqa.feeds.guard import FeedURLError, check_url
from newsqa.feeds.poll import Poller, PollResult
from newsqa.feeds.redact import redact_text, redact_url
from newsqa.feeds.status import feed_state, follower_state
from newsqa.feeds.store import Feed, FeedStore


def add_follow(sub: Any, common: argparse.ArgumentParser) -> None:
    """``follow``."""
    p = sub.add_parser(
        "follow", parents=[common], help="poll RSS/Atom/JSON feeds into the index",
        description="Add the URLs given (and those in --file, one a line) to the index's "
        "followed feeds, then poll every followed feed whenever it is due, until interrupted "
        "(--once: poll each once and exit, for cron). Requests are conditional (ETag, "
        "Last-Modified), rate-limited per host and bounded in time, size and redirects "
        "(NEWSQA_FEEDS__* settings). New and changed items are ingested as `ingest` does "
        "(idempotent by URL, wire copies collapsed); an item without full text has its page "
        "fetched, where robots.txt allows, and its main text extracted. One line per poll on "
        "stderr. A stopped poll loses and repeats nothing: the next one goes on.",
    )
    p.add_argument("urls", nargs="*", metavar="URL", help="feed URLs to add (http or https)")
    p.add_argument("--file", action="append", metavar="F",
                   help="a file of feed URLs, one a line (# starts a comment line); repeatable")
    p.add_argument("--once", action="store_true", help="poll each followed feed once and exit")
    p.add_argument(
        "--interval", type=seconds, metavar="S",
        help="seconds between polls of every feed in this run, also stored with the URLs given "
        "(default: each feed's own; NEWSQA_FEEDS__INTERVAL, 900, for one added without)",
    )
    p.add_argument("--json", action="store_true", help="with --once: the poll results as JSON")


def add_feeds(sub: Any, common: argparse.ArgumentParser) -> None:
    """``feeds``."""
    p = sub.add_parser(
        "feeds", parents=[common], help="list the followed feeds and their status",
        description="The index's followed feeds: last poll, outcome and error, items added "
        "and updated, and whether a follower (follow, serve --follow) is running.",
    )
    p.add_argument("--add", action="append", metavar="URL", help="follow this feed too")
    p.add_argument("--remove", action="append", metavar="URL_OR_ID",
                   help="stop following this feed (its articles stay)")
    p.add_argument("--interval", type=seconds, metavar="S",
                   help="with --add: seconds between its polls")
    p.add_argument("--json", action="store_true", help="print JSON")


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
        return EXIT_INDEX
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
    return EXIT_NOT_FOUND if missing else 0
