"""One directory = one index: ``news.sqlite`` (articles, chunks, FTS5, vectors as blobs, change
log), ``vectors.faiss`` + ``vectors.gen`` (a FAISS snapshot and its generation) and
``manifest.json``.

One writer at a time: every change (ingest, upload, delete) holds the index's writer lock (a
mutex across threads, a file lock across processes) and is one SQLite transaction that bumps the
write generation and logs, under that generation, the chunk ids it added and removed (table
``changes``). SQLite is the source of truth; each process keeps a FAISS copy in memory.

Before a query a process compares the database's generation with its copy's and, when the
database is newer, applies the logged changes since (reading added vectors from the chunks table)
without holding the lock that other queries need. ``vectors.faiss`` is a snapshot written only by
a writer (at the end of an ingest), after which the log up to it is pruned; opening an index
loads the snapshot and replays the log after it, and rebuilds from the vectors in SQLite only when
the snapshot is missing, stale or corrupt. Readers write no index file but ``postings.npz``, the
BM25 postings of common words (:mod:`newsqa.index.lexical`), derived data that is stamped with
the state it was read from and replaced whole. A kill at any moment
leaves whole transactions and a snapshot that is either complete and stamped or ignored.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.index import sentvec
from newsqa.index.lexical import PostingsCache, freeze, fts_phrase, top_bm25
from newsqa.index.search import Hits, SearchBackend, make_search
from newsqa.index.vectors import FaissStore, GuardedStore
from newsqa.models import Filters

log = logging.getLogger("newsqa.index")

FORMAT_VERSION = 2  # 2: change log, normalised source key
_IDENTITY_KEYS = ("model", "dim", "tokenizer")
_ADD, _REMOVE = 1, 0

#: Each chunk's title and sentence vectors (:mod:`newsqa.index.sentvec`), where ingest made them.
_SENTENCES_TABLE = """CREATE TABLE IF NOT EXISTS sentences (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    vectors BLOB NOT NULL
)"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    url TEXT UNIQUE,
    title TEXT NOT NULL,
    source TEXT,
    published_at TEXT,
    authors TEXT NOT NULL DEFAULT '[]',
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    cluster_id TEXT,
    origin TEXT,
    ingested_at TEXT NOT NULL DEFAULT (datetime('now')),
    source_key TEXT
);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_at);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
CREATE INDEX IF NOT EXISTS articles_source_key ON articles(source_key);
CREATE INDEX IF NOT EXISTS articles_cluster ON articles(cluster_id);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, text, tokenize='porter unicode61');
CREATE TABLE IF NOT EXISTS changes (
    gen INTEGER NOT NULL,
    chunk_id INTEGER NOT NULL,
    op INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_gen ON changes(gen);
INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');
INSERT OR IGNORE INTO meta(key, value) VALUES ('log_start', '0');
""" + _SENTENCES_TABLE



class IndexMismatchError(RuntimeError):
    """The index on disk was built with another model, tokenizer or format."""


class IndexBusyError(RuntimeError):
    """Another ingest or delete is writing to this index (in this or another process)."""


@dataclass
class ArticleRow:
    """An article ready to be written, with its chunks, their vectors and its story cluster."""

    id: str
    url: str | None
    title: str
    source: str | None
    published_at: str | None
    authors: list[str]
    text: str
    content_hash: str
    origin: str
    chunks: list[str]
    vectors: np.ndarray
    cluster_id: str | None = None
    #: Per chunk, its title's and sentences' vectors (:mod:`newsqa.index.sentvec`), if computed.
    sentence_vectors: list[np.ndarray] | None = None


def normalize_source(source: str | None) -> str | None:
    """An outlet as it is matched: trimmed, lower-case, without ``www.`` (stored and queried)."""
    if source is None:
        return None
    return source.strip().lower().removeprefix("www.") or None


# ---------------------------------------------------------------------- files and connections
def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path / "news.sqlite", check_same_thread=False, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA busy_timeout=30000")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def _run_schema(db: sqlite3.Connection) -> None:
    for stmt in _SCHEMA.split(";"):
        db.execute(stmt)


def _meta_int(db: sqlite3.Connection, key: str) -> int:
    row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return int(row[0])


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _read_stamp(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """The cross-process writer lock of the index at ``path`` (never waits)."""
    with open(path / "ingest.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexBusyError(
                f"index {path} is busy: another process is writing to it (ingest or delete); "
                "try again when it ends"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _create(path: Path, manifest: dict[str, Any]) -> None:
    db = _connect(path)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN IMMEDIATE")
        _run_schema(db)
        db.execute("COMMIT")
    finally:
        db.close()
    _write_atomic(path / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True))


def _migrate_v1(path: Path, stored: dict[str, Any]) -> dict[str, Any]:
    """Format 1 → 2: add the change log (starting at the current generation) and source keys."""
    db = _connect(path)
    try:
        db.execute("BEGIN IMMEDIATE")
        columns = {r[1] for r in db.execute("PRAGMA table_info(articles)")}
        if "source_key" not in columns:
            db.execute("ALTER TABLE articles ADD COLUMN source_key TEXT")
        _run_schema(db)
        sources = [r[0] for r in db.execute("SELECT DISTINCT source FROM articles")]
        db.executemany(
            "UPDATE articles SET source_key=? WHERE source IS ?",
            [(normalize_source(s), s) for s in sources],
        )
        db.execute(
            "UPDATE meta SET value=(SELECT value FROM meta WHERE key='generation') "
            "WHERE key='log_start'"
        )
        db.execute("COMMIT")
    finally:
        db.close()
    upgraded = dict(stored, format_version=FORMAT_VERSION)
    _write_atomic(path / "manifest.json", json.dumps(upgraded, indent=2, sort_keys=True))
    log.warning("index %s upgraded from format 1 to %d", path, FORMAT_VERSION)
    return upgraded


def _check_identity(path: Path, stored: dict[str, Any], manifest: dict[str, Any]) -> None:
    for key in _IDENTITY_KEYS:
        if stored.get(key) != manifest.get(key):
            raise IndexMismatchError(
                f"index {path} was built with {key}={stored.get(key)!r}, but this "
                f"configuration uses {key}={manifest.get(key)!r}; re-ingest into a new "
                "index directory or use the matching model"
            )
    version = stored.get("format_version")
    if version not in (1, FORMAT_VERSION):
        raise IndexMismatchError(
            f"index {path} has format_version={version!r}; this newsqa reads formats 1 and "
            f"{FORMAT_VERSION}; re-ingest into a new index directory or use the matching newsqa"
        )


def _as_vectors(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)


def _rebuild(db: sqlite3.Connection, dim: int, codec: str) -> FaissStore:
    """A FAISS store of every vector in the database."""
    store = FaissStore(dim, codec=codec)
    cur = db.execute("SELECT id, vector FROM chunks ORDER BY id")
    while rows := cur.fetchmany(4096):
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        store.add(ids, _as_vectors([r[1] for r in rows], dim))
    return store


@dataclass
class _Delta:
    """Net vector changes between two generations (chunk ids are never reused)."""

    add_ids: np.ndarray
    add_vectors: np.ndarray
    remove_ids: np.ndarray


def _delta(db: sqlite3.Connection, after: int, upto: int, dim: int) -> _Delta:
    removed = db.execute(
        "SELECT chunk_id FROM changes WHERE gen>? AND gen<=? AND op=?", (after, upto, _REMOVE)
    ).fetchall()
    # Added chunks that a later change removed are no longer in the table: the join drops them.
    added = db.execute(
        "SELECT c.id, c.vector FROM changes l JOIN chunks c ON c.id=l.chunk_id "
        "WHERE l.gen>? AND l.gen<=? AND l.op=? ORDER BY c.id",
        (after, upto, _ADD),
    ).fetchall()
    return _Delta(
        np.array([r[0] for r in added], dtype=np.int64),
        _as_vectors([r[1] for r in added], dim),
        np.array([r[0] for r in removed], dtype=np.int64),
    )


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[int]:
    """One write transaction; yields its generation, recorded when the block completes."""
    db.execute("BEGIN IMMEDIATE")
    try:
        gen = _meta_int(db, "generation") + 1
        yield gen
        db.execute("UPDATE meta SET value=? WHERE key='generation'", (str(gen),))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _log(db: sqlite3.Connection, gen: int, added: Sequence[int], removed: Sequence[int]) -> None:
    db.executemany(
        "INSERT INTO changes(gen, chunk_id, op) VALUES (?,?,?)",
        [(gen, c, _REMOVE) for c in removed] + [(gen, c, _ADD) for c in added],
    )


class NewsIndex:
    """Articles, chunks, lexical and vector indexes of one directory; safe across threads."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        search_uri: str | None = None,
        search_token: str | None = None,
        vector_codec: str = "flat",
    ) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self.dim = int(manifest["dim"])
        self.vector_codec = vector_codec
        self._snapshot_codec: str | None = None  # that of the vectors.faiss last read
        self._lock = threading.RLock()  # the read connection, shared by request threads
        self._db = _connect(self.path)
        self._wdb: sqlite3.Connection | None = None  # only the thread holding the writer lock
        self._writer_mutex = threading.Lock()
        self._writer_thread: int | None = None
        self._refresh_lock = threading.Lock()  # orders catch-ups and own writes on the copy
        self._rdb: sqlite3.Connection | None = None  # only under _refresh_lock
        self.vectors = GuardedStore(FaissStore(self.dim, codec=vector_codec))
        #: Where chunks are searched: the manifest's ``backend`` (``local`` by default).
        self.search: SearchBackend = make_search(self, manifest, search_uri, search_token)
        self._loaded_generation = -1
        self._idf: dict[str, float] = {}
        self._postings = PostingsCache()
        self._chunk_cache: tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        self._idf_basis = 0  # the highest passage id when the idf cache was started
        self._idf_n = 0  # passages then
        self.refresh()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        path: str | Path,
        manifest: dict[str, Any],
        create: bool = True,
        search_uri: str | None = None,
        search_token: str | None = None,
        vector_codec: str = "flat",
    ) -> NewsIndex:
        """Open the index at ``path``; create it with ``manifest`` if missing and ``create``.

        The manifest's ``backend`` (``local`` or ``milvus``) picks where chunks are searched;
        ``search_uri`` is the Milvus URI (default: ``milvus.db`` in the index directory) and
        ``search_token`` its credentials. ``vector_codec`` (``flat`` or ``fp16``) is how this
        process holds the vectors it searches locally; the database keeps float32 either way.

        Raises :class:`IndexMismatchError` when the stored manifest names another model,
        dimension or tokenizer or an unknown format (format 1 is upgraded in place, under the
        writer lock), and FileNotFoundError when it is missing.
        """
        path = Path(path)
        mpath = path / "manifest.json"
        if not mpath.exists():
            if not create:
                raise FileNotFoundError(
                    f"no index at {path} (run `newsqa ingest ... --index {path}`)"
                )
            path.mkdir(parents=True, exist_ok=True)
            with _file_lock(path):
                if not mpath.exists():
                    _create(path, manifest)
        stored = json.loads(mpath.read_text())
        _check_identity(path, stored, manifest)
        if stored.get("format_version") != FORMAT_VERSION:
            with _file_lock(path):
                stored = json.loads(mpath.read_text())
                if stored.get("format_version") != FORMAT_VERSION:
                    stored = _migrate_v1(path, stored)
        if stored.get("backend", "local") != manifest.get("backend", "local"):
            raise IndexMismatchError(
                f"index {path} searches with the {stored.get('backend', 'local')!r} backend, but "
                f"this configuration uses {manifest.get('backend', 'local')!r}; re-ingest into a "
                "new index directory or set NEWSQA_BACKEND to match"
            )
        index = cls(path, stored, search_uri, search_token, vector_codec)
        index.sync_search()
        return index

    def close(self) -> None:
        """Close the database connections."""
        with self._lock:
            self._db.close()
            self.search.close()
        with self._refresh_lock:
            for db in (self._rdb, self._wdb):
                if db is not None:
                    db.close()

    @property
    def generation(self) -> int:
        """Write counter of the database; bumps in every write transaction."""
        with self._lock:
            return _meta_int(self._db, "generation")

    @property
    def loaded_generation(self) -> int:
        """The generation that the in-memory vectors reflect."""
        return self._loaded_generation

    # ------------------------------------------------------------------ the vector copy
    def refresh(self) -> None:
        """Bring the in-memory vectors up to date with the database (cheap when they are).

        Changes are read through a connection of their own and applied in one guarded step, so
        other queries keep using the database meanwhile. Never writes a file.
        """
        if self.generation == self._loaded_generation:
            return
        with self._refresh_lock:
            self._catch_up()

    def _catch_up(self) -> None:
        """Apply the logged changes since the loaded generation (holding ``_refresh_lock``)."""
        if self._rdb is None:
            self._rdb = _connect(self.path)
        db = self._rdb
        db.execute("BEGIN")  # one consistent view of generation, log and chunks
        try:
            gen = _meta_int(db, "generation")
            if gen == self._loaded_generation:
                return
            if not self.search.in_process:  # nothing held here: the backend is shared
                self._loaded_generation = gen
                return
            log_start = _meta_int(db, "log_start")
            n_chunks = int(db.execute("SELECT count(*) FROM chunks").fetchone()[0])
            if log_start <= self._loaded_generation < gen:
                d = _delta(db, self._loaded_generation, gen, self.dim)
                self.vectors.apply(d.add_ids, d.add_vectors, d.remove_ids)
                if len(self.vectors) == n_chunks:
                    self._loaded_generation = gen
                    return
                log.warning("vectors disagree with the database after replay: rebuilding")
            store = self._load_snapshot(db, log_start, gen, n_chunks)
            if store is None:
                log.info("rebuilding the vectors of %s from the database", self.path)
                store = _rebuild(db, self.dim, self.vector_codec)
            self.vectors.swap(store)
            self._loaded_generation = gen
        finally:
            db.execute("COMMIT")

    def _load_snapshot(
        self, db: sqlite3.Connection, log_start: int, gen: int, n_chunks: int
    ) -> FaissStore | None:
        """The snapshot brought to ``gen`` by the log; None when it is missing, stale or bad."""
        stamp_path = self.path / "vectors.gen"
        stamp = _read_stamp(stamp_path)
        if stamp is None or not log_start <= stamp <= gen:
            return None
        try:
            store = FaissStore.load(self.path / "vectors.faiss", self.dim)
        except (RuntimeError, ValueError, OSError):
            return None
        if _read_stamp(stamp_path) != stamp:  # a writer replaced it while we read
            return None
        self._snapshot_codec = store.codec
        if store.codec != self.vector_codec:
            if store.codec != "flat":  # fp16 values are not the float32 ones: read the database
                return None
            store = store.converted(self.vector_codec)
        d = _delta(db, stamp, gen, self.dim)
        store.remove(d.remove_ids)
        store.add(d.add_ids, d.add_vectors)
        return store if len(store) == n_chunks else None

    def save_snapshot(self) -> None:
        """Write ``vectors.faiss`` stamped with its generation and prune the log up to it.

        Takes the writer lock (a writer calls it at the end of an ingest). A current snapshot is
        rewritten only when it was read in another codec than this process's. The stamp is removed
        before the file is replaced and written after, so a crash leaves no stamp (rebuild) rather
        than a stamp that lies.
        """
        if not self.search.in_process:
            self._prune_after_sync()
            return
        with self._writing() as db, self._refresh_lock:
            self._catch_up()
            gen = self._loaded_generation
            stamp_path = self.path / "vectors.gen"
            current = _read_stamp(stamp_path) == gen and (self.path / "vectors.faiss").exists()
            if current and self._snapshot_codec in (None, self.vector_codec):
                return
            stamp_path.unlink(missing_ok=True)
            self.vectors.save(self.path / "vectors.faiss")
            self._snapshot_codec = self.vector_codec
            _write_atomic(stamp_path, str(gen))
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM changes WHERE gen<=?", (gen,))
            db.execute("UPDATE meta SET value=? WHERE key='log_start'", (str(gen),))
            db.execute("COMMIT")

    def sync_search(self) -> None:
        """Complete a write to a shared backend that a killed writer left behind (nothing for
        ``local``). Runs only when the writer lock is free at once; otherwise the writer holding
        it will."""
        if self.search.in_process:
            return
        try:
            with self._writing() as db:
                self.search.written(db, [], np.zeros((0, self.dim), np.float32), [])
        except IndexBusyError:
            pass

    def _prune_after_sync(self) -> None:
        """A shared backend: bring it up to the log, then prune the log up to there."""
        with self._writing() as db:
            done = self.search.written(db, [], np.zeros((0, self.dim), np.float32), [])
            if done is None:
                return
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM changes WHERE gen<=?", (done,))
            db.execute("UPDATE meta SET value=? WHERE key='log_start'", (str(done),))
            db.execute("COMMIT")

    # ------------------------------------------------------------------ writing
    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the index's writer lock: one ingest or delete at a time, across threads and
        processes. Raises :class:`IndexBusyError` at once when another holds it."""
        if not self._writer_mutex.acquire(blocking=False):
            raise IndexBusyError(
                f"index {self.path} is busy: another ingest or delete in this process is "
                "writing to it; try again when it ends"
            )
        try:
            with _file_lock(self.path):
                self._writer_thread = threading.get_ident()
                try:
                    yield
                finally:
                    self._writer_thread = None
        finally:
            self._writer_mutex.release()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The write connection, under the writer lock (taken here unless this thread holds it)."""
        if self._writer_thread == threading.get_ident():
            yield self._write_db()
            return
        with self.writer():
            yield self._write_db()

    def _write_db(self) -> sqlite3.Connection:
        if self._wdb is None:
            self._wdb = _connect(self.path)
            self._wdb.execute(_SENTENCES_TABLE)  # an index made before sentence vectors gains it
        return self._wdb

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

    def write(self, rows: Iterable[ArticleRow]) -> int:
        """Insert or replace articles with their chunks and story clusters in one transaction,
        under the writer lock; returns the number of chunks added."""
        rows = list(rows)
        if not rows:
            return 0
        added_ids: list[int] = []
        removed: list[int] = []
        with self._writing() as db, self._refresh_lock:
            self._catch_up()
            with _transaction(db) as gen:
                for row in rows:
                    removed.extend(self._delete_rows(db, row.id) or [])
                    if row.url:
                        removed.extend(self._delete_rows(db, row.url) or [])
                    added_ids.extend(self._insert_row(db, row))
                _log(db, gen, added_ids, removed)
            vecs = np.vstack([np.asarray(r.vectors, dtype=np.float32) for r in rows])
            self.search.written(db, added_ids, vecs, removed)
            self._loaded_generation = gen
        return len(added_ids)

    @staticmethod
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

    @staticmethod
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

    def delete(self, id_or_url: str) -> bool:
        """Remove an article (by id or URL) with its chunks, lexical rows and vectors.

        Takes the writer lock (:class:`IndexBusyError` while another ingest or delete writes).
        No file is rewritten: the change log carries the removal to every process.
        """
        with self._writing() as db, self._refresh_lock:
            self._catch_up()
            found = db.execute(
                "SELECT 1 FROM articles WHERE id=? OR url=?", (id_or_url, id_or_url)
            ).fetchone()
            if found is None:
                return False
            with _transaction(db) as gen:
                removed = self._delete_rows(db, id_or_url) or []
                _log(db, gen, [], removed)
            self.search.written(db, [], np.zeros((0, self.dim), np.float32), removed)
            self._loaded_generation = gen
        return True

    # ------------------------------------------------------------------ reading
    @staticmethod
    def _filter_sql(f: Filters | None, alias: str = "a") -> tuple[str, list[Any]]:
        """SQL conditions for the filters; undated articles fail closed on since/until."""
        if f is None:
            return "1=1", []
        conds: list[str] = []
        args: list[Any] = []
        if f.since:
            conds.append(f"{alias}.published_at >= ?")
            args.append(f.since)
        if f.until:
            conds.append(f"{alias}.published_at <= ?")
            args.append(f.until)
        if f.as_of:
            # Undated articles cannot be placed in time; they stay visible to "as of" queries.
            conds.append(f"({alias}.published_at IS NULL OR {alias}.published_at <= ?)")
            args.append(f.as_of)
        if f.sources is not None:
            keys = [k for k in map(normalize_source, f.sources) if k]
            conds.append(f"{alias}.source_key IN ({','.join('?' * len(keys))})" if keys else "0")
            args.extend(keys)
        return (" AND ".join(conds) or "1=1"), args

    @staticmethod
    def is_restrictive(f: Filters | None) -> bool:
        """Whether any filter is set."""
        return f is not None and any([f.since, f.until, f.as_of, f.sources is not None])

    def allowed_chunk_ids(self, f: Filters | None) -> np.ndarray | None:
        """Chunk ids that pass the filters (None: no filter at all)."""
        if not self.is_restrictive(f):
            return None
        assert f is not None
        if f.as_of and not (f.since or f.until or f.sources is not None):
            latest = self.latest_date()
            if latest is None or latest <= f.as_of:
                return None  # "as of" a moment after everything indexed restricts nothing
        ids, dates, sources = self._chunk_table()
        keep = np.ones(len(ids), dtype=bool)
        dated = dates != b""
        if f.since:
            keep &= dated & (dates >= f.since.encode())
        if f.until:
            keep &= dated & (dates <= f.until.encode())
        if f.as_of:
            # Undated articles cannot be placed in time; they stay visible to "as of" queries.
            keep &= ~dated | (dates <= f.as_of.encode())
        if f.sources is not None:
            keys = [k for k in map(normalize_source, f.sources) if k]
            keep &= np.isin(sources, np.array(keys, dtype=object))
        return ids[keep]

    def candidates(
        self, qvec: np.ndarray, terms: Sequence[str], n: int, title_weight: float,
        f: Filters | None,
    ) -> tuple[Hits, Hits]:
        """Dense and lexical top ``n`` (chunk id, score) under the filters, from the index's
        search backend; the filters fail closed (nothing passes: nothing is returned)."""
        return self.search.candidates(qvec, terms, n, title_weight, f)

    def neighbours(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (cosines, ids) of stored chunks per query row, unfiltered (-1: none)."""
        return self.search.neighbours(queries, k)

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these chunk ids, in order (zeros for one not stored)."""
        return self.search.vectors(ids)

    def _chunk_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every chunk id with its article's publication date (bytes, b"" when undated) and
        source key: read once per write generation, so filters cost array compares, not a
        join over every chunk per query (the same conditions as :meth:`_filter_sql`, which
        filters articles)."""
        with self._lock:
            gen = _meta_int(self._db, "generation")
            cached = self._chunk_cache
            if cached is not None and cached[0] == gen:
                return cached[1]
            rows = self._db.execute(
                "SELECT c.id, coalesce(a.published_at, ''), coalesce(a.source_key, '') "
                "FROM chunks c JOIN articles a ON a.id=c.article_id ORDER BY c.id"
            ).fetchall()
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            dates = np.array([r[1].encode() for r in rows], dtype=bytes)
            sources = np.array([r[2] for r in rows], dtype=object)
            table = (ids, dates, sources)
            self._chunk_cache = (gen, table)
            return table

    def lexical(
        self,
        terms: Sequence[str],
        n: int,
        title_weight: float = 1.0,
        allowed: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """BM25 (FTS5) top ``n`` chunks matching any of ``terms``; higher score is better.

        ``allowed`` (ascending chunk ids from :meth:`allowed_chunk_ids`; None: every chunk)
        restricts the result, so the filter has one definition for both retrievers. Each
        word's postings come from FTS5 once per index generation (:mod:`newsqa.index.lexical`).
        """
        if not terms:
            return []
        gen = self.generation
        parts = [self._postings.postings(self._read, t, title_weight, gen) for t in terms]
        return top_bm25(parts, n, allowed)

    def warm_lexical(
        self, title_weight: float, words: int | None = None, sample: int = 10_000,
        budget_bytes: int = 96 << 20, stop: threading.Event | None = None,
    ) -> int:
        """Make the BM25 postings of the archive's common words resident: the ``words`` (None:
        as many as ``budget_bytes`` holds) most common content words of the newest ``sample``
        passages, whose long posting lists are what a question pays for. They are loaded from
        ``postings.npz`` when it was written for the index as it is now, else read through a
        connection of its own (questions are not held up) and written there for the next start
        (:func:`~newsqa.index.lexical.freeze`). Stops early when ``stop`` is set. Returns the
        words resident."""
        db = _connect(self.path)
        try:
            frozen = freeze(db, self.path, title_weight, words, sample, budget_bytes, stop)
        finally:
            db.close()
        if frozen is None:
            return 0
        self._postings.install(frozen)
        return len(frozen.spans)

    @property
    def warm_generation(self) -> int | None:
        """The generation whose common words' postings are resident (None: none are)."""
        frozen = self._postings.frozen
        return None if frozen is None else frozen.stamp[0]

    def _read(self, sql: str, args: Sequence[object]) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, list(args)).fetchall()

    def term_idf(self, terms: Sequence[str]) -> dict[str, float]:
        """Inverse document frequency of each term over the indexed passages (BM25's idf:
        ``ln(1 + (N - df + 0.5) / (df + 0.5))``), matched as the lexical index matches it.

        Cached per term until the index changes by a tenth of its passages.
        """
        with self._lock:
            top = self._db.execute("SELECT max(id) FROM chunks").fetchone()[0] or 0
            if abs(top - self._idf_basis) > max(self._idf_basis, 1) * 0.1:
                self._idf.clear()
                self._idf_basis = top
                self._idf_n = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            n = self._idf_n
            gen = _meta_int(self._db, "generation")
            for t in terms:
                if t not in self._idf:
                    if len(self._idf) >= 100_000:
                        self._idf.clear()
                    df = self._matches(t, gen)
                    self._idf[t] = math.log(1 + (n - df + 0.5) / (df + 0.5))
            return {t: self._idf[t] for t in terms}

    def _matches(self, term: str, gen: int) -> int:
        """Passages containing ``term``: from the cached postings, else counted by FTS5."""
        df = self._postings.matches(term, gen)
        if df is not None:
            return df
        try:
            return int(self._db.execute(
                "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", [fts_phrase(term)]
            ).fetchone()[0])
        except sqlite3.OperationalError:  # a term FTS5 cannot parse matches nothing
            return 0

    def sentence_vectors(self, chunk_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The title and sentence vectors stored with each of these chunks (rows: title, then
        each sentence of its text; :mod:`newsqa.index.sentvec`), by chunk id; a chunk stored
        without them (an older index, an embedder that cannot make them) is left out."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        try:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT chunk_id, vectors FROM sentences WHERE chunk_id IN ({marks})",
                    list(chunk_ids),
                ).fetchall()
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

    def add_sentence_vectors(self, rows: Sequence[tuple[int, np.ndarray]]) -> int:
        """Store the title and sentence vectors of chunks already indexed, under the writer
        lock. What is searched does not change, so no new generation; a chunk deleted
        meanwhile is skipped. Returns the chunks stored."""
        with self._writing() as db:
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

    def latest_date(self, f: Filters | None = None) -> str | None:
        """Publication date of the newest article that passes the filters."""
        where, args = self._filter_sql(f)
        with self._lock:
            row = self._db.execute(
                f"SELECT max(a.published_at) FROM articles a WHERE {where}", args
            ).fetchone()
        return row[0] if row else None

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Chunk text with its article's metadata, keyed by chunk id."""
        return self._chunk_rows(
            "c.ord, c.text, a.id AS article_id, a.url, a.title, a.source, a.published_at, "
            "a.cluster_id", chunk_ids,
        )

    def chunk_meta(self, chunk_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """What ranking needs of each chunk, keyed by chunk id: ``ord`` (its place in the
        article) and the article's ``article_id``, ``source``, ``published_at`` and
        ``cluster_id``. Only the passages shown need their text (:meth:`chunks`): on the full
        2023 index, 200 search candidates and the 10 texts take 2.5 ms against 2.9 ms for 200
        texts, and 200 random chunks 5.8 against 10.8 ms."""
        return self._chunk_rows(
            "c.ord, a.id AS article_id, a.source, a.published_at, a.cluster_id", chunk_ids
        )

    def _chunk_rows(self, columns: str, chunk_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT c.id AS chunk_id, {columns} FROM chunks c "
                f"JOIN articles a ON a.id=c.article_id WHERE c.id IN ({marks})",
                list(chunk_ids),
            ).fetchall()
        return {int(r["chunk_id"]): dict(r) for r in rows}

    def article(self, id_or_url: str) -> dict[str, Any] | None:
        """One article with its full text, by id or URL."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, url, title, source, published_at, authors, text, cluster_id, origin,"
                " ingested_at FROM articles WHERE id=? OR url=?",
                (id_or_url, id_or_url),
            ).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["authors"] = json.loads(out["authors"])
        return out

    def list_articles(
        self, f: Filters | None = None, offset: int = 0, limit: int = 20
    ) -> tuple[int, list[dict[str, Any]]]:
        """A page of article metadata, newest first, and the total matching the filters."""
        where, args = self._filter_sql(f)
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
        with self._lock:
            rows = self._db.execute(
                f"SELECT cluster_id, id, source FROM articles WHERE cluster_id IN "
                f"({','.join('?' * len(ids))})",
                ids,
            ).fetchall()
        for r in rows:
            out.setdefault(r[0], []).append((r[1], r[2] or ""))
        return out

    def stats(self) -> dict[str, Any]:
        """Counts and date range of what is indexed (vectors brought up to date first)."""
        self.refresh()
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
            "index": str(self.path),
            "articles": int(n_articles),
            "stories": int(n_stories),
            "chunks": int(n_chunks),
            "vectors": len(self.vectors),
            "sources": int(n_sources),
            "earliest": lo,
            "latest": hi,
            "generation": self.generation,
            "manifest": self.manifest,
        }
