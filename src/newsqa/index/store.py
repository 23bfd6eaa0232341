"""One directory = one index: ``news.sqlite`` (articles, chunks, FTS5, vectors as blobs),
``vectors.faiss`` (the FAISS index keyed by chunk id) and ``manifest.json``.

SQLite is the source of truth and every write is one transaction. The FAISS file is a derived
copy stamped with the database's write generation; when a crash leaves it stale or missing, it is
rebuilt from the vectors stored in SQLite, so an interrupted ingest never leaves an index that
fails to open or whose two halves disagree.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from newsqa.index.vectors import FaissStore, VectorStore
from newsqa.models import Filters

FORMAT_VERSION = 1
_IDENTITY_KEYS = ("model", "dim", "tokenizer", "format_version")

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
    ingested_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_at);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
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
INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');
"""

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them themselves
    then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yourself yourselves said says
    say according week this last year new one two s t""".split()
)


class IndexMismatchError(RuntimeError):
    """The index on disk was built with another model, tokenizer or format."""


class IndexBusyError(RuntimeError):
    """Another process is ingesting into this index."""


@dataclass
class ArticleRow:
    """An article ready to be written, with its chunks and their vectors."""

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


def query_terms(text: str) -> list[str]:
    """Content words of a query, lower-cased, stopwords dropped, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in re.findall(r"[\w][\w'’-]*", text.lower()):
        for part in re.split(r"['’-]", word):
            if len(part) > 1 and part not in STOPWORDS:
                seen.setdefault(part, None)
    return list(seen)


