"""The SQLite catalogue's lexical index: FTS5's ``chunks_fts`` table, read one word at a time
(:func:`newsqa.index.postings.read_postings`), and one consistent state of it for freezing the
common words' postings."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

import numpy as np

from newsqa.index import postings
from newsqa.index.catalogue.log import meta_int


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

    def recent_texts(self, sample: int) -> Iterator[str]:
        """The texts of the newest ``sample`` passages."""
        for (text,) in self.db.execute(
            "SELECT text FROM chunks ORDER BY id DESC LIMIT ?", [sample]
        ):
            yield text
