"""The PostgreSQL catalogue: what :class:`~newsqa.index.catalogue.sqlite.SqliteCatalogue` keeps
in ``news.sqlite`` (articles, chunks with their float32 vectors, story clusters, sentence
vectors, the change log, the write generation) in one schema of a PostgreSQL database, with the
lexical index as a postings table scored as FTS5 scores (:mod:`.bm25`) and the writer lock as a
session advisory lock. Any number of processes on any number of machines share it; each keeps
only caches it can rebuild in its index directory.

Reads and writes take connections from a pool (autocommit; every transaction explicit); a
backend catching up reads one REPEATABLE READ transaction; the advisory lock is held on a
connection of its own, so a killed writer's lock goes with its connection.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.index import sentvec
from newsqa.index.catalogue.base import FILTER_COLUMNS_SQL, Catalogue, filter_arrays
from newsqa.index.catalogue.log import LogView, meta_int
from newsqa.index.catalogue.postgres import writes
from newsqa.index.catalogue.postgres.bm25 import Tokenizer, read_postings
from newsqa.index.catalogue.postgres.connect import (
    POOL_TIMEOUT,
    CatalogURL,
    connect,
    make_pool,
    reaching,
)
from newsqa.index.errors import IndexBusyError
from newsqa.index.filters import CompiledFilter
from newsqa.index.rescore import Postings
from newsqa.index.rows import ArticleRow

M = "%s"
NUL = "\x00"
#: Generations of the change log kept past a checkpoint, for the nodes that share the
#: catalogue: one behind by fewer writes catches up from the log (a few bytes per chunk).
LOG_KEEP = 10_000


class PgLexicalView:
    """One REPEATABLE READ transaction over the postings (a
    :class:`~newsqa.index.postings.LexicalView`)."""

    def __init__(self, catalogue: PostgresCatalogue) -> None:
        self._catalogue = catalogue
        self._cm: Any = None
        self.conn: Any = None

    def __enter__(self) -> PgLexicalView:
        self._cm = self._catalogue.snapshot()
        self.conn = self._cm.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._cm.__exit__(*exc)

    def generation(self) -> int:
        """The write generation of this state."""
        return meta_int(self.conn, "generation", mark=M)

    def chunk_count(self) -> int:
        """Passages in this state."""
        return meta_int(self.conn, "lex_rows", mark=M)

    def postings(self, term: str, title_weight: float) -> tuple[np.ndarray, np.ndarray]:
        """One word's postings in this state."""
        return read_postings(self.conn, self._catalogue.tokenizer, term, title_weight)

    def basis(self) -> None:
        """Not told: postings frozen from PostgreSQL are read again after a write."""
        return None

    def recent_texts(self, sample: int) -> Iterator[str]:
        """The texts of the newest ``sample`` passages."""
        for (text,) in self.conn.execute(
            "SELECT text FROM chunks ORDER BY id DESC LIMIT %s", [sample]
        ).fetchall():
            yield text


