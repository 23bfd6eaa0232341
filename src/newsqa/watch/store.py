"""Where watches and their notices are kept: tables of the catalogue's own database
(``news.sqlite`` in the index directory, or the index's PostgreSQL schema), made on first use
and upgraded by :data:`MIGRATIONS` (the version is kept in ``watch_meta``).

One SQL text serves both databases (``?`` marks, rewritten for psycopg). What two query nodes
could both do is decided by the database: a check's outcome is written only if the watch is
still at the revision it was checked from (:meth:`WatchStore.settle`), so a change is noticed
once; a webhook delivery is taken by one deliverer at a time (:meth:`WatchStore.take_delivery`).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.records import Filters
from newsqa.watch.records import (
    Notice,
    Shown,
    Watch,
    citation_of,
    filters_of,
    segment_of,
)

#: Each step upgrades the tables by one version; ``{real}`` and ``{blob}`` are the database's
#: types for a float and bytes.
MIGRATIONS = [
    """
    CREATE TABLE IF NOT EXISTS watches (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        question TEXT NOT NULL,
        filters TEXT NOT NULL,
        webhook TEXT,
        created_at {real} NOT NULL,
        checked BIGINT NOT NULL,
        rev INTEGER NOT NULL DEFAULT 0,
        model TEXT NOT NULL,
        vector {blob} NOT NULL,
        shown TEXT
    );
    CREATE INDEX IF NOT EXISTS watches_owner ON watches(owner);
    CREATE TABLE IF NOT EXISTS watch_notices (
        id TEXT PRIMARY KEY,
        watch_id TEXT NOT NULL REFERENCES watches(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        created_at {real} NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        read_at {real},
        hook_state TEXT,
        hook_attempts INTEGER NOT NULL DEFAULT 0,
        hook_next {real},
        hook_error TEXT,
        UNIQUE (watch_id, seq)
    );
    CREATE INDEX IF NOT EXISTS watch_notices_created ON watch_notices(created_at);
    CREATE INDEX IF NOT EXISTS watch_notices_hook ON watch_notices(hook_state, hook_next)
    """,
]
_META = "CREATE TABLE IF NOT EXISTS watch_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_WATCH_COLUMNS = (
    "w.id, w.owner, w.question, w.filters, w.webhook, w.created_at, w.checked, w.shown, w.rev, "
    "(SELECT count(*) FROM watch_notices n WHERE n.watch_id=w.id), "
    "(SELECT count(*) FROM watch_notices n WHERE n.watch_id=w.id AND n.read_at IS NULL)"
)
_NOTICE_COLUMNS = "id, watch_id, seq, created_at, kind, body, read_at, hook_state"


@dataclass
class Marks:
    """What a check reads of every watch, in one order (``vectors``: one row each)."""

    ids: list[str]
    questions: list[str]
    revs: list[int]
    checked: list[int]
    filters: list[Filters]
    models: list[str]
    vectors: np.ndarray


def new_id() -> str:
    """An unguessable id (128 random bits, hex)."""
    return secrets.token_hex(16)


class _Db:
    """One connection and its dialect: a transaction at a time, ``?`` marks."""

    real, blob = "REAL", "BLOB"

    def __init__(self) -> None:
        self.lock = threading.RLock()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; the cursor."""
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction."""
        raise NotImplementedError
        yield

    def close(self) -> None:
        """Release the connection."""
        raise NotImplementedError

    def reopen_args(self) -> tuple[Any, ...]:
        """What this class is made from (a new connection to the same database)."""
        raise NotImplementedError


class _Sqlite(_Db):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.db = sqlite3.connect(path / "news.sqlite", check_same_thread=False,
                                  isolation_level=None)
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.execute("PRAGMA foreign_keys=ON")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.lock:
            return self.db.execute(sql, list(params))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def reopen_args(self) -> tuple[Any, ...]:
        return (self.path,)


class _Postgres(_Db):
    real, blob = "DOUBLE PRECISION", "BYTEA"

    def __init__(self, url: str) -> None:
        super().__init__()
        from newsqa.index.catalogue.postgres.connect import CatalogURL, connect

        self.raw, self.url = url, CatalogURL.parse(url)
        self.conn = connect(self.url)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.lock:
            return self.conn.execute(sql.replace("?", "%s"), list(params))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock, self.conn.transaction():
            yield

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def reopen_args(self) -> tuple[Any, ...]:
        return (self.raw,)


class WatchStore:
    """Watches and notices of one index, safe across threads and processes."""

    def __init__(self, db: _Db) -> None:
        self._db = db
        self._migrate()

    @classmethod
    def open(cls, path: Path, catalog_url: str | None = None) -> WatchStore:
        """The store of the index at ``path`` (its catalogue in ``news.sqlite`` there, or in
        the PostgreSQL schema ``catalog_url`` names)."""
        return cls(_Postgres(catalog_url) if catalog_url else _Sqlite(path))

    def close(self) -> None:
        """Release the connection."""
        self._db.close()

    def _migrate(self) -> None:
        db = self._db
        with db.transaction():
            if isinstance(db, _Postgres):
                db.execute("SELECT pg_advisory_xact_lock(?)", [db.url.lock_key("watches")])
            db.execute(_META)
            row = db.execute("SELECT value FROM watch_meta WHERE key='version'").fetchone()
            version = int(row[0]) if row else 0
            for step in MIGRATIONS[version:]:
                for stmt in step.format(real=db.real, blob=db.blob).split(";"):
                    if stmt.strip():
                        db.execute(stmt)
            if version < len(MIGRATIONS):
                db.execute("DELETE FROM watch_meta WHERE key='version'")
                db.execute("INSERT INTO watch_meta(key, value) VALUES ('version', ?)",
                           [str(len(MIGRATIONS))])

    # ------------------------------------------------------------------ watches
    def add(
        self, owner: str, question: str, filters: Filters, webhook: str | None,
        checked: int, model: str, vector: np.ndarray, shown: Shown | None,
    ) -> Watch:
        """Store a new watch, checked up to chunk ``checked``, with its question's vector."""
        w = Watch(new_id(), owner, question, filters, time.time(), checked, webhook, shown)
        f = {k: v for k, v in vars(filters).items() if v and k != "as_of"}
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO watches(id, owner, question, filters, webhook, created_at, checked,"
                " model, vector, shown) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [w.id, owner, question, json.dumps(f), webhook, w.created_at, checked, model,
                 np.asarray(vector, np.float32).tobytes(),
                 json.dumps(shown.to_json()) if shown else None],
            )
        return w

    def remove(self, watch_id: str, owner: str | None = None) -> bool:
        """Delete a watch and its notices (of ``owner`` only, when given); False when none."""
        where, params = self._owned(watch_id, owner)
        with self._db.transaction():
            self._db.execute(f"DELETE FROM watch_notices WHERE watch_id IN "
                             f"(SELECT id FROM watches w WHERE {where})", params)
            cur = self._db.execute(f"DELETE FROM watches WHERE id IN "
                                   f"(SELECT id FROM watches w WHERE {where})", params)
            return bool(cur.rowcount)

    @staticmethod
    def _owned(watch_id: str, owner: str | None) -> tuple[str, list[Any]]:
        if owner is None:
            return "w.id=?", [watch_id]
        return "w.id=? AND w.owner=?", [watch_id, owner]

    def get(self, watch_id: str, owner: str | None = None) -> Watch | None:
        """One watch (of ``owner`` only, when given)."""
        where, params = self._owned(watch_id, owner)
        rows = self._db.execute(
            f"SELECT {_WATCH_COLUMNS} FROM watches w WHERE {where}", params).fetchall()
        return _watch(rows[0]) if rows else None

    def all(self, owner: str | None = None) -> list[Watch]:
        """Watches, oldest first (of ``owner`` only, when given)."""
        where, params = ("w.owner=?", [owner]) if owner is not None else ("1=1", [])
        rows = self._db.execute(
            f"SELECT {_WATCH_COLUMNS} FROM watches w WHERE {where} "
            "ORDER BY w.created_at, w.id", params).fetchall()
        return [_watch(r) for r in rows]

    def count(self, owner: str | None = None) -> int:
        """Watches kept (of ``owner`` only, when given)."""
        if owner is None:
            return int(self._db.execute("SELECT count(*) FROM watches").fetchone()[0])
        return int(self._db.execute("SELECT count(*) FROM watches WHERE owner=?",
                                    [owner]).fetchone()[0])

    def marks(self) -> Marks:
        """Every watch's id, revision, checked chunk, filters, model and question vector: what
        a check reads of all of them."""
        rows = self._db.execute(
            "SELECT id, question, rev, checked, filters, model, vector FROM watches "
            "ORDER BY id").fetchall()
        vecs = (np.stack([np.frombuffer(bytes(r[6]), np.float32) for r in rows]) if rows
                else np.zeros((0, 0), np.float32))
        return Marks([r[0] for r in rows], [r[1] for r in rows], [int(r[2]) for r in rows],
                     [int(r[3]) for r in rows], [filters_of(json.loads(r[4])) for r in rows],
                     [r[5] for r in rows], vecs)

    def cited(self) -> dict[str, dict[str, str]]:
        """Per watch with an answer shown, the articles it cites (id → content hash)."""
        rows = self._db.execute(
            "SELECT id, shown FROM watches WHERE shown IS NOT NULL").fetchall()
        return {r[0]: json.loads(r[1])["sources"] for r in rows}

    def set_vector(self, watch_id: str, model: str, vector: np.ndarray) -> None:
        """Replace a watch's question vector (the embedding model changed)."""
        with self._db.transaction():
            self._db.execute("UPDATE watches SET model=?, vector=? WHERE id=?",
                             [model, np.asarray(vector, np.float32).tobytes(), watch_id])

    def settle(
        self, watch_id: str, rev: int, checked: int,
        shown: Shown | None = None, notice: Notice | None = None,
    ) -> Notice | None:
        """Record a check of a watch at revision ``rev`` up to chunk ``checked``: the answer
        now shown and its notice, if any. Nothing is written (None returned) when the watch is
        no longer at ``rev``: another process checked it meanwhile. Returns the notice stored,
        its ``seq`` set."""
        with self._db.transaction():
            sets, params = "checked=?, rev=rev+1", [checked]  # type: str, list[Any]
            if shown is not None:
                sets, params = "checked=?, rev=rev+1, shown=?", [
                    checked, json.dumps(shown.to_json())]
            cur = self._db.execute(f"UPDATE watches SET {sets} WHERE id=? AND rev=?",
                                   [*params, watch_id, rev])
            if cur.rowcount != 1 or notice is None:
                return None
            row = self._db.execute(
                "SELECT coalesce(max(seq), 0), (SELECT webhook FROM watches WHERE id=?) "
                "FROM watch_notices WHERE watch_id=?", [watch_id, watch_id]).fetchone()
            notice.seq = int(row[0]) + 1
            notice.webhook = "pending" if row[1] else None
            self._db.execute(
                "INSERT INTO watch_notices(id, watch_id, seq, created_at, kind, body,"
                " hook_state, hook_next) VALUES (?,?,?,?,?,?,?,?)",
                [notice.id, watch_id, notice.seq, notice.created_at, notice.kind,
                 json.dumps(notice.body()), notice.webhook,
                 notice.created_at if notice.webhook else None],
            )
            return notice

    def advance(self, revs: Sequence[tuple[str, int]], checked: int) -> None:
        """Record checks that found nothing: each watch (id, revision) still at that revision
        is marked checked up to chunk ``checked``, in one transaction."""
        if not revs:
            return
        with self._db.transaction():
            for watch_id, rev in revs:
                self._db.execute("UPDATE watches SET checked=?, rev=rev+1 WHERE id=? AND rev=?",
                                 [checked, watch_id, rev])

    # ------------------------------------------------------------------ notices
    def notices(
        self, watch_id: str | None = None, owner: str | None = None, after: float = 0.0,
        limit: int = 100,
    ) -> list[Notice]:
        """Notices newest first (of one watch, of one owner's watches, or all; created after
        the Unix time ``after``)."""
        where: list[str] = ["n.created_at > ?"]
        params: list[Any] = [after]
        if watch_id is not None:
            where.append("n.watch_id=?")
            params.append(watch_id)
        if owner is not None:
            where.append("w.owner=?")
            params.append(owner)
        rows = self._db.execute(
            f"SELECT {', '.join('n.' + c for c in _NOTICE_COLUMNS.split(', '))} "
            "FROM watch_notices n JOIN watches w ON w.id=n.watch_id "
            f"WHERE {' AND '.join(where)} ORDER BY n.created_at DESC, n.seq DESC LIMIT ?",
            [*params, limit]).fetchall()
        return [_notice(r) for r in rows]

    def mark_read(self, watch_id: str, owner: str | None = None) -> int:
        """Mark every notice of a watch read; how many were unread."""
        where, params = self._owned(watch_id, owner)
        with self._db.transaction():
            cur = self._db.execute(
                "UPDATE watch_notices SET read_at=? WHERE read_at IS NULL AND watch_id IN "
                f"(SELECT id FROM watches w WHERE {where})", [time.time(), *params])
            return int(cur.rowcount)

    # ------------------------------------------------------------------ webhook deliveries
    def due_deliveries(self, now: float, limit: int = 20) -> list[tuple[Notice, str, int]]:
        """Pending webhook deliveries due by ``now``: (notice, webhook URL, attempts so far)."""
        rows = self._db.execute(
            f"SELECT {', '.join('n.' + c for c in _NOTICE_COLUMNS.split(', '))}, w.webhook, "
            "n.hook_attempts, n.hook_next FROM watch_notices n JOIN watches w "
            "ON w.id=n.watch_id WHERE n.hook_state='pending' AND n.hook_next <= ? "
            "AND w.webhook IS NOT NULL ORDER BY n.hook_next LIMIT ?", [now, limit]).fetchall()
        return [(_notice(r[:8]), r[8], int(r[9])) for r in rows]

    def take_delivery(self, notice_id: str, attempts: int, lease: float) -> bool:
        """Take a due delivery for ``lease`` seconds (False: another deliverer has it)."""
        with self._db.transaction():
            cur = self._db.execute(
                "UPDATE watch_notices SET hook_next=?, hook_attempts=? WHERE id=? AND "
                "hook_state='pending' AND hook_attempts=?",
                [time.time() + lease, attempts + 1, notice_id, attempts])
            return cur.rowcount == 1

    def delivered(self, notice_id: str, ok: bool, error: str | None = None,
                  retry_at: float | None = None) -> None:
        """Record a delivery's outcome: delivered, failed for good, or tried again at
        ``retry_at``."""
        state = "delivered" if ok else ("pending" if retry_at is not None else "failed")
        with self._db.transaction():
            self._db.execute(
                "UPDATE watch_notices SET hook_state=?, hook_error=?, hook_next=? WHERE id=?",
                [state, error, retry_at, notice_id])


def _watch(r: Sequence[Any]) -> Watch:
    shown = Shown.from_json(json.loads(r[7])) if r[7] else None
    return Watch(r[0], r[1], r[2], filters_of(json.loads(r[3])), float(r[5]), int(r[6]),
                 r[4], shown, int(r[9]), int(r[10]), int(r[8]))


def _notice(r: Sequence[Any]) -> Notice:
    body = json.loads(r[5])
    return Notice(r[0], r[1], int(r[2]), float(r[3]), r[4], body["text"],
                  [segment_of(s) for s in body["segments"]],
                  [citation_of(c) for c in body["citations"]], r[6] is not None, r[7])