class NewsIndex:
    """Articles, chunks, lexical and vector indexes of one directory; safe across threads."""

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path / "news.sqlite", check_same_thread=False, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self.vectors: VectorStore = FaissStore(int(manifest["dim"]))
        self._loaded_generation = -1
        self.refresh()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path, manifest: dict[str, Any], create: bool = True) -> NewsIndex:
        """Open the index at ``path``; create it with ``manifest`` if missing and ``create``.

        Raises :class:`IndexMismatchError` when the stored manifest names another model,
        dimension, tokenizer or format version, and FileNotFoundError when it is missing.
        """
        path = Path(path)
        mpath = path / "manifest.json"
        if mpath.exists():
            stored = json.loads(mpath.read_text())
            for key in _IDENTITY_KEYS:
                if stored.get(key) != manifest.get(key):
                    raise IndexMismatchError(
                        f"index {path} was built with {key}={stored.get(key)!r}, but this "
                        f"configuration uses {key}={manifest.get(key)!r}; re-ingest into a new "
                        "index directory or use the matching model"
                    )
            return cls(path, stored)
        if not create:
            raise FileNotFoundError(f"no index at {path} (run `newsqa ingest ... --index {path}`)")
        path.mkdir(parents=True, exist_ok=True)
        tmp = mpath.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
        os.replace(tmp, mpath)
        return cls(path, manifest)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    @property
    def generation(self) -> int:
        """Write counter of the database; bumps on every committed change."""
        row = self._db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0])

    def refresh(self) -> None:
        """Bring the in-memory FAISS index up to date with the database (cheap when it is)."""
        with self._lock:
            gen = self.generation
            if gen == self._loaded_generation:
                return
            fpath, gpath = self.path / "vectors.faiss", self.path / "vectors.gen"
            n_chunks = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            store: FaissStore | None = None
            if fpath.exists() and gpath.exists() and gpath.read_text().strip() == str(gen):
                try:
                    store = FaissStore.load(fpath, self.vectors.dim)
                except (RuntimeError, ValueError):
                    store = None
                if store is not None and len(store) != n_chunks:
                    store = None
            if store is None:
                store = self._rebuild_vectors()
            self.vectors = store
            self._loaded_generation = gen
            if not (gpath.exists() and gpath.read_text().strip() == str(gen)):
                self.save()

    def _rebuild_vectors(self) -> FaissStore:
        store = FaissStore(self.vectors.dim)
        cur = self._db.execute("SELECT id, vector FROM chunks ORDER BY id")
        while rows := cur.fetchmany(4096):
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            store.add(ids, vecs.reshape(len(rows), -1))
        return store

    def save(self) -> None:
        """Persist the FAISS index stamped with the current generation (atomic)."""
        with self._lock:
            self.vectors.save(self.path / "vectors.faiss")
            gtmp = self.path / "vectors.gen.tmp"
            gtmp.write_text(str(self.generation))
            os.replace(gtmp, self.path / "vectors.gen")

    # ------------------------------------------------------------------ writing
    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the index's ingest lock (one ingesting process at a time)."""
        with open(self.path / "ingest.lock", "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexBusyError(
                    f"another process is ingesting into {self.path}; try again when it ends"
                ) from exc
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

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
        """Insert or replace articles with their chunks in one transaction; returns chunks added."""
        added_ids: list[int] = []
        added_vecs: list[np.ndarray] = []
        removed: list[int] = []
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    removed.extend(self._delete_locked(row.id) or [])
                    if row.url:
                        removed.extend(self._delete_locked(row.url) or [])
                    db.execute(
                        "INSERT INTO articles(id, url, title, source, published_at, authors, text,"
                        " content_hash, cluster_id, origin) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (
                            row.id,
                            row.url,
                            row.title,
                            row.source,
                            row.published_at,
                            json.dumps(row.authors),
                            row.text,
                            row.content_hash,
                            row.cluster_id or row.id,
                            row.origin,
                        ),
                    )
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
                        added_ids.append(cid)
                        added_vecs.append(vec)
                self._bump_locked()
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self.vectors.remove(np.array(removed, dtype=np.int64))
            if added_ids:
                self.vectors.add(np.array(added_ids, dtype=np.int64), np.vstack(added_vecs))
            self._loaded_generation = self.generation
        return len(added_ids)

    def _bump_locked(self) -> None:
        self._db.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'"
        )

    def _delete_locked(self, id_or_url: str) -> list[int] | None:
        """Delete one article; its chunk ids, or None when no such article exists."""
        row = self._db.execute(
            "SELECT id FROM articles WHERE id=? OR url=?", (id_or_url, id_or_url)
        ).fetchone()
        if row is None:
            return None
        aid = row[0]
        chunk_ids = [
            r[0] for r in self._db.execute("SELECT id FROM chunks WHERE article_id=?", (aid,))
        ]
        self._db.executemany("DELETE FROM chunks_fts WHERE rowid=?", [(c,) for c in chunk_ids])
        self._db.execute("DELETE FROM chunks WHERE article_id=?", (aid,))
        self._db.execute("DELETE FROM articles WHERE id=?", (aid,))
        return chunk_ids

    def delete(self, id_or_url: str) -> bool:
        """Remove an article (by id or URL) with its chunks, lexical rows and vectors."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                removed = self._delete_locked(id_or_url)
                if removed is not None:
                    self._bump_locked()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            if removed is None:
                return False
            self.vectors.remove(np.array(removed, dtype=np.int64))
            self._loaded_generation = self.generation
            self.save()
            return True

    def set_cluster(self, article_id: str, cluster_id: str) -> None:
        """Record that ``article_id`` is a copy of the story ``cluster_id``."""
        with self._lock:
            self._db.execute(
                "UPDATE articles SET cluster_id=? WHERE id=?", (cluster_id, article_id)
            )

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
            srcs = [s.lower().removeprefix("www.") for s in f.sources]
            conds.append(f"lower({alias}.source) IN ({','.join('?' * len(srcs))})" if srcs else "0")
            args.extend(srcs)
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
        where, args = self._filter_sql(f)
        with self._lock:
            rows = self._db.execute(
                f"SELECT c.id FROM chunks c JOIN articles a ON a.id=c.article_id WHERE {where}",
                args,
            ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def lexical(
        self, terms: Sequence[str], n: int, f: Filters | None = None, title_weight: float = 1.0
    ) -> list[tuple[int, float]]:
        """BM25 (FTS5) top ``n`` chunks matching any of ``terms``; higher score is better."""
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        where, args = self._filter_sql(f)
        sql = (
            f"SELECT f.rowid, bm25(chunks_fts, {float(title_weight)}, 1.0) AS s FROM chunks_fts f "
            "JOIN chunks c ON c.id=f.rowid JOIN articles a ON a.id=c.article_id "
            f"WHERE chunks_fts MATCH ? AND {where} ORDER BY s LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(sql, [match, *args, n]).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

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
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id AS chunk_id, c.ord, c.text, a.id AS article_id, a.url, a.title, "
                "a.source, a.published_at, a.cluster_id FROM chunks c "
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
        """Counts and date range of what is indexed."""
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
