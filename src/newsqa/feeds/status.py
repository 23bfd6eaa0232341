"""The state of following, as ``/api/feeds``, ``newsqa feeds`` and the web chat show it."""

from __future__ import annotations

import time
from typing import Any

from newsqa.feeds.redact import redact_text, redact_url
from newsqa.feeds.store import Feed, FeedStore, iso_time

FOLLOWER_FRESH_S = 60.0
"""A follower that wrote no heartbeat for this long is shown as not running."""


def follower_state(store: FeedStore) -> dict[str, Any]:
    """Whether a follower (``newsqa follow`` or ``serve --follow``, any process) is running:
    ``active``, ``last_seen`` (ISO time of its last heartbeat), ``who`` (host and pid)."""
    beat = store.follower()
    if beat is None:
        return {"active": False, "last_seen": None, "who": None}
    ts, stopped, who = beat
    active = not stopped and time.time() - ts < FOLLOWER_FRESH_S
    return {"active": active, "last_seen": iso_time(ts), "who": who}


def feed_state(store: FeedStore, feed: Feed, default_interval: float) -> dict[str, Any]:
    """One feed's JSON form (URL redacted) with the latest items given up (``given_up``:
    ``item``, ``error``, ``failures``, ``at``)."""
    d = feed.to_dict(default_interval)
    d["given_up"] = [
        {**g, "item": redact_url(g["item"]), "error": redact_text(g["error"] or "")}
        for g in (store.given_up(feed.url) if feed.items_given_up else [])
    ]
    return d


def feeds_status(
    store: FeedStore, default_interval: float, index_stats: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Every feed's state, the follower's, and how fresh the archive is: ``last_success``
    (the latest successful poll of any feed), ``articles`` and ``latest_published`` (from
    ``index_stats``, when given)."""
    feeds = store.list()
    success = max((f.last_success for f in feeds if f.last_success), default=None)
    stats = index_stats or {}
    return {
        "feeds": [feed_state(store, f, default_interval) for f in feeds],
        "follower": follower_state(store),
        "last_success": iso_time(success),
        "articles": stats.get("articles"),
        "latest_published": stats.get("latest"),
    }
