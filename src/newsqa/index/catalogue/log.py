"""The change log as search backends read it: one consistent view of the write generation,
the chunks added and removed since a generation, and the chunks themselves.

Every write transaction bumps ``meta.generation`` and logs, under it, the chunk ids it added
(op 1) and removed (op 0). Chunk ids are never reused, so an added chunk that a later change
removed is simply gone from the chunks table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

ADD, REMOVE = 1, 0


def as_vectors(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Stored float32 vector blobs as one (n, dim) array."""
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)


class Cursor(Protocol):
    """What a DB-API cursor gives back (sqlite3's and psycopg's alike)."""

    def fetchone(self) -> Any:
        """The next row, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        ...

    def fetchmany(self, size: int) -> list[Any]:
        """Up to ``size`` more rows."""
        ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection with ``execute`` returning a cursor (sqlite3's and psycopg 3's alike)."""

    def execute(self, sql: Any, params: Any = ...) -> Any:
        """Run one statement; its cursor."""
        ...


def meta_int(db: Connection, key: str, default: int | None = None, mark: str = "?") -> int:
    """An integer of the ``meta`` table (``default`` when absent; absent without one: error);
    ``mark`` is the driver's placeholder (``?`` for sqlite3, ``%s`` for psycopg)."""
    row = db.execute(f"SELECT value FROM meta WHERE key={mark}", (key,)).fetchone()
    if row is None and default is not None:
        return default
    return int(row[0])


@dataclass
class Delta:
    """Net vector changes between two generations."""

    add_ids: np.ndarray
    add_vectors: np.ndarray
    remove_ids: np.ndarray


class LogView:
    """The catalogue as of one moment (inside a transaction of ``db``), for a search backend
    catching up with it. The SQL is common to SQLite and PostgreSQL; ``mark`` is the driver's
    placeholder."""

    def __init__(self, db: Connection, dim: int, mark: str = "?") -> None:
        self.db = db
        self.dim = dim
        self.mark = mark

    def _sql(self, sql: str) -> str:
        return sql if self.mark == "?" else sql.replace("?", self.mark)

    def generation(self) -> int:
        """The write generation."""
        return meta_int(self.db, "generation", mark=self.mark)

    def log_start(self) -> int:
        """The oldest generation the log still reaches back to (changes after it are logged)."""
        return meta_int(self.db, "log_start", mark=self.mark)

    def meta(self, key: str, default: int = 0) -> int:
        """A backend's own integer mark (e.g. the generation a shared collection reflects)."""
        return meta_int(self.db, key, default, self.mark)

    def set_meta(self, key: str, value: int) -> None:
        """Record a backend's own integer mark (under the writer lock)."""
        self.db.execute(self._sql(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value"), (key, str(value)))

    def chunk_count(self) -> int:
        """Chunks stored."""
        return int(self.db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def delta(self, after: int, upto: int) -> Delta:
        """The vectors added and the chunk ids removed in generations ``after < g <= upto``."""
        removed = self.db.execute(self._sql(
            "SELECT chunk_id FROM changes WHERE gen>? AND gen<=? AND op=?"), (after, upto, REMOVE)
        ).fetchall()
        added = self.db.execute(self._sql(
            "SELECT c.id, c.vector FROM changes l JOIN chunks c ON c.id=l.chunk_id "
            "WHERE l.gen>? AND l.gen<=? AND l.op=? ORDER BY c.id"),
            (after, upto, ADD),
        ).fetchall()
        return Delta(
            np.array([r[0] for r in added], dtype=np.int64),
            as_vectors([r[1] for r in added], self.dim),
            np.array([r[0] for r in removed], dtype=np.int64),
        )

    def touched(self, after: int, upto: int) -> list[int]:
        """Every chunk id added or removed in generations ``after < g <= upto``, ascending."""
        return sorted({int(r[0]) for r in self.db.execute(self._sql(
            "SELECT chunk_id FROM changes WHERE gen>? AND gen<=?"), (after, upto))})

    def chunk_ids(self) -> list[int]:
        """Every stored chunk id, ascending."""
        return [int(r[0]) for r in self.db.execute("SELECT id FROM chunks ORDER BY id")]

    def vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every stored (ids, vectors), in batches of ascending ids."""
        cur = self.db.execute("SELECT id, vector FROM chunks ORDER BY id")
        while rows := cur.fetchmany(batch):
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            yield ids, as_vectors([r[1] for r in rows], self.dim)

    def search_rows(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """What a shared search backend stores of each of these chunks that still exists: id,
        article_id, text, vector, title, published, source_key and cluster_id."""
        marks = ",".join([self.mark] * len(ids))
        rows = self.db.execute(
            "SELECT c.id, c.article_id, c.text, c.vector, a.title, a.published_at, a.source_key,"
            " a.cluster_id FROM chunks c JOIN articles a ON a.id=c.article_id "
            f"WHERE c.id IN ({marks})",
            list(ids),
        ).fetchall()
        return [
            {
                "id": int(r[0]), "article_id": r[1], "text": r[2],
                "vector": np.frombuffer(r[3], dtype=np.float32, count=self.dim),
                "title": r[4], "published": r[5], "source_key": r[6], "cluster_id": r[7],
            }
            for r in rows
        ]
