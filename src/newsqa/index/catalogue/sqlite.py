"""The SQLite catalogue: articles with their full text, chunks with their vectors (float32
blobs, the source of truth every search backend is rebuilt from), the FTS5 table, story
clusters, sentence vectors, the change log and the write generation, in ``news.sqlite``.

Reads share one connection (guarded by a lock, so request threads take turns); writes use a
connection of their own and are made only by the thread holding the index's writer lock
(:mod:`newsqa.index.lock`); a backend catching up reads one consistent view through a third.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.index import sentvec
from newsqa.index.catalogue.base import FILTER_COLUMNS_SQL, filter_arrays
from newsqa.index.catalogue.fts import Carrier, FtsView, term_matches
from newsqa.index.catalogue.log import ADD, REMOVE, LogView, meta_int
from newsqa.index.catalogue.schema import SENTENCES_TABLE, connect
from newsqa.index.filters import CompiledFilter, normalize_source
from newsqa.index.lock import file_lock
from newsqa.index.rescore import Postings
from newsqa.index.rows import ArticleRow


class SqliteCatalogue:
    """The catalogue of the index directory ``path`` (a
    :class:`~newsqa.index.catalogue.base.Catalogue`); safe across threads."""

    name = "sqlite"

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        self._lock = threading.RLock()  # the read connection, shared by request threads
        self._db = connect(path)
        self._wdb: sqlite3.Connection | None = None  # only the thread holding the writer lock
        self._view_lock = threading.Lock()
        self._vdb: sqlite3.Connection | None = None  # only under _view_lock
        self._carrier = Carrier()  # only under _lock

    def close(self) -> None:
        """Close the connections."""
        with self._lock:
            self._db.close()
        with self._view_lock:
            for db in (self._vdb, self._wdb):
                if db is not None:
                    db.close()

    def connect(self) -> sqlite3.Connection:
        """A new connection of the caller's own (to read much without holding up queries)."""
        return connect(self.path)

    def generation(self) -> int:
        """Write counter; bumps in every write transaction."""
        with self._lock:
            return meta_int(self._db, "generation")

    def cross_lock(self) -> AbstractContextManager[None]:
        """The writer lock between processes: ``ingest.lock`` in the index directory."""
        return file_lock(self.path)

    # ------------------------------------------------------------------ the lexical index
    def stamped_postings(self, term: str, title_weight: float) -> Postings:
        """One word's postings and the state they were read in."""
        with self._lock:
            return self._carrier.stamped(self._db, term, title_weight)

    def carried_postings(self, term: str, title_weight: float, old: Postings) -> Postings | None:
        """``old`` carried to the state now (:func:`newsqa.index.rescore.carry`)."""
        with self._lock:
            return self._carrier.carried(self._db, term, title_weight, old)

    def term_matches(self, term: str) -> int:
        """Passages containing ``term``, counted by FTS5."""
        with self._lock:
            return term_matches(self._db, term)

    def top_chunk_id(self) -> int:
        """The highest chunk id stored (0: none)."""
        return int(self.one("SELECT max(id) FROM chunks") or 0)

    def chunk_count(self) -> int:
        """Chunks stored."""
        return int(self.one("SELECT count(*) FROM chunks"))

    def lexical_view(self) -> FtsView:
        """One read transaction over FTS5 through a connection of its own."""
        return FtsView(self.connect())

    # ------------------------------------------------------------------ the log, for backends
    @contextmanager
    def view(self) -> Iterator[LogView]:
        """One consistent view of generation, log and chunks, through a connection of its own
        (other queries keep the shared one meanwhile)."""
        with self._view_lock:
            if self._vdb is None:
                self._vdb = connect(self.path)
            self._vdb.execute("BEGIN")
            try:
                yield LogView(self._vdb, self.dim)
            finally:
                self._vdb.execute("COMMIT")

    @contextmanager
    def writer_view(self) -> Iterator[LogView]:
        """The same view through the write connection, whose marks it may set (under the
        writer lock)."""
        db = self._write_db()
        db.execute("BEGIN")
        try:
            yield LogView(db, self.dim)
        finally:
            db.execute("COMMIT")

    def prune_log(self, upto: int) -> None:
        """Forget the changes up to generation ``upto`` (every backend reflects them)."""
        db = self._write_db()
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM changes WHERE gen<=?", (upto,))
        db.execute("UPDATE meta SET value=? WHERE key='log_start'", (str(upto),))
        db.execute("COMMIT")

    # ------------------------------------------------------------------ writing
    def _write_db(self) -> sqlite3.Connection:
        if self._wdb is None:
            self._wdb = connect(self.path)
            self._wdb.execute(SENTENCES_TABLE)  # an index made before sentence vectors gains it
        return self._wdb

    @contextmanager
    def _transaction(self) -> Iterator[tuple[sqlite3.Connection, int]]:
        """One write transaction and its generation, recorded when the block completes."""
        db = self._write_db()
        db.execute("BEGIN IMMEDIATE")
        try:
            gen = meta_int(db, "generation") + 1
            yield db, gen
            db.execute("UPDATE meta SET value=? WHERE key='generation'", (str(gen),))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # not after a COMMIT that an interrupt (Ctrl-C) followed
                db.execute("ROLLBACK")
            raise

    @staticmethod
    def _log(
        db: sqlite3.Connection, gen: int, added: Sequence[int], removed: Sequence[int]
    ) -> None:
        db.executemany(
            "INSERT INTO changes(gen, chunk_id, op) VALUES (?,?,?)",
            [(gen, c, REMOVE) for c in removed] + [(gen, c, ADD) for c in added],
        )

    def write(self, rows: Sequence[ArticleRow]) -> tuple[int, list[int], list[int]]:
        """Insert or replace articles (by id and by URL) in one transaction; returns its
        generation, the chunk ids added and those removed. Call under the writer lock."""
        added: list[int] = []
        removed: list[int] = []
        with self._transaction() as (db, gen):
            for row in rows:
                removed.extend(_delete_rows(db, row.id) or [])
                if row.url:
                    removed.extend(_delete_rows(db, row.url) or [])
                added.extend(_insert_row(db, row))
            self._log(db, gen, added, removed)
        return gen, added, removed

    def delete(self, id_or_url: str) -> tuple[int, list[int]] | None:
        """Remove an article with its chunks in one transaction; its generation and the chunk
        ids removed, or None when there is no such article. Call under the writer lock."""
        db = self._write_db()
        found = db.execute(
            "SELECT 1 FROM articles WHERE id=? OR url=?", (id_or_url, id_or_url)
        ).fetchone()
        if found is None:
            return None
        with self._transaction() as (db, gen):
            removed = _delete_rows(db, id_or_url) or []
            self._log(db, gen, [], removed)
        return gen, removed

    def add_sentence_vectors(self, rows: Sequence[tuple[int, np.ndarray]]) -> int:
        """Store the title and sentence vectors of chunks already indexed (no new generation:
        what is searched does not change); a chunk deleted meanwhile is skipped. Returns the
        chunks stored. Call under the writer lock."""
        db = self._write_db()
        db.execute("BEGIN IMMEDIATE")
        try:
            before = db.total_changes
            db.executemany(
                "INSERT OR REPLACE INTO sentences(chunk_id, vectors) SELECT ?, ? "
                "WHERE EXISTS (SELECT 1 FROM chunks WHERE id=?)",
                [(c, sentvec.pack(v), c) for c, v in rows],
            )
            done = db.total_changes - before
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return done

    # ------------------------------------------------------------------ reading
    def read(self, sql: str, args: Sequence[object]) -> list[Any]:
        """Rows of one query through the shared read connection."""
        with self._lock:
            return self._db.execute(sql, list(args)).fetchall()

    def one(self, sql: str, args: Sequence[object] = ()) -> Any:
        """The first column of the first row of one query (None when there is none)."""
        with self._lock:
            row = self._db.execute(sql, list(args)).fetchone()
        return None if row is None else row[0]

    def existing(
        self, ids: Sequence[str], urls: Sequence[str | None]
    ) -> dict[str, tuple[str, str]]:
        """Map each given id or url that is stored to (article id, content hash)."""
        found: dict[str, tuple[str, str]] = {}
        with self._lock:
            for key, col in [(i, "id") for i in ids] + [(u, "url") for u in urls if u]:
                row = self._db.execute(
                    f"SELECT id, content_hash FROM articles WHERE {col}=?", (key,)
                ).fetchone()
                if row:
                    found[key] = (row[0], row[1])
        return found

    def chunk_table(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """The generation, and every chunk id with its article's publication date (bytes,
        b"" when undated) and outlet key: what a filter mask is computed over."""
        with self._lock:
            gen = meta_int(self._db, "generation")
            rows = self._db.execute(FILTER_COLUMNS_SQL).fetchall()
        return (gen, *filter_arrays(rows))

    def sentence_vectors(self, chunk_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The title and sentence vectors stored with each of these chunks (rows: title, then
        each sentence of its text; :mod:`newsqa.index.sentvec`), by chunk id; a chunk stored
        without them (an older index, an embedder that cannot make them) is left out."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        try:
            rows = self.read(
                f"SELECT chunk_id, vectors FROM sentences WHERE chunk_id IN ({marks})",
                list(chunk_ids),
            )
        except sqlite3.OperationalError:  # an index written before sentence vectors
            return {}
        return {int(r[0]): sentvec.unpack(r[1], self.dim) for r in rows}

    def chunks_without_sentences(self, limit: int) -> tuple[int, list[tuple[int, str, str]]]:
        """How many chunks are stored without sentence vectors, and (chunk id, article title,
        chunk text) of up to ``limit`` of them, newest first."""
        with self._lock:
            try:
                missing = "c.id NOT IN (SELECT chunk_id FROM sentences)"
                n = self._db.execute(f"SELECT count(*) FROM chunks c WHERE {missing}").fetchone()
            except sqlite3.OperationalError:  # no sentences table yet: none has them
                missing = "1"
                n = self._db.execute("SELECT count(*) FROM chunks").fetchone()
            rows = self._db.execute(
                f"SELECT c.id, a.title, c.text FROM chunks c JOIN articles a ON a.id=c.article_id"
                f" WHERE {missing} ORDER BY c.id DESC LIMIT ?", [limit],
            ).fetchall()
        return int(n[0]), [(int(r[0]), r[1], r[2]) for r in rows]

    def latest_date(self, f: CompiledFilter) -> str | None:
        """Publication date of the newest article that passes the filters."""
        where, args = f.sql()
        value = self.one(f"SELECT max(a.published_at) FROM articles a WHERE {where}", args)
        return None if value is None else str(value)

    def chunk_rows(self, columns: str, chunk_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """``columns`` of chunks ``c`` joined with their articles ``a``, keyed by chunk id."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.read(
            f"SELECT c.id AS chunk_id, {columns} FROM chunks c "
            f"JOIN articles a ON a.id=c.article_id WHERE c.id IN ({marks})",
            list(chunk_ids),
        )
        return {int(r["chunk_id"]): dict(r) for r in rows}

    def article(self, id_or_url: str) -> dict[str, Any] | None:
        """One article with its full text, by id or URL."""
        rows = self.read(
            "SELECT id, url, title, source, published_at, authors, text, cluster_id, origin,"
            " ingested_at FROM articles WHERE id=? OR url=?",
            (id_or_url, id_or_url),
        )
        if not rows:
            return None
        out = dict(rows[0])
        out["authors"] = json.loads(out["authors"])
        return out

    def list_articles(
        self, f: CompiledFilter, offset: int = 0, limit: int = 20
    ) -> tuple[int, list[dict[str, Any]]]:
        """A page of article metadata, newest first, and the total matching the filters."""
        where, args = f.sql()
        with self._lock:
            total = self._db.execute(
                f"SELECT count(*) FROM articles a WHERE {where}", args
            ).fetchone()[0]
            rows = self._db.execute(
                "SELECT a.id, a.url, a.title, a.source, a.published_at, a.authors, a.cluster_id "
                f"FROM articles a WHERE {where} "
                "ORDER BY a.published_at IS NULL, a.published_at DESC, a.id LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        items = []
        for r in rows:
            d = dict(r)
            d["authors"] = json.loads(d["authors"])
            items.append(d)
        return int(total), items

    def cluster_sources(self, cluster_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """For each story cluster, its members as (article id, source)."""
        ids = list(set(cluster_ids))
        if not ids:
            return {}
        out: dict[str, list[tuple[str, str]]] = {}
        rows = self.read(
            f"SELECT cluster_id, id, source FROM articles WHERE cluster_id IN "
            f"({','.join('?' * len(ids))})",
            ids,
        )
        for r in rows:
            out.setdefault(r[0], []).append((r[1], r[2] or ""))
        return out

    def counts(self) -> dict[str, Any]:
        """Articles, stories, chunks, outlets and the date range."""
        with self._lock:
            db = self._db
            n_articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
            n_chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            lo, hi = db.execute(
                "SELECT min(published_at), max(published_at) FROM articles"
            ).fetchone()
            n_sources = db.execute("SELECT count(DISTINCT source) FROM articles").fetchone()[0]
            n_stories = db.execute("SELECT count(DISTINCT cluster_id) FROM articles").fetchone()[0]
        return {
            "articles": int(n_articles),
            "stories": int(n_stories),
            "chunks": int(n_chunks),
            "sources": int(n_sources),
            "earliest": lo,
            "latest": hi,
        }


def _insert_row(db: sqlite3.Connection, row: ArticleRow) -> list[int]:
    db.execute(
        "INSERT INTO articles(id, url, title, source, source_key, published_at, authors,"
        " text, content_hash, cluster_id, origin) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            row.id,
            row.url,
            row.title,
            row.source,
            normalize_source(row.source),
            row.published_at,
            json.dumps(row.authors),
            row.text,
            row.content_hash,
            row.cluster_id or row.id,
            row.origin,
        ),
    )
    ids: list[int] = []
    for ord_, (text, vec) in enumerate(zip(row.chunks, row.vectors, strict=True)):
        cur = db.execute(
            "INSERT INTO chunks(article_id, ord, text, vector) VALUES (?,?,?,?)",
            (row.id, ord_, text, np.asarray(vec, dtype=np.float32).tobytes()),
        )
        cid = int(cur.lastrowid or 0)
        db.execute(
            "INSERT INTO chunks_fts(rowid, title, text) VALUES (?,?,?)",
            (cid, row.title, text),
        )
        ids.append(cid)
    if row.sentence_vectors is not None:
        db.executemany(
            "INSERT INTO sentences(chunk_id, vectors) VALUES (?,?)",
            [(c, sentvec.pack(v)) for c, v in zip(ids, row.sentence_vectors, strict=True)],
        )
    return ids


def _delete_rows(db: sqlite3.Connection, id_or_url: str) -> list[int] | None:
    """Delete one article; its chunk ids, or None when no such article exists."""
    row = db.execute(
        "SELECT id FROM articles WHERE id=? OR url=?", (id_or_url, id_or_url)
    ).fetchone()
    if row is None:
        return None
    aid = row[0]
    chunk_ids = [r[0] for r in db.execute("SELECT id FROM chunks WHERE article_id=?", (aid,))]
    db.executemany("DELETE FROM chunks_fts WHERE rowid=?", [(c,) for c in chunk_ids])
    db.execute("DELETE FROM chunks WHERE article_id=?", (aid,))
    db.execute("DELETE FROM articles WHERE id=?", (aid,))
    return chunk_ids
