"""The SQLite catalogue's lexical index: FTS5's ``chunks_fts`` table, read one word at a time
(:func:`newsqa.index.postings.read_postings`), and one consistent state of it for freezing the
common words' postings."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

import numpy as np

from newsqa.index import postings
from newsqa.index.catalogue.log import meta_int
from newsqa.index.rescore import Basis, Postings, carry, size_sum, varints


def term_matches(db: sqlite3.Connection, term: str) -> int:
    """Passages of ``db``'s FTS5 table containing ``term`` (0 for one FTS5 cannot parse)."""
    try:
        row = db.execute(
            "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", [postings.fts_phrase(term)]
        ).fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0])


class FtsView:
    """One read transaction of a connection of its own over the FTS5 table (a
    :class:`~newsqa.index.postings.LexicalView`); a context manager that closes it."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> FtsView:
        self.db.execute("BEGIN")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.db.execute("COMMIT")
        finally:
            self.db.close()

    def _query(self, sql: str, args: Sequence[object]) -> list[tuple]:
        return self.db.execute(sql, list(args)).fetchall()

    def generation(self) -> int:
        """The write generation of this state."""
        return meta_int(self.db, "generation")

    def chunk_count(self) -> int:
        """Passages in this state."""
        return int(self.db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def postings(self, term: str, title_weight: float) -> tuple[np.ndarray, np.ndarray]:
        """One word's postings from FTS5 in this state."""
        return postings.read_postings(self._query, term, title_weight)

    def basis(self) -> Basis:
        """What this state's one-word scores depend on besides the word."""
        return read_basis(self.db)

    def recent_texts(self, sample: int) -> Iterator[str]:
        """The texts of the newest ``sample`` passages."""
        for (text,) in self.db.execute(
            "SELECT text FROM chunks ORDER BY id DESC LIMIT ?", [sample]
        ):
            yield text


def read_basis(db: sqlite3.Connection) -> Basis:
    """The generation, passages, tokens and highest passage id of ``db``'s state (FTS5's own
    totals, from its averages record)."""
    gen = meta_int(db, "generation")
    row = db.execute("SELECT block FROM chunks_fts_data WHERE id=1").fetchone()
    totals = varints(bytes(row[0])) if row and row[0] else [0]
    top = db.execute("SELECT max(id) FROM chunks").fetchone()[0]
    return Basis(gen, totals[0], sum(totals[1:]), int(top or 0))


class Carrier:
    """Words' postings read with their state, and carried to a later one
    (:func:`newsqa.index.rescore.carry`): the passages' lengths, read once and extended as
    passages are added, and the ids that exist, read once per state in which some were
    removed. Used under the catalogue's read lock, on its read connection."""

    def __init__(self) -> None:
        self._lengths = np.zeros(1, np.int32)
        self._top = 0
        self._alive: tuple[int, np.ndarray] = (-1, np.zeros(0, np.int64))
        #: The state last read, and per earlier highest id the passages added since.
        self._now: Basis | None = None
        self._added: dict[int, int] = {}

    @staticmethod
    def _query(db: sqlite3.Connection) -> postings.Query:
        return lambda sql, args: db.execute(sql, list(args)).fetchall()

    def stamped(self, db: sqlite3.Connection, term: str, title_weight: float) -> Postings:
        """``term``'s postings and the state they were read in."""
        db.execute("BEGIN")
        try:
            basis = read_basis(db)
            ids, scores = postings.read_postings(self._query(db), term, title_weight)
        finally:
            db.execute("COMMIT")
        return Postings(ids, scores, basis)

    def carried(
        self, db: sqlite3.Connection, term: str, title_weight: float, old: Postings,
    ) -> Postings | None:
        """``old`` (``term``'s postings in an earlier state) in the state of ``db`` now; None
        when they cannot be carried (a database rebuilt under them)."""
        if old.basis is None:
            return None
        db.execute("BEGIN")
        try:
            now = self._state(db)
            if now.generation == old.basis.generation and now.rows == old.basis.rows:
                return old
            if now.generation < old.basis.generation or now.top < old.basis.top:
                return None
            added = self._added.get(old.basis.top)
            if added is None:
                added = self._added[old.basis.top] = int(db.execute(
                    "SELECT count(*) FROM chunks WHERE id>?", [old.basis.top]).fetchone()[0])
            if now.rows > old.basis.rows + added:
                return None
            alive = None if now.rows == old.basis.rows + added else self._alive_ids(db, now)
            lengths = self._lengths_upto(db, old.basis.top)
            ids, scores = postings.read_postings(
                self._query(db), term, title_weight, after=old.basis.top)
        finally:
            db.execute("COMMIT")
        return carry(old, lengths, alive, Postings(ids, scores, now))

    def _state(self, db: sqlite3.Connection) -> Basis:
        """The state of ``db`` now (inside its transaction): read again only when its
        generation moved, since every write moves it."""
        if self._now is None or meta_int(db, "generation") != self._now.generation:
            self._now, self._added = read_basis(db), {}
        return self._now

    def _alive_ids(self, db: sqlite3.Connection, now: Basis) -> np.ndarray:
        if self._alive[0] != now.generation:
            rows = db.execute("SELECT id FROM chunks ORDER BY id").fetchall()
            self._alive = (now.generation, np.fromiter((r[0] for r in rows), np.int64, len(rows)))
        return self._alive[1]

    def _lengths_upto(self, db: sqlite3.Connection, top: int) -> np.ndarray:
        if top > self._top:
            rows = db.execute("SELECT id, sz FROM chunks_fts_docsize WHERE id>? AND id<=?",
                              [self._top, top]).fetchall()
            if top >= len(self._lengths):
                grown = np.zeros(max(top + 1, 2 * len(self._lengths)), np.int32)
                grown[: len(self._lengths)] = self._lengths
                self._lengths = grown
            for i, sz in rows:
                self._lengths[i] = size_sum(bytes(sz))
            self._top = top
        return self._lengths
