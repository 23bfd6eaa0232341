"""The followed feeds of an index and their state: ``feeds.sqlite`` in the index directory.

Per feed: its URL, who added it (``cli`` or ``api``), its poll interval, the validators of its
last poll that read the document (ETag, Last-Modified), the last poll's time, outcome and
error, and running counts. Per item: its key and the fingerprint it had when it was last
ingested. A poll writes items' rows only after their articles are committed to the index, so a
poll stopped at any moment is simply done again: nothing is lost, and what was already
ingested is found unchanged.

Items still to do are kept apart (``pending``: the item as the feed gave it, its failed
fetches, when to try it next, whether it was given up), written together with the document's
validators before any of them is fetched: the next poll sends the validators (a 304 for an
unchanged feed) and still finds the items left over. Several processes may share the file
(SQLite, WAL).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsqa.feeds.redact import redact_url

FILE_NAME = "feeds.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    added_by TEXT NOT NULL,
    added_at REAL NOT NULL,
    interval REAL,
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    last_poll REAL,
    last_success REAL,
    last_status TEXT,
    last_error TEXT,
    polls INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    items_added INTEGER NOT NULL DEFAULT 0,
    items_updated INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    feed TEXT NOT NULL REFERENCES feeds(url) ON DELETE CASCADE,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    article_id TEXT,
    seen_at REAL NOT NULL,
    PRIMARY KEY (feed, key)
);
CREATE TABLE IF NOT EXISTS pending (
    feed TEXT NOT NULL REFERENCES feeds(url) ON DELETE CASCADE,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    item TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    given_up REAL,
    PRIMARY KEY (feed, key)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
GIVEN_UP_SHOWN = 5
Due = list[tuple[str, str, Any]]  # (key, fingerprint, item): module-level, FeedStore.list shadows
GivenUp = list[dict[str, Any]]


def feed_id(url: str) -> str:
    """A short stable id of a feed URL (for ``DELETE /api/feeds/{id}``)."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:12]