class PostgresCatalogue:
    """The catalogue of one index in PostgreSQL (a
    :class:`~newsqa.index.catalogue.base.Catalogue`); safe across threads."""

    name = "postgres"

    def __init__(
        self, path: Path, dim: int, url: CatalogURL, pool_timeout: float | None = None
    ) -> None:
        self.path = path
        self.dim = dim
        self.url = url
        self.tokenizer = Tokenizer()
        self._pool = make_pool(url, timeout=pool_timeout or POOL_TIMEOUT)
        self._lock_guard = threading.Lock()
        self._lock_conn: Any = None

    def close(self) -> None:
        """Close the pool and the lock's connection."""
        with self._lock_guard:
            if self._lock_conn is not None:
                self._lock_conn.close()
                self._lock_conn = None
        self._pool.close()

    @contextmanager
    def _conn(self) -> Iterator[Any]:
        with reaching(self.url), self._pool.connection() as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Any]:
        """A connection inside one REPEATABLE READ transaction (one consistent state)."""
        with self._conn() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield conn

    def read(self, sql: str, args: Sequence[object] = ()) -> list[Any]:
        """Rows of one query (``%s`` placeholders), as tuples."""
        with self._conn() as conn:
            return list(conn.execute(sql, list(args)).fetchall())

    def _dicts(self, sql: str, args: Sequence[object] = ()) -> list[dict[str, Any]]:
        from psycopg.rows import dict_row

        with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            return list(cur.execute(sql, list(args)).fetchall())

    def one(self, sql: str, args: Sequence[object] = ()) -> Any:
        """The first column of the first row of one query (None when there is none)."""
        rows = self.read(sql, args)
        return rows[0][0] if rows else None

    def generation(self) -> int:
        """Write counter; bumps in every write transaction."""
        return int(self.one("SELECT value FROM meta WHERE key='generation'"))

    # ------------------------------------------------------------------ the writer lock
    @contextmanager
    def cross_lock(self) -> Iterator[None]:
        """The writer lock between processes: a session advisory lock on a connection of its
        own, taken without waiting (:class:`IndexBusyError` while another session holds it)."""
        key = self.url.lock_key("writer")
        with self._lock_guard:
            if self._lock_conn is None or self._lock_conn.closed or self._lock_conn.broken:
                self._lock_conn = connect(self.url)
            conn = self._lock_conn
        with reaching(self.url):
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]
        if not got:
            raise IndexBusyError(
                f"index {self.url.shown} is busy: another process is writing to it (ingest or "
                "delete); try again when it ends"
            )
        try:
            yield
        finally:
            if not conn.closed and not conn.broken:
                conn.execute("SELECT pg_advisory_unlock(%s)", [key])

    # ------------------------------------------------------------------ the log, for backends
    @contextmanager
    def view(self) -> Iterator[LogView]:
        """One consistent view of generation, log and chunks."""
        with self.snapshot() as conn:
            yield LogView(conn, self.dim, M)

    @contextmanager
    def writer_view(self) -> Iterator[LogView]:
        """The same view, whose marks may be set (under the writer lock)."""
        with self._conn() as conn, conn.transaction():
            yield LogView(conn, self.dim, M)

    def prune_log(self, upto: int) -> None:
        """Forget the changes up to generation ``upto`` less the last :data:`LOG_KEEP`: the
        writer's backend reflects them, but other nodes' copies may not yet, and they catch
        up by the log rather than by reading every vector again."""
        upto -= LOG_KEEP
        if upto <= 0:
            return
        with self._conn() as conn, conn.transaction():
            start = meta_int(conn, "log_start", mark=M)
            if upto <= start:
                return
            conn.execute("DELETE FROM changes WHERE gen<=%s", [upto])
            conn.execute("UPDATE meta SET value=%s WHERE key='log_start'", [str(upto)])

    # ------------------------------------------------------------------ writing
    @contextmanager
    def _transaction(self) -> Iterator[tuple[Any, int]]:
        with self._conn() as conn, conn.transaction():
            gen = int(conn.execute(
                "SELECT value FROM meta WHERE key='generation' FOR UPDATE"
            ).fetchone()[0]) + 1
            yield conn, gen

    def write(self, rows: Sequence[ArticleRow]) -> tuple[int, list[int], list[int]]:
        """Insert or replace articles (by id and by URL) in one transaction; returns its
        generation, the chunk ids added and those removed. Call under the writer lock."""
        removed: list[int] = []
        gone = 0
        with self._transaction() as (conn, gen):
            for row in rows:
                for key in (row.id, row.url):
                    done = writes.delete_rows(conn, key) if key else None
                    if done is not None:
                        removed += done[0]
                        gone += done[1]
            added, tokens = writes.insert_rows(conn, self.tokenizer, rows)
            writes.log_changes(conn, gen, added, removed, tokens - gone)
        return gen, added, removed

    def delete(self, id_or_url: str) -> tuple[int, list[int]] | None:
        """Remove an article with its chunks in one transaction; its generation and the chunk
        ids removed, or None when there is no such article. Call under the writer lock."""
        if NUL in id_or_url:
            return None  # no stored text holds one (PostgreSQL refuses it as a parameter)
        with self._transaction() as (conn, gen):
            done = writes.delete_rows(conn, id_or_url)
            if done is None:
                return None  # nothing changed: the generation stays
            writes.log_changes(conn, gen, [], done[0], -done[1])
        return gen, done[0]

    def add_sentence_vectors(self, rows: Sequence[tuple[int, np.ndarray]]) -> int:
        """Store the title and sentence vectors of chunks already indexed (no new generation);
        a chunk deleted meanwhile is skipped. Returns the chunks stored."""
        done = 0
        with self._conn() as conn, conn.transaction():
            for cid, vecs in rows:
                cur = conn.execute(
                    "INSERT INTO sentences(chunk_id, vectors) SELECT %s, %s "
                    "WHERE EXISTS (SELECT 1 FROM chunks WHERE id=%s) "
                    "ON CONFLICT (chunk_id) DO UPDATE SET vectors=excluded.vectors",
                    [cid, sentvec.pack(vecs), cid],
                )
                done += max(cur.rowcount, 0)
        return done

    # ------------------------------------------------------------------ the lexical index
    def stamped_postings(self, term: str, title_weight: float) -> Postings:
        """One word's passage ids and one-word BM25 scores, as FTS5 would score them (their
        state not told: never carried)."""
        with self.snapshot() as conn:
            return Postings(*read_postings(conn, self.tokenizer, term, title_weight))

    def carried_postings(self, term: str, title_weight: float, old: Postings) -> None:
        """Not carried: read again after a write."""
        return None

    def term_matches(self, term: str) -> int:
        """Passages containing ``term``, matched as FTS5 matches it."""
        terms = self.tokenizer.terms(term)
        if len(terms) == 1:
            return int(self.one("SELECT count(*) FROM postings WHERE term=%s", [terms[0]]))
        return len(self.stamped_postings(term, 1.0).ids) if terms else 0

    def top_chunk_id(self) -> int:
        """The highest chunk id stored (0: none)."""
        return int(self.one("SELECT coalesce(max(id), 0) FROM chunks"))

    def chunk_count(self) -> int:
        """Chunks stored."""
        return int(self.one("SELECT value FROM meta WHERE key='lex_rows'"))

    def lexical_view(self) -> PgLexicalView:
        """One consistent state of the postings."""
        return PgLexicalView(self)

    # ------------------------------------------------------------------ reading
    def existing(
        self, ids: Sequence[str], urls: Sequence[str | None]
    ) -> dict[str, tuple[str, str]]:
        """Map each given id or url that is stored to (article id, content hash)."""
        wanted_urls = [u for u in urls if u]
        rows = self.read(
            "SELECT id, url, content_hash FROM articles WHERE id = ANY(%s) OR url = ANY(%s)",
            [list(ids), wanted_urls],
        )
        by_id = {r[0]: (r[0], r[2]) for r in rows}
        by_url = {r[1]: (r[0], r[2]) for r in rows if r[1]}
        found = {i: by_id[i] for i in ids if i in by_id}
        found.update({u: by_url[u] for u in wanted_urls if u in by_url})
        return found

    def chunk_table(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """The generation, and every chunk id with its article's publication date (bytes,
        b"" when undated) and outlet key: what a filter mask is computed over."""
        with self.snapshot() as conn:
            gen = meta_int(conn, "generation", mark=M)
            rows = conn.execute(FILTER_COLUMNS_SQL).fetchall()
        return (gen, *filter_arrays(rows))

    def sentence_vectors(self, chunk_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The title and sentence vectors stored with each of these chunks, by chunk id."""
        if not chunk_ids:
            return {}
        rows = self.read("SELECT chunk_id, vectors FROM sentences WHERE chunk_id = ANY(%s)",
                         [list(chunk_ids)])
        return {int(r[0]): sentvec.unpack(bytes(r[1]), self.dim) for r in rows}

    def chunks_without_sentences(self, limit: int) -> tuple[int, list[tuple[int, str, str]]]:
        """How many chunks are stored without sentence vectors, and (chunk id, article title,
        chunk text) of up to ``limit`` of them, newest first."""
        missing = "NOT EXISTS (SELECT 1 FROM sentences s WHERE s.chunk_id=c.id)"
        with self.snapshot() as conn:
            n = conn.execute(f"SELECT count(*) FROM chunks c WHERE {missing}").fetchone()[0]
            rows = conn.execute(
                "SELECT c.id, a.title, c.text FROM chunks c JOIN articles a ON a.id=c.article_id"
                f" WHERE {missing} ORDER BY c.id DESC LIMIT %s", [limit],
            ).fetchall()
        return int(n), [(int(r[0]), r[1], r[2]) for r in rows]

    def latest_date(self, f: CompiledFilter) -> str | None:
        """Publication date of the newest article that passes the filters."""
        where, args = f.sql(mark=M)
        value = self.one(f"SELECT max(a.published_at) FROM articles a WHERE {where}", args)
        return None if value is None else str(value)

    def chunk_rows(self, columns: str, chunk_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """``columns`` of chunks ``c`` joined with their articles ``a``, keyed by chunk id."""
        if not chunk_ids:
            return {}
        rows = self._dicts(
            f"SELECT c.id AS chunk_id, {columns} FROM chunks c "
            "JOIN articles a ON a.id=c.article_id WHERE c.id = ANY(%s)", [list(chunk_ids)],
        )
        return {int(r["chunk_id"]): r for r in rows}

    def article(self, id_or_url: str) -> dict[str, Any] | None:
        """One article with its full text, by id or URL."""
        if NUL in id_or_url:
            return None  # no stored text holds one (PostgreSQL refuses it as a parameter)
        rows = self._dicts(
            "SELECT id, url, title, source, published_at, authors, text, cluster_id, origin,"
            " ingested_at FROM articles WHERE id=%s OR url=%s", [id_or_url, id_or_url],
        )
        if not rows:
            return None
        out = rows[0]
        out["authors"] = json.loads(out["authors"])
        return out

    def list_articles(
        self, f: CompiledFilter, offset: int = 0, limit: int = 20
    ) -> tuple[int, list[dict[str, Any]]]:
        """A page of article metadata, newest first, and the total matching the filters."""
        where, args = f.sql(mark=M)
        total = self.one(f"SELECT count(*) FROM articles a WHERE {where}", args)
        rows = self._dicts(
            "SELECT a.id, a.url, a.title, a.source, a.published_at, a.authors, a.cluster_id "
            f"FROM articles a WHERE {where} "
            "ORDER BY a.published_at IS NULL, a.published_at DESC, a.id LIMIT %s OFFSET %s",
            [*args, limit, offset],
        )
        for d in rows:
            d["authors"] = json.loads(d["authors"])
        return int(total), rows

    def cluster_sources(self, cluster_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """For each story cluster, its members as (article id, source)."""
        ids = list(set(cluster_ids))
        if not ids:
            return {}
        out: dict[str, list[tuple[str, str]]] = {}
        for r in self.read(
            "SELECT cluster_id, id, source FROM articles WHERE cluster_id = ANY(%s)", [ids]
        ):
            out.setdefault(r[0], []).append((r[1], r[2] or ""))
        return out

    def counts(self) -> dict[str, Any]:
        """Articles, stories, chunks, outlets and the date range."""
        with self.snapshot() as conn:
            n_articles, lo, hi, n_sources, n_stories = conn.execute(
                "SELECT count(*), min(published_at), max(published_at), count(DISTINCT source),"
                " count(DISTINCT cluster_id) FROM articles"
            ).fetchone()
            n_chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return {
            "articles": int(n_articles), "stories": int(n_stories), "chunks": int(n_chunks),
            "sources": int(n_sources), "earliest": lo, "latest": hi,
        }


def _is_a_catalogue(catalogue: PostgresCatalogue) -> Catalogue:
    """(For the type checker: the class meets the catalogue contract.)"""
    return catalogue