def iso_time(ts: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC (None for none)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None


@dataclass
class Feed:
    """One followed feed and the outcome of its polls (times are Unix seconds)."""

    url: str
    added_by: str
    added_at: float
    interval: float | None
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_poll: float | None = None
    last_success: float | None = None
    last_status: str | None = None
    last_error: str | None = None
    polls: int = 0
    errors: int = 0
    items_added: int = 0
    items_updated: int = 0
    items_seen: int = 0
    items_pending: int = 0
    items_given_up: int = 0

    @property
    def id(self) -> str:
        """Short stable id of the URL."""
        return feed_id(self.url)

    def to_dict(self, default_interval: float) -> dict[str, Any]:
        """JSON form (``/api/feeds``, ``newsqa feeds --json``): times as ISO 8601 UTC, the
        URL redacted (:func:`~newsqa.feeds.redact.redact_url`; the id still names the feed)."""
        d = asdict(self)
        d.pop("etag")
        d.pop("last_modified")
        d["url"] = redact_url(self.url)
        for key in ("added_at", "last_poll", "last_success"):
            d[key] = iso_time(d[key])
        d["interval"] = self.interval or default_interval
        return {"id": self.id, **d}


class FeedStore:
    """The feed list and poll state of one index directory; thread-safe."""

    def __init__(self, index_dir: Path | str) -> None:
        self.path = Path(index_dir) / FILE_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------ the list
    def add(self, url: str, added_by: str, interval: float | None = None) -> tuple[Feed, bool]:
        """Follow ``url`` (its interval updated when given); (the feed, whether it is new)."""
        with self._tx() as db:
            new = db.execute(
                "INSERT OR IGNORE INTO feeds(url, added_by, added_at, interval) VALUES (?,?,?,?)",
                (url, added_by, time.time(), interval),
            ).rowcount == 1
            if not new and interval is not None:
                db.execute("UPDATE feeds SET interval=? WHERE url=?", (interval, url))
        feed = self.get(url)
        assert feed is not None
        return feed, new

    def remove(self, url_or_id: str) -> str | None:
        """Stop following a feed (by URL or id) and forget its items; its URL, or None."""
        feed = self.get(url_or_id)
        if feed is None:
            return None
        with self._tx() as db:
            db.execute("DELETE FROM items WHERE feed=?", (feed.url,))
            db.execute("DELETE FROM pending WHERE feed=?", (feed.url,))
            db.execute("DELETE FROM feeds WHERE url=?", (feed.url,))
        return feed.url

    def get(self, url_or_id: str) -> Feed | None:
        """One feed by URL or id."""
        for feed in self.list():
            if url_or_id in (feed.url, feed.id):
                return feed
        return None

    def list(self) -> list[Feed]:
        """Every followed feed, in the order added."""
        with self._lock:
            rows = self._db.execute(
                "SELECT f.url, f.added_by, f.added_at, f.interval, f.title, f.etag, "
                "f.last_modified, f.last_poll, f.last_success, f.last_status, f.last_error, "
                "f.polls, f.errors, f.items_added, f.items_updated, "
                "(SELECT count(*) FROM items i WHERE i.feed=f.url), "
                "(SELECT count(*) FROM pending p WHERE p.feed=f.url AND p.given_up IS NULL), "
                "(SELECT count(*) FROM pending p WHERE p.feed=f.url AND p.given_up IS NOT NULL) "
                "FROM feeds f ORDER BY f.added_at, f.url"
            ).fetchall()
        return [Feed(*row) for row in rows]

    # ------------------------------------------------------------------ poll state
    def seen(self, url: str) -> dict[str, str]:
        """Item key -> fingerprint of the items of ``url`` already ingested."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, fingerprint FROM items WHERE feed=?", (url,)
            ).fetchall()
        return dict(rows)

    def commit_items(
        self, url: str, items: Iterable[tuple[str, str, str | None]], added: int, updated: int
    ) -> None:
        """Record items (key, fingerprint, article id) as ingested, no longer pending (unless
        given up: that record stays), and add to the feed's counts, in one transaction (call
        after their articles are committed)."""
        now = time.time()
        items = list(items)
        with self._tx() as db:
            db.executemany("DELETE FROM pending WHERE feed=? AND key=? AND given_up IS NULL",
                           [(url, k) for k, _, _ in items])
            db.executemany(
                "INSERT INTO items(feed, key, fingerprint, article_id, seen_at) "
                "SELECT ?,?,?,?,? WHERE EXISTS (SELECT 1 FROM feeds WHERE url=?) "
                "ON CONFLICT(feed, key) DO UPDATE SET fingerprint=excluded.fingerprint, "
                "article_id=excluded.article_id, seen_at=excluded.seen_at",
                [(url, k, fp, aid, now, url) for k, fp, aid in items],
            )
            db.execute(
                "UPDATE feeds SET items_added=items_added+?, items_updated=items_updated+? "
                "WHERE url=?", (added, updated, url),
            )

    def record_poll(
        self,
        url: str,
        status: str,
        error: str | None,
        *,
        title: str | None = None,
        validators: tuple[str | None, str | None] | None = None,
        at: float | None = None,
    ) -> None:
        """The outcome of a poll: ``status`` (ok, not modified, partial, error), the error
        text; ``validators`` (ETag, Last-Modified) replace the stored ones when given."""
        now = at or time.time()
        failed = status == "error"
        with self._tx() as db:
            db.execute(
                "UPDATE feeds SET last_poll=?, last_status=?, last_error=?, polls=polls+1, "
                "errors=errors+?, last_success=CASE WHEN ? THEN last_success ELSE ? END, "
                "title=coalesce(?, title) WHERE url=?",
                (now, status, error, int(failed), failed, now, title, url),
            )
            if validators is not None:
                db.execute("UPDATE feeds SET etag=?, last_modified=? WHERE url=?",
                           (*validators, url))

    # ------------------------------------------------------------------ items to do
    def queue(
        self,
        url: str,
        items: Iterable[tuple[str, str, dict[str, Any]]],
        validators: tuple[str | None, str | None],
    ) -> None:
        """Keep items (key, fingerprint, the item as JSON-able data) to do and the document's
        validators, in one transaction. An item already kept with the same fingerprint keeps
        its failures and back-off; a changed one starts afresh."""
        with self._tx() as db:
            db.executemany(
                "INSERT INTO pending(feed, key, fingerprint, item) "
                "SELECT ?,?,?,? WHERE EXISTS (SELECT 1 FROM feeds WHERE url=?) "
                "ON CONFLICT(feed, key) DO UPDATE SET fingerprint=excluded.fingerprint, "
                "item=excluded.item, failures=0, next_try=0, last_error=NULL, given_up=NULL "
                "WHERE pending.fingerprint != excluded.fingerprint",
                [(url, k, fp, json.dumps(item, default=str), url) for k, fp, item in items],
            )
            db.execute("UPDATE feeds SET etag=?, last_modified=? WHERE url=?", (*validators, url))

    def given_up_keys(self, url: str) -> dict[str, str]:
        """Item key -> fingerprint of the items of ``url`` given up."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, fingerprint FROM pending WHERE feed=? AND given_up IS NOT NULL",
                (url,)).fetchall()
        return dict(rows)

    def due(self, url: str, now: float) -> tuple[Due, int]:
        """The items of ``url`` to try now (key, fingerprint, data), in the order queued, and
        how many more wait for their back-off."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, fingerprint, item, next_try FROM pending "
                "WHERE feed=? AND given_up IS NULL ORDER BY rowid", (url,)).fetchall()
        due = [(k, fp, json.loads(item)) for k, fp, item, at in rows if at <= now]
        return due, len(rows) - len(due)

    def failed_item(
        self, url: str, key: str, error: str, *, backoff: float, attempts: int,
        permanent: bool = False, now: float | None = None,
    ) -> tuple[int, bool]:
        """Count a failed fetch of an item: it waits ``backoff`` seconds, doubled for each
        earlier failure, or is given up after ``attempts`` failures (at once when
        ``permanent``). Returns (its failures, whether it is given up now)."""
        now = time.time() if now is None else now
        with self._tx() as db:
            row = db.execute("SELECT failures FROM pending WHERE feed=? AND key=?",
                             (url, key)).fetchone()
            failures = (row[0] if row else 0) + 1
            give_up = permanent or failures >= attempts
            db.execute(
                "UPDATE pending SET failures=?, next_try=?, last_error=?, given_up=? "
                "WHERE feed=? AND key=?",
                (failures, now + backoff * 2 ** (failures - 1), error,
                 now if give_up else None, url, key),
            )
        return failures, give_up

    def given_up(self, url: str, limit: int = GIVEN_UP_SHOWN) -> GivenUp:
        """The items of ``url`` given up, latest first: ``item`` (its link, else its key),
        ``error``, ``failures``, ``at`` (ISO time)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, item, last_error, failures, given_up FROM pending "
                "WHERE feed=? AND given_up IS NOT NULL ORDER BY given_up DESC LIMIT ?",
                (url, limit)).fetchall()
        out = []
        for key, item, error, failures, at in rows:
            link = (json.loads(item).get("fields") or {}).get("url")
            out.append({"item": link or key, "error": error, "failures": failures,
                        "at": iso_time(at)})
        return out

    # ------------------------------------------------------------------ follower heartbeat
    def beat(self, who: str, stopped: bool = False) -> None:
        """Note that a follower (``who``: host and process) is running now, or (``stopped``)
        that it has just stopped."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('follower', ?)",
                       (f"{time.time():.3f} {int(stopped)} {who}",))

    def follower(self) -> tuple[float, bool, str] | None:
        """(time, stopped, who) of the last follower heartbeat; None if there never was one."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='follower'").fetchone()
        if not row:
            return None
        ts, stopped, who = str(row[0]).split(" ", 2)
        return float(ts), stopped == "1", who
